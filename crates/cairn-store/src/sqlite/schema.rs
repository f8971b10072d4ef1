//! Creating and migrating the schema, and the connection settings that make it durable.

use rusqlite::Connection;

use crate::StoreError;

const SCHEMA_VERSION: i64 = 3;

/// How long a connection waits for another's lock (e.g. `cairn import` beside a server).
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Schema v3 (v2 plus `lookup_index`): see [`super::encode`] for the encodings.
const SCHEMA_V3: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY,
    id_hash        INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    history        INTEGER NOT NULL,
    event_time     INTEGER NOT NULL,
    imported       INTEGER NOT NULL,
    event_id       TEXT NOT NULL,
    keys           BLOB NOT NULL,
    record         BLOB NOT NULL
);
-- eventID lookups and duplicate checks, by the 64-bit hash of the id (not unique: the writer
-- compares the ids of the rows it finds).
CREATE INDEX IF NOT EXISTS events_id ON events(id_hash);
-- Every event-history key of every event, in one B-tree: k = history * 16 + attribute,
-- v = the value's 64-bit id, t = eventTime (Unix s). A lookup is one backward range scan of
-- (k, v) from the page cursor (t, seq).
CREATE TABLE IF NOT EXISTS lookup_keys (
    k   INTEGER NOT NULL,
    v   INTEGER NOT NULL,
    t   INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (k, v, t, seq)
) WITHOUT ROWID;
-- How far lookup_keys is built (see indexer.rs): events past it are matched from their packed
-- keys. A store created by v2 indexed every commit at once, so all of it is indexed.
CREATE TABLE IF NOT EXISTS lookup_index (
    id               INTEGER PRIMARY KEY CHECK (id = 0),
    indexed_through  INTEGER NOT NULL
);
INSERT OR IGNORE INTO lookup_index (id, indexed_through)
    SELECT 0, COALESCE(MAX(seq), 0) FROM events;
-- The highest seq retention has deleted: an emptied log continues after it.
CREATE TABLE IF NOT EXISTS log_state (
    id               INTEGER PRIMARY KEY CHECK (id = 0),
    expired_through  INTEGER NOT NULL
);
INSERT OR IGNORE INTO log_state (id, expired_through) VALUES (0, 0);
CREATE TABLE IF NOT EXISTS catalog (
    namespace TEXT NOT NULL,
    key       TEXT NOT NULL,
    value     TEXT NOT NULL,
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    consumer TEXT PRIMARY KEY,
    position INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// Settings for the single writer connection, then the schema.
///
/// `synchronous=NORMAL`: a commit writes the WAL without an fsync, and the syncer thread
/// (`syncer.rs`) fdatasyncs the WAL before any caller of that commit is answered — as durable as
/// `FULL`, with the fsync off the writer's path. Never go below NORMAL, and never answer a
/// caller without the syncer: an audit log has no lossy mode.
pub(super) fn prepare_writer(conn: &Connection) -> Result<(), StoreError> {
    // 8 KiB pages: measured with the schema-1 layout (4 KiB 25k, 16 KiB 45k, 8 KiB 65k
    // PutAuditEvents events/s); with schema 2, 4 KiB and 8 KiB were within the noise of a shared
    // machine at 1 and 64 appending writers. Only takes effect when the file is created.
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    // Checkpoints run on their own thread (see `wal.rs`), not inside commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // A larger page cache (64 MiB) keeps the hot end of the log and its indexes in memory.
    conn.pragma_update(None, "cache_size", -65536)?;
    // When the WAL restarts, keep the file (for reuse, see `wal.rs`) but not more of it than
    // the writer lets the WAL grow to (a bulk import could otherwise leave a WAL as large as the
    // import).
    conn.pragma_update(None, "journal_size_limit", super::wal::KEPT_WAL_BYTES)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::new(
            crate::StoreErrorKind::Backend,
            format!(
                "the event store has schema version {version}, newer than this cairn ({SCHEMA_VERSION}); upgrade cairn"
            ),
        ));
    }
    if version == 1 {
        return Err(StoreError::new(
            crate::StoreErrorKind::Backend,
            "the event store has schema version 1 (an earlier pre-release cairn); this cairn uses \
             version 3 (compressed records, one lookup-key index) and does not convert it: move the \
             data dir aside and start fresh (re-import delivered log files with `cairn import`)",
        ));
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA_V3} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))?;
    Ok(())
}

/// Settings for a read-only connection.
pub(super) fn prepare_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "query_only", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

//! Creating and migrating the schema, and the connection settings that make it durable.

use rusqlite::Connection;

use crate::StoreError;

const SCHEMA_VERSION: i64 = 1;

const SCHEMA_V1: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    seq            INTEGER PRIMARY KEY,
    event_id       TEXT NOT NULL UNIQUE,
    received_at    INTEGER NOT NULL,
    history        INTEGER NOT NULL,
    event_time     INTEGER NOT NULL,
    event_name     TEXT,
    event_source   TEXT,
    read_only      INTEGER,
    username       TEXT,
    access_key_id  TEXT,
    event_category TEXT,
    imported       INTEGER NOT NULL DEFAULT 0,
    record         TEXT NOT NULL
);
-- Event history lookups: one index per LookupEvents attribute, each ordered by time so a page
-- is a short backward range scan (newest first).
CREATE INDEX IF NOT EXISTS events_time   ON events(history, event_time, seq);
CREATE INDEX IF NOT EXISTS events_name   ON events(history, event_name, event_time, seq);
CREATE INDEX IF NOT EXISTS events_source ON events(history, event_source, event_time, seq);
CREATE INDEX IF NOT EXISTS events_user   ON events(history, username, event_time, seq);
-- Application events have no access key and no readOnly: partial indexes skip them.
CREATE INDEX IF NOT EXISTS events_key    ON events(history, access_key_id, event_time, seq)
    WHERE access_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_ro     ON events(history, read_only, event_time, seq)
    WHERE read_only IS NOT NULL;
CREATE TABLE IF NOT EXISTS event_resources (
    seq           INTEGER NOT NULL,
    history       INTEGER NOT NULL,
    event_time    INTEGER NOT NULL,
    resource_type TEXT,
    resource_name TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_resources_seq  ON event_resources(seq);
CREATE INDEX IF NOT EXISTS event_resources_name ON event_resources(history, resource_name, event_time, seq);
CREATE INDEX IF NOT EXISTS event_resources_type ON event_resources(history, resource_type, event_time, seq);
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
/// `synchronous=FULL` in WAL mode fsyncs the WAL on every commit: that is what makes an
/// acknowledged event durable. Never lower it — an audit log has no lossy mode.
pub(super) fn prepare_writer(conn: &Connection) -> Result<(), StoreError> {
    // 8 KiB pages: fewer WAL frames per commit for ~1-2 KB records and seven B-trees, without
    // rewriting too much per small commit (measured: 4 KiB 25k, 16 KiB 45k, 8 KiB 65k
    // PutAuditEvents events/s). Only takes effect when the file is created.
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Checkpoints run on their own thread (see `wal.rs`), not inside commits.
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // A larger page cache (64 MiB) keeps the hot end of the log and its indexes in memory.
    conn.pragma_update(None, "cache_size", -65536)?;
    // After a checkpoint resets the WAL, truncate the file back to 64 MiB instead of keeping
    // its high-water mark (bulk imports would otherwise leave a WAL as large as the import).
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::new(
            crate::StoreErrorKind::Backend,
            format!(
                "the event store has schema version {version}, newer than this cairn ({SCHEMA_VERSION}); upgrade cairn"
            ),
        ));
    }
    conn.execute_batch(SCHEMA_V1)?;
    conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    Ok(())
}

/// Settings for a read-only connection.
pub(super) fn prepare_reader(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "query_only", true)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(())
}

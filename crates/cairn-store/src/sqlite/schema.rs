//! Creating and migrating the schema, and the connection settings that make it durable.

use std::path::{Path, PathBuf};

use rusqlite::Connection;

use crate::StoreError;

pub(super) const SCHEMA_VERSION: i64 = 6;

/// How long a connection waits for another's lock (e.g. `cairn import` beside a server).
pub(super) const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Schema v6 of the log file: v3 without the lookup index, which moved to its own file in v4
/// (see [`LOOKUP_SCHEMA`]); with blocks of records (v5, see [`super::encode`]); and since v6 the
/// events of a commit of more than one event listed in their block's manifest instead of rows
/// (see [`super::manifest`]), with `event_ids` indexing every event's id, row or manifest.
const SCHEMA_V6: &str = r#"
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
-- Records of neighbouring events of one commit, compressed together (v5): a manifest (v6) or
-- the events' rows (v5) point here (see `encode.rs`). A block goes when the last of its events
-- expires.
CREATE TABLE IF NOT EXISTS blocks (
    first_seq  INTEGER PRIMARY KEY,
    last_seq   INTEGER NOT NULL,
    data       BLOB NOT NULL
);
-- The events of a block that have no row (v6, see `manifest.rs`): its events from first_seq to
-- last_seq, the earliest received_at among them, and their columns packed.
CREATE TABLE IF NOT EXISTS manifests (
    first_seq     INTEGER PRIMARY KEY,
    last_seq      INTEGER NOT NULL,
    received_min  INTEGER NOT NULL,
    entries       BLOB NOT NULL
);
-- eventID lookups and duplicate checks (v6; v2-v5 indexed events.id_hash): the 64-bit key of
-- the id (`encode::id_key`, not unique: the writer compares the ids of the events it finds).
CREATE TABLE IF NOT EXISTS event_ids (
    id_hash  INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (id_hash, seq)
) WITHOUT ROWID;
-- v2 and v3 kept the lookup index in this file; it is rebuilt in the lookup file.
DROP TABLE IF EXISTS lookup_keys;
DROP TABLE IF EXISTS lookup_index;
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

/// The lookup index's own file (see `indexer.rs`), beside the log: `events.db` →
/// `events-lookup.db`.
pub(super) fn lookup_path(log: &Path) -> PathBuf {
    let stem = log
        .file_stem()
        .map_or_else(|| "events".into(), |s| s.to_string_lossy().into_owned());
    log.with_file_name(format!("{stem}-lookup.db"))
}

/// The lookup index (lookup file v3): every event-history key of every event, as entries `(t,
/// seq)` in chunks (see `chunks.rs`): `k` = history * 16 + attribute, `v` = the value's 64-bit
/// id, `bucket` = eventTime / [`BUCKET_SECS`](super::chunks::BUCKET_SECS); `t_min`/`t_max`
/// bound the chunk's eventTimes, `last_seq` its highest `seq` (retention deletes a chunk with its
/// last event), `n` its entries. `history_progress.indexed_through`: how far it is built; events
/// past it are matched from the keys packed in their rows.
///
/// Earlier layouts: v1 held one `lookup_keys` row per entry (progress in `lookup_index`), v2
/// the same chunks as now in 64-second buckets (`lookup_chunks`, progress in
/// `lookup_progress`). Each layout has tables of its own names, so no cairn ever reads or
/// extends another's index: an older cairn opening this file builds its own from nothing, and
/// this one drops the older tables it finds (see [`prepare_lookup_writer`]).
pub(super) const LOOKUP_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS history_chunks (
    id        INTEGER PRIMARY KEY,
    k         INTEGER NOT NULL,
    v         INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    t_min     INTEGER NOT NULL,
    t_max     INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    n         INTEGER NOT NULL,
    entries   BLOB NOT NULL
);
-- t_min too: a page deep in a busy hour passes over the chunks newer than its cursor on the
-- index alone, without reading their rows.
CREATE INDEX IF NOT EXISTS history_chunks_key ON history_chunks(k, v, bucket, t_max, t_min);
CREATE INDEX IF NOT EXISTS history_chunks_seq ON history_chunks(last_seq);
CREATE TABLE IF NOT EXISTS history_progress (
    id               INTEGER PRIMARY KEY CHECK (id = 0),
    indexed_through  INTEGER NOT NULL
);
INSERT OR IGNORE INTO history_progress (id, indexed_through) VALUES (0, 0);
"#;

/// Settings for the lookup file's single writer connection (the indexer's), then its schema.
///
/// `synchronous=NORMAL` with no `fsync` per commit: the index is derived data, rebuilt from the
/// log's packed keys whenever it is behind, and it only ever covers events that are already
/// durable in the log (see `indexer.rs`). A crash can cost it its last commits, never the log.
pub(super) fn prepare_lookup_writer(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "page_size", 8192)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -65536)?;
    conn.pragma_update(None, "journal_size_limit", super::wal::KEPT_WAL_BYTES)?;
    // Rolled back if anything below fails.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    // v1 and v2 tables: a file of an older layout (this version's index is then built from the
    // log, as for a new file), or one an older cairn has opened since and built its own index in
    // (this version's tables, if any, are its own and untouched).
    let older: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' \
         AND name IN ('lookup_keys', 'lookup_index', 'lookup_chunks', 'lookup_progress')",
        [],
        |r| r.get(0),
    )?;
    let had_own: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'history_chunks'",
        [],
        |r| r.get(0),
    )?;
    if older > 0 {
        tracing::info!(
            "dropping the event history index of an older cairn (lookup file v1/v2); this one's \
             is built from the log"
        );
        tx.execute_batch(
            "DROP TABLE IF EXISTS lookup_keys; DROP TABLE IF EXISTS lookup_index;
             DROP TABLE IF EXISTS lookup_chunks; DROP TABLE IF EXISTS lookup_progress;",
        )?;
    }
    tx.execute_batch(LOOKUP_SCHEMA)?;
    tx.commit()?;
    if older > 0 && had_own == 0 {
        // The dropped index's pages would stay in the file as free pages (811 MB for a v1 index
        // of 10M events); this version's index is still empty, so compacting now is quick. (Not
        // when this version's index was there already — an older cairn opened the file since —
        // as that would rewrite all of it here; SQLite reuses free pages anyway.) Not fatal:
        // another process's read can hold it off.
        if let Err(e) = conn.execute_batch("VACUUM") {
            tracing::warn!("could not compact the lookup file after dropping an older index: {e}");
        }
    }
    Ok(())
}

/// Settings for the single writer connection, then the schema.
///
/// `synchronous=NORMAL`: a commit writes the WAL without an fsync, and the syncer thread
/// (`syncer.rs`) fdatasyncs the WAL before any caller of that commit is answered — as durable as
/// `FULL`, with the fsync off the writer's path. Never go below NORMAL, and never answer a
/// caller without the syncer: an audit log has no lossy mode.
/// A v2 or v3 store (its lookup index inside the log file) loses that index here; the indexer
/// rebuilds it in the lookup file.
pub(super) fn prepare_writer(conn: &Connection) -> Result<(), StoreError> {
    // First: switching to WAL and reading the schema can meet another process's lock.
    conn.busy_timeout(BUSY_TIMEOUT)?;
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
    // `rarray(?)`: a commit looks for all its id keys with one statement
    // (`Fetcher::seqs_of_id_keys`).
    rusqlite::vtab::array::load_module(conn)?;
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
             version 6 (compressed records, a lookup index of its own) and does not convert it: move the \
             data dir aside and start fresh (re-import delivered log files with `cairn import`)",
        ));
    }
    // Rolled back if anything below fails.
    let tx = rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Immediate)?;
    let had_event_ids: i64 = tx.query_row(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'event_ids'",
        [],
        |r| r.get(0),
    )?;
    tx.execute_batch(SCHEMA_V6)?;
    if had_event_ids == 0 {
        // A v2-v5 store: its rows' ids move from the index on `events` to `event_ids`, read in
        // key order from that index so the new B-tree is written from left to right.
        tx.execute_batch(
            "INSERT INTO event_ids (id_hash, seq) SELECT id_hash, seq FROM events ORDER BY id_hash, seq;
             DROP INDEX IF EXISTS events_id;",
        )?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// A path as the UTF-8 text `ATTACH` takes; a path that is not UTF-8 is refused rather than
/// mangled (a mangled one would attach another, empty file).
pub(super) fn utf8(path: &Path) -> Result<&str, StoreError> {
    path.to_str().ok_or_else(|| {
        StoreError::new(
            crate::StoreErrorKind::Backend,
            format!(
                "the event store's path is not UTF-8: {} (move the data dir to a UTF-8 path)",
                path.display()
            ),
        )
    })
}

/// Settings for a read-only connection; the lookup file is attached (as `idx`), so one read
/// transaction sees the index and the log.
pub(super) fn prepare_reader(conn: &Connection, lookup: &Path) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute("ATTACH DATABASE ?1 AS idx", [utf8(lookup)?])?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(())
}

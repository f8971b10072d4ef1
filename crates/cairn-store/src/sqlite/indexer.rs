//! Building the event-history index (`lookup_keys`) behind the log instead of inside each commit.
//!
//! A commit only appends the event rows; each row carries its lookup keys packed (`keys`). The
//! writer thread moves them into `lookup_keys` in batches, in key order, whenever it would
//! otherwise wait — while the syncer's `fdatasync` runs, or when no commit is queued — and
//! records how far it got in `lookup_index.indexed_through`, in the same transaction as the keys.
//! Indexing per commit dirtied one `lookup_keys` leaf per distinct value in every group (about
//! half the pages a group of self-audit events wrote); a batch of a thousand events writes each
//! of those leaves once.
//!
//! Lookups stay exact: events past `indexed_through` (the tail, normally under a batch) are
//! matched by scanning their packed keys (`lookup.rs`), and the two parts are read in one
//! snapshot. The index can always be rebuilt from the rows, so index-only transactions need no
//! `fsync` of their own: a crash that loses one also loses its `indexed_through`.

use rusqlite::{Connection, params};

use super::encode::unpack_keys;
use crate::StoreError;

/// Events per index-only transaction when the writer is idle, and the tail at which it does one
/// without waiting for [`IDLE_DELAY`] (a commit that arrives meanwhile waits for at most one of
/// these, a few milliseconds).
pub(super) const IDLE_BATCH: usize = 1024;
/// How long the writer waits for a commit before it indexes a tail smaller than a batch.
pub(super) const IDLE_DELAY: std::time::Duration = std::time::Duration::from_millis(20);
/// The tail at which the writer indexes inside a group's transaction, while the syncer is busy.
pub(super) const BUSY_TAIL: u64 = 1024;
/// Events per index step inside a group's transaction: small, so the writer looks again soon
/// whether the syncer is free (a step of 1024 events took ~5 ms and held the group that long).
pub(super) const BUSY_STEP: usize = 256;
/// The tail at which the writer indexes before it applies anything else, so a flood of commits
/// (a bulk import) cannot leave lookups scanning an unbounded tail.
pub(super) const MAX_TAIL: u64 = 50_000;

/// `seq` up to which every event's keys are in `lookup_keys`.
pub(super) fn indexed_through(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn
        .prepare_cached("SELECT indexed_through FROM lookup_index WHERE id = 0")?
        .query_row([], |r| r.get(0))?;
    Ok(seq as u64)
}

/// What an [`index_step`] did.
pub(super) struct Step {
    /// The new `indexed_through`.
    pub through: u64,
    /// Whether the step reached the end of the log (nothing is left to index).
    pub caught_up: bool,
}

/// Moves the keys of up to `max_events` events past `indexed_through` into `lookup_keys`.
/// Runs inside the caller's transaction.
pub(super) fn index_step(conn: &Connection, max_events: usize) -> Result<Step, StoreError> {
    let from = indexed_through(conn)?;
    let mut events = 0;
    let mut keys: Vec<(i64, i64, i64, i64)> = Vec::new();
    let mut through = from;
    {
        let mut rows = conn.prepare_cached(
            "SELECT seq, event_time, keys FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?;
        let mut rows = rows.query(params![from as i64, max_events as i64])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let time: i64 = row.get(1)?;
            let packed = row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
            keys.extend(
                unpack_keys(packed)
                    .into_iter()
                    .map(|(k, v)| (k, v, time, seq)),
            );
            through = seq as u64;
            events += 1;
        }
    }
    let caught_up = events < max_events;
    if through == from {
        return Ok(Step { through, caught_up });
    }
    insert_keys(conn, &mut keys)?;
    conn.prepare_cached("UPDATE lookup_index SET indexed_through = ?1 WHERE id = 0")?
        .execute([through as i64])?;
    Ok(Step { through, caught_up })
}

/// Rows per multi-row INSERT into `lookup_keys`.
pub(super) const KEYS_PER_STATEMENT: usize = 64;

/// Inserts lookup keys, sorted, [`KEYS_PER_STATEMENT`] rows per statement.
fn insert_keys(conn: &Connection, keys: &mut [(i64, i64, i64, i64)]) -> Result<(), StoreError> {
    keys.sort_unstable();
    let sql = |n: usize| {
        let mut sql = String::from("INSERT OR IGNORE INTO lookup_keys (k, v, t, seq) VALUES ");
        for i in 0..n {
            sql.push_str(if i == 0 { "(?,?,?,?)" } else { ",(?,?,?,?)" });
        }
        sql
    };
    let mut chunks = keys.chunks_exact(KEYS_PER_STATEMENT);
    if chunks.len() > 0 {
        let mut full = conn.prepare_cached(&sql(KEYS_PER_STATEMENT))?;
        for chunk in &mut chunks {
            full.execute(rusqlite::params_from_iter(
                chunk.iter().flat_map(|&(k, v, t, s)| [k, v, t, s]),
            ))?;
        }
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Cached per length: one statement text per remainder length.
        conn.prepare_cached(&sql(rest.len()))?
            .execute(rusqlite::params_from_iter(
                rest.iter().flat_map(|&(k, v, t, s)| [k, v, t, s]),
            ))?;
    }
    Ok(())
}

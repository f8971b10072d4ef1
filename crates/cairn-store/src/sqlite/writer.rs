//! The group-commit writer thread: the only code that writes to the database.
//!
//! Loop: block for one job, take every other job already queued (up to [`MAX_GROUP`]), run them
//! all in one transaction, commit once (one fsync for the whole group), then answer every caller.
//!
//! Jobs almost never fail, so a group first runs without savepoints (they cost a sub-journal
//! write per page). If any job fails, that attempt is rolled back and the group is re-run with
//! each job in its own SAVEPOINT, so the failing job is rolled back alone and its neighbours
//! still commit. Sequence numbers are assigned here, from the last one written, so they have no
//! gaps even when a job is rolled back.

use std::sync::mpsc;

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::encode::{EncodedEvent, unpack_keys};
use crate::{CatalogWrite, Commit, CommitReceipt, DuplicateEvents, StoreError, StoreErrorKind};

/// A [`Commit`] with its events encoded (on the caller's thread).
pub(super) struct PreparedCommit {
    events: Vec<EncodedEvent>,
    catalog: Vec<CatalogWrite>,
    duplicates: DuplicateEvents,
    start_consumers: Vec<String>,
}

impl PreparedCommit {
    /// Compresses the records and computes the lookup keys: all the CPU work of an append that
    /// does not need the database.
    pub(super) fn of(commit: Commit) -> Result<PreparedCommit, StoreError> {
        Ok(PreparedCommit {
            events: commit
                .events
                .into_iter()
                .map(EncodedEvent::of)
                .collect::<Result<_, _>>()?,
            catalog: commit.catalog,
            duplicates: commit.duplicates,
            start_consumers: commit.start_consumers,
        })
    }
}

/// Upper bound on jobs per transaction, so one group cannot hold the lock for long.
const MAX_GROUP: usize = 4096;

/// A unit of work for the writer.
pub(super) enum Job {
    Commit {
        commit: PreparedCommit,
        reply: oneshot::Sender<Result<CommitReceipt, StoreError>>,
    },
    Advance {
        consumer: String,
        expected_from: u64,
        to: u64,
        catalog: Vec<CatalogWrite>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Expire {
        received_before_ms: i64,
        limit: usize,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    RemoveCheckpoint {
        consumer: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// What a job produced, before it is sent to its caller.
enum Done {
    Receipt(CommitReceipt),
    Advanced,
    Expired(u64),
}

impl Job {
    /// Runs the job's statements on `conn` (inside the group's transaction).
    fn apply(&self, conn: &Connection, last_seq: &mut u64) -> Result<Done, StoreError> {
        match self {
            Job::Commit { commit, .. } => apply_commit(conn, commit, last_seq).map(Done::Receipt),
            Job::Advance {
                consumer,
                expected_from,
                to,
                catalog,
                ..
            } => {
                apply_advance(conn, consumer, *expected_from, *to, catalog).map(|()| Done::Advanced)
            }
            Job::Expire {
                received_before_ms,
                limit,
                ..
            } => apply_expire(conn, *received_before_ms, *limit).map(Done::Expired),
            Job::RemoveCheckpoint { consumer, .. } => conn
                .prepare_cached("DELETE FROM checkpoints WHERE consumer = ?1")?
                .execute([consumer])
                .map(|_| Done::Advanced)
                .map_err(StoreError::from),
        }
    }

    /// Sends the result to the caller. A caller that gave up (dropped its receiver) is ignored.
    fn answer(self, result: Result<Done, StoreError>) {
        let mismatch = || {
            StoreError::new(
                StoreErrorKind::Backend,
                "writer produced the wrong result kind",
            )
        };
        match self {
            Job::Commit { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Receipt(r) => Ok(r),
                    _ => Err(mismatch()),
                }));
            }
            Job::Advance { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Advanced => Ok(()),
                    _ => Err(mismatch()),
                }));
            }
            Job::Expire { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Expired(n) => Ok(n),
                    _ => Err(mismatch()),
                }));
            }
            Job::RemoveCheckpoint { reply, .. } => {
                let _ = reply.send(result.and_then(|d| match d {
                    Done::Advanced => Ok(()),
                    _ => Err(mismatch()),
                }));
            }
        }
    }
}

pub(super) fn spawn(conn: Connection) -> Result<mpsc::Sender<Job>, StoreError> {
    // Room for the multi-row key inserts of every length besides the other statements.
    conn.set_prepared_statement_cache_capacity(KEYS_PER_STATEMENT + 32);
    let last: Option<i64> = conn.query_row("SELECT MAX(seq) FROM events", [], |r| r.get(0))?;
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("cairn-store-writer".into())
        .spawn(move || run(conn, rx, last.unwrap_or(0) as u64))
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cannot start writer: {e}"))
        })?;
    Ok(tx)
}

fn run(mut conn: Connection, rx: mpsc::Receiver<Job>, mut last_seq: u64) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let results = match run_group_fast(&mut conn, &group, &mut last_seq) {
            Some(results) => results,
            None => run_group_isolated(&mut conn, &group, &mut last_seq),
        };
        for (job, result) in group.into_iter().zip(results) {
            job.answer(result);
        }
    }
}

type Results = Vec<Result<Done, StoreError>>;

/// Runs the group in one transaction without savepoints. `None` if some job failed (everything
/// is rolled back and `last_seq` restored); the caller then re-runs the group isolated.
fn run_group_fast(conn: &mut Connection, group: &[Job], last_seq: &mut u64) -> Option<Results> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Some(all_failed(group.len(), &e.into())),
    };
    if let Err(e) = sync_last_seq(&tx, last_seq) {
        return Some(all_failed(group.len(), &e));
    }
    let start_seq = *last_seq;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        match job.apply(&tx, last_seq) {
            Ok(done) => results.push(Ok(done)),
            Err(_) => {
                let _ = tx.rollback();
                *last_seq = start_seq;
                return None;
            }
        }
    }
    match tx.commit() {
        Ok(()) => Some(results),
        Err(e) => {
            *last_seq = start_seq;
            let e = StoreError::from(e);
            tracing::error!(error = %e, "event store commit failed; nothing of this group was committed");
            Some(all_failed(group.len(), &e))
        }
    }
}

/// Runs the group with each job in its own savepoint, so failures stay with their job.
fn run_group_isolated(conn: &mut Connection, group: &[Job], last_seq: &mut u64) -> Results {
    let mut tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return all_failed(group.len(), &e.into()),
    };
    if let Err(e) = sync_last_seq(&tx, last_seq) {
        return all_failed(group.len(), &e);
    }
    let start_seq = *last_seq;
    let mut results = Vec::with_capacity(group.len());
    for job in group {
        let before = *last_seq;
        let result = match tx.savepoint() {
            Ok(mut sp) => {
                let r = job.apply(&sp, last_seq);
                let kept = if r.is_ok() {
                    sp.commit()
                } else {
                    sp.rollback()
                };
                match (r, kept) {
                    (Ok(done), Ok(())) => Ok(done),
                    (Err(e), _) => Err(e),
                    (Ok(_), Err(e)) => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        };
        if result.is_err() {
            *last_seq = before;
        }
        results.push(result);
    }
    if results.iter().all(Result::is_err) {
        // Nothing to make durable; skip the fsync.
        let _ = tx.rollback();
        return results;
    }
    match tx.commit() {
        Ok(()) => results,
        Err(e) => {
            *last_seq = start_seq;
            let e = StoreError::from(e);
            tracing::error!(error = %e, "event store commit failed; nothing of this group was committed");
            all_failed(group.len(), &e)
        }
    }
}

/// Reads the highest `seq` inside the write transaction, so another process that appended to
/// the same file (e.g. `cairn import` beside a running server) never causes a clash.
fn sync_last_seq(conn: &Connection, last_seq: &mut u64) -> Result<(), StoreError> {
    let max: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
    *last_seq = max as u64;
    Ok(())
}

fn all_failed(n: usize, e: &StoreError) -> Results {
    (0..n)
        .map(|_| Err(StoreError::new(e.kind(), e.to_string())))
        .collect()
}

fn apply_commit(
    conn: &Connection,
    commit: &PreparedCommit,
    last_seq: &mut u64,
) -> Result<CommitReceipt, StoreError> {
    if !commit.start_consumers.is_empty() {
        let mut start = conn.prepare_cached(
            "INSERT INTO checkpoints (consumer, position) VALUES (?1, ?2) ON CONFLICT (consumer) DO NOTHING",
        )?;
        for consumer in &commit.start_consumers {
            start.execute(params![consumer, *last_seq as i64])?;
        }
    }
    let mut seqs = Vec::with_capacity(commit.events.len());
    let mut same_id = conn.prepare_cached("SELECT event_id FROM events WHERE id_hash = ?1")?;
    let mut insert_event = conn.prepare_cached(
        "INSERT INTO events (seq, id_hash, received_at, history, event_time, imported, event_id,
                             keys, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    // The lookup keys of the commit's new events, inserted at the end in key order: neighbours
    // land on the same leaf, and one statement inserts many rows.
    let mut keys: Vec<(i64, i64, i64, i64)> = Vec::new();
    for event in &commit.events {
        if is_present(&mut same_id, event)? {
            match commit.duplicates {
                DuplicateEvents::Skip => {
                    seqs.push(None);
                    continue;
                }
                DuplicateEvents::Reject => {
                    return Err(StoreError::new(
                        StoreErrorKind::DuplicateEvent,
                        format!(
                            "an event with eventID {} is already in the log",
                            event.event_id
                        ),
                    ));
                }
            }
        }
        let seq = *last_seq + 1;
        insert_event.execute(params![
            seq as i64,
            event.id_hash,
            event.received_at_ms,
            event.history,
            event.event_time,
            event.imported,
            event.event_id,
            event.packed_keys,
            event.record,
        ])?;
        keys.extend(
            event
                .keys
                .iter()
                .map(|&(k, v)| (k, v, event.event_time, seq as i64)),
        );
        *last_seq = seq;
        seqs.push(Some(seq));
    }
    insert_keys(conn, &mut keys)?;
    apply_catalog(conn, &commit.catalog)?;
    Ok(CommitReceipt { seqs })
}

/// Rows per multi-row INSERT into `lookup_keys`.
const KEYS_PER_STATEMENT: usize = 64;

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
        // Cached per length: commits of one event have a handful of keys.
        conn.prepare_cached(&sql(rest.len()))?
            .execute(rusqlite::params_from_iter(
                rest.iter().flat_map(|&(k, v, t, s)| [k, v, t, s]),
            ))?;
    }
    Ok(())
}

/// Whether an event with this `eventID` is in the log (or earlier in this transaction).
fn is_present(
    same_id: &mut rusqlite::CachedStatement<'_>,
    event: &EncodedEvent,
) -> Result<bool, StoreError> {
    let mut rows = same_id.query([event.id_hash])?;
    while let Some(row) = rows.next()? {
        if row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)? == event.event_id {
            return Ok(true);
        }
    }
    Ok(false)
}

fn apply_catalog(conn: &Connection, writes: &[CatalogWrite]) -> Result<(), StoreError> {
    for w in writes {
        match &w.value {
            Some(v) => conn
                .prepare_cached(
                    "INSERT INTO catalog (namespace, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
                )?
                .execute(params![w.namespace, w.key, v])?,
            None => conn
                .prepare_cached("DELETE FROM catalog WHERE namespace = ?1 AND key = ?2")?
                .execute(params![w.namespace, w.key])?,
        };
    }
    Ok(())
}

fn apply_advance(
    conn: &Connection,
    consumer: &str,
    expected_from: u64,
    to: u64,
    catalog: &[CatalogWrite],
) -> Result<(), StoreError> {
    let current = super::reader::checkpoint(conn, consumer)?;
    if current != expected_from {
        return Err(StoreError::new(
            StoreErrorKind::CheckpointConflict,
            format!("checkpoint of {consumer} is at {current}, not {expected_from}"),
        ));
    }
    if to < expected_from {
        return Err(StoreError::new(
            StoreErrorKind::CheckpointConflict,
            format!("checkpoint of {consumer} cannot move back from {expected_from} to {to}"),
        ));
    }
    conn.prepare_cached(
        "INSERT INTO checkpoints (consumer, position) VALUES (?1, ?2)
         ON CONFLICT (consumer) DO UPDATE SET position = excluded.position",
    )?
    .execute(params![consumer, to as i64])?;
    apply_catalog(conn, catalog)
}

/// Deletes the oldest expired events, never one a consumer has yet to process.
///
/// Events are deleted in `seq` order from the front of the log, so the log stays a contiguous
/// range; `received_at` grows with `seq` for events received live, and an imported old event is
/// still timed by when Cairn received it.
fn apply_expire(
    conn: &Connection,
    received_before_ms: i64,
    limit: usize,
) -> Result<u64, StoreError> {
    let lowest_checkpoint: Option<i64> =
        conn.query_row("SELECT MIN(position) FROM checkpoints", [], |r| r.get(0))?;
    let ceiling = lowest_checkpoint.unwrap_or(i64::MAX);
    let seqs: Vec<i64> = conn
        .prepare_cached(
            "SELECT seq FROM events WHERE received_at < ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(params![received_before_ms, ceiling, limit as i64], |r| {
            r.get(0)
        })?
        .collect::<Result<_, _>>()?;
    let Some(&last) = seqs.last() else {
        return Ok(0);
    };
    let first = seqs[0];
    // The lookup keys of each event go first, from the list kept in its row.
    let mut delete_key = conn.prepare_cached(
        "DELETE FROM lookup_keys WHERE k = ?1 AND v = ?2 AND t = ?3 AND seq = ?4",
    )?;
    let mut doomed = conn.prepare_cached(
        "SELECT seq, event_time, keys FROM events WHERE seq BETWEEN ?1 AND ?2 AND received_at < ?3",
    )?;
    let mut rows = doomed.query(params![first, last, received_before_ms])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        let time: i64 = row.get(1)?;
        for (k, v) in unpack_keys(row.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?) {
            delete_key.execute(params![k, v, time, seq])?;
        }
    }
    drop(rows);
    let deleted = conn
        .prepare_cached("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND received_at < ?3")?
        .execute(params![first, last, received_before_ms])?;
    Ok(deleted as u64)
}

//! The group-commit writer thread: the only code that writes to the database.
//!
//! Loop: block for one job, take every other job already queued (up to [`MAX_GROUP`]), run them
//! all in one transaction — each inside its own SAVEPOINT so a failing job is rolled back alone —
//! commit once (one fsync), then answer every caller. Sequence numbers are assigned here, from
//! the last one written, so they have no gaps even when a job is rolled back.

use std::sync::mpsc;

use rusqlite::{Connection, Transaction, TransactionBehavior, params};
use tokio::sync::oneshot;

use crate::{CatalogWrite, Commit, CommitReceipt, DuplicateEvents, StoreError, StoreErrorKind};

/// Upper bound on jobs per transaction, so one group cannot hold the lock for long.
const MAX_GROUP: usize = 4096;

/// A unit of work for the writer.
pub(super) enum Job {
    Commit {
        commit: Commit,
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
}

/// Sends a job's result to its caller, given the group's error if the transaction failed.
type Answer = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// The result of one job, held until the group's transaction has committed.
struct Outcome {
    ok: bool,
    /// Sends the result to the caller; given the group's error if the transaction failed, which
    /// turns a success into that failure.
    answer: Answer,
}

impl Outcome {
    fn new<T: Send + 'static>(
        reply: oneshot::Sender<Result<T, StoreError>>,
        result: Result<T, StoreError>,
    ) -> Outcome {
        Outcome {
            ok: result.is_ok(),
            answer: Box::new(move |group_error| {
                let result = match (group_error, result) {
                    (Some(e), Ok(_)) => Err(StoreError::new(e.kind(), e.to_string())),
                    (_, r) => r,
                };
                // A caller that gave up (dropped its receiver) is fine to ignore.
                let _ = reply.send(result);
            }),
        }
    }

    fn is_ok(&self) -> bool {
        self.ok
    }

    fn answer(self, group_error: Option<&StoreError>) {
        (self.answer)(group_error)
    }

    /// The same caller, answered with `e` instead.
    fn failed_with(self, e: StoreError) -> Outcome {
        Outcome {
            ok: false,
            answer: Box::new(move |_| (self.answer)(Some(&e))),
        }
    }
}

pub(super) fn spawn(conn: Connection) -> Result<mpsc::Sender<Job>, StoreError> {
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
        let start_seq = last_seq;
        let (outcomes, group_error) = match run_group(&mut conn, group, &mut last_seq) {
            Ok(outcomes) => (outcomes, None),
            Err((outcomes, e)) => {
                tracing::error!(error = %e, "event store transaction failed; nothing of this group was committed");
                last_seq = start_seq;
                (outcomes, Some(e))
            }
        };
        for outcome in outcomes {
            outcome.answer(group_error.as_ref());
        }
    }
}

type GroupResult = Result<Vec<Outcome>, (Vec<Outcome>, StoreError)>;

fn run_group(conn: &mut Connection, group: Vec<Job>, last_seq: &mut u64) -> GroupResult {
    let mut outcomes = Vec::with_capacity(group.len());
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let e = StoreError::from(e);
            for job in group {
                outcomes.push(failed(job, &e));
            }
            return Err((outcomes, e));
        }
    };
    let mut tx = tx;
    for job in group {
        outcomes.push(apply_in_savepoint(&mut tx, job, last_seq));
    }
    if !outcomes.iter().any(Outcome::is_ok) {
        // Nothing to make durable; skip the fsync.
        let _ = tx.rollback();
        return Ok(outcomes);
    }
    match tx.commit() {
        Ok(()) => Ok(outcomes),
        Err(e) => Err((outcomes, e.into())),
    }
}

fn failed(job: Job, e: &StoreError) -> Outcome {
    let copy = || StoreError::new(e.kind(), e.to_string());
    match job {
        Job::Commit { reply, .. } => Outcome::new::<CommitReceipt>(reply, Err(copy())),
        Job::Advance { reply, .. } => Outcome::new::<()>(reply, Err(copy())),
        Job::Expire { reply, .. } => Outcome::new::<u64>(reply, Err(copy())),
    }
}

fn apply_in_savepoint(tx: &mut Transaction<'_>, job: Job, last_seq: &mut u64) -> Outcome {
    let before = *last_seq;
    let mut sp = match tx.savepoint() {
        Ok(sp) => sp,
        Err(e) => return failed(job, &e.into()),
    };
    let outcome = match job {
        Job::Commit { commit, reply } => Outcome::new(reply, apply_commit(&sp, commit, last_seq)),
        Job::Advance {
            consumer,
            expected_from,
            to,
            catalog,
            reply,
        } => Outcome::new(
            reply,
            apply_advance(&sp, &consumer, expected_from, to, &catalog),
        ),
        Job::Expire {
            received_before_ms,
            limit,
            reply,
        } => Outcome::new(reply, apply_expire(&sp, received_before_ms, limit)),
    };
    let kept = if outcome.is_ok() {
        sp.commit()
    } else {
        sp.rollback()
    };
    match kept {
        Ok(()) if outcome.is_ok() => outcome,
        Ok(()) => {
            *last_seq = before;
            outcome
        }
        Err(e) => {
            *last_seq = before;
            outcome.failed_with(e.into())
        }
    }
}

fn apply_commit(
    conn: &Connection,
    commit: Commit,
    last_seq: &mut u64,
) -> Result<CommitReceipt, StoreError> {
    let mut seqs = Vec::with_capacity(commit.events.len());
    let mut insert_event = conn.prepare_cached(
        "INSERT INTO events (seq, event_id, received_at, event_time, event_name, event_source,
                             read_only, username, access_key_id, event_category, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT (event_id) DO NOTHING",
    )?;
    let mut insert_resource = conn.prepare_cached(
        "INSERT INTO event_resources (seq, resource_type, resource_name) VALUES (?1, ?2, ?3)",
    )?;
    for event in &commit.events {
        let seq = *last_seq + 1;
        let ix = &event.index;
        let inserted = insert_event.execute(params![
            seq as i64,
            event.event_id,
            event.received_at_ms,
            ix.event_time,
            ix.event_name,
            ix.event_source,
            ix.read_only,
            ix.username,
            ix.access_key_id,
            ix.event_category,
            event.record_json,
        ])?;
        if inserted == 0 {
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
        for (kind, name) in &ix.resources {
            insert_resource.execute(params![seq as i64, kind, name])?;
        }
        *last_seq = seq;
        seqs.push(Some(seq));
    }
    apply_catalog(conn, &commit.catalog)?;
    Ok(CommitReceipt { seqs })
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
    conn.prepare_cached("DELETE FROM event_resources WHERE seq BETWEEN ?1 AND ?2 AND seq IN (SELECT seq FROM events WHERE received_at < ?3 AND seq BETWEEN ?1 AND ?2)")?
        .execute(params![first, last, received_before_ms])?;
    let deleted = conn
        .prepare_cached("DELETE FROM events WHERE seq BETWEEN ?1 AND ?2 AND received_at < ?3")?
        .execute(params![first, last, received_before_ms])?;
    Ok(deleted as u64)
}

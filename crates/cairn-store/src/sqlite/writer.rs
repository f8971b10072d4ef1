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
}

/// The result of one job, held until the group's transaction has committed.
enum Outcome {
    Commit(
        oneshot::Sender<Result<CommitReceipt, StoreError>>,
        Result<CommitReceipt, StoreError>,
    ),
    Advance(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
}

impl Outcome {
    fn is_ok(&self) -> bool {
        match self {
            Outcome::Commit(_, r) => r.is_ok(),
            Outcome::Advance(_, r) => r.is_ok(),
        }
    }

    /// Answers the caller; if the group transaction failed, a success becomes that failure.
    fn answer(self, group_error: Option<&StoreError>) {
        let fail = |e: &StoreError| StoreError::new(e.kind(), e.to_string());
        // A caller that gave up (dropped its receiver) is fine to ignore: its data is durable.
        match self {
            Outcome::Commit(tx, r) => {
                let _ = tx.send(match (group_error, r) {
                    (Some(e), Ok(_)) => Err(fail(e)),
                    (_, r) => r,
                });
            }
            Outcome::Advance(tx, r) => {
                let _ = tx.send(match (group_error, r) {
                    (Some(e), Ok(_)) => Err(fail(e)),
                    (_, r) => r,
                });
            }
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
        Job::Commit { reply, .. } => Outcome::Commit(reply, Err(copy())),
        Job::Advance { reply, .. } => Outcome::Advance(reply, Err(copy())),
    }
}

fn apply_in_savepoint(tx: &mut Transaction<'_>, job: Job, last_seq: &mut u64) -> Outcome {
    let before = *last_seq;
    let mut sp = match tx.savepoint() {
        Ok(sp) => sp,
        Err(e) => return failed(job, &e.into()),
    };
    let outcome = match job {
        Job::Commit { commit, reply } => {
            Outcome::Commit(reply, apply_commit(&sp, commit, last_seq))
        }
        Job::Advance {
            consumer,
            expected_from,
            to,
            catalog,
            reply,
        } => Outcome::Advance(
            reply,
            apply_advance(&sp, &consumer, expected_from, to, &catalog),
        ),
    };
    let kept = if outcome.is_ok() {
        sp.commit()
    } else {
        sp.rollback()
    };
    match (kept, outcome) {
        (Ok(()), outcome) if outcome.is_ok() => outcome,
        (Ok(()), outcome) => {
            *last_seq = before;
            outcome
        }
        (Err(e), outcome) => {
            *last_seq = before;
            let e = StoreError::from(e);
            match outcome {
                Outcome::Commit(tx, _) => Outcome::Commit(tx, Err(e)),
                Outcome::Advance(tx, _) => Outcome::Advance(tx, Err(e)),
            }
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

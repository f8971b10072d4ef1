//! The group-commit writer thread: the only code that writes to the database.
//!
//! Loop: block for one job, take every other job already queued (up to [`MAX_GROUP`]), run them
//! all in one transaction, commit once, and hand the group's answers to the [`syncer`], which
//! answers the callers after its next `fdatasync` of the WAL (one for all the groups that
//! queued up meanwhile). The writer does not wait for the disk: it goes on with the next group.
//!
//! Jobs almost never fail, so a group first runs without savepoints (they cost a sub-journal
//! write per page). If any job fails, that attempt is rolled back and the group is re-run with
//! each job in its own SAVEPOINT, so the failing job is rolled back alone and its neighbours
//! still commit. Sequence numbers are assigned here, from the last one written, so they have no
//! gaps even when a job is rolled back.
//!
//! [`syncer`]: super::syncer

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, mpsc};
use std::time::{Duration, Instant};

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::encode::{EncodedEvents, StoredRecord};
use super::indexer;
use super::log_view::{Fetcher, LogEntry};
use super::manifest::Manifest;
use super::syncer::{self, Health, WalFile, Work};
use crate::{CatalogWrite, Commit, CommitReceipt, DuplicateEvents, StoreError, StoreErrorKind};

/// A [`Commit`] with its events encoded (on the caller's thread).
pub(super) struct PreparedCommit {
    events: EncodedEvents,
    catalog: Vec<CatalogWrite>,
    duplicates: DuplicateEvents,
    start_consumers: Vec<String>,
}

impl PreparedCommit {
    /// Compresses the records and computes the lookup keys: all the CPU work of an append that
    /// does not need the database.
    pub(super) fn of(commit: Commit) -> Result<PreparedCommit, StoreError> {
        Ok(PreparedCommit {
            events: super::encode::encode_events(commit.events)?,
            catalog: commit.catalog,
            duplicates: commit.duplicates,
            start_consumers: commit.start_consumers,
        })
    }

    /// A commit of events encoded beforehand (`SqliteStore::commit_encoded`).
    pub(super) fn encoded(events: EncodedEvents, duplicates: DuplicateEvents) -> PreparedCommit {
        PreparedCommit {
            events,
            catalog: Vec::new(),
            duplicates,
            start_consumers: Vec::new(),
        }
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
    /// Deletes up to `limit` expired events; answers how far, for
    /// [`indexer::Indexer::delete_through`].
    Expire {
        received_before_ms: i64,
        limit: usize,
        reply: oneshot::Sender<Result<Expired, StoreError>>,
    },
    RemoveCheckpoint {
        consumer: String,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// From the syncer: it has become idle (a group waiting for it can commit). Never applied.
    Wake,
    /// From the store handle's `Drop`: finish what is queued and stop. Never applied.
    Stop,
}

/// What a job produced, before it is sent to its caller.
enum Done {
    Receipt(CommitReceipt),
    Advanced,
    Expired(Expired),
}

/// What an expire job deleted.
pub(super) struct Expired {
    /// Events deleted.
    pub count: u64,
    /// Every event up to this `seq` is gone.
    pub through: u64,
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
            // The inbox keeps control messages out of groups.
            Job::Wake | Job::Stop => Ok(Done::Advanced),
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
            Job::Wake | Job::Stop => {}
        }
    }
}

/// Starts the writer thread (and its syncer) on `conn`, the writer connection of the database
/// at `path`. Returns the writer's queue and the syncer's (for [`Work::Barrier`]s).
pub(super) fn spawn(
    conn: Connection,
    path: &std::path::Path,
    health: Arc<Health>,
    index_progress: Arc<indexer::Progress>,
) -> Result<(mpsc::Sender<Job>, mpsc::Sender<Work>), StoreError> {
    let last = super::reader::last_seq(&conn)?;
    // What is in the file at open may have been committed by another process (or an earlier
    // store in this one) that has not synced it yet: sync it before calling it durable.
    WalFile::new(path).sync().map_err(|e| {
        StoreError::new(
            StoreErrorKind::Backend,
            format!("syncing the event store's WAL at open: {e}"),
        )
    })?;
    health.mark_durable(last);
    let (tx, rx) = mpsc::channel::<Job>();
    let wake = tx.clone();
    let (sync, syncer) = syncer::spawn(
        path,
        health.clone(),
        Box::new(move || {
            let _ = wake.send(Job::Wake);
        }),
    )?;
    let barriers = sync.clone();
    let mut conn = conn;
    let mut wal_bound = super::wal::WalBound::new(&mut conn)?;
    std::thread::Builder::new()
        .name("cairn-store-writer".into())
        .spawn(move || {
            let mut inbox = Inbox { rx, stopped: false };
            run(
                &mut conn,
                &mut inbox,
                last,
                &sync,
                &health,
                &index_progress,
                &mut wal_bound,
            );
            // Every answer goes out before the connection closes (closing may delete the WAL).
            drop(sync);
            let _ = syncer.join();
            drop(conn);
        })
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cannot start writer: {e}"))
        })?;
    Ok((tx, barriers))
}

/// The writer's queue, with the control messages ([`Job::Wake`], [`Job::Stop`]) taken out.
struct Inbox {
    rx: mpsc::Receiver<Job>,
    /// A `Stop` arrived (or every sender is gone): nothing more will come.
    stopped: bool,
}

/// What waiting on the [`Inbox`] gave.
enum Next {
    Job(Job),
    Wake,
    TimedOut,
    Stopped,
}

impl Inbox {
    /// The next message, waiting up to `timeout` (forever if `None`).
    fn next(&mut self, timeout: Option<Duration>) -> Next {
        if self.stopped {
            return Next::Stopped;
        }
        let received = match timeout {
            None => self
                .rx
                .recv()
                .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            Some(t) => self.rx.recv_timeout(t),
        };
        match received {
            Ok(Job::Wake) => Next::Wake,
            Ok(Job::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                self.stopped = true;
                Next::Stopped
            }
            Ok(job) => Next::Job(job),
            Err(mpsc::RecvTimeoutError::Timeout) => Next::TimedOut,
        }
    }

    /// Moves the jobs already queued into `group`, up to [`MAX_GROUP`] in all.
    fn drain_into(&mut self, group: &mut Vec<Job>) {
        while !self.stopped && group.len() < MAX_GROUP {
            match self.rx.try_recv() {
                Ok(Job::Wake) => {}
                Ok(Job::Stop) | Err(mpsc::TryRecvError::Disconnected) => self.stopped = true,
                Ok(job) => group.push(job),
                Err(mpsc::TryRecvError::Empty) => break,
            }
        }
    }
}

fn run(
    conn: &mut Connection,
    inbox: &mut Inbox,
    mut last_seq: u64,
    sync: &mpsc::Sender<Work>,
    health: &Health,
    index_progress: &indexer::Progress,
    wal_bound: &mut super::wal::WalBound,
) {
    loop {
        let healthy = health.check().is_ok();
        if healthy {
            wal_bound.restart_if_large(conn);
        }
        let first = match inbox.next(None) {
            Next::Job(job) => job,
            Next::Wake | Next::TimedOut => continue,
            Next::Stopped => break,
        };
        // A flood of commits (a bulk import) waits for the indexer rather than leave lookups
        // an unbounded tail to scan.
        index_progress.wait_for_tail(last_seq);
        let mut group = vec![first];
        inbox.drain_into(&mut group);
        let results = match health.check() {
            Err(e) => all_failed(group.len(), &e),
            Ok(()) => match run_group_fast(conn, inbox, &mut group, &mut last_seq, health) {
                Some(results) => results,
                // A job failed: re-run the group with each job isolated.
                None => run_group_isolated(conn, &group, &mut last_seq, health),
            },
        };
        let wrote = results.iter().any(Result::is_ok);
        let answer = Box::new(move |synced: Result<(), StoreError>| {
            for (job, result) in group.into_iter().zip(results) {
                let result = match (result, &synced) {
                    (Ok(done), Ok(())) => Ok(done),
                    (Ok(_), Err(e)) => Err(StoreError::new(e.kind(), e.to_string())),
                    (Err(e), _) => Err(e),
                };
                job.answer(result);
            }
        });
        health.group_handed_over();
        let work = Work::Group {
            last_seq,
            wrote,
            answer,
        };
        if let Err(mpsc::SendError(Work::Group { answer, .. })) = sync.send(work) {
            // The syncer is gone (it only stops after this thread): nothing can be confirmed.
            health.groups_synced(1);
            answer(Err(StoreError::new(
                StoreErrorKind::Closed,
                "the store's syncer has stopped",
            )));
        }
    }
}

type Results = Vec<Result<Done, StoreError>>;

/// Runs `group` in one transaction without savepoints, and keeps applying the jobs that arrive
/// while the syncer is still busy with the previous group: the transaction commits when the
/// disk is ready for the next `fdatasync` (at once when it is idle), or just before the running
/// `fdatasync` is expected to end ([`Health::early_commit_in`]), so the syncer starts the next
/// sync without waiting for the commit's own ~0.1 ms of writes. A group therefore holds
/// everything that arrived during one sync — as large as the load makes it, so the pages every
/// commit writes (the leaves its keys land on) are written once for many events — and a lone
/// caller never waits for company.
///
/// `None` if some job failed (everything is rolled back and `last_seq` restored); the caller
/// then re-runs the group isolated.
fn run_group_fast(
    conn: &mut Connection,
    inbox: &mut Inbox,
    group: &mut Vec<Job>,
    last_seq: &mut u64,
    health: &Health,
) -> Option<Results> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return Some(all_failed(group.len(), &e.into())),
    };
    if let Err(e) = sync_last_seq(&tx, last_seq) {
        return Some(all_failed(group.len(), &e));
    }
    let start_seq = *last_seq;
    let give_up = |tx: rusqlite::Transaction<'_>, last_seq: &mut u64| {
        let _ = tx.rollback();
        *last_seq = start_seq;
        None
    };
    let mut results = Vec::with_capacity(group.len());
    loop {
        for job in &group[results.len()..] {
            match job.apply(&tx, last_seq) {
                Ok(done) => results.push(Ok(done)),
                Err(_) => return give_up(tx, last_seq),
            }
        }
        // The disk is free, or its sync is about to end (or nothing more may join): commit now;
        // what is queued goes into the next group at once.
        let early_in = health.early_commit_in();
        if group.len() >= MAX_GROUP
            || health.syncer_idle()
            || early_in == Some(Duration::ZERO)
            || inbox.stopped
        {
            break;
        }
        let queued = group.len();
        inbox.drain_into(group);
        if group.len() > queued {
            continue;
        }
        // Until a job arrives, the syncer says it is free, or it is time to commit.
        if let Next::Job(job) = inbox.next(early_in) {
            group.push(job);
        }
    }
    // A sync that failed meanwhile: start no commit after it (a group committed early while the
    // failing sync ran is answered with its error; see "Durability" in docs/architecture.md).
    if let Err(e) = health.check() {
        let _ = give_up(tx, last_seq);
        return Some(all_failed(group.len(), &e));
    }
    let commit_began = Instant::now();
    let committed = tx.commit();
    health.commit_took(commit_began.elapsed());
    match committed {
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
fn run_group_isolated(
    conn: &mut Connection,
    group: &[Job],
    last_seq: &mut u64,
    health: &Health,
) -> Results {
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
        if let Err(e) = result {
            *last_seq = before;
            // Some errors (disk full, I/O, out of memory) make SQLite roll back the whole
            // transaction, not just the savepoint: the jobs before were undone too, and the next
            // SAVEPOINT would start (and its RELEASE commit) a transaction of its own.
            if tx.is_autocommit() {
                *last_seq = start_seq;
                tracing::error!(error = %e, "event store transaction was rolled back by SQLite; nothing of this group was committed");
                return all_failed(group.len(), &e);
            }
            results.push(Err(e));
        } else {
            results.push(result);
        }
    }
    if results.iter().all(Result::is_err) {
        // Nothing to make durable; skip the fsync.
        let _ = tx.rollback();
        return results;
    }
    if let Err(e) = health.check() {
        *last_seq = start_seq;
        let _ = tx.rollback();
        return all_failed(group.len(), &e);
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
    *last_seq = super::reader::last_seq(conn)?;
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
    let events = &commit.events.events;
    let mut fetcher = Fetcher::new(conn);
    // Which events are in the log already, or earlier in this commit. Looked for in the order of
    // their id keys, as `event_ids` is then written: consecutive descents into that B-tree (its
    // keys are random for AWS's ids) then walk neighbouring pages, which measured about half
    // the writer's time per event in a bulk import when done in arrival order.
    let mut by_key: Vec<usize> = (0..events.len()).collect();
    by_key.sort_unstable_by_key(|&i| (events[i].id_hash, i));
    let mut keys: Vec<i64> = by_key.iter().map(|&i| events[i].id_hash).collect();
    keys.dedup();
    // The log's events with those keys, in key order too: walked beside `by_key`, each giving
    // the events of the commit that may repeat it.
    let in_log = fetcher.seqs_of_id_keys(&keys)?;
    let mut candidates: Vec<(u64, usize)> = Vec::new();
    let mut next_found = 0;
    let mut duplicate = vec![false; events.len()];
    for (pos, &i) in by_key.iter().enumerate() {
        let event = &events[i];
        // An earlier event of this commit with the same id has the same key: just before.
        duplicate[i] = by_key[..pos]
            .iter()
            .rev()
            .take_while(|&&j| events[j].id_hash == event.id_hash)
            .any(|&j| events[j].event_id == event.event_id);
        while in_log.get(next_found).is_some_and(|f| f.0 < event.id_hash) {
            next_found += 1;
        }
        if !duplicate[i] {
            candidates.extend(
                in_log[next_found..]
                    .iter()
                    .take_while(|f| f.0 == event.id_hash)
                    .map(|f| (f.1, i)),
            );
        }
    }
    // Their ids are compared in `seq` order (two ids may share a key): importing files again
    // then reads each manifest once, not once per event in the random order of the keys.
    candidates.sort_unstable();
    for (seq, i) in candidates {
        if !duplicate[i]
            && fetcher
                .at(seq)?
                .is_some_and(|found| found.event_id == events[i].event_id)
        {
            duplicate[i] = true;
        }
    }
    if commit.duplicates == DuplicateEvents::Reject
        && let Some(i) = duplicate.iter().position(|&d| d)
    {
        return Err(StoreError::new(
            StoreErrorKind::DuplicateEvent,
            format!(
                "an event with eventID {} is already in the log",
                events[i].event_id
            ),
        ));
    }
    let mut seqs = Vec::with_capacity(events.len());
    let mut insert_event = conn.prepare_cached(
        "INSERT INTO events (seq, id_hash, received_at, history, event_time, imported, event_id,
                             keys, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    // Each block's manifest, once one of its events is stored: a block is stored only then.
    let mut manifests: Vec<Option<Manifest>> =
        (0..commit.events.blocks.len()).map(|_| None).collect();
    for (event, &duplicate) in events.iter().zip(&duplicate) {
        if duplicate {
            seqs.push(None);
            continue;
        }
        let seq = *last_seq + 1;
        match &event.record {
            StoredRecord::Inline(record) => {
                insert_event.execute(params![
                    seq as i64,
                    event.id_hash,
                    event.received_at_ms,
                    event.history,
                    event.event_time,
                    event.imported,
                    event.event_id,
                    event.packed_keys,
                    record,
                ])?;
            }
            StoredRecord::InBlock { block, index } => {
                manifests[*block]
                    .get_or_insert_with(|| Manifest::new(seq))
                    .push(seq, &event.manifest_fields(*index));
            }
        }
        *last_seq = seq;
        seqs.push(Some(seq));
    }
    let ids: Vec<(i64, i64)> = by_key
        .iter()
        .filter_map(|&i| seqs[i].map(|seq| (events[i].id_hash, seq as i64)))
        .collect();
    insert_event_ids(conn, &ids)?;
    let mut insert_block =
        conn.prepare_cached("INSERT INTO blocks (first_seq, last_seq, data) VALUES (?1, ?2, ?3)")?;
    let mut insert_manifest = conn.prepare_cached(
        "INSERT INTO manifests (first_seq, last_seq, received_min, entries) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (data, manifest) in commit.events.blocks.iter().zip(manifests) {
        if let Some(m) = manifest {
            let (first, last) = (m.first_seq as i64, m.last_seq as i64);
            insert_block.execute(params![first, last, data])?;
            insert_manifest.execute(params![first, last, m.received_min, m.bytes])?;
        }
    }
    apply_catalog(conn, &commit.catalog)?;
    Ok(CommitReceipt { seqs })
}

/// Rows of `event_ids` per INSERT statement: a bulk commit writes tens of thousands, and one
/// statement per row cost more in binding and stepping than in the B-tree.
const IDS_PER_INSERT: usize = 64;

static INSERT_IDS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO event_ids (id_hash, seq) VALUES {}",
        vec!["(?, ?)"; IDS_PER_INSERT].join(", ")
    )
});

/// Writes `(id_hash, seq)` rows to `event_ids`, in the order given.
fn insert_event_ids(conn: &Connection, ids: &[(i64, i64)]) -> Result<(), StoreError> {
    let mut chunks = ids.chunks_exact(IDS_PER_INSERT);
    if ids.len() >= IDS_PER_INSERT {
        let mut many = conn.prepare_cached(&INSERT_IDS)?;
        for chunk in &mut chunks {
            many.execute(rusqlite::params_from_iter(
                chunk.iter().flat_map(|&(key, seq)| [key, seq]),
            ))?;
        }
    }
    let mut one = conn.prepare_cached("INSERT INTO event_ids (id_hash, seq) VALUES (?1, ?2)")?;
    for (key, seq) in chunks.remainder() {
        one.execute(params![key, seq])?;
    }
    Ok(())
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

/// An event [`apply_expire`] deletes.
struct Doomed {
    seq: u64,
    id_hash: i64,
    /// The manifest listing it (`first_seq`), or `None` for a row.
    manifest: Option<u64>,
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
) -> Result<Expired, StoreError> {
    let lowest_checkpoint: Option<i64> =
        conn.query_row("SELECT MIN(position) FROM checkpoints", [], |r| r.get(0))?;
    let ceiling = lowest_checkpoint.unwrap_or(i64::MAX);
    // The events to delete, in `seq` order: rows and manifests' entries alike.
    let mut doomed: Vec<Doomed> = Vec::new();
    {
        let mut rows = conn.prepare_cached(
            "SELECT seq, id_hash FROM events WHERE received_at < ?1 AND seq <= ?2 \
             ORDER BY seq LIMIT ?3",
        )?;
        let mut rows = rows.query(params![received_before_ms, ceiling, limit as i64])?;
        while let Some(row) = rows.next()? {
            doomed.push(Doomed {
                seq: row.get::<_, i64>(0)? as u64,
                id_hash: row.get(1)?,
                manifest: None,
            });
        }
    }
    // Manifests, as they were before this job changes them.
    let mut manifests: BTreeMap<u64, Vec<LogEntry>> = BTreeMap::new();
    {
        let mut blocks = conn.prepare_cached(
            "SELECT first_seq, entries FROM manifests WHERE received_min < ?1 AND first_seq <= ?2 \
             ORDER BY first_seq",
        )?;
        let mut blocks = blocks.query(params![received_before_ms, ceiling])?;
        let mut found = 0;
        // Manifests come in `seq` order: once `limit` entries are found, later ones only hold
        // later events.
        while found < limit
            && let Some(block) = blocks.next()?
        {
            let first = block.get::<_, i64>(0)? as u64;
            let data = block.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
            let entries = super::manifest::decode(first, data)?;
            for e in &entries {
                if e.received_at_ms < received_before_ms && e.seq as i64 <= ceiling {
                    doomed.push(Doomed {
                        seq: e.seq,
                        id_hash: e.id_hash,
                        manifest: Some(first),
                    });
                    found += 1;
                }
            }
            manifests.insert(first, entries);
        }
    }
    doomed.sort_unstable_by_key(|d| d.seq);
    doomed.truncate(limit);
    let Some(last) = doomed.last().map(|d| d.seq as i64) else {
        return Ok(Expired {
            count: 0,
            through: 0,
        });
    };
    let mut delete_row = conn.prepare_cached("DELETE FROM events WHERE seq = ?1")?;
    let mut delete_id =
        conn.prepare_cached("DELETE FROM event_ids WHERE id_hash = ?1 AND seq = ?2")?;
    for d in &doomed {
        if d.manifest.is_none() {
            delete_row.execute([d.seq as i64])?;
        }
        delete_id.execute(params![d.id_hash, d.seq as i64])?;
    }
    // Each manifest loses its deleted entries; an emptied one goes with its block.
    let doomed_seqs: std::collections::HashSet<u64> = doomed
        .iter()
        .filter(|d| d.manifest.is_some())
        .map(|d| d.seq)
        .collect();
    for (first, entries) in manifests {
        let kept: Vec<&LogEntry> = entries
            .iter()
            .filter(|e| !doomed_seqs.contains(&e.seq))
            .collect();
        if kept.len() == entries.len() {
            continue;
        }
        if kept.is_empty() {
            conn.prepare_cached("DELETE FROM manifests WHERE first_seq = ?1")?
                .execute([first as i64])?;
            conn.prepare_cached("DELETE FROM blocks WHERE first_seq = ?1")?
                .execute([first as i64])?;
        } else {
            let mut rewritten = Manifest::new(first);
            for e in kept {
                rewritten.push(e.seq, &e.fields());
            }
            conn.prepare_cached(
                "UPDATE manifests SET last_seq = ?2, received_min = ?3, entries = ?4 \
                 WHERE first_seq = ?1",
            )?
            .execute(params![
                first as i64,
                rewritten.last_seq as i64,
                rewritten.received_min,
                rewritten.bytes
            ])?;
        }
    }
    // A v5 block (its events have rows) goes with the last of its events (an event received
    // later than the cut-off may keep an older block alive).
    conn.prepare_cached(
        "DELETE FROM blocks WHERE first_seq <= ?1 \
         AND NOT EXISTS (SELECT 1 FROM events WHERE seq BETWEEN blocks.first_seq AND blocks.last_seq) \
         AND NOT EXISTS (SELECT 1 FROM manifests WHERE manifests.first_seq = blocks.first_seq)",
    )?
    .execute([last])?;
    // Remembered so that an emptied log does not hand out these numbers again.
    conn.prepare_cached(
        "UPDATE log_state SET expired_through = MAX(expired_through, ?1) WHERE id = 0",
    )?
    .execute([last])?;
    // Every event before the oldest one left is gone (one received after the cut-off can
    // outlive older-numbered neighbours): index chunks up to here match no event any more.
    let oldest_left = super::log_view::scan(conn, 0, u64::MAX, 1)?
        .first()
        .map(|e| e.seq as i64);
    let through = oldest_left.map_or(last, |s| last.min(s - 1));
    let count = doomed.len();
    Ok(Expired {
        count: count as u64,
        through: through.max(0) as u64,
    })
}

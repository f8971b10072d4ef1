//! Building the event-history index (`history_chunks`) behind the log, in a file and on a
//! thread of its own.
//!
//! A commit only appends the event rows; each row carries its lookup keys packed (`keys`). The
//! indexer thread moves them into `history_chunks` in the lookup file (`events-lookup.db`), in
//! batches — each batch's entries grouped by key and hour bucket of eventTime into chunks
//! ([`super::chunks`]) — and records how far it got in `history_progress.indexed_through`, in the
//! same transaction as the chunks. The lookup file has its own write lock, so the log's writer
//! and the indexer run at the same time on two cores: with the keys inside the log's
//! transactions, each group commit wrote (and `fdatasync`ed) the index leaves it touched, and
//! the writer spent about a third of its time indexing (64 appending writers, interleaved runs:
//! 47–54k events/s with the index in the log's writer, 53–61k with it here; see BENCHMARKS.md).
//!
//! Invariants:
//! - **The index never runs ahead of the durable log.** It covers only events the syncer has
//!   made durable ([`Health::durable_seq`]): a power loss can drop a log tail that was committed
//!   but not yet synced, and those sequence numbers are then given to other events.
//! - **The index is derived data.** Its commits do not wait for an `fsync` (`synchronous=NORMAL`;
//!   only its checkpoints sync): a crash can take its last transactions, which are redone from
//!   the log, and a missing or foreign index file is rebuilt from the log's packed keys.
//! - **Lookups stay exact.** Events past `indexed_through` (the tail, normally under a batch)
//!   are matched by scanning their packed keys (`lookup.rs`). A reader attaches the lookup file
//!   and reads it first in its transaction, so its snapshot of the log (taken at the log's first
//!   read, a moment later) holds every durable event the index covers; an index entry whose
//!   event is no longer in the log (expired) yields nothing.
//! - **Retention deletes events before their entries**: the writer's expire job deletes the
//!   events (durably) and says up to which `seq` all are gone, then
//!   [`Indexer::delete_through`] deletes the chunks whose last event is at or before it.
//!   Sequence numbers are never reused, so an entry left behind (in a chunk that still holds a
//!   live event, or after a crash between the two) matches no event and costs only its space
//!   until its chunk goes. (Entries are never dropped from a chunk being topped up: the
//!   indexer would see an expiry before the syncer has made it durable.)
//! - **The tail stays bounded.** A writer more than [`MAX_TAIL`] events ahead waits for the
//!   indexer ([`Progress::wait_for_tail`]), so a bulk import cannot leave lookups scanning an
//!   unbounded tail — but not for a backlog found at open (an index being rebuilt), nor while
//!   the indexer is failing or gone.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use foldhash::HashMap;
use rusqlite::{Connection, OptionalExtension as _, TransactionBehavior, params};
use tokio::sync::oneshot;

use super::chunks;
use super::encode::unpack_keys;
use super::syncer::Health;
use crate::{StoreError, StoreErrorKind};

/// The tail at which the indexer indexes at once; a smaller one waits up to [`IDLE_DELAY`] for
/// more (a steady trickle of events would otherwise pay an index transaction each).
pub(super) const MIN_BATCH: u64 = 1024;
/// How long a tail smaller than [`MIN_BATCH`] waits.
const IDLE_DELAY: Duration = Duration::from_millis(20);
/// How often the indexer looks at the durable end of the log.
const POLL: Duration = Duration::from_millis(5);
/// Events per index transaction at most (a bigger batch fills its chunks further).
const MAX_BATCH: usize = 20_000;
/// The tail at which the log's writer waits for the indexer.
pub(super) const MAX_TAIL: u64 = 50_000;
/// The longest a writer waits for the indexer before going on regardless (an indexer that is
/// failing must not stop the log).
const MAX_WRITER_WAIT: Duration = Duration::from_secs(1);
/// After a failed index transaction, how long before the next try.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// What the indexer is asked to do besides indexing.
enum Request {
    /// Index everything durable now, then answer.
    CatchUp {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// Delete the chunks whose events retention has all deleted (up to this `seq`).
    DeleteThrough {
        seq: u64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Stop,
}

/// How far the index is, shared with the log's writer.
#[derive(Default)]
pub(super) struct Progress {
    state: Mutex<ProgressState>,
    moved: Condvar,
}

#[derive(Default)]
struct ProgressState {
    indexed: u64,
    /// The last index transaction failed (or the indexer stopped): nobody waits for it.
    failing: bool,
    /// The end of the log when the store was opened: a backlog up to there (an index being
    /// rebuilt) is not the writer's doing, and the writer does not wait for it.
    backlog_end: u64,
}

impl Progress {
    fn set(&self, indexed: u64, failing: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.indexed = s.indexed.max(indexed);
        s.failing = failing;
        self.moved.notify_all();
    }

    /// Waits (at most [`MAX_WRITER_WAIT`]) until the unindexed tail behind `last_seq` is under
    /// [`MAX_TAIL`], or the indexer is failing, or still working through the backlog it found
    /// at open.
    pub(super) fn wait_for_tail(&self, last_seq: u64) {
        let deadline = Instant::now() + MAX_WRITER_WAIT;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !s.failing && s.indexed >= s.backlog_end && last_seq > s.indexed + MAX_TAIL {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            s = self
                .moved
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// The handle of the indexer thread; dropping it stops the thread.
pub(super) struct Indexer {
    requests: Mutex<mpsc::Sender<Request>>,
    pub(super) progress: Arc<Progress>,
    /// Tests hold the indexer's own batches back to see the tail path at work.
    #[cfg_attr(not(test), allow(dead_code))]
    held: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Indexer {
    fn drop(&mut self) {
        let _ = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(Request::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn closed() -> StoreError {
    StoreError::new(StoreErrorKind::Closed, "the store's indexer has stopped")
}

impl Indexer {
    /// Opens the lookup file beside the log at `log` (creating it, or emptying it if it
    /// belongs to another log) and starts the indexer thread.
    pub(super) fn spawn(log: &Path, health: Arc<Health>) -> Result<Indexer, StoreError> {
        let index = Connection::open(super::schema::lookup_path(log))?;
        super::schema::prepare_lookup_writer(&index)?;
        let log_reader = Connection::open(log)?;
        log_reader.pragma_update(None, "query_only", true)?;
        log_reader.busy_timeout(super::schema::BUSY_TIMEOUT)?;
        let (indexed, log_end) = forget_a_foreign_index(&index, &log_reader)?;
        let progress = Arc::new(Progress::default());
        progress
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .backlog_end = log_end;
        progress.set(indexed, false);
        let (tx, rx) = mpsc::channel();
        let held = Arc::new(AtomicBool::new(false));
        let thread = {
            let progress = progress.clone();
            let held = held.clone();
            let path = log.to_path_buf();
            std::thread::Builder::new()
                .name("cairn-store-indexer".into())
                .spawn(move || {
                    // However the thread ends (a panic included), the writer stops waiting.
                    let _stopped = StoppedGuard(progress.clone());
                    let mut worker = Worker {
                        index,
                        log: log_reader,
                        health,
                        progress,
                        path,
                        paused_until: None,
                        held,
                        open: OpenChunks::default(),
                    };
                    worker.run(&rx);
                })
                .map_err(|e| {
                    StoreError::new(
                        StoreErrorKind::Backend,
                        format!("cannot start the indexer: {e}"),
                    )
                })?
        };
        Ok(Indexer {
            requests: Mutex::new(tx),
            progress,
            held,
            thread: Some(thread),
        })
    }

    /// Holds back (or releases) the indexer's own batches; requests are still served.
    #[cfg(test)]
    pub(super) fn hold(&self, held: bool) {
        self.held.store(held, std::sync::atomic::Ordering::Release);
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(request)
            .map_err(|_| closed())
    }

    /// Returns once every event durable now is in the index.
    pub(super) async fn catch_up(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::CatchUp { reply })?;
        answer.await.map_err(|_| closed())?
    }

    /// Deletes the chunks all of whose events are gone: every event up to `seq` has been
    /// deleted from the log by retention.
    pub(super) async fn delete_through(&self, seq: u64) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::DeleteThrough { seq, reply })?;
        answer.await.map_err(|_| closed())?
    }
}

/// Marks the indexer failing when its thread ends.
struct StoppedGuard(Arc<Progress>);

impl Drop for StoppedGuard {
    fn drop(&mut self) {
        self.0.set(0, true);
    }
}

/// `indexed_through` of the lookup file and the end of the log (the highest `seq` it ever had),
/// after emptying an index that is ahead of the log (the lookup file of another log, e.g. one
/// restored from a backup).
fn forget_a_foreign_index(index: &Connection, log: &Connection) -> Result<(u64, u64), StoreError> {
    let indexed = indexed_through(index)?;
    let log_end = super::log_view::log_end(log)?;
    if indexed <= log_end {
        return Ok((indexed, log_end));
    }
    tracing::warn!(
        indexed,
        log_end,
        "the lookup index is ahead of the event log it sits beside; rebuilding it"
    );
    index.execute_batch(
        "BEGIN IMMEDIATE; DELETE FROM history_chunks; \
         UPDATE history_progress SET indexed_through = 0 WHERE id = 0; COMMIT;",
    )?;
    Ok((0, log_end))
}

/// `seq` up to which every event's keys are in `history_chunks` (on a reader: in its snapshot).
pub(super) fn indexed_through(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn
        .prepare_cached("SELECT indexed_through FROM history_progress WHERE id = 0")?
        .query_row([], |r| r.get(0))?;
    Ok(seq as u64)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Batches {
    One,
    All,
}

struct Worker {
    index: Connection,
    /// A read-only connection to the log.
    log: Connection,
    health: Arc<Health>,
    progress: Arc<Progress>,
    path: PathBuf,
    paused_until: Option<Instant>,
    held: Arc<AtomicBool>,
    open: OpenChunks,
}

impl Worker {
    fn run(&mut self, requests: &mpsc::Receiver<Request>) {
        // When the tail (smaller than a batch) was first seen.
        let mut tail_since: Option<Instant> = None;
        loop {
            match requests.recv_timeout(POLL) {
                Ok(Request::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Ok(Request::CatchUp { reply }) => {
                    let _ = reply.send(self.index(Batches::All));
                    continue;
                }
                Ok(Request::DeleteThrough { seq, reply }) => {
                    let _ = reply.send(delete_through(&self.index, seq));
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if self
                .paused_until
                .is_some_and(|until| Instant::now() < until)
                || self.held.load(std::sync::atomic::Ordering::Acquire)
            {
                continue;
            }
            let tail = self
                .health
                .durable_seq()
                .saturating_sub(self.progress_indexed());
            if tail == 0 {
                tail_since = None;
                continue;
            }
            let since = *tail_since.get_or_insert_with(Instant::now);
            if tail < MIN_BATCH && since.elapsed() < IDLE_DELAY {
                continue;
            }
            tail_since = None;
            // One batch per turn, so a long backlog (a store being rebuilt) does not hold up
            // requests or shutdown.
            if let Err(e) = self.index(Batches::One) {
                tracing::warn!(error = %e, store = %self.path.display(), "indexing the event history failed; lookups scan the unindexed events until it succeeds");
            }
        }
    }

    fn progress_indexed(&self) -> u64 {
        self.progress
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .indexed
    }

    /// Indexes the durable tail (one batch of it, or all); on failure pauses indexing for a
    /// moment.
    fn index(&mut self, batches: Batches) -> Result<(), StoreError> {
        let target = self.health.durable_seq();
        loop {
            match index_step(
                &mut self.index,
                &self.log,
                target,
                MAX_BATCH,
                &mut self.open,
            ) {
                Ok(step) => {
                    self.paused_until = None;
                    self.progress.set(step.through, false);
                    if step.through >= target || batches == Batches::One {
                        return Ok(());
                    }
                }
                Err(e) => {
                    self.paused_until = Some(Instant::now() + RETRY_AFTER);
                    self.progress.set(0, true);
                    return Err(e);
                }
            }
        }
    }
}

/// Deletes the chunks whose last event is at or before `seq` (a chunk's events all went).
/// A chunk with older events among newer ones stays until its last goes; the lookup skips
/// its entries whose events are gone.
fn delete_through(index: &Connection, seq: u64) -> Result<(), StoreError> {
    index
        .prepare_cached("DELETE FROM history_chunks WHERE last_seq <= ?1")?
        .execute([seq as i64])?;
    Ok(())
}

/// One index entry of one key: `(k, v, t, seq)`.
type IndexKey = (i64, i64, i64, i64);

/// What an [`index_step`] did.
pub(super) struct Step {
    /// The new `indexed_through`.
    pub through: u64,
}

/// Moves the keys of up to `max_events` events after `indexed_through` and up to `target` from
/// the log into `history_chunks`, in one transaction of the lookup file.
pub(super) fn index_step(
    index: &mut Connection,
    log: &Connection,
    target: u64,
    max_events: usize,
    open: &mut OpenChunks,
) -> Result<Step, StoreError> {
    let tx = index.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read inside the transaction: another process (`cairn import` beside a server) may have
    // indexed meanwhile.
    let from = indexed_through(&tx)?;
    if from >= target {
        return Ok(Step { through: from });
    }
    let mut keys: Vec<IndexKey> = Vec::new();
    let mut events = 0;
    let mut last = from;
    for entry in super::log_view::scan(log, from, target, max_events)? {
        keys.extend(
            unpack_keys(&entry.keys)
                .into_iter()
                .map(|(k, v)| (k, v, entry.event_time, entry.seq as i64)),
        );
        last = entry.seq;
        events += 1;
    }
    // Fewer rows than asked for: every event up to `target` was read (the durable end of the
    // log is visible to this later read; expired events leave gaps).
    let through = if events < max_events { target } else { last };
    write_chunks(&tx, &keys, open)?;
    tx.prepare_cached("UPDATE history_progress SET indexed_through = ?1 WHERE id = 0")?
        .execute([through as i64])?;
    tx.commit()?;
    Ok(Step { through })
}

/// The chunks the last index step left with room, by `(k, v, bucket)`: the next step tops
/// them up. Only a hint — a chunk is read back (and checked to be of its key) before it is
/// merged into, so one that has gone or never committed is simply not merged into.
#[derive(Default)]
pub(super) struct OpenChunks(HashMap<(i64, i64, i64), i64>);

/// Adds a batch's keys to the chunks: per key and bucket, a chunk the last step left with
/// room is topped up to [`chunks::MAX_ENTRIES`], the rest goes into new chunks. (Only the last
/// step's: looking up every group's last chunk cost a bulk import ~1.8 µs per event, and a
/// bulk import's groups fill their own chunks.)
fn write_chunks(
    conn: &Connection,
    keys: &[IndexKey],
    open: &mut OpenChunks,
) -> Result<(), StoreError> {
    let mut read_chunk = conn.prepare_cached(
        "SELECT n, entries FROM history_chunks WHERE id = ?1 AND k = ?2 AND v = ?3 AND bucket = ?4",
    )?;
    let mut update = conn.prepare_cached(
        "UPDATE history_chunks SET t_min = ?2, t_max = ?3, last_seq = ?4, n = ?5, entries = ?6 \
         WHERE id = ?1",
    )?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO history_chunks (k, v, bucket, t_min, t_max, last_seq, n, entries) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut still_open = OpenChunks::default();
    for ((k, v, bucket), mut entries) in chunks::group(keys) {
        let mut topped_up = None;
        if let Some(&id) = open.0.get(&(k, v, bucket))
            && let Some((n, data)) = read_chunk
                .query_row(params![id, k, v, bucket], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?
            && (n as usize) < chunks::MAX_ENTRIES
        {
            // Entries of expired events stay until the chunk goes: dropping them here would
            // act on an expiry the syncer may not have made durable yet.
            let mut old = Vec::with_capacity(n as usize + entries.len());
            match chunks::decode(bucket, &data, &mut old) {
                Ok(()) => {
                    chunks::merge(&mut old, &entries);
                    entries = old;
                    topped_up = Some(id);
                }
                // Not merged into (a failing step would retry the same chunk forever): the
                // batch's entries go into a new chunk, and lookups that read this one report it.
                Err(e) => {
                    tracing::warn!(error = %e, chunk = id, "an event history index chunk is corrupt");
                }
            }
        }
        for (i, part) in entries.chunks(chunks::MAX_ENTRIES).enumerate() {
            // Sorted by (t, seq): the times are at the ends; the seqs are not in order.
            let (t_min, t_max) = (part[0].0, part[part.len() - 1].0);
            let last_seq = part.iter().map(|e| e.1).max().unwrap_or_default();
            let n = part.len() as i64;
            let data = chunks::encode(bucket, part);
            let id = match topped_up.filter(|_| i == 0) {
                Some(id) => {
                    update.execute(params![id, t_min, t_max, last_seq, n, data])?;
                    id
                }
                None => {
                    insert.execute(params![k, v, bucket, t_min, t_max, last_seq, n, data])?;
                    conn.last_insert_rowid()
                }
            };
            if part.len() < chunks::MAX_ENTRIES {
                still_open.0.insert((k, v, bucket), id);
            }
        }
    }
    *open = still_open;
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::{Commit, NewEvent, SqliteStore, Store as _};

    #[test]
    fn a_writer_waits_only_for_a_long_tail_of_a_working_indexer() {
        let progress = Arc::new(Progress::default());
        progress.set(100, false);
        let started = Instant::now();
        progress.wait_for_tail(100 + MAX_TAIL);
        assert!(
            started.elapsed() < MAX_WRITER_WAIT / 2,
            "a short tail waits"
        );
        // A long tail waits until the indexer moves ...
        let indexer = {
            let progress = progress.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                progress.set(1_000, false);
            })
        };
        let started = Instant::now();
        progress.wait_for_tail(1_000 + MAX_TAIL);
        let waited = started.elapsed();
        indexer.join().unwrap();
        assert!(
            waited >= Duration::from_millis(40) && waited < MAX_WRITER_WAIT,
            "{waited:?}"
        );
        // ... and not at all for one that is failing.
        progress.set(0, true);
        let started = Instant::now();
        progress.wait_for_tail(10 * MAX_TAIL);
        assert!(started.elapsed() < MAX_WRITER_WAIT / 2);
    }

    #[test]
    fn a_writer_does_not_wait_for_a_backlog_found_at_open_nor_for_a_dead_indexer() {
        let progress = Arc::new(Progress::default());
        progress.state.lock().unwrap().backlog_end = 1_000_000;
        let started = Instant::now();
        progress.wait_for_tail(1_000_000 + 2 * MAX_TAIL);
        assert!(started.elapsed() < MAX_WRITER_WAIT / 2, "a rebuild backlog");
        // Once the backlog is indexed, a long tail is waited for again (here: to the limit).
        progress.set(1_000_000, false);
        let started = Instant::now();
        progress.wait_for_tail(1_000_000 + 2 * MAX_TAIL);
        assert!(
            started.elapsed() >= MAX_WRITER_WAIT,
            "the writer waits its full limit"
        );
        // An indexer thread that panics releases the writer.
        let dying = {
            let progress = progress.clone();
            std::thread::spawn(move || {
                let _stopped = StoppedGuard(progress);
                panic!("an indexer failure");
            })
        };
        assert!(dying.join().is_err());
        let started = Instant::now();
        progress.wait_for_tail(1_000_000 + 2 * MAX_TAIL);
        assert!(started.elapsed() < MAX_WRITER_WAIT / 2, "a dead indexer");
    }

    /// An index step covers the log up to its target (the durable end) and no further.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_step_stops_at_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            let events = (0..5)
                .map(|i| NewEvent::for_test(&format!("e{i}"), "X"))
                .collect();
            store.commit(Commit::events(events)).await.unwrap();
        }
        let mut index = Connection::open(super::super::schema::lookup_path(&path)).unwrap();
        index
            .execute_batch(
                "DELETE FROM history_chunks; UPDATE history_progress SET indexed_through = 0",
            )
            .unwrap();
        let log = Connection::open(&path).unwrap();
        let step = index_step(&mut index, &log, 2, MAX_BATCH, &mut OpenChunks::default()).unwrap();
        assert_eq!(step.through, 2);
        let mut seqs: Vec<i64> = all_entries(&index).into_iter().map(|e| e.3).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs, vec![1, 2]);
        // A batch limit ends a step early, at the last event it took.
        let step = index_step(&mut index, &log, 5, 2, &mut OpenChunks::default()).unwrap();
        assert_eq!(step.through, 4);
        assert_eq!(indexed_through(&index).unwrap(), 4);
    }

    /// Every entry of the index, `(k, v, t, seq)`, sorted.
    pub(in crate::sqlite) fn all_entries(conn: &Connection) -> Vec<IndexKey> {
        let mut out = Vec::new();
        let mut stmt = conn
            .prepare("SELECT k, v, bucket, entries FROM history_chunks")
            .unwrap();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            let (k, v, bucket): (i64, i64, i64) = (
                row.get(0).unwrap(),
                row.get(1).unwrap(),
                row.get(2).unwrap(),
            );
            let mut entries = Vec::new();
            chunks::decode(
                bucket,
                row.get_ref(3).unwrap().as_blob().unwrap(),
                &mut entries,
            )
            .unwrap();
            out.extend(entries.into_iter().map(|(t, seq)| (k, v, t, seq)));
        }
        out.sort_unstable();
        out
    }

    fn chunk_sizes(conn: &Connection) -> Vec<i64> {
        conn.prepare("SELECT n FROM history_chunks ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A trickle of small batches tops up a bucket's chunk rather than adding one per batch,
    /// and a full chunk makes way for the next.
    #[test]
    fn small_batches_fill_a_buckets_chunk() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(super::super::schema::LOOKUP_SCHEMA)
            .unwrap();
        let t = 1_790_000_000 - 1_790_000_000 % chunks::BUCKET_SECS;
        let mut open = OpenChunks::default();
        let mut seq = 0;
        for _ in 0..(chunks::MAX_ENTRIES + 10) {
            seq += 1;
            write_chunks(&conn, &[(1, 7, t + seq % 60, seq)], &mut open).unwrap();
        }
        assert_eq!(chunk_sizes(&conn), vec![chunks::MAX_ENTRIES as i64, 10]);
        let entries = all_entries(&conn);
        assert_eq!(entries.len(), chunks::MAX_ENTRIES + 10);
        // A corrupt chunk is not merged into: the entry goes into a new one.
        conn.execute("UPDATE history_chunks SET entries = x'80' WHERE n = 10", [])
            .unwrap();
        write_chunks(&conn, &[(1, 7, t, 10_000)], &mut open).unwrap();
        assert_eq!(chunk_sizes(&conn), vec![chunks::MAX_ENTRIES as i64, 10, 1]);
        conn.execute("DELETE FROM history_chunks WHERE n = 10", [])
            .unwrap();
        // Deleting through a seq takes only the chunks whose events are all at or before it.
        let max = chunks::MAX_ENTRIES as u64;
        delete_through(&conn, max - 1).unwrap();
        assert_eq!(all_entries(&conn).len(), chunks::MAX_ENTRIES + 1);
        delete_through(&conn, max).unwrap();
        assert_eq!(all_entries(&conn).len(), 1);
        delete_through(&conn, 20_000).unwrap();
        assert!(all_entries(&conn).is_empty());
        // A chunk that has gone is not merged into: its key gets a new one.
        write_chunks(&conn, &[(1, 7, t, 20_001)], &mut open).unwrap();
        assert_eq!(all_entries(&conn), vec![(1, 7, t, 20_001)]);
    }
}

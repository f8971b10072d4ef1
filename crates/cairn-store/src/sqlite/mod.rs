//! The embedded store: the log in one SQLite file in the data dir (`events.db`), its lookup
//! index in a second one beside it (`events-lookup.db`).
//!
//! # Schema (user_version 6)
//!
//! ```text
//! -- events.db
//! events(seq INTEGER PRIMARY KEY,      -- a commit of one event (v6; every event before v6)
//!        id_hash,                      -- 64-bit key of the eventID
//!        received_at,                  -- Unix ms when Cairn received it (retention clock)
//!        history, event_time, imported,
//!        event_id TEXT,                -- the record's eventID
//!        keys BLOB,                    -- its lookup keys, packed (indexed from here; retention)
//!        record BLOB)                  -- the full record (zstd + built-in dictionary, lossless),
//!                                      -- or (v5) where it is in a block of its commit
//! blocks(first_seq INTEGER PRIMARY KEY, last_seq,
//!        data BLOB)                    -- up to 32 records of one commit, compressed together
//! manifests(first_seq INTEGER PRIMARY KEY, last_seq, received_min,
//!        entries BLOB)                 -- the columns of a block's events, which have no row
//!                                      -- (v6, [`manifest`]); read with rows by [`log_view`]
//! event_ids(id_hash, seq)              -- every event's eventID key (duplicates, EventId)
//! log_state(expired_through)           -- highest seq retention deleted (seqs are never reused)
//! catalog(namespace, key, value)       -- JSON documents: trails, tags, channels, ...
//! checkpoints(consumer PRIMARY KEY, position)
//! -- events-lookup.db (derived from the rows' packed keys; attached to readers as `idx`)
//! history_chunks(k, v, bucket, t_min, t_max, last_seq, n,
//!               entries BLOB)          -- every LookupEvents key of every event: its (eventTime,
//!                                      -- seq) entries by key and hour bucket ([`chunks`])
//! history_progress(indexed_through)     -- how far history_chunks is built ([`indexer`])
//! ```
//!
//! One B-tree entry is written per event of a bulk commit (`event_ids`, in key order), one row
//! of `blocks` and one of `manifests` per run of 2–32 records (up to ~64 KiB) of a commit (a
//! commit of one event, or a run of one record, writes its row instead), and the lookup chunks
//! behind the log, in batches, by a thread of its own (a row per key and hour bucket of a batch,
//! see [`indexer`]); the encodings are in [`encode`]. Compression and hashing happen on the
//! committing caller's thread (or earlier: [`SqliteStore::encode_events`]), before the commit
//! reaches the writer.
//!
//! # Durability and group commit
//!
//! All writes to the log go through one writer thread ([`writer`]; the lookup file has its own,
//! [`indexer`]). It takes every commit that is waiting,
//! applies them in one transaction (each in its own SAVEPOINT only if one of them fails, so a
//! failing commit does not take its neighbours down) and commits once. The file runs in WAL
//! mode; the writer's commit only writes the WAL, and a second thread ([`syncer`]) `fdatasync`s
//! it once for every group that queued up meanwhile and only then answers their callers. A
//! caller is never told "done" before its data is on disk, and the writer applies the next
//! group while the disk syncs the previous one.
//!
//! Reads use a small pool of separate read-only connections; WAL lets them run beside the writer.

mod chunks;
mod encode;
mod indexer;
mod log_view;
mod lookup;
mod manifest;
mod reader;
mod schema;
mod syncer;
mod wal;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{
    CatalogWrite, Commit, CommitReceipt, DuplicateEvents, LookedUpEvent, LookupQuery, NewEvent,
    Store, StoreError, StoreErrorKind, StoredEvent,
};
use writer::Job;

/// The SQLite implementation of [`Store`]. Cheap to clone; clones share the writer.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    jobs: Mutex<mpsc::Sender<Job>>,
    /// The syncer's queue, for [`syncer::Work::Barrier`]s.
    barriers: Mutex<mpsc::Sender<syncer::Work>>,
    health: Arc<syncer::Health>,
    readers: reader::Pool,
    indexer: indexer::Indexer,
    _checkpointer: wal::Checkpointer,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The syncer holds a sender of the writer's queue (to wake it), so the queue never
        // disconnects on its own: tell the writer explicitly that this handle is gone.
        let jobs = self.jobs.lock().unwrap_or_else(|p| p.into_inner());
        let _ = jobs.send(Job::Stop);
    }
}

/// The writer's answer to a job handed over: a dropped reply sender means the writer died
/// mid-job — reported, never taken for success.
async fn answer<T>(reply: oneshot::Receiver<Result<T, StoreError>>) -> Result<T, StoreError> {
    reply.await.map_err(|_| {
        StoreError::new(
            StoreErrorKind::Closed,
            "the store writer stopped before answering",
        )
    })?
}

/// Events encoded apart from their commit ([`SqliteStore::encode_events`]).
pub struct EncodedBatch(encode::EncodedEvents);

impl EncodedBatch {
    /// Events in the batch.
    pub fn len(&self) -> usize {
        self.0.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.events.is_empty()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        // The file's real path: SQLite keeps the WAL beside it, also when `path` is a symlink
        // (and the lookup file goes there too).
        let real = std::fs::canonicalize(path).map_err(|e| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("resolving {}: {e}", path.display()),
            )
        })?;
        // Readers attach the lookup file by its path as text: refuse a path that has none.
        schema::utf8(&real)?;
        schema::prepare_writer(&conn)?;
        let health = Arc::new(syncer::Health::default());
        // The indexer first: it creates the lookup file the writer and the readers rely on.
        let indexer = indexer::Indexer::spawn(&real, health.clone())?;
        let (jobs, barriers) =
            writer::spawn(conn, &real, health.clone(), indexer.progress.clone())?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: Mutex::new(jobs),
                barriers: Mutex::new(barriers),
                health,
                readers: reader::Pool::new(path.to_path_buf(), schema::lookup_path(&real)),
                indexer,
                _checkpointer: wal::spawn(real),
            }),
        })
    }

    /// Every file a store at `path` keeps: the log and its lookup index, each with SQLite's WAL
    /// and shared-memory files (for removing or copying a store whole).
    pub fn files(path: &Path) -> Vec<PathBuf> {
        // SQLite keeps the WAL beside the log's real file, and the lookup file goes there too
        // (see `open`); a symlink given as `path` is listed as well.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let lookup = schema::lookup_path(&real);
        let link = (real != path).then_some(path);
        [real.as_path(), lookup.as_path()]
            .into_iter()
            .flat_map(|db| {
                ["", "-wal", "-shm"].map(|suffix| {
                    let mut name = db.as_os_str().to_owned();
                    name.push(suffix);
                    PathBuf::from(name)
                })
            })
            .chain(link.map(Path::to_path_buf))
            .collect()
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Hands a job to the writer thread and waits for its answer.
    async fn send<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<T, StoreError> {
        answer(self.hand_over(make)?).await
    }

    /// Hands a job to the writer thread, which applies jobs in the order they are handed over.
    fn hand_over<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Job,
    ) -> Result<oneshot::Receiver<Result<T, StoreError>>, StoreError> {
        let (tx, rx) = oneshot::channel();
        let jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
        jobs.send(make(tx))
            .map_err(|_| StoreError::new(StoreErrorKind::Closed, "the store writer has stopped"))?;
        Ok(rx)
    }

    /// Encodes events for [`SqliteStore::commit_encoded`]: the CPU work of a commit
    /// (compressing the records, hashing the keys), on the caller's thread, apart from the
    /// commit. A bulk loader encodes each file on the thread that parsed it.
    pub fn encode_events(events: Vec<NewEvent>) -> Result<EncodedBatch, StoreError> {
        Ok(EncodedBatch(encode::encode_events(events)?))
    }

    /// Hands the events of `batches`, in order, to the writer as one commit — what
    /// `Store::commit` does with the same events — before it returns, so commits handed over
    /// one after the other are applied in that order; the future answers once it is durable.
    /// Records are compressed in blocks within a batch, never across two.
    pub fn commit_encoded(
        &self,
        batches: Vec<EncodedBatch>,
        duplicates: DuplicateEvents,
    ) -> Result<impl Future<Output = Result<CommitReceipt, StoreError>> + Send + 'static, StoreError>
    {
        let mut events = encode::EncodedEvents::default();
        events
            .events
            .reserve(batches.iter().map(EncodedBatch::len).sum());
        for batch in batches {
            events.append(batch.0);
        }
        let commit = writer::PreparedCommit::encoded(events, duplicates);
        Ok(answer(
            self.hand_over(|reply| Job::Commit { commit, reply })?,
        ))
    }

    /// Builds the event-history index for every event appended so far, before returning.
    ///
    /// The indexer does this on its own, a moment behind the log; a bulk load (`cairn import`)
    /// calls it so that it leaves no tail for the next lookups to scan.
    pub async fn index_tail(&self) -> Result<(), StoreError> {
        self.inner.indexer.catch_up().await
    }

    /// Returns once every event up to `seq` is on stable storage (at once if it already is).
    async fn durable_up_to(&self, seq: u64) -> Result<(), StoreError> {
        if seq <= self.inner.health.durable_seq() {
            return Ok(());
        }
        let (reply, answer) = oneshot::channel();
        {
            let barriers = self
                .inner
                .barriers
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            barriers
                .send(syncer::Work::Barrier { seq, reply })
                .map_err(|_| StoreError::new(StoreErrorKind::Closed, "the store has stopped"))?;
        }
        answer.await.map_err(|_| {
            StoreError::new(StoreErrorKind::Closed, "the store stopped before syncing")
        })?
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.readers.with(f))
            .await
            .map_err(|e| {
                StoreError::new(StoreErrorKind::Backend, format!("reader task failed: {e}"))
            })?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError> {
        // Compression and key hashing run here, on the caller's thread: the writer thread only
        // inserts.
        let commit = writer::PreparedCommit::of(commit)?;
        self.send(|reply| Job::Commit { commit, reply }).await
    }

    async fn read_events(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let events = self
            .read(move |c| reader::events_after(c, after_seq, limit))
            .await?;
        // Consumers act on these outside the store (a delivered log file cannot be taken
        // back): hand them out only once they are durable, never while their commit's fsync
        // is still running.
        if let Some(last) = events.last() {
            self.durable_up_to(last.seq).await?;
        }
        Ok(events)
    }

    async fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, StoreError> {
        let id = event_id.to_string();
        self.read(move |c| reader::event_by_id(c, &id)).await
    }

    async fn lookup(&self, query: LookupQuery) -> Result<Vec<LookedUpEvent>, StoreError> {
        self.read(move |c| lookup::run(c, &query)).await
    }

    async fn last_seq(&self) -> Result<u64, StoreError> {
        self.read(reader::last_seq).await
    }

    async fn catalog_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError> {
        let (ns, key) = (namespace.to_string(), key.to_string());
        self.read(move |c| reader::catalog_get(c, &ns, &key)).await
    }

    async fn catalog_list(&self, namespace: &str) -> Result<Vec<(String, String)>, StoreError> {
        let ns = namespace.to_string();
        self.read(move |c| reader::catalog_list(c, &ns)).await
    }

    async fn checkpoint(&self, consumer: &str) -> Result<u64, StoreError> {
        let consumer = consumer.to_string();
        self.read(move |c| reader::checkpoint(c, &consumer)).await
    }

    async fn remove_checkpoint(&self, consumer: &str) -> Result<(), StoreError> {
        let consumer = consumer.to_string();
        self.send(|reply| Job::RemoveCheckpoint { consumer, reply })
            .await
    }

    async fn expire_events(
        &self,
        received_before_ms: i64,
        limit: usize,
    ) -> Result<u64, StoreError> {
        // The events go first (durably), then the index chunks all of whose events are gone
        // (the indexer owns the lookup file): an entry left behind matches no event.
        let expired = self
            .send(|reply| Job::Expire {
                received_before_ms,
                limit,
                reply,
            })
            .await?;
        if expired.count > 0
            && let Err(e) = self.inner.indexer.delete_through(expired.through).await
        {
            tracing::warn!(error = %e, "deleting expired events' lookup chunks failed; their entries match no event and only take space");
        }
        Ok(expired.count)
    }

    async fn advance_checkpoint(
        &self,
        consumer: &str,
        expected_from: u64,
        to: u64,
        catalog: Vec<CatalogWrite>,
    ) -> Result<(), StoreError> {
        let consumer = consumer.to_string();
        self.send(|reply| Job::Advance {
            consumer,
            expected_from,
            to,
            catalog,
            reply,
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
    }

    async fn open() -> (SqliteStore, Fixture) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        (store, Fixture { _dir: dir })
    }

    crate::store_conformance_suite!(open);
}

#[cfg(test)]
mod layout_tests {
    use super::*;
    use crate::{DuplicateEvents, HistoryKind, LookupFilter, LookupQuery, NewEvent};

    fn event(id: &str, name: &str, user: &str) -> NewEvent {
        let r = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "userName": user},
            "eventTime": "2026-11-23T08:00:00Z",
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "eventID": id,
            "eventCategory": "Management",
        });
        NewEvent::from_record_value(&r, 0).unwrap()
    }

    fn by(filter: LookupFilter) -> LookupQuery {
        LookupQuery {
            history: HistoryKind::Events,
            start_time: None,
            end_time: None,
            filters: vec![filter],
            before: None,
            limit: 10,
        }
    }

    /// Under a steady stream of commits the WAL restarts once its content passes the bound
    /// (it never grows far past it), and its file is kept for reuse rather than truncated.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_restarts_at_its_bound_and_its_file_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("events.db");
        let store = SqliteStore::open(&db).unwrap();
        let wal = super::wal::wal_path(&db);
        let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
        // Random padding, so compression cannot shrink the records: ~2 KB of WAL each.
        let padded = |i: usize| {
            let pad: String = (0..50)
                .map(|_| uuid::Uuid::new_v4().simple().to_string())
                .collect();
            let mut e = event(&format!("wal-{i}"), "PutObject", "alice");
            e.record_json = e
                .record_json
                .replacen('{', &format!("{{\"pad\":\"{pad}\","), 1);
            e
        };
        let (mut written, mut largest, mut committed) = (0u64, 0u64, 0usize);
        while written < 4 * super::wal::MAX_WAL_BYTES {
            let batch: Vec<NewEvent> = (committed..committed + 200).map(padded).collect();
            written += batch
                .iter()
                .map(|e| e.record_json.len() as u64)
                .sum::<u64>();
            committed += batch.len();
            store.commit(Commit::events(batch)).await.unwrap();
            largest = largest.max(wal_size());
            // The writer looks at the WAL's size between transactions, every 100 ms at most.
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
        let kept = super::wal::KEPT_WAL_BYTES as u64;
        assert!(
            largest <= kept + (2 << 20),
            "the WAL grew to {largest} bytes for {written} bytes of records: never restarted"
        );
        // The file never shrinks below the largest it was (up to the kept size), however
        // large that was: when the checkpointer keeps up, SQLite restarts a small WAL by itself.
        assert!(
            wal_size() >= largest.min(kept),
            "the WAL file was truncated ({} bytes, largest {largest}) instead of kept for reuse",
            wal_size()
        );
        let events = store.read_events(0, committed + 10).await.unwrap();
        assert_eq!(events.len(), committed, "every committed event is readable");
    }

    /// Value ids, compressed records and the eventID index work the same after a restart:
    /// lookups find old events, duplicates are still recognised, records read back unchanged.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn encodings_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let first = event("e-1", "CreateUser", "alice");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .commit(Commit::events(vec![first.clone()]))
                .await
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let receipt = store
            .commit(Commit {
                events: vec![first.clone(), event("e-2", "CreateUser", "bob")],
                duplicates: DuplicateEvents::Skip,
                ..Commit::default()
            })
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![None, Some(2)]);
        let found = store
            .lookup(by(LookupFilter::Username("alice".into())))
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].event.record_json, first.record_json);
        let named = store
            .lookup(by(LookupFilter::EventName("CreateUser".into())))
            .await
            .unwrap();
        assert_eq!(named.len(), 2);
        let by_id = store.event_by_id("e-1").await.unwrap().unwrap();
        assert_eq!(by_id.record_json, first.record_json);
        assert!(store.event_by_id("e-3").await.unwrap().is_none());
    }

    /// A data dir of the first pre-release schema is refused with a message that says what to do.
    #[test]
    fn a_version_1_store_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE events (seq INTEGER PRIMARY KEY, record TEXT); PRAGMA user_version = 1;")
                .unwrap();
        }
        let err = SqliteStore::open(&path).err().expect("v1 must be refused");
        assert!(err.to_string().contains("schema version 1"), "{err}");
        assert!(err.to_string().contains("cairn import"), "{err}");
    }

    /// Retention removes an event's index entries with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_removes_lookup_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        store
            .commit(Commit::events(vec![event("e-1", "CreateUser", "alice")]))
            .await
            .unwrap();
        store.index_tail().await.unwrap();
        assert!(key_count(&store).await > 0);
        assert_eq!(store.expire_events(1, 10).await.unwrap(), 1);
        assert_eq!(key_count(&store).await, 0);
    }

    /// An event received after the cut-off outlives an older-numbered neighbour that expires:
    /// its index entry survives retention and the topping-up of its chunk.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_received_event_keeps_its_index_entry() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let at = |id: &str, received_at_ms: i64| NewEvent {
            received_at_ms,
            ..event(id, "CreateUser", "alice")
        };
        store
            .commit(Commit::events(vec![
                at("late", 9_000_000),
                at("early", 1_000),
            ]))
            .await
            .unwrap();
        store.index_tail().await.unwrap();
        assert_eq!(store.expire_events(5_000_000, 10).await.unwrap(), 1);
        // The next batch tops up the chunk holding both entries.
        store
            .commit(Commit::events(vec![at("next", 9_000_000)]))
            .await
            .unwrap();
        store.index_tail().await.unwrap();
        let found = store
            .lookup(by(LookupFilter::Username("alice".into())))
            .await
            .unwrap();
        let ids: Vec<&str> = found.iter().map(|e| e.event.event_id.as_str()).collect();
        assert_eq!(ids, ["next", "late"]);
    }

    async fn block_count(store: &SqliteStore) -> i64 {
        scalar(store, "SELECT COUNT(*) FROM blocks").await
    }

    /// The records of a commit share blocks of up to `BLOCK_RECORDS`; every reader gets each
    /// record back byte for byte (the log in order, by eventID, by lookup), and a lone event's
    /// record stays in its row.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn records_in_blocks_read_back_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let n = encode::BLOCK_RECORDS + 5;
        let events: Vec<NewEvent> = (0..n)
            .map(|i| {
                let mut e = event(&format!("e-{i}"), "GetUser", &format!("user-{i}"));
                // Text as given, whitespace and escapes included.
                e.record_json = e.record_json.replace(",", ", ") + &" ".repeat(i);
                e
            })
            .collect();
        let texts: Vec<String> = events.iter().map(|e| e.record_json.clone()).collect();
        store.commit(Commit::events(events)).await.unwrap();
        store
            .commit(Commit::events(vec![event("lone", "GetUser", "x")]))
            .await
            .unwrap();
        assert_eq!(
            block_count(&store).await,
            2,
            "32 + 5 records; the lone one inline"
        );
        let read = store.read_events(0, 1000).await.unwrap();
        assert_eq!(read.len(), n + 1);
        for (e, text) in read.iter().zip(&texts) {
            assert_eq!(&e.record_json, text, "seq {}", e.seq);
        }
        for i in [0, 31, 32, n - 1] {
            let id = format!("e-{i}");
            let found = store.event_by_id(&id).await.unwrap().unwrap();
            assert_eq!(found.record_json, texts[i], "{id}");
            let looked_up = store
                .lookup(by(LookupFilter::Username(format!("user-{i}"))))
                .await
                .unwrap();
            assert_eq!(looked_up.len(), 1);
            assert_eq!(looked_up[0].event.record_json, texts[i], "{id}");
        }
        // Reading from the middle of a block starts at the right record.
        let from_middle = store.read_events(10, 3).await.unwrap();
        assert_eq!(
            from_middle
                .iter()
                .map(|e| e.record_json.as_str())
                .collect::<Vec<_>>(),
            texts[10..13].iter().map(String::as_str).collect::<Vec<_>>()
        );
    }

    /// Events skipped as duplicates leave holes in their block: the events stored around them
    /// still find their own records; a block none of whose events was stored is not kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn duplicates_inside_a_block_keep_the_others_right() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        store
            .commit(Commit::events(vec![
                event("a", "GetUser", "u"),
                event("c", "GetUser", "u"),
            ]))
            .await
            .unwrap();
        let again = Commit {
            events: ["a", "b", "c", "d"]
                .iter()
                .map(|id| event(id, &format!("Name-{id}"), "u"))
                .collect(),
            duplicates: DuplicateEvents::Skip,
            ..Commit::default()
        };
        let receipt = store.commit(again).await.unwrap();
        assert_eq!(receipt.seqs, vec![None, Some(3), None, Some(4)]);
        for (id, name) in [("b", "Name-b"), ("d", "Name-d"), ("c", "GetUser")] {
            let e = store.event_by_id(id).await.unwrap().unwrap();
            assert!(e.record_json.contains(name), "{id}: {}", e.record_json);
        }
        let only_duplicates = Commit {
            events: vec![event("a", "GetUser", "u"), event("b", "GetUser", "u")],
            duplicates: DuplicateEvents::Skip,
            ..Commit::default()
        };
        store.commit(only_duplicates).await.unwrap();
        assert_eq!(block_count(&store).await, 2);
    }

    /// Retention removes a block with the last of its events, and not before: an event of the
    /// block received after the cut-off keeps it, and stays readable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_block_expires_with_its_last_event() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let events: Vec<NewEvent> = (0..10)
            .map(|i| {
                let mut e = event(&format!("e-{i}"), "GetUser", "u");
                e.received_at_ms = if i == 7 { 5_000 } else { 1_000 };
                e
            })
            .collect();
        store.commit(Commit::events(events)).await.unwrap();
        assert_eq!(block_count(&store).await, 1);
        assert_eq!(store.expire_events(2_000, 100).await.unwrap(), 9);
        assert_eq!(block_count(&store).await, 1, "e-7 still needs it");
        let left = store.read_events(0, 100).await.unwrap();
        assert_eq!(left.len(), 1);
        assert!(left[0].record_json.contains("\"e-7\""));
        assert_eq!(store.expire_events(6_000, 100).await.unwrap(), 1);
        assert_eq!(block_count(&store).await, 0);
    }

    /// A v4 store (records only in rows, no `blocks` table) opens as v5: its events read back
    /// and new commits store blocks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_v4_store_gains_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            for id in ["old-1", "old-2"] {
                store
                    .commit(Commit::events(vec![event(id, "GetUser", "u")]))
                    .await
                    .unwrap();
            }
        }
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("DROP TABLE blocks; PRAGMA user_version = 4;")
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(Commit::events(vec![
                event("new-1", "GetUser", "u"),
                event("new-2", "GetUser", "u"),
            ]))
            .await
            .unwrap();
        assert_eq!(block_count(&store).await, 1);
        let ids: Vec<String> = store
            .read_events(0, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|e| {
                assert!(e.record_json.contains(&e.event_id));
                e.event_id
            })
            .collect();
        assert_eq!(ids, ["old-1", "old-2", "new-1", "new-2"]);
    }

    /// A v5 store (every event a row, some pointing into a block; ids indexed on `events`)
    /// opens as v6: its ids move to `event_ids`, its events read back in order beside new ones
    /// listed in manifests (at every start and limit), are found by id and lookup, are still
    /// duplicates, and expire with their blocks.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_v5_store_moves_its_ids_and_reads_beside_manifests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let old: Vec<NewEvent> = ["old-lone", "old-b0", "old-b1", "old-b2"]
            .iter()
            .map(|id| event(id, "GetUser", &format!("user-{id}")))
            .collect();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(
                "CREATE TABLE events (seq INTEGER PRIMARY KEY, id_hash INTEGER NOT NULL,
                     received_at INTEGER NOT NULL, history INTEGER NOT NULL,
                     event_time INTEGER NOT NULL, imported INTEGER NOT NULL,
                     event_id TEXT NOT NULL, keys BLOB NOT NULL, record BLOB NOT NULL);
                 CREATE INDEX events_id ON events(id_hash);
                 CREATE TABLE blocks (first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL,
                     data BLOB NOT NULL);
                 CREATE TABLE log_state (id INTEGER PRIMARY KEY CHECK (id = 0),
                     expired_through INTEGER NOT NULL);
                 INSERT INTO log_state VALUES (0, 0);
                 CREATE TABLE catalog (namespace TEXT NOT NULL, key TEXT NOT NULL,
                     value TEXT NOT NULL, PRIMARY KEY (namespace, key)) WITHOUT ROWID;
                 CREATE TABLE checkpoints (consumer TEXT PRIMARY KEY,
                     position INTEGER NOT NULL) WITHOUT ROWID;
                 PRAGMA user_version = 5;",
            )
            .unwrap();
            let lone = encode::encode_events(old[..1].to_vec()).unwrap();
            let block = encode::encode_events(old[1..].to_vec()).unwrap();
            assert_eq!(block.blocks.len(), 1);
            conn.execute("INSERT INTO blocks VALUES (2, 4, ?1)", [&block.blocks[0]])
                .unwrap();
            for (seq, e) in (1i64..).zip(lone.events.iter().chain(&block.events)) {
                let record = match &e.record {
                    encode::StoredRecord::Inline(r) => r.clone(),
                    encode::StoredRecord::InBlock { index, .. } => {
                        encode::block_ref(seq as u64 - 2, *index)
                    }
                };
                conn.execute(
                    "INSERT INTO events VALUES (?1, ?2, 1000, ?3, ?4, ?5, ?6, ?7, ?8)",
                    rusqlite::params![
                        seq,
                        e.id_hash,
                        e.history,
                        e.event_time,
                        e.imported,
                        e.event_id,
                        e.packed_keys,
                        record
                    ],
                )
                .unwrap();
            }
        }
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(version, schema::SCHEMA_VERSION);
        let old_index: i64 = scalar(
            &store,
            "SELECT COUNT(*) FROM sqlite_master WHERE name = 'events_id'",
        )
        .await;
        let ids: i64 = scalar(&store, "SELECT COUNT(*) FROM event_ids").await;
        assert_eq!((old_index, ids), (0, 4));
        // New events: a bulk commit (one of them already in the log) and a lone one.
        let mut new: Vec<NewEvent> = ["old-b1", "new-1", "new-2"]
            .iter()
            .map(|id| event(id, "PutUser", &format!("user-{id}")))
            .collect();
        for e in &mut new {
            e.received_at_ms = 5_000;
        }
        let receipt = store
            .commit(Commit {
                events: new.clone(),
                duplicates: DuplicateEvents::Skip,
                ..Commit::default()
            })
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![None, Some(5), Some(6)]);
        let mut lone = event("new-3", "PutUser", "user-new-3");
        lone.received_at_ms = 5_000;
        store
            .commit(Commit::events(vec![lone.clone()]))
            .await
            .unwrap();
        let manifests: i64 = scalar(&store, "SELECT COUNT(*) FROM manifests").await;
        let rows: i64 = scalar(&store, "SELECT COUNT(*) FROM events").await;
        assert_eq!((manifests, rows), (1, 5), "4 old rows and the lone new one");
        let expected: Vec<(String, String)> = old
            .iter()
            .chain(&new[1..])
            .chain([&lone])
            .map(|e| (e.event_id.clone(), e.record_json.clone()))
            .collect();
        let all: Vec<(String, String)> = store
            .read_events(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.event_id, e.record_json))
            .collect();
        assert_eq!(all, expected);
        for after in 0..=7u64 {
            for limit in 1..=8usize {
                let part = store.read_events(after, limit).await.unwrap();
                let seqs: Vec<u64> = part.iter().map(|e| e.seq).collect();
                let want: Vec<u64> = (after + 1..=7).take(limit).collect();
                assert_eq!(seqs, want, "after {after}, limit {limit}");
            }
        }
        store.index_tail().await.unwrap();
        for (id, text) in &expected {
            let found = store.event_by_id(id).await.unwrap().unwrap();
            assert_eq!(&found.record_json, text, "{id}");
            let looked_up = store
                .lookup(by(LookupFilter::Username(format!("user-{id}"))))
                .await
                .unwrap();
            assert_eq!(looked_up.len(), 1, "{id}");
            assert_eq!(&looked_up[0].event.event_id, id);
            let by_id = store
                .lookup(by(LookupFilter::EventId(id.clone())))
                .await
                .unwrap();
            assert_eq!(by_id.len(), 1, "{id}");
        }
        // The old events expire first, with their v5 block; then the manifest's with theirs.
        assert_eq!(store.expire_events(2_000, 100).await.unwrap(), 4);
        assert_eq!(block_count(&store).await, 1);
        assert!(store.event_by_id("old-b1").await.unwrap().is_none());
        assert_eq!(store.expire_events(6_000, 100).await.unwrap(), 3);
        assert_eq!(block_count(&store).await, 0);
        let left: i64 = scalar(
            &store,
            "SELECT (SELECT COUNT(*) FROM events) + (SELECT COUNT(*) FROM manifests) \
             + (SELECT COUNT(*) FROM event_ids)",
        )
        .await;
        assert_eq!(left, 0);
        assert_eq!(store.last_seq().await.unwrap(), 7);
    }

    /// Batches encoded apart (as `cairn import` encodes each file) and committed as one: their
    /// events in order and every record read back exactly (each batch's blocks renumbered
    /// after the batches before it), a repeated id skipped across batches.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_encoded_apart_commit_as_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let name = |i: usize| format!("id-{i:03}");
        let events = |ids: std::ops::Range<usize>| -> Vec<NewEvent> {
            ids.map(|i| event(&name(i), &format!("Op{i}"), "u"))
                .collect()
        };
        // 32 + 8 records in blocks; 32 in a block and a lone one in a row; two repeats.
        let a = SqliteStore::encode_events(events(0..40)).unwrap();
        let b = SqliteStore::encode_events(events(40..73)).unwrap();
        let c = SqliteStore::encode_events(events(10..12)).unwrap();
        assert_eq!((a.len(), b.len(), c.len()), (40, 33, 2));
        let receipt = store
            .commit_encoded(vec![a, b, c], DuplicateEvents::Skip)
            .unwrap()
            .await
            .unwrap();
        let mut expected: Vec<Option<u64>> = (1..=73).map(Some).collect();
        expected.extend([None, None]);
        assert_eq!(receipt.seqs, expected);
        let read = store.read_events(0, 100).await.unwrap();
        assert_eq!(read.len(), 73);
        for (i, stored) in read.iter().enumerate() {
            assert_eq!(stored.seq, i as u64 + 1);
            assert_eq!(stored.event_id, name(i));
            assert_eq!(stored.record_json, events(i..i + 1)[0].record_json);
        }
        // Handed over when called, not when awaited: the commit called first comes first.
        let first = store
            .commit_encoded(
                vec![SqliteStore::encode_events(events(100..140)).unwrap()],
                DuplicateEvents::Skip,
            )
            .unwrap();
        let second = store
            .commit_encoded(
                vec![SqliteStore::encode_events(events(140..141)).unwrap()],
                DuplicateEvents::Skip,
            )
            .unwrap();
        assert_eq!(second.await.unwrap().seqs, vec![Some(114)]);
        assert_eq!(first.await.unwrap().seqs[0], Some(74));
        // `c`'s block holds only repeats: it is not stored (a, b: 3; then 2 for 100..140).
        assert_eq!(
            scalar::<i64>(&store, "SELECT COUNT(*) FROM blocks").await,
            5
        );
    }

    /// A bulk commit larger than one multi-row INSERT of `event_ids` (and not a multiple of
    /// it), then the same events again with new ones between them: the ids are all found by
    /// the batched look-up, and only the new ones are added.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn bulk_commits_find_every_id_already_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let ids: Vec<String> = (0..150).map(|i| format!("id-{i:03}")).collect();
        let bulk = |events: Vec<NewEvent>, duplicates| Commit {
            events,
            duplicates,
            ..Commit::default()
        };
        let all = |ids: &[String]| -> Vec<NewEvent> {
            ids.iter().map(|id| event(id, "GetUser", "u")).collect()
        };
        let first = store
            .commit(bulk(all(&ids), DuplicateEvents::Skip))
            .await
            .unwrap();
        assert_eq!(first.seqs, (1..=150).map(Some).collect::<Vec<_>>());
        assert_eq!(
            scalar::<i64>(&store, "SELECT COUNT(*) FROM event_ids").await,
            150
        );
        let mut again = all(&ids);
        again.insert(70, event("new-1", "PutUser", "u"));
        again.push(event("new-2", "PutUser", "u"));
        let second = store
            .commit(bulk(again, DuplicateEvents::Skip))
            .await
            .unwrap();
        let added: Vec<(usize, u64)> = second
            .seqs
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.map(|s| (i, s)))
            .collect();
        assert_eq!(added, vec![(70, 151), (151, 152)]);
        assert_eq!(
            scalar::<i64>(&store, "SELECT COUNT(*) FROM event_ids").await,
            152
        );
        for (id, seq) in [
            ("id-000", 1),
            ("id-149", 150),
            ("new-1", 151),
            ("new-2", 152),
        ] {
            assert_eq!(store.event_by_id(id).await.unwrap().unwrap().seq, seq);
        }
        // Rejecting duplicates names one, and adds nothing.
        let events = vec![
            event("new-3", "PutUser", "u"),
            event("id-100", "GetUser", "u"),
        ];
        let rejected = store
            .commit(bulk(events, DuplicateEvents::Reject))
            .await
            .unwrap_err();
        assert!(rejected.to_string().contains("id-100"), "{rejected}");
        assert!(store.event_by_id("new-3").await.unwrap().is_none());
    }

    /// Two ids with the same 64-bit key (simulated: an extra `event_ids` entry) are told apart
    /// by comparing the ids themselves: neither is taken for a duplicate of the other, and each
    /// is found by its own id.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ids_sharing_a_key_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(Commit::events(vec![
                event("a", "GetUser", "u"),
                event("b", "GetUser", "u"),
            ]))
            .await
            .unwrap();
        {
            let conn = Connection::open(&path).unwrap();
            for (id, seq) in [("q", 1), ("r", 2)] {
                conn.execute(
                    "INSERT INTO event_ids VALUES (?1, ?2)",
                    rusqlite::params![encode::id_key(id), seq],
                )
                .unwrap();
            }
        }
        // "q" in a bulk commit (checked against a manifest), "r" alone, and "q" twice in one.
        let receipt = store
            .commit(Commit {
                events: vec![event("q", "PutUser", "u"), event("q", "PutUser", "u")],
                duplicates: DuplicateEvents::Skip,
                ..Commit::default()
            })
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![Some(3), None]);
        let receipt = store
            .commit(Commit::events(vec![event("r", "PutUser", "u")]))
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![Some(4)]);
        store.index_tail().await.unwrap();
        for (id, seq) in [("a", 1), ("b", 2), ("q", 3), ("r", 4)] {
            assert_eq!(store.event_by_id(id).await.unwrap().unwrap().seq, seq);
            let found = store
                .lookup(by(LookupFilter::EventId(id.into())))
                .await
                .unwrap();
            assert_eq!(
                found.iter().map(|e| e.event.seq).collect::<Vec<_>>(),
                vec![seq],
                "{id}"
            );
        }
    }

    /// A row that points at a block that is not there, or does not span it, is a clear error, not
    /// a panic.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_missing_block_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(Commit::events(vec![
                event("a", "GetUser", "u"),
                event("b", "GetUser", "u"),
            ]))
            .await
            .unwrap();
        let conn = Connection::open(&path).unwrap();
        conn.execute("UPDATE blocks SET last_seq = first_seq", [])
            .unwrap();
        let e = store.read_events(0, 10).await.unwrap_err();
        assert!(e.to_string().contains("event 2 is past its block"), "{e}");
        conn.execute("DELETE FROM blocks", []).unwrap();
        let e = store.read_events(0, 10).await.unwrap_err();
        assert!(e.to_string().contains("event 1 has lost its block"), "{e}");
    }

    async fn indexed_through(store: &SqliteStore) -> i64 {
        scalar(store, "SELECT indexed_through FROM history_progress").await
    }

    /// The one value `sql` selects, read through the store's reader (the lookup file attached).
    async fn scalar<T: rusqlite::types::FromSql + Send + 'static>(
        store: &SqliteStore,
        sql: &str,
    ) -> T {
        let sql = sql.to_owned();
        store
            .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .await
            .unwrap()
    }

    async fn key_count(store: &SqliteStore) -> i64 {
        store
            .read(|c| Ok(indexer::tests::all_entries(c).len() as i64))
            .await
            .unwrap()
    }

    /// An event at `minute` past 08:00 on 2026-11-23, named and attributed by the arguments.
    fn timed(id: &str, name: &str, user: &str, minute: u32) -> NewEvent {
        let r = serde_json::json!({
            "eventVersion": "1.08",
            "userIdentity": {"type": "IAMUser", "userName": user, "accessKeyId": format!("AKIA{user}")},
            "eventTime": format!("2026-11-23T08:{minute:02}:00Z"),
            "eventSource": "iam.amazonaws.com",
            "eventName": name,
            "eventID": id,
            "readOnly": minute.is_multiple_of(2),
            "eventCategory": "Management",
        });
        NewEvent::from_record_value(&r, 0).unwrap()
    }

    /// Every page of a query, following the cursor: the event ids in order.
    async fn all_pages(store: &SqliteStore, mut q: LookupQuery) -> Vec<String> {
        let mut ids = Vec::new();
        loop {
            let page = store.lookup(q.clone()).await.unwrap();
            ids.extend(page.iter().map(|e| e.event.event_id.clone()));
            match page.last() {
                Some(last) if page.len() == q.limit => {
                    q.before = Some((last.event_time, last.event.seq))
                }
                _ => return ids,
            }
        }
    }

    /// The answers of all [`queries`], each followed through every page.
    async fn every_answer(store: &SqliteStore) -> Vec<Vec<String>> {
        let mut answers = Vec::new();
        for q in queries() {
            answers.push(all_pages(store, q).await);
        }
        answers
    }

    fn queries() -> Vec<LookupQuery> {
        let mut out = Vec::new();
        for filters in [
            vec![],
            vec![LookupFilter::Username("alice".into())],
            vec![LookupFilter::EventName("GetUser".into())],
            vec![LookupFilter::ReadOnly(true)],
            vec![
                LookupFilter::Username("bob".into()),
                LookupFilter::EventName("CreateUser".into()),
            ],
            vec![LookupFilter::EventId("e-7".into())],
            vec![
                LookupFilter::EventId("e-8".into()),
                LookupFilter::Username("alice".into()),
            ],
            vec![LookupFilter::AccessKeyId("AKIAcarol".into())],
        ] {
            for (start, end) in [(None, None), (Some(1_795_420_920), Some(1_795_421_400))] {
                out.push(LookupQuery {
                    history: HistoryKind::Events,
                    start_time: start,
                    end_time: end,
                    filters: filters.clone(),
                    before: None,
                    limit: 3,
                });
            }
        }
        out
    }

    /// Chunks of one bucket written by different steps overlap in time; a lookup returns their
    /// entries interleaved, newest first, across pages.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn overlapping_chunks_of_a_bucket_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let at = |id: &str, hour: u32, second: u32| {
            let r = serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "userName": "alice"},
                "eventTime": format!("2026-11-23T{hour:02}:00:{second:02}Z"),
                "eventSource": "iam.amazonaws.com",
                "eventName": "GetUser",
                "eventID": id,
            });
            NewEvent::from_record_value(&r, 0).unwrap()
        };
        // 08:00:00 starts a bucket (1_795_420_800 is a multiple of chunks::BUCKET_SECS).
        assert_eq!(1_795_420_800 % chunks::BUCKET_SECS, 0);
        for batch in [
            vec![at("a10", 8, 10), at("a30", 8, 30), at("a50", 8, 50)],
            // Another bucket in between, so the next step does not top up the first chunk.
            vec![at("other", 10, 0)],
            // Its newest entry ties with one of the first chunk's: the later event goes first.
            vec![at("b20", 8, 20), at("b30", 8, 30)],
        ] {
            store.commit(Commit::events(batch)).await.unwrap();
            store.index_tail().await.unwrap();
        }
        let chunks: i64 = scalar(
            &store,
            &format!(
                "SELECT COUNT(*) FROM history_chunks WHERE bucket = {}",
                1_795_420_800 / chunks::BUCKET_SECS
            ),
        )
        .await;
        assert!(
            chunks >= 2 * 4,
            "two chunks per key of the bucket: {chunks}"
        );
        for limit in [1, 2, 10] {
            for filters in [vec![], vec![LookupFilter::Username("alice".into())]] {
                let q = LookupQuery {
                    history: HistoryKind::Events,
                    start_time: Some(1_795_420_800),
                    end_time: Some(1_795_420_863),
                    filters,
                    before: None,
                    limit,
                };
                assert_eq!(
                    all_pages(&store, q).await,
                    ["a50", "b30", "a30", "b20", "a10"],
                    "limit {limit}"
                );
            }
        }
    }

    /// Many events in few buckets — more than a chunk holds, indexed over several batches that
    /// top up each other's chunks, times out of order and many to a second — page the same
    /// from the index as from the rows' packed keys (the tail), newest first.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn chunked_lookups_agree_with_the_rows() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let users = ["alice", "bob", "carol"];
        let names = ["GetUser", "CreateUser", "DeleteUser"];
        let event_at = |i: u32| {
            // 0..300 s past 08:00, back and forth: five buckets, ~4 events a second.
            let second = (i * 37) % 300;
            let r = serde_json::json!({
                "eventVersion": "1.08",
                "userIdentity": {"type": "IAMUser", "userName": users[(i / 2) as usize % 3]},
                "eventTime": format!("2026-11-23T08:{:02}:{:02}Z", second / 60, second % 60),
                "eventSource": "iam.amazonaws.com",
                "eventName": names[i as usize % 3],
                "eventID": format!("e-{i}"),
                "readOnly": i.is_multiple_of(5),
            });
            NewEvent::from_record_value(&r, 0).unwrap()
        };
        let pages = |limit: usize| {
            let mut qs = Vec::new();
            for filters in [
                vec![],
                vec![LookupFilter::Username("alice".into())],
                vec![
                    LookupFilter::ReadOnly(true),
                    LookupFilter::EventName("GetUser".into()),
                ],
            ] {
                for (start, end) in [(None, None), (Some(1_795_420_850), Some(1_795_420_999))] {
                    qs.push(LookupQuery {
                        history: HistoryKind::Events,
                        start_time: start,
                        end_time: end,
                        filters: filters.clone(),
                        before: None,
                        limit,
                    });
                }
            }
            qs
        };
        store.inner.indexer.hold(true);
        let total = 1_300;
        for range in [0..400, 400..700, 700..total] {
            store
                .commit(Commit::events(range.map(event_at).collect()))
                .await
                .unwrap();
        }
        let mut from_rows = Vec::new();
        for q in pages(50) {
            from_rows.push(all_pages(&store, q).await);
        }
        // Everything: newest first, by time then by seq.
        let mut expected: Vec<(u32, u32)> = (0..total).map(|i| ((i * 37) % 300, i)).collect();
        expected.sort_unstable_by(|a, b| b.cmp(a));
        let expected: Vec<String> = expected.iter().map(|(_, i)| format!("e-{i}")).collect();
        assert_eq!(from_rows[0], expected);
        assert!(from_rows.iter().all(|ids| !ids.is_empty()));
        // Indexed in three steps, each topping up the chunks the last one left open.
        store.inner.indexer.hold(false);
        store.index_tail().await.unwrap();
        for more in [total..total + 200, total + 200..total + 210] {
            store
                .commit(Commit::events(more.clone().map(event_at).collect()))
                .await
                .unwrap();
            store.index_tail().await.unwrap();
        }
        let (chunks, entries): (i64, i64) = store
            .read(|c| {
                Ok(
                    c.query_row("SELECT COUNT(*), SUM(n) FROM history_chunks", [], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(entries, key_count(&store).await);
        assert!(
            chunks * 20 < entries,
            "{chunks} chunks for {entries} entries"
        );
        // The later events are in the answers too; without them, the same as from the rows.
        for (q, rows) in pages(50).into_iter().zip(&from_rows) {
            let all = all_pages(&store, q.clone()).await;
            let old: Vec<String> = all
                .iter()
                .filter(|id| id[2..].parse::<u32>().unwrap() < total)
                .cloned()
                .collect();
            assert_eq!(&old, rows, "{q:?}");
            assert!(all.len() >= rows.len());
            // Pages of another size cut the same list.
            let q7 = LookupQuery { limit: 7, ..q };
            assert_eq!(all_pages(&store, q7).await, all);
        }
    }

    /// Lookups answer the same whether the events' keys are in the index yet or only in
    /// their rows (the tail), and pages cross the boundary between the two without loss or
    /// repetition — in time order even where the tail holds older events than the index.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn lookups_agree_across_the_index_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let users = ["alice", "bob", "carol"];
        let names = ["GetUser", "CreateUser", "DeleteUser"];
        let batch = |range: std::ops::Range<u32>| {
            range
                .map(|i| {
                    // Times go back and forth, so the tail interleaves with the index.
                    let minute = (i * 7) % 50;
                    timed(
                        &format!("e-{i}"),
                        names[i as usize % 3],
                        users[(i / 2) as usize % 3],
                        minute,
                    )
                })
                .collect::<Vec<_>>()
        };
        store.inner.indexer.hold(true);
        store.commit(Commit::events(batch(0..20))).await.unwrap();
        store.commit(Commit::events(batch(20..40))).await.unwrap();
        // Everything in the tail.
        assert_eq!(indexed_through(&store).await, 0);
        let tail_only = every_answer(&store).await;
        store.index_tail().await.unwrap();
        assert_eq!(indexed_through(&store).await, 40);
        for (q, expected) in queries().into_iter().zip(&tail_only) {
            assert_eq!(&all_pages(&store, q.clone()).await, expected, "{q:?}");
        }
        // Half indexed, half tail: the same answers as with all of it in one part.
        store.commit(Commit::events(batch(40..60))).await.unwrap();
        let mixed = every_answer(&store).await;
        assert_eq!(indexed_through(&store).await, 40);
        store.index_tail().await.unwrap();
        for (q, expected) in queries().into_iter().zip(&mixed) {
            assert_eq!(&all_pages(&store, q.clone()).await, expected, "{q:?}");
        }
        // The answers are not vacuous: alice has events from both halves, newest first.
        let alice = &mixed[2];
        assert!(
            alice.iter().any(|id| id == "e-0") && alice.iter().any(|id| id == "e-42"),
            "{alice:?}"
        );
        assert_eq!(mixed[10], vec!["e-7".to_string()]);
    }

    /// A v2 or v3 store (lookup index inside the log file) opens as the current version: the old tables are
    /// dropped and the index is rebuilt in the lookup file from the rows' packed keys.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_older_store_rebuilds_its_index() {
        for version in [2, 3] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("events.db");
            two_events(&path).await;
            let lookup = schema::lookup_path(&path);
            {
                // The old layout: the keys in the log file, one of them for a user no event
                // has (a copy would keep it; a rebuild does not).
                let conn = Connection::open(&path).unwrap();
                let (k, v) = encode::filter_key(
                    crate::HistoryKind::Events,
                    &LookupFilter::Username("zed".into()),
                )
                .unwrap();
                conn.execute_batch(&format!(
                    "CREATE TABLE main.lookup_keys (k, v, t, seq, PRIMARY KEY (k, v, t, seq)) WITHOUT ROWID;
                     INSERT INTO main.lookup_keys VALUES ({k}, {v}, 0, 1);
                     CREATE TABLE main.lookup_index (id INTEGER PRIMARY KEY, indexed_through INTEGER);
                     INSERT INTO main.lookup_index VALUES (0, 2);
                     PRAGMA main.user_version = {version};"
                ))
                .unwrap();
            }
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", lookup.display()));
            }
            let store = SqliteStore::open(&path).unwrap();
            let old_tables: i64 = scalar(
                &store,
                "SELECT COUNT(*) FROM main.sqlite_master WHERE name LIKE 'lookup%'",
            )
            .await;
            let user_version: i64 = store
                .read(|c| Ok(c.pragma_query_value(None, "user_version", |r| r.get(0))?))
                .await
                .unwrap();
            assert_eq!(
                (user_version, old_tables),
                (schema::SCHEMA_VERSION, 0),
                "v{version}"
            );
            store.index_tail().await.unwrap();
            assert_eq!(indexed_through(&store).await, 2, "v{version}");
            assert_eq!(
                key_count(&store).await,
                8,
                "v{version}: time, name, user, read-only of each event"
            );
            for (user, n) in [("alice", 1), ("bob", 1), ("zed", 0)] {
                let found = store
                    .lookup(by(LookupFilter::Username(user.into())))
                    .await
                    .unwrap();
                assert_eq!(found.len(), n, "v{version} {user}");
            }
        }
    }

    /// A lookup file with an older layout's tables — v1 (a `lookup_keys` row per entry, progress
    /// in `lookup_index`) and v2 (64-second chunks in `lookup_chunks`, progress in
    /// `lookup_progress`) — loses them at open. If this version's tables are not there (a v1 or
    /// v2 file) its index is built from the log; if they are (an older cairn has opened a v3 file
    /// since), they are kept, without repeating an entry.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lookup_file_of_an_older_layout_is_rebuilt() {
        for had_v3 in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("events.db");
            two_events(&path).await;
            {
                let conn = Connection::open(schema::lookup_path(&path)).unwrap();
                if !had_v3 {
                    conn.execute_batch("DROP TABLE history_chunks; DROP TABLE history_progress;")
                        .unwrap();
                }
                // Progress that says "all indexed" in tables this version must not trust.
                conn.execute_batch(
                    "CREATE TABLE lookup_keys (k, v, t, seq, PRIMARY KEY (k, v, t, seq)) WITHOUT ROWID;
                     CREATE TABLE lookup_index (id INTEGER PRIMARY KEY, indexed_through INTEGER);
                     INSERT INTO lookup_index VALUES (0, 2);
                     CREATE TABLE lookup_chunks (id INTEGER PRIMARY KEY, k, v, bucket, t_min, t_max,
                                                 last_seq, n, entries);
                     CREATE INDEX lookup_chunks_key ON lookup_chunks(k, v, bucket, t_max);
                     CREATE TABLE lookup_progress (id INTEGER PRIMARY KEY, indexed_through INTEGER);
                     INSERT INTO lookup_progress VALUES (0, 2);",
                )
                .unwrap();
            }
            let store = SqliteStore::open(&path).unwrap();
            store.index_tail().await.unwrap();
            let old: i64 = scalar(
                &store,
                "SELECT COUNT(*) FROM idx.sqlite_master WHERE name IN \
                 ('lookup_keys', 'lookup_index', 'lookup_chunks', 'lookup_progress')",
            )
            .await;
            assert_eq!(old, 0, "had v3: {had_v3}");
            // Compacted when this version's index was not there yet: the older index's pages are
            // not left behind as free pages. (With it there, the file is left to reuse them.)
            let free: i64 = scalar(&store, "PRAGMA idx.freelist_count").await;
            assert_eq!(free == 0, !had_v3, "had v3: {had_v3}: {free} free pages");
            assert_eq!(indexed_through(&store).await, 2, "had v3: {had_v3}");
            assert_eq!(
                key_count(&store).await,
                8,
                "had v3: {had_v3}: each entry once"
            );
            for user in ["alice", "bob"] {
                let found = store
                    .lookup(by(LookupFilter::Username(user.into())))
                    .await
                    .unwrap();
                assert_eq!(found.len(), 1, "had v3: {had_v3}: {user}");
            }
        }
    }

    /// A store at `path` with two events (alice's and bob's), indexed, then closed.
    async fn two_events(path: &Path) {
        let store = SqliteStore::open(path).unwrap();
        store
            .commit(Commit::events(vec![
                event("e-1", "CreateUser", "alice"),
                event("e-2", "CreateUser", "bob"),
            ]))
            .await
            .unwrap();
        store.index_tail().await.unwrap();
    }

    /// A lookup file that is ahead of the log beside it (another log's, e.g. a log restored
    /// from an older backup) is emptied and rebuilt, not trusted.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_foreign_lookup_file_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let (big, small) = (dir.path().join("big.db"), dir.path().join("small.db"));
        {
            let store = SqliteStore::open(&big).unwrap();
            let events = (0..5)
                .map(|i| event(&format!("b-{i}"), "DeleteUser", "mallory"))
                .collect();
            store.commit(Commit::events(events)).await.unwrap();
            store.index_tail().await.unwrap();
        }
        {
            let store = SqliteStore::open(&small).unwrap();
            store
                .commit(Commit::events(vec![event("s-1", "CreateUser", "alice")]))
                .await
                .unwrap();
        }
        std::fs::copy(schema::lookup_path(&big), schema::lookup_path(&small)).unwrap();
        let store = SqliteStore::open(&small).unwrap();
        store.index_tail().await.unwrap();
        for (user, expected) in [("mallory", 0), ("alice", 1)] {
            let found = store
                .lookup(by(LookupFilter::Username(user.into())))
                .await
                .unwrap();
            assert_eq!(found.len(), expected, "{user}");
        }
    }

    /// A caller is answered only after the syncer made its commit durable.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commits_are_answered_after_their_sync() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        let synchronous: i64 = {
            let conn = Connection::open(store.path()).unwrap();
            conn.pragma_query_value(None, "journal_mode", |r| r.get::<_, String>(0))
                .map(|m| assert_eq!(m, "wal"))
                .unwrap();
            conn.pragma_query_value(None, "synchronous", |r| r.get(0))
                .unwrap()
        };
        assert!(synchronous >= 1, "never below NORMAL");
        let mut tasks = Vec::new();
        for i in 0..32 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let receipt = store
                    .commit(Commit::events(vec![event(
                        &format!("e-{i}"),
                        "GetUser",
                        "alice",
                    )]))
                    .await
                    .unwrap();
                let seq = receipt.seqs[0].unwrap();
                assert!(
                    store.inner.health.durable_seq() >= seq,
                    "answered before its sync"
                );
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// Retention that empties the log does not make the next event reuse a sequence number
    /// (consumers parked past it would never see it, and lookups would skip it as indexed).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_emptied_log_does_not_reuse_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        let first: Vec<NewEvent> = (0..3)
            .map(|i| event(&format!("old-{i}"), "GetUser", "alice"))
            .collect();
        store.commit(Commit::events(first)).await.unwrap();
        store.index_tail().await.unwrap();
        assert_eq!(store.expire_events(1, 10).await.unwrap(), 3);
        let receipt = store
            .commit(Commit::events(vec![event("new-1", "GetUser", "bob")]))
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![Some(4)]);
        assert_eq!(store.last_seq().await.unwrap(), 4);
        for indexed in [false, true] {
            if indexed {
                store.index_tail().await.unwrap();
            }
            let found = store
                .lookup(by(LookupFilter::Username("bob".into())))
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "indexed: {indexed}");
        }
        drop(store);
        // And after a restart.
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.last_seq().await.unwrap(), 4);
        let receipt = store
            .commit(Commit::events(vec![event("new-2", "GetUser", "bob")]))
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![Some(5)]);
    }

    /// A store opened through a symlink syncs the real WAL (SQLite keeps it beside the target);
    /// the syncer refuses to call a commit durable when it cannot find the WAL it must sync.
    #[cfg(unix)]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_symlinked_store_syncs_the_real_wal() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        let real = real_dir.join("events.db");
        let link = dir.path().join("events.db");
        Connection::open(&real).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let store = SqliteStore::open(&link).unwrap();
        let receipt = store
            .commit(Commit::events(vec![event("e-1", "GetUser", "alice")]))
            .await
            .unwrap();
        assert_eq!(receipt.seqs, vec![Some(1)]);
        assert!(real_dir.join("events.db-wal").exists());
        assert!(!dir.path().join("events.db-wal").exists());
        assert!(store.inner.health.durable_seq() >= 1);
        // The WAL the syncer must sync is gone (as if the path were wrong): commits fail.
        let mut wal = syncer::WalFile::new(&dir.path().join("elsewhere.db"));
        assert!(wal.sync().is_err());
    }

    /// A failed `fdatasync` fails the callers of that sync, and the store refuses every later
    /// write (the kernel may have dropped the pages) while reads go on; a restart recovers.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_fsync_fails_its_callers_and_stops_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .commit(Commit::events(vec![event("e-1", "GetUser", "alice")]))
            .await
            .unwrap();
        store
            .inner
            .health
            .fail_next_sync
            .store(true, std::sync::atomic::Ordering::Release);
        let err = store
            .commit(Commit::events(vec![event("e-2", "GetUser", "alice")]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("fsync"), "{err}");
        let err = store
            .commit(Commit::events(vec![event("e-3", "GetUser", "alice")]))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("restart"), "{err}");
        assert!(store.advance_checkpoint("c", 0, 1, vec![]).await.is_err());
        // Reads still work, and nothing after the failure was committed.
        assert!(store.event_by_id("e-1").await.unwrap().is_some());
        assert!(store.event_by_id("e-3").await.unwrap().is_none());
        // e-2 was committed but never made durable: the index stays short of it (a power loss
        // could give its seq to another event).
        store.index_tail().await.unwrap();
        assert_eq!(indexed_through(&store).await, 1);
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let receipt = store
            .commit(Commit::events(vec![event("e-4", "GetUser", "alice")]))
            .await
            .unwrap();
        assert!(receipt.seqs[0].is_some());
    }

    /// Events another process appended are handed to consumers once synced (the barrier).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn consumers_read_events_another_writer_appended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let reader = SqliteStore::open(&path).unwrap();
        let writer = SqliteStore::open(&path).unwrap();
        writer
            .commit(Commit::events(vec![event("e-1", "GetUser", "alice")]))
            .await
            .unwrap();
        let events = reader.read_events(0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert!(reader.inner.health.durable_seq() >= 1);
    }
}

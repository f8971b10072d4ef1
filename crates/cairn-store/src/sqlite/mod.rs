//! The embedded store: one SQLite file in the data dir.
//!
//! # Schema (user_version 2)
//!
//! ```text
//! events(seq INTEGER PRIMARY KEY,      -- assigned by the writer: last + 1, no gaps
//!        id_hash,                      -- 64-bit hash of the eventID (index events_id)
//!        received_at,                  -- Unix ms when Cairn received it (retention clock)
//!        history, event_time, imported,
//!        event_id TEXT,                -- the record's eventID
//!        keys BLOB,                    -- the event's lookup keys, packed (for retention)
//!        record BLOB)                  -- the full record: zstd + built-in dictionary, lossless
//! lookup_keys(k, v, t, seq) WITHOUT ROWID  -- every LookupEvents key of every event, one B-tree
//! catalog(namespace, key, value)       -- JSON documents: trails, tags, channels, ...
//! checkpoints(consumer PRIMARY KEY, position)
//! ```
//!
//! Three B-trees are written per event (the log, its eventID index, the lookup keys); the
//! encodings are in [`encode`]. Compression and hashing happen on the committing caller's
//! thread, before the commit reaches the writer.
//!
//! # Durability and group commit
//!
//! The file runs in WAL mode with `synchronous=FULL`, so a committed transaction has been
//! `fsync`ed. All writes go through one writer thread ([`writer`]). It takes every commit that
//! is waiting, applies each inside its own SAVEPOINT (so one failing commit does not take its
//! neighbours down), commits the transaction once — one `fsync` for the whole group — and only
//! then answers each caller. A caller is never told "done" before its data is on disk.
//!
//! Reads use a small pool of separate read-only connections; WAL lets them run beside the writer.

mod encode;
mod lookup;
mod reader;
mod schema;
mod wal;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::{
    CatalogWrite, Commit, CommitReceipt, LookedUpEvent, LookupQuery, Store, StoreError,
    StoreErrorKind, StoredEvent,
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
    readers: reader::Pool,
    _checkpointer: wal::Checkpointer,
}

impl SqliteStore {
    /// Opens (creating if needed) the store at `path` and starts its writer thread.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let conn = Connection::open(path)?;
        schema::prepare_writer(&conn)?;
        let jobs = writer::spawn(conn)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                jobs: Mutex::new(jobs),
                readers: reader::Pool::new(path.to_path_buf()),
                _checkpointer: wal::spawn(path.to_path_buf()),
            }),
        })
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
        let (tx, rx) = oneshot::channel();
        {
            let jobs = self.inner.jobs.lock().unwrap_or_else(|p| p.into_inner());
            jobs.send(make(tx)).map_err(|_| {
                StoreError::new(StoreErrorKind::Closed, "the store writer has stopped")
            })?;
        }
        // A dropped reply sender means the writer died mid-job: report it, never assume success.
        rx.await.map_err(|_| {
            StoreError::new(
                StoreErrorKind::Closed,
                "the store writer stopped before answering",
            )
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
        self.read(move |c| reader::events_after(c, after_seq, limit))
            .await
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
        self.send(|reply| Job::Expire {
            received_before_ms,
            limit,
            reply,
        })
        .await
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

    /// Retention removes an event's lookup keys with it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn expiry_removes_lookup_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
        store
            .commit(Commit::events(vec![event("e-1", "CreateUser", "alice")]))
            .await
            .unwrap();
        assert_eq!(store.expire_events(1, 10).await.unwrap(), 1);
        let keys: i64 = store
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM lookup_keys", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(keys, 0);
    }
}

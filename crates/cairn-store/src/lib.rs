//! Cairn's durable state: the ordered event log, the catalog and consumer checkpoints.
//!
//! Every event Cairn acknowledges is written once, durably, to one append-only log ordered by a
//! sequence number. Everything else (event history, trail delivery, ...) is a consumer of that
//! log that keeps its own checkpoint. The main types:
//!
//! - [`Store`]: the trait every backend implements (SQLite now, PostgreSQL later).
//! - [`Commit`]: one atomic unit of work — events to append plus catalog changes. Either all of
//!   it becomes durable or none of it does; [`Store::commit`] returns only after `fsync`.
//! - [`SqliteStore`]: the embedded default, one SQLite file in the data dir with a group-commit
//!   writer thread (many concurrent commits share one `fsync`).
//! - [`testsuite`]: the conformance suite every backend must pass (feature `testsuite`, and
//!   always in this crate's own tests).
//!
//! ```
//! # tokio_test_block_on(async {
//! use cairn_store::{Commit, NewEvent, SqliteStore, Store};
//! let dir = tempfile::tempdir().unwrap();
//! let store = SqliteStore::open(&dir.path().join("events.db")).unwrap();
//! let receipt = store
//!     .commit(Commit::events(vec![NewEvent::for_test("e-1", "DescribeTrails")]))
//!     .await
//!     .unwrap();
//! assert_eq!(receipt.seqs, vec![Some(1)]);
//! # });
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

mod error;
mod model;
mod sqlite;
#[cfg(any(test, feature = "testsuite"))]
pub mod testsuite;

pub use error::{StoreError, StoreErrorKind};
pub use model::{
    CatalogWrite, Commit, CommitReceipt, DuplicateEvents, EventIndex, HistoryKind, LookedUpEvent,
    LookupFilter, LookupQuery, NewEvent, StoredEvent,
};
pub use sqlite::{EncodedBatch, SqliteStore};

use async_trait::async_trait;

/// A durable, totally ordered event log with a catalog and consumer checkpoints beside it.
///
/// Contract every implementation keeps (and [`testsuite`] checks):
/// - `commit` is atomic: the events and catalog writes of one [`Commit`] become durable together
///   or not at all, and the future resolves only once they are durable.
/// - Sequence numbers start at 1 and have no gaps; a later commit never gets a lower number.
/// - Checkpoints never move backwards: [`Store::advance_checkpoint`] with a stale
///   `expected_from` fails with [`StoreErrorKind::CheckpointConflict`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Appends the events and applies the catalog writes of `commit` atomically and durably.
    async fn commit(&self, commit: Commit) -> Result<CommitReceipt, StoreError>;

    /// Events with `seq > after_seq`, in sequence order, at most `limit` of them.
    async fn read_events(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The event with this `eventID`, if it is kept.
    async fn event_by_id(&self, event_id: &str) -> Result<Option<StoredEvent>, StoreError>;

    /// Searches the event history (see [`LookupQuery`]), newest first.
    async fn lookup(&self, query: LookupQuery) -> Result<Vec<LookedUpEvent>, StoreError>;

    /// The highest sequence number written so far (0 when the log is empty).
    async fn last_seq(&self) -> Result<u64, StoreError>;

    /// The catalog value (a JSON document) stored under `namespace`/`key`.
    async fn catalog_get(&self, namespace: &str, key: &str) -> Result<Option<String>, StoreError>;

    /// Every `(key, value)` of a namespace, ordered by key.
    async fn catalog_list(&self, namespace: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// The position (last processed `seq`) of a consumer; 0 if it never advanced.
    async fn checkpoint(&self, consumer: &str) -> Result<u64, StoreError>;

    /// Deletes up to `limit` of the oldest events received before `received_before_ms` (Unix ms)
    /// that every consumer has already processed (`seq` at or below the lowest checkpoint, when
    /// any consumer exists). Returns how many were deleted; call again while it returns `limit`.
    /// Sequence numbers of later events never change.
    async fn expire_events(&self, received_before_ms: i64, limit: usize)
    -> Result<u64, StoreError>;

    /// Forgets a consumer's checkpoint (it no longer holds back retention).
    async fn remove_checkpoint(&self, consumer: &str) -> Result<(), StoreError>;

    /// Moves a consumer's checkpoint from `expected_from` to `to`, applying `catalog` writes
    /// (the consumer's record of what it produced) in the same transaction.
    async fn advance_checkpoint(
        &self,
        consumer: &str,
        expected_from: u64,
        to: u64,
        catalog: Vec<CatalogWrite>,
    ) -> Result<(), StoreError>;
}

//! The store's error type: a kind to branch on plus a message for people.

use std::fmt;

/// What went wrong, for callers that must react differently (e.g. a conflict is retried).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The storage backend failed (I/O, SQLite error, disk full). Nothing was committed.
    Backend,
    /// A checkpoint was advanced from a position other than the stored one.
    CheckpointConflict,
    /// An event with the same `eventID` exists and the commit asked to reject duplicates.
    DuplicateEvent,
    /// The event cannot be stored as given (e.g. it has no `eventID`). Nothing was committed.
    InvalidEvent,
    /// The store is shutting down or its writer has stopped; nothing was committed.
    Closed,
}

/// An error from a [`crate::Store`] call.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
}

impl StoreError {
    /// A new error of `kind`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
        }
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::new(StoreErrorKind::Backend, format!("sqlite: {e}"))
    }
}

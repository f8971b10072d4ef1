//! The values that cross the [`crate::Store`] boundary.

/// The lookup fields of an event, extracted once at write time so history queries can use
/// indexes instead of parsing records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventIndex {
    /// `eventTime` as Unix seconds, if the record has a parseable one.
    pub event_time: Option<i64>,
    /// `eventName`.
    pub event_name: Option<String>,
    /// `eventSource`.
    pub event_source: Option<String>,
    /// `readOnly`, normalised to a boolean.
    pub read_only: Option<bool>,
    /// The LookupEvents `Username` of the caller.
    pub username: Option<String>,
    /// `userIdentity.accessKeyId`.
    pub access_key_id: Option<String>,
    /// `eventCategory` (`Management`, `Data`, `Insight`, ...).
    pub event_category: Option<String>,
    /// `(ResourceType, ResourceName)` pairs for the LookupEvents resource attributes.
    pub resources: Vec<(Option<String>, String)>,
}

/// An event to append: its identity, when Cairn received it, its index fields and the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The record's `eventID`; unique across the log.
    pub event_id: String,
    /// When Cairn received the event, Unix milliseconds. Retention counts from here.
    pub received_at_ms: i64,
    /// Lookup fields.
    pub index: EventIndex,
    /// The full record as JSON text, stored as given.
    pub record_json: String,
}

impl NewEvent {
    /// A small event for tests and examples.
    pub fn for_test(event_id: &str, event_name: &str) -> NewEvent {
        NewEvent {
            event_id: event_id.to_string(),
            received_at_ms: 0,
            index: EventIndex {
                event_name: Some(event_name.to_string()),
                ..EventIndex::default()
            },
            record_json: format!(r#"{{"eventID":"{event_id}","eventName":"{event_name}"}}"#),
        }
    }
}

/// An event as stored in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// The record's `eventID`.
    pub event_id: String,
    /// When Cairn received it, Unix milliseconds.
    pub received_at_ms: i64,
    /// The full record as JSON text.
    pub record_json: String,
}

/// A change to one catalog entry: `Some(json)` stores a document, `None` deletes the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogWrite {
    /// Namespace, e.g. `trail`, `tags`, `channel`.
    pub namespace: String,
    /// Key inside the namespace.
    pub key: String,
    /// New JSON document, or `None` to delete.
    pub value: Option<String>,
}

impl CatalogWrite {
    /// Stores `value` under `namespace`/`key`.
    pub fn put(namespace: &str, key: &str, value: String) -> Self {
        CatalogWrite {
            namespace: namespace.into(),
            key: key.into(),
            value: Some(value),
        }
    }

    /// Deletes `namespace`/`key` (a no-op if absent).
    pub fn delete(namespace: &str, key: &str) -> Self {
        CatalogWrite {
            namespace: namespace.into(),
            key: key.into(),
            value: None,
        }
    }
}

/// What to do with an event whose `eventID` is already in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DuplicateEvents {
    /// Fail the whole commit ([`crate::StoreErrorKind::DuplicateEvent`]).
    #[default]
    Reject,
    /// Skip the duplicate and keep the rest (idempotent import).
    Skip,
}

/// One atomic unit of work.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// Events to append, in this order.
    pub events: Vec<NewEvent>,
    /// Catalog changes applied in the same transaction.
    pub catalog: Vec<CatalogWrite>,
    /// How to treat events already in the log.
    pub duplicates: DuplicateEvents,
}

impl Commit {
    /// A commit of events only.
    pub fn events(events: Vec<NewEvent>) -> Self {
        Commit {
            events,
            ..Commit::default()
        }
    }
}

/// What a successful commit wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitReceipt {
    /// The sequence number of each event of the commit, in order; `None` for a skipped duplicate.
    pub seqs: Vec<Option<u64>>,
}

//! The values that cross the [`crate::Store`] boundary.

use cairn_core::record::EventRecord;

use crate::{StoreError, StoreErrorKind};
use serde_json::Value;

/// Which part of the event history an event belongs to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// Management events and application (`ActivityAuditLog`) events: what LookupEvents returns.
    #[default]
    Events,
    /// Insights events: returned only with `EventCategory: insight`.
    Insights,
    /// Data and network-activity events: kept for trails, never in the event history (as AWS).
    NotInHistory,
}

impl HistoryKind {
    /// The kind for an `eventCategory` value.
    pub fn of_category(category: Option<&str>) -> HistoryKind {
        match category {
            Some("Data" | "NetworkActivity") => HistoryKind::NotInHistory,
            Some("Insight") => HistoryKind::Insights,
            _ => HistoryKind::Events,
        }
    }

    /// The stored code.
    pub fn code(self) -> i64 {
        match self {
            HistoryKind::Events => 0,
            HistoryKind::Insights => 1,
            HistoryKind::NotInHistory => 2,
        }
    }
}

/// The lookup fields of an event, extracted once at write time so history queries can use
/// indexes instead of parsing records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventIndex {
    /// Which history the event belongs to.
    pub history: HistoryKind,
    /// `eventTime` as Unix seconds, if the record has a parseable one (otherwise the store uses
    /// the time it received the event).
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
    /// True for events imported from existing CloudTrail logs: they are in the history, but
    /// trails do not deliver them again.
    pub imported: bool,
}

impl EventIndex {
    /// The top-level record members [`EventIndex::of`] reads (with `eventID`, which keys the
    /// event). A record parsed with only these members
    /// ([`EventRecord::from_json_keeping`]) has the same index as the whole record.
    pub const MEMBERS: [&'static str; 9] = [
        "eventID",
        "eventTime",
        "eventName",
        "eventSource",
        "eventCategory",
        "readOnly",
        "userIdentity",
        "resources",
        "eventData",
    ];

    /// Whether [`EventIndex::of`] reads the top-level member `name` (see [`EventIndex::MEMBERS`]).
    pub fn reads_member(name: &str) -> bool {
        Self::MEMBERS.contains(&name)
    }

    /// The lookup fields of `record`.
    ///
    /// Application events ingested with `PutAuditEvents` (`eventCategory: ActivityAuditLog`) keep
    /// the caller's fields inside `eventData`; their name, source and user come from there
    /// (`Username` is `eventData.userIdentity.principalId`).
    pub fn of(record: &EventRecord) -> EventIndex {
        let category = record.event_category.as_str();
        let mut index = EventIndex {
            history: HistoryKind::of_category(category),
            event_time: record.event_time_utc().map(|t| t.timestamp()),
            event_name: record.event_name.as_str().map(str::to_owned),
            event_source: record.event_source.as_str().map(str::to_owned),
            read_only: record.read_only(),
            username: record.lookup_username(),
            access_key_id: record.access_key_id().map(str::to_owned),
            event_category: category.map(str::to_owned),
            resources: record.lookup_resources(),
            imported: false,
        };
        if category == Some("ActivityAuditLog")
            && let Some(data) = record.extra.get("eventData")
        {
            let text = |v: &Value| v.as_str().map(str::to_owned);
            index.event_name = data.get("eventName").and_then(text);
            index.event_source = data.get("eventSource").and_then(text);
            index.username = data.pointer("/userIdentity/principalId").and_then(text);
        }
        index
    }
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
    /// An event for `record`, received at `received_at_ms`; the record is stored as given.
    ///
    /// Fails if the record has no string `eventID`: the log is keyed by it.
    pub fn from_record(
        record: &EventRecord,
        record_json: String,
        received_at_ms: i64,
    ) -> Result<NewEvent, StoreError> {
        let event_id = record
            .event_id
            .as_str()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                StoreError::new(StoreErrorKind::InvalidEvent, "the record has no eventID")
            })?
            .to_string();
        Ok(NewEvent {
            event_id,
            received_at_ms,
            index: EventIndex::of(record),
            record_json,
        })
    }

    /// An event for a record given as a JSON value (e.g. one Cairn built itself).
    pub fn from_record_value(value: &Value, received_at_ms: i64) -> Result<NewEvent, StoreError> {
        let record = EventRecord::from_value(value.clone())
            .map_err(|e| StoreError::new(StoreErrorKind::InvalidEvent, e.to_string()))?;
        NewEvent::from_record(&record, value.to_string(), received_at_ms)
    }

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
    /// Whether it was imported from existing logs (see [`EventIndex::imported`]).
    pub imported: bool,
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
    /// Consumers to create with their checkpoint just before this commit's first event (those
    /// that already exist are left alone) — a new trail's delivery starts at its own creation.
    pub start_consumers: Vec<String>,
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

/// One condition of an event-history lookup (the LookupEvents attributes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LookupFilter {
    /// `eventID` equals.
    EventId(String),
    /// `eventName` equals.
    EventName(String),
    /// `readOnly` equals.
    ReadOnly(bool),
    /// The caller's user name equals.
    Username(String),
    /// A referenced resource has this type.
    ResourceType(String),
    /// A referenced resource has this name.
    ResourceName(String),
    /// `eventSource` equals.
    EventSource(String),
    /// `userIdentity.accessKeyId` equals.
    AccessKeyId(String),
}

/// An event-history query: newest first, every filter must hold (AND).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// Which history to search.
    pub history: HistoryKind,
    /// Inclusive lower bound on `eventTime`, Unix seconds.
    pub start_time: Option<i64>,
    /// Inclusive upper bound on `eventTime`, Unix seconds.
    pub end_time: Option<i64>,
    /// Conditions, all of which must hold.
    pub filters: Vec<LookupFilter>,
    /// Resume strictly after (older than) this `(event_time, seq)` position — a page cursor.
    pub before: Option<(i64, u64)>,
    /// Most events to return.
    pub limit: usize,
}

/// An event found by a lookup, with the position a next page resumes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUpEvent {
    /// The event.
    pub event: StoredEvent,
    /// Its indexed `eventTime`, Unix seconds (with `event.seq`, the page cursor).
    pub event_time: i64,
}

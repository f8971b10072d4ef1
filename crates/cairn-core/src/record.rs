//! The CloudTrail event record, typed and **lossless**.
//!
//! [`EventRecord`] is one element of a log file's `{"Records":[...]}` array (reference
//! `cloudtrail-api.md` §6). It has one typed field per documented top-level member, nested
//! typed structs for `userIdentity` ([`UserIdentity`], [`SessionContext`], [`SessionIssuer`],
//! [`SessionAttributes`]), `resources[]` ([`Resource`]), `tlsDetails` ([`TlsDetails`]) and
//! `addendum` ([`Addendum`]), and `serde_json::Value` for the free-form objects
//! (`requestParameters`, `responseElements`, `additionalEventData`, `serviceEventDetails`,
//! `insightDetails`, `edgeDeviceDetails`, `eventContext`, and the small nested objects
//! `onBehalfOf`, `inScopeOf`, `invokedByDelegate`, `webIdFederationData`).
//!
//! # Lossless by construction
//!
//! Records are stored and served back (`CloudTrailEvent` in LookupEvents, re-delivered log
//! files), so Cairn must never alter one. The guarantee, tested over every real sample log:
//!
//! ```
//! # use cairn_core::record::EventRecord;
//! # let text = r#"{"eventName":"ListBuckets","responseElements":null,"readOnly":"true","new":1}"#;
//! let record = EventRecord::from_json(text)?;
//! assert_eq!(
//!     serde_json::to_value(&record)?,
//!     serde_json::from_str::<serde_json::Value>(text)?,
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! for **every** JSON object `text`. Parsing only fails on malformed JSON or a non-object top
//! level. This is achieved by four rules applied at every level:
//!
//! 1. **Absent ≠ null.** Every modelled member is a [`Field<T>`], whose states are
//!    [`Absent`](Field::Absent), [`Null`](Field::Null), [`Typed`](Field::Typed) and
//!    [`Raw`](Field::Raw); free-form members are `Option<Value>` where `None` is absent and
//!    `Some(Value::Null)` is an explicit `null` (e.g. the very common `"responseElements":
//!    null`). Even members AWS always writes are optional: Insights records have no
//!    `userIdentity`/`eventName`, eventVersion 1.05 records have no `eventCategory`.
//! 2. **Unexpected types are kept, not rejected.** A value of a JSON type other than the
//!    expected one (a number where a string is expected, a string where `userIdentity` should
//!    be an object, ...) is stored verbatim as [`Field::Raw`]. If one element of `resources[]`
//!    is not an object, the whole array is kept raw.
//! 3. **Unknown members are kept.** Every object struct has `pub extra: Map<String, Value>`
//!    collecting the members it does not model, at the top level and inside `userIdentity`,
//!    `sessionContext`, `sessionIssuer`, `attributes`, `resources[]`, `tlsDetails` and
//!    `addendum`.
//! 4. **Values are written back as read.** Booleans that some logs write as strings
//!    (`readOnly`, `managementEvent`, `sessionCredentialFromConsole`, `assumedRoot`) are a
//!    [`Flag`] (`Bool` or `Text`), and timestamps stay strings (parsed on demand by
//!    [`EventRecord::event_time_utc`] / [`parse_event_time`]).
//!
//! Equality is of JSON *values*: [`EventRecord::to_json`] writes the modelled members in the
//! usual AWS order, then the unknown ones; whitespace and the key order inside free-form objects
//! are not preserved (store the original bytes if byte-identity is ever needed). Duplicate keys
//! keep the last value, as `serde_json::Value` does.
//!
//! # Quirks of real logs that this accepts
//!
//! - `userIdentity` without `type` (AWS writes `AwsServiceEvent` records with only
//!   `accountId` and `invokedBy`).
//! - `readOnly` / `managementEvent` as `"true"`/`"false"` strings ([`Flag::as_bool`] reads
//!   both spellings); `sessionCredentialFromConsole` and `mfaAuthenticated` are strings by
//!   design.
//! - Missing `requestID`, `eventCategory`, `tlsDetails`, ...; explicit `null`s anywhere.
//! - Invented regions, non-IP `sourceIPAddress` values (`AWS Internal`, service names,
//!   zero-padded octets): all plain strings, never validated here.
//! - `eventTime` with fractional seconds, an offset, or no zone ([`parse_event_time`]).
//!
//! # Performance
//!
//! Deserialization is hand-written (a `record_object!` macro): a single pass over each object's
//! members with keys borrowed from the input, no `#[serde(untagged)]` and no `#[serde(flatten)]`
//! buffering on input, so parsing costs about the same as parsing into a `serde_json::Value`.
//!
//! # LookupEvents helpers
//!
//! [`EventRecord::read_only`], [`EventRecord::access_key_id`],
//! [`EventRecord::lookup_username`] ([`UserIdentity::lookup_username`] lists the rules per
//! identity type), [`EventRecord::lookup_resources`] ([`resource_name_from_arn`]) and
//! [`EventRecord::event_time_utc`] derive the LookupEvents attributes of reference §7.

#[macro_use]
mod macros;
mod event;
mod field;
mod identity;
mod parts;
mod time;

pub use event::{EventRecord, RecordError};
pub use field::{Field, Flag};
pub use identity::{SessionAttributes, SessionContext, SessionIssuer, UserIdentity};
pub use parts::{Addendum, Resource, TlsDetails, resource_name_from_arn};
pub use time::{format_event_time, parse_event_time};

//! Cairn's pure domain.
//!
//! - [`record::EventRecord`]: the CloudTrail event record, typed, with unknown fields preserved.
//! - [`operation::Operation`]: every API operation, classified as read, write or ingest.
//! - [`principal::Principal`]: an authenticated caller, its [`principal::Role`] and the
//!   `userIdentity` it appears as.
//! - [`audit::api_call_record`]: the record of a call to Cairn's own API.
//! - [`history_csv`]: the event history's CSV download columns.
//! - [`ingest`]: the rules for application events sent with `PutAuditEvents`.
//!
//! No I/O and no async live here: everything is a plain function of its inputs, so it can be
//! tested beside the code.

pub mod audit;
pub mod history_csv;
pub mod ingest;
pub mod operation;
pub mod principal;
pub mod record;
pub mod trail;
pub mod trail_config;

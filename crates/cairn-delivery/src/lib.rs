//! Cairn's trail delivery: the events a trail selects, as gzipped CloudTrail log files in the
//! trail's bucket, with CloudTrail's exact key layout.
//!
//! - [`Delivery`]: runs one consumer per trail over the event log (start it from `cairn serve`).
//! - [`Storage`]: where files go — [`LocalStorage`] (folders under the data dir) or
//!   [`S3Storage`] (any S3-compatible store).
//! - [`naming`] and [`logfile`]: pure pieces — object keys, and records → one gzip member.
//!
//! Data flow per trail: checkpoint → events → selectors (`cairn_core::trail::matching`) →
//! batch per account and region → log files → put → advance the checkpoint.

mod consumer;
mod digests;
pub mod logfile;
mod manager;
pub mod naming;
mod read;
mod storage;

pub use consumer::{
    DELIVERED_NAMESPACE, DeliveredFile, DeliveryConfig, STATE_NAMESPACE, STATUS_NAMESPACE,
    TRAIL_NAMESPACE, consumer_id, deliver_backlog,
};
pub use manager::Delivery;
pub use read::{Listed, ObjectBody, StorageRead};
pub use storage::{LocalStorage, S3Settings, S3Storage, Storage, StorageError, StorageErrorKind};

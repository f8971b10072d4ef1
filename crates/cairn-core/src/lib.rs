//! Cairn's pure domain.
//!
//! - [`record::EventRecord`]: the CloudTrail event record, typed, with unknown fields preserved.
//!
//! No I/O and no async live here: everything is a plain function of its inputs, so it can be
//! tested beside the code.

pub mod record;

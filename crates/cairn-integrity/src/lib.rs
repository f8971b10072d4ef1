//! Cairn's log file integrity.
//!
//! - [`KeyRing`]: the RSA-2048 signing keys, one in force per region, kept in the data dir
//!   (mode 0600), with their public halves as `ListPublicKeys` reports them.
//!
//! Digest files and validation join in later.

#![deny(missing_docs)]

mod keys;

pub use keys::{KeyRing, KeyRingError, PublicKeyInfo};

//! Cairn's log file integrity.
//!
//! - [`KeyRing`]: the RSA-2048 signing keys, one in force per region, kept in the data dir
//!   (mode 0600), with their public halves as `ListPublicKeys` reports them.
//! - [`digest`]: digest file keys, JSON, signing string and signatures (producer side).
//! - [`validate`]: the storage-agnostic core of `cairn validate-logs`.

#![deny(missing_docs)]

pub mod digest;
mod keys;
pub mod validate;

pub use digest::{
    ChainLink, Digest, DigestInput, LogFileEntry, SignedDigest, build_digest, digest_key,
    produce_digest, sign_digest, signing_string,
};
pub use keys::{KeyRing, KeyRingError, PublicKeyInfo, Rotation, fingerprint};
pub use validate::{
    Finding, ObjectSource, PresentLogFile, Report, ValidateOptions, ValidateRequest, validate,
    validate_with,
};

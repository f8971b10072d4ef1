//! A strict, pure AWS Signature Version 4 verifier (the server side).
//!
//! [`verify`] takes the parts of a buffered HTTP request, a way to look up
//! secret keys and a [`VerifyPolicy`], and either returns who signed the
//! request ([`Verified`]) or a [`SigV4Error`] whose [`kind`](SigV4Error::kind)
//! maps to an exact AWS error code and HTTP status. It does no I/O, reads no
//! clock (the caller passes `now`) and never logs.
//!
//! Only header-based `AWS4-HMAC-SHA256` signing is supported: no presigned
//! URLs, no SigV4a, no chunked (`STREAMING-*`) payload signing, no session
//! tokens.
//!
//! # What is required of a request
//!
//! * exactly one `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`
//!   header (parameters in any order, optional whitespace after commas,
//!   nothing else); `SignedHeaders` lowercase, sorted, without duplicates;
//! * an `X-Amz-Date` header (`YYYYMMDD'T'HHMMSS'Z'`) or, failing that, an
//!   HTTP `Date` header, within `max_clock_skew` of `now`;
//! * `host` signed (taken from the `Host` header, or from the URI authority
//!   for HTTP/2), the date header used signed, and **every** `x-amz-*` header
//!   in the request signed, including `x-amz-content-sha256` when present.
//!   Every SDK and the AWS CLI already sign these; an unsigned `X-Amz-Target`
//!   would let an intermediary change which operation runs;
//! * every header named in `SignedHeaders` present in the request;
//! * a credential scope `AKID/YYYYMMDD/<policy region>/<a policy service>/aws4_request`
//!   whose date equals the date of the request timestamp;
//! * if `x-amz-content-sha256` is sent, it must equal the hex SHA-256 of the
//!   body (or be `UNSIGNED-PAYLOAD` when the policy allows that). Without it,
//!   as the AWS CLI sends CloudTrail requests, the body is hashed here;
//! * no `X-Amz-Security-Token` (Cairn has no temporary credentials).
//!
//! The canonical URI is built from the path *as sent*: for every service but
//! `s3` it is normalised (`.`/`..`/empty segments removed) and percent-encoded
//! a second time; for `s3` each segment is encoded exactly once, unnormalised.
//! The canonical query decodes then RFC 3986-encodes each name and value
//! (`+` is a space) and sorts by name, then value.
//!
//! # Errors
//!
//! Checks run in this order, so the first failing row wins:
//!
//! | Condition | [`SigV4ErrorKind`] | `aws_code()` | HTTP | Message (abridged) |
//! |---|---|---|---|---|
//! | No `Authorization` header and no `X-Amz-Algorithm` query parameter | `MissingAuthenticationToken` | `MissingAuthenticationToken` | 403 | `Missing Authentication Token` |
//! | Presigned-URL auth, repeated/non-ASCII header, malformed header, unknown/duplicate/missing `Credential`/`SignedHeaders`/`Signature`, bad scope format, bad signature hex | `IncompleteSignature` | `IncompleteSignature` | 400 | e.g. `Authorization header requires 'Signature' parameter.` |
//! | No `X-Amz-Date`/`Date`, or unparseable | `IncompleteSignature` | `IncompleteSignature` | 400 | `Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.` |
//! | `host` or the date header not signed, an `x-amz-*` header unsigned, a signed header absent | `IncompleteSignature` | `IncompleteSignature` | 400 | e.g. `'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.` |
//! | Scope region ≠ policy region | `InvalidSignature` | `InvalidSignatureException` | 403 | `Credential should be scoped to a valid region, not 'eu-west-1'. Expected 'us-east-1'.` |
//! | Scope service not in policy | `InvalidSignature` | `InvalidSignatureException` | 403 | `Credential should be scoped to correct service: 'cloudtrail'.` |
//! | Scope date ≠ request date | `InvalidSignature` | `InvalidSignatureException` | 403 | `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261122' != '20261123', from '20261123T101010Z'.` |
//! | Timestamp older than `now - max_clock_skew` | `RequestExpired` | `RequestExpired` | 400 | `Signature expired: 20261123T080000Z is now earlier than 20261123T081500Z (20261123T083000Z - 15 min.)` |
//! | Timestamp later than `now + max_clock_skew` | `InvalidSignature` | `InvalidSignatureException` | 403 | `Signature not yet current: ... is still later than ... (... + 15 min.)` |
//! | `X-Amz-Security-Token` present, or access key unknown | `UnrecognizedClient` | `UnrecognizedClientException` | 403 | `The security token included in the request is invalid.` |
//! | `x-amz-content-sha256` ≠ SHA-256 of body (or disallowed `UNSIGNED-PAYLOAD`) | `InvalidSignature` | `InvalidSignatureException` | 403 | `The provided 'x-amz-content-sha256' header does not match what was computed.` |
//! | Signature mismatch | `InvalidSignature` | `InvalidSignatureException` | 403 | `The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.` |
//!
//! Messages quote only client-supplied values; neither the secret key nor the
//! signature the server computed ever appears in an error.

use std::time::Duration;

use chrono::{DateTime, Utc};

mod authorization;
mod canonical;
mod error;
mod pipeline;
mod secret;
mod sign;
mod timestamp;

#[cfg(test)]
mod test_vectors;
#[cfg(test)]
mod tests;

pub use error::{SigV4Error, SigV4ErrorKind};
pub use secret::SecretKey;
pub use sign::{SignRequest, sign};

/// The parts of a fully buffered request that SigV4 covers.
///
/// `uri` must carry the path and query exactly as received (percent-encoding
/// intact), which is what hyper/axum provide. `body` must be the complete
/// body, because it is hashed.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub method: &'a http::Method,
    pub uri: &'a http::Uri,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// What this endpoint accepts.
#[derive(Debug, Clone, Copy)]
pub struct VerifyPolicy<'a> {
    /// The regions credential scopes may name, e.g. `["us-east-1"]`; the request's region is
    /// the one its scope names (reported in [`Verified::region`]).
    pub regions: &'a [&'a str],
    /// Service names a scope may name, e.g. `["cloudtrail"]` for the JSON
    /// API or `["cloudtrail-data"]` for `PutAuditEvents`.
    pub services: &'a [&'a str],
    /// How far the request timestamp may be from `now`, either way. AWS uses
    /// 15 minutes.
    pub max_clock_skew: Duration,
    /// The current time, passed in so verification is deterministic.
    pub now: DateTime<Utc>,
    /// Whether `x-amz-content-sha256: UNSIGNED-PAYLOAD` is accepted. When it
    /// is, the body is not covered by the signature, so leave this `false`
    /// unless a client needs it.
    pub allow_unsigned_payload: bool,
}

/// Finds the secret for an access key id; `None` means "unknown key".
pub trait SecretLookup {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey>;
}

impl<S: std::hash::BuildHasher> SecretLookup for std::collections::HashMap<String, SecretKey, S> {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.get(access_key_id).cloned()
    }
}

/// Who signed a request that passed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub access_key_id: String,
    pub region: String,
    pub service: String,
    /// The request timestamp (`X-Amz-Date`, or `Date`).
    pub signed_at: DateTime<Utc>,
}

/// Verifies the SigV4 signature of `req`.
///
/// # Errors
///
/// Returns the first failed check, in the order of the table in the
/// [module documentation](self).
pub fn verify(
    req: &RequestParts<'_>,
    secrets: &dyn SecretLookup,
    policy: &VerifyPolicy<'_>,
) -> Result<Verified, SigV4Error> {
    pipeline::verify(req, secrets, policy)
}

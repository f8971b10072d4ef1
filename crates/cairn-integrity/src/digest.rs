//! Digest files: key layout, JSON, signing string and signature, as CloudTrail writes them
//! (reference `cloudtrail-delivery.md` §2).
//!
//! The producer recipe (§2.7): collect the log files delivered since the previous digest, build
//! the JSON ([`build_digest`]), hash the **uncompressed** bytes, sign the signing string
//! ([`signing_string`], [`sign_digest`]), store the gzip (single member) under [`digest_key`]
//! with the metadata of [`SignedDigest::metadata`], and keep [`SignedDigest::link`] for the next
//! digest of the chain.

use std::io::Write as _;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::keys::{KeyRing, KeyRingError};

/// `digestSignatureAlgorithm` and the `signature-algorithm` metadata value.
pub const SIGNATURE_ALGORITHM: &str = "SHA256withRSA";
/// `hashAlgorithm` / `previousDigestHashAlgorithm`.
pub const HASH_ALGORITHM: &str = "SHA-256";
/// User-metadata name of the hex signature (served as `x-amz-meta-signature`, lower case).
pub const META_SIGNATURE: &str = "signature";
/// User-metadata name of the algorithm (served as `x-amz-meta-signature-algorithm`, lower case).
pub const META_SIGNATURE_ALGORITHM: &str = "signature-algorithm";

/// A time as digests write it: `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The object key of a digest ending at `end` (§2.1):
/// `[prefix/]AWSLogs/[o-id/]<acct>/CloudTrail-Digest/<region>/<YYYY>/<MM>/<DD>/<acct>_CloudTrail-Digest_<region>_<trail>_<home-region>_<YYYYMMDDTHHMMSSZ>.json.gz`.
///
/// `prefix` is the trail's `S3KeyPrefix` without a trailing `/` (empty counts as none).
pub fn digest_key(
    prefix: Option<&str>,
    org_id: Option<&str>,
    account: &str,
    region: &str,
    trail_name: &str,
    home_region: &str,
    end: DateTime<Utc>,
) -> String {
    let mut key = String::new();
    if let Some(prefix) = prefix.filter(|p| !p.is_empty()) {
        key.push_str(prefix);
        key.push('/');
    }
    key.push_str("AWSLogs/");
    if let Some(org) = org_id.filter(|o| !o.is_empty()) {
        key.push_str(org);
        key.push('/');
    }
    key.push_str(&format!(
        "{account}/CloudTrail-Digest/{region}/{}/{account}_CloudTrail-Digest_{region}_{trail_name}_{home_region}_{}.json.gz",
        end.format("%Y/%m/%d"),
        end.format("%Y%m%dT%H%M%SZ"),
    ));
    key
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// One `logFiles[]` entry of a digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DigestLogFile {
    /// Bucket of the log file.
    pub s3_bucket: String,
    /// Full key of the log file.
    pub s3_object: String,
    /// Lower-case hex SHA-256 of the uncompressed log file.
    pub hash_value: String,
    /// Always [`HASH_ALGORITHM`].
    pub hash_algorithm: String,
    /// Newest `eventTime` in the file.
    pub newest_event_time: Option<String>,
    /// Oldest `eventTime` in the file.
    pub oldest_event_time: Option<String>,
}

/// The digest JSON (§2.3); fields serialise in AWS's order, `null`s where AWS writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Digest {
    /// Account the digest is delivered for.
    pub aws_account_id: String,
    /// Start of the delivery-time window (the previous digest's end, or the enable time).
    pub digest_start_time: String,
    /// End of the window; part of the signing string and of the key.
    pub digest_end_time: String,
    /// Bucket of this digest.
    pub digest_s3_bucket: String,
    /// Full key of this digest.
    pub digest_s3_object: String,
    /// Fingerprint of the signing key.
    pub digest_public_key_fingerprint: String,
    /// Always [`SIGNATURE_ALGORITHM`].
    pub digest_signature_algorithm: String,
    /// Newest event time over all log files; `null` without log files.
    pub newest_event_time: Option<String>,
    /// Oldest event time over all log files; `null` without log files.
    pub oldest_event_time: Option<String>,
    /// Bucket of the previous digest; `null` at the start of a chain.
    pub previous_digest_s3_bucket: Option<String>,
    /// Key of the previous digest; `null` at the start of a chain.
    pub previous_digest_s3_object: Option<String>,
    /// Hex SHA-256 of the previous digest's uncompressed bytes; `null` at the start of a chain.
    pub previous_digest_hash_value: Option<String>,
    /// [`HASH_ALGORITHM`]; `null` at the start of a chain.
    pub previous_digest_hash_algorithm: Option<String>,
    /// Hex signature of the previous digest; `null` at the start of a chain.
    pub previous_digest_signature: Option<String>,
    /// The log files delivered in the window.
    pub log_files: Vec<DigestLogFile>,
}

/// A log file to list in a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileEntry {
    /// Bucket of the log file.
    pub bucket: String,
    /// Full key of the log file.
    pub key: String,
    /// Lower-case hex SHA-256 of the **uncompressed** log file.
    pub sha256_hex: String,
    /// Oldest `eventTime` in the file (as written in the records).
    pub oldest_event_time: Option<String>,
    /// Newest `eventTime` in the file.
    pub newest_event_time: Option<String>,
}

/// What the next digest of a chain needs to know about the previous one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    /// Bucket of the previous digest.
    pub bucket: String,
    /// Key of the previous digest.
    pub key: String,
    /// Lower-case hex SHA-256 of the previous digest's **uncompressed** JSON bytes.
    pub sha256_hex: String,
    /// Lower-case hex signature of the previous digest (its `signature` metadata).
    pub signature_hex: String,
}

/// Everything [`build_digest`] needs.
#[derive(Debug, Clone)]
pub struct DigestInput<'a> {
    /// Account the digest is delivered for.
    pub account: &'a str,
    /// Window start (previous digest's end, or when validation/logging started).
    pub start: DateTime<Utc>,
    /// Window end (second precision; sub-seconds are dropped).
    pub end: DateTime<Utc>,
    /// Bucket of this digest.
    pub bucket: &'a str,
    /// Key of this digest (see [`digest_key`]).
    pub key: &'a str,
    /// Fingerprint of the key that will sign it.
    pub fingerprint: &'a str,
    /// Log files delivered in the window.
    pub log_files: &'a [LogFileEntry],
    /// The previous digest of the chain; `None` for the first digest after (re)start.
    pub previous: Option<&'a ChainLink>,
}

/// Builds the digest; returns the uncompressed JSON bytes and their single-member gzip.
pub fn build_digest(input: &DigestInput<'_>) -> (Vec<u8>, Vec<u8>) {
    let json = serde_json::to_vec(&digest_of(input)).expect("digest serializes");
    let gz = gzip(&json);
    (json, gz)
}

/// The [`Digest`] value [`build_digest`] serialises.
pub fn digest_of(input: &DigestInput<'_>) -> Digest {
    let newest = input
        .log_files
        .iter()
        .filter_map(|f| f.newest_event_time.clone())
        .max();
    let oldest = input
        .log_files
        .iter()
        .filter_map(|f| f.oldest_event_time.clone())
        .min();
    let prev = input.previous;
    Digest {
        aws_account_id: input.account.to_string(),
        digest_start_time: format_time(input.start),
        digest_end_time: format_time(input.end),
        digest_s3_bucket: input.bucket.to_string(),
        digest_s3_object: input.key.to_string(),
        digest_public_key_fingerprint: input.fingerprint.to_string(),
        digest_signature_algorithm: SIGNATURE_ALGORITHM.to_string(),
        newest_event_time: newest,
        oldest_event_time: oldest,
        previous_digest_s3_bucket: prev.map(|p| p.bucket.clone()),
        previous_digest_s3_object: prev.map(|p| p.key.clone()),
        previous_digest_hash_value: prev.map(|p| p.sha256_hex.clone()),
        previous_digest_hash_algorithm: prev.map(|_| HASH_ALGORITHM.to_string()),
        previous_digest_signature: prev.map(|p| p.signature_hex.clone()),
        log_files: input
            .log_files
            .iter()
            .map(|f| DigestLogFile {
                s3_bucket: f.bucket.clone(),
                s3_object: f.key.clone(),
                hash_value: f.sha256_hex.clone(),
                hash_algorithm: HASH_ALGORITHM.to_string(),
                newest_event_time: f.newest_event_time.clone(),
                oldest_event_time: f.oldest_event_time.clone(),
            })
            .collect(),
    }
}

/// Single-member gzip of `bytes`.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

/// The data signing string (§2.5.1): four fields joined by `\n`, no trailing newline;
/// `previous_signature` `None` is written as `null`.
pub fn signing_string(
    digest_end: &str,
    bucket: &str,
    key: &str,
    sha256_hex_of_uncompressed_digest: &str,
    previous_signature: Option<&str>,
) -> String {
    format!(
        "{digest_end}\n{bucket}/{key}\n{sha256_hex_of_uncompressed_digest}\n{}",
        previous_signature.unwrap_or("null")
    )
}

/// Signs a signing string with the key of `region` valid at `at`: returns the lower-case hex
/// signature and the key's fingerprint.
pub fn sign_digest(
    keys: &KeyRing,
    region: &str,
    at: DateTime<Utc>,
    signing_string: &str,
) -> Result<(String, String), KeyRingError> {
    let (signature, fingerprint) = keys.sign(region, at, signing_string.as_bytes())?;
    Ok((hex::encode(signature), fingerprint))
}

/// A built and signed digest, ready to store.
#[derive(Debug, Clone)]
pub struct SignedDigest {
    /// The uncompressed JSON.
    pub json: Vec<u8>,
    /// The object body to store (single-member gzip of `json`).
    pub gzip: Vec<u8>,
    /// Hex signature.
    pub signature_hex: String,
    /// Fingerprint of the signing key.
    pub fingerprint: String,
    /// For the next digest's `previousDigest*` fields.
    pub link: ChainLink,
}

impl SignedDigest {
    /// The user metadata to store with the object (names without `x-amz-meta-`, lower case).
    pub fn metadata(&self) -> Vec<(String, String)> {
        vec![
            (META_SIGNATURE.to_string(), self.signature_hex.clone()),
            (
                META_SIGNATURE_ALGORITHM.to_string(),
                SIGNATURE_ALGORITHM.to_string(),
            ),
        ]
    }
}

/// Steps 2–4 of the producer recipe: picks the key of `region` in force at `input.end`, builds,
/// hashes and signs the digest. `input.fingerprint` is ignored (replaced by the signing key's).
pub fn produce_digest(
    keys: &KeyRing,
    region: &str,
    input: &DigestInput<'_>,
) -> Result<SignedDigest, KeyRingError> {
    let at = input.end;
    // The fingerprint goes into the signed JSON, so learn it first.
    let fingerprint = keys.signing_fingerprint(region, at)?;
    let input = DigestInput {
        fingerprint: &fingerprint,
        ..input.clone()
    };
    let (json, gzip) = build_digest(&input);
    let hash = sha256_hex(&json);
    let digest_end = format_time(input.end);
    let to_sign = signing_string(
        &digest_end,
        input.bucket,
        input.key,
        &hash,
        input.previous.map(|p| p.signature_hex.as_str()),
    );
    let (signature_hex, used) = sign_digest(keys, region, at, &to_sign)?;
    debug_assert_eq!(used, fingerprint);
    Ok(SignedDigest {
        link: ChainLink {
            bucket: input.bucket.to_string(),
            key: input.key.to_string(),
            sha256_hex: hash,
            signature_hex: signature_hex.clone(),
        },
        json,
        gzip,
        signature_hex,
        fingerprint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
    use chrono::TimeZone;

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn key_layout() {
        let end = t(2015, 8, 17, 15, 1, 31);
        assert_eq!(
            digest_key(
                None,
                None,
                "111122223333",
                "us-east-2",
                "mytrail",
                "us-east-1",
                end
            ),
            "AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_mytrail_us-east-1_20150817T150131Z.json.gz"
        );
        assert_eq!(
            digest_key(
                Some("pfx/sub"),
                Some("o-exampleorgid"),
                "111111111111",
                "eu-west-1",
                "org",
                "us-east-1",
                t(2026, 1, 2, 3, 4, 5)
            ),
            "pfx/sub/AWSLogs/o-exampleorgid/111111111111/CloudTrail-Digest/eu-west-1/2026/01/02/111111111111_CloudTrail-Digest_eu-west-1_org_us-east-1_20260102T030405Z.json.gz"
        );
        // An empty prefix is no prefix.
        assert!(
            digest_key(Some(""), None, "1", "r", "n", "h", end).starts_with("AWSLogs/1/"),
            "empty prefix"
        );
    }

    #[test]
    fn signing_string_format() {
        assert_eq!(
            signing_string("2015-08-17T15:01:31Z", "b", "k/x.json.gz", "abc", None),
            "2015-08-17T15:01:31Z\nb/k/x.json.gz\nabc\nnull"
        );
        assert_eq!(
            signing_string("2015-08-17T15:01:31Z", "b", "k", "abc", Some("ff00")),
            "2015-08-17T15:01:31Z\nb/k\nabc\nff00"
        );
    }

    #[test]
    fn first_digest_json_has_nulls_where_aws_writes_them() {
        let input = DigestInput {
            account: "123456789012",
            start: t(2026, 11, 23, 8, 1, 31),
            end: t(2026, 11, 23, 9, 1, 31),
            bucket: "b",
            key: "k",
            fingerprint: "00112233445566778899aabbccddeeff",
            log_files: &[],
            previous: None,
        };
        let (json, gz) = build_digest(&input);
        let text = String::from_utf8(json.clone()).unwrap();
        assert_eq!(
            text,
            r#"{"awsAccountId":"123456789012","digestStartTime":"2026-11-23T08:01:31Z","digestEndTime":"2026-11-23T09:01:31Z","digestS3Bucket":"b","digestS3Object":"k","digestPublicKeyFingerprint":"00112233445566778899aabbccddeeff","digestSignatureAlgorithm":"SHA256withRSA","newestEventTime":null,"oldestEventTime":null,"previousDigestS3Bucket":null,"previousDigestS3Object":null,"previousDigestHashValue":null,"previousDigestHashAlgorithm":null,"previousDigestSignature":null,"logFiles":[]}"#
        );
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
        assert_eq!(out, json);
    }

    #[test]
    fn chained_digest_json_members() {
        let files = [
            LogFileEntry {
                bucket: "lb".into(),
                key: "l1".into(),
                sha256_hex: "aa".into(),
                oldest_event_time: Some("2026-11-23T08:00:00Z".into()),
                newest_event_time: Some("2026-11-23T08:10:00Z".into()),
            },
            LogFileEntry {
                bucket: "lb".into(),
                key: "l2".into(),
                sha256_hex: "bb".into(),
                oldest_event_time: Some("2026-11-23T07:59:00Z".into()),
                newest_event_time: Some("2026-11-23T08:05:00Z".into()),
            },
        ];
        let prev = ChainLink {
            bucket: "b".into(),
            key: "prev".into(),
            sha256_hex: "cc".into(),
            signature_hex: "dd".into(),
        };
        let input = DigestInput {
            account: "123456789012",
            start: t(2026, 11, 23, 8, 1, 31),
            end: t(2026, 11, 23, 9, 1, 31),
            bucket: "b",
            key: "k",
            fingerprint: "fp",
            log_files: &files,
            previous: Some(&prev),
        };
        let (json, _) = build_digest(&input);
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v["newestEventTime"], "2026-11-23T08:10:00Z");
        assert_eq!(v["oldestEventTime"], "2026-11-23T07:59:00Z");
        assert_eq!(v["previousDigestS3Bucket"], "b");
        assert_eq!(v["previousDigestS3Object"], "prev");
        assert_eq!(v["previousDigestHashValue"], "cc");
        assert_eq!(v["previousDigestHashAlgorithm"], "SHA-256");
        assert_eq!(v["previousDigestSignature"], "dd");
        let names: Vec<&str> = v["logFiles"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "s3Bucket",
                "s3Object",
                "hashValue",
                "hashAlgorithm",
                "newestEventTime",
                "oldestEventTime"
            ]
        );
        assert_eq!(v["logFiles"][1]["hashValue"], "bb");
        assert_eq!(v["logFiles"][1]["hashAlgorithm"], "SHA-256");
    }

    #[test]
    fn signature_verifies_with_the_listed_public_key() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = t(2026, 11, 23, 8, 0, 0);
        let ring = KeyRing::open(
            &dir.path().join("keys.json"),
            &["us-east-1".to_string()],
            t0,
        )
        .unwrap();
        let end = t(2026, 11, 23, 9, 1, 31);
        let key = digest_key(
            None,
            None,
            "123456789012",
            "us-east-1",
            "tr",
            "us-east-1",
            end,
        );
        let input = DigestInput {
            account: "123456789012",
            start: t0,
            end,
            bucket: "b",
            key: &key,
            fingerprint: "",
            log_files: &[],
            previous: None,
        };
        let signed = produce_digest(&ring, "us-east-1", &input).unwrap();
        assert_eq!(signed.signature_hex.len(), 512);
        let public = &ring.public_keys("us-east-1", end, end)[0];
        assert_eq!(signed.fingerprint, public.fingerprint);
        let v: serde_json::Value = serde_json::from_slice(&signed.json).unwrap();
        assert_eq!(v["digestPublicKeyFingerprint"], public.fingerprint.as_str());
        let to_sign = signing_string(
            "2026-11-23T09:01:31Z",
            "b",
            &key,
            &sha256_hex(&signed.json),
            None,
        );
        let sig = hex::decode(&signed.signature_hex).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public.der)
            .verify(to_sign.as_bytes(), &sig)
            .unwrap();
        assert!(
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public.der)
                .verify(b"something else", &sig)
                .is_err()
        );
        assert_eq!(
            signed.metadata(),
            [
                ("signature".to_string(), signed.signature_hex.clone()),
                (
                    "signature-algorithm".to_string(),
                    "SHA256withRSA".to_string()
                )
            ]
        );
        // No key before the ring existed.
        assert!(
            ring.sign("us-east-1", t0 - chrono::Duration::hours(1), b"x")
                .is_err()
        );
        assert!(ring.sign("eu-west-1", end, b"x").is_err());
    }
}

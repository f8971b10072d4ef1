//! The storage-agnostic core of `cairn validate-logs` (reference `cloudtrail-delivery.md` §2.8).
//!
//! [`validate`] walks one regular digest chain (one trail × region × account) exactly as
//! `aws cloudtrail validate-logs` does (§2.8.3) and produces the same result lines (§2.8.4).
//! On top of that it reports, as Cairn-only findings (the stock CLI does not check these):
//!
//! - [`Finding::ChainBroken`]: a digest's `previousDigest*` fields do not match the digest they
//!   point to (hash of its uncompressed bytes, signature, or start ≠ previous end), e.g. a
//!   validly signed digest put in place of another;
//! - [`Finding::Uncovered`]: a period no valid digest covers because digests were deleted or
//!   invalid (two deleted digests in a row show up as a two-period hole; the stock CLI reports
//!   only the first of them);
//! - [`Finding::Unreferenced`]: a log file the caller listed that no valid digest lists.
//!
//! Backfill digests (`_backfill.json.gz`) are skipped.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

use crate::digest::{
    META_SIGNATURE, META_SIGNATURE_ALGORITHM, format_time, sha256_hex, signing_string,
};

/// An object fetched from storage: body and user metadata (names without `x-amz-meta-`).
pub type Object = (Vec<u8>, HashMap<String, String>);

/// Read access to the stored objects.
pub trait ObjectSource: Sync {
    /// The object at `bucket`/`key`, `Ok(None)` if it does not exist; `Err` for any other
    /// failure (which aborts validation, as the CLI does for S3 errors other than `NoSuchKey`).
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String>;
}

/// What to validate.
#[derive(Debug, Clone)]
pub struct ValidateRequest {
    /// Bucket of the digests.
    pub bucket: String,
    /// The trail's `S3KeyPrefix` (without trailing `/`).
    pub prefix: Option<String>,
    /// Organization ID for organization trails.
    pub org_id: Option<String>,
    /// Account whose digests to check.
    pub account: String,
    /// Region whose digests to check.
    pub region: String,
    /// Trail name.
    pub trail_name: String,
    /// Trail home region.
    pub home_region: String,
    /// `--start-time`.
    pub start: DateTime<Utc>,
    /// `--end-time`.
    pub end: DateTime<Utc>,
    /// The digest keys listed under `[prefix/]AWSLogs/[o-id/]<acct>/CloudTrail-Digest/<region>`
    /// (any order; keys of other trails are ignored).
    pub listed_digests: Vec<String>,
    /// Public keys of the region: fingerprint → PKCS#1 DER.
    pub public_keys: HashMap<String, Vec<u8>>,
    /// If given, the log files present in the bucket: those no valid digest lists, though they
    /// were stored inside a period a valid digest covers, are reported as
    /// [`Finding::Unreferenced`] (a file stored while a chain runs must be in that period's
    /// digest; files stored while no chain ran, or after the newest digest, are left alone).
    pub present_log_files: Option<Vec<PresentLogFile>>,
}

/// A log file found in the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresentLogFile {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// When it was stored (S3 `LastModified`, a local file's mtime).
    pub last_modified: DateTime<Utc>,
}

/// How to run [`validate_with`].
pub struct ValidateOptions<'a> {
    /// Log files fetched and hashed at once.
    pub parallelism: usize,
    /// Called after each log file is checked, with its stored size in bytes.
    pub on_log_file: &'a (dyn Fn(u64) + Sync),
}

impl Default for ValidateOptions<'_> {
    fn default() -> Self {
        ValidateOptions {
            parallelism: std::thread::available_parallelism().map_or(2, |n| n.get()),
            on_log_file: &|_| {},
        }
    }
}

/// One result, in output order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A digest: `Ok` if valid, else the CLI's message after `INVALID: `.
    Digest {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Outcome.
        result: Result<(), String>,
    },
    /// A log file listed by a valid digest.
    LogFile {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
        /// Outcome.
        result: Result<(), String>,
    },
    /// The CLI's gap: a digest starts a new chain (logging/validation restarted); not an error.
    Gap {
        /// End time of the next older digest.
        from: String,
        /// Start of the digest that starts the chain.
        to: String,
    },
    /// Cairn: `key`'s previous-digest fields do not match the digest they point to.
    ChainBroken {
        /// Bucket of the digest whose pointer does not match.
        bucket: String,
        /// Its key.
        key: String,
        /// What differs.
        reason: String,
    },
    /// Cairn: no valid digest covers `from`..`to` (digests deleted or invalid).
    Uncovered {
        /// Start of the hole (end of the next older valid digest, or `--start-time`).
        from: String,
        /// End of the hole (start of the newer valid digest, or the failed digest's end).
        to: String,
    },
    /// Cairn: a present log file no valid digest lists.
    Unreferenced {
        /// Bucket.
        bucket: String,
        /// Key.
        key: String,
    },
}

impl Finding {
    /// The output line (without the trailing newline), as the CLI prints it where it has one.
    pub fn line(&self) -> String {
        let status = |r: &Result<(), String>| match r {
            Ok(()) => "valid".to_string(),
            Err(m) => format!("INVALID: {m}"),
        };
        match self {
            Finding::Digest {
                bucket,
                key,
                result,
            } => format!("Digest file\ts3://{bucket}/{key}\t{}", status(result)),
            Finding::LogFile {
                bucket,
                key,
                result,
            } => format!("Log file\ts3://{bucket}/{key}\t{}", status(result)),
            Finding::Gap { from, to } => {
                format!("No log files were delivered by CloudTrail between {from} and {to}")
            }
            Finding::ChainBroken {
                bucket,
                key,
                reason,
            } => format!("Digest file\ts3://{bucket}/{key}\tINVALID: chain broken: {reason}"),
            Finding::Uncovered { from, to } => {
                format!("Digest chain\tINVALID: no valid digest covers {from} to {to}")
            }
            Finding::Unreferenced { bucket, key } => {
                format!("Log file\ts3://{bucket}/{key}\tINVALID: not listed in any digest")
            }
        }
    }

    /// Whether this is a problem (everything but valid lines and gaps).
    pub fn is_problem(&self) -> bool {
        match self {
            Finding::Digest { result, .. } | Finding::LogFile { result, .. } => result.is_err(),
            Finding::Gap { .. } => false,
            _ => true,
        }
    }

    /// Whether the stock CLI prints this line too (goes to stdout if valid, else stderr).
    pub fn is_awscli(&self) -> bool {
        matches!(
            self,
            Finding::Digest { .. } | Finding::LogFile { .. } | Finding::Gap { .. }
        )
    }
}

/// The outcome of [`validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Results in order.
    pub findings: Vec<Finding>,
    /// Valid digests.
    pub digests_valid: usize,
    /// Invalid (or missing) digests.
    pub digests_invalid: usize,
    /// Valid log files.
    pub logs_valid: usize,
    /// Invalid (or missing) log files.
    pub logs_invalid: usize,
    /// `Results found for <earliest> to <latest>` (over valid digests, clipped to the request).
    pub found: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

impl Report {
    /// No problem found (CLI exit status 0 and no Cairn finding).
    pub fn ok(&self) -> bool {
        !self.findings.iter().any(Finding::is_problem)
    }

    /// The CLI's summary lines (§2.8.4), starting with `Results requested for`.
    pub fn summary(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Vec<String> {
        let mut out = vec![format!(
            "Results requested for {} to {}",
            format_time(start),
            format_time(end)
        )];
        let total = self.digests_valid + self.digests_invalid;
        if total == 0 {
            out.push("No digests found".into());
            return out;
        }
        match self.found {
            None => out.push("No valid digests found in range".into()),
            Some((a, b)) => out.push(format!(
                "Results found for {} to {}:",
                format_time(a),
                format_time(b)
            )),
        }
        out.push(String::new());
        let count = |v: usize, i: usize, what: &str| {
            let t = v + i;
            let mut s = format!("{v}/{t} {what} valid");
            if i > 0 {
                s.push_str(&format!(", {i}/{t} {what} INVALID"));
            }
            s
        };
        out.push(count(
            self.digests_valid,
            self.digests_invalid,
            "digest files",
        ));
        if self.logs_valid + self.logs_invalid > 0 {
            out.push(count(self.logs_valid, self.logs_invalid, "log files"));
        }
        out
    }
}

/// A digest that passed the CLI's checks.
struct ValidDigest {
    json: Value,
    sha256_hex: String,
    signature_hex: String,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

enum DigestFailure {
    Missing,
    Invalid(String),
}

/// What a valid digest says about its predecessor, checked when the walk reaches it.
struct Expectation {
    bucket: String,
    key: String,
    target: (String, String),
    hash: Option<String>,
    signature: Option<String>,
    start: DateTime<Utc>,
}

fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The 16-character timestamp of a digest key, if the key is a regular digest of the scope.
fn key_time(req: &ValidateRequest, key: &str) -> Option<DateTime<Utc>> {
    let mut dir = String::new();
    if let Some(p) = req.prefix.as_deref().filter(|p| !p.is_empty()) {
        dir.push_str(p);
        dir.push('/');
    }
    dir.push_str("AWSLogs/");
    if let Some(o) = req.org_id.as_deref().filter(|o| !o.is_empty()) {
        dir.push_str(o);
        dir.push('/');
    }
    dir.push_str(&format!(
        "{}/CloudTrail-Digest/{}/",
        req.account, req.region
    ));
    let rest = key.strip_prefix(&dir)?;
    let (date_dirs, file) = rest.rsplit_once('/')?;
    let parts: Vec<&str> = date_dirs.split('/').collect();
    if parts.len() != 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let stem = file
        .strip_prefix(&format!(
            "{}_CloudTrail-Digest_{}_{}_{}_",
            req.account, req.region, req.trail_name, req.home_region
        ))?
        .strip_suffix(".json.gz")?;
    if stem.ends_with("_backfill") || stem.len() < 16 {
        return None;
    }
    let ts = stem.get(stem.len() - 16..)?;
    NaiveDateTime::parse_from_str(ts, "%Y%m%dT%H%M%SZ")
        .ok()
        .map(|t| t.and_utc())
}

/// Gunzips the first gzip member; returns the bytes and whether anything follows it.
fn gunzip_first_member(bytes: &[u8]) -> std::io::Result<(Vec<u8>, bool)> {
    let mut dec = flate2::bufread::GzDecoder::new(bytes);
    let mut out = Vec::new();
    dec.read_to_end(&mut out)?;
    let rest = dec.into_inner();
    Ok((out, !rest.is_empty()))
}

/// Hex SHA-256 of the first gzip member's content, streamed (log files can be large), and
/// whether anything follows the member.
fn hash_first_member(bytes: &[u8]) -> std::io::Result<(String, bool)> {
    use sha2::Digest as _;
    let mut dec = flate2::bufread::GzDecoder::new(bytes);
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = dec.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let rest = dec.into_inner();
    Ok((hex::encode(hasher.finalize()), !rest.is_empty()))
}

fn load_digest(
    req: &ValidateRequest,
    source: &dyn ObjectSource,
    bucket: &str,
    key: &str,
) -> Result<Result<ValidDigest, DigestFailure>, String> {
    let invalid = |m: &str| Ok(Err(DigestFailure::Invalid(m.to_string())));
    let Some((body, meta)) = source.get(bucket, key)? else {
        return Ok(Err(DigestFailure::Missing));
    };
    let Ok((json_bytes, _)) = gunzip_first_member(&body) else {
        return invalid("invalid format");
    };
    let json: Value = match serde_json::from_slice(&json_bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => return invalid("invalid format"),
    };
    let (Some(signature_hex), Some(_)) =
        (meta.get(META_SIGNATURE), meta.get(META_SIGNATURE_ALGORITHM))
    else {
        return invalid("signature verification failed");
    };
    let required = [
        "digestPublicKeyFingerprint",
        "digestS3Bucket",
        "digestS3Object",
        "previousDigestSignature",
        "digestEndTime",
        "digestStartTime",
    ];
    if required.iter().any(|k| json.get(k).is_none()) {
        return invalid("invalid format");
    }
    let s = |k: &str| json[k].as_str();
    let (Some(fp), Some(d_bucket), Some(d_key), Some(end_s), Some(start_s)) = (
        s("digestPublicKeyFingerprint"),
        s("digestS3Bucket"),
        s("digestS3Object"),
        s("digestEndTime"),
        s("digestStartTime"),
    ) else {
        return invalid("invalid format");
    };
    let previous_signature = match &json["previousDigestSignature"] {
        Value::Null => None,
        Value::String(p) => Some(p.as_str()),
        _ => return invalid("invalid format"),
    };
    let (Some(start), Some(end)) = (parse_time(start_s), parse_time(end_s)) else {
        return invalid("invalid format");
    };
    if d_bucket != bucket || d_key != key {
        return invalid("has been moved from its original location");
    }
    let Some(der) = req.public_keys.get(fp) else {
        return Ok(Err(DigestFailure::Invalid(format!(
            "public key not found in region {} for fingerprint {fp}",
            req.home_region
        ))));
    };
    let sha = sha256_hex(&json_bytes);
    let to_sign = signing_string(end_s, d_bucket, d_key, &sha, previous_signature);
    let verified = hex::decode(signature_hex).ok().is_some_and(|sig| {
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
            .verify(to_sign.as_bytes(), &sig)
            .is_ok()
    });
    if !verified {
        return invalid("signature verification failed");
    }
    Ok(Ok(ValidDigest {
        sha256_hex: sha,
        signature_hex: signature_hex.clone(),
        start,
        end,
        json,
    }))
}

fn check_log_file(
    source: &dyn ObjectSource,
    job: &LogJob,
    on_log_file: &(dyn Fn(u64) + Sync),
) -> Result<Result<(), String>, String> {
    let Some((body, _)) = source.get(&job.bucket, &job.key)? else {
        on_log_file(0);
        return Ok(Err("not found".into()));
    };
    on_log_file(body.len() as u64);
    Ok(match hash_first_member(&body) {
        Err(_) => Err("invalid format".into()),
        Ok((_, true)) => Err("unexpected data after end of compressed stream".into()),
        Ok((hash, false)) if hash != job.hash => Err("hash value doesn't match".into()),
        Ok(_) => Ok(()),
    })
}

/// A log file to check: where its finding sits and what its digest says.
struct LogJob {
    finding: usize,
    bucket: String,
    key: String,
    hash: String,
}

/// Checks the log files on `parallelism` threads; results in job order.
fn check_log_files(
    source: &dyn ObjectSource,
    jobs: &[LogJob],
    options: &ValidateOptions<'_>,
) -> Result<Vec<Result<(), String>>, String> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    // Per job: `Err` = the storage failed (aborts), `Ok(Err)` = the file is invalid.
    type Outcome = Result<Result<(), String>, String>;
    let results: Vec<std::sync::Mutex<Option<Outcome>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..options.parallelism.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    let r = check_log_file(source, job, options.on_log_file);
                    let failed = r.is_err();
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                    if failed {
                        // A storage failure aborts the run; stop taking work.
                        next.store(jobs.len(), std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or_else(|| Err("log file check did not run".into()))
        })
        .collect()
}

/// Pops listed keys until one strictly older than `before` (or the newest if `None`).
fn next_listed(
    listed: &mut Vec<(DateTime<Utc>, String)>,
    before: Option<DateTime<Utc>>,
) -> Option<(DateTime<Utc>, String)> {
    while let Some((t, k)) = listed.pop() {
        if before.is_none_or(|b| t < b) {
            return Some((t, k));
        }
    }
    None
}

/// Validates one digest chain; `Err` only for storage failures other than "not found".
pub fn validate(req: &ValidateRequest, source: &dyn ObjectSource) -> Result<Report, String> {
    validate_with(req, source, &ValidateOptions::default())
}

/// [`validate`], hashing log files in parallel and reporting progress as `options` say.
pub fn validate_with(
    req: &ValidateRequest,
    source: &dyn ObjectSource,
    options: &ValidateOptions<'_>,
) -> Result<Report, String> {
    let mut report = Report::default();
    let mut jobs: Vec<LogJob> = Vec::new();
    // Periods valid digests cover, for the unreferenced-file check.
    let mut covered: Vec<(DateTime<Utc>, DateTime<Utc>)> = Vec::new();
    // §2.8.2 step 5: keys in scope, not older than start, up to end + 1 h, ascending.
    let limit = req.end + chrono::Duration::hours(1);
    let mut listed: Vec<(DateTime<Utc>, String)> = req
        .listed_digests
        .iter()
        .filter_map(|k| key_time(req, k).map(|t| (t, k.clone())))
        .filter(|(t, _)| *t >= req.start && *t <= limit)
        .collect();
    listed.sort();

    let mut bucket = req.bucket.clone();
    let mut current = next_listed(&mut listed, None);
    let mut last_start = current.as_ref().map(|(t, _)| *t);
    let mut expect: Option<Expectation> = None;
    // Top of a hole left by failed digests: start of the newest valid digest above it, or the
    // failed digest's key time when none is.
    let mut hole_top: Option<DateTime<Utc>> = None;
    let mut referenced: HashSet<(String, String)> = HashSet::new();

    while let Some((key_t, key)) = current.take() {
        if last_start.is_some_and(|ls| req.start > ls) {
            break;
        }
        match load_digest(req, source, &bucket, &key)? {
            Ok(d) => {
                if let Some(e) = expect.take()
                    && e.target == (bucket.clone(), key.clone())
                {
                    let mut reasons = Vec::new();
                    if e.hash.as_deref() != Some(d.sha256_hex.as_str()) {
                        reasons.push("previousDigestHashValue");
                    }
                    if e.signature.as_deref() != Some(d.signature_hex.as_str()) {
                        reasons.push("previousDigestSignature");
                    }
                    if e.start != d.end {
                        reasons.push("digestStartTime");
                    }
                    if !reasons.is_empty() {
                        report.findings.push(Finding::ChainBroken {
                            bucket: e.bucket,
                            key: e.key,
                            reason: format!(
                                "{} do not match s3://{bucket}/{key}",
                                reasons.join(", ")
                            ),
                        });
                    }
                }
                if let Some(top) = hole_top.take()
                    && d.end < top
                {
                    report.findings.push(Finding::Uncovered {
                        from: format_time(d.end),
                        to: format_time(top),
                    });
                }
                report.digests_valid += 1;
                report.findings.push(Finding::Digest {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    result: Ok(()),
                });
                let (a, b) = (d.start.max(req.start), d.end.min(req.end));
                report.found = Some(match report.found {
                    None => (a, b),
                    Some((x, y)) => (x.min(a), y.max(b)),
                });
                covered.push((d.start, d.end));
                for lf in d.json["logFiles"].as_array().into_iter().flatten() {
                    let g = |k: &str| lf[k].as_str().unwrap_or_default().to_string();
                    let (lb, lk) = (g("s3Bucket"), g("s3Object"));
                    referenced.insert((lb.clone(), lk.clone()));
                    jobs.push(LogJob {
                        finding: report.findings.len(),
                        bucket: lb.clone(),
                        key: lk.clone(),
                        hash: g("hashValue"),
                    });
                    // Filled in once every log file is checked.
                    report.findings.push(Finding::LogFile {
                        bucket: lb,
                        key: lk,
                        result: Ok(()),
                    });
                }
                last_start = Some(d.start);
                let prev_bucket = d.json["previousDigestS3Bucket"].as_str();
                let prev_key = d.json["previousDigestS3Object"].as_str();
                match (prev_bucket, prev_key) {
                    (Some(pb), Some(pk)) => {
                        expect = Some(Expectation {
                            bucket: bucket.clone(),
                            key: key.clone(),
                            target: (pb.to_string(), pk.to_string()),
                            hash: d.json["previousDigestHashValue"].as_str().map(Into::into),
                            signature: d.json["previousDigestSignature"].as_str().map(Into::into),
                            start: d.start,
                        });
                        // Pointer keys need not be listed; their time is only used for gaps.
                        let t = key_time(req, pk).unwrap_or(d.start);
                        bucket = pb.to_string();
                        current = Some((t, pk.to_string()));
                    }
                    _ => {
                        current = next_listed(&mut listed, Some(key_t));
                        if let Some((t, _)) = &current {
                            report.findings.push(Finding::Gap {
                                from: format_time(*t),
                                to: format_time(d.start),
                            });
                        }
                    }
                }
            }
            Err(failure) => {
                let message = match failure {
                    DigestFailure::Missing => "not found".to_string(),
                    DigestFailure::Invalid(m) => m,
                };
                report.digests_invalid += 1;
                report.findings.push(Finding::Digest {
                    bucket: bucket.clone(),
                    key: key.clone(),
                    result: Err(message),
                });
                expect = None;
                hole_top.get_or_insert(last_start.unwrap_or(key_t).min(key_t));
                current = next_listed(&mut listed, Some(key_t));
            }
        }
    }
    if let Some(top) = hole_top
        && req.start < top
    {
        report.findings.push(Finding::Uncovered {
            from: format_time(req.start),
            to: format_time(top),
        });
    }
    for (job, result) in jobs.iter().zip(check_log_files(source, &jobs, options)?) {
        if result.is_ok() {
            report.logs_valid += 1;
        } else {
            report.logs_invalid += 1;
        }
        if let Finding::LogFile { result: slot, .. } = &mut report.findings[job.finding] {
            *slot = result;
        }
    }
    if let Some(present) = &req.present_log_files {
        for f in present {
            let in_covered_period = covered
                .iter()
                // Half-open: S3 reports `LastModified` in whole seconds, digests start on one.
                .any(|(start, end)| *start <= f.last_modified && f.last_modified < *end);
            if in_covered_period && !referenced.contains(&(f.bucket.clone(), f.key.clone())) {
                report.findings.push(Finding::Unreferenced {
                    bucket: f.bucket.clone(),
                    key: f.key.clone(),
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::{
        ChainLink, DigestInput, LogFileEntry, SignedDigest, digest_key, gzip, produce_digest,
    };
    use crate::keys::KeyRing;
    use chrono::{Duration, TimeZone};

    const B: &str = "trail-bucket";
    const ACCT: &str = "123456789012";
    const REGION: &str = "us-east-1";

    #[derive(Default)]
    struct Store(HashMap<(String, String), Object>);

    impl ObjectSource for Store {
        fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String> {
            Ok(self.0.get(&(bucket.to_string(), key.to_string())).cloned())
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        ring: KeyRing,
        store: Store,
        t0: DateTime<Utc>,
        /// Digest keys, oldest first.
        digests: Vec<String>,
        links: Vec<ChainLink>,
        logs: Vec<String>,
    }

    fn log_body(i: usize) -> Vec<u8> {
        format!(r#"{{"Records":[{{"eventTime":"2026-11-23T0{i}:00:00Z","n":{i}}}]}}"#).into_bytes()
    }

    fn entry(key: &str, i: usize) -> LogFileEntry {
        let t = format!("2026-11-23T0{i}:00:00Z");
        LogFileEntry {
            bucket: B.into(),
            key: key.into(),
            sha256_hex: sha256_hex(&log_body(i)),
            oldest_event_time: Some(t.clone()),
            newest_event_time: Some(t),
        }
    }

    fn put_digest(store: &mut Store, key: &str, d: &SignedDigest) {
        store.0.insert(
            (B.into(), key.into()),
            (d.gzip.clone(), d.metadata().into_iter().collect()),
        );
    }

    fn build(
        ring: &KeyRing,
        t0: DateTime<Utc>,
        i: usize,
        logs: &[LogFileEntry],
        previous: Option<&ChainLink>,
    ) -> (String, SignedDigest) {
        let end = t0 + Duration::hours(i as i64 + 1);
        let key = digest_key(None, None, ACCT, REGION, "trail", REGION, end);
        let input = DigestInput {
            account: ACCT,
            start: end - Duration::hours(1),
            end,
            bucket: B,
            key: &key,
            fingerprint: "",
            log_files: logs,
            previous,
        };
        let d = produce_digest(ring, REGION, &input).unwrap();
        (key, d)
    }

    /// `n` hourly digests, digest `i` listing log file `i`.
    fn fixture(n: usize) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 1, 31).unwrap();
        let ring = KeyRing::open(
            &dir.path().join("keys.json"),
            &[REGION.to_string()],
            t0 - Duration::days(1),
        )
        .unwrap();
        let mut store = Store::default();
        let (mut digests, mut links, mut logs) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let log_key = format!("AWSLogs/{ACCT}/CloudTrail/{REGION}/2026/11/23/log{i}.json.gz");
            store.0.insert(
                (B.into(), log_key.clone()),
                (gzip(&log_body(i)), HashMap::new()),
            );
            let (key, d) = build(&ring, t0, i, &[entry(&log_key, i)], links.last());
            put_digest(&mut store, &key, &d);
            digests.push(key);
            links.push(d.link.clone());
            logs.push(log_key);
        }
        Fixture {
            _dir: dir,
            ring,
            store,
            t0,
            digests,
            links,
            logs,
        }
    }

    fn request(fx: &Fixture) -> ValidateRequest {
        let far = fx.t0 + Duration::days(30);
        ValidateRequest {
            bucket: B.into(),
            prefix: None,
            org_id: None,
            account: ACCT.into(),
            region: REGION.into(),
            trail_name: "trail".into(),
            home_region: REGION.into(),
            start: fx.t0,
            end: fx.t0 + Duration::hours(fx.digests.len() as i64),
            listed_digests: fx
                .store
                .0
                .keys()
                .filter(|(_, k)| k.contains("CloudTrail-Digest"))
                .map(|(_, k)| k.clone())
                .collect(),
            public_keys: fx
                .ring
                .public_keys(REGION, fx.t0 - Duration::days(2), far)
                .into_iter()
                .map(|k| (k.fingerprint, k.der))
                .collect(),
            present_log_files: None,
        }
    }

    fn run(fx: &Fixture) -> (Report, Vec<String>) {
        let report = validate(&request(fx), &fx.store).unwrap();
        let lines = report.findings.iter().map(Finding::line).collect();
        (report, lines)
    }

    fn d(fx: &Fixture, i: usize, status: &str) -> String {
        format!("Digest file\ts3://{B}/{}\t{status}", fx.digests[i])
    }

    fn l(fx: &Fixture, i: usize, status: &str) -> String {
        format!("Log file\ts3://{B}/{}\t{status}", fx.logs[i])
    }

    fn t(fx: &Fixture, hours: i64) -> String {
        format_time(fx.t0 + Duration::hours(hours))
    }

    #[test]
    fn intact_chain_is_valid() {
        let fx = fixture(3);
        let (report, lines) = run(&fx);
        assert_eq!(
            lines,
            [
                d(&fx, 2, "valid"),
                l(&fx, 2, "valid"),
                d(&fx, 1, "valid"),
                l(&fx, 1, "valid"),
                d(&fx, 0, "valid"),
                l(&fx, 0, "valid"),
            ]
        );
        assert!(report.ok());
        assert_eq!(
            report.summary(fx.t0, fx.t0 + Duration::hours(3)),
            [
                "Results requested for 2026-11-23T08:01:31Z to 2026-11-23T11:01:31Z",
                "Results found for 2026-11-23T08:01:31Z to 2026-11-23T11:01:31Z:",
                "",
                "3/3 digest files valid",
                "3/3 log files valid",
            ]
        );
    }

    #[test]
    fn modified_log_file() {
        let mut fx = fixture(3);
        let k = (B.to_string(), fx.logs[1].clone());
        fx.store.0.get_mut(&k).unwrap().0 = gzip(b"{\"Records\":[]}");
        let (report, lines) = run(&fx);
        assert_eq!(lines[3], l(&fx, 1, "INVALID: hash value doesn't match"));
        assert_eq!((report.logs_valid, report.logs_invalid), (2, 1));
        assert_eq!(
            report.summary(fx.t0, fx.t0)[4],
            "2/3 log files valid, 1/3 log files INVALID"
        );
        assert!(!report.ok());
    }

    #[test]
    fn deleted_log_file() {
        let mut fx = fixture(3);
        fx.store.0.remove(&(B.to_string(), fx.logs[0].clone()));
        let (report, lines) = run(&fx);
        assert_eq!(lines[5], l(&fx, 0, "INVALID: not found"));
        assert_eq!(report.logs_invalid, 1);
    }

    #[test]
    fn bytes_appended_after_the_gzip_stream() {
        let mut fx = fixture(3);
        let k = (B.to_string(), fx.logs[2].clone());
        let extra = gzip(b"{}");
        fx.store.0.get_mut(&k).unwrap().0.extend_from_slice(&extra);
        let (_, lines) = run(&fx);
        assert_eq!(
            lines[1],
            l(
                &fx,
                2,
                "INVALID: unexpected data after end of compressed stream"
            )
        );
    }

    #[test]
    fn modified_digest() {
        let mut fx = fixture(3);
        let k = (B.to_string(), fx.digests[1].clone());
        let obj = fx.store.0.get_mut(&k).unwrap();
        let (json, _) = gunzip_first_member(&obj.0).unwrap();
        let json = String::from_utf8(json).unwrap().replace("log1", "logX");
        obj.0 = gzip(json.as_bytes());
        let (report, lines) = run(&fx);
        assert_eq!(
            lines,
            [
                d(&fx, 2, "valid"),
                l(&fx, 2, "valid"),
                d(&fx, 1, "INVALID: signature verification failed"),
                format!(
                    "Digest chain\tINVALID: no valid digest covers {} to {}",
                    t(&fx, 1),
                    t(&fx, 2)
                ),
                d(&fx, 0, "valid"),
                l(&fx, 0, "valid"),
            ]
        );
        assert_eq!((report.digests_valid, report.digests_invalid), (2, 1));
        assert_eq!(
            report.summary(fx.t0, fx.t0)[3],
            "2/3 digest files valid, 1/3 digest files INVALID"
        );
    }

    #[test]
    fn digest_without_signature_metadata() {
        let mut fx = fixture(3);
        let k = (B.to_string(), fx.digests[2].clone());
        fx.store
            .0
            .get_mut(&k)
            .unwrap()
            .1
            .remove("signature-algorithm");
        let (_, lines) = run(&fx);
        assert_eq!(
            lines[0],
            d(&fx, 2, "INVALID: signature verification failed")
        );
    }

    #[test]
    fn deleted_digest() {
        let mut fx = fixture(3);
        fx.store.0.remove(&(B.to_string(), fx.digests[1].clone()));
        let (report, lines) = run(&fx);
        assert_eq!(
            lines,
            [
                d(&fx, 2, "valid"),
                l(&fx, 2, "valid"),
                d(&fx, 1, "INVALID: not found"),
                format!(
                    "Digest chain\tINVALID: no valid digest covers {} to {}",
                    t(&fx, 1),
                    t(&fx, 2)
                ),
                d(&fx, 0, "valid"),
                l(&fx, 0, "valid"),
            ]
        );
        assert_eq!((report.digests_valid, report.digests_invalid), (2, 1));
    }

    #[test]
    fn two_deleted_digests_in_a_row() {
        let mut fx = fixture(4);
        fx.store.0.remove(&(B.to_string(), fx.digests[1].clone()));
        fx.store.0.remove(&(B.to_string(), fx.digests[2].clone()));
        let (report, lines) = run(&fx);
        // The stock CLI only reports the first of them; the hole shows both periods.
        assert_eq!(
            lines,
            [
                d(&fx, 3, "valid"),
                l(&fx, 3, "valid"),
                d(&fx, 2, "INVALID: not found"),
                format!(
                    "Digest chain\tINVALID: no valid digest covers {} to {}",
                    t(&fx, 1),
                    t(&fx, 3)
                ),
                d(&fx, 0, "valid"),
                l(&fx, 0, "valid"),
            ]
        );
        assert_eq!((report.digests_valid, report.digests_invalid), (2, 1));
    }

    #[test]
    fn deleted_oldest_digests_leave_a_hole_down_to_the_start() {
        let mut fx = fixture(3);
        fx.store.0.remove(&(B.to_string(), fx.digests[0].clone()));
        fx.store.0.remove(&(B.to_string(), fx.digests[1].clone()));
        let (_, lines) = run(&fx);
        assert_eq!(
            lines,
            [
                d(&fx, 2, "valid"),
                l(&fx, 2, "valid"),
                d(&fx, 1, "INVALID: not found"),
                format!(
                    "Digest chain\tINVALID: no valid digest covers {} to {}",
                    t(&fx, 0),
                    t(&fx, 2)
                ),
            ]
        );
    }

    #[test]
    fn digest_signed_by_an_unknown_key() {
        let mut fx = fixture(3);
        let other_dir = tempfile::tempdir().unwrap();
        let other = KeyRing::open(
            &other_dir.path().join("keys.json"),
            &[REGION.to_string()],
            fx.t0 - Duration::days(1),
        )
        .unwrap();
        let (key, forged) = build(
            &other,
            fx.t0,
            1,
            &[entry(&fx.logs[1], 1)],
            Some(&fx.links[0]),
        );
        assert_eq!(key, fx.digests[1]);
        put_digest(&mut fx.store, &key, &forged);
        let (_, lines) = run(&fx);
        assert_eq!(
            lines[2],
            d(
                &fx,
                1,
                &format!(
                    "INVALID: public key not found in region us-east-1 for fingerprint {}",
                    forged.fingerprint
                )
            )
        );
    }

    #[test]
    fn replaced_digest_breaks_the_chain() {
        let mut fx = fixture(3);
        // A validly signed digest (same key, same place) that drops the log file.
        let (key, other) = build(&fx.ring, fx.t0, 1, &[], Some(&fx.links[0]));
        put_digest(&mut fx.store, &key, &other);
        let (report, lines) = run(&fx);
        assert_eq!(
            lines,
            [
                d(&fx, 2, "valid"),
                l(&fx, 2, "valid"),
                format!(
                    "Digest file\ts3://{B}/{}\tINVALID: chain broken: previousDigestHashValue, previousDigestSignature do not match s3://{B}/{}",
                    fx.digests[2], fx.digests[1]
                ),
                d(&fx, 1, "valid"),
                d(&fx, 0, "valid"),
                l(&fx, 0, "valid"),
            ]
        );
        // The stock CLI would see nothing wrong.
        assert_eq!(report.digests_invalid + report.logs_invalid, 0);
        assert!(!report.ok());
    }

    #[test]
    fn restarted_chain_is_a_gap_not_an_error() {
        let mut fx = fixture(3);
        let log = fx.logs[2].clone();
        let (key, restarted) = build(&fx.ring, fx.t0, 2, &[entry(&log, 2)], None);
        put_digest(&mut fx.store, &key, &restarted);
        let (report, lines) = run(&fx);
        assert_eq!(
            lines[2],
            format!(
                "No log files were delivered by CloudTrail between {} and {}",
                t(&fx, 2),
                t(&fx, 2)
            )
        );
        assert_eq!(lines[3], d(&fx, 1, "valid"));
        assert_eq!(report.digests_valid, 3);
        assert!(report.ok());
    }

    #[test]
    fn log_file_no_digest_lists() {
        let mut fx = fixture(3);
        let stray = format!("AWSLogs/{ACCT}/CloudTrail/{REGION}/2026/11/23/stray.json.gz");
        fx.store.0.insert(
            (B.into(), stray.clone()),
            (gzip(&log_body(5)), HashMap::new()),
        );
        let mut req = request(&fx);
        let present = |key: &str, hours: i64| PresentLogFile {
            bucket: B.into(),
            key: key.into(),
            last_modified: fx.t0 + Duration::minutes(hours * 60 + 30),
        };
        let mut files: Vec<PresentLogFile> =
            (0..3).map(|i| present(&fx.logs[i], i as i64)).collect();
        // Stored inside the second digest's period, but no digest lists it.
        files.push(present(&stray, 1));
        // Stored after the newest digest: not digested yet, not a finding.
        files.push(present("AWSLogs/late.json.gz", 3));
        // Stored before the chain began (validation off then): never digested, not a finding.
        files.push(present("AWSLogs/early.json.gz", -1));
        req.present_log_files = Some(files);
        let report = validate(&req, &fx.store).unwrap();
        assert_eq!(
            report.findings.last().unwrap().line(),
            format!("Log file\ts3://{B}/{stray}\tINVALID: not listed in any digest")
        );
        assert_eq!(report.findings.iter().filter(|f| f.is_problem()).count(), 1);
    }

    #[test]
    fn moved_digest() {
        let mut fx = fixture(3);
        let newest = fx.digests[2].clone();
        let obj = fx.store.0.remove(&(B.to_string(), newest.clone())).unwrap();
        let moved = newest.replace("2026/11/23", "2026/11/24");
        fx.store.0.insert((B.into(), moved.clone()), obj);
        let (_, lines) = run(&fx);
        assert_eq!(
            lines[0],
            format!(
                "Digest file\ts3://{B}/{moved}\tINVALID: has been moved from its original location"
            )
        );
    }
}

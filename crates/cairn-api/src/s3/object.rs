//! `GetObject` and `HeadObject`: a file of the bucket folder, its ETag (the hex MD5 of its
//! content, cached by path, size and modification time), its sidecar metadata, conditional
//! requests and single byte ranges.
//!
//! The sidecar `<bucket>/.cairn-meta/<key>.json` is a flat JSON map. Its entries become
//! `x-amz-meta-<name>` headers (names lower-cased), except the standard headers S3 keeps as
//! system metadata — `content-type`, `content-encoding`, `content-disposition`,
//! `content-language`, `cache-control`, `expires` — which are sent as themselves. Without a
//! `content-type` entry an object is `application/octet-stream`.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};

use super::error::S3Error;
use super::xml::http_date;
use crate::buckets::LocalBuckets;

/// Sidecar entries sent as standard headers rather than as `x-amz-meta-*`.
const SYSTEM_METADATA: &[&str] = &[
    "content-type",
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
];

/// Query parameters that override a response header (`GetObject`).
pub(crate) const RESPONSE_OVERRIDES: &[(&str, &str)] = &[
    ("response-content-type", "content-type"),
    ("response-content-language", "content-language"),
    ("response-expires", "expires"),
    ("response-cache-control", "cache-control"),
    ("response-content-disposition", "content-disposition"),
    ("response-content-encoding", "content-encoding"),
];

/// An object's file, after the checks that keep reads inside the bucket folder.
pub(crate) struct Stat {
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// Finds object `key` of `bucket` (blocking). `NoSuchBucket`/`NoSuchKey` when absent, when the
/// key cannot be a file there, or when the file is a symbolic link or reached through one that
/// leads out of the bucket folder.
pub(crate) fn stat(local: &LocalBuckets, bucket: &str, key: &str) -> Result<Stat, S3Error> {
    let bucket_dir = local.path(bucket);
    if !bucket_dir.is_dir() {
        return Err(S3Error::no_such_bucket(bucket));
    }
    let no_such_key = || S3Error::no_such_key(key);
    let path = local.object_path(bucket, key).ok_or_else(no_such_key)?;
    let meta = match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => return Err(no_such_key()),
        Err(e) if is_absent(&e) => return Err(no_such_key()),
        Err(e) => return Err(S3Error::internal(format!("{}: {e}", path.display()))),
    };
    let inside = match (fs::canonicalize(&path), fs::canonicalize(&bucket_dir)) {
        (Ok(p), Ok(b)) => p.starts_with(b),
        _ => false,
    };
    if !inside {
        tracing::warn!(path = %path.display(), "refusing to serve a file outside its bucket folder");
        return Err(no_such_key());
    }
    Ok(Stat {
        path,
        size: meta.len(),
        modified: meta.modified().map_err(S3Error::internal)?,
    })
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename
    )
}

/// ETags already computed, by path, valid while size and modification time stay the same.
type EtagCache = HashMap<PathBuf, (u64, SystemTime, String)>;
static ETAGS: LazyLock<Mutex<EtagCache>> = LazyLock::new(Default::default);
/// Past this many entries the cache starts over (bounds its memory).
const ETAG_CACHE_ENTRIES: usize = 100_000;

fn cached_etag(path: &Path, size: u64, modified: SystemTime) -> Option<String> {
    let cache = ETAGS.lock().unwrap_or_else(|p| p.into_inner());
    match cache.get(path) {
        Some((s, m, etag)) if *s == size && *m == modified => Some(etag.clone()),
        _ => None,
    }
}

fn remember_etag(path: &Path, size: u64, modified: SystemTime, etag: &str) {
    let mut cache = ETAGS.lock().unwrap_or_else(|p| p.into_inner());
    if cache.len() >= ETAG_CACHE_ENTRIES {
        cache.clear();
    }
    cache.insert(path.to_path_buf(), (size, modified, etag.to_string()));
}

/// The ETag of a file: `"<hex md5>"` (blocking; reads the file unless cached).
pub(crate) fn etag(path: &Path, size: u64, modified: SystemTime) -> io::Result<String> {
    if let Some(etag) = cached_etag(path, size, modified) {
        return Ok(etag);
    }
    let mut file = fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let etag = format!("\"{}\"", hex::encode(hasher.finalize()));
    remember_etag(path, size, modified, &etag);
    Ok(etag)
}

/// The sidecar entries of an object as (lower-case name, value); none when it has no sidecar.
fn metadata(local: &LocalBuckets, bucket: &str, key: &str) -> Vec<(String, String)> {
    let Some(path) = local.metadata_path(bucket, key) else {
        return Vec::new();
    };
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if is_absent(&e) => return Vec::new(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read an object's metadata");
            return Vec::new();
        }
    };
    match serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text) {
        Ok(map) => map
            .into_iter()
            .map(|(name, value)| {
                let name = name.to_ascii_lowercase();
                let name = name
                    .strip_prefix("x-amz-meta-")
                    .unwrap_or(&name)
                    .to_string();
                let value = match value {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (name, value)
            })
            .collect(),
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "an object's metadata is not a JSON object");
            Vec::new()
        }
    }
}

/// What a `GetObject`/`HeadObject` reads, gathered off the async threads.
pub(crate) struct Found {
    size: u64,
    modified: SystemTime,
    etag: String,
    metadata: Vec<(String, String)>,
    /// The requested bytes (`GetObject` only), or why not.
    body: Result<Option<Vec<u8>>, Answer>,
    range: Option<(u64, u64)>,
}

/// An answer decided before reading the body.
pub(crate) enum Answer {
    NotModified,
    Failed(S3Error),
}

/// The request headers that shape the answer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    range: Option<String>,
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<String>,
    if_unmodified_since: Option<String>,
}

impl Conditions {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Conditions {
        let get = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Conditions {
            range: get(header::RANGE),
            if_match: get(header::IF_MATCH),
            if_none_match: get(header::IF_NONE_MATCH),
            if_modified_since: get(header::IF_MODIFIED_SINCE),
            if_unmodified_since: get(header::IF_UNMODIFIED_SINCE),
        }
    }
}

/// Reads object `key` (blocking): its facts, and for `GetObject` (`with_body`) the bytes asked for.
pub(crate) fn read(
    local: &LocalBuckets,
    bucket: &str,
    key: &str,
    conditions: &Conditions,
    with_body: bool,
) -> Result<Found, S3Error> {
    let stat = stat(local, bucket, key)?;
    let whole_body = with_body && conditions.range.is_none();
    // A whole-object read on a cache miss hashes the bytes it reads anyway.
    let mut preloaded = None;
    let etag = match cached_etag(&stat.path, stat.size, stat.modified) {
        Some(etag) => etag,
        None if whole_body => {
            let bytes = fs::read(&stat.path).map_err(S3Error::internal)?;
            let etag = format!("\"{}\"", hex::encode(Md5::digest(&bytes)));
            if bytes.len() as u64 == stat.size {
                remember_etag(&stat.path, stat.size, stat.modified, &etag);
            }
            preloaded = Some(bytes);
            etag
        }
        None => etag(&stat.path, stat.size, stat.modified).map_err(S3Error::internal)?,
    };
    let size = preloaded.as_ref().map_or(stat.size, |b| b.len() as u64);
    let mut found = Found {
        size,
        modified: stat.modified,
        etag,
        metadata: metadata(local, bucket, key),
        body: Ok(None),
        range: None,
    };
    if let Some(answer) = precondition(&found, conditions) {
        found.body = Err(answer);
        return Ok(found);
    }
    let range = match parse_range(conditions.range.as_deref(), size) {
        Range::Whole => None,
        Range::Part(start, end) => Some((start, end)),
        Range::Unsatisfiable(asked) => {
            found.body = Err(Answer::Failed(
                S3Error::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                )
                .detail("RangeRequested", asked)
                .detail("ActualObjectSize", size.to_string())
                .header("content-range", format!("bytes */{size}")),
            ));
            return Ok(found);
        }
    };
    found.range = range;
    if with_body {
        let bytes = match (preloaded, range) {
            (Some(bytes), None) => bytes,
            (Some(bytes), Some((start, end))) => bytes[start as usize..=end as usize].to_vec(),
            (None, range) => {
                let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
                read_part(
                    &stat.path,
                    start,
                    if size == 0 { 0 } else { end - start + 1 },
                )
                .map_err(S3Error::internal)?
            }
        };
        found.body = Ok(Some(bytes));
    }
    Ok(found)
}

fn read_part(path: &Path, start: u64, len: u64) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(len).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// RFC 9110's precondition order: `If-Match`, else `If-Unmodified-Since` (412); then
/// `If-None-Match`, else `If-Modified-Since` (304).
fn precondition(found: &Found, c: &Conditions) -> Option<Answer> {
    let modified = seconds(found.modified);
    let failed = |condition: &str| {
        Answer::Failed(
            S3Error::new(
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold",
            )
            .detail("Condition", condition),
        )
    };
    if let Some(list) = &c.if_match {
        if !etag_matches(list, &found.etag) {
            return Some(failed("If-Match"));
        }
    } else if let Some(since) = c.if_unmodified_since.as_deref().and_then(parse_http_date)
        && modified > since
    {
        return Some(failed("If-Unmodified-Since"));
    }
    if let Some(list) = &c.if_none_match {
        if etag_matches(list, &found.etag) {
            return Some(Answer::NotModified);
        }
    } else if let Some(since) = c.if_modified_since.as_deref().and_then(parse_http_date)
        && modified <= since
    {
        return Some(Answer::NotModified);
    }
    None
}

fn etag_matches(list: &str, etag: &str) -> bool {
    let bare = |t: &str| {
        t.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_string()
    };
    list.split(',')
        .any(|t| t.trim() == "*" || bare(t) == bare(etag))
}

fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// A time at the second precision S3 reports.
fn seconds(t: SystemTime) -> DateTime<Utc> {
    let t = DateTime::<Utc>::from(t);
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[derive(Debug, PartialEq, Eq)]
enum Range {
    Whole,
    /// First and last byte, inclusive.
    Part(u64, u64),
    /// The header, for the error.
    Unsatisfiable(String),
}

/// One `bytes=` range; anything S3 ignores (malformed, several ranges) means the whole object.
fn parse_range(header: Option<&str>, size: u64) -> Range {
    let Some(text) = header else {
        return Range::Whole;
    };
    let Some(spec) = text.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let unsatisfiable = || Range::Unsatisfiable(text.to_string());
    let number = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => Range::Whole,
        // The last n bytes.
        (true, false) => match number(last) {
            None => Range::Whole,
            Some(0) => unsatisfiable(),
            Some(_) if size == 0 => unsatisfiable(),
            Some(n) => Range::Part(size - n.min(size), size - 1),
        },
        (false, open_end) => {
            let Some(start) = number(first) else {
                return Range::Whole;
            };
            let end = if open_end {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    _ => return Range::Whole,
                }
            };
            if start >= size {
                unsatisfiable()
            } else {
                Range::Part(start, end.min(size - 1))
            }
        }
    }
}

/// The response: headers, and the body for `GetObject` (`HEAD` answers have none).
pub(crate) fn respond(
    found: Found,
    overrides: &[(&'static str, String)],
    request_id: &str,
    head: bool,
) -> Response {
    let modified = seconds(found.modified);
    let mut headers = HeaderMap::new();
    put(&mut headers, "etag", &found.etag);
    put(&mut headers, "last-modified", &http_date(modified));
    put(&mut headers, "accept-ranges", "bytes");
    if matches!(found.body, Err(Answer::NotModified)) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    put(&mut headers, "content-type", "application/octet-stream");
    for (name, value) in &found.metadata {
        if SYSTEM_METADATA.contains(&name.as_str()) {
            put(&mut headers, name, value);
        } else {
            put(&mut headers, &format!("x-amz-meta-{name}"), value);
        }
    }
    for (name, value) in overrides {
        put(&mut headers, name, value);
    }
    let (status, length) = match found.range {
        Some((start, end)) => {
            let range = format!("bytes {start}-{end}/{}", found.size);
            put(&mut headers, "content-range", &range);
            (StatusCode::PARTIAL_CONTENT, end - start + 1)
        }
        None => (StatusCode::OK, found.size),
    };
    put(&mut headers, "content-length", &length.to_string());
    let body = match found.body {
        Err(Answer::Failed(e)) => return e.render(request_id, head),
        Err(Answer::NotModified) | Ok(None) => Body::empty(),
        Ok(Some(bytes)) => Body::from(bytes),
    };
    (status, headers, body).into_response()
}

/// Sets a header; metadata that cannot be one (a name or value HTTP does not allow) is skipped.
fn put(headers: &mut HeaderMap, name: &str, value: &str) {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(v)) => {
            headers.insert(n, v);
        }
        _ => tracing::warn!(
            name,
            "skipping object metadata that cannot be an HTTP header"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_s3() {
        assert_eq!(parse_range(None, 10), Range::Whole);
        assert_eq!(parse_range(Some("bytes=0-4"), 10), Range::Part(0, 4));
        assert_eq!(parse_range(Some("bytes=5-"), 10), Range::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), Range::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), Range::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), Range::Part(0, 9));
        assert_eq!(
            parse_range(Some("bytes=10-"), 10),
            Range::Unsatisfiable("bytes=10-".into())
        );
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            Range::Unsatisfiable("bytes=0-".into())
        );
        assert_eq!(
            parse_range(Some("bytes=-0"), 10),
            Range::Unsatisfiable("bytes=-0".into())
        );
        for ignored in [
            "bytes=4-2",
            "bytes=0-1,3-4",
            "items=0-1",
            "bytes=x-",
            "bytes=-",
        ] {
            assert_eq!(parse_range(Some(ignored), 10), Range::Whole, "{ignored}");
        }
    }

    #[test]
    fn etags_match_lists_weak_tags_and_stars() {
        let etag = "\"abc\"";
        assert!(etag_matches("\"abc\"", etag));
        assert!(etag_matches("\"x\", W/\"abc\"", etag));
        assert!(etag_matches("*", etag));
        assert!(!etag_matches("\"x\"", etag));
    }

    #[test]
    fn reads_objects_with_metadata_ranges_and_conditions() {
        let tmp = tempfile::tempdir().unwrap();
        let local = LocalBuckets::new(tmp.path().to_path_buf());
        local.create("logs").unwrap();
        let object = local.object_path("logs", "d/x.json.gz").unwrap();
        fs::create_dir_all(object.parent().unwrap()).unwrap();
        fs::write(&object, b"hello world").unwrap();
        let sidecar = local.metadata_path("logs", "d/x.json.gz").unwrap();
        fs::create_dir_all(sidecar.parent().unwrap()).unwrap();
        fs::write(
            &sidecar,
            r#"{"Signature": "abc", "signature-algorithm": "SHA256withRSA", "content-type": "application/json"}"#,
        )
        .unwrap();
        let md5 = "\"5eb63bbbe01eeed093cb22bb8f5acdc3\"";

        let found = read(&local, "logs", "d/x.json.gz", &Conditions::default(), true).unwrap();
        assert_eq!(found.etag, md5);
        assert_eq!(
            found.body.as_ref().ok().cloned().flatten().unwrap(),
            b"hello world"
        );
        let resp = respond(found, &[], "r", false);
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["x-amz-meta-signature"], "abc");
        assert_eq!(h["x-amz-meta-signature-algorithm"], "SHA256withRSA");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["content-length"], "11");
        assert_eq!(h["etag"], md5);

        let ranged = Conditions {
            range: Some("bytes=6-".into()),
            ..Conditions::default()
        };
        let found = read(&local, "logs", "d/x.json.gz", &ranged, true).unwrap();
        assert_eq!(
            found.body.as_ref().ok().cloned().flatten().unwrap(),
            b"world"
        );
        let resp = respond(found, &[], "r", false);
        assert_eq!(resp.status(), 206);
        assert_eq!(resp.headers()["content-range"], "bytes 6-10/11");
        assert_eq!(resp.headers()["content-length"], "5");

        let cached = Conditions {
            if_none_match: Some(md5.into()),
            ..Conditions::default()
        };
        let found = read(&local, "logs", "d/x.json.gz", &cached, true).unwrap();
        assert_eq!(respond(found, &[], "r", false).status(), 304);
        let stale = Conditions {
            if_match: Some("\"other\"".into()),
            ..Conditions::default()
        };
        let found = read(&local, "logs", "d/x.json.gz", &stale, true).unwrap();
        assert_eq!(respond(found, &[], "r", false).status(), 412);

        let missing = |bucket: &str, key: &str| {
            read(&local, bucket, key, &Conditions::default(), false)
                .err()
                .unwrap()
                .code
                .into_owned()
        };
        assert_eq!(missing("nope", "d/x.json.gz"), "NoSuchBucket");
        assert_eq!(missing("logs", "d/y"), "NoSuchKey");
        assert_eq!(missing("logs", "d"), "NoSuchKey");
        assert_eq!(missing("logs", "d/x.json.gz/z"), "NoSuchKey");
        assert_eq!(missing("logs", "../logs/d/x.json.gz"), "NoSuchKey");
        assert_eq!(missing("logs", ".cairn-meta/d/x.json.gz.json"), "NoSuchKey");
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_bucket_are_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let local = LocalBuckets::new(tmp.path().join("buckets"));
        local.create("logs").unwrap();
        fs::write(tmp.path().join("secret"), b"s").unwrap();
        fs::create_dir(tmp.path().join("outside")).unwrap();
        fs::write(tmp.path().join("outside/f"), b"f").unwrap();
        std::os::unix::fs::symlink(tmp.path().join("secret"), local.path("logs").join("s"))
            .unwrap();
        std::os::unix::fs::symlink(tmp.path().join("outside"), local.path("logs").join("o"))
            .unwrap();
        for key in ["s", "o/f"] {
            let err = read(&local, "logs", key, &Conditions::default(), true)
                .err()
                .unwrap();
            assert_eq!(err.code, "NoSuchKey", "{key}");
        }
    }
}

//! The bucket operations: `ListBuckets`, `CreateBucket`, `HeadBucket`, `GetBucketLocation`,
//! `ListObjects` and `ListObjectsV2`.

use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::error::S3Error;
use super::list::{self, Entry, ListRequest};
use super::xml::{self, Xml};
use super::{Call, blocking, object};

/// The most keys (and common prefixes) one listing page holds.
const MAX_KEYS: usize = 1000;

fn xml_response(body: String) -> Response {
    let mut resp = (StatusCode::OK, body).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    resp
}

/// The `<Owner>` of every bucket and object: the account. S3's owner id is a 64-hex canonical
/// user id; Cairn derives a stable one from the account id.
fn write_owner(xml: &mut Xml, account_id: &str) {
    let id = hex::encode(Sha256::digest(format!("cairn-canonical-user:{account_id}")));
    xml.open("Owner")
        .element("ID", &id)
        .element("DisplayName", account_id)
        .close("Owner");
}

/// Whether bucket `name` exists (blocking).
fn bucket_exists(dir: &Path) -> bool {
    dir.is_dir()
}

/// A bucket's creation time: its folder's birth time where the filesystem keeps one, else the
/// folder's modification time.
fn created(meta: &fs::Metadata) -> SystemTime {
    meta.created()
        .or_else(|_| meta.modified())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Fails with `NoSuchBucket` unless the call's bucket exists.
async fn existing_bucket(call: &Call<'_>) -> Result<String, S3Error> {
    let bucket = call.bucket()?.to_string();
    let dir = call.local.path(&bucket);
    if blocking(move || bucket_exists(&dir)).await? {
        Ok(bucket)
    } else {
        Err(S3Error::no_such_bucket(&bucket))
    }
}

/// `GET /`: every bucket folder with a valid bucket name, by name.
pub(super) async fn list_buckets(call: &Call<'_>) -> Result<Response, S3Error> {
    let q = &call.query;
    let max = match q.get("max-buckets") {
        None => usize::MAX,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=10_000).contains(&n) => n,
            _ => {
                return Err(S3Error::invalid_argument(
                    "Argument max-buckets must be an integer between 1 and 10000",
                )
                .detail("ArgumentName", "max-buckets")
                .detail("ArgumentValue", v));
            }
        },
    };
    let after = q.get("continuation-token").map(decode_token).transpose()?;
    let prefix = q.get("prefix").unwrap_or_default().to_string();
    let other_region = q
        .get("bucket-region")
        .is_some_and(|r| !r.is_empty() && r != call.region());
    let root = call.local.root().to_path_buf();
    let mut buckets = blocking(move || read_buckets(&root))
        .await?
        .map_err(S3Error::internal)?;
    buckets.retain(|(name, _)| {
        !other_region && name.starts_with(&prefix) && after.as_ref().is_none_or(|a| name > a)
    });
    let truncated = buckets.len() > max;
    buckets.truncate(max);

    let mut x = Xml::new();
    x.root("ListAllMyBucketsResult").open("Buckets");
    for (name, created) in &buckets {
        x.open("Bucket")
            .element("Name", name)
            .element(
                "CreationDate",
                &xml::iso8601(DateTime::<Utc>::from(*created)),
            )
            .element("BucketRegion", call.region())
            .close("Bucket");
    }
    x.close("Buckets");
    write_owner(&mut x, &call.state.config.account_id);
    if truncated && let Some((last, _)) = buckets.last() {
        x.element("ContinuationToken", &encode_token(last));
    }
    if let Some(prefix) = q.get("prefix") {
        x.element("Prefix", prefix);
    }
    x.close("ListAllMyBucketsResult");
    Ok(xml_response(x.finish()))
}

/// The bucket folders under `root` with valid names and their creation times, by name.
fn read_buckets(root: &Path) -> io::Result<Vec<(String, SystemTime)>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut buckets = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if cairn_core::trail::bucket_name(&name).is_err() {
            continue;
        }
        // Follows a symbolic link: a bucket folder may live on another disk.
        match fs::metadata(entry.path()) {
            Ok(meta) if meta.is_dir() => buckets.push((name, created(&meta))),
            _ => {}
        }
    }
    buckets.sort();
    Ok(buckets)
}

/// `PUT /<bucket>`: creates the folder. Every bucket is in the default region; a
/// `LocationConstraint` naming another is refused. Re-creating one's own bucket answers 200 in
/// us-east-1 (S3's legacy behaviour, what `aws s3 mb` gets there) and `BucketAlreadyOwnedByYou`
/// elsewhere.
pub(super) async fn create_bucket(call: &Call<'_>, body: &[u8]) -> Result<Response, S3Error> {
    let bucket = call.bucket()?.to_string();
    let region = call.region().to_string();
    if let Some(constraint) = location_constraint(body)?
        && constraint != region
    {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "IllegalLocationConstraintException",
            format!(
                "The {constraint} location constraint is incompatible for the region specific \
                 endpoint this request was sent to: Cairn keeps its buckets in {region}."
            ),
        )
        .detail("BucketName", &bucket));
    }
    let root = call.local.root().to_path_buf();
    let dir = call.local.path(&bucket);
    let created = blocking(move || -> io::Result<bool> {
        fs::create_dir_all(&root)?;
        match fs::create_dir(&dir) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
            Err(e) => Err(e),
        }
    })
    .await?
    .map_err(S3Error::internal)?;
    if !created && region != "us-east-1" {
        return Err(S3Error::new(
            StatusCode::CONFLICT,
            "BucketAlreadyOwnedByYou",
            "Your previous request to create the named bucket succeeded and you already own it.",
        )
        .detail("BucketName", &bucket));
    }
    tracing::info!(
        bucket,
        created,
        principal = %call.principal.arn(),
        "S3 CreateBucket"
    );
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/{bucket}")) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// The `LocationConstraint` of a `CreateBucketConfiguration` body; `None` for no body or an
/// empty constraint.
fn location_constraint(body: &[u8]) -> Result<Option<String>, S3Error> {
    let malformed = || {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "MalformedXML",
            "The XML you provided was not well-formed or did not validate against our published \
             schema",
        )
    };
    let text = std::str::from_utf8(body).map_err(|_| malformed())?.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if !text.contains("<CreateBucketConfiguration") || !text.ends_with('>') {
        return Err(malformed());
    }
    Ok(xml::first_element_text(text, "LocationConstraint").filter(|c| !c.is_empty()))
}

/// `HEAD /<bucket>`.
pub(super) async fn head_bucket(call: &Call<'_>) -> Result<Response, S3Error> {
    existing_bucket(call).await?;
    let mut resp = StatusCode::OK.into_response();
    if let Ok(v) = HeaderValue::from_str(call.region()) {
        resp.headers_mut().insert("x-amz-bucket-region", v);
    }
    resp.headers_mut().insert(
        "x-amz-access-point-alias",
        HeaderValue::from_static("false"),
    );
    Ok(resp)
}

/// `GET /<bucket>?location`: empty for us-east-1, as S3 answers.
pub(super) async fn get_bucket_location(call: &Call<'_>) -> Result<Response, S3Error> {
    existing_bucket(call).await?;
    let region = call.region();
    let body = if region == "us-east-1" {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><LocationConstraint xmlns="{}"/>"#,
            xml::NAMESPACE
        )
    } else {
        let mut x = Xml::new();
        x.root("LocationConstraint")
            .raw(&xml::escape(region))
            .close("LocationConstraint");
        x.finish()
    };
    Ok(xml_response(body))
}

fn encode_token(after: &str) -> String {
    URL_SAFE_NO_PAD.encode(after)
}

fn decode_token(token: &str) -> Result<String, S3Error> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| {
            S3Error::invalid_argument("The continuation token provided is incorrect")
                .detail("ArgumentName", "continuation-token")
        })
}

/// `GET /<bucket>` (v1, `marker`) and `GET /<bucket>?list-type=2` (v2, `continuation-token`,
/// `start-after`).
pub(super) async fn list_objects(call: &Call<'_>, v2: bool) -> Result<Response, S3Error> {
    let q = &call.query;
    let url = match q.get("encoding-type") {
        None | Some("") => false,
        Some("url") => true,
        Some(_) => {
            return Err(
                S3Error::invalid_argument("Invalid Encoding Method specified in Request")
                    .detail("ArgumentName", "encoding-type"),
            );
        }
    };
    let max_keys = match q.get("max-keys") {
        None => MAX_KEYS,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => (n as u64).min(MAX_KEYS as u64) as usize,
            _ => {
                return Err(S3Error::invalid_argument(
                    "Provided max-keys not an integer or within integer range",
                )
                .detail("ArgumentName", "max-keys")
                .detail("ArgumentValue", v));
            }
        },
    };
    let token = if v2 {
        q.get("continuation-token")
            .map(|t| decode_token(t).map(|after| (t.to_string(), after)))
            .transpose()?
    } else {
        None
    };
    let start_after = if v2 { q.get("start-after") } else { None };
    let marker = if v2 { None } else { q.get("marker") };
    let after = match (&token, start_after, marker) {
        (Some((_, after)), _, _) => Some(after.clone()),
        (None, Some(s), _) | (None, _, Some(s)) if !s.is_empty() => Some(s.to_string()),
        _ => None,
    };
    let request = ListRequest {
        prefix: q.get("prefix").unwrap_or_default().to_string(),
        delimiter: q.get("delimiter").unwrap_or_default().to_string(),
        after,
        max: max_keys,
    };
    let bucket = existing_bucket(call).await?;
    let dir = call.local.path(&bucket);
    let listing = request.clone();
    let (page, etags) = blocking(move || -> io::Result<_> {
        let page = list::list(&dir, &listing)?;
        let etags = page
            .entries
            .iter()
            .map(|e| match e {
                Entry::Object(o) => object::etag(&o.path, o.size, o.modified).map(Some),
                Entry::CommonPrefix(_) => Ok(None),
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok((page, etags))
    })
    .await?
    .map_err(S3Error::internal)?;

    let enc = |text: &str| {
        if url {
            xml::url_encode(text)
        } else {
            text.to_string()
        }
    };
    let account = &call.state.config.account_id;
    let with_owner = !v2 || q.get("fetch-owner") == Some("true");
    let last = page.entries.last().map(|e| e.name().to_string());
    let mut x = Xml::new();
    x.root("ListBucketResult")
        .element("Name", &bucket)
        .element("Prefix", &enc(&request.prefix));
    if v2 {
        if let Some((token, _)) = &token {
            x.element("ContinuationToken", token);
        }
        if page.truncated
            && let Some(last) = &last
        {
            x.element("NextContinuationToken", &encode_token(last));
        }
        if let Some(s) = start_after {
            x.element("StartAfter", &enc(s));
        }
        x.element("KeyCount", &page.entries.len().to_string());
    } else {
        x.element("Marker", &enc(marker.unwrap_or_default()));
        // S3 gives NextMarker only with a delimiter; without one, the last key is the marker.
        if page.truncated
            && !request.delimiter.is_empty()
            && let Some(last) = &last
        {
            x.element("NextMarker", &enc(last));
        }
    }
    x.element("MaxKeys", &max_keys.to_string());
    if !request.delimiter.is_empty() {
        x.element("Delimiter", &enc(&request.delimiter));
    }
    x.element("IsTruncated", if page.truncated { "true" } else { "false" });
    if url {
        x.element("EncodingType", "url");
    }
    for (entry, etag) in page.entries.iter().zip(&etags) {
        if let (Entry::Object(o), Some(etag)) = (entry, etag) {
            x.open("Contents")
                .element("Key", &enc(&o.key))
                .element(
                    "LastModified",
                    &xml::iso8601(DateTime::<Utc>::from(o.modified)),
                )
                .element("ETag", etag)
                .element("Size", &o.size.to_string());
            if with_owner {
                write_owner(&mut x, account);
            }
            x.element("StorageClass", "STANDARD").close("Contents");
        }
    }
    for entry in &page.entries {
        if let Entry::CommonPrefix(p) = entry {
            x.open("CommonPrefixes")
                .element("Prefix", &enc(p))
                .close("CommonPrefixes");
        }
    }
    x.close("ListBucketResult");
    Ok(xml_response(x.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_constraints() {
        assert_eq!(location_constraint(b"").unwrap(), None);
        assert_eq!(
            location_constraint(
                br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#
            )
            .unwrap()
            .as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            location_constraint(b"<CreateBucketConfiguration/>").unwrap(),
            None
        );
        assert_eq!(
            location_constraint(b"not xml").unwrap_err().code,
            "MalformedXML"
        );
    }

    #[test]
    fn tokens_round_trip() {
        let t = encode_token("AWSLogs/ü +/x");
        assert_eq!(decode_token(&t).unwrap(), "AWSLogs/ü +/x");
        assert_eq!(decode_token("!!").unwrap_err().code, "InvalidArgument");
    }
}

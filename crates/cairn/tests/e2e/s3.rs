//! The S3 API over local buckets: the stock AWS CLI (`aws s3`, `aws s3api`) and raw SigV4
//! requests against a real server, with objects placed in the bucket folder as trail delivery
//! leaves them (a digest with its metadata sidecar).

use std::path::PathBuf;
use std::process::Output;
use std::time::SystemTime;

use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::awscli::aws;
use crate::util::{ACCOUNT, Server};

const LOG_KEY: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/23/\
                       123456789012_CloudTrail_us-east-1_20261123T0815Z_a1b2c3d4e5f6g7h8.json.gz";
const LOG_KEY_2: &str = "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/23/\
                         123456789012_CloudTrail_us-east-1_20261123T0820Z_h8g7f6e5d4c3b2a1.json.gz";
const DIGEST_KEY: &str = "AWSLogs/123456789012/CloudTrail-Digest/us-east-1/2026/11/23/\
                          123456789012_CloudTrail-Digest_us-east-1_main_us-east-1_20261123T081502Z.json.gz";
const ODD_KEY: &str = "notes/a b+ü.txt";

/// Writes an object straight into the bucket folder, as delivery does.
fn put_object(server: &Server, bucket: &str, key: &str, body: &[u8]) -> PathBuf {
    let path = server.data_dir.join("buckets").join(bucket).join(key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, body).unwrap();
    path
}

/// Writes an object's metadata sidecar (`.cairn-meta/<key>.json`).
fn put_metadata(server: &Server, bucket: &str, key: &str, metadata: &Value) {
    let path = server
        .data_dir
        .join("buckets")
        .join(bucket)
        .join(".cairn-meta")
        .join(format!("{key}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, metadata.to_string()).unwrap();
}

/// Bucket `logs` with two logs, a digest with its signature metadata and an oddly named key.
fn server_with_logs() -> Server {
    let server = Server::start();
    server.create_bucket("logs");
    put_object(&server, "logs", LOG_KEY, &log_bytes(1));
    put_object(&server, "logs", LOG_KEY_2, &log_bytes(2));
    put_object(&server, "logs", DIGEST_KEY, b"{\"digest\": true}");
    put_metadata(
        &server,
        "logs",
        DIGEST_KEY,
        &json!({"signature": "6e0b61d4ab", "signature-algorithm": "SHA256withRSA"}),
    );
    put_object(&server, "logs", ODD_KEY, b"odd");
    server
}

/// Some bytes standing in for a gzipped log file.
fn log_bytes(seed: u8) -> Vec<u8> {
    (0..5000u32)
        .map(|i| (i as u8).wrapping_mul(seed).wrapping_add(seed))
        .collect()
}

fn etag(body: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(body)))
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "aws failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed(out: &Output) -> String {
    assert!(!out.status.success(), "aws unexpectedly succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).unwrap()
}

#[tokio::test]
async fn aws_s3_makes_lists_and_copies() {
    let server = server_with_logs();
    let (k, s) = server.admin.clone();
    let cli = |args: &[&str]| aws(&server, &k, &s, args);

    assert_eq!(
        ok(&cli(&["s3", "mb", "s3://trail-logs"])).trim(),
        "make_bucket: trail-logs"
    );
    // us-east-1: re-creating one's own bucket succeeds, as in S3.
    ok(&cli(&["s3", "mb", "s3://trail-logs"]));
    assert!(server.data_dir.join("buckets/trail-logs").is_dir());

    let buckets = ok(&cli(&["s3", "ls"]));
    let names: Vec<&str> = buckets
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    assert_eq!(names, ["logs", "trail-logs"], "{buckets}");

    let listing = ok(&cli(&["s3", "ls", "s3://logs/", "--recursive"]));
    let keys: Vec<(u64, String)> = listing
        .lines()
        // "2026-11-23 08:15:02       5000 key with spaces": date, size in 10 columns, key.
        .map(|l| (l[20..30].trim().parse().unwrap(), l[31..].to_string()))
        .collect();
    assert_eq!(
        keys,
        // UTF-8 byte order: `-` sorts before `/`.
        vec![
            (16, DIGEST_KEY.to_string()),
            (5000, LOG_KEY.to_string()),
            (5000, LOG_KEY_2.to_string()),
            (3, ODD_KEY.to_string()),
        ],
        "{listing}"
    );

    // To stdout and to a file, keys with spaces and unicode included.
    let out = cli(&["s3", "cp", &format!("s3://logs/{LOG_KEY}"), "-"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, log_bytes(1));
    let target = server.data_dir.with_file_name("copied.txt");
    ok(&cli(&[
        "s3",
        "cp",
        &format!("s3://logs/{ODD_KEY}"),
        target.to_str().unwrap(),
    ]));
    assert_eq!(std::fs::read(&target).unwrap(), b"odd");

    let head = json_of(&cli(&[
        "s3api",
        "head-object",
        "--bucket",
        "logs",
        "--key",
        DIGEST_KEY,
    ]));
    assert_eq!(
        head["Metadata"],
        json!({"signature": "6e0b61d4ab", "signature-algorithm": "SHA256withRSA"})
    );
    assert_eq!(head["ContentLength"], 16);
    assert_eq!(head["ETag"], etag(b"{\"digest\": true}"));
    assert_eq!(head["ContentType"], "application/octet-stream");

    let location = json_of(&cli(&["s3api", "get-bucket-location", "--bucket", "logs"]));
    assert_eq!(location, json!({"LocationConstraint": null}));

    // S3 calls are not CloudTrail operations: the self-audit log has none of them.
    assert!(server.events().await.is_empty());
}

#[tokio::test]
async fn aws_s3api_lists_with_prefixes_delimiters_and_pages() {
    let server = server_with_logs();
    let (k, s) = server.admin.clone();
    let cli = |args: &[&str]| aws(&server, &k, &s, args);
    let keys = |v: &Value| -> Vec<String> {
        v["Contents"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c["Key"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    let top = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--prefix",
        "AWSLogs/123456789012/",
        "--delimiter",
        "/",
    ]));
    assert_eq!(
        top["CommonPrefixes"],
        json!([
            {"Prefix": "AWSLogs/123456789012/CloudTrail-Digest/"},
            {"Prefix": "AWSLogs/123456789012/CloudTrail/"},
        ])
    );
    assert!(top.get("Contents").is_none());

    let day = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--prefix",
        "AWSLogs/123456789012/CloudTrail/us-east-1/2026/11/23/",
    ]));
    assert_eq!(keys(&day), [LOG_KEY, LOG_KEY_2]);
    let first = &day["Contents"][0];
    assert_eq!(first["Size"], 5000);
    assert_eq!(first["ETag"], etag(&log_bytes(1)));
    assert_eq!(first["StorageClass"], "STANDARD");

    // One key per request, v2 and v1: the CLI follows the tokens / markers to the end.
    let all = [DIGEST_KEY, LOG_KEY, LOG_KEY_2, ODD_KEY];
    for api in ["list-objects-v2", "list-objects"] {
        let paged = json_of(&cli(&[
            "s3api",
            api,
            "--bucket",
            "logs",
            "--page-size",
            "1",
        ]));
        assert_eq!(keys(&paged), all, "{api}");
    }
    let one = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--max-items",
        "1",
    ]));
    assert_eq!(keys(&one), [DIGEST_KEY]);
    let token = one["NextToken"].as_str().unwrap();
    let rest = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--starting-token",
        token,
    ]));
    assert_eq!(keys(&rest), &all[1..]);

    // A single page of one key, straight from the API.
    let page = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--max-keys",
        "1",
        "--no-paginate",
    ]));
    assert_eq!(keys(&page), [DIGEST_KEY]);
    assert_eq!(page["IsTruncated"], true);
    assert_eq!(page["KeyCount"], 1);
    let next = page["NextContinuationToken"].as_str().unwrap();
    let page2 = json_of(&cli(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        "logs",
        "--max-keys",
        "1",
        "--continuation-token",
        next,
        "--no-paginate",
    ]));
    assert_eq!(keys(&page2), [LOG_KEY]);
}

#[tokio::test]
async fn aws_cli_errors_and_roles() {
    let server = server_with_logs();
    let (k, s) = server.admin.clone();
    let (auditor_key, auditor_secret) = server.add_user("carol", "auditor");
    let (ingest_key, ingest_secret) = server.add_user("ivan", "ingest");
    let admin = |args: &[&str]| aws(&server, &k, &s, args);

    let err = failed(&admin(&["s3", "ls", "s3://nope"]));
    assert!(err.contains("NoSuchBucket"), "{err}");
    let err = failed(&admin(&[
        "s3api",
        "get-object",
        "--bucket",
        "logs",
        "--key",
        "AWSLogs/missing.json.gz",
        "/dev/null",
    ]));
    assert!(
        err.contains("An error occurred (NoSuchKey) when calling the GetObject operation"),
        "{err}"
    );
    let err = failed(&admin(&["s3", "mb", "s3://Bad_Name"]));
    assert!(err.contains("InvalidBucketName"), "{err}");

    // An auditor reads but does not create buckets; an ingest key does neither.
    let auditor = |args: &[&str]| aws(&server, &auditor_key, &auditor_secret, args);
    let listing = ok(&auditor(&["s3", "ls", "s3://logs/", "--recursive"]));
    assert_eq!(listing.lines().count(), 4, "{listing}");
    let err = failed(&auditor(&["s3", "mb", "s3://auditor-bucket"]));
    assert!(err.contains("AccessDenied"), "{err}");
    assert!(!server.data_dir.join("buckets/auditor-bucket").exists());
    let err = failed(&aws(&server, &ingest_key, &ingest_secret, &["s3", "ls"]));
    assert!(err.contains("AccessDenied"), "{err}");

    let err = failed(&aws(&server, &k, "not-the-secret", &["s3", "ls"]));
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");
    let err = failed(&aws(&server, "AKIANOSUCHKEY0000000", &s, &["s3", "ls"]));
    assert!(err.contains("InvalidAccessKeyId"), "{err}");
}

/// A raw S3 response.
struct S3Response {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl S3Response {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
}

/// Sends `method path_and_query` (already percent-encoded), SigV4-signed for `s3` the way the
/// S3 SDKs sign (path encoded once, not normalised, `x-amz-content-sha256`) when a key is given.
async fn s3_request(
    server: &Server,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    key: Option<(&str, &str)>,
) -> S3Response {
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign,
    };
    let url = format!("{}{path_and_query}", server.endpoint);
    let host = server.endpoint.trim_start_matches("http://").to_string();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("host".into(), host));
    if let Some((key, secret)) = key {
        let identity = aws_credential_types::Credentials::new(key, secret, None, None, "t").into();
        let mut settings = SigningSettings::default();
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("s3")
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            method,
            &url,
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(b""),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        for (k, v) in instructions.headers() {
            all.push((k.to_string(), v.to_string()));
        }
    }
    let client = reqwest::Client::new();
    let mut req = client.request(method.parse().unwrap(), &url);
    for (k, v) in &all {
        if k != "host" {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let resp = req.send().await.expect("request sent");
    S3Response {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn raw_requests_get_s3_answers() {
    let server = server_with_logs();
    let (k, s) = server.admin.clone();
    let admin = Some((k.as_str(), s.as_str()));

    // Unsigned: S3's AccessDenied in S3's XML, with the request id in both places.
    let unsigned = s3_request(&server, "GET", "/", &[], None).await;
    assert_eq!(unsigned.status, 403);
    assert_eq!(unsigned.header("content-type"), "application/xml");
    let id = unsigned.header("x-amz-request-id").to_string();
    assert_eq!(id.len(), 36);
    let text = unsigned.text();
    assert!(
        text.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code>"
        ),
        "{text}"
    );
    assert!(
        text.contains(&format!("<RequestId>{id}</RequestId>")),
        "{text}"
    );

    let buckets = s3_request(&server, "GET", "/", &[], admin).await;
    assert_eq!(buckets.status, 200);
    let text = buckets.text();
    assert!(
        text.contains(
            r#"<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
        ),
        "{text}"
    );
    assert!(
        text.contains("<Bucket><Name>logs</Name><CreationDate>20"),
        "{text}"
    );
    assert!(
        text.contains(&format!("<DisplayName>{ACCOUNT}</DisplayName>")),
        "{text}"
    );

    // Ranges, for the CLI's multipart downloads.
    let path = format!("/logs/{LOG_KEY}");
    let part = s3_request(&server, "GET", &path, &[("range", "bytes=100-199")], admin).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), "bytes 100-199/5000");
    assert_eq!(part.body, log_bytes(1)[100..200]);
    let whole = s3_request(&server, "GET", &path, &[], admin).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("etag"), etag(&log_bytes(1)));
    assert!(whole.header("last-modified").ends_with(" GMT"));
    let beyond = s3_request(&server, "GET", &path, &[("range", "bytes=9000-")], admin).await;
    assert_eq!(beyond.status, 416);
    assert!(beyond.text().contains("<Code>InvalidRange</Code>"));

    // HEAD: headers only, errors without a body.
    let head = s3_request(&server, "HEAD", &path, &[], admin).await;
    assert_eq!((head.status, head.header("content-length")), (200, "5000"));
    assert!(head.body.is_empty());
    let missing = s3_request(&server, "HEAD", "/logs/nope", &[], admin).await;
    assert_eq!(missing.status, 404);
    assert!(missing.body.is_empty());
    let bucket = s3_request(&server, "HEAD", "/logs", &[], admin).await;
    assert_eq!(
        (bucket.status, bucket.header("x-amz-bucket-region")),
        (200, "us-east-1")
    );

    // Keys never leave the bucket folder, and sidecars are not objects.
    std::fs::write(server.data_dir.join("buckets/secret.txt"), b"s").unwrap();
    for escape in [
        "/logs/..%2Fsecret.txt",
        "/logs/..%2F..%2Fcredentials.json",
        "/logs/%2Fetc%2Fpasswd",
        &format!("/logs/.cairn-meta/{DIGEST_KEY}.json"),
    ] {
        let resp = s3_request(&server, "GET", escape, &[], admin).await;
        assert_eq!(resp.status, 404, "{escape}: {}", resp.text());
        assert!(resp.text().contains("<Code>NoSuchKey</Code>"), "{escape}");
    }

    // encoding-type=url: keys come back percent-encoded.
    let listed = s3_request(
        &server,
        "GET",
        "/logs?list-type=2&prefix=notes%2F&encoding-type=url",
        &[],
        admin,
    )
    .await;
    let text = listed.text();
    assert!(
        text.contains("<Key>notes/a%20b%2B%C3%BC.txt</Key>"),
        "{text}"
    );
    assert!(text.contains("<EncodingType>url</EncodingType>"), "{text}");
    let odd = s3_request(&server, "GET", "/logs/notes/a%20b%2B%C3%BC.txt", &[], admin).await;
    assert_eq!((odd.status, odd.body.as_slice()), (200, b"odd".as_slice()));

    // Writes other than CreateBucket are not served.
    let put = s3_request(&server, "PUT", "/logs/new-object", &[], admin).await;
    assert_eq!(put.status, 501);
    assert!(put.text().contains("<Code>NotImplemented</Code>"));
    // Other methods are not S3 requests here: the router's JSON 404, before authentication.
    let delete = s3_request(&server, "DELETE", &path, &[], admin).await;
    assert_eq!(delete.status, 404);
    assert!(delete.text().contains("UnknownOperationException"));
    assert!(server.data_dir.join("buckets/logs").join(LOG_KEY).exists());
}

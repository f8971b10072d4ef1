//! Trail delivery end to end: log files in local buckets and in a real S3-compatible server
//! (moto, started by the test), with CloudTrail's key layout, each selected event exactly once,
//! through storage outages and SIGKILLs.

use std::collections::{HashMap, HashSet};
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_cloudtrail::types::{EventSelector, ReadWriteType};

use crate::util::{ACCOUNT, Server};

/// Every delivered log file under a local folder: (key relative to the bucket, records).
pub fn log_files(bucket_dir: &Path) -> Vec<(String, Vec<serde_json::Value>)> {
    let mut out = Vec::new();
    let mut stack = vec![bucket_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with(".cairn-meta") {
                    stack.push(p);
                }
            } else if p.to_string_lossy().ends_with(".json.gz")
                && p.to_string_lossy().contains("/CloudTrail/")
            {
                let key = p
                    .strip_prefix(bucket_dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.push((key, read_log_file(&p)));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// The records of one log file, checking it is a single gzip member holding `{"Records":[...]}`.
pub fn read_log_file(path: &Path) -> Vec<serde_json::Value> {
    let bytes = std::fs::read(path).unwrap();
    let mut dec = flate2::read::GzDecoder::new(&bytes[..]);
    let mut text = String::new();
    dec.read_to_string(&mut text).unwrap();
    // Nothing may follow the first gzip member.
    let consumed = bytes.len() - dec.into_inner().len();
    assert_eq!(
        consumed,
        bytes.len(),
        "{} has bytes after its gzip member",
        path.display()
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["Records"].as_array().expect("a Records array").clone()
}

fn key_is_cloudtrails(key: &str, prefix: &str, region: &str) -> bool {
    let parts: Vec<&str> = key.split('/').collect();
    let file = parts.last().unwrap();
    let date = chrono::Utc::now().format("%Y/%m/%d").to_string();
    let expected_dir = format!("{prefix}AWSLogs/{ACCOUNT}/CloudTrail/{region}/");
    key.starts_with(&expected_dir)
        && key[expected_dir.len()..].starts_with(&date[..7])
        && file.starts_with(&format!("{ACCOUNT}_CloudTrail_{region}_"))
        && file.ends_with(".json.gz")
        && {
            // <account>_CloudTrail_<region>_<YYYYMMDDTHHmmZ>_<16 alnum>.json.gz
            let rest = &file[format!("{ACCOUNT}_CloudTrail_{region}_").len()..file.len() - 8];
            let (stamp, unique) = rest.split_once('_').unwrap_or(("", ""));
            stamp.len() == 14
                && stamp.as_bytes()[8] == b'T'
                && stamp.ends_with('Z')
                && unique.len() == 16
                && unique.bytes().all(|b| b.is_ascii_alphanumeric())
        }
}

async fn wait_for<F: Fn() -> bool>(what: &str, timeout: Duration, f: F) {
    let start = std::time::Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ids(files: &[(String, Vec<serde_json::Value>)]) -> Vec<String> {
    files
        .iter()
        .flat_map(|(_, r)| r.iter().map(|e| e["eventID"].as_str().unwrap().to_string()))
        .collect()
}

#[tokio::test]
async fn logging_trail_delivers_each_selected_event_once() {
    let server = Server::start_with(&["--delivery-interval", "1"]);
    server.create_bucket("trail-logs");
    let ct = server.admin_client();
    ct.create_trail()
        .name("delivered")
        .s3_bucket_name("trail-logs")
        .s3_key_prefix("audit")
        .send()
        .await
        .unwrap();
    ct.describe_trails().send().await.unwrap(); // before StartLogging: not delivered
    ct.start_logging().name("delivered").send().await.unwrap();
    for _ in 0..5 {
        ct.describe_trails().send().await.unwrap();
    }
    ct.get_trail().name("nope").send().await.unwrap_err(); // failures are events too
    ct.stop_logging().name("delivered").send().await.unwrap();
    ct.list_trails().send().await.unwrap(); // after StopLogging: not delivered

    let bucket = server.data_dir.join("buckets/trail-logs");
    let events = server.events().await;
    let start = events
        .iter()
        .position(|(_, v)| v["eventName"] == "StartLogging")
        .unwrap();
    let stop = events
        .iter()
        .position(|(_, v)| v["eventName"] == "StopLogging")
        .unwrap();
    let expected: HashSet<String> = events[start..=stop]
        .iter()
        .map(|(e, _)| e.event_id.clone())
        .collect();
    assert_eq!(expected.len(), 8);
    wait_for("delivery", Duration::from_secs(15), || {
        ids(&log_files(&bucket)).len() >= expected.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await; // anything extra would show up now
    let files = log_files(&bucket);
    let delivered = ids(&files);
    assert_eq!(delivered.len(), expected.len(), "no event twice");
    assert_eq!(
        delivered.iter().cloned().collect::<HashSet<_>>(),
        expected,
        "exactly the events while logging"
    );
    for (key, records) in &files {
        assert!(key_is_cloudtrails(key, "audit/", "us-east-1"), "{key}");
        for r in records {
            // The record in the file is the record in the log, unchanged.
            let (stored, _) = events
                .iter()
                .find(|(e, _)| e.event_id == r["eventID"])
                .unwrap();
            assert_eq!(
                &serde_json::from_str::<serde_json::Value>(&stored.record_json).unwrap(),
                r
            );
        }
    }
    // The same files, read through Cairn's own S3 API with the stock AWS CLI.
    let (k, s) = server.admin.clone();
    let listing = crate::awscli::aws(
        &server,
        &k,
        &s,
        &["s3", "ls", "--recursive", "s3://trail-logs/audit/AWSLogs/"],
    );
    assert!(
        listing.status.success(),
        "{}",
        String::from_utf8_lossy(&listing.stderr)
    );
    let listed = String::from_utf8_lossy(&listing.stdout);
    for (key, _) in &files {
        assert!(listed.contains(key.as_str()), "{key} not in\n{listed}");
    }
    let dl = tempfile::tempdir().unwrap();
    let out = crate::awscli::aws(
        &server,
        &k,
        &s,
        &["s3", "sync", "s3://trail-logs", dl.path().to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        log_files(dl.path()),
        files,
        "downloaded through S3 = delivered"
    );

    let status = ct
        .get_trail_status()
        .name("delivered")
        .send()
        .await
        .unwrap();
    assert!(status.latest_delivery_time().is_some());
    assert!(status.latest_delivery_error().is_none());
    assert!(
        status
            .latest_delivery_attempt_succeeded()
            .unwrap()
            .ends_with('Z')
    );
}

#[tokio::test]
async fn selectors_decide_what_is_delivered() {
    let server = Server::start_with(&["--delivery-interval", "1"]);
    server.create_bucket("sel-logs");
    let ct = server.admin_client();
    ct.create_trail()
        .name("writes-only")
        .s3_bucket_name("sel-logs")
        .send()
        .await
        .unwrap();
    ct.put_event_selectors()
        .trail_name("writes-only")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::WriteOnly)
                .build(),
        )
        .send()
        .await
        .unwrap();
    ct.start_logging().name("writes-only").send().await.unwrap();
    ct.describe_trails().send().await.unwrap();
    ct.add_tags()
        .resource_id(format!(
            "arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/writes-only"
        ))
        .tags_list(
            aws_sdk_cloudtrail::types::Tag::builder()
                .key("k")
                .value("v")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let bucket = server.data_dir.join("buckets/sel-logs");
    wait_for("delivery", Duration::from_secs(15), || {
        ids(&log_files(&bucket)).len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let names: Vec<String> = log_files(&bucket)
        .iter()
        .flat_map(|(_, r)| {
            r.iter()
                .map(|e| e["eventName"].as_str().unwrap().to_string())
        })
        .collect();
    let set: HashSet<_> = names.iter().map(String::as_str).collect();
    assert_eq!(
        set,
        HashSet::from(["StartLogging", "AddTags"]),
        "only write events: {names:?}"
    );
}

#[tokio::test]
async fn storage_outage_is_reported_and_nothing_is_lost() {
    let server = Server::start_with(&["--delivery-interval", "1"]);
    server.create_bucket("flaky");
    let ct = server.admin_client();
    ct.create_trail()
        .name("flaky-trail")
        .s3_bucket_name("flaky")
        .send()
        .await
        .unwrap();
    let bucket = server.data_dir.join("buckets/flaky");
    let parked = server.data_dir.join("buckets/flaky-parked");
    // Storage goes away: the bucket folder disappears.
    std::fs::rename(&bucket, &parked).unwrap();
    ct.start_logging().name("flaky-trail").send().await.unwrap();
    ct.describe_trails().send().await.unwrap();
    let mut error = None;
    for _ in 0..50 {
        let status = ct
            .get_trail_status()
            .name("flaky-trail")
            .send()
            .await
            .unwrap();
        if let Some(e) = status.latest_delivery_error() {
            error = Some(e.to_string());
            assert!(status.latest_delivery_time().is_none());
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let error = error.expect("LatestDeliveryError reported while storage is down");
    assert!(error.contains("bucket"), "{error}");
    ct.list_trails().send().await.unwrap();
    // Storage comes back: everything since StartLogging arrives, once.
    std::fs::rename(&parked, &bucket).unwrap();
    let events = server.events().await;
    let start = events
        .iter()
        .position(|(_, v)| v["eventName"] == "StartLogging")
        .unwrap();
    let selected: HashSet<String> = events[start..]
        .iter()
        .map(|(e, _)| e.event_id.clone())
        .collect();
    wait_for("delivery after recovery", Duration::from_secs(30), || {
        ids(&log_files(&bucket))
            .into_iter()
            .collect::<HashSet<_>>()
            .is_superset(&selected)
    })
    .await;
    let delivered = ids(&log_files(&bucket));
    assert_eq!(
        delivered.len(),
        delivered.iter().collect::<HashSet<_>>().len(),
        "none twice"
    );
    let status = ct
        .get_trail_status()
        .name("flaky-trail")
        .send()
        .await
        .unwrap();
    assert!(
        status.latest_delivery_error().is_none(),
        "a success clears the error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_delivery_neither_loses_nor_doubles() {
    let mut server = Server::start_with(&["--delivery-interval", "1"]);
    server.create_bucket("crashy");
    let ct = server.admin_client();
    ct.create_trail()
        .name("crashy-trail")
        .s3_bucket_name("crashy")
        .send()
        .await
        .unwrap();
    ct.start_logging()
        .name("crashy-trail")
        .send()
        .await
        .unwrap();
    for round in 0..4 {
        let ct = server.admin_client();
        let burst = async {
            for _ in 0..40 {
                if ct.list_trails().send().await.is_err() {
                    break;
                }
            }
        };
        // Kill while calls are made and a delivery is likely in flight.
        tokio::join!(burst, async {
            tokio::time::sleep(Duration::from_millis(700 + 250 * round)).await;
        });
        server.kill9();
        server.start_again();
    }
    let ct = server.admin_client();
    ct.stop_logging().name("crashy-trail").send().await.unwrap();
    let events = server.events().await;
    let start = events
        .iter()
        .position(|(_, v)| v["eventName"] == "StartLogging")
        .unwrap();
    let stop = events
        .iter()
        .rposition(|(_, v)| v["eventName"] == "StopLogging")
        .unwrap();
    let selected: HashSet<String> = events[start..=stop]
        .iter()
        .map(|(e, _)| e.event_id.clone())
        .collect();
    let bucket = server.data_dir.join("buckets/crashy");
    wait_for("every event delivered", Duration::from_secs(30), || {
        ids(&log_files(&bucket))
            .into_iter()
            .collect::<HashSet<_>>()
            .is_superset(&selected)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let delivered = ids(&log_files(&bucket));
    let unique: HashSet<_> = delivered.iter().cloned().collect();
    assert_eq!(unique, selected, "exactly the selected events");
    assert_eq!(
        delivered.len(),
        unique.len(),
        "no event delivered twice across crashes"
    );
}

/// A moto S3 server on a free port, stopped on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    pub fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server is installed (.ci/run installs moto[server] with pip)");
        let endpoint = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Moto { child, endpoint };
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("moto_server did not start");
    }

    /// Runs `aws --endpoint-url <moto> <args>`.
    pub fn aws(&self, args: &[&str]) -> std::process::Output {
        Command::new("aws")
            .arg("--endpoint-url")
            .arg(&self.endpoint)
            .args(args)
            .env("AWS_ACCESS_KEY_ID", "moto")
            .env("AWS_SECRET_ACCESS_KEY", "moto")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .output()
            .unwrap()
    }

    /// Downloads a bucket into a fresh folder.
    pub fn download(&self, bucket: &str, into: &Path) -> PathBuf {
        let out = self.aws(&[
            "s3",
            "sync",
            &format!("s3://{bucket}"),
            into.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        into.to_path_buf()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn delivery_to_an_s3_compatible_store() {
    let moto = Moto::start();
    let out = moto.aws(&["s3", "mb", "s3://remote-logs"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let server = Server::start_with_env(
        &["--delivery-interval", "1", "--s3-endpoint", &moto.endpoint],
        &[
            ("CAIRN_S3_ACCESS_KEY_ID", "moto"),
            ("CAIRN_S3_SECRET_ACCESS_KEY", "moto"),
        ],
    );
    let ct = server.admin_client();
    let err = ct
        .create_trail()
        .name("remote")
        .s3_bucket_name("missing-bucket")
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        aws_sdk_cloudtrail::error::ProvideErrorMetadata::code(&err),
        Some("S3BucketDoesNotExistException")
    );
    ct.create_trail()
        .name("remote")
        .s3_bucket_name("remote-logs")
        .send()
        .await
        .unwrap();
    ct.start_logging().name("remote").send().await.unwrap();
    ct.describe_trails().send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut found = Vec::new();
    for _ in 0..60 {
        let local = moto.download("remote-logs", &dir.path().join("dl"));
        found = log_files(&local);
        if ids(&found).len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let names: HashMap<String, usize> =
        found
            .iter()
            .flat_map(|(_, r)| r.iter())
            .fold(HashMap::new(), |mut m, e| {
                *m.entry(e["eventName"].as_str().unwrap().to_string())
                    .or_default() += 1;
                m
            });
    assert_eq!(names.get("StartLogging"), Some(&1));
    assert_eq!(names.get("DescribeTrails"), Some(&1));
    assert!(
        found
            .iter()
            .all(|(k, _)| key_is_cloudtrails(k, "", "us-east-1")),
        "{found:?}"
    );
}

//! The test harness: start, kill and restart `cairn serve`; build SDK clients; read the log.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use cairn_store::{SqliteStore, Store, StoredEvent};
use serde_json::Value;

/// A running `cairn serve` with its own data dir.
pub struct Server {
    child: Option<Child>,
    pub endpoint: String,
    pub data_dir: PathBuf,
    pub admin: (String, String),
    extra_args: Vec<String>,
    env: Vec<(String, String)>,
    _tmp: Option<tempfile::TempDir>,
}

/// The account id every test server uses.
pub const ACCOUNT: &str = "123456789012";

impl Server {
    /// A fresh server on a fresh data dir, with a generated admin key.
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A fresh server with extra `cairn serve` arguments.
    pub fn start_with(extra: &[&str]) -> Server {
        Server::start_with_env(extra, &[])
    }

    /// A fresh server with extra arguments and environment variables.
    pub fn start_with_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().unwrap();
        let data_dir = tmp.path().join("data");
        let mut s = Server {
            child: None,
            endpoint: String::new(),
            data_dir,
            admin: (String::new(), String::new()),
            extra_args: extra.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _tmp: Some(tmp),
        };
        let banner = s.spawn();
        s.admin = banner.expect("first start prints the generated admin key");
        s
    }

    /// Starts the process; returns the admin key if the server printed one (first start).
    fn spawn(&mut self) -> Option<(String, String)> {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--account-id")
            .arg(ACCOUNT)
            .args(&self.extra_args)
            .env_remove("CAIRN_ADMIN_ACCESS_KEY_ID")
            .env_remove("CAIRN_ADMIN_SECRET_ACCESS_KEY")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("CAIRN_LOG", "warn")
            .env("CAIRN_DEBUG_RESPONSE_LOG", self.response_log())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cairn binary runs");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut key, mut secret) = (None, None);
        loop {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("cairn serve starts within 30 s");
            let line = line.trim();
            if let Some(v) = line.strip_prefix("export AWS_ACCESS_KEY_ID=") {
                key = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("export AWS_SECRET_ACCESS_KEY=") {
                secret = Some(v.to_string());
            } else if let Some(v) = line.strip_prefix("Listening on ") {
                self.endpoint = v.to_string();
                break;
            }
        }
        self.child = Some(child);
        key.zip(secret)
    }

    /// The file the server logs every response to (checked against the model on drop).
    pub fn response_log(&self) -> PathBuf {
        self.data_dir.with_file_name("responses.jsonl")
    }

    /// Checks every response logged so far against the botocore model: no unknown members,
    /// right types, required members present, and only modelled (or common) error types.
    pub fn check_responses(&self) {
        let Ok(text) = std::fs::read_to_string(self.response_log()) else {
            return;
        };
        let cloudtrail = cairn_api::model_check::Model::cloudtrail();
        let cloudtrail_data = cairn_api::model_check::Model::cloudtrail_data();
        let mut problems = Vec::new();
        // A server killed with SIGKILL may have written its last line only in part: only lines
        // that end in a newline are complete.
        let complete = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        for line in complete.lines() {
            let r: Value = serde_json::from_str(line).unwrap();
            let op = r["operation"].as_str().unwrap();
            let model = match op {
                "PutAuditEvents" => &cloudtrail_data,
                _ => &cloudtrail,
            };
            let result = match r["error_type"].as_str() {
                None => model.check_output(op, &r["body"]).map_err(|v| v.join("; ")),
                Some(err) => model.check_error(op, err),
            };
            if let Err(e) = result {
                problems.push(format!(
                    "{op}: {e}
    response: {}",
                    r["body"]
                ));
            }
        }
        assert!(
            problems.is_empty(),
            "responses that do not match the botocore model:
{}",
            problems.join(
                "
"
            )
        );
    }

    /// Creates a local bucket with `cairn buckets create`.
    pub fn create_bucket(&self, name: &str) {
        let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
            .args(["buckets", "create", name, "--data-dir"])
            .arg(&self.data_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "buckets create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Stops the server with SIGKILL: no shutdown code runs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Stops the server gracefully (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same data dir (it gets a new port).
    pub fn restart(&mut self) {
        self.stop();
        let banner = self.spawn();
        assert!(
            banner.is_none(),
            "the admin key is generated only on first start"
        );
    }

    /// Starts the server again after a kill.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none());
        self.spawn();
    }

    /// An SDK client for the admin key.
    pub fn admin_client(&self) -> aws_sdk_cloudtrail::Client {
        self.client(&self.admin.0, &self.admin.1)
    }

    /// An SDK client signing with `key`/`secret`, retries off so each call is one request.
    pub fn client(&self, key: &str, secret: &str) -> aws_sdk_cloudtrail::Client {
        self.client_in_region(key, secret, "us-east-1")
    }

    /// An SDK client for another region's credential scope.
    pub fn client_in_region(
        &self,
        key: &str,
        secret: &str,
        region: &str,
    ) -> aws_sdk_cloudtrail::Client {
        let conf = aws_sdk_cloudtrail::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_string()))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new(key, secret, None, None, "cairn-tests"))
            .retry_config(aws_sdk_cloudtrail::config::retry::RetryConfig::disabled())
            .build();
        aws_sdk_cloudtrail::Client::from_conf(conf)
    }

    /// Adds a user with `cairn users add`; returns its key pair.
    pub fn add_user(&self, name: &str, role: &str) -> (String, String) {
        add_user(&self.data_dir, name, role)
    }

    /// Every event in the log, in sequence order, read straight from the store file.
    pub async fn events(&self) -> Vec<(StoredEvent, Value)> {
        read_events(&self.data_dir).await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
        // Every response the test saw must match the model (skipped if the test already failed).
        if !std::thread::panicking() {
            self.check_responses();
        }
    }
}

/// Runs `cairn users add` against a data dir.
pub fn add_user(data_dir: &Path, name: &str, role: &str) -> (String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["users", "add", name, "--role", role, "--data-dir"])
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "users add failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let get = |prefix: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in {text}"))
            .to_string()
    };
    (get("AWS_ACCESS_KEY_ID="), get("AWS_SECRET_ACCESS_KEY="))
}

/// Reads the whole log of a data dir.
pub async fn read_events(data_dir: &Path) -> Vec<(StoredEvent, Value)> {
    let store = SqliteStore::open(&data_dir.join("events.db")).unwrap();
    let events = store.read_events(0, usize::MAX >> 1).await.unwrap();
    events
        .into_iter()
        .map(|e| {
            let v: Value = serde_json::from_str(&e.record_json).unwrap();
            (e, v)
        })
        .collect()
}

/// The one event whose `requestID` is `id`.
pub fn event_for_request<'a>(events: &'a [(StoredEvent, Value)], id: &str) -> &'a Value {
    let found: Vec<_> = events
        .iter()
        .filter(|(_, v)| v["requestID"] == id)
        .collect();
    assert_eq!(found.len(), 1, "exactly one event for request {id}");
    &found[0].1
}

/// A raw HTTP response, for tests that check the wire.
pub struct RawResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl RawResponse {
    /// `__type` of an error body.
    pub fn error_type(&self) -> &str {
        self.body["__type"].as_str().unwrap_or_default()
    }
}

/// How to sign a raw request.
pub struct Signing<'a> {
    pub key: &'a str,
    pub secret: &'a str,
    pub region: &'a str,
    pub service: &'a str,
    pub time: std::time::SystemTime,
}

/// Sends `POST {path}` with the given headers and body, signed with `signing` if given.
pub async fn raw_post(
    endpoint: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    signing: Option<Signing<'_>>,
) -> RawResponse {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let url = format!("{endpoint}{path}");
    let host = endpoint
        .trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_string();
    let mut all: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    all.push(("host".into(), host));
    if let Some(s) = signing {
        let identity =
            aws_credential_types::Credentials::new(s.key, s.secret, None, None, "t").into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(s.region)
            .name(s.service)
            .time(s.time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            "POST",
            &url,
            all.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        for (k, v) in instructions.headers() {
            all.push((k.to_string(), v.to_string()));
        }
    }
    let client = reqwest::Client::new();
    let mut req = client.post(&url).body(body.to_vec());
    for (k, v) in &all {
        if k != "host" {
            req = req.header(k.as_str(), v.as_str());
        }
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    RawResponse {
        status,
        headers,
        body,
    }
}

/// The `X-Amz-Target` of a CloudTrail operation.
pub fn target(op: &str) -> String {
    format!("com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.{op}")
}

/// Signs and sends a CloudTrail JSON 1.1 call as `key`/`secret`.
pub async fn call(server: &Server, key: &str, secret: &str, op: &str, body: &str) -> RawResponse {
    let t = target(op);
    raw_post(
        &server.endpoint,
        "/",
        &[
            ("x-amz-target", &t),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        body.as_bytes(),
        Some(Signing {
            key,
            secret,
            region: "us-east-1",
            service: "cloudtrail",
            time: std::time::SystemTime::now(),
        }),
    )
    .await
}

/// A LookupEvents condition.
pub fn attr(
    key: aws_sdk_cloudtrail::types::LookupAttributeKey,
    value: &str,
) -> aws_sdk_cloudtrail::types::LookupAttribute {
    aws_sdk_cloudtrail::types::LookupAttribute::builder()
        .attribute_key(key)
        .attribute_value(value)
        .build()
        .unwrap()
}

/// Every page of a lookup, following NextToken.
pub async fn lookup_all(
    ct: &aws_sdk_cloudtrail::Client,
    attrs: Vec<aws_sdk_cloudtrail::types::LookupAttribute>,
) -> Vec<aws_sdk_cloudtrail::types::Event> {
    ct.lookup_events()
        .set_lookup_attributes(Some(attrs))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap()
}

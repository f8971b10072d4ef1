//! Log file integrity end to end: a real server writes signed, chained digests (across a key
//! rotation, a restart and a stop/start of logging), and both `cairn validate-logs` and the
//! stock `aws cloudtrail validate-logs` check them — intact, then after each kind of tampering,
//! in a local bucket (through Cairn's S3 API) and in an S3-compatible store (moto).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::process::Command;
use std::time::Duration;

use cairn_delivery::{LocalStorage, S3Settings, S3Storage, Storage, StorageRead};
use cairn_integrity::KeyRing;
use chrono::{DateTime, Utc};
use hyper::body::Bytes;
use serde_json::Value;

use crate::delivery::Moto;
use crate::util::{ACCOUNT, Server};

const TRAIL: &str = "guarded";
const BUCKET: &str = "guarded-logs";
const REGION: &str = "us-east-1";

fn arn() -> String {
    format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}")
}

/// Where the trail's objects are, with what a tamperer needs.
enum Bucket {
    Local(LocalStorage),
    Remote { s3: S3Storage, moto: Moto },
}

impl Bucket {
    fn reader(&self) -> &dyn StorageRead {
        match self {
            Bucket::Local(s) => s,
            Bucket::Remote { s3, .. } => s3,
        }
    }

    fn writer(&self) -> &dyn Storage {
        match self {
            Bucket::Local(s) => s,
            Bucket::Remote { s3, .. } => s3,
        }
    }

    async fn keys(&self, prefix: &str) -> Vec<String> {
        let listed = self.reader().list(BUCKET, prefix).await.unwrap();
        listed.into_iter().map(|l| l.key).collect()
    }

    async fn get(&self, key: &str) -> (Vec<u8>, HashMap<String, String>) {
        let got = self.reader().get(BUCKET, key).await.unwrap();
        got.unwrap_or_else(|| panic!("{key} exists"))
    }

    async fn put(&self, key: &str, body: Vec<u8>, meta: &HashMap<String, String>) {
        let meta: Vec<(String, String)> = meta.clone().into_iter().collect();
        self.writer()
            .put(BUCKET, key, Bytes::from(body), &meta)
            .await
            .unwrap();
    }

    fn delete(&self, key: &str) {
        match self {
            Bucket::Local(s) => {
                std::fs::remove_file(s.root().join(BUCKET).join(key)).unwrap();
                let _ = std::fs::remove_file(
                    s.root()
                        .join(BUCKET)
                        .join(".cairn-meta")
                        .join(format!("{key}.json")),
                );
            }
            Bucket::Remote { moto, .. } => {
                let out = moto.aws(&["s3", "rm", &format!("s3://{BUCKET}/{key}")]);
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }

    async fn digests(&self) -> Vec<String> {
        self.keys(&format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest/{REGION}/"))
            .await
    }

    async fn logs(&self) -> Vec<String> {
        self.keys(&format!("AWSLogs/{ACCOUNT}/CloudTrail/{REGION}/"))
            .await
    }

    async fn digest_json(&self, key: &str) -> Value {
        let (body, _) = self.get(key).await;
        serde_json::from_slice(&gunzip(&body)).unwrap()
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// What a validator printed and returned.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The two validators over one setup.
struct Validators<'a> {
    server: &'a Server,
    moto: Option<String>,
    start: String,
}

impl Validators<'_> {
    fn ours(&self) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
        cmd.args([
            "validate-logs",
            "--trail-arn",
            &arn(),
            "--start-time",
            &self.start,
        ]);
        match &self.moto {
            None => {
                cmd.arg("--data-dir").arg(&self.server.data_dir);
            }
            Some(moto) => {
                cmd.args([
                    "--endpoint-url",
                    &self.server.endpoint,
                    "--s3-endpoint-url",
                    moto,
                ]);
            }
        }
        cmd.env("AWS_ACCESS_KEY_ID", &self.server.admin.0)
            .env("AWS_SECRET_ACCESS_KEY", &self.server.admin.1);
        run(&mut cmd)
    }

    fn stock(&self) -> Run {
        let mut cmd = Command::new("aws");
        cmd.args([
            "cloudtrail",
            "validate-logs",
            "--trail-arn",
            &arn(),
            "--start-time",
            &self.start,
        ])
        .env("AWS_ACCESS_KEY_ID", &self.server.admin.0)
        .env("AWS_SECRET_ACCESS_KEY", &self.server.admin.1)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONWARNINGS", "ignore")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_ENDPOINT_URL_CLOUDTRAIL");
        match &self.moto {
            // One URL for both: Cairn speaks the CloudTrail API and S3 on the same port.
            None => cmd.env("AWS_ENDPOINT_URL", &self.server.endpoint),
            Some(moto) => cmd
                .args(["--endpoint-url", &self.server.endpoint])
                .env("AWS_ENDPOINT_URL_S3", moto)
                .env_remove("AWS_ENDPOINT_URL"),
        };
        run(&mut cmd)
    }

    /// Both validators find everything valid.
    fn both_valid(&self, what: &str) -> (Run, Run) {
        let (ours, stock) = (self.ours(), self.stock());
        assert_eq!(ours.code, 0, "{what}: cairn validate-logs\n{}", ours.all());
        assert_eq!(
            stock.code,
            0,
            "{what}: aws cloudtrail validate-logs\n{}",
            stock.all()
        );
        for r in [&ours, &stock] {
            assert!(!r.stderr.contains("INVALID"), "{what}: {}", r.all());
            assert!(
                r.stdout.contains("digest files valid"),
                "{what}: {}",
                r.all()
            );
        }
        (ours, stock)
    }

    /// Both validators report `line` (a substring of a result line) and exit 1.
    fn both_report(&self, what: &str, line: &str) {
        let (ours, stock) = (self.ours(), self.stock());
        for (name, r) in [("cairn", &ours), ("aws", &stock)] {
            assert_eq!(r.code, 1, "{what}: {name} exit code\n{}", r.all());
            assert!(
                r.stderr.contains(line),
                "{what}: {name} misses {line:?}\n{}",
                r.all()
            );
        }
    }
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..120 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Makes API calls for `seconds` (each is a management event the trail delivers).
async fn activity(server: &Server, seconds: u64) {
    let ct = server.admin_client();
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    while std::time::Instant::now() < until {
        ct.describe_trails().send().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Runs a trail with validation through a key rotation, a restart and a stop/start, with a
/// forged log file slipped in while its chain runs. Returns the forged file's key.
async fn produce(server: &mut Server, bucket: &Bucket) -> String {
    let ct = server.admin_client();
    ct.create_trail()
        .name(TRAIL)
        .s3_bucket_name(BUCKET)
        .enable_log_file_validation(true)
        .send()
        .await
        .unwrap();
    ct.start_logging().name(TRAIL).send().await.unwrap();
    activity(server, 3).await;
    // At least one digest signed with the first key (a chain's first digest ends two whole
    // seconds after it starts, so under load it may not exist yet).
    wait_until("a digest before the rotation", || async {
        !bucket.digests().await.is_empty()
    })
    .await;
    // Rotate the signing key while the chain runs: later digests use the new key.
    let out = Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["keys", "rotate", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    activity(server, 3).await;
    // A forged log file, stored while the chain runs: no digest will list it.
    let logs = bucket.logs().await;
    let (body, _) = bucket.get(&logs[0]).await;
    let forged = logs[0].replace(".json.gz", "X.json.gz");
    bucket.put(&forged, body, &HashMap::new()).await;
    activity(server, 2).await;
    // A restart continues the chain.
    server.restart();
    activity(server, 3).await;
    let ct = server.admin_client();
    ct.stop_logging().name(TRAIL).send().await.unwrap();
    // Logging again starts a new chain; then stop for good.
    ct.start_logging().name(TRAIL).send().await.unwrap();
    activity(server, 3).await;
    ct.stop_logging().name(TRAIL).send().await.unwrap();
    // The final digest follows the StopLogging event.
    let stopped = Utc::now();
    wait_until("the final digest", || async {
        let digests = bucket.digests().await;
        match digests.last() {
            Some(k) => {
                let d = bucket.digest_json(k).await;
                let end: DateTime<Utc> = d["digestEndTime"].as_str().unwrap().parse().unwrap();
                end >= stopped - chrono::Duration::seconds(1)
                    && d["logFiles"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|f| !f["s3Object"].as_str().unwrap().is_empty())
            }
            None => false,
        }
    })
    .await;
    // Let any round in flight finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    forged
}

/// The chain's shape: each digest's previous pointer, fingerprints, key rotation, restarts.
async fn check_chain_shape(bucket: &Bucket) {
    let mut digests = Vec::new();
    for k in bucket.digests().await {
        digests.push(bucket.digest_json(&k).await);
    }
    let shape: Vec<String> = digests
        .iter()
        .map(|d| {
            format!(
                "{}..{} key {}{}",
                d["digestStartTime"].as_str().unwrap_or("?"),
                d["digestEndTime"].as_str().unwrap_or("?"),
                d["digestPublicKeyFingerprint"].as_str().unwrap_or("?"),
                if d["previousDigestS3Object"].is_null() {
                    " (chain start)"
                } else {
                    ""
                }
            )
        })
        .collect();
    assert!(
        digests.len() >= 7,
        "only {} digests: {shape:#?}",
        digests.len()
    );
    let starts = digests
        .iter()
        .filter(|d| d["previousDigestS3Object"].is_null())
        .count();
    assert_eq!(
        starts, 2,
        "one chain per StartLogging (the restart continues it)"
    );
    let fingerprints: std::collections::HashSet<&str> = digests
        .iter()
        .map(|d| d["digestPublicKeyFingerprint"].as_str().unwrap())
        .collect();
    assert_eq!(
        fingerprints.len(),
        2,
        "the rotation changed the signing key: {shape:#?}"
    );
    for pair in digests.windows(2) {
        if !pair[1]["previousDigestS3Object"].is_null() {
            assert_eq!(pair[1]["previousDigestS3Object"], pair[0]["digestS3Object"]);
            assert_eq!(pair[1]["digestStartTime"], pair[0]["digestEndTime"]);
        } else {
            // A new chain never starts before the previous one's final digest ends (the
            // stock validator would skip the overlap's digests).
            let time =
                |d: &Value, k: &str| d[k].as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
            assert!(
                time(&pair[1], "digestStartTime") >= time(&pair[0], "digestEndTime"),
                "{} starts before {} ends",
                pair[1]["digestS3Object"],
                pair[0]["digestS3Object"]
            );
        }
    }
}

/// The digests of the first chain, oldest first (JSON), and their keys.
async fn first_chain(bucket: &Bucket) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for k in bucket.digests().await {
        let d = bucket.digest_json(&k).await;
        if d["previousDigestS3Object"].is_null() && !out.is_empty() {
            break;
        }
        out.push((k, d));
    }
    out
}

/// Every tampering case, each undone before the next; answers the last runs (all restored).
async fn tamper_matrix(v: &Validators<'_>, bucket: &Bucket, forged: &str) -> (Run, Run) {
    // A log file no digest lists: only Cairn can tell (the stock CLI never looks for such files).
    let ours = v.ours();
    assert_eq!(ours.code, 1, "{}", ours.all());
    assert!(
        ours.stderr.contains(&format!(
            "s3://{BUCKET}/{forged}\tINVALID: not listed in any digest"
        )),
        "{}",
        ours.all()
    );
    assert_eq!(
        v.stock().code,
        0,
        "the stock CLI does not look for unlisted files"
    );
    bucket.delete(forged);
    v.both_valid("intact");

    let chain = first_chain(bucket).await;
    assert!(chain.len() >= 5, "first chain has {} digests", chain.len());
    let listed_log = chain
        .iter()
        .flat_map(|(_, d)| d["logFiles"].as_array().unwrap().clone())
        .map(|f| f["s3Object"].as_str().unwrap().to_string())
        .next()
        .expect("a digest lists a log file");

    // A modified log file.
    let (orig, meta) = bucket.get(&listed_log).await;
    let mut json = gunzip(&orig);
    let at = json.len() - 3;
    json[at] = b' ';
    bucket.put(&listed_log, gzip(&json), &meta).await;
    v.both_report(
        "modified log file",
        &format!("Log file\ts3://{BUCKET}/{listed_log}\tINVALID: hash value doesn't match"),
    );
    bucket.put(&listed_log, orig.clone(), &meta).await;

    // Bytes appended after the gzip stream.
    let mut appended = orig.clone();
    appended.extend_from_slice(b"trailing");
    bucket.put(&listed_log, appended, &meta).await;
    v.both_report(
        "appended bytes",
        &format!(
            "Log file\ts3://{BUCKET}/{listed_log}\tINVALID: unexpected data after end of compressed stream"
        ),
    );
    bucket.put(&listed_log, orig.clone(), &meta).await;

    // A deleted log file.
    bucket.delete(&listed_log);
    v.both_report(
        "deleted log file",
        &format!("Log file\ts3://{BUCKET}/{listed_log}\tINVALID: not found"),
    );
    bucket.put(&listed_log, orig, &meta).await;
    v.both_valid("log file restored");

    // A modified digest (the JSON changed, the signature kept).
    let (dk, _) = &chain[2];
    let (orig, meta) = bucket.get(dk).await;
    let text = String::from_utf8(gunzip(&orig)).unwrap();
    let changed = text.replacen("\"logFiles\":[", "\"logFiles\":[ ", 1);
    bucket.put(dk, gzip(changed.as_bytes()), &meta).await;
    v.both_report(
        "modified digest",
        &format!("Digest file\ts3://{BUCKET}/{dk}\tINVALID: signature verification failed"),
    );

    // A digest signed by a key Cairn never had.
    let dir = tempfile::tempdir().unwrap();
    let stranger = KeyRing::open(
        &dir.path().join("keys.json"),
        &[REGION.to_string()],
        Utc::now() - chrono::Duration::days(1),
    )
    .unwrap();
    let mut d: Value = serde_json::from_str(&text).unwrap();
    let fp = stranger.public_keys(REGION, Utc::now(), Utc::now())[0]
        .fingerprint
        .clone();
    d["digestPublicKeyFingerprint"] = Value::String(fp.clone());
    let forged_json = serde_json::to_vec(&d).unwrap();
    let to_sign = cairn_integrity::signing_string(
        d["digestEndTime"].as_str().unwrap(),
        BUCKET,
        dk,
        &cairn_integrity::digest::sha256_hex(&forged_json),
        d["previousDigestSignature"].as_str(),
    );
    let (sig, _) = stranger
        .sign(REGION, Utc::now(), to_sign.as_bytes())
        .unwrap();
    let mut forged_meta = meta.clone();
    forged_meta.insert("signature".into(), hex::encode(sig));
    bucket.put(dk, gzip(&forged_json), &forged_meta).await;
    v.both_report(
        "unknown key",
        &format!(
            "Digest file\ts3://{BUCKET}/{dk}\tINVALID: public key not found in region {REGION} for fingerprint {fp}"
        ),
    );

    // A deleted digest.
    bucket.delete(dk);
    v.both_report(
        "deleted digest",
        &format!("Digest file\ts3://{BUCKET}/{dk}\tINVALID: not found"),
    );
    bucket.put(dk, orig.clone(), &meta).await;
    v.both_valid("digest restored");

    // A break in the chain: another (validly signed) digest of the trail put in its place.
    let (other, _) = &chain[0];
    let (other_body, other_meta) = bucket.get(other).await;
    bucket.put(dk, other_body, &other_meta).await;
    v.both_report(
        "chain break",
        &format!(
            "Digest file\ts3://{BUCKET}/{dk}\tINVALID: has been moved from its original location"
        ),
    );
    bucket.put(dk, orig.clone(), &meta).await;

    // Two deleted digests in a row: the stock CLI reports only the newer one; Cairn reports
    // the whole period left uncovered.
    let (dk3, _) = &chain[3];
    let (orig3, meta3) = bucket.get(dk3).await;
    bucket.delete(dk);
    bucket.delete(dk3);
    let ours = v.ours();
    assert_eq!(ours.code, 1, "{}", ours.all());
    let covered_from = chain[1].1["digestEndTime"].as_str().unwrap();
    let covered_to = chain[3].1["digestEndTime"].as_str().unwrap();
    assert!(
        ours.stderr.contains(&format!(
            "Digest chain\tINVALID: no valid digest covers {covered_from} to {covered_to}"
        )),
        "double deletion:\n{}",
        ours.all()
    );
    let stock = v.stock();
    assert!(
        !stock.stderr.contains(&format!("s3://{BUCKET}/{dk}\t")),
        "the stock CLI skips the older of two deleted digests:\n{}",
        stock.all()
    );
    bucket.put(dk, orig, &meta).await;
    bucket.put(dk3, orig3, &meta3).await;
    v.both_valid("all restored")
}

#[tokio::test]
async fn digests_validate_and_tampering_is_caught_in_a_local_bucket() {
    let mut server = Server::start_with(&["--delivery-interval", "1", "--digest-interval", "1"]);
    server.create_bucket(BUCKET);
    let bucket = Bucket::Local(LocalStorage::new(server.data_dir.join("buckets")));
    let start = (Utc::now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let forged = produce(&mut server, &bucket).await;
    check_chain_shape(&bucket).await;
    let v = Validators {
        server: &server,
        moto: None,
        start,
    };
    let (_, stock) = tamper_matrix(&v, &bucket, &forged).await;
    // The stock CLI's valid run names a gap where logging stopped and started again.
    assert!(
        stock
            .stderr
            .contains("No log files were delivered by CloudTrail between"),
        "{}",
        stock.all()
    );
}

#[tokio::test]
async fn digests_validate_and_tampering_is_caught_in_an_s3_compatible_store() {
    let moto = Moto::start();
    let out = moto.aws(&["s3", "mb", &format!("s3://{BUCKET}")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = Server::start_with_env(
        &[
            "--delivery-interval",
            "1",
            "--digest-interval",
            "1",
            "--s3-endpoint",
            &moto.endpoint,
        ],
        &[
            ("CAIRN_S3_ACCESS_KEY_ID", "moto"),
            ("CAIRN_S3_SECRET_ACCESS_KEY", "moto"),
        ],
    );
    let endpoint = moto.endpoint.clone();
    let bucket = Bucket::Remote {
        s3: S3Storage::new(S3Settings {
            endpoint: endpoint.clone(),
            region: REGION.into(),
            access_key_id: "moto".into(),
            secret_access_key: "moto".into(),
        }),
        moto,
    };
    let start = (Utc::now() - chrono::Duration::minutes(1))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let forged = produce(&mut server, &bucket).await;
    check_chain_shape(&bucket).await;
    let v = Validators {
        server: &server,
        moto: Some(endpoint),
        start,
    };
    tamper_matrix(&v, &bucket, &forged).await;
}

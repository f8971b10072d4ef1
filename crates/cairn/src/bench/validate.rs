//! `cairn bench validate`: `cairn validate-logs` against `aws cloudtrail validate-logs` on the
//! same trail, in one run, next to the gunzip + SHA-256 limit.
//!
//! The trail is generated: hourly digests signed with the data dir's key, each listing its share
//! of the log files; log file `i` holds the records of sample file `i mod n`, so the files are
//! as big as real CloudTrail files (the samples: median 10, mean 36 records). Both validators then check the whole chain — Cairn's
//! straight from the data dir and through a running server's S3 API (the path the AWS CLI
//! takes), the AWS CLI through that same server.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use cairn_delivery::naming::{LogFileLocation, log_file_key, unique_part};
use cairn_delivery::{LocalStorage, Storage as _};
use cairn_integrity::digest::sha256_hex;
use cairn_integrity::{ChainLink, DigestInput, KeyRing, LogFileEntry, digest_key, produce_digest};
use chrono::{DurationRound as _, Utc};
use hyper::body::Bytes;
use sha2::Digest as _;

use super::client::{ChildServer, KEY_ID, SECRET};
use crate::data_dir::DataDir;

const ACCOUNT: &str = "123456789012";
const REGION: &str = "us-east-1";
const BUCKET: &str = "bench-validate";
const TRAIL: &str = "bench";

/// What to generate and compare.
pub struct Params {
    pub digests: usize,
    pub files: usize,
    pub dir: PathBuf,
    pub samples: PathBuf,
    pub aws: String,
}

pub fn validate(p: Params) -> anyhow::Result<()> {
    if p.digests == 0 || p.files == 0 {
        bail!("--digests and --files must be at least 1");
    }
    let _ = std::fs::remove_dir_all(&p.dir);
    let data = DataDir::create(&p.dir.join("data"))?;
    let samples = super::sample_files(&p.samples)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;

    // The trail: `digests` hours ending an hour ago, files spread evenly.
    let now = Utc::now();
    let t0 = now.duration_trunc(chrono::Duration::hours(1))?
        - chrono::Duration::hours(p.digests as i64 + 1);
    let keys = KeyRing::open(
        &data.signing_keys(),
        &[REGION.to_string()],
        t0 - chrono::Duration::days(1),
    )?;
    std::fs::create_dir_all(data.buckets().join(BUCKET))?;
    let storage = LocalStorage::new(data.buckets());
    let generated = Instant::now();
    let (mut gz_bytes, mut previous): (u64, Option<ChainLink>) = (0, None);
    let mut next_file = 0;
    for d in 0..p.digests {
        let start = t0 + chrono::Duration::hours(d as i64);
        let end = start + chrono::Duration::hours(1);
        let share = p.files / p.digests + usize::from(d < p.files % p.digests);
        let mut entries = Vec::with_capacity(share);
        for f in 0..share {
            let delivered = start + chrono::Duration::seconds((f as i64 * 3000) / share as i64 + 1);
            let records = &samples[next_file % samples.len()];
            next_file += 1;
            let json = serde_json::to_vec(&serde_json::json!({ "Records": records }))?;
            let gz = cairn_integrity::digest::gzip(&json);
            gz_bytes += gz.len() as u64;
            let key = log_file_key(
                &LogFileLocation {
                    prefix: None,
                    org_id: None,
                    account: ACCOUNT,
                    region: REGION,
                    delivered_at: delivered,
                },
                &unique_part(&[&d.to_string(), &f.to_string()]),
            );
            runtime.block_on(storage.put(BUCKET, &key, Bytes::from(gz), &[]))?;
            let t = delivered.format("%Y-%m-%dT%H:%M:%SZ").to_string();
            entries.push(LogFileEntry {
                bucket: BUCKET.into(),
                key,
                sha256_hex: sha256_hex(&json),
                oldest_event_time: Some(t.clone()),
                newest_event_time: Some(t),
            });
        }
        let key = digest_key(None, None, ACCOUNT, REGION, TRAIL, REGION, end);
        let signed = produce_digest(
            &keys,
            REGION,
            &DigestInput {
                account: ACCOUNT,
                start,
                end,
                bucket: BUCKET,
                key: &key,
                fingerprint: "",
                log_files: &entries,
                previous: previous.as_ref(),
            },
        )?;
        runtime.block_on(storage.put(
            BUCKET,
            &key,
            Bytes::from(signed.gzip.clone()),
            &signed.metadata(),
        ))?;
        previous = Some(signed.link);
    }
    println!(
        "generated {} digests and {} log files ({:.1} MB gzip) in {:.1} s",
        p.digests,
        p.files,
        gz_bytes as f64 / 1e6,
        generated.elapsed().as_secs_f64()
    );

    let limit = {
        let mut t: Vec<f64> = (0..3)
            .map(|_| hash_limit(&storage))
            .collect::<anyhow::Result<_>>()?;
        t.sort_by(f64::total_cmp);
        t[1]
    };
    let server = ChildServer::start(data.root())?;
    let arn = format!("arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{TRAIL}");
    let start_time = t0.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let common = [
        "--trail-arn",
        arn.as_str(),
        "--start-time",
        start_time.as_str(),
        "--s3-bucket",
        BUCKET,
    ];
    let expect = format!("{0}/{0} log files valid", p.files);

    let exe = std::env::current_exe()?;
    let mut ours_local = Command::new(&exe);
    ours_local
        .arg("validate-logs")
        .args(common)
        .arg("--data-dir")
        .arg(data.root());
    let local = timed("cairn validate-logs (data dir)", &mut ours_local, &expect)?;
    let mut ours_remote = Command::new(&exe);
    ours_remote
        .arg("validate-logs")
        .args(common)
        .args(["--endpoint-url", &server.endpoint])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET);
    let remote = timed("cairn validate-logs (S3 API)", &mut ours_remote, &expect)?;
    let mut aws = Command::new(&p.aws);
    aws.args(["cloudtrail", "validate-logs"])
        .args(common)
        .env("AWS_ENDPOINT_URL", &server.endpoint)
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_DEFAULT_REGION", REGION)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("PYTHONWARNINGS", "ignore");
    let stock = timed("aws cloudtrail validate-logs (S3 API)", &mut aws, &expect)?;

    let mb = gz_bytes as f64 / 1e6;
    println!();
    println!(
        "| validator ({} digests, {} log files, {mb:.1} MB gzip) | wall time | MB/s gzip | vs. AWS CLI | vs. limit |",
        p.digests, p.files
    );
    println!("|---|---:|---:|---:|---:|");
    let row = |name: &str, secs: f64| {
        println!(
            "| {name} | {secs:.2} s | {:.1} | {:.1}× | {:.0}% |",
            mb / secs,
            stock / secs,
            100.0 * limit / secs
        );
    };
    row("limit: read + gunzip + SHA-256, one thread per core", limit);
    row("**cairn validate-logs**, data dir", local);
    row("**cairn validate-logs**, through Cairn's S3 API", remote);
    row(
        "aws cloudtrail validate-logs (awscli), through Cairn's S3 API",
        stock,
    );
    Ok(())
}

/// Runs a validator `RUNS` times; checks it found every log file valid each time; returns the
/// median wall time in seconds.
fn timed(name: &str, cmd: &mut Command, expect: &str) -> anyhow::Result<f64> {
    const RUNS: usize = 3;
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let started = Instant::now();
        let out = cmd.output().with_context(|| format!("running {name}"))?;
        times.push(started.elapsed().as_secs_f64());
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !stdout.contains(expect) {
            bail!(
                "{name} did not report {expect:?} (exit {:?}):\n{stdout}\n{}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    times.sort_by(f64::total_cmp);
    println!("{name}: {times:.2?} s (median of {RUNS})");
    Ok(times[RUNS / 2])
}

/// Seconds to read, gunzip and hash every log file of the trail on one thread per core.
fn hash_limit(storage: &LocalStorage) -> anyhow::Result<f64> {
    let bucket_dir = storage.root().join(BUCKET);
    let files: Vec<std::path::PathBuf> = storage
        .list_blocking(BUCKET, &format!("AWSLogs/{ACCOUNT}/CloudTrail/"))?
        .into_iter()
        .map(|l| bucket_dir.join(l.key))
        .collect();
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    let Ok(body) = std::fs::read(path) else {
                        continue;
                    };
                    let mut json = Vec::new();
                    let _ = flate2::read::GzDecoder::new(&body[..]).read_to_end(&mut json);
                    std::hint::black_box(sha2::Sha256::digest(&json));
                }
            });
        }
    });
    Ok(started.elapsed().as_secs_f64())
}

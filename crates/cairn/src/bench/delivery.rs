//! `cairn bench delivery`: how fast trails turn the log into log files, and how soon an
//! acknowledged event is readable in a bucket.
//!
//! 1. Throughput: a store holding N events (the sample records replicated), 5 logging trails
//!    with default selectors into local buckets; time until every trail has delivered
//!    everything (selectors + JSON + gzip + fsync'd files + checkpoints). The limit beside it,
//!    measured in the same run on the same records: building the same log files — concatenating
//!    the records and gzipping them at level 6 — on all cores, with no store and no files.
//! 2. Latency: a child `cairn serve --delivery-interval 1` with one logging trail; each call's
//!    time from acknowledgement until a log file holding its event exists in the bucket.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_core::record::EventRecord;
use cairn_core::trail_config::TrailConfig;
use cairn_delivery::logfile::LogFileBuilder;
use cairn_delivery::{
    DeliveryConfig, LocalStorage, STATE_NAMESPACE, TRAIL_NAMESPACE, consumer_id, deliver_backlog,
};
use cairn_store::{CatalogWrite, Commit, EventIndex, NewEvent, SqliteStore, Store};
use chrono::Utc;
use serde_json::Value;

use super::client::{ChildServer, SignedClient, percentiles_ms};

const TRAILS: usize = 5;

pub async fn delivery(
    events: u64,
    calls: usize,
    dir: PathBuf,
    samples: PathBuf,
) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let records = load_records(&samples)?;
    let (cairn_rate, files) = throughput(&dir, events, &records).await?;
    let limit_rate = limit(events, &records);
    println!(
        "cairn bench delivery: {events} events x {TRAILS} logging trails (default selectors), local buckets"
    );
    println!("| measure | events/s into log files | files |");
    println!("|---|---:|---:|");
    println!(
        "| cairn delivery (selectors + JSON + gzip + fsync'd files + checkpoints) | {cairn_rate:.0} | {files} |"
    );
    println!(
        "| limit: the same log files built in memory (concatenate + gzip -6), all cores | {limit_rate:.0} | - |"
    );
    println!("cairn / limit: {:.0}%", 100.0 * cairn_rate / limit_rate);
    let (p50, p99) = latency(&dir.join("latency"), calls).await?;
    println!(
        "\nacknowledgement -> object readable, --delivery-interval 1, {calls} calls: p50 {p50:.0} ms, p99 {p99:.0} ms"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn load_records(samples: &Path) -> anyhow::Result<Vec<Value>> {
    let mut out = super::sample_records(samples)?;
    // One region, so each trail writes one file per round like a typical single-region setup.
    for r in &mut out {
        r["awsRegion"] = Value::String("us-east-1".into());
    }
    Ok(out)
}

fn trail(name: &str) -> TrailConfig {
    TrailConfig {
        is_multi_region_trail: true,
        is_logging: true,
        start_logging_time: Some(Utc::now()),
        ..TrailConfig::new(
            name,
            "us-east-1",
            "123456789012",
            &format!("bucket-{name}"),
            Utc::now(),
        )
    }
}

/// Fills a store, starts 5 logging trails at the beginning of the log, and delivers.
async fn throughput(dir: &Path, events: u64, records: &[Value]) -> anyhow::Result<(f64, usize)> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("events.db"))?);
    let mut setup = Vec::new();
    let mut consumers = Vec::new();
    for i in 0..TRAILS {
        let t = trail(&format!("trail{i}"));
        std::fs::create_dir_all(dir.join("buckets").join(&t.s3_bucket_name))?;
        setup.push(CatalogWrite::put(
            TRAIL_NAMESPACE,
            &t.key(),
            serde_json::to_string(&t)?,
        ));
        // Logging from the start of the log (as if StartLogging came first).
        setup.push(CatalogWrite::put(
            STATE_NAMESPACE,
            &t.key(),
            r#"{"logging":true}"#.into(),
        ));
        consumers.push(consumer_id(&t.key()));
    }
    store
        .commit(Commit {
            catalog: setup,
            start_consumers: consumers,
            ..Commit::default()
        })
        .await?;
    let now_ms = Utc::now().timestamp_millis();
    let mut batch = Vec::new();
    for k in 0..events {
        let mut r = records[(k as usize) % records.len()].clone();
        let id = uuid::Uuid::now_v7().to_string();
        r["eventID"] = Value::String(id.clone());
        let parsed = EventRecord::from_value(r.clone())?;
        batch.push(NewEvent {
            event_id: id,
            received_at_ms: now_ms,
            index: EventIndex::of(&parsed),
            record_json: r.to_string(),
        });
        if batch.len() == 10_000 {
            store
                .commit(Commit::events(std::mem::take(&mut batch)))
                .await?;
        }
    }
    store.commit(Commit::events(batch)).await?;

    let storage = Arc::new(LocalStorage::new(dir.join("buckets")));
    let config = DeliveryConfig {
        interval: Duration::from_secs(1),
        org_id: None,
        keys: None,
        regions: vec!["us-east-1".to_string()],
        digest_interval: chrono::Duration::hours(1),
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..TRAILS {
        let (store, storage, config) = (store.clone(), storage.clone(), config.clone());
        let key = trail(&format!("trail{i}")).key();
        tasks.push(tokio::spawn(async move {
            deliver_backlog(store, storage, config, &key).await
        }));
    }
    let mut files = 0;
    for t in tasks {
        files += t.await?.map_err(|e| anyhow::anyhow!(e))?;
    }
    let secs = started.elapsed().as_secs_f64();
    Ok(((events as f64 * TRAILS as f64) / secs, files))
}

/// The same files built in memory on all cores: the serialisation + gzip limit.
fn limit(events: u64, records: &[Value]) -> f64 {
    let texts: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let total = events as usize * TRAILS;
    let started = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let texts = &texts;
            s.spawn(move || {
                let mut i = t;
                let mut builder = LogFileBuilder::new();
                while i < total {
                    builder.push(&texts[i % texts.len()], None);
                    if builder.len() >= 40 * 1024 * 1024 {
                        let _ = std::mem::take(&mut builder).finish();
                        builder = LogFileBuilder::new();
                    }
                    i += threads;
                }
                let _ = builder.finish();
            });
        }
    });
    total as f64 / started.elapsed().as_secs_f64()
}

/// Acknowledgement-to-readable latency through a real server.
async fn latency(dir: &Path, calls: usize) -> anyhow::Result<(f64, f64)> {
    std::fs::create_dir_all(dir.join("buckets/lat-logs"))?;
    let server = ChildServer::start_with(dir, &["--delivery-interval", "1"])?;
    let client = SignedClient::new(&server.endpoint);
    let ok = |r: &super::client::Reply| r.status == 200;
    let created = client
        .cloudtrail(
            "CreateTrail",
            r#"{"Name":"latency","S3BucketName":"lat-logs"}"#,
        )
        .await?;
    if !ok(&created) {
        bail!(
            "CreateTrail failed: {}",
            String::from_utf8_lossy(&created.body)
        );
    }
    client
        .cloudtrail("StartLogging", r#"{"Name":"latency"}"#)
        .await?;
    let bucket = dir.join("buckets/lat-logs");
    let mut latencies = Vec::new();
    let mut seen_files: HashSet<PathBuf> = HashSet::new();
    for i in 0..calls {
        // Spread calls over the window so they land at different points of it.
        tokio::time::sleep(Duration::from_millis(137 * (i as u64 % 7))).await;
        let reply = client.cloudtrail("ListTrails", "{}").await?;
        let acked = Instant::now();
        let request_id = reply.request_id.clone().context("no request id")?;
        loop {
            if find_request(&bucket, &request_id, &mut seen_files) == Some(true) {
                latencies.push(acked.elapsed());
                break;
            }
            if acked.elapsed() > Duration::from_secs(30) {
                bail!("event of request {request_id} never delivered");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    Ok(percentiles_ms(&mut latencies))
}

/// Scans new log files for a record with `requestID`.
fn find_request(bucket: &Path, request_id: &str, seen: &mut HashSet<PathBuf>) -> Option<bool> {
    let mut stack = vec![bucket.to_path_buf()];
    let mut found = false;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).ok()?.flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with(".cairn-meta") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "gz") && !seen.contains(&p) {
                let mut text = String::new();
                if flate2::read::GzDecoder::new(std::fs::File::open(&p).ok()?)
                    .read_to_string(&mut text)
                    .is_ok()
                {
                    found |= text.contains(request_id);
                    seen.insert(p);
                }
            }
        }
    }
    Some(found)
}

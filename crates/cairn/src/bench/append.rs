//! `cairn bench append` measures durable appends per second and time to acknowledgement at
//! several writer counts, next to the raw limit of the same disk measured in the same run: the
//! same bytes appended to a plain file by one thread that takes every waiting record, writes
//! them, calls `fdatasync` once for the group and then acknowledges them. Each event carries the
//! lookup fields of its record (name, source, user, access key, read-only), as a real self-audit
//! event does.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use cairn_core::audit::{ApiCall, CallOutcome, api_call_record};
use cairn_core::operation::Operation;
use cairn_core::principal::{IdentityType, Principal, Role};
use cairn_store::{Commit, NewEvent, SqliteStore, Store};
use tokio::sync::oneshot;

/// One row of results.
struct Figures {
    events_per_sec: f64,
    p50: Duration,
    p99: Duration,
    /// CPU time of the whole process (callers, store threads) per event, in µs.
    cpu_us_per_event: Option<f64>,
    /// Cairn only: how long the lookup index took to catch up with the log after the last
    /// append (a few ms when the indexer keeps up; seconds when the figure was bought with a
    /// growing backlog).
    index_catch_up: Option<Duration>,
}

impl Figures {
    fn from(mut latencies: Vec<Duration>, elapsed: Duration, cpu: Option<Duration>) -> Figures {
        latencies.sort_unstable();
        let pick = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q) as usize)
                .copied()
                .unwrap_or_default()
        };
        Figures {
            events_per_sec: latencies.len() as f64 / elapsed.as_secs_f64(),
            p50: pick(0.5),
            p99: pick(0.99),
            cpu_us_per_event: cpu
                .filter(|_| !latencies.is_empty())
                .map(|c| c.as_secs_f64() * 1e6 / latencies.len() as f64),
            index_catch_up: None,
        }
    }
}

/// Runs the benchmark and prints a Markdown table: per writer count, `rounds` rounds of Cairn
/// then the raw file, and the medians of each column (the ratio is the median of the rounds'
/// ratios, each taken against the raw figure measured right after it).
pub async fn append(
    writers: Vec<usize>,
    window: Window,
    rounds: usize,
    dir: PathBuf,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let template = template_record();
    println!(
        "cairn bench append: {} s per measurement after {} s of warm-up, {rounds} rounds per row (medians), record {} bytes, scratch dir {}",
        window.measured.as_secs(),
        window.warmup.as_secs(),
        template.len(),
        dir.display()
    );
    println!(
        "| writers | cairn events/s | cairn p50 | cairn p99 | cairn CPU/event | index catch-up | raw file events/s | raw p50 | raw p99 | raw CPU/event | cairn / raw | rounds (cairn / raw) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for &w in &writers {
        let mut cairn_rounds = Vec::new();
        let mut raw_rounds = Vec::new();
        for _ in 0..rounds.max(1) {
            cairn_rounds.push(measure_cairn(w, window, &dir, &template).await?);
            raw_rounds.push(measure_raw(w, window, &dir, &template).await?);
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let pick = |rows: &[Figures], f: fn(&Figures) -> f64| median(rows.iter().map(f).collect());
        // Process CPU per event (callers included), where /proc tells.
        let cpu = |rows: &[Figures]| {
            let each: Vec<f64> = rows.iter().filter_map(|f| f.cpu_us_per_event).collect();
            if each.is_empty() {
                "n/a".to_string()
            } else {
                format!("{:.1} µs", median(each))
            }
        };
        let ratios: Vec<f64> = cairn_rounds
            .iter()
            .zip(&raw_rounds)
            .map(|(c, r)| c.events_per_sec / r.events_per_sec)
            .collect();
        let each: Vec<String> = cairn_rounds
            .iter()
            .zip(&raw_rounds)
            .map(|(c, r)| format!("{:.0} / {:.0}", c.events_per_sec, r.events_per_sec))
            .collect();
        println!(
            "| {w} | {:.0} | {:.2} ms | {:.2} ms | {} | {:.1} ms | {:.0} | {:.2} ms | {:.2} ms | {} | {:.0}% | {} |",
            pick(&cairn_rounds, |f| f.events_per_sec),
            pick(&cairn_rounds, |f| ms(f.p50)),
            pick(&cairn_rounds, |f| ms(f.p99)),
            cpu(&cairn_rounds),
            pick(&cairn_rounds, |f| ms(f.index_catch_up.unwrap_or_default())),
            pick(&raw_rounds, |f| f.events_per_sec),
            pick(&raw_rounds, |f| ms(f.p50)),
            pick(&raw_rounds, |f| ms(f.p99)),
            cpu(&raw_rounds),
            100.0 * median(ratios),
            each.join(", "),
        );
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

/// One round of Cairn's store: a fresh database, `w` writers for the warm-up and the measured
/// part of `window`.
async fn measure_cairn(
    w: usize,
    window: Window,
    dir: &std::path::Path,
    template: &str,
) -> anyhow::Result<Figures> {
    let db = dir.join(format!("bench-{w}.db"));
    remove_db(&db);
    let sqlite = SqliteStore::open(&db)?;
    let store: Arc<dyn Store> = Arc::new(sqlite.clone());
    // The lookup fields of the template (all but the eventID are the same for every event), so
    // each append writes the same history keys a real self-audit event does.
    let index = cairn_store::EventIndex::of(&cairn_core::record::EventRecord::from_json(template)?);
    let template = template.to_string();
    let figures = measure(w, window, move |id| {
        let index = index.clone();
        let store = store.clone();
        let record = template.replace("EVENT-ID-PLACEHOLDER", &id);
        async move {
            let event = NewEvent {
                event_id: id,
                received_at_ms: 0,
                index,
                record_json: record,
            };
            store
                .commit(Commit::events(vec![event]))
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
        }
    })
    .await?;
    let catching_up = Instant::now();
    sqlite.index_tail().await?;
    let figures = Figures {
        index_catch_up: Some(catching_up.elapsed()),
        ..figures
    };
    drop(sqlite);
    remove_db(&db);
    Ok(figures)
}

/// One round of the raw limit: the same bytes to a plain file, one `fdatasync` per group.
async fn measure_raw(
    w: usize,
    window: Window,
    dir: &std::path::Path,
    template: &str,
) -> anyhow::Result<Figures> {
    let raw_path = dir.join(format!("bench-{w}.raw"));
    let raw = RawLog::open(&raw_path)?;
    let template = template.to_string();
    let figures = measure(w, window, move |id| {
        let raw = raw.clone();
        let record = template.replace("EVENT-ID-PLACEHOLDER", &id);
        async move { raw.append(record.into_bytes()).await }
    })
    .await?;
    let _ = std::fs::remove_file(&raw_path);
    Ok(figures)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn remove_db(db: &std::path::Path) {
    for file in SqliteStore::files(db) {
        let _ = std::fs::remove_file(file);
    }
}

/// How long each measurement runs: `warmup` unmeasured, then `measured`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measured: Duration,
}

/// Runs `writers` tasks, each appending one event at a time, for the warm-up and then the
/// measured part of `window`; only appends started in the measured part count.
async fn measure<F, Fut>(writers: usize, window: Window, append: F) -> anyhow::Result<Figures>
where
    F: Fn(String) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let measured_from = Instant::now() + window.warmup;
    let deadline = measured_from + window.measured;
    let mut tasks = Vec::new();
    for _ in 0..writers {
        let append = append.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                append(uuid::Uuid::now_v7().to_string()).await?;
                if t >= measured_from {
                    latencies.push(t.elapsed());
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    tokio::time::sleep_until(measured_from.into()).await;
    let cpu_before = super::cpu::process();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = measured_from.elapsed();
    let cpu = super::cpu::process()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    Ok(Figures::from(all, elapsed, cpu))
}

/// A realistic self-audit record (~1 KB) with a placeholder for the event id.
fn template_record() -> String {
    let principal = Principal {
        identity_type: IdentityType::IamUser,
        user_name: "bench-user".into(),
        principal_id: "AIDABENCHBENCHBENCH12".into(),
        access_key_id: "AKIABENCHBENCHBENCH1".into(),
        account_id: "123456789012".into(),
        role: Role::Admin,
    };
    let request = serde_json::json!({"Name": "management-events", "S3BucketName": "audit-logs-123456789012", "IsMultiRegionTrail": true});
    let response = serde_json::json!({"Name": "management-events", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events"});
    api_call_record(&ApiCall {
        principal: &principal,
        operation: Operation::CreateTrail,
        event_time: chrono::Utc::now(),
        region: "us-east-1",
        source_ip: "192.0.2.10",
        user_agent: Some("aws-cli/1.46.3 md/Botocore#1.43.62 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython cfg/retry-mode#legacy botocore/1.43.62"),
        request_parameters: Some(&request),
        outcome: CallOutcome::Success { response: Some(&response) },
        request_id: "6c1f1a1e-0b5e-4a51-9f2b-2d3f4f1c9a77",
        event_id: "EVENT-ID-PLACEHOLDER",
        recipient_account_id: "123456789012",
        tls: None,
        resources: &[],
    })
    .to_string()
}

/// The raw limit: a plain file, one writer thread, one `fdatasync` per group of waiting records.
#[derive(Clone)]
struct RawLog {
    jobs: std::sync::mpsc::Sender<(Vec<u8>, oneshot::Sender<std::io::Result<()>>)>,
}

impl RawLog {
    fn open(path: &std::path::Path) -> anyhow::Result<RawLog> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(path)?;
        let (tx, rx) =
            std::sync::mpsc::channel::<(Vec<u8>, oneshot::Sender<std::io::Result<()>>)>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut group = vec![first];
                while let Ok(job) = rx.try_recv() {
                    group.push(job);
                }
                let mut buf = Vec::new();
                for (bytes, _) in &group {
                    buf.extend_from_slice(bytes);
                    buf.push(b'\n');
                }
                let result = file.write_all(&buf).and_then(|_| file.sync_data());
                for (_, reply) in group {
                    let _ = reply.send(
                        result
                            .as_ref()
                            .map(|_| ())
                            .map_err(|e| std::io::Error::new(e.kind(), e.to_string())),
                    );
                }
            }
        });
        Ok(RawLog { jobs: tx })
    }

    async fn append(&self, bytes: Vec<u8>) -> anyhow::Result<()> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send((bytes, tx))
            .map_err(|_| anyhow::anyhow!("raw writer stopped"))?;
        rx.await??;
        Ok(())
    }
}

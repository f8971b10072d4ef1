//! `cairn bench import`: `cairn import` throughput on realistic log files, next to its limit and
//! a peer, all measured in the same run on the same files.
//!
//! The files: the sample records replicated with fresh eventIDs (random UUIDs, like AWS's) into
//! gzipped `{"Records":[...]}` files of a few hundred to a few thousand records each (gzip level
//! 6, like AWS), under the `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` layout. As in a
//! real trail, each file covers the next five minutes: its records' eventTimes are rewritten to
//! rise through that window (and the files sort in time order, as AWS's keys do). They are kept
//! in the scratch dir and reused by the next run with the same record count.
//!
//! The rows:
//! - **limit**: read + gunzip + parse (the `Records` array into raw records, then
//!   `EventRecord::from_json` of each: every record parsed whole) on all cores, nothing stored;
//! - **cairn import**: the same code path as the command, into a fresh store (durable commits).
//!   It parses each record once and builds only the members its index reads
//!   ([`decode::parse_log`]), so its parse costs less than the limit's: the limit stays the
//!   whole parse, the work a reader of the records in full would do, as in every earlier run;
//! - **DuckDB**: `read_json` over the same files through the Python package, counting the
//!   unnested records (skipped with a note when `import duckdb` fails).
//!
//! Each row also shows its CPU time (user + system, every thread) per record: on a machine of
//! two shared cores, a steadier figure than the rate, and the one that says where a faster
//! import has to come from.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use cairn_core::record::EventRecord;
use cairn_store::{SqliteStore, Store as _};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::import::{self, decode};

/// The account the generated files are delivered for.
const ACCOUNT: &str = "123456789012";
/// Records per generated file: uniformly in this range.
const RECORDS_PER_FILE: std::ops::RangeInclusive<usize> = 200..=3000;
/// `maximum_object_size` given to DuckDB: far above any generated file (a few MB), and small
/// enough that its per-thread buffers fit in memory.
const DUCKDB_MAX_OBJECT: u64 = 128 << 20;

/// What the bench is told.
pub struct Params {
    pub records: u64,
    pub dir: PathBuf,
    pub samples: PathBuf,
    pub python: String,
    pub threads: Option<usize>,
    pub batch: usize,
}

/// One measured row.
struct Row {
    name: String,
    records: u64,
    elapsed: Duration,
    /// CPU time (user + system, all threads) the row took, where it can be read.
    cpu: Option<Duration>,
    note: String,
}

pub fn import(params: Params) -> anyhow::Result<()> {
    let threads = params
        .threads
        .unwrap_or_else(import::default_threads)
        .max(1);
    let logs = params.dir.join("import-logs");
    let templates = load_templates(&params.samples)?;
    let set = prepare_files(&logs, params.records, &templates, threads)?;
    println!(
        "cairn bench import: {} records in {} files ({:.1} MB gzip, {:.1} MB JSON), {} threads, batch {}, scratch dir {}",
        set.records,
        set.files.len(),
        set.gzip_bytes as f64 / 1e6,
        set.json_bytes as f64 / 1e6,
        threads,
        params.batch,
        params.dir.display()
    );

    let mut rows = Vec::new();
    let cpu_before = super::cpu::process();
    let limit = measure_limit(&set.files, threads)?;
    let limit_cpu = cpu_since(cpu_before, super::cpu::process());
    if limit.0 != set.records {
        bail!(
            "the limit run parsed {} records, not {}",
            limit.0,
            set.records
        );
    }
    rows.push(Row {
        name: format!("limit: gunzip + parse, {threads} threads, no store"),
        records: limit.0,
        elapsed: limit.1,
        cpu: limit_cpu,
        note: String::new(),
    });
    let cpu_before = super::cpu::process();
    let parse = measure_import_parse(&set.files, threads)?;
    rows.push(Row {
        name: "cairn import's parse alone, no store".into(),
        records: parse.0,
        elapsed: parse.1,
        cpu: cpu_since(cpu_before, super::cpu::process()),
        note: "gunzip + one pass per file, the index's members only".into(),
    });

    let data = params.dir.join("import-data");
    if data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    std::fs::create_dir_all(&data)?;
    let store = SqliteStore::open(&data.join("events.db"))?;
    let options = import::Options {
        max_file_bytes: 1 << 30,
        batch: params.batch,
        threads,
        progress: false,
    };
    let cpu_before = super::cpu::process();
    let summary = import::import_files(&store, &set.files, &options)?;
    let import_cpu = cpu_since(cpu_before, super::cpu::process());
    let writer_cpu = super::cpu::threads(WRITER_THREAD);
    drop(store);
    if summary.records_added != set.records || !summary.clean() {
        bail!(
            "cairn import did not import every record: {}",
            summary.line()
        );
    }
    rows.push(Row {
        name: "cairn import (fresh store, durable commits)".into(),
        records: summary.records_added,
        elapsed: summary.elapsed,
        cpu: import_cpu,
        note: busy_note(writer_cpu, summary.elapsed),
    });
    // Let the import's store writer thread end before the next store starts one, and free the
    // disk (during a bulk load the WAL grows to a few times the data).
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    let import_rate = summary.records_added as f64 / summary.elapsed.as_secs_f64();

    let (appended, elapsed, cpu, writer_cpu) =
        measure_store_only(&set.files, &params.dir, params.batch)?;
    rows.push(Row {
        name: "store only: the same events prebuilt in memory, appended".into(),
        records: appended,
        elapsed,
        cpu,
        note: busy_note(writer_cpu, elapsed),
    });

    let mut duck_rate = None;
    let cpu_before = super::cpu::children();
    match duckdb(&params.python, &logs, threads) {
        Ok(Some((records, elapsed, version))) => {
            duck_rate = Some(records as f64 / elapsed.as_secs_f64());
            rows.push(Row {
                name: format!("DuckDB {version} read_json + unnest, {threads} threads"),
                records,
                elapsed,
                // The whole Python process, start-up included.
                cpu: cpu_since(cpu_before, super::cpu::children()),
                note: "count(*) only, nothing stored".into(),
            })
        }
        Ok(None) => println!(
            "note: DuckDB row skipped: `{} -c 'import duckdb'` failed; install it with `pip install duckdb` (e.g. in a venv, then --python <venv>/bin/python)",
            params.python
        ),
        Err(e) => println!("note: DuckDB row skipped: {e:#}"),
    }

    println!();
    println!(
        "| what | records | time | records/s | MB/s gzip | MB/s JSON | CPU/record | vs. limit | |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let limit_rate = rows[0].records as f64 / rows[0].elapsed.as_secs_f64();
    for row in &rows {
        let secs = row.elapsed.as_secs_f64();
        let rate = row.records as f64 / secs;
        let cpu = row.cpu.map_or("n/a".to_string(), |c| {
            format!(
                "{:.1} µs",
                c.as_secs_f64() * 1e6 / row.records.max(1) as f64
            )
        });
        println!(
            "| {} | {} | {:.2} s | {:.0} | {:.1} | {:.1} | {cpu} | {:.0}% | {} |",
            row.name,
            row.records,
            secs,
            rate,
            set.gzip_bytes as f64 / 1e6 / secs,
            set.json_bytes as f64 / 1e6 / secs,
            100.0 * rate / limit_rate,
            row.note
        );
    }
    println!(
        "\ncairn import: {:.0}% of the limit{}",
        100.0 * import_rate / limit_rate,
        duck_rate.map_or(String::new(), |d| format!(
            ", {:.2}x DuckDB",
            import_rate / d
        ))
    );
    Ok(())
}

/// A sample record's text, with where its eventID and eventTime values sit.
struct Template {
    text: String,
    /// Byte range of the eventID's value (inside the quotes).
    id_at: std::ops::Range<usize>,
    /// Byte range of the eventTime's value (`YYYY-MM-DDTHH:MM:SSZ`, inside the quotes).
    time_at: std::ops::Range<usize>,
}

/// Finds `"name":"value"` in a record's text: the byte range of the value.
fn value_at(text: &str, name: &str, value: &str) -> Option<std::ops::Range<usize>> {
    let at = text.find(&format!("\"{name}\":\"{value}\""))? + name.len() + 4;
    Some(at..at + value.len())
}

/// The sample records whose `eventID` and `eventTime` are written the AWS way
/// (`"eventID":"..."`, `"eventTime":"2024-01-02T03:04:05Z"`).
fn load_templates(samples: &Path) -> anyhow::Result<Vec<Template>> {
    let samples = if samples.exists() {
        samples.to_path_buf()
    } else {
        // Run from outside the repository: the samples next to this crate's source.
        PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/cloudtrail-samples"
        ))
    };
    let mut files: Vec<PathBuf> = Vec::new();
    let mut stack = vec![samples.clone()];
    while let Some(dir) = stack.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for file in files {
        let (text, _) = decode::read_text(&file, 1 << 30)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let records =
            decode::parse_records(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        for raw in records {
            let text = raw.get();
            let Ok(record) = EventRecord::from_json(text) else {
                continue;
            };
            let (Some(id), Some(time)) = (record.event_id.as_str(), record.event_time.as_str())
            else {
                continue;
            };
            if let (Some(id_at), Some(time_at)) = (
                value_at(text, "eventID", id),
                value_at(text, "eventTime", time).filter(|r| r.len() == 20),
            ) {
                out.push(Template {
                    text: text.to_owned(),
                    id_at,
                    time_at,
                });
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no sample records under {} (use --samples)",
            samples.display()
        );
    }
    Ok(out)
}

/// The generated files and their totals.
struct FileSet {
    files: Vec<PathBuf>,
    records: u64,
    gzip_bytes: u64,
    json_bytes: u64,
}

/// Generates the files (or reuses those of an earlier run with the same record count).
fn prepare_files(
    logs: &Path,
    records: u64,
    templates: &[Template],
    threads: usize,
) -> anyhow::Result<FileSet> {
    let manifest = logs.with_extension("manifest");
    let wanted =
        serde_json::json!({ "records": records, "templates": templates.len(), "version": 2 });
    let reuse = std::fs::read(&manifest)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_some_and(|m| m["wanted"] == wanted);
    // The plan: records per file, from a fixed seed.
    let mut rng = StdRng::seed_from_u64(0x00ca_1e5e);
    let mut sizes = Vec::new();
    let mut left = records;
    while left > 0 {
        let n = (rng.random_range(RECORDS_PER_FILE) as u64).min(left);
        sizes.push(n as usize);
        left -= n;
    }
    let files: Vec<PathBuf> = (0..sizes.len()).map(|i| logs.join(file_name(i))).collect();
    if reuse && files.iter().all(|f| f.exists()) {
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&manifest)?)?;
        return Ok(FileSet {
            files,
            records,
            gzip_bytes: m["gzip_bytes"].as_u64().unwrap_or(0),
            json_bytes: m["json_bytes"].as_u64().unwrap_or(0),
        });
    }
    if logs.exists() {
        std::fs::remove_dir_all(logs).with_context(|| format!("removing {}", logs.display()))?;
    }
    println!("generating {records} records into {} ...", logs.display());
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let gzip_bytes = AtomicU64::new(0);
    let json_bytes = AtomicU64::new(0);
    let first_record: Vec<usize> = sizes
        .iter()
        .scan(0usize, |at, n| {
            let first = *at;
            *at += n;
            Some(first)
        })
        .collect();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= sizes.len() {
                            return Ok(());
                        }
                        let (json, gz) = generate_file(i, first_record[i], sizes[i], templates)?;
                        json_bytes.fetch_add(json as u64, Ordering::Relaxed);
                        gzip_bytes.fetch_add(gz.len() as u64, Ordering::Relaxed);
                        let path = &files[i];
                        if let Some(parent) = path.parent() {
                            std::fs::create_dir_all(parent)?;
                        }
                        std::fs::write(path, gz)
                            .with_context(|| format!("writing {}", path.display()))?;
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a generator thread panicked"))??;
        }
        Ok(())
    })?;
    let set = FileSet {
        files,
        records,
        gzip_bytes: gzip_bytes.into_inner(),
        json_bytes: json_bytes.into_inner(),
    };
    std::fs::write(
        &manifest,
        serde_json::json!({ "wanted": wanted, "gzip_bytes": set.gzip_bytes, "json_bytes": set.json_bytes })
            .to_string(),
    )?;
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(set)
}

/// Seconds each file covers (AWS delivers a trail's log file about every five minutes).
const FILE_SECS: i64 = 300;

/// When file `i`'s window starts.
fn file_start(i: usize) -> chrono::DateTime<chrono::Utc> {
    // 2024-01-01T00:00:00Z
    let first = chrono::DateTime::from_timestamp(1_704_067_200, 0).unwrap_or_default();
    first + chrono::Duration::seconds(i as i64 * FILE_SECS)
}

/// File `i`'s path under the logs folder, named as AWS names them.
fn file_name(i: usize) -> PathBuf {
    let t = file_start(i);
    PathBuf::from(format!(
        "AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/{}/{ACCOUNT}_CloudTrail_us-east-1_{}_f{i:07}.json.gz",
        t.format("%Y/%m/%d"),
        t.format("%Y%m%dT%H%MZ"),
    ))
}

/// One file: records `first..first + n` of the endless sequence of templates, each with a fresh
/// random eventID and an eventTime rising through the file's window. Returns the JSON size and
/// the gzipped bytes.
fn generate_file(
    i: usize,
    first: usize,
    n: usize,
    templates: &[Template],
) -> anyhow::Result<(usize, Vec<u8>)> {
    let mut rng = StdRng::seed_from_u64(i as u64);
    let start = file_start(i);
    let mut json = String::with_capacity(n * 1500);
    json.push_str("{\"Records\":[");
    for k in 0..n {
        let t = &templates[(first + k) % templates.len()];
        let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
        let mut id_buf = uuid::Uuid::encode_buffer();
        let id = id.hyphenated().encode_lower(&mut id_buf);
        let time = (start + chrono::Duration::seconds(k as i64 * FILE_SECS / n as i64))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        if k > 0 {
            json.push(',');
        }
        let mut spliced = [(t.id_at.clone(), &*id), (t.time_at.clone(), time.as_str())];
        spliced.sort_by_key(|(at, _)| at.start);
        let mut from = 0;
        for (at, value) in spliced {
            json.push_str(&t.text[from..at.start]);
            json.push_str(value);
            from = at.end;
        }
        json.push_str(&t.text[from..]);
    }
    json.push_str("]}");
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(json.len() / 6),
        flate2::Compression::new(6),
    );
    gz.write_all(json.as_bytes())?;
    Ok((json.len(), gz.finish()?))
}

/// The limit: read + gunzip + parse every record whole, on `threads` threads. Returns (records,
/// time).
fn measure_limit(files: &[PathBuf], threads: usize) -> anyhow::Result<(u64, Duration)> {
    measure_parse(files, threads, |text| {
        let mut n = 0;
        for raw in decode::parse_records(text).map_err(|e| anyhow::anyhow!("{e}"))? {
            let record = EventRecord::from_json(raw.get())?;
            std::hint::black_box(&record);
            n += 1;
        }
        Ok(n)
    })
}

/// `cairn import`'s own parse, nothing stored: read + gunzip + [`decode::parse_log`] + the
/// events built, on `threads` threads. Returns (records, time).
fn measure_import_parse(files: &[PathBuf], threads: usize) -> anyhow::Result<(u64, Duration)> {
    measure_parse(files, threads, |text| {
        let (events, _) = decode::parse_events(text, 0).map_err(|e| anyhow::anyhow!("{e}"))?;
        std::hint::black_box(&events);
        Ok(events.len() as u64)
    })
}

/// Reads and gunzips every file on `threads` threads and hands its text to `parse`, which
/// returns its record count. Returns (records, time).
fn measure_parse(
    files: &[PathBuf],
    threads: usize,
    parse: impl Fn(&str) -> anyhow::Result<u64> + Sync,
) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let records = AtomicU64::new(0);
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> anyhow::Result<()> {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(path) = files.get(i) else {
                            return Ok(());
                        };
                        let (text, _) = decode::read_text(path, 1 << 30)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                        let n = parse(&text).with_context(|| path.display().to_string())?;
                        records.fetch_add(n, Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for w in workers {
            w.join()
                .map_err(|_| anyhow::anyhow!("a parser thread panicked"))??;
        }
        Ok(())
    })?;
    Ok((records.into_inner(), started.elapsed()))
}

/// The store's own ceiling: the events of every file built first (not timed), then appended in
/// batches with two commits in flight, as `cairn import` does. Returns (appended, time, the
/// process's CPU time, the store's writer thread's CPU time).
fn measure_store_only(
    files: &[PathBuf],
    dir: &Path,
    batch: usize,
) -> anyhow::Result<(u64, Duration, Option<Duration>, Option<Duration>)> {
    let mut events = Vec::new();
    for path in files {
        let (text, _) = decode::read_text(path, 1 << 30)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let (file_events, _) = decode::parse_events(&text, 0)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        events.extend(file_events);
    }
    let data = dir.join("store-only");
    if data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    std::fs::create_dir_all(&data)?;
    let store = SqliteStore::open(&data.join("events.db"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let started = Instant::now();
    let cpu_before = super::cpu::process();
    let mut in_flight = std::collections::VecDeque::new();
    let mut appended = 0u64;
    let mut events = events.into_iter().peekable();
    while events.peek().is_some() {
        let chunk: Vec<_> = events.by_ref().take(batch.max(1)).collect();
        if in_flight.len() >= 2 {
            let receipt: cairn_store::CommitReceipt =
                runtime.block_on(in_flight.pop_front().expect("two in flight"))??;
            appended += receipt.seqs.iter().flatten().count() as u64;
        }
        let store = store.clone();
        in_flight.push_back(runtime.spawn(async move {
            store
                .commit(cairn_store::Commit {
                    events: chunk,
                    duplicates: cairn_store::DuplicateEvents::Skip,
                    ..Default::default()
                })
                .await
        }));
    }
    for handle in in_flight {
        let receipt = runtime.block_on(handle)??;
        appended += receipt.seqs.iter().flatten().count() as u64;
    }
    // As `cairn import` does: the event-history index complete before the clock stops.
    runtime.block_on(store.index_tail())?;
    let elapsed = started.elapsed();
    let cpu = cpu_since(cpu_before, super::cpu::process());
    let writer_cpu = super::cpu::threads(WRITER_THREAD);
    drop(store);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    Ok((appended, elapsed, cpu, writer_cpu))
}

const DUCKDB_SCRIPT: &str = r#"
import sys, time
try:
    import duckdb
except ImportError:
    print("NO_DUCKDB")
    sys.exit(0)
pattern, max_object, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET enable_progress_bar = false")
t = time.perf_counter()
n = con.execute(
    "SELECT count(*) FROM (SELECT unnest(Records) FROM read_json(?, maximum_object_size = ?))",
    [pattern, max_object],
).fetchone()[0]
print("RESULT", n, time.perf_counter() - t, duckdb.__version__)
"#;

/// DuckDB's `read_json` over the files: `None` if the Python package is not installed.
fn duckdb(
    python: &str,
    logs: &Path,
    threads: usize,
) -> anyhow::Result<Option<(u64, Duration, String)>> {
    let pattern = format!("{}/**/*.json.gz", logs.display());
    let out = Command::new(python)
        .arg("-c")
        .arg(DUCKDB_SCRIPT)
        .arg(&pattern)
        .arg(DUCKDB_MAX_OBJECT.to_string())
        .arg(threads.to_string())
        .output()
        .with_context(|| format!("running {python}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if stdout.trim() == "NO_DUCKDB" {
        return Ok(None);
    }
    if !out.status.success() {
        bail!(
            "the DuckDB query failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let parsed = stdout.lines().find_map(|line| {
        let mut fields = line.strip_prefix("RESULT ")?.split_whitespace();
        let n: u64 = fields.next()?.parse().ok()?;
        let secs: f64 = fields.next()?.parse().ok()?;
        Some((n, Duration::from_secs_f64(secs), fields.next()?.to_owned()))
    });
    match parsed {
        Some(result) => Ok(Some(result)),
        None => bail!("unexpected output from the DuckDB script: {stdout:?}"),
    }
}

/// The store's writer thread (its name as /proc shows it: 15 bytes at most).
const WRITER_THREAD: &str = "cairn-store-wri";

/// CPU time between two readings.
fn cpu_since(before: Option<Duration>, after: Option<Duration>) -> Option<Duration> {
    Some(after?.saturating_sub(before?))
}

/// How busy the store's writer thread was, when /proc tells.
fn busy_note(cpu: Option<Duration>, elapsed: Duration) -> String {
    cpu.map_or(String::new(), |cpu| {
        format!(
            "store writer thread on CPU {:.0}% of the time",
            100.0 * cpu.as_secs_f64() / elapsed.as_secs_f64()
        )
    })
}

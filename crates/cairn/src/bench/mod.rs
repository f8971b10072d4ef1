//! `cairn bench`: benchmarks that print figures (never timed tests), one module each.
//!
//! Each prints a Markdown table to paste into BENCHMARKS.md, with the peer or limit it is
//! compared to measured in the same run.

mod append;
mod client;
mod cpu;
mod delivery;
mod import;
mod ingest;
mod lookup;
mod validate;

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Durable appends/s and p50/p99 time to acknowledgement vs. a plain file with group fdatasync.
    Append {
        /// Concurrent writers to measure, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        writers: Vec<usize>,
        /// Seconds per measurement.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Seconds each measurement first runs unmeasured, on the same store or file: the
        /// steady state of a running server (its WAL file grown and reused), not its first
        /// seconds.
        #[arg(long, default_value_t = 3)]
        warmup: u64,
        /// Rounds per writer count, Cairn and the raw file alternating; the row shows medians
        /// (a shared disk's limit moves from one minute to the next).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
        rounds: u64,
        /// Folder for the scratch files (put it on the disk you want measured).
        #[arg(long, default_value = "cairn-bench")]
        dir: PathBuf,
    },
    /// Log files written per second by 5 trails vs. the gzip + serialisation limit, and the time
    /// from acknowledgement to a readable object at a 1-second window.
    Delivery {
        /// Events in the log.
        #[arg(long, default_value_t = 200_000)]
        events: u64,
        /// Calls timed for the latency figure.
        #[arg(long, default_value_t = 50)]
        calls: usize,
        /// Scratch folder (removed afterwards).
        #[arg(long, default_value = "cairn-bench-delivery")]
        dir: PathBuf,
        /// The sample logs used as records.
        #[arg(long, default_value = "testdata/cloudtrail-samples")]
        samples: PathBuf,
    },
    /// LookupEvents p50/p99 per attribute through a real server, at the given store sizes.
    Lookup {
        /// Store sizes (events), comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
        events: Vec<u64>,
        /// Queries per attribute.
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Scratch folder; filled stores are kept there and reused.
        #[arg(long, default_value = "cairn-bench")]
        dir: PathBuf,
        /// The sample logs used as templates.
        #[arg(long, default_value = "testdata/cloudtrail-samples")]
        samples: PathBuf,
    },
    /// `cairn import` records/s and MB/s on generated log files vs. the gunzip + parse limit and
    /// DuckDB's read_json (through the Python package, if installed).
    Import {
        /// Records to generate (the sample records replicated with fresh eventIDs).
        #[arg(long, default_value_t = 1_000_000)]
        records: u64,
        /// Scratch folder; the generated files are kept there and reused.
        #[arg(long, default_value = "cairn-bench")]
        dir: PathBuf,
        /// The sample logs used as templates.
        #[arg(long, default_value = "testdata/cloudtrail-samples")]
        samples: PathBuf,
        /// The Python that has the duckdb package.
        #[arg(long, default_value = "python3")]
        python: String,
        /// Parser threads [default: one per core].
        #[arg(long)]
        threads: Option<usize>,
        /// Events per commit.
        #[arg(long, default_value_t = crate::import::DEFAULT_BATCH as usize)]
        batch: usize,
    },
    /// PutAuditEvents events/s and p50/p99 call latency through a real server (16 clients,
    /// 100 events per signed call by default).
    PutAuditEvents {
        /// Concurrent clients, each waiting for its answer before the next call.
        #[arg(long, default_value_t = 16)]
        clients: usize,
        /// Events per call (1–100).
        #[arg(long, default_value_t = 100)]
        events: usize,
        /// Seconds to measure.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Scratch folder for the server's data dir (removed afterwards).
        #[arg(long, default_value = "cairn-bench")]
        dir: PathBuf,
    },
    /// `cairn validate-logs` vs. `aws cloudtrail validate-logs` on one generated trail, next to
    /// the read + gunzip + SHA-256 limit.
    Validate {
        /// Hourly digests in the chain.
        #[arg(long, default_value_t = 48)]
        digests: usize,
        /// Log files, spread over the digests.
        #[arg(long, default_value_t = 5000)]
        files: usize,
        /// Scratch folder (emptied first).
        #[arg(long, default_value = "cairn-bench-validate")]
        dir: PathBuf,
        /// The sample logs used as records.
        #[arg(long, default_value = "testdata/cloudtrail-samples")]
        samples: PathBuf,
        /// The AWS CLI to compare with.
        #[arg(long, default_value = "aws")]
        aws: String,
    },
}

/// Every record of the sample logs under `samples` (`.gz` files holding `{"Records":[...]}`).
fn sample_records(samples: &std::path::Path) -> anyhow::Result<Vec<serde_json::Value>> {
    Ok(sample_files(samples)?.into_iter().flatten().collect())
}

/// The records of each sample log file under `samples`, file by file (sorted by path).
fn sample_files(samples: &std::path::Path) -> anyhow::Result<Vec<Vec<serde_json::Value>>> {
    use std::io::Read as _;
    let mut paths = Vec::new();
    let mut stack = vec![samples.to_path_buf()];
    while let Some(p) = stack.pop() {
        let entries =
            std::fs::read_dir(&p).map_err(|e| anyhow::anyhow!("reading {}: {e}", p.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "gz") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    let mut out = Vec::new();
    for path in paths {
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path)?)
            .take(1 << 30)
            .read_to_string(&mut text)?;
        let v: serde_json::Value = serde_json::from_str(&text)?;
        let records = v["Records"].as_array().cloned().unwrap_or_default();
        if !records.is_empty() {
            out.push(records);
        }
    }
    if out.is_empty() {
        anyhow::bail!(
            "no sample records under {} (use --samples)",
            samples.display()
        );
    }
    Ok(out)
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cmd {
        BenchCommand::Append {
            writers,
            seconds,
            warmup,
            rounds,
            dir,
        } => runtime.block_on(append::append(
            writers,
            append::Window {
                warmup: Duration::from_secs(warmup),
                measured: Duration::from_secs(seconds),
            },
            rounds as usize,
            dir,
        )),
        BenchCommand::Delivery {
            events,
            calls,
            dir,
            samples,
        } => runtime.block_on(delivery::delivery(events, calls, dir, samples)),
        BenchCommand::Lookup {
            events,
            queries,
            dir,
            samples,
        } => runtime.block_on(lookup::lookup(events, queries, dir, samples)),
        BenchCommand::PutAuditEvents {
            clients,
            events,
            seconds,
            dir,
        } => runtime.block_on(ingest::put_audit_events(
            clients,
            events,
            Duration::from_secs(seconds),
            dir,
        )),
        BenchCommand::Validate {
            digests,
            files,
            dir,
            samples,
            aws,
        } => {
            drop(runtime);
            validate::validate(validate::Params {
                digests,
                files,
                dir,
                samples,
                aws,
            })
        }
        BenchCommand::Import {
            records,
            dir,
            samples,
            python,
            threads,
            batch,
        } => import::import(import::Params {
            records,
            dir,
            samples,
            python,
            threads,
            batch,
        }),
    }
}

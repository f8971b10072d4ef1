//! `cairn bench`: benchmarks that print figures (never timed tests), one module each.
//!
//! Each prints a Markdown table to paste into BENCHMARKS.md, with the peer or limit it is
//! compared to measured in the same run.

mod append;

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
        /// Folder for the scratch files (put it on the disk you want measured).
        #[arg(long, default_value = "cairn-bench")]
        dir: PathBuf,
    },
}

pub fn run(cmd: BenchCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match cmd {
        BenchCommand::Append {
            writers,
            seconds,
            dir,
        } => runtime.block_on(append::append(writers, Duration::from_secs(seconds), dir)),
    }
}

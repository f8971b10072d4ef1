//! The benchmarks' client (signing with the benchmark key), and a way to run `cairn serve` as a
//! child process (so its peak memory can be read from /proc).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub use crate::client::{Reply, SignedClient};
use anyhow::{Context, bail};

/// The benchmark's admin key (passed to the child server through the environment).
pub const KEY_ID: &str = "AKIABENCHMARKADMIN01";
/// Its secret.
pub const SECRET: &str = "benchmark-secret-not-for-production-use";

impl SignedClient {
    /// A client for `endpoint` (`http://127.0.0.1:PORT`) signing with the benchmark key.
    pub fn new(endpoint: &str) -> SignedClient {
        SignedClient::with_key(endpoint, KEY_ID, SECRET, "us-east-1")
    }
}

/// A `cairn serve` child process on a free port.
pub struct ChildServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl ChildServer {
    /// Starts `cairn serve` (this same executable) on `data_dir` with the benchmark admin key.
    pub fn start(data_dir: &Path) -> anyhow::Result<ChildServer> {
        ChildServer::start_with(data_dir, &[])
    }

    /// Like [`ChildServer::start`], with extra `cairn serve` arguments.
    pub fn start_with(data_dir: &Path, extra: &[&str]) -> anyhow::Result<ChildServer> {
        let mut child = Command::new(std::env::current_exe()?)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--account-id",
                "123456789012",
                "--data-dir",
            ])
            .arg(data_dir)
            .args(extra)
            .env("CAIRN_ADMIN_ACCESS_KEY_ID", KEY_ID)
            .env("CAIRN_ADMIN_SECRET_ACCESS_KEY", SECRET)
            .env("CAIRN_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .context("starting cairn serve")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let endpoint = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(e) = line.strip_prefix("Listening on ") {
                        break e.to_string();
                    }
                }
                _ => bail!("cairn serve exited before listening"),
            }
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        std::thread::sleep(Duration::from_millis(50));
        Ok(ChildServer { child, endpoint })
    }

    /// The child's peak resident memory (VmHWM), in MiB, if /proc tells.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// p50 and p99 of `samples` (sorted in place), in milliseconds.
pub fn percentiles_ms(samples: &mut [Duration]) -> (f64, f64) {
    samples.sort_unstable();
    let pick = |q: f64| {
        samples
            .get(((samples.len() as f64 - 1.0) * q).round() as usize)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0)
    };
    (pick(0.5), pick(0.99))
}

//! `cairn keys`: the digest signing keys in the data dir.
//!
//! `rotate` retires the key in force in each region (it stays listed by `ListPublicKeys`,
//! valid for the period it signed, so older digests keep validating) and puts a new one in
//! force. A running server notices the changed key file on its next signature.

use std::path::PathBuf;

use anyhow::{Context, bail};
use cairn_integrity::KeyRing;
use chrono::Utc;
use clap::Subcommand;

use crate::data_dir::DataDir;

/// `cairn keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Retire the signing key in force and start a new one (all regions, or those named).
    Rotate {
        /// Regions to rotate (repeatable) [default: every region with a key].
        #[arg(long = "region", value_name = "REGION")]
        regions: Vec<String>,
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
    /// List the signing keys: region, fingerprint, validity.
    List {
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
}

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Rotate { regions, data_dir } => {
            let ring = open(&data_dir)?;
            let regions = if regions.is_empty() {
                ring.regions()
            } else {
                regions
            };
            if regions.is_empty() {
                bail!("no signing keys yet: start `cairn serve` once, or name --region");
            }
            for r in ring
                .rotate(&regions, Utc::now())
                .context("rotating signing keys")?
            {
                println!(
                    "{}\tretired {}\tnew {}",
                    r.region,
                    r.retired.as_deref().unwrap_or("-"),
                    r.new
                );
            }
        }
        KeysCommand::List { data_dir } => {
            let ring = open(&data_dir)?;
            let far_past = chrono::DateTime::<Utc>::MIN_UTC;
            let far_future = chrono::DateTime::<Utc>::MAX_UTC;
            for region in ring.regions() {
                for k in ring.public_keys(&region, far_past, far_future) {
                    println!(
                        "{region}\t{}\t{}\t{}",
                        k.fingerprint,
                        k.valid_from.format("%Y-%m-%dT%H:%M:%SZ"),
                        k.valid_until
                            .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                            .unwrap_or_else(|| "in force".into())
                    );
                }
            }
        }
    }
    Ok(())
}

fn open(data_dir: &std::path::Path) -> anyhow::Result<KeyRing> {
    let data = DataDir::create(data_dir)?;
    KeyRing::open(&data.signing_keys(), &[], Utc::now()).context("opening the signing keys")
}

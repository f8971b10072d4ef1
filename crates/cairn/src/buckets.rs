//! `cairn buckets`: create and list local buckets (folders under `<data dir>/buckets/`).

use std::path::PathBuf;

use anyhow::{Context, bail};
use cairn_api::buckets::LocalBuckets;
use clap::Subcommand;

use crate::data_dir::DataDir;

#[derive(Debug, Subcommand)]
pub enum BucketsCommand {
    /// Create a local bucket (like `aws s3 mb`); creating an existing one is fine.
    Create {
        /// Bucket name (S3 rules: 3-63 lowercase letters, digits, dots and dashes).
        name: String,
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
    /// List local buckets.
    List {
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
}

pub fn run(cmd: BucketsCommand) -> anyhow::Result<()> {
    match cmd {
        BucketsCommand::Create { name, data_dir } => {
            if let Err(e) = cairn_core::trail::bucket_name(&name) {
                bail!("{}", e.message);
            }
            let data = DataDir::create(&data_dir)?;
            LocalBuckets::new(data.buckets())
                .create(&name)
                .with_context(|| format!("creating bucket {name}"))?;
            println!("make_bucket: {name}");
        }
        BucketsCommand::List { data_dir } => {
            let root = data_dir.join("buckets");
            let mut names: Vec<String> = match std::fs::read_dir(&root) {
                Ok(entries) => entries
                    .filter_map(Result::ok)
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
            };
            names.sort();
            for n in names {
                println!("{n}");
            }
        }
    }
    Ok(())
}

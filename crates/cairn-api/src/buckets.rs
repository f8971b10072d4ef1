//! Where trails deliver: the buckets Cairn can write to.
//!
//! The embedded default keeps each bucket as a folder under `<data dir>/buckets/`. An
//! S3-compatible store joins with trail delivery.

use std::path::PathBuf;

use async_trait::async_trait;

/// The buckets a trail may name.
#[async_trait]
pub trait Buckets: Send + Sync + 'static {
    /// Whether `name` exists; `Err` when the storage could not be asked.
    async fn exists(&self, name: &str) -> Result<bool, String>;
}

/// Buckets as folders under one root.
#[derive(Debug, Clone)]
pub struct LocalBuckets {
    root: PathBuf,
}

impl LocalBuckets {
    /// Buckets under `root` (usually `<data dir>/buckets`).
    pub fn new(root: PathBuf) -> LocalBuckets {
        LocalBuckets { root }
    }

    /// The folder of bucket `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Creates bucket `name` (its folder); creating an existing bucket is fine.
    pub fn create(&self, name: &str) -> std::io::Result<()> {
        std::fs::create_dir_all(self.path(name))
    }
}

#[async_trait]
impl Buckets for LocalBuckets {
    async fn exists(&self, name: &str) -> Result<bool, String> {
        // Names were validated before (no `/`, no `..`), so the path stays under the root.
        match tokio::fs::metadata(self.path(name)).await {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.to_string()),
        }
    }
}

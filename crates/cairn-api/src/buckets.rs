//! Where trails deliver: the buckets Cairn can write to.
//!
//! The embedded default keeps each bucket as a folder under `<data dir>/buckets/`. An
//! S3-compatible store joins with trail delivery.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

/// The folder in each local bucket that holds object metadata sidecars: the user metadata of
/// object `K` is `<bucket>/.cairn-meta/<K>.json`, a flat JSON map of names to values. Nothing
/// under it is an object.
pub const METADATA_DIR: &str = ".cairn-meta";

/// The buckets a trail may name.
#[async_trait]
pub trait Buckets: Send + Sync + 'static {
    /// Whether `name` exists; `Err` when the storage could not be asked.
    async fn exists(&self, name: &str) -> Result<bool, String>;

    /// The folders behind these buckets, when they are local (the S3 API serves only those).
    fn local(&self) -> Option<&LocalBuckets> {
        None
    }
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

    /// The folder holding every bucket.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of object `key` in bucket `bucket`, or `None` when no file under the bucket's
    /// folder can hold that key: an invalid bucket name, an empty key, a key longer than 1024
    /// bytes, with a NUL, with an empty, `.` or `..` segment (so also a leading or trailing `/`),
    /// or under [`METADATA_DIR`].
    pub fn object_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let segments = key_segments(bucket, key)?;
        if segments.first() == Some(&METADATA_DIR) {
            return None;
        }
        let mut path = self.path(bucket);
        path.extend(segments);
        Some(path)
    }

    /// The metadata sidecar of object `key` (`<bucket>/.cairn-meta/<key>.json`); `None` when
    /// [`object_path`](Self::object_path) is.
    pub fn metadata_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        self.object_path(bucket, key)?;
        let mut path = self.path(bucket).join(METADATA_DIR);
        path.extend(key_segments(bucket, key)?);
        let mut name = path.file_name()?.to_os_string();
        name.push(".json");
        path.set_file_name(name);
        Some(path)
    }
}

/// The path segments of a key that can be a file under the bucket's folder (see
/// [`LocalBuckets::object_path`]).
fn key_segments<'k>(bucket: &str, key: &'k str) -> Option<Vec<&'k str>> {
    if cairn_core::trail::bucket_name(bucket).is_err()
        || key.is_empty()
        || key.len() > 1024
        || key.contains('\0')
    {
        return None;
    }
    let segments: Vec<&str> = key.split('/').collect();
    if segments.iter().any(|s| matches!(*s, "" | "." | "..")) {
        return None;
    }
    Some(segments)
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

    fn local(&self) -> Option<&LocalBuckets> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_keys_stay_inside_their_bucket() {
        let b = LocalBuckets::new(PathBuf::from("/data/buckets"));
        assert_eq!(
            b.object_path("logs", "AWSLogs/1/a b ü.json.gz"),
            Some(PathBuf::from("/data/buckets/logs/AWSLogs/1/a b ü.json.gz"))
        );
        assert_eq!(
            b.metadata_path("logs", "AWSLogs/1/d.json.gz"),
            Some(PathBuf::from(
                "/data/buckets/logs/.cairn-meta/AWSLogs/1/d.json.gz.json"
            ))
        );
        for bad in [
            "",
            "/etc/passwd",
            "a/../../b",
            "..",
            ".",
            "a/./b",
            "a//b",
            "a/",
            "a\0b",
            ".cairn-meta/x.json",
        ] {
            assert_eq!(b.object_path("logs", bad), None, "{bad:?}");
            assert_eq!(b.metadata_path("logs", bad), None, "{bad:?}");
        }
        assert_eq!(b.object_path("../x", "a"), None);
        assert_eq!(b.object_path("logs", &"k".repeat(1025)), None);
        assert!(b.object_path("logs", ".cairn-metadata").is_some());
    }
}

//! Where log files go: local buckets (folders under the data dir) or an S3-compatible store.
//!
//! The contract every implementation keeps: a `put` is all-or-nothing (a reader sees the old
//! object or the whole new one, never part), and putting the same key again with the same bytes
//! is harmless — delivery relies on that to retry safely.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, Attributes, ObjectStore, PutOptions, PutPayload};

/// Why a storage call failed, decided once so delivery knows whether to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageErrorKind {
    /// The bucket does not exist (retrying will not help until someone creates it).
    NoSuchBucket,
    /// Access was refused.
    AccessDenied,
    /// Anything else: the store is down, slow, or answered an error; worth retrying.
    Unavailable,
}

/// A failed storage call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct StorageError {
    /// What kind of failure.
    pub kind: StorageErrorKind,
    /// Details, for `LatestDeliveryError` and logs.
    pub message: String,
}

impl StorageError {
    pub(crate) fn new(kind: StorageErrorKind, message: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            message: message.into(),
        }
    }
}

/// Object storage for trail deliveries.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// Stores `bytes` at `bucket`/`key` with user metadata (`x-amz-meta-<name>` on S3).
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        metadata: &[(String, String)],
    ) -> Result<(), StorageError>;

    /// Whether the bucket exists.
    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError>;
}

/// Buckets as folders: `<root>/<bucket>/<key>`; user metadata in
/// `<root>/<bucket>/.cairn-meta/<key>.json` (served by Cairn's S3 API as `x-amz-meta-*`).
#[derive(Debug, Clone)]
pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    /// Buckets under `root`.
    pub fn new(root: PathBuf) -> LocalStorage {
        LocalStorage { root }
    }

    /// The folder holding the buckets.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn object_path(&self, bucket: &str, key: &str) -> Result<PathBuf, StorageError> {
        // Keys are built by Cairn, but never let one climb out of its bucket.
        if key.split('/').any(|s| s == ".." || s == ".")
            || key.starts_with('/')
            || bucket.contains('/')
        {
            return Err(StorageError::new(
                StorageErrorKind::AccessDenied,
                format!("refusing key {key:?}"),
            ));
        }
        Ok(self.root.join(bucket).join(key))
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in `tmp_dir` (inside the bucket's
/// hidden `.cairn-meta/`, so listings never show it), fsync, rename, fsync the folder.
fn write_atomic(path: &Path, tmp_dir: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    std::fs::create_dir_all(tmp_dir)?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = tmp_dir.join(format!("{}-{n}.tmp", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[async_trait]
impl Storage for LocalStorage {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        metadata: &[(String, String)],
    ) -> Result<(), StorageError> {
        let bucket_dir = self.root.join(bucket);
        let path = self.object_path(bucket, key)?;
        let meta_path = self.object_path(bucket, &format!(".cairn-meta/{key}.json"))?;
        let meta: Option<Vec<u8>> = (!metadata.is_empty()).then(|| {
            let map: serde_json::Map<String, serde_json::Value> = metadata
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            serde_json::to_vec(&map).expect("metadata serializes")
        });
        tokio::task::spawn_blocking(move || {
            if !bucket_dir.is_dir() {
                return Err(StorageError::new(
                    StorageErrorKind::NoSuchBucket,
                    "The specified bucket does not exist",
                ));
            }
            // Metadata first: an object is never visible without the metadata it was put with.
            let tmp_dir = bucket_dir.join(".cairn-meta/.tmp");
            if let Some(meta) = meta {
                write_atomic(&meta_path, &tmp_dir, &meta).map_err(io_error)?;
            }
            write_atomic(&path, &tmp_dir, &bytes).map_err(io_error)
        })
        .await
        .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.to_string()))?
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        match tokio::fs::metadata(self.root.join(bucket)).await {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(e)),
        }
    }
}

pub(crate) fn io_error(e: std::io::Error) -> StorageError {
    let kind = match e.kind() {
        std::io::ErrorKind::PermissionDenied => StorageErrorKind::AccessDenied,
        _ => StorageErrorKind::Unavailable,
    };
    StorageError::new(kind, e.to_string())
}

/// Settings of an S3-compatible store.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// Endpoint URL, e.g. `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Region to sign for.
    pub region: String,
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

/// An S3-compatible store through the `object_store` crate (path-style requests).
pub struct S3Storage {
    settings: S3Settings,
    clients: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl std::fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Storage")
            .field("endpoint", &self.settings.endpoint)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// A store at `settings.endpoint`.
    pub fn new(settings: S3Settings) -> S3Storage {
        S3Storage {
            settings,
            clients: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn client(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StorageError> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(bucket) {
            return Ok(c.clone());
        }
        let s = &self.settings;
        let store = AmazonS3Builder::new()
            .with_endpoint(&s.endpoint)
            .with_region(&s.region)
            .with_bucket_name(bucket)
            .with_access_key_id(&s.access_key_id)
            .with_secret_access_key(&s.secret_access_key)
            .with_allow_http(s.endpoint.starts_with("http://"))
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.to_string()))?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        clients.insert(bucket.to_string(), store.clone());
        Ok(store)
    }
}

/// Classifies an `object_store` error once (retry, or report and wait).
pub(crate) fn classify(e: object_store::Error) -> StorageError {
    let text = e.to_string();
    let kind = if text.contains("NoSuchBucket") {
        StorageErrorKind::NoSuchBucket
    } else if matches!(
        e,
        object_store::Error::PermissionDenied { .. } | object_store::Error::Unauthenticated { .. }
    ) || text.contains("AccessDenied")
    {
        StorageErrorKind::AccessDenied
    } else {
        StorageErrorKind::Unavailable
    };
    StorageError::new(kind, text)
}

#[async_trait]
impl Storage for S3Storage {
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        bytes: Bytes,
        metadata: &[(String, String)],
    ) -> Result<(), StorageError> {
        let client = self.client(bucket)?;
        let mut attributes = Attributes::new();
        for (k, v) in metadata {
            attributes.insert(Attribute::Metadata(k.clone().into()), v.clone().into());
        }
        let opts = PutOptions {
            attributes,
            ..PutOptions::default()
        };
        client
            .put_opts(&ObjectPath::from(key), PutPayload::from(bytes), opts)
            .await
            .map(|_| ())
            .map_err(classify)
    }

    async fn bucket_exists(&self, bucket: &str) -> Result<bool, StorageError> {
        let client = self.client(bucket)?;
        match client
            .list_with_delimiter(Some(&ObjectPath::from("AWSLogs")))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) => {
                let e = classify(e);
                match e.kind {
                    StorageErrorKind::NoSuchBucket => Ok(false),
                    _ => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_puts_are_whole_and_carry_metadata() {
        let dir = tempfile::tempdir().unwrap();
        let s = LocalStorage::new(dir.path().to_path_buf());
        let err = s
            .put("nobucket", "k", Bytes::from_static(b"x"), &[])
            .await
            .unwrap_err();
        assert_eq!(err.kind, StorageErrorKind::NoSuchBucket);
        std::fs::create_dir(dir.path().join("b")).unwrap();
        assert!(s.bucket_exists("b").await.unwrap());
        assert!(!s.bucket_exists("c").await.unwrap());
        let meta = vec![("signature".to_string(), "abc".to_string())];
        s.put(
            "b",
            "AWSLogs/1/x.json.gz",
            Bytes::from_static(b"one"),
            &meta,
        )
        .await
        .unwrap();
        s.put(
            "b",
            "AWSLogs/1/x.json.gz",
            Bytes::from_static(b"two"),
            &meta,
        )
        .await
        .unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("b/AWSLogs/1/x.json.gz")).unwrap(),
            b"two"
        );
        let sidecar =
            std::fs::read_to_string(dir.path().join("b/.cairn-meta/AWSLogs/1/x.json.gz.json"))
                .unwrap();
        assert_eq!(sidecar, r#"{"signature":"abc"}"#);
        assert!(s.put("b", "../escape", Bytes::new(), &[]).await.is_err());
    }
}

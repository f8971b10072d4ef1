//! Reading delivered objects back — listings and bodies with their user metadata — for
//! `cairn validate-logs`, from the same two kinds of storage delivery writes to.

use std::collections::HashMap;
use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::TryStreamExt as _;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, ObjectStoreExt as _};

use crate::storage::{LocalStorage, S3Storage, StorageError, StorageErrorKind, classify, io_error};

/// Name of the folder beside a local bucket's objects that holds their metadata.
const METADATA_DIR: &str = ".cairn-meta";

/// An object found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its key.
    pub key: String,
    /// When it was stored.
    pub last_modified: DateTime<Utc>,
    /// Size in bytes.
    pub size: u64,
}

/// An object's body and user metadata (names without `x-amz-meta-`, lower case).
pub type ObjectBody = (Vec<u8>, HashMap<String, String>);

/// Read access to stored objects.
#[async_trait]
pub trait StorageRead: Send + Sync {
    /// Every object of `bucket` whose key starts with `prefix`, in key order.
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StorageError>;
    /// The object, `None` if it does not exist.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectBody>, StorageError>;
}

impl LocalStorage {
    /// [`StorageRead::list`] without a runtime.
    pub fn list_blocking(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        let bucket_dir = self.root().join(bucket);
        if !bucket_dir.is_dir() {
            return Err(StorageError::new(
                StorageErrorKind::NoSuchBucket,
                format!("The specified bucket does not exist: {bucket}"),
            ));
        }
        // Walk from the deepest folder the prefix names; filter the rest by string.
        let folder = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let mut out = Vec::new();
        let start = if folder.is_empty() {
            bucket_dir.clone()
        } else {
            self.object_path(bucket, folder)?
        };
        walk(&start, folder, &mut out).map_err(io_error)?;
        out.retain(|l| l.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// [`StorageRead::get`] without a runtime.
    pub fn get_blocking(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<ObjectBody>, StorageError> {
        let path = self.object_path(bucket, key)?;
        let body = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(e)),
        };
        let meta_path = self.object_path(bucket, &format!("{METADATA_DIR}/{key}.json"))?;
        let metadata = match std::fs::read(&meta_path) {
            Ok(bytes) => {
                serde_json::from_slice::<HashMap<String, String>>(&bytes).map_err(|e| {
                    StorageError::new(
                        StorageErrorKind::Unavailable,
                        format!("metadata of {key}: {e}"),
                    )
                })?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(io_error(e)),
        };
        Ok(Some((body, metadata)))
    }
}

/// Local buckets read directly (no runtime), for `cairn validate-logs` on a data dir.
impl cairn_integrity::ObjectSource for LocalStorage {
    fn get(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<cairn_integrity::validate::Object>, String> {
        self.get_blocking(bucket, key).map_err(|e| e.to_string())
    }
}

/// Adds every file under `dir` (whose key prefix is `key_dir`) to `out`; skips the metadata
/// folder, symbolic links and names that are not UTF-8. A missing folder lists nothing.
fn walk(dir: &Path, key_dir: &str, out: &mut Vec<Listed>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if key_dir.is_empty() && name == METADATA_DIR {
            continue;
        }
        let key = if key_dir.is_empty() {
            name
        } else {
            format!("{key_dir}/{name}")
        };
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(&entry.path(), &key, out)?;
        } else if kind.is_file() {
            let meta = entry.metadata()?;
            out.push(Listed {
                key,
                last_modified: meta.modified().map(DateTime::<Utc>::from)?,
                size: meta.len(),
            });
        }
    }
    Ok(())
}

#[async_trait]
impl StorageRead for LocalStorage {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        let (this, bucket, prefix) = (self.clone(), bucket.to_string(), prefix.to_string());
        tokio::task::spawn_blocking(move || this.list_blocking(&bucket, &prefix))
            .await
            .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.to_string()))?
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectBody>, StorageError> {
        let (this, bucket, key) = (self.clone(), bucket.to_string(), key.to_string());
        tokio::task::spawn_blocking(move || this.get_blocking(&bucket, &key))
            .await
            .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.to_string()))?
    }
}

#[async_trait]
impl StorageRead for S3Storage {
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, StorageError> {
        let client = self.client(bucket)?;
        // object_store lists by path segments; list the folder and filter by string.
        let folder = prefix.rfind('/').map(|i| &prefix[..i]).unwrap_or("");
        let folder = (!folder.is_empty()).then(|| ObjectPath::from(folder));
        let mut out: Vec<Listed> = client
            .list(folder.as_ref())
            .map_ok(|m| Listed {
                key: m.location.to_string(),
                last_modified: m.last_modified,
                size: m.size,
            })
            .try_collect()
            .await
            .map_err(classify)?;
        out.retain(|l| l.key.starts_with(prefix));
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectBody>, StorageError> {
        let client = self.client(bucket)?;
        let result = match client.get(&ObjectPath::from(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(classify(e)),
        };
        let metadata: HashMap<String, String> = result
            .attributes
            .iter()
            .filter_map(|(k, v)| match k {
                Attribute::Metadata(name) => Some((name.to_lowercase(), v.to_string())),
                _ => None,
            })
            .collect();
        let body = result.bytes().await.map_err(classify)?;
        Ok(Some((body.to_vec(), metadata)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage as _;
    use bytes::Bytes;

    #[tokio::test]
    async fn local_reads_return_what_was_put_with_metadata_and_list_by_prefix() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("b")).unwrap();
        let s = LocalStorage::new(dir.path().to_path_buf());
        let meta = vec![("signature".to_string(), "ab12".to_string())];
        s.put(
            "b",
            "AWSLogs/1/CloudTrail-Digest/r/x.json.gz",
            Bytes::from_static(b"d"),
            &meta,
        )
        .await
        .unwrap();
        s.put(
            "b",
            "AWSLogs/1/CloudTrail/r/y.json.gz",
            Bytes::from_static(b"l"),
            &[],
        )
        .await
        .unwrap();
        let listed = s.list("b", "AWSLogs/1/CloudTrail").await.unwrap();
        let keys: Vec<&str> = listed.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "AWSLogs/1/CloudTrail-Digest/r/x.json.gz",
                "AWSLogs/1/CloudTrail/r/y.json.gz"
            ]
        );
        let digests = s.list("b", "AWSLogs/1/CloudTrail-Digest/r").await.unwrap();
        assert_eq!(digests.len(), 1);
        assert_eq!(digests[0].size, 1);
        let (body, m) = s
            .get("b", "AWSLogs/1/CloudTrail-Digest/r/x.json.gz")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(body, b"d");
        assert_eq!(m.get("signature").map(String::as_str), Some("ab12"));
        assert!(s.get("b", "AWSLogs/nope").await.unwrap().is_none());
        assert_eq!(
            s.list("nobucket", "").await.unwrap_err().kind,
            StorageErrorKind::NoSuchBucket
        );
        // Nothing from the metadata folder shows up.
        assert_eq!(s.list("b", "").await.unwrap().len(), 2);
    }
}

//! Signing keys: one RSA-2048 key pair in force per region, generated at first start.
//!
//! The key file (`signing-keys.json`, mode 0600) lists every key ever used, with its region and
//! validity window: a rotated key stays listed (and valid for the period it signed), so old
//! digests keep validating. The public half is reported as AWS does: DER of the PKCS#1
//! `RSAPublicKey`, fingerprint = hex MD5 of that DER.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};
use serde::{Deserialize, Serialize};

/// A failure to load, create or save signing keys.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// Reading or writing the key file failed.
    #[error("signing key file {path}: {source}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file could not be parsed, or a key in it is not a valid RSA key.
    #[error("signing key file {path}: {message}")]
    Invalid {
        /// The key file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Key generation failed.
    #[error("generating an RSA key failed")]
    Generate,
    /// No key of the region was valid at the requested time, or signing with it failed.
    #[error("no usable signing key for region {region}")]
    NoKey {
        /// The region asked for.
        region: String,
    },
}

/// One key as stored.
#[derive(Clone, Serialize, Deserialize)]
struct StoredKey {
    region: String,
    /// PKCS#8 v1 DER of the private key, base64.
    pkcs8: String,
    valid_from: DateTime<Utc>,
    /// Set when the key was rotated out.
    valid_until: Option<DateTime<Utc>>,
}

#[derive(Default, Serialize, Deserialize)]
struct KeyFile {
    keys: Vec<StoredKey>,
}

/// The public half of a signing key, as `ListPublicKeys` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyInfo {
    /// DER of the PKCS#1 `RSAPublicKey`.
    pub der: Vec<u8>,
    /// Hex MD5 of [`PublicKeyInfo::der`] (32 lowercase hex digits).
    pub fingerprint: String,
    /// From when the key signs.
    pub valid_from: DateTime<Utc>,
    /// Until when it signed; `None` while it is the key in force.
    pub valid_until: Option<DateTime<Utc>>,
}

/// The signing keys of every region.
///
/// The file is the source of truth: `cairn keys rotate` changes it while a server runs, so
/// every read first reloads the file if it changed on disk (signing happens once per digest
/// period and listing keys is rare, so the `stat` costs nothing that matters).
pub struct KeyRing {
    path: PathBuf,
    keys: RwLock<Loaded>,
}

/// The keys as last read, and what the file looked like then.
struct Loaded {
    keys: Vec<StoredKey>,
    stamp: Option<FileStamp>,
}

/// Modification time and length of the key file: enough to notice a rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    modified: std::time::SystemTime,
    len: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        modified: meta.modified().ok()?,
        len: meta.len(),
    })
}

/// What [`KeyRing::rotate`] did in one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The region.
    pub region: String,
    /// Fingerprint of the key rotated out (`None` if the region had no key).
    pub retired: Option<String>,
    /// Fingerprint of the new key in force.
    pub new: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl KeyRing {
    /// Opens the key file at `path`, generating a key for each of `regions` that has none.
    pub fn open(
        path: &Path,
        regions: &[String],
        now: DateTime<Utc>,
    ) -> Result<KeyRing, KeyRingError> {
        let mut file = load(path)?;
        let mut changed = false;
        for region in regions {
            if !file
                .keys
                .iter()
                .any(|k| &k.region == region && k.valid_until.is_none())
            {
                file.keys.push(generate(region, now)?);
                changed = true;
            }
        }
        if changed {
            save(path, &file)?;
        }
        Ok(KeyRing {
            path: path.to_path_buf(),
            keys: RwLock::new(Loaded {
                keys: file.keys,
                stamp: stamp(path),
            }),
        })
    }

    /// Retires the key in force in each of `regions` at `now` (it stays listed, valid for the
    /// period it signed) and puts a new key in force from `now`. Writes the file (0600).
    pub fn rotate(
        &self,
        regions: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<Rotation>, KeyRingError> {
        let mut loaded = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let mut file = load(&self.path)?;
        let mut done = Vec::new();
        for region in regions {
            let mut retired = None;
            for key in file
                .keys
                .iter_mut()
                .filter(|k| &k.region == region && k.valid_until.is_none())
            {
                key.valid_until = Some(now);
                retired = public_der(key).ok().map(|der| fingerprint(&der));
            }
            let new = generate(region, now)?;
            let fp = fingerprint(&public_der(&new).map_err(|_| KeyRingError::Generate)?);
            file.keys.push(new);
            done.push(Rotation {
                region: region.clone(),
                retired,
                new: fp,
            });
        }
        save(&self.path, &file)?;
        *loaded = Loaded {
            keys: file.keys,
            stamp: stamp(&self.path),
        };
        Ok(done)
    }

    /// Regions that have keys, sorted.
    pub fn regions(&self) -> Vec<String> {
        let loaded = self.current();
        let mut regions: Vec<String> = loaded.keys.iter().map(|k| k.region.clone()).collect();
        regions.sort();
        regions.dedup();
        regions
    }

    /// The keys, reloaded first if the file changed on disk. A file that cannot be read keeps
    /// the keys already loaded (and says so in the log).
    fn current(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        let now = stamp(&self.path);
        {
            let loaded = self.keys.read().unwrap_or_else(|p| p.into_inner());
            if loaded.stamp == now {
                return loaded;
            }
        }
        match load(&self.path) {
            Ok(file) => {
                let mut loaded = self.keys.write().unwrap_or_else(|p| p.into_inner());
                *loaded = Loaded {
                    keys: file.keys,
                    stamp: now,
                };
            }
            Err(e) => {
                tracing::warn!(error = %e, "signing keys changed on disk but could not be reloaded")
            }
        }
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Public keys of `region` whose validity overlaps `[start, end]`, oldest first.
    pub fn public_keys(
        &self,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Vec<PublicKeyInfo> {
        let loaded = self.current();
        loaded
            .keys
            .iter()
            .filter(|k| k.region == region)
            .filter(|k| k.valid_from <= end && k.valid_until.is_none_or(|until| until >= start))
            .filter_map(|k| {
                let der = public_der(k).ok()?;
                Some(PublicKeyInfo {
                    fingerprint: fingerprint(&der),
                    der,
                    valid_from: k.valid_from,
                    valid_until: k.valid_until,
                })
            })
            .collect()
    }
}

impl KeyRing {
    /// Signs `message` with RSASSA-PKCS1-v1_5/SHA-256 using the key of `region` valid at `at`
    /// (the newest such key); returns the signature bytes and the key's fingerprint.
    pub fn sign(
        &self,
        region: &str,
        at: DateTime<Utc>,
        message: &[u8],
    ) -> Result<(Vec<u8>, String), KeyRingError> {
        let no_key = || KeyRingError::NoKey {
            region: region.to_string(),
        };
        let pair = self.signing_pair(region, at)?;
        let mut signature = vec![0; pair.public_modulus_len()];
        pair.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_lc_rs::rand::SystemRandom::new(),
            message,
            &mut signature,
        )
        .map_err(|_| no_key())?;
        Ok((signature, fingerprint(pair.public_key().as_ref())))
    }

    /// The fingerprint of the key [`KeyRing::sign`] would use for `region` at `at` (a digest
    /// names its key inside the JSON it signs).
    pub fn signing_fingerprint(
        &self,
        region: &str,
        at: DateTime<Utc>,
    ) -> Result<String, KeyRingError> {
        Ok(fingerprint(
            self.signing_pair(region, at)?.public_key().as_ref(),
        ))
    }

    /// The newest key of `region` valid at `at`.
    fn signing_pair(&self, region: &str, at: DateTime<Utc>) -> Result<KeyPair, KeyRingError> {
        let no_key = || KeyRingError::NoKey {
            region: region.to_string(),
        };
        let loaded = self.current();
        let key = loaded
            .keys
            .iter()
            .filter(|k| k.region == region && k.valid_from <= at)
            .filter(|k| k.valid_until.is_none_or(|until| until > at))
            .max_by_key(|k| k.valid_from)
            .ok_or_else(no_key)?;
        key_pair(key).map_err(|_| no_key())
    }
}

/// Hex MD5 of a public key's DER: CloudTrail's key fingerprint.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Md5::digest(der))
}

/// Reads and checks the key file; a missing file is an empty ring.
fn load(path: &Path) -> Result<KeyFile, KeyRingError> {
    let file = match std::fs::read(path) {
        Ok(bytes) => {
            serde_json::from_slice::<KeyFile>(&bytes).map_err(|e| KeyRingError::Invalid {
                path: path.into(),
                message: e.to_string(),
            })?
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeyFile::default(),
        Err(source) => {
            return Err(KeyRingError::Io {
                path: path.into(),
                source,
            });
        }
    };
    for key in &file.keys {
        public_der(key).map_err(|message| KeyRingError::Invalid {
            path: path.into(),
            message,
        })?;
    }
    Ok(file)
}

fn generate(region: &str, now: DateTime<Utc>) -> Result<StoredKey, KeyRingError> {
    let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| KeyRingError::Generate)?;
    let pkcs8 = pair.as_der().map_err(|_| KeyRingError::Generate)?;
    Ok(StoredKey {
        region: region.to_string(),
        pkcs8: STANDARD.encode(pkcs8.as_ref()),
        valid_from: now,
        valid_until: None,
    })
}

fn key_pair(key: &StoredKey) -> Result<KeyPair, String> {
    let der = STANDARD
        .decode(&key.pkcs8)
        .map_err(|e| format!("key of {}: {e}", key.region))?;
    KeyPair::from_pkcs8(&der).map_err(|e| format!("key of {}: {e}", key.region))
}

fn public_der(key: &StoredKey) -> Result<Vec<u8>, String> {
    Ok(key_pair(key)?.public_key().as_ref().to_vec())
}

/// Writes the key file atomically with mode 0600.
fn save(path: &Path, file: &KeyFile) -> Result<(), KeyRingError> {
    let io = |source| KeyRingError::Io {
        path: path.into(),
        source,
    };
    let tmp = path.with_extension("json.tmp");
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts.open(&tmp).map_err(io)?;
    f.write_all(&serde_json::to_vec_pretty(file).expect("key file serializes"))
        .map_err(io)?;
    f.sync_all().map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_are_made_once_per_region_and_reported_as_pkcs1_der() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing-keys.json");
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let regions = vec!["us-east-1".to_string(), "eu-west-1".to_string()];
        let ring = KeyRing::open(&path, &regions, t0).unwrap();
        let keys = ring.public_keys("us-east-1", t0, t0);
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        // A 2048-bit RSAPublicKey in DER is 270 bytes and starts like AWS's keys do.
        assert_eq!(k.der.len(), 270);
        assert!(STANDARD.encode(&k.der).starts_with("MIIBCgKCAQEA"));
        assert_eq!(k.fingerprint.len(), 32);
        assert_eq!(k.fingerprint, fingerprint(&k.der));
        // Reopening keeps the same key.
        let again = KeyRing::open(&path, &regions, t0).unwrap();
        assert_eq!(again.public_keys("us-east-1", t0, t0)[0].der, k.der);
        assert_ne!(again.public_keys("eu-west-1", t0, t0)[0].der, k.der);
        // A window before the key existed finds nothing.
        let before = t0 - chrono::Duration::days(1);
        assert!(ring.public_keys("us-east-1", before, before).is_empty());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn rotation_keeps_old_keys_valid_for_their_period_and_other_rings_see_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signing-keys.json");
        let t0 = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let t1 = t0 + chrono::Duration::hours(2);
        let regions = vec!["us-east-1".to_string()];
        let server = KeyRing::open(&path, &regions, t0).unwrap();
        let old = server.public_keys("us-east-1", t0, t0)[0]
            .fingerprint
            .clone();
        // Another process (the `cairn keys rotate` command) rotates.
        let cli = KeyRing::open(&path, &regions, t0).unwrap();
        let done = cli.rotate(&regions, t1).unwrap();
        assert_eq!(done[0].retired.as_deref(), Some(old.as_str()));
        assert_ne!(done[0].new, old);
        // The server's ring notices: before t1 the old key signs, from t1 the new one.
        let (_, fp_before) = server
            .sign("us-east-1", t1 - chrono::Duration::seconds(1), b"m")
            .unwrap();
        let (_, fp_after) = server.sign("us-east-1", t1, b"m").unwrap();
        assert_eq!(fp_before, old);
        assert_eq!(fp_after, done[0].new);
        // Both are listed for a range spanning the rotation; only the old one before it.
        let both = server.public_keys("us-east-1", t0, t1 + chrono::Duration::hours(1));
        assert_eq!(both.len(), 2);
        assert_eq!(both[0].valid_until, Some(t1));
        let early = server.public_keys("us-east-1", t0, t0 + chrono::Duration::hours(1));
        assert_eq!(early.len(), 1);
        assert_eq!(early[0].fingerprint, old);
    }

    #[test]
    fn fingerprint_matches_the_aws_cli_example() {
        // The AWS CLI documentation's list-public-keys example key and its fingerprint.
        let der = STANDARD.decode("MIIBCgKCAQEAlSS3cl92HDycr/MTj0moOhas8habjrraXw+KzlWF0axSI2tcF+3iJ9BKQAVSKxGwxwu3m0wG3J+kUl1xboEcEPHYoIYMbgfSw7KGnuDKwkLzsQWhUJ0cIbOHASox1vv/5fNXkrHhGbDCHeVXm804c83nvHUEFYThr1PfyP/8HwrCtR3FX5OANtQCP61C1nJtSSkC8JSQUOrIP4CuwJjc+4WGDk+BGH5m9iuiAKkipEHWmUl8/P7XpfpWQuk4h8g3pXZOrNXr08lbh4d39svj7UqdhvOXoBISp9t/EXYuePGEtBdrKD9Dz+VHwyUPtBQvYr9BnkF88qBnaPNhS44rzwIDAQAB").unwrap();
        assert_eq!(fingerprint(&der), "7f3f401420072e50a65a141430817ab3");
    }
}

//! The data dir: everything Cairn keeps, in one folder.
//!
//! ```text
//! cairn-data/            mode 0700
//!   account.json         {"account_id": "..."}  the account id, generated at first start
//!   credentials.json     mode 0600: access keys and their principals
//!   events.db            the event log, catalog and checkpoints (SQLite, WAL)
//!   signing-keys.json    mode 0600: RSA keys that sign digest files, per region
//!   buckets/NAME/        local buckets (the embedded default storage)
//! ```

use std::path::{Path, PathBuf};

use anyhow::Context;
use cairn_api::credentials::{CredentialFile, UserKey, write_private_file};
use cairn_core::principal::{IdentityType, Role};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Paths inside a data dir.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct AccountFile {
    account_id: String,
}

impl DataDir {
    /// Creates the folder (mode 0700) if it does not exist.
    pub fn create(root: &Path) -> anyhow::Result<DataDir> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("creating data dir {}", root.display()))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o700))
                .with_context(|| format!("restricting {}", root.display()))?;
        }
        Ok(DataDir {
            root: root.to_path_buf(),
        })
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite event store.
    pub fn events_db(&self) -> PathBuf {
        self.root.join("events.db")
    }

    /// The folder holding local buckets, one folder each.
    pub fn buckets(&self) -> PathBuf {
        self.root.join("buckets")
    }

    /// The digest signing keys (mode 0600).
    pub fn signing_keys(&self) -> PathBuf {
        self.root.join("signing-keys.json")
    }

    /// The credentials file.
    pub fn credentials(&self) -> PathBuf {
        self.root.join("credentials.json")
    }

    /// The account id: `configured` if given (and then remembered), else the remembered one, else
    /// a new random 12-digit id that is remembered.
    pub fn account_id(&self, configured: Option<&str>) -> anyhow::Result<String> {
        let path = self.root.join("account.json");
        let stored: Option<AccountFile> = match std::fs::read(&path) {
            Ok(b) => Some(
                serde_json::from_slice(&b)
                    .with_context(|| format!("reading {}", path.display()))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let id = match (configured, stored) {
            (Some(c), Some(s)) if c != s.account_id => {
                tracing::warn!(configured = c, stored = %s.account_id, "the configured account id differs from the one in the data dir; using the configured one");
                c.to_string()
            }
            (Some(c), _) => c.to_string(),
            (None, Some(s)) => return Ok(s.account_id),
            (None, None) => {
                let mut rng = rand::rng();
                // A leading non-zero digit keeps the id 12 digits in every tool that parses it.
                let first = rng.random_range(1..=9u8);
                let rest: String = (0..11)
                    .map(|_| char::from(b'0' + rng.random_range(0..=9u8)))
                    .collect();
                format!("{first}{rest}")
            }
        };
        let bytes = serde_json::to_vec_pretty(&AccountFile {
            account_id: id.clone(),
        })?;
        write_private_file(&path, &bytes).with_context(|| format!("writing {}", path.display()))?;
        Ok(id)
    }

    /// Makes sure the credentials file holds an admin key, generating one on first start.
    /// Returns the key when it was just generated (so it can be shown once).
    pub fn ensure_admin_key(&self, account_id: &str) -> anyhow::Result<Option<UserKey>> {
        let path = self.credentials();
        let mut file =
            CredentialFile::load(&path).with_context(|| format!("reading {}", path.display()))?;
        if file.users.iter().any(|u| u.role == Role::Admin) {
            return Ok(None);
        }
        let admin = UserKey::generate("root", IdentityType::Root, Role::Admin, account_id);
        file.users.push(admin.clone());
        file.save(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(Some(admin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_id_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::create(&dir.path().join("d")).unwrap();
        let a = d.account_id(None).unwrap();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(d.account_id(None).unwrap(), a);
        assert_eq!(d.account_id(Some("111122223333")).unwrap(), "111122223333");
        assert_eq!(d.account_id(None).unwrap(), "111122223333");
    }

    #[test]
    fn admin_key_is_generated_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = DataDir::create(dir.path()).unwrap();
        let first = d.ensure_admin_key("123456789012").unwrap();
        assert!(first.is_some());
        assert!(d.ensure_admin_key("123456789012").unwrap().is_none());
    }
}

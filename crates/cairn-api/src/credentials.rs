//! Access keys: who may call, with which secret, as which principal.
//!
//! Keys come from three places, merged in memory:
//! 1. the credentials file in the data dir (`credentials.json`, mode 0600): the generated admin
//!    key and users added with `cairn users add`;
//! 2. users listed in the TOML config;
//! 3. an admin key given through `CAIRN_ADMIN_ACCESS_KEY_ID` / `CAIRN_ADMIN_SECRET_ACCESS_KEY`.
//!
//! The file is re-read when it changes (checked at most once a second), so `cairn users add`
//! takes effect on a running server. Secrets never appear in `Debug` output or logs.

use std::collections::HashMap;
use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::{Instant, SystemTime};

use cairn_core::principal::{IdentityType, Principal, Role};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::sigv4::SecretKey;

/// One access key and the principal it authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserKey {
    /// User name (`root` for the account's root identity).
    pub name: String,
    /// Root or named user.
    pub identity: IdentityType,
    /// What the user may do.
    pub role: Role,
    /// Stable unique id (`AIDA...`; the account id for root).
    pub principal_id: String,
    /// The access key id (`AKIA...`).
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: SecretKey,
    /// The web-console password as an argon2 PHC string, if the user may sign in to the console.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_password: Option<PasswordHash>,
}

/// A password hash in PHC string form (`$argon2id$v=19$...`). Not a secret by itself, but an
/// offline guessing target, so it never prints either.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string (made by the console's password hashing).
    pub fn new(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    /// The PHC string, for verification.
    pub fn phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

impl UserKey {
    /// A new user with a freshly generated key pair.
    pub fn generate(name: &str, identity: IdentityType, role: Role, account_id: &str) -> UserKey {
        let principal_id = match identity {
            IdentityType::Root => account_id.to_string(),
            IdentityType::IamUser => format!("AIDA{}", random_chars(17, UPPER_ALNUM)),
        };
        UserKey {
            name: name.to_string(),
            identity,
            role,
            principal_id,
            access_key_id: format!("AKIA{}", random_chars(16, UPPER_ALNUM)),
            secret_access_key: SecretKey::new(random_chars(40, SECRET_CHARS)),
            console_password: None,
        }
    }

    /// The principal this key authenticates, in `account_id`.
    pub fn principal(&self, account_id: &str) -> Principal {
        Principal {
            identity_type: self.identity,
            user_name: self.name.clone(),
            principal_id: self.principal_id.clone(),
            access_key_id: self.access_key_id.clone(),
            account_id: account_id.to_string(),
            role: self.role,
        }
    }
}

const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_chars(n: usize, alphabet: &[u8]) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

/// The credentials file: `{"users": [UserKey, ...]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialFile {
    /// Every stored key.
    pub users: Vec<UserKey>,
}

impl CredentialFile {
    /// Reads the file; a missing file is an empty set of users.
    pub fn load(path: &Path) -> std::io::Result<CredentialFile> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(CredentialFile::default()),
            Err(e) => Err(e),
        }
    }

    /// Writes the file atomically with mode 0600: temp file, fsync, rename, fsync the folder.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        write_private_file(path, &bytes)
    }
}

/// Writes a secret-holding file atomically with mode 0600: a temporary file beside it, fsync,
/// rename, fsync the folder. Used for every small private file of the data dir.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("tmp");
    {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// The in-memory view of every key, refreshed from the credentials file when it changes.
pub struct CredentialStore {
    account_id: String,
    file: Option<PathBuf>,
    fixed: Vec<UserKey>,
    state: RwLock<Loaded>,
}

struct Loaded {
    by_key: HashMap<String, UserKey>,
    file_mtime: Option<SystemTime>,
    checked_at: Instant,
}

impl fmt::Debug for CredentialStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialStore")
            .field("file", &self.file)
            .finish_non_exhaustive()
    }
}

impl CredentialStore {
    /// Keys from `file` (re-read on change) plus `fixed` keys from config and environment.
    pub fn new(
        account_id: &str,
        file: Option<PathBuf>,
        fixed: Vec<UserKey>,
    ) -> std::io::Result<CredentialStore> {
        let store = CredentialStore {
            account_id: account_id.to_string(),
            file,
            fixed,
            state: RwLock::new(Loaded {
                by_key: HashMap::new(),
                file_mtime: None,
                checked_at: Instant::now(),
            }),
        };
        store.reload()?;
        Ok(store)
    }

    /// The account every principal belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The key and principal for `access_key_id`, if known.
    pub fn lookup(&self, access_key_id: &str) -> Option<(SecretKey, Principal)> {
        // Known keys re-check the file at most once a second (to notice removals); an unknown key
        // checks at once, so a user just added works on its first call.
        self.refresh_if_changed(false);
        if let Some(found) = self.get(access_key_id) {
            return Some(found);
        }
        self.refresh_if_changed(true);
        self.get(access_key_id)
    }

    fn get(&self, access_key_id: &str) -> Option<(SecretKey, Principal)> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        state
            .by_key
            .get(access_key_id)
            .map(|k| (k.secret_access_key.clone(), k.principal(&self.account_id)))
    }

    /// The user named `name` and its console password hash, for a console sign-in. A user with
    /// several keys is the same user; the first key (by id) stands for it.
    pub fn console_user(&self, name: &str) -> Option<(Principal, Option<PasswordHash>)> {
        // Like `lookup`: a user not found (or without a password) re-reads a changed file at
        // once, so a user or password just added works on the first sign-in.
        self.refresh_if_changed(false);
        match self.console_user_loaded(name) {
            Some((p, Some(h))) => Some((p, Some(h))),
            _ => {
                self.refresh_if_changed(true);
                self.console_user_loaded(name)
            }
        }
    }

    fn console_user_loaded(&self, name: &str) -> Option<(Principal, Option<PasswordHash>)> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = state.by_key.values().filter(|k| k.name == name).collect();
        keys.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        let password = keys.iter().find_map(|k| k.console_password.clone());
        keys.first()
            .map(|k| (k.principal(&self.account_id), password))
    }

    /// Any admin principal, used as the caller under `--insecure-no-auth`.
    pub fn any_admin(&self) -> Option<Principal> {
        let state = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut admins: Vec<_> = state
            .by_key
            .values()
            .filter(|k| k.role == Role::Admin)
            .collect();
        admins.sort_by(|a, b| a.access_key_id.cmp(&b.access_key_id));
        admins.first().map(|k| k.principal(&self.account_id))
    }

    /// Re-reads the file if its modification time changed; unless `now`, at most once a second.
    fn refresh_if_changed(&self, now: bool) {
        let Some(path) = &self.file else { return };
        if !now {
            let state = self.state.read().unwrap_or_else(|p| p.into_inner());
            if state.checked_at.elapsed().as_secs() < 1 {
                return;
            }
        }
        let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let unchanged = {
            let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
            state.checked_at = Instant::now();
            state.file_mtime == mtime
        };
        if !unchanged && let Err(e) = self.reload() {
            tracing::warn!(error = %e, "could not re-read the credentials file; keeping the keys already loaded");
        }
    }

    fn reload(&self) -> std::io::Result<()> {
        let (users, mtime) = match &self.file {
            Some(path) => (
                CredentialFile::load(path)?.users,
                std::fs::metadata(path).and_then(|m| m.modified()).ok(),
            ),
            None => (Vec::new(), None),
        };
        let mut by_key = HashMap::new();
        for k in users.into_iter().chain(self.fixed.iter().cloned()) {
            by_key.insert(k.access_key_id.clone(), k);
        }
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        *state = Loaded {
            by_key,
            file_mtime: mtime,
            checked_at: Instant::now(),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_print() {
        let k = UserKey::generate(
            "alice",
            IdentityType::IamUser,
            Role::Auditor,
            "123456789012",
        );
        let mut k = k;
        k.console_password = Some(PasswordHash::new(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        ));
        let shown = format!("{k:?}");
        assert!(!shown.contains(k.secret_access_key.expose()));
        assert!(!shown.contains("argon2id"));
        assert!(k.access_key_id.starts_with("AKIA") && k.access_key_id.len() == 20);
        assert_eq!(k.secret_access_key.expose().len(), 40);
    }

    #[test]
    fn file_is_private_and_reloaded_on_change() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("credentials.json");
        let admin = UserKey::generate("root", IdentityType::Root, Role::Admin, "123456789012");
        CredentialFile {
            users: vec![admin.clone()],
        }
        .save(&path)
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let store = CredentialStore::new("123456789012", Some(path.clone()), vec![]).unwrap();
        let (_, p) = store.lookup(&admin.access_key_id).unwrap();
        assert_eq!(p.role, Role::Admin);
        assert_eq!(p.arn(), "arn:aws:iam::123456789012:root");

        let bob = UserKey::generate("bob", IdentityType::IamUser, Role::Auditor, "123456789012");
        // Make sure the modification time moves even on coarse-grained file systems.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        CredentialFile {
            users: vec![admin, bob.clone()],
        }
        .save(&path)
        .unwrap();
        let (secret, p) = store
            .lookup(&bob.access_key_id)
            .expect("new user picked up");
        assert_eq!(secret, bob.secret_access_key);
        assert_eq!(p.arn(), "arn:aws:iam::123456789012:user/bob");
    }
}

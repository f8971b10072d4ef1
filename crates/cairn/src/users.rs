//! `cairn users`: add, list and remove principals in the data dir's credentials file.
//!
//! A running server picks up changes within a second; no restart is needed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use cairn_api::credentials::{CredentialFile, UserKey};
use cairn_core::principal::{IdentityType, Role};
use clap::Subcommand;

use crate::data_dir::DataDir;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user with a new access key; prints the key once.
    Add {
        /// User name (letters, digits and +=,.@_-; up to 64 characters).
        name: String,
        /// admin (everything), auditor (read-only calls and lookups) or ingest (PutAuditEvents only).
        #[arg(long, default_value = "auditor")]
        role: Role,
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
    /// List users and their access key ids (never secrets).
    List {
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
    /// Remove a user and its keys.
    Remove {
        /// User name.
        name: String,
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
}

pub fn run(cmd: UsersCommand) -> anyhow::Result<()> {
    match cmd {
        UsersCommand::Add {
            name,
            role,
            data_dir,
        } => {
            validate_user_name(&name)?;
            let data = DataDir::create(&data_dir)?;
            let account_id = data.account_id(None)?;
            let path = data.credentials();
            let mut file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if file.users.iter().any(|u| u.name == name) {
                bail!("a user named {name:?} already exists");
            }
            let key = UserKey::generate(&name, IdentityType::IamUser, role, &account_id);
            file.users.push(key.clone());
            file.save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("user {name} ({role}) in account {account_id}; the secret is shown only now:");
            println!("AWS_ACCESS_KEY_ID={}", key.access_key_id);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_access_key.expose());
        }
        UsersCommand::List { data_dir } => {
            let path = data_dir.join("credentials.json");
            let file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            println!("{:<24} {:<8} {:<8} ACCESS KEY ID", "NAME", "TYPE", "ROLE");
            for u in file.users {
                let kind = match u.identity {
                    IdentityType::Root => "root",
                    IdentityType::IamUser => "user",
                };
                println!(
                    "{:<24} {:<8} {:<8} {}",
                    u.name, kind, u.role, u.access_key_id
                );
            }
        }
        UsersCommand::Remove { name, data_dir } => {
            let path = data_dir.join("credentials.json");
            let mut file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let before = file.users.len();
            file.users.retain(|u| u.name != name);
            if file.users.len() == before {
                bail!("no user named {name:?}");
            }
            file.save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("removed user {name}");
        }
    }
    Ok(())
}

/// IAM's user-name rule: 1–64 of letters, digits and `+=,.@_-`.
fn validate_user_name(name: &str) -> anyhow::Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
    if !ok {
        bail!("user name {name:?} must be 1-64 letters, digits or +=,.@_-");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names() {
        assert!(super::validate_user_name("alice.b@corp").is_ok());
        assert!(super::validate_user_name("").is_err());
        assert!(super::validate_user_name("a b").is_err());
        assert!(super::validate_user_name(&"x".repeat(65)).is_err());
    }
}

//! `cairn users`: add, list and remove principals in the data dir's credentials file.
//!
//! A running server picks up changes within a second; no restart is needed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use cairn_api::credentials::{CredentialFile, PasswordHash, UserKey};
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
        /// Also let the user sign in to the web console: asks for a password (without echo on a
        /// terminal; otherwise reads one line from stdin).
        #[arg(long)]
        console_password: bool,
        /// Read the console password from the first line of stdin (for scripts); implies
        /// --console-password.
        #[arg(long)]
        password_stdin: bool,
        /// The data dir [default: ./cairn-data].
        #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
        data_dir: PathBuf,
    },
    /// Set (or replace) a user's web-console password.
    SetPassword {
        /// User name.
        name: String,
        /// Read the password from the first line of stdin instead of asking.
        #[arg(long)]
        password_stdin: bool,
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
            console_password,
            password_stdin,
            data_dir,
        } => {
            validate_user_name(&name)?;
            // Asked first, so a mistyped password leaves nothing half-made.
            let hash = if console_password || password_stdin {
                Some(new_password_hash(password_stdin)?)
            } else {
                None
            };
            let data = DataDir::create(&data_dir)?;
            let account_id = data.account_id(None)?;
            let path = data.credentials();
            let mut file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if file.users.iter().any(|u| u.name == name) {
                bail!("a user named {name:?} already exists");
            }
            let mut key = UserKey::generate(&name, IdentityType::IamUser, role, &account_id);
            key.console_password = hash.map(PasswordHash::new);
            file.users.push(key.clone());
            file.save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("user {name} ({role}) in account {account_id}; the secret is shown only now:");
            println!("AWS_ACCESS_KEY_ID={}", key.access_key_id);
            println!("AWS_SECRET_ACCESS_KEY={}", key.secret_access_key.expose());
            if key.console_password.is_some() {
                println!("{name} can sign in to the web console at /console/");
            }
        }
        UsersCommand::SetPassword {
            name,
            password_stdin,
            data_dir,
        } => {
            let path = data_dir.join("credentials.json");
            let mut file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            if !file.users.iter().any(|u| u.name == name) {
                bail!("no user named {name:?}");
            }
            let hash = PasswordHash::new(new_password_hash(password_stdin)?);
            for u in file.users.iter_mut().filter(|u| u.name == name) {
                u.console_password = Some(hash.clone());
            }
            file.save(&path)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("console password of {name} set");
        }
        UsersCommand::List { data_dir } => {
            let path = data_dir.join("credentials.json");
            let file = CredentialFile::load(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            println!(
                "{:<24} {:<8} {:<8} {:<8} ACCESS KEY ID",
                "NAME", "TYPE", "ROLE", "CONSOLE"
            );
            for u in file.users {
                let kind = match u.identity {
                    IdentityType::Root => "root",
                    IdentityType::IamUser => "user",
                };
                let console = if u.console_password.is_some() {
                    "yes"
                } else {
                    "no"
                };
                println!(
                    "{:<24} {:<8} {:<8} {:<8} {}",
                    u.name,
                    kind,
                    u.role.to_string(),
                    console,
                    u.access_key_id
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

/// Reads a new console password — from stdin's first line, or asked twice without echo on a
/// terminal — checks it and hashes it. The password itself is never printed or logged.
fn new_password_hash(from_stdin: bool) -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    let password = if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        line.trim_end_matches(['\r', '\n']).to_string()
    } else {
        let first =
            rpassword::prompt_password("Console password: ").context("reading the password")?;
        let again = rpassword::prompt_password("Console password again: ")
            .context("reading the password")?;
        if first != again {
            bail!("the passwords differ");
        }
        first
    };
    cairn_console::password::check_new_password(&password).map_err(anyhow::Error::msg)?;
    cairn_console::password::hash_password(&password).map_err(anyhow::Error::msg)
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

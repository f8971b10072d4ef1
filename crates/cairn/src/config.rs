//! `cairn serve` settings: flags, then `CAIRN_*` environment variables, then the TOML file, then
//! the embedded defaults — the first that sets a value wins.
//!
//! clap handles flag-over-environment (each flag names its variable, shown in `--help`); every
//! field is optional there, so a value left unset falls through to the TOML file and then to the
//! defaults in [`Settings::resolve`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use cairn_core::principal::Role;
use clap::Args;
use serde::Deserialize;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4590";

/// Options of `cairn serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on (use port 0 for any free port).
    #[arg(long, env = "CAIRN_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Folder that holds all of Cairn's state [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Optional TOML file with the same settings (snake_case keys) and `[[users]]`.
    #[arg(long, env = "CAIRN_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The 12-digit account id [default: generated at first start and kept in the data dir].
    #[arg(long, env = "CAIRN_ACCOUNT_ID", value_name = "ID")]
    pub account_id: Option<String>,
    /// The region Cairn answers as [default: us-east-1].
    #[arg(long, env = "CAIRN_REGION")]
    pub region: Option<String>,
    /// More regions to answer for, comma-separated (requests choose one by their SigV4 scope).
    #[arg(
        long,
        env = "CAIRN_REGIONS",
        value_delimiter = ',',
        value_name = "REGION,..."
    )]
    pub regions: Option<Vec<String>>,
    /// Days events stay in the event history, counted from when Cairn received them [default: 90].
    #[arg(long, env = "CAIRN_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Largest accepted request body in bytes [default: 2097152].
    #[arg(long, env = "CAIRN_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Allowed difference between a request's X-Amz-Date and the server clock [default: 900].
    #[arg(long, env = "CAIRN_MAX_CLOCK_SKEW_SECONDS", value_name = "SECONDS")]
    pub max_clock_skew_seconds: Option<u64>,
    /// SNS topics trails may notify, comma-separated names or ARNs (names are in --region).
    #[arg(
        long,
        env = "CAIRN_SNS_TOPICS",
        value_delimiter = ',',
        value_name = "TOPIC,..."
    )]
    pub sns_topics: Option<Vec<String>>,
    /// The AWS Organizations id (o-...) this account manages; enables organization trails.
    #[arg(long, env = "CAIRN_ORGANIZATION_ID", value_name = "ID")]
    pub organization_id: Option<String>,
    /// Limit LookupEvents to this many requests per second (AWS: 2) [default: no limit].
    #[arg(long, env = "CAIRN_LOOKUP_REQUESTS_PER_SECOND", value_name = "N")]
    pub lookup_requests_per_second: Option<f64>,
    /// Seconds between log file deliveries (AWS: about 300) [default: 300].
    #[arg(long, env = "CAIRN_DELIVERY_INTERVAL", value_name = "SECONDS")]
    pub delivery_interval: Option<u64>,
    /// Seconds between digest files of trails with log file validation (AWS: 3600) [default: 3600].
    #[arg(long, env = "CAIRN_DIGEST_INTERVAL", value_name = "SECONDS")]
    pub digest_interval: Option<u64>,
    /// Deliver trails to this S3-compatible endpoint instead of local buckets (credentials from
    /// CAIRN_S3_ACCESS_KEY_ID / CAIRN_S3_SECRET_ACCESS_KEY).
    #[arg(long, env = "CAIRN_S3_ENDPOINT", value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region to sign S3 requests for [default: --region].
    #[arg(long, env = "CAIRN_S3_REGION")]
    pub s3_region: Option<String>,
    /// PEM certificate chain; with --tls-key, serve HTTPS instead of HTTP.
    #[arg(
        long,
        env = "CAIRN_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(
        long,
        env = "CAIRN_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Admin access key id to use instead of a generated one (environment or TOML only).
    #[arg(skip)]
    pub admin_access_key_id: Option<String>,
    /// Secret for the admin access key (environment or TOML only).
    #[arg(skip)]
    pub admin_secret_access_key: Option<String>,
    /// DANGER: accept unauthenticated requests, all served as the admin. For local experiments only.
    #[arg(long, env = "CAIRN_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
}

/// The TOML file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    account_id: Option<String>,
    region: Option<String>,
    regions: Option<Vec<String>>,
    retention_days: Option<u32>,
    max_body_bytes: Option<usize>,
    max_clock_skew_seconds: Option<u64>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    sns_topics: Option<Vec<String>>,
    organization_id: Option<String>,
    lookup_requests_per_second: Option<f64>,
    delivery_interval: Option<u64>,
    digest_interval: Option<u64>,
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    admin_access_key_id: Option<String>,
    admin_secret_access_key: Option<String>,
    insecure_no_auth: Option<bool>,
    #[serde(default)]
    users: Vec<ConfigUser>,
}

/// A principal declared in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigUser {
    /// User name.
    pub name: String,
    /// `admin`, `auditor` or `ingest`.
    pub role: Role,
    /// Its access key id.
    pub access_key_id: String,
    /// Its secret.
    pub secret_access_key: String,
}

/// Fully resolved settings.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub account_id: Option<String>,
    pub region: String,
    pub regions: Vec<String>,
    pub retention: Duration,
    pub max_body_bytes: usize,
    pub max_clock_skew: Duration,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub sns_topics: Vec<String>,
    pub organization_id: Option<String>,
    pub lookup_requests_per_second: Option<f64>,
    pub delivery_interval: Duration,
    /// Time between digest files.
    pub digest_interval: Duration,
    pub s3: Option<cairn_delivery::S3Settings>,
    pub admin_key: Option<(String, String)>,
    pub insecure_no_auth: bool,
    pub users: Vec<ConfigUser>,
}

impl Settings {
    /// Merges flags/environment (`args`) over the TOML file over the defaults.
    pub fn resolve(mut args: ServeArgs) -> anyhow::Result<Settings> {
        // Secrets are read from the environment here rather than by clap, so they never show up
        // as flags in `ps` output or in `--help` defaults.
        args.admin_access_key_id = std::env::var("CAIRN_ADMIN_ACCESS_KEY_ID")
            .ok()
            .filter(|s| !s.is_empty());
        args.admin_secret_access_key = std::env::var("CAIRN_ADMIN_SECRET_ACCESS_KEY")
            .ok()
            .filter(|s| !s.is_empty());
        let file = match &args.config {
            Some(path) => load_file(path)?,
            None => FileConfig::default(),
        };
        let region = args
            .region
            .or(file.region)
            .unwrap_or_else(|| "us-east-1".into());
        let mut regions = vec![region.clone()];
        for r in args.regions.or(file.regions).unwrap_or_default() {
            validate_region(&r)?;
            if !regions.contains(&r) {
                regions.push(r);
            }
        }
        validate_region(&region)?;
        let account_id = args.account_id.or(file.account_id);
        if let Some(id) = &account_id {
            validate_account_id(id)?;
        }
        let tls = match (
            args.tls_cert.or(file.tls_cert),
            args.tls_key.or(file.tls_key),
        ) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("TLS needs both a certificate (tls_cert) and a key (tls_key)"),
        };
        let admin_key = match (
            args.admin_access_key_id.or(file.admin_access_key_id),
            args.admin_secret_access_key
                .or(file.admin_secret_access_key),
        ) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            _ => bail!(
                "an admin key needs both CAIRN_ADMIN_ACCESS_KEY_ID and CAIRN_ADMIN_SECRET_ACCESS_KEY"
            ),
        };
        let organization_id = args.organization_id.or(file.organization_id);
        if let Some(org) = &organization_id {
            let ok = org.len() >= 12
                && org.len() <= 34
                && org.starts_with("o-")
                && org[2..]
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if !ok {
                bail!(
                    "organization id {org:?} must look like o-abcd123456 (o- and 10-32 lowercase letters or digits)"
                );
            }
        }
        let delivery_interval = args
            .delivery_interval
            .or(file.delivery_interval)
            .unwrap_or(300);
        if delivery_interval == 0 {
            bail!("delivery_interval must be at least 1 second");
        }
        let digest_interval = args
            .digest_interval
            .or(file.digest_interval)
            .unwrap_or(3600);
        if digest_interval == 0 {
            bail!("digest_interval must be at least 1 second");
        }
        let s3 = match args.s3_endpoint.or(file.s3_endpoint) {
            None => None,
            Some(endpoint) => Some(cairn_delivery::S3Settings {
                endpoint,
                region: args
                    .s3_region
                    .or(file.s3_region)
                    .unwrap_or_else(|| region.clone()),
                access_key_id: std::env::var("CAIRN_S3_ACCESS_KEY_ID")
                    .ok()
                    .or(file.s3_access_key_id)
                    .unwrap_or_default(),
                secret_access_key: std::env::var("CAIRN_S3_SECRET_ACCESS_KEY")
                    .ok()
                    .or(file.s3_secret_access_key)
                    .unwrap_or_default(),
            }),
        };
        let retention_days = args.retention_days.or(file.retention_days).unwrap_or(90);
        if retention_days == 0 {
            bail!("retention_days must be at least 1");
        }
        Ok(Settings {
            listen: args
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.parse().expect("valid default")),
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("cairn-data")),
            account_id,
            region,
            regions,
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
            max_body_bytes: args
                .max_body_bytes
                .or(file.max_body_bytes)
                .unwrap_or(2 * 1024 * 1024),
            max_clock_skew: Duration::from_secs(
                args.max_clock_skew_seconds
                    .or(file.max_clock_skew_seconds)
                    .unwrap_or(15 * 60),
            ),
            tls,
            sns_topics: args.sns_topics.or(file.sns_topics).unwrap_or_default(),
            organization_id,
            lookup_requests_per_second: args
                .lookup_requests_per_second
                .or(file.lookup_requests_per_second),
            delivery_interval: Duration::from_secs(delivery_interval),
            digest_interval: Duration::from_secs(digest_interval),
            s3,
            admin_key,
            insecure_no_auth: args.insecure_no_auth || file.insecure_no_auth.unwrap_or(false),
            users: file.users,
        })
    }
}

fn load_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("parsing config file {}", path.display()))
}

/// A region name: lowercase letters, digits and dashes, like `us-east-1`.
pub fn validate_region(region: &str) -> anyhow::Result<()> {
    let ok = !region.is_empty()
        && region.len() <= 32
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if !ok {
        bail!("region {region:?} must be lowercase letters, digits and dashes, like us-east-1");
    }
    Ok(())
}

/// An account id is exactly 12 digits.
pub fn validate_account_id(id: &str) -> anyhow::Result<()> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        bail!("account id {id:?} must be exactly 12 digits")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cairn.toml");
        std::fs::write(
            &cfg,
            "region = \"eu-west-1\"\nretention_days = 30\nlisten = \"127.0.0.1:9999\"\n[[users]]\nname = \"ops\"\nrole = \"auditor\"\naccess_key_id = \"AKIAOPS\"\nsecret_access_key = \"s\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(cfg),
            listen: Some("127.0.0.1:1234".parse().unwrap()),
            ..ServeArgs::default()
        };
        let s = Settings::resolve(args).unwrap();
        assert_eq!(s.listen.port(), 1234);
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(s.max_clock_skew, Duration::from_secs(900));
        assert_eq!(s.users.len(), 1);
        assert_eq!(s.users[0].role, Role::Auditor);
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(validate_account_id("12345678901").is_err());
        assert!(validate_account_id("12345678901a").is_err());
        assert!(validate_account_id("123456789012").is_ok());
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cairn.toml");
        std::fs::write(&cfg, "regoin = \"x\"\n").unwrap();
        let err = Settings::resolve(ServeArgs {
            config: Some(cfg),
            ..ServeArgs::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("regoin"), "{err:#}");
    }
}

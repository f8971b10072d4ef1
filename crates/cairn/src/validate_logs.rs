//! `cairn validate-logs`: the checks of `aws cloudtrail validate-logs`, with its flags, result
//! lines and exit codes, plus Cairn's own (a broken chain, a period no valid digest covers —
//! e.g. two deleted digests in a row — and a log file no digest lists).
//!
//! Where it reads from:
//! - by default, straight from a data dir: trails from the event store's catalog, public keys
//!   from the signing key file, objects from the local buckets (works while `cairn serve` runs);
//! - with `--endpoint-url`, from a running Cairn: `DescribeTrails` and `ListPublicKeys`, and
//!   objects through its S3 API — or from `--s3-endpoint-url`, any S3-compatible store. AWS
//!   credentials come from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
//!
//! Exit codes as the AWS CLI's: 0 nothing invalid, 1 something invalid, 255 could not validate.

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use base64::Engine as _;
use cairn_core::trail_config::TrailConfig;
use cairn_delivery::{LocalStorage, S3Settings, S3Storage, StorageRead, TRAIL_NAMESPACE};
use cairn_integrity::validate::Object;
use cairn_integrity::{
    Finding, KeyRing, ObjectSource, PresentLogFile, ValidateOptions, ValidateRequest, validate_with,
};
use cairn_store::{SqliteStore, Store};
use chrono::{DateTime, Duration, Utc};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::client::SignedClient;
use crate::data_dir::DataDir;

/// Options of `cairn validate-logs` (those of `aws cloudtrail validate-logs`, plus where to
/// read from).
#[derive(Debug, Args)]
pub struct ValidateLogsArgs {
    /// The trail's ARN (arn:aws:cloudtrail:REGION:ACCOUNT:trail/NAME).
    #[arg(long)]
    trail_arn: String,
    /// Validate from this time (RFC 3339 or YYYY-MM-DD, UTC).
    #[arg(long, value_parser = parse_time)]
    start_time: DateTime<Utc>,
    /// Validate up to this time [default: now].
    #[arg(long, value_parser = parse_time)]
    end_time: Option<DateTime<Utc>>,
    /// The bucket holding the digests (skips looking the trail up).
    #[arg(long)]
    s3_bucket: Option<String>,
    /// The key prefix of the digests (with --s3-bucket).
    #[arg(long)]
    s3_prefix: Option<String>,
    /// The account whose digests to check (organization trails) [default: the ARN's].
    #[arg(long)]
    account_id: Option<String>,
    /// The region whose digests to check [default: the ARN's].
    #[arg(long)]
    region: Option<String>,
    /// Print a line for every valid digest and log file too.
    #[arg(long)]
    verbose: bool,
    /// The organization id (o-…) of an organization trail.
    #[arg(long, env = "CAIRN_ORGANIZATION_ID")]
    organization_id: Option<String>,
    /// Read from this data dir [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
    data_dir: PathBuf,
    /// Ask the Cairn server at this URL for the trail and public keys (and read objects through
    /// its S3 API unless --s3-endpoint-url is given) instead of reading the data dir.
    #[arg(long, value_name = "URL")]
    endpoint_url: Option<String>,
    /// Read objects from this S3-compatible endpoint.
    #[arg(long, value_name = "URL")]
    s3_endpoint_url: Option<String>,
    /// Log files fetched and hashed at once [default: 4 per core, at least 8].
    #[arg(long)]
    parallelism: Option<usize>,
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    Err(format!(
        "{s:?} is not a time (use e.g. 2026-11-23T08:00:00Z)"
    ))
}

/// The parts of a trail ARN the CLI uses.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TrailArn {
    region: String,
    account: String,
    name: String,
}

/// `arn:<partition>:cloudtrail:<region>:<12 digits>:trail/<name>`, as the CLI's regex wants.
fn parse_arn(arn: &str) -> Option<TrailArn> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let [scheme, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let ok = scheme == "arn"
        && !partition.is_empty()
        && service == "cloudtrail"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && resource.len() > "trail/".len()
        && resource.starts_with("trail/");
    ok.then(|| TrailArn {
        region: region.to_string(),
        account: account.to_string(),
        name: resource.rsplit('/').next().unwrap_or_default().to_string(),
    })
}

/// Where objects come from.
enum Objects {
    Local(LocalStorage),
    Remote {
        storage: Arc<S3Storage>,
        runtime: tokio::runtime::Handle,
    },
}

impl ObjectSource for Objects {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Object>, String> {
        match self {
            Objects::Local(s) => ObjectSource::get(s, bucket, key),
            Objects::Remote { storage, runtime } => runtime
                .block_on(storage.get(bucket, key))
                .map_err(|e| e.to_string()),
        }
    }
}

impl Objects {
    fn list(&self, bucket: &str, prefix: &str) -> anyhow::Result<Vec<cairn_delivery::Listed>> {
        let listed = match self {
            Objects::Local(s) => s.list_blocking(bucket, prefix),
            Objects::Remote { storage, runtime } => runtime.block_on(storage.list(bucket, prefix)),
        };
        listed.map_err(|e| anyhow!("listing s3://{bucket}/{prefix}: {e}"))
    }
}

/// Where the trail and keys come from.
enum Control {
    Local(DataDir),
    Remote(Box<SignedClient>),
}

/// What the CLI learns about the trail.
struct TrailInfo {
    bucket: String,
    prefix: Option<String>,
    is_org: bool,
}

pub fn run(args: ValidateLogsArgs) -> ExitCode {
    match validate_logs(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::from(255)
        }
    }
}

/// Runs the validation; `Ok(true)` if nothing was invalid.
fn validate_logs(args: ValidateLogsArgs) -> anyhow::Result<bool> {
    let Some(arn) = parse_arn(&args.trail_arn) else {
        bail!("Invalid trail ARN provided: {}", args.trail_arn);
    };
    let start = args.start_time;
    let end = args.end_time.unwrap_or_else(Utc::now);
    if start > end {
        bail!("Invalid time range specified: start-time must occur before end-time");
    }
    let region = args.region.clone().unwrap_or_else(|| arn.region.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let credentials = || {
        (
            std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default(),
            std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
        )
    };
    let control = match &args.endpoint_url {
        Some(url) => {
            let (id, secret) = credentials();
            if id.is_empty() {
                bail!("--endpoint-url needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            }
            Control::Remote(Box::new(SignedClient::with_key(url, &id, &secret, &region)))
        }
        None => {
            if !args.data_dir.join("events.db").is_file() {
                bail!(
                    "no Cairn data dir at {} (give --data-dir, or --endpoint-url for a running server)",
                    args.data_dir.display()
                );
            }
            Control::Local(DataDir::create(&args.data_dir)?)
        }
    };
    let objects = match (&args.s3_endpoint_url, &args.endpoint_url, &control) {
        (Some(url), _, _) | (None, Some(url), _) => {
            let (id, secret) = credentials();
            Objects::Remote {
                storage: Arc::new(S3Storage::new(S3Settings {
                    endpoint: url.clone(),
                    region: region.clone(),
                    access_key_id: id,
                    secret_access_key: secret,
                })),
                runtime: runtime.handle().clone(),
            }
        }
        (None, None, Control::Local(data)) => Objects::Local(LocalStorage::new(data.buckets())),
        (None, None, Control::Remote(_)) => unreachable!("remote control implies an endpoint"),
    };

    // The trail (unless --s3-bucket says where to look).
    let trail = match &args.s3_bucket {
        Some(bucket) => TrailInfo {
            bucket: bucket.clone(),
            prefix: args.s3_prefix.clone(),
            is_org: false,
        },
        None => runtime.block_on(find_trail(&control, &args.trail_arn))?,
    };
    let account = args.account_id.clone().unwrap_or(arn.account.clone());
    let org_id = if trail.is_org {
        if args.account_id.is_none() {
            bail!("Missing required parameter for organization trail: '--account-id'");
        }
        Some(args.organization_id.clone().ok_or_else(|| {
            anyhow!("an organization trail needs --organization-id (or CAIRN_ORGANIZATION_ID)")
        })?)
    } else {
        None
    };

    println!(
        "Validating log files for trail {} between {} and {}\n",
        args.trail_arn,
        fmt(start),
        fmt(end)
    );

    let mut base = String::new();
    if let Some(p) = trail.prefix.as_deref().filter(|p| !p.is_empty()) {
        base.push_str(p);
        base.push('/');
    }
    base.push_str("AWSLogs/");
    if let Some(o) = &org_id {
        base.push_str(o);
        base.push('/');
    }
    base.push_str(&account);
    let digest_prefix = format!("{base}/CloudTrail-Digest/{region}");
    let listed = objects.list(&trail.bucket, &digest_prefix)?;
    let key_end = end + Duration::hours(2);
    let public_keys = runtime.block_on(public_keys(&control, &region, start, key_end))?;
    if public_keys.is_empty() {
        bail!(
            "No public keys found between {} and {}",
            fmt(start),
            fmt(key_end)
        );
    }
    // Log files present in the bucket, for "a log file no digest lists".
    let present: Vec<PresentLogFile> = objects
        .list(&trail.bucket, &format!("{base}/CloudTrail/{region}/"))?
        .into_iter()
        .map(|l| PresentLogFile {
            bucket: trail.bucket.clone(),
            key: l.key,
            last_modified: l.last_modified,
        })
        .collect();

    let req = ValidateRequest {
        bucket: trail.bucket.clone(),
        prefix: trail.prefix.clone(),
        org_id,
        account,
        region,
        trail_name: arn.name.clone(),
        home_region: arn.region.clone(),
        start,
        end,
        listed_digests: listed.into_iter().map(|l| l.key).collect(),
        public_keys,
        present_log_files: Some(present),
    };
    let progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {pos} log files, {msg} [{elapsed_precise}]")
                .expect("valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let bytes = std::sync::atomic::AtomicU64::new(0);
    let on_log_file = |n: u64| {
        let total = bytes.fetch_add(n, std::sync::atomic::Ordering::Relaxed) + n;
        progress.inc(1);
        progress.set_message(indicatif::HumanBytes(total).to_string());
    };
    let parallelism = args.parallelism.unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        (cores * 4).max(8)
    });
    let report = validate_with(
        &req,
        &objects,
        &ValidateOptions {
            parallelism,
            on_log_file: &on_log_file,
        },
    )
    .map_err(|e| anyhow!(e))?;
    progress.finish_and_clear();

    let mut previous_was_verbose = false;
    for finding in &report.findings {
        let line = finding.line();
        if finding.is_problem() || matches!(finding, Finding::Gap { .. }) {
            if previous_was_verbose {
                eprintln!();
            }
            eprintln!("{line}\n");
            previous_was_verbose = false;
        } else if args.verbose {
            println!("{line}");
            previous_was_verbose = true;
        }
    }
    if previous_was_verbose {
        println!();
    }
    for line in report.summary(start, end) {
        println!("{line}");
    }
    Ok(report.ok())
}

fn fmt(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn find_trail(control: &Control, arn: &str) -> anyhow::Result<TrailInfo> {
    let not_found = || anyhow!("A trail could not be found for {arn}");
    match control {
        Control::Local(data) => {
            let store = SqliteStore::open(&data.events_db()).context("opening the event store")?;
            for (_, doc) in store.catalog_list(TRAIL_NAMESPACE).await? {
                let Ok(t) = serde_json::from_str::<TrailConfig>(&doc) else {
                    continue;
                };
                if t.arn() == arn {
                    return Ok(TrailInfo {
                        bucket: t.s3_bucket_name,
                        prefix: t.s3_key_prefix,
                        is_org: t.is_organization_trail,
                    });
                }
            }
            Err(not_found())
        }
        Control::Remote(client) => {
            let v = call(client, "DescribeTrails", json!({})).await?;
            let trail = v["trailList"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|t| t["TrailARN"] == arn)
                .ok_or_else(not_found)?;
            Ok(TrailInfo {
                bucket: trail["S3BucketName"]
                    .as_str()
                    .ok_or_else(|| anyhow!("DescribeTrails gave no S3BucketName"))?
                    .to_string(),
                prefix: trail["S3KeyPrefix"].as_str().map(str::to_string),
                is_org: trail["IsOrganizationTrail"].as_bool().unwrap_or(false),
            })
        }
    }
}

/// Public keys of `region` valid in `[start, end]`: fingerprint → PKCS#1 DER.
async fn public_keys(
    control: &Control,
    region: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> anyhow::Result<HashMap<String, Vec<u8>>> {
    match control {
        Control::Local(data) => {
            let ring = KeyRing::open(&data.signing_keys(), &[], Utc::now())
                .context("opening the signing keys")?;
            Ok(ring
                .public_keys(region, start, end)
                .into_iter()
                .map(|k| (k.fingerprint, k.der))
                .collect())
        }
        Control::Remote(client) => {
            let v = call(
                client,
                "ListPublicKeys",
                json!({ "StartTime": start.timestamp(), "EndTime": end.timestamp() }),
            )
            .await?;
            let mut keys = HashMap::new();
            for k in v["PublicKeyList"].as_array().into_iter().flatten() {
                let (Some(fp), Some(value)) = (k["Fingerprint"].as_str(), k["Value"].as_str())
                else {
                    continue;
                };
                let der = base64::engine::general_purpose::STANDARD
                    .decode(value)
                    .context("ListPublicKeys gave a Value that is not base64")?;
                keys.insert(fp.to_string(), der);
            }
            Ok(keys)
        }
    }
}

async fn call(client: &SignedClient, op: &str, body: Value) -> anyhow::Result<Value> {
    let reply = client.cloudtrail(op, &body.to_string()).await?;
    let v: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    if reply.status != 200 {
        bail!(
            "An error occurred ({}) when calling the {op} operation: {}",
            v["__type"].as_str().unwrap_or("UnknownError"),
            v["message"].as_str().unwrap_or_default()
        );
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trail_arns_as_the_cli_accepts_them() {
        assert_eq!(
            parse_arn("arn:aws:cloudtrail:eu-west-1:123456789012:trail/my-trail"),
            Some(TrailArn {
                region: "eu-west-1".into(),
                account: "123456789012".into(),
                name: "my-trail".into()
            })
        );
        for bad in [
            "my-trail",
            "arn:aws:cloudtrail:eu-west-1:12345:trail/x",
            "arn:aws:s3:eu-west-1:123456789012:trail/x",
            "arn:aws:cloudtrail:eu-west-1:123456789012:trail/",
            "arn:aws:cloudtrail:eu-west-1:123456789012:bucket/x",
        ] {
            assert_eq!(parse_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn times_in_the_forms_people_type() {
        let t = |s| parse_time(s).unwrap();
        assert_eq!(fmt(t("2026-11-23T08:15:02Z")), "2026-11-23T08:15:02Z");
        assert_eq!(fmt(t("2026-11-23T08:15:02+01:00")), "2026-11-23T07:15:02Z");
        assert_eq!(fmt(t("2026-11-23")), "2026-11-23T00:00:00Z");
        assert_eq!(fmt(t("2026-11-23 08:15:02")), "2026-11-23T08:15:02Z");
        assert!(parse_time("yesterday").is_err());
    }
}

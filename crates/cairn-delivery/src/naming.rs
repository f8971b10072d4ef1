//! Object keys of log files, exactly as CloudTrail lays them out (reference §1.1):
//!
//! ```text
//! [<prefix>/]AWSLogs/[<o-org>/]<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/
//!     <account>_CloudTrail_<region>_<YYYYMMDD>T<HHmm>Z_<unique>.json.gz
//! ```
//!
//! The 16-character unique part is derived from the trail and the batch (not random), so a
//! retried delivery of the same batch writes the same key and overwrites, never duplicates.

use chrono::{DateTime, Utc};
use sha2::{Digest as _, Sha256};

/// Where a batch of one account and region goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileLocation<'a> {
    /// The trail's `S3KeyPrefix`, if any (stored without a trailing slash).
    pub prefix: Option<&'a str>,
    /// The organization id for organization trails.
    pub org_id: Option<&'a str>,
    /// The account whose events the file holds.
    pub account: &'a str,
    /// The region the events were recorded in.
    pub region: &'a str,
    /// When the file is delivered (UTC); gives the date folders and the name's timestamp.
    pub delivered_at: DateTime<Utc>,
}

/// The object key of a log file at `loc` with the given unique part.
pub fn log_file_key(loc: &LogFileLocation<'_>, unique: &str) -> String {
    let mut key = String::new();
    if let Some(p) = loc
        .prefix
        .map(|p| p.trim_end_matches('/'))
        .filter(|p| !p.is_empty())
    {
        key.push_str(p);
        key.push('/');
    }
    key.push_str("AWSLogs/");
    if let Some(org) = loc.org_id {
        key.push_str(org);
        key.push('/');
    }
    let t = loc.delivered_at;
    key.push_str(&format!(
        "{acct}/CloudTrail/{region}/{date}/{acct}_CloudTrail_{region}_{stamp}_{unique}.json.gz",
        acct = loc.account,
        region = loc.region,
        date = t.format("%Y/%m/%d"),
        stamp = t.format("%Y%m%dT%H%MZ"),
    ));
    key
}

/// 16 characters of `[A-Za-z0-9]`, a pure function of its inputs.
pub fn unique_part(parts: &[&str]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    digest
        .iter()
        .take(16)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn keys_follow_cloudtrails_layout() {
        let t = Utc.with_ymd_and_hms(2015, 8, 17, 14, 45, 31).unwrap();
        let loc = LogFileLocation {
            prefix: None,
            org_id: None,
            account: "111122223333",
            region: "us-east-2",
            delivered_at: t,
        };
        assert_eq!(
            log_file_key(&loc, "9nYN7gp2eWAJHIfT"),
            "AWSLogs/111122223333/CloudTrail/us-east-2/2015/08/17/111122223333_CloudTrail_us-east-2_20150817T1445Z_9nYN7gp2eWAJHIfT.json.gz"
        );
        let org = LogFileLocation {
            prefix: Some("prod/"),
            org_id: Some("o-exampleorgid"),
            ..loc
        };
        assert!(log_file_key(&org, "x").starts_with(
            "prod/AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-2/2015/08/17/"
        ));
    }

    #[test]
    fn unique_parts_are_deterministic_and_look_like_awss() {
        let a = unique_part(&["arn:t", "us-east-1", "1", "100"]);
        assert_eq!(a, unique_part(&["arn:t", "us-east-1", "1", "100"]));
        assert_ne!(a, unique_part(&["arn:t", "us-east-1", "1", "101"]));
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric()));
        // The CloudTrail Processing Library's pattern for log files.
        let loc = LogFileLocation {
            prefix: None,
            org_id: None,
            account: "123456789012",
            region: "us-east-1",
            delivered_at: Utc::now(),
        };
        let key = log_file_key(&loc, &a);
        let name = key.rsplit('/').next().unwrap();
        assert!(name.contains("_CloudTrail_us-east-1_") && name.ends_with(".json.gz"));
    }
}

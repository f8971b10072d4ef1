//! Building a log file: records in, gzip bytes out — one gzip member holding
//! `{"Records":[...]}` — with the SHA-256 and time span a digest needs later.

use std::io::Write as _;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};

/// A finished log file.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// The gzip bytes (one member).
    pub gzip: Vec<u8>,
    /// Hex SHA-256 of the **uncompressed** JSON — what digest files list as `hashValue` (the
    /// AWS CLI gunzips a log file before hashing it).
    pub sha256: String,
    /// Number of records.
    pub records: usize,
    /// Oldest and newest `eventTime` among the records (as written in them), if any parsed.
    pub oldest_event_time: Option<String>,
    /// See `oldest_event_time`.
    pub newest_event_time: Option<String>,
}

/// Accumulates records (their JSON text, written as-is) for one file.
#[derive(Debug, Default)]
pub struct LogFileBuilder {
    json: Vec<u8>,
    records: usize,
    oldest: Option<String>,
    newest: Option<String>,
}

impl LogFileBuilder {
    /// An empty file.
    pub fn new() -> LogFileBuilder {
        LogFileBuilder {
            json: b"{\"Records\":[".to_vec(),
            ..LogFileBuilder::default()
        }
    }

    /// Adds one record's JSON text and its `eventTime` (`YYYY-MM-DDTHH:MM:SSZ` sorts as text).
    pub fn push(&mut self, record_json: &str, event_time: Option<&str>) {
        if self.records > 0 {
            self.json.push(b',');
        }
        self.json.extend_from_slice(record_json.as_bytes());
        self.records += 1;
        if let Some(t) = event_time {
            if self.oldest.as_deref().is_none_or(|o| t < o) {
                self.oldest = Some(t.to_string());
            }
            if self.newest.as_deref().is_none_or(|n| t > n) {
                self.newest = Some(t.to_string());
            }
        }
    }

    /// Uncompressed size so far, to cap files.
    pub fn len(&self) -> usize {
        self.json.len()
    }

    /// Whether no record was added.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Compresses (gzip level 6, as AWS does) into one member.
    pub fn finish(mut self) -> std::io::Result<LogFile> {
        self.json.extend_from_slice(b"]}");
        let sha256 = hex::encode(Sha256::digest(&self.json));
        let mut enc = GzEncoder::new(Vec::with_capacity(self.json.len() / 6), Compression::new(6));
        enc.write_all(&self.json)?;
        let gzip = enc.finish()?;
        Ok(LogFile {
            gzip,
            sha256,
            records: self.records,
            oldest_event_time: self.oldest,
            newest_event_time: self.newest,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn one_gzip_member_with_records_and_time_span() {
        let mut b = LogFileBuilder::new();
        b.push(
            r#"{"eventID":"a","eventTime":"2026-11-23T08:00:05Z"}"#,
            Some("2026-11-23T08:00:05Z"),
        );
        b.push(
            r#"{"eventID":"b","eventTime":"2026-11-23T07:59:00Z"}"#,
            Some("2026-11-23T07:59:00Z"),
        );
        let f = b.finish().unwrap();
        assert_eq!(f.records, 2);
        assert_eq!(f.oldest_event_time.as_deref(), Some("2026-11-23T07:59:00Z"));
        assert_eq!(f.newest_event_time.as_deref(), Some("2026-11-23T08:00:05Z"));
        // A single-member decoder reads everything: nothing trails the first member.
        let mut dec = flate2::read::GzDecoder::new(&f.gzip[..]);
        let mut text = String::new();
        dec.read_to_string(&mut text).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["Records"][1]["eventID"], "b");
        assert_eq!(
            f.sha256,
            hex::encode(Sha256::digest(text.as_bytes())),
            "hash of the uncompressed JSON"
        );
    }
}

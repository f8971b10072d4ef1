//! One log file, from bytes on disk to the events to append: gunzip (capped), parse the
//! `Records` array into borrowed raw records, then one [`NewEvent`] per record that keeps the
//! record's original JSON text.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use cairn_core::record::EventRecord;
use cairn_store::{EventIndex, NewEvent};
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};

/// Why a whole file was not imported.
#[derive(Debug)]
pub enum FileError {
    /// Reading the file failed.
    Io(std::io::Error),
    /// Named `.gz` but does not start with the gzip magic bytes.
    NotGzip,
    /// The gzip stream is corrupt or truncated.
    Gzip(std::io::Error),
    /// Larger than the cap (decompressed, or on disk for plain JSON).
    TooBig { limit: u64 },
    /// Not UTF-8 text.
    NotUtf8,
    /// Not well-formed JSON.
    NotJson(serde_json::Error),
    /// JSON, but neither `{"Records": [...]}` nor an array of records.
    NotLogFile(String),
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Io(e) => write!(f, "cannot read: {e}"),
            FileError::NotGzip => f.write_str("not gzip data (the name ends in .gz)"),
            FileError::Gzip(e) => write!(f, "corrupt or truncated gzip data: {e}"),
            FileError::TooBig { limit } => write!(
                f,
                "larger than the limit of {limit} bytes of JSON (raise it with --max-file-bytes)"
            ),
            FileError::NotUtf8 => f.write_str("not UTF-8 text"),
            FileError::NotJson(e) => write!(f, "not JSON: {e}"),
            FileError::NotLogFile(why) => write!(
                f,
                "not a CloudTrail log file ({why}); expected {{\"Records\": [...]}} or an array of records"
            ),
        }
    }
}

/// Reads `path` and returns its JSON text: gunzipped if it is gzip (detected by its magic bytes),
/// as is otherwise. At most `max_bytes` of text are produced; a larger file is an error. Also
/// returns the number of bytes read from disk.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<(String, u64), FileError> {
    let on_disk = std::fs::metadata(path).map_err(FileError::Io)?.len();
    let gz_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.to_ascii_lowercase().ends_with(".gz"));
    // The cap bounds what is read from disk too: a plain file over it is over it, and a
    // compressed file that large is refused before it is read whole (no CloudTrail log file
    // comes near it).
    if on_disk > max_bytes {
        return Err(FileError::TooBig { limit: max_bytes });
    }
    let bytes = std::fs::read(path).map_err(FileError::Io)?;
    let read = bytes.len() as u64;
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        gunzip(&bytes, max_bytes)?
    } else if gz_name {
        return Err(FileError::NotGzip);
    } else {
        bytes
    };
    let text = String::from_utf8(text).map_err(|_| FileError::NotUtf8)?;
    Ok((text, read))
}

/// Decompresses a (possibly multi-member) gzip stream, refusing more than `max_bytes` of output.
fn gunzip(bytes: &[u8], max_bytes: u64) -> Result<Vec<u8>, FileError> {
    // The trailer's ISIZE is the decompressed size modulo 2^32: a good first allocation.
    let hint = bytes
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(bytes[at..].try_into().unwrap_or([0; 4])) as u64)
        .unwrap_or(0)
        .min(max_bytes);
    let mut out = Vec::with_capacity(hint as usize + 1);
    flate2::read::MultiGzDecoder::new(bytes)
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(FileError::Gzip)?;
    if out.len() as u64 > max_bytes {
        return Err(FileError::TooBig { limit: max_bytes });
    }
    Ok(out)
}

/// A log file as AWS writes it; other top-level members are ignored.
#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// The records of a log file's text, each borrowed as its original JSON text:
/// `{"Records": [...]}`, or a plain array of records.
pub fn parse_records(text: &str) -> Result<Vec<&RawValue>, FileError> {
    let first = text
        .bytes()
        .find(|b| !b.is_ascii_whitespace())
        .unwrap_or(b' ');
    let classify = |e: serde_json::Error| match e.classify() {
        serde_json::error::Category::Data => FileError::NotLogFile(e.to_string()),
        _ => FileError::NotJson(e),
    };
    match first {
        b'{' => serde_json::from_str::<LogFile<'_>>(text)
            .map(|f| f.records)
            .map_err(classify),
        b'[' => serde_json::from_str::<Vec<&RawValue>>(text).map_err(classify),
        _ => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Err(FileError::NotLogFile(
                "the top level is neither an object nor an array".into(),
            )),
            Err(e) => Err(FileError::NotJson(e)),
        },
    }
}

/// A record of a good file that was not imported: its position (from 0) and why.
#[derive(Debug)]
pub struct BadRecord {
    pub index: usize,
    pub reason: String,
}

/// Builds the event for each record (stored as its original text), received at
/// `received_at_ms`. Records that are not JSON objects are returned as [`BadRecord`]s.
pub fn build_events(
    records: &[&RawValue],
    received_at_ms: i64,
    events: &mut Vec<NewEvent>,
    bad: &mut Vec<BadRecord>,
) {
    events.reserve(records.len());
    for (index, raw) in records.iter().enumerate() {
        let text = raw.get();
        match EventRecord::from_json(text) {
            Ok(record) => events.push(new_event(&record, text, received_at_ms)),
            Err(_) => bad.push(BadRecord {
                index,
                reason: format!("not a JSON object: {}", preview(text)),
            }),
        }
    }
}

/// The event for one parsed record, marked imported: keyed by its `eventID`, or by a synthetic
/// id derived from its text when it has none (the record itself is stored unchanged).
pub fn new_event(record: &EventRecord, text: &str, received_at_ms: i64) -> NewEvent {
    let event_id = match record.event_id.as_str().filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => synthetic_event_id(text),
    };
    let mut index = EventIndex::of(record);
    // Already delivered by the trail that wrote the file: trails here do not deliver it again.
    index.imported = true;
    NewEvent {
        event_id,
        received_at_ms,
        index,
        record_json: text.to_owned(),
    }
}

/// `import-<hex SHA-256 of the record text>`: the same record imported twice gets the same key.
pub fn synthetic_event_id(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut id = String::with_capacity(7 + 64);
    id.push_str("import-");
    for b in digest.iter() {
        id.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
        id.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
    }
    id
}

/// The start of a record's text, for messages.
fn preview(text: &str) -> String {
    const MAX: usize = 40;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_their_text() {
        let text = "{\"Records\": [ {\"eventID\" : \"a\",  \"x\":1.50} ,\n{\"eventID\":\"b\"} ], \"other\": 1}";
        let records = parse_records(text).unwrap();
        let texts: Vec<&str> = records.iter().map(|r| r.get()).collect();
        assert_eq!(
            texts,
            ["{\"eventID\" : \"a\",  \"x\":1.50}", "{\"eventID\":\"b\"}"]
        );
        let array = parse_records("  [ {\"eventID\":\"c\"} ]").unwrap();
        assert_eq!(array[0].get(), "{\"eventID\":\"c\"}");
    }

    #[test]
    fn shapes_that_are_not_log_files() {
        for text in [
            "{\"records\": []}",
            "{\"Records\": 5}",
            "5",
            "\"x\"",
            "null",
        ] {
            assert!(
                matches!(parse_records(text), Err(FileError::NotLogFile(_))),
                "{text}"
            );
        }
        for text in ["", "{\"Records\": [", "garbage", "{\"Records\": []} x"] {
            assert!(
                matches!(parse_records(text), Err(FileError::NotJson(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_records_are_reported_and_ids_synthesized() {
        let text = r#"[{"eventID":"e1"}, 7, {"eventName":"X"}, {"eventID":""}, null]"#;
        let records = parse_records(text).unwrap();
        let (mut events, mut bad) = (Vec::new(), Vec::new());
        build_events(&records, 5, &mut events, &mut bad);
        assert_eq!(
            bad.iter().map(|b| b.index).collect::<Vec<_>>(),
            [1, 4],
            "{bad:?}"
        );
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].event_id, "e1");
        assert_eq!(
            events[1].event_id,
            synthetic_event_id(r#"{"eventName":"X"}"#)
        );
        assert!(events[1].event_id.starts_with("import-"));
        assert_eq!(events[1].event_id.len(), 7 + 64);
        assert_eq!(events[1].record_json, r#"{"eventName":"X"}"#);
        assert_eq!(events[1].index.event_name.as_deref(), Some("X"));
        assert_ne!(events[2].event_id, events[1].event_id);
        assert!(
            events
                .iter()
                .all(|e| e.received_at_ms == 5 && e.index.imported)
        );
    }

    #[test]
    fn gzip_is_capped_and_checked() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&[b' '; 1000]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gunzip(&gz, 1000).unwrap().len(), 1000);
        assert!(matches!(
            gunzip(&gz, 999),
            Err(FileError::TooBig { limit: 999 })
        ));
        assert!(matches!(
            gunzip(&gz[..gz.len() - 6], 1000),
            Err(FileError::Gzip(_))
        ));
    }
}

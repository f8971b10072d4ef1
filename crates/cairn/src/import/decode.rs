//! One log file, from bytes on disk to the events to append: gunzip (capped), parse the
//! `Records` array into borrowed raw records, then one [`NewEvent`] per record that keeps the
//! record's original JSON text.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use cairn_core::record::EventRecord;
use cairn_store::{EventIndex, NewEvent};
use serde::Deserialize;
use serde::de::IgnoredAny;
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
    // The trailer's ISIZE: the decompressed size (of the last member) modulo 2^32.
    let trailer_size = bytes
        .len()
        .checked_sub(4)
        .map(|at| u32::from_le_bytes(bytes[at..].try_into().unwrap_or([0; 4])) as u64)
        .unwrap_or(0);
    if let Some(out) = gunzip_one_member(bytes, trailer_size, max_bytes) {
        return Ok(out);
    }
    let hint = trailer_size.min(max_bytes);
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

/// The usual file, one gzip member whose trailer gives its size, decompressed whole by
/// libdeflate: about twice as fast as the streaming path (zlib-rs) on CloudTrail's files
/// (BENCHMARKS.md). `None` sends every other file down the streaming path, which handles and
/// reports it: several members, a size over `max_bytes` (or 4 GiB and more, which the trailer
/// cannot say), damaged data.
///
/// libdeflate decompresses one member and ignores what follows it, so it is used only where no
/// second member can start: nowhere after the first byte do the bytes a gzip member starts
/// with (`1f 8b 08`) appear. In compressed data they appear by chance about once in 16 MB.
fn gunzip_one_member(bytes: &[u8], size: u64, max_bytes: u64) -> Option<Vec<u8>> {
    const MEMBER_START: [u8; 3] = [0x1f, 0x8b, 0x08];
    let after_first = bytes.get(1..).unwrap_or_default();
    if size > max_bytes || memchr::memmem::find(after_first, &MEMBER_START).is_some() {
        return None;
    }
    let size = usize::try_from(size).ok()?;
    let mut out = vec![0; size];
    // It checks the member's CRC-32 and size; a shorter output means the trailer was not the
    // member's (trailing bytes), which the streaming path reports.
    match libdeflater::Decompressor::new().gzip_decompress(bytes, &mut out) {
        Ok(n) if n == size => Some(out),
        _ => None,
    }
}

/// A log file as AWS writes it; other top-level members are ignored.
#[derive(Deserialize)]
struct LogFile<'a> {
    #[serde(rename = "Records", borrow)]
    records: Vec<&'a RawValue>,
}

/// The records of a log file's text, each borrowed as its original JSON text:
/// `{"Records": [...]}`, or a plain array of records. (The first half of the parse that
/// `cairn bench import` takes as the limit; the import itself uses [`parse_log`].)
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

/// One element of a log file's `Records` array, read in the same pass that finds its end: its
/// original text and its [`RecordFields`], or why it is not a record (not a JSON object, or a
/// value that only a skipping parser accepts, such as `1e400`).
pub struct LogRecord<'a> {
    pub text: &'a str,
    pub fields: Result<RecordFields, String>,
}

/// What the import needs of a record object besides its text: its `eventID` and its index.
///
/// Parsed from the members the index reads ([`EventIndex::MEMBERS`]; the rest of the record is
/// checked, not built). Only this small summary is kept, not the (~5 KB) `EventRecord`
/// struct: moving that around cost more than parsing the record.
#[derive(Debug, PartialEq)]
pub struct RecordFields {
    pub event_id: Option<String>,
    pub index: EventIndex,
}

impl RecordFields {
    pub fn of(record: &EventRecord) -> RecordFields {
        RecordFields {
            event_id: record
                .event_id
                .as_str()
                .filter(|id| !id.is_empty())
                .map(str::to_owned),
            index: EventIndex::of(record),
        }
    }
}

impl<'de> Deserialize<'de> for RecordFields {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        EventRecord::deserialize_keeping_then(deserializer, EventIndex::reads_member, |record| {
            RecordFields::of(&record)
        })
    }
}

/// The records of a log file's text, `{"Records": [...]}` (other top-level members are checked
/// and ignored) or a plain array of records, in one pass over the text.
///
/// Reading each record's text first (as a raw JSON value) and parsing it again would scan
/// every byte twice; here the outer structure is walked by hand and each element is parsed
/// once, by a stream deserializer that reports where it ended.
pub fn parse_log(text: &str) -> Result<Vec<LogRecord<'_>>, FileError> {
    let mut cursor = Cursor { text, at: 0 };
    let outcome = cursor.log_file();
    // A syntax error the walk finds by hand is reported as serde_json reports it for the whole
    // text, with its line and column.
    outcome.map_err(|e| match e {
        Walk::File(e) => e,
        Walk::Syntax => match serde_json::from_str::<IgnoredAny>(text) {
            Err(e) => FileError::NotJson(e),
            Ok(_) => FileError::NotJson(serde::de::Error::custom(
                "unexpected text between the log file's values",
            )),
        },
    })
}

/// Why [`Cursor`] stopped: a whole-file error, or a syntax error (located afterwards).
enum Walk {
    File(FileError),
    Syntax,
}

impl From<serde_json::Error> for Walk {
    fn from(e: serde_json::Error) -> Self {
        match e.classify() {
            serde_json::error::Category::Data => Walk::File(FileError::NotLogFile(e.to_string())),
            // Positions in errors from the stream deserializers are relative to where they
            // started: locate it again in the whole text.
            _ => Walk::Syntax,
        }
    }
}

/// A position in a log file's text, walking its top level.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn log_file(&mut self) -> Result<Vec<LogRecord<'a>>, Walk> {
        let records = match self.next_non_space() {
            Some(b'[') => self.records()?,
            Some(b'{') => self.object_with_records()?,
            _ => {
                // Not an object or array: a JSON scalar, or not JSON at all.
                self.value::<IgnoredAny>()?;
                if self.next_non_space().is_some() {
                    return Err(Walk::Syntax);
                }
                return Err(Walk::File(FileError::NotLogFile(
                    "the top level is neither an object nor an array".into(),
                )));
            }
        };
        match self.next_non_space() {
            None => Ok(records),
            Some(_) => Err(Walk::Syntax),
        }
    }

    /// `{...}` with a `Records` array among its members; the cursor is on the `{`.
    fn object_with_records(&mut self) -> Result<Vec<LogRecord<'a>>, Walk> {
        self.at += 1;
        let mut records = None;
        if self.next_non_space() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                if self.next_non_space() != Some(b'"') {
                    return Err(Walk::Syntax);
                }
                let name: String = self.value()?;
                self.expect(b':')?;
                if name != "Records" {
                    self.value::<IgnoredAny>()?;
                } else if records.is_some() {
                    return Err(Walk::File(FileError::NotLogFile(
                        "duplicate field `Records`".into(),
                    )));
                } else if self.next_non_space() == Some(b'[') {
                    records = Some(self.records()?);
                } else {
                    let kind = match self.next_non_space() {
                        Some(b'n') => "null",
                        Some(b't' | b'f') => "a boolean",
                        Some(b'"') => "a string",
                        Some(b'{') => "an object",
                        _ => "a number",
                    };
                    // Checked as well-formed only, as any other member: `1e400` is a number.
                    self.value::<IgnoredAny>()?;
                    return Err(Walk::File(FileError::NotLogFile(format!(
                        "`Records` is {kind}, not an array"
                    ))));
                }
                match self.next_non_space() {
                    Some(b',') => self.at += 1,
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(Walk::Syntax),
                }
            }
        }
        records.ok_or_else(|| Walk::File(FileError::NotLogFile("missing field `Records`".into())))
    }

    /// `[record, ...]`; the cursor is on the `[`.
    fn records(&mut self) -> Result<Vec<LogRecord<'a>>, Walk> {
        self.at += 1;
        // A record is ~1.3 KB of text (a hint only: a file of a few huge records must not
        // reserve room for thousands).
        let mut records = Vec::with_capacity(((self.text.len() - self.at) / 1024).min(4096));
        if self.next_non_space() == Some(b']') {
            self.at += 1;
            return Ok(records);
        }
        loop {
            let start = match self.next_non_space() {
                Some(_) => self.at,
                None => return Err(Walk::Syntax),
            };
            let fields = if self.text.as_bytes()[start] == b'{' {
                self.record_fields()?
            } else {
                self.value::<IgnoredAny>()?;
                Err("not a JSON object".to_owned())
            };
            records.push(LogRecord {
                text: &self.text[start..self.at],
                fields,
            });
            match self.next_non_space() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(records);
                }
                _ => return Err(Walk::Syntax),
            }
        }
    }

    /// A record object's fields. An object that a skipping parser accepts but a building one
    /// refuses (a number out of range, a lone surrogate escape, nesting past the limit) is a bad
    /// record, as it would be to every later reader of its text; the file goes on.
    fn record_fields(&mut self) -> Result<Result<RecordFields, String>, Walk> {
        match self.value::<RecordFields>() {
            Ok(fields) => Ok(Ok(fields)),
            // (A failed `value` leaves the cursor where it was.)
            Err(walk) => {
                let Ok(Refusal(why)) = self.value::<Refusal>() else {
                    return Err(walk);
                };
                Ok(Err(why))
            }
        }
    }

    /// Parses one JSON value starting at the cursor (after any whitespace) and moves past it.
    fn value<T: Deserialize<'a>>(&mut self) -> Result<T, Walk> {
        let mut stream = serde_json::Deserializer::from_str(&self.text[self.at..]).into_iter::<T>();
        match stream.next() {
            Some(Ok(value)) => {
                self.at += stream.byte_offset();
                Ok(value)
            }
            Some(Err(e)) => Err(e.into()),
            None => Err(Walk::Syntax),
        }
    }

    /// Skips whitespace and returns the next byte, without consuming it.
    fn next_non_space(&mut self) -> Option<u8> {
        let bytes = self.text.as_bytes();
        while let Some(b) = bytes.get(self.at) {
            if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(*b);
            }
            self.at += 1;
        }
        None
    }

    /// Skips whitespace and then `byte`, or fails.
    fn expect(&mut self, byte: u8) -> Result<(), Walk> {
        if self.next_non_space() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(Walk::Syntax)
        }
    }
}

/// Why a well-formed JSON object is not a record: the error a building parse of it gives.
/// Deserializing this type always checks the value's syntax only (like [`IgnoredAny`]).
struct Refusal(String);

impl<'de> Deserialize<'de> for Refusal {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&RawValue>::deserialize(deserializer)?;
        let why = match EventRecord::from_json(raw.get()) {
            Err(e) => e.to_string(),
            Ok(_) => "not a valid record".to_owned(),
        };
        Ok(Refusal(why))
    }
}

/// The events of a log file's text ([`parse_log`]), one per record (stored as its original
/// text), received at `received_at_ms`, and the records that are not records
/// ([`BadRecord`]s).
pub fn parse_events(
    text: &str,
    received_at_ms: i64,
) -> Result<(Vec<NewEvent>, Vec<BadRecord>), FileError> {
    let records = parse_log(text)?;
    let mut events = Vec::with_capacity(records.len());
    let mut bad = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        match record.fields {
            Ok(fields) => events.push(new_event(fields, record.text, received_at_ms)),
            Err(why) => bad.push(BadRecord {
                index,
                reason: format!("{why}: {}", preview(record.text)),
            }),
        }
    }
    Ok((events, bad))
}

/// The event for one parsed record, marked imported: keyed by its `eventID`, or by a synthetic
/// id derived from its text when it has none (the record itself is stored unchanged).
pub fn new_event(fields: RecordFields, text: &str, received_at_ms: i64) -> NewEvent {
    let RecordFields {
        event_id,
        mut index,
    } = fields;
    let event_id = event_id.unwrap_or_else(|| synthetic_event_id(text));
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

    /// The texts `parse_log` finds, checked against `parse_records` (serde_json's raw values)
    /// on the same input.
    fn log_texts(text: &str) -> Vec<&str> {
        let log: Vec<&str> = parse_log(text).unwrap().iter().map(|r| r.text).collect();
        let raw: Vec<&str> = parse_records(text)
            .unwrap()
            .iter()
            .map(|r| r.get())
            .collect();
        assert_eq!(log, raw, "{text}");
        log
    }

    #[test]
    fn records_keep_their_text() {
        let text = "{\"Records\": [ {\"eventID\" : \"a\",  \"x\":1.50} ,\n{\"eventID\":\"b\"} ], \"other\": 1}";
        assert_eq!(
            log_texts(text),
            ["{\"eventID\" : \"a\",  \"x\":1.50}", "{\"eventID\":\"b\"}"]
        );
        assert_eq!(
            log_texts("  [ {\"eventID\":\"c\"} ]\n"),
            ["{\"eventID\":\"c\"}"]
        );
        // Other members before and after, any whitespace, an escaped member name, strings
        // holding the structure's characters, elements that are not objects, empty arrays.
        let text = " \t{ \"a\" : [1, {\"Records\": 2}] ,\r\n \"Rec\\u006frds\":[\n{\"s\":\"],}{\\\"\"}\t,7,\"x\" , [ ] ,null,{}] , \"z\":{\"Records\":[]}}\n";
        assert_eq!(
            log_texts(text),
            ["{\"s\":\"],}{\\\"\"}", "7", "\"x\"", "[ ]", "null", "{}"]
        );
        let records = parse_log(text).unwrap();
        let objects: Vec<bool> = records.iter().map(|r| r.fields.is_ok()).collect();
        assert_eq!(objects, [true, false, false, false, false, true]);
        assert!(log_texts("{\"Records\":[]}").is_empty());
        assert!(log_texts("[]").is_empty());
    }

    #[test]
    fn shapes_that_are_not_log_files() {
        // Each is refused by both parsers, for the same kind of reason.
        for text in [
            "{\"records\": []}",
            "{\"Records\": 5}",
            "{\"Records\": 5 x}",
            "{\"Records\": \"[]\"}",
            "{\"Records\": {\"a\": 1}}",
            "{\"Records\": null}",
            "{\"Records\": [], \"Records\": []}",
            "{}",
            "5",
            "\"x\"",
            "null",
        ] {
            assert!(
                matches!(parse_log(text), Err(FileError::NotLogFile(_))),
                "{text}"
            );
            assert!(
                matches!(parse_records(text), Err(FileError::NotLogFile(_))),
                "{text}"
            );
        }
        for text in [
            "",
            "   ",
            "{\"Records\": [",
            "{\"Records\": [{}",
            "{\"Records\": [{},]}",
            "{\"Records\": [{} {}]}",
            "{\"Records\": [{\"a\":1,}]}",
            "{\"Records\": [{\"a\":\"\\q\"}]}",
            "{\"Records\" [] }",
            "{Records: []}",
            "{\"Records\": [], }",
            "{\"other\": [1,], \"Records\": []}",
            "[{}] [{}]",
            "garbage",
            "{\"Records\": []} x",
            "5 x",
            "null garbage",
        ] {
            assert!(
                matches!(parse_log(text), Err(FileError::NotJson(_))),
                "{text}: {:?}",
                parse_log(text).err()
            );
            assert!(
                matches!(parse_records(text), Err(FileError::NotJson(_))),
                "{text}"
            );
        }
        // A syntax error is located in the whole text, as serde_json locates it.
        let text = "{\"Records\": [\n{\"a\": 1},\n{\"a\": 2,}\n]}";
        let (Err(FileError::NotJson(log)), Err(FileError::NotJson(raw))) =
            (parse_log(text), parse_records(text))
        else {
            panic!("both must fail");
        };
        assert_eq!((log.line(), log.column()), (raw.line(), raw.column()));
        assert_eq!(log.line(), 3);
    }

    /// A record that only a skipping parser accepts — a number out of range, a lone surrogate
    /// escape, nesting past the limit, in a member the index reads or in one it drops — is a
    /// bad record, as it is to `EventRecord::from_json` (every later reader of its text); the
    /// records around it are imported.
    #[test]
    fn records_a_building_parser_refuses_are_bad_records() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        for member in ["eventName", "requestParameters", "userIdentity"] {
            for value in ["1e400", "\"\\ud800\"", "{\"\\udc00\": 1}", deep.as_str()] {
                let bad = format!("{{\"eventID\":\"b\",\"{member}\":{value}}}");
                assert!(EventRecord::from_json(&bad).is_err(), "{bad}");
                let text =
                    format!("{{\"Records\":[{{\"eventID\":\"a\"}},{bad},{{\"eventID\":\"c\"}}]}}");
                log_texts(&text);
                let (events, bad_records) = parse_events(&text, 0).unwrap();
                let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
                assert_eq!(ids, ["a", "c"], "{bad}");
                assert_eq!(bad_records.len(), 1, "{bad}");
                assert_eq!(bad_records[0].index, 1, "{bad}");
                assert!(
                    bad_records[0]
                        .reason
                        .contains("invalid CloudTrail event record"),
                    "{:?}",
                    bad_records[0]
                );
            }
        }
    }

    /// Every record of the sample logs has the same index whether it is parsed whole or with
    /// only the members the index reads, and keeps its text.
    #[test]
    fn sample_records_index_alike_from_their_members() {
        let samples =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cloudtrail-samples");
        let mut files = vec![samples];
        let mut checked = 0;
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            if !path.to_string_lossy().ends_with(".json.gz") {
                continue;
            }
            let (text, _) = read_text(&path, 1 << 30).unwrap();
            for record in parse_log(&text).unwrap() {
                let whole = EventRecord::from_json(record.text).unwrap();
                let fields = record.fields.expect("sample records are records");
                assert_eq!(
                    fields,
                    RecordFields::of(&whole),
                    "{}: {}",
                    path.display(),
                    record.text
                );
                checked += 1;
            }
        }
        assert!(checked >= 3_000, "only {checked} sample records found");
        // The members that only some records have: application events' eventData, resources,
        // a readOnly string, access keys.
        for text in [
            r#"{"eventCategory":"ActivityAuditLog","eventData":{"eventName":"N","eventSource":"S","userIdentity":{"principalId":"P"}},"eventTime":"2026-11-23T08:15:02Z"}"#,
            r#"{"resources":[{"ARN":"arn:aws:s3:::b/k","type":"AWS::S3::Object"},{"ARN":""}],"readOnly":"true","userIdentity":{"type":"IAMUser","userName":"u","accessKeyId":"AKIA1"},"requestParameters":{"x":1}}"#,
            r#"{"eventCategory":"Insight","insightDetails":{"state":"Start"},"eventTime":"garbage"}"#,
        ] {
            let members = EventRecord::from_json_keeping(text, EventIndex::reads_member).unwrap();
            assert_eq!(
                EventIndex::of(&members),
                EventIndex::of(&EventRecord::from_json(text).unwrap()),
                "{text}"
            );
            let file = format!("[{text}]");
            let [record] = &parse_log(&file).unwrap()[..] else {
                panic!("one record");
            };
            assert_eq!(
                record.fields.as_ref().ok(),
                Some(&RecordFields::of(&members)),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_records_are_reported_and_ids_synthesized() {
        let text = r#"[{"eventID":"e1"}, 7, {"eventName":"X"}, {"eventID":""}, null]"#;
        let (events, bad) = parse_events(text, 5).unwrap();
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
        let gz = gzip(&[b' '; 1000]);
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

    fn gzip(data: &[u8]) -> Vec<u8> {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    /// The whole-buffer path takes one plain member, and only that.
    #[test]
    fn one_member_files_take_the_fast_path_and_others_stream() {
        let text = br#"{"Records":[{"eventID":"a"}]}"#.repeat(50);
        let gz = gzip(&text);
        let size = text.len() as u64;
        assert_eq!(
            gunzip_one_member(&gz, size, 1 << 20).as_deref(),
            Some(&text[..])
        );
        // Over the cap: the streaming path refuses it.
        assert_eq!(gunzip_one_member(&gz, size, size - 1), None);
        // Two members: libdeflate would stop after the first.
        let two = [gzip(b"first "), gzip(b"second")].concat();
        assert_eq!(gunzip_one_member(&two, 6, 1 << 20), None);
        assert_eq!(gunzip(&two, 1 << 20).unwrap(), b"first second");
        // A second member as large as the first, with the same text: still both.
        let twins = [gzip(b"same"), gzip(b"same")].concat();
        assert_eq!(gunzip(&twins, 1 << 20).unwrap(), b"samesame");
    }

    /// Whatever libdeflate refuses is decided by the streaming path, as before.
    #[test]
    fn damaged_gzip_is_refused_by_either_path() {
        let text = b"x".repeat(5000);
        let gz = gzip(&text);
        // A trailer that lies about the size.
        let mut lying = gz.clone();
        let at = lying.len() - 4;
        lying[at..].copy_from_slice(&4000u32.to_le_bytes());
        assert!(matches!(gunzip(&lying, 1 << 20), Err(FileError::Gzip(_))));
        // A wrong CRC-32.
        let mut bad_crc = gz.clone();
        bad_crc[at - 4] ^= 1;
        assert!(matches!(gunzip(&bad_crc, 1 << 20), Err(FileError::Gzip(_))));
        // Bytes after the member, ending in a size under the cap and above the text's (so
        // libdeflate is tried, and its output, 5000 bytes, is not that size), and ending in a
        // size over the cap.
        for junk in [
            &[&b"junk"[..], &6000u32.to_le_bytes()].concat()[..],
            b"junk",
        ] {
            let trailing = [&gz[..], junk].concat();
            assert!(matches!(
                gunzip(&trailing, 1 << 20),
                Err(FileError::Gzip(_))
            ));
        }
        // The member-start bytes inside the header (a file name): streamed, same text.
        let mut named = flate2::GzBuilder::new()
            .filename(&b"\x1f\x8b\x08.json"[..])
            .write(Vec::new(), flate2::Compression::new(6));
        std::io::Write::write_all(&mut named, &text).unwrap();
        let named = named.finish().unwrap();
        assert_eq!(gunzip_one_member(&named, 5000, 1 << 20), None);
        assert_eq!(gunzip(&named, 1 << 20).unwrap(), text);
    }
}

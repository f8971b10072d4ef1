//! How an event is laid out on disk (schema v2), computed on the caller's thread so the single
//! writer thread only binds values and inserts.
//!
//! - The record is stored compressed: one tag byte, then for [`ZSTD_DICT1`] the original length
//!   (u32 LE) and a zstd frame compressed against a built-in raw-content dictionary of common
//!   CloudTrail text ([`DICTIONARY`]). A record that does not shrink is stored as is under
//!   [`RAW`]. Decoding gives back the exact original text, byte for byte.
//! - Lookup values (names, sources, users, keys, resources) are not stored as text in any index:
//!   each becomes a 64-bit value id, the first 8 bytes of its SHA-256. All lookup keys of an event
//!   live in one B-tree, `lookup_keys(k, v, t, seq)`, with `k = history * 16 + attribute`.
//!   A different value with the same id would make a lookup return an extra event: aiming at a
//!   given value takes ~2^64 SHA-256 evaluations, and by chance n distinct values of one
//!   attribute share an id with probability ~n²/2^65 (3·10⁻⁶ at ten million).
//! - The event's own keys are also kept packed in its row (`keys`), so retention deletes them
//!   exactly without an index by `seq`.
//! - The `eventID` is indexed by a 64-bit key ([`id_key`], `events_id`), a third of the size of
//!   a text index. Cairn's own ids are UUIDv7, whose keys follow time (appended at the index's
//!   right edge); imported AWS ids are random UUIDs, so for them this index is written all over.

use std::cell::RefCell;
use std::sync::LazyLock;

use sha2::{Digest as _, Sha256};

use crate::{EventIndex, HistoryKind, LookupFilter, NewEvent, StoreError, StoreErrorKind};

/// Record stored as its original text.
pub(super) const RAW: u8 = 0;
/// Record compressed with zstd against [`DICTIONARY`] (version 1 of it: never change its bytes;
/// a new dictionary gets a new tag and this one stays for reading).
pub(super) const ZSTD_DICT1: u8 = 1;

/// zstd level: a fast negative level (no entropy coding of literals) — on the sample logs 2.0×
/// smaller at ~5 µs per 1.3 KB record, against 2.6× at ~9–12 µs for level 1. On two shared cores
/// the CPU is what bulk appends run out of (PutAuditEvents: ~12% less server CPU per event).
const LEVEL: i32 = -5;

/// Typical CloudTrail record text (written by hand, not taken from any benchmark input): zstd
/// finds the keys, punctuation and common values of a small record here.
pub(super) const DICTIONARY: &[u8] = include_bytes!("record_dict_v1.json");

static CDICT: LazyLock<zstd::dict::EncoderDictionary<'static>> =
    LazyLock::new(|| zstd::dict::EncoderDictionary::copy(DICTIONARY, LEVEL));
static DDICT: LazyLock<zstd::dict::DecoderDictionary<'static>> =
    LazyLock::new(|| zstd::dict::DecoderDictionary::copy(DICTIONARY));

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn backend(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::new(StoreErrorKind::Backend, format!("{what}: {e}"))
}

/// The stored form of a record's text.
pub(super) fn encode_record(text: &str) -> Result<Vec<u8>, StoreError> {
    let compressed = COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(
                zstd::bulk::Compressor::with_prepared_dictionary(&CDICT)
                    .map_err(|e| backend("zstd", e))?,
            );
        }
        let c = c.as_mut().expect("compressor was just set");
        let mut out = vec![0; 5 + zstd::zstd_safe::compress_bound(text.len())];
        out[0] = ZSTD_DICT1;
        out[1..5].copy_from_slice(&(text.len() as u32).to_le_bytes());
        let n = c
            .compress_to_buffer(text.as_bytes(), &mut out[5..])
            .map_err(|e| backend("zstd", e))?;
        out.truncate(5 + n);
        Ok::<_, StoreError>(out)
    })?;
    if compressed.len() < text.len() + 1 && text.len() <= u32::MAX as usize {
        return Ok(compressed);
    }
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(RAW);
    out.extend_from_slice(text.as_bytes());
    Ok(out)
}

/// The record's original text from its stored form.
pub(super) fn decode_record(stored: &[u8]) -> Result<String, StoreError> {
    let corrupt = |why: &str| {
        StoreError::new(
            StoreErrorKind::Backend,
            format!("stored record is corrupt: {why}"),
        )
    };
    let bytes = match stored.split_first() {
        Some((&RAW, text)) => text.to_vec(),
        Some((&ZSTD_DICT1, rest)) if rest.len() >= 4 => {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            let out = DECOMPRESSOR.with(|d| {
                let mut d = d.borrow_mut();
                if d.is_none() {
                    *d = Some(
                        zstd::bulk::Decompressor::with_prepared_dictionary(&DDICT)
                            .map_err(|e| backend("zstd", e))?,
                    );
                }
                let d = d.as_mut().expect("decompressor was just set");
                d.decompress(&rest[4..], len)
                    .map_err(|e| backend("zstd", e))
            })?;
            if out.len() != len {
                return Err(corrupt("length mismatch"));
            }
            out
        }
        Some((tag, _)) => return Err(corrupt(&format!("unknown encoding {tag}"))),
        None => return Err(corrupt("empty")),
    };
    String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))
}

/// The 64-bit id of a lookup value or an `eventID`: the first 8 bytes of its SHA-256.
pub(super) fn value_id(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The `id_hash` of an `eventID`: for a UUID, its first 48 bits (a UUIDv7's millisecond
/// timestamp) followed by 16 bits of the id's SHA-256, so time-ordered ids (Cairn's own) are
/// appended at the right edge of the index instead of being scattered over it by the hash; any
/// other id: the first 8 bytes of its SHA-256. Ids sharing a key are told apart by the writer,
/// which compares the ids of the rows it finds.
pub(super) fn id_key(id: &str) -> i64 {
    let digest = Sha256::digest(id.as_bytes());
    let b = id.as_bytes();
    let uuid_shaped = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if !uuid_shaped {
        return i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    }
    let mut high = 0u64;
    for c in b[..8].iter().chain(&b[9..13]) {
        high = (high << 4) | u64::from(char::from(*c).to_digit(16).unwrap_or(0));
    }
    let low = u64::from(u16::from_le_bytes([digest[0], digest[1]]));
    // Flip the sign bit so the signed order of the keys is the order of the timestamps.
    ((high << 16 | low) ^ (1 << 63)) as i64
}

/// Lookup attributes (the low 4 bits of a key's `k`).
mod attr {
    pub const TIME: i64 = 0;
    pub const NAME: i64 = 1;
    pub const SOURCE: i64 = 2;
    pub const USER: i64 = 3;
    pub const ACCESS_KEY: i64 = 4;
    pub const READ_ONLY: i64 = 5;
    pub const RESOURCE_TYPE: i64 = 6;
    pub const RESOURCE_NAME: i64 = 7;
}

/// The `k` of an attribute in a history.
pub(super) fn key_kind(history: HistoryKind, attribute: i64) -> i64 {
    history.code() * 16 + attribute
}

/// The `(k, v)` a lookup filter matches, or `None` for `EventId` (matched on the events table).
pub(super) fn filter_key(history: HistoryKind, f: &LookupFilter) -> Option<(i64, i64)> {
    let (a, v) = match f {
        LookupFilter::EventId(_) => return None,
        LookupFilter::EventName(s) => (attr::NAME, value_id(s)),
        LookupFilter::EventSource(s) => (attr::SOURCE, value_id(s)),
        LookupFilter::Username(s) => (attr::USER, value_id(s)),
        LookupFilter::AccessKeyId(s) => (attr::ACCESS_KEY, value_id(s)),
        LookupFilter::ReadOnly(b) => (attr::READ_ONLY, i64::from(*b)),
        LookupFilter::ResourceType(s) => (attr::RESOURCE_TYPE, value_id(s)),
        LookupFilter::ResourceName(s) => (attr::RESOURCE_NAME, value_id(s)),
    };
    Some((key_kind(history, a), v))
}

/// The key of the time-only scan of a history.
pub(super) fn time_key(history: HistoryKind) -> (i64, i64) {
    (key_kind(history, attr::TIME), 0)
}

/// The lookup keys of an event: none for events outside the history (LookupEvents never returns
/// them), else the time key plus one per attribute present and per resource type and name.
pub(super) fn event_keys(index: &EventIndex) -> Vec<(i64, i64)> {
    let h = index.history;
    if h == HistoryKind::NotInHistory {
        return Vec::new();
    }
    let mut keys = Vec::with_capacity(6 + 2 * index.resources.len());
    keys.push(time_key(h));
    let mut text = |a: i64, s: &Option<String>| {
        if let Some(s) = s {
            keys.push((key_kind(h, a), value_id(s)));
        }
    };
    text(attr::NAME, &index.event_name);
    text(attr::SOURCE, &index.event_source);
    text(attr::USER, &index.username);
    text(attr::ACCESS_KEY, &index.access_key_id);
    if let Some(ro) = index.read_only {
        keys.push((key_kind(h, attr::READ_ONLY), i64::from(ro)));
    }
    for (kind, name) in &index.resources {
        if let Some(kind) = kind {
            keys.push((key_kind(h, attr::RESOURCE_TYPE), value_id(kind)));
        }
        keys.push((key_kind(h, attr::RESOURCE_NAME), value_id(name)));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Keys packed for the `keys` column: 9 bytes each (`k` as one byte, `v` as i64 LE).
pub(super) fn pack_keys(keys: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(keys.len() * 9);
    for &(k, v) in keys {
        out.push(k as u8);
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// The keys of a `keys` column.
pub(super) fn unpack_keys(packed: &[u8]) -> Vec<(i64, i64)> {
    packed
        .chunks_exact(9)
        .map(|c| {
            (
                i64::from(c[0]),
                i64::from_le_bytes(c[1..].try_into().expect("8 bytes")),
            )
        })
        .collect()
}

/// An event ready for the writer: everything but its `seq`.
pub(super) struct EncodedEvent {
    pub event_id: String,
    pub id_hash: i64,
    pub received_at_ms: i64,
    pub history: i64,
    pub event_time: i64,
    pub imported: bool,
    pub packed_keys: Vec<u8>,
    pub record: Vec<u8>,
}

impl EncodedEvent {
    pub(super) fn of(event: NewEvent) -> Result<EncodedEvent, StoreError> {
        let ix = &event.index;
        let keys = event_keys(ix);
        Ok(EncodedEvent {
            id_hash: id_key(&event.event_id),
            received_at_ms: event.received_at_ms,
            history: ix.history.code(),
            event_time: ix
                .event_time
                .unwrap_or(event.received_at_ms.div_euclid(1000)),
            imported: ix.imported,
            packed_keys: pack_keys(&keys),
            record: encode_record(&event.record_json)?,
            event_id: event.event_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLE123","arn":"arn:aws:iam::123456789012:user/alice","accountId":"123456789012","accessKeyId":"AKIAEXAMPLE123","userName":"alice"},"eventTime":"2026-11-23T08:00:00Z","eventSource":"iam.amazonaws.com","eventName":"GetUser","awsRegion":"us-east-1","sourceIPAddress":"192.0.2.1","userAgent":"aws-cli/2.15.0","requestParameters":{"userName":"bob"},"responseElements":null,"requestID":"0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","eventID":"8f7e6d5c-4b3a-2918-0706-f5e4d3c2b1a0","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"123456789012","eventCategory":"Management"}"#;

    #[test]
    fn records_round_trip_byte_for_byte() {
        for text in [
            RECORD,
            "",
            "{}",
            "{\"eventID\" : \"a\",  \"x\":1.50,\n \"é\": \"\\u00e9 ☃\"}",
            &RECORD.repeat(50),
        ] {
            let stored = encode_record(text).unwrap();
            assert_eq!(decode_record(&stored).unwrap(), text);
        }
        // A typical record compresses well against the dictionary.
        let stored = encode_record(RECORD).unwrap();
        assert_eq!(stored[0], ZSTD_DICT1);
        assert!(
            stored.len() * 2 < RECORD.len(),
            "{} of {}",
            stored.len(),
            RECORD.len()
        );
        // Tiny records that would grow are kept as they are.
        assert_eq!(encode_record("{}").unwrap(), b"\0{}");
    }

    #[test]
    fn records_decode_on_other_threads() {
        let stored = encode_record(RECORD).unwrap();
        let text = std::thread::spawn(move || decode_record(&stored).unwrap())
            .join()
            .unwrap();
        assert_eq!(text, RECORD);
    }

    #[test]
    fn corrupt_records_are_errors() {
        assert!(decode_record(b"").is_err());
        assert!(decode_record(b"\x07abc").is_err());
        assert!(decode_record(b"\x01\x05\0\0\0garbage").is_err());
        let mut stored = encode_record(RECORD).unwrap();
        stored[1] ^= 1; // wrong length
        assert!(decode_record(&stored).is_err());
    }

    #[test]
    fn value_ids_are_stable() {
        // Stored on disk: the function must never change.
        assert_eq!(
            value_id(""),
            i64::from_le_bytes([0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14])
        );
        assert_ne!(value_id("alice"), value_id("bob"));
    }

    #[test]
    fn time_ordered_ids_keep_their_order() {
        let a = id_key("019ab0c0-0000-7000-8000-000000000000");
        let b = id_key("019ab0c0-0001-7000-8000-000000000000");
        let c = id_key("f19ab0c0-0000-7000-8000-000000000000");
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_ne!(
            id_key("019ab0c0-0000-7000-8000-000000000001"),
            id_key("019ab0c0-0000-7000-8000-000000000002"),
        );
        assert_eq!(id_key("import-abc"), value_id("import-abc"));
        assert_eq!(
            id_key("019ab0c0-0000-7000-8000-00000000000"),
            value_id("019ab0c0-0000-7000-8000-00000000000")
        );
    }

    #[test]
    fn keys_pack_and_cover_the_index() {
        let index = EventIndex {
            event_name: Some("GetUser".into()),
            username: Some("alice".into()),
            read_only: Some(false),
            resources: vec![
                (Some("AWS::IAM::User".into()), "bob".into()),
                (Some("AWS::IAM::User".into()), "carol".into()),
            ],
            ..EventIndex::default()
        };
        let keys = event_keys(&index);
        assert_eq!(keys.len(), 1 + 3 + 1 + 2, "{keys:?}"); // resource type deduplicated
        assert_eq!(unpack_keys(&pack_keys(&keys)), keys);
        for f in [
            LookupFilter::EventName("GetUser".into()),
            LookupFilter::Username("alice".into()),
            LookupFilter::ReadOnly(false),
            LookupFilter::ResourceType("AWS::IAM::User".into()),
            LookupFilter::ResourceName("carol".into()),
        ] {
            let key = filter_key(HistoryKind::Events, &f).unwrap();
            assert!(keys.contains(&key), "{f:?}");
        }
        assert!(
            !keys.contains(
                &filter_key(
                    HistoryKind::Insights,
                    &LookupFilter::Username("alice".into())
                )
                .unwrap()
            )
        );
        let outside = EventIndex {
            history: HistoryKind::NotInHistory,
            ..index
        };
        assert!(event_keys(&outside).is_empty());
    }
}

#[cfg(test)]
mod speed {
    /// `CAIRN_RECORDS=file.jsonl cargo test --release -p cairn-store encode_speed -- --ignored --nocapture`
    #[test]
    #[ignore]
    fn encode_speed() {
        let path = std::env::var("CAIRN_RECORDS").unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let records: Vec<&str> = text.lines().collect();
        let raw: usize = records.iter().map(|r| r.len()).sum();
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let mut stored = 0;
            for _ in 0..5 {
                for r in &records {
                    stored += super::encode_record(r).unwrap().len();
                }
            }
            let per = t.elapsed() / (5 * records.len() as u32);
            println!(
                "{} records, {:.2}x, {:?} per record encode",
                records.len(),
                (5 * raw) as f64 / stored as f64,
                per
            );
            let enc: Vec<Vec<u8>> = records
                .iter()
                .map(|r| super::encode_record(r).unwrap())
                .collect();
            let t = std::time::Instant::now();
            for e in &enc {
                std::hint::black_box(super::decode_record(e).unwrap());
            }
            println!("{:?} per record decode", t.elapsed() / records.len() as u32);
        }
    }
}

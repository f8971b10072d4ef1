//! How an event is laid out on disk (schema v6), computed on the caller's thread so the single
//! writer thread only binds values and inserts.
//!
//! - Records of neighbouring events of one commit are stored together: up to [`BLOCK_RECORDS`]
//!   of them compressed as one zstd frame in a row of `blocks` ([`encode_block`]); the block's
//!   manifest lists its events (`manifest.rs`; in v5 each event's row held where its record
//!   is, [`parse_block_ref`]). Compressing records together
//!   costs less per record than compressing one at a time, and shrinks them ~3.5× more (the keys,
//!   ARNs and agents repeat from record to record), which also shrinks every write that follows
//!   (WAL, checkpoint, the page cache); reading one record decompresses its block (~40 KB).
//! - A run of one record (a commit of one event, e.g. an API call; the one left over after full
//!   blocks; a record of 64 KiB or more that starts a run) stays in its row: one tag byte,
//!   then for [`ZSTD_DICT1`] the original length (u32 LE) and a zstd frame compressed against a
//!   built-in raw-content dictionary of common CloudTrail text ([`DICTIONARY`]). A record that
//!   does not shrink is stored as is under [`RAW`]. Decoding gives back the exact original
//!   text, byte for byte, in both forms.
//! - Lookup values (names, sources, users, keys, resources) are not stored as text in any index:
//!   each becomes a 64-bit value id, the first 8 bytes of its SHA-256. A lookup key is `(k, v)`
//!   with `k = history * 16 + attribute`; the index stores its entries in chunks (`chunks.rs`).
//!   A different value with the same id would make a lookup return an extra event: aiming at a
//!   given value takes ~2^64 SHA-256 evaluations, and by chance n distinct values of one
//!   attribute share an id with probability ~n²/2^65 (3·10⁻⁶ at ten million).
//! - The event's own keys are also kept packed in its row or manifest entry (`keys`): the indexer builds the index
//!   from them, and lookups check further conditions and match the unindexed tail against them.
//! - The `eventID` is indexed by a 64-bit key ([`id_key`], table `event_ids`), a third of the
//!   size of a text index. Cairn's own ids are UUIDv7, whose keys follow time (appended at the index's
//!   right edge); imported AWS ids are random UUIDs, so for them this index is written all over.

use std::cell::RefCell;
use std::sync::LazyLock;

use foldhash::{HashMap, HashMapExt as _};
use sha2::{Digest as _, Sha256};

use crate::{EventIndex, HistoryKind, LookupFilter, NewEvent, StoreError, StoreErrorKind};

/// Record stored as its original text.
pub(super) const RAW: u8 = 0;
/// Record compressed with zstd against [`DICTIONARY`] (version 1 of it: never change its bytes;
/// a new dictionary gets a new tag and this one stays for reading).
pub(super) const ZSTD_DICT1: u8 = 1;
/// The record is in a block shared with its commit's neighbours (table `blocks`); the row holds
/// where (see [`block_ref`]).
pub(super) const IN_BLOCK: u8 = 2;

/// zstd level: a fast negative level (no entropy coding of literals) — on the sample logs 2.0×
/// smaller at ~3–5 µs per 1.3 KB record (measured at different times), against 2.6× at ~9–12 µs
/// for level 1. On two shared cores the CPU is what bulk appends run out of (PutAuditEvents:
/// ~12% less server CPU per event).
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

/// Runs `f` with this thread's (de)compressor in `cell`, made by `make` on first use: zstd
/// contexts (and a prepared dictionary's tables) are costly to build and are reused.
fn with_context<T: 'static, R>(
    cell: &'static std::thread::LocalKey<RefCell<Option<T>>>,
    make: impl FnOnce() -> std::io::Result<T>,
    f: impl FnOnce(&mut T) -> std::io::Result<R>,
) -> Result<R, StoreError> {
    cell.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(make().map_err(|e| backend("zstd", e))?);
        }
        f(c.as_mut().expect("context was just set")).map_err(|e| backend("zstd", e))
    })
}

/// The stored form of a record's text.
pub(super) fn encode_record(text: &str) -> Result<Vec<u8>, StoreError> {
    let mut compressed = vec![0; 5 + zstd::zstd_safe::compress_bound(text.len())];
    compressed[0] = ZSTD_DICT1;
    compressed[1..5].copy_from_slice(&(text.len() as u32).to_le_bytes());
    let n = with_context(
        &COMPRESSOR,
        || zstd::bulk::Compressor::with_prepared_dictionary(&CDICT),
        |c| c.compress_to_buffer(text.as_bytes(), &mut compressed[5..]),
    )?;
    compressed.truncate(5 + n);
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
    let bytes = match stored.split_first() {
        Some((&RAW, text)) => text.to_vec(),
        Some((&ZSTD_DICT1, rest)) if rest.len() >= 4 => {
            let len = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes")) as usize;
            decompress(&DECOMPRESSOR, make_dict_decompressor, &rest[4..], len)?
        }
        Some((tag, _)) => return Err(corrupt(&format!("unknown encoding {tag}"))),
        None => return Err(corrupt("empty")),
    };
    String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))
}

/// Records per block at most: a lookup that needs one record decompresses its whole block, so
/// blocks stay small (~40 KB of text for typical records).
pub(super) const BLOCK_RECORDS: usize = 32;
/// A block is closed once its text reaches this many bytes.
pub(super) const BLOCK_BYTES: usize = 64 << 10;
/// zstd level of blocks, without the dictionary: over 32 records of the sample logs level 1 is
/// 7.4× smaller at 1.2 µs per record, against 2.0× at 3 µs for one record at a time; the
/// dictionary would add 10% more ratio for 0.75 µs more per record (see BENCHMARKS.md).
const BLOCK_LEVEL: i32 = 1;
/// The block encoding: one zstd frame, no dictionary.
const BLOCK_ZSTD: u8 = 1;

thread_local! {
    /// A block's texts joined, and its zstd frame: reused, as a bulk import encodes tens of
    /// thousands of blocks per thread (two allocations of ~40 KB each otherwise).
    static BLOCK_SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    static BLOCK_COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static BLOCK_DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The stored form of a block of records: [`BLOCK_ZSTD`], the record count (u32 LE), each
/// record's length (u32 LE), then one zstd frame of the concatenated texts.
pub(super) fn encode_block(texts: &[&str]) -> Result<Vec<u8>, StoreError> {
    let total: usize = texts.iter().map(|t| t.len()).sum();
    if texts.len() > u32::MAX as usize || texts.iter().any(|t| t.len() > u32::MAX as usize) {
        return Err(backend("block", "too large"));
    }
    BLOCK_SCRATCH.with_borrow_mut(|(joined, frame)| {
        joined.clear();
        for t in texts {
            joined.extend_from_slice(t.as_bytes());
        }
        // zstd writes into a Vec's spare capacity (from its start): no zeroed buffer.
        frame.clear();
        frame.reserve(zstd::zstd_safe::compress_bound(total));
        with_context(
            &BLOCK_COMPRESSOR,
            || zstd::bulk::Compressor::new(BLOCK_LEVEL),
            |c| c.compress_to_buffer(joined.as_slice(), frame),
        )?;
        let mut out = Vec::with_capacity(5 + 4 * texts.len() + frame.len());
        out.push(BLOCK_ZSTD);
        out.extend_from_slice(&(texts.len() as u32).to_le_bytes());
        for t in texts {
            out.extend_from_slice(&(t.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(frame);
        Ok(out)
    })
}

/// A decoded block: the records' text, one after the other.
pub(super) struct Block {
    text: String,
    /// Where each record ends in `text`.
    ends: Vec<usize>,
}

impl Block {
    /// Record `index` of the block.
    pub(super) fn record(&self, index: usize) -> Result<&str, StoreError> {
        let end = *self
            .ends
            .get(index)
            .ok_or_else(|| corrupt(&format!("record {index} of a block of {}", self.ends.len())))?;
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        self.text
            .get(start..end)
            .ok_or_else(|| corrupt("a record is not UTF-8 text"))
    }
}

pub(super) fn corrupt(why: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Backend,
        format!("stored record is corrupt: {why}"),
    )
}

/// A block from its stored form.
pub(super) fn decode_block(stored: &[u8]) -> Result<Block, StoreError> {
    let u32_at = |at: usize| -> Result<usize, StoreError> {
        stored
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
            .ok_or_else(|| corrupt("truncated block"))
    };
    if stored.first() != Some(&BLOCK_ZSTD) {
        return Err(corrupt("unknown block encoding"));
    }
    let count = u32_at(1)?;
    let header = count
        .checked_mul(4)
        .and_then(|n| n.checked_add(5))
        .filter(|&h| h <= stored.len())
        .ok_or_else(|| corrupt("truncated block"))?;
    let mut ends = Vec::with_capacity(count);
    let mut total = 0usize;
    for i in 0..count {
        total = total
            .checked_add(u32_at(5 + 4 * i)?)
            .ok_or_else(|| corrupt("block too large"))?;
        ends.push(total);
    }
    let bytes = decompress(
        &BLOCK_DECOMPRESSOR,
        zstd::bulk::Decompressor::new,
        &stored[header..],
        total,
    )?;
    let text = String::from_utf8(bytes).map_err(|_| corrupt("not UTF-8"))?;
    if ends.iter().any(|&e| !text.is_char_boundary(e)) {
        return Err(corrupt("a record is not UTF-8 text"));
    }
    Ok(Block { text, ends })
}

/// The row's `record` for an event stored in a block (schema v5): [`IN_BLOCK`], then as LEB128
/// varints how far back the block's first event is (`seq - first_seq`) and the record's index in
/// the block. Since v6 such events have no row (see `manifest.rs`); v5 rows are still read
/// ([`parse_block_ref`]), and tests write them.
#[cfg(test)]
pub(super) fn block_ref(back: u64, index: usize) -> Vec<u8> {
    let mut out = vec![IN_BLOCK];
    put_varint(&mut out, back);
    put_varint(&mut out, index as u64);
    out
}

/// Appends `n` as an LEB128 varint.
pub(super) fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Takes an LEB128 varint off the front of `rest`; `None` if it is truncated or over 64 bits.
pub(super) fn take_varint(rest: &mut &[u8]) -> Option<u64> {
    let mut n = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, after) = rest.split_first()?;
        *rest = after;
        // The tenth byte holds the 64th bit only.
        if shift == 63 && byte > 1 {
            return None;
        }
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(n);
        }
    }
    None
}

/// `(seq - first_seq, index)` of a row's `record` that points into a block, `None` for a record
/// stored in its row.
pub(super) fn parse_block_ref(stored: &[u8]) -> Result<Option<(u64, usize)>, StoreError> {
    let Some((&IN_BLOCK, mut rest)) = stored.split_first() else {
        return Ok(None);
    };
    let mut next = || -> Result<u64, StoreError> {
        take_varint(&mut rest).ok_or_else(|| corrupt("bad block reference"))
    };
    let back = next()?;
    let index = next()?;
    // Events skipped as duplicates leave holes in a block, never the other way round: an event
    // is at least as far into its block as its seq is past the block's first.
    if !rest.is_empty() || index < back {
        return Err(corrupt("bad block reference"));
    }
    Ok(Some((back, index as usize)))
}

/// The `len` bytes of a zstd frame, decompressed with this thread's decompressor in `cell`.
fn decompress(
    cell: &'static std::thread::LocalKey<RefCell<Option<zstd::bulk::Decompressor<'static>>>>,
    make: impl FnOnce() -> std::io::Result<zstd::bulk::Decompressor<'static>>,
    frame: &[u8],
    len: usize,
) -> Result<Vec<u8>, StoreError> {
    // The frame says how large its content is: a corrupt length (or record count) is caught
    // before anything that large is allocated.
    if !matches!(zstd::zstd_safe::get_frame_content_size(frame), Ok(Some(n)) if n == len as u64) {
        return Err(corrupt("length mismatch"));
    }
    let out = with_context(cell, make, |d| d.decompress(frame, len))?;
    if out.len() != len {
        return Err(corrupt("length mismatch"));
    }
    Ok(out)
}

/// A decompressor for records compressed against [`DICTIONARY`].
fn make_dict_decompressor() -> std::io::Result<zstd::bulk::Decompressor<'static>> {
    zstd::bulk::Decompressor::with_prepared_dictionary(&DDICT)
}

/// The 64-bit id of a lookup value or an `eventID`: the first 8 bytes of its SHA-256.
pub(super) fn value_id(text: &str) -> i64 {
    // The same few values (sources, names, users, keys) come back event after event: each
    // thread remembers the ids it computed lately (a hash-map probe is a fraction of a SHA-256).
    thread_local! {
        static RECENT: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
    }
    const REMEMBERED: usize = 4096;
    RECENT.with_borrow_mut(|recent| {
        if let Some(&id) = recent.get(text) {
            return id;
        }
        let digest = Sha256::digest(text.as_bytes());
        let id = i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        if recent.len() >= REMEMBERED {
            recent.clear();
        }
        recent.insert(text.to_owned(), id);
        id
    })
}

/// The `id_hash` of an `eventID`: for a UUID, its first 48 bits (a UUIDv7's millisecond
/// timestamp) followed by 16 bits of the id's SHA-256, so time-ordered ids (Cairn's own) are
/// appended at the right edge of the index instead of being scattered over it by the hash; any
/// other id: the first 8 bytes of its SHA-256. Ids sharing a key are told apart by the writer,
/// which compares the ids of the rows it finds.
pub(super) fn id_key(id: &str) -> i64 {
    let digest = Sha256::digest(id.as_bytes());
    let Some(high) = uuid_time_bits(id.as_bytes()) else {
        return i64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
    };
    let low = u64::from(u16::from_le_bytes([digest[0], digest[1]]));
    // Flip the sign bit so the signed order of the keys is the order of the timestamps.
    ((high << 16 | low) ^ (1 << 63)) as i64
}

/// The first 48 bits of a UUID in its 36-character form (hex digits, dashes at 8, 13, 18 and
/// 23), or `None` for anything else: one pass, as it runs for every imported event.
fn uuid_time_bits(b: &[u8]) -> Option<u64> {
    if b.len() != 36 {
        return None;
    }
    let mut high = 0u64;
    for (i, &c) in b.iter().enumerate() {
        if matches!(i, 8 | 13 | 18 | 23) {
            if c != b'-' {
                return None;
            }
            continue;
        }
        let digit = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        if i < 13 {
            high = (high << 4) | u64::from(digit);
        }
    }
    Some(high)
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
    pub record: StoredRecord,
}

/// Where an encoded event's record goes.
pub(super) enum StoredRecord {
    /// In the event's own row, encoded by [`encode_record`].
    Inline(Vec<u8>),
    /// In block number `block` of its commit (see [`encode_events`]), at `index`.
    InBlock { block: usize, index: usize },
}

/// The events of one commit, encoded: records of neighbouring events share compressed blocks.
#[derive(Default)]
pub(super) struct EncodedEvents {
    pub events: Vec<EncodedEvent>,
    /// Blocks encoded by [`encode_block`], numbered as [`StoredRecord::InBlock`] names them.
    pub blocks: Vec<Vec<u8>>,
}

impl EncodedEvents {
    /// Puts `more`'s events after these, its blocks renumbered after these blocks.
    pub(super) fn append(&mut self, more: EncodedEvents) {
        let shift = self.blocks.len();
        self.blocks.extend(more.blocks);
        self.events.extend(more.events.into_iter().map(|mut event| {
            if let StoredRecord::InBlock { block, .. } = &mut event.record {
                *block += shift;
            }
            event
        }));
    }
}

/// Encodes a commit's events: runs of up to [`BLOCK_RECORDS`] records (and about
/// [`BLOCK_BYTES`] of text) are compressed together as one block; a lone record is stored in
/// its row.
pub(super) fn encode_events(events: Vec<NewEvent>) -> Result<EncodedEvents, StoreError> {
    let mut out = EncodedEvents {
        events: Vec::with_capacity(events.len()),
        blocks: Vec::new(),
    };
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let mut n = 0;
        let mut bytes = 0;
        while n < rest.len() && n < BLOCK_RECORDS && (n == 0 || bytes < BLOCK_BYTES) {
            bytes += rest[n].record_json.len();
            n += 1;
        }
        let (run, after) = rest.split_at(n);
        if n == 1 {
            let record = StoredRecord::Inline(encode_record(&run[0].record_json)?);
            out.events.push(EncodedEvent::of(&run[0], record));
        } else {
            let texts: Vec<&str> = run.iter().map(|e| e.record_json.as_str()).collect();
            let block = out.blocks.len();
            out.blocks.push(encode_block(&texts)?);
            for (index, event) in run.iter().enumerate() {
                let record = StoredRecord::InBlock { block, index };
                out.events.push(EncodedEvent::of(event, record));
            }
        }
        rest = after;
    }
    Ok(out)
}

impl EncodedEvent {
    /// This event's part of its block's manifest, its record at `index` in the block.
    pub(super) fn manifest_fields(&self, index: usize) -> super::manifest::EntryFields<'_> {
        super::manifest::EntryFields {
            index,
            id_hash: self.id_hash,
            received_at_ms: self.received_at_ms,
            history: self.history,
            event_time: self.event_time,
            imported: self.imported,
            event_id: &self.event_id,
            keys: &self.packed_keys,
        }
    }

    fn of(event: &NewEvent, record: StoredRecord) -> EncodedEvent {
        let ix = &event.index;
        let keys = event_keys(ix);
        EncodedEvent {
            id_hash: id_key(&event.event_id),
            received_at_ms: event.received_at_ms,
            history: ix.history.code(),
            event_time: ix
                .event_time
                .unwrap_or(event.received_at_ms.div_euclid(1000)),
            imported: ix.imported,
            packed_keys: pack_keys(&keys),
            record,
            event_id: event.event_id.clone(),
        }
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
    fn blocks_round_trip_byte_for_byte() {
        let texts = [
            RECORD,
            "",
            "{}",
            "{\"é\": \"☃\"}",
            RECORD,
            &RECORD.repeat(20),
        ];
        let stored = encode_block(&texts).unwrap();
        let block = decode_block(&stored).unwrap();
        for (i, text) in texts.iter().enumerate() {
            assert_eq!(block.record(i).unwrap(), *text, "record {i}");
        }
        assert!(block.record(texts.len()).is_err());
        // Neighbouring records compress together far better than one at a time.
        let ten = [RECORD; 10];
        let together = encode_block(&ten).unwrap().len();
        let alone = encode_record(RECORD).unwrap().len() * 10;
        assert!(together * 3 < alone, "{together} vs {alone}");
    }

    #[test]
    fn corrupt_blocks_are_errors() {
        let stored = encode_block(&[RECORD, RECORD]).unwrap();
        assert!(decode_block(b"").is_err());
        assert!(decode_block(&stored[..7]).is_err());
        assert!(decode_block(&stored[..stored.len() - 3]).is_err());
        let mut bad = stored.clone();
        bad[0] = 9; // unknown encoding
        assert!(decode_block(&bad).is_err());
        let mut bad = stored.clone();
        bad[5] ^= 1; // a length that does not add up
        assert!(decode_block(&bad).is_err());
        let mut bad = stored.clone();
        bad[1..5].copy_from_slice(&u32::MAX.to_le_bytes()); // a count past the end
        assert!(decode_block(&bad).is_err());
    }

    #[test]
    fn block_references_round_trip() {
        for (back, index) in [
            (0, 0),
            (1, 1),
            (127, 128),
            (31, 300),
            (u64::MAX, usize::MAX),
        ] {
            let r = block_ref(back, index);
            assert_eq!(
                parse_block_ref(&r).unwrap(),
                Some((back, index as u64 as usize))
            );
        }
        assert_eq!(
            parse_block_ref(&encode_record(RECORD).unwrap()).unwrap(),
            None
        );
        assert!(parse_block_ref(&[IN_BLOCK]).is_err());
        assert!(
            parse_block_ref(&[IN_BLOCK, 1, 1, 0]).is_err(),
            "trailing bytes"
        );
        assert!(
            parse_block_ref(&[IN_BLOCK, 2, 1]).is_err(),
            "index before its place"
        );
        assert!(parse_block_ref(&[IN_BLOCK, 0x80]).is_err());
        assert!(
            parse_block_ref(&[
                IN_BLOCK, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
            ])
            .is_err()
        );
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
    fn appended_events_keep_their_records_in_renumbered_blocks() {
        let events = |ids: std::ops::Range<usize>| -> Vec<NewEvent> {
            ids.map(|i| NewEvent::for_test(&format!("e{i}"), "Op"))
                .collect()
        };
        let mut all = encode_events(events(0..33)).unwrap();
        let more = encode_events(events(33..70)).unwrap();
        assert_eq!((all.blocks.len(), more.blocks.len()), (1, 2));
        all.append(more);
        assert_eq!(all.blocks.len(), 3);
        let places: Vec<String> = all
            .events
            .iter()
            .map(|e| match &e.record {
                StoredRecord::Inline(_) => "row".to_string(),
                StoredRecord::InBlock { block, index } => format!("{block}:{index}"),
            })
            .collect();
        assert_eq!(places[31], "0:31");
        assert_eq!(places[32], "row");
        assert_eq!(places[33], "1:0");
        assert_eq!(places[69], "2:4");
        assert_eq!(all.events[69].event_id, "e69");
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
            uuid_time_bits(b"019AB0C0-0001-7000-8000-000000000000"),
            Some(0x019a_b0c0_0001)
        );
        assert_eq!(
            uuid_time_bits(b"019ab0c0-0001-7000-8000-00000000000g"),
            None
        );
        assert_eq!(
            uuid_time_bits(b"019ab0c0-0001-7000-8000_000000000000"),
            None
        );
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

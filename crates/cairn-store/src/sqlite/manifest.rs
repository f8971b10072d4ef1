//! A block's manifest (schema v6): what the rows of its events would say, packed in one row of
//! `manifests` beside the block.
//!
//! The events of a commit of more than one event (a bulk import's batch, a PutAuditEvents call)
//! have their records compressed together in blocks (see `encode.rs`). Since v6 they have no
//! row in `events` either (except a record in a run of its own — the last of a 33-event
//! commit, or one of 64 KiB and more — which is stored like a single event's, in a row): the
//! block's `manifest` lists them, and `event_ids` holds one entry
//! per event for duplicate checks and `EventId` lookups. One row per block instead of one per
//! event is what makes a bulk commit cheap for the single writer thread: binding and inserting
//! a row of nine columns was most of its work.
//!
//! Layout: a version byte ([`MANIFEST_V1`]), then per event, in `seq` order, as LEB128 varints
//! unless said otherwise: `seq - first_seq`, the record's index in the block, `id_hash` (8 bytes
//! LE), `received_at` (zigzag), `history`, `event_time` (zigzag), `imported` (1 byte), the
//! `eventID` (length + UTF-8) and the packed lookup keys (length + bytes, as in a row's `keys`).
//! Retention may delete the first events of a block and keep the rest: the manifest is then
//! rewritten without them (the block's records stay until the last of its events goes, as for
//! v5 blocks).

use super::encode::{corrupt, put_varint, take_varint};
use super::log_view::{LogEntry, RecordAt};
use crate::StoreError;

/// The only manifest layout so far.
const MANIFEST_V1: u8 = 1;

/// One event's part of a manifest, borrowed from wherever it comes from.
pub(super) struct EntryFields<'a> {
    pub index: usize,
    pub id_hash: i64,
    pub received_at_ms: i64,
    pub history: i64,
    pub event_time: i64,
    pub imported: bool,
    pub event_id: &'a str,
    pub keys: &'a [u8],
}

/// A manifest being written: [`Manifest::push`] the events of a block in `seq` order.
pub(super) struct Manifest {
    pub first_seq: u64,
    pub last_seq: u64,
    /// The earliest `received_at` of its events (retention looks for blocks by it).
    pub received_min: i64,
    pub bytes: Vec<u8>,
}

impl Manifest {
    pub(super) fn new(first_seq: u64) -> Manifest {
        Manifest {
            first_seq,
            last_seq: first_seq,
            received_min: i64::MAX,
            bytes: vec![MANIFEST_V1],
        }
    }

    /// Adds event `seq` (at or after the block's first, after the last one pushed).
    pub(super) fn push(&mut self, seq: u64, e: &EntryFields<'_>) {
        debug_assert!(seq >= self.first_seq);
        let out = &mut self.bytes;
        put_varint(out, seq - self.first_seq);
        put_varint(out, e.index as u64);
        out.extend_from_slice(&e.id_hash.to_le_bytes());
        put_varint(out, zigzag(e.received_at_ms));
        put_varint(out, e.history as u64);
        put_varint(out, zigzag(e.event_time));
        out.push(u8::from(e.imported));
        put_varint(out, e.event_id.len() as u64);
        out.extend_from_slice(e.event_id.as_bytes());
        put_varint(out, e.keys.len() as u64);
        out.extend_from_slice(e.keys);
        self.last_seq = seq;
        self.received_min = self.received_min.min(e.received_at_ms);
    }
}

impl LogEntry {
    pub(super) fn fields(&self) -> EntryFields<'_> {
        let index = match self.record {
            RecordAt::Block { index, .. } => index,
            RecordAt::Row(_) => 0,
        };
        EntryFields {
            index,
            id_hash: self.id_hash,
            received_at_ms: self.received_at_ms,
            history: self.history,
            event_time: self.event_time,
            imported: self.imported,
            event_id: &self.event_id,
            keys: &self.keys,
        }
    }
}

fn zigzag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

fn unzigzag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

/// The events listed in the manifest of the block starting at `first_seq`, in `seq` order.
pub(super) fn decode(first_seq: u64, data: &[u8]) -> Result<Vec<LogEntry>, StoreError> {
    let bad = || corrupt(&format!("the manifest of block {first_seq} is corrupt"));
    let Some((&MANIFEST_V1, mut rest)) = data.split_first() else {
        return Err(bad());
    };
    let mut out: Vec<LogEntry> = Vec::new();
    while !rest.is_empty() {
        let mut varint = || take_varint(&mut rest).ok_or_else(bad);
        let seq = first_seq.checked_add(varint()?).ok_or_else(bad)?;
        let index = usize::try_from(varint()?).map_err(|_| bad())?;
        let (hash, after) = rest.split_first_chunk::<8>().ok_or_else(bad)?;
        rest = after;
        let id_hash = i64::from_le_bytes(*hash);
        let mut varint = || take_varint(&mut rest).ok_or_else(bad);
        let received_at_ms = unzigzag(varint()?);
        let history = i64::try_from(varint()?).map_err(|_| bad())?;
        let event_time = unzigzag(varint()?);
        let (&imported, after) = rest.split_first().ok_or_else(bad)?;
        rest = after;
        let mut bytes = || -> Result<&[u8], StoreError> {
            let len =
                usize::try_from(take_varint(&mut rest).ok_or_else(bad)?).map_err(|_| bad())?;
            if len > rest.len() {
                return Err(bad());
            }
            let (taken, after) = rest.split_at(len);
            rest = after;
            Ok(taken)
        };
        let event_id = std::str::from_utf8(bytes()?).map_err(|_| bad())?.to_owned();
        let keys = bytes()?.to_vec();
        // In `seq` order, and an event is at least as far into its block as its seq is past
        // the block's first (events skipped as duplicates leave holes in a block's records).
        if out.last().is_some_and(|prev| prev.seq >= seq)
            || imported > 1
            || (index as u64) < seq - first_seq
        {
            return Err(bad());
        }
        out.push(LogEntry {
            seq,
            id_hash,
            event_id,
            received_at_ms,
            history,
            event_time,
            imported: imported == 1,
            keys,
            record: RecordAt::Block { first_seq, index },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, index: usize, id: &str, t: i64) -> LogEntry {
        LogEntry {
            seq,
            id_hash: -(seq as i64) * 7919,
            event_id: id.into(),
            received_at_ms: -5 + seq as i64,
            history: 1,
            event_time: t,
            imported: seq.is_multiple_of(2),
            keys: vec![seq as u8; 9],
            record: RecordAt::Block {
                first_seq: 100,
                index,
            },
        }
    }

    #[test]
    fn manifests_round_trip() {
        let entries = vec![
            entry(100, 0, "a", -3),
            entry(101, 2, "ü-b", i64::MAX),
            entry(105, 9, "", i64::MIN),
        ];
        let mut m = Manifest::new(100);
        for e in &entries {
            m.push(e.seq, &e.fields());
        }
        assert_eq!((m.first_seq, m.last_seq, m.received_min), (100, 105, 95));
        let back = decode(100, &m.bytes).unwrap();
        assert_eq!(back, entries);
        // An empty manifest lists nothing.
        assert!(decode(7, &Manifest::new(7).bytes).unwrap().is_empty());
    }

    #[test]
    fn corrupt_manifests_are_errors() {
        let mut m = Manifest::new(10);
        m.push(10, &entry(10, 0, "abc", 1).fields());
        let one = m.bytes.len();
        m.push(11, &entry(11, 1, "def", 1).fields());
        // Cut anywhere but between two events (or after the version byte: an empty manifest).
        for cut in (2..m.bytes.len()).filter(|&c| c != one) {
            assert!(decode(10, &m.bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode(10, &[]).is_err());
        assert!(decode(10, &[2]).is_err());
        // Out of order, and an index before its seq's place in the block.
        let mut twice = Manifest::new(10);
        twice.push(11, &entry(11, 1, "a", 1).fields());
        twice.bytes.extend_from_slice(&m.bytes[1..]);
        assert!(decode(10, &twice.bytes).is_err());
        let mut early = Manifest::new(10);
        early.push(12, &entry(12, 1, "a", 1).fields());
        assert!(decode(10, &early.bytes).is_err());
    }
}

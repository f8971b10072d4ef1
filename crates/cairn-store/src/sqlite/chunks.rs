//! How the event-history index stores its entries: in chunks, many entries to a row.
//!
//! An index entry says "event `seq`, whose eventTime is `t`, has the lookup key `(k, v)`". The
//! entries of one key whose eventTimes fall in one [`BUCKET_SECS`]-wide bucket are stored
//! together, up to [`MAX_ENTRIES`] to a row of `history_chunks`, sorted and delta-encoded
//! ([`encode`]): 2–4 bytes an entry instead of a B-tree row each. Why: with a row per entry
//! (6–7 per event) the indexer was the largest single cost of a bulk import — a quarter of
//! `cairn import`'s CPU, ~1.5 µs per key — while real CloudTrail traffic is dense in time, so
//! a chunk holds hundreds of entries wherever there are many events (see BENCHMARKS.md).
//!
//! A lookup reads its key's chunks that overlap the wanted times, newest bucket first and in a
//! bucket by their newest entry ([`super::lookup`]). A bucket's chunks come from different
//! index batches and may overlap in time; the indexer tops up the chunks the step before it
//! left with room, so a trickle of small batches (a server indexing a few events at a time)
//! still fills chunks rather than leaving a bucket in many tiny ones.

use foldhash::{HashMap, HashMapExt as _};

use super::encode::{corrupt, put_varint, take_varint};
use crate::StoreError;

/// The width of a bucket of eventTimes, in seconds: an hour. Wide enough that the chunks of a
/// rare key fill too: in 64-second buckets (lookup file v2) the bench's 1M imported events
/// needed 472k chunks, 13.5 entries each, and writing them was most of the indexer's time; in
/// hours, 41k. Narrow enough that a page in a narrow time range decodes little it does not
/// return (a chunk holds at most [`MAX_ENTRIES`]). A page decodes no more chunks for a wider
/// bucket (in a bucket it reads chunks by their newest entry and stops at the first that cannot
/// hold a newer one); deep in a busy hour it passes over the index entries of the hour's chunks
/// newer than its cursor, on the index alone (it holds `t_min`).
pub(super) const BUCKET_SECS: i64 = 3600;

/// Entries in a chunk at most (its row stays a few KiB, well inside a page or two).
pub(super) const MAX_ENTRIES: usize = 512;

/// One index entry of a key: `(t, seq)` — the event's eventTime (Unix seconds) and its `seq`.
pub(super) type Entry = (i64, i64);

/// The bucket of eventTime `t`.
pub(super) fn bucket_of(t: i64) -> i64 {
    t.div_euclid(BUCKET_SECS)
}

/// The entries of one batch by `(k, v, bucket)`, in key order, each list sorted and without
/// repeats.
pub(super) fn group(keys: &[(i64, i64, i64, i64)]) -> Vec<((i64, i64, i64), Vec<Entry>)> {
    // Hashing each key into its group and sorting the (few) groups costs a third of sorting
    // all the entries.
    // (foldhash: SipHash, std's default, took a quarter of the indexer's time.)
    let mut by_key: HashMap<(i64, i64, i64), Vec<Entry>> = HashMap::with_capacity(keys.len() / 4);
    for &(k, v, t, seq) in keys {
        by_key
            .entry((k, v, bucket_of(t)))
            .or_default()
            .push((t, seq));
    }
    let mut groups: Vec<_> = by_key.into_iter().collect();
    groups.sort_unstable_by_key(|g| g.0);
    for (_, entries) in &mut groups {
        entries.sort_unstable();
        entries.dedup();
    }
    groups
}

/// Encodes entries sorted by `(t, seq)`, all in `bucket`: per entry, as LEB128 varints, how
/// far its `t` is past the previous one's (the first's: past the bucket's start), then its
/// `seq`'s difference from the previous one's, zigzag-encoded (the first's: from 0).
pub(super) fn encode(bucket: i64, entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 4);
    let (mut t0, mut s0) = (bucket * BUCKET_SECS, 0i64);
    for &(t, seq) in entries {
        debug_assert!(
            t >= t0 && bucket_of(t) == bucket,
            "entries sorted, in the bucket"
        );
        put_varint(&mut out, (t - t0) as u64);
        let ds = seq.wrapping_sub(s0);
        put_varint(&mut out, ((ds << 1) ^ (ds >> 63)) as u64);
        (t0, s0) = (t, seq);
    }
    out
}

/// Appends the entries of a chunk of `bucket` to `into`; a chunk that does not decode to
/// entries of its bucket is an error.
pub(super) fn decode(
    bucket: i64,
    mut data: &[u8],
    into: &mut Vec<Entry>,
) -> Result<(), StoreError> {
    let bad = || corrupt("bad index chunk");
    let start = bucket.checked_mul(BUCKET_SECS).ok_or_else(bad)?;
    let (mut t, mut seq) = (start, 0i64);
    while !data.is_empty() {
        let dt = take_varint(&mut data).ok_or_else(bad)?;
        let ds = take_varint(&mut data).ok_or_else(bad)?;
        t = i64::try_from(dt)
            .ok()
            .and_then(|dt| t.checked_add(dt))
            .filter(|&t| t - start < BUCKET_SECS)
            .ok_or_else(bad)?;
        seq = seq.wrapping_add((ds >> 1) as i64 ^ -((ds & 1) as i64));
        into.push((t, seq));
    }
    Ok(())
}

/// Merges `more` into `entries` (both sorted), keeping them sorted and without repeats.
pub(super) fn merge(entries: &mut Vec<Entry>, more: &[Entry]) {
    entries.extend_from_slice(more);
    entries.sort_unstable();
    entries.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(bucket: i64, entries: &[Entry]) -> Vec<Entry> {
        let mut back = Vec::new();
        decode(bucket, &encode(bucket, entries), &mut back).unwrap();
        back
    }

    #[test]
    fn chunks_round_trip() {
        let b = bucket_of(1_790_000_000);
        let start = b * BUCKET_SECS;
        let entries = vec![
            (start, 7),
            (start, 1_000_000_000_000),
            (start + 5, 3),
            (start + BUCKET_SECS - 1, i64::MAX),
            (start + BUCKET_SECS - 1, 7),
        ];
        let mut sorted = entries.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(round_trip(b, &sorted), sorted);
        assert_eq!(round_trip(b, &[]), vec![]);
        // Times before 1970 have buckets too.
        let old = bucket_of(-1);
        assert_eq!(old, -1);
        assert_eq!(
            round_trip(old, &[(-BUCKET_SECS, 1), (-1, 2)]),
            vec![(-BUCKET_SECS, 1), (-1, 2)]
        );
    }

    #[test]
    fn entries_pack_small() {
        // A dense run of a busy key: under 3 bytes an entry.
        let start = bucket_of(1_790_000_000) * BUCKET_SECS;
        let entries: Vec<Entry> = (0..512)
            .map(|i| (start + i / 8, 5_000_000 + i * 3))
            .collect();
        assert!(encode(bucket_of(start), &entries).len() < 3 * 512);
    }

    #[test]
    fn corrupt_chunks_are_errors() {
        let b = 1000;
        let good = encode(b, &[(b * BUCKET_SECS + 1, 9), (b * BUCKET_SECS + 2, 10)]);
        // Truncated inside a varint or between a time and its seq.
        let mut cut = good.clone();
        cut.pop();
        assert!(decode(b, &cut, &mut Vec::new()).is_err());
        assert!(decode(b, &[0x80], &mut Vec::new()).is_err());
        // A time past the bucket.
        let mut past = Vec::new();
        put_varint(&mut past, BUCKET_SECS as u64);
        put_varint(&mut past, 2);
        assert!(decode(b, &past, &mut Vec::new()).is_err());
        // An absurd time step.
        let mut huge = Vec::new();
        put_varint(&mut huge, u64::MAX);
        put_varint(&mut huge, 2);
        assert!(decode(b, &huge, &mut Vec::new()).is_err());
        // A bucket whose start does not fit.
        assert!(decode(i64::MAX, &good, &mut Vec::new()).is_err());
    }

    #[test]
    fn a_batch_groups_by_key_and_bucket() {
        // Around the start of bucket 2.
        let t = 2 * BUCKET_SECS;
        let keys = [
            (1, 10, t, 3),
            (1, 10, t - 1, 2),
            (1, 10, t + 1, 4),
            (1, 10, t, 3),
            (2, 10, t, 3),
        ];
        let groups = group(&keys);
        assert_eq!(
            groups,
            vec![
                ((1, 10, 1), vec![(t - 1, 2)]),
                ((1, 10, 2), vec![(t, 3), (t + 1, 4)]),
                ((2, 10, 2), vec![(t, 3)]),
            ]
        );
        let mut merged = vec![(128, 3), (130, 9)];
        merge(&mut merged, &[(129, 4), (128, 3)]);
        assert_eq!(merged, vec![(128, 3), (129, 4), (130, 9)]);
    }
}

//! Event-history lookups over the chunks of the lookup index.
//!
//! A query reads the entries of one key — the first attribute's, or the history's time key
//! without an attribute — chunk by chunk, newest first, from the page cursor (or the end of
//! the time range) towards the start ([`by_key`]): the entries of the chunks read so far wait
//! in a heap until no chunk still to come can hold a newer one, then each event's row is
//! fetched, until `limit` have matched. Further
//! attribute conditions are checked against the keys packed in the event's row. An `EventId`
//! condition instead drives the query from the `eventID` index (at most a handful of rows).
//!
//! The index covers the events up to `history_progress.indexed_through` (see `indexer.rs`); the
//! few events after it (the tail) are matched from the keys packed in their rows. Both parts are
//! read in one read transaction and merged.

use std::collections::BinaryHeap;

use rusqlite::{Connection, params};

use super::chunks::{self, Entry, bucket_of};
use super::encode::{filter_key, id_key, time_key, unpack_keys};
use super::log_view::{self, Fetcher, LogEntry};
use super::reader::Records;
use crate::{LookedUpEvent, LookupFilter, LookupQuery, StoreError};

/// Events of the unindexed tail read at once by a lookup (small in tests, to read several).
const TAIL_PAGE: usize = if cfg!(test) { 7 } else { 4096 };

pub(super) fn run(conn: &Connection, q: &LookupQuery) -> Result<Vec<LookedUpEvent>, StoreError> {
    // One read transaction over both files. The lookup file (attached) is read first: the
    // log's snapshot, taken at its first read just after, then holds every event the index
    // covers (the index only covers durable events), and the tail is exactly what follows.
    let snapshot = conn.unchecked_transaction()?;
    let indexed = super::indexer::indexed_through(&snapshot)?;
    let mut found = indexed_part(&snapshot, q, indexed)?;
    let tail = tail_part(&snapshot, q, indexed)?;
    if !tail.is_empty() {
        found.extend(tail);
        found.sort_unstable_by_key(|e| std::cmp::Reverse((e.event_time, e.event.seq)));
        found.truncate(q.limit);
    }
    Ok(found)
}

/// The matches among the events the index covers (`seq <= indexed`).
fn indexed_part(
    conn: &Connection,
    q: &LookupQuery,
    indexed: u64,
) -> Result<Vec<LookedUpEvent>, StoreError> {
    let keys: Vec<(i64, i64)> = q
        .filters
        .iter()
        .filter_map(|f| filter_key(q.history, f))
        .collect();
    let by_id = q.filters.iter().find_map(|f| match f {
        LookupFilter::EventId(id) => Some(id),
        _ => None,
    });
    if let Some(id) = by_id {
        return by_event_id(conn, q, indexed, id, &keys);
    }
    match keys.split_first() {
        Some((&driver, others)) => by_key(conn, q, indexed, driver, others),
        None => by_key(conn, q, indexed, time_key(q.history), &[]),
    }
}

/// Whether `(t, seq)` is inside the query's time range and before its page cursor.
fn in_range(q: &LookupQuery, t: i64, seq: i64) -> bool {
    q.start_time.is_none_or(|start| t >= start)
        && upper_time(q).is_none_or(|upper| t <= upper)
        && q.before
            .is_none_or(|(bt, bs)| t < bt || (t == bt && seq < bs as i64))
}

/// Whether an event's packed keys include every key in `required`.
fn has_all(packed: &[u8], required: &[(i64, i64)]) -> bool {
    if required.is_empty() {
        return true;
    }
    let keys = unpack_keys(packed);
    required.iter().all(|key| keys.contains(key))
}

/// The matches of a query with an `EventId` condition, from the `eventID` index.
fn by_event_id(
    conn: &Connection,
    q: &LookupQuery,
    indexed: u64,
    id: &str,
    keys: &[(i64, i64)],
) -> Result<Vec<LookedUpEvent>, StoreError> {
    // Two different ids in one query match nothing.
    if q.filters
        .iter()
        .any(|f| matches!(f, LookupFilter::EventId(other) if other != id))
    {
        return Ok(Vec::new());
    }
    let mut fetcher = Fetcher::new(conn);
    let mut found = Vec::new();
    for seq in fetcher.seqs_of_id_key(id_key(id))? {
        if seq > indexed {
            continue;
        }
        if let Some(entry) = fetcher.at(seq)?
            && entry.event_id == id
            && entry.history == q.history.code()
            && in_range(q, entry.event_time, seq as i64)
            && has_all(&entry.keys, keys)
        {
            found.push(entry);
        }
    }
    found.sort_unstable_by_key(|e| std::cmp::Reverse((e.event_time, e.seq)));
    found.truncate(q.limit);
    let mut records = Records::new(conn);
    found
        .into_iter()
        .map(|entry| {
            let event_time = entry.event_time;
            Ok(LookedUpEvent {
                event: records.event(entry)?,
                event_time,
            })
        })
        .collect()
}

/// The matches of a query driven by the entries of key `(k, v)`; each must also have the
/// keys in `others`.
fn by_key(
    conn: &Connection,
    q: &LookupQuery,
    indexed: u64,
    (k, v): (i64, i64),
    others: &[(i64, i64)],
) -> Result<Vec<LookedUpEvent>, StoreError> {
    let low = q.start_time.unwrap_or(i64::MIN);
    let high = upper_time(q).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    if low > high || q.limit == 0 {
        return Ok(out);
    }
    // Chunks of the key overlapping [low, high]: newest bucket first, and in a bucket by their
    // newest entry, so that the entries newer than every chunk still to come are returned
    // before those chunks are read (a page in a dense bucket reads only the chunks it needs).
    let mut chunks = conn.prepare_cached(
        "SELECT bucket, t_max, entries FROM history_chunks WHERE k = ?1 AND v = ?2 \
         AND bucket BETWEEN ?3 AND ?4 AND t_min <= ?5 AND t_max >= ?6 \
         ORDER BY bucket DESC, t_max DESC",
    )?;
    let mut chunks = chunks.query(params![k, v, bucket_of(low), bucket_of(high), high, low])?;
    let mut fetcher = Fetcher::new(conn);
    let mut records = Records::new(conn);
    // Entries read and in range, not yet returned; newest on top.
    let mut pending: BinaryHeap<Entry> = BinaryHeap::new();
    let mut decoded: Vec<Entry> = Vec::new();
    let mut last_returned = None;
    loop {
        let chunk = chunks.next()?;
        let next = chunk
            .map(|c| Ok::<_, rusqlite::Error>((c.get::<_, i64>(0)?, c.get::<_, i64>(1)?)))
            .transpose()?;
        // Nothing still to come is newer than the next chunk's newest entry (a chunk of an
        // older bucket is older than all of this one).
        while let Some(&(t, seq)) = pending.peek() {
            if next.is_some_and(|(_, t_max)| t <= t_max) {
                break;
            }
            pending.pop();
            if last_returned.replace((t, seq)) == Some((t, seq)) {
                continue;
            }
            // None: an event retention has deleted.
            if let Some(entry) = fetcher.at(seq as u64)?
                && has_all(&entry.keys, others)
            {
                out.push(LookedUpEvent {
                    event: records.event(entry)?,
                    event_time: t,
                });
                if out.len() >= q.limit {
                    return Ok(out);
                }
            }
        }
        let (Some(chunk), Some((bucket, _))) = (chunk, next) else {
            return Ok(out);
        };
        let data = chunk.get_ref(2)?.as_blob().map_err(rusqlite::Error::from)?;
        decoded.clear();
        chunks::decode(bucket, data, &mut decoded)?;
        pending.extend(
            decoded
                .iter()
                .filter(|&&(t, seq)| seq <= indexed as i64 && in_range(q, t, seq)),
        );
    }
}

/// The inclusive upper bound on `eventTime`: the end of the range or the page cursor's time.
fn upper_time(q: &LookupQuery) -> Option<i64> {
    match (q.end_time, q.before) {
        (Some(end), Some((time, _))) => Some(end.min(time)),
        (Some(end), None) => Some(end),
        (None, Some((time, _))) => Some(time),
        (None, None) => None,
    }
}

/// The matches among the events past the index, newest first, at most `q.limit`.
fn tail_part(
    conn: &Connection,
    q: &LookupQuery,
    indexed: u64,
) -> Result<Vec<LookedUpEvent>, StoreError> {
    // Every key the event must have (an attribute's, or the history's time key), and the ids
    // it must carry.
    let mut required: Vec<(i64, i64)> = q
        .filters
        .iter()
        .filter_map(|f| filter_key(q.history, f))
        .collect();
    if required.is_empty() {
        required.push(time_key(q.history));
    }
    let ids: Vec<&str> = q
        .filters
        .iter()
        .filter_map(|f| match f {
            LookupFilter::EventId(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    // Every match: only those records are decoded. The tail is read a page at a time and only
    // the newest matches are kept: it has no bound while the index is being rebuilt.
    let newest_first = |hits: &mut Vec<LogEntry>| {
        hits.sort_unstable_by_key(|e| std::cmp::Reverse((e.event_time, e.seq)));
        hits.truncate(q.limit);
    };
    let mut hits: Vec<LogEntry> = Vec::new();
    let mut after = indexed;
    loop {
        let page = log_view::scan(conn, after, u64::MAX, TAIL_PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        let full = page.len() == TAIL_PAGE;
        hits.extend(page.into_iter().filter(|e| {
            in_range(q, e.event_time, e.seq as i64)
                && ids.iter().all(|wanted| *wanted == e.event_id)
                && has_all(&e.keys, &required)
        }));
        if hits.len() > q.limit.saturating_mul(2).max(TAIL_PAGE) {
            newest_first(&mut hits);
        }
        if !full {
            break;
        }
    }
    newest_first(&mut hits);
    let mut records = Records::new(conn);
    hits.into_iter()
        .map(|entry| {
            let event_time = entry.event_time;
            Ok(LookedUpEvent {
                event: records.event(entry)?,
                event_time,
            })
        })
        .collect()
}

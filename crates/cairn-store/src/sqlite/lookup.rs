//! Event-history lookups as SQL over the `lookup_keys` B-tree.
//!
//! Every query is one backward range scan of `lookup_keys` at one `(k, v)` — the first
//! attribute's key, or the history's time key without an attribute — from the page cursor (or
//! the end of the time range) towards the start, stopping after `limit` rows. Further attribute
//! conditions are point lookups of the same event's keys. An `EventId` condition instead drives
//! the query from the `eventID` index (at most a handful of rows).
//!
//! `lookup_keys` covers the events up to `lookup_index.indexed_through` (see `indexer.rs`); the
//! few events after it (the tail) are matched from the keys packed in their rows. Both parts are
//! read in one read transaction and merged.

use rusqlite::types::Value as Sql;
use rusqlite::{Connection, params};

use super::encode::{filter_key, id_key, time_key, unpack_keys};
use super::reader::Records;
use crate::{LookedUpEvent, LookupFilter, LookupQuery, StoreError};

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

/// The matches among the events whose keys are in `lookup_keys` (`seq <= indexed`).
fn indexed_part(
    conn: &Connection,
    q: &LookupQuery,
    indexed: u64,
) -> Result<Vec<LookedUpEvent>, StoreError> {
    let mut sql = String::new();
    let mut args: Vec<Sql> = Vec::new();
    let by_id = q.filters.iter().find_map(|f| match f {
        LookupFilter::EventId(id) => Some(id),
        _ => None,
    });
    // The (time, seq) columns of the driving table.
    let (t, s) = match by_id {
        Some(id) => {
            sql.push_str(
                "SELECT e.seq, e.event_id, e.received_at, e.record, e.imported, e.event_time \
                 FROM events e WHERE e.id_hash = ? AND e.event_id = ? AND e.history = ?",
            );
            args.push(Sql::Integer(id_key(id)));
            args.push(Sql::Text(id.clone()));
            args.push(Sql::Integer(q.history.code()));
            ("e.event_time", "e.seq")
        }
        None => {
            let (k, v) = q
                .filters
                .iter()
                .find_map(|f| filter_key(q.history, f))
                .unwrap_or_else(|| time_key(q.history));
            sql.push_str(
                "SELECT e.seq, e.event_id, e.received_at, e.record, e.imported, d.t \
                 FROM lookup_keys d JOIN events e ON e.seq = d.seq WHERE d.k = ? AND d.v = ?",
            );
            args.push(Sql::Integer(k));
            args.push(Sql::Integer(v));
            ("d.t", "d.seq")
        }
    };
    // Events past the index are the tail's (an `eventID` query reads them from `events` too).
    sql.push_str(&format!(" AND {s} <= ?"));
    args.push(Sql::Integer(indexed as i64));
    if let Some(start) = q.start_time {
        sql.push_str(&format!(" AND {t} >= ?"));
        args.push(Sql::Integer(start));
    }
    if let Some(upper) = upper_time(q) {
        sql.push_str(&format!(" AND {t} <= ?"));
        args.push(Sql::Integer(upper));
    }
    if let Some((time, seq)) = q.before {
        sql.push_str(&format!(" AND ({t} < ? OR {s} < ?)"));
        args.push(Sql::Integer(time));
        args.push(Sql::Integer(seq as i64));
    }
    let mut driver_skipped = by_id.is_some();
    for f in &q.filters {
        match f {
            LookupFilter::EventId(id) => {
                if by_id != Some(id) {
                    sql.push_str(" AND e.event_id = ?");
                    args.push(Sql::Text(id.clone()));
                }
            }
            _ => {
                let Some((k, v)) = filter_key(q.history, f) else {
                    continue;
                };
                if !driver_skipped {
                    // The first attribute drives the scan.
                    driver_skipped = true;
                    continue;
                }
                sql.push_str(&format!(
                    " AND EXISTS (SELECT 1 FROM lookup_keys x WHERE x.k = ? AND x.v = ? AND x.t = {t} AND x.seq = {s})"
                ));
                args.push(Sql::Integer(k));
                args.push(Sql::Integer(v));
            }
        }
    }
    sql.push_str(&format!(" ORDER BY {t} DESC, {s} DESC LIMIT ?"));
    args.push(Sql::Integer(q.limit.min(i64::MAX as usize) as i64));

    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut records = Records::new(conn);
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(LookedUpEvent {
            event: records.event(row)?,
            event_time: row.get(5)?,
        });
    }
    Ok(out)
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
    let upper = upper_time(q);
    // (event_time, seq) of every match: only those records are read and decoded.
    let mut hits: Vec<(i64, i64)> = Vec::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT seq, event_time, event_id, keys FROM events WHERE seq > ?1 ORDER BY seq",
        )?;
        let mut rows = stmt.query([indexed as i64])?;
        while let Some(row) = rows.next()? {
            let seq: i64 = row.get(0)?;
            let time: i64 = row.get(1)?;
            let in_range = q.start_time.is_none_or(|start| time >= start)
                && upper.is_none_or(|upper| time <= upper)
                && q.before
                    .is_none_or(|(t, s)| time < t || (time == t && seq < s as i64));
            if !in_range {
                continue;
            }
            let id = row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?;
            if ids.iter().any(|wanted| *wanted != id) {
                continue;
            }
            let keys = unpack_keys(row.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?);
            if required.iter().all(|key| keys.contains(key)) {
                hits.push((time, seq));
            }
        }
    }
    hits.sort_unstable_by(|a, b| b.cmp(a));
    hits.truncate(q.limit);
    let mut record = conn.prepare_cached(
        "SELECT seq, event_id, received_at, record, imported, event_time FROM events WHERE seq = ?1",
    )?;
    let mut records = Records::new(conn);
    hits.into_iter()
        .map(|(time, seq)| {
            let event = record.query_row(params![seq], |row| Ok(records.event(row)))??;
            Ok(LookedUpEvent {
                event,
                event_time: time,
            })
        })
        .collect()
}

//! Event-history lookups as SQL over the `lookup_keys` B-tree.
//!
//! Every query is one backward range scan of `lookup_keys` at one `(k, v)` — the first
//! attribute's key, or the history's time key without an attribute — from the page cursor (or
//! the end of the time range) towards the start, stopping after `limit` rows. Further attribute
//! conditions are point lookups of the same event's keys. An `EventId` condition instead drives
//! the query from the `eventID` index (at most a handful of rows).

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use super::encode::{filter_key, id_key, time_key};
use crate::{LookedUpEvent, LookupFilter, LookupQuery, StoreError};

pub(super) fn run(conn: &Connection, q: &LookupQuery) -> Result<Vec<LookedUpEvent>, StoreError> {
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
    if let Some(start) = q.start_time {
        sql.push_str(&format!(" AND {t} >= ?"));
        args.push(Sql::Integer(start));
    }
    let upper = match (q.end_time, q.before) {
        (Some(end), Some((time, _))) => Some(end.min(time)),
        (Some(end), None) => Some(end),
        (None, Some((time, _))) => Some(time),
        (None, None) => None,
    };
    if let Some(upper) = upper {
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
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(LookedUpEvent {
            event: super::reader::stored_event(row)?,
            event_time: row.get(5)?,
        });
    }
    Ok(out)
}

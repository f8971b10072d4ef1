//! Event-history lookups as SQL over the per-attribute indexes.
//!
//! Every query is a backward range scan of one index — `(history, <attribute>, event_time, seq)`,
//! or `(history, event_time, seq)` without an attribute — from the page cursor (or the end of
//! the time range) towards the start, stopping after `limit` rows. A resource condition drives
//! the scan from `event_resources`; further conditions are checked on the joined rows.

use rusqlite::Connection;
use rusqlite::types::Value as Sql;

use crate::{LookedUpEvent, LookupFilter, LookupQuery, StoreError, StoredEvent};

pub(super) fn run(conn: &Connection, q: &LookupQuery) -> Result<Vec<LookedUpEvent>, StoreError> {
    let mut sql = String::new();
    let mut args: Vec<Sql> = Vec::new();
    // The driving table: a resource condition if there is one, else the events table.
    let driver = q.filters.iter().position(|f| {
        matches!(
            f,
            LookupFilter::ResourceName(_) | LookupFilter::ResourceType(_)
        )
    });
    let t = match driver {
        Some(i) => {
            let (col, value) = match &q.filters[i] {
                LookupFilter::ResourceName(v) => ("resource_name", v),
                LookupFilter::ResourceType(v) => ("resource_type", v),
                _ => unreachable!("driver is a resource filter"),
            };
            sql.push_str(
                "SELECT DISTINCT e.seq, e.event_id, e.received_at, e.record, r.event_time, e.imported \
                 FROM event_resources r JOIN events e ON e.seq = r.seq WHERE r.history = ?",
            );
            args.push(Sql::Integer(q.history.code()));
            sql.push_str(&format!(" AND r.{col} = ?"));
            args.push(Sql::Text(value.clone()));
            "r"
        }
        None => {
            // Name the index of the first attribute: without statistics SQLite may otherwise
            // scan the day's range of the time index and test every row (measured: 10 ms at
            // 1M events instead of 0.3 ms).
            let index = q.filters.first().and_then(|f| match f {
                LookupFilter::EventName(_) => Some("events_name"),
                LookupFilter::EventSource(_) => Some("events_source"),
                LookupFilter::Username(_) => Some("events_user"),
                LookupFilter::AccessKeyId(_) => Some("events_key"),
                LookupFilter::ReadOnly(_) => Some("events_ro"),
                LookupFilter::EventId(_)
                | LookupFilter::ResourceName(_)
                | LookupFilter::ResourceType(_) => None,
            });
            let indexed_by = index
                .map(|i| format!(" INDEXED BY {i}"))
                .unwrap_or_default();
            sql.push_str(&format!(
                "SELECT e.seq, e.event_id, e.received_at, e.record, e.event_time, e.imported FROM events e{indexed_by} WHERE e.history = ?",
            ));
            args.push(Sql::Integer(q.history.code()));
            "e"
        }
    };
    if let Some(start) = q.start_time {
        sql.push_str(&format!(" AND {t}.event_time >= ?"));
        args.push(Sql::Integer(start));
    }
    let upper = match (q.end_time, q.before) {
        (Some(end), Some((time, _))) => Some(end.min(time)),
        (Some(end), None) => Some(end),
        (None, Some((time, _))) => Some(time),
        (None, None) => None,
    };
    if let Some(upper) = upper {
        sql.push_str(&format!(" AND {t}.event_time <= ?"));
        args.push(Sql::Integer(upper));
    }
    if let Some((time, seq)) = q.before {
        sql.push_str(&format!(" AND ({t}.event_time < ? OR {t}.seq < ?)"));
        args.push(Sql::Integer(time));
        args.push(Sql::Integer(seq as i64));
    }
    for (i, f) in q.filters.iter().enumerate() {
        if Some(i) == driver {
            continue;
        }
        let (clause, value) = match f {
            LookupFilter::EventId(v) => ("e.event_id = ?", Sql::Text(v.clone())),
            LookupFilter::EventName(v) => ("e.event_name = ?", Sql::Text(v.clone())),
            LookupFilter::ReadOnly(v) => ("e.read_only = ?", Sql::Integer(i64::from(*v))),
            LookupFilter::Username(v) => ("e.username = ?", Sql::Text(v.clone())),
            LookupFilter::EventSource(v) => ("e.event_source = ?", Sql::Text(v.clone())),
            LookupFilter::AccessKeyId(v) => ("e.access_key_id = ?", Sql::Text(v.clone())),
            LookupFilter::ResourceName(v) => (
                "EXISTS (SELECT 1 FROM event_resources x WHERE x.seq = e.seq AND x.resource_name = ?)",
                Sql::Text(v.clone()),
            ),
            LookupFilter::ResourceType(v) => (
                "EXISTS (SELECT 1 FROM event_resources x WHERE x.seq = e.seq AND x.resource_type = ?)",
                Sql::Text(v.clone()),
            ),
        };
        sql.push_str(" AND ");
        sql.push_str(clause);
        args.push(value);
    }
    sql.push_str(&format!(
        " ORDER BY {t}.event_time DESC, {t}.seq DESC LIMIT ?"
    ));
    args.push(Sql::Integer(q.limit.min(i64::MAX as usize) as i64));

    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(args), |row| {
        Ok(LookedUpEvent {
            event: StoredEvent {
                seq: row.get::<_, i64>(0)? as u64,
                event_id: row.get(1)?,
                received_at_ms: row.get(2)?,
                record_json: row.get(3)?,
                imported: row.get(5)?,
            },
            event_time: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

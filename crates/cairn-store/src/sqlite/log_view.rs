//! The log as one sequence of events, however each is stored: every reader of events goes
//! through here.
//!
//! An event is either a row of `events` (a commit of one event, an API call's audit event; a
//! record in a run of its own within a larger commit; every event written before schema v6) or
//! an entry in the manifest of a block (the other events of a larger commit since v6, see
//! `manifest.rs`). Both carry the same columns; this module
//! merges them by `seq`.

use rusqlite::{Connection, OptionalExtension as _, params};

use super::manifest;
use crate::StoreError;

/// One event of the log, without its record decoded (see `reader::Records`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LogEntry {
    pub seq: u64,
    pub id_hash: i64,
    pub event_id: String,
    pub received_at_ms: i64,
    pub history: i64,
    pub event_time: i64,
    pub imported: bool,
    /// The event's lookup keys, packed (`encode::pack_keys`).
    pub keys: Vec<u8>,
    pub record: RecordAt,
}

/// Where an event's record is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum RecordAt {
    /// The `record` column of its row: the record itself, or (v5) a reference into a block.
    Row(Vec<u8>),
    /// Record `index` of the block starting at `first_seq`.
    Block { first_seq: u64, index: usize },
}

/// The events with the id keys of an array (`rarray`). CROSS JOIN keeps the keys outside: one
/// descent into `event_ids` per key, in the keys' order.
const SEQS_OF_ID_KEYS: &str = "SELECT e.id_hash, e.seq FROM rarray(?1) AS k \
     CROSS JOIN event_ids AS e ON e.id_hash = k.value";

/// The columns of a row [`entry_of_row`] reads.
const ROW_COLUMNS: &str =
    "seq, id_hash, event_id, received_at, history, event_time, imported, keys, record";

fn entry_of_row(row: &rusqlite::Row<'_>) -> Result<LogEntry, StoreError> {
    let blob = |i: usize| -> Result<Vec<u8>, StoreError> {
        Ok(row
            .get_ref(i)?
            .as_blob()
            .map_err(rusqlite::Error::from)?
            .to_vec())
    };
    Ok(LogEntry {
        seq: row.get::<_, i64>(0)? as u64,
        id_hash: row.get(1)?,
        event_id: row.get(2)?,
        received_at_ms: row.get(3)?,
        history: row.get(4)?,
        event_time: row.get(5)?,
        imported: row.get(6)?,
        keys: blob(7)?,
        record: RecordAt::Row(blob(8)?),
    })
}

/// A `seq` bound as SQLite's integer (`u64::MAX` means "no bound").
fn sql_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Runs `f` in one read snapshot of `conn`: in the caller's transaction if one is open, else in
/// a read transaction of its own (rolled back after: it only reads). Outside one, each statement
/// reads its own snapshot, and a reader of rows, manifests and blocks could see a commit in
/// one and not in the next.
pub(super) fn in_snapshot<T>(
    conn: &Connection,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    if !conn.is_autocommit() {
        return f();
    }
    // Dropped after `f`: rolled back, as it only read.
    let _snapshot = conn.unchecked_transaction()?;
    f()
}

/// The events with `after < seq <= through`, in `seq` order, at most `limit` (rows and
/// manifests read in one snapshot).
pub(super) fn scan(
    conn: &Connection,
    after: u64,
    through: u64,
    limit: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    in_snapshot(conn, || scan_in_snapshot(conn, after, through, limit))
}

fn scan_in_snapshot(
    conn: &Connection,
    after: u64,
    through: u64,
    limit: usize,
) -> Result<Vec<LogEntry>, StoreError> {
    let mut out = Vec::new();
    if limit == 0 || after >= through {
        return Ok(out);
    }
    let (after_sql, through_sql) = (sql_seq(after), sql_seq(through));
    let mut rows = conn.prepare_cached(&format!(
        "SELECT {ROW_COLUMNS} FROM events WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3"
    ))?;
    let mut rows = rows.query(params![after_sql, through_sql, limit as i64])?;
    // The manifest that may hold `after + 1`, and those after it (by the primary key).
    let start: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(first_seq), ?1) FROM manifests WHERE first_seq <= ?1")?
        .query_row([after_sql.saturating_add(1)], |r| r.get(0))?;
    let mut blocks = conn.prepare_cached(
        "SELECT first_seq, entries FROM manifests WHERE first_seq >= ?1 AND first_seq <= ?2 \
         ORDER BY first_seq",
    )?;
    let mut blocks = blocks.query(params![start, through_sql])?;
    let mut next_row = rows.next()?.map(entry_of_row).transpose()?;
    // The entries of the block being read, in reverse (the next one last).
    let mut block: Vec<LogEntry> = Vec::new();
    let mut blocks_done = false;
    while out.len() < limit {
        while block.is_empty() && !blocks_done {
            match blocks.next()? {
                None => blocks_done = true,
                Some(b) => {
                    let first = b.get::<_, i64>(0)? as u64;
                    let data = b.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
                    block = manifest::decode(first, data)?;
                    block.retain(|e| e.seq > after && e.seq <= through);
                    block.reverse();
                }
            }
        }
        let from_row = match (&next_row, block.last()) {
            (Some(r), Some(b)) => r.seq < b.seq,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if from_row {
            out.push(next_row.take().expect("checked above"));
            next_row = rows.next()?.map(entry_of_row).transpose()?;
        } else {
            out.push(block.pop().expect("checked above"));
        }
    }
    Ok(out)
}

/// The highest `seq` ever written: the last event's, or — once retention has emptied the log —
/// the last expired one's (`log_state`), so numbers are never handed out twice.
pub(super) fn log_end(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn.prepare_cached(LOG_END)?.query_row([], |r| r.get(0))?;
    Ok(seq as u64)
}

/// Read inside every write transaction: it must not scan a table (an unindexed
/// `MAX(last_seq)` over `manifests` once made every commit, and so every lookup's audit event,
/// read the whole table).
const LOG_END: &str = "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0),
                        -- manifests never overlap: the last one (by its key) ends last
                        COALESCE((SELECT last_seq FROM manifests
                                  WHERE first_seq = (SELECT MAX(first_seq) FROM manifests)), 0),
                        (SELECT expired_through FROM log_state WHERE id = 0))";

/// Decoded manifests kept by one [`Fetcher`].
const MANIFESTS_KEPT: usize = 8;

/// Fetches single events by `seq` or `eventID`, keeping the last few decoded manifests (a
/// lookup page fetches ~50 events, often neighbours).
pub(super) struct Fetcher<'c> {
    conn: &'c Connection,
    /// `(first_seq, last_seq, entries)`, the most recent last.
    manifests: Vec<(u64, u64, Vec<LogEntry>)>,
}

impl<'c> Fetcher<'c> {
    pub(super) fn new(conn: &'c Connection) -> Fetcher<'c> {
        Fetcher {
            conn,
            manifests: Vec::new(),
        }
    }

    /// Event `seq`, if the log has it.
    pub(super) fn at(&mut self, seq: u64) -> Result<Option<LogEntry>, StoreError> {
        let mut row = self
            .conn
            .prepare_cached(&format!("SELECT {ROW_COLUMNS} FROM events WHERE seq = ?1"))?;
        if let Some(entry) = row
            .query([sql_seq(seq)])?
            .next()?
            .map(entry_of_row)
            .transpose()?
        {
            return Ok(Some(entry));
        }
        let at = match self
            .manifests
            .iter()
            .position(|(first, last, _)| (*first..=*last).contains(&seq))
        {
            Some(at) => at,
            None => {
                let block = self
                    .conn
                    .prepare_cached(
                        "SELECT first_seq, last_seq, entries FROM manifests WHERE first_seq <= ?1 \
                         ORDER BY first_seq DESC LIMIT 1",
                    )?
                    .query_row([sql_seq(seq)], |r| {
                        let data = r.get_ref(2)?.as_blob()?.to_vec();
                        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, data))
                    })
                    .optional()?;
                let Some((first, last, data)) = block else {
                    return Ok(None);
                };
                if seq > last {
                    return Ok(None);
                }
                if self.manifests.len() == MANIFESTS_KEPT {
                    self.manifests.remove(0);
                }
                self.manifests
                    .push((first, last, manifest::decode(first, &data)?));
                self.manifests.len() - 1
            }
        };
        let entries = &self.manifests[at].2;
        Ok(entries
            .binary_search_by_key(&seq, |e| e.seq)
            .ok()
            .map(|i| entries[i].clone()))
    }

    /// The `seq`s of the events whose `eventID` has this key (`encode::id_key`): usually none
    /// or one; compare the ids of what they fetch.
    pub(super) fn seqs_of_id_key(&self, id_hash: i64) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT seq FROM event_ids WHERE id_hash = ?1")?;
        let seqs = stmt.query_map([id_hash], |r| r.get::<_, i64>(0))?;
        Ok(seqs
            .map(|s| s.map(|s| s as u64))
            .collect::<Result<_, _>>()?)
    }

    /// The `(id key, seq)` of every event whose id key is one of `keys` (sorted, without
    /// repeats), in key order and then `seq` order: one statement for all the keys of a
    /// commit, where a statement per key cost a bulk import's writer a fifth of its time.
    /// Needs `rarray` (loaded on the writer's connection by `schema::prepare_writer`).
    pub(super) fn seqs_of_id_keys(&self, keys: &[i64]) -> Result<Vec<(i64, u64)>, StoreError> {
        debug_assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let values: Vec<rusqlite::types::Value> = keys
            .iter()
            .map(|&k| rusqlite::types::Value::Integer(k))
            .collect();
        let mut stmt = self.conn.prepare_cached(SEQS_OF_ID_KEYS)?;
        let found = stmt.query_map([std::rc::Rc::new(values)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as u64))
        })?;
        Ok(found.collect::<Result<_, _>>()?)
    }

    /// The event with this `eventID`, if any.
    pub(super) fn by_id(&mut self, id: &str) -> Result<Option<LogEntry>, StoreError> {
        for seq in self.seqs_of_id_key(super::encode::id_key(id))? {
            if let Some(entry) = self.at(seq)?
                && entry.event_id == id
            {
                return Ok(Some(entry));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads in `in_snapshot` do not see a commit made meanwhile by another connection.
    #[test]
    fn reads_in_a_snapshot_see_one_state_of_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let writer = Connection::open(&path).unwrap();
        super::super::schema::prepare_writer(&writer).unwrap();
        let reader = Connection::open(&path).unwrap();
        let count = |c: &Connection| -> i64 {
            c.query_row("SELECT COUNT(*) FROM event_ids", [], |r| r.get(0))
                .unwrap()
        };
        let (before, after) = in_snapshot(&reader, || {
            let before = count(&reader);
            writer
                .execute("INSERT INTO event_ids (id_hash, seq) VALUES (1, 1)", [])
                .unwrap();
            Ok((before, count(&reader)))
        })
        .unwrap();
        assert_eq!((before, after), (0, 0));
        // The snapshot ended with the call; inside a caller's transaction it is the caller's.
        assert_eq!(count(&reader), 1);
        assert!(reader.is_autocommit());
    }

    /// The queries run for every commit and every scan use keys, never a table scan.
    #[test]
    fn per_commit_queries_scan_no_table() {
        let conn = Connection::open_in_memory().unwrap();
        super::super::schema::prepare_writer(&conn).unwrap();
        for sql in [
            LOG_END.to_string(),
            "SELECT COALESCE(MAX(first_seq), 1) FROM manifests WHERE first_seq <= 1".into(),
            "SELECT seq FROM event_ids WHERE id_hash = 1".into(),
            SEQS_OF_ID_KEYS.replace("?1", "1"),
        ] {
            let mut plan = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let steps: Vec<String> = plan
                .query_map([], |r| r.get::<_, String>(3))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            assert!(!steps.is_empty());
            for step in &steps {
                // A SCAN reads every row of its table (SEARCH: by a key); the keys given
                // to `rarray` are read whole, as they should be.
                assert!(
                    !step.starts_with("SCAN")
                        || step == "SCAN CONSTANT ROW"
                        || step.starts_with("SCAN k VIRTUAL TABLE"),
                    "{sql}: {steps:?}"
                );
            }
        }
    }
}

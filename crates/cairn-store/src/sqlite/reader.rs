//! Read-only queries, run on a small pool of connections beside the writer.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use super::encode::{self, Block};
use crate::{StoreError, StoreErrorKind, StoredEvent};

/// Idle read connections; a reader is opened on demand and returned after use.
pub(super) struct Pool {
    path: PathBuf,
    /// The lookup file, attached to every reader.
    lookup: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

/// More idle connections than this are closed rather than kept.
const MAX_IDLE: usize = 8;

impl Pool {
    pub(super) fn new(path: PathBuf, lookup: PathBuf) -> Pool {
        Pool {
            path,
            lookup,
            idle: Mutex::new(Vec::new()),
        }
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = Connection::open(&self.path)?;
                super::schema::prepare_reader(&c, &self.lookup)?;
                c
            }
        };
        let out = f(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
        out
    }
}

/// Reads records back from rows: a record stored in its row is decoded from it; one stored in a
/// block (see `encode.rs`) is cut from its block, which is read and decompressed once for all
/// the records of it a query needs (the last few blocks are kept).
pub(super) struct Records<'c> {
    conn: &'c Connection,
    /// Recently decoded blocks, `(first_seq, last_seq, block)`, the most recent last.
    blocks: Vec<(u64, u64, Block)>,
}

/// Decoded blocks kept by one [`Records`].
const BLOCKS_KEPT: usize = 8;

impl<'c> Records<'c> {
    pub(super) fn new(conn: &'c Connection) -> Records<'c> {
        Records {
            conn,
            blocks: Vec::new(),
        }
    }

    /// An event from a row `(seq, event_id, received_at, record, imported)`.
    pub(super) fn event(&mut self, row: &rusqlite::Row<'_>) -> Result<StoredEvent, StoreError> {
        let seq = row.get::<_, i64>(0)? as u64;
        let stored = row.get_ref(3)?.as_blob().map_err(rusqlite::Error::from)?;
        Ok(StoredEvent {
            seq,
            event_id: row.get(1)?,
            received_at_ms: row.get(2)?,
            record_json: self.text(seq, stored)?,
            imported: row.get(4)?,
        })
    }

    /// The record text of event `seq` from its row's `record`.
    fn text(&mut self, seq: u64, stored: &[u8]) -> Result<String, StoreError> {
        let Some((back, index)) = encode::parse_block_ref(stored)? else {
            return encode::decode_record(stored);
        };
        let corrupt = |why: &str| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("stored record is corrupt: event {seq} {why}"),
            )
        };
        let first = seq
            .checked_sub(back)
            .ok_or_else(|| corrupt("points before the log's start"))?;
        let at = match self.blocks.iter().position(|(f, ..)| *f == first) {
            Some(at) => at,
            None => {
                let (last, block) = self
                    .conn
                    .prepare_cached("SELECT last_seq, data FROM blocks WHERE first_seq = ?1")?
                    .query_row([first as i64], |r| {
                        let data = r.get_ref(1)?.as_blob().map_err(rusqlite::Error::from)?;
                        Ok((r.get::<_, i64>(0)? as u64, encode::decode_block(data)))
                    })
                    .optional()?
                    .ok_or_else(|| corrupt("has lost its block"))?;
                if self.blocks.len() == BLOCKS_KEPT {
                    self.blocks.remove(0);
                }
                self.blocks.push((first, last, block?));
                self.blocks.len() - 1
            }
        };
        let (_, last, block) = &self.blocks[at];
        // A reference into a block that does not span the event is corrupt.
        if seq > *last {
            return Err(corrupt("is past its block"));
        }
        Ok(block.record(index)?.to_owned())
    }
}

/// Every row of a query as events.
fn collect(
    conn: &Connection,
    mut rows: rusqlite::Rows<'_>,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut records = Records::new(conn);
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(records.event(row)?);
    }
    Ok(out)
}

pub(super) fn events_after(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, received_at, record, imported FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    collect(conn, stmt.query(params![after_seq as i64, limit as i64])?)
}

pub(super) fn event_by_id(conn: &Connection, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, received_at, record, imported FROM events WHERE id_hash = ?1 AND event_id = ?2",
    )?;
    Ok(collect(conn, stmt.query(params![encode::id_key(id), id])?)?.pop())
}

/// The highest `seq` ever written: the last event's, or — once retention has emptied the log —
/// the last expired one's (`log_state`), so numbers are never handed out twice.
pub(super) fn last_seq(conn: &Connection) -> Result<u64, StoreError> {
    let seq: i64 = conn
        .prepare_cached(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM events), 0),
                        (SELECT expired_through FROM log_state WHERE id = 0))",
        )?
        .query_row([], |r| r.get(0))?;
    Ok(seq as u64)
}

pub(super) fn catalog_get(
    conn: &Connection,
    ns: &str,
    key: &str,
) -> Result<Option<String>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT value FROM catalog WHERE namespace = ?1 AND key = ?2")?;
    Ok(stmt.query_row([ns, key], |r| r.get(0)).optional()?)
}

pub(super) fn catalog_list(
    conn: &Connection,
    ns: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT key, value FROM catalog WHERE namespace = ?1 ORDER BY key")?;
    let rows = stmt.query_map([ns], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn checkpoint(conn: &Connection, consumer: &str) -> Result<u64, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT position FROM checkpoints WHERE consumer = ?1")?;
    let pos: Option<i64> = stmt.query_row([consumer], |r| r.get(0)).optional()?;
    Ok(pos.unwrap_or(0) as u64)
}

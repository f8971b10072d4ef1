//! Read-only queries, run on a small pool of connections beside the writer.

use std::path::PathBuf;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension};

use super::encode::{self, Block};
use super::log_view::{self, Fetcher, LogEntry, RecordAt};
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

/// Reads records back: a record stored in its row is decoded from it; one stored in a block
/// (see `encode.rs`) is cut from its block, which is read and decompressed once for all the
/// records of it a query needs (the last few blocks are kept).
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

    /// The stored event of a log entry, its record decoded.
    pub(super) fn event(&mut self, entry: LogEntry) -> Result<StoredEvent, StoreError> {
        let record_json = match &entry.record {
            RecordAt::Row(stored) => match encode::parse_block_ref(stored)? {
                None => encode::decode_record(stored)?,
                Some((back, index)) => {
                    let first = entry
                        .seq
                        .checked_sub(back)
                        .ok_or_else(|| corrupt_event(entry.seq, "points before the log's start"))?;
                    self.in_block(entry.seq, first, index)?
                }
            },
            &RecordAt::Block { first_seq, index } => self.in_block(entry.seq, first_seq, index)?,
        };
        Ok(StoredEvent {
            seq: entry.seq,
            event_id: entry.event_id,
            received_at_ms: entry.received_at_ms,
            record_json,
            imported: entry.imported,
        })
    }

    /// The record of event `seq`, at `index` in the block starting at `first`.
    fn in_block(&mut self, seq: u64, first: u64, index: usize) -> Result<String, StoreError> {
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
                    .ok_or_else(|| corrupt_event(seq, "has lost its block"))?;
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
            return Err(corrupt_event(seq, "is past its block"));
        }
        Ok(block.record(index)?.to_owned())
    }
}

fn corrupt_event(seq: u64, why: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Backend,
        format!("stored record is corrupt: event {seq} {why}"),
    )
}

pub(super) fn events_after(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, StoreError> {
    // One snapshot for the entries and their blocks: retention must not take a block between.
    log_view::in_snapshot(conn, || {
        let mut records = Records::new(conn);
        log_view::scan(conn, after_seq, u64::MAX, limit)?
            .into_iter()
            .map(|entry| records.event(entry))
            .collect()
    })
}

pub(super) fn event_by_id(conn: &Connection, id: &str) -> Result<Option<StoredEvent>, StoreError> {
    log_view::in_snapshot(conn, || {
        Fetcher::new(conn)
            .by_id(id)?
            .map(|entry| Records::new(conn).event(entry))
            .transpose()
    })
}

/// The highest `seq` ever written (see [`log_view::log_end`]).
pub(super) fn last_seq(conn: &Connection) -> Result<u64, StoreError> {
    log_view::log_end(conn)
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

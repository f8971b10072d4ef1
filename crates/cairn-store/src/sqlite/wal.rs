//! Moving the WAL into the database file off the commit path, and keeping the WAL file for reuse.
//!
//! By default SQLite checkpoints (copies WAL pages into the main file and fsyncs it) inside
//! whichever commit crosses 1000 WAL pages, so an unlucky group of callers waits for two extra
//! fsyncs and a bulk copy. Cairn turns that off on the writer connection and runs PASSIVE
//! checkpoints from this thread instead, on its own connection: they never block the writer, and
//! the WAL restarts from its beginning once a checkpoint has caught up.
//!
//! The WAL file is recycled, as PostgreSQL recycles its WAL segments: after a restart SQLite
//! writes the next frames from the file's beginning, and the file is not truncated below
//! [`KEPT_WAL_BYTES`]. Commits then overwrite blocks the file system has already allocated and
//! written, and the `fdatasync` that makes them durable needs no journal commit for a changed
//! file size or newly allocated blocks: on this project's CI machine an `fdatasync` of 120 KB
//! took 0.21–0.24 ms overwriting and 0.38–0.44 ms appending. The price is a WAL file of up to
//! that size kept on disk.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are fsynced, and a crash
//! before a checkpoint is recovered from the WAL on the next open (frames left over from before
//! a restart carry the previous salt and fail their checksums, so recovery stops before them).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpointer runs.
const EVERY: Duration = Duration::from_millis(500);
/// WAL content (frames since the last restart) past which it is restarted. Small enough that
/// a busy server reaches the steady state of a recycled WAL within a few seconds (measured on
/// the 64-writer append bench: 64 MiB with recycling 30.2–42.2k events/s against 19.8–36.9k
/// without, rounds interleaved), large enough that restarts, which wait for the checkpoint to
/// catch up, come at most a few times a second. Tests use a small bound.
pub(super) const MAX_WAL_BYTES: u64 = if cfg!(test) { 4 << 20 } else { 64 << 20 };
/// The WAL file is truncated to this size when it restarts, never below: see the module doc.
pub(super) const KEPT_WAL_BYTES: i64 = (MAX_WAL_BYTES + MAX_WAL_BYTES / 2) as i64;

/// The WAL file of the database at `db` (give it the canonical path: SQLite puts the WAL beside
/// the real file, not beside a symlink to it).
pub(super) fn wal_path(db: &std::path::Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Stops the checkpointer thread when dropped.
pub(super) struct Checkpointer {
    stop: Arc<AtomicBool>,
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Starts the checkpointer for the database at `path`.
pub(super) fn spawn(path: PathBuf) -> Checkpointer {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = std::thread::Builder::new().name("cairn-store-checkpoint".into()).spawn(move || {
        let conn = match Connection::open(&path) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "WAL checkpointer could not open the store; SQLite will grow the WAL until the next restart");
                return;
            }
        };
        let _ = conn.busy_timeout(Duration::from_secs(2));
        // The connection that resets the WAL is the one that truncates it.
        let _ = conn.pragma_update(None, "journal_size_limit", KEPT_WAL_BYTES);
        let frame = frame_bytes(&conn);
        let mut big = false;
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(EVERY);
            // PASSIVE never waits, but under a steady stream of commits (an import) it never
            // gets to reset the WAL, which then grows without bound. Past a size, RESTART: it
            // waits briefly for the writer between two commits, then the WAL starts over.
            let mode = if big { "RESTART" } else { "PASSIVE" };
            match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            }) {
                // A RESTART that was not blocked has reset the WAL, although it still reports
                // the frames from before (they only go when the next commit writes).
                Ok((0, _)) if big => big = false,
                // Otherwise: the frames in the WAL.
                Ok((_, frames)) => big = u64::try_from(frames).unwrap_or(0) * frame > MAX_WAL_BYTES,
                Err(e) => tracing::debug!(error = %e, mode, "WAL checkpoint skipped"),
            }
        }
    });
    Checkpointer { stop }
}

/// How long the writer's WAL restart waits for readers still on old frames. Commits wait that
/// long at most, once per [`MAX_WAL_BYTES`] of log.
const RESTART_WAIT: Duration = Duration::from_millis(50);

/// The writer's side of keeping the WAL bounded.
///
/// The checkpointer's RESTART needs a moment when no write transaction is open, and under a
/// steady stream of commits the writer barely leaves one (it applies the next group while the
/// previous one syncs). So the writer itself, between two transactions, restarts the WAL once it
/// has grown past [`MAX_WAL_BYTES`]: commits wait for that one checkpoint (the PASSIVE ones
/// have usually copied most of it already), and the WAL starts over instead of growing for as
/// long as a bulk load lasts.
pub(super) struct WalBound {
    /// Frames in the WAL after the writer's last commit (set by its `wal_hook`).
    frames: Arc<AtomicU64>,
    /// Bytes per frame (the page size cannot change once the database exists).
    frame: u64,
    checked: std::time::Instant,
}

impl WalBound {
    /// Starts following the WAL of the writer's connection `conn`.
    pub(super) fn new(conn: &mut Connection) -> Result<WalBound, rusqlite::Error> {
        let frames = Arc::new(AtomicU64::new(0));
        let seen = frames.clone();
        conn.wal_hook(Some(
            move |_: &mut rusqlite::hooks::Wal, pages: std::ffi::c_int| {
                seen.store(u64::try_from(pages).unwrap_or(0), Ordering::Relaxed);
                Ok(())
            },
        ))?;
        Ok(WalBound {
            frames,
            frame: frame_bytes(conn),
            checked: std::time::Instant::now(),
        })
    }

    /// Restarts the WAL if it is too large (looked at every 100 ms at most). Call only with no
    /// transaction open on `conn`. It waits at most [`RESTART_WAIT`] for readers on old frames
    /// (the indexer reads the log every few milliseconds, a lookup for a few), then gives up
    /// until the next look (the PASSIVE checkpoints keep copying meanwhile).
    pub(super) fn restart_if_large(&mut self, conn: &Connection) {
        if self.checked.elapsed() < Duration::from_millis(100) {
            return;
        }
        let frames = self.frames.load(Ordering::Relaxed);
        self.checked = std::time::Instant::now();
        if frames * self.frame <= MAX_WAL_BYTES {
            return;
        }
        let _ = conn.busy_timeout(RESTART_WAIT);
        let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = conn.busy_timeout(super::schema::BUSY_TIMEOUT);
        match busy {
            Ok(0) => self.frames.store(0, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "WAL restart by the writer skipped"),
        }
    }
}

/// Bytes of one WAL frame of the database on `conn`: a page plus the 24-byte frame header.
fn frame_bytes(conn: &Connection) -> u64 {
    let page: i64 = conn
        .pragma_query_value(None, "page_size", |r| r.get(0))
        .unwrap_or(4096);
    u64::try_from(page).unwrap_or(4096) + 24
}

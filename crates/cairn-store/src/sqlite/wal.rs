//! Moving the WAL into the database file off the commit path.
//!
//! By default SQLite checkpoints (copies WAL pages into the main file and fsyncs it) inside
//! whichever commit crosses 1000 WAL pages, so an unlucky group of callers waits for two extra
//! fsyncs and a bulk copy. Cairn turns that off on the writer connection and runs PASSIVE
//! checkpoints from this thread instead, on its own connection: they never block the writer, and
//! the WAL restarts from its beginning once a checkpoint has caught up.
//!
//! Durability is unchanged: a commit is durable once its WAL frames are fsynced, and a crash
//! before a checkpoint is recovered from the WAL on the next open.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How often the checkpointer runs.
const EVERY: Duration = Duration::from_millis(500);
/// WAL size past which the checkpointer insists on restarting it.
const MAX_WAL_BYTES: u64 = 256 * 1024 * 1024;

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
        let _ = conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024);
        let wal = wal_path(&path);
        while !flag.load(Ordering::Relaxed) {
            std::thread::sleep(EVERY);
            // PASSIVE never waits, but under a steady stream of commits (an import) it never
            // gets to reset the WAL, which then grows without bound. Past a size, RESTART: it
            // waits briefly for the writer between two commits, then the WAL starts over.
            let big = std::fs::metadata(&wal).map(|m| m.len() > MAX_WAL_BYTES).unwrap_or(false);
            let mode = if big { "RESTART" } else { "PASSIVE" };
            if let Err(e) = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
                tracing::debug!(error = %e, mode, "WAL checkpoint skipped");
            }
        }
    });
    Checkpointer { stop }
}

/// The writer's side of keeping the WAL bounded.
///
/// The checkpointer's RESTART needs a moment when no write transaction is open, and under a
/// steady stream of commits the writer barely leaves one (it applies the next group while the
/// previous one syncs). So the writer itself, between two transactions, restarts the WAL once it
/// has grown past [`MAX_WAL_BYTES`]: commits wait for that one checkpoint (the PASSIVE ones
/// have usually copied most of it already), and the WAL starts over instead of growing for as
/// long as a bulk load lasts.
pub(super) struct WalBound {
    wal: PathBuf,
    checked: std::time::Instant,
}

impl WalBound {
    pub(super) fn new(db: &std::path::Path) -> WalBound {
        WalBound {
            wal: wal_path(db),
            checked: std::time::Instant::now(),
        }
    }

    /// Restarts the WAL if it is too large (looked at every 100 ms at most). Call only with no
    /// transaction open on `conn`. It never waits: a reader still on old frames makes it try
    /// again a second later (the PASSIVE checkpoints keep copying meanwhile).
    pub(super) fn restart_if_large(&mut self, conn: &Connection) {
        if self.checked.elapsed() < Duration::from_millis(100) {
            return;
        }
        let large = std::fs::metadata(&self.wal)
            .map(|m| m.len() > MAX_WAL_BYTES)
            .unwrap_or(false);
        self.checked = std::time::Instant::now();
        if !large {
            return;
        }
        let _ = conn.busy_timeout(Duration::ZERO);
        let busy = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |r| r.get::<_, i64>(0));
        let _ = conn.busy_timeout(super::schema::BUSY_TIMEOUT);
        match busy {
            Ok(0) => {}
            Ok(_) => self.checked += Duration::from_secs(1),
            Err(e) => {
                tracing::debug!(error = %e, "WAL restart by the writer skipped");
                self.checked += Duration::from_secs(1);
            }
        }
    }
}

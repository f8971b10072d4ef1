//! Making commits durable on a thread of their own, so the writer never waits for the disk.
//!
//! The writer connection runs with `synchronous=NORMAL`: a commit writes its WAL frames (into
//! the page cache) and returns without an `fsync`. The writer hands the group's answers to this
//! thread and goes straight on to the next group, while this thread takes every group waiting,
//! calls `fdatasync` on the WAL file once for all of them, and only then answers their callers.
//! Commit N+1 is applied while commit N is being synced: a two-stage pipeline whose rate is set
//! by the slower stage instead of the sum of both (with `synchronous=FULL` the writer spent
//! three quarters of each cycle waiting inside `fsync`). The writer commits N+1 just before N's
//! sync is expected to end (the syncer keeps moving averages of both durations), and a third
//! thread answers the callers, so the syncer goes from one `fdatasync` to the next without
//! waiting for a commit's writes or for waking a few dozen callers. (Measured on the 64-writer
//! append bench: the disk sat idle between syncs for about as long as it synced.)
//!
//! Why this is as durable as `synchronous=FULL`: WAL frames are written in commit order with
//! `write()`, and `fdatasync` on the WAL file makes everything written to it before the call
//! stable, whichever descriptor or process wrote it. A caller is answered only after an
//! `fdatasync` that started after its commit returned, so its frames — and every earlier
//! frame — are on disk. After a power loss SQLite's WAL recovery keeps the longest prefix of
//! valid, committed frames, which includes every answered commit. Unanswered commits may
//! survive or not, exactly as a crash between `fsync` and the answer allows with `FULL`.
//!
//! Readers can see a commit before its sync. Consumers that act on events outside the store
//! (trail delivery) read through [`Barrier`]s: events are returned only once they are durable,
//! so a delivered log file never holds an event a power loss could take back. Interactive
//! lookups do not wait (the window is one `fsync`, about a millisecond).
//!
//! If `fdatasync` fails, the kernel may already have dropped the dirty pages: nothing written
//! since the last good sync can be trusted to be on disk. The store then refuses every further
//! write (see [`Health`]) and the callers waiting for that sync are told their commit failed;
//! a restart recovers from what the disk really holds.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{StoreError, StoreErrorKind};

/// What the syncer is handed.
pub(super) enum Work {
    /// A group the writer committed (or failed): answer it after the next sync.
    Group {
        /// The highest `seq` written by the group (or before it), once durable.
        last_seq: u64,
        /// Whether the group wrote anything that needs syncing.
        wrote: bool,
        answer: Box<dyn FnOnce(Result<(), StoreError>) + Send>,
    },
    /// Someone read events up to `seq` and wants them durable before using them.
    Barrier {
        seq: u64,
        reply: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
    },
}

/// Shared state of the writer, the syncer and the store handle.
#[derive(Default)]
pub(super) struct Health {
    /// Every event up to this `seq` is on stable storage (as far as this process knows).
    durable_seq: AtomicU64,
    /// Set when an `fdatasync` failed: no further write is accepted.
    failed: AtomicBool,
    /// Groups handed to the syncer and not synced yet.
    groups_in_sync: AtomicU64,
    /// When the running `fdatasync` started (ns since [`CLOCK`]'s base); 0 while none runs.
    sync_started_ns: AtomicU64,
    /// How long an `fdatasync` takes, recently (moving average, ns).
    sync_ns: AtomicU64,
    /// How long the writer's commit takes, recently (moving average, ns).
    commit_ns: AtomicU64,
    /// Tests: the next `fdatasync` reports an I/O error (as a failing disk would).
    #[cfg(test)]
    pub(super) fail_next_sync: AtomicBool,
}

impl Health {
    /// Called by the writer before it hands a group to the syncer.
    pub(super) fn group_handed_over(&self) {
        self.groups_in_sync.fetch_add(1, Ordering::AcqRel);
    }

    /// Called once `n` handed-over groups have been synced (or failed). Whether the syncer is
    /// now idle.
    pub(super) fn groups_synced(&self, n: usize) -> bool {
        self.groups_in_sync.fetch_sub(n as u64, Ordering::AcqRel) == n as u64
    }

    /// Whether the syncer has nothing to do: the next commit would be synced at once.
    pub(super) fn syncer_idle(&self) -> bool {
        self.groups_in_sync.load(Ordering::Acquire) == 0
    }

    /// How long until the writer should commit the group it is building, so that its commit
    /// ends when the running `fdatasync` is expected to: the syncer then starts the next sync
    /// at once instead of idling through the commit. `None` when no sync runs or a committed
    /// group already waits for the next one (the writer then commits when the syncer is idle).
    pub(super) fn early_commit_in(&self) -> Option<Duration> {
        if self.groups_in_sync.load(Ordering::Acquire) != 1 {
            return None;
        }
        let started = self.sync_started_ns.load(Ordering::Acquire);
        if started == 0 {
            return None;
        }
        let expected_end = started + self.sync_ns.load(Ordering::Relaxed);
        let commit_at = expected_end.saturating_sub(self.commit_ns.load(Ordering::Relaxed));
        Some(Duration::from_nanos(commit_at.saturating_sub(clock_ns())))
    }

    /// The writer's commit took `took`.
    pub(super) fn commit_took(&self, took: Duration) {
        moving_average(&self.commit_ns, took);
    }

    fn sync_began(&self) {
        self.sync_started_ns
            .store(clock_ns().max(1), Ordering::Release);
    }

    fn sync_ended(&self) {
        let started = self.sync_started_ns.swap(0, Ordering::AcqRel);
        let took = clock_ns().saturating_sub(started);
        moving_average(&self.sync_ns, Duration::from_nanos(took));
    }

    pub(super) fn mark_durable(&self, seq: u64) {
        self.durable_seq.fetch_max(seq, Ordering::AcqRel);
    }

    pub(super) fn durable_seq(&self) -> u64 {
        self.durable_seq.load(Ordering::Acquire)
    }

    /// The error every write gets once a sync has failed.
    pub(super) fn check(&self) -> Result<(), StoreError> {
        if self.failed.load(Ordering::Acquire) {
            return Err(StoreError::new(
                StoreErrorKind::Backend,
                "the event store stopped accepting writes after the disk reported a failed \
                 fsync; restart cairn to recover from what the disk holds",
            ));
        }
        Ok(())
    }
}

/// The base of the sync clock.
static CLOCK: std::sync::LazyLock<Instant> = std::sync::LazyLock::new(Instant::now);

fn clock_ns() -> u64 {
    CLOCK.elapsed().as_nanos() as u64
}

/// `avg = 7/8 avg + 1/8 sample` (the first sample taken as is).
fn moving_average(avg: &AtomicU64, sample: Duration) {
    let sample = sample.as_nanos() as u64;
    let old = avg.load(Ordering::Relaxed);
    let new = if old == 0 {
        sample
    } else {
        old - old / 8 + sample / 8
    };
    avg.store(new, Ordering::Relaxed);
}

/// The WAL file of the database at `db`, opened for syncing.
pub(super) struct WalFile {
    path: PathBuf,
    file: Option<File>,
}

impl WalFile {
    /// `db` must be the database's canonical path (see [`super::wal::wal_path`]).
    pub(super) fn new(db: &Path) -> WalFile {
        WalFile {
            path: super::wal::wal_path(db),
            file: None,
        }
    }

    /// `fdatasync` of the WAL. The file is reopened when it was replaced (SQLite deletes the
    /// WAL when the last connection closes, and another process may then create a new one).
    /// A missing WAL is an error: the writer's connection keeps it open for the syncer's whole
    /// life, so not finding it means syncing the wrong file.
    pub(super) fn sync(&mut self) -> std::io::Result<()> {
        if !self.is_current() {
            self.file = Some(File::options().read(true).write(true).open(&self.path)?);
        }
        self.file
            .as_ref()
            .expect("WAL file was just opened")
            .sync_data()
    }

    #[cfg(unix)]
    fn is_current(&self) -> bool {
        use std::os::unix::fs::MetadataExt as _;
        let (Some(file), Ok(on_disk)) = (&self.file, std::fs::metadata(&self.path)) else {
            return false;
        };
        file.metadata()
            .map(|open| open.ino() == on_disk.ino() && open.dev() == on_disk.dev())
            .unwrap_or(false)
    }

    #[cfg(not(unix))]
    fn is_current(&self) -> bool {
        false
    }
}

/// Starts the syncer for the database at `db`. It stops when every sender is dropped, after
/// answering everything it was handed.
/// `wake_writer` is called whenever the syncer becomes idle.
pub(super) fn spawn(
    db: &Path,
    health: Arc<Health>,
    wake_writer: Box<dyn Fn() + Send>,
) -> Result<(mpsc::Sender<Work>, std::thread::JoinHandle<()>), StoreError> {
    let (tx, rx) = mpsc::channel::<Work>();
    let mut wal = WalFile::new(db);
    let (answers_tx, answers_rx) = mpsc::channel::<Answers>();
    let answerer = std::thread::Builder::new()
        .name("cairn-store-ack".into())
        .spawn(move || answer_all(&answers_rx))
        .map_err(|e| {
            StoreError::new(
                StoreErrorKind::Backend,
                format!("cannot start the store's answering thread: {e}"),
            )
        })?;
    let handle = std::thread::Builder::new()
        .name("cairn-store-sync".into())
        .spawn(move || {
            run(&rx, &mut wal, &health, &*wake_writer, &answers_tx);
            // Everything handed over is answered before the syncer counts as stopped.
            drop(answers_tx);
            let _ = answerer.join();
        })
        .map_err(|e| {
            StoreError::new(StoreErrorKind::Backend, format!("cannot start syncer: {e}"))
        })?;
    Ok((tx, handle))
}

/// Synced work and how its sync went, for the answering thread.
type Answers = (Vec<Work>, Result<(), StoreError>);

/// Answers synced work on a thread of its own: waking a few dozen callers takes a while, and
/// meanwhile the syncer can already sync the next group.
fn answer_all(rx: &mpsc::Receiver<Answers>) {
    for (batch, outcome) in rx {
        answer_batch(batch, &outcome);
    }
}

fn answer_batch(batch: Vec<Work>, outcome: &Result<(), StoreError>) {
    for work in batch {
        let result = match outcome {
            Ok(()) => Ok(()),
            Err(e) => Err(StoreError::new(e.kind(), e.to_string())),
        };
        match work {
            Work::Group { answer, .. } => answer(result),
            Work::Barrier { reply, .. } => {
                let _ = reply.send(result);
            }
        }
    }
}

fn run(
    rx: &mpsc::Receiver<Work>,
    wal: &mut WalFile,
    health: &Health,
    wake_writer: &dyn Fn(),
    answers: &mpsc::Sender<Answers>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let durable = health.durable_seq();
        let target = batch
            .iter()
            .map(|w| match w {
                Work::Group { last_seq, .. } => *last_seq,
                Work::Barrier { seq, .. } => *seq,
            })
            .max()
            .unwrap_or(durable);
        let needs_sync = batch.iter().any(|w| match w {
            Work::Group { wrote, .. } => *wrote,
            Work::Barrier { seq, .. } => *seq > durable,
        });
        let outcome = if !needs_sync {
            Ok(())
        } else if health.failed.load(Ordering::Acquire) {
            health.check()
        } else {
            health.sync_began();
            #[cfg(test)]
            let synced = if health.fail_next_sync.swap(false, Ordering::AcqRel) {
                Err(std::io::Error::other("injected fsync failure"))
            } else {
                wal.sync()
            };
            #[cfg(not(test))]
            let synced = wal.sync();
            health.sync_ended();
            match synced {
                Ok(()) => {
                    health.mark_durable(target);
                    Ok(())
                }
                Err(e) => {
                    health.failed.store(true, Ordering::Release);
                    tracing::error!(error = %e, "fsync of the event store's WAL failed; the store refuses further writes until cairn restarts");
                    Err(StoreError::new(
                        StoreErrorKind::Backend,
                        format!(
                            "fsync of the event store failed ({e}); the commit may not survive a \
                             crash, and the store refuses further writes until cairn restarts"
                        ),
                    ))
                }
            }
        };
        // The disk is free: let the writer commit its next group while these callers are
        // answered (waking a few dozen tasks takes a while).
        let groups = batch
            .iter()
            .filter(|w| matches!(w, Work::Group { .. }))
            .count();
        if groups > 0 && health.groups_synced(groups) {
            wake_writer();
        }
        if let Err(mpsc::SendError((batch, outcome))) = answers.send((batch, outcome)) {
            // The answering thread is gone (it cannot panic short of a bug): answer here.
            answer_batch(batch, &outcome);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_commits_early_only_while_one_sync_runs() {
        let health = Health::default();
        // Nothing handed over: the writer commits when the syncer is idle, not early.
        assert_eq!(health.early_commit_in(), None);
        health.group_handed_over();
        // Handed over but its sync not begun yet.
        assert_eq!(health.early_commit_in(), None);
        // Long durations, so a slow test machine cannot move the figures out of their bounds.
        health.commit_took(Duration::from_secs(2));
        moving_average(&health.sync_ns, Duration::from_secs(50));
        health.sync_began();
        let wait = health.early_commit_in().expect("a sync runs");
        assert!(
            wait > Duration::from_secs(40) && wait <= Duration::from_secs(48),
            "commit ~2 s before the sync's expected end, got {wait:?}"
        );
        // A second group already waits: the next one commits when the syncer is idle.
        health.group_handed_over();
        assert_eq!(health.early_commit_in(), None);
        health.groups_synced(1);
        // Past the expected end: at once.
        moving_average(&health.sync_ns, Duration::from_secs(50));
        moving_average(&health.sync_ns, Duration::ZERO);
        for _ in 0..64 {
            moving_average(&health.sync_ns, Duration::ZERO);
        }
        health.sync_began();
        assert_eq!(health.early_commit_in(), Some(Duration::ZERO));
        health.sync_ended();
        assert_eq!(health.early_commit_in(), None, "no sync runs");
    }

    #[test]
    fn moving_average_follows_samples() {
        let avg = AtomicU64::new(0);
        moving_average(&avg, Duration::from_nanos(800));
        assert_eq!(avg.load(Ordering::Relaxed), 800);
        moving_average(&avg, Duration::from_nanos(1600));
        assert_eq!(avg.load(Ordering::Relaxed), 900);
    }
}

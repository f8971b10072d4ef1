//! `cairn import PATH…`: appends the records of CloudTrail log files to the event log.
//!
//! Input: `.json.gz` / `.json` files and folders searched recursively (AWS's
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` layout or any other), each holding
//! `{"Records":[...]}` or a plain array of records. Digest files and anything that is not a log
//! file are skipped and counted.
//!
//! The pipeline: a pool of threads (one per core) reads, gunzips (capped by `--max-file-bytes`;
//! a one-member file whole with libdeflate, anything else streamed) and parses files, builds
//! the events and encodes them for the store (`SqliteStore::encode_events`: records compressed
//! in blocks, keys hashed); the calling thread puts the files back in the order they were
//! found, groups whole files into commits of at least `--batch` events and hands them to the
//! store's single writer, three commits in flight so the writer never waits for the next one.
//! Each record is stored as its original JSON text; each file is parsed in one pass that finds
//! every record's text and builds only the members its index reads (`decode::parse_log`).
//!
//! Idempotent: commits skip events whose `eventID` is already in the log, so importing the same
//! files again adds nothing. Records without an `eventID` are keyed by `import-<SHA-256 of the
//! record text>`. Safe beside a running `cairn serve` on the same data dir: the store's writer
//! reads the highest sequence number inside each write transaction, so both processes append
//! gaplessly.

pub(crate) mod decode;
mod discover;

use std::collections::{BTreeMap, VecDeque};
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use cairn_store::{
    CommitReceipt, DuplicateEvents, EncodedBatch, NewEvent, SqliteStore, StoreError,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data_dir::DataDir;
use decode::{BadRecord, FileError};

/// Bad records named per file; the rest are only counted.
const BAD_RECORDS_SHOWN: usize = 5;

/// Commits handed to the store before waiting for the oldest, and files the parse threads may
/// run ahead of the committing thread (per thread): enough to keep both cores busy while the
/// writer waits for a checkpoint's sync. Files wait encoded (compressed), so this costs little
/// memory: 3 and 16 took 4% less time than 2 and 4, at the same peak RSS (BENCHMARKS.md).
const COMMITS_IN_FLIGHT: usize = 3;
const FILES_AHEAD_PER_THREAD: usize = 16;

/// Events per commit: each commit rewrites most leaves of `event_ids` (whose keys are random
/// for AWS's ids), so fewer, larger commits cost less. With events waiting encoded, 100,000
/// took 5% less time than 50,000 (and 50,000 6–10% less CPU than 20,000), for ~30 MB more
/// peak RSS; 200,000 was no faster (BENCHMARKS.md).
pub const DEFAULT_BATCH: u64 = 100_000;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Log files (.json.gz or .json) and folders (searched recursively) to import.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// The data dir [default: ./cairn-data].
    #[arg(long, env = "CAIRN_DATA_DIR", default_value = "cairn-data")]
    pub data_dir: PathBuf,
    /// Largest JSON text of one file, in bytes, after decompression; larger files are reported
    /// and not imported.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 30)]
    pub max_file_bytes: u64,
    /// Events per commit: a commit is cut at the end of the file that brings it to this many.
    /// Larger commits rewrite fewer pages of the eventID index (random ids touch most of its
    /// pages in every commit); the commits in flight hold their events in memory, compressed.
    #[arg(long, value_name = "EVENTS", default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u64).range(1..))]
    pub batch: u64,
    /// Threads that read and parse files [default: one per core].
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub threads: Option<u64>,
}

/// How to import.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_file_bytes: u64,
    pub batch: usize,
    pub threads: usize,
    /// Draw a progress bar (on stderr).
    pub progress: bool,
}

/// What an import did.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    /// Files whose records were imported (some records of them may have been bad).
    pub files_imported: usize,
    /// Digest files skipped.
    pub skipped_digests: usize,
    /// Other files skipped.
    pub skipped_others: usize,
    /// Files (and paths) that could not be imported.
    pub files_failed: usize,
    /// Records appended to the log.
    pub records_added: u64,
    /// Records whose `eventID` was already in the log.
    pub records_present: u64,
    /// Records that are not JSON objects.
    pub records_bad: u64,
    /// Bytes read from disk.
    pub bytes_read: u64,
    /// Bytes of JSON text (after decompression).
    pub json_bytes: u64,
    /// Wall time from the first file to the last commit.
    pub elapsed: Duration,
}

impl Summary {
    /// Whether everything found was imported (nothing failed, no bad record).
    pub fn clean(&self) -> bool {
        self.files_failed == 0 && self.records_bad == 0
    }

    /// Records processed per second (added or already present).
    pub fn records_per_sec(&self) -> f64 {
        (self.records_added + self.records_present) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The one-line summary.
    pub fn line(&self) -> String {
        format!(
            "files: {} imported, {} skipped ({} digest, {} other), {} failed; records: {} added, {} already present, {} bad; {:.1} MB read ({:.1} MB of JSON) in {:.2} s, {:.0} records/s",
            self.files_imported,
            self.skipped_digests + self.skipped_others,
            self.skipped_digests,
            self.skipped_others,
            self.files_failed,
            self.records_added,
            self.records_present,
            self.records_bad,
            self.bytes_read as f64 / 1e6,
            self.json_bytes as f64 / 1e6,
            self.elapsed.as_secs_f64(),
            self.records_per_sec(),
        )
    }
}

/// `cairn import`: 0 when everything was imported, 1 when some files or records were bad; an
/// error (exit code 2) when the store cannot be opened or written.
pub fn run(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let data = DataDir::create(&args.data_dir)?;
    let db = data.events_db();
    let store = SqliteStore::open(&db)
        .with_context(|| format!("opening the event store {}", db.display()))?;
    let found = discover::find(&args.paths);
    for (path, why) in &found.errors {
        eprintln!("cairn import: {}: {why}", path.display());
    }
    let options = Options {
        max_file_bytes: args.max_file_bytes,
        batch: args.batch as usize,
        threads: args.threads.map_or_else(default_threads, |n| n as usize),
        progress: std::io::stdout().is_terminal(),
    };
    let mut summary = import_files(&store, &found.files, &options)?;
    summary.skipped_digests = found.digests;
    summary.skipped_others = found.others;
    summary.files_failed += found.errors.len();
    println!("{}", summary.line());
    Ok(if summary.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One thread per core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A parsed file, on its way from a worker to the committing thread.
struct Parsed {
    index: usize,
    bytes_read: u64,
    json_bytes: u64,
    outcome: Result<FileEvents, FileError>,
}

/// A file's events and its bad records.
struct FileEvents {
    events: FileBatch,
    bad: Vec<BadRecord>,
}

/// A file's events: encoded for the store on the thread that parsed them (records compressed
/// in blocks, keys hashed) if the file is large enough to fill its blocks; else as they are,
/// to be encoded together with the neighbouring small files (a block never spans two encoded
/// batches, and most files of a quiet account hold a few records).
enum FileBatch {
    /// An encoding failure is the store's, not the file's: it stops the import.
    Encoded(Result<EncodedBatch, StoreError>),
    Raw(Vec<NewEvent>),
}

/// Files with at least this many events are encoded on their parse thread: at most their last
/// block is short (blocks hold up to 32 records).
const ENCODED_APART_FROM: usize = 256;

/// Reads, decompresses and parses one file and builds its events.
fn parse_file(index: usize, path: &Path, max_file_bytes: u64) -> Parsed {
    let mut bytes_read = std::fs::metadata(path).map_or(0, |m| m.len());
    let mut json_bytes = 0;
    let outcome = decode::read_text(path, max_file_bytes).and_then(|(text, read)| {
        bytes_read = read;
        json_bytes = text.len() as u64;
        let (events, bad) = decode::parse_events(&text, now_ms())?;
        drop(text);
        // Encoded here, beside the other files being parsed, rather than by the committing
        // side after the last file: the store's writer then only writes.
        let events = if events.len() >= ENCODED_APART_FROM {
            FileBatch::Encoded(SqliteStore::encode_events(events))
        } else {
            FileBatch::Raw(events)
        };
        Ok(FileEvents { events, bad })
    });
    Parsed {
        index,
        bytes_read,
        json_bytes,
        outcome,
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Lets workers run at most `window` files ahead of the committing thread, so memory stays
/// bounded however unevenly files parse.
struct Gate {
    state: Mutex<(usize, bool)>,
    moved: Condvar,
    window: usize,
}

impl Gate {
    /// Waits until file `index` may be parsed; false if the import is stopping.
    fn wait_for(&self, index: usize) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !state.1 && index >= state.0 + self.window {
            state = self.moved.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        !state.1
    }

    /// Every file before `next` has been handled.
    fn advance(&self, next: usize) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).0 = next;
        self.moved.notify_all();
    }

    fn stop(&self) {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
        self.moved.notify_all();
    }
}

/// Imports `files` (in this order) into `store`; problems with single files or records are
/// printed to stderr and counted. Fails only if the store fails.
pub fn import_files(
    store: &SqliteStore,
    files: &[PathBuf],
    options: &Options,
) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let threads = options.threads.max(1);
    // Only to wait for the store's answers: commits are handed over on this thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let bar = progress_bar(files, options.progress);
    let next_file = AtomicUsize::new(0);
    let stopping = AtomicBool::new(false);
    let gate = Gate {
        state: Mutex::new((0, false)),
        moved: Condvar::new(),
        window: threads * FILES_AHEAD_PER_THREAD,
    };
    let (tx, rx) = mpsc::sync_channel::<Parsed>(threads * 2);
    let mut writer = Writer {
        store,
        runtime: &runtime,
        batch: options.batch.max(1),
        pending: Vec::new(),
        raw: Vec::new(),
        in_flight: VecDeque::new(),
        summary: Summary::default(),
    };
    let result = std::thread::scope(|scope| {
        for n in 0..threads {
            let tx = tx.clone();
            let (next_file, stopping, gate) = (&next_file, &stopping, &gate);
            std::thread::Builder::new()
                .name(format!("cairn-import-{n}"))
                .spawn_scoped(scope, move || {
                    while !stopping.load(Ordering::Relaxed) {
                        let index = next_file.fetch_add(1, Ordering::Relaxed);
                        if index >= files.len() || !gate.wait_for(index) {
                            break;
                        }
                        let parsed = parse_file(index, &files[index], options.max_file_bytes);
                        if tx.send(parsed).is_err() {
                            break;
                        }
                    }
                })
                .expect("spawning an import thread");
        }
        drop(tx);
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        let outcome = (|| {
            for parsed in &rx {
                waiting.insert(parsed.index, parsed);
                while let Some(parsed) = waiting.remove(&next) {
                    writer.take_file(&files[next], parsed, &bar)?;
                    next += 1;
                    gate.advance(next);
                }
            }
            writer.finish()
        })();
        if outcome.is_err() {
            stopping.store(true, Ordering::Relaxed);
            gate.stop();
            drop(rx);
        }
        outcome
    });
    bar.finish_and_clear();
    let mut summary = writer.summary;
    summary.elapsed = started.elapsed();
    result.map_err(|e| {
        anyhow::anyhow!(
            "writing to the event store failed after {} records were added: {e} (importing again resumes: records already present are skipped)",
            summary.records_added
        )
    })?;
    Ok(summary)
}

fn progress_bar(files: &[PathBuf], shown: bool) -> ProgressBar {
    if !shown {
        return ProgressBar::hidden();
    }
    let total: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{wide_bar} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// A commit's durable answer, awaited later.
type Receipt = std::pin::Pin<Box<dyn Future<Output = Result<CommitReceipt, StoreError>> + Send>>;

/// The committing side: takes parsed files in order, cuts their events into commits.
struct Writer<'a> {
    store: &'a SqliteStore,
    runtime: &'a tokio::runtime::Runtime,
    batch: usize,
    /// Files' events not yet committed: encoded batches, then the small files' events not yet
    /// encoded (they go after the batches).
    pending: Vec<EncodedBatch>,
    raw: Vec<NewEvent>,
    /// Receipts of the commits handed to the store, oldest first.
    in_flight: VecDeque<Receipt>,
    summary: Summary,
}

impl Writer<'_> {
    fn take_file(&mut self, path: &Path, parsed: Parsed, bar: &ProgressBar) -> anyhow::Result<()> {
        self.summary.bytes_read += parsed.bytes_read;
        self.summary.json_bytes += parsed.json_bytes;
        bar.inc(parsed.bytes_read);
        match parsed.outcome {
            Err(e) => {
                self.summary.files_failed += 1;
                bar.suspend(|| eprintln!("cairn import: {}: {e}", path.display()));
            }
            Ok(FileEvents { events, bad }) => {
                self.summary.files_imported += 1;
                self.summary.records_bad += bad.len() as u64;
                if !bad.is_empty() {
                    bar.suspend(|| report_bad_records(path, &bad));
                }
                match events {
                    FileBatch::Encoded(encoded) => {
                        let encoded = encoded?;
                        self.encode_raw()?;
                        self.pending.push(encoded);
                    }
                    FileBatch::Raw(events) => self.raw.extend(events),
                }
                // Cut at a file's end: a commit holds whole files.
                let pending: usize = self.pending.iter().map(EncodedBatch::len).sum();
                if pending + self.raw.len() >= self.batch {
                    self.submit_pending()?;
                }
            }
        }
        bar.set_message(format!("{} records", self.summary.records_added));
        Ok(())
    }

    /// Encodes the small files' events taken since the last encoded batch, together.
    fn encode_raw(&mut self) -> anyhow::Result<()> {
        if !self.raw.is_empty() {
            let events = std::mem::take(&mut self.raw);
            self.pending.push(SqliteStore::encode_events(events)?);
        }
        Ok(())
    }

    /// Hands the pending files' events to the store as one commit, first waiting for the
    /// oldest one in flight if there are already enough. Handed over here, on this thread, so
    /// commits reach the writer in the files' order.
    fn submit_pending(&mut self) -> anyhow::Result<()> {
        while self.in_flight.len() >= COMMITS_IN_FLIGHT {
            self.wait_oldest()?;
        }
        self.encode_raw()?;
        let batches = std::mem::take(&mut self.pending);
        let receipt = self.store.commit_encoded(batches, DuplicateEvents::Skip)?;
        self.in_flight.push_back(Box::pin(receipt));
        Ok(())
    }

    fn wait_oldest(&mut self) -> anyhow::Result<()> {
        let Some(receipt) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let receipt = self.runtime.block_on(receipt)?;
        let added = receipt.seqs.iter().filter(|s| s.is_some()).count() as u64;
        self.summary.records_added += added;
        self.summary.records_present += receipt.seqs.len() as u64 - added;
        Ok(())
    }

    /// Commits what is left and waits for every commit.
    fn finish(&mut self) -> anyhow::Result<()> {
        if !self.pending.is_empty() || !self.raw.is_empty() {
            self.submit_pending()?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest()?;
        }
        // The store indexes the event history behind the log; finish it here, so the first
        // lookups after an import do not scan the imported events one by one.
        self.runtime.block_on(self.store.index_tail())?;
        Ok(())
    }
}

fn report_bad_records(path: &Path, bad: &[BadRecord]) {
    for b in bad.iter().take(BAD_RECORDS_SHOWN) {
        eprintln!(
            "cairn import: {}: record {} skipped: {}",
            path.display(),
            b.index + 1,
            b.reason
        );
    }
    if bad.len() > BAD_RECORDS_SHOWN {
        eprintln!(
            "cairn import: {}: {} more bad records skipped",
            path.display(),
            bad.len() - BAD_RECORDS_SHOWN
        );
    }
}

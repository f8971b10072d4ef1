//! Every record of the real CloudTrail sample logs parses into an [`EventRecord`] and serializes
//! back to exactly the same JSON value.
//!
//! Samples: `testdata/cloudtrail-samples` at the repository root (90 files, 3,210
//! records, see its `SOURCES.md`), or the directory named by `CAIRN_SAMPLES_DIR`.
//!
//! Throughput (not a timed test): `cargo test --release -p cairn-core --test samples_roundtrip
//! -- --ignored --nocapture`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cairn_core::record::EventRecord;
use flate2::read::GzDecoder;
use serde_json::Value;

/// Record count of the default sample set (SOURCES.md).
const DEFAULT_RECORDS: usize = 3_210;
/// File count of the default sample set (SOURCES.md).
const DEFAULT_FILES: usize = 90;

/// The samples directory and whether it is the default one.
fn samples_dir() -> (PathBuf, bool) {
    match std::env::var_os("CAIRN_SAMPLES_DIR") {
        Some(dir) => (PathBuf::from(dir), false),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cloudtrail-samples"),
            true,
        ),
    }
}

/// Every `*.json.gz` under `dir`, recursively, sorted.
fn gz_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.to_string_lossy().ends_with(".json.gz") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn gunzip(path: &Path) -> String {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut text = String::new();
    GzDecoder::new(file)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("{}: gunzip: {e}", path.display()));
    text
}

/// A log file as typed records, parsed straight from the file's text.
#[derive(serde::Deserialize)]
struct TypedLogFile {
    #[serde(rename = "Records")]
    records: Vec<EventRecord>,
}

/// All sample files: (path relative to the samples dir, decompressed text).
fn load_samples() -> (Vec<(String, String)>, bool) {
    let (dir, is_default) = samples_dir();
    let files = gz_files(&dir);
    let loaded = files
        .iter()
        .map(|path| {
            let name = path
                .strip_prefix(&dir)
                .unwrap_or(path)
                .display()
                .to_string();
            (name, gunzip(path))
        })
        .collect();
    (loaded, is_default)
}

#[test]
fn every_sample_record_round_trips() {
    let (files, is_default) = load_samples();
    let mut total = 0;
    let mut failures = Vec::new();
    for (name, text) in &files {
        let file: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let records = file["Records"]
            .as_array()
            .unwrap_or_else(|| panic!("{name}: no Records array"));
        // The whole file, parsed in one go from the original text.
        let typed: TypedLogFile =
            serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: typed parse: {e}"));
        assert_eq!(typed.records.len(), records.len(), "{name}: record count");

        for (index, (original, from_file)) in records.iter().zip(&typed.records).enumerate() {
            total += 1;
            let mut fail = |what: &str| failures.push(format!("{name} [{index}]: {what}"));
            if &serde_json::to_value(from_file).unwrap() != original {
                fail("to_value(typed file record) differs");
            }
            // The record alone, through from_json / to_json.
            let one = original.to_string();
            match EventRecord::from_json(&one) {
                Err(e) => fail(&format!("from_json: {e}")),
                Ok(record) => {
                    if &record != from_file {
                        fail("from_json differs from the file parse");
                    }
                    let back: Value = serde_json::from_str(&record.to_json()).unwrap();
                    if &back != original {
                        fail("to_json differs");
                    }
                    // Sanity of the helpers on real data: they must not panic, and these hold
                    // for every sample record.
                    if record.read_only().is_none() {
                        fail("readOnly not a boolean");
                    }
                    if record.event_time_utc().is_none() {
                        fail("eventTime unparseable");
                    }
                    let _ = (
                        record.lookup_username(),
                        record.lookup_resources(),
                        record.access_key_id(),
                    );
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {total} records failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(50)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(total > 0, "no sample records found");
    if is_default {
        assert_eq!(files.len(), DEFAULT_FILES, "sample file count");
        assert_eq!(total, DEFAULT_RECORDS, "sample record count");
    }
    eprintln!("{total} records in {} files round-trip", files.len());
}

#[test]
fn sample_lookup_attributes() {
    // Spot checks of the LookupEvents helpers against the quirks SOURCES.md describes.
    let (files, _) = load_samples();
    let mut typeless = 0;
    let mut assumed = 0;
    for (_, text) in &files {
        let file: TypedLogFile = serde_json::from_str(text).unwrap();
        for r in &file.records {
            let Some(id) = r.user_identity.get() else {
                continue;
            };
            match id.identity_type.as_str() {
                None => {
                    typeless += 1;
                    assert_eq!(r.lookup_username().as_deref(), id.invoked_by.as_str());
                }
                Some("AssumedRole") => {
                    assumed += 1;
                    let name = r.lookup_username().expect("assumed role session name");
                    // The session name ends the ARN, or (4 records whose ARN the publisher
                    // anonymized down to `assumed-role/<one segment>`) ends `principalId`.
                    let arn = id.arn.as_str().unwrap();
                    let principal = id.principal_id.as_str().unwrap();
                    assert!(
                        arn.ends_with(&format!("/{name}"))
                            || principal.ends_with(&format!(":{name}")),
                        "{arn} / {principal} -> {name}"
                    );
                }
                Some("IAMUser") => {
                    assert_eq!(r.lookup_username().as_deref(), id.user_name.as_str());
                }
                _ => {}
            }
            for (_, name) in r.lookup_resources() {
                assert!(!name.is_empty() && !name.starts_with("arn:"), "{name}");
            }
        }
    }
    let (_, is_default) = samples_dir();
    if is_default {
        assert_eq!(
            typeless, 42,
            "AwsServiceEvent records without userIdentity.type"
        );
        assert_eq!(assumed, 76 + 68, "AssumedRole records");
    }
}

/// Rough parse throughput of `EventRecord::from_json` over the samples (compare with parsing
/// into `serde_json::Value`). Run in release mode with `--ignored --nocapture`.
#[test]
#[ignore = "measurement, run explicitly in release mode"]
fn measure_from_json_throughput() {
    let (files, _) = load_samples();
    let records: Vec<String> = files
        .iter()
        .flat_map(|(_, text)| {
            let file: Value = serde_json::from_str(text).unwrap();
            file["Records"]
                .as_array()
                .unwrap()
                .iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    let bytes: usize = records.iter().map(String::len).sum();

    fn run(records: &[String], mut parse: impl FnMut(&str) -> usize) -> (f64, Duration) {
        let mut rounds = 0usize;
        let start = Instant::now();
        let mut sink = 0usize;
        while start.elapsed() < Duration::from_secs(2) {
            for r in records {
                sink = sink.wrapping_add(parse(r));
            }
            rounds += 1;
        }
        let elapsed = start.elapsed();
        std::hint::black_box(sink);
        (
            (rounds * records.len()) as f64 / elapsed.as_secs_f64(),
            elapsed / rounds as u32,
        )
    }

    let (typed_rps, typed_round) = run(&records, |r| {
        let rec = EventRecord::from_json(std::hint::black_box(r)).unwrap();
        rec.extra.len()
    });
    let (value_rps, _) = run(&records, |r| {
        let v: Value = serde_json::from_str(std::hint::black_box(r)).unwrap();
        v.as_object().map_or(0, |o| o.len())
    });
    let (both_rps, _) = run(&records, |r| {
        let rec = EventRecord::from_json(r).unwrap();
        rec.to_json().len()
    });
    let mb = bytes as f64 / 1e6;
    let avg = bytes as f64 / records.len() as f64;
    eprintln!(
        "{} records, {mb:.1} MB, {avg:.0} B/record\n\
         EventRecord::from_json:       {typed_rps:>10.0} records/s ({:.0} MB/s; {typed_round:?} per pass)\n\
         serde_json::Value (baseline): {value_rps:>10.0} records/s ({:.0} MB/s)\n\
         from_json + to_json:          {both_rps:>10.0} records/s",
        records.len(),
        typed_rps * avg / 1e6,
        value_rps * avg / 1e6,
    );
}

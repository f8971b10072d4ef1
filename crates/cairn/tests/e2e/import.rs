//! `cairn import`: real CloudTrail log files into the event log — lossless, idempotent, bad
//! files reported without stopping the rest, safe beside a running server.

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use serde_json::value::RawValue;

use crate::util::{Server, attr, lookup_all, read_events};

const SAMPLE_FILES: usize = 90;
const SAMPLE_RECORDS: usize = 3210;

fn samples() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/cloudtrail-samples"
    ))
}

/// Every `.json.gz` under `dir`, sorted by path (the order `cairn import` walks a folder in).
fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_str().unwrap().ends_with(".json.gz") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn gunzip(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

/// The original text of every record of `files`, in order.
fn record_texts(files: &[PathBuf]) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct LogFile<'a> {
        #[serde(rename = "Records", borrow)]
        records: Vec<&'a RawValue>,
    }
    let mut out = Vec::new();
    for f in files {
        let text = gunzip(f);
        let file: LogFile<'_> = serde_json::from_str(&text).unwrap();
        out.extend(file.records.iter().map(|r| r.get().to_string()));
    }
    out
}

fn import(data_dir: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cairn"));
    cmd.arg("import").arg("--data-dir").arg(data_dir);
    for a in args {
        cmd.arg(a);
    }
    cmd.output().expect("cairn import runs")
}

/// stdout and stderr together.
fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn imports_every_sample_record_losslessly_and_only_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let files = log_files(&samples());
    assert_eq!(files.len(), SAMPLE_FILES);
    let originals = record_texts(&files);
    assert_eq!(originals.len(), SAMPLE_RECORDS);

    let before = now_ms();
    let out = import(&data, &[&samples()]);
    let after = now_ms();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(
        summary.contains("files: 90 imported")
            && summary.contains("records: 3210 added, 0 already present, 0 bad"),
        "{summary}"
    );

    let events = read_events(&data).await;
    assert_eq!(events.len(), SAMPLE_RECORDS);
    // In the order of the files (sorted by path) and of the records in each; seq from 1, no gap.
    for (i, ((event, value), original)) in events.iter().zip(&originals).enumerate() {
        assert_eq!(event.seq, i as u64 + 1);
        assert_eq!(&event.record_json, original, "stored text of record {i}");
        let original_value: Value = serde_json::from_str(original).unwrap();
        assert_eq!(value, &original_value);
        assert_eq!(event.event_id, original_value["eventID"].as_str().unwrap());
        // Marked imported: trails do not deliver these again.
        assert!(event.imported);
        // Retention counts from when Cairn received the event, not from its eventTime.
        assert!((before..=after).contains(&event.received_at_ms));
    }

    // Again: nothing added, the log unchanged.
    let out = import(&data, &[&samples()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("records: 0 added, 3210 already present, 0 bad"),
        "{}",
        text(&out)
    );
    let again = read_events(&data).await;
    assert_eq!(again.len(), SAMPLE_RECORDS);
    assert_eq!(again.last().unwrap().0.seq, SAMPLE_RECORDS as u64);

    // In many commits (each of whole files, at least 100 events), in the same order.
    let data = tmp.path().join("small-commits");
    let out = import(&data, &[&"--batch", &"100", &samples()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let ids: Vec<String> = read_events(&data)
        .await
        .into_iter()
        .map(|(event, _)| event.event_id)
        .collect();
    let expected: Vec<String> = events.iter().map(|(e, _)| e.event_id.clone()).collect();
    assert_eq!(ids, expected);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("records: 3210 added, 0 already present"),
        "{}",
        text(&out)
    );
}

/// Large files (encoded on their parse thread) between small ones (encoded together on the
/// committing side), in commits cut at file ends: every record once, in the files' order,
/// stored exactly.
#[tokio::test]
async fn large_and_small_files_keep_their_order_and_text() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = tmp.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let originals = record_texts(&log_files(&samples()));
    let mut texts = Vec::new();
    let mut n = 0;
    // Sizes around the point where a file is encoded on its own (256 events).
    for (f, size) in [3, 300, 2, 1, 700, 255, 256, 4].into_iter().enumerate() {
        let mut records = Vec::new();
        for _ in 0..size {
            let mut value: Value = serde_json::from_str(&originals[n % originals.len()]).unwrap();
            value["eventID"] = Value::String(format!("mixed-{n:05}"));
            let record = serde_json::to_string(&value).unwrap();
            texts.push(record.clone());
            records.push(record);
            n += 1;
        }
        let file = format!("{{\"Records\":[{}]}}", records.join(","));
        std::fs::write(logs.join(format!("{f:02}.json.gz")), gzip(file.as_bytes())).unwrap();
    }
    let data = tmp.path().join("data");
    let out = import(&data, &[&"--batch", &"250", &logs]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stored = read_events(&data).await;
    assert_eq!(stored.len(), texts.len());
    for (i, ((event, _), original)) in stored.iter().zip(&texts).enumerate() {
        assert_eq!(event.seq, i as u64 + 1);
        assert_eq!(event.event_id, format!("mixed-{i:05}"));
        assert_eq!(&event.record_json, original);
    }
}

#[tokio::test]
async fn bad_files_are_named_and_the_good_ones_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let input = tmp.path().join("input");
    let day = input.join("AWSLogs/111122223333/CloudTrail/us-east-1/2024/01/02");
    let digest_day = input.join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/01/02");
    std::fs::create_dir_all(&day).unwrap();
    std::fs::create_dir_all(&digest_day).unwrap();

    // Three good files.
    let good: Vec<PathBuf> = log_files(&samples()).into_iter().take(3).collect();
    for (i, f) in good.iter().enumerate() {
        std::fs::copy(f, day.join(format!("good-{i}.json.gz"))).unwrap();
    }
    let good_records = record_texts(&good);
    // Bad files.
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(day.join("random.json.gz"), &random).unwrap();
    let whole = std::fs::read(&good[0]).unwrap();
    std::fs::write(day.join("truncated.json.gz"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(
        day.join("not-json.json.gz"),
        gzip(b"this is not JSON at all\n"),
    )
    .unwrap();
    std::fs::write(day.join("no-records.json"), br#"{"records": []}"#).unwrap();
    // A good file with one bad record (not an object) among good ones.
    std::fs::write(
        input.join("mixed.json"),
        br#"{"Records":[{"eventID":"mixed-1","eventName":"A"}, 42, {"eventID":"mixed-2","eventName":"B"}]}"#,
    )
    .unwrap();
    // Digest files (they would fail as log files if they were not skipped) and other files.
    let digest = gzip(br#"{"awsAccountId":"111122223333","logFiles":[]}"#);
    std::fs::write(
        digest_day.join("111122223333_CloudTrail-Digest_us-east-1_t_20240102T000000Z.json.gz"),
        &digest,
    )
    .unwrap();
    std::fs::write(
        input.join("111122223333_CloudTrail-Digest_us-east-1_t_20240102T010000Z.json.gz"),
        &digest,
    )
    .unwrap();
    std::fs::write(day.join("good-0.json.gz.sha256"), b"abc").unwrap();
    std::fs::write(input.join("README.md"), b"# logs").unwrap();

    let out = import(&data, &[&input]);
    let all = text(&out);
    assert_eq!(out.status.code(), Some(1), "{all}");
    for bad in [
        "random.json.gz",
        "truncated.json.gz",
        "not-json.json.gz",
        "no-records.json",
    ] {
        assert!(
            all.lines()
                .any(|l| l.contains(&day.join(bad).display().to_string())),
            "{bad} is not named in:\n{all}"
        );
    }
    assert!(all.contains("not gzip"), "{all}");
    assert!(all.contains("not JSON"), "{all}");
    assert!(all.contains("not a CloudTrail log file"), "{all}");
    assert!(all.contains("mixed.json: record 2 skipped"), "{all}");
    assert!(!all.contains("Digest_us-east-1_t_2024"), "{all}");
    let expected = good_records.len() + 2;
    assert!(
        all.contains("files: 4 imported, 4 skipped (2 digest, 2 other), 4 failed")
            && all.contains(&format!(
                "records: {expected} added, 0 already present, 1 bad"
            )),
        "{all}"
    );

    let events = read_events(&data).await;
    assert_eq!(events.len(), expected);
    let stored: HashSet<&str> = events.iter().map(|(e, _)| e.record_json.as_str()).collect();
    for r in &good_records {
        assert!(stored.contains(r.as_str()));
    }
    let ids: HashSet<&str> = events.iter().map(|(e, _)| e.event_id.as_str()).collect();
    assert!(ids.contains("mixed-1") && ids.contains("mixed-2"));
}

#[tokio::test]
async fn records_without_an_event_id_get_a_stable_key_and_stay_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = tmp.path().join("plain-array.json");
    // A plain array (the stratus samples' original form), pretty-printed, one record without
    // an eventID and one with an empty one.
    let input = "[\n  {\"eventName\": \"NoId\",  \"eventTime\": \"2024-01-02T03:04:05Z\"},\n  {\"eventID\": \"\", \"eventName\": \"EmptyId\"}\n]\n";
    std::fs::write(&file, input).unwrap();
    for round in 0..2 {
        let out = import(&data, &[&file]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let added = if round == 0 { 2 } else { 0 };
        assert!(
            text(&out).contains(&format!("records: {added} added")),
            "{}",
            text(&out)
        );
    }
    let events = read_events(&data).await;
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0].0.record_json,
        "{\"eventName\": \"NoId\",  \"eventTime\": \"2024-01-02T03:04:05Z\"}"
    );
    assert_eq!(
        events[1].0.record_json,
        "{\"eventID\": \"\", \"eventName\": \"EmptyId\"}"
    );
    for (e, _) in &events {
        assert!(e.event_id.starts_with("import-"), "{}", e.event_id);
        assert_eq!(e.event_id.len(), "import-".len() + 64);
    }
}

#[test]
fn a_file_over_the_size_limit_is_reported_not_read() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let file = &log_files(&samples())[0];
    let out = import(&data, &[&"--max-file-bytes", &"1000", file]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("larger than the limit of 1000 bytes"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains(&file.display().to_string()));
}

#[test]
fn a_store_that_cannot_be_opened_is_fatal() {
    let tmp = tempfile::tempdir().unwrap();
    let not_a_dir = tmp.path().join("file");
    std::fs::write(&not_a_dir, b"x").unwrap();
    let out = import(&not_a_dir, &[&samples()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("cairn: error:"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn importing_beside_a_running_server_keeps_it_serving_and_the_log_gapless() {
    let server = Server::start();
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let client = server.admin_client();
        let stop = stop.clone();
        clients.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let out = client
                    .list_trails()
                    .send()
                    .await
                    .expect("the server answers");
                use aws_sdk_cloudtrail::operation::RequestId as _;
                ids.push(out.request_id().unwrap().to_string());
            }
            ids
        }));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Small commits on one thread, so the import takes a while and interleaves with the calls.
    let data_dir = server.data_dir.clone();
    let out = tokio::task::spawn_blocking(move || {
        import(
            &data_dir,
            &[&"--batch", &"50", &"--threads", &"1", &samples()],
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    let mut answered = HashSet::new();
    for c in clients {
        answered.extend(c.await.unwrap());
    }
    // Still serving after the import.
    server
        .admin_client()
        .describe_trails()
        .send()
        .await
        .unwrap();

    let events = read_events(&server.data_dir).await;
    for (i, (e, _)) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "sequence numbers have no gap");
    }
    let by_id: HashMap<&str, u64> = events
        .iter()
        .map(|(e, _)| (e.event_id.as_str(), e.seq))
        .collect();
    let originals = record_texts(&log_files(&samples()));
    for r in &originals {
        let v: Value = serde_json::from_str(r).unwrap();
        assert!(by_id.contains_key(v["eventID"].as_str().unwrap()));
    }
    let api_seqs: Vec<u64> = events
        .iter()
        .filter(|(_, v)| answered.contains(v["requestID"].as_str().unwrap_or_default()))
        .map(|(e, _)| {
            assert!(
                !e.imported,
                "the server's own events are not marked imported"
            );
            e.seq
        })
        .collect();
    assert_eq!(
        api_seqs.len(),
        answered.len(),
        "every answered call is in the log"
    );
    assert_eq!(events.len(), SAMPLE_RECORDS + answered.len() + 1);
    // The calls went on while the import ran: some of their events sit between imported ones.
    let (first, last) = originals
        .iter()
        .map(|r| {
            let v: Value = serde_json::from_str(r).unwrap();
            by_id[v["eventID"].as_str().unwrap()]
        })
        .fold((u64::MAX, 0), |(lo, hi), s| (lo.min(s), hi.max(s)));
    assert!(
        api_seqs.iter().any(|s| (first..=last).contains(s)),
        "no call was answered while the import ran (imported seqs {first}..={last})"
    );

    // Both processes indexed the shared history (each its own durable part): lookups find
    // exactly the log's events, the server's own and the imported, none twice.
    let in_history = |v: &Value| {
        !matches!(
            v["eventCategory"].as_str(),
            Some("Data" | "NetworkActivity" | "Insight")
        )
    };
    let mut imported_names: HashMap<&str, usize> = HashMap::new();
    for (e, v) in &events {
        if e.imported && in_history(v) {
            *imported_names
                .entry(v["eventName"].as_str().unwrap_or_default())
                .or_default() += 1;
        }
    }
    let busiest_imported = imported_names
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
        .map(|(name, _)| *name)
        .expect("the samples hold history events");
    let client = server.admin_client();
    for name in ["ListTrails", busiest_imported] {
        let mut expected: Vec<&str> = events
            .iter()
            .filter(|(_, v)| in_history(v) && v["eventName"] == name)
            .map(|(e, _)| e.event_id.as_str())
            .collect();
        let found = lookup_all(
            &client,
            vec![attr(
                aws_sdk_cloudtrail::types::LookupAttributeKey::EventName,
                name,
            )],
        )
        .await;
        let mut found: Vec<&str> = found.iter().map(|e| e.event_id().unwrap()).collect();
        expected.sort_unstable();
        found.sort_unstable();
        assert!(!expected.is_empty(), "{name}");
        assert_eq!(found, expected, "LookupEvents EventName={name}");
    }
}

//! `cairn bench lookup`: LookupEvents latency at scale, through a real `cairn serve`.
//!
//! For each size it fills a store with that many events — the real sample records replicated
//! with fresh eventIDs and eventTimes spread evenly over 90 days — starts `cairn serve` on it
//! as a child process, and times sequential LookupEvents calls (one-day time range, values
//! drawn from the data) per attribute. It prints p50/p99 per attribute and the server's peak RSS.
//! A filled store is kept in the scratch dir and reused by the next run of the same size.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use cairn_core::record::{EventRecord, format_event_time};
use cairn_store::{Commit, EventIndex, NewEvent, SqliteStore, Store};
use chrono::{TimeZone, Utc};
use rand::Rng;
use serde_json::Value;

use super::client::{ChildServer, SignedClient, percentiles_ms};

/// The span eventTimes are spread over.
const SPAN_SECS: i64 = 90 * 86_400;
/// Start of that span.
fn span_start() -> i64 {
    Utc.with_ymd_and_hms(2026, 8, 1, 0, 0, 0)
        .unwrap()
        .timestamp()
}

/// One sample record and its index, the template for the generated events.
struct Template {
    record: Value,
    index: EventIndex,
}

pub async fn lookup(
    sizes: Vec<u64>,
    queries: usize,
    dir: PathBuf,
    samples: PathBuf,
) -> anyhow::Result<()> {
    let templates = load_templates(&samples)?;
    println!(
        "cairn bench lookup: {} sample records as templates, {queries} queries per attribute, one-day ranges",
        templates.len()
    );
    for size in sizes {
        let data_dir = dir.join(format!("lookup-{size}"));
        fill(&data_dir, size, &templates).await?;
        let server = ChildServer::start(&data_dir)?;
        let client = SignedClient::new(&server.endpoint);
        println!(
            "\n{size} events ({:.1} GB store):",
            store_size_gb(&data_dir)
        );
        println!("| attribute | p50 | p99 | mean events/page |");
        println!("|---|---:|---:|---:|");
        for (attr, values) in attribute_values(&templates) {
            let mut latencies = Vec::with_capacity(queries);
            let mut found = 0usize;
            for i in 0..queries {
                let value = &values[i % values.len()];
                let day = rand::rng().random_range(0..(SPAN_SECS / 86_400 - 1));
                let start = span_start() + day * 86_400;
                let mut body = serde_json::json!({"StartTime": start, "EndTime": start + 86_400 - 1, "MaxResults": 50});
                if let Some(attr) = attr {
                    body["LookupAttributes"] =
                        serde_json::json!([{"AttributeKey": attr, "AttributeValue": value}]);
                }
                let t = Instant::now();
                let reply = client.cloudtrail("LookupEvents", &body.to_string()).await?;
                latencies.push(t.elapsed());
                if reply.status != 200 {
                    bail!(
                        "LookupEvents failed: {} {}",
                        reply.status,
                        String::from_utf8_lossy(&reply.body)
                    );
                }
                let page: Value = serde_json::from_slice(&reply.body)?;
                found += page["Events"].as_array().map_or(0, Vec::len);
            }
            let (p50, p99) = percentiles_ms(&mut latencies);
            println!(
                "| {} | {p50:.2} ms | {p99:.2} ms | {:.1} |",
                attr.unwrap_or("(time range only)"),
                found as f64 / queries as f64
            );
        }
        match server.peak_rss_mib() {
            Some(mib) => println!("peak RSS of cairn serve: {mib:.0} MiB"),
            None => println!("peak RSS of cairn serve: unavailable (no /proc)"),
        }
    }
    Ok(())
}

fn store_size_gb(data_dir: &Path) -> f64 {
    ["events.db", "events.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(data_dir.join(f)).ok())
        .map(|m| m.len() as f64)
        .sum::<f64>()
        / 1e9
}

/// Every record of the sample logs, with its index.
fn load_templates(samples: &Path) -> anyhow::Result<Vec<Template>> {
    super::sample_records(samples)?
        .into_iter()
        .map(|record| {
            let parsed = EventRecord::from_value(record.clone())?;
            Ok(Template {
                index: EventIndex::of(&parsed),
                record,
            })
        })
        .collect()
}

/// Values to query per attribute, drawn from the templates (`None` = time range only).
fn attribute_values(templates: &[Template]) -> Vec<(Option<&'static str>, Vec<String>)> {
    let mut by: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    let mut push = |k: &'static str, v: Option<&String>| {
        if let Some(v) = v {
            by.entry(k).or_default().push(v.clone());
        }
    };
    for t in templates {
        push("EventName", t.index.event_name.as_ref());
        push("EventSource", t.index.event_source.as_ref());
        push("Username", t.index.username.as_ref());
        push("AccessKeyId", t.index.access_key_id.as_ref());
        for (kind, name) in &t.index.resources {
            push("ResourceName", Some(name));
            push("ResourceType", kind.as_ref());
        }
    }
    let mut out: Vec<(Option<&'static str>, Vec<String>)> = vec![(None, vec![String::new()])];
    for (k, mut v) in by {
        v.sort();
        v.dedup();
        out.push((Some(k), v));
    }
    out.push((Some("ReadOnly"), vec!["true".into(), "false".into()]));
    // EventId is not timed: generated ids are fresh UUIDs, and an id lookup is one unique-index
    // probe.
    out
}

/// Fills `data_dir` with `size` events unless a previous run already did.
async fn fill(data_dir: &Path, size: u64, templates: &[Template]) -> anyhow::Result<()> {
    let marker = data_dir.join("bench-filled");
    if std::fs::read_to_string(&marker).ok().as_deref() == Some(&size.to_string()) {
        return Ok(());
    }
    let _ = std::fs::remove_dir_all(data_dir);
    std::fs::create_dir_all(data_dir)?;
    let store = SqliteStore::open(&data_dir.join("events.db"))?;
    let started = Instant::now();
    let now_ms = Utc::now().timestamp_millis();
    const BATCH: u64 = 10_000;
    let mut i = 0u64;
    let mut pending = None;
    while i < size {
        let n = BATCH.min(size - i);
        let events: Vec<NewEvent> = (i..i + n)
            .map(|k| {
                let t = &templates[(k as usize) % templates.len()];
                let time = span_start() + (k as i128 * SPAN_SECS as i128 / size as i128) as i64;
                let id = uuid::Uuid::now_v7().to_string();
                let mut record = t.record.clone();
                record["eventID"] = Value::String(id.clone());
                record["eventTime"] =
                    Value::String(format_event_time(Utc.timestamp_opt(time, 0).unwrap()));
                let mut index = t.index.clone();
                index.event_time = Some(time);
                NewEvent {
                    event_id: id,
                    received_at_ms: now_ms,
                    index,
                    record_json: record.to_string(),
                }
            })
            .collect();
        // Overlap building the next batch with committing this one.
        if let Some(p) = pending.take() {
            p.await??;
        }
        let s = store.clone();
        pending = Some(tokio::spawn(async move {
            s.commit(Commit::events(events)).await
        }));
        i += n;
        if i.is_multiple_of(1_000_000) {
            eprintln!(
                "  filled {i} of {size} ({:.0} events/s)",
                i as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    if let Some(p) = pending {
        p.await??;
    }
    // As `cairn import` does: leave no unindexed tail for the queries to scan.
    store.index_tail().await?;
    drop(store);
    std::fs::write(&marker, size.to_string())?;
    eprintln!(
        "  filled {size} events in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

//! `cairn bench put-audit-events`: application-event ingestion through a real `cairn serve`.
//!
//! Starts `cairn serve` as a child process on a fresh data dir, creates a `Custom` channel and
//! drives `PutAuditEvents` from `clients` concurrent tasks, each sending `events` events per
//! SigV4-signed call (service `cloudtrail-data`) and waiting for the answer — so every event
//! counted is validated, stored durably (fsync) together with the call's own audit event, and
//! acknowledged. Prints events/s, p50/p99 call latency and the server's CPU time per event
//! (user + system, all its threads: a figure that holds on a shared machine where events/s
//! does not), next to the CPU limit of the per-event work measured in this process on one core
//! (validation and record building, no HTTP, no store), and checks afterwards that the log
//! holds every acknowledged event.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use cairn_core::ingest::{Ingestion, stored_record, validate_event};
use cairn_store::{SqliteStore, Store};
use serde_json::{Value, json};

use super::client::{ChildServer, SignedClient, percentiles_ms};

/// The account of the child server (see [`ChildServer::start`]).
const ACCOUNT: &str = "123456789012";
/// Distinct request bodies each client cycles through.
const BODIES_PER_CLIENT: usize = 8;

/// Runs the benchmark and prints a Markdown table.
pub async fn put_audit_events(
    clients: usize,
    events: usize,
    duration: Duration,
    dir: PathBuf,
) -> anyhow::Result<()> {
    if !(1..=100).contains(&events) {
        bail!("--events must be between 1 and 100 (the PutAuditEvents limit)");
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let data_dir = dir.join(format!("put-audit-events-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let result = run(clients, events, duration, &data_dir).await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let _ = std::fs::remove_dir(&dir);
    result
}

async fn run(
    clients: usize,
    events: usize,
    duration: Duration,
    data_dir: &std::path::Path,
) -> anyhow::Result<()> {
    let server = ChildServer::start(data_dir)?;
    let client = SignedClient::new(&server.endpoint);
    let created = client
        .cloudtrail(
            "CreateChannel",
            &json!({"Name": "bench-app", "Source": "Custom", "Destinations": [{"Type": "EVENT_DATA_STORE", "Location": "eds-bench"}]})
                .to_string(),
        )
        .await?;
    if created.status != 200 {
        bail!(
            "CreateChannel failed: {} {}",
            created.status,
            String::from_utf8_lossy(&created.body)
        );
    }
    let channel_arn = serde_json::from_slice::<Value>(&created.body)?["ChannelArn"]
        .as_str()
        .context("CreateChannel answered no ChannelArn")?
        .to_string();
    let query = format!("channelArn={}", percent_encode(&channel_arn));
    let host = server.endpoint.trim_start_matches("http://").to_string();

    let sample = event_data(0, 0);
    println!(
        "cairn bench put-audit-events: {clients} clients, {events} events per call, {} s, eventData ~{} bytes, server {}",
        duration.as_secs(),
        sample.len(),
        server.endpoint
    );

    // Warm up: connections, the store's first pages.
    let warm = body(0, events);
    for _ in 0..clients {
        send(&client, &host, &query, &warm).await?;
    }

    let start = Instant::now();
    let deadline = start + duration;
    let accepted = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let client = client.clone();
        let query = query.clone();
        let host = host.clone();
        let accepted = accepted.clone();
        let bodies: Vec<Vec<u8>> = (0..BODIES_PER_CLIENT)
            .map(|b| body(c * BODIES_PER_CLIENT + b, events))
            .collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                send(&client, &host, &query, &bodies[i % bodies.len()]).await?;
                latencies.push(t.elapsed());
                accepted.fetch_add(events as u64, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let rss = server.peak_rss_mib();
    // Stopping the child adds its CPU time to ours as a waited-for child.
    drop(server);
    let server_cpu = super::cpu::children().map(|d| d.as_secs_f64());

    let accepted = accepted.load(Ordering::Relaxed);
    let calls = latencies.len();
    let (p50, p99) = percentiles_ms(&mut latencies);
    let cpu_limit = cpu_limit(events);
    let warm_events = (clients * events) as u64;
    let cpu_per_event = server_cpu.map_or("n/a".to_string(), |s| {
        format!("{:.1} µs", s * 1e6 / (accepted + warm_events) as f64)
    });
    println!(
        "| clients | events/call | calls | events/s | p50 call | p99 call | server CPU/event | 1-core validate+build limit, events/s |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {clients} | {events} | {calls} | {:.0} | {p50:.2} ms | {p99:.2} ms | {cpu_per_event} | {cpu_limit:.0} |",
        accepted as f64 / elapsed.as_secs_f64()
    );
    if let Some(mib) = rss {
        println!("peak RSS of cairn serve: {mib:.0} MiB");
    }

    // Every acknowledged event is in the log (plus one audit event per call and the CreateChannel).
    let store = SqliteStore::open(&data_dir.join("events.db"))?;
    let stored = store.last_seq().await?;
    let expected = accepted + warm_events + (calls + clients) as u64 + 1;
    println!("log check: {stored} events stored, {expected} expected");
    if stored != expected {
        bail!("the log holds {stored} events, {expected} were acknowledged");
    }
    Ok(())
}

/// Sends one call; fails unless every event was accepted.
async fn send(client: &SignedClient, host: &str, query: &str, body: &[u8]) -> anyhow::Result<()> {
    let headers = [("host", host), ("content-type", "application/json")];
    let reply = client
        .post("/PutAuditEvents", query, &headers, body, "cloudtrail-data")
        .await?;
    if reply.status != 200 || !reply.body.ends_with(b"\"failed\":[]}") {
        bail!(
            "PutAuditEvents failed: {} {}",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
    }
    Ok(())
}

/// A request body of `events` events; `n` makes the UIDs of each body distinct.
fn body(n: usize, events: usize) -> Vec<u8> {
    let audit_events: Vec<Value> = (0..events)
        .map(|i| json!({"id": format!("e{i}"), "eventData": event_data(n, i)}))
        .collect();
    json!({"auditEvents": audit_events})
        .to_string()
        .into_bytes()
}

/// One banking-application event (the seed's example), as eventData text.
fn event_data(n: usize, i: usize) -> String {
    let names = ["Login", "OpenAccount", "AccountChange", "Logout"];
    json!({
        "version": "1.0",
        "userIdentity": {"type": "Employee", "principalId": format!("{}", 660000 + i % 50), "details": {"branch": "Main Street"}},
        "userAgent": "bank-teller-app/4.2 (build 7731)",
        "eventSource": "banking.example.com",
        "eventName": names[i % names.len()],
        "eventTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string(),
        "UID": format!("{n:06}-{i:03}-9f2b2d3f4f1c9a77"),
        "requestParameters": {"customerId": "2134-9987645", "customerName": "John Smith", "mailPreference": {"from": "standard", "to": "electronic"}},
        "responseElements": {"accountId": "2134-9987645-01", "status": "OK"},
        "sourceIPAddress": "192.0.2.10",
        "recipientAccountId": ACCOUNT,
        "additionalEventData": {"terminal": "T-17", "sessionId": "c0ffee00-1234"}
    })
    .to_string()
}

/// Events/s one core manages for the per-event work of the handler: validation and building the
/// stored record (what the server does besides HTTP, SigV4, JSON framing and the store).
fn cpu_limit(events: usize) -> f64 {
    let texts: Vec<String> = (0..events).map(|i| event_data(0, i)).collect();
    let arn =
        "arn:aws:cloudtrail:us-east-1:123456789012:channel/00000000-0000-4000-8000-000000000000";
    let now = chrono::Utc::now();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(1) {
        for t in &texts {
            let accepted = validate_event(t, None, ACCOUNT).expect("the bench event is valid");
            let id = uuid::Uuid::now_v7().to_string();
            let record = stored_record(
                &accepted,
                t,
                &Ingestion {
                    event_id: &id,
                    region: "us-east-1",
                    channel_arn: arn,
                    ingestion_time: now,
                },
            );
            std::hint::black_box(record);
            n += 1;
        }
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// RFC 3986 percent-encoding of a query value.
fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

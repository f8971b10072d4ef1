//! Crash safety: SIGKILL under load loses no acknowledged event and leaves no gap.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use aws_sdk_cloudtrail::operation::RequestId;

use crate::util::{Server, read_events};

const CLIENTS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_under_load_loses_no_acknowledged_event() {
    let mut server = Server::start();
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let client = server.admin_client();
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            // Request ids this client got an answer for, in the order it got them.
            let mut answered = Vec::new();
            let mut i = 0usize;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let id = match i % 3 {
                    0 => answer(client.describe_trails().send().await),
                    1 => answer(client.list_trails().send().await),
                    // An error answer (400) is an answer too: its event must be there.
                    _ => answer(client.get_trail().name(format!("c{c}-{i}")).send().await),
                };
                match id {
                    Some(id) => answered.push(id),
                    None => break, // the server is gone
                }
            }
            answered
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let mut per_client = Vec::new();
    for t in tasks {
        per_client.push(t.await.unwrap());
    }
    let answered: usize = per_client.iter().map(Vec::len).sum();
    assert!(
        answered > 100,
        "the load was too light to mean anything: {answered} calls"
    );

    // The server restarts on the same data dir and keeps serving.
    server.start_again();
    server.admin_client().list_trails().send().await.unwrap();
    server.kill9();

    let events = read_events(&server.data_dir).await;
    let seqs: Vec<u64> = events.iter().map(|(e, _)| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "sequence numbers have no gaps"
    );
    let mut seq_of: HashMap<String, u64> = HashMap::new();
    for (e, v) in &events {
        let id = v["requestID"].as_str().unwrap().to_string();
        assert!(
            seq_of.insert(id.clone(), e.seq).is_none(),
            "request {id} recorded twice"
        );
    }
    let mut acknowledged = HashSet::new();
    for calls in &per_client {
        let mut last = 0;
        for id in calls {
            let seq = *seq_of
                .get(id)
                .unwrap_or_else(|| panic!("acknowledged call {id} has no event"));
            assert!(
                seq > last,
                "a client's calls are logged in the order they were answered"
            );
            last = seq;
            acknowledged.insert(id.clone());
        }
    }
    // Events without an answer can only be calls in flight at the kill (one per client at most),
    // plus the one call made after the restart.
    let unanswered = events.len() - acknowledged.len();
    eprintln!(
        "crash test: {answered} acknowledged calls, {} events, {unanswered} unanswered",
        events.len()
    );
    assert!(
        unanswered <= CLIENTS + 1,
        "{unanswered} events for calls nobody was answered"
    );
}

/// The request id of an answered call (success or a 4xx error); `None` if the connection failed.
fn answer<O: RequestId, E: RequestId>(
    result: Result<
        O,
        aws_sdk_cloudtrail::error::SdkError<E, aws_sdk_cloudtrail::config::http::HttpResponse>,
    >,
) -> Option<String> {
    let id = match &result {
        Ok(o) => o.request_id(),
        Err(e) => match e.raw_response() {
            Some(raw) if raw.status().as_u16() < 500 => e.request_id(),
            _ => return None,
        },
    };
    Some(id.expect("every answer carries a request id").to_string())
}

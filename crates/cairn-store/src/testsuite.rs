//! The conformance suite every [`Store`] implementation must pass.
//!
//! A backend invokes [`store_conformance_suite!`](crate::store_conformance_suite) with an async
//! function returning a fresh, empty store plus a guard that keeps its resources alive:
//!
//! ```ignore
//! cairn_store::store_conformance_suite!(open_fresh_store);
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::{
    CatalogWrite, Commit, DuplicateEvents, HistoryKind, LookupFilter, LookupQuery, NewEvent, Store,
    StoreErrorKind,
};

/// Expands to one `#[tokio::test]` per conformance check, each on a fresh store from `$open`.
#[macro_export]
macro_rules! store_conformance_suite {
    ($open:path) => {
        $crate::store_conformance_suite!(@tests $open;
            append_assigns_gapless_seqs_in_order,
            read_after_append_returns_records,
            commit_is_atomic_on_duplicate,
            duplicates_can_be_skipped,
            catalog_writes_commit_with_events,
            checkpoints_refuse_to_go_backwards,
            concurrent_commits_all_land_without_gaps,
            expiry_removes_only_old_processed_events,
            lookup_is_newest_first_with_inclusive_bounds,
            lookup_filters_combine_with_and,
            lookup_pages_stay_stable_while_events_arrive,
            lookup_keeps_histories_apart,
            consumers_start_at_their_commit_and_can_be_removed,
        );
    };
    (@tests $open:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $name() {
                let (store, _guard) = $open().await;
                $crate::testsuite::$name(std::sync::Arc::new(store)).await;
            }
        )*
    };
}

/// Sequence numbers start at 1 and grow by one per event, across commits.
pub async fn append_assigns_gapless_seqs_in_order(store: Arc<impl Store>) {
    assert_eq!(store.last_seq().await.unwrap(), 0);
    let r1 = store
        .commit(Commit::events(vec![
            NewEvent::for_test("a", "A"),
            NewEvent::for_test("b", "B"),
        ]))
        .await
        .unwrap();
    let r2 = store
        .commit(Commit::events(vec![NewEvent::for_test("c", "C")]))
        .await
        .unwrap();
    assert_eq!(r1.seqs, vec![Some(1), Some(2)]);
    assert_eq!(r2.seqs, vec![Some(3)]);
    assert_eq!(store.last_seq().await.unwrap(), 3);
}

/// What was appended can be read back, in order, and found by id.
pub async fn read_after_append_returns_records(store: Arc<impl Store>) {
    let events: Vec<_> = (0..10)
        .map(|i| NewEvent::for_test(&format!("e{i}"), "X"))
        .collect();
    store.commit(Commit::events(events.clone())).await.unwrap();
    let read = store.read_events(3, 4).await.unwrap();
    assert_eq!(
        read.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 5, 6, 7]
    );
    assert_eq!(read[0].event_id, "e3");
    assert_eq!(read[0].record_json, events[3].record_json);
    let found = store.event_by_id("e9").await.unwrap().unwrap();
    assert_eq!(found.seq, 10);
    assert!(store.event_by_id("nope").await.unwrap().is_none());
}

/// A commit whose second event duplicates a stored id leaves nothing behind — not even its
/// first event or its catalog writes — and does not consume sequence numbers.
pub async fn commit_is_atomic_on_duplicate(store: Arc<impl Store>) {
    store
        .commit(Commit::events(vec![NewEvent::for_test("dup", "A")]))
        .await
        .unwrap();
    let bad = Commit {
        events: vec![
            NewEvent::for_test("fresh", "B"),
            NewEvent::for_test("dup", "C"),
        ],
        catalog: vec![CatalogWrite::put("trail", "t1", "{}".into())],
        duplicates: DuplicateEvents::Reject,
        ..Commit::default()
    };
    let err = store.commit(bad).await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::DuplicateEvent);
    assert!(store.event_by_id("fresh").await.unwrap().is_none());
    assert!(store.catalog_get("trail", "t1").await.unwrap().is_none());
    let next = store
        .commit(Commit::events(vec![NewEvent::for_test("after", "D")]))
        .await
        .unwrap();
    assert_eq!(
        next.seqs,
        vec![Some(2)],
        "a rolled-back commit must not leave a seq gap"
    );
}

/// With [`DuplicateEvents::Skip`], known ids are skipped and the rest are appended.
pub async fn duplicates_can_be_skipped(store: Arc<impl Store>) {
    store
        .commit(Commit::events(vec![NewEvent::for_test("x", "A")]))
        .await
        .unwrap();
    let receipt = store
        .commit(Commit {
            events: vec![NewEvent::for_test("x", "A"), NewEvent::for_test("y", "B")],
            duplicates: DuplicateEvents::Skip,
            ..Commit::default()
        })
        .await
        .unwrap();
    assert_eq!(receipt.seqs, vec![None, Some(2)]);
    assert_eq!(store.last_seq().await.unwrap(), 2);
}

/// Catalog writes and deletes land with their commit.
pub async fn catalog_writes_commit_with_events(store: Arc<impl Store>) {
    store
        .commit(Commit {
            events: vec![NewEvent::for_test("e1", "CreateTrail")],
            catalog: vec![
                CatalogWrite::put("trail", "b", r#"{"n":"b"}"#.into()),
                CatalogWrite::put("trail", "a", r#"{"n":"a"}"#.into()),
                CatalogWrite::put("other", "a", "1".into()),
            ],
            ..Commit::default()
        })
        .await
        .unwrap();
    let list = store.catalog_list("trail").await.unwrap();
    assert_eq!(
        list,
        vec![
            ("a".into(), r#"{"n":"a"}"#.into()),
            ("b".into(), r#"{"n":"b"}"#.into())
        ]
    );
    store
        .commit(Commit {
            events: vec![NewEvent::for_test("e2", "DeleteTrail")],
            catalog: vec![CatalogWrite::delete("trail", "a")],
            ..Commit::default()
        })
        .await
        .unwrap();
    assert!(store.catalog_get("trail", "a").await.unwrap().is_none());
    assert_eq!(
        store.catalog_get("other", "a").await.unwrap().as_deref(),
        Some("1")
    );
}

/// A checkpoint moves only from where it is, never backwards, with its catalog writes.
pub async fn checkpoints_refuse_to_go_backwards(store: Arc<impl Store>) {
    assert_eq!(store.checkpoint("delivery/t1").await.unwrap(), 0);
    store
        .advance_checkpoint(
            "delivery/t1",
            0,
            5,
            vec![CatalogWrite::put("logfile", "k1", "{}".into())],
        )
        .await
        .unwrap();
    assert_eq!(store.checkpoint("delivery/t1").await.unwrap(), 5);
    assert!(store.catalog_get("logfile", "k1").await.unwrap().is_some());
    let stale = store
        .advance_checkpoint(
            "delivery/t1",
            0,
            9,
            vec![CatalogWrite::put("logfile", "k2", "{}".into())],
        )
        .await
        .unwrap_err();
    assert_eq!(stale.kind(), StoreErrorKind::CheckpointConflict);
    assert!(store.catalog_get("logfile", "k2").await.unwrap().is_none());
    let back = store
        .advance_checkpoint("delivery/t1", 5, 3, vec![])
        .await
        .unwrap_err();
    assert_eq!(back.kind(), StoreErrorKind::CheckpointConflict);
    assert_eq!(store.checkpoint("delivery/t1").await.unwrap(), 5);
    assert_eq!(store.checkpoint("delivery/other").await.unwrap(), 0);
}

/// Many concurrent writers: every acknowledged event is present exactly once, seqs are gapless,
/// and each writer's own events appear in the order it committed them.
pub async fn concurrent_commits_all_land_without_gaps(store: Arc<impl Store>) {
    let writers = 32;
    let per_writer = 40;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..per_writer {
                let r = store
                    .commit(Commit::events(vec![NewEvent::for_test(
                        &format!("w{w}-{i}"),
                        "X",
                    )]))
                    .await
                    .unwrap();
                seqs.push(r.seqs[0].unwrap());
            }
            seqs
        }));
    }
    let mut all = BTreeSet::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "a writer's events must stay in order"
        );
        all.extend(seqs);
    }
    let total = (writers * per_writer) as u64;
    assert_eq!(all.len() as u64, total);
    assert_eq!(
        all.iter().copied().collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    let read = store.read_events(0, 10_000).await.unwrap();
    assert_eq!(read.len() as u64, total);
}

/// Expiry deletes events received before the cut-off, oldest first, in batches, but never one a
/// consumer has not processed yet; later sequence numbers are unaffected.
pub async fn expiry_removes_only_old_processed_events(store: Arc<impl Store>) {
    let mut events = Vec::new();
    for i in 0..10 {
        let mut e = NewEvent::for_test(&format!("e{i}"), "X");
        e.received_at_ms = 1_000 * i64::from(i);
        events.push(e);
    }
    store.commit(Commit::events(events)).await.unwrap();
    // A consumer that has processed up to seq 4 protects seq 5 onwards.
    store
        .advance_checkpoint("delivery/t", 0, 4, vec![])
        .await
        .unwrap();
    assert_eq!(store.expire_events(7_500, 3).await.unwrap(), 3);
    assert_eq!(store.expire_events(7_500, 3).await.unwrap(), 1);
    assert_eq!(store.expire_events(7_500, 3).await.unwrap(), 0);
    let left: Vec<u64> = store
        .read_events(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, (5..=10).collect::<Vec<_>>());
    store
        .advance_checkpoint("delivery/t", 4, 10, vec![])
        .await
        .unwrap();
    assert_eq!(store.expire_events(7_500, 100).await.unwrap(), 4);
    let left: Vec<u64> = store
        .read_events(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(left, vec![9, 10]);
    assert!(store.event_by_id("e2").await.unwrap().is_none());
    let next = store
        .commit(Commit::events(vec![NewEvent::for_test("new", "X")]))
        .await
        .unwrap();
    assert_eq!(next.seqs, vec![Some(11)]);
}

/// A realistic record for lookup tests.
fn record(
    id: &str,
    name: &str,
    time: &str,
    user: &str,
    read_only: bool,
    resource: Option<(&str, &str)>,
) -> NewEvent {
    let mut r = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "userName": user, "accessKeyId": format!("AKIA{}", user.to_uppercase())},
        "eventTime": time,
        "eventSource": "iam.amazonaws.com",
        "eventName": name,
        "readOnly": read_only,
        "eventID": id,
        "eventCategory": "Management",
    });
    if let Some((kind, arn)) = resource {
        r["resources"] = serde_json::json!([{"type": kind, "ARN": arn}]);
    }
    NewEvent::from_record_value(&r, 0).unwrap()
}

fn query(filters: Vec<LookupFilter>) -> LookupQuery {
    LookupQuery {
        history: HistoryKind::Events,
        start_time: None,
        end_time: None,
        filters,
        before: None,
        limit: 50,
    }
}

async fn ids(store: &impl Store, q: LookupQuery) -> Vec<String> {
    store
        .lookup(q)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event.event_id)
        .collect()
}

/// Newest `eventTime` first (ties: later `seq` first); both time bounds are inclusive.
pub async fn lookup_is_newest_first_with_inclusive_bounds(store: Arc<impl Store>) {
    store
        .commit(Commit::events(vec![
            record("a", "GetUser", "2026-11-23T08:00:00Z", "alice", true, None),
            record("c", "GetUser", "2026-11-23T10:00:00Z", "alice", true, None),
            record("b", "GetUser", "2026-11-23T09:00:00Z", "alice", true, None),
            record("b2", "GetUser", "2026-11-23T09:00:00Z", "alice", true, None),
        ]))
        .await
        .unwrap();
    assert_eq!(ids(&*store, query(vec![])).await, vec!["c", "b2", "b", "a"]);
    let nine = 1_795_424_400; // 2026-11-23T09:00:00Z
    let mut q = query(vec![]);
    q.start_time = Some(nine);
    q.end_time = Some(nine);
    assert_eq!(ids(&*store, q).await, vec!["b2", "b"]);
    let mut q = query(vec![]);
    q.end_time = Some(nine - 1);
    assert_eq!(ids(&*store, q).await, vec!["a"]);
}

/// Each attribute filters; several filters must all hold.
pub async fn lookup_filters_combine_with_and(store: Arc<impl Store>) {
    store
        .commit(Commit::events(vec![
            record(
                "1",
                "CreateUser",
                "2026-11-23T08:00:01Z",
                "alice",
                false,
                Some(("AWS::IAM::User", "arn:aws:iam::1:user/bob")),
            ),
            record(
                "2",
                "GetUser",
                "2026-11-23T08:00:02Z",
                "alice",
                true,
                Some(("AWS::IAM::User", "arn:aws:iam::1:user/bob")),
            ),
            record(
                "3",
                "CreateUser",
                "2026-11-23T08:00:03Z",
                "carol",
                false,
                Some(("AWS::IAM::Role", "arn:aws:iam::1:role/ops")),
            ),
        ]))
        .await
        .unwrap();
    use LookupFilter::*;
    assert_eq!(
        ids(&*store, query(vec![EventName("CreateUser".into())])).await,
        vec!["3", "1"]
    );
    assert_eq!(
        ids(&*store, query(vec![Username("alice".into())])).await,
        vec!["2", "1"]
    );
    assert_eq!(ids(&*store, query(vec![ReadOnly(true)])).await, vec!["2"]);
    assert_eq!(
        ids(&*store, query(vec![EventId("3".into())])).await,
        vec!["3"]
    );
    assert_eq!(
        ids(&*store, query(vec![AccessKeyId("AKIACAROL".into())])).await,
        vec!["3"]
    );
    assert_eq!(
        ids(
            &*store,
            query(vec![EventSource("iam.amazonaws.com".into())])
        )
        .await
        .len(),
        3
    );
    assert_eq!(
        ids(&*store, query(vec![ResourceName("bob".into())])).await,
        vec!["2", "1"]
    );
    assert_eq!(
        ids(&*store, query(vec![ResourceType("AWS::IAM::Role".into())])).await,
        vec!["3"]
    );
    assert_eq!(
        ids(
            &*store,
            query(vec![
                EventName("CreateUser".into()),
                Username("alice".into())
            ])
        )
        .await,
        vec!["1"]
    );
    assert_eq!(
        ids(
            &*store,
            query(vec![
                ResourceName("bob".into()),
                ReadOnly(false),
                ResourceType("AWS::IAM::User".into())
            ])
        )
        .await,
        vec!["1"]
    );
    assert!(
        ids(&*store, query(vec![EventName("Nope".into())]))
            .await
            .is_empty()
    );
}

/// Paging with a cursor visits every event exactly once even when newer events are appended
/// between pages.
pub async fn lookup_pages_stay_stable_while_events_arrive(store: Arc<impl Store>) {
    let batch: Vec<_> = (0..25)
        .map(|i| {
            record(
                &format!("old{i:02}"),
                "GetUser",
                &format!("2026-11-23T08:00:{:02}Z", i / 2),
                "alice",
                true,
                None,
            )
        })
        .collect();
    store.commit(Commit::events(batch)).await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    for page in 0.. {
        let mut q = query(vec![]);
        q.limit = 7;
        q.before = before;
        let got = store.lookup(q).await.unwrap();
        // New events arrive between pages; they are newer and never show up in later pages.
        store
            .commit(Commit::events(vec![record(
                &format!("new{page}"),
                "GetUser",
                "2026-11-23T09:00:00Z",
                "alice",
                true,
                None,
            )]))
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        before = got.last().map(|e| (e.event_time, e.event.seq));
        seen.extend(got.into_iter().map(|e| e.event.event_id));
    }
    assert_eq!(seen.len(), 25);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 25, "no event twice");
    assert!(seen.iter().all(|id| id.starts_with("old")));
}

/// Insights and data events are kept apart from the management history.
pub async fn lookup_keeps_histories_apart(store: Arc<impl Store>) {
    let data = NewEvent::from_record_value(
        &serde_json::json!({"eventID": "d", "eventName": "GetObject", "eventTime": "2026-11-23T08:00:00Z", "eventCategory": "Data"}),
        0,
    )
    .unwrap();
    let insight = NewEvent::from_record_value(
        &serde_json::json!({"eventID": "i", "eventTime": "2026-11-23T08:00:00Z", "eventCategory": "Insight", "eventType": "AwsCloudTrailInsight"}),
        0,
    )
    .unwrap();
    let app = NewEvent::from_record_value(
        &serde_json::json!({"eventID": "app", "eventTime": "2026-11-23T08:00:00Z", "eventCategory": "ActivityAuditLog",
            "eventData": {"eventName": "OpenAccount", "eventSource": "bank.example", "userIdentity": {"type": "Employee", "principalId": "emp-7"}}}),
        0,
    )
    .unwrap();
    store
        .commit(Commit::events(vec![data, insight, app]))
        .await
        .unwrap();
    assert_eq!(ids(&*store, query(vec![])).await, vec!["app"]);
    let mut q = query(vec![]);
    q.history = HistoryKind::Insights;
    assert_eq!(ids(&*store, q).await, vec!["i"]);
    assert_eq!(
        ids(&*store, query(vec![LookupFilter::Username("emp-7".into())])).await,
        vec!["app"]
    );
    assert_eq!(
        ids(
            &*store,
            query(vec![LookupFilter::EventName("OpenAccount".into())])
        )
        .await,
        vec!["app"]
    );
}

/// A consumer started by a commit begins just before that commit's events; removing it frees
/// retention.
pub async fn consumers_start_at_their_commit_and_can_be_removed(store: Arc<impl Store>) {
    store
        .commit(Commit::events(vec![
            NewEvent::for_test("a", "X"),
            NewEvent::for_test("b", "X"),
        ]))
        .await
        .unwrap();
    let create = Commit {
        events: vec![NewEvent::for_test("create", "CreateTrail")],
        start_consumers: vec!["delivery/t".into()],
        ..Commit::default()
    };
    store.commit(create).await.unwrap();
    assert_eq!(
        store.checkpoint("delivery/t").await.unwrap(),
        2,
        "starts just before the CreateTrail event"
    );
    store
        .advance_checkpoint("delivery/t", 2, 3, vec![])
        .await
        .unwrap();
    // Starting again does not move an existing consumer.
    let again = Commit {
        events: vec![NewEvent::for_test("c", "X")],
        start_consumers: vec!["delivery/t".into()],
        ..Commit::default()
    };
    store.commit(again).await.unwrap();
    assert_eq!(store.checkpoint("delivery/t").await.unwrap(), 3);
    store.remove_checkpoint("delivery/t").await.unwrap();
    assert_eq!(store.checkpoint("delivery/t").await.unwrap(), 0);
    // With no consumer left, nothing holds back expiry.
    assert_eq!(store.expire_events(1, 100).await.unwrap(), 4);
}

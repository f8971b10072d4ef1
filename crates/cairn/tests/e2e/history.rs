//! Event history: LookupEvents over the self-audit log, driven by the SDK and the CLI.

use std::collections::HashSet;

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{Event, LookupAttributeKey};

use crate::util::{Server, attr, call, lookup_all};

fn names(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.event_name().unwrap()).collect()
}

/// An admin and an auditor make a few calls; returns (server, auditor key).
async fn seeded() -> (Server, (String, String)) {
    let server = Server::start();
    server.create_bucket("history-logs");
    let auditor = server.add_user("auditor1", "auditor");
    let admin = server.admin_client();
    admin
        .create_trail()
        .name("hist-trail")
        .s3_bucket_name("history-logs")
        .send()
        .await
        .unwrap();
    admin
        .start_logging()
        .name("hist-trail")
        .send()
        .await
        .unwrap();
    let ro = server.client(&auditor.0, &auditor.1);
    ro.describe_trails().send().await.unwrap();
    ro.get_trail_status()
        .name("hist-trail")
        .send()
        .await
        .unwrap();
    (server, auditor)
}

#[tokio::test]
async fn every_lookup_attribute_finds_its_events() {
    let (server, auditor) = seeded().await;
    let ct = server.admin_client();
    use LookupAttributeKey::*;

    let by_user = lookup_all(&ct, vec![attr(Username, "auditor1")]).await;
    assert_eq!(
        names(&by_user),
        vec!["GetTrailStatus", "DescribeTrails"],
        "newest first"
    );
    assert!(by_user.iter().all(|e| e.read_only() == Some("true")));
    assert_eq!(by_user[0].access_key_id(), Some(auditor.0.as_str()));
    assert_eq!(by_user[0].event_source(), Some("cloudtrail.amazonaws.com"));

    let by_key = lookup_all(&ct, vec![attr(AccessKeyId, &auditor.0)]).await;
    assert_eq!(names(&by_key), names(&by_user));

    let created = lookup_all(&ct, vec![attr(EventName, "CreateTrail")]).await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].username(), Some("root"));
    // CloudTrailEvent is the whole stored record.
    let record: serde_json::Value =
        serde_json::from_str(created[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(record["eventName"], "CreateTrail");
    assert_eq!(record["requestParameters"]["name"], "hist-trail");
    assert_eq!(record["eventID"], created[0].event_id().unwrap());
    let stored = server.events().await;
    let (raw, _) = stored
        .iter()
        .find(|(e, _)| e.event_id == created[0].event_id().unwrap())
        .unwrap();
    assert_eq!(
        raw.record_json,
        created[0].cloud_trail_event().unwrap(),
        "the record text, unchanged"
    );

    let by_id = lookup_all(&ct, vec![attr(EventId, created[0].event_id().unwrap())]).await;
    assert_eq!(names(&by_id), vec!["CreateTrail"]);

    let writes = lookup_all(&ct, vec![attr(ReadOnly, "false")]).await;
    assert_eq!(names(&writes), vec!["StartLogging", "CreateTrail"]);

    let by_type = lookup_all(&ct, vec![attr(ResourceType, "AWS::CloudTrail::Trail")]).await;
    assert_eq!(names(&by_type), vec!["StartLogging", "CreateTrail"]);
    let resources = by_type[0].resources();
    assert_eq!(resources[0].resource_type(), Some("AWS::CloudTrail::Trail"));
    assert_eq!(resources[0].resource_name(), Some("hist-trail"));
    let by_name = lookup_all(&ct, vec![attr(ResourceName, "hist-trail")]).await;
    assert_eq!(names(&by_name), names(&by_type));

    let by_source = lookup_all(&ct, vec![attr(EventSource, "cloudtrail.amazonaws.com")]).await;
    assert!(by_source.len() >= 4);

    // Beyond AWS: several attributes combine with AND.
    let both = lookup_all(&ct, vec![attr(Username, "root"), attr(ReadOnly, "false")]).await;
    assert_eq!(names(&both), vec!["StartLogging", "CreateTrail"]);
    let none = lookup_all(
        &ct,
        vec![attr(Username, "auditor1"), attr(ReadOnly, "false")],
    )
    .await;
    assert!(none.is_empty());
}

#[tokio::test]
async fn time_bounds_are_inclusive() {
    let (server, _) = seeded().await;
    let ct = server.admin_client();
    let created = lookup_all(
        &ct,
        vec![attr(LookupAttributeKey::EventName, "CreateTrail")],
    )
    .await;
    let t = created[0].event_time().unwrap().secs();
    let at = |s: i64| DateTime::from_secs(s);
    let exact = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateTrail"))
        .start_time(at(t))
        .end_time(at(t))
        .send()
        .await
        .unwrap();
    assert_eq!(exact.events().len(), 1);
    let before = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateTrail"))
        .end_time(at(t - 1))
        .send()
        .await
        .unwrap();
    assert!(before.events().is_empty());
    let after = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateTrail"))
        .start_time(at(t + 1))
        .send()
        .await
        .unwrap();
    assert!(after.events().is_empty());
}

#[tokio::test]
async fn pages_are_stable_while_events_arrive() {
    let server = Server::start();
    let ct = server.admin_client();
    for _ in 0..20 {
        ct.list_trails().send().await.unwrap();
    }
    // Page through ListTrails events three at a time while more calls are made between pages.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = ct
            .lookup_events()
            .lookup_attributes(attr(LookupAttributeKey::EventName, "ListTrails"))
            .max_results(3)
            .set_next_token(token.clone())
            .send()
            .await
            .unwrap();
        ct.list_trails().send().await.unwrap();
        seen.extend(
            page.events()
                .iter()
                .map(|e| e.event_id().unwrap().to_string()),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        20,
        "exactly the events that existed when paging began"
    );
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 20, "none twice");
}

#[tokio::test]
async fn lookup_errors() {
    let server = Server::start();
    let ct = server.admin_client();
    let (k, s) = server.admin.clone();
    let bad_key = call(
        &server,
        &k,
        &s,
        "LookupEvents",
        r#"{"LookupAttributes":[{"AttributeKey":"Color","AttributeValue":"red"}]}"#,
    )
    .await;
    assert_eq!(bad_key.error_type(), "InvalidLookupAttributesException");
    let err = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::ReadOnly, "maybe"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidLookupAttributesException"));
    let long = "_".repeat(1001);
    let err = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, &long))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidLookupAttributesException"));
    let err = ct
        .lookup_events()
        .start_time(DateTime::from_secs(2_000_000_000))
        .end_time(DateTime::from_secs(1_000_000_000))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidTimeRangeException"));
    let err = ct.lookup_events().max_results(51).send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidMaxResultsException"));
    let err = ct
        .lookup_events()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidNextTokenException"));
    let bad_category = call(
        &server,
        &k,
        &s,
        "LookupEvents",
        r#"{"EventCategory":"Insight"}"#,
    )
    .await;
    assert_eq!(bad_category.error_type(), "InvalidEventCategoryException");
    let insight_user = call(
        &server,
        &k,
        &s,
        "LookupEvents",
        r#"{"EventCategory":"insight","LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"x"}]}"#,
    )
    .await;
    assert_eq!(
        insight_user.error_type(),
        "InvalidLookupAttributesException"
    );
    // A token is bound to its query.
    for _ in 0..3 {
        ct.list_trails().send().await.unwrap();
    }
    let page = ct.lookup_events().max_results(1).send().await.unwrap();
    let token = page.next_token().unwrap();
    let err = ct
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "ListTrails"))
        .next_token(token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidNextTokenException"));
    // Insights: none yet, and the category filter works.
    let insights = call(
        &server,
        &k,
        &s,
        "LookupEvents",
        r#"{"EventCategory":"insight"}"#,
    )
    .await;
    assert_eq!(insights.body["Events"], serde_json::json!([]));
}

#[tokio::test]
async fn lookups_can_be_throttled_when_configured() {
    let server = Server::start_with(&["--lookup-requests-per-second", "1"]);
    let ct = server.admin_client();
    ct.lookup_events().send().await.unwrap();
    let err = ct.lookup_events().send().await.unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn lookup_events_with_the_aws_cli() {
    let (server, _) = seeded().await;
    let (k, s) = server.admin.clone();
    let out = crate::awscli::aws(
        &server,
        &k,
        &s,
        &[
            "cloudtrail",
            "lookup-events",
            "--lookup-attributes",
            "AttributeKey=Username,AttributeValue=auditor1",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<_> = body["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["GetTrailStatus", "DescribeTrails"]);
    // Auto-pagination with a small page size still finds everything, in order.
    let out = crate::awscli::aws(
        &server,
        &k,
        &s,
        &[
            "cloudtrail",
            "lookup-events",
            "--page-size",
            "1",
            "--lookup-attributes",
            "AttributeKey=ReadOnly,AttributeValue=false",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<_> = body["Events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["EventName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["StartLogging", "CreateTrail"]);
    let out = crate::awscli::aws(
        &server,
        &k,
        &s,
        &["cloudtrail", "lookup-events", "--max-results", "51"],
    );
    assert_eq!(out.status.code(), Some(255));
    assert!(String::from_utf8_lossy(&out.stderr).contains("InvalidMaxResultsException"));
}

#[tokio::test]
async fn cairn_lookup_prints_table_json_and_csv() {
    let (server, _) = seeded().await;
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
            .arg("lookup")
            .args(args)
            .arg("--data-dir")
            .arg(&server.data_dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let table = run(&["-a", "Username=auditor1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("EVENT TIME"));
    assert_eq!(lines.len(), 3, "{table}");
    assert!(lines[1].contains("GetTrailStatus") && lines[2].contains("DescribeTrails"));

    let json: serde_json::Value =
        serde_json::from_str(&run(&["-a", "EventName=CreateTrail", "--output", "json"])).unwrap();
    assert_eq!(json["Events"].as_array().unwrap().len(), 1);
    assert_eq!(json["Events"][0]["requestParameters"]["name"], "hist-trail");

    let csv = run(&[
        "-a",
        "ReadOnly=false",
        "-a",
        "Username=root",
        "--output",
        "csv",
    ]);
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(
        rows[0],
        "Event ID,Event time,User name,Event name,Event source,Read only,AWS access key,Resources"
    );
    assert_eq!(rows.len(), 3);
    assert!(
        rows[1].contains(",StartLogging,") && rows[1].contains("AWS::CloudTrail::Trail:hist-trail")
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["lookup", "-a", "Color=red", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown attribute"));
}

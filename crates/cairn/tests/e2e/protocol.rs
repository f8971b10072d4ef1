//! The AWS JSON 1.1 edge: dispatch, error shapes, request ids, body limits.

use aws_sdk_cloudtrail::operation::RequestId;

use crate::util::{Server, call, raw_post, target};

#[tokio::test]
async fn sdk_calls_succeed_and_answer_empty_catalog() {
    let server = Server::start();
    let client = server.admin_client();
    let described = client.describe_trails().send().await.unwrap();
    assert_eq!(described.trail_list().len(), 0);
    assert!(described.request_id().is_some());
    let listed = client.list_trails().send().await.unwrap();
    assert!(listed.trails().is_empty());
    assert!(listed.next_token().is_none());
    let err = client
        .get_trail()
        .name("missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_trail_not_found_exception(), "{err:?}");
    assert_eq!(
        aws_sdk_cloudtrail::error::ProvideErrorMetadata::message(&err),
        Some("Unknown trail: missing for the user: 123456789012")
    );
}

#[tokio::test]
async fn errors_have_aws_shape_headers_and_request_id() {
    let server = Server::start();
    let (k, s) = server.admin.clone();
    let resp = call(&server, &k, &s, "GetTrail", r#"{"Name":"nope"}"#).await;
    assert_eq!(resp.status, 400);
    assert_eq!(resp.error_type(), "TrailNotFoundException");
    assert_eq!(resp.headers["x-amzn-errortype"], "TrailNotFoundException");
    assert_eq!(resp.headers["content-type"], "application/x-amz-json-1.1");
    let request_id = resp.headers["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(request_id.len(), 36);
    let events = server.events().await;
    let event = crate::util::event_for_request(&events, &request_id);
    assert_eq!(event["errorCode"], "TrailNotFoundException");
}

#[tokio::test]
async fn unknown_operations_and_malformed_bodies() {
    let server = Server::start();
    let (k, s) = server.admin.clone();
    let unknown = call(&server, &k, &s, "FlyToTheMoon", "{}").await;
    assert_eq!(
        (unknown.status, unknown.error_type()),
        (400, "UnknownOperationException")
    );
    // PutAuditEvents is cloudtrail-data's, not a JSON 1.1 target.
    let wrong_api = call(&server, &k, &s, "PutAuditEvents", "{}").await;
    assert_eq!(wrong_api.error_type(), "UnknownOperationException");
    let malformed = call(&server, &k, &s, "DescribeTrails", "{\"trailNameList\": [").await;
    assert_eq!(
        (malformed.status, malformed.error_type()),
        (400, "SerializationException")
    );
    let not_object = call(&server, &k, &s, "DescribeTrails", "[]").await;
    assert_eq!(not_object.error_type(), "SerializationException");
    let wrong_type = call(&server, &k, &s, "GetTrail", r#"{"Name": 7}"#).await;
    assert_eq!(wrong_type.error_type(), "SerializationException");
    let not_yet = call(&server, &k, &s, "CreateEventDataStore", r#"{"Name":"x"}"#).await;
    assert_eq!(not_yet.error_type(), "UnsupportedOperationException");
    // The framing failures (no operation, unparsable JSON) reached no operation and were not
    // recorded; a wrongly typed member and an unsupported operation did reach one and were.
    let events = server.events().await;
    let recorded: Vec<_> = events
        .iter()
        .map(|(_, v)| {
            (
                v["eventName"].as_str().unwrap().to_string(),
                v["errorCode"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        recorded,
        vec![
            ("GetTrail".to_string(), "SerializationException".to_string()),
            (
                "CreateEventDataStore".to_string(),
                "UnsupportedOperationException".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused_with_a_clear_error() {
    let server = Server::start_with(&["--max-body-bytes", "1024"]);
    let (k, s) = server.admin.clone();
    let big = format!(r#"{{"trailNameList": ["{}"]}}"#, "a".repeat(4096));
    let resp = call(&server, &k, &s, "DescribeTrails", &big).await;
    assert_eq!(resp.status, 413);
    assert_eq!(resp.error_type(), "RequestEntityTooLargeException");
    assert!(resp.body["message"].as_str().unwrap().contains("1024"));
    // Unsigned too: the limit applies before authentication.
    let t = target("DescribeTrails");
    let unsigned = raw_post(
        &server.endpoint,
        "/",
        &[("x-amz-target", &t)],
        big.as_bytes(),
        None,
    )
    .await;
    assert_eq!(unsigned.status, 413);
}

#[tokio::test]
async fn unknown_paths_answer_json_errors() {
    let server = Server::start();
    let resp = raw_post(&server.endpoint, "/nothing/here", &[], b"", None).await;
    assert_eq!(resp.status, 404);
    assert_eq!(resp.error_type(), "UnknownOperationException");
}

//! SigV4 authentication and role-based authorization, each failure with AWS's exact error.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::operation::RequestId;

use crate::util::{Server, Signing, call, event_for_request, raw_post, target};

async fn describe_signed_as(server: &Server, signing: Signing<'_>) -> crate::util::RawResponse {
    let t = target("DescribeTrails");
    raw_post(
        &server.endpoint,
        "/",
        &[
            ("x-amz-target", &t),
            ("content-type", "application/x-amz-json-1.1"),
        ],
        b"{}",
        Some(signing),
    )
    .await
}

#[tokio::test]
async fn each_authentication_failure_has_its_aws_error() {
    let server = Server::start();
    let (key, secret) = server.admin.clone();
    let now = SystemTime::now();

    let t = target("DescribeTrails");
    let missing = raw_post(&server.endpoint, "/", &[("x-amz-target", &t)], b"{}", None).await;
    assert_eq!(
        (missing.status, missing.error_type()),
        (403, "MissingAuthenticationToken")
    );

    let incomplete = raw_post(
        &server.endpoint,
        "/",
        &[
            ("x-amz-target", &t),
            ("x-amz-date", "20261123T101010Z"),
            ("authorization", "AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20261123/us-east-1/cloudtrail/aws4_request"),
        ],
        b"{}",
        None,
    )
    .await;
    assert_eq!(
        (incomplete.status, incomplete.error_type()),
        (400, "IncompleteSignature")
    );

    let wrong_secret = describe_signed_as(
        &server,
        Signing {
            key: &key,
            secret: "not-the-secret",
            region: "us-east-1",
            service: "cloudtrail",
            time: now,
        },
    )
    .await;
    assert_eq!(
        (wrong_secret.status, wrong_secret.error_type()),
        (403, "InvalidSignatureException")
    );

    let unknown_key = describe_signed_as(
        &server,
        Signing {
            key: "AKIANOSUCHKEY0000000",
            secret: &secret,
            region: "us-east-1",
            service: "cloudtrail",
            time: now,
        },
    )
    .await;
    assert_eq!(
        (unknown_key.status, unknown_key.error_type()),
        (403, "UnrecognizedClientException")
    );

    let expired = describe_signed_as(
        &server,
        Signing {
            key: &key,
            secret: &secret,
            region: "us-east-1",
            service: "cloudtrail",
            time: now - Duration::from_secs(20 * 60),
        },
    )
    .await;
    assert_eq!(
        (expired.status, expired.error_type()),
        (400, "RequestExpired")
    );

    let wrong_region = describe_signed_as(
        &server,
        Signing {
            key: &key,
            secret: &secret,
            region: "eu-west-1",
            service: "cloudtrail",
            time: now,
        },
    )
    .await;
    assert_eq!(
        (wrong_region.status, wrong_region.error_type()),
        (403, "InvalidSignatureException")
    );

    let wrong_service = describe_signed_as(
        &server,
        Signing {
            key: &key,
            secret: &secret,
            region: "us-east-1",
            service: "cloudtrail-data",
            time: now,
        },
    )
    .await;
    assert_eq!(
        (wrong_service.status, wrong_service.error_type()),
        (403, "InvalidSignatureException")
    );

    // Every failure still carries a request id, and none reached an operation: nothing recorded.
    assert!(missing.headers.contains_key("x-amzn-requestid"));
    assert!(server.events().await.is_empty());

    // And the right signature works.
    let ok = describe_signed_as(
        &server,
        Signing {
            key: &key,
            secret: &secret,
            region: "us-east-1",
            service: "cloudtrail",
            time: now,
        },
    )
    .await;
    assert_eq!(ok.status, 200, "{:?}", ok.body);
}

#[tokio::test]
async fn sdk_sees_exact_error_codes() {
    let server = Server::start();
    let bad = server.client(&server.admin.0, "wrong-secret");
    let err = bad.describe_trails().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    assert!(err.request_id().is_some());
    let unknown = server.client("AKIAUNKNOWN000000000", "x");
    let err = unknown.list_trails().send().await.unwrap_err();
    assert_eq!(err.code(), Some("UnrecognizedClientException"));
    let other_region = server.client_in_region(&server.admin.0, &server.admin.1, "eu-central-1");
    let err = other_region.list_trails().send().await.unwrap_err();
    assert_eq!(err.code(), Some("InvalidSignatureException"));
    assert!(
        err.message().unwrap_or_default().contains("region"),
        "{:?}",
        err.message()
    );
}

#[tokio::test]
async fn an_auditor_is_denied_writes_and_the_denial_is_recorded() {
    let server = Server::start();
    let (key, secret) = server.add_user("auditor1", "auditor");
    let auditor = server.client(&key, &secret);

    // Reads are allowed.
    auditor.describe_trails().send().await.unwrap();

    let err = auditor
        .create_trail()
        .name("t1")
        .s3_bucket_name("b1")
        .send()
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("AccessDeniedException"));
    let denied_request = err.request_id().unwrap().to_string();
    assert!(
        err.message()
            .unwrap()
            .contains("arn:aws:iam::123456789012:user/auditor1")
    );

    let events = server.events().await;
    let event = event_for_request(&events, &denied_request);
    assert_eq!(event["eventName"], "CreateTrail");
    assert_eq!(event["errorCode"], "AccessDeniedException");
    assert_eq!(event["readOnly"], false);
    assert_eq!(event["userIdentity"]["type"], "IAMUser");
    assert_eq!(event["userIdentity"]["userName"], "auditor1");
    assert_eq!(event["userIdentity"]["accessKeyId"], key.as_str());
    assert_eq!(event["requestParameters"]["name"], "t1");
    assert_eq!(event["requestParameters"]["s3BucketName"], "b1");
    assert_eq!(event["responseElements"], serde_json::Value::Null);
}

#[tokio::test]
async fn the_ingest_role_may_not_read_and_removed_users_are_locked_out() {
    let server = Server::start();
    let (key, secret) = server.add_user("app", "ingest");
    let resp = call(&server, &key, &secret, "DescribeTrails", "{}").await;
    assert_eq!(resp.error_type(), "AccessDeniedException");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cairn"))
        .args(["users", "remove", "app", "--data-dir"])
        .arg(&server.data_dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    // The server re-reads the credentials file at most once a second.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let resp = call(&server, &key, &secret, "DescribeTrails", "{}").await;
    assert_eq!(resp.error_type(), "UnrecognizedClientException");
}

#[tokio::test]
async fn insecure_no_auth_serves_unsigned_calls_as_the_admin() {
    let server = Server::start_with(&["--insecure-no-auth"]);
    let t = target("DescribeTrails");
    let resp = raw_post(&server.endpoint, "/", &[("x-amz-target", &t)], b"{}", None).await;
    assert_eq!(resp.status, 200, "{:?}", resp.body);
    let events = server.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].1["userIdentity"]["type"], "Root");
}

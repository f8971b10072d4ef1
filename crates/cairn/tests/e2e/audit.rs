//! Self-audit: each call becomes one event with the fields a real CloudTrail event has.

use aws_sdk_cloudtrail::operation::RequestId;
use cairn_core::record::EventRecord;

use crate::util::{ACCOUNT, Server, event_for_request};

#[tokio::test]
async fn every_call_is_one_complete_management_event() {
    let server = Server::start();
    let client = server.admin_client();
    let ok = client
        .describe_trails()
        .trail_name_list("nosuchtrail")
        .include_shadow_trails(false)
        .send()
        .await
        .unwrap();
    let ok_id = ok.request_id().unwrap().to_string();
    let err = client.get_trail().name("nope").send().await.unwrap_err();
    let err_id = err.request_id().unwrap().to_string();

    let events = server.events().await;
    assert_eq!(events.len(), 2);
    let e = event_for_request(&events, &ok_id);
    assert_eq!(e["eventVersion"], "1.11");
    assert_eq!(e["eventSource"], "cloudtrail.amazonaws.com");
    assert_eq!(e["eventName"], "DescribeTrails");
    assert_eq!(e["awsRegion"], "us-east-1");
    assert_eq!(e["sourceIPAddress"], "127.0.0.1");
    assert!(
        e["userAgent"].as_str().unwrap().contains("aws-sdk-rust"),
        "{}",
        e["userAgent"]
    );
    assert_eq!(
        e["requestParameters"],
        serde_json::json!({"trailNameList": ["nosuchtrail"], "includeShadowTrails": false})
    );
    assert_eq!(e["responseElements"], serde_json::Value::Null);
    assert_eq!(e["readOnly"], true);
    assert_eq!(e["eventType"], "AwsApiCall");
    assert_eq!(e["managementEvent"], true);
    assert_eq!(e["eventCategory"], "Management");
    assert_eq!(e["recipientAccountId"], ACCOUNT);
    assert_eq!(e["userIdentity"]["type"], "Root");
    assert_eq!(
        e["userIdentity"]["arn"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(e["userIdentity"]["accountId"], ACCOUNT);
    assert_eq!(e["userIdentity"]["principalId"], ACCOUNT);
    assert_eq!(e["userIdentity"]["accessKeyId"], server.admin.0.as_str());
    assert_eq!(e["eventID"].as_str().unwrap().len(), 36);
    assert!(e.get("errorCode").is_none());
    assert!(
        e.get("tlsDetails").is_none(),
        "plain HTTP has no tlsDetails"
    );
    let time = EventRecord::from_json(&e.to_string())
        .unwrap()
        .event_time_utc()
        .unwrap();
    assert!((chrono::Utc::now() - time).num_seconds().abs() < 60);
    assert!(
        e["eventTime"].as_str().unwrap().ends_with('Z')
            && e["eventTime"].as_str().unwrap().len() == 20
    );

    let e = event_for_request(&events, &err_id);
    assert_eq!(e["errorCode"], "TrailNotFoundException");
    assert_eq!(
        e["errorMessage"],
        format!("Unknown trail: nope for the user: {ACCOUNT}")
    );

    // Field order follows CloudTrail's: the record text starts with eventVersion, userIdentity.
    let (stored, _) = &events[0];
    assert!(
        stored
            .record_json
            .starts_with(r#"{"eventVersion":"1.11","userIdentity":{"type":"Root""#),
        "{}",
        stored.record_json
    );
}

#[tokio::test]
async fn tls_calls_record_tls_details() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let server = Server::start_with(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(server.endpoint.starts_with("https://"));
    let out = crate::awscli::aws(
        &server,
        &server.admin.0,
        &server.admin.1,
        &["--no-verify-ssl", "cloudtrail", "list-trails"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = server.events().await;
    assert_eq!(events.len(), 1);
    let tls = &events[0].1["tlsDetails"];
    assert!(
        tls["tlsVersion"] == "TLSv1.3" || tls["tlsVersion"] == "TLSv1.2",
        "{tls}"
    );
    assert!(
        tls["cipherSuite"].as_str().unwrap().contains("AES")
            || tls["cipherSuite"].as_str().unwrap().contains("CHACHA")
    );
    let host = server.endpoint.trim_start_matches("https://");
    assert_eq!(tls["clientProvidedHostHeader"], host);
}

#[tokio::test]
async fn a_graceful_restart_keeps_keys_account_and_log() {
    let mut server = Server::start();
    server.admin_client().list_trails().send().await.unwrap();
    server.restart();
    server
        .admin_client()
        .describe_trails()
        .send()
        .await
        .unwrap();
    let events = server.events().await;
    let names: Vec<_> = events
        .iter()
        .map(|(e, v)| (e.seq, v["eventName"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        names,
        vec![
            (1, "ListTrails".to_string()),
            (2, "DescribeTrails".to_string())
        ]
    );
    assert!(
        events
            .iter()
            .all(|(_, v)| v["recipientAccountId"] == ACCOUNT)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&server.data_dir.join("credentials.json")), 0o600);
        assert_eq!(mode(&server.data_dir), 0o700);
    }
}

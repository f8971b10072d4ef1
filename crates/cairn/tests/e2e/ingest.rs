//! Channels and `PutAuditEvents` against a real server: the channel API through the AWS SDK for
//! Rust, ingestion through raw requests signed for `cloudtrail-data` and through the stock AWS
//! CLI (`aws cloudtrail-data put-audit-events`).

use std::process::Command;

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::types::{
    Destination, DestinationType, LookupAttribute, LookupAttributeKey, Tag,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::awscli::aws;
use crate::util::{ACCOUNT, RawResponse, Server, Signing, call, raw_post};

const ARN_PREFIX: &str = "arn:aws:cloudtrail:us-east-1:123456789012:channel/";

macro_rules! expect_err {
    ($call:expr, $code:expr) => {{
        let err = $call.send().await.expect_err(concat!("expected ", $code));
        assert_eq!(err.code().unwrap_or("<none>"), $code, "{:?}", err.message());
        err
    }};
}

fn eds(location: &str) -> Destination {
    Destination::builder()
        .r#type(DestinationType::EventDataStore)
        .location(location)
        .build()
        .unwrap()
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

/// Creates a `Custom` channel as the admin; returns its ARN.
async fn channel(server: &Server, name: &str) -> String {
    server
        .admin_client()
        .create_channel()
        .name(name)
        .source("Custom")
        .destinations(eds("eds-bank-audit"))
        .send()
        .await
        .unwrap()
        .channel_arn()
        .unwrap()
        .to_string()
}

/// RFC 3986 percent-encoding of a query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// base64 of the raw SHA-256 of `data` (what `openssl dgst -binary -sha256 | base64` prints).
fn checksum(data: &str) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let digest = Sha256::digest(data.as_bytes());
    let mut out = String::new();
    for c in digest.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                A[((n >> (18 - 6 * i)) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}

/// Sends `PutAuditEvents` signed for `cloudtrail-data` with the given query and body.
async fn put_raw(server: &Server, key: &(String, String), query: &str, body: &str) -> RawResponse {
    raw_post(
        &server.endpoint,
        &format!("/PutAuditEvents?{query}"),
        &[("content-type", "application/json")],
        body.as_bytes(),
        Some(Signing {
            key: &key.0,
            secret: &key.1,
            region: "us-east-1",
            service: "cloudtrail-data",
            time: std::time::SystemTime::now(),
        }),
    )
    .await
}

/// Sends `events` (`(id, eventData text, checksum?)`) to `channel_arn`.
async fn put(
    server: &Server,
    key: &(String, String),
    channel_arn: &str,
    events: &[(String, String, Option<String>)],
) -> RawResponse {
    let audit_events: Vec<Value> = events
        .iter()
        .map(|(id, data, sum)| {
            let mut e = json!({"id": id, "eventData": data});
            if let Some(sum) = sum {
                e["eventDataChecksum"] = json!(sum);
            }
            e
        })
        .collect();
    let query = format!("channelArn={}&externalId=bank-app-1", enc(channel_arn));
    put_raw(
        server,
        key,
        &query,
        &json!({"auditEvents": audit_events}).to_string(),
    )
    .await
}

/// A banking-application event by employee 667788, `minutes_ago` minutes ago.
fn bank_event(name: &str, uid: &str, minutes_ago: i64, extra: Value) -> Value {
    let time = (chrono::Utc::now() - chrono::Duration::minutes(minutes_ago))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let mut e = json!({
        "version": "1.0",
        "userIdentity": {"type": "Employee", "principalId": "667788", "details": {"branch": "Main Street"}},
        "userAgent": "bank-teller-app/4.2",
        "eventSource": "banking.example.com",
        "eventName": name,
        "eventTime": time,
        "UID": uid,
        "sourceIPAddress": "192.0.2.10",
        "recipientAccountId": ACCOUNT,
    });
    for (k, v) in extra.as_object().unwrap() {
        e[k] = v.clone();
    }
    e
}

/// The three events of the banking audit trail in the seed course notes.
fn banking_day() -> Vec<Value> {
    vec![
        bank_event("Login", "evt-0001", 5, json!({})),
        bank_event(
            "OpenAccount",
            "evt-0002",
            2,
            json!({"requestParameters": {"customerId": "2134-9987645", "customerName": "John Smith"},
                   "responseElements": {"accountId": "2134-9987645-01"}}),
        ),
        bank_event(
            "AccountChange",
            "evt-0003",
            0,
            json!({"requestParameters": {"customerId": "2134-9987645", "mailPreference": {"from": "standard", "to": "electronic"}}}),
        ),
    ]
}

/// The stored application events (`ActivityAuditLog`), in log order.
async fn ingested(server: &Server) -> Vec<Value> {
    server
        .events()
        .await
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["eventCategory"] == "ActivityAuditLog")
        .collect()
}

#[tokio::test]
async fn channel_lifecycle_with_the_sdk() {
    let server = Server::start();
    let ct = server.admin_client();

    let created = ct
        .create_channel()
        .name("bank-app")
        .source("Custom")
        .destinations(eds("eds-bank-audit"))
        .tags(tag("team", "core-banking"))
        .send()
        .await
        .unwrap();
    let arn = created.channel_arn().unwrap().to_string();
    let id = arn
        .strip_prefix(ARN_PREFIX)
        .expect("a channel ARN of this account and region")
        .to_string();
    assert_eq!(uuid::Uuid::parse_str(&id).unwrap().to_string(), id);
    assert_eq!(created.name(), Some("bank-app"));
    assert_eq!(created.source(), Some("Custom"));
    assert_eq!(created.destinations(), &[eds("eds-bank-audit")]);
    assert_eq!(created.tags(), &[tag("team", "core-banking")]);

    // By ARN and by id.
    for reference in [arn.as_str(), id.as_str()] {
        let got = ct.get_channel().channel(reference).send().await.unwrap();
        assert_eq!(got.channel_arn(), Some(arn.as_str()));
        assert_eq!(got.name(), Some("bank-app"));
        assert_eq!(got.source(), Some("Custom"));
        assert_eq!(got.destinations(), &[eds("eds-bank-audit")]);
        assert_eq!(
            got.source_config().unwrap().apply_to_all_regions(),
            Some(false)
        );
        let status = got.ingestion_status().unwrap();
        assert!(
            status.latest_ingestion_success_time().is_none(),
            "nothing ingested yet"
        );
    }

    let partner = ct
        .create_channel()
        .name("okta-logs")
        .source("Okta")
        .destinations(eds("eds-idp"))
        .send()
        .await
        .unwrap();
    let listed = ct.list_channels().send().await.unwrap();
    let mut names: Vec<&str> = listed
        .channels()
        .iter()
        .map(|c| c.name().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["bank-app", "okta-logs"]);
    assert!(listed.next_token().is_none());

    // One per page, following NextToken.
    let page1 = ct.list_channels().max_results(1).send().await.unwrap();
    assert_eq!(page1.channels().len(), 1);
    let token = page1.next_token().expect("a second page").to_string();
    let page2 = ct
        .list_channels()
        .max_results(1)
        .next_token(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(page2.channels().len(), 1);
    assert_ne!(
        page1.channels()[0].channel_arn(),
        page2.channels()[0].channel_arn()
    );
    assert!(page2.next_token().is_none());

    let updated = ct
        .update_channel()
        .channel(&arn)
        .name("bank-app-prod")
        .destinations(eds("eds-bank-audit"))
        .destinations(
            Destination::builder()
                .r#type(DestinationType::AwsService)
                .location("arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/mirror")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(updated.channel_arn(), Some(arn.as_str()));
    assert_eq!(updated.name(), Some("bank-app-prod"));
    assert_eq!(updated.source(), Some("Custom"));
    assert_eq!(updated.destinations().len(), 2);
    let got = ct.get_channel().channel(&id).send().await.unwrap();
    assert_eq!(got.name(), Some("bank-app-prod"));
    assert_eq!(got.destinations().len(), 2);
    // Renaming to its own name is fine.
    ct.update_channel()
        .channel(&arn)
        .name("bank-app-prod")
        .send()
        .await
        .unwrap();

    ct.delete_channel().channel(&id).send().await.unwrap();
    expect_err!(ct.get_channel().channel(&arn), "ChannelNotFoundException");
    let listed = ct.list_channels().send().await.unwrap();
    assert_eq!(listed.channels().len(), 1);
    assert_eq!(listed.channels()[0].channel_arn(), partner.channel_arn());

    // Every write recorded the channel as its resource.
    let events = server.events().await;
    let writes: Vec<&Value> = events
        .iter()
        .map(|(_, v)| v)
        .filter(|v| v["eventName"] == "UpdateChannel" || v["eventName"] == "DeleteChannel")
        .collect();
    assert_eq!(writes.len(), 3);
    for w in writes {
        assert_eq!(w["resources"][0]["type"], "AWS::CloudTrail::Channel");
        assert_eq!(w["resources"][0]["ARN"], arn.as_str());
    }
}

#[tokio::test]
async fn channel_errors() {
    let server = Server::start();
    let ct = server.admin_client();
    let arn = channel(&server, "bank-app").await;
    let id = arn.strip_prefix(ARN_PREFIX).unwrap();

    // Malformed references, then references to no channel of this account and region.
    for bad in [
        "not a channel!",
        "arn:aws:cloudtrail:us-east-1:123456789012:trail/bank-app",
        "arn:aws:cloudtrail:us-east-1:1234:channel/x",
    ] {
        expect_err!(ct.get_channel().channel(bad), "ChannelARNInvalidException");
        expect_err!(
            ct.delete_channel().channel(bad),
            "ChannelARNInvalidException"
        );
        expect_err!(
            ct.update_channel().channel(bad).name("x-y-z"),
            "ChannelARNInvalidException"
        );
    }
    for missing in [
        format!("{ARN_PREFIX}00000000-0000-4000-8000-000000000000"),
        "00000000-0000-4000-8000-000000000000".to_string(),
        format!("arn:aws:cloudtrail:eu-west-1:123456789012:channel/{id}"),
        format!("arn:aws:cloudtrail:us-east-1:210987654321:channel/{id}"),
    ] {
        expect_err!(
            ct.get_channel().channel(&missing),
            "ChannelNotFoundException"
        );
        expect_err!(
            ct.update_channel().channel(&missing).name("x-y-z"),
            "ChannelNotFoundException"
        );
        expect_err!(
            ct.delete_channel().channel(&missing),
            "ChannelNotFoundException"
        );
    }

    let create = |name: &str, source: &str| {
        ct.create_channel()
            .name(name)
            .source(source)
            .destinations(eds("eds-bank-audit"))
    };
    // Names.
    for bad in ["ab", "has space", &"n".repeat(129)] {
        expect_err!(create(bad, "Custom"), "InvalidParameterException");
    }
    expect_err!(
        ct.update_channel().channel(&arn).name("no/slash"),
        "InvalidParameterException"
    );
    expect_err!(
        create("bank-app", "Custom"),
        "ChannelAlreadyExistsException"
    );
    // Sources.
    for bad in ["custom", "two words", "-okta"] {
        expect_err!(create("other-app", bad), "InvalidSourceException");
    }
    create("okta-1", "Okta").send().await.unwrap();
    expect_err!(create("okta-2", "Okta"), "ChannelAlreadyExistsException");
    // Destinations.
    let dest = |kind: &str, location: &str| {
        Destination::builder()
            .r#type(DestinationType::from(kind))
            .location(location)
            .build()
            .unwrap()
    };
    for (kind, location) in [
        ("S3", "my-bucket"),
        ("EVENT_DATA_STORE", "ab"),
        ("AWS_SERVICE", "bad location"),
    ] {
        expect_err!(
            ct.create_channel()
                .name("other-app")
                .source("Custom")
                .destinations(dest(kind, location)),
            "InvalidParameterException"
        );
        expect_err!(
            ct.update_channel()
                .channel(&arn)
                .destinations(dest(kind, location)),
            "InvalidParameterException"
        );
    }
    // Destinations is required and may not be empty.
    let r = call(
        &server,
        &server.admin.0,
        &server.admin.1,
        "CreateChannel",
        r#"{"Name":"other-app","Source":"Custom","Destinations":[]}"#,
    )
    .await;
    assert_eq!(r.error_type(), "InvalidParameterException", "{:?}", r.body);
    // Tags.
    expect_err!(
        create("other-app", "Custom").tags(tag("aws:reserved", "x")),
        "InvalidTagParameterException"
    );
    let mut many = create("other-app", "Custom");
    for i in 0..51 {
        many = many.tags(tag(&format!("k{i}"), "v"));
    }
    expect_err!(many, "TagsLimitExceededException");
    // Renaming onto another channel's name.
    expect_err!(
        ct.update_channel().channel(&arn).name("okta-1"),
        "ChannelAlreadyExistsException"
    );

    // ListChannels tokens and page sizes.
    expect_err!(
        ct.list_channels().next_token("bm90LWEtdG9rZW4"),
        "InvalidNextTokenException"
    );
    let r = call(
        &server,
        &server.admin.0,
        &server.admin.1,
        "ListChannels",
        r#"{"NextToken":"ab"}"#,
    )
    .await;
    assert_eq!(r.error_type(), "InvalidNextTokenException");
    let r = call(
        &server,
        &server.admin.0,
        &server.admin.1,
        "ListChannels",
        r#"{"MaxResults":1001}"#,
    )
    .await;
    assert_eq!(r.error_type(), "ValidationException");

    // 25 channels per region.
    for i in 3..=25 {
        create(&format!("app-{i:02}"), "Custom")
            .send()
            .await
            .unwrap();
    }
    expect_err!(
        create("app-26", "Custom"),
        "ChannelMaxLimitExceededException"
    );
    assert_eq!(
        ct.list_channels().send().await.unwrap().channels().len(),
        25
    );
    // An auditor may read channels but not change them.
    let auditor = server.add_user("auditor1", "auditor");
    let ro = server.client(&auditor.0, &auditor.1);
    ro.get_channel().channel(&arn).send().await.unwrap();
    expect_err!(ro.delete_channel().channel(&arn), "AccessDeniedException");
}

#[tokio::test]
async fn banking_example_sent_by_an_ingest_user() {
    let server = Server::start();
    let arn = channel(&server, "bank-app").await;
    let ingest = server.add_user("bank-app-sender", "ingest");

    let day = banking_day();
    let texts: Vec<String> = day.iter().map(Value::to_string).collect();
    let events: Vec<(String, String, Option<String>)> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| (format!("bank-{}", i + 1), t.clone(), Some(checksum(t))))
        .collect();
    let r = put(&server, &ingest, &arn, &events).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.headers["content-type"], "application/json");
    assert_eq!(r.body["failed"], json!([]));
    let successful = r.body["successful"].as_array().unwrap();
    assert_eq!(successful.len(), 3);
    let request_id = r.headers["x-amzn-requestid"].to_str().unwrap().to_string();

    let log = server.events().await;
    let stored = ingested(&server).await;
    assert_eq!(stored.len(), 3);
    for (i, (record, sent)) in stored.iter().zip(&day).enumerate() {
        assert_eq!(successful[i]["id"], format!("bank-{}", i + 1));
        assert_eq!(successful[i]["eventID"], record["eventID"]);
        assert_eq!(record["eventData"], *sent, "eventData is kept as sent");
        assert_eq!(record["eventType"], "ActivityLog");
        assert_eq!(record["awsRegion"], "us-east-1");
        assert_eq!(record["recipientAccountId"], ACCOUNT);
        assert_eq!(record["metadata"]["channelARN"], arn.as_str());
        assert_eq!(
            record["eventTime"],
            format!("{}Z", sent["eventTime"].as_str().unwrap())
        );
        let ingestion_time = record["metadata"]["ingestionTime"].as_str().unwrap();
        assert!(
            ingestion_time.ends_with('Z') && ingestion_time.len() == 20,
            "{ingestion_time}"
        );
        assert_eq!(record["eventID"].as_str().unwrap().len(), 36);
    }
    // The stored text holds the caller's eventData bytes exactly.
    let (first, _) = log
        .iter()
        .find(|(_, v)| v["eventCategory"] == "ActivityAuditLog")
        .unwrap();
    assert!(
        first
            .record_json
            .ends_with(&format!("\"eventData\":{}}}", texts[0]))
    );

    // The call itself: one data event, after the events it delivered, naming the channel.
    let call_event = log
        .iter()
        .map(|(_, v)| v)
        .find(|v| v["requestID"] == request_id.as_str())
        .unwrap();
    let positions: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, (_, v))| {
            v["eventCategory"] == "ActivityAuditLog" || v["requestID"] == request_id.as_str()
        })
        .map(|(i, _)| i)
        .collect();
    assert_eq!(positions.len(), 4);
    assert_eq!(
        log[positions[3]].1["requestID"],
        request_id.as_str(),
        "the call's own event comes last"
    );
    assert_eq!(call_event["eventName"], "PutAuditEvents");
    assert_eq!(call_event["eventSource"], "cloudtrail-data.amazonaws.com");
    assert_eq!(call_event["eventCategory"], "Data");
    assert_eq!(call_event["managementEvent"], false);
    assert_eq!(call_event["userIdentity"]["userName"], "bank-app-sender");
    assert_eq!(
        call_event["requestParameters"],
        json!({"channelArn": arn, "externalId": "bank-app-1"})
    );
    assert_eq!(
        call_event["resources"],
        json!([{"accountId": ACCOUNT, "type": "AWS::CloudTrail::Channel", "ARN": arn}])
    );
    assert!(call_event.get("errorCode").is_none());

    // GetChannel reports the ingestion.
    let ct = server.admin_client();
    let got = ct.get_channel().channel(&arn).send().await.unwrap();
    let status = got.ingestion_status().unwrap();
    let last = successful[2]["eventID"].as_str().unwrap();
    assert_eq!(status.latest_ingestion_success_event_id(), Some(last));
    assert_eq!(status.latest_ingestion_attempt_event_id(), Some(last));
    assert!(status.latest_ingestion_error_code().is_none());
    let when = status.latest_ingestion_success_time().unwrap().secs();
    assert!((chrono::Utc::now().timestamp() - when).abs() < 60);

    // The event history finds them by name, source and user (principalId).
    let lookup = |key: LookupAttributeKey, value: &str| {
        ct.lookup_events()
            .lookup_attributes(
                LookupAttribute::builder()
                    .attribute_key(key)
                    .attribute_value(value)
                    .build()
                    .unwrap(),
            )
            .send()
    };
    let opened = lookup(LookupAttributeKey::EventName, "OpenAccount")
        .await
        .unwrap();
    assert_eq!(opened.events().len(), 1);
    assert_eq!(
        opened.events()[0].event_id(),
        successful[1]["eventID"].as_str()
    );
    let by_source = lookup(LookupAttributeKey::EventSource, "banking.example.com")
        .await
        .unwrap();
    assert_eq!(by_source.events().len(), 3);
    let by_employee = lookup(LookupAttributeKey::Username, "667788")
        .await
        .unwrap();
    assert_eq!(by_employee.events().len(), 3);
    let by_id = lookup(LookupAttributeKey::EventId, last).await.unwrap();
    let cloudtrail_event: Value =
        serde_json::from_str(by_id.events()[0].cloud_trail_event().unwrap()).unwrap();
    assert_eq!(
        cloudtrail_event["eventData"]["requestParameters"]["mailPreference"]["to"],
        "electronic"
    );
}

#[tokio::test]
async fn one_bad_event_never_blocks_the_good_ones() {
    let server = Server::start();
    let arn = channel(&server, "bank-app").await;
    let ingest = server.add_user("sender", "ingest");

    let good = |uid: &str| bank_event("Login", uid, 1, json!({}));
    let mut without_name = good("bad-2");
    without_name.as_object_mut().unwrap().remove("eventName");
    let mut without_principal = good("bad-3");
    without_principal["userIdentity"]
        .as_object_mut()
        .unwrap()
        .remove("principalId");
    let long_source = bank_event(
        "Login",
        "bad-4",
        1,
        json!({"eventSource": "s".repeat(1025)}),
    );
    let big_parameters = bank_event(
        "Login",
        "bad-5",
        1,
        json!({"requestParameters": {"blob": "x".repeat(100 * 1024)}}),
    );
    let other_account = bank_event(
        "Login",
        "bad-6",
        1,
        json!({"recipientAccountId": "210987654321"}),
    );
    let bad_time = bank_event(
        "Login",
        "bad-7",
        1,
        json!({"eventTime": "14/06/2022 08:03"}),
    );
    let good_text = good("good-3").to_string();

    let events: Vec<(String, String, Option<String>)> = vec![
        ("good-1".into(), good("good-1").to_string(), None),
        ("bad-1".into(), "this is not JSON".into(), None),
        ("bad-2".into(), without_name.to_string(), None),
        (
            "good-2".into(),
            good("good-2").to_string(),
            Some(checksum(&good("good-2").to_string())),
        ),
        ("bad-3".into(), without_principal.to_string(), None),
        ("bad-4".into(), long_source.to_string(), None),
        ("bad-5".into(), big_parameters.to_string(), None),
        ("bad-6".into(), other_account.to_string(), None),
        ("bad-7".into(), bad_time.to_string(), None),
        // The checksum of other bytes than the ones sent.
        (
            "bad-8".into(),
            good_text.clone(),
            Some(checksum(&format!("{good_text} "))),
        ),
        (
            "good-3".into(),
            good_text.clone(),
            Some(checksum(&good_text)),
        ),
    ];
    let r = put(&server, &ingest, &arn, &events).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let failed: Vec<(&str, &str)> = r.body["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["id"].as_str().unwrap(), f["errorCode"].as_str().unwrap()))
        .collect();
    assert_eq!(
        failed,
        [
            ("bad-1", "InvalidData"),
            ("bad-2", "FieldNotFound"),
            ("bad-3", "FieldNotFound"),
            ("bad-4", "FieldTooLong"),
            ("bad-5", "FieldTooLong"),
            ("bad-6", "InvalidRecipient"),
            ("bad-7", "InvalidData"),
            ("bad-8", "InvalidChecksum"),
        ]
    );
    for f in r.body["failed"].as_array().unwrap() {
        assert!(!f["errorMessage"].as_str().unwrap().is_empty());
    }
    assert!(
        r.body["failed"][1]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("eventName")
    );
    let ok: Vec<&str> = r.body["successful"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ok, ["good-1", "good-2", "good-3"]);

    let stored = ingested(&server).await;
    let uids: Vec<&str> = stored
        .iter()
        .map(|v| v["eventData"]["UID"].as_str().unwrap())
        .collect();
    assert_eq!(
        uids,
        ["good-1", "good-2", "good-3"],
        "exactly the good ones are stored"
    );

    // GetChannel shows the last success and the error code of the last refused event.
    let got = server
        .admin_client()
        .get_channel()
        .channel(&arn)
        .send()
        .await
        .unwrap();
    let status = got.ingestion_status().unwrap();
    assert_eq!(
        status.latest_ingestion_success_event_id(),
        r.body["successful"][2]["eventID"].as_str()
    );
    assert_eq!(
        status.latest_ingestion_error_code(),
        Some("InvalidChecksum")
    );

    // A call where everything fails still answers 200, keeps the last success, records the error.
    let last_success = r.body["successful"][2]["eventID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = put(
        &server,
        &ingest,
        &arn,
        &[("only".into(), "[]".into(), None)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["successful"], json!([]));
    assert_eq!(r.body["failed"][0]["errorCode"], "InvalidData");
    let got = server
        .admin_client()
        .get_channel()
        .channel(&arn)
        .send()
        .await
        .unwrap();
    let status = got.ingestion_status().unwrap();
    assert_eq!(
        status.latest_ingestion_success_event_id(),
        Some(last_success.as_str())
    );
    assert!(status.latest_ingestion_attempt_event_id().is_none());
    assert_eq!(status.latest_ingestion_error_code(), Some("InvalidData"));
    assert_eq!(ingested(&server).await.len(), 3);
}

#[tokio::test]
async fn whole_request_errors_store_nothing() {
    let server = Server::start();
    let arn = channel(&server, "bank-app").await;
    let id = arn.strip_prefix(ARN_PREFIX).unwrap().to_string();
    let ingest = server.add_user("sender", "ingest");
    let one = |uid: &str| {
        (
            uid.to_string(),
            bank_event("Login", uid, 0, json!({})).to_string(),
            None,
        )
    };

    let cases: Vec<(String, &str)> = vec![
        ("not-an-arn!!".into(), "InvalidChannelARN"),
        (
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/bank-app".into(),
            "InvalidChannelARN",
        ),
        (
            format!("{ARN_PREFIX}00000000-0000-4000-8000-000000000000"),
            "ChannelNotFound",
        ),
        (
            format!("arn:aws:cloudtrail:eu-west-1:123456789012:channel/{id}"),
            "ChannelNotFound",
        ),
        (
            format!("arn:aws:cloudtrail:us-east-1:210987654321:channel/{id}"),
            "ChannelInsufficientPermission",
        ),
    ];
    for (channel_arn, code) in &cases {
        let r = put(&server, &ingest, channel_arn, &[one("a")]).await;
        assert_eq!(
            (r.status, r.error_type()),
            (400, *code),
            "{channel_arn}: {:?}",
            r.body
        );
        assert_eq!(r.headers["x-amzn-errortype"], *code);
        assert!(!r.body["message"].as_str().unwrap().is_empty());
    }
    // The id alone works as channelArn.
    let r = put(&server, &ingest, &id, &[one("by-id")]).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(r.body["successful"][0]["id"], "by-id");

    let r = put(&server, &ingest, &arn, &[one("a"), one("b"), one("a")]).await;
    assert_eq!((r.status, r.error_type()), (400, "DuplicatedAuditEventId"));

    let many: Vec<_> = (0..101).map(|i| one(&format!("e{i}"))).collect();
    let r = put(&server, &ingest, &arn, &many).await;
    assert_eq!((r.status, r.error_type()), (400, "ValidationException"));
    assert!(
        r.body["message"].as_str().unwrap().contains("101"),
        "{:?}",
        r.body
    );

    // More than 1 MB of eventData (in 5 events of ~210 KB).
    let big: Vec<_> = (0..5)
        .map(|i| {
            let e = bank_event(
                "Upload",
                &format!("big-{i}"),
                0,
                json!({"padding": "p".repeat(210 * 1024)}),
            );
            (format!("big-{i}"), e.to_string(), None)
        })
        .collect();
    let r = put(&server, &ingest, &arn, &big).await;
    assert_eq!((r.status, r.error_type()), (400, "ValidationException"));
    assert!(
        r.body["message"].as_str().unwrap().contains("1 MB"),
        "{:?}",
        r.body
    );

    let r = put(
        &server,
        &ingest,
        &arn,
        &[("bad id!".into(), "{}".into(), None)],
    )
    .await;
    assert_eq!(r.error_type(), "ValidationException");
    let r = put_raw(&server, &ingest, "externalId=x1", r#"{"auditEvents":[]}"#).await;
    assert_eq!(
        r.error_type(),
        "ValidationException",
        "channelArn is required"
    );
    let query = format!("channelArn={}", enc(&arn));
    let r = put_raw(&server, &ingest, &query, "{}").await;
    assert_eq!(
        r.error_type(),
        "ValidationException",
        "auditEvents is required"
    );
    let r = put_raw(&server, &ingest, &query, r#"{"auditEvents":[{"id":"x"}]}"#).await;
    assert_eq!(
        r.error_type(),
        "ValidationException",
        "eventData is required"
    );
    let r = put_raw(
        &server,
        &ingest,
        &format!("{query}&externalId=a%20b"),
        &format!(
            "{{\"auditEvents\":[{{\"id\":\"x\",\"eventData\":{}}}]}}",
            json!(one("x").1)
        ),
    )
    .await;
    assert_eq!(r.error_type(), "ValidationException", "externalId pattern");
    let r = put_raw(
        &server,
        &ingest,
        &query,
        r#"{"auditEvents":[{"id":"x","eventData":{"version":"1"}}]}"#,
    )
    .await;
    assert_eq!(
        r.error_type(),
        "SerializationException",
        "eventData is a string"
    );
    let r = put_raw(&server, &ingest, &query, r#"{"auditEvents":["#).await;
    assert_eq!((r.status, r.error_type()), (400, "SerializationException"));

    // Only the by-id event was stored; every refused call except the unparsable body is recorded.
    assert_eq!(ingested(&server).await.len(), 1);
    let calls: Vec<Value> = server
        .events()
        .await
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["eventName"] == "PutAuditEvents")
        .collect();
    let codes: Vec<&str> = calls
        .iter()
        .map(|v| v["errorCode"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        codes,
        [
            "InvalidChannelARN",
            "InvalidChannelARN",
            "ChannelNotFound",
            "ChannelNotFound",
            "ChannelInsufficientPermission",
            "-",
            "DuplicatedAuditEventId",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "ValidationException",
            "SerializationException",
        ]
    );
    // Calls that got as far as a channel name it as their resource.
    assert!(calls[0].get("resources").is_none());
    assert_eq!(calls[6]["resources"][0]["ARN"], arn.as_str());
}

#[tokio::test]
async fn an_auditor_may_not_put_audit_events() {
    let server = Server::start();
    let arn = channel(&server, "bank-app").await;
    let auditor = server.add_user("auditor1", "auditor");
    let e = bank_event("Login", "a", 0, json!({}));
    let r = put(
        &server,
        &auditor,
        &arn,
        &[("a".into(), e.to_string(), None)],
    )
    .await;
    assert_eq!((r.status, r.error_type()), (400, "AccessDeniedException"));
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("cloudtrail-data:PutAuditEvents"),
        "{:?}",
        r.body
    );
    assert!(ingested(&server).await.is_empty());
    let denied: Vec<Value> = server
        .events()
        .await
        .into_iter()
        .map(|(_, v)| v)
        .filter(|v| v["eventName"] == "PutAuditEvents")
        .collect();
    assert_eq!(denied.len(), 1);
    assert_eq!(denied[0]["errorCode"], "AccessDeniedException");
    assert_eq!(denied[0]["userIdentity"]["userName"], "auditor1");
    assert_eq!(denied[0]["eventSource"], "cloudtrail-data.amazonaws.com");

    // A request signed for the wrong service never reaches the operation.
    let r = raw_post(
        &server.endpoint,
        &format!("/PutAuditEvents?channelArn={}", enc(&arn)),
        &[("content-type", "application/json")],
        br#"{"auditEvents":[]}"#,
        Some(Signing {
            key: &server.admin.0,
            secret: &server.admin.1,
            region: "us-east-1",
            service: "cloudtrail",
            time: std::time::SystemTime::now(),
        }),
    )
    .await;
    assert_eq!(
        (r.status, r.error_type()),
        (403, "InvalidSignatureException")
    );
}

#[tokio::test]
async fn put_audit_events_with_the_aws_cli() {
    let server = Server::start();
    let arn = channel(&server, "bank-app").await;
    let ingest = server.add_user("sender", "ingest");
    let day = banking_day();
    let audit_events: Vec<Value> = day
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let text = e.to_string();
            json!({"id": format!("cli-{i}"), "eventData": text, "eventDataChecksum": checksum(&text)})
        })
        .collect();
    let events_arg = Value::Array(audit_events).to_string();
    let out = aws(
        &server,
        &ingest.0,
        &ingest.1,
        &[
            "cloudtrail-data",
            "put-audit-events",
            "--channel-arn",
            &arn,
            "--external-id",
            "bank-app-1",
            "--audit-events",
            &events_arg,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["failed"], json!([]));
    assert_eq!(body["successful"].as_array().unwrap().len(), 3);
    let stored = ingested(&server).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(stored[2]["eventData"], day[2]);
    let call_event = server
        .events()
        .await
        .into_iter()
        .map(|(_, v)| v)
        .find(|v| v["eventName"] == "PutAuditEvents")
        .unwrap();
    assert!(
        call_event["userAgent"]
            .as_str()
            .unwrap()
            .starts_with("aws-cli/")
    );
    assert_eq!(call_event["requestParameters"]["externalId"], "bank-app-1");

    // The endpoint from AWS_ENDPOINT_URL_CLOUDTRAIL_DATA; a partial failure and a whole-request error.
    let cli = |args: &[&str]| {
        Command::new("aws")
            .args(args)
            .env("AWS_ENDPOINT_URL_CLOUDTRAIL_DATA", &server.endpoint)
            .env("AWS_ACCESS_KEY_ID", &ingest.0)
            .env("AWS_SECRET_ACCESS_KEY", &ingest.1)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_ENDPOINT_URL")
            .env("PYTHONWARNINGS", "ignore")
            .output()
            .unwrap()
    };
    let mixed = json!([
        {"id": "ok", "eventData": bank_event("Logout", "evt-0004", 0, json!({})).to_string()},
        {"id": "bad", "eventData": bank_event("Logout", "evt-0005", 0, json!({"recipientAccountId": "210987654321"})).to_string()},
    ])
    .to_string();
    let out = cli(&[
        "cloudtrail-data",
        "put-audit-events",
        "--channel-arn",
        &arn,
        "--audit-events",
        &mixed,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let body: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(body["successful"][0]["id"], "ok");
    assert_eq!(body["failed"][0]["errorCode"], "InvalidRecipient");

    let unknown = format!("{ARN_PREFIX}00000000-0000-4000-8000-000000000000");
    let out = cli(&[
        "cloudtrail-data",
        "put-audit-events",
        "--channel-arn",
        &unknown,
        "--audit-events",
        &mixed,
    ]);
    assert_eq!(out.status.code(), Some(255));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "An error occurred (ChannelNotFound) when calling the PutAuditEvents operation"
        ),
        "{stderr}"
    );
}

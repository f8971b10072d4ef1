//! The trail management API, driven by the AWS SDK for Rust against a real server: every
//! operation's happy path and every modelled error that applies to Cairn.

use aws_sdk_cloudtrail::error::ProvideErrorMetadata;
use aws_sdk_cloudtrail::types::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, InsightSelector,
    InsightType, ReadWriteType, Tag,
};

use crate::util::{ACCOUNT, Server, call};

const ARN_PREFIX: &str = "arn:aws:cloudtrail:us-east-1:123456789012:trail/";

macro_rules! expect_err {
    ($call:expr, $code:expr) => {{
        let err = $call.send().await.expect_err(concat!("expected ", $code));
        assert_eq!(err.code().unwrap_or("<none>"), $code, "{:?}", err.message());
        err
    }};
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().unwrap()
}

#[tokio::test]
async fn trail_lifecycle_with_the_sdk() {
    let mut server = Server::start();
    server.create_bucket("audit-logs");
    let ct = server.admin_client();

    let created = ct
        .create_trail()
        .name("management")
        .s3_bucket_name("audit-logs")
        .s3_key_prefix("prod")
        .is_multi_region_trail(true)
        .enable_log_file_validation(true)
        .kms_key_id("alias/audit")
        .tags_list(tag("team", "security"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.name(), Some("management"));
    assert_eq!(
        created.trail_arn(),
        Some(format!("{ARN_PREFIX}management").as_str())
    );
    assert_eq!(created.s3_key_prefix(), Some("prod"));
    assert_eq!(created.include_global_service_events(), Some(true));
    assert_eq!(created.is_multi_region_trail(), Some(true));
    assert_eq!(created.log_file_validation_enabled(), Some(true));
    assert_eq!(
        created.kms_key_id(),
        Some("arn:aws:kms:us-east-1:123456789012:alias/audit")
    );
    assert_eq!(created.is_organization_trail(), Some(false));

    let described = ct.describe_trails().send().await.unwrap();
    assert_eq!(described.trail_list().len(), 1);
    let t = &described.trail_list()[0];
    assert_eq!(t.home_region(), Some("us-east-1"));
    assert_eq!(t.has_custom_event_selectors(), Some(false));
    assert_eq!(t.has_insight_selectors(), Some(false));

    let got = ct
        .get_trail()
        .name(format!("{ARN_PREFIX}management"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.trail().unwrap().name(), Some("management"));

    let status = ct
        .get_trail_status()
        .name("management")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.is_logging(),
        Some(false),
        "a new trail does not log until StartLogging"
    );
    assert_eq!(status.time_logging_started(), Some(""));

    ct.start_logging().name("management").send().await.unwrap();
    let status = ct
        .get_trail_status()
        .name("management")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));
    let started = status.start_logging_time().unwrap().secs();
    assert!((chrono::Utc::now().timestamp() - started).abs() < 60);
    assert!(status.time_logging_started().unwrap().ends_with('Z'));

    let updated = ct
        .update_trail()
        .name("management")
        .s3_key_prefix("")
        .kms_key_id("")
        .is_multi_region_trail(false)
        .send()
        .await
        .unwrap();
    assert_eq!(
        updated.s3_key_prefix(),
        None,
        "an empty string clears the prefix"
    );
    assert_eq!(updated.kms_key_id(), None);
    assert_eq!(updated.is_multi_region_trail(), Some(false));
    assert_eq!(
        updated.include_global_service_events(),
        Some(false),
        "leaving multi-region drops global events"
    );

    // Restart in the middle: trails, logging state, tags and selectors persist.
    server.restart();
    let ct = server.admin_client();
    let status = ct
        .get_trail_status()
        .name("management")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(true));
    let tags = ct
        .list_tags()
        .resource_id_list(format!("{ARN_PREFIX}management"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.resource_tag_list()[0].tags_list()[0].key(), "team");

    ct.stop_logging().name("management").send().await.unwrap();
    let status = ct
        .get_trail_status()
        .name("management")
        .send()
        .await
        .unwrap();
    assert_eq!(status.is_logging(), Some(false));
    assert!(status.stop_logging_time().is_some());

    ct.delete_trail()
        .name(format!("{ARN_PREFIX}management"))
        .send()
        .await
        .unwrap();
    assert!(
        ct.describe_trails()
            .send()
            .await
            .unwrap()
            .trail_list()
            .is_empty()
    );
    expect_err!(ct.get_trail().name("management"), "TrailNotFoundException");

    // Every change was recorded with its response.
    let events = server.events().await;
    let create = events
        .iter()
        .find(|(_, v)| v["eventName"] == "CreateTrail")
        .unwrap();
    assert_eq!(
        create.1["responseElements"]["trailARN"],
        format!("{ARN_PREFIX}management")
    );
    assert_eq!(create.1["requestParameters"]["s3BucketName"], "audit-logs");
}

#[tokio::test]
async fn create_trail_validation_errors() {
    let server = Server::start_with(&["--sns-topics", "known-topic"]);
    server.create_bucket("logs");
    let ct = server.admin_client();
    let create = |name: &str| ct.create_trail().name(name).s3_bucket_name("logs");

    for bad in [
        "ab",
        "-trail",
        "trail-",
        "my--trail",
        "my-_trail",
        "has space",
        "192.168.5.4",
        &"x".repeat(129),
    ] {
        expect_err!(create(bad), "InvalidTrailNameException");
    }
    expect_err!(
        ct.create_trail()
            .name("trail1")
            .s3_bucket_name("Bad_Bucket"),
        "InvalidS3BucketNameException"
    );
    expect_err!(
        ct.create_trail()
            .name("trail1")
            .s3_bucket_name("no-such-bucket"),
        "S3BucketDoesNotExistException"
    );
    expect_err!(
        create("trail1").s3_key_prefix("p".repeat(201)),
        "InvalidS3PrefixException"
    );
    expect_err!(
        create("trail1").sns_topic_name("bad topic!"),
        "InvalidSnsTopicNameException"
    );
    expect_err!(
        create("trail1").sns_topic_name("unknown-topic"),
        "InsufficientSnsTopicPolicyException"
    );
    expect_err!(
        create("trail1").kms_key_id("not a key"),
        "InvalidKmsKeyIdException"
    );
    expect_err!(
        create("trail1")
            .cloud_watch_logs_log_group_arn("arn:aws:logs:us-east-1:123456789012:log-group:g:*"),
        "InvalidCloudWatchLogsRoleArnException"
    );
    expect_err!(
        create("trail1")
            .cloud_watch_logs_log_group_arn("not-an-arn")
            .cloud_watch_logs_role_arn("arn:aws:iam::123456789012:role/r"),
        "InvalidCloudWatchLogsLogGroupArnException"
    );
    expect_err!(
        create("trail1")
            .is_multi_region_trail(true)
            .include_global_service_events(false),
        "InvalidParameterCombinationException"
    );
    expect_err!(
        create("trail1").is_organization_trail(true),
        "OrganizationsNotInUseException"
    );
    expect_err!(
        create("trail1")
            .tags_list(tag("k", "a"))
            .tags_list(tag("k", "b")),
        "InvalidTagParameterException"
    );
    let mut many = create("trail1");
    for i in 0..51 {
        many = many.tags_list(tag(&format!("k{i}"), "v"));
    }
    expect_err!(many, "TagsLimitExceededException");
    // None of the failures created anything.
    assert!(
        ct.describe_trails()
            .send()
            .await
            .unwrap()
            .trail_list()
            .is_empty()
    );

    // A known topic works, and answers its ARN.
    let ok = create("trail1")
        .sns_topic_name("known-topic")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ok.sns_topic_arn(),
        Some(format!("arn:aws:sns:us-east-1:{ACCOUNT}:known-topic").as_str())
    );
    expect_err!(create("trail1"), "TrailAlreadyExistsException");
    for i in 2..=5 {
        create(&format!("trail{i}")).send().await.unwrap();
    }
    expect_err!(create("trail6"), "MaximumNumberOfTrailsExceededException");
}

#[tokio::test]
async fn name_or_arn_errors_and_home_region_rules() {
    let server = Server::start_with(&["--regions", "eu-west-1"]);
    server.create_bucket("logs");
    let ct = server.admin_client();
    let eu = server.client_in_region(&server.admin.0, &server.admin.1, "eu-west-1");
    ct.create_trail()
        .name("global")
        .s3_bucket_name("logs")
        .is_multi_region_trail(true)
        .send()
        .await
        .unwrap();
    ct.create_trail()
        .name("local")
        .s3_bucket_name("logs")
        .send()
        .await
        .unwrap();

    expect_err!(
        ct.get_trail()
            .name("arn:aws:cloudtrail:us-east-1:123:trail/x"),
        "CloudTrailARNInvalidException"
    );
    expect_err!(
        ct.get_trail_status().name("arn:aws:s3:::bucket"),
        "CloudTrailARNInvalidException"
    );
    expect_err!(
        ct.start_logging().name("no such"),
        "InvalidTrailNameException"
    );
    expect_err!(
        ct.start_logging().name("nosuchtrail"),
        "TrailNotFoundException"
    );

    // The multi-region trail shows in eu-west-1 as a shadow; the single-region one doesn't.
    let seen = eu.describe_trails().send().await.unwrap();
    let names: Vec<_> = seen
        .trail_list()
        .iter()
        .map(|t| (t.name().unwrap(), t.home_region().unwrap()))
        .collect();
    assert_eq!(names, vec![("global", "us-east-1")]);
    let own_only = eu
        .describe_trails()
        .include_shadow_trails(false)
        .send()
        .await
        .unwrap();
    assert!(own_only.trail_list().is_empty());
    eu.get_trail_status()
        .name(format!("{ARN_PREFIX}global"))
        .send()
        .await
        .unwrap();
    expect_err!(eu.get_trail().name("local"), "TrailNotFoundException");
    // Shadows cannot be changed outside the home region.
    expect_err!(
        eu.start_logging().name("global"),
        "InvalidHomeRegionException"
    );
    expect_err!(
        eu.update_trail().name("global").s3_key_prefix("x"),
        "InvalidHomeRegionException"
    );
    expect_err!(
        eu.put_event_selectors()
            .trail_name("global")
            .event_selectors(
                EventSelector::builder()
                    .read_write_type(ReadWriteType::All)
                    .build()
            ),
        "InvalidHomeRegionException"
    );
    expect_err!(
        eu.delete_trail().name("global"),
        "InvalidHomeRegionException"
    );
    // The shadow counts against eu-west-1's limit, and its name is taken there.
    expect_err!(
        eu.create_trail().name("global").s3_bucket_name("logs"),
        "TrailAlreadyExistsException"
    );
    for i in 0..4 {
        eu.create_trail()
            .name(format!("eu{i}"))
            .s3_bucket_name("logs")
            .send()
            .await
            .unwrap();
    }
    expect_err!(
        eu.create_trail().name("eu5").s3_bucket_name("logs"),
        "MaximumNumberOfTrailsExceededException"
    );

    // ListTrails lists every region's trails, in pages.
    let all = ct
        .list_trails()
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap();
    assert_eq!(all.len(), 6);
    assert!(all.iter().any(|t| t.home_region() == Some("eu-west-1")));
}

#[tokio::test]
async fn event_selectors_basic_or_advanced() {
    let server = Server::start();
    server.create_bucket("logs");
    let ct = server.admin_client();
    ct.create_trail()
        .name("trail")
        .s3_bucket_name("logs")
        .send()
        .await
        .unwrap();

    let default = ct
        .get_event_selectors()
        .trail_name("trail")
        .send()
        .await
        .unwrap();
    let s = &default.event_selectors()[0];
    assert_eq!(s.read_write_type(), Some(&ReadWriteType::All));
    assert_eq!(s.include_management_events(), Some(true));
    assert!(default.advanced_event_selectors().is_empty());

    let basic = EventSelector::builder()
        .read_write_type(ReadWriteType::WriteOnly)
        .include_management_events(true)
        .exclude_management_event_sources("kms.amazonaws.com")
        .data_resources(
            DataResource::builder()
                .r#type("AWS::S3::Object")
                .values("arn:aws:s3:::bucket/prefix")
                .build(),
        )
        .build();
    let put = ct
        .put_event_selectors()
        .trail_name("trail")
        .event_selectors(basic)
        .send()
        .await
        .unwrap();
    assert_eq!(put.trail_arn(), Some(format!("{ARN_PREFIX}trail").as_str()));
    assert_eq!(
        put.event_selectors()[0].read_write_type(),
        Some(&ReadWriteType::WriteOnly)
    );
    let trail = ct.get_trail().name("trail").send().await.unwrap();
    assert_eq!(
        trail.trail().unwrap().has_custom_event_selectors(),
        Some(true)
    );

    let advanced = AdvancedEventSelector::builder()
        .name("s3 writes")
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("eventCategory")
                .equals("Data")
                .build()
                .unwrap(),
        )
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("resources.type")
                .equals("AWS::S3::Object")
                .build()
                .unwrap(),
        )
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("readOnly")
                .equals("false")
                .build()
                .unwrap(),
        )
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("resources.ARN")
                .starts_with("arn:aws:s3:::bucket/")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    ct.put_event_selectors()
        .trail_name("trail")
        .advanced_event_selectors(advanced.clone())
        .send()
        .await
        .unwrap();
    let got = ct
        .get_event_selectors()
        .trail_name("trail")
        .send()
        .await
        .unwrap();
    assert!(
        got.event_selectors().is_empty(),
        "advanced selectors replace basic ones"
    );
    assert_eq!(got.advanced_event_selectors()[0].name(), Some("s3 writes"));
    assert_eq!(got.advanced_event_selectors()[0].field_selectors().len(), 4);

    // Both kinds at once, bad enum values, too many selectors, bad fields and operators.
    let both = ct
        .put_event_selectors()
        .trail_name("trail")
        .event_selectors(EventSelector::builder().build())
        .advanced_event_selectors(advanced);
    expect_err!(both, "InvalidEventSelectorsException");
    let mut six = ct.put_event_selectors().trail_name("trail");
    for _ in 0..6 {
        six = six.event_selectors(EventSelector::builder().build());
    }
    expect_err!(six, "InvalidEventSelectorsException");
    let (k, s) = server.admin.clone();
    let bad_rw = call(
        &server,
        &k,
        &s,
        "PutEventSelectors",
        r#"{"TrailName":"trail","EventSelectors":[{"ReadWriteType":"read-only"}]}"#,
    )
    .await;
    assert_eq!(bad_rw.error_type(), "InvalidEventSelectorsException");
    let no_category = AdvancedEventSelector::builder()
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("readOnly")
                .equals("true")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    expect_err!(
        ct.put_event_selectors()
            .trail_name("trail")
            .advanced_event_selectors(no_category),
        "InvalidEventSelectorsException"
    );
    let bad_operator = AdvancedEventSelector::builder()
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("eventCategory")
                .starts_with("Man")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    expect_err!(
        ct.put_event_selectors()
            .trail_name("trail")
            .advanced_event_selectors(bad_operator),
        "InvalidEventSelectorsException"
    );
    let bad_field = AdvancedEventSelector::builder()
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("eventCategory")
                .equals("Management")
                .build()
                .unwrap(),
        )
        .field_selectors(
            AdvancedFieldSelector::builder()
                .field("eventName")
                .equals("CreateTrail")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap();
    expect_err!(
        ct.put_event_selectors()
            .trail_name("trail")
            .advanced_event_selectors(bad_field),
        "InvalidEventSelectorsException"
    );
    expect_err!(
        ct.put_event_selectors().trail_name("trail"),
        "InvalidEventSelectorsException"
    );
    expect_err!(
        ct.get_event_selectors().trail_name("nope"),
        "TrailNotFoundException"
    );
}

#[tokio::test]
async fn insight_selectors() {
    let server = Server::start();
    server.create_bucket("logs");
    let ct = server.admin_client();
    ct.create_trail()
        .name("trail")
        .s3_bucket_name("logs")
        .send()
        .await
        .unwrap();
    expect_err!(
        ct.get_insight_selectors().trail_name("trail"),
        "InsightNotEnabledException"
    );
    let rate = InsightSelector::builder()
        .insight_type(InsightType::ApiCallRateInsight)
        .build();
    let put = ct
        .put_insight_selectors()
        .trail_name("trail")
        .insight_selectors(rate.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.insight_selectors().len(), 1);
    let got = ct
        .get_insight_selectors()
        .trail_name("trail")
        .send()
        .await
        .unwrap();
    assert_eq!(
        got.insight_selectors()[0].insight_type(),
        Some(&InsightType::ApiCallRateInsight)
    );
    assert_eq!(
        ct.get_trail()
            .name("trail")
            .send()
            .await
            .unwrap()
            .trail()
            .unwrap()
            .has_insight_selectors(),
        Some(true)
    );

    let (k, s) = server.admin.clone();
    let bad = call(
        &server,
        &k,
        &s,
        "PutInsightSelectors",
        r#"{"TrailName":"trail","InsightSelectors":[{"InsightType":"Nope"}]}"#,
    )
    .await;
    assert_eq!(bad.error_type(), "InvalidInsightSelectorsException");
    expect_err!(
        ct.put_insight_selectors()
            .trail_name("trail")
            .event_data_store("eds")
            .insight_selectors(rate.clone()),
        "InvalidParameterCombinationException"
    );
    // A trail that logs only read management events cannot have call-rate insights.
    ct.put_event_selectors()
        .trail_name("trail")
        .event_selectors(
            EventSelector::builder()
                .read_write_type(ReadWriteType::ReadOnly)
                .build(),
        )
        .send()
        .await
        .unwrap();
    expect_err!(
        ct.put_insight_selectors()
            .trail_name("trail")
            .insight_selectors(rate),
        "InvalidInsightSelectorsException"
    );
    // An empty list turns insights off.
    ct.put_insight_selectors()
        .trail_name("trail")
        .set_insight_selectors(Some(vec![]))
        .send()
        .await
        .unwrap();
    expect_err!(
        ct.get_insight_selectors().trail_name("trail"),
        "InsightNotEnabledException"
    );
}

#[tokio::test]
async fn tags_on_trails() {
    let server = Server::start();
    server.create_bucket("logs");
    let ct = server.admin_client();
    ct.create_trail()
        .name("trail")
        .s3_bucket_name("logs")
        .tags_list(tag("a", "1"))
        .send()
        .await
        .unwrap();
    let arn = format!("{ARN_PREFIX}trail");
    ct.add_tags()
        .resource_id(&arn)
        .tags_list(tag("a", "2"))
        .tags_list(tag("b", "3"))
        .send()
        .await
        .unwrap();
    let listed = ct.list_tags().resource_id_list(&arn).send().await.unwrap();
    let tags: Vec<_> = listed.resource_tag_list()[0]
        .tags_list()
        .iter()
        .map(|t| (t.key(), t.value().unwrap()))
        .collect();
    assert_eq!(tags, vec![("a", "2"), ("b", "3")]);
    ct.remove_tags()
        .resource_id(&arn)
        .tags_list(Tag::builder().key("a").build().unwrap())
        .send()
        .await
        .unwrap();
    let listed = ct.list_tags().resource_id_list(&arn).send().await.unwrap();
    assert_eq!(listed.resource_tag_list()[0].tags_list().len(), 1);

    expect_err!(
        ct.add_tags().resource_id("t").tags_list(tag("x", "y")),
        "CloudTrailARNInvalidException"
    );
    expect_err!(
        ct.add_tags()
            .resource_id(format!("{ARN_PREFIX}nope"))
            .tags_list(tag("x", "y")),
        "ResourceNotFoundException"
    );
    expect_err!(
        ct.add_tags()
            .resource_id("arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/abc")
            .tags_list(tag("x", "y")),
        "ResourceTypeNotSupportedException"
    );
    expect_err!(
        ct.add_tags()
            .resource_id(&arn)
            .tags_list(tag("aws:reserved", "y")),
        "InvalidTagParameterException"
    );
    let mut many = ct.add_tags().resource_id(&arn);
    for i in 0..50 {
        many = many.tags_list(tag(&format!("k{i}"), "v"));
    }
    expect_err!(many, "TagsLimitExceededException");
    let mut ids = ct.list_tags();
    for _ in 0..21 {
        ids = ids.resource_id_list(&arn);
    }
    expect_err!(ids, "ValidationException");
}

#[tokio::test]
async fn public_keys_are_der_pkcs1_with_md5_fingerprints() {
    let server = Server::start();
    let ct = server.admin_client();
    let keys = ct.list_public_keys().send().await.unwrap();
    assert_eq!(keys.public_key_list().len(), 1);
    let k = &keys.public_key_list()[0];
    let der = k.value().unwrap().as_ref();
    assert_eq!(der.len(), 270);
    let digest = {
        use md5::Digest as _;
        hex::encode(md5::Md5::digest(der))
    };
    assert_eq!(k.fingerprint(), Some(digest.as_str()));
    assert!(k.validity_start_time().is_some() && k.validity_end_time().is_some());
    let later =
        aws_sdk_cloudtrail::primitives::DateTime::from_secs(chrono::Utc::now().timestamp() + 3600);
    let earlier =
        aws_sdk_cloudtrail::primitives::DateTime::from_secs(chrono::Utc::now().timestamp() - 3600);
    expect_err!(
        ct.list_public_keys().start_time(later).end_time(earlier),
        "InvalidTimeRangeException"
    );
    let old = aws_sdk_cloudtrail::primitives::DateTime::from_secs(1_000_000_000);
    let none = ct
        .list_public_keys()
        .start_time(old)
        .end_time(old)
        .send()
        .await
        .unwrap();
    assert!(none.public_key_list().is_empty());
}

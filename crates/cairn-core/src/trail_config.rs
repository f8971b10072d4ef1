//! A trail's stored configuration and its wire shapes.
//!
//! [`TrailConfig`] is what Cairn keeps per trail (a JSON document in the catalog, keyed by
//! [`TrailConfig::key`]). The wire shapes of the API (`Trail`, the CreateTrail/UpdateTrail
//! response, `TrailInfo`) are derived from it here, once, so every operation answers the same
//! members under the same names.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::trail::{
    AdvancedEventSelector, EventSelector, InsightSelector, Tag, default_event_selectors, trail_arn,
};

/// Everything Cairn keeps about one trail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrailConfig {
    /// The trail's name (unique among the trails visible in a region).
    pub name: String,
    /// The region the trail was created in; only there can it be changed.
    pub home_region: String,
    /// The owning account.
    pub account_id: String,
    /// Where log files go.
    pub s3_bucket_name: String,
    /// Key prefix inside the bucket.
    pub s3_key_prefix: Option<String>,
    /// Notification topic (full ARN).
    pub sns_topic_arn: Option<String>,
    /// Whether IAM/STS/CloudFront (global service) events are included.
    pub include_global_service_events: bool,
    /// Whether the trail records every region Cairn serves.
    pub is_multi_region_trail: bool,
    /// Whether digest files are written.
    pub log_file_validation_enabled: bool,
    /// CloudWatch Logs log group ARN (format-checked; Cairn does not deliver there yet).
    pub cloud_watch_logs_log_group_arn: Option<String>,
    /// CloudWatch Logs role ARN.
    pub cloud_watch_logs_role_arn: Option<String>,
    /// KMS key ARN (format-checked; Cairn does not encrypt with KMS).
    pub kms_key_id: Option<String>,
    /// Whether this is an organization trail.
    pub is_organization_trail: bool,
    /// Whether CloudTrail's own delivery-generated events are logged (default true).
    pub recursive_logging: bool,
    /// Basic event selectors, when set by `PutEventSelectors`.
    pub event_selectors: Option<Vec<EventSelector>>,
    /// Advanced event selectors, when set by `PutEventSelectors`.
    pub advanced_event_selectors: Option<Vec<AdvancedEventSelector>>,
    /// Insight selectors, when set by `PutInsightSelectors`.
    pub insight_selectors: Option<Vec<InsightSelector>>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// Whether the trail is logging.
    pub is_logging: bool,
    /// The latest `StartLogging`.
    pub start_logging_time: Option<DateTime<Utc>>,
    /// The latest `StopLogging`.
    pub stop_logging_time: Option<DateTime<Utc>>,
    /// When the trail was created.
    pub created: DateTime<Utc>,
}

impl TrailConfig {
    /// A trail as `CreateTrail` makes it when given only a name and a bucket: single-region,
    /// global service events and recursive logging on, validation off, default selectors, not
    /// logging. Other settings are struct-update overrides (`..TrailConfig::new(...)`).
    pub fn new(
        name: &str,
        home_region: &str,
        account_id: &str,
        s3_bucket_name: &str,
        created: DateTime<Utc>,
    ) -> TrailConfig {
        TrailConfig {
            name: name.into(),
            home_region: home_region.into(),
            account_id: account_id.into(),
            s3_bucket_name: s3_bucket_name.into(),
            s3_key_prefix: None,
            sns_topic_arn: None,
            include_global_service_events: true,
            is_multi_region_trail: false,
            log_file_validation_enabled: false,
            cloud_watch_logs_log_group_arn: None,
            cloud_watch_logs_role_arn: None,
            kms_key_id: None,
            is_organization_trail: false,
            recursive_logging: true,
            event_selectors: None,
            advanced_event_selectors: None,
            insight_selectors: None,
            tags: vec![],
            is_logging: false,
            start_logging_time: None,
            stop_logging_time: None,
            created,
        }
    }

    /// `arn:aws:cloudtrail:<home region>:<account>:trail/<name>`.
    pub fn arn(&self) -> String {
        trail_arn(&self.home_region, &self.account_id, &self.name)
    }

    /// The catalog key: `<home region>/<name>`.
    pub fn key(&self) -> String {
        Self::key_for(&self.home_region, &self.name)
    }

    /// The catalog key of the trail `name` homed in `region`.
    pub fn key_for(region: &str, name: &str) -> String {
        format!("{region}/{name}")
    }

    /// Whether the trail shows in `region`: at home, or as the shadow of a multi-region trail.
    pub fn visible_in(&self, region: &str) -> bool {
        self.home_region == region || self.is_multi_region_trail
    }

    /// Whether the trail records events of `region`.
    pub fn records_region(&self, region: &str) -> bool {
        self.visible_in(region)
    }

    /// True once `PutEventSelectors` has set selectors.
    pub fn has_custom_event_selectors(&self) -> bool {
        self.event_selectors.is_some() || self.advanced_event_selectors.is_some()
    }

    /// True while Insights are on (at least one insight selector).
    pub fn has_insight_selectors(&self) -> bool {
        self.insight_selectors
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    }

    /// The basic selectors in force: the stored ones, or the default when none were set and no
    /// advanced selectors are in force.
    pub fn effective_event_selectors(&self) -> Option<Vec<EventSelector>> {
        match (&self.event_selectors, &self.advanced_event_selectors) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(_)) => None,
            (None, None) => Some(default_event_selectors()),
        }
    }

    /// The SNS topic's name (the last part of its ARN).
    pub fn sns_topic_name(&self) -> Option<&str> {
        self.sns_topic_arn
            .as_deref()
            .and_then(|arn| arn.rsplit(':').next())
    }

    /// The `Trail` structure of `DescribeTrails` and `GetTrail`.
    pub fn trail_shape(&self) -> Value {
        let mut m = self.common_members();
        m.insert("HomeRegion".into(), json!(self.home_region));
        m.insert(
            "HasCustomEventSelectors".into(),
            json!(self.has_custom_event_selectors()),
        );
        m.insert(
            "HasInsightSelectors".into(),
            json!(self.has_insight_selectors()),
        );
        Value::Object(m)
    }

    /// The response of `CreateTrail` and `UpdateTrail`.
    pub fn create_response(&self) -> Value {
        Value::Object(self.common_members())
    }

    /// `TrailInfo` of `ListTrails`.
    pub fn trail_info(&self) -> Value {
        json!({"TrailARN": self.arn(), "Name": self.name, "HomeRegion": self.home_region})
    }

    /// Members shared by `Trail` and the create/update response, in AWS's order; unset
    /// optional strings are omitted, never `null`.
    fn common_members(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("Name".into(), json!(self.name));
        m.insert("S3BucketName".into(), json!(self.s3_bucket_name));
        insert_some(&mut m, "S3KeyPrefix", self.s3_key_prefix.as_deref());
        insert_some(&mut m, "SnsTopicName", self.sns_topic_name());
        insert_some(&mut m, "SnsTopicARN", self.sns_topic_arn.as_deref());
        m.insert(
            "IncludeGlobalServiceEvents".into(),
            json!(self.include_global_service_events),
        );
        m.insert(
            "IsMultiRegionTrail".into(),
            json!(self.is_multi_region_trail),
        );
        m.insert("TrailARN".into(), json!(self.arn()));
        m.insert(
            "LogFileValidationEnabled".into(),
            json!(self.log_file_validation_enabled),
        );
        insert_some(
            &mut m,
            "CloudWatchLogsLogGroupArn",
            self.cloud_watch_logs_log_group_arn.as_deref(),
        );
        insert_some(
            &mut m,
            "CloudWatchLogsRoleArn",
            self.cloud_watch_logs_role_arn.as_deref(),
        );
        insert_some(&mut m, "KmsKeyId", self.kms_key_id.as_deref());
        m.insert(
            "IsOrganizationTrail".into(),
            json!(self.is_organization_trail),
        );
        m.insert("RecursiveLogging".into(), json!(self.recursive_logging));
        m
    }
}

fn insert_some(m: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    if let Some(v) = value {
        m.insert(key.into(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> TrailConfig {
        TrailConfig {
            sns_topic_arn: Some("arn:aws:sns:us-east-1:123456789012:topic".into()),
            ..TrailConfig::new("t1", "us-east-1", "123456789012", "logs", Utc::now())
        }
    }

    #[test]
    fn shapes_omit_unset_members_and_derive_flags() {
        let t = sample();
        let shape = t.trail_shape();
        assert_eq!(
            shape["TrailARN"],
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/t1"
        );
        assert_eq!(shape["SnsTopicName"], "topic");
        assert!(shape.get("S3KeyPrefix").is_none());
        assert!(shape.get("KmsKeyId").is_none());
        assert_eq!(shape["HasCustomEventSelectors"], false);
        let created = t.create_response();
        assert!(created.get("HomeRegion").is_none());
        assert!(created.get("HasInsightSelectors").is_none());
    }

    #[test]
    fn shadows_are_visible_elsewhere_only_for_multi_region_trails() {
        let mut t = sample();
        assert!(t.visible_in("us-east-1"));
        assert!(!t.visible_in("eu-west-1"));
        t.is_multi_region_trail = true;
        assert!(t.visible_in("eu-west-1"));
        assert_eq!(t.effective_event_selectors().unwrap().len(), 1);
    }
}

/// What the delivery side reports about a trail (catalog namespace `trail-status`, same key as
/// the trail). Kept apart from [`TrailConfig`] so configuration changes and delivery progress
/// never overwrite each other.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// Last successful log file delivery.
    pub latest_delivery_time: Option<DateTime<Utc>>,
    /// Last log delivery attempt, successful or not.
    pub latest_delivery_attempt_time: Option<DateTime<Utc>>,
    /// Last attempt that succeeded.
    pub latest_delivery_attempt_succeeded: Option<DateTime<Utc>>,
    /// Error of the last failed log delivery (cleared by a success).
    pub latest_delivery_error: Option<String>,
    /// Last successful digest delivery.
    pub latest_digest_delivery_time: Option<DateTime<Utc>>,
    /// Error of the last failed digest delivery.
    pub latest_digest_delivery_error: Option<String>,
    /// Last successful notification.
    pub latest_notification_time: Option<DateTime<Utc>>,
    /// Last notification attempt.
    pub latest_notification_attempt_time: Option<DateTime<Utc>>,
    /// Last notification attempt that succeeded.
    pub latest_notification_attempt_succeeded: Option<DateTime<Utc>>,
    /// Error of the last failed notification.
    pub latest_notification_error: Option<String>,
}

/// Epoch seconds with millisecond fraction, as AWS JSON timestamps are written.
pub fn epoch_seconds(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

/// The `GetTrailStatus` response for `trail` and its delivery `status`.
///
/// The legacy string members (`TimeLoggingStarted`, `LatestDeliveryAttemptTime`, ...) are always
/// present, as AWS sends them: ISO-8601 text, or `""` when there is nothing to report.
pub fn trail_status_shape(trail: &TrailConfig, status: &DeliveryStatus) -> Value {
    let iso =
        |t: Option<DateTime<Utc>>| t.map(crate::record::format_event_time).unwrap_or_default();
    let mut m = Map::new();
    m.insert("IsLogging".into(), json!(trail.is_logging));
    let time = |m: &mut Map<String, Value>, key: &str, t: Option<DateTime<Utc>>| {
        if let Some(t) = t {
            m.insert(key.into(), json!(epoch_seconds(t)));
        }
    };
    if let Some(e) = &status.latest_delivery_error {
        m.insert("LatestDeliveryError".into(), json!(e));
    }
    if let Some(e) = &status.latest_notification_error {
        m.insert("LatestNotificationError".into(), json!(e));
    }
    time(&mut m, "LatestDeliveryTime", status.latest_delivery_time);
    time(
        &mut m,
        "LatestNotificationTime",
        status.latest_notification_time,
    );
    time(&mut m, "StartLoggingTime", trail.start_logging_time);
    time(&mut m, "StopLoggingTime", trail.stop_logging_time);
    time(
        &mut m,
        "LatestDigestDeliveryTime",
        status.latest_digest_delivery_time,
    );
    if let Some(e) = &status.latest_digest_delivery_error {
        m.insert("LatestDigestDeliveryError".into(), json!(e));
    }
    m.insert(
        "LatestDeliveryAttemptTime".into(),
        json!(iso(status.latest_delivery_attempt_time)),
    );
    m.insert(
        "LatestNotificationAttemptTime".into(),
        json!(iso(status.latest_notification_attempt_time)),
    );
    m.insert(
        "LatestNotificationAttemptSucceeded".into(),
        json!(iso(status.latest_notification_attempt_succeeded)),
    );
    m.insert(
        "LatestDeliveryAttemptSucceeded".into(),
        json!(iso(status.latest_delivery_attempt_succeeded)),
    );
    m.insert(
        "TimeLoggingStarted".into(),
        json!(iso(trail.start_logging_time)),
    );
    m.insert(
        "TimeLoggingStopped".into(),
        json!(iso(trail.stop_logging_time)),
    );
    Value::Object(m)
}

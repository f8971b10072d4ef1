//! Trails: the pure input rules and wire types of the trail operations.
//!
//! Everything here is a plain function of its inputs (no I/O, no async, no store): the API layer
//! calls these rules before it touches anything, and maps a [`ValidationError`] to the wire error
//! named by [`TrailErrorKind::exception_name`] (always HTTP 400).
//!
//! - [`validate`]: trail names, S3 bucket and key prefix, SNS topic, KMS key, CloudWatch Logs
//!   destination, the multi-Region/global-events combination.
//! - [`arn`]: trail references (`Name` parameters that take a name *or* an ARN) and trail ARNs.
//! - [`tags`](mod@tags): the `Tag` wire type and the AddTags / RemoveTags rules.
//! - [`selectors`]: the `EventSelector`, `AdvancedEventSelector` and `InsightSelector` wire types
//!   and their validation.
//! - [`matching`]: whether a trail delivers an event (Regions, global service events, basic and
//!   advanced selectors).
//!
//! # AWS fact and Cairn policy
//!
//! Each rule's documentation says where it comes from. In short:
//!
//! - **AWS fact** (botocore model `cloudtrail/2013-11-01` and the CloudTrail API reference):
//!   trail-name rules, trail ARN format, exception names, the selector enums and limits (5 basic
//!   selectors, 250 data resources, 500 advanced condition values, 1–2048 characters per value,
//!   the field list per event category), the 50-tags-per-resource quota, the S3 key prefix maximum
//!   of 200 characters, the KMS key forms.
//! - **Observed AWS behaviour** (error texts seen in public bug reports): "Multi-Region trail must
//!   include global service events.", "You must specify a role ARN as well as a log group.",
//!   "Value … for DataResources.Values is invalid.", the trail-name length messages.
//! - **Cairn policy** (no authoritative source; chosen to be strict but predictable): the
//!   character rules of the S3 key prefix, the "looks like an IPv4 address" test, the partition
//!   and Region syntax accepted inside ARNs, accepting any `AWS::<Service>::<Type>` in advanced
//!   selectors, one value per `eventCategory`, `errorCode` allowing `Equals` only, and the exact
//!   wording of messages AWS was never seen to send. These are marked *Policy* where they apply.
//!
//! Cairn has no KMS, SNS, IAM or CloudWatch Logs of its own: the rules here check only the
//! *form* of such references, never that the resource exists.

use std::fmt;

pub mod arn;
pub mod matching;
pub mod selectors;
pub mod tags;
pub mod validate;

pub use arn::{TrailRef, parse_trail_ref, trail_arn};
pub use matching::{
    GLOBAL_SERVICE_EVENT_SOURCES, SelectionCategory, SelectionFacts, SelectionResource,
    trail_selects,
};
pub use selectors::{
    AdvancedEventSelector, AdvancedFieldSelector, DataResource, EventSelector, InsightSelector,
    ReadWriteType, default_event_selectors, validate_advanced_event_selectors,
    validate_event_selectors, validate_insight_selectors,
};
pub use tags::{Tag, merge_tags, remove_tags, tags};
pub use validate::{
    SnsTopic, bucket_name, cloudwatch_logs, key_prefix, kms_key_id, sns_topic, trail_flags,
    trail_name,
};

/// Which CloudTrail exception a rejected input maps to.
///
/// Every variant names an exception of the CloudTrail model; [`TrailErrorKind::exception_name`]
/// gives the exact wire name (`__type`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailErrorKind {
    /// The trail name breaks the naming rules (`InvalidTrailNameException`).
    InvalidTrailName,
    /// A value that starts like an ARN is not a valid trail ARN (`CloudTrailARNInvalidException`).
    CloudTrailArnInvalid,
    /// The S3 bucket name breaks the naming rules (`InvalidS3BucketNameException`).
    InvalidS3BucketName,
    /// The S3 key prefix is too long or has forbidden characters (`InvalidS3PrefixException`).
    InvalidS3Prefix,
    /// The SNS topic name or ARN is malformed (`InvalidSnsTopicNameException`).
    InvalidSnsTopicName,
    /// The KMS key id, alias or ARN is malformed (`InvalidKmsKeyIdException`).
    InvalidKmsKeyId,
    /// The CloudWatch Logs log group ARN is malformed or missing
    /// (`InvalidCloudWatchLogsLogGroupArnException`).
    InvalidCloudWatchLogsLogGroupArn,
    /// The CloudWatch Logs role ARN is malformed or missing
    /// (`InvalidCloudWatchLogsRoleArnException`).
    InvalidCloudWatchLogsRoleArn,
    /// Parameters that cannot be used together (`InvalidParameterCombinationException`).
    InvalidParameterCombination,
    /// A parameter value is invalid (`InvalidParameterException`).
    InvalidParameter,
    /// A tag key or value is invalid, or a key is repeated (`InvalidTagParameterException`).
    InvalidTagParameter,
    /// The resource would carry more than 50 tags (`TagsLimitExceededException`).
    TagsLimitExceeded,
    /// Basic or advanced event selectors are invalid (`InvalidEventSelectorsException`).
    InvalidEventSelectors,
    /// Insight selectors are invalid (`InvalidInsightSelectorsException`).
    InvalidInsightSelectors,
    /// A mutating call on a trail outside its home Region (`InvalidHomeRegionException`).
    /// No rule in this module produces it; it is here so callers share one error type.
    InvalidHomeRegion,
}

impl TrailErrorKind {
    /// The exception name exactly as in the CloudTrail model, e.g. `InvalidTrailNameException`.
    pub fn exception_name(self) -> &'static str {
        match self {
            TrailErrorKind::InvalidTrailName => "InvalidTrailNameException",
            TrailErrorKind::CloudTrailArnInvalid => "CloudTrailARNInvalidException",
            TrailErrorKind::InvalidS3BucketName => "InvalidS3BucketNameException",
            TrailErrorKind::InvalidS3Prefix => "InvalidS3PrefixException",
            TrailErrorKind::InvalidSnsTopicName => "InvalidSnsTopicNameException",
            TrailErrorKind::InvalidKmsKeyId => "InvalidKmsKeyIdException",
            TrailErrorKind::InvalidCloudWatchLogsLogGroupArn => {
                "InvalidCloudWatchLogsLogGroupArnException"
            }
            TrailErrorKind::InvalidCloudWatchLogsRoleArn => "InvalidCloudWatchLogsRoleArnException",
            TrailErrorKind::InvalidParameterCombination => "InvalidParameterCombinationException",
            TrailErrorKind::InvalidParameter => "InvalidParameterException",
            TrailErrorKind::InvalidTagParameter => "InvalidTagParameterException",
            TrailErrorKind::TagsLimitExceeded => "TagsLimitExceededException",
            TrailErrorKind::InvalidEventSelectors => "InvalidEventSelectorsException",
            TrailErrorKind::InvalidInsightSelectors => "InvalidInsightSelectorsException",
            TrailErrorKind::InvalidHomeRegion => "InvalidHomeRegionException",
        }
    }
}

impl fmt::Display for TrailErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.exception_name())
    }
}

/// A rejected input: the exception it maps to and a message for the caller.
///
/// The message is meant for the wire (`message` in the JSON error body): it says what is wrong
/// and what is allowed, in AWS's style.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The exception the API answers with.
    pub kind: TrailErrorKind,
    /// The human-readable message.
    pub message: String,
}

impl ValidationError {
    /// A new error of `kind`.
    pub fn new(kind: TrailErrorKind, message: impl Into<String>) -> ValidationError {
        ValidationError {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.exception_name(), self.message)
    }
}

impl std::error::Error for ValidationError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kind maps to an exception that exists in the CloudTrail model (names copied from
    /// botocore's `service-2.json`, whose exception shapes all end in `Exception`).
    #[test]
    fn exception_names_are_the_models() {
        let all = [
            (
                TrailErrorKind::InvalidTrailName,
                "InvalidTrailNameException",
            ),
            (
                TrailErrorKind::CloudTrailArnInvalid,
                "CloudTrailARNInvalidException",
            ),
            (
                TrailErrorKind::InvalidS3BucketName,
                "InvalidS3BucketNameException",
            ),
            (TrailErrorKind::InvalidS3Prefix, "InvalidS3PrefixException"),
            (
                TrailErrorKind::InvalidSnsTopicName,
                "InvalidSnsTopicNameException",
            ),
            (TrailErrorKind::InvalidKmsKeyId, "InvalidKmsKeyIdException"),
            (
                TrailErrorKind::InvalidCloudWatchLogsLogGroupArn,
                "InvalidCloudWatchLogsLogGroupArnException",
            ),
            (
                TrailErrorKind::InvalidCloudWatchLogsRoleArn,
                "InvalidCloudWatchLogsRoleArnException",
            ),
            (
                TrailErrorKind::InvalidParameterCombination,
                "InvalidParameterCombinationException",
            ),
            (
                TrailErrorKind::InvalidParameter,
                "InvalidParameterException",
            ),
            (
                TrailErrorKind::InvalidTagParameter,
                "InvalidTagParameterException",
            ),
            (
                TrailErrorKind::TagsLimitExceeded,
                "TagsLimitExceededException",
            ),
            (
                TrailErrorKind::InvalidEventSelectors,
                "InvalidEventSelectorsException",
            ),
            (
                TrailErrorKind::InvalidInsightSelectors,
                "InvalidInsightSelectorsException",
            ),
            (
                TrailErrorKind::InvalidHomeRegion,
                "InvalidHomeRegionException",
            ),
        ];
        for (kind, name) in all {
            assert_eq!(kind.exception_name(), name);
            assert_eq!(kind.to_string(), name);
        }
    }

    #[test]
    fn error_display_names_the_exception() {
        let e = ValidationError::new(TrailErrorKind::InvalidTrailName, "too short");
        assert_eq!(e.to_string(), "InvalidTrailNameException: too short");
        assert_eq!(e.message, "too short");
    }
}

//! Event selectors and Insights selectors: wire types and validation.
//!
//! The types mirror the CloudTrail model shapes member for member (`EventSelector`,
//! `DataResource`, `AdvancedEventSelector`, `AdvancedFieldSelector`, `InsightSelector`). Optional
//! members are `Option`s that are omitted when `None`, so a response never carries `null`.
//! Values with an enum in the model but that callers can get wrong (`ReadWriteType`,
//! `InsightType`, `EventCategories`) deserialize from any string, so a bad value reaches
//! validation and is answered with `InvalidEventSelectorsException` /
//! `InvalidInsightSelectorsException` rather than a serialization error.
//!
//! # Rules
//!
//! Basic selectors ([`validate_event_selectors`]), AWS fact unless marked:
//!
//! - at most 5 selectors per trail;
//! - `ReadWriteType` is `ReadOnly`, `WriteOnly` or `All`;
//! - `ExcludeManagementEventSources` values are `kms.amazonaws.com` or `rdsdata.amazonaws.com`;
//! - `DataResources[].Type` is `AWS::S3::Object`, `AWS::Lambda::Function` or
//!   `AWS::DynamoDB::Table`, and `Values` is non-empty (*policy*: AWS's behaviour on an empty or
//!   missing list is undocumented);
//! - values: `arn:aws:s3` (all), `arn:aws:s3:::<bucket>/` or `arn:aws:s3:::<bucket>/<prefix>`;
//!   `arn:aws:lambda` (all) or `arn:aws:lambda:<region>:<account>:function:<name>`;
//!   `arn:aws:dynamodb` (all) or `arn:aws:dynamodb:<region>:<account>:table/<name>`. Observed
//!   rejections: `arn:aws:s3:::*`, `arn:aws:s3:::*/*`, `arn:aws:s3:::/`, a bucket ARN without the
//!   trailing `/`, `arn:aws:lambda:*`. *Policy*: the bucket must pass [`bucket_name`], Lambda
//!   function ARNs take no version/alias qualifier, other partitions (`aws-cn`, ...) are accepted;
//! - at most 250 values across all selectors, not counting the "all" values.
//!
//! Advanced selectors ([`validate_advanced_event_selectors`]), AWS fact unless marked:
//!
//! - `Name` at most 1000 characters; at least one field selector;
//! - `Field` 1–1000 characters matching `[\w|\d|\.|_]+`. *Policy*: Cairn requires *every*
//!   character to match (the model's pattern is unanchored); this changes only the message, as
//!   any other name is rejected as a field not supported for the category anyway. Each field at
//!   most once per selector (*policy*: undocumented, but conditions on one field would otherwise
//!   be ambiguous);
//! - at least one operator per field selector; each operator list has at least one value, each
//!   value 1–2048 characters matching `.+`. Model patterns are unanchored (Smithy), so `.+` only
//!   rules out values made of line breaks alone; a value such as `a\nb` is accepted;
//! - `eventCategory` is required, uses `Equals` only, and is `Management`, `Data` or
//!   `NetworkActivity` (trails). *Policy*: exactly one value, since the allowed fields depend on
//!   it;
//! - fields per category on trails: Management → `eventCategory`, `eventSource`, `readOnly`;
//!   Data → `eventCategory`, `resources.type` (required), `eventName`, `eventSource`,
//!   `eventType`, `readOnly`, `resources.ARN`, `sessionCredentialFromConsole`,
//!   `userIdentity.arn`; NetworkActivity → `eventCategory`, `eventSource` (required),
//!   `eventName`, `errorCode`, `vpcEndpointId`, `userIdentity.arn`;
//! - `readOnly` and `resources.type` use `Equals` only; `readOnly` values are `true`/`false`;
//!   `resources.type` has exactly one value, and (*policy*) any value matching
//!   `^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$` is accepted, as AWS's list keeps growing;
//! - NetworkActivity `eventSource` uses `Equals` with one value (AWS user guide: "eventSource can
//!   only use the Equals operator … create a separate field selector for each event source");
//!   `errorCode` takes only `VpceAccessDenied` (*policy*: with `Equals` only);
//! - at most 500 condition values in total across all selectors.
//!
//! Insights selectors ([`validate_insight_selectors`]): `InsightType` is required and is
//! `ApiCallRateInsight` or `ApiErrorRateInsight`, each at most once; `EventCategories` values are
//! `Management` or `Data`; an empty list is valid and turns Insights off.
//!
//! Whether the request carries both basic and advanced selectors (rejected by AWS) is for the
//! call site to check, as is the per-trail state (e.g. Insights requiring management events).

use std::collections::HashSet;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::arn::{is_account_id, is_partition, is_region, split_arn};
use super::validate::bucket_name;
use super::{TrailErrorKind, ValidationError};

/// Maximum number of basic event selectors on a trail (AWS quota).
pub const MAX_EVENT_SELECTORS: usize = 5;
/// Maximum number of data resource values across the basic selectors of a trail, not counting
/// values that select all resources of a type (AWS quota).
pub const MAX_DATA_RESOURCE_VALUES: usize = 250;
/// Maximum number of condition values across all advanced selectors of a trail (AWS quota).
pub const MAX_ADVANCED_CONDITION_VALUES: usize = 500;

/// The basic data resource types.
const DATA_RESOURCE_TYPES: [&str; 3] = [
    "AWS::S3::Object",
    "AWS::Lambda::Function",
    "AWS::DynamoDB::Table",
];
/// The values `ExcludeManagementEventSources` accepts.
const EXCLUDABLE_SOURCES: [&str; 2] = ["kms.amazonaws.com", "rdsdata.amazonaws.com"];
/// `eventCategory` values valid on trails.
const TRAIL_EVENT_CATEGORIES: [&str; 3] = ["Management", "Data", "NetworkActivity"];
/// Fields allowed in a Management selector on a trail.
const MANAGEMENT_FIELDS: &[&str] = &["eventCategory", "eventSource", "readOnly"];
/// Fields allowed in a Data selector on a trail.
const DATA_FIELDS: &[&str] = &[
    "eventCategory",
    "resources.type",
    "eventName",
    "eventSource",
    "eventType",
    "readOnly",
    "resources.ARN",
    "sessionCredentialFromConsole",
    "userIdentity.arn",
];
/// Fields allowed in a NetworkActivity selector on a trail.
const NETWORK_ACTIVITY_FIELDS: &[&str] = &[
    "eventCategory",
    "eventSource",
    "eventName",
    "errorCode",
    "vpcEndpointId",
    "userIdentity.arn",
];
/// The Insights types.
const INSIGHT_TYPES: [&str; 2] = ["ApiCallRateInsight", "ApiErrorRateInsight"];
/// The Insights event categories.
const INSIGHT_CATEGORIES: [&str; 2] = ["Management", "Data"];

// ------------------------------------------------------------------------------------------
// Wire types
// ------------------------------------------------------------------------------------------

/// `ReadWriteType` of a basic event selector.
///
/// Deserializes from any string: values outside the model's enum become [`ReadWriteType::Other`]
/// and are rejected by [`validate_event_selectors`]. Serializes as the wire string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadWriteType {
    /// Read events only (`readOnly: true`).
    ReadOnly,
    /// Write events only (`readOnly: false`).
    WriteOnly,
    /// Both (the default).
    All,
    /// A value outside the enum, kept for the error message.
    Other(String),
}

impl ReadWriteType {
    /// The wire string.
    pub fn as_str(&self) -> &str {
        match self {
            ReadWriteType::ReadOnly => "ReadOnly",
            ReadWriteType::WriteOnly => "WriteOnly",
            ReadWriteType::All => "All",
            ReadWriteType::Other(s) => s,
        }
    }

    /// Reads a wire string; anything unknown (matching is case-sensitive) is `Other`.
    pub fn from_wire(s: &str) -> ReadWriteType {
        match s {
            "ReadOnly" => ReadWriteType::ReadOnly,
            "WriteOnly" => ReadWriteType::WriteOnly,
            "All" => ReadWriteType::All,
            other => ReadWriteType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for ReadWriteType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReadWriteType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ReadWriteType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Ok(ReadWriteType::from_wire(&s))
    }
}

/// A basic event selector (`EventSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSelector {
    /// `ReadWriteType`; absent means `All`.
    #[serde(
        rename = "ReadWriteType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub read_write_type: Option<ReadWriteType>,
    /// `IncludeManagementEvents`; absent means `true`.
    #[serde(
        rename = "IncludeManagementEvents",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub include_management_events: Option<bool>,
    /// `DataResources`; absent means none.
    #[serde(
        rename = "DataResources",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_resources: Option<Vec<DataResource>>,
    /// `ExcludeManagementEventSources`; absent means none.
    #[serde(
        rename = "ExcludeManagementEventSources",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exclude_management_event_sources: Option<Vec<String>>,
}

impl EventSelector {
    /// The selector with every absent member set to its default (`All`, `true`, `[]`, `[]`):
    /// the complete form Cairn stores and answers with. *Inference*: AWS's GetEventSelectors
    /// examples always show every member.
    pub fn with_defaults(self) -> EventSelector {
        EventSelector {
            read_write_type: Some(self.read_write_type.unwrap_or(ReadWriteType::All)),
            include_management_events: Some(self.include_management_events.unwrap_or(true)),
            data_resources: Some(self.data_resources.unwrap_or_default()),
            exclude_management_event_sources: Some(
                self.exclude_management_event_sources.unwrap_or_default(),
            ),
        }
    }
}

/// A data resource of a basic selector (`DataResource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataResource {
    /// `Type`, e.g. `AWS::S3::Object`.
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// `Values`: ARNs or ARN prefixes of that type.
    #[serde(rename = "Values", default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<String>>,
}

/// An advanced event selector (`AdvancedEventSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvancedEventSelector {
    /// `Name`: a free-form label, at most 1000 characters.
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `FieldSelectors` (required by the model; a missing list reads as empty and is rejected
    /// by validation).
    #[serde(rename = "FieldSelectors", default)]
    pub field_selectors: Vec<AdvancedFieldSelector>,
}

/// One condition of an advanced selector (`AdvancedFieldSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdvancedFieldSelector {
    /// `Field`: the record field the condition is on, e.g. `eventCategory`, `resources.ARN`.
    #[serde(rename = "Field", default)]
    pub field: String,
    /// `Equals`: the field equals one of these.
    #[serde(rename = "Equals", default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<Vec<String>>,
    /// `StartsWith`: the field starts with one of these.
    #[serde(
        rename = "StartsWith",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub starts_with: Option<Vec<String>>,
    /// `EndsWith`: the field ends with one of these.
    #[serde(rename = "EndsWith", default, skip_serializing_if = "Option::is_none")]
    pub ends_with: Option<Vec<String>>,
    /// `NotEquals`: the field equals none of these.
    #[serde(rename = "NotEquals", default, skip_serializing_if = "Option::is_none")]
    pub not_equals: Option<Vec<String>>,
    /// `NotStartsWith`: the field starts with none of these.
    #[serde(
        rename = "NotStartsWith",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_starts_with: Option<Vec<String>>,
    /// `NotEndsWith`: the field ends with none of these.
    #[serde(
        rename = "NotEndsWith",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub not_ends_with: Option<Vec<String>>,
}

impl AdvancedFieldSelector {
    /// The six operators by wire name, in model order, with their value lists when present.
    pub fn operators(&self) -> [(&'static str, Option<&[String]>); 6] {
        [
            ("Equals", self.equals.as_deref()),
            ("StartsWith", self.starts_with.as_deref()),
            ("EndsWith", self.ends_with.as_deref()),
            ("NotEquals", self.not_equals.as_deref()),
            ("NotStartsWith", self.not_starts_with.as_deref()),
            ("NotEndsWith", self.not_ends_with.as_deref()),
        ]
    }

    /// Number of condition values, summed over all operators.
    pub fn value_count(&self) -> usize {
        self.operators()
            .iter()
            .filter_map(|(_, values)| values.map(<[String]>::len))
            .sum()
    }
}

/// An Insights selector (`InsightSelector`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsightSelector {
    /// `InsightType`: `ApiCallRateInsight` or `ApiErrorRateInsight`.
    #[serde(
        rename = "InsightType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub insight_type: Option<String>,
    /// `EventCategories`: `Management` and/or `Data`; absent means Management.
    #[serde(
        rename = "EventCategories",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_categories: Option<Vec<String>>,
}

/// The selectors of a trail that was never given any: one basic selector logging all read and
/// write management events and no data events (AWS fact: the GetEventSelectors example for a
/// new trail).
pub fn default_event_selectors() -> Vec<EventSelector> {
    vec![EventSelector {
        read_write_type: Some(ReadWriteType::All),
        include_management_events: Some(true),
        data_resources: Some(Vec::new()),
        exclude_management_event_sources: Some(Vec::new()),
    }]
}

// ------------------------------------------------------------------------------------------
// Basic selectors
// ------------------------------------------------------------------------------------------

fn selectors_error(message: String) -> ValidationError {
    ValidationError::new(TrailErrorKind::InvalidEventSelectors, message)
}

/// Checks the `EventSelectors` of a PutEventSelectors request (rules in the module docs).
pub fn validate_event_selectors(selectors: &[EventSelector]) -> Result<(), ValidationError> {
    if selectors.len() > MAX_EVENT_SELECTORS {
        return Err(selectors_error(format!(
            "Too many event selectors: {}. A trail can have at most {MAX_EVENT_SELECTORS} \
             event selectors.",
            selectors.len()
        )));
    }
    let mut counted = 0usize;
    for selector in selectors {
        if let Some(ReadWriteType::Other(v)) = &selector.read_write_type {
            return Err(selectors_error(format!(
                "Value {v} for ReadWriteType is invalid. Valid values: ReadOnly, WriteOnly, All."
            )));
        }
        for source in selector.exclude_management_event_sources.iter().flatten() {
            if !EXCLUDABLE_SOURCES.contains(&source.as_str()) {
                return Err(selectors_error(format!(
                    "Value {source} for ExcludeManagementEventSources is invalid. \
                     Valid values: kms.amazonaws.com, rdsdata.amazonaws.com."
                )));
            }
        }
        for resource in selector.data_resources.iter().flatten() {
            counted += validate_data_resource(resource)?;
        }
    }
    if counted > MAX_DATA_RESOURCE_VALUES {
        return Err(selectors_error(format!(
            "Too many data resources: {counted}. A trail can have at most \
             {MAX_DATA_RESOURCE_VALUES} data resource values across all event selectors \
             (values that select all resources of a type, such as arn:aws:s3, are not counted)."
        )));
    }
    Ok(())
}

/// Checks one data resource; returns how many of its values count against the 250 limit.
fn validate_data_resource(resource: &DataResource) -> Result<usize, ValidationError> {
    let Some(resource_type) = resource.resource_type.as_deref() else {
        return Err(selectors_error(
            "DataResources.Type is required. Valid values: AWS::S3::Object, \
             AWS::Lambda::Function, AWS::DynamoDB::Table."
                .to_owned(),
        ));
    };
    if !DATA_RESOURCE_TYPES.contains(&resource_type) {
        return Err(selectors_error(format!(
            "Value {resource_type} for DataResources.Type is invalid. Basic event selectors \
             support AWS::S3::Object, AWS::Lambda::Function and AWS::DynamoDB::Table; use \
             advanced event selectors for other resource types."
        )));
    }
    let values = resource.values.as_deref().unwrap_or_default();
    if values.is_empty() {
        return Err(selectors_error(format!(
            "DataResources.Values for {resource_type} must contain at least one value."
        )));
    }
    let mut counted = 0;
    for value in values {
        match classify_data_value(resource_type, value) {
            Some(DataValue::All) => {}
            Some(DataValue::Specific) => counted += 1,
            None => {
                let hint = match resource_type {
                    "AWS::S3::Object" => {
                        "arn:aws:s3 (all buckets), arn:aws:s3:::<bucket>/ (a whole bucket) \
                         or arn:aws:s3:::<bucket>/<key prefix>"
                    }
                    "AWS::Lambda::Function" => {
                        "arn:aws:lambda (all functions) or a function ARN such as \
                         arn:aws:lambda:us-east-2:123456789012:function:MyFunction"
                    }
                    _ => {
                        "arn:aws:dynamodb (all tables) or a table ARN such as \
                         arn:aws:dynamodb:us-east-2:123456789012:table/MyTable"
                    }
                };
                return Err(selectors_error(format!(
                    "Value {value} for DataResources.Values is invalid. \
                     For {resource_type} specify {hint}."
                )));
            }
        }
    }
    Ok(counted)
}

enum DataValue {
    /// Selects every resource of the type (`arn:aws:s3`); not counted against the limit.
    All,
    /// A bucket/prefix, function or table; counted.
    Specific,
}

/// Classifies a `DataResources.Values` entry of a basic type; `None` when malformed.
fn classify_data_value(resource_type: &str, value: &str) -> Option<DataValue> {
    let service = match resource_type {
        "AWS::S3::Object" => "s3",
        "AWS::Lambda::Function" => "lambda",
        _ => "dynamodb",
    };
    // `arn:<partition>:<service>` alone selects everything of the type.
    if let Some(partition) = value
        .strip_prefix("arn:")
        .and_then(|rest| rest.strip_suffix(service))
        .and_then(|rest| rest.strip_suffix(':'))
        && is_partition(partition)
    {
        return Some(DataValue::All);
    }
    let p = split_arn(value)?;
    if p.service != service || !is_partition(p.partition) {
        return None;
    }
    let ok = match service {
        "s3" => {
            // arn:aws:s3:::bucket/ or arn:aws:s3:::bucket/prefix
            p.region.is_empty()
                && p.account.is_empty()
                && p.resource
                    .split_once('/')
                    .is_some_and(|(bucket, _)| bucket_name(bucket).is_ok())
        }
        "lambda" => {
            is_region(p.region)
                && is_account_id(p.account)
                && p.resource.strip_prefix("function:").is_some_and(|name| {
                    (1..=64).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                })
        }
        _ => {
            is_region(p.region)
                && is_account_id(p.account)
                && p.resource.strip_prefix("table/").is_some_and(|name| {
                    (3..=255).contains(&name.len())
                        && name
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
                })
        }
    };
    ok.then_some(DataValue::Specific)
}

// ------------------------------------------------------------------------------------------
// Advanced selectors
// ------------------------------------------------------------------------------------------

/// Checks the `AdvancedEventSelectors` of a PutEventSelectors request (rules in the module
/// docs).
pub fn validate_advanced_event_selectors(
    selectors: &[AdvancedEventSelector],
) -> Result<(), ValidationError> {
    for (i, selector) in selectors.iter().enumerate() {
        validate_advanced_selector(i, selector)?;
    }
    let total: usize = selectors
        .iter()
        .flat_map(|s| &s.field_selectors)
        .map(AdvancedFieldSelector::value_count)
        .sum();
    if total > MAX_ADVANCED_CONDITION_VALUES {
        return Err(selectors_error(format!(
            "Too many condition values: {total}. A trail can have at most \
             {MAX_ADVANCED_CONDITION_VALUES} values across all conditions of all advanced \
             event selectors."
        )));
    }
    Ok(())
}

fn validate_advanced_selector(
    index: usize,
    selector: &AdvancedEventSelector,
) -> Result<(), ValidationError> {
    let label = match &selector.name {
        Some(name) if !name.is_empty() && name.chars().count() <= 1000 => {
            format!("Advanced event selector {} ({name:?})", index + 1)
        }
        _ => format!("Advanced event selector {}", index + 1),
    };
    let err = |what: String| selectors_error(format!("{label}: {what}"));

    if let Some(name) = &selector.name {
        let len = name.chars().count();
        if len > 1000 {
            return Err(err(format!(
                "Name is too long. Maximum allowed length: 1000 characters. \
                 Specified name length: {len} characters."
            )));
        }
    }
    if selector.field_selectors.is_empty() {
        return Err(err(
            "FieldSelectors must contain at least one field selector.".to_owned(),
        ));
    }

    // Shape of every field selector, and each field at most once.
    let mut seen = HashSet::new();
    for fs in &selector.field_selectors {
        let field = fs.field.as_str();
        let len = field.chars().count();
        if !(1..=1000).contains(&len) {
            return Err(err(format!(
                "Field must be between 1 and 1000 characters long. Specified length: {len}."
            )));
        }
        if !field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '|'))
        {
            return Err(err(format!(
                "Field {field} is invalid. A field name contains only letters, numbers, \
                 periods (.) and underscores (_)."
            )));
        }
        if !seen.insert(field) {
            return Err(err(format!(
                "Field {field} appears more than once. Combine its conditions into one field \
                 selector."
            )));
        }
        let mut any = false;
        for (op, values) in fs.operators() {
            let Some(values) = values else { continue };
            any = true;
            if values.is_empty() {
                return Err(err(format!(
                    "{op} for field {field} must contain at least one value."
                )));
            }
            for v in values {
                let len = v.chars().count();
                if !(1..=2048).contains(&len) {
                    return Err(err(format!(
                        "Each {op} value for field {field} must be between 1 and 2048 \
                         characters long. Specified length: {len}."
                    )));
                }
                if v.chars().all(is_line_terminator) {
                    return Err(err(format!(
                        "{op} values for field {field} must contain a character other than a \
                         line break."
                    )));
                }
            }
        }
        if !any {
            return Err(err(format!(
                "Field {field} has no condition. Specify at least one of Equals, StartsWith, \
                 EndsWith, NotEquals, NotStartsWith or NotEndsWith."
            )));
        }
    }

    let get = |name: &str| selector.field_selectors.iter().find(|fs| fs.field == name);

    // eventCategory: required, Equals only, one valid value.
    let Some(category_fs) = get("eventCategory") else {
        return Err(err(
            "The eventCategory field is required. Specify eventCategory Equals Management, \
             Data or NetworkActivity."
                .to_owned(),
        ));
    };
    let category_values = equals_only(category_fs, &err)?;
    let [category] = category_values else {
        return Err(err(format!(
            "eventCategory must have exactly one value; found {}.",
            category_values.len()
        )));
    };
    let allowed: &[&str] = match category.as_str() {
        "Management" => MANAGEMENT_FIELDS,
        "Data" => DATA_FIELDS,
        "NetworkActivity" => NETWORK_ACTIVITY_FIELDS,
        other => {
            return Err(err(format!(
                "Value {other} for eventCategory is invalid. Valid values for trails: {}.",
                TRAIL_EVENT_CATEGORIES.join(", ")
            )));
        }
    };

    // Fields allowed for the category, and per-field operator/value rules.
    for fs in &selector.field_selectors {
        let field = fs.field.as_str();
        if !allowed.contains(&field) {
            return Err(err(format!(
                "Field {field} is not supported for {category} events on trails. \
                 Supported fields: {}.",
                allowed.join(", ")
            )));
        }
        match (field, category.as_str()) {
            ("readOnly", _) => {
                for v in equals_only(fs, &err)? {
                    if v != "true" && v != "false" {
                        return Err(err(format!(
                            "Value {v} for readOnly is invalid. Valid values: true, false."
                        )));
                    }
                }
            }
            ("resources.type", _) => {
                let values = equals_only(fs, &err)?;
                let [value] = values else {
                    return Err(err(format!(
                        "resources.type must have exactly one value; found {}. Use one \
                         advanced event selector per resource type.",
                        values.len()
                    )));
                };
                if !is_resource_type(value) {
                    return Err(err(format!(
                        "Value {value} for resources.type is invalid. A resource type has \
                         the form AWS::<Service>::<Type>, for example AWS::S3::Object."
                    )));
                }
            }
            ("eventSource", "NetworkActivity") => {
                let values = equals_only(fs, &err)?;
                if values.len() != 1 {
                    return Err(err(format!(
                        "eventSource for NetworkActivity events must have exactly one value; \
                         found {}. Use one advanced event selector per event source.",
                        values.len()
                    )));
                }
            }
            ("errorCode", _) => {
                for v in equals_only(fs, &err)? {
                    if v != "VpceAccessDenied" {
                        return Err(err(format!(
                            "Value {v} for errorCode is invalid. The only valid value is \
                             VpceAccessDenied."
                        )));
                    }
                }
            }
            _ => {}
        }
    }

    // Required fields per category.
    let required = match category.as_str() {
        "Data" => Some("resources.type"),
        "NetworkActivity" => Some("eventSource"),
        _ => None,
    };
    if let Some(required) = required
        && get(required).is_none()
    {
        return Err(err(format!(
            "The {required} field is required for {category} events."
        )));
    }
    Ok(())
}

/// The `Equals` values of a field that accepts only `Equals`.
fn equals_only<'a>(
    fs: &'a AdvancedFieldSelector,
    err: &dyn Fn(String) -> ValidationError,
) -> Result<&'a [String], ValidationError> {
    if let Some((op, _)) = fs
        .operators()
        .into_iter()
        .find(|(op, values)| *op != "Equals" && values.is_some())
    {
        return Err(err(format!(
            "Field {} accepts only the Equals operator; {op} is not allowed.",
            fs.field
        )));
    }
    match fs.equals.as_deref() {
        Some(values) => Ok(values),
        None => Err(err(format!(
            "Field {} requires the Equals operator.",
            fs.field
        ))),
    }
}

/// The characters `.` does not match in the model's (Java-style) patterns.
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// `^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$`.
fn is_resource_type(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("AWS::") else {
        return false;
    };
    let Some((service, kind)) = rest.split_once("::") else {
        return false;
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric());
    word(service) && word(kind)
}

// ------------------------------------------------------------------------------------------
// Insights selectors
// ------------------------------------------------------------------------------------------

/// Checks the `InsightSelectors` of a PutInsightSelectors request (rules in the module docs).
pub fn validate_insight_selectors(selectors: &[InsightSelector]) -> Result<(), ValidationError> {
    let invalid =
        |message: String| ValidationError::new(TrailErrorKind::InvalidInsightSelectors, message);
    let mut seen = HashSet::new();
    for selector in selectors {
        let Some(insight_type) = selector.insight_type.as_deref() else {
            return Err(invalid(
                "InsightType is required. Valid values: ApiCallRateInsight, ApiErrorRateInsight."
                    .to_owned(),
            ));
        };
        if !INSIGHT_TYPES.contains(&insight_type) {
            return Err(invalid(format!(
                "Value {insight_type} for InsightType is invalid. \
                 Valid values: ApiCallRateInsight, ApiErrorRateInsight."
            )));
        }
        if !seen.insert(insight_type) {
            return Err(invalid(format!(
                "InsightType {insight_type} is specified more than once."
            )));
        }
        for category in selector.event_categories.iter().flatten() {
            if !INSIGHT_CATEGORIES.contains(&category.as_str()) {
                return Err(invalid(format!(
                    "Value {category} for EventCategories is invalid. \
                     Valid values: Management, Data."
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn kind(r: Result<(), ValidationError>) -> TrailErrorKind {
        r.unwrap_err().kind
    }

    // ---- wire types ----

    #[test]
    fn default_selectors_wire_shape() {
        let json = serde_json::to_value(default_event_selectors()).unwrap();
        assert_eq!(
            json,
            json!([{
                "ReadWriteType": "All",
                "IncludeManagementEvents": true,
                "DataResources": [],
                "ExcludeManagementEventSources": []
            }])
        );
        assert_eq!(validate_event_selectors(&default_event_selectors()), Ok(()));
    }

    #[test]
    fn absent_members_are_omitted_never_null() {
        let empty = serde_json::to_string(&EventSelector::default()).unwrap();
        assert_eq!(empty, "{}");
        let fs = AdvancedFieldSelector {
            field: "eventCategory".into(),
            equals: Some(vec!["Data".into()]),
            ..Default::default()
        };
        let sel = AdvancedEventSelector {
            name: None,
            field_selectors: vec![fs],
        };
        assert_eq!(
            serde_json::to_value(&sel).unwrap(),
            json!({"FieldSelectors": [{"Field": "eventCategory", "Equals": ["Data"]}]})
        );
        assert_eq!(
            serde_json::to_string(&InsightSelector::default()).unwrap(),
            "{}"
        );
        assert_eq!(
            serde_json::to_string(&DataResource::default()).unwrap(),
            "{}"
        );
    }

    #[test]
    fn wire_round_trip() {
        let input = json!([{
            "ReadWriteType": "WriteOnly",
            "IncludeManagementEvents": false,
            "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3:::b1/"]}],
            "ExcludeManagementEventSources": ["kms.amazonaws.com"]
        }]);
        let parsed: Vec<EventSelector> = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(parsed[0].read_write_type, Some(ReadWriteType::WriteOnly));
        assert_eq!(serde_json::to_value(&parsed).unwrap(), input);

        let adv = json!([{
            "Name": "S3 writes",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.ARN", "StartsWith": ["arn:aws:s3:::b/"],
                 "NotEndsWith": [".tmp"], "NotStartsWith": ["x"], "EndsWith": ["y"],
                 "NotEquals": ["z"]}
            ]
        }]);
        let parsed: Vec<AdvancedEventSelector> = serde_json::from_value(adv.clone()).unwrap();
        assert_eq!(parsed[0].field_selectors[1].value_count(), 5);
        assert_eq!(serde_json::to_value(&parsed).unwrap(), adv);

        let ins = json!([{"InsightType": "ApiCallRateInsight", "EventCategories": ["Data"]}]);
        let parsed: Vec<InsightSelector> = serde_json::from_value(ins.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), ins);
    }

    #[test]
    fn unknown_read_write_type_reaches_validation() {
        let parsed: Vec<EventSelector> =
            serde_json::from_value(json!([{"ReadWriteType": "read-only"}])).unwrap();
        assert_eq!(
            parsed[0].read_write_type,
            Some(ReadWriteType::Other("read-only".into()))
        );
        let e = validate_event_selectors(&parsed).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        assert_eq!(
            e.message,
            "Value read-only for ReadWriteType is invalid. Valid values: ReadOnly, WriteOnly, All."
        );
        // Case matters.
        assert_eq!(
            ReadWriteType::from_wire("all"),
            ReadWriteType::Other("all".into())
        );
    }

    #[test]
    fn with_defaults_fills_absent_members() {
        let filled = EventSelector {
            include_management_events: Some(false),
            ..Default::default()
        }
        .with_defaults();
        assert_eq!(filled.read_write_type, Some(ReadWriteType::All));
        assert_eq!(filled.include_management_events, Some(false));
        assert_eq!(filled.data_resources, Some(vec![]));
        assert_eq!(filled.exclude_management_event_sources, Some(vec![]));
        assert_eq!(
            EventSelector::default().with_defaults(),
            default_event_selectors()[0]
        );
    }

    // ---- basic selectors ----

    fn data(t: &str, values: &[&str]) -> EventSelector {
        EventSelector {
            data_resources: Some(vec![DataResource {
                resource_type: Some(t.into()),
                values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn at_most_five_selectors() {
        let five = vec![EventSelector::default(); 5];
        assert_eq!(validate_event_selectors(&five), Ok(()));
        let six = vec![EventSelector::default(); 6];
        let e = validate_event_selectors(&six).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        assert!(e.message.contains("at most 5"), "{}", e.message);
        assert_eq!(validate_event_selectors(&[]), Ok(()));
    }

    #[test]
    fn exclude_management_event_sources() {
        let sel = |sources: &[&str]| EventSelector {
            exclude_management_event_sources: Some(
                sources.iter().map(|s| (*s).to_owned()).collect(),
            ),
            ..Default::default()
        };
        assert_eq!(
            validate_event_selectors(&[sel(&["kms.amazonaws.com", "rdsdata.amazonaws.com"])]),
            Ok(())
        );
        assert_eq!(validate_event_selectors(&[sel(&[])]), Ok(()));
        let e = validate_event_selectors(&[sel(&["s3.amazonaws.com"])]).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        assert!(e.message.contains("s3.amazonaws.com"), "{}", e.message);
    }

    #[test]
    fn data_resource_types() {
        for t in DATA_RESOURCE_TYPES {
            let all = match t {
                "AWS::S3::Object" => "arn:aws:s3",
                "AWS::Lambda::Function" => "arn:aws:lambda",
                _ => "arn:aws:dynamodb",
            };
            assert_eq!(validate_event_selectors(&[data(t, &[all])]), Ok(()), "{t}");
        }
        let e = validate_event_selectors(&[data("AWS::SNS::Topic", &["arn:aws:sns"])]).unwrap_err();
        assert!(
            e.message.contains("advanced event selectors"),
            "{}",
            e.message
        );
        let missing_type = EventSelector {
            data_resources: Some(vec![DataResource {
                resource_type: None,
                values: Some(vec!["arn:aws:s3".into()]),
            }]),
            ..Default::default()
        };
        assert_eq!(
            kind(validate_event_selectors(&[missing_type])),
            TrailErrorKind::InvalidEventSelectors
        );
    }

    #[test]
    fn data_resource_needs_values() {
        assert_eq!(
            kind(validate_event_selectors(&[data("AWS::S3::Object", &[])])),
            TrailErrorKind::InvalidEventSelectors
        );
        let no_values = EventSelector {
            data_resources: Some(vec![DataResource {
                resource_type: Some("AWS::S3::Object".into()),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(
            kind(validate_event_selectors(&[no_values])),
            TrailErrorKind::InvalidEventSelectors
        );
    }

    #[test]
    fn s3_values() {
        for ok in [
            "arn:aws:s3",
            "arn:aws:s3:::bucket-1/",
            "arn:aws:s3:::bucket-1/example-images",
            "arn:aws:s3:::bucket-1/*",
            "arn:aws:s3:::bucket-1/a:b/c",
            "arn:aws-cn:s3:::bucket-1/",
        ] {
            assert_eq!(
                validate_event_selectors(&[data("AWS::S3::Object", &[ok])]),
                Ok(()),
                "{ok}"
            );
        }
        for bad in [
            "arn:aws:s3:::*",
            "arn:aws:s3:::*/*",
            "arn:aws:s3:::/",
            "arn:aws:s3:::bucket-1",
            "arn:aws:s3:::",
            "arn:aws:s3:us-east-1::bucket-1/",
            "arn:aws:s3:::Bad_Bucket/",
            "bucket-1/*",
            "arn:aws:lambda",
            "arn:aws:s3:*",
        ] {
            let e = validate_event_selectors(&[data("AWS::S3::Object", &[bad])]).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors, "{bad}");
            assert!(
                e.message
                    .starts_with(&format!("Value {bad} for DataResources.Values is invalid.")),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn lambda_values() {
        for ok in [
            "arn:aws:lambda",
            "arn:aws:lambda:us-west-2:111111111111:function:helloworld",
        ] {
            assert_eq!(
                validate_event_selectors(&[data("AWS::Lambda::Function", &[ok])]),
                Ok(()),
                "{ok}"
            );
        }
        for bad in [
            "arn:aws:lambda:*",
            "arn:aws:lambda:us-west-2:111111111111:function:",
            "arn:aws:lambda:us-west-2:111111111111:function:hello:1",
            "arn:aws:lambda:us-west-2:111111111111:layer:x",
            "arn:aws:lambda:us-west-2:1111:function:helloworld",
            "arn:aws:s3",
        ] {
            assert_eq!(
                kind(validate_event_selectors(&[data(
                    "AWS::Lambda::Function",
                    &[bad]
                )])),
                TrailErrorKind::InvalidEventSelectors,
                "{bad}"
            );
        }
    }

    #[test]
    fn dynamodb_values() {
        for ok in [
            "arn:aws:dynamodb",
            "arn:aws:dynamodb:us-east-1:123456789012:table/My.Table_1-x",
        ] {
            assert_eq!(
                validate_event_selectors(&[data("AWS::DynamoDB::Table", &[ok])]),
                Ok(()),
                "{ok}"
            );
        }
        for bad in [
            "arn:aws:dynamodb:us-east-1:123456789012:table/ab",
            "arn:aws:dynamodb:us-east-1:123456789012:stream/abc",
            "arn:aws:dynamodb:::table/abc",
        ] {
            assert_eq!(
                kind(validate_event_selectors(&[data(
                    "AWS::DynamoDB::Table",
                    &[bad]
                )])),
                TrailErrorKind::InvalidEventSelectors,
                "{bad}"
            );
        }
    }

    #[test]
    fn at_most_250_counted_values() {
        let buckets: Vec<String> = (0..250).map(|i| format!("arn:aws:s3:::b{i:03}/")).collect();
        let refs: Vec<&str> = buckets.iter().map(String::as_str).collect();
        // 250 specific values split over two selectors, plus "all" values that don't count.
        let ok = [
            data("AWS::S3::Object", &refs[..100]),
            data("AWS::S3::Object", &refs[100..]),
            data("AWS::Lambda::Function", &["arn:aws:lambda"]),
            data("AWS::S3::Object", &["arn:aws:s3"]),
        ];
        assert_eq!(validate_event_selectors(&ok), Ok(()));
        let over = [
            data("AWS::S3::Object", &refs[..150]),
            data("AWS::S3::Object", &refs[150..]),
            data(
                "AWS::DynamoDB::Table",
                &["arn:aws:dynamodb:us-east-1:123456789012:table/one"],
            ),
        ];
        let e = validate_event_selectors(&over).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        assert!(e.message.contains("251"), "{}", e.message);
    }

    // ---- advanced selectors ----

    fn fs(field: &str, op: &str, values: &[&str]) -> AdvancedFieldSelector {
        let v = Some(values.iter().map(|s| (*s).to_owned()).collect());
        let mut f = AdvancedFieldSelector {
            field: field.into(),
            ..Default::default()
        };
        match op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "EndsWith" => f.ends_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            "NotEndsWith" => f.not_ends_with = v,
            _ => unreachable!("{op}"),
        }
        f
    }

    fn sel(fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        AdvancedEventSelector {
            name: None,
            field_selectors: fields,
        }
    }

    fn adv_err(s: AdvancedEventSelector) -> String {
        let e = validate_advanced_event_selectors(&[s]).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        e.message
    }

    fn management() -> AdvancedFieldSelector {
        fs("eventCategory", "Equals", &["Management"])
    }

    fn data_cat() -> AdvancedFieldSelector {
        fs("eventCategory", "Equals", &["Data"])
    }

    fn s3_type() -> AdvancedFieldSelector {
        fs("resources.type", "Equals", &["AWS::S3::Object"])
    }

    #[test]
    fn valid_advanced_selectors() {
        let selectors = vec![
            AdvancedEventSelector {
                name: Some("Management writes, no KMS".into()),
                field_selectors: vec![
                    management(),
                    fs("readOnly", "Equals", &["false"]),
                    fs("eventSource", "NotEquals", &["kms.amazonaws.com"]),
                ],
            },
            sel(vec![
                data_cat(),
                s3_type(),
                fs("resources.ARN", "StartsWith", &["arn:aws:s3:::b/"]),
                fs("eventName", "NotEquals", &["GetObject", "HeadObject"]),
                fs("readOnly", "Equals", &["true", "false"]),
                fs("eventSource", "Equals", &["s3.amazonaws.com"]),
                fs("eventType", "Equals", &["AwsApiCall"]),
                fs("sessionCredentialFromConsole", "Equals", &["true"]),
                fs("userIdentity.arn", "EndsWith", &["HumanRole"]),
            ]),
            sel(vec![
                data_cat(),
                fs(
                    "resources.type",
                    "Equals",
                    &["AWS::BedrockAgentCore::Runtime"],
                ),
            ]),
            sel(vec![
                fs("eventCategory", "Equals", &["NetworkActivity"]),
                fs("eventSource", "Equals", &["kms.amazonaws.com"]),
                fs("errorCode", "Equals", &["VpceAccessDenied"]),
                fs("vpcEndpointId", "NotEquals", &["vpce-123"]),
                fs("eventName", "StartsWith", &["Get"]),
                fs(
                    "userIdentity.arn",
                    "Equals",
                    &["arn:aws:iam::123456789012:role/r"],
                ),
            ]),
        ];
        assert_eq!(validate_advanced_event_selectors(&selectors), Ok(()));
        assert_eq!(validate_advanced_event_selectors(&[]), Ok(()));
    }

    #[test]
    fn advanced_name_and_field_selectors() {
        let long = AdvancedEventSelector {
            name: Some("n".repeat(1001)),
            field_selectors: vec![management()],
        };
        assert!(adv_err(long).contains("1000"));
        let ok = AdvancedEventSelector {
            name: Some("n".repeat(1000)),
            field_selectors: vec![management()],
        };
        assert_eq!(validate_advanced_event_selectors(&[ok]), Ok(()));
        assert!(adv_err(sel(vec![])).contains("at least one field selector"));
        // A missing FieldSelectors member deserializes to empty and is rejected.
        let parsed: AdvancedEventSelector = serde_json::from_value(json!({"Name": "x"})).unwrap();
        assert!(adv_err(parsed).contains("at least one field selector"));
    }

    #[test]
    fn advanced_field_names() {
        assert!(adv_err(sel(vec![management(), fs("", "Equals", &["x"])])).contains("between 1"));
        let long = "a".repeat(1001);
        assert!(adv_err(sel(vec![management(), fs(&long, "Equals", &["x"])])).contains("1000"));
        let m = adv_err(sel(vec![
            management(),
            fs("event-Source", "Equals", &["x"]),
        ]));
        assert!(m.contains("event-Source is invalid"), "{m}");
        let m = adv_err(sel(vec![
            management(),
            fs("readOnly", "Equals", &["true"]),
            fs("readOnly", "Equals", &["false"]),
        ]));
        assert!(m.contains("more than once"), "{m}");
    }

    #[test]
    fn advanced_operators_and_values() {
        let none = AdvancedFieldSelector {
            field: "eventName".into(),
            ..Default::default()
        };
        let m = adv_err(sel(vec![data_cat(), s3_type(), none]));
        assert!(m.contains("no condition"), "{m}");
        let m = adv_err(sel(vec![
            data_cat(),
            s3_type(),
            fs("eventName", "Equals", &[]),
        ]));
        assert!(m.contains("at least one value"), "{m}");
        let m = adv_err(sel(vec![
            data_cat(),
            s3_type(),
            fs("eventName", "Equals", &[""]),
        ]));
        assert!(m.contains("between 1 and 2048"), "{m}");
        let long = "v".repeat(2049);
        let m = adv_err(sel(vec![
            data_cat(),
            s3_type(),
            fs("eventName", "EndsWith", &[&long]),
        ]));
        assert!(m.contains("2049"), "{m}");
        let max = "v".repeat(2048);
        assert_eq!(
            validate_advanced_event_selectors(&[sel(vec![
                data_cat(),
                s3_type(),
                fs("eventName", "EndsWith", &[&max]),
            ])]),
            Ok(())
        );
        let m = adv_err(sel(vec![
            data_cat(),
            s3_type(),
            fs("eventName", "Equals", &["\r\n"]),
        ]));
        assert!(m.contains("other than a line break"), "{m}");
        assert_eq!(
            validate_advanced_event_selectors(&[sel(vec![
                data_cat(),
                s3_type(),
                fs("eventName", "Equals", &["a\nb"]),
            ])]),
            Ok(())
        );
    }

    #[test]
    fn event_category_rules() {
        let m = adv_err(sel(vec![fs("readOnly", "Equals", &["true"])]));
        assert!(m.contains("eventCategory field is required"), "{m}");
        let m = adv_err(sel(vec![fs("eventCategory", "StartsWith", &["Manage"])]));
        assert!(m.contains("only the Equals operator"), "{m}");
        let mut both = management();
        both.not_equals = Some(vec!["Data".into()]);
        let m = adv_err(sel(vec![both]));
        assert!(m.contains("only the Equals operator"), "{m}");
        let m = adv_err(sel(vec![fs("eventCategory", "Equals", &["Insight"])]));
        assert!(
            m.contains("Value Insight for eventCategory is invalid"),
            "{m}"
        );
        let m = adv_err(sel(vec![fs(
            "eventCategory",
            "Equals",
            &["Management", "Data"],
        )]));
        assert!(m.contains("exactly one value"), "{m}");
    }

    #[test]
    fn fields_per_category() {
        let m = adv_err(sel(vec![
            management(),
            fs("eventName", "Equals", &["RunInstances"]),
        ]));
        assert!(
            m.contains("eventName is not supported for Management"),
            "{m}"
        );
        let m = adv_err(sel(vec![management(), s3_type()]));
        assert!(m.contains("resources.type is not supported"), "{m}");
        let m = adv_err(sel(vec![
            data_cat(),
            s3_type(),
            fs("errorCode", "Equals", &["VpceAccessDenied"]),
        ]));
        assert!(m.contains("errorCode is not supported for Data"), "{m}");
        let m = adv_err(sel(vec![
            fs("eventCategory", "Equals", &["NetworkActivity"]),
            fs("eventSource", "Equals", &["ec2.amazonaws.com"]),
            fs("readOnly", "Equals", &["true"]),
        ]));
        assert!(
            m.contains("readOnly is not supported for NetworkActivity"),
            "{m}"
        );
    }

    #[test]
    fn required_fields_per_category() {
        let m = adv_err(sel(vec![data_cat()]));
        assert!(m.contains("resources.type field is required"), "{m}");
        let m = adv_err(sel(vec![fs(
            "eventCategory",
            "Equals",
            &["NetworkActivity"],
        )]));
        assert!(m.contains("eventSource field is required"), "{m}");
    }

    #[test]
    fn read_only_rules() {
        let m = adv_err(sel(vec![
            management(),
            fs("readOnly", "NotEquals", &["true"]),
        ]));
        assert!(m.contains("only the Equals operator"), "{m}");
        let m = adv_err(sel(vec![management(), fs("readOnly", "Equals", &["True"])]));
        assert!(m.contains("Value True for readOnly is invalid"), "{m}");
    }

    #[test]
    fn resources_type_rules() {
        let m = adv_err(sel(vec![
            data_cat(),
            fs("resources.type", "StartsWith", &["AWS::S3::"]),
        ]));
        assert!(m.contains("only the Equals operator"), "{m}");
        let m = adv_err(sel(vec![
            data_cat(),
            fs(
                "resources.type",
                "Equals",
                &["AWS::S3::Object", "AWS::SNS::Topic"],
            ),
        ]));
        assert!(m.contains("exactly one value"), "{m}");
        for bad in [
            "S3::Object",
            "AWS::S3",
            "AWS::S3::Object::X",
            "AWS::S-3::Object",
            "AWS::::",
        ] {
            let m = adv_err(sel(vec![
                data_cat(),
                fs("resources.type", "Equals", &[bad]),
            ]));
            assert!(m.contains("for resources.type is invalid"), "{bad}: {m}");
        }
    }

    #[test]
    fn network_activity_rules() {
        let na = || fs("eventCategory", "Equals", &["NetworkActivity"]);
        let m = adv_err(sel(vec![na(), fs("eventSource", "StartsWith", &["kms"])]));
        assert!(m.contains("only the Equals operator"), "{m}");
        let m = adv_err(sel(vec![
            na(),
            fs(
                "eventSource",
                "Equals",
                &["kms.amazonaws.com", "ec2.amazonaws.com"],
            ),
        ]));
        assert!(m.contains("exactly one value"), "{m}");
        let m = adv_err(sel(vec![
            na(),
            fs("eventSource", "Equals", &["kms.amazonaws.com"]),
            fs("errorCode", "Equals", &["AccessDenied"]),
        ]));
        assert!(m.contains("VpceAccessDenied"), "{m}");
        let m = adv_err(sel(vec![
            na(),
            fs("eventSource", "Equals", &["kms.amazonaws.com"]),
            fs("errorCode", "NotEquals", &["VpceAccessDenied"]),
        ]));
        assert!(m.contains("only the Equals operator"), "{m}");
        // Management eventSource is not restricted to Equals.
        assert_eq!(
            validate_advanced_event_selectors(&[sel(vec![
                management(),
                fs("eventSource", "NotEquals", &["kms.amazonaws.com"]),
            ])]),
            Ok(())
        );
    }

    #[test]
    fn at_most_500_condition_values() {
        // Each selector: 1 (eventCategory) + 1 (resources.type) + 98 eventName values = 100.
        let names: Vec<String> = (0..98).map(|i| format!("Op{i}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let one = || {
            sel(vec![
                data_cat(),
                s3_type(),
                fs("eventName", "Equals", &refs),
            ])
        };
        let five: Vec<_> = (0..5).map(|_| one()).collect();
        assert_eq!(validate_advanced_event_selectors(&five), Ok(()));
        let mut six = five.clone();
        six.push(sel(vec![management()]));
        let e = validate_advanced_event_selectors(&six).unwrap_err();
        assert_eq!(e.kind, TrailErrorKind::InvalidEventSelectors);
        assert!(e.message.contains("501"), "{}", e.message);
    }

    #[test]
    fn advanced_errors_name_the_selector() {
        let s = AdvancedEventSelector {
            name: Some("Log S3".into()),
            field_selectors: vec![data_cat()],
        };
        let e = validate_advanced_event_selectors(&[sel(vec![management()]), s]).unwrap_err();
        assert!(
            e.message
                .starts_with("Advanced event selector 2 (\"Log S3\"): "),
            "{}",
            e.message
        );
    }

    // ---- insight selectors ----

    fn insight(t: Option<&str>, cats: Option<&[&str]>) -> InsightSelector {
        InsightSelector {
            insight_type: t.map(str::to_owned),
            event_categories: cats.map(|c| c.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    #[test]
    fn valid_insight_selectors() {
        assert_eq!(validate_insight_selectors(&[]), Ok(()));
        assert_eq!(
            validate_insight_selectors(&[
                insight(Some("ApiCallRateInsight"), None),
                insight(Some("ApiErrorRateInsight"), Some(&["Management", "Data"])),
            ]),
            Ok(())
        );
        assert_eq!(
            validate_insight_selectors(&[insight(Some("ApiCallRateInsight"), Some(&[]))]),
            Ok(())
        );
    }

    #[test]
    fn invalid_insight_selectors() {
        for (bad, needle) in [
            (vec![insight(None, None)], "required"),
            (
                vec![insight(Some("ApiCallRate"), None)],
                "ApiCallRate for InsightType",
            ),
            (
                vec![
                    insight(Some("ApiCallRateInsight"), None),
                    insight(Some("ApiCallRateInsight"), Some(&["Data"])),
                ],
                "more than once",
            ),
            (
                vec![insight(
                    Some("ApiErrorRateInsight"),
                    Some(&["NetworkActivity"]),
                )],
                "NetworkActivity for EventCategories",
            ),
        ] {
            let e = validate_insight_selectors(&bad).unwrap_err();
            assert_eq!(e.kind, TrailErrorKind::InvalidInsightSelectors);
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
    }
}

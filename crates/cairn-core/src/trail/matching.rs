//! Which events a trail delivers: the pure selection rule.
//!
//! [`SelectionFacts::of`] extracts, once per event, the few facts selection looks at;
//! [`trail_selects`] then decides for one trail, with no I/O, clock or store. Delivery calls it
//! for every (event, trail) pair; an event may go to several trails, as each trail is decided
//! on its own (AWS fact, reference `cloudtrail-delivery.md` §6.1).
//!
//! `trail_selects` looks only at the trail's Region settings, `IncludeGlobalServiceEvents` and
//! event selectors. Whether the trail is logging (`is_logging`, start/stop times) is for the
//! caller; `RecursiveLogging` is not applied (it concerns events that CloudTrail's own writes to
//! the log bucket cause, which Cairn does not produce).
//!
//! # Rules
//!
//! Each rule says where it comes from: **AWS fact** (AWS documentation, summarized in
//! `cloudtrail-delivery.md` §6 and `cloudtrail-api.md` §2.2/§6) or **Cairn policy** (AWS is
//! silent or does not apply; chosen to be predictable and, where in doubt, to keep audit
//! events rather than lose them).
//!
//! An event is delivered when rules 1–3 let it through **and** rule 4 (basic selectors) or
//! rule 5 (advanced selectors) selects it.
//!
//! ## 1. Event category
//!
//! - *AWS fact*: the category is the record's `eventCategory`: `Management`, `Data`,
//!   `NetworkActivity`, `Insight`, and the CloudTrail Lake categories.
//! - *AWS fact*: records written before eventVersion 1.07 have no `eventCategory`; they are
//!   management events unless `managementEvent` is `false` (eventVersion 1.06 data events),
//!   which makes them data events. *Cairn policy*: an explicit `"eventCategory": null` is read
//!   like a missing one, and a record without a category whose `eventType` is
//!   `AwsCloudTrailInsight` is an Insights event.
//! - *AWS fact*: Insights events (`Insight`) are never delivered as log records; they go to
//!   their own `CloudTrail-Insight` files, decided elsewhere. [`trail_selects`] answers `false`.
//! - *Cairn policy*: any other category (the Lake-only `ConfigurationItem`, `Evidence`,
//!   `Aggregated`, an unknown string, a non-string value) is never delivered: no trail selector
//!   can name it.
//! - *Cairn policy* — **application events**. Events ingested with `PutAuditEvents`
//!   (`eventCategory: ActivityAuditLog`, `eventType: ActivityLog`) are delivered by trails as
//!   **write management events** of their `eventData.eventSource`. On AWS they reach only Lake
//!   event data stores; Cairn has no Lake, so trails are where they can be read. Their facts come
//!   from inside `eventData`: `eventSource`, `eventName`, `errorCode` and, if the application
//!   sent one, `userIdentity.arn`. They have no `readOnly` and so count as writes (rule 4,
//!   read/write). Therefore:
//!   - basic selectors pick them up when `IncludeManagementEvents` is true (the default) and
//!     `ReadWriteType` is `All` or `WriteOnly` (not `ReadOnly`), unless their event source is
//!     listed in `ExcludeManagementEventSources`;
//!   - advanced selectors pick them up with `eventCategory` `Equals` `Management`; a `readOnly`
//!     condition sees `"false"`, an `eventSource` condition sees `eventData.eventSource`;
//!   - they are never global service events (rule 3), whatever source the application names.
//!
//! ## 2. Regions
//!
//! - *AWS fact*: a single-Region trail takes only events whose `awsRegion` is its home Region; a
//!   multi-Region trail takes events of every Region.
//! - *Cairn policy*: an event without an `awsRegion` string reaches multi-Region trails only.
//! - *AWS fact*: on a single-Region trail, the "all resources" data selections (`arn:aws:s3`,
//!   ...) cover that Region only. *Cairn policy*: this rule stands in for it, taking a data
//!   event's `awsRegion` to be its resource's Region.
//! - Application events use the top-level `awsRegion` Cairn stores (the Region of the
//!   `PutAuditEvents` call).
//!
//! ## 3. Global service events
//!
//! - *AWS fact*: events of the global services IAM, STS and CloudFront
//!   ([`GLOBAL_SERVICE_EVENT_SOURCES`]) are recorded in us-east-1 and reach a trail only if it
//!   includes global service events (`IncludeGlobalServiceEvents`) and covers us-east-1 (a
//!   multi-Region trail, or a single-Region trail homed there). The Region part is rule 2: a
//!   single-Region trail homed in eu-west-1 does not receive an IAM event of us-east-1 even with
//!   global service events on.
//! - *Cairn policy*: the event source alone makes an event global, whatever its `awsRegion`:
//!   an STS call recorded in eu-west-1 (a regional STS endpoint) also needs
//!   `IncludeGlobalServiceEvents`. AWS's treatment of regional STS endpoint events is not
//!   documented in the references; a trail that opted out of global service events is taken to
//!   have opted out of these services.
//! - *Cairn policy*: console sign-in events (`signin.amazonaws.com`) are not treated as global
//!   service events (the reference lists IAM, STS and CloudFront only).
//!
//! ## 4. Basic event selectors
//!
//! Which selectors are in force follows [`TrailConfig::effective_event_selectors`]: the basic
//! selectors if set, else the advanced selectors if set, else [`default_event_selectors`] (all
//! management events, read and write — AWS fact). An empty list (basic or advanced) selects
//! nothing (*Cairn policy*).
//!
//! - *AWS fact*: an event is selected if **any** selector selects it (OR).
//! - *AWS fact*: `ReadWriteType` (default `All`) applies to the management **and** the data
//!   events of that selector: `ReadOnly` takes events with `readOnly: true`, `WriteOnly` events
//!   with `readOnly: false`.
//! - *Cairn policy*: an event without a recognisable `readOnly` (absent, `null`, not a boolean
//!   or `"true"`/`"false"`) counts as a **write**: `All` and `WriteOnly` take it, `ReadOnly` does
//!   not. AWS API-call management events always carry `readOnly`; the ones that may not (some
//!   `AwsServiceEvent` records, application events) usually record a change, and a `WriteOnly`
//!   trail is meant to drop high-volume reads, not changes. The same reading applies to the
//!   `readOnly` field of advanced selectors (rule 5). A `ReadWriteType` outside the enum (never
//!   stored: validation rejects it) selects nothing.
//! - *AWS fact*: a management event needs `IncludeManagementEvents` (default `true`) and an
//!   `eventSource` not listed in `ExcludeManagementEventSources`.
//! - *AWS fact*: a data event needs a `DataResources` entry whose `Type` is the type of one of
//!   the event's `resources[]` and one of whose `Values` matches that resource's `ARN`:
//!   - `arn:<partition>:<service>` alone (`arn:aws:s3`, `arn:aws:lambda`, `arn:aws:dynamodb`)
//!     matches every ARN of that partition and service (`arn:aws:s3:...`);
//!   - for `AWS::S3::Object`, any other value is a **prefix** of the object ARN:
//!     `arn:aws:s3:::bucket/` selects the whole bucket, `arn:aws:s3:::bucket/images` the keys
//!     starting with `images` (so `arn:aws:s3:::bucket/` never matches `bucket2`);
//!   - for every other type (`AWS::Lambda::Function`, `AWS::DynamoDB::Table`) the value must
//!     **equal** the ARN (`...:function:hello` does not select `...:function:hello2`).
//!     *Cairn policy*: a qualified function ARN (`...:function:hello:1`) is a different ARN.
//!   - Other partitions (`arn:aws-cn:`, `arn:aws-us-gov:`) work the same way.
//!   - Only `resources[]` entries of the entry's `Type` are compared, so the `AWS::S3::Bucket`
//!     entry AWS adds beside an object never matches an `AWS::S3::Object` value. An empty value
//!     matches nothing (*Cairn policy*; validation rejects it).
//! - *AWS fact*: basic selectors never select network-activity events (only advanced ones can).
//!
//! ## 5. Advanced event selectors
//!
//! - *AWS fact*: OR across selectors; within a selector, every field selector must hold (AND).
//!   *Cairn policy*: a selector without field selectors (rejected by validation) selects nothing.
//! - *AWS fact*: within one operator, the values are ORed; a negative operator (`NotEquals`,
//!   `NotStartsWith`, `NotEndsWith`) excludes the event if the field matches **any** of its
//!   values. No wildcards: `*` is a literal character; comparisons are case-sensitive.
//! - *Cairn policy* (the reference says "presumably AND"): when one field selector has several
//!   **positive** operators (`Equals`, `StartsWith`, `EndsWith`), the field must match at least
//!   one value of **every** positive operator present, and no value of any negative operator.
//!   A positive operator with an empty list (rejected by validation) matches nothing.
//! - Fields and the values they are compared with:
//!   - `eventCategory`: the category of rule 1, so `Management` also for old records without
//!     `eventCategory` and for application events;
//!   - `eventSource`, `eventName`, `eventType`, `errorCode`, `vpcEndpointId`,
//!     `userIdentity.arn`: the record's member (for application events, `eventData`'s);
//!   - `readOnly`: `"true"` or `"false"`, never missing (an event without `readOnly` is
//!     `"false"`, rule 4);
//!   - `sessionCredentialFromConsole`: `"true"` or `"false"`, never missing (*Cairn policy*:
//!     AWS writes the member only when true, so absent reads `"false"`);
//!   - `resources.type`: every `resources[].type`;
//!   - `resources.ARN`: every `resources[].ARN` of the selector's resource type (see below).
//! - *Cairn policy*: a field the event does not have (say `errorCode` on a successful call):
//!   positive conditions fail, negative conditions pass. A field name Cairn does not know
//!   (rejected by validation) is a field no event has.
//! - *Cairn policy*, multi-valued fields (`resources.type`, `resources.ARN`): a positive
//!   condition holds if **any** one resource satisfies all its positive operators; a negative
//!   condition excludes the event if **any** resource matches one of its values.
//! - *Cairn policy*: when the selector has a `resources.type` `Equals` condition, its
//!   `resources.ARN` conditions are compared with the resources **of that type** only (AWS
//!   requires `Equals`/`NotEquals` ARNs "of the chosen type", and selects events by resource
//!   type). So the `AWS::S3::Bucket` entry of an S3 object event neither satisfies nor trips an
//!   `AWS::S3::Object` selector's `resources.ARN` condition.
//! - Validation ([`crate::trail::validate_advanced_event_selectors`]) guarantees that every
//!   stored selector has an `eventCategory` condition; matching evaluates whatever conditions
//!   are there.
//!
//! ## 6. Organization trails
//!
//! *Cairn policy*: no extra rule. An organization trail delivers what a normal trail would. On
//! AWS it also receives member accounts' events, told apart by `recipientAccountId`; Cairn has
//! one account. [`SelectionFacts::recipient_account_id`] is extracted for when that changes.
//! Likewise, no rule compares `recipientAccountId` with the trail's account.

use std::sync::LazyLock;

use serde_json::Value;

use super::selectors::{
    AdvancedEventSelector, AdvancedFieldSelector, EventSelector, ReadWriteType,
    default_event_selectors,
};
use crate::record::{EventRecord, Field};
use crate::trail_config::TrailConfig;

/// The event sources of global service events (IAM, STS, CloudFront), recorded in us-east-1.
pub const GLOBAL_SERVICE_EVENT_SOURCES: [&str; 3] = [
    "iam.amazonaws.com",
    "sts.amazonaws.com",
    "cloudfront.amazonaws.com",
];

/// `eventCategory` of events ingested with `PutAuditEvents`.
const APPLICATION_CATEGORY: &str = "ActivityAuditLog";

/// The selectors of a trail that was never given any (built once).
static DEFAULT_SELECTORS: LazyLock<Vec<EventSelector>> = LazyLock::new(default_event_selectors);

/// What kind of event a record is, for selection (rule 1 of the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectionCategory {
    /// `Management`, or no `eventCategory` and `managementEvent` not `false`.
    Management,
    /// `Data`, or no `eventCategory` and `managementEvent: false`.
    Data,
    /// `NetworkActivity`: selectable by advanced selectors only.
    NetworkActivity,
    /// `Insight`: never delivered as a log record.
    Insight,
    /// `ActivityAuditLog` (`PutAuditEvents`): delivered as a write management event
    /// (*Cairn policy*).
    Application,
    /// Any other category (Lake-only, unknown, or not a string, kept as JSON text): never
    /// delivered.
    Other(String),
}

impl SelectionCategory {
    /// The category of `record` (rule 1).
    pub fn of(record: &EventRecord) -> SelectionCategory {
        match &record.event_category {
            Field::Typed(category) => match category.as_str() {
                "Management" => SelectionCategory::Management,
                "Data" => SelectionCategory::Data,
                "NetworkActivity" => SelectionCategory::NetworkActivity,
                "Insight" => SelectionCategory::Insight,
                APPLICATION_CATEGORY => SelectionCategory::Application,
                other => SelectionCategory::Other(other.to_owned()),
            },
            Field::Raw(value) => SelectionCategory::Other(value.to_string()),
            Field::Absent | Field::Null => {
                if record.event_type.as_str() == Some("AwsCloudTrailInsight") {
                    SelectionCategory::Insight
                } else if record.management_event.as_bool() == Some(false) {
                    SelectionCategory::Data
                } else {
                    SelectionCategory::Management
                }
            }
        }
    }

    /// The value an advanced selector's `eventCategory` condition is compared with; `None` for
    /// the categories no trail delivers.
    pub fn selector_value(&self) -> Option<&'static str> {
        match self {
            SelectionCategory::Management | SelectionCategory::Application => Some("Management"),
            SelectionCategory::Data => Some("Data"),
            SelectionCategory::NetworkActivity => Some("NetworkActivity"),
            SelectionCategory::Insight | SelectionCategory::Other(_) => None,
        }
    }
}

/// One `resources[]` entry, as selection sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectionResource {
    /// `type`, e.g. `AWS::S3::Object`, if a string.
    pub resource_type: Option<String>,
    /// `ARN`, if a string.
    pub arn: Option<String>,
}

/// Facts about one event that selection needs, extracted once from the record
/// ([`SelectionFacts::of`]) and then matched against any number of trails.
///
/// String members are `None` when the record lacks the member or it is not a string. For
/// application events (`ActivityAuditLog`) the members come from `eventData` (see the
/// [module docs](self), rule 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectionFacts {
    /// The category (rule 1).
    pub category: SelectionCategory,
    /// `eventSource` (application events: `eventData.eventSource`).
    pub event_source: Option<String>,
    /// `eventName` (application events: `eventData.eventName`).
    pub event_name: Option<String>,
    /// `readOnly` as a boolean, when it is one (or the string `"true"`/`"false"`). `None`
    /// counts as a write ([`SelectionFacts::is_read`]).
    pub read_only: Option<bool>,
    /// `eventType`.
    pub event_type: Option<String>,
    /// `resources[]`: (type, ARN) of each object entry; empty when absent or malformed.
    pub resources: Vec<SelectionResource>,
    /// `sessionCredentialFromConsole` is true (absent counts as false).
    pub session_credential_from_console: bool,
    /// `userIdentity.arn` (application events: `eventData.userIdentity.arn`, if sent).
    pub user_identity_arn: Option<String>,
    /// `errorCode` (application events: `eventData.errorCode`).
    pub error_code: Option<String>,
    /// `vpcEndpointId`.
    pub vpc_endpoint_id: Option<String>,
    /// `awsRegion`.
    pub aws_region: Option<String>,
    /// `recipientAccountId` (not used by any rule yet; see rule 6).
    pub recipient_account_id: Option<String>,
}

fn owned(field: &Field<String>) -> Option<String> {
    field.as_str().map(str::to_owned)
}

impl SelectionFacts {
    /// Extracts the facts of `record`.
    pub fn of(record: &EventRecord) -> SelectionFacts {
        let category = SelectionCategory::of(record);
        let mut facts = SelectionFacts {
            category,
            event_source: owned(&record.event_source),
            event_name: owned(&record.event_name),
            read_only: record.read_only(),
            event_type: owned(&record.event_type),
            resources: record
                .resources
                .get()
                .map(|resources| {
                    resources
                        .iter()
                        .map(|r| SelectionResource {
                            resource_type: owned(&r.resource_type),
                            arn: owned(&r.arn),
                        })
                        .collect()
                })
                .unwrap_or_default(),
            session_credential_from_console: record.session_credential_from_console.as_bool()
                == Some(true),
            user_identity_arn: record
                .user_identity
                .get()
                .and_then(|identity| owned(&identity.arn)),
            error_code: owned(&record.error_code),
            vpc_endpoint_id: owned(&record.vpc_endpoint_id),
            aws_region: owned(&record.aws_region),
            recipient_account_id: owned(&record.recipient_account_id),
        };
        if facts.category == SelectionCategory::Application {
            // The application's own fields live inside eventData; the top level has none.
            let data = record.extra.get("eventData").and_then(Value::as_object);
            let text = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
            let member = |name: &str| text(data.and_then(|d| d.get(name)));
            facts.event_source = member("eventSource");
            facts.event_name = member("eventName");
            facts.error_code = member("errorCode");
            facts.user_identity_arn = text(
                data.and_then(|d| d.get("userIdentity"))
                    .and_then(|identity| identity.get("arn")),
            );
        }
        facts
    }

    /// Whether the event is a management event: [`SelectionCategory::Management`] or an
    /// application event.
    pub fn is_management(&self) -> bool {
        matches!(
            self.category,
            SelectionCategory::Management | SelectionCategory::Application
        )
    }

    /// Whether the event counts as a read: `readOnly` is true. Anything else (false, absent,
    /// unrecognised) counts as a write (*Cairn policy*, rule 4).
    pub fn is_read(&self) -> bool {
        self.read_only == Some(true)
    }

    /// Whether the event is a global service event (rule 3): its source is IAM, STS or
    /// CloudFront, and it is not an application event.
    pub fn is_global_service_event(&self) -> bool {
        self.category != SelectionCategory::Application
            && self
                .event_source
                .as_deref()
                .is_some_and(|source| GLOBAL_SERVICE_EVENT_SOURCES.contains(&source))
    }
}

/// Whether `trail` delivers the event described by `facts` (all rules of the
/// [module docs](self)).
pub fn trail_selects(trail: &TrailConfig, facts: &SelectionFacts) -> bool {
    // Rule 1: Insights and unknown categories are never log records of a trail.
    if facts.category.selector_value().is_none() {
        return false;
    }
    // Rule 2: Regions.
    let region_covered = trail.is_multi_region_trail
        || facts.aws_region.as_deref() == Some(trail.home_region.as_str());
    if !region_covered {
        return false;
    }
    // Rule 3: global service events.
    if facts.is_global_service_event() && !trail.include_global_service_events {
        return false;
    }
    // Rules 4 and 5, with the selectors in force as in `TrailConfig::effective_event_selectors`.
    match (&trail.event_selectors, &trail.advanced_event_selectors) {
        (Some(basic), _) => basic.iter().any(|s| basic_selects(s, facts)),
        (None, Some(advanced)) => advanced.iter().any(|s| advanced_selects(s, facts)),
        (None, None) => DEFAULT_SELECTORS.iter().any(|s| basic_selects(s, facts)),
    }
}

// ------------------------------------------------------------------------------------------
// Basic selectors (rule 4)
// ------------------------------------------------------------------------------------------

fn basic_selects(selector: &EventSelector, facts: &SelectionFacts) -> bool {
    let read_write_ok = match selector.read_write_type.as_ref() {
        None | Some(ReadWriteType::All) => true,
        Some(ReadWriteType::ReadOnly) => facts.is_read(),
        Some(ReadWriteType::WriteOnly) => !facts.is_read(),
        Some(ReadWriteType::Other(_)) => false,
    };
    if !read_write_ok {
        return false;
    }
    match facts.category {
        SelectionCategory::Management | SelectionCategory::Application => {
            selector.include_management_events.unwrap_or(true)
                && !selector
                    .exclude_management_event_sources
                    .iter()
                    .flatten()
                    .any(|excluded| facts.event_source.as_deref() == Some(excluded.as_str()))
        }
        SelectionCategory::Data => selector.data_resources.iter().flatten().any(|resource| {
            let (Some(resource_type), Some(values)) = (&resource.resource_type, &resource.values)
            else {
                return false;
            };
            facts
                .resources
                .iter()
                .filter(|r| r.resource_type.as_deref() == Some(resource_type.as_str()))
                .filter_map(|r| r.arn.as_deref())
                .any(|arn| {
                    values
                        .iter()
                        .any(|value| data_value_matches(resource_type, value, arn))
                })
        }),
        SelectionCategory::NetworkActivity
        | SelectionCategory::Insight
        | SelectionCategory::Other(_) => false,
    }
}

/// Whether a `DataResources.Values` entry of `resource_type` selects the resource `arn`.
fn data_value_matches(resource_type: &str, value: &str, arn: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    if is_all_value(value) {
        // `arn:aws:s3` selects `arn:aws:s3:...`, not `arn:aws:s3-object-lambda:...`.
        return arn
            .strip_prefix(value)
            .is_some_and(|rest| rest.starts_with(':'));
    }
    if resource_type == "AWS::S3::Object" {
        arn.starts_with(value)
    } else {
        arn == value
    }
}

/// `arn:<partition>:<service>` with nothing after: "every resource of the type".
fn is_all_value(value: &str) -> bool {
    value.strip_prefix("arn:").is_some_and(|rest| {
        rest.split(':').count() == 2 && rest.split(':').all(|part| !part.is_empty())
    })
}

// ------------------------------------------------------------------------------------------
// Advanced selectors (rule 5)
// ------------------------------------------------------------------------------------------

fn advanced_selects(selector: &AdvancedEventSelector, facts: &SelectionFacts) -> bool {
    if selector.field_selectors.is_empty() {
        return false;
    }
    // The resource types the selector is about: `resources.ARN` looks at those only.
    let scope: Option<&[String]> = selector
        .field_selectors
        .iter()
        .find(|f| f.field == "resources.type")
        .and_then(|f| f.equals.as_deref());
    selector
        .field_selectors
        .iter()
        .all(|condition| field_condition_holds(condition, facts, scope))
}

fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn field_condition_holds(
    condition: &AdvancedFieldSelector,
    facts: &SelectionFacts,
    scope: Option<&[String]>,
) -> bool {
    let one = |value: Option<&str>| holds(condition, value.into_iter());
    match condition.field.as_str() {
        "eventCategory" => one(facts.category.selector_value()),
        "eventSource" => one(facts.event_source.as_deref()),
        "eventName" => one(facts.event_name.as_deref()),
        "eventType" => one(facts.event_type.as_deref()),
        "errorCode" => one(facts.error_code.as_deref()),
        "vpcEndpointId" => one(facts.vpc_endpoint_id.as_deref()),
        "userIdentity.arn" => one(facts.user_identity_arn.as_deref()),
        "readOnly" => one(Some(bool_text(facts.is_read()))),
        "sessionCredentialFromConsole" => {
            one(Some(bool_text(facts.session_credential_from_console)))
        }
        "resources.type" => holds(
            condition,
            facts
                .resources
                .iter()
                .filter_map(|r| r.resource_type.as_deref()),
        ),
        "resources.ARN" => holds(
            condition,
            facts
                .resources
                .iter()
                .filter(|r| {
                    scope.is_none_or(|types| {
                        r.resource_type
                            .as_deref()
                            .is_some_and(|t| types.iter().any(|s| s == t))
                    })
                })
                .filter_map(|r| r.arn.as_deref()),
        ),
        _ => one(None),
    }
}

type Test = fn(&str, &str) -> bool;

fn equals(field: &str, value: &str) -> bool {
    field == value
}

fn starts_with(field: &str, value: &str) -> bool {
    field.starts_with(value)
}

fn ends_with(field: &str, value: &str) -> bool {
    field.ends_with(value)
}

/// Whether one field selector holds for a field with the given values (none when the event
/// lacks the field, several for `resources.*`).
fn holds<'a>(
    condition: &AdvancedFieldSelector,
    values: impl Iterator<Item = &'a str> + Clone,
) -> bool {
    let positive: [(Option<&Vec<String>>, Test); 3] = [
        (condition.equals.as_ref(), equals),
        (condition.starts_with.as_ref(), starts_with),
        (condition.ends_with.as_ref(), ends_with),
    ];
    let negative: [(Option<&Vec<String>>, Test); 3] = [
        (condition.not_equals.as_ref(), equals),
        (condition.not_starts_with.as_ref(), starts_with),
        (condition.not_ends_with.as_ref(), ends_with),
    ];
    let matches = |value: &str, (list, test): &(Option<&Vec<String>>, Test)| {
        list.is_some_and(|list| list.iter().any(|wanted| test(value, wanted)))
    };
    // A negative operator excludes the event if any value matches any of its values.
    if values
        .clone()
        .any(|value| negative.iter().any(|op| matches(value, op)))
    {
        return false;
    }
    let present: Vec<_> = positive.iter().filter(|(list, _)| list.is_some()).collect();
    if present.is_empty() {
        return true;
    }
    // Some one value must satisfy every positive operator present.
    let mut values = values;
    values.any(|value| present.iter().all(|op| matches(value, op)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::Utc;
    use serde_json::{Value, json};

    use super::*;
    use crate::trail::DataResource;

    const ACCOUNT: &str = "111122223333";

    // ---- the stream ----

    fn identity() -> Value {
        json!({
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE",
            "arn": "arn:aws:iam::111122223333:user/alice",
            "accountId": ACCOUNT,
            "userName": "alice"
        })
    }

    /// A management API call of eventVersion 1.11.
    fn mgmt(id: &str, source: &str, name: &str, region: &str, read_only: bool) -> Value {
        json!({
            "eventVersion": "1.11",
            "userIdentity": identity(),
            "eventTime": "2025-03-04T09:15:27Z",
            "eventSource": source,
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": "198.51.100.23",
            "userAgent": "aws-cli/2.22.4",
            "requestParameters": null,
            "responseElements": null,
            "eventID": id,
            "readOnly": read_only,
            "eventType": "AwsApiCall",
            "managementEvent": true,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Management"
        })
    }

    /// An S3 object-level data event, with the bucket entry AWS adds.
    fn s3(id: &str, name: &str, bucket: &str, key: &str, region: &str, read_only: bool) -> Value {
        json!({
            "eventVersion": "1.10",
            "userIdentity": identity(),
            "eventTime": "2025-03-04T09:15:27Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": name,
            "awsRegion": region,
            "sourceIPAddress": "198.51.100.23",
            "requestParameters": {"bucketName": bucket, "key": key},
            "responseElements": null,
            "eventID": id,
            "readOnly": read_only,
            "resources": [
                {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")},
                {
                    "accountId": ACCOUNT,
                    "type": "AWS::S3::Bucket",
                    "ARN": format!("arn:aws:s3:::{bucket}")
                }
            ],
            "eventType": "AwsApiCall",
            "managementEvent": false,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Data"
        })
    }

    fn lambda(id: &str, function: &str) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": identity(),
            "eventTime": "2025-03-04T09:15:27Z",
            "eventSource": "lambda.amazonaws.com",
            "eventName": "Invoke",
            "awsRegion": "us-east-1",
            "requestParameters": {"functionName": function},
            "responseElements": null,
            "eventID": id,
            "readOnly": false,
            "resources": [{
                "accountId": ACCOUNT,
                "type": "AWS::Lambda::Function",
                "ARN": format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}")
            }],
            "eventType": "AwsApiCall",
            "managementEvent": false,
            "recipientAccountId": ACCOUNT,
            "eventCategory": "Data"
        })
    }

    /// The fixed mixed stream every matrix case runs over.
    fn stream() -> Vec<Value> {
        let mut kms_decrypt = mgmt(
            "kms-decrypt",
            "kms.amazonaws.com",
            "Decrypt",
            "us-east-1",
            true,
        );
        kms_decrypt["resources"] = json!([{
            "accountId": ACCOUNT,
            "type": "AWS::KMS::Key",
            "ARN": "arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
        }]);
        let mut signin = mgmt(
            "signin",
            "signin.amazonaws.com",
            "ConsoleLogin",
            "us-east-1",
            false,
        );
        signin["eventType"] = json!("AwsConsoleSignIn");
        signin["responseElements"] = json!({"ConsoleLogin": "Success"});
        signin["additionalEventData"] =
            json!({"MFAUsed": "Yes", "LoginTo": "https://console.aws.amazon.com/"});
        // An AwsServiceEvent without readOnly: counts as a write.
        let mut service = mgmt(
            "svc-event",
            "ssm.amazonaws.com",
            "ManagedInstanceHeartbeat",
            "us-east-1",
            false,
        );
        service.as_object_mut().unwrap().remove("readOnly");
        service["eventType"] = json!("AwsServiceEvent");
        service["serviceEventDetails"] = json!({"status": "ok"});
        let mut s3_put_a = s3(
            "s3-put-a",
            "PutObject",
            "bucket-a",
            "images/cat.png",
            "us-east-1",
            false,
        );
        s3_put_a["sessionCredentialFromConsole"] = json!("true");
        let application = json!({
            "eventVersion": "1.11",
            "eventCategory": "ActivityAuditLog",
            "eventType": "ActivityLog",
            "eventID": "app-event",
            "eventTime": "2025-03-04T09:15:27Z",
            "awsRegion": "us-east-1",
            "recipientAccountId": ACCOUNT,
            "metadata": {
                "ingestionTime": "2025-03-04T09:15:28Z",
                "channelARN": "arn:aws:cloudtrail:us-east-1:111122223333:channel/0123-4567"
            },
            "eventData": {
                "version": "1.0",
                "userIdentity": {"type": "AppUser", "principalId": "bob"},
                "eventSource": "orders.example.com",
                "eventName": "UpdateOrder",
                "eventTime": "2025-03-04T09:15:27Z",
                "UID": "u-1",
                "recipientAccountId": ACCOUNT
            }
        });
        let old_105 = json!({
            "eventVersion": "1.05",
            "userIdentity": identity(),
            "eventTime": "2019-03-04T09:15:27Z",
            "eventSource": "ec2.amazonaws.com",
            "eventName": "StopInstances",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.23",
            "requestParameters": {"instancesSet": {"items": [{"instanceId": "i-0123"}]}},
            "responseElements": null,
            "requestID": "r-1",
            "eventID": "old-105",
            "readOnly": false,
            "eventType": "AwsApiCall",
            "recipientAccountId": ACCOUNT
        });
        // eventVersion 1.06 data event: managementEvent false, no eventCategory.
        let mut old_106 = s3(
            "s3-old-106",
            "GetObject",
            "bucket-a",
            "reports/2019.csv",
            "us-east-1",
            true,
        );
        old_106["eventVersion"] = json!("1.06");
        old_106.as_object_mut().unwrap().remove("eventCategory");
        let network = json!({
            "eventVersion": "1.09",
            "userIdentity": identity(),
            "eventTime": "2025-03-04T09:15:27Z",
            "eventSource": "kms.amazonaws.com",
            "eventName": "ListKeys",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "10.0.0.7",
            "errorCode": "VpceAccessDenied",
            "errorMessage": "The request was denied due to a VPC endpoint policy",
            "requestParameters": null,
            "responseElements": null,
            "eventID": "vpce-denied",
            "eventType": "AwsVpceEvent",
            "recipientAccountId": ACCOUNT,
            "vpcEndpointId": "vpce-0123456789abcdef0",
            "eventCategory": "NetworkActivity"
        });
        let insight = json!({
            "eventVersion": "1.07",
            "eventTime": "2025-03-04T09:00:00Z",
            "awsRegion": "us-east-1",
            "eventID": "insight",
            "eventType": "AwsCloudTrailInsight",
            "recipientAccountId": ACCOUNT,
            "sharedEventID": "s-1",
            "insightDetails": {
                "state": "Start",
                "eventSource": "ec2.amazonaws.com",
                "eventName": "RunInstances",
                "insightType": "ApiCallRateInsight"
            },
            "eventCategory": "Insight"
        });
        vec![
            mgmt(
                "iam-read",
                "iam.amazonaws.com",
                "ListUsers",
                "us-east-1",
                true,
            ),
            mgmt(
                "iam-write",
                "iam.amazonaws.com",
                "CreateUser",
                "us-east-1",
                false,
            ),
            mgmt(
                "sts-euw1",
                "sts.amazonaws.com",
                "AssumeRole",
                "eu-west-1",
                false,
            ),
            mgmt(
                "ec2-read",
                "ec2.amazonaws.com",
                "DescribeInstances",
                "us-east-1",
                true,
            ),
            mgmt(
                "ec2-write",
                "ec2.amazonaws.com",
                "RunInstances",
                "eu-west-1",
                false,
            ),
            mgmt(
                "ct-read",
                "cloudtrail.amazonaws.com",
                "DescribeTrails",
                "ap-south-1",
                true,
            ),
            mgmt(
                "ct-write",
                "cloudtrail.amazonaws.com",
                "CreateTrail",
                "us-east-1",
                false,
            ),
            kms_decrypt,
            mgmt(
                "kms-disable",
                "kms.amazonaws.com",
                "DisableKey",
                "us-east-1",
                false,
            ),
            mgmt(
                "rdsdata-exec",
                "rdsdata.amazonaws.com",
                "ExecuteStatement",
                "us-east-1",
                false,
            ),
            signin,
            service,
            application,
            old_105,
            s3(
                "s3-get-a",
                "GetObject",
                "bucket-a",
                "reports/q1.csv",
                "us-east-1",
                true,
            ),
            s3_put_a,
            s3(
                "s3-get-b",
                "GetObject",
                "bucket-b",
                "reports/q2.csv",
                "eu-west-1",
                true,
            ),
            s3(
                "s3-put-b",
                "PutObject",
                "bucket-b",
                "logs/app.log",
                "us-east-1",
                false,
            ),
            old_106,
            lambda("lambda-invoke", "hello"),
            lambda("lambda-invoke-2", "hello2"),
            network,
            insight,
        ]
    }

    /// Every management event of the stream (read and write, all Regions).
    const MANAGEMENT: &[&str] = &[
        "iam-read",
        "iam-write",
        "sts-euw1",
        "ec2-read",
        "ec2-write",
        "ct-read",
        "ct-write",
        "kms-decrypt",
        "kms-disable",
        "rdsdata-exec",
        "signin",
        "svc-event",
        "app-event",
        "old-105",
    ];
    const MANAGEMENT_READS: &[&str] = &["iam-read", "ec2-read", "ct-read", "kms-decrypt"];
    const MANAGEMENT_WRITES: &[&str] = &[
        "iam-write",
        "sts-euw1",
        "ec2-write",
        "ct-write",
        "kms-disable",
        "rdsdata-exec",
        "signin",
        "svc-event",
        "app-event",
        "old-105",
    ];
    const S3_ALL: &[&str] = &["s3-get-a", "s3-put-a", "s3-get-b", "s3-put-b", "s3-old-106"];

    fn facts_of_stream() -> Vec<(String, SelectionFacts)> {
        stream()
            .into_iter()
            .map(|v| {
                let id = v["eventID"].as_str().unwrap().to_owned();
                let record = EventRecord::from_value(v).unwrap();
                (id, SelectionFacts::of(&record))
            })
            .collect()
    }

    // ---- trails ----

    /// A multi-Region trail homed in us-east-1 with global service events and default
    /// selectors.
    fn trail() -> TrailConfig {
        TrailConfig {
            is_multi_region_trail: true,
            is_logging: true,
            ..TrailConfig::new("t", "us-east-1", ACCOUNT, "logs", Utc::now())
        }
    }

    fn single_region(home: &str, global: bool) -> TrailConfig {
        TrailConfig {
            home_region: home.into(),
            is_multi_region_trail: false,
            include_global_service_events: global,
            ..trail()
        }
    }

    fn basic(selectors: Vec<EventSelector>) -> TrailConfig {
        TrailConfig {
            event_selectors: Some(selectors),
            ..trail()
        }
    }

    fn advanced(selectors: Vec<AdvancedEventSelector>) -> TrailConfig {
        TrailConfig {
            advanced_event_selectors: Some(selectors),
            ..trail()
        }
    }

    fn selector(
        rw: Option<ReadWriteType>,
        management: Option<bool>,
        data: &[(&str, &[&str])],
        exclude: &[&str],
    ) -> EventSelector {
        EventSelector {
            read_write_type: rw,
            include_management_events: management,
            data_resources: (!data.is_empty()).then(|| {
                data.iter()
                    .map(|(t, values)| DataResource {
                        resource_type: Some((*t).to_owned()),
                        values: Some(values.iter().map(|v| (*v).to_owned()).collect()),
                    })
                    .collect()
            }),
            exclude_management_event_sources: (!exclude.is_empty())
                .then(|| exclude.iter().map(|s| (*s).to_owned()).collect()),
        }
    }

    fn fs(field: &str, op: &str, values: &[&str]) -> AdvancedFieldSelector {
        let mut f = AdvancedFieldSelector {
            field: field.into(),
            ..Default::default()
        };
        add(&mut f, op, values);
        f
    }

    fn add(f: &mut AdvancedFieldSelector, op: &str, values: &[&str]) {
        let v = Some(values.iter().map(|s| (*s).to_owned()).collect());
        match op {
            "Equals" => f.equals = v,
            "StartsWith" => f.starts_with = v,
            "EndsWith" => f.ends_with = v,
            "NotEquals" => f.not_equals = v,
            "NotStartsWith" => f.not_starts_with = v,
            "NotEndsWith" => f.not_ends_with = v,
            _ => unreachable!("{op}"),
        }
    }

    fn sel(fields: Vec<AdvancedFieldSelector>) -> AdvancedEventSelector {
        AdvancedEventSelector {
            name: None,
            field_selectors: fields,
        }
    }

    fn category(c: &str) -> AdvancedFieldSelector {
        fs("eventCategory", "Equals", &[c])
    }

    fn selected(trail: &TrailConfig) -> BTreeSet<String> {
        facts_of_stream()
            .into_iter()
            .filter(|(_, facts)| trail_selects(trail, facts))
            .map(|(id, _)| id)
            .collect()
    }

    fn set(groups: &[&[&str]]) -> BTreeSet<String> {
        groups
            .iter()
            .flat_map(|g| g.iter())
            .map(|s| (*s).to_owned())
            .collect()
    }

    fn minus(all: &[&str], drop: &[&str]) -> BTreeSet<String> {
        all.iter()
            .filter(|s| !drop.contains(s))
            .map(|s| (*s).to_owned())
            .collect()
    }

    // ---- the selector matrix ----

    #[test]
    fn matching_matrix() {
        let s3_object = "AWS::S3::Object";
        let lambda_fn = "AWS::Lambda::Function";
        let cases: Vec<(&str, TrailConfig, BTreeSet<String>)> = vec![
            (
                "default selectors: every management event, no data, network, Insights",
                trail(),
                set(&[MANAGEMENT]),
            ),
            (
                "default_event_selectors() set explicitly equals no selectors",
                basic(default_event_selectors()),
                set(&[MANAGEMENT]),
            ),
            (
                "ReadOnly",
                basic(vec![selector(
                    Some(ReadWriteType::ReadOnly),
                    None,
                    &[],
                    &[],
                )]),
                set(&[MANAGEMENT_READS]),
            ),
            (
                "WriteOnly (events without readOnly and application events count as writes)",
                basic(vec![selector(
                    Some(ReadWriteType::WriteOnly),
                    None,
                    &[],
                    &[],
                )]),
                set(&[MANAGEMENT_WRITES]),
            ),
            (
                "exclude KMS",
                basic(vec![selector(None, None, &[], &["kms.amazonaws.com"])]),
                minus(MANAGEMENT, &["kms-decrypt", "kms-disable"]),
            ),
            (
                "exclude KMS and RDS Data",
                basic(vec![selector(
                    Some(ReadWriteType::All),
                    Some(true),
                    &[],
                    &["kms.amazonaws.com", "rdsdata.amazonaws.com"],
                )]),
                minus(MANAGEMENT, &["kms-decrypt", "kms-disable", "rdsdata-exec"]),
            ),
            (
                "WriteOnly drops KMS Decrypt but keeps DisableKey",
                basic(vec![selector(
                    Some(ReadWriteType::WriteOnly),
                    None,
                    &[],
                    &["rdsdata.amazonaws.com"],
                )]),
                minus(MANAGEMENT_WRITES, &["rdsdata-exec"]),
            ),
            (
                "IncludeManagementEvents=false with all S3 objects",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(s3_object, &["arn:aws:s3"])],
                    &[],
                )]),
                set(&[S3_ALL]),
            ),
            (
                "management plus all S3 objects, ReadOnly for both",
                basic(vec![selector(
                    Some(ReadWriteType::ReadOnly),
                    Some(true),
                    &[(s3_object, &["arn:aws:s3"])],
                    &[],
                )]),
                set(&[MANAGEMENT_READS, &["s3-get-a", "s3-get-b", "s3-old-106"]]),
            ),
            (
                "S3 key prefix in one bucket, whole other bucket",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(
                        s3_object,
                        &["arn:aws:s3:::bucket-a/reports", "arn:aws:s3:::bucket-b/"],
                    )],
                    &[],
                )]),
                set(&[&["s3-get-a", "s3-old-106", "s3-get-b", "s3-put-b"]]),
            ),
            (
                "a value without the bucket's slash is a plain ARN prefix (both buckets)",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(s3_object, &["arn:aws:s3:::bucket-"])],
                    &[],
                )]),
                set(&[S3_ALL]),
            ),
            (
                "Lambda exact function ARN (not hello2)",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(
                        lambda_fn,
                        &["arn:aws:lambda:us-east-1:111122223333:function:hello"],
                    )],
                    &[],
                )]),
                set(&[&["lambda-invoke"]]),
            ),
            (
                "all Lambda functions",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(lambda_fn, &["arn:aws:lambda"])],
                    &[],
                )]),
                set(&[&["lambda-invoke", "lambda-invoke-2"]]),
            ),
            (
                "other partition's all value selects nothing of aws",
                basic(vec![selector(
                    None,
                    Some(false),
                    &[(s3_object, &["arn:aws-cn:s3"])],
                    &[],
                )]),
                set(&[]),
            ),
            (
                "basic selectors OR: ReadOnly management OR Lambda data",
                basic(vec![
                    selector(Some(ReadWriteType::ReadOnly), None, &[], &[]),
                    selector(None, Some(false), &[(lambda_fn, &["arn:aws:lambda"])], &[]),
                ]),
                set(&[MANAGEMENT_READS, &["lambda-invoke", "lambda-invoke-2"]]),
            ),
            (
                "empty basic selector list selects nothing",
                basic(vec![]),
                set(&[]),
            ),
            (
                "advanced: Management readOnly=false",
                advanced(vec![sel(vec![
                    category("Management"),
                    fs("readOnly", "Equals", &["false"]),
                ])]),
                set(&[MANAGEMENT_WRITES]),
            ),
            (
                "advanced: Management readOnly=true",
                advanced(vec![sel(vec![
                    category("Management"),
                    fs("readOnly", "Equals", &["true"]),
                ])]),
                set(&[MANAGEMENT_READS]),
            ),
            (
                "advanced: Management, eventSource NotEquals KMS",
                advanced(vec![sel(vec![
                    category("Management"),
                    fs("eventSource", "NotEquals", &["kms.amazonaws.com"]),
                ])]),
                minus(MANAGEMENT, &["kms-decrypt", "kms-disable"]),
            ),
            (
                "advanced: Management eventSource of the application (eventData.eventSource)",
                advanced(vec![sel(vec![
                    category("Management"),
                    fs("eventSource", "Equals", &["orders.example.com"]),
                ])]),
                set(&[&["app-event"]]),
            ),
            (
                "advanced: Data S3 objects, resources.ARN StartsWith bucket-b/",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    fs("resources.ARN", "StartsWith", &["arn:aws:s3:::bucket-b/"]),
                ])]),
                set(&[&["s3-get-b", "s3-put-b"]]),
            ),
            (
                "advanced: Data S3 objects, eventName NotEquals GetObject",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    fs("eventName", "NotEquals", &["GetObject"]),
                ])]),
                set(&[&["s3-put-a", "s3-put-b"]]),
            ),
            (
                "advanced: StartsWith and EndsWith in one field selector are ANDed",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    {
                        let mut f = fs("resources.ARN", "StartsWith", &["arn:aws:s3:::bucket-a/"]);
                        add(&mut f, "EndsWith", &[".csv"]);
                        f
                    },
                ])]),
                set(&[&["s3-get-a", "s3-old-106"]]),
            ),
            (
                "advanced: resources.ARN sees only resources of the selector's type",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    fs("resources.ARN", "Equals", &["arn:aws:s3:::bucket-a"]),
                ])]),
                set(&[]),
            ),
            (
                "advanced: negative ARN condition excludes if any resource matches",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    fs(
                        "resources.ARN",
                        "NotStartsWith",
                        &["arn:aws:s3:::bucket-a/images/", "arn:aws:s3:::bucket-b/"],
                    ),
                ])]),
                set(&[&["s3-get-a", "s3-old-106"]]),
            ),
            (
                "advanced: sessionCredentialFromConsole",
                advanced(vec![sel(vec![
                    category("Data"),
                    fs("resources.type", "Equals", &[s3_object]),
                    fs("sessionCredentialFromConsole", "Equals", &["true"]),
                ])]),
                set(&[&["s3-put-a"]]),
            ),
            (
                "advanced: OR of a Management read selector and a Lambda data selector",
                advanced(vec![
                    sel(vec![
                        category("Management"),
                        fs("readOnly", "Equals", &["true"]),
                    ]),
                    sel(vec![
                        category("Data"),
                        fs("resources.type", "Equals", &[lambda_fn]),
                    ]),
                ]),
                set(&[MANAGEMENT_READS, &["lambda-invoke", "lambda-invoke-2"]]),
            ),
            (
                "advanced: NetworkActivity of KMS, VPC endpoint denials",
                advanced(vec![sel(vec![
                    category("NetworkActivity"),
                    fs("eventSource", "Equals", &["kms.amazonaws.com"]),
                    fs("errorCode", "Equals", &["VpceAccessDenied"]),
                ])]),
                set(&[&["vpce-denied"]]),
            ),
            (
                "empty advanced selector list selects nothing",
                advanced(vec![]),
                set(&[]),
            ),
            (
                "single-Region us-east-1 with global events",
                single_region("us-east-1", true),
                minus(MANAGEMENT, &["sts-euw1", "ec2-write", "ct-read"]),
            ),
            (
                "single-Region us-east-1 without global events",
                single_region("us-east-1", false),
                minus(
                    MANAGEMENT,
                    &["sts-euw1", "ec2-write", "ct-read", "iam-read", "iam-write"],
                ),
            ),
            (
                "single-Region eu-west-1 with global events: no us-east-1 IAM events",
                single_region("eu-west-1", true),
                set(&[&["sts-euw1", "ec2-write"]]),
            ),
            (
                "single-Region eu-west-1 without global events",
                single_region("eu-west-1", false),
                set(&[&["ec2-write"]]),
            ),
            (
                "single-Region ap-south-1",
                single_region("ap-south-1", true),
                set(&[&["ct-read"]]),
            ),
            (
                "multi-Region without global events (rejected by validation; rule still holds)",
                TrailConfig {
                    include_global_service_events: false,
                    ..trail()
                },
                minus(MANAGEMENT, &["iam-read", "iam-write", "sts-euw1"]),
            ),
            (
                "single-Region eu-west-1, all S3 objects: only that Region's",
                TrailConfig {
                    event_selectors: Some(vec![selector(
                        None,
                        Some(false),
                        &[(s3_object, &["arn:aws:s3"])],
                        &[],
                    )]),
                    ..single_region("eu-west-1", true)
                },
                set(&[&["s3-get-b"]]),
            ),
        ];
        for (name, trail, expected) in cases {
            assert_eq!(selected(&trail), expected, "case: {name}");
        }
    }

    // ---- facts ----

    fn facts(value: Value) -> SelectionFacts {
        SelectionFacts::of(&EventRecord::from_value(value).unwrap())
    }

    #[test]
    fn facts_of_a_data_event() {
        let mut v = s3("x", "PutObject", "bucket-a", "k", "eu-west-1", false);
        v["errorCode"] = json!("AccessDenied");
        v["vpcEndpointId"] = json!("vpce-1");
        v["sessionCredentialFromConsole"] = json!("true");
        let f = facts(v);
        assert_eq!(
            f,
            SelectionFacts {
                category: SelectionCategory::Data,
                event_source: Some("s3.amazonaws.com".into()),
                event_name: Some("PutObject".into()),
                read_only: Some(false),
                event_type: Some("AwsApiCall".into()),
                resources: vec![
                    SelectionResource {
                        resource_type: Some("AWS::S3::Object".into()),
                        arn: Some("arn:aws:s3:::bucket-a/k".into()),
                    },
                    SelectionResource {
                        resource_type: Some("AWS::S3::Bucket".into()),
                        arn: Some("arn:aws:s3:::bucket-a".into()),
                    },
                ],
                session_credential_from_console: true,
                user_identity_arn: Some("arn:aws:iam::111122223333:user/alice".into()),
                error_code: Some("AccessDenied".into()),
                vpc_endpoint_id: Some("vpce-1".into()),
                aws_region: Some("eu-west-1".into()),
                recipient_account_id: Some(ACCOUNT.into()),
            }
        );
        assert!(!f.is_management());
        assert!(!f.is_read());
        assert!(!f.is_global_service_event());
    }

    #[test]
    fn facts_of_an_application_event_come_from_event_data() {
        let stream = facts_of_stream();
        let (_, app) = stream.iter().find(|(id, _)| id == "app-event").unwrap();
        assert_eq!(app.category, SelectionCategory::Application);
        assert_eq!(app.event_source.as_deref(), Some("orders.example.com"));
        assert_eq!(app.event_name.as_deref(), Some("UpdateOrder"));
        assert_eq!(app.event_type.as_deref(), Some("ActivityLog"));
        assert_eq!(app.read_only, None);
        assert!(app.is_management());
        assert!(!app.is_read());
        assert_eq!(app.user_identity_arn, None);

        let with_arn = facts(json!({
            "eventCategory": "ActivityAuditLog",
            "awsRegion": "us-east-1",
            "eventSource": "ignored.example.com",
            "eventData": {
                "eventSource": "iam.amazonaws.com",
                "eventName": "Login",
                "errorCode": "Denied",
                "userIdentity": {"type": "x", "principalId": "p", "arn": "arn:app:user/p"}
            }
        }));
        assert_eq!(with_arn.event_source.as_deref(), Some("iam.amazonaws.com"));
        assert_eq!(with_arn.error_code.as_deref(), Some("Denied"));
        assert_eq!(
            with_arn.user_identity_arn.as_deref(),
            Some("arn:app:user/p")
        );
        // An application naming a global service is still not a global service event.
        assert!(!with_arn.is_global_service_event());
        assert!(trail_selects(&single_region("us-east-1", false), &with_arn));
        // eventData that is not an object: no facts, still a management write.
        let odd = facts(json!({
            "eventCategory": "ActivityAuditLog",
            "awsRegion": "us-east-1",
            "eventData": "x"
        }));
        assert_eq!(odd.event_source, None);
        assert!(trail_selects(&trail(), &odd));
    }

    #[test]
    fn categories() {
        let of = |v: Value| SelectionCategory::of(&EventRecord::from_value(v).unwrap());
        assert_eq!(of(json!({})), SelectionCategory::Management);
        assert_eq!(
            of(json!({"eventCategory": null, "managementEvent": true})),
            SelectionCategory::Management
        );
        assert_eq!(
            of(json!({"managementEvent": false})),
            SelectionCategory::Data
        );
        assert_eq!(
            of(json!({"managementEvent": "false"})),
            SelectionCategory::Data
        );
        // eventCategory wins over managementEvent.
        assert_eq!(
            of(json!({"eventCategory": "Management", "managementEvent": false})),
            SelectionCategory::Management
        );
        assert_eq!(
            of(json!({"eventType": "AwsCloudTrailInsight"})),
            SelectionCategory::Insight
        );
        assert_eq!(
            of(json!({"eventCategory": "NetworkActivity"})),
            SelectionCategory::NetworkActivity
        );
        assert_eq!(
            of(json!({"eventCategory": "ConfigurationItem"})),
            SelectionCategory::Other("ConfigurationItem".into())
        );
        assert_eq!(
            of(json!({"eventCategory": 7})),
            SelectionCategory::Other("7".into())
        );
        // Case matters.
        assert_eq!(
            of(json!({"eventCategory": "management"})),
            SelectionCategory::Other("management".into())
        );
    }

    #[test]
    fn insight_and_other_categories_are_never_delivered() {
        let everything = advanced(vec![
            sel(vec![category("Management")]),
            sel(vec![
                category("Data"),
                fs("resources.type", "NotEquals", &["x"]),
            ]),
        ]);
        for category in ["Insight", "ConfigurationItem", "Evidence", "Aggregated"] {
            let f = facts(json!({
                "eventCategory": category,
                "eventSource": "ec2.amazonaws.com",
                "awsRegion": "us-east-1",
                "readOnly": false
            }));
            assert!(!trail_selects(&trail(), &f), "{category}");
            assert!(!trail_selects(&everything, &f), "{category}");
        }
    }

    #[test]
    fn missing_region_reaches_multi_region_trails_only() {
        let f = facts(json!({"eventCategory": "Management", "eventSource": "ec2.amazonaws.com"}));
        assert!(trail_selects(&trail(), &f));
        assert!(!trail_selects(&single_region("us-east-1", true), &f));
    }

    #[test]
    fn cloudfront_is_a_global_service() {
        let f = facts(json!({
            "eventCategory": "Management",
            "eventSource": "cloudfront.amazonaws.com",
            "awsRegion": "us-east-1",
            "readOnly": false
        }));
        assert!(f.is_global_service_event());
        assert!(trail_selects(&single_region("us-east-1", true), &f));
        assert!(!trail_selects(&single_region("us-east-1", false), &f));
    }

    #[test]
    fn basic_selectors_win_over_advanced_as_in_effective_event_selectors() {
        let both = TrailConfig {
            event_selectors: Some(vec![selector(
                Some(ReadWriteType::ReadOnly),
                None,
                &[],
                &[],
            )]),
            advanced_event_selectors: Some(vec![sel(vec![category("Data")])]),
            ..trail()
        };
        assert!(both.effective_event_selectors().is_some());
        assert_eq!(selected(&both), set(&[MANAGEMENT_READS]));
    }

    #[test]
    fn unknown_read_write_type_selects_nothing() {
        let t = basic(vec![selector(
            Some(ReadWriteType::Other("Both".into())),
            None,
            &[],
            &[],
        )]);
        assert_eq!(selected(&t), set(&[]));
    }

    #[test]
    fn data_values() {
        let s3o = "AWS::S3::Object";
        assert!(data_value_matches(s3o, "arn:aws:s3", "arn:aws:s3:::b/k"));
        assert!(!data_value_matches(
            s3o,
            "arn:aws:s3",
            "arn:aws:s3-object-lambda:us-east-1:1:x"
        ));
        assert!(!data_value_matches(
            s3o,
            "arn:aws:s3",
            "arn:aws-cn:s3:::b/k"
        ));
        assert!(data_value_matches(
            s3o,
            "arn:aws-cn:s3",
            "arn:aws-cn:s3:::b/k"
        ));
        assert!(data_value_matches(
            s3o,
            "arn:aws-cn:s3:::b/",
            "arn:aws-cn:s3:::b/k"
        ));
        assert!(data_value_matches(
            s3o,
            "arn:aws:s3:::b/",
            "arn:aws:s3:::b/k"
        ));
        assert!(!data_value_matches(
            s3o,
            "arn:aws:s3:::b/",
            "arn:aws:s3:::b2/k"
        ));
        assert!(data_value_matches(
            s3o,
            "arn:aws:s3:::b/im",
            "arn:aws:s3:::b/images/x"
        ));
        assert!(!data_value_matches(s3o, "", "arn:aws:s3:::b/k"));
        // No wildcards.
        assert!(!data_value_matches(
            s3o,
            "arn:aws:s3:::*/",
            "arn:aws:s3:::b/k"
        ));
        let f = "AWS::Lambda::Function";
        let hello = "arn:aws:lambda:us-east-1:111122223333:function:hello";
        assert!(data_value_matches(f, hello, hello));
        assert!(!data_value_matches(f, hello, &format!("{hello}2")));
        assert!(!data_value_matches(f, hello, &format!("{hello}:1")));
        assert!(data_value_matches(f, "arn:aws:lambda", hello));
        let t = "AWS::DynamoDB::Table";
        let table = "arn:aws:dynamodb:us-east-1:111122223333:table/orders";
        assert!(data_value_matches(t, table, table));
        assert!(!data_value_matches(t, table, &format!("{table}2")));
        assert!(data_value_matches(t, "arn:aws:dynamodb", table));
        assert!(!data_value_matches(
            t,
            "arn:aws:dynamodb",
            "arn:aws:dynamodbx:us-east-1:1:table/t"
        ));
    }

    #[test]
    fn dynamodb_data_events() {
        let table = "arn:aws:dynamodb:us-east-1:111122223333:table/orders";
        let f = facts(json!({
            "eventCategory": "Data",
            "eventSource": "dynamodb.amazonaws.com",
            "eventName": "GetItem",
            "awsRegion": "us-east-1",
            "readOnly": true,
            "resources": [{"accountId": ACCOUNT, "type": "AWS::DynamoDB::Table", "ARN": table}]
        }));
        let one = |value: &str| {
            basic(vec![selector(
                None,
                Some(false),
                &[("AWS::DynamoDB::Table", &[value])],
                &[],
            )])
        };
        assert!(trail_selects(&one(table), &f));
        assert!(trail_selects(&one("arn:aws:dynamodb"), &f));
        assert!(!trail_selects(
            &one("arn:aws:dynamodb:us-east-1:111122223333:table/other"),
            &f
        ));
        // A data resource of another type does not select it.
        let s3_all = basic(vec![selector(
            None,
            Some(true),
            &[("AWS::S3::Object", &["arn:aws:s3"])],
            &[],
        )]);
        assert!(!trail_selects(&s3_all, &f));
    }

    #[test]
    fn basic_data_resources_compare_resources_of_their_type_only() {
        let mut v = json!({
            "eventCategory": "Data",
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListObjects",
            "awsRegion": "us-east-1",
            "readOnly": true,
            "resources": [
                {"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::bucket-a"}
            ]
        });
        let s3_all = basic(vec![selector(
            None,
            Some(false),
            &[("AWS::S3::Object", &["arn:aws:s3"])],
            &[],
        )]);
        assert!(!trail_selects(&s3_all, &facts(v.clone())));
        v["resources"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::bucket-a/k"}));
        assert!(trail_selects(&s3_all, &facts(v)));
    }

    // ---- advanced field conditions ----

    fn base_facts() -> SelectionFacts {
        SelectionFacts {
            category: SelectionCategory::Data,
            event_source: Some("s3.amazonaws.com".into()),
            event_name: Some("GetObject".into()),
            read_only: Some(true),
            event_type: Some("AwsApiCall".into()),
            resources: vec![
                SelectionResource {
                    resource_type: Some("AWS::S3::Object".into()),
                    arn: Some("arn:aws:s3:::b/k.csv".into()),
                },
                SelectionResource {
                    resource_type: Some("AWS::S3::Object".into()),
                    arn: Some("arn:aws:s3:::c/k.txt".into()),
                },
            ],
            session_credential_from_console: false,
            user_identity_arn: None,
            error_code: None,
            vpc_endpoint_id: None,
            aws_region: Some("us-east-1".into()),
            recipient_account_id: None,
        }
    }

    fn cond(condition: AdvancedFieldSelector) -> bool {
        field_condition_holds(&condition, &base_facts(), None)
    }

    #[test]
    fn missing_fields_fail_positive_and_pass_negative_conditions() {
        for field in [
            "userIdentity.arn",
            "errorCode",
            "vpcEndpointId",
            "noSuchField",
        ] {
            assert!(!cond(fs(field, "Equals", &["x"])), "{field}");
            assert!(!cond(fs(field, "StartsWith", &[""])), "{field}");
            assert!(cond(fs(field, "NotEquals", &["x"])), "{field}");
            assert!(cond(fs(field, "NotStartsWith", &[""])), "{field}");
        }
        // readOnly and sessionCredentialFromConsole are never missing.
        assert!(cond(fs(
            "sessionCredentialFromConsole",
            "Equals",
            &["false"]
        )));
        let mut write = base_facts();
        write.read_only = None;
        let ro = fs("readOnly", "Equals", &["false"]);
        assert!(field_condition_holds(&ro, &write, None));
    }

    #[test]
    fn operators() {
        assert!(cond(fs("eventName", "Equals", &["PutObject", "GetObject"])));
        assert!(!cond(fs("eventName", "Equals", &["getobject"])));
        assert!(cond(fs("eventName", "StartsWith", &["Get"])));
        assert!(cond(fs("eventName", "EndsWith", &["Object"])));
        assert!(!cond(fs("eventName", "NotEndsWith", &["Bucket", "Object"])));
        assert!(!cond(fs("eventName", "NotStartsWith", &["Ge"])));
        assert!(cond(fs("eventName", "NotEquals", &["PutObject"])));
        assert!(!cond(fs("eventName", "Equals", &["Get*"])));
        // Positive operators are ANDed; negatives exclude.
        let mut f = fs("eventName", "StartsWith", &["Get"]);
        add(&mut f, "EndsWith", &["Bucket"]);
        assert!(!cond(f.clone()));
        add(&mut f, "EndsWith", &["Object"]);
        assert!(cond(f.clone()));
        add(&mut f, "NotEquals", &["GetObject"]);
        assert!(!cond(f));
        // An empty positive list matches nothing; an empty negative list excludes nothing.
        assert!(!cond(fs("eventName", "Equals", &[])));
        assert!(cond(fs("eventName", "NotEquals", &[])));
        assert!(cond(fs("eventCategory", "Equals", &["Data"])));
        assert!(cond(fs("readOnly", "Equals", &["true"])));
        assert!(!cond(fs("readOnly", "Equals", &["false"])));
    }

    #[test]
    fn multi_valued_resource_fields() {
        // Any resource may satisfy a positive condition...
        assert!(cond(fs(
            "resources.ARN",
            "StartsWith",
            &["arn:aws:s3:::c/"]
        )));
        // ...but one resource must satisfy all its positive operators.
        let mut f = fs("resources.ARN", "StartsWith", &["arn:aws:s3:::b/"]);
        add(&mut f, "EndsWith", &[".txt"]);
        assert!(!cond(f));
        // Any matching resource trips a negative condition.
        assert!(!cond(fs(
            "resources.ARN",
            "NotStartsWith",
            &["arn:aws:s3:::c/"]
        )));
        assert!(cond(fs("resources.type", "Equals", &["AWS::S3::Object"])));
        assert!(!cond(fs(
            "resources.type",
            "NotEquals",
            &["AWS::S3::Object"]
        )));
        // No resources: positive fails, negative passes.
        let mut none = base_facts();
        none.resources.clear();
        let arn = fs("resources.ARN", "StartsWith", &["arn:"]);
        assert!(!field_condition_holds(&arn, &none, None));
        let not_arn = fs("resources.ARN", "NotStartsWith", &["arn:"]);
        assert!(field_condition_holds(&not_arn, &none, None));
        // Scoped to a type the event has none of: no values.
        let scope = ["AWS::Lambda::Function".to_owned()];
        assert!(!field_condition_holds(&arn, &base_facts(), Some(&scope)));
        assert!(field_condition_holds(&not_arn, &base_facts(), Some(&scope)));
    }

    #[test]
    fn advanced_selector_without_field_selectors_selects_nothing() {
        assert!(!advanced_selects(&sel(vec![]), &base_facts()));
        assert!(advanced_selects(
            &sel(vec![category("Data")]),
            &base_facts()
        ));
    }
}

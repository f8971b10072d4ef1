//! Channels: `CreateChannel`, `GetChannel`, `ListChannels`, `UpdateChannel`, `DeleteChannel`.
//!
//! A channel is where applications send their own audit events (`PutAuditEvents`, see
//! [`super::audit_events`]). Channels are [`ChannelDoc`] JSON documents in the catalog namespace
//! `channel`, keyed by the channel id (a UUID, the suffix of the ARN
//! `arn:aws:cloudtrail:<region>:<account>:channel/<id>`). Channels are regional: every operation
//! sees the channels of the request's region only. The latest ingestion of each channel is kept
//! apart, in the namespace `channel-status` (keys `<id>/success` and `<id>/attempt`), so that
//! concurrent `PutAuditEvents` calls — which do not take the write lock — never rewrite the
//! channel's configuration.
//!
//! # Rules (AWS fact unless marked *Policy*)
//!
//! - `Name`: 3–128 characters of `[a-zA-Z0-9._-]`, unique in the region
//!   (`InvalidParameterException`, `ChannelAlreadyExistsException`).
//! - `Source`: `Custom` for the caller's own applications, or the name of a partner source.
//!   *Policy*: Cairn keeps no partner list; a partner source is 1–128 characters of
//!   `[A-Za-z0-9._-]` starting with a letter or digit, and a different spelling of `Custom`
//!   (`custom`, `CUSTOM`) is refused so a typo does not silently make a partner channel
//!   (`InvalidSourceException`). AWS allows one channel per partner source; any number of
//!   `Custom` channels share the regional limit (`ChannelAlreadyExistsException`).
//! - `Destinations`: 1–200 of `{Type: EVENT_DATA_STORE | AWS_SERVICE, Location}`, `Location`
//!   3–1024 characters of `[a-zA-Z0-9._/\-:*]`, no duplicates (`InvalidParameterException`).
//!   *Policy*: Cairn has no event data stores; destinations are kept and answered as given, and
//!   whatever arrives through the channel goes into Cairn's one event log regardless.
//! - `Tags`: the trail tag rules (`InvalidTagParameterException`, 50 per channel:
//!   `TagsLimitExceededException`).
//! - 25 channels per region (`ChannelMaxLimitExceededException`).
//! - `Channel` parameters take the ARN or the id (`ChannelARNInvalidException` when malformed,
//!   `ChannelNotFoundException` when no channel of this region and account has it).
//! - `ListChannels`: `MaxResults` 1–1000 (*Policy*: outside it, `ValidationException` — the
//!   model names no error for it), `NextToken` an opaque token of 4–1000 characters
//!   (`InvalidNextTokenException`). Channels are listed in id order.

use cairn_core::ingest::{ChannelRef, channel_arn, parse_channel_ref};
use cairn_core::trail::{Tag, merge_tags, tags};
use cairn_store::CatalogWrite;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::paging::page_after;
use super::{Ctx, OpOutput};
use crate::ApiError;
use crate::state::AppState;

/// The catalog namespace of channel configurations.
pub(crate) const NAMESPACE: &str = "channel";
/// The catalog namespace of the latest ingestion per channel (written by `PutAuditEvents`).
pub(crate) const STATUS_NAMESPACE: &str = "channel-status";
/// Channels per region (AWS: 25, not adjustable).
pub(crate) const MAX_CHANNELS: usize = 25;
/// Most channels per `ListChannels` page (the model's `ListChannelsMaxResultsCount`).
const MAX_LIST: usize = 1000;
/// The `Source` of channels for the caller's own applications.
pub(crate) const CUSTOM_SOURCE: &str = "Custom";

/// A destination of a channel, as on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Destination {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "Location")]
    location: String,
}

/// A stored channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChannelDoc {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub source: String,
    pub region: String,
    pub destinations: Vec<Destination>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// One mark of the latest ingestion through a channel (`channel-status` documents).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct IngestionMark {
    /// When, Unix milliseconds.
    pub time_ms: i64,
    /// The `eventID` of the last event accepted, if the call accepted any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The `errorCode` of the last event refused, if the call refused any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

/// The `channel-status` key of a channel's latest successful ingestion.
pub(crate) fn success_key(id: &str) -> String {
    format!("{id}/success")
}

/// The `channel-status` key of a channel's latest ingestion attempt.
pub(crate) fn attempt_key(id: &str) -> String {
    format!("{id}/attempt")
}

/// The channel stored under `id`, in any region.
pub(crate) async fn get(state: &AppState, id: &str) -> Result<Option<ChannelDoc>, ApiError> {
    let doc = state
        .store
        .catalog_get(NAMESPACE, id)
        .await
        .map_err(ApiError::from_store)?;
    doc.map(|d| parse_doc(id, &d)).transpose()
}

fn parse_doc(key: &str, doc: &str) -> Result<ChannelDoc, ApiError> {
    serde_json::from_str(doc).map_err(|e| {
        tracing::error!(%key, error = %e, "a stored channel could not be read");
        ApiError::internal()
    })
}

/// The channels of the request's region, in id order.
async fn regional(ctx: &Ctx<'_>) -> Result<Vec<ChannelDoc>, ApiError> {
    let rows = ctx
        .state
        .store
        .catalog_list(NAMESPACE)
        .await
        .map_err(ApiError::from_store)?;
    let mut out = Vec::new();
    for (key, doc) in rows {
        let c = parse_doc(&key, &doc)?;
        if c.region == ctx.region {
            out.push(c);
        }
    }
    Ok(out)
}

/// The resource type of channels in audit events.
pub(crate) const RESOURCE_TYPE: &str = "AWS::CloudTrail::Channel";

/// `(type, ARN)` of a channel, for the `resources` of a call's audit event.
fn resource(c: &ChannelDoc) -> (String, String) {
    (RESOURCE_TYPE.to_string(), c.arn.clone())
}

fn put(c: &ChannelDoc) -> CatalogWrite {
    CatalogWrite::put(
        NAMESPACE,
        &c.id,
        serde_json::to_string(c).expect("a channel serializes"),
    )
}

/// Finds the channel a `Channel` parameter (ARN or id) names in the request's region.
async fn resolve(ctx: &Ctx<'_>, reference: &str) -> Result<ChannelDoc, ApiError> {
    let shape_ok = (3..=256).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._/-:".contains(&b));
    let parsed = parse_channel_ref(reference)
        .filter(|_| shape_ok)
        .ok_or_else(|| {
            ApiError::client(
                "ChannelARNInvalidException",
                format!(
                    "{reference} is not a valid channel ARN or id. Expected arn:aws:cloudtrail:<region>:<account>:channel/<id> or the id alone."
                ),
            )
        })?;
    let not_found = || {
        ApiError::client(
            "ChannelNotFoundException",
            format!("Channel {reference} was not found."),
        )
    };
    if let ChannelRef::Arn {
        partition,
        region,
        account_id,
        ..
    } = &parsed
        && (partition != "aws"
            || region != ctx.region
            || account_id != &ctx.state.config.account_id)
    {
        return Err(not_found());
    }
    get(ctx.state, parsed.id())
        .await?
        .filter(|c| c.region == ctx.region)
        .ok_or_else(not_found)
}

fn invalid_parameter(message: String) -> ApiError {
    ApiError::client("InvalidParameterException", message)
}

/// Channel names: 3–128 characters of `[a-zA-Z0-9._-]`.
fn channel_name(name: &str) -> Result<(), ApiError> {
    let ok = (3..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(invalid_parameter(format!(
            "Channel name {name} is not valid. A name has 3 to 128 characters: letters, digits, periods (.), underscores (_) and dashes (-)."
        )))
    }
}

/// `Source`: `Custom`, or a partner source name (see the module docs).
fn channel_source(source: &str) -> Result<(), ApiError> {
    let invalid = |why: &str| {
        Err(ApiError::client(
            "InvalidSourceException",
            format!("Source {source} is not valid: {why}"),
        ))
    };
    if source == CUSTOM_SOURCE {
        return Ok(());
    }
    if source.eq_ignore_ascii_case(CUSTOM_SOURCE) {
        return invalid(
            "for your own applications' events the source is Custom, spelled exactly so.",
        );
    }
    let partner_like = (1..=128).contains(&source.len())
        && source.as_bytes()[0].is_ascii_alphanumeric()
        && source
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if partner_like {
        Ok(())
    } else {
        invalid(
            "use Custom for your own applications, or a partner source name of 1 to 128 letters, digits, periods, underscores and dashes.",
        )
    }
}

/// `Destinations`: 1–200 entries, known types, well-formed locations, no duplicates.
fn destinations(list: &[Destination]) -> Result<(), ApiError> {
    if !(1..=200).contains(&list.len()) {
        return Err(invalid_parameter(format!(
            "A channel needs 1 to 200 destinations; the request gives {}.",
            list.len()
        )));
    }
    for (i, d) in list.iter().enumerate() {
        if !matches!(d.kind.as_str(), "EVENT_DATA_STORE" | "AWS_SERVICE") {
            return Err(invalid_parameter(format!(
                "Destination type {} is not valid. Valid types: EVENT_DATA_STORE, AWS_SERVICE.",
                d.kind
            )));
        }
        let ok = (3..=1024).contains(&d.location.len())
            && d.location
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._/-:*".contains(&b));
        if !ok {
            return Err(invalid_parameter(format!(
                "Destination location {} is not valid: it must be 3 to 1024 characters of letters, digits and ._/-:*",
                d.location
            )));
        }
        if list[..i].contains(d) {
            return Err(invalid_parameter(format!(
                "Destination {} {} is listed more than once.",
                d.kind, d.location
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
pub(crate) struct CreateChannelInput {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "Source")]
    source: String,
    #[serde(rename = "Destinations")]
    destinations: Vec<Destination>,
    #[serde(rename = "Tags")]
    tags: Option<Vec<Tag>>,
}

pub(crate) async fn create_channel(
    ctx: &Ctx<'_>,
    input: CreateChannelInput,
) -> Result<OpOutput, ApiError> {
    channel_name(&input.name)?;
    channel_source(&input.source)?;
    destinations(&input.destinations)?;
    let tag_list = input.tags.clone().unwrap_or_default();
    tags(&tag_list)?;
    let tag_list = merge_tags(&[], &tag_list)?;

    let existing = regional(ctx).await?;
    if existing.iter().any(|c| c.name == input.name) {
        return Err(ApiError::client(
            "ChannelAlreadyExistsException",
            format!(
                "A channel named {} already exists in {}.",
                input.name, ctx.region
            ),
        ));
    }
    if input.source != CUSTOM_SOURCE
        && let Some(c) = existing.iter().find(|c| c.source == input.source)
    {
        return Err(ApiError::client(
            "ChannelAlreadyExistsException",
            format!(
                "Channel {} already receives events from source {}; a partner source can have one channel.",
                c.name, input.source
            ),
        ));
    }
    if existing.len() >= MAX_CHANNELS {
        return Err(ApiError::client(
            "ChannelMaxLimitExceededException",
            format!(
                "The account already has {} channels in {}, the most allowed is {MAX_CHANNELS}.",
                existing.len(),
                ctx.region
            ),
        ));
    }

    let id = uuid::Uuid::new_v4().to_string();
    let channel = ChannelDoc {
        arn: channel_arn(ctx.region, &ctx.state.config.account_id, &id),
        id,
        name: input.name,
        source: input.source,
        region: ctx.region.to_string(),
        destinations: input.destinations,
        tags: tag_list,
    };
    let mut body = json!({
        "ChannelArn": channel.arn,
        "Name": channel.name,
        "Source": channel.source,
        "Destinations": channel.destinations,
    });
    if input.tags.is_some() {
        body["Tags"] = json!(channel.tags);
    }
    Ok(OpOutput {
        body,
        changes: vec![put(&channel)],
        resources: vec![resource(&channel)],
        ..OpOutput::default()
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ChannelInput {
    #[serde(rename = "Channel")]
    channel: String,
}

pub(crate) async fn get_channel(ctx: &Ctx<'_>, input: ChannelInput) -> Result<OpOutput, ApiError> {
    let c = resolve(ctx, &input.channel).await?;
    let mark = |key: String| async move {
        let doc = ctx
            .state
            .store
            .catalog_get(STATUS_NAMESPACE, &key)
            .await
            .map_err(ApiError::from_store)?;
        Ok::<_, ApiError>(doc.and_then(|d| serde_json::from_str::<IngestionMark>(&d).ok()))
    };
    let mut status = serde_json::Map::new();
    if let Some(s) = mark(success_key(&c.id)).await? {
        status.insert("LatestIngestionSuccessTime".into(), epoch(s.time_ms));
        if let Some(id) = s.event_id {
            status.insert("LatestIngestionSuccessEventID".into(), json!(id));
        }
    }
    if let Some(a) = mark(attempt_key(&c.id)).await? {
        status.insert("LatestIngestionAttemptTime".into(), epoch(a.time_ms));
        if let Some(id) = a.event_id {
            status.insert("LatestIngestionAttemptEventID".into(), json!(id));
        }
        if let Some(code) = a.error_code {
            status.insert("LatestIngestionErrorCode".into(), json!(code));
        }
    }
    Ok(OpOutput::body(json!({
        "ChannelArn": c.arn,
        "Name": c.name,
        "Source": c.source,
        "SourceConfig": {
            "ApplyToAllRegions": false,
            "AdvancedEventSelectors": [{
                "FieldSelectors": [{"Field": "eventCategory", "Equals": ["ActivityAuditLog"]}]
            }]
        },
        "Destinations": c.destinations,
        "IngestionStatus": status,
    })))
}

/// Epoch seconds with millisecond precision, as AWS JSON timestamps.
fn epoch(ms: i64) -> Value {
    json!(ms as f64 / 1000.0)
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListChannelsInput {
    #[serde(rename = "MaxResults")]
    max_results: Option<i64>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

pub(crate) async fn list_channels(
    ctx: &Ctx<'_>,
    input: ListChannelsInput,
) -> Result<OpOutput, ApiError> {
    let size = match input.max_results {
        None => MAX_LIST,
        Some(n) if (1..=MAX_LIST as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::client(
                "ValidationException",
                format!(
                    "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_LIST}."
                ),
            ));
        }
    };
    let invalid_token = || {
        ApiError::client(
            "InvalidNextTokenException",
            "The NextToken is not valid for this request.",
        )
    };
    if let Some(t) = &input.next_token
        && !(4..=1000).contains(&t.chars().count())
    {
        return Err(invalid_token());
    }
    let channels = regional(ctx).await?;
    let keys: Vec<String> = channels.iter().map(|c| c.id.clone()).collect();
    let page = page_after(&keys, input.next_token.as_deref(), size, "ListChannels")
        .map_err(|_| invalid_token())?;
    let listed: Vec<Value> = channels[page.range]
        .iter()
        .map(|c| json!({"ChannelArn": c.arn, "Name": c.name}))
        .collect();
    let mut body = json!({ "Channels": listed });
    if let Some(t) = page.next_token {
        body["NextToken"] = json!(t);
    }
    Ok(OpOutput::body(body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct UpdateChannelInput {
    #[serde(rename = "Channel")]
    channel: String,
    #[serde(rename = "Destinations")]
    destinations: Option<Vec<Destination>>,
    #[serde(rename = "Name")]
    name: Option<String>,
}

pub(crate) async fn update_channel(
    ctx: &Ctx<'_>,
    input: UpdateChannelInput,
) -> Result<OpOutput, ApiError> {
    let mut c = resolve(ctx, &input.channel).await?;
    if let Some(name) = &input.name {
        channel_name(name)?;
    }
    if let Some(d) = &input.destinations {
        destinations(d)?;
    }
    if let Some(name) = input.name
        && name != c.name
    {
        if regional(ctx)
            .await?
            .iter()
            .any(|o| o.name == name && o.id != c.id)
        {
            return Err(ApiError::client(
                "ChannelAlreadyExistsException",
                format!("A channel named {name} already exists in {}.", ctx.region),
            ));
        }
        c.name = name;
    }
    if let Some(d) = input.destinations {
        c.destinations = d;
    }
    Ok(OpOutput {
        body: json!({
            "ChannelArn": c.arn,
            "Name": c.name,
            "Source": c.source,
            "Destinations": c.destinations,
        }),
        changes: vec![put(&c)],
        resources: vec![resource(&c)],
        ..OpOutput::default()
    })
}

pub(crate) async fn delete_channel(
    ctx: &Ctx<'_>,
    input: ChannelInput,
) -> Result<OpOutput, ApiError> {
    let c = resolve(ctx, &input.channel).await?;
    Ok(OpOutput {
        body: json!({}),
        changes: vec![
            CatalogWrite::delete(NAMESPACE, &c.id),
            CatalogWrite::delete(STATUS_NAMESPACE, &success_key(&c.id)),
            CatalogWrite::delete(STATUS_NAMESPACE, &attempt_key(&c.id)),
        ],
        resources: vec![resource(&c)],
        ..OpOutput::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(kind: &str, location: &str) -> Destination {
        Destination {
            kind: kind.into(),
            location: location.into(),
        }
    }

    #[test]
    fn names() {
        for ok in ["abc", "my-channel_1.prod", &"a".repeat(128)] {
            assert!(channel_name(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "has space", "slash/y", &"a".repeat(129), "ünï"] {
            assert_eq!(
                channel_name(bad).unwrap_err().code,
                "InvalidParameterException",
                "{bad}"
            );
        }
    }

    #[test]
    fn sources() {
        for ok in ["Custom", "CrowdStrike", "okta.com", "Partner_1-x"] {
            assert!(channel_source(ok).is_ok(), "{ok}");
        }
        for bad in [
            "custom",
            "CUSTOM",
            "",
            "-partner",
            "two words",
            &"p".repeat(129),
        ] {
            assert_eq!(
                channel_source(bad).unwrap_err().code,
                "InvalidSourceException",
                "{bad}"
            );
        }
    }

    #[test]
    fn destination_rules() {
        assert!(destinations(&[dest("EVENT_DATA_STORE", "eds-1234")]).is_ok());
        assert!(
            destinations(&[
                dest(
                    "AWS_SERVICE",
                    "arn:aws:cloudtrail:us-east-1:123456789012:eventdatastore/x"
                ),
                dest("EVENT_DATA_STORE", "eds-1234"),
            ])
            .is_ok()
        );
        for bad in [
            vec![],
            vec![dest("S3", "bucket")],
            vec![dest("EVENT_DATA_STORE", "")],
            vec![dest("EVENT_DATA_STORE", "ab")],
            vec![dest("EVENT_DATA_STORE", "has space")],
            vec![dest("AWS_SERVICE", "abc"), dest("AWS_SERVICE", "abc")],
        ] {
            assert_eq!(
                destinations(&bad).unwrap_err().code,
                "InvalidParameterException",
                "{bad:?}"
            );
        }
        let many: Vec<Destination> = (0..201)
            .map(|i| dest("EVENT_DATA_STORE", &format!("eds-{i}")))
            .collect();
        assert!(destinations(&many).is_err());
        assert!(destinations(&many[..200]).is_ok());
    }
}

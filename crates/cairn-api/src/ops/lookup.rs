//! `LookupEvents`: the event history, newest first.
//!
//! Beyond AWS (documented in the README): several lookup attributes in one call are combined
//! with AND (AWS allows one), the history is account-wide rather than per region (imported logs
//! keep their own `awsRegion`), and there is no 2-requests-per-second throttle unless
//! `lookup_requests_per_second` is configured.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cairn_core::record::EventRecord;
use cairn_store::{EventIndex, HistoryKind, LookedUpEvent, LookupFilter, LookupQuery};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::{Ctx, OpOutput, timestamp};
use crate::ApiError;

/// Events per page when `MaxResults` is absent, and the most it may ask for.
const MAX_RESULTS: usize = 50;
/// Longest `AttributeValue`, counting `_`, space, `,` and newline twice (as AWS documents).
const MAX_VALUE_WEIGHT: usize = 2000;

#[derive(Debug, Deserialize)]
pub(crate) struct LookupAttribute {
    #[serde(rename = "AttributeKey")]
    key: String,
    #[serde(rename = "AttributeValue")]
    value: String,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct LookupEventsInput {
    #[serde(rename = "LookupAttributes")]
    lookup_attributes: Option<Vec<LookupAttribute>>,
    #[serde(
        rename = "StartTime",
        default,
        deserialize_with = "timestamp::optional"
    )]
    start_time: Option<DateTime<Utc>>,
    #[serde(rename = "EndTime", default, deserialize_with = "timestamp::optional")]
    end_time: Option<DateTime<Utc>>,
    #[serde(rename = "EventCategory")]
    event_category: Option<String>,
    #[serde(rename = "MaxResults")]
    max_results: Option<i64>,
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

/// The page cursor: where the previous page ended, and a hash of the query it belongs to.
#[derive(Serialize, Deserialize)]
struct Cursor {
    /// Hash of the query parameters (attributes, time range, category).
    q: String,
    /// `eventTime` (Unix seconds) of the last event returned.
    t: i64,
    /// Its sequence number.
    s: u64,
}

pub(crate) async fn lookup_events(
    ctx: &Ctx<'_>,
    input: LookupEventsInput,
) -> Result<OpOutput, ApiError> {
    ctx.state.lookup_throttle.check()?;
    let history = match input.event_category.as_deref() {
        None => HistoryKind::Events,
        Some("insight") => HistoryKind::Insights,
        Some(other) => {
            return Err(ApiError::client(
                "InvalidEventCategoryException",
                format!("EventCategory {other:?} is not valid; the only value is \"insight\"."),
            ));
        }
    };
    let attributes = input.lookup_attributes.unwrap_or_default();
    let filters = attributes
        .iter()
        .map(|a| filter(a, history))
        .collect::<Result<Vec<_>, _>>()?;
    if let (Some(start), Some(end)) = (input.start_time, input.end_time)
        && start > end
    {
        return Err(ApiError::client(
            "InvalidTimeRangeException",
            "The StartTime must be before the EndTime.",
        ));
    }
    let limit = match input.max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(n) => {
            return Err(ApiError::client(
                "InvalidMaxResultsException",
                format!("MaxResults {n} is not valid; it must be between 1 and {MAX_RESULTS}."),
            ));
        }
    };
    let query_hash = hash_query(
        &attributes,
        input.start_time,
        input.end_time,
        input.event_category.as_deref(),
    );
    let before = match &input.next_token {
        None => None,
        Some(token) => Some(decode_cursor(token, &query_hash)?),
    };
    let mut found = ctx
        .state
        .store
        .lookup(LookupQuery {
            history,
            start_time: input.start_time.map(|t| t.timestamp()),
            end_time: input.end_time.map(|t| t.timestamp()),
            filters,
            before,
            limit: limit + 1,
        })
        .await
        .map_err(ApiError::from_store)?;
    let more = found.len() > limit;
    found.truncate(limit);
    let next_token = match (more, found.last()) {
        (true, Some(last)) => Some(encode_cursor(&Cursor {
            q: query_hash,
            t: last.event_time,
            s: last.event.seq,
        })),
        _ => None,
    };
    let events: Vec<Value> = found.iter().map(event_shape).collect();
    let mut body = json!({ "Events": events });
    if let Some(token) = next_token {
        body["NextToken"] = json!(token);
    }
    Ok(OpOutput::body(body))
}

/// One LookupEvents attribute as a store filter, validated as AWS does.
fn filter(a: &LookupAttribute, history: HistoryKind) -> Result<LookupFilter, ApiError> {
    let invalid = |why: String| ApiError::client("InvalidLookupAttributesException", why);
    let weight: usize = a
        .value
        .chars()
        .map(|c| {
            if matches!(c, '_' | ' ' | ',' | '\n') {
                2
            } else {
                1
            }
        })
        .sum();
    if a.value.is_empty() || weight > MAX_VALUE_WEIGHT {
        return Err(invalid(format!(
            "AttributeValue for {} must be 1 to {MAX_VALUE_WEIGHT} characters long.",
            a.key
        )));
    }
    let insight_keys = ["EventId", "EventName", "EventSource"];
    if history == HistoryKind::Insights && !insight_keys.contains(&a.key.as_str()) {
        return Err(invalid(format!(
            "AttributeKey {} cannot be used with EventCategory insight; use EventId, EventName or EventSource.",
            a.key
        )));
    }
    let v = a.value.clone();
    Ok(match a.key.as_str() {
        "EventId" => LookupFilter::EventId(v),
        "EventName" => LookupFilter::EventName(v),
        "ReadOnly" => match v.as_str() {
            "true" => LookupFilter::ReadOnly(true),
            "false" => LookupFilter::ReadOnly(false),
            _ => {
                return Err(invalid(format!(
                    "AttributeValue for ReadOnly must be true or false, not {v:?}."
                )));
            }
        },
        "Username" => LookupFilter::Username(v),
        "ResourceType" => LookupFilter::ResourceType(v),
        "ResourceName" => LookupFilter::ResourceName(v),
        "EventSource" => LookupFilter::EventSource(v),
        "AccessKeyId" => LookupFilter::AccessKeyId(v),
        other => {
            return Err(invalid(format!(
                "AttributeKey {other:?} is not valid; use one of EventId, EventName, ReadOnly, Username, ResourceType, ResourceName, EventSource, AccessKeyId."
            )));
        }
    })
}

/// The `Event` structure of one looked-up event.
fn event_shape(found: &LookedUpEvent) -> Value {
    let text = &found.event.record_json;
    let mut m = Map::new();
    m.insert("EventId".into(), json!(found.event.event_id));
    // The record was indexed from this same text when it was stored; parse it again for the
    // response members rather than widening the index for them.
    let index = EventRecord::from_json(text)
        .ok()
        .map(|r| EventIndex::of(&r));
    if let Some(ix) = &index {
        if let Some(name) = &ix.event_name {
            m.insert("EventName".into(), json!(name));
        }
        if let Some(ro) = ix.read_only {
            m.insert("ReadOnly".into(), json!(ro.to_string()));
        }
        if let Some(key) = &ix.access_key_id {
            m.insert("AccessKeyId".into(), json!(key));
        }
    }
    m.insert("EventTime".into(), json!(found.event_time));
    if let Some(ix) = &index {
        if let Some(source) = &ix.event_source {
            m.insert("EventSource".into(), json!(source));
        }
        if let Some(user) = &ix.username {
            m.insert("Username".into(), json!(user));
        }
        let resources: Vec<Value> = ix
            .resources
            .iter()
            .map(|(kind, name)| match kind {
                Some(kind) => json!({"ResourceType": kind, "ResourceName": name}),
                None => json!({"ResourceName": name}),
            })
            .collect();
        m.insert("Resources".into(), Value::Array(resources));
    }
    m.insert("CloudTrailEvent".into(), json!(text));
    Value::Object(m)
}

fn hash_query(
    attributes: &[LookupAttribute],
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    category: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    for a in attributes {
        h.update(a.key.as_bytes());
        h.update([0]);
        h.update(a.value.as_bytes());
        h.update([0]);
    }
    h.update(format!(
        "{:?}|{:?}|{:?}",
        start.map(|t| t.timestamp_millis()),
        end.map(|t| t.timestamp_millis()),
        category
    ));
    hex::encode(&h.finalize()[..8])
}

fn encode_cursor(c: &Cursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).expect("cursor serializes"))
}

fn decode_cursor(token: &str, query_hash: &str) -> Result<(i64, u64), ApiError> {
    let invalid = || {
        ApiError::client(
            "InvalidNextTokenException",
            "The NextToken is not valid. A NextToken must be reused with the same parameters as the call that returned it.",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
    let c: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if c.q != query_hash {
        return Err(invalid());
    }
    Ok((c.t, c.s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(key: &str, value: &str) -> LookupAttribute {
        LookupAttribute {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn attributes_validate_like_aws() {
        assert!(filter(&attr("Username", "alice"), HistoryKind::Events).is_ok());
        assert_eq!(
            filter(&attr("ReadOnly", "yes"), HistoryKind::Events)
                .unwrap_err()
                .code,
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            filter(&attr("Color", "x"), HistoryKind::Events)
                .unwrap_err()
                .code,
            "InvalidLookupAttributesException"
        );
        assert_eq!(
            filter(&attr("Username", ""), HistoryKind::Events)
                .unwrap_err()
                .code,
            "InvalidLookupAttributesException"
        );
        // Underscores count twice toward the 2000-character limit.
        assert!(filter(&attr("EventName", &"a".repeat(2000)), HistoryKind::Events).is_ok());
        assert!(filter(&attr("EventName", &"_".repeat(1001)), HistoryKind::Events).is_err());
        assert!(filter(&attr("Username", "x"), HistoryKind::Insights).is_err());
        assert!(filter(&attr("EventName", "x"), HistoryKind::Insights).is_ok());
    }

    #[test]
    fn cursors_belong_to_their_query() {
        let q1 = hash_query(&[attr("Username", "a")], None, None, None);
        let q2 = hash_query(&[attr("Username", "b")], None, None, None);
        let token = encode_cursor(&Cursor {
            q: q1.clone(),
            t: 5,
            s: 9,
        });
        assert_eq!(decode_cursor(&token, &q1).unwrap(), (5, 9));
        assert_eq!(
            decode_cursor(&token, &q2).unwrap_err().code,
            "InvalidNextTokenException"
        );
        assert!(decode_cursor("garbage!", &q1).is_err());
    }
}

//! `PutAuditEvents` (cloudtrail-data, REST-JSON): applications send their own audit events
//! through a channel.
//!
//! The request is `POST /PutAuditEvents?channelArn=…&externalId=…` with the body
//! `{"auditEvents": [{"id", "eventData", "eventDataChecksum"?}]}` (framing:
//! [`crate::layers::rest_json`]). Checks, in order — the first whole-request failure answers the
//! call and nothing is stored:
//!
//! 1. the request's shape: `channelArn` and `auditEvents` present, 1–100 events, each with an
//!    `id` of 1–128 `[-_A-Za-z0-9]` and an `eventData`, `externalId` (if sent) 2–1224 characters
//!    of `[\w+=,.@:/-]` → `ValidationException`;
//! 2. the channel: malformed → `InvalidChannelARN`; an ARN of another account →
//!    `ChannelInsufficientPermission` (Cairn is one account and has no channel resource
//!    policies); no such channel in the request's region → `ChannelNotFound`;
//! 3. the batch: two events with one `id` → `DuplicatedAuditEventId`; more than 1 MB of
//!    `eventData` → `ValidationException`.
//!
//! Then each event on its own ([`cairn_core::ingest::validate_event`]): a bad one is answered in
//! `failed[]` and the others are still accepted. Accepted events get a new time-ordered eventID
//! (UUIDv7) and are returned in [`PendingChanges::events`]; the audit layer appends them before
//! the call's own (data) event in one durable commit, so an accepted event is durable before
//! the answer. The channel's latest ingestion (`channel-status`) is updated in the same commit.
//!
//! All errors are HTTP 400: the cloudtrail-data model declares every error a client error with
//! no status of its own (Smithy's default is 400), and botocore and the Smithy SDKs pick the
//! error by `x-amzn-ErrorType`/`__type`, never by status. `externalId` is recorded and otherwise
//! ignored: Cairn has no channel resource policies that could require one.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cairn_core::ingest::{
    AcceptedEvent, ChannelRef, Checksum, EVENT_CATEGORY, Ingestion, check_batch,
    check_request_shape, parse_channel_ref, stored_record, validate_event,
};
use cairn_store::{CatalogWrite, EventIndex, HistoryKind, NewEvent};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::channels::{self, IngestionMark, STATUS_NAMESPACE, attempt_key, success_key};
use crate::ApiError;
use crate::layers::audit::{PendingChanges, RecordedResources};
use crate::layers::authenticate::Authenticated;
use crate::layers::rest_json::{ParsedBody, RequestQuery};
use crate::state::AppState;

/// The answer (wire member names).
#[derive(Serialize)]
struct Answer<'a> {
    successful: Vec<Success<'a>>,
    failed: Vec<Failure<'a>>,
}

#[derive(Serialize)]
struct Success<'a> {
    id: &'a str,
    #[serde(rename = "eventID")]
    event_id: String,
}

#[derive(Serialize)]
struct Failure<'a> {
    id: &'a str,
    #[serde(rename = "errorCode")]
    error_code: &'static str,
    #[serde(rename = "errorMessage")]
    error_message: String,
}

/// The handler of `POST /PutAuditEvents`.
pub(crate) async fn put_audit_events(State(state): State<AppState>, mut req: Request) -> Response {
    let ext = req.extensions_mut();
    let (Some(auth), Some(query), Some(ParsedBody(body))) = (
        ext.remove::<Authenticated>(),
        ext.remove::<RequestQuery>(),
        ext.remove::<ParsedBody>(),
    ) else {
        tracing::error!("PutAuditEvents reached without the cloudtrail-data framing");
        return ApiError::internal().into_response();
    };
    let mut channel_arn = None;
    let result = run(&state, &auth, &query, body, &mut channel_arn).await;
    let mut resp = match result {
        Ok((body, changes)) => {
            let mut resp = body.into_response();
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp.extensions_mut().insert(changes);
            resp
        }
        Err(e) => e.into_response(),
    };
    if let Some(arn) = channel_arn {
        resp.extensions_mut().insert(RecordedResources(vec![(
            channels::RESOURCE_TYPE.to_string(),
            arn,
        )]));
    }
    resp
}

fn validation(message: String) -> ApiError {
    ApiError::client("ValidationException", message)
}

fn not_null(member: &str) -> ApiError {
    validation(format!(
        "1 validation error detected: Value null at '{member}' failed to satisfy constraint: Member must not be null."
    ))
}

/// Runs the call; sets `channel_arn` as soon as the channel is known (for the audit event's
/// `resources`, also when a later check fails).
async fn run(
    state: &AppState,
    auth: &Authenticated,
    query: &RequestQuery,
    body: Result<crate::layers::rest_json::PutAuditEventsBody, String>,
    channel_arn: &mut Option<String>,
) -> Result<(String, PendingChanges), ApiError> {
    // 1. The request's shape.
    let input = body.map_err(ApiError::serialization)?;
    let channel_param = query
        .get("channelArn")
        .ok_or_else(|| not_null("channelArn"))?;
    if let Some(external_id) = query.get("externalId") {
        let ok = (2..=1224).contains(&external_id.chars().count())
            && external_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_+=,.@:/-".contains(&b));
        if !ok {
            return Err(validation(format!(
                "1 validation error detected: Value '{external_id}' at 'externalId' failed to satisfy constraint: Member must have length between 2 and 1224 and match pattern ^[\\w+=,.@:\\/-]*$."
            )));
        }
    }
    let events = input.audit_events.ok_or_else(|| not_null("auditEvents"))?;
    let mut checked = Vec::with_capacity(events.len());
    for (i, e) in events.iter().enumerate() {
        let id =
            e.id.as_deref()
                .ok_or_else(|| not_null(&format!("auditEvents.{}.member.id", i + 1)))?;
        let data = e
            .event_data
            .as_deref()
            .ok_or_else(|| not_null(&format!("auditEvents.{}.member.eventData", i + 1)))?;
        checked.push((id, data, e.event_data_checksum.as_deref()));
    }
    check_request_shape(checked.iter().map(|(id, _, _)| *id))
        .map_err(|e| ApiError::client(e.kind.error_name(), e.message))?;

    // 2. The channel.
    let account = state.config.account_id.as_str();
    let region = auth.region();
    let reference = parse_channel_ref(channel_param).ok_or_else(|| {
        ApiError::client(
            "InvalidChannelARN",
            format!(
                "{channel_param} is not a valid channel ARN. Expected arn:aws:cloudtrail:<region>:<account>:channel/<id>, or the id alone."
            ),
        )
    })?;
    let not_found = || {
        ApiError::client(
            "ChannelNotFound",
            format!("Channel {channel_param} was not found in {region}."),
        )
    };
    if let ChannelRef::Arn {
        partition,
        region: arn_region,
        account_id,
        ..
    } = &reference
    {
        if account_id != account {
            return Err(ApiError::client(
                "ChannelInsufficientPermission",
                format!(
                    "Channel {channel_param} belongs to account {account_id}; this Cairn is account {account} and cannot ingest into another account's channel."
                ),
            ));
        }
        if partition != "aws" || arn_region != region {
            return Err(not_found());
        }
    }
    let channel = channels::get(state, reference.id())
        .await?
        .filter(|c| c.region == region)
        .ok_or_else(not_found)?;
    *channel_arn = Some(channel.arn.clone());

    // 3. The batch.
    check_batch(checked.iter().map(|(id, data, _)| (*id, data.len())))
        .map_err(|e| ApiError::client(e.kind.error_name(), e.message))?;

    // Each event.
    let now = state.clock.now();
    let now_ms = now.timestamp_millis();
    let mut successful = Vec::new();
    let mut failed = Vec::new();
    let mut accepted_events = Vec::new();
    let mut last_error = None;
    let mut ids = EventIds::new();
    for (id, data, claimed) in checked {
        let checksum = claimed.map(|claimed| Checksum {
            claimed,
            sha256: Sha256::digest(data.as_bytes()).into(),
        });
        match validate_event(data, checksum.as_ref(), account) {
            Ok(accepted) => {
                let event_id = ids.next();
                let record = stored_record(
                    &accepted,
                    data,
                    &Ingestion {
                        event_id: &event_id,
                        region,
                        channel_arn: &channel.arn,
                        ingestion_time: now,
                    },
                );
                accepted_events.push(new_event(&accepted, event_id.clone(), record, now_ms));
                successful.push(Success { id, event_id });
            }
            Err(rejection) => {
                last_error = Some(rejection.code.as_str());
                failed.push(Failure {
                    id,
                    error_code: rejection.code.as_str(),
                    error_message: rejection.message,
                });
            }
        }
    }

    // The channel's latest ingestion, committed with the events.
    let last_event_id = accepted_events.last().map(|e| e.event_id.clone());
    let mut catalog = Vec::with_capacity(2);
    let mark = |event_id: Option<String>, error_code: Option<&str>| {
        serde_json::to_string(&IngestionMark {
            time_ms: now_ms,
            event_id,
            error_code: error_code.map(str::to_string),
        })
        .expect("a mark serializes")
    };
    if last_event_id.is_some() {
        catalog.push(CatalogWrite::put(
            STATUS_NAMESPACE,
            &success_key(&channel.id),
            mark(last_event_id.clone(), None),
        ));
    }
    catalog.push(CatalogWrite::put(
        STATUS_NAMESPACE,
        &attempt_key(&channel.id),
        mark(last_event_id, last_error),
    ));

    let body = serde_json::to_string(&Answer { successful, failed }).expect("an answer serializes");
    Ok((
        body,
        PendingChanges {
            catalog,
            events: accepted_events,
            ..PendingChanges::default()
        },
    ))
}

/// The eventIDs of one call's events: UUIDv7 (time-ordered, so the log's eventID index grows
/// at its right edge), with one random draw per call rather than per event. The first is a fresh
/// `Uuid::now_v7()`, whose 42-bit counter (the uuid crate's shared context) differs from that
/// of every other id this process makes in the same millisecond; its 32 low random bits, with
/// the top one cleared, then count up for the call's other events — RFC 9562 §6.2's monotonic
/// methods. A call's ids are consecutive and increasing, and at most 2^31 of them never carry
/// into the counter, so they cannot meet another call's.
struct EventIds {
    next: u128,
}

impl EventIds {
    fn new() -> EventIds {
        EventIds {
            next: uuid::Uuid::now_v7().as_u128() & !(1u128 << 31),
        }
    }

    fn next(&mut self) -> String {
        let id = uuid::Uuid::from_u128(self.next);
        self.next += 1;
        id.to_string()
    }
}

/// The log entry of an accepted event. The index fields are the ones
/// [`EventIndex::of`] extracts from the stored record (checked by a test), taken from the
/// validated event directly so the record is not parsed a second time.
fn new_event(
    accepted: &AcceptedEvent<'_>,
    event_id: String,
    record_json: String,
    received_at_ms: i64,
) -> NewEvent {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    NewEvent {
        event_id,
        received_at_ms,
        index: EventIndex {
            history: HistoryKind::of_category(Some(EVENT_CATEGORY)),
            event_time: Some(accepted.event_time.timestamp()),
            event_name: text(accepted.event_name()),
            event_source: text(accepted.event_source()),
            username: text(accepted.principal_id()),
            event_category: Some(EVENT_CATEGORY.to_string()),
            ..EventIndex::default()
        },
        record_json,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cairn_core::ingest::channel_arn;
    use serde_json::{Value, json};

    fn parse(body: &str) -> Value {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn event_ids_are_increasing_version_7_uuids() {
        let mut ids = EventIds::new();
        let all: Vec<uuid::Uuid> = (0..100).map(|_| ids.next().parse().unwrap()).collect();
        for pair in all.windows(2) {
            assert!(pair[0] < pair[1]);
        }
        for id in &all {
            assert_eq!(id.get_version_num(), 7);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
        }
        // A later call's ids come after (same millisecond or not).
        let later: uuid::Uuid = EventIds::new().next().parse().unwrap();
        assert!(later.as_u128() >> 80 >= all[99].as_u128() >> 80);
    }

    #[test]
    fn the_index_is_what_the_store_would_extract() {
        let data = json!({
            "version": "1.0",
            "userIdentity": {"type": "Employee", "principalId": "667788"},
            "eventSource": "banking.example.com",
            "eventName": "Login",
            "eventTime": "2022-06-14T07:58:00",
            "UID": "u-1",
            "recipientAccountId": "123456789012",
            "readOnly": true,
            "resources": [{"ARN": "x"}]
        })
        .to_string();
        let accepted = validate_event(&data, None, "123456789012").unwrap();
        let event_id = uuid::Uuid::now_v7().to_string();
        let arn = channel_arn("us-east-1", "123456789012", "c-1");
        let record = stored_record(
            &accepted,
            &data,
            &Ingestion {
                event_id: &event_id,
                region: "us-east-1",
                channel_arn: &arn,
                ingestion_time: chrono::Utc::now(),
            },
        );
        let fast = new_event(&accepted, event_id.clone(), record.clone(), 42);
        let slow = NewEvent::from_record_value(&parse(&record), 42).unwrap();
        assert_eq!(fast.index, slow.index);
        assert_eq!(fast.event_id, slow.event_id);
        assert_eq!(parse(&fast.record_json), parse(&slow.record_json));
        assert_eq!(fast.index.username.as_deref(), Some("667788"));
        assert_eq!(fast.index.history, HistoryKind::Events);
    }
}

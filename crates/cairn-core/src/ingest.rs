//! Application events sent with `PutAuditEvents` (cloudtrail-data): the pure rules.
//!
//! Everything here is a plain function of its inputs — no I/O, no clock, no hashing (the API
//! layer computes the SHA-256 of an event's bytes and passes it in as a [`Checksum`]):
//!
//! - [`check_request_shape`]: the constraints of the request itself (1–100 events, each `id`
//!   1–128 characters of `[-_A-Za-z0-9]`) — answered as `ValidationException`.
//! - [`check_batch`]: ids unique within the request (`DuplicatedAuditEventId`) and at most 1 MB
//!   of `eventData` in all (`ValidationException`).
//! - [`validate_event`]: one event's `eventData` against the CloudTrail Lake integration schema;
//!   a rejection is answered in the response's `failed[]` with an [`EventErrorCode`], and the
//!   other events of the call are still accepted.
//! - [`stored_record`]: the record Cairn stores for an accepted event.
//! - [`parse_channel_ref`]: a channel given as an ARN or as its id (the ARN's suffix).
//!
//! # AWS fact and Cairn policy
//!
//! **AWS fact** (cloudtrail-data model 2021-08-11, the CloudTrail Lake integration event schema
//! and the CloudTrail quotas page): the required `eventData` members (`version`,
//! `userIdentity.type`, `userIdentity.principalId`, `eventSource`, `eventName`, `eventTime`,
//! `UID`, `recipientAccountId`), their maximum lengths, the 100 KB limit of `requestParameters`
//! and `responseElements` and the 28 KB limit of `additionalEventData`, `recipientAccountId`
//! equal to the channel owner's account, the checksum (base64 of the raw SHA-256 of the exact
//! `eventData` bytes), 100 events or 1 MB per call, the per-event error codes and the stored
//! layout (`eventCategory: ActivityAuditLog`, `eventType: ActivityLog`, `metadata`, `eventData`).
//!
//! **Cairn policy** (no authoritative source; strict but predictable):
//! - lengths are counted in characters (Unicode scalar values), as Smithy length constraints
//!   are; object sizes are the bytes of the member's compact JSON serialization
//!   (1 KB = 1024 bytes);
//! - a required member that is `null` or an empty string counts as missing (`FieldNotFound`);
//!   a member of the wrong JSON type is `InvalidData`;
//! - `eventTime` must be `YYYY-MM-DDTHH:MM:SS`, optionally with a fraction of a second and a
//!   trailing `Z`; it is stored as `YYYY-MM-DDTHH:MM:SSZ` (the fraction dropped). Offsets other
//!   than `Z` are refused (`InvalidData`): the schema says UTC;
//! - `sourceIPAddress`, when present, must be an IPv4 or IPv6 address (`InvalidData`);
//! - `userIdentity.details`, `requestParameters`, `responseElements` and
//!   `additionalEventData`, when present and not `null`, must be JSON objects (`InvalidData`);
//! - members the schema does not name are kept as sent;
//! - checks run in this order, the first failure wins: checksum, JSON object, required members
//!   present, member types, lengths and sizes, `eventTime`, `sourceIPAddress`, recipient.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use crate::record::format_event_time;

/// Events per `PutAuditEvents` call (AWS: 100).
pub const MAX_EVENTS_PER_CALL: usize = 100;
/// Bytes of `eventData` per call, all events together (AWS: 1 MB).
pub const MAX_EVENT_DATA_BYTES_PER_CALL: usize = 1024 * 1024;
/// Largest `requestParameters` / `responseElements`, bytes of compact JSON (AWS: 100 KB).
pub const MAX_PARAMETERS_BYTES: usize = 100 * 1024;
/// Largest `additionalEventData`, bytes of compact JSON (AWS: 28 KB).
pub const MAX_ADDITIONAL_EVENT_DATA_BYTES: usize = 28 * 1024;
/// Longest caller event `id` (model shape `Uuid`: 1–128 of `[-_A-Za-z0-9]`).
pub const MAX_ID_LEN: usize = 128;

/// `eventCategory` of ingested application events.
pub const EVENT_CATEGORY: &str = "ActivityAuditLog";
/// `eventType` of ingested application events.
pub const EVENT_TYPE: &str = "ActivityLog";

/// Why one event of a call was not accepted: the `errorCode` of its `failed[]` entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventErrorCode {
    /// A required member is missing (or `null`, or empty).
    FieldNotFound,
    /// A member is longer or larger than the schema allows.
    FieldTooLong,
    /// `eventDataChecksum` does not match the SHA-256 of `eventData`.
    InvalidChecksum,
    /// `eventData` is not a JSON object, or a member has the wrong type or format.
    InvalidData,
    /// `recipientAccountId` is not the account that owns the channel.
    InvalidRecipient,
}

impl EventErrorCode {
    /// The wire `errorCode`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventErrorCode::FieldNotFound => "FieldNotFound",
            EventErrorCode::FieldTooLong => "FieldTooLong",
            EventErrorCode::InvalidChecksum => "InvalidChecksum",
            EventErrorCode::InvalidData => "InvalidData",
            EventErrorCode::InvalidRecipient => "InvalidRecipient",
        }
    }
}

impl fmt::Display for EventErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejected event: its error code and a message for the caller (at most 1024 characters,
/// the model's `ErrorMessage` limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRejection {
    /// The `errorCode`.
    pub code: EventErrorCode,
    /// The `errorMessage`.
    pub message: String,
}

impl EventRejection {
    fn new(code: EventErrorCode, message: impl Into<String>) -> EventRejection {
        let mut message: String = message.into();
        if message.chars().count() > 1024 {
            message = message.chars().take(1021).collect::<String>() + "...";
        }
        EventRejection { code, message }
    }
}

/// Which whole-request error a [`BatchError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchErrorKind {
    /// A constraint of the request is broken (`ValidationException`).
    Validation,
    /// Two events of the request share an `id` (`DuplicatedAuditEventId`).
    DuplicatedAuditEventId,
}

impl BatchErrorKind {
    /// The wire error name.
    pub fn error_name(self) -> &'static str {
        match self {
            BatchErrorKind::Validation => "ValidationException",
            BatchErrorKind::DuplicatedAuditEventId => "DuplicatedAuditEventId",
        }
    }
}

/// A request refused as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// The error.
    pub kind: BatchErrorKind,
    /// The message for the caller.
    pub message: String,
}

impl BatchError {
    fn validation(message: String) -> BatchError {
        BatchError {
            kind: BatchErrorKind::Validation,
            message,
        }
    }
}

/// Is `id` a valid caller event id (1–128 of `[-_A-Za-z0-9]`)?
pub fn valid_event_id(id: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The constraints of the request's shape: 1–100 events, each with a valid `id`.
pub fn check_request_shape<'a>(
    ids: impl ExactSizeIterator<Item = &'a str>,
) -> Result<(), BatchError> {
    let count = ids.len();
    if !(1..=MAX_EVENTS_PER_CALL).contains(&count) {
        return Err(BatchError::validation(format!(
            "1 validation error detected: Value at 'auditEvents' failed to satisfy constraint: \
             Member must have length between 1 and {MAX_EVENTS_PER_CALL} (the request has {count} events)."
        )));
    }
    for (i, id) in ids.enumerate() {
        if !valid_event_id(id) {
            return Err(BatchError::validation(format!(
                "1 validation error detected: Value '{}' at 'auditEvents.{}.member.id' failed to satisfy \
                 constraint: Member must have length between 1 and {MAX_ID_LEN} and match pattern ^[-_A-Za-z0-9]+$.",
                clip(id, 140),
                i + 1
            )));
        }
    }
    Ok(())
}

/// The rules over all events of a call: unique ids, then at most 1 MB of `eventData`.
/// `events` yields `(id, eventData length in bytes)`.
pub fn check_batch<'a>(
    events: impl IntoIterator<Item = (&'a str, usize)>,
) -> Result<(), BatchError> {
    let mut seen = HashSet::new();
    let mut total = 0usize;
    for (id, len) in events {
        if !seen.insert(id) {
            return Err(BatchError {
                kind: BatchErrorKind::DuplicatedAuditEventId,
                message: format!(
                    "The request holds more than one audit event with the id {id}; ids must be unique within a request."
                ),
            });
        }
        total += len;
    }
    if total > MAX_EVENT_DATA_BYTES_PER_CALL {
        return Err(BatchError::validation(format!(
            "The audit events of the request hold {total} bytes of eventData; at most \
             {MAX_EVENT_DATA_BYTES_PER_CALL} bytes (1 MB) are allowed per request."
        )));
    }
    Ok(())
}

/// The caller's `eventDataChecksum` and the SHA-256 of the `eventData` bytes, computed by the
/// caller of [`validate_event`].
#[derive(Debug, Clone, Copy)]
pub struct Checksum<'a> {
    /// What the request claims: base64 (standard alphabet, padded) of the raw digest.
    pub claimed: &'a str,
    /// The SHA-256 of the `eventData` bytes as received.
    pub sha256: [u8; 32],
}

impl Checksum<'_> {
    /// Does the claimed checksum equal the digest?
    pub fn matches(&self) -> bool {
        self.claimed == base64_standard(&self.sha256)
    }
}

/// An accepted event: the members Cairn reads from its `eventData` (borrowed from the text
/// when they need no unescaping) and the normalised `eventTime`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedEvent<'a> {
    /// `eventData.eventTime`, UTC, whole seconds.
    pub event_time: DateTime<Utc>,
    event_name: Cow<'a, str>,
    event_source: Cow<'a, str>,
    principal_id: Cow<'a, str>,
    recipient_account_id: Cow<'a, str>,
}

impl AcceptedEvent<'_> {
    /// The same event, owning its members.
    pub fn into_owned(self) -> AcceptedEvent<'static> {
        AcceptedEvent {
            event_time: self.event_time,
            event_name: Cow::Owned(self.event_name.into_owned()),
            event_source: Cow::Owned(self.event_source.into_owned()),
            principal_id: Cow::Owned(self.principal_id.into_owned()),
            recipient_account_id: Cow::Owned(self.recipient_account_id.into_owned()),
        }
    }

    /// `eventData.eventName`.
    pub fn event_name(&self) -> &str {
        &self.event_name
    }

    /// `eventData.eventSource`.
    pub fn event_source(&self) -> &str {
        &self.event_source
    }

    /// `eventData.userIdentity.principalId`.
    pub fn principal_id(&self) -> &str {
        &self.principal_id
    }

    /// `eventData.recipientAccountId`.
    pub fn recipient_account_id(&self) -> &str {
        &self.recipient_account_id
    }
}

/// Validates one event's `eventData` (the exact text sent), with its checksum if the request
/// carried one, for a channel owned by `account_id`. See the module docs for the rules.
///
/// The text is read once into a view of just the members the rules need (strings borrowed,
/// objects measured, everything else skipped) rather than into a `serde_json::Value`: at 100
/// events per call this is most of the handler's work.
pub fn validate_event<'a>(
    event_data: &'a str,
    checksum: Option<&Checksum<'_>>,
    account_id: &str,
) -> Result<AcceptedEvent<'a>, EventRejection> {
    use EventErrorCode::*;
    if let Some(c) = checksum
        && !c.matches()
    {
        return Err(EventRejection::new(
            InvalidChecksum,
            format!(
                "eventDataChecksum {} does not match the SHA-256 of eventData ({}); send the base64 of the raw SHA-256 digest of the exact eventData bytes.",
                clip(c.claimed, 64),
                base64_standard(&c.sha256)
            ),
        ));
    }
    let view = serde_json::from_str::<view::EventData<'a>>(event_data).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => "eventData must be a JSON object.".to_string(),
            _ => format!("eventData is not valid JSON: {e}"),
        };
        EventRejection::new(InvalidData, message)
    })?;
    use view::{Identity, Member};

    // Required members present.
    let missing = |field: &str| {
        EventRejection::new(
            FieldNotFound,
            format!("eventData has no {field}; it is required."),
        )
    };
    if !view.version.present() {
        return Err(missing("version"));
    }
    let identity = match &view.user_identity {
        Identity::Missing | Identity::Null | Identity::EmptyText => {
            return Err(missing("userIdentity"));
        }
        Identity::Other(kind) => {
            return Err(EventRejection::new(
                InvalidData,
                format!("eventData.userIdentity must be a JSON object, not {kind}."),
            ));
        }
        Identity::Object(identity) => identity,
    };
    if !identity.kind.present() {
        return Err(missing("userIdentity.type"));
    }
    if !identity.principal_id.present() {
        return Err(missing("userIdentity.principalId"));
    }
    let required = [
        ("eventSource", &view.event_source, Some(1024)),
        ("eventName", &view.event_name, Some(1024)),
        ("eventTime", &view.event_time, None),
        ("UID", &view.uid, Some(1024)),
        ("recipientAccountId", &view.recipient_account_id, None),
    ];
    for (field, member, _) in &required {
        if !member.present() {
            return Err(missing(field));
        }
    }

    // Types and lengths.
    let text_of = |path: &str, m: &Member<'_>, max: Option<usize>| -> Result<(), EventRejection> {
        let Member::Text(s) = m else {
            return Err(EventRejection::new(
                InvalidData,
                format!("eventData.{path} must be a string, not {}.", m.kind()),
            ));
        };
        if let Some(max) = max {
            let len = s.chars().count();
            if len > max {
                return Err(EventRejection::new(
                    FieldTooLong,
                    format!(
                        "eventData.{path} is {len} characters long; at most {max} are allowed."
                    ),
                ));
            }
        }
        Ok(())
    };
    text_of("version", &view.version, Some(256))?;
    text_of("userIdentity.type", &identity.kind, Some(128))?;
    text_of(
        "userIdentity.principalId",
        &identity.principal_id,
        Some(1024),
    )?;
    if !matches!(
        identity.details,
        Member::Missing | Member::Null | Member::Object { .. }
    ) {
        return Err(EventRejection::new(
            InvalidData,
            "eventData.userIdentity.details must be a JSON object.",
        ));
    }
    for (field, member, max) in required {
        text_of(field, member, max)?;
    }
    for (field, member, max) in [
        ("userAgent", &view.user_agent, Some(1024)),
        ("errorCode", &view.error_code, Some(256)),
        ("errorMessage", &view.error_message, Some(256)),
        ("sourceIPAddress", &view.source_ip_address, None),
    ] {
        if !matches!(member, Member::Missing | Member::Null) {
            text_of(field, member, max)?;
        }
    }
    for (field, member, max) in [
        (
            "requestParameters",
            &view.request_parameters,
            MAX_PARAMETERS_BYTES,
        ),
        (
            "responseElements",
            &view.response_elements,
            MAX_PARAMETERS_BYTES,
        ),
        (
            "additionalEventData",
            &view.additional_event_data,
            MAX_ADDITIONAL_EVENT_DATA_BYTES,
        ),
    ] {
        match member {
            Member::Missing | Member::Null => {}
            Member::Object { bytes } if *bytes > max => {
                return Err(EventRejection::new(
                    FieldTooLong,
                    format!(
                        "eventData.{field} is {bytes} bytes of JSON; at most {max} bytes ({} KB) are allowed.",
                        max / 1024
                    ),
                ));
            }
            Member::Object { .. } => {}
            other => {
                return Err(EventRejection::new(
                    InvalidData,
                    format!(
                        "eventData.{field} must be a JSON object, not {}.",
                        other.kind()
                    ),
                ));
            }
        }
    }

    // Formats.
    let time_text = view.event_time.text();
    let event_time = parse_ingest_time(time_text).ok_or_else(|| {
        EventRejection::new(
            InvalidData,
            format!(
                "eventData.eventTime {} is not a UTC time of the form yyyy-MM-ddTHH:mm:ss (optionally with fractional seconds and a trailing Z).",
                clip(time_text, 64)
            ),
        )
    })?;
    if let Member::Text(ip) = &view.source_ip_address
        && ip.parse::<std::net::IpAddr>().is_err()
    {
        return Err(EventRejection::new(
            InvalidData,
            format!(
                "eventData.sourceIPAddress {} is not an IPv4 or IPv6 address.",
                clip(ip, 64)
            ),
        ));
    }

    // The recipient.
    let recipient = view.recipient_account_id.text();
    if recipient != account_id {
        return Err(EventRejection::new(
            InvalidRecipient,
            format!(
                "eventData.recipientAccountId {} is not the account that owns the channel ({account_id}).",
                clip(recipient, 64)
            ),
        ));
    }
    let view::EventData {
        event_name,
        event_source,
        recipient_account_id,
        user_identity,
        ..
    } = view;
    let Identity::Object(identity) = user_identity else {
        unreachable!("checked above");
    };
    Ok(AcceptedEvent {
        event_time,
        event_name: event_name.into_text(),
        event_source: event_source.into_text(),
        principal_id: identity.principal_id.into_text(),
        recipient_account_id: recipient_account_id.into_text(),
    })
}

/// Parses an ingested `eventTime`: `YYYY-MM-DDTHH:MM:SS`, optionally `.fraction` (1–9 digits),
/// optionally `Z`. Returns the time truncated to whole seconds.
pub fn parse_ingest_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.strip_suffix('Z').unwrap_or(s);
    let (main, fraction) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    if let Some(f) = fraction
        && !((1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let b = main.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(num(0..4)?).ok()?, num(5..7)?, num(8..10)?)?;
    let time = NaiveTime::from_hms_opt(num(11..13)?, num(14..16)?, num(17..19)?)?;
    Some(date.and_time(time).and_utc())
}

/// Facts of the ingestion that go into the stored record.
#[derive(Debug, Clone, Copy)]
pub struct Ingestion<'a> {
    /// The new `eventID` Cairn assigned.
    pub event_id: &'a str,
    /// The region of the `PutAuditEvents` call.
    pub region: &'a str,
    /// The ARN of the channel the event came through.
    pub channel_arn: &'a str,
    /// When Cairn processed the event.
    pub ingestion_time: DateTime<Utc>,
}

/// The stored record of an accepted event, as JSON text:
/// `{eventVersion, eventCategory, eventType, eventID, eventTime, awsRegion, recipientAccountId,
/// metadata: {ingestionTime, channelARN}, eventData}`.
///
/// `eventData` is the caller's text as sent, surrounding whitespace trimmed, so the caller's
/// bytes are kept exactly — except that line breaks (whitespace between JSON tokens) become
/// spaces, so a stored record never spans lines.
pub fn stored_record(
    event: &AcceptedEvent<'_>,
    raw_event_data: &str,
    ingestion: &Ingestion<'_>,
) -> String {
    let raw = raw_event_data.trim_matches(|c: char| c.is_ascii_whitespace());
    // In valid JSON a line break can only be whitespace between tokens (strings hold `\n`
    // escapes, never raw control characters), so a space keeps the meaning and the line.
    let one_line;
    let bytes = raw.as_bytes();
    let data = if bytes.contains(&b'\n') || bytes.contains(&b'\r') {
        one_line = raw.replace(['\n', '\r'], " ");
        one_line.as_str()
    } else {
        raw
    };
    let mut out = String::with_capacity(data.len() + 400);
    out.push_str("{\"eventVersion\":");
    push_json_str(&mut out, crate::audit::EVENT_VERSION);
    out.push_str(",\"eventCategory\":\"");
    out.push_str(EVENT_CATEGORY);
    out.push_str("\",\"eventType\":\"");
    out.push_str(EVENT_TYPE);
    out.push_str("\",\"eventID\":");
    push_json_str(&mut out, ingestion.event_id);
    out.push_str(",\"eventTime\":");
    push_time(&mut out, event.event_time);
    out.push_str(",\"awsRegion\":");
    push_json_str(&mut out, ingestion.region);
    out.push_str(",\"recipientAccountId\":");
    push_json_str(&mut out, event.recipient_account_id());
    out.push_str(",\"metadata\":{\"ingestionTime\":");
    push_time(&mut out, ingestion.ingestion_time);
    out.push_str(",\"channelARN\":");
    push_json_str(&mut out, ingestion.channel_arn);
    out.push_str("},\"eventData\":");
    out.push_str(data);
    out.push('}');
    out
}

/// Appends `t` as a JSON string `"YYYY-MM-DDTHH:MM:SSZ"` (as [`format_event_time`] writes it,
/// for years 0–9999), without the formatting machinery: it runs twice per ingested event.
fn push_time(out: &mut String, t: DateTime<Utc>) {
    use chrono::{Datelike, Timelike};
    let year = t.year();
    if !(0..=9999).contains(&year) {
        push_json_str(out, &format_event_time(t));
        return;
    }
    let mut buf = *b"\"0000-00-00T00:00:00Z\"";
    let mut put = |at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(1, 4, year as u32);
    put(6, 2, t.month());
    put(9, 2, t.day());
    put(12, 2, t.hour());
    put(15, 2, t.minute());
    put(18, 2, t.second());
    out.push_str(std::str::from_utf8(&buf).expect("ASCII digits"));
}

/// Appends `s` as a JSON string literal, escaped as `serde_json` escapes it.
fn push_json_str(out: &mut String, s: &str) {
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push('"');
        out.push_str(s);
        out.push('"');
        return;
    }
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A channel as a `Channel`/`channelArn` parameter names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelRef {
    /// The channel id alone (the ARN's suffix).
    Id(String),
    /// A full channel ARN.
    Arn {
        /// `aws`, `aws-cn`, ...
        partition: String,
        /// The channel's region.
        region: String,
        /// The owning account.
        account_id: String,
        /// The channel id.
        id: String,
    },
}

impl ChannelRef {
    /// The channel id.
    pub fn id(&self) -> &str {
        match self {
            ChannelRef::Id(id) | ChannelRef::Arn { id, .. } => id,
        }
    }
}

/// The ARN of channel `id`.
pub fn channel_arn(region: &str, account_id: &str, id: &str) -> String {
    format!("arn:aws:cloudtrail:{region}:{account_id}:channel/{id}")
}

/// Is `id` a plausible channel id: 1–128 of `[A-Za-z0-9-]` (Cairn makes UUIDs; AWS documents
/// both UUIDs and plain digits)?
fn valid_channel_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Parses a channel reference: `arn:<partition>:cloudtrail:<region>:<12-digit account>:channel/<id>`
/// or a bare id. `None` means malformed (`ChannelARNInvalidException` / `InvalidChannelARN`).
pub fn parse_channel_ref(s: &str) -> Option<ChannelRef> {
    if !s.starts_with("arn:") {
        return valid_channel_id(s).then(|| ChannelRef::Id(s.to_string()));
    }
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    let [_, partition, service, region, account, resource] = parts[..] else {
        return None;
    };
    let id = resource.strip_prefix("channel/")?;
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (token(partition)
        && service == "cloudtrail"
        && token(region)
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit())
        && valid_channel_id(id))
    .then(|| ChannelRef::Arn {
        partition: partition.to_string(),
        region: region.to_string(),
        account_id: account.to_string(),
        id: id.to_string(),
    })
}

/// Standard, padded base64 (RFC 4648 §4).
fn base64_standard(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// At most `max` characters of `s`, for quoting caller input in messages.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect::<String>() + "..."
    }
}

/// A one-pass, allocation-light reading of `eventData`: just the members the rules need.
///
/// Strings are borrowed from the text unless they hold escapes; objects are not built but
/// measured (the bytes of their compact JSON text, as `serde_json` would write them); members
/// the rules do not name are skipped. A later duplicate key wins, as in `serde_json::Value`.
mod view {
    use std::borrow::Cow;
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// What one member holds, as far as the rules care.
    #[derive(Debug, Default)]
    pub(super) enum Member<'a> {
        /// Not in the object.
        #[default]
        Missing,
        /// `null`.
        Null,
        /// A string.
        Text(Cow<'a, str>),
        /// An object, `bytes` long as compact JSON.
        Object { bytes: usize },
        /// Anything else: its JSON type, for messages.
        Other(&'static str),
    }

    impl<'a> Member<'a> {
        /// Present for the "required" rules: not missing, not `null`, not `""`.
        pub(super) fn present(&self) -> bool {
            match self {
                Member::Missing | Member::Null => false,
                Member::Text(s) => !s.is_empty(),
                Member::Object { .. } | Member::Other(_) => true,
            }
        }

        /// The JSON type, for messages.
        pub(super) fn kind(&self) -> &'static str {
            match self {
                Member::Missing => "missing",
                Member::Null => "null",
                Member::Text(_) => "a string",
                Member::Object { .. } => "an object",
                Member::Other(kind) => kind,
            }
        }

        /// The string, or `""`.
        pub(super) fn text(&self) -> &str {
            match self {
                Member::Text(s) => s,
                _ => "",
            }
        }

        /// The string, or `""`, owned as it is.
        pub(super) fn into_text(self) -> Cow<'a, str> {
            match self {
                Member::Text(s) => s,
                _ => Cow::Borrowed(""),
            }
        }
    }

    impl<'de> Deserialize<'de> for Member<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Member<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Member<'de>, E> {
                    Ok(Member::Text(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Member<'de>, E> {
                    Ok(Member::Text(Cow::Owned(v.to_string())))
                }
                fn visit_string<E>(self, v: String) -> Result<Member<'de>, E> {
                    Ok(Member::Text(Cow::Owned(v)))
                }
                fn visit_unit<E>(self) -> Result<Member<'de>, E> {
                    Ok(Member::Null)
                }
                fn visit_none<E>(self) -> Result<Member<'de>, E> {
                    Ok(Member::Null)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
                    Ok(Member::Other("a boolean"))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Member<'de>, E> {
                    Ok(Member::Other("a number"))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Member<'de>, E> {
                    Ok(Member::Other("a number"))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Member<'de>, E> {
                    Ok(Member::Other("a number"))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'de>, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Member::Other("an array"))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Member<'de>, A::Error> {
                    Ok(Member::Object {
                        bytes: map_size(map)?,
                    })
                }
            }
            d.deserialize_any(V)
        }
    }

    /// `userIdentity`.
    #[derive(Debug, Default)]
    pub(super) enum Identity<'a> {
        #[default]
        Missing,
        Null,
        EmptyText,
        Object(IdentityView<'a>),
        Other(&'static str),
    }

    /// The members of `userIdentity` the rules read.
    #[derive(Debug, Default)]
    pub(super) struct IdentityView<'a> {
        pub kind: Member<'a>,
        pub principal_id: Member<'a>,
        pub details: Member<'a>,
    }

    impl<'de> Deserialize<'de> for Identity<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Identity<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Identity<'de>, A::Error> {
                    let mut v = IdentityView::default();
                    while let Some(key) = map.next_key::<Key>()? {
                        match key.0.as_ref() {
                            "type" => v.kind = map.next_value()?,
                            "principalId" => v.principal_id = map.next_value()?,
                            "details" => v.details = map.next_value()?,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                            }
                        }
                    }
                    Ok(Identity::Object(v))
                }
                fn visit_str<E>(self, v: &str) -> Result<Identity<'de>, E> {
                    Ok(match v.is_empty() {
                        true => Identity::EmptyText,
                        false => Identity::Other("a string"),
                    })
                }
                fn visit_unit<E>(self) -> Result<Identity<'de>, E> {
                    Ok(Identity::Null)
                }
                fn visit_none<E>(self) -> Result<Identity<'de>, E> {
                    Ok(Identity::Null)
                }
                fn visit_bool<E>(self, _: bool) -> Result<Identity<'de>, E> {
                    Ok(Identity::Other("a boolean"))
                }
                fn visit_i64<E>(self, _: i64) -> Result<Identity<'de>, E> {
                    Ok(Identity::Other("a number"))
                }
                fn visit_u64<E>(self, _: u64) -> Result<Identity<'de>, E> {
                    Ok(Identity::Other("a number"))
                }
                fn visit_f64<E>(self, _: f64) -> Result<Identity<'de>, E> {
                    Ok(Identity::Other("a number"))
                }
                fn visit_seq<A: SeqAccess<'de>>(
                    self,
                    mut seq: A,
                ) -> Result<Identity<'de>, A::Error> {
                    while seq.next_element::<IgnoredAny>()?.is_some() {}
                    Ok(Identity::Other("an array"))
                }
            }
            d.deserialize_any(V)
        }
    }

    /// The members of `eventData` the rules read.
    #[derive(Debug, Default)]
    pub(super) struct EventData<'a> {
        pub version: Member<'a>,
        pub user_identity: Identity<'a>,
        pub user_agent: Member<'a>,
        pub event_source: Member<'a>,
        pub event_name: Member<'a>,
        pub event_time: Member<'a>,
        pub uid: Member<'a>,
        pub request_parameters: Member<'a>,
        pub response_elements: Member<'a>,
        pub error_code: Member<'a>,
        pub error_message: Member<'a>,
        pub source_ip_address: Member<'a>,
        pub recipient_account_id: Member<'a>,
        pub additional_event_data: Member<'a>,
    }

    impl<'de> Deserialize<'de> for EventData<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = EventData<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<EventData<'de>, A::Error> {
                    let mut v = EventData::default();
                    while let Some(key) = map.next_key::<Key>()? {
                        let slot = match key.0.as_ref() {
                            "version" => &mut v.version,
                            "userIdentity" => {
                                v.user_identity = map.next_value()?;
                                continue;
                            }
                            "userAgent" => &mut v.user_agent,
                            "eventSource" => &mut v.event_source,
                            "eventName" => &mut v.event_name,
                            "eventTime" => &mut v.event_time,
                            "UID" => &mut v.uid,
                            "requestParameters" => &mut v.request_parameters,
                            "responseElements" => &mut v.response_elements,
                            "errorCode" => &mut v.error_code,
                            "errorMessage" => &mut v.error_message,
                            "sourceIPAddress" => &mut v.source_ip_address,
                            "recipientAccountId" => &mut v.recipient_account_id,
                            "additionalEventData" => &mut v.additional_event_data,
                            _ => {
                                map.next_value::<IgnoredAny>()?;
                                continue;
                            }
                        };
                        *slot = map.next_value()?;
                    }
                    Ok(v)
                }
            }
            d.deserialize_map(V)
        }
    }

    /// An object key, borrowed when it holds no escapes. Keys the rules name never need
    /// unescaping to be recognised; an escaped key is compared after unescaping.
    struct Key<'a>(Cow<'a, str>);

    impl<'de> Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_string())))
                }
            }
            d.deserialize_str(V)
        }
    }

    /// The size of a value as compact JSON.
    struct JsonSize(usize);

    impl<'de> Deserialize<'de> for JsonSize {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = JsonSize;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("any JSON value")
                }
                fn visit_bool<E>(self, v: bool) -> Result<JsonSize, E> {
                    Ok(JsonSize(if v { 4 } else { 5 }))
                }
                fn visit_i64<E>(self, v: i64) -> Result<JsonSize, E> {
                    Ok(JsonSize(usize::from(v < 0) + digits(v.unsigned_abs())))
                }
                fn visit_u64<E>(self, v: u64) -> Result<JsonSize, E> {
                    Ok(JsonSize(digits(v)))
                }
                fn visit_f64<E>(self, v: f64) -> Result<JsonSize, E> {
                    Ok(JsonSize(serde_json::to_string(&v).map_or(4, |s| s.len())))
                }
                fn visit_str<E>(self, v: &str) -> Result<JsonSize, E> {
                    Ok(JsonSize(escaped_len(v)))
                }
                fn visit_unit<E>(self) -> Result<JsonSize, E> {
                    Ok(JsonSize(4))
                }
                fn visit_none<E>(self) -> Result<JsonSize, E> {
                    Ok(JsonSize(4))
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<JsonSize, A::Error> {
                    let mut n = 2;
                    let mut first = true;
                    while let Some(JsonSize(item)) = seq.next_element()? {
                        n += item + usize::from(!first);
                        first = false;
                    }
                    Ok(JsonSize(n))
                }
                fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<JsonSize, A::Error> {
                    map_size(map).map(JsonSize)
                }
            }
            d.deserialize_any(V)
        }
    }

    /// The compact JSON size of an object being visited.
    fn map_size<'de, A: MapAccess<'de>>(mut map: A) -> Result<usize, A::Error> {
        let mut n = 2;
        let mut first = true;
        while let Some(key) = map.next_key::<Key>()? {
            let JsonSize(value) = map.next_value()?;
            n += escaped_len(&key.0) + 1 + value + usize::from(!first);
            first = false;
        }
        Ok(n)
    }

    fn digits(mut v: u64) -> usize {
        let mut n = 1;
        while v >= 10 {
            v /= 10;
            n += 1;
        }
        n
    }

    /// The length of `s` as a JSON string literal the way `serde_json` writes it: quotes,
    /// `\"`, `\\`, the short escapes `\b \t \n \f \r`, `\u00XX` for other control characters,
    /// everything else (including non-ASCII) as is.
    pub(super) fn escaped_len(s: &str) -> usize {
        2 + s
            .bytes()
            .map(|b| match b {
                b'"' | b'\\' | 0x08 | 0x09 | 0x0a | 0x0c | 0x0d => 2,
                0x00..=0x1f => 6,
                _ => 1,
            })
            .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const ACCOUNT: &str = "123456789012";

    fn event() -> Value {
        json!({
            "version": "1.0",
            "userIdentity": {"type": "Employee", "principalId": "667788", "details": {"branch": "Main St"}},
            "userAgent": "bank-teller-app/4.2",
            "eventSource": "banking.example.com",
            "eventName": "OpenAccount",
            "eventTime": "2022-06-14T08:01:00Z",
            "UID": "3f1c9a77-0001",
            "requestParameters": {"customer": "2134-9987645", "name": "John Smith"},
            "responseElements": {"accountId": "ACC-1"},
            "sourceIPAddress": "192.0.2.10",
            "recipientAccountId": ACCOUNT,
            "additionalEventData": {"channel": "branch"}
        })
    }

    fn check(v: &Value) -> Result<AcceptedEvent<'static>, EventRejection> {
        validate_event(&v.to_string(), None, ACCOUNT).map(AcceptedEvent::into_owned)
    }

    /// The size the rules measure for an object member.
    fn json_size(v: &Value) -> usize {
        match serde_json::from_str::<view::Member>(&v.to_string()).unwrap() {
            view::Member::Object { bytes } => bytes,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn object_sizes_are_those_of_compact_json() {
        let tricky = json!({
            "s": "quote \" backslash \\ tab \t nl \n cr \r bs \u{8} ff \u{c} nul \u{0} esc \u{1b} del \u{7f} é 😀 /",
            "n": [0, -1, 18446744073709551615u64, -9223372036854775808i64, 1.5, -0.000123, 1e300, 2.0],
            "b": [true, false, null],
            "o": {"": {}, "nested": {"a": []}, "k\"ey": 1},
        });
        assert_eq!(
            json_size(&tricky),
            serde_json::to_string(&tricky).unwrap().len()
        );
        // Whitespace in the sent text does not count.
        let spaced = "{ \"requestParameters\" : { \"a\" :  [ 1 , 2 ] } }";
        let view: view::EventData = serde_json::from_str(spaced).unwrap();
        assert!(matches!(
            view.request_parameters,
            view::Member::Object { bytes: 11 }
        ));
    }

    fn code_of(v: &Value) -> EventErrorCode {
        check(v).expect_err("rejected").code
    }

    fn with(path: &[&str], value: Value) -> Value {
        let mut e = event();
        let mut cur = &mut e;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur[path[path.len() - 1]] = value;
        e
    }

    fn without(path: &[&str]) -> Value {
        let mut e = event();
        let mut cur = &mut e;
        for p in &path[..path.len() - 1] {
            cur = &mut cur[*p];
        }
        cur.as_object_mut().unwrap().remove(path[path.len() - 1]);
        e
    }

    #[test]
    fn a_complete_event_is_accepted() {
        let ok = check(&event()).unwrap();
        assert_eq!(ok.event_name(), "OpenAccount");
        assert_eq!(ok.event_source(), "banking.example.com");
        assert_eq!(ok.principal_id(), "667788");
        assert_eq!(format_event_time(ok.event_time), "2022-06-14T08:01:00Z");
        // Only the required members.
        let minimal = json!({
            "version": "1", "userIdentity": {"type": "t", "principalId": "p"},
            "eventSource": "s", "eventName": "n", "eventTime": "2022-06-14T07:58:00",
            "UID": "u", "recipientAccountId": ACCOUNT
        });
        assert!(check(&minimal).is_ok());
        // Keys are compared unescaped; unknown members are kept, not checked.
        let escaped = r#"{"version":"1","userIdentity":{"type":"t","principalId":"p"},"eventSource":"s",
            "event\u004eame":"n","eventTime":"2022-06-14T07:58:00","UID":"u","recipientAccountId":"123456789012",
            "custom":{"anything":[1,{"x":null}]}}"#;
        assert_eq!(
            validate_event(escaped, None, ACCOUNT).unwrap().event_name(),
            "n"
        );
    }

    #[test]
    fn event_data_must_be_a_json_object() {
        for bad in ["[1,2]", "\"text\"", "{\"version\":", "not json", ""] {
            let r = validate_event(bad, None, ACCOUNT).unwrap_err();
            assert_eq!(r.code, EventErrorCode::InvalidData, "{bad}");
        }
    }

    #[test]
    fn every_required_member_is_required() {
        for path in [
            &["version"][..],
            &["userIdentity"],
            &["userIdentity", "type"],
            &["userIdentity", "principalId"],
            &["eventSource"],
            &["eventName"],
            &["eventTime"],
            &["UID"],
            &["recipientAccountId"],
        ] {
            let r = check(&without(path)).unwrap_err();
            assert_eq!(r.code, EventErrorCode::FieldNotFound, "{path:?}");
            assert!(r.message.contains(&path.join(".")), "{}", r.message);
            // null and "" count as missing too.
            assert_eq!(
                code_of(&with(path, Value::Null)),
                EventErrorCode::FieldNotFound
            );
            assert_eq!(
                code_of(&with(path, json!(""))),
                EventErrorCode::FieldNotFound
            );
        }
    }

    #[test]
    fn members_of_the_wrong_type_are_invalid_data() {
        for (path, value) in [
            (&["version"][..], json!(1)),
            (&["userIdentity"], json!("alice")),
            (&["userIdentity", "principalId"], json!(667788)),
            (&["userIdentity", "details"], json!("x")),
            (&["eventName"], json!(["a"])),
            (&["userAgent"], json!(true)),
            (&["requestParameters"], json!("customer=1")),
            (&["responseElements"], json!([1])),
            (&["additionalEventData"], json!(5)),
        ] {
            assert_eq!(
                code_of(&with(path, value)),
                EventErrorCode::InvalidData,
                "{path:?}"
            );
        }
        // Optional members may be null.
        assert!(check(&with(&["requestParameters"], Value::Null)).is_ok());
    }

    #[test]
    fn length_limits_are_field_too_long() {
        for (path, max) in [
            (&["version"][..], 256),
            (&["userIdentity", "type"], 128),
            (&["userIdentity", "principalId"], 1024),
            (&["eventSource"], 1024),
            (&["eventName"], 1024),
            (&["UID"], 1024),
            (&["userAgent"], 1024),
            (&["errorCode"], 256),
            (&["errorMessage"], 256),
        ] {
            // Counted in characters: `max` multi-byte characters are fine.
            assert!(
                check(&with(path, json!("é".repeat(max)))).is_ok(),
                "{path:?}"
            );
            let r = check(&with(path, json!("é".repeat(max + 1)))).unwrap_err();
            assert_eq!(r.code, EventErrorCode::FieldTooLong, "{path:?}");
        }
    }

    #[test]
    fn object_size_limits_are_field_too_long() {
        for (field, max) in [
            ("requestParameters", MAX_PARAMETERS_BYTES),
            ("responseElements", MAX_PARAMETERS_BYTES),
            ("additionalEventData", MAX_ADDITIONAL_EVENT_DATA_BYTES),
        ] {
            // {"k":"…"} is 8 bytes of JSON around the value.
            let fits = json!({"k": "x".repeat(max - 8)});
            assert_eq!(json_size(&fits), max);
            assert!(check(&with(&[field], fits)).is_ok(), "{field}");
            let over = json!({"k": "x".repeat(max - 7)});
            assert_eq!(
                code_of(&with(&[field], over)),
                EventErrorCode::FieldTooLong,
                "{field}"
            );
        }
    }

    #[test]
    fn event_time_must_be_utc_seconds() {
        for ok in [
            "2022-06-14T08:03:00",
            "2022-06-14T08:03:00Z",
            "2022-06-14T08:03:00.123Z",
            "2022-06-14T08:03:00.5",
        ] {
            let e = check(&with(&["eventTime"], json!(ok))).unwrap();
            assert_eq!(
                format_event_time(e.event_time),
                "2022-06-14T08:03:00Z",
                "{ok}"
            );
        }
        for bad in [
            "2022-06-14 08:03:00",
            "2022-06-14T08:03:00+02:00",
            "2022-06-14T08:03",
            "2022-13-14T08:03:00Z",
            "2022-06-14T25:03:00Z",
            "2022-06-14T08:03:00.Z",
            "14/06/2022 08:03",
            "1655193780",
        ] {
            assert_eq!(
                code_of(&with(&["eventTime"], json!(bad))),
                EventErrorCode::InvalidData,
                "{bad}"
            );
        }
    }

    #[test]
    fn source_ip_must_be_an_address() {
        assert!(check(&with(&["sourceIPAddress"], json!("2001:db8::1"))).is_ok());
        assert_eq!(
            code_of(&with(&["sourceIPAddress"], json!("branch-7"))),
            EventErrorCode::InvalidData
        );
    }

    #[test]
    fn the_recipient_must_own_the_channel() {
        let r = check(&with(&["recipientAccountId"], json!("210987654321"))).unwrap_err();
        assert_eq!(r.code, EventErrorCode::InvalidRecipient);
        assert!(r.message.contains("210987654321"));
    }

    #[test]
    fn checksums_are_base64_of_the_raw_sha256() {
        // SHA-256("abc"), a FIPS 180-2 test vector.
        let digest: [u8; 32] = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad,
        ];
        let good = Checksum {
            claimed: "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",
            sha256: digest,
        };
        assert!(good.matches());
        assert_eq!(base64_standard(b"f"), "Zg==");
        assert_eq!(base64_standard(b"fo"), "Zm8=");
        assert_eq!(base64_standard(b"foo"), "Zm9v");

        let text = event().to_string();
        assert!(validate_event(&text, Some(&good), ACCOUNT).is_ok());
        // Hex, unpadded or simply wrong checksums are refused, before anything else.
        for claimed in [
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0",
            "AAAA",
        ] {
            let bad = Checksum {
                claimed,
                sha256: digest,
            };
            let r = validate_event("not even json", Some(&bad), ACCOUNT).unwrap_err();
            assert_eq!(r.code, EventErrorCode::InvalidChecksum, "{claimed}");
        }
    }

    #[test]
    fn request_shape_limits() {
        assert!(check_request_shape(["a"].into_iter()).is_ok());
        let hundred: Vec<String> = (0..100).map(|i| format!("e{i}")).collect();
        assert!(check_request_shape(hundred.iter().map(String::as_str)).is_ok());
        let many: Vec<String> = (0..101).map(|i| format!("e{i}")).collect();
        let e = check_request_shape(many.iter().map(String::as_str)).unwrap_err();
        assert_eq!(e.kind, BatchErrorKind::Validation);
        assert!(e.message.contains("101"));
        assert!(check_request_shape(std::iter::empty::<&str>()).is_err());
        for bad in ["", "has space", "dot.ted", &"x".repeat(129)] {
            assert!(check_request_shape([bad].into_iter()).is_err(), "{bad}");
        }
        assert!(check_request_shape(["A-z_09", &"x".repeat(128)].into_iter()).is_ok());
    }

    #[test]
    fn duplicate_ids_and_the_megabyte() {
        assert!(check_batch([("a", 10), ("b", 10)]).is_ok());
        let e = check_batch([("a", 10), ("b", 10), ("a", 10)]).unwrap_err();
        assert_eq!(e.kind, BatchErrorKind::DuplicatedAuditEventId);
        assert_eq!(e.kind.error_name(), "DuplicatedAuditEventId");
        assert!(check_batch([("a", MAX_EVENT_DATA_BYTES_PER_CALL)]).is_ok());
        let e = check_batch([("a", MAX_EVENT_DATA_BYTES_PER_CALL), ("b", 1)]).unwrap_err();
        assert_eq!(e.kind, BatchErrorKind::Validation);
        assert_eq!(e.kind.error_name(), "ValidationException");
    }

    #[test]
    fn the_stored_record_wraps_event_data() {
        let data = event().to_string();
        let accepted = validate_event(&data, None, ACCOUNT).unwrap();
        let arn = channel_arn("eu-west-1", ACCOUNT, "c0ffee00-0000-4000-8000-000000000001");
        let ingestion_time = DateTime::parse_from_rfc3339("2022-06-14T08:01:02.345Z")
            .unwrap()
            .with_timezone(&Utc);
        let text = stored_record(
            &accepted,
            &format!("  {data} "),
            &Ingestion {
                event_id: "0190a0b1-0000-7000-8000-000000000001",
                region: "eu-west-1",
                channel_arn: &arn,
                ingestion_time,
            },
        );
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            record,
            json!({
                "eventVersion": crate::audit::EVENT_VERSION,
                "eventCategory": "ActivityAuditLog",
                "eventType": "ActivityLog",
                "eventID": "0190a0b1-0000-7000-8000-000000000001",
                "eventTime": "2022-06-14T08:01:00Z",
                "awsRegion": "eu-west-1",
                "recipientAccountId": ACCOUNT,
                "metadata": {"ingestionTime": "2022-06-14T08:01:02Z", "channelARN": arn},
                "eventData": event(),
            })
        );
        // The caller's bytes are kept exactly (key order, spacing inside the object).
        assert!(text.ends_with(&format!("\"eventData\":{data}}}")));
        assert!(text.starts_with("{\"eventVersion\":"));

        // A multi-line eventData is stored on one line.
        let pretty = serde_json::to_string_pretty(&event()).unwrap();
        let accepted = validate_event(&pretty, None, ACCOUNT).unwrap();
        let text = stored_record(
            &accepted,
            &pretty,
            &Ingestion {
                event_id: "e",
                region: "us-east-1",
                channel_arn: &arn,
                ingestion_time,
            },
        );
        assert!(!text.contains('\n'));
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(record["eventData"], event());
    }

    #[test]
    fn times_are_written_as_format_event_time_does() {
        for text in [
            "2022-06-14T08:01:02Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
        ] {
            let t = crate::record::parse_event_time(text).unwrap();
            let mut out = String::new();
            push_time(&mut out, t);
            assert_eq!(out, format!("\"{}\"", format_event_time(t)));
        }
    }

    #[test]
    fn strings_are_escaped_as_serde_json_does() {
        let tricky = "q\" b\\ n\n r\r t\t \u{8}\u{c}\u{0}\u{1f} é 😀 </";
        let mut out = String::new();
        push_json_str(&mut out, tricky);
        assert_eq!(out, serde_json::to_string(tricky).unwrap());
    }

    #[test]
    fn channel_references() {
        let arn = "arn:aws:cloudtrail:us-east-1:123456789012:channel/01234567-89ab-4def-8123-456789abcdef";
        assert_eq!(
            parse_channel_ref(arn),
            Some(ChannelRef::Arn {
                partition: "aws".into(),
                region: "us-east-1".into(),
                account_id: ACCOUNT.into(),
                id: "01234567-89ab-4def-8123-456789abcdef".into(),
            })
        );
        assert_eq!(
            parse_channel_ref("01234567-89ab-4def-8123-456789abcdef")
                .unwrap()
                .id(),
            "01234567-89ab-4def-8123-456789abcdef"
        );
        assert_eq!(
            channel_arn("us-east-1", ACCOUNT, "01234567-89ab-4def-8123-456789abcdef"),
            arn
        );
        for bad in [
            "",
            "my channel",
            "arn:aws:cloudtrail:us-east-1:123456789012:trail/t",
            "arn:aws:cloudtrail:us-east-1:12345:channel/abc",
            "arn:aws:s3:us-east-1:123456789012:channel/abc",
            "arn:aws:cloudtrail::123456789012:channel/abc",
            "arn:aws:cloudtrail:us-east-1:123456789012:channel/",
            "arn:aws:cloudtrail:us-east-1:123456789012:channel/a/b",
            "arn:aws:cloudtrail:us-east-1",
        ] {
            assert_eq!(parse_channel_ref(bad), None, "{bad}");
        }
    }
}

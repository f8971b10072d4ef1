//! Self-audit: the CloudTrail record of a call to Cairn's own API.
//!
//! [`api_call_record`] is a pure function from what happened (who, what, when, from where, with
//! what result) to the record CloudTrail would write for it, so the exact shape is unit-tested
//! here and the HTTP layer only gathers the facts.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::operation::{Access, Operation};
use crate::principal::Principal;
use crate::record::format_event_time;

/// The `eventVersion` Cairn writes for the records it creates.
pub const EVENT_VERSION: &str = "1.11";

/// How a call ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CallOutcome<'a> {
    /// The operation succeeded; `response` is the body it answered (wire member names).
    Success {
        /// The response body, if any.
        response: Option<&'a Value>,
    },
    /// The operation failed (including authorization denials).
    Failure {
        /// The exception name, e.g. `AccessDeniedException`.
        code: &'a str,
        /// The message sent to the caller.
        message: &'a str,
    },
}

/// TLS facts of the connection, for `tlsDetails`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFacts {
    /// e.g. `TLSv1.3`.
    pub tls_version: String,
    /// e.g. `TLS_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    /// The `Host` header the client sent.
    pub client_provided_host_header: Option<String>,
}

/// Everything known about one API call.
#[derive(Debug, Clone)]
pub struct ApiCall<'a> {
    /// The authenticated caller.
    pub principal: &'a Principal,
    /// The operation called.
    pub operation: Operation,
    /// When the call completed.
    pub event_time: DateTime<Utc>,
    /// The region the server answers for.
    pub region: &'a str,
    /// The caller's IP address.
    pub source_ip: &'a str,
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// The request body as sent (wire member names); `None` or `{}` records `null`.
    pub request_parameters: Option<&'a Value>,
    /// Success or failure.
    pub outcome: CallOutcome<'a>,
    /// The `x-amzn-RequestId` the caller received.
    pub request_id: &'a str,
    /// A fresh unique id for this record.
    pub event_id: &'a str,
    /// The account that owns the record.
    pub recipient_account_id: &'a str,
    /// Set when the call came over TLS.
    pub tls: Option<&'a TlsFacts>,
    /// Resources the call acted on, as `(type, ARN)` — e.g. the channel of `PutAuditEvents`.
    pub resources: &'a [(String, String)],
}

/// The CloudTrail record of `call`, as a JSON object in CloudTrail's field order.
pub fn api_call_record(call: &ApiCall<'_>) -> Value {
    let op = call.operation;
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(EVENT_VERSION));
    r.insert("userIdentity".into(), call.principal.user_identity());
    r.insert(
        "eventTime".into(),
        json!(format_event_time(call.event_time)),
    );
    r.insert("eventSource".into(), json!(op.event_source()));
    r.insert("eventName".into(), json!(op.name()));
    r.insert("awsRegion".into(), json!(call.region));
    r.insert("sourceIPAddress".into(), json!(call.source_ip));
    if let Some(ua) = call.user_agent {
        r.insert("userAgent".into(), json!(truncate(ua, 1024)));
    }
    let (response, error) = match &call.outcome {
        CallOutcome::Success { response } => (*response, None),
        CallOutcome::Failure { code, message } => (None, Some((*code, *message))),
    };
    if let Some((code, message)) = error {
        r.insert("errorCode".into(), json!(truncate(code, 1024)));
        r.insert("errorMessage".into(), json!(truncate(message, 1024)));
    }
    r.insert(
        "requestParameters".into(),
        recorded_members(call.request_parameters),
    );
    // CloudTrail records no responseElements for read-only calls, failures, or empty answers.
    let response = if op.read_only() { None } else { response };
    r.insert("responseElements".into(), recorded_members(response));
    r.insert("requestID".into(), json!(call.request_id));
    r.insert("eventID".into(), json!(call.event_id));
    r.insert("readOnly".into(), json!(op.read_only()));
    if !call.resources.is_empty() {
        let resources: Vec<Value> = call
            .resources
            .iter()
            .map(|(kind, arn)| json!({"accountId": call.recipient_account_id, "type": kind, "ARN": arn}))
            .collect();
        r.insert("resources".into(), Value::Array(resources));
    }
    r.insert("eventType".into(), json!("AwsApiCall"));
    // Sending audit events is a data-plane call: AWS logs PutAuditEvents as a data event on the
    // channel, which keeps it out of the event history and selectable by data selectors.
    let management = op.access() != Access::Ingest;
    r.insert("managementEvent".into(), json!(management));
    r.insert(
        "recipientAccountId".into(),
        json!(call.recipient_account_id),
    );
    r.insert(
        "eventCategory".into(),
        json!(if management { "Management" } else { "Data" }),
    );
    if let Some(tls) = call.tls {
        let mut t = Map::new();
        t.insert("tlsVersion".into(), json!(tls.tls_version));
        t.insert("cipherSuite".into(), json!(tls.cipher_suite));
        if let Some(host) = &tls.client_provided_host_header {
            t.insert("clientProvidedHostHeader".into(), json!(host));
        }
        r.insert("tlsDetails".into(), Value::Object(t));
    }
    Value::Object(r)
}

/// Request/response members as CloudTrail records them: `null` when absent or empty, otherwise
/// the object with each member name's first letter lower-cased (`S3BucketName` → `s3BucketName`).
fn recorded_members(v: Option<&Value>) -> Value {
    match v {
        None => Value::Null,
        Some(Value::Object(m)) if m.is_empty() => Value::Null,
        Some(v) => lower_camel_keys(v),
    }
}

/// Lower-cases the first letter of every object key, recursively.
pub fn lower_camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (lower_first(k), lower_camel_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(lower_camel_keys).collect()),
        other => other.clone(),
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary (CloudTrail truncates these at 1 KB).
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::principal::{IdentityType, Role};
    use chrono::TimeZone;

    fn principal() -> Principal {
        Principal {
            identity_type: IdentityType::IamUser,
            user_name: "auditor1".into(),
            principal_id: "AIDATEST".into(),
            access_key_id: "AKIATEST".into(),
            account_id: "123456789012".into(),
            role: Role::Auditor,
        }
    }

    fn call<'a>(
        p: &'a Principal,
        op: Operation,
        outcome: CallOutcome<'a>,
        req: Option<&'a Value>,
    ) -> ApiCall<'a> {
        ApiCall {
            principal: p,
            operation: op,
            event_time: Utc.with_ymd_and_hms(2026, 11, 23, 8, 15, 2).unwrap(),
            region: "us-east-1",
            source_ip: "127.0.0.1",
            user_agent: Some("aws-cli/1.46.3"),
            request_parameters: req,
            outcome,
            request_id: "req-1",
            event_id: "evt-1",
            recipient_account_id: "123456789012",
            tls: None,
            resources: &[],
        }
    }

    #[test]
    fn a_denied_write_records_the_error_and_no_response() {
        let p = principal();
        let req =
            json!({"Name": "t1", "S3BucketName": "b", "TagsList": [{"Key": "k", "Value": "v"}]});
        let rec = api_call_record(&call(
            &p,
            Operation::CreateTrail,
            CallOutcome::Failure {
                code: "AccessDeniedException",
                message: "no",
            },
            Some(&req),
        ));
        assert_eq!(rec["eventTime"], "2026-11-23T08:15:02Z");
        assert_eq!(rec["eventName"], "CreateTrail");
        assert_eq!(rec["errorCode"], "AccessDeniedException");
        assert_eq!(rec["readOnly"], false);
        assert_eq!(rec["responseElements"], Value::Null);
        assert_eq!(
            rec["requestParameters"],
            json!({"name": "t1", "s3BucketName": "b", "tagsList": [{"key": "k", "value": "v"}]})
        );
        assert_eq!(rec["userIdentity"]["userName"], "auditor1");
        assert_eq!(rec["requestID"], "req-1");
        assert!(rec.get("tlsDetails").is_none());
    }

    #[test]
    fn read_only_calls_record_null_response_and_empty_requests_as_null() {
        let p = principal();
        let body = json!({"trailList": []});
        let empty = json!({});
        let rec = api_call_record(&call(
            &p,
            Operation::DescribeTrails,
            CallOutcome::Success {
                response: Some(&body),
            },
            Some(&empty),
        ));
        assert_eq!(rec["readOnly"], true);
        assert_eq!(rec["responseElements"], Value::Null);
        assert_eq!(rec["requestParameters"], Value::Null);
        assert!(rec.get("errorCode").is_none());
        assert_eq!(rec["eventSource"], "cloudtrail.amazonaws.com");
        assert_eq!(rec["managementEvent"], true);
        assert_eq!(rec["eventCategory"], "Management");
    }

    #[test]
    fn writes_record_their_response_in_lower_camel_case() {
        let p = principal();
        let body =
            json!({"Name": "t1", "TrailARN": "arn:aws:cloudtrail:us-east-1:123456789012:trail/t1"});
        let rec = api_call_record(&call(
            &p,
            Operation::CreateTrail,
            CallOutcome::Success {
                response: Some(&body),
            },
            None,
        ));
        assert_eq!(rec["responseElements"]["trailARN"], body["TrailARN"]);
        assert_eq!(rec["requestParameters"], Value::Null);
    }

    #[test]
    fn put_audit_events_is_a_data_event_on_its_channel() {
        let p = principal();
        let channel = [(
            "AWS::CloudTrail::Channel".to_string(),
            "arn:aws:cloudtrail:us-east-1:123456789012:channel/c1".to_string(),
        )];
        let mut c = call(
            &p,
            Operation::PutAuditEvents,
            CallOutcome::Success { response: None },
            None,
        );
        c.resources = &channel;
        let rec = api_call_record(&c);
        assert_eq!(rec["eventCategory"], "Data");
        assert_eq!(rec["managementEvent"], false);
        assert_eq!(rec["eventSource"], "cloudtrail-data.amazonaws.com");
        assert_eq!(rec["resources"][0]["type"], "AWS::CloudTrail::Channel");
        assert_eq!(rec["resources"][0]["ARN"], channel[0].1);
    }

    #[test]
    fn tls_details_and_long_user_agents() {
        let p = principal();
        let tls = TlsFacts {
            tls_version: "TLSv1.3".into(),
            cipher_suite: "TLS_AES_128_GCM_SHA256".into(),
            client_provided_host_header: Some("localhost:4590".into()),
        };
        let ua = "é".repeat(600);
        let mut c = call(
            &p,
            Operation::ListTrails,
            CallOutcome::Success { response: None },
            None,
        );
        c.tls = Some(&tls);
        c.user_agent = Some(&ua);
        let rec = api_call_record(&c);
        assert_eq!(rec["tlsDetails"]["tlsVersion"], "TLSv1.3");
        assert_eq!(
            rec["tlsDetails"]["clientProvidedHostHeader"],
            "localhost:4590"
        );
        assert_eq!(rec["userAgent"].as_str().unwrap().len(), 1024);
    }
}

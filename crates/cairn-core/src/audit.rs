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

/// A web-console session a call was made from: AWS marks such calls with
/// `sessionCredentialFromConsole` and a `userIdentity.sessionContext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// When the user signed in (the session's credentials were issued).
    pub creation_date: DateTime<Utc>,
}

impl ConsoleSession {
    /// The `sessionContext` of a console user's `userIdentity` (no MFA in Cairn's console).
    pub fn session_context(&self) -> Value {
        json!({
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {
                "creationDate": format_event_time(self.creation_date),
                "mfaAuthenticated": "false",
            },
        })
    }
}

/// The CloudTrail record of `call`, as a JSON object in CloudTrail's field order.
pub fn api_call_record(call: &ApiCall<'_>) -> Value {
    api_call_record_from(call, None)
}

/// The CloudTrail record of `call`, made from `console` if it came from a web-console session
/// (`None` is [`api_call_record`]).
pub fn api_call_record_from(call: &ApiCall<'_>, console: Option<&ConsoleSession>) -> Value {
    let op = call.operation;
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(EVENT_VERSION));
    let mut identity = call.principal.user_identity();
    if let (Some(session), Value::Object(m)) = (console, &mut identity) {
        m.insert("sessionContext".into(), session.session_context());
    }
    r.insert("userIdentity".into(), identity);
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
        r.insert("tlsDetails".into(), tls_details(tls));
    }
    if console.is_some() {
        // A string, as AWS writes it.
        r.insert("sessionCredentialFromConsole".into(), json!("true"));
    }
    Value::Object(r)
}

/// The name AWS writes as `userName` of a failed sign-in whose user does not exist, so the log
/// does not collect passwords typed into the user-name field.
pub const HIDDEN_USER_NAME: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// How a console sign-in ended.
#[derive(Debug, Clone, PartialEq)]
pub enum SignInOutcome<'a> {
    /// The password was right: the principal signed in.
    Success(&'a Principal),
    /// A known user gave a wrong password.
    WrongPassword(&'a Principal),
    /// No such user (or one without a console password): recorded with a hidden user name.
    UnknownUser,
}

/// Everything known about one console sign-in attempt.
#[derive(Debug, Clone)]
pub struct SignIn<'a> {
    /// Success or why not.
    pub outcome: SignInOutcome<'a>,
    /// When it happened.
    pub event_time: DateTime<Utc>,
    /// The region the server answers for by default.
    pub region: &'a str,
    /// The browser's address.
    pub source_ip: &'a str,
    /// The browser's `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// The console URL the user was signing in to (`additionalEventData.LoginTo`).
    pub login_to: &'a str,
    /// A fresh unique id for this record.
    pub event_id: &'a str,
    /// The account that owns the record.
    pub recipient_account_id: &'a str,
    /// Set when the sign-in came over TLS.
    pub tls: Option<&'a TlsFacts>,
}

/// The `ConsoleLogin` record of a sign-in attempt, the way AWS sign-in writes it: event type
/// `AwsConsoleSignIn`, no request parameters, `responseElements.ConsoleLogin` `Success` or
/// `Failure`, and `errorMessage` `Failed authentication` on failure (no `errorCode`).
pub fn console_login_record(s: &SignIn<'_>) -> Value {
    let identity = match &s.outcome {
        SignInOutcome::Success(p) => {
            let mut id = p.user_identity();
            // The sign-in itself is made with no access key.
            id["accessKeyId"] = json!("");
            id
        }
        SignInOutcome::WrongPassword(p) => {
            let mut id = p.user_identity();
            if let Value::Object(m) = &mut id {
                m.remove("arn");
            }
            id["accessKeyId"] = json!("");
            id
        }
        SignInOutcome::UnknownUser => json!({
            "type": "IAMUser",
            "accountId": s.recipient_account_id,
            "accessKeyId": "",
            "userName": HIDDEN_USER_NAME,
        }),
    };
    let success = matches!(s.outcome, SignInOutcome::Success(_));
    let mut r = Map::new();
    r.insert("eventVersion".into(), json!(EVENT_VERSION));
    r.insert("userIdentity".into(), identity);
    r.insert("eventTime".into(), json!(format_event_time(s.event_time)));
    r.insert("eventSource".into(), json!("signin.amazonaws.com"));
    r.insert("eventName".into(), json!("ConsoleLogin"));
    r.insert("awsRegion".into(), json!(s.region));
    r.insert("sourceIPAddress".into(), json!(s.source_ip));
    if let Some(ua) = s.user_agent {
        r.insert("userAgent".into(), json!(truncate(ua, 1024)));
    }
    if !success {
        r.insert("errorMessage".into(), json!("Failed authentication"));
    }
    r.insert("requestParameters".into(), Value::Null);
    r.insert(
        "responseElements".into(),
        json!({"ConsoleLogin": if success { "Success" } else { "Failure" }}),
    );
    r.insert(
        "additionalEventData".into(),
        json!({"LoginTo": s.login_to, "MobileVersion": "No", "MFAUsed": "No"}),
    );
    r.insert("eventID".into(), json!(s.event_id));
    r.insert("readOnly".into(), json!(false));
    r.insert("eventType".into(), json!("AwsConsoleSignIn"));
    r.insert("managementEvent".into(), json!(true));
    r.insert("recipientAccountId".into(), json!(s.recipient_account_id));
    r.insert("eventCategory".into(), json!("Management"));
    if let Some(tls) = s.tls {
        r.insert("tlsDetails".into(), tls_details(tls));
    }
    Value::Object(r)
}

/// `tlsDetails` as CloudTrail records it.
fn tls_details(tls: &TlsFacts) -> Value {
    let mut t = Map::new();
    t.insert("tlsVersion".into(), json!(tls.tls_version));
    t.insert("cipherSuite".into(), json!(tls.cipher_suite));
    if let Some(host) = &tls.client_provided_host_header {
        t.insert("clientProvidedHostHeader".into(), json!(host));
    }
    Value::Object(t)
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
    fn console_calls_carry_the_session_context() {
        let p = principal();
        let session = ConsoleSession {
            creation_date: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
        };
        let c = call(
            &p,
            Operation::StartLogging,
            CallOutcome::Success { response: None },
            None,
        );
        let rec = api_call_record_from(&c, Some(&session));
        assert_eq!(rec["sessionCredentialFromConsole"], "true");
        let attrs = &rec["userIdentity"]["sessionContext"]["attributes"];
        assert_eq!(attrs["creationDate"], "2026-11-23T08:00:00Z");
        assert_eq!(attrs["mfaAuthenticated"], "false");
        assert_eq!(rec["userIdentity"]["userName"], "auditor1");
        let plain = api_call_record(&c);
        assert!(plain.get("sessionCredentialFromConsole").is_none());
        assert!(plain["userIdentity"].get("sessionContext").is_none());
    }

    fn sign_in<'a>(outcome: SignInOutcome<'a>) -> SignIn<'a> {
        SignIn {
            outcome,
            event_time: Utc.with_ymd_and_hms(2026, 11, 23, 8, 15, 2).unwrap(),
            region: "us-east-1",
            source_ip: "192.0.2.1",
            user_agent: Some("Mozilla/5.0"),
            login_to: "http://localhost:4590/console/",
            event_id: "evt-1",
            recipient_account_id: "123456789012",
            tls: None,
        }
    }

    #[test]
    fn console_login_success_has_aws_shape() {
        let p = principal();
        let rec = console_login_record(&sign_in(SignInOutcome::Success(&p)));
        assert_eq!(rec["eventSource"], "signin.amazonaws.com");
        assert_eq!(rec["eventName"], "ConsoleLogin");
        assert_eq!(rec["eventType"], "AwsConsoleSignIn");
        assert_eq!(rec["readOnly"], false);
        assert_eq!(rec["managementEvent"], true);
        assert_eq!(rec["eventCategory"], "Management");
        assert_eq!(rec["requestParameters"], Value::Null);
        assert_eq!(rec["responseElements"], json!({"ConsoleLogin": "Success"}));
        assert_eq!(
            rec["additionalEventData"],
            json!({"LoginTo": "http://localhost:4590/console/", "MobileVersion": "No", "MFAUsed": "No"})
        );
        assert_eq!(rec["userIdentity"]["userName"], "auditor1");
        assert_eq!(rec["userIdentity"]["accessKeyId"], "");
        assert!(rec.get("errorMessage").is_none());
        assert!(rec.get("errorCode").is_none());
        // The record is one the typed model takes.
        crate::record::EventRecord::from_json(&rec.to_string()).unwrap();
    }

    #[test]
    fn console_login_failures_hide_unknown_user_names() {
        let p = principal();
        let wrong = console_login_record(&sign_in(SignInOutcome::WrongPassword(&p)));
        assert_eq!(wrong["responseElements"]["ConsoleLogin"], "Failure");
        assert_eq!(wrong["errorMessage"], "Failed authentication");
        assert_eq!(wrong["userIdentity"]["userName"], "auditor1");
        assert!(wrong["userIdentity"].get("arn").is_none());
        let unknown = console_login_record(&sign_in(SignInOutcome::UnknownUser));
        assert_eq!(unknown["userIdentity"]["userName"], HIDDEN_USER_NAME);
        assert_eq!(unknown["userIdentity"]["accountId"], "123456789012");
        assert_eq!(unknown["responseElements"]["ConsoleLogin"], "Failure");
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

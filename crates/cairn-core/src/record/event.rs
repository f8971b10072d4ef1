//! [`EventRecord`]: one element of a log file's `Records` array.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::field::{Field, Flag};
use super::identity::UserIdentity;
use super::parts::{Addendum, Resource, TlsDetails};
use super::time::parse_event_time;

/// Why a record could not be parsed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The input is not well-formed JSON, or its top level is not a JSON object.
    #[error("invalid CloudTrail event record: {0}")]
    Json(#[from] serde_json::Error),
}

record_object! {
    /// A CloudTrail event record, typed and lossless (reference §6.2; see the
    /// [module documentation](super) for the design).
    ///
    /// Every member is optional, even those CloudTrail always writes: Insights records have no
    /// `eventName`/`userIdentity`, old records have no `eventCategory`, and a record must never
    /// be rejected for what it lacks. Members are written back in the order below (AWS's usual
    /// order), then [`extra`](Self::extra).
    pub struct EventRecord {
        /// `eventVersion`: `"<major>.<minor>"`, e.g. `"1.08"`, `"1.10"`.
        "eventVersion" => event_version: Field<String>,
        /// `userIdentity`: who made the request.
        "userIdentity" => user_identity: Field<UserIdentity>,
        /// `eventTime`: as written (normally `YYYY-MM-DDTHH:MM:SSZ`); parsed by
        /// [`EventRecord::event_time_utc`].
        "eventTime" => event_time: Field<String>,
        /// `eventSource`: e.g. `cloudtrail.amazonaws.com`.
        "eventSource" => event_source: Field<String>,
        /// `eventName`: the API action, e.g. `CreateTrail`.
        "eventName" => event_name: Field<String>,
        /// `awsRegion`: any string (sample logs contain invented regions).
        "awsRegion" => aws_region: Field<String>,
        /// `sourceIPAddress`: an address, a service name or `AWS Internal`; kept a string
        /// (zero-padded octets occur).
        "sourceIPAddress" => source_ip_address: Field<String>,
        /// `userAgent`.
        "userAgent" => user_agent: Field<String>,
        /// `errorCode`: present when the call failed.
        "errorCode" => error_code: Field<String>,
        /// `errorMessage`.
        "errorMessage" => error_message: Field<String>,
        /// `requestParameters`: free-form; `Some(Value::Null)` for an explicit `null`.
        "requestParameters" => request_parameters: Option<Value>,
        /// `responseElements`: free-form; very often an explicit `null`.
        "responseElements" => response_elements: Option<Value>,
        /// `additionalEventData`: free-form.
        "additionalEventData" => additional_event_data: Option<Value>,
        /// `requestID`.
        "requestID" => request_id: Field<String>,
        /// `eventID`: GUID of the event (duplicates across log files are possible).
        "eventID" => event_id: Field<String>,
        /// `readOnly`: a boolean, or a `"true"`/`"false"` string in some logs; see
        /// [`EventRecord::read_only`].
        "readOnly" => read_only: Field<Flag>,
        /// `resources`: `[{ARN, accountId, type}]`. Kept `Raw` as a whole if an element is not
        /// an object.
        "resources" => resources: Field<Vec<Resource>>,
        /// `eventType`: `AwsApiCall`, `AwsServiceEvent`, `AwsConsoleAction`,
        /// `AwsConsoleSignIn`, `AwsCloudTrailInsight`, `AwsVpceEvent`, ...
        "eventType" => event_type: Field<String>,
        /// `apiVersion`.
        "apiVersion" => api_version: Field<String>,
        /// `managementEvent`: a boolean (possibly written as a string).
        "managementEvent" => management_event: Field<Flag>,
        /// `recipientAccountId`: the account that received this copy of the event.
        "recipientAccountId" => recipient_account_id: Field<String>,
        /// `sharedEventID`: shared by the copies of one event delivered to several accounts.
        "sharedEventID" => shared_event_id: Field<String>,
        /// `vpcEndpointId`.
        "vpcEndpointId" => vpc_endpoint_id: Field<String>,
        /// `vpcEndpointAccountId`.
        "vpcEndpointAccountId" => vpc_endpoint_account_id: Field<String>,
        /// `serviceEventDetails`: free-form payload of `AwsServiceEvent` records.
        "serviceEventDetails" => service_event_details: Option<Value>,
        /// `eventCategory`: `Management`, `Data`, `NetworkActivity`, `Insight`, ... (absent
        /// before eventVersion 1.07).
        "eventCategory" => event_category: Field<String>,
        /// `insightDetails`: free-form (Insights records only).
        "insightDetails" => insight_details: Option<Value>,
        /// `addendum`: late-delivery / update information.
        "addendum" => addendum: Field<Addendum>,
        /// `tlsDetails`: TLS parameters of the client connection.
        "tlsDetails" => tls_details: Field<TlsDetails>,
        /// `sessionCredentialFromConsole`: the string `"true"` when present (a boolean is
        /// accepted too).
        "sessionCredentialFromConsole" => session_credential_from_console: Field<Flag>,
        /// `edgeDeviceDetails`: free-form (S3 on Outposts).
        "edgeDeviceDetails" => edge_device_details: Option<Value>,
        /// `eventContext`: free-form (CloudTrail Lake enriched events only).
        "eventContext" => event_context: Option<Value>,
        /// `annotation`: undocumented Lake field.
        "annotation" => annotation: Field<String>,
    }
}

impl EventRecord {
    /// Parses one record from its JSON text.
    ///
    /// Fails only if `json` is not well-formed JSON or its top level is not an object; any
    /// object parses, and [`to_json`](Self::to_json) / `serde_json::to_value` give back the same
    /// JSON value.
    pub fn from_json(json: &str) -> Result<Self, RecordError> {
        Ok(serde_json::from_str(json)?)
    }

    /// Parses one record from its JSON text, building only the top-level members whose wire
    /// name `keep` accepts (sub-objects of a kept member are built whole). Every other member is
    /// checked as building it would check it (syntax, number range, escapes, depth) and
    /// dropped, so the result is *not* the whole record: this
    /// is for callers that keep the record's text and need a few members of it, such as the
    /// event-history index of an imported log file, where building the free-form
    /// `requestParameters`/`responseElements` trees would cost more than the rest of the parse.
    ///
    /// Fails exactly when [`from_json`](Self::from_json) fails.
    pub fn from_json_keeping(json: &str, keep: impl Fn(&str) -> bool) -> Result<Self, RecordError> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let record = Self::deserialize_keeping_then(&mut deserializer, keep, |record| record)?;
        deserializer.end()?;
        Ok(record)
    }

    /// [`from_json_keeping`](Self::from_json_keeping) on any deserializer: reads one JSON object
    /// (anything else is an error), building only the members `keep` accepts, and hands the
    /// record to `then` where it was built, returning what `then` makes of it. For a caller that
    /// needs a small summary of the record: the struct is ~5 KB, and moving it out through the
    /// layers of a deserializer costs more than parsing most records.
    pub fn deserialize_keeping_then<'de, D: serde::Deserializer<'de>, T>(
        deserializer: D,
        keep: impl Fn(&str) -> bool,
        then: impl FnOnce(EventRecord) -> T,
    ) -> Result<T, D::Error> {
        struct Keeping<K, F>(K, F);
        impl<'de, K: Fn(&str) -> bool, T, F: FnOnce(EventRecord) -> T> serde::de::Visitor<'de>
            for Keeping<K, F>
        {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object (EventRecord)")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                let record = EventRecord::from_map_access_keeping(map, self.0)?;
                Ok((self.1)(record))
            }
        }
        deserializer.deserialize_map(Keeping(keep, then))
    }

    /// Parses one record from JSON bytes (UTF-8). See [`from_json`](Self::from_json).
    pub fn from_slice(json: &[u8]) -> Result<Self, RecordError> {
        Ok(serde_json::from_slice(json)?)
    }

    /// Builds a record from an already parsed JSON value (which must be an object).
    pub fn from_value(value: Value) -> Result<Self, RecordError> {
        Ok(serde_json::from_value(value)?)
    }

    /// The record as compact JSON text: the same JSON value it was parsed from. Member order
    /// is the declaration order of this struct, then unknown members; inside free-form
    /// members, serde_json's map order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("an EventRecord always serializes to JSON")
    }

    /// The record as a JSON value (equal to the value it was parsed from).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("an EventRecord always serializes to JSON")
    }

    /// `readOnly` as a boolean (a boolean, or the string `"true"`/`"false"`); `None` when
    /// absent, `null` or unrecognised.
    pub fn read_only(&self) -> Option<bool> {
        self.read_only.as_bool()
    }

    /// `eventTime` in UTC (see [`parse_event_time`](super::parse_event_time) for the accepted
    /// forms); `None` when absent, not a string, or unparseable.
    pub fn event_time_utc(&self) -> Option<DateTime<Utc>> {
        self.event_time.as_str().and_then(parse_event_time)
    }

    /// The LookupEvents `Username` of the record: [`UserIdentity::lookup_username`], `None`
    /// without a `userIdentity` object.
    pub fn lookup_username(&self) -> Option<String> {
        self.user_identity
            .get()
            .and_then(UserIdentity::lookup_username)
    }

    /// The LookupEvents resources of the record, from `resources[]` only: one
    /// `(ResourceType, ResourceName)` pair per element that has a non-empty string `ARN`, in
    /// array order, where ResourceType is the element's `type` (if a string) and ResourceName is
    /// [`resource_name_from_arn`](super::resource_name_from_arn) of its `ARN`.
    ///
    /// Identifiers that CloudTrail extracts from `requestParameters` / `responseElements` are
    /// not included. Empty when `resources` is absent, `null` or raw.
    pub fn lookup_resources(&self) -> Vec<(Option<String>, String)> {
        let Some(resources) = self.resources.get() else {
            return Vec::new();
        };
        resources
            .iter()
            .filter_map(|r| {
                let name = r.lookup_name()?;
                Some((r.resource_type.as_str().map(str::to_owned), name))
            })
            .collect()
    }

    /// `userIdentity.accessKeyId`, if it is a non-empty string.
    pub fn access_key_id(&self) -> Option<&str> {
        self.user_identity
            .get()?
            .access_key_id
            .as_str()
            .filter(|key| !key.is_empty())
    }
}

impl FromStr for EventRecord {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<Self, RecordError> {
        Self::from_json(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Parses `text`, asserts the lossless round trip (via `to_value`, `to_json`, and parsing
    /// from a `Value`), and returns the record.
    #[track_caller]
    fn round_trip(text: &str) -> EventRecord {
        let expected: Value = serde_json::from_str(text).unwrap();
        let record = EventRecord::from_json(text).unwrap();
        assert_eq!(
            serde_json::to_value(&record).unwrap(),
            expected,
            "to_value of {text}"
        );
        assert_eq!(record.to_value(), expected);
        let reparsed: Value = serde_json::from_str(&record.to_json()).unwrap();
        assert_eq!(reparsed, expected, "to_json of {text}");
        let from_value = EventRecord::from_value(expected.clone()).unwrap();
        assert_eq!(from_value, record, "from_value of {text}");
        assert_eq!(EventRecord::from_slice(text.as_bytes()).unwrap(), record);
        record
    }

    #[track_caller]
    fn round_trip_value(value: &Value) -> EventRecord {
        round_trip(&value.to_string())
    }

    const EXAMPLE: &str = r#"{
      "eventVersion": "1.11",
      "userIdentity": {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLEROLEID1234:ops-session",
        "arn": "arn:aws:sts::111122223333:assumed-role/AuditAdmin/ops-session",
        "accountId": "111122223333",
        "accessKeyId": "ASIAEXAMPLEKEYID0001",
        "sessionContext": {
          "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLEROLEID1234",
            "arn": "arn:aws:iam::111122223333:role/AuditAdmin", "accountId": "111122223333",
            "userName": "AuditAdmin"},
          "attributes": {"creationDate": "2025-03-04T08:59:12Z", "mfaAuthenticated": "true"}
        }
      },
      "eventTime": "2025-03-04T09:15:27Z",
      "eventSource": "cloudtrail.amazonaws.com",
      "eventName": "CreateTrail",
      "awsRegion": "eu-west-1",
      "sourceIPAddress": "198.51.100.23",
      "userAgent": "aws-cli/2.22.4",
      "requestParameters": {"name": "org-audit", "isMultiRegionTrail": true},
      "responseElements": {"name": "org-audit", "trailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-audit"},
      "requestID": "4c6a2f0e-8b1d-4e3a-9f7c-2d5b8e1a6c90",
      "eventID": "b1f4c8e2-7a3d-4f69-8e21-5c0d9a7b3e14",
      "readOnly": false,
      "resources": [
        {"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::example-bucket/reports/q1.csv"},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::example-bucket"}
      ],
      "eventType": "AwsApiCall",
      "managementEvent": true,
      "recipientAccountId": "111122223333",
      "eventCategory": "Management",
      "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": "cloudtrail.eu-west-1.amazonaws.com"}
    }"#;

    #[test]
    fn reference_example() {
        let r = round_trip(EXAMPLE);
        assert_eq!(r.event_name.as_str(), Some("CreateTrail"));
        assert_eq!(r.read_only(), Some(false));
        assert_eq!(r.management_event.as_bool(), Some(true));
        assert_eq!(r.lookup_username().as_deref(), Some("ops-session"));
        assert_eq!(r.access_key_id(), Some("ASIAEXAMPLEKEYID0001"));
        assert_eq!(
            r.event_time_utc()
                .map(super::super::format_event_time)
                .as_deref(),
            Some("2025-03-04T09:15:27Z")
        );
        assert_eq!(
            r.lookup_resources(),
            vec![
                (Some("AWS::S3::Object".to_owned()), "q1.csv".to_owned()),
                (
                    Some("AWS::S3::Bucket".to_owned()),
                    "example-bucket".to_owned()
                ),
            ]
        );
        let id = r.user_identity.get().unwrap();
        let attrs = id.session_context.get().unwrap().attributes.get().unwrap();
        assert_eq!(attrs.is_mfa_authenticated(), Some(true));
        assert!(r.extra.is_empty() && id.extra.is_empty());
        assert_eq!(
            r.tls_details.get().unwrap().tls_version.as_str(),
            Some("TLSv1.3")
        );
        assert!(r.error_code.is_absent());
    }

    #[test]
    fn null_and_absent_are_distinct() {
        let r = round_trip(r#"{"eventName":"X","responseElements":null,"errorCode":null}"#);
        assert_eq!(r.response_elements, Some(Value::Null));
        assert_eq!(r.request_parameters, None);
        assert!(r.error_code.is_null());
        assert!(r.error_message.is_absent());
        assert_eq!(
            r.to_json(),
            r#"{"eventName":"X","errorCode":null,"responseElements":null}"#
        );
        let r = round_trip(r#"{"requestParameters":{}}"#);
        assert_eq!(r.request_parameters, Some(json!({})));
    }

    #[test]
    fn every_known_member_accepts_null_and_any_type() {
        // Every modelled member, at every nesting level, with every JSON kind: the record
        // parses and round-trips exactly.
        let values = [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-7),
            json!(u64::MAX),
            json!(1.5),
            json!(""),
            json!("true"),
            json!("text with \"escapes\" \u{e9}"),
            json!([]),
            json!([1, "a", null, {"ARN": "x"}]),
            json!([{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}]),
            json!({}),
            json!({"type": "IAMUser", "unknown": [1]}),
        ];
        let top = [
            "eventVersion",
            "userIdentity",
            "eventTime",
            "eventSource",
            "eventName",
            "awsRegion",
            "sourceIPAddress",
            "userAgent",
            "errorCode",
            "errorMessage",
            "requestParameters",
            "responseElements",
            "additionalEventData",
            "requestID",
            "eventID",
            "readOnly",
            "resources",
            "eventType",
            "apiVersion",
            "recipientAccountId",
            "sharedEventID",
            "vpcEndpointId",
            "vpcEndpointAccountId",
            "serviceEventDetails",
            "managementEvent",
            "eventCategory",
            "insightDetails",
            "addendum",
            "sessionCredentialFromConsole",
            "edgeDeviceDetails",
            "tlsDetails",
            "eventContext",
            "annotation",
            "somethingNew",
        ];
        let identity = [
            "type",
            "principalId",
            "arn",
            "accountId",
            "accessKeyId",
            "userName",
            "sessionContext",
            "invokedBy",
            "identityProvider",
            "onBehalfOf",
            "credentialId",
            "inScopeOf",
            "invokedByDelegate",
            "other",
        ];
        let session = [
            "sessionIssuer",
            "webIdFederationData",
            "attributes",
            "sourceIdentity",
            "ec2RoleDelivery",
            "assumedRoot",
            "signInSessionArn",
            "other",
        ];
        let issuer = [
            "type",
            "principalId",
            "arn",
            "accountId",
            "userName",
            "other",
        ];
        let attributes = ["creationDate", "mfaAuthenticated", "other"];
        let resource = ["ARN", "accountId", "type", "other"];
        let tls = [
            "tlsVersion",
            "cipherSuite",
            "clientProvidedHostHeader",
            "keyExchange",
            "x",
        ];
        let addendum = [
            "reason",
            "updatedFields",
            "originalRequestID",
            "originalEventID",
            "x",
        ];

        let mut count = 0;
        for v in &values {
            for k in top {
                round_trip_value(&json!({ "eventVersion": "1.08", k: v }));
                count += 1;
            }
            for k in identity {
                round_trip_value(&json!({ "userIdentity": { k: v } }));
            }
            for k in session {
                round_trip_value(&json!({ "userIdentity": { "sessionContext": { k: v } } }));
            }
            for k in issuer {
                let sc = json!({ "sessionIssuer": { k: v } });
                round_trip_value(&json!({ "userIdentity": { "sessionContext": sc } }));
            }
            for k in attributes {
                let sc = json!({ "attributes": { k: v } });
                round_trip_value(&json!({ "userIdentity": { "sessionContext": sc } }));
            }
            for k in resource {
                round_trip_value(&json!({ "resources": [{ "ARN": "a" }, { k: v }] }));
            }
            for k in tls {
                round_trip_value(&json!({ "tlsDetails": { k: v } }));
            }
            for k in addendum {
                round_trip_value(&json!({ "addendum": { k: v } }));
            }
        }
        assert_eq!(count, values.len() * top.len());
    }

    #[test]
    fn unexpected_types_are_kept_raw() {
        let r = round_trip(
            r#"{"eventTime":1700000000,"eventName":["A"],"userIdentity":"root",
                "readOnly":1,"resources":{"ARN":"x"},"tlsDetails":[],"recipientAccountId":123456789012}"#,
        );
        assert_eq!(r.event_time, Field::Raw(json!(1_700_000_000)));
        assert_eq!(r.event_time_utc(), None);
        assert_eq!(r.event_name.as_str(), None);
        assert_eq!(r.user_identity, Field::Raw(json!("root")));
        assert_eq!(r.lookup_username(), None);
        assert_eq!(r.access_key_id(), None);
        assert_eq!(r.read_only(), None);
        assert_eq!(r.resources.raw(), Some(&json!({"ARN": "x"})));
        assert!(r.lookup_resources().is_empty());
        assert_eq!(
            r.recipient_account_id,
            Field::Raw(json!(123_456_789_012_u64))
        );

        let r = round_trip(
            r#"{"userIdentity":{"type":"IAMUser","accountId":123,"userName":"u","sessionContext":"s"}}"#,
        );
        let id = r.user_identity.get().unwrap();
        assert_eq!(id.account_id, Field::Raw(json!(123)));
        assert_eq!(id.session_context, Field::Raw(json!("s")));
        assert_eq!(r.lookup_username().as_deref(), Some("u"));
    }

    #[test]
    fn read_only_as_string() {
        assert_eq!(round_trip(r#"{"readOnly":"true"}"#).read_only(), Some(true));
        assert_eq!(
            round_trip(r#"{"readOnly":"false"}"#).read_only(),
            Some(false)
        );
        assert_eq!(round_trip(r#"{"readOnly":true}"#).read_only(), Some(true));
        assert_eq!(round_trip(r#"{"readOnly":"maybe"}"#).read_only(), None);
        assert_eq!(round_trip(r#"{"readOnly":null}"#).read_only(), None);
        assert_eq!(round_trip(r#"{}"#).read_only(), None);
        let r = round_trip(r#"{"managementEvent":"true","sessionCredentialFromConsole":"true"}"#);
        assert_eq!(r.management_event, Field::Typed(Flag::Text("true".into())));
        assert_eq!(r.management_event.as_bool(), Some(true));
        assert_eq!(r.session_credential_from_console.as_bool(), Some(true));
    }

    #[test]
    fn service_event_without_identity_type() {
        let text = r#"{"eventVersion":"1.08","userIdentity":{"accountId":"123837392027","invokedBy":"secretsmanager.amazonaws.com"},
            "eventTime":"2023-07-10T11:42:18Z","eventSource":"secretsmanager.amazonaws.com","eventName":"EndSecretVersionDelete",
            "awsRegion":"us-east-1","sourceIPAddress":"secretsmanager.amazonaws.com","userAgent":"secretsmanager.amazonaws.com",
            "requestParameters":null,"responseElements":null,"eventID":"e","readOnly":false,"eventType":"AwsServiceEvent",
            "managementEvent":true,"recipientAccountId":"123837392027","serviceEventDetails":{"versionId":"v"},"eventCategory":"Management"}"#;
        let r = round_trip(text);
        let id = r.user_identity.get().unwrap();
        assert!(id.identity_type.is_absent());
        assert_eq!(
            r.lookup_username().as_deref(),
            Some("secretsmanager.amazonaws.com")
        );
        assert_eq!(r.access_key_id(), None);
        assert_eq!(r.service_event_details, Some(json!({"versionId": "v"})));
    }

    #[test]
    fn old_version_without_category() {
        let r = round_trip(
            r#"{"eventVersion":"1.05","eventTime":"2017-02-12T21:30:56Z","eventName":"ListBuckets","readOnly":true}"#,
        );
        assert!(r.event_category.is_absent());
        assert_eq!(r.event_version.as_str(), Some("1.05"));
    }

    #[test]
    fn insights_record() {
        let r = round_trip(
            r#"{"eventVersion":"1.07","eventTime":"2019-11-14T00:51:00Z","awsRegion":"us-east-1",
                "eventID":"a","eventType":"AwsCloudTrailInsight","recipientAccountId":"1","sharedEventID":"s",
                "insightDetails":{"state":"Start","eventSource":"ssm.amazonaws.com","eventName":"UpdateInstanceAssociationStatus",
                "insightType":"ApiCallRateInsight","insightContext":{"statistics":{"baseline":{"average":85.4202380952},
                "insight":{"average":664},"insightDuration":5,"baselineDuration":10080}}},"eventCategory":"Insight"}"#,
        );
        assert!(r.user_identity.is_absent() && r.event_name.is_absent());
        assert_eq!(r.lookup_username(), None);
        assert_eq!(r.insight_details.as_ref().unwrap()["state"], json!("Start"));
    }

    #[test]
    fn unknown_members_kept_everywhere() {
        let r = round_trip(
            r#"{"eventName":"X","brandNew":{"deep":[1,{"a":null}]},"another":null,
                "userIdentity":{"type":"IAMUser","idFuture":true,"sessionContext":{"scFuture":"v",
                  "attributes":{"mfaAuthenticated":"false","attrFuture":1},"sessionIssuer":{"type":"Role","isFuture":2}}},
                "resources":[{"ARN":"arn:aws:kms:r:1:key/k","resFuture":"z"}],
                "tlsDetails":{"tlsVersion":"TLSv1.3","tlsFuture":0},"addendum":{"reason":"DELIVERY_DELAY","addFuture":[]}}"#,
        );
        assert_eq!(r.extra.len(), 2);
        assert_eq!(r.extra["another"], Value::Null);
        let id = r.user_identity.get().unwrap();
        assert_eq!(id.extra["idFuture"], json!(true));
        let sc = id.session_context.get().unwrap();
        assert_eq!(sc.extra["scFuture"], json!("v"));
        assert_eq!(sc.attributes.get().unwrap().extra["attrFuture"], json!(1));
        assert_eq!(sc.session_issuer.get().unwrap().extra["isFuture"], json!(2));
        assert_eq!(r.resources.get().unwrap()[0].extra["resFuture"], json!("z"));
        assert_eq!(r.tls_details.get().unwrap().extra["tlsFuture"], json!(0));
        assert_eq!(r.addendum.get().unwrap().extra["addFuture"], json!([]));
        assert_eq!(r.lookup_resources(), vec![(None, "k".to_owned())]);
    }

    #[test]
    fn duplicate_and_escaped_keys_behave_like_value() {
        let r = round_trip(r#"{"eventName":"A","eventName":"B","x":1,"x":2}"#);
        assert_eq!(r.event_name.as_str(), Some("B"));
        let r = round_trip(r#"{"event\u004eame":"Esc","userIdentity":{"user\u004eame":"u"}}"#);
        assert_eq!(r.event_name.as_str(), Some("Esc"));
        assert_eq!(r.user_identity.get().unwrap().user_name.as_str(), Some("u"));
        // A typed member followed by a raw duplicate, and the reverse.
        let r = round_trip(r#"{"eventTime":"2023-07-10T11:42:18Z","eventTime":5}"#);
        assert_eq!(r.event_time, Field::Raw(json!(5)));
        round_trip(r#"{"resources":"a","resources":[{"ARN":"b"}]}"#);
    }

    #[test]
    fn rejects_non_objects_and_bad_json() {
        for text in ["[]", "null", "\"x\"", "1", "{", "{\"a\":1} x", ""] {
            let err = EventRecord::from_json(text).unwrap_err();
            assert!(
                err.to_string()
                    .starts_with("invalid CloudTrail event record"),
                "{text}: {err}"
            );
        }
        assert!(EventRecord::from_value(json!([1])).is_err());
        assert!("{}".parse::<EventRecord>().is_ok());
    }

    #[test]
    fn keeping_builds_only_the_kept_members() {
        let text = r#"{"eventName":"A","requestParameters":{"x":[1,{"y":null}]},"userIdentity":{"type":"Root"},"other":{"z":1},"eventData":{"k":"v"}}"#;
        let r = EventRecord::from_json_keeping(text, |m| {
            matches!(m, "eventName" | "userIdentity" | "eventData")
        })
        .unwrap();
        assert_eq!(r.event_name.as_str(), Some("A"));
        assert!(r.request_parameters.is_none());
        assert_eq!(r.lookup_username().as_deref(), Some("root"));
        assert_eq!(r.extra.len(), 1, "{:?}", r.extra);
        assert_eq!(r.extra["eventData"], json!({"k": "v"}));
        // It fails where from_json fails: not an object, malformed JSON (also in a dropped
        // member), trailing text.
        let deep = format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200));
        for bad in [
            "[1]",
            "5",
            r#"{"other":[1,}"#,
            r#"{"eventName":"A"} x"#,
            r#"{"a":"\q"}"#,
            // Well-formed to a skipping parser, refused by a building one: in a dropped member
            // too.
            r#"{"other":1e400}"#,
            r#"{"other":{"k":"\ud800"}}"#,
            r#"{"other":{"\udc00":1}}"#,
            &deep,
        ] {
            assert!(EventRecord::from_json(bad).is_err(), "{bad}");
            assert!(
                EventRecord::from_json_keeping(bad, |_| false).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn access_key_id_empty_is_none() {
        let r = round_trip(r#"{"userIdentity":{"type":"IAMUser","accessKeyId":""}}"#);
        assert_eq!(r.access_key_id(), None);
        let r = round_trip(r#"{"userIdentity":{"type":"IAMUser","accessKeyId":"AKIAX"}}"#);
        assert_eq!(r.access_key_id(), Some("AKIAX"));
    }

    #[test]
    fn event_time_tolerance() {
        let r = round_trip(r#"{"eventTime":"2023-07-10T11:42:18.250Z"}"#);
        let t = r.event_time_utc().unwrap();
        assert_eq!(super::super::format_event_time(t), "2023-07-10T11:42:18Z");
        assert_eq!(t.timestamp_subsec_millis(), 250);
        assert!(
            round_trip(r#"{"eventTime":"2023-07-10T11:42:18"}"#)
                .event_time_utc()
                .is_some()
        );
        assert!(
            round_trip(r#"{"eventTime":"garbage"}"#)
                .event_time_utc()
                .is_none()
        );
        assert!(
            round_trip(r#"{"eventTime":null}"#)
                .event_time_utc()
                .is_none()
        );
    }

    #[test]
    fn built_records_serialize_only_present_members() {
        let record = EventRecord {
            event_version: "1.11".into(),
            event_name: "StartLogging".into(),
            read_only: Flag::Bool(false).into(),
            response_elements: Some(Value::Null),
            ..EventRecord::default()
        };
        assert_eq!(
            record.to_json(),
            r#"{"eventVersion":"1.11","eventName":"StartLogging","responseElements":null,"readOnly":false}"#
        );
    }

    #[test]
    fn deserializes_inside_a_log_file() {
        #[derive(serde::Deserialize)]
        struct LogFile {
            #[serde(rename = "Records")]
            records: Vec<EventRecord>,
        }
        let text =
            format!(r#"{{"Records":[{EXAMPLE},{{"eventName":"Y","responseElements":null}}]}}"#);
        let file: LogFile = serde_json::from_str(&text).unwrap();
        assert_eq!(file.records.len(), 2);
        assert_eq!(file.records[1].response_elements, Some(Value::Null));
        assert_eq!(file.records[0], EventRecord::from_json(EXAMPLE).unwrap());
    }
}

//! REST-JSON framing of the cloudtrail-data API (`PutAuditEvents`).
//!
//! cloudtrail-data is not JSON 1.1: the operation is named by the path (`POST /PutAuditEvents`,
//! no `X-Amz-Target`), scalar members travel in the query string (`channelArn`, `externalId`)
//! and the body holds the rest (`{"auditEvents": [...]}`). Before the audit layer runs, this
//! layer
//!
//! - resolves the [`Operation`] from method and path (`UnknownOperationException` otherwise);
//! - decodes the query string into [`RequestQuery`];
//! - parses the body, once, into the operation's typed input ([`ParsedBody`]). A body that is
//!   not one JSON object (an empty body counts as `{}`) is answered `SerializationException`
//!   without reaching the operation — as the JSON 1.1 layer does; a well-formed body whose
//!   members have the wrong types is handed on as an error for the operation to answer (and
//!   the audit layer to record), as JSON 1.1 operations do;
//! - puts the members the call's audit event records as `requestParameters` into
//!   [`RequestJson`]: the query members only (`channelArn`, `externalId`), never the events,
//!   which can be a megabyte.
//!
//! cloudtrail-data has one operation, so the typed body is `PutAuditEvents`' own.

use axum::extract::{Query, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::operation::Operation;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ApiError;
use crate::layers::body::RawBody;
use crate::layers::json_protocol::RequestJson;

/// The decoded query string, in order (a name may repeat).
#[derive(Debug, Clone, Default)]
pub struct RequestQuery(pub Vec<(String, String)>);

impl RequestQuery {
    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The body of `PutAuditEvents` (members optional here: the operation answers a missing one).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PutAuditEventsBody {
    /// `auditEvents`.
    #[serde(rename = "auditEvents")]
    pub audit_events: Option<Vec<AuditEventInput>>,
}

/// One `AuditEvent` as sent.
#[derive(Debug, Clone, Deserialize)]
pub struct AuditEventInput {
    /// `id`: the caller's id of the event.
    pub id: Option<String>,
    /// `eventData`: the event, JSON text.
    #[serde(rename = "eventData")]
    pub event_data: Option<String>,
    /// `eventDataChecksum`: base64 of the SHA-256 of `eventData`.
    #[serde(rename = "eventDataChecksum")]
    pub event_data_checksum: Option<String>,
}

/// The typed body, or — when the JSON is well-formed but a member has the wrong type — the
/// message of a `SerializationException` for the operation to answer.
#[derive(Debug, Clone)]
pub struct ParsedBody(pub Result<PutAuditEventsBody, String>);

/// The query members of each operation that its audit event records, in model order.
fn recorded_query_members(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::PutAuditEvents => &["channelArn", "externalId"],
        _ => &[],
    }
}

/// Resolves the operation, decodes the query and checks the body (see the module docs).
pub async fn layer(mut req: Request, next: Next) -> Response {
    let op = match (req.method(), req.uri().path()) {
        (&Method::POST, "/PutAuditEvents") => Operation::PutAuditEvents,
        (method, path) => {
            return ApiError::client(
                "UnknownOperationException",
                format!("cloudtrail-data has no operation at {method} {path}"),
            )
            .into_response();
        }
    };
    let query = match Query::<Vec<(String, String)>>::try_from_uri(req.uri()) {
        Ok(Query(pairs)) => RequestQuery(pairs),
        Err(e) => {
            return ApiError::serialization(format!("The query string could not be read: {e}"))
                .into_response();
        }
    };
    let body = req
        .extensions()
        .get::<RawBody>()
        .map(|b| b.0.clone())
        .unwrap_or_default();
    let parsed = match parse_body(&body) {
        Ok(parsed) => parsed,
        Err(e) => return e.into_response(),
    };
    let mut recorded = Map::new();
    for name in recorded_query_members(op) {
        if let Some(v) = query.get(name) {
            recorded.insert((*name).to_string(), Value::from(v));
        }
    }
    req.extensions_mut().insert(op);
    req.extensions_mut().insert(query);
    req.extensions_mut().insert(parsed);
    req.extensions_mut()
        .insert(RequestJson(Value::Object(recorded)));
    next.run(req).await
}

/// Parses the body: `Err` for a body that is not one JSON object (framing), otherwise the
/// typed body or the type error the operation answers.
pub fn parse_body(body: &[u8]) -> Result<ParsedBody, ApiError> {
    let Some(first) = body.iter().find(|b| !b.is_ascii_whitespace()) else {
        return Ok(ParsedBody(Ok(PutAuditEventsBody::default())));
    };
    if *first != b'{' {
        return Err(ApiError::serialization(
            "Request body must be a JSON object.",
        ));
    }
    match serde_json::from_slice::<PutAuditEventsBody>(body) {
        Ok(b) => Ok(ParsedBody(Ok(b))),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            Ok(ParsedBody(Err(e.to_string())))
        }
        Err(e) => Err(ApiError::serialization(format!(
            "Request body is not valid JSON: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        let ok = |b: &[u8]| parse_body(b).unwrap().0.unwrap();
        assert!(ok(b"").audit_events.is_none());
        assert!(ok(b" {\"other\":1} ").audit_events.is_none());
        let body = ok(br#"{"auditEvents":[{"id":"a","eventData":"{}"}]}"#);
        assert_eq!(body.audit_events.unwrap()[0].id.as_deref(), Some("a"));
        // Not one JSON object: the framing answers.
        for bad in [&b"[1]"[..], b"{\"a\":", b"{} x", b"nope"] {
            assert_eq!(
                parse_body(bad).unwrap_err().code,
                "SerializationException",
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        // Well-formed but mistyped: the operation answers.
        let typed = parse_body(br#"{"auditEvents":[{"id":"a","eventData":{}}]}"#).unwrap();
        assert!(typed.0.unwrap_err().contains("expected a string"));
    }

    #[test]
    fn query_lookup() {
        let q = RequestQuery(vec![
            ("channelArn".into(), "a".into()),
            ("channelArn".into(), "b".into()),
        ]);
        assert_eq!(q.get("channelArn"), Some("a"));
        assert_eq!(q.get("externalId"), None);
    }
}

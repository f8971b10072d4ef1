//! AWS JSON 1.1 framing: `POST /` with `X-Amz-Target: <prefix>.<Operation>` and a JSON body.
//!
//! Resolves the [`Operation`] and parses the body into a JSON object ([`RequestJson`]) before the
//! audit layer runs, so a request that names no operation or sends malformed JSON is answered
//! `UnknownOperationException` / `SerializationException` without reaching an operation.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::operation::{Access, Operation};
use serde_json::Value;

use crate::ApiError;
use crate::layers::body::RawBody;

/// The `X-Amz-Target` prefixes of the CloudTrail control plane: botocore sends the full one,
/// the Smithy-generated SDKs (Rust, Go v2, JS v3) the service shape name only.
pub const TARGET_PREFIXES: [&str; 2] = [
    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101",
    "CloudTrail_20131101",
];

/// The request body as a JSON object (an empty body counts as `{}`).
#[derive(Debug, Clone)]
pub struct RequestJson(pub Value);

/// Resolves the operation from `X-Amz-Target` and parses the body.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let op = match operation(&req) {
        Ok(op) => op,
        Err(e) => return e.into_response(),
    };
    let body = req
        .extensions()
        .get::<RawBody>()
        .map(|b| b.0.clone())
        .unwrap_or_default();
    let json = match parse_body(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(op);
    req.extensions_mut().insert(RequestJson(json));
    next.run(req).await
}

fn operation(req: &Request) -> Result<Operation, ApiError> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::client("UnknownOperationException", "Missing X-Amz-Target header.")
        })?;
    let unknown = || {
        ApiError::client(
            "UnknownOperationException",
            format!("Unknown operation {target}"),
        )
    };
    let name = TARGET_PREFIXES
        .iter()
        .find_map(|p| target.strip_prefix(p)?.strip_prefix('.'))
        .ok_or_else(unknown)?;
    match name.parse::<Operation>() {
        // PutAuditEvents belongs to the cloudtrail-data REST API, not to this target prefix.
        Ok(op) if op.access() != Access::Ingest => Ok(op),
        _ => Err(unknown()),
    }
}

/// Parses a JSON 1.1 body: empty means `{}`; anything but an object is a serialization error.
pub fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::serialization(
            "Request body must be a JSON object.",
        )),
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
        assert_eq!(parse_body(b"").unwrap(), serde_json::json!({}));
        assert_eq!(
            parse_body(b" {\"a\":1} ").unwrap(),
            serde_json::json!({"a": 1})
        );
        assert_eq!(
            parse_body(b"[1]").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            parse_body(b"{\"a\":").unwrap_err().code,
            "SerializationException"
        );
    }
}

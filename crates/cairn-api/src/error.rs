//! The one error type of the API and its one mapping to AWS's wire shape.
//!
//! An [`ApiError`] becomes `HTTP status` + `x-amzn-ErrorType: <code>` + a JSON body
//! `{"__type": "<code>", "message": "<text>"}` — the shape botocore and the Smithy SDKs parse.
//! The error also rides along in the response's extensions so the self-audit layer can record
//! `errorCode`/`errorMessage` without parsing bodies.

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// The `Content-Type` of AWS JSON 1.1 bodies.
pub const AMZ_JSON_1_1: &str = "application/x-amz-json-1.1";

/// An error answered to an API caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The exception name (`__type`), e.g. `TrailNotFoundException`.
    pub code: Cow<'static, str>,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// A 400 client error with an exception name from the model.
    pub fn client(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: Cow::Borrowed(code),
            message: message.into(),
        }
    }

    /// An error with an explicit status.
    pub fn with_status(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: Cow::Borrowed(code),
            message: message.into(),
        }
    }

    /// A server-side failure. The message is generic on purpose: details go to the log only.
    pub fn internal() -> ApiError {
        ApiError::with_status(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalFailure",
            "The request processing has failed because of an unknown error, exception or failure.",
        )
    }

    /// The body of a request could not be read as the operation's input.
    pub fn serialization(message: impl Into<String>) -> ApiError {
        ApiError::client("SerializationException", message)
    }
}

impl ApiError {
    /// A store failure: logged here, answered as a generic `InternalFailure`.
    pub fn from_store(e: cairn_store::StoreError) -> ApiError {
        tracing::error!(error = %e, "store call failed");
        ApiError::internal()
    }
}

/// A validation rule of the core answers its own exception name (one mapping, in the core's
/// `TrailErrorKind::exception_name`).
impl From<cairn_core::trail::ValidationError> for ApiError {
    fn from(e: cairn_core::trail::ValidationError) -> ApiError {
        ApiError::client(e.kind.exception_name(), e.message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "__type": self.code, "message": self.message }).to_string();
        let mut resp = (self.status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
        if let Ok(v) = HeaderValue::from_str(&self.code) {
            headers.insert("x-amzn-ErrorType", v);
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

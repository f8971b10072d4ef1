//! Buffers the request body behind a size limit.
//!
//! SigV4 hashes the whole body and the protocol layer parses it, so it is read once into
//! [`RawBody`] (cheap to clone) and handed on. A body over the limit is refused before it is read
//! when `Content-Length` says so, and otherwise as soon as the limit is crossed.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ApiError;
use crate::state::AppState;

/// The request body, fully read.
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

fn too_large(limit: usize) -> Response {
    ApiError::with_status(
        StatusCode::PAYLOAD_TOO_LARGE,
        "RequestEntityTooLargeException",
        format!("Request body is larger than the limit of {limit} bytes."),
    )
    .into_response()
}

/// Reads the body into [`RawBody`] unless it exceeds `max_body_bytes`.
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.config.max_body_bytes;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large(limit);
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => return too_large(limit),
    };
    let mut req = Request::from_parts(parts, Body::from(bytes.clone()));
    req.extensions_mut().insert(RawBody(bytes));
    next.run(req).await
}

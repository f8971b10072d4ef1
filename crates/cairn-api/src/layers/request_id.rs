//! Request ids: one per request, in a request extension and the `x-amzn-RequestId` header.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The id of the current request; equals the `requestID` of its audit event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Assigns the id, runs the request inside a tracing span that carries it, and echoes it.
pub async fn layer(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = next.run(req).instrument(span).await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-amzn-RequestId", v);
    }
    resp
}

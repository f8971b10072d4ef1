//! Cairn's HTTP edge: AWS wire protocols, SigV4, authorization, self-audit and the operations.
//!
//! - [`router`]: the one axum `Router` for everything Cairn serves on its port.
//! - [`AppState`]: the store, credentials, settings and clock every request can reach.
//! - [`ApiError`]: the one error type, mapped once to AWS's error shape.
//! - [`sigv4`]: pure SigV4 verification.
//!
//! # Routes and the pipeline
//!
//! | route | protocol | SigV4 service |
//! |---|---|---|
//! | `POST /` with `X-Amz-Target` | CloudTrail, AWS JSON 1.1 | `cloudtrail` |
//! | `POST /PutAuditEvents` | cloudtrail-data, REST-JSON | `cloudtrail-data` |
//! | `/console/...` (the `cairn-console` crate, merged by the binary) | HTML | session cookie |
//! | `GET /`; `GET`/`HEAD`/`PUT` on any other path | S3 REST, path-style ([`s3`]) | `s3` |
//!
//! A CloudTrail call passes, outermost first: request id → body limit → SigV4 → JSON 1.1 framing
//! → audit (authorize, run, record, commit) → the operation handler. See [`layers`].
//! [`in_process::call`] runs the same pipeline minus SigV4 for the web console's signed-in users.

pub mod buckets;
pub mod credentials;
mod error;
pub mod in_process;
pub mod layers;
pub mod model_check;
mod ops;
pub mod s3;
pub mod sigv4;
pub mod state;
pub mod throttle;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

pub use error::ApiError;
pub use state::{ApiConfig, AppState, Clock, SystemClock};

/// Every route Cairn serves, with its layers.
pub fn router(state: AppState) -> Router {
    const CLOUDTRAIL: &[&str] = &["cloudtrail"];
    // Layers added later run earlier: read this list bottom-up for the order a request sees.
    let cloudtrail = in_process::pipeline(&state).layer(from_fn_with_state(
        (state.clone(), CLOUDTRAIL),
        layers::authenticate::layer,
    ));

    const CLOUDTRAIL_DATA: &[&str] = &["cloudtrail-data"];
    let cloudtrail_data = Router::new()
        .route("/PutAuditEvents", post(ops::audit_events::put_audit_events))
        .layer(from_fn_with_state(state.clone(), layers::audit::layer))
        .layer(from_fn_with_state(
            state.response_log.clone(),
            layers::response_log::layer,
        ))
        .layer(from_fn(layers::rest_json::layer))
        .layer(from_fn_with_state(
            (state.clone(), CLOUDTRAIL_DATA),
            layers::authenticate::layer,
        ));

    Router::new()
        // S3 first: on `/` its GET joins CloudTrail's POST, whose fallback then stays in place.
        .merge(s3::routes(&state))
        .merge(cloudtrail)
        .merge(cloudtrail_data)
        .fallback(no_such_route)
        .layer(from_fn_with_state(state.clone(), layers::body::layer))
        .layer(from_fn(layers::request_id::layer))
        .with_state(state)
}

async fn no_such_route(req: axum::extract::Request) -> Response {
    ApiError::with_status(
        axum::http::StatusCode::NOT_FOUND,
        "UnknownOperationException",
        format!(
            "Cairn serves no operation at {} {}",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
}

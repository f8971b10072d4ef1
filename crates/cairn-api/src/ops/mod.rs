//! The operations, one module per group. Handlers are plain async functions from a typed input
//! to an [`OpOutput`]; they read the store but never write it — they return the catalog changes
//! they want, and the audit layer commits those with the call's event.

mod trails;

use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use cairn_core::operation::Operation;
use cairn_store::CatalogWrite;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ApiError;
use crate::error::AMZ_JSON_1_1;
use crate::layers::audit::PendingChanges;
use crate::layers::json_protocol::RequestJson;
use crate::state::AppState;

/// What an operation answers: the response body and the catalog writes to commit with it.
#[derive(Debug, Default)]
pub struct OpOutput {
    /// The response body (wire member names).
    pub body: Value,
    /// Catalog changes, committed atomically with the call's audit event.
    pub changes: Vec<CatalogWrite>,
}

impl OpOutput {
    /// A read-only answer.
    pub fn body(body: Value) -> OpOutput {
        OpOutput {
            body,
            changes: Vec::new(),
        }
    }
}

/// Parses an operation's input, answering `SerializationException` for wrong types.
pub(crate) fn input<T: DeserializeOwned>(json: Value) -> Result<T, ApiError> {
    serde_json::from_value(json).map_err(|e| ApiError::serialization(e.to_string()))
}

/// The JSON 1.1 handler: runs the operation named by `X-Amz-Target`.
pub async fn cloudtrail_json(
    State(state): State<AppState>,
    Extension(op): Extension<Operation>,
    Extension(RequestJson(json)): Extension<RequestJson>,
) -> Response {
    match dispatch(&state, op, json).await {
        Ok(out) => {
            let mut resp = out.body.to_string().into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
            resp.extensions_mut().insert(PendingChanges(out.changes));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn dispatch(state: &AppState, op: Operation, json: Value) -> Result<OpOutput, ApiError> {
    match op {
        Operation::DescribeTrails => trails::describe_trails(state, input(json)?).await,
        Operation::ListTrails => trails::list_trails(state, input(json)?).await,
        Operation::GetTrail => trails::get_trail(state, input(json)?).await,
        other => Err(ApiError::client(
            "UnsupportedOperationException",
            format!("Cairn does not implement {other} yet."),
        )),
    }
}

//! The operations, one module per group. Handlers are plain async functions from a typed input
//! to an [`OpOutput`]; they read the store but never write it — they return the catalog changes
//! they want, and the audit layer commits those with the call's event.

pub(crate) mod audit_events;
mod channels;
mod keys;
mod lookup;
mod paging;
mod tags;
mod timestamp;
pub(crate) mod trails;

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
use crate::layers::audit::{PendingChanges, RecordedResources};
use crate::layers::authenticate::Authenticated;
use crate::layers::json_protocol::RequestJson;
use crate::state::AppState;

/// What an operation may know about its call: the server state, the caller and the region the
/// request was made in (its SigV4 scope).
pub(crate) struct Ctx<'a> {
    pub state: &'a AppState,
    pub region: &'a str,
    #[allow(dead_code)] // operations that depend on the caller arrive with event history
    pub principal: &'a cairn_core::principal::Principal,
}

/// What an operation answers: the response body and the catalog writes to commit with it.
#[derive(Debug, Default)]
pub struct OpOutput {
    /// The response body (wire member names).
    pub body: Value,
    /// Catalog changes, committed atomically with the call's audit event.
    pub changes: Vec<CatalogWrite>,
    /// Resources the call acted on, `(type, ARN)`, recorded in its audit event.
    pub resources: Vec<(String, String)>,
    /// Log consumers to start at this call's event (a new trail's delivery).
    pub start_consumers: Vec<String>,
}

impl OpOutput {
    /// A read-only answer.
    pub fn body(body: Value) -> OpOutput {
        OpOutput {
            body,
            ..OpOutput::default()
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
    Extension(auth): Extension<Authenticated>,
    Extension(RequestJson(json)): Extension<RequestJson>,
) -> Response {
    let ctx = Ctx {
        state: &state,
        region: auth.region(),
        principal: auth.principal(),
    };
    match dispatch(&ctx, op, json).await {
        Ok(out) => {
            let mut resp = out.body.to_string().into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(AMZ_JSON_1_1));
            resp.extensions_mut().insert(PendingChanges {
                catalog: out.changes,
                events: Vec::new(),
                start_consumers: out.start_consumers,
            });
            resp.extensions_mut()
                .insert(RecordedResources(out.resources));
            resp
        }
        Err(e) => e.into_response(),
    }
}

async fn dispatch(ctx: &Ctx<'_>, op: Operation, json: Value) -> Result<OpOutput, ApiError> {
    use trails::{logging, manage, read, selectors};
    match op {
        Operation::CreateTrail => manage::create_trail(ctx, input(json)?).await,
        Operation::UpdateTrail => manage::update_trail(ctx, input(json)?).await,
        Operation::DeleteTrail => manage::delete_trail(ctx, input(json)?).await,
        Operation::DescribeTrails => read::describe_trails(ctx, input(json)?).await,
        Operation::GetTrail => read::get_trail(ctx, input(json)?).await,
        Operation::ListTrails => read::list_trails(ctx, input(json)?).await,
        Operation::StartLogging => logging::start_logging(ctx, input(json)?).await,
        Operation::StopLogging => logging::stop_logging(ctx, input(json)?).await,
        Operation::GetTrailStatus => logging::get_trail_status(ctx, input(json)?).await,
        Operation::PutEventSelectors => selectors::put_event_selectors(ctx, input(json)?).await,
        Operation::GetEventSelectors => selectors::get_event_selectors(ctx, input(json)?).await,
        Operation::PutInsightSelectors => selectors::put_insight_selectors(ctx, input(json)?).await,
        Operation::GetInsightSelectors => selectors::get_insight_selectors(ctx, input(json)?).await,
        Operation::AddTags => tags::add_tags(ctx, input(json)?).await,
        Operation::RemoveTags => tags::remove_tags_op(ctx, input(json)?).await,
        Operation::ListTags => tags::list_tags(ctx, input(json)?).await,
        Operation::ListPublicKeys => keys::list_public_keys(ctx, input(json)?).await,
        Operation::LookupEvents => lookup::lookup_events(ctx, input(json)?).await,
        Operation::CreateChannel => channels::create_channel(ctx, input(json)?).await,
        Operation::GetChannel => channels::get_channel(ctx, input(json)?).await,
        Operation::ListChannels => channels::list_channels(ctx, input(json)?).await,
        Operation::UpdateChannel => channels::update_channel(ctx, input(json)?).await,
        Operation::DeleteChannel => channels::delete_channel(ctx, input(json)?).await,
        other => Err(ApiError::client(
            "UnsupportedOperationException",
            format!("Cairn does not implement {other} yet."),
        )),
    }
}

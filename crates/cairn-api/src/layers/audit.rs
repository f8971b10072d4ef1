//! Self-audit: every call that reaches an operation — allowed or denied, successful or not —
//! becomes one CloudTrail management event, committed durably before the caller is answered.
//!
//! The order inside this layer:
//! 1. authorize the principal's role for the operation (a denial is recorded like any failure);
//! 2. for a state-changing call, take the write lock, so the handler decides on current state;
//! 3. run the handler, which answers a body and, in [`PendingChanges`], the catalog writes it
//!    wants — it never writes to the store itself;
//! 4. build the event from request and answer, and commit event + changes in one transaction;
//! 5. answer the caller only if that commit is durable. If it fails, the caller gets
//!    `InternalFailure`, nothing changed, and there is no event (there is nothing to record).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::audit::{ApiCall, CallOutcome, ConsoleSession, api_call_record_from};
use cairn_core::operation::{Access, Operation};
use cairn_core::principal::Principal;
use cairn_store::{CatalogWrite, Commit, NewEvent};
use serde_json::Value;

use crate::ApiError;
use crate::layers::ConnectionInfo;
use crate::layers::authenticate::Authenticated;
use crate::layers::json_protocol::RequestJson;
use crate::layers::request_id::RequestId;
use crate::state::AppState;

/// What a handler wants committed together with its call's audit event: catalog writes and,
/// for ingestion, the events it accepted (appended before the call's own event).
#[derive(Debug, Clone, Default)]
pub struct PendingChanges {
    /// Catalog writes.
    pub catalog: Vec<CatalogWrite>,
    /// Events to append.
    pub events: Vec<NewEvent>,
    /// Log consumers to start at this call's first event.
    pub start_consumers: Vec<String>,
}

/// Resources the call acted on, `(type, ARN)`, for the `resources` of its audit event. Set by
/// handlers as a response extension.
#[derive(Debug, Clone, Default)]
pub struct RecordedResources(pub Vec<(String, String)>);

/// Largest response body the layer buffers to record `responseElements`.
const MAX_RECORDED_RESPONSE: usize = 16 * 1024 * 1024;

/// Authorizes, runs, records and commits one call (see the module docs).
pub async fn layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let facts = match CallFacts::from_request(&req) {
        Some(f) => f,
        // The pipeline is wired wrongly; refuse rather than run an unrecorded call.
        None => {
            tracing::error!("audit layer reached without principal, operation or request id");
            return ApiError::internal().into_response();
        }
    };
    if !facts.operation.allowed_for(facts.principal.role) {
        let denial = access_denied(&facts, &state);
        return finish(
            &state,
            &facts,
            denial.clone().into_response(),
            Outcome::Failed(denial),
            PendingChanges::default(),
            Vec::new(),
        )
        .await;
    }

    let _write_guard = match facts.operation.access() {
        Access::Write => Some(state.write_lock.lock().await),
        Access::Read | Access::Ingest => None,
    };
    let mut resp = next.run(req).await;
    let changes = resp
        .extensions_mut()
        .remove::<PendingChanges>()
        .unwrap_or_default();
    let resources = resp
        .extensions_mut()
        .remove::<RecordedResources>()
        .unwrap_or_default()
        .0;
    let (outcome, resp) = match resp.extensions().get::<ApiError>().cloned() {
        Some(err) => (Outcome::Failed(err), resp),
        None => {
            let (parts, body) = resp.into_parts();
            let bytes = match axum::body::to_bytes(body, MAX_RECORDED_RESPONSE).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::error!(error = %e, "could not buffer a response for the audit record");
                    return ApiError::internal().into_response();
                }
            };
            let json = serde_json::from_slice::<Value>(&bytes).ok();
            (
                Outcome::Succeeded(json),
                Response::from_parts(parts, Body::from(bytes)),
            )
        }
    };
    // A failed call changes nothing, whatever its handler prepared.
    let changes = match outcome {
        Outcome::Succeeded(_) => changes,
        Outcome::Failed(_) => PendingChanges::default(),
    };
    finish(&state, &facts, resp, outcome, changes, resources).await
}

enum Outcome {
    Succeeded(Option<Value>),
    Failed(ApiError),
}

/// What the layer knows about the call before it runs.
struct CallFacts {
    principal: Principal,
    region: String,
    operation: Operation,
    request_id: String,
    request: Value,
    connection: Option<ConnectionInfo>,
    user_agent: Option<String>,
    host: Option<String>,
    console: Option<ConsoleSession>,
}

impl CallFacts {
    fn from_request(req: &Request) -> Option<CallFacts> {
        let ext = req.extensions();
        let authenticated = ext.get::<Authenticated>()?;
        Some(CallFacts {
            principal: authenticated.principal().clone(),
            region: authenticated.region().to_string(),
            operation: *ext.get::<Operation>()?,
            request_id: ext.get::<RequestId>()?.0.clone(),
            request: ext
                .get::<RequestJson>()
                .map(|j| j.0.clone())
                .unwrap_or(Value::Null),
            connection: ext.get::<ConnectionInfo>().cloned(),
            user_agent: header_text(req.headers(), header::USER_AGENT.as_str()),
            host: header_text(req.headers(), header::HOST.as_str()),
            console: ext.get::<ConsoleSession>().cloned(),
        })
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn access_denied(facts: &CallFacts, state: &AppState) -> ApiError {
    let service = facts
        .operation
        .event_source()
        .trim_end_matches(".amazonaws.com");
    ApiError::client(
        "AccessDeniedException",
        format!(
            "User: {} is not authorized to perform: {service}:{} on resource: arn:aws:cloudtrail:{}:{}:* (role {} does not allow it)",
            facts.principal.arn(),
            facts.operation,
            facts.region,
            state.config.account_id,
            facts.principal.role,
        ),
    )
}

/// Records the call and commits it with `changes`; answers `resp` only if that is durable.
async fn finish(
    state: &AppState,
    facts: &CallFacts,
    resp: Response,
    outcome: Outcome,
    changes: PendingChanges,
    resources: Vec<(String, String)>,
) -> Response {
    // Time-ordered ids keep the log's eventID index append-only (v7 is still a plain UUID).
    let event_id = uuid::Uuid::now_v7().to_string();
    let source_ip = facts
        .connection
        .as_ref()
        .map(|c| c.peer.ip().to_string())
        .unwrap_or_else(|| "127.0.0.1".to_string());
    let tls = facts
        .connection
        .as_ref()
        .and_then(|c| c.tls.as_ref())
        .map(|t| {
            let mut t = t.clone();
            t.client_provided_host_header = facts.host.clone();
            t
        });
    let call_outcome = match &outcome {
        Outcome::Succeeded(body) => CallOutcome::Success {
            response: body.as_ref(),
        },
        Outcome::Failed(e) => CallOutcome::Failure {
            code: &e.code,
            message: &e.message,
        },
    };
    let now = state.clock.now();
    let record = api_call_record_from(
        &ApiCall {
            principal: &facts.principal,
            operation: facts.operation,
            event_time: now,
            region: &facts.region,
            source_ip: &source_ip,
            user_agent: facts.user_agent.as_deref(),
            request_parameters: Some(&facts.request),
            outcome: call_outcome,
            request_id: &facts.request_id,
            event_id: &event_id,
            recipient_account_id: &state.config.account_id,
            tls: tls.as_ref(),
            resources: &resources,
        },
        facts.console.as_ref(),
    );
    let event = match NewEvent::from_record_value(&record, now.timestamp_millis()) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "could not index a self-audit record");
            return ApiError::internal().into_response();
        }
    };
    let mut events = changes.events;
    events.push(event);
    let commit = Commit {
        events,
        catalog: changes.catalog,
        start_consumers: changes.start_consumers,
        ..Commit::default()
    };
    match state.store.commit(commit).await {
        Ok(_) => resp,
        Err(e) => {
            tracing::error!(error = %e, operation = %facts.operation, "could not commit a call's audit event; the call is refused");
            ApiError::internal().into_response()
        }
    }
}

//! One CloudTrail operation run in-process for a caller the server has already authenticated
//! (the web console's session), through the **same** pipeline as a signed HTTP request minus
//! SigV4: JSON 1.1 framing → response log → audit (authorize, run, record, commit) → handler.
//!
//! So a console action is the API call: same validation and error messages, same role rules,
//! same write lock, same self-audit record (plus the console's `sessionContext`).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{Request, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::post;
use cairn_core::audit::ConsoleSession;
use cairn_core::operation::Operation;
use cairn_core::principal::Principal;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::layers::ConnectionInfo;
use crate::layers::authenticate::Authenticated;
use crate::layers::body::RawBody;
use crate::layers::request_id::RequestId;
use crate::{ApiError, AppState, layers, ops};

/// One call: who, what, and the browser facts its audit record carries.
#[derive(Debug, Clone)]
pub struct InProcessCall {
    /// The signed-in caller (its role decides what it may call).
    pub principal: Principal,
    /// The region the call is made in.
    pub region: String,
    /// The operation.
    pub operation: Operation,
    /// The request body (wire member names), a JSON object.
    pub body: Value,
    /// The browser's `User-Agent`, recorded as the call's `userAgent`.
    pub user_agent: Option<String>,
    /// The browser's connection, for `sourceIPAddress` and `tlsDetails`.
    pub connection: Option<ConnectionInfo>,
    /// The `Host` the browser sent (for `tlsDetails.clientProvidedHostHeader`).
    pub host: Option<String>,
    /// The console session, when the call comes from the web console.
    pub console: Option<ConsoleSession>,
}

/// The answer of a successful call, and the request id its audit record carries.
#[derive(Debug, Clone)]
pub struct InProcessAnswer {
    /// The response body (wire member names).
    pub body: Value,
    /// The call's `requestID`.
    pub request_id: String,
}

/// The CloudTrail route with its layers after authentication: JSON 1.1 framing, response log,
/// audit, the operation. [`crate::router`] puts SigV4 in front of it; the in-process path calls
/// it directly with an already authenticated principal.
pub(crate) fn pipeline(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", post(ops::cloudtrail_json))
        .layer(from_fn_with_state(state.clone(), layers::audit::layer))
        .layer(from_fn_with_state(
            state.response_log.clone(),
            layers::response_log::layer,
        ))
        .layer(from_fn(layers::json_protocol::layer))
}

/// Runs `call` and answers its body, or the operation's error (exception name and message) —
/// either way after the call's audit event is durable.
pub async fn call(state: &AppState, call: InProcessCall) -> Result<InProcessAnswer, ApiError> {
    let body = Bytes::from(call.body.to_string());
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut req = Request::post("/")
        .header(
            "x-amz-target",
            format!(
                "{}.{}",
                layers::json_protocol::TARGET_PREFIXES[0],
                call.operation
            ),
        )
        .header(header::CONTENT_TYPE, crate::error::AMZ_JSON_1_1);
    if let Some(ua) = &call.user_agent {
        req = req.header(header::USER_AGENT, ua.as_str());
    }
    if let Some(host) = &call.host {
        req = req.header(header::HOST, host.as_str());
    }
    let mut req = req.body(Body::empty()).map_err(|e| {
        tracing::error!(error = %e, "could not build an in-process request");
        ApiError::internal()
    })?;
    let ext = req.extensions_mut();
    ext.insert(RawBody(body));
    ext.insert(RequestId(request_id.clone()));
    ext.insert(Authenticated::trusted(call.principal, call.region));
    if let Some(c) = call.connection {
        ext.insert(c);
    }
    if let Some(s) = call.console {
        ext.insert(s);
    }
    let resp = match pipeline(state).with_state(state.clone()).oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    if let Some(err) = resp.extensions().get::<ApiError>() {
        return Err(err.clone());
    }
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .map_err(|_| ApiError::internal())?;
    if !status.is_success() {
        // Every layer answers errors with the ApiError extension; anything else is a bug.
        tracing::error!(%status, "an in-process call failed without an ApiError");
        return Err(ApiError::internal());
    }
    let body = if bytes.is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(&bytes).map_err(|_| ApiError::internal())?
    };
    Ok(InProcessAnswer { body, request_id })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use cairn_core::principal::{IdentityType, Role};
    use cairn_store::SqliteStore;
    use chrono::Utc;
    use serde_json::json;

    use super::*;
    use crate::ApiConfig;
    use crate::buckets::LocalBuckets;
    use crate::credentials::{CredentialStore, UserKey};

    fn state(dir: &std::path::Path) -> AppState {
        let config = ApiConfig::for_test();
        let admin = UserKey::generate("root", IdentityType::Root, Role::Admin, &config.account_id);
        let credentials =
            Arc::new(CredentialStore::new(&config.account_id, None, vec![admin]).unwrap());
        let store = Arc::new(SqliteStore::open(&dir.join("events.db")).unwrap());
        let keys = Arc::new(
            cairn_integrity::KeyRing::open(&dir.join("keys.json"), &config.regions, Utc::now())
                .unwrap(),
        );
        let buckets = Arc::new(LocalBuckets::new(dir.join("buckets")));
        AppState::new(store, credentials, config, buckets, keys)
    }

    fn call_as(role: Role, operation: Operation, body: Value) -> InProcessCall {
        InProcessCall {
            principal: Principal {
                identity_type: IdentityType::IamUser,
                user_name: "alice".into(),
                principal_id: "AIDAALICE".into(),
                access_key_id: "ASIAALICE".into(),
                account_id: "123456789012".into(),
                role,
            },
            region: "us-east-1".into(),
            operation,
            body,
            user_agent: Some("Mozilla/5.0".into()),
            connection: None,
            host: None,
            console: Some(ConsoleSession {
                creation_date: Utc::now(),
            }),
        }
    }

    #[tokio::test]
    async fn runs_the_api_pipeline_and_records_console_calls() {
        let dir = tempfile::tempdir().unwrap();
        let state = state(dir.path());
        let ok = call(
            &state,
            call_as(Role::Auditor, Operation::ListTrails, json!({})),
        )
        .await
        .unwrap();
        assert_eq!(ok.body, json!({"Trails": []}));
        // The role rules of the API apply: an auditor may not create trails.
        let denied = call(
            &state,
            call_as(
                Role::Auditor,
                Operation::CreateTrail,
                json!({"Name": "t1", "S3BucketName": "b"}),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(denied.code, "AccessDeniedException");
        // Validation is the API's too.
        let invalid = call(
            &state,
            call_as(
                Role::Admin,
                Operation::CreateTrail,
                json!({"Name": "a b", "S3BucketName": "b"}),
            ),
        )
        .await
        .unwrap_err();
        assert_eq!(invalid.code, "InvalidTrailNameException");

        let events = state.store.read_events(0, 100).await.unwrap();
        assert_eq!(events.len(), 3);
        for e in &events {
            let r: Value = serde_json::from_str(&e.record_json).unwrap();
            assert_eq!(r["sessionCredentialFromConsole"], "true");
            assert_eq!(r["userAgent"], "Mozilla/5.0");
            assert_eq!(r["userIdentity"]["accessKeyId"], "ASIAALICE");
        }
        let first: Value = serde_json::from_str(&events[0].record_json).unwrap();
        assert_eq!(first["requestID"], ok.request_id);
    }
}

//! A debugging aid for the test suite: appends every CloudTrail JSON response (operation, status,
//! error type, body) to a JSON-lines file, so the tests can check each one against the botocore
//! model ([`crate::model_check`]). Off unless `CAIRN_DEBUG_RESPONSE_LOG` names a file.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::operation::Operation;

use crate::ApiError;

/// Where responses are logged.
#[derive(Debug, Clone)]
pub struct ResponseLog {
    file: Arc<Mutex<std::fs::File>>,
}

impl ResponseLog {
    /// Appends to `path`.
    pub fn open(path: PathBuf) -> std::io::Result<ResponseLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(ResponseLog {
            file: Arc::new(Mutex::new(file)),
        })
    }
}

/// Logs the response of the request's operation.
pub async fn layer(State(log): State<Option<ResponseLog>>, req: Request, next: Next) -> Response {
    let Some(log) = log else {
        return next.run(req).await;
    };
    let op = req.extensions().get::<Operation>().copied();
    let resp = next.run(req).await;
    let Some(op) = op else { return resp };
    let (parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return ApiError::internal().into_response();
    };
    let line = serde_json::json!({
        "operation": op.name(),
        "status": parts.status.as_u16(),
        "error_type": parts.headers.get("x-amzn-ErrorType").and_then(|v| v.to_str().ok()),
        "body": serde_json::from_slice::<serde_json::Value>(&bytes).unwrap_or(serde_json::Value::Null),
    });
    // One `write` per line (not `writeln!`, which writes in pieces), so a server killed with
    // SIGKILL leaves whole lines behind.
    let line = format!("{line}\n");
    if let Ok(mut f) = log.file.lock() {
        let _ = f.write_all(line.as_bytes());
    }
    Response::from_parts(parts, Body::from(bytes))
}

//! SigV4 authentication: the only place a [`Authenticated`] principal is made.
//!
//! Verification is the pure [`crate::sigv4::verify`]; this layer gathers its inputs (method, URI,
//! headers, the buffered body, the clock, the accepted services and region) and maps a failure to
//! AWS's error. Under `--insecure-no-auth` every request runs as the admin principal, and each
//! such request is logged as a warning.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cairn_core::principal::Principal;

use crate::ApiError;
use crate::layers::body::RawBody;
use crate::sigv4::{self, RequestParts, SecretKey, SecretLookup, VerifyPolicy};
use crate::state::AppState;

/// A caller whose request signature has been verified, and the region the request was signed
/// for. Only this module can create one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    principal: Principal,
    region: String,
}

impl Authenticated {
    /// A principal the server has authenticated by other means — a web-console session — for
    /// [`crate::in_process`]. Crate-private: only this crate's code paths make callers.
    pub(crate) fn trusted(principal: Principal, region: String) -> Authenticated {
        Authenticated { principal, region }
    }

    /// The verified caller.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The region of the request (its SigV4 credential scope).
    pub fn region(&self) -> &str {
        &self.region
    }
}

impl SecretLookup for crate::credentials::CredentialStore {
    fn secret_for(&self, access_key_id: &str) -> Option<SecretKey> {
        self.lookup(access_key_id)
            .map(|(secret, _)| SecretKey::new(secret.expose()))
    }
}

/// Authenticates requests for the given SigV4 service names (e.g. `["cloudtrail"]`).
pub async fn layer(
    State((state, services)): State<(AppState, &'static [&'static str])>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate(&state, services, &req) {
        Ok(authenticated) => {
            req.extensions_mut().insert(authenticated);
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

fn authenticate(
    state: &AppState,
    services: &[&str],
    req: &Request,
) -> Result<Authenticated, ApiError> {
    if !state.config.require_auth {
        tracing::warn!("serving an unauthenticated request as the admin (--insecure-no-auth)");
        let principal = state
            .credentials
            .any_admin()
            .ok_or_else(ApiError::internal)?;
        return Ok(Authenticated {
            principal,
            region: state.config.region.clone(),
        });
    }
    let body = req
        .extensions()
        .get::<RawBody>()
        .map(|b| b.0.as_ref())
        .unwrap_or_default();
    let parts = RequestParts {
        method: req.method(),
        uri: req.uri(),
        headers: req.headers(),
        body,
    };
    let regions: Vec<&str> = state.config.regions.iter().map(String::as_str).collect();
    let policy = VerifyPolicy {
        regions: &regions,
        services,
        max_clock_skew: state.config.max_clock_skew,
        now: state.clock.now(),
        allow_unsigned_payload: false,
    };
    let verified = sigv4::verify(&parts, state.credentials.as_ref(), &policy).map_err(|e| {
        tracing::info!(
            error_code = e.kind().aws_code(),
            "request authentication failed"
        );
        ApiError {
            status: e.kind().http_status(),
            code: e.kind().aws_code().into(),
            message: e.message().to_string(),
        }
    })?;
    // The key was there a moment ago; if it vanished in between, treat it as unknown.
    state
        .credentials
        .lookup(&verified.access_key_id)
        .map(|(_, principal)| Authenticated {
            principal,
            region: verified.region,
        })
        .ok_or_else(|| {
            ApiError::with_status(
                axum::http::StatusCode::FORBIDDEN,
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        })
}

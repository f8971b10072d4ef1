//! Cairn's web console: server-rendered HTML (maud) with a little vanilla JavaScript, served by
//! `cairn serve` on the API's port under `/console/`. No separate process, no Node toolchain,
//! every asset embedded in the binary.
//!
//! - [`Console`]: the console's state (the API's [`AppState`], sessions, the sign-in limiter);
//!   [`routes`] is the router the binary merges into the API router.
//! - Every console action is **the API call**: handlers run CloudTrail operations through
//!   [`cairn_api::in_process::call`] as the signed-in user, so validation, role rules, errors
//!   and the self-audit record are the API's own; the records carry the console's
//!   `sessionContext` and `sessionCredentialFromConsole: "true"`, with the browser's user agent.
//! - Sign-in ([`signin`]) checks argon2 password hashes from the credentials file and records
//!   every attempt as a `ConsoleLogin` event, durably, before answering.
//! - [`session`]: in-memory sessions with idle/absolute expiry and a CSRF token each;
//!   [`limiter`]: sign-in attempts per user name and per client address.
//!
//! The console's routes are explicit paths under `/console`, which axum prefers to the S3 API's
//! `/{bucket}` wildcards: a bucket named `console` is not reachable through the S3 API.

#![deny(missing_docs)]

mod extract;
mod history;
pub mod limiter;
mod pages;
pub mod password;
pub mod session;
pub mod signin;
mod trails;
mod views;

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use cairn_api::AppState;

pub use extract::Ctx;

/// The console's shared state.
#[derive(Clone)]
pub struct Console {
    inner: Arc<Inner>,
}

struct Inner {
    api: AppState,
    sessions: session::Sessions,
    per_user: limiter::RateLimiter,
    per_address: limiter::RateLimiter,
    secure_cookies: bool,
}

impl Console {
    /// A console over `api`; `tls` marks cookies `Secure` (set it when serving HTTPS).
    pub fn new(api: AppState, tls: bool) -> Console {
        Console {
            inner: Arc::new(Inner {
                api,
                sessions: session::Sessions::default(),
                per_user: limiter::RateLimiter::new(limiter::PER_USER, limiter::WINDOW),
                per_address: limiter::RateLimiter::new(limiter::PER_ADDRESS, limiter::WINDOW),
                secure_cookies: tls,
            }),
        }
    }

    /// The API state the console's operations run against.
    pub fn api(&self) -> &AppState {
        &self.inner.api
    }

    fn sessions(&self) -> &session::Sessions {
        &self.inner.sessions
    }

    /// `Set-Cookie` value for `name=value` with the console's attributes; `None` clears it.
    fn cookie(&self, name: &str, value: Option<&str>) -> String {
        cookie_value(name, value, self.inner.secure_cookies)
    }
}

/// A console cookie: only for `/console`, never readable by scripts, never sent cross-site,
/// `Secure` under TLS.
fn cookie_value(name: &str, value: Option<&str>, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    match value {
        Some(v) => format!("{name}={v}; Path=/console; HttpOnly; SameSite=Strict{secure}"),
        None => format!("{name}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    }
}

/// Every console route, for the binary to merge into [`cairn_api::router`]'s router.
pub fn routes(console: Console) -> Router {
    Router::new()
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(pages::dashboard))
        .route("/console/signin", get(signin::form).post(signin::submit))
        .route("/console/signout", post(signin::sign_out))
        .route("/console/events", get(history::list))
        .route("/console/events/download", get(history::download))
        .route("/console/events/{id}", get(history::detail))
        .route("/console/trails", get(trails::list))
        .route(
            "/console/trails/new",
            get(trails::new_form).post(trails::create),
        )
        .route("/console/trails/{name}", get(trails::page))
        .route("/console/trails/{name}/start", post(trails::start))
        .route("/console/trails/{name}/stop", post(trails::stop))
        .route(
            "/console/trails/{name}/edit",
            get(trails::edit_form).post(trails::update),
        )
        .route(
            "/console/trails/{name}/delete",
            get(trails::delete_confirm).post(trails::delete),
        )
        .route(
            "/console/trails/{name}/selectors",
            get(trails::selectors_form).post(trails::put_selectors),
        )
        .route("/console/static/app.css", get(css))
        .route("/console/static/app.js", get(js))
        // Anything else under /console is the console's 404, never the S3 API's.
        .route("/console/{*rest}", get(not_found).post(not_found))
        .layer(from_fn(security_headers))
        .with_state(console)
}

const CSS: &str = include_str!("../static/app.css");
const JS: &str = include_str!("../static/app.js");

async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn not_found() -> Response {
    views::error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is no such page.",
    )
}

/// The same security headers on every console response. The CSP allows only the console's
/// own script and stylesheet (no inline code); pages are never cached (they show audit data).
async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: &'static str, v: &'static str| {
        h.insert(name, HeaderValue::from_static(v));
    };
    set(
        h,
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "same-origin");
    if !h.contains_key(header::CACHE_CONTROL) {
        set(h, "cache-control", "no-store");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_attributes() {
        let plain = cookie_value("cairn_session", Some("abc"), false);
        assert_eq!(
            plain,
            "cairn_session=abc; Path=/console; HttpOnly; SameSite=Strict"
        );
        let tls = cookie_value("cairn_session", Some("abc"), true);
        assert!(tls.ends_with("; Secure"));
        let cleared = cookie_value("cairn_session", None, true);
        assert!(cleared.contains("Max-Age=0") && cleared.contains("HttpOnly"));
    }
}

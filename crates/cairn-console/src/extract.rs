//! Request extractors: [`Ctx`] (a signed-in user and their browser) and [`Posted`] (a form
//! POST that passed the CSRF and origin checks).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cairn_api::ApiError;
use cairn_api::in_process::{self, InProcessCall};
use cairn_api::layers::ConnectionInfo;
use cairn_core::audit::ConsoleSession;
use cairn_core::operation::Operation;
use cairn_core::principal::Principal;
use serde_json::Value;

use crate::session::{self, Session};
use crate::{Console, views};

/// Facts about the browser that console calls record.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `Host`.
    pub host: Option<String>,
    /// The connection (peer address, TLS).
    pub connection: Option<ConnectionInfo>,
}

impl Browser {
    /// From request parts.
    pub fn of(parts: &Parts) -> Browser {
        Browser {
            user_agent: header_text(&parts.headers, header::USER_AGENT.as_str()),
            // HTTP/2 carries the host in the URI's authority instead of a Host header.
            host: header_text(&parts.headers, header::HOST.as_str())
                .or_else(|| parts.uri.authority().map(|a| a.to_string())),
            connection: parts.extensions.get::<ConnectionInfo>().cloned(),
        }
    }

    /// The client's address as the records show it.
    pub fn source_ip(&self) -> String {
        self.connection
            .as_ref()
            .map(|c| c.peer.ip().to_string())
            .unwrap_or_else(|| "127.0.0.1".into())
    }
}

/// The value of header `name` as text.
pub fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A signed-in user's request: the console, the session, the user as a principal (with the
/// session's temporary key) and the browser.
pub struct Ctx {
    /// The console.
    pub console: Console,
    /// The session.
    pub session: Session,
    /// The caller of every operation this request runs.
    pub principal: Principal,
    /// The browser.
    pub browser: Browser,
}

impl Ctx {
    /// Runs `op` with `body` as the signed-in user, through the API's own pipeline.
    pub async fn call(&self, op: Operation, body: Value) -> Result<Value, ApiError> {
        let api = self.console.api();
        in_process::call(
            api,
            InProcessCall {
                principal: self.principal.clone(),
                region: api.config.region.clone(),
                operation: op,
                body,
                user_agent: self.browser.user_agent.clone(),
                connection: self.browser.connection.clone(),
                host: self.browser.host.clone(),
                console: Some(ConsoleSession {
                    creation_date: self.session.created,
                }),
            },
        )
        .await
        .map(|a| a.body)
    }

    /// The page chrome's view of the user.
    pub fn viewer(&self) -> views::Viewer<'_> {
        views::Viewer {
            user: &self.principal.user_name,
            role: self.principal.role,
            csrf: &self.session.csrf,
            account: &self.principal.account_id,
        }
    }
}

impl FromRequestParts<Console> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Ctx, Response> {
        let to_sign_in = || {
            let next = parts
                .uri
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/console/");
            let q = form_urlencoded_pair("next", next);
            Redirect::to(&format!("/console/signin?{q}")).into_response()
        };
        let Some(id) = cookie(&parts.headers, session::COOKIE) else {
            return Err(to_sign_in());
        };
        let Some(session) = console.sessions().get(&id, Instant::now()) else {
            return Err(to_sign_in());
        };
        // The user's current entry decides: a removed user or password is signed out at once,
        // and a role change applies to the next click.
        let Some((mut principal, Some(_))) = console.api().credentials.console_user(&session.user)
        else {
            console.sessions().remove(&session.id);
            return Err(to_sign_in());
        };
        principal.access_key_id = session.access_key_id.clone();
        Ok(Ctx {
            console: console.clone(),
            session,
            principal,
            browser: Browser::of(parts),
        })
    }
}

/// `key=value`, URL-encoded.
pub fn form_urlencoded_pair(key: &str, value: &str) -> String {
    serde_urlencoded::to_string([(key, value)]).unwrap_or_default()
}

/// A form's fields in order (repeated names allowed: checkboxes, multi-selects).
#[derive(Debug, Clone, Default)]
pub struct FormData(pub Vec<(String, String)>);

impl FormData {
    /// Parses an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> Option<FormData> {
        serde_urlencoded::from_bytes(body).ok().map(FormData)
    }

    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .unwrap_or("")
    }

    /// Whether checkbox `name` is on.
    pub fn on(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
}

/// Refuses a cross-site form POST: browsers send `Sec-Fetch-Site` and `Origin` on POSTs; when
/// present they must say same-origin (the CSRF token is checked as well).
pub fn same_origin(headers: &HeaderMap) -> bool {
    if let Some(site) = header_text(headers, "sec-fetch-site")
        && !matches!(site.as_str(), "same-origin" | "none")
    {
        return false;
    }
    if let (Some(origin), Some(host)) = (
        header_text(headers, header::ORIGIN.as_str()),
        header_text(headers, header::HOST.as_str()),
    ) {
        let bare = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .unwrap_or("");
        return bare == host;
    }
    true
}

/// A form POST of a signed-in user that carried the session's CSRF token, from the console's
/// own origin.
pub struct Posted {
    /// The user's request.
    pub ctx: Ctx,
    /// The form fields.
    pub form: FormData,
}

/// Largest form body the console reads.
const MAX_FORM_BYTES: usize = 256 * 1024;

impl FromRequest<Console> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, console: &Console) -> Result<Posted, Response> {
        let (mut parts, body) = req.into_parts();
        let ctx = Ctx::from_request_parts(&mut parts, console).await?;
        if !same_origin(&parts.headers) {
            return Err(forbidden());
        }
        let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .unwrap_or_else(|_| Bytes::new());
        let form = FormData::parse(&bytes).ok_or_else(forbidden)?;
        if !ctx.session.csrf_ok(form.get("csrf")) {
            tracing::info!(user = %ctx.principal.user_name, "console form refused: bad CSRF token");
            return Err(forbidden());
        }
        Ok(Posted { ctx, form })
    }
}

/// The answer to a form that failed the CSRF or origin check.
pub fn forbidden() -> Response {
    views::error_page(
        StatusCode::FORBIDDEN,
        "Request refused",
        "This form was not sent from this console session (it may have expired). Reload the page and try again.",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_and_origins() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; cairn_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, "cairn_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);

        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4590"));
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:4590"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn forms() {
        let f = FormData::parse(b"csrf=x&read=on&name=+t1+&sel=a&sel=b").unwrap();
        assert_eq!(f.get("name"), "t1");
        assert!(f.on("read"));
        assert!(!f.on("write"));
        assert_eq!(f.get("missing"), "");
    }
}

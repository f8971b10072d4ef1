//! Sign-in and sign-out.
//!
//! Every attempt that reaches the password check is recorded as a `ConsoleLogin` event (see
//! [`cairn_core::audit::console_login_record`]) and committed durably before the browser is
//! answered; if that commit fails the user is not signed in. Attempts over the rate limit are
//! refused before any check and are not recorded (they would let anyone fill the log), but are
//! logged.
//!
//! The sign-in form has its own CSRF token: a random value in a `SameSite=Strict` cookie that the
//! form must repeat (a cross-site page can neither read nor send it).

use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use cairn_core::audit::{SignIn, SignInOutcome, console_login_record};
use cairn_store::{Commit, NewEvent};
use maud::{Markup, html};
use serde::Deserialize;

use crate::extract::{Browser, FormData, Posted, cookie, same_origin};
use crate::session::{self, csrf_matches, random_token};
use crate::views::{self, Nav};
use crate::{Console, password};

/// The sign-in form's CSRF cookie.
pub const SIGNIN_COOKIE: &str = "cairn_signin";

/// What AWS answers a failed sign-in with.
const FAILED: &str = "Your authentication information is incorrect. Please try again.";

/// `?next=` of the sign-in page.
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only console paths: never an absolute URL or `//host` (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/console/",
    }
}

fn form_markup(token: &str, next: &str, user: &str, error: Option<&str>) -> Markup {
    html! {
        div.signin {
            h1 { "Sign in to Cairn" }
            @if let Some(e) = error {
                div.alert.error role="alert" tabindex="-1" { (e) }
            }
            form method="post" action="/console/signin" {
                input type="hidden" name="csrf" value=(token);
                input type="hidden" name="next" value=(next);
                div.field {
                    label for="username" { "User name" }
                    input type="text" id="username" name="username" value=(user)
                        autocomplete="username" autocapitalize="none" spellcheck="false" required autofocus;
                }
                div.field {
                    label for="password" { "Password" }
                    input type="password" id="password" name="password"
                        autocomplete="current-password" required;
                }
                button.primary type="submit" { "Sign in" }
            }
            p.hint { "Console users are added with " code { "cairn users add NAME --console-password" } "." }
        }
    }
}

fn signin_page(
    console: &Console,
    headers: &HeaderMap,
    status: StatusCode,
    next: &str,
    user: &str,
    error: Option<&str>,
) -> Response {
    // Keep a well-formed token the browser already has, so two open sign-in tabs both work.
    let token = cookie(headers, SIGNIN_COOKIE)
        .filter(|t| t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()))
        .unwrap_or_else(random_token);
    let mut resp = views::respond(
        status,
        views::page(
            "Sign in",
            Nav::None,
            None,
            form_markup(&token, next, user, error),
        ),
    );
    if let Ok(v) = console.cookie(SIGNIN_COOKIE, Some(&token)).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// `GET /console/signin`.
pub async fn form(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    signin_page(
        &console,
        &headers,
        StatusCode::OK,
        safe_next(q.next.as_deref()),
        "",
        None,
    )
}

/// `POST /console/signin`.
pub async fn submit(State(console): State<Console>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let form = FormData::parse(&bytes).unwrap_or_default();
    let next = safe_next(Some(form.get("next"))).to_string();
    let expected = cookie(&parts.headers, SIGNIN_COOKIE).unwrap_or_default();
    if !same_origin(&parts.headers) || !csrf_matches(&expected, form.get("csrf")) {
        return crate::extract::forbidden();
    }
    let user = form.get("username").to_string();
    let browser = Browser::of(&parts);
    let now = Instant::now();
    let ip = browser.source_ip();
    let limited = console
        .inner
        .per_address
        .attempt(&format!("ip:{ip}"), now)
        .and_then(|_| console.inner.per_user.attempt(&format!("user:{user}"), now));
    if let Err(wait) = limited {
        tracing::warn!(%ip, "console sign-in attempts over the rate limit; refused");
        let msg = format!(
            "Too many sign-in attempts. Try again in {} seconds.",
            wait.as_secs().max(1)
        );
        let mut resp = signin_page(
            &console,
            &parts.headers,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            &user,
            Some(&msg),
        );
        if let Ok(v) = wait.as_secs().max(1).to_string().parse() {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return resp;
    }

    let found = console.api().credentials.console_user(&user);
    let (principal, hash) = match &found {
        Some((p, Some(h))) => (Some(p.clone()), h.phc().to_string()),
        // No user, or one without a console password: same work, same answer.
        _ => (None, password::decoy_hash().to_string()),
    };
    let given = form.get("password").to_string();
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&given, &hash))
        .await
        .unwrap_or(false);
    let outcome = match (&principal, matches) {
        (Some(p), true) => SignInOutcome::Success(p),
        (Some(p), false) => SignInOutcome::WrongPassword(p),
        (None, _) => SignInOutcome::UnknownUser,
    };
    let success = matches!(outcome, SignInOutcome::Success(_));
    if let Err(resp) = record(&console, &browser, outcome).await {
        return resp;
    }
    match (principal, success) {
        (Some(p), true) => {
            let s = console
                .sessions()
                .create(&p, console.api().clock.now(), Instant::now());
            let mut resp = Redirect::to(&next).into_response();
            let h = resp.headers_mut();
            for c in [
                console.cookie(session::COOKIE, Some(&s.id)),
                console.cookie(SIGNIN_COOKIE, None),
            ] {
                if let Ok(v) = c.parse() {
                    h.append(header::SET_COOKIE, v);
                }
            }
            resp
        }
        _ => signin_page(
            &console,
            &parts.headers,
            StatusCode::UNAUTHORIZED,
            &next,
            &user,
            Some(FAILED),
        ),
    }
}

/// Commits the attempt's `ConsoleLogin` record; the error page if that is not durable.
async fn record(
    console: &Console,
    browser: &Browser,
    outcome: SignInOutcome<'_>,
) -> Result<(), Response> {
    let api = console.api();
    let now = api.clock.now();
    let event_id = uuid::Uuid::now_v7().to_string();
    let source_ip = browser.source_ip();
    let login_to = login_url(browser);
    let tls = browser
        .connection
        .as_ref()
        .and_then(|c| c.tls.clone())
        .map(|mut t| {
            t.client_provided_host_header = browser.host.clone();
            t
        });
    let rec = console_login_record(&SignIn {
        outcome,
        event_time: now,
        region: &api.config.region,
        source_ip: &source_ip,
        user_agent: browser.user_agent.as_deref(),
        login_to: &login_to,
        event_id: &event_id,
        recipient_account_id: &api.config.account_id,
        tls: tls.as_ref(),
    });
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "could not record a console sign-in; refusing it");
        views::error_page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Sign-in failed",
            "The sign-in could not be recorded, so it was refused. Try again later.",
        )
    };
    let event =
        NewEvent::from_record_value(&rec, now.timestamp_millis()).map_err(|e| failed(&e))?;
    api.store
        .commit(Commit {
            events: vec![event],
            ..Commit::default()
        })
        .await
        .map(|_| ())
        .map_err(|e| failed(&e))
}

/// The console URL the user signs in to, for `additionalEventData.LoginTo`.
fn login_url(browser: &Browser) -> String {
    let scheme = match browser.connection.as_ref().and_then(|c| c.tls.as_ref()) {
        Some(_) => "https",
        None => "http",
    };
    let host = browser.host.as_deref().unwrap_or("localhost");
    format!("{scheme}://{host}/console/")
}

/// `POST /console/signout`: ends the session and clears its cookie.
pub async fn sign_out(posted: Posted) -> Response {
    let console = &posted.ctx.console;
    console.sessions().remove(&posted.ctx.session.id);
    let mut resp = Redirect::to("/console/signin").into_response();
    if let Ok(v) = console.cookie(session::COOKIE, None).parse() {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_in_the_console() {
        assert_eq!(safe_next(Some("/console/trails")), "/console/trails");
        assert_eq!(safe_next(Some("https://evil.example/")), "/console/");
        assert_eq!(safe_next(Some("//evil.example/console/")), "/console/");
        assert_eq!(safe_next(Some("/console/\\evil")), "/console/");
        assert_eq!(safe_next(None), "/console/");
    }
}

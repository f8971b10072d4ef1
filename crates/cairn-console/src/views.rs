//! The page chrome and small shared pieces. Templates are maud macros: markup is checked at
//! compile time and every interpolated value is HTML-escaped.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use cairn_api::ApiError;
use cairn_core::principal::Role;
use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

/// Who is looking at a page.
pub struct Viewer<'a> {
    /// User name.
    pub user: &'a str,
    /// Role.
    pub role: Role,
    /// The session's CSRF token, for the sign-out form.
    pub csrf: &'a str,
    /// The account id.
    pub account: &'a str,
}

/// Which navigation item is current.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// The dashboard.
    Dashboard,
    /// Event history.
    Events,
    /// Trails.
    Trails,
    /// None (sign-in, errors).
    None,
}

/// A whole page: skip link, header with navigation and sign-out, then `body` in `<main>`.
pub fn page(title: &str, nav: Nav, viewer: Option<&Viewer<'_>>, body: Markup) -> Markup {
    let item = |n: Nav, href: &str, label: &str| {
        html! {
            li { a href=(href) aria-current=[(nav == n).then_some("page")] { (label) } }
        }
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " | Cairn" }
                // No favicon request: it would reach the S3 API's `/{bucket}` route.
                link rel="icon" href="data:,";
                link rel="stylesheet" href="/console/static/app.css";
                script src="/console/static/app.js" defer {}
            }
            body {
                a.skip href="#main" { "Skip to main content" }
                header.top {
                    a.brand href="/console/" { "Cairn" span.brand-sub { "CloudTrail" } }
                    @if let Some(v) = viewer {
                        nav aria-label="Main" {
                            ul {
                                (item(Nav::Dashboard, "/console/", "Dashboard"))
                                (item(Nav::Events, "/console/events", "Event history"))
                                (item(Nav::Trails, "/console/trails", "Trails"))
                            }
                        }
                        div.who {
                            span { (v.user) " (" (v.role) ") @ " (v.account) }
                            form method="post" action="/console/signout" {
                                input type="hidden" name="csrf" value=(v.csrf);
                                button.link type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main #main tabindex="-1" {
                    (body)
                }
            }
        }
    }
}

/// An HTML response.
pub fn respond(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// A page that only says what went wrong.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    respond(
        status,
        page(
            title,
            Nav::None,
            None,
            html! {
                h1 { (title) }
                p { (message) }
                p { a href="/console/" { "Back to the console" } }
            },
        ),
    )
}

/// An operation's error as the API answers it: exception name and message.
pub fn api_error(e: &ApiError) -> Markup {
    html! {
        div.alert.error role="alert" tabindex="-1" {
            strong { (e.code) } ": " (e.message)
        }
    }
}

/// A success notice.
pub fn notice(text: &str) -> Markup {
    html! { div.alert.ok role="status" { (text) } }
}

/// The HTTP status a page showing `e` answers with.
pub fn status_of(e: &ApiError) -> StatusCode {
    e.status
}

/// An epoch-seconds value (LookupEvents, GetTrailStatus) as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn time(v: &Value) -> String {
    v.as_f64()
        .and_then(|s| chrono::DateTime::from_timestamp(s as i64, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "-".into())
}

/// A string member, or `-`.
pub fn text(v: &Value) -> &str {
    v.as_str().filter(|s| !s.is_empty()).unwrap_or("-")
}

/// `Yes`/`No` for a boolean member.
pub fn yes_no(v: &Value) -> &'static str {
    if v.as_bool().unwrap_or(false) {
        "Yes"
    } else {
        "No"
    }
}

/// The hidden CSRF field of a form.
pub fn csrf(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A labelled text input.
pub fn text_input(name: &str, label: &str, value: &str, hint: Option<&str>) -> Markup {
    let hint_id = format!("{name}-hint");
    html! {
        div.field {
            label for=(name) { (label) }
            @if let Some(h) = hint { p.hint id=(hint_id) { (h) } }
            input type="text" id=(name) name=(name) value=(value)
                aria-describedby=[hint.map(|_| hint_id.as_str())];
        }
    }
}

/// A labelled checkbox.
pub fn checkbox(name: &str, label: &str, checked: bool) -> Markup {
    html! {
        div.check {
            input type="checkbox" id=(name) name=(name) value="on" checked[checked];
            label for=(name) { (label) }
        }
    }
}

//! The dashboard: trails with their logging status and last delivery, and the latest events.

use axum::http::StatusCode;
use axum::response::Response;
use cairn_core::operation::Operation;
use maud::html;
use serde_json::{Value, json};

use crate::Ctx;
use crate::history::events_table;
use crate::trails::trail_statuses;
use crate::views::{self, Nav};

/// `GET /console/`.
pub async fn dashboard(ctx: Ctx) -> Response {
    let trails = trail_statuses(&ctx).await;
    let events = ctx
        // Without read-only calls (the console's own page views among them), like the
        // CloudTrail console's default event history filter.
        .call(
            Operation::LookupEvents,
            json!({"MaxResults": 10, "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]}),
        )
        .await;
    let body = html! {
        h1 { "Dashboard" }
        section aria-labelledby="trails-h" {
            div.section-head {
                h2 #trails-h { "Trails" }
                a.button href="/console/trails/new" { "Create trail" }
            }
            @match &trails {
                Err(e) => (views::api_error(e)),
                Ok(list) if list.is_empty() => p { "No trails yet. A trail delivers events to a bucket as log files." },
                Ok(list) => div.table-wrap {
                    table.stack {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Logging" } th scope="col" { "Last delivery" } th scope="col" { "Delivery error" } th scope="col" { "Bucket" } } }
                        tbody {
                            @for (trail, status) in list {
                                tr {
                                    td data-label="Name" { a href={"/console/trails/" (views::text(&trail["Name"]))} { (views::text(&trail["Name"])) } }
                                    td data-label="Logging" { (logging_badge(status)) }
                                    td data-label="Last delivery" { (views::time(&status["LatestDeliveryTime"])) }
                                    td data-label="Delivery error" { (views::text(&status["LatestDeliveryError"])) }
                                    td data-label="Bucket" { (views::text(&trail["S3BucketName"])) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="events-h" {
            div.section-head {
                h2 #events-h { "Latest events" }
                a.button.secondary href="/console/events" { "View full event history" }
            }
            @match &events {
                Err(e) => (views::api_error(e)),
                Ok(page) => {
                    p.muted { "Changes and sign-ins; read-only events are in the event history." }
                    (events_table(page["Events"].as_array().map(Vec::as_slice).unwrap_or_default()))
                },
            }
        }
    };
    views::respond(
        StatusCode::OK,
        views::page("Dashboard", Nav::Dashboard, Some(&ctx.viewer()), body),
    )
}

/// "Logging" or "Not logging" (or unknown when the status could not be read).
pub fn logging_badge(status: &Value) -> maud::Markup {
    html! {
        @match status["IsLogging"].as_bool() {
            Some(true) => span.badge.on { "Logging" },
            Some(false) => span.badge.off { "Not logging" },
            None => span.badge { "Unknown" },
        }
    }
}

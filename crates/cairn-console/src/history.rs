//! Event history: one lookup attribute and a time range, newest first, paged with the API's
//! `NextToken`; a details view with the formatted record; CSV/JSON download of the current
//! filter. Everything is `LookupEvents` as the signed-in user.

use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use cairn_api::ApiError;
use cairn_core::history_csv::{HistoryRow, to_csv};
use cairn_core::operation::Operation;
use chrono::{NaiveDateTime, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::Ctx;
use crate::extract::form_urlencoded_pair;
use crate::views::{self, Nav};

/// The LookupEvents attributes, in the console's order.
const ATTRIBUTES: [(&str, &str); 8] = [
    ("EventName", "Event name"),
    ("Username", "User name"),
    ("EventSource", "Event source"),
    ("ResourceType", "Resource type"),
    ("ResourceName", "Resource name"),
    ("ReadOnly", "Read-only"),
    ("AccessKeyId", "AWS access key"),
    ("EventId", "Event ID"),
];

/// Most events one download collects (bounded work per request).
const DOWNLOAD_MAX_EVENTS: usize = 10_000;
/// Events per page.
const PAGE_SIZE: u64 = 25;

/// The filter in the query string.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    attr: String,
    #[serde(default)]
    value: String,
    /// `YYYY-MM-DDTHH:MM` (a `datetime-local` input), UTC.
    #[serde(default)]
    start: String,
    #[serde(default)]
    end: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    format: String,
}

impl Filter {
    /// The LookupEvents request for this filter (without paging members).
    fn request(&self) -> Result<Map<String, Value>, ApiError> {
        let mut req = Map::new();
        let value = self.value.trim();
        if !value.is_empty() {
            let key = if self.attr.is_empty() {
                "EventName"
            } else {
                self.attr.as_str()
            };
            req.insert(
                "LookupAttributes".into(),
                json!([{"AttributeKey": key, "AttributeValue": value}]),
            );
        }
        for (member, v) in [("StartTime", &self.start), ("EndTime", &self.end)] {
            if let Some(t) = parse_local_time(v)? {
                req.insert(member.into(), json!(t));
            }
        }
        Ok(req)
    }

    /// The query string of this filter (without paging), for links.
    fn query(&self) -> String {
        [
            ("attr", &self.attr),
            ("value", &self.value),
            ("start", &self.start),
            ("end", &self.end),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| form_urlencoded_pair(k, v))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// A `datetime-local` value (UTC) as epoch seconds; empty is none.
fn parse_local_time(v: &str) -> Result<Option<i64>, ApiError> {
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
        .map(|t| Some(Utc.from_utc_datetime(&t).timestamp()))
        .ok_or_else(|| {
            ApiError::client(
                "InvalidTimeRangeException",
                format!("{v:?} is not a time (YYYY-MM-DDTHH:MM, UTC)"),
            )
        })
}

/// `GET /console/events`.
pub async fn list(ctx: Ctx, Query(filter): Query<Filter>) -> Response {
    let result = match filter.request() {
        Ok(mut req) => {
            req.insert("MaxResults".into(), json!(PAGE_SIZE));
            if !filter.token.is_empty() {
                req.insert("NextToken".into(), json!(filter.token));
            }
            ctx.call(Operation::LookupEvents, Value::Object(req)).await
        }
        Err(e) => Err(e),
    };
    let q = filter.query();
    let body = html! {
        h1 { "Event history" }
        (filter_form(&filter))
        @match &result {
            Err(e) => (views::api_error(e)),
            Ok(page) => {
                div.section-head {
                    p.muted { "Newest first. Times are UTC." }
                    div.actions {
                        a.button.secondary href={"/console/events/download?format=csv&" (q)} download { "Download CSV" }
                        a.button.secondary href={"/console/events/download?format=json&" (q)} download { "Download JSON" }
                    }
                }
                (events_table(page["Events"].as_array().map(Vec::as_slice).unwrap_or_default()))
                nav.pager aria-label="Pages" {
                    @if !filter.token.is_empty() {
                        a href={"/console/events?" (q)} { "First page" }
                    }
                    @if let Some(next) = page["NextToken"].as_str() {
                        a rel="next" href={"/console/events?" (q) "&" (form_urlencoded_pair("token", next))} { "Next page" }
                    }
                }
            }
        }
    };
    let status = result
        .as_ref()
        .err()
        .map_or(StatusCode::OK, views::status_of);
    views::respond(
        status,
        views::page("Event history", Nav::Events, Some(&ctx.viewer()), body),
    )
}

fn filter_form(f: &Filter) -> Markup {
    html! {
        form.filters method="get" action="/console/events" role="search" aria-label="Filter events" {
            div.field {
                label for="attr" { "Lookup attribute" }
                select id="attr" name="attr" {
                    @for (key, label) in ATTRIBUTES {
                        option value=(key) selected[f.attr == key] { (label) }
                    }
                }
            }
            div.field {
                label for="value" { "Value" }
                input type="text" id="value" name="value" value=(f.value) placeholder="e.g. CreateTrail";
            }
            div.field {
                label for="start" { "From (UTC)" }
                input type="datetime-local" id="start" name="start" value=(f.start);
            }
            div.field {
                label for="end" { "To (UTC)" }
                input type="datetime-local" id="end" name="end" value=(f.end);
            }
            div.field.submit {
                button.primary type="submit" { "Search" }
                a.button.secondary href="/console/events" { "Clear" }
            }
        }
    }
}

/// The events of a LookupEvents answer as a table (newest first, as answered).
pub fn events_table(events: &[Value]) -> Markup {
    html! {
        @if events.is_empty() {
            p { "No events match." }
        } @else {
            div.table-wrap {
                table.events.stack {
                    thead {
                        tr {
                            th scope="col" { "Event name" }
                            th scope="col" { "Event time" }
                            th scope="col" { "User name" }
                            th scope="col" { "Event source" }
                            th scope="col" { "Resources" }
                        }
                    }
                    tbody {
                        @for e in events {
                            tr {
                                td data-label="Event name" { a href={"/console/events/" (views::text(&e["EventId"]))} { (views::text(&e["EventName"])) }
                                     @if error_code(e).is_some() { " " span.badge.off title="The call failed" { "failed" } } }
                                td data-label="Event time" { (views::time(&e["EventTime"])) }
                                td data-label="User name" { (views::text(&e["Username"])) }
                                td data-label="Event source" { (views::text(&e["EventSource"])) }
                                td data-label="Resources" { (resources(e)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn error_code(e: &Value) -> Option<String> {
    let rec: Value = serde_json::from_str(e["CloudTrailEvent"].as_str()?).ok()?;
    if rec.get("errorCode").is_some() || rec["responseElements"]["ConsoleLogin"] == "Failure" {
        Some(rec["errorCode"].as_str().unwrap_or("Failure").to_string())
    } else {
        None
    }
}

fn resources(e: &Value) -> String {
    e["Resources"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .map(|r| {
                    format!(
                        "{}: {}",
                        r["ResourceType"].as_str().unwrap_or(""),
                        r["ResourceName"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "-".into())
}

/// `GET /console/events/{id}`: one event and its record JSON.
pub async fn detail(ctx: Ctx, Path(id): Path<String>) -> Response {
    let result = ctx
        .call(
            Operation::LookupEvents,
            json!({"LookupAttributes": [{"AttributeKey": "EventId", "AttributeValue": id}]}),
        )
        .await;
    let event = match &result {
        Ok(page) => page["Events"].get(0).cloned(),
        Err(_) => None,
    };
    let body = html! {
        p { a href="/console/events" { "← Event history" } }
        @match (&result, &event) {
            (Err(e), _) => { h1 { "Event" } (views::api_error(e)) },
            (Ok(_), None) => { h1 { "Event not found" } p { "No event in the history has the ID " code { (id) } "." } },
            (Ok(_), Some(e)) => {
                @let record: Value = e["CloudTrailEvent"].as_str().and_then(|s| serde_json::from_str(s).ok()).unwrap_or(Value::Null);
                h1 { (views::text(&e["EventName"])) }
                dl.details {
                    dt { "Event time" } dd { (views::time(&e["EventTime"])) }
                    dt { "User name" } dd { (views::text(&e["Username"])) }
                    dt { "Event source" } dd { (views::text(&e["EventSource"])) }
                    dt { "AWS access key" } dd { (views::text(&e["AccessKeyId"])) }
                    dt { "Source IP address" } dd { (views::text(&record["sourceIPAddress"])) }
                    dt { "Event ID" } dd { code { (views::text(&e["EventId"])) } }
                    dt { "Request ID" } dd { (views::text(&record["requestID"])) }
                    dt { "Read-only" } dd { (views::text(&e["ReadOnly"])) }
                    dt { "Error code" } dd { (views::text(&record["errorCode"])) }
                    dt { "Resources" } dd { (resources(e)) }
                }
                h2 #record-h { "Event record" }
                pre.json tabindex="0" aria-labelledby="record-h" { code { (serde_json::to_string_pretty(&record).unwrap_or_default()) } }
            },
        }
    };
    let status = match (&result, &event) {
        (Err(e), _) => views::status_of(e),
        (Ok(_), None) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    };
    views::respond(
        status,
        views::page("Event", Nav::Events, Some(&ctx.viewer()), body),
    )
}

/// `GET /console/events/download?format=csv|json&<filter>`: every event of the filter (up to
/// [`DOWNLOAD_MAX_EVENTS`]), as the event history's CSV columns or `{"Events": [records]}`.
pub async fn download(ctx: Ctx, Query(filter): Query<Filter>) -> Response {
    let mut events: Vec<Value> = Vec::new();
    let base = match filter.request() {
        Ok(r) => r,
        Err(e) => return views::error_page(e.status, "Download failed", &e.message),
    };
    let mut token: Option<String> = None;
    loop {
        let mut req = base.clone();
        req.insert("MaxResults".into(), json!(50));
        if let Some(t) = &token {
            req.insert("NextToken".into(), json!(t));
        }
        let page = match ctx.call(Operation::LookupEvents, Value::Object(req)).await {
            Ok(p) => p,
            Err(e) => {
                let msg = format!("{}: {}", e.code, e.message);
                return views::error_page(e.status, "Download failed", &msg);
            }
        };
        events.extend(page["Events"].as_array().cloned().unwrap_or_default());
        token = page["NextToken"].as_str().map(str::to_string);
        if token.is_none() || events.len() >= DOWNLOAD_MAX_EVENTS {
            break;
        }
    }
    events.truncate(DOWNLOAD_MAX_EVENTS);
    if filter.format == "json" {
        let records: Vec<Value> = events
            .iter()
            .map(|e| {
                e["CloudTrailEvent"]
                    .as_str()
                    .and_then(|s| serde_json::from_str(s).ok())
                    .unwrap_or(Value::Null)
            })
            .collect();
        let body = serde_json::to_string_pretty(&json!({ "Events": records })).unwrap_or_default();
        attachment(body, "application/json", "event_history.json")
    } else {
        let rows: Vec<HistoryRow> = events.iter().map(history_row).collect();
        attachment(
            to_csv(&rows),
            "text/csv; charset=utf-8",
            "event_history.csv",
        )
    }
}

/// A LookupEvents `Events[]` entry as a CSV row.
fn history_row(e: &Value) -> HistoryRow {
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    HistoryRow {
        id: s(&e["EventId"]),
        time: e["EventTime"]
            .as_f64()
            .and_then(|t| chrono::DateTime::from_timestamp(t as i64, 0))
            .map(cairn_core::record::format_event_time)
            .unwrap_or_default(),
        user: s(&e["Username"]),
        name: s(&e["EventName"]),
        source: s(&e["EventSource"]),
        read_only: s(&e["ReadOnly"]),
        access_key: s(&e["AccessKeyId"]),
        resources: e["Resources"]
            .as_array()
            .map(|rs| {
                rs.iter()
                    .map(|r| format!("{}:{}", s(&r["ResourceType"]), s(&r["ResourceName"])))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default(),
    }
}

fn attachment(body: String, content_type: &'static str, name: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_lookup_requests() {
        let f = Filter {
            attr: "Username".into(),
            value: " alice ".into(),
            start: "2026-11-23T08:00".into(),
            ..Filter::default()
        };
        let req = f.request().unwrap();
        assert_eq!(
            req["LookupAttributes"],
            json!([{"AttributeKey": "Username", "AttributeValue": "alice"}])
        );
        assert_eq!(req["StartTime"], json!(1_795_420_800));
        assert!(req.get("EndTime").is_none());
        assert_eq!(
            f.query(),
            "attr=Username&value=+alice+&start=2026-11-23T08%3A00"
        );
        let bad = Filter {
            end: "yesterday".into(),
            ..Filter::default()
        };
        assert_eq!(bad.request().unwrap_err().code, "InvalidTimeRangeException");
    }

    #[test]
    fn csv_rows_from_lookup_events() {
        let row = history_row(&json!({
            "EventId": "e1", "EventName": "CreateTrail", "EventTime": 1_795_420_800.0,
            "Username": "alice", "EventSource": "cloudtrail.amazonaws.com", "ReadOnly": "false",
            "AccessKeyId": "ASIAX",
            "Resources": [{"ResourceType": "AWS::CloudTrail::Trail", "ResourceName": "t1"}],
        }));
        assert_eq!(
            row.csv_line(),
            "e1,2026-11-23T08:00:00Z,alice,CreateTrail,cloudtrail.amazonaws.com,false,ASIAX,AWS::CloudTrail::Trail:t1"
        );
    }
}

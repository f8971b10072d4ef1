//! Trails: list, the create wizard (the CloudTrail console's two steps, "Choose trail
//! attributes" and "Choose log events", on one page), a trail's page with its status,
//! start/stop logging, edit, delete with confirmation, and event selectors (basic and advanced).
//!
//! Every change is the API operation (`CreateTrail`, `PutEventSelectors`, `StartLogging`, ...)
//! run as the signed-in user, so its validation messages, role rules and audit records are the
//! API's. The one thing the API has no operation for is creating a local bucket; the wizard does
//! that directly (like `cairn buckets create`), after checking the trail name with the API's own
//! rule so a bad name creates nothing.

use axum::extract::{Path, RawQuery};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use cairn_api::ApiError;
use cairn_core::operation::Operation;
use maud::{Markup, html};
use serde_json::{Map, Value, json};

use crate::Ctx;
use crate::extract::{FormData, Posted};
use crate::pages::logging_badge;
use crate::views::{self, Nav, checkbox, csrf, text_input};

/// Every trail (home trails only, as the console lists them) with its status.
pub async fn trail_statuses(ctx: &Ctx) -> Result<Vec<(Value, Value)>, ApiError> {
    let listed = ctx
        .call(
            Operation::DescribeTrails,
            json!({"includeShadowTrails": false}),
        )
        .await?;
    let mut out = Vec::new();
    for t in listed["trailList"].as_array().cloned().unwrap_or_default() {
        let status = ctx
            .call(
                Operation::GetTrailStatus,
                json!({"Name": t["TrailARN"].as_str().unwrap_or_default()}),
            )
            .await
            .unwrap_or(Value::Null);
        out.push((t, status));
    }
    Ok(out)
}

fn trail_href(name: &str, tail: &str) -> String {
    format!("/console/trails/{name}{tail}")
}

/// `GET /console/trails`.
pub async fn list(ctx: Ctx) -> Response {
    let trails = trail_statuses(&ctx).await;
    let body = html! {
        div.section-head {
            h1 { "Trails" }
            a.button href="/console/trails/new" { "Create trail" }
        }
        @match &trails {
            Err(e) => (views::api_error(e)),
            Ok(list) if list.is_empty() => p { "No trails yet." },
            Ok(list) => div.table-wrap {
                table.stack {
                    thead { tr {
                        th scope="col" { "Name" } th scope="col" { "Home region" }
                        th scope="col" { "Multi-region" } th scope="col" { "S3 bucket" }
                        th scope="col" { "Status" }
                    } }
                    tbody {
                        @for (t, status) in list {
                            tr {
                                td data-label="Name" { a href=(trail_href(views::text(&t["Name"]), "")) { (views::text(&t["Name"])) } }
                                td data-label="Home region" { (views::text(&t["HomeRegion"])) }
                                td data-label="Multi-region" { (views::yes_no(&t["IsMultiRegionTrail"])) }
                                td data-label="S3 bucket" { (views::text(&t["S3BucketName"])) }
                                td data-label="Status" { (logging_badge(status)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = trails
        .as_ref()
        .err()
        .map_or(StatusCode::OK, views::status_of);
    views::respond(
        status,
        views::page("Trails", Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// The create form's values (also re-shown after an error).
#[derive(Debug, Clone)]
struct CreateForm {
    name: String,
    multi_region: bool,
    organization: bool,
    storage_new: bool,
    new_bucket: String,
    existing_bucket: String,
    prefix: String,
    kms: String,
    validation: bool,
    sns: String,
    cw_group: String,
    cw_role: String,
    events: EventsForm,
    start_logging: bool,
}

impl CreateForm {
    fn defaults(ctx: &Ctx) -> CreateForm {
        let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
        CreateForm {
            name: String::new(),
            multi_region: true,
            organization: false,
            storage_new: true,
            new_bucket: format!("aws-cloudtrail-logs-{}-{suffix}", ctx.principal.account_id),
            existing_bucket: String::new(),
            prefix: String::new(),
            kms: String::new(),
            validation: true,
            sns: String::new(),
            cw_group: String::new(),
            cw_role: String::new(),
            events: EventsForm::default(),
            start_logging: true,
        }
    }

    fn from_form(f: &FormData) -> CreateForm {
        CreateForm {
            name: f.get("name").into(),
            multi_region: f.on("multi_region"),
            organization: f.on("organization"),
            storage_new: f.get("storage") != "existing",
            new_bucket: f.get("new_bucket").into(),
            existing_bucket: f.get("existing_bucket").into(),
            prefix: f.get("prefix").into(),
            kms: f.get("kms").into(),
            validation: f.on("validation"),
            sns: f.get("sns").into(),
            cw_group: f.get("cw_group").into(),
            cw_role: f.get("cw_role").into(),
            events: EventsForm::from_form(f),
            start_logging: f.on("start_logging"),
        }
    }

    fn bucket(&self) -> &str {
        if self.storage_new {
            &self.new_bucket
        } else {
            &self.existing_bucket
        }
    }

    /// The CreateTrail request.
    fn request(&self) -> Value {
        let mut r = Map::new();
        r.insert("Name".into(), json!(self.name));
        r.insert("S3BucketName".into(), json!(self.bucket()));
        let optional = [
            ("S3KeyPrefix", &self.prefix),
            ("KmsKeyId", &self.kms),
            ("SnsTopicName", &self.sns),
            ("CloudWatchLogsLogGroupArn", &self.cw_group),
            ("CloudWatchLogsRoleArn", &self.cw_role),
        ];
        for (k, v) in optional {
            if !v.is_empty() {
                r.insert(k.into(), json!(v));
            }
        }
        r.insert("IsMultiRegionTrail".into(), json!(self.multi_region));
        r.insert("IsOrganizationTrail".into(), json!(self.organization));
        r.insert("EnableLogFileValidation".into(), json!(self.validation));
        Value::Object(r)
    }
}

/// Local buckets (folders under the data dir's `buckets/`), for the "existing bucket" choice.
fn local_buckets(ctx: &Ctx) -> Option<Vec<String>> {
    let local = ctx.console.api().buckets.local()?;
    let mut names: Vec<String> = std::fs::read_dir(local.root())
        .map(|rd| {
            rd.filter_map(Result::ok)
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    Some(names)
}

fn create_page(ctx: &Ctx, f: &CreateForm, error: Option<&ApiError>) -> Response {
    let buckets = local_buckets(ctx);
    let body = html! {
        p { a href="/console/trails" { "← Trails" } }
        h1 { "Create trail" }
        @if let Some(e) = error { (views::api_error(e)) }
        form.wizard method="post" action="/console/trails/new" {
            (csrf(&ctx.session.csrf))
            fieldset {
                legend { "Step 1: Choose trail attributes" }
                h2 { "General details" }
                (text_input("name", "Trail name", &f.name,
                    Some("3-128 characters. Only letters, numbers, periods, underscores, and dashes are allowed.")))
                (checkbox("multi_region", "Apply trail to all regions Cairn serves (multi-region trail)", f.multi_region))
                (checkbox("organization", "Enable for all accounts in my organization", f.organization))
                h2 { "Storage location" }
                div.radio-group role="radiogroup" aria-label="Storage location" {
                    div.check {
                        input type="radio" id="storage-new" name="storage" value="new" checked[f.storage_new];
                        label for="storage-new" { "Create new bucket" }
                    }
                    div.check {
                        input type="radio" id="storage-existing" name="storage" value="existing" checked[!f.storage_new];
                        label for="storage-existing" { "Use existing bucket" }
                    }
                }
                div data-show-when="storage=new" {
                    (text_input("new_bucket", "New bucket name", &f.new_bucket,
                        Some(if buckets.is_some() { "A local bucket under the data dir is created for the trail." } else { "Cairn delivers to an S3-compatible store: create the bucket there first and choose \"Use existing bucket\"." })))
                }
                div data-show-when="storage=existing" {
                    @match &buckets {
                        Some(names) if !names.is_empty() => div.field {
                            label for="existing_bucket" { "Existing bucket" }
                            select id="existing_bucket" name="existing_bucket" {
                                @for n in names { option value=(n) selected[*n == f.existing_bucket] { (n) } }
                            }
                        },
                        _ => (text_input("existing_bucket", "Existing bucket name", &f.existing_bucket, None)),
                    }
                }
                (text_input("prefix", "Log file prefix - optional", &f.prefix,
                    Some("Logs will be stored under <prefix>/AWSLogs/<account ID>/.")))
                (text_input("kms", "Log file SSE-KMS encryption: AWS KMS key - optional", &f.kms,
                    Some("A KMS key ARN or alias. Cairn keeps the setting; it does not encrypt.")))
                h2 { "Additional settings" }
                (checkbox("validation", "Log file validation enabled", f.validation))
                (text_input("sns", "SNS notification delivery: topic - optional", &f.sns,
                    Some("A topic name or ARN allowed by --sns-topics.")))
                h2 { "CloudWatch Logs - optional" }
                (text_input("cw_group", "Log group ARN", &f.cw_group, None))
                (text_input("cw_role", "IAM role ARN", &f.cw_role, None))
            }
            fieldset {
                legend { "Step 2: Choose log events" }
                (events_fields(&f.events))
            }
            fieldset {
                legend { "Step 3: Review and create" }
                (checkbox("start_logging", "Start logging when the trail is created", f.start_logging))
                div.actions {
                    button.primary type="submit" { "Create trail" }
                    a.button.secondary href="/console/trails" { "Cancel" }
                }
            }
        }
    };
    let status = error.map_or(StatusCode::OK, views::status_of);
    views::respond(
        status,
        views::page("Create trail", Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// `GET /console/trails/new`.
pub async fn new_form(ctx: Ctx) -> Response {
    let f = CreateForm::defaults(&ctx);
    create_page(&ctx, &f, None)
}

/// `POST /console/trails/new`: (bucket) → CreateTrail → PutEventSelectors → StartLogging.
pub async fn create(Posted { ctx, form }: Posted) -> Response {
    let f = CreateForm::from_form(&form);
    let selectors = match f.events.request() {
        Ok(s) => s,
        Err(e) => return create_page(&ctx, &f, Some(&e)),
    };
    if f.storage_new {
        // The API's own rule, so a bad name is refused before a bucket exists for it.
        if let Err(e) = cairn_core::trail::trail_name(&f.name) {
            return create_page(&ctx, &f, Some(&ApiError::from(e)));
        }
        if let Err(e) = create_local_bucket(&ctx, &f.new_bucket) {
            return create_page(&ctx, &f, Some(&e));
        }
    }
    if let Err(e) = ctx.call(Operation::CreateTrail, f.request()).await {
        return create_page(&ctx, &f, Some(&e));
    }
    let mut problems = Vec::new();
    if let Some(mut sel) = selectors {
        sel.insert("TrailName".into(), json!(f.name));
        if let Err(e) = ctx
            .call(Operation::PutEventSelectors, Value::Object(sel))
            .await
        {
            problems.push(e);
        }
    }
    if f.start_logging
        && let Err(e) = ctx
            .call(Operation::StartLogging, json!({"Name": f.name}))
            .await
    {
        problems.push(e);
    }
    if problems.is_empty() {
        Redirect::to(&trail_href(&f.name, "?created=1")).into_response()
    } else {
        trail_page(
            &ctx,
            &f.name,
            problems.first(),
            Some("The trail was created, but:"),
        )
        .await
    }
}

fn create_local_bucket(ctx: &Ctx, name: &str) -> Result<(), ApiError> {
    let Some(local) = ctx.console.api().buckets.local() else {
        return Err(ApiError::client(
            "S3BucketDoesNotExistException",
            "Cairn delivers to an S3-compatible store; create the bucket there and use it as an existing bucket.",
        ));
    };
    cairn_core::trail::bucket_name(name).map_err(ApiError::from)?;
    local.create(name).map_err(|e| {
        tracing::error!(error = %e, bucket = name, "could not create a local bucket");
        ApiError::internal()
    })
}

/// Management and data event choices (basic selectors), or advanced selectors as JSON.
#[derive(Debug, Clone)]
struct EventsForm {
    advanced: bool,
    management: bool,
    read: bool,
    write: bool,
    exclude_kms: bool,
    exclude_rds: bool,
    data_type: String,
    data_values: String,
    advanced_json: String,
}

impl Default for EventsForm {
    fn default() -> EventsForm {
        EventsForm {
            advanced: false,
            management: true,
            read: true,
            write: true,
            exclude_kms: false,
            exclude_rds: false,
            data_type: String::new(),
            data_values: String::new(),
            advanced_json: String::new(),
        }
    }
}

const KMS: &str = "kms.amazonaws.com";
const RDS_DATA: &str = "rdsdata.amazonaws.com";

impl EventsForm {
    fn from_form(f: &FormData) -> EventsForm {
        EventsForm {
            advanced: f.get("selector_mode") == "advanced",
            management: f.on("management"),
            read: f.on("read"),
            write: f.on("write"),
            exclude_kms: f.on("exclude_kms"),
            exclude_rds: f.on("exclude_rds"),
            data_type: f.get("data_type").into(),
            data_values: f.get("data_values").into(),
            advanced_json: f.get("advanced").into(),
        }
    }

    /// From a GetEventSelectors answer.
    fn from_selectors(v: &Value) -> EventsForm {
        let mut f = EventsForm {
            management: false,
            ..EventsForm::default()
        };
        if let Some(adv) = v["AdvancedEventSelectors"]
            .as_array()
            .filter(|a| !a.is_empty())
        {
            f.advanced = true;
            f.advanced_json = serde_json::to_string_pretty(adv).unwrap_or_default();
            return f;
        }
        if let Some(sel) = v["EventSelectors"].get(0) {
            f.management = sel["IncludeManagementEvents"].as_bool().unwrap_or(true);
            let rw = sel["ReadWriteType"].as_str().unwrap_or("All");
            f.read = rw != "WriteOnly";
            f.write = rw != "ReadOnly";
            let excluded: Vec<&str> = sel["ExcludeManagementEventSources"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            f.exclude_kms = excluded.contains(&KMS);
            f.exclude_rds = excluded.contains(&RDS_DATA);
            if let Some(dr) = sel["DataResources"].get(0) {
                f.data_type = dr["Type"].as_str().unwrap_or("").into();
                f.data_values = dr["Values"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
            }
        }
        f.advanced_json = "[\n  {\n    \"Name\": \"Management events\",\n    \"FieldSelectors\": [{\"Field\": \"eventCategory\", \"Equals\": [\"Management\"]}]\n  }\n]".into();
        f
    }

    fn is_default(&self) -> bool {
        !self.advanced
            && self.management
            && self.read
            && self.write
            && !self.exclude_kms
            && !self.exclude_rds
            && self.data_type.is_empty()
    }

    /// The PutEventSelectors request (without `TrailName`); `None` when the trail's default
    /// selectors are what the form asks for.
    fn request(&self) -> Result<Option<Map<String, Value>>, ApiError> {
        if self.is_default() {
            return Ok(None);
        }
        self.put_request().map(Some)
    }

    fn put_request(&self) -> Result<Map<String, Value>, ApiError> {
        let mut r = Map::new();
        if self.advanced {
            let parsed: Value = serde_json::from_str(&self.advanced_json).map_err(|e| {
                ApiError::client(
                    "InvalidEventSelectorsException",
                    format!("The advanced event selectors are not valid JSON: {e}"),
                )
            })?;
            r.insert("AdvancedEventSelectors".into(), parsed);
            return Ok(r);
        }
        let rw = match (self.read, self.write) {
            (true, true) => "All",
            (true, false) => "ReadOnly",
            (false, true) => "WriteOnly",
            (false, false) if !self.management && !self.data_type.is_empty() => "All",
            (false, false) => {
                return Err(ApiError::client(
                    "InvalidEventSelectorsException",
                    "Choose Read, Write or both.",
                ));
            }
        };
        let mut sel = Map::new();
        sel.insert("ReadWriteType".into(), json!(rw));
        sel.insert("IncludeManagementEvents".into(), json!(self.management));
        let excluded: Vec<&str> = [(self.exclude_kms, KMS), (self.exclude_rds, RDS_DATA)]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, s)| *s)
            .collect();
        if !excluded.is_empty() {
            sel.insert("ExcludeManagementEventSources".into(), json!(excluded));
        }
        if !self.data_type.is_empty() {
            let values: Vec<&str> = self
                .data_values
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|v| !v.is_empty())
                .collect();
            sel.insert(
                "DataResources".into(),
                json!([{"Type": self.data_type, "Values": values}]),
            );
        }
        r.insert("EventSelectors".into(), json!([Value::Object(sel)]));
        Ok(r)
    }
}

fn events_fields(f: &EventsForm) -> Markup {
    const DATA_TYPES: [(&str, &str); 4] = [
        ("", "No data events"),
        ("AWS::S3::Object", "S3 objects"),
        ("AWS::Lambda::Function", "Lambda functions"),
        ("AWS::DynamoDB::Table", "DynamoDB tables"),
    ];
    html! {
        div.radio-group role="radiogroup" aria-label="Event selectors" {
            div.check {
                input type="radio" id="mode-basic" name="selector_mode" value="basic" checked[!f.advanced];
                label for="mode-basic" { "Basic event selectors" }
            }
            div.check {
                input type="radio" id="mode-advanced" name="selector_mode" value="advanced" checked[f.advanced];
                label for="mode-advanced" { "Advanced event selectors" }
            }
        }
        div data-show-when="selector_mode=basic" {
            h2 { "Management events" }
            (checkbox("management", "Management events", f.management))
            p.hint { "API activity" }
            div.inline {
                (checkbox("read", "Read", f.read))
                (checkbox("write", "Write", f.write))
            }
            (checkbox("exclude_kms", "Exclude AWS KMS events", f.exclude_kms))
            (checkbox("exclude_rds", "Exclude Amazon RDS Data API events", f.exclude_rds))
            h2 { "Data events" }
            div.field {
                label for="data_type" { "Data event type" }
                select id="data_type" name="data_type" {
                    @for (v, label) in DATA_TYPES { option value=(v) selected[f.data_type == v] { (label) } }
                }
            }
            div.field {
                label for="data_values" { "Resource ARNs (one per line; e.g. arn:aws:s3 for all S3 buckets)" }
                textarea id="data_values" name="data_values" rows="3" { (f.data_values) }
            }
        }
        div data-show-when="selector_mode=advanced" {
            div.field {
                label for="advanced" { "Advanced event selectors (JSON, as in PutEventSelectors)" }
                textarea.code id="advanced" name="advanced" rows="10" spellcheck="false" { (f.advanced_json) }
            }
        }
    }
}

async fn trail_page(
    ctx: &Ctx,
    name: &str,
    error: Option<&ApiError>,
    lead: Option<&str>,
) -> Response {
    trail_page_with(ctx, name, error, lead, None).await
}

async fn trail_page_with(
    ctx: &Ctx,
    name: &str,
    error: Option<&ApiError>,
    lead: Option<&str>,
    notice: Option<&str>,
) -> Response {
    let trail = ctx.call(Operation::GetTrail, json!({"Name": name})).await;
    let t = match &trail {
        Ok(v) => v["Trail"].clone(),
        Err(e) => {
            // The action's own error (e.g. StartLogging's) comes first.
            let e = error.unwrap_or(e);
            let body = html! {
                p { a href="/console/trails" { "← Trails" } }
                h1 { (name) }
                (views::api_error(e))
            };
            return views::respond(
                views::status_of(e),
                views::page(name, Nav::Trails, Some(&ctx.viewer()), body),
            );
        }
    };
    let status = ctx
        .call(Operation::GetTrailStatus, json!({"Name": name}))
        .await;
    let selectors = ctx
        .call(Operation::GetEventSelectors, json!({"TrailName": name}))
        .await;
    let st = status.as_ref().cloned().unwrap_or(Value::Null);
    let logging = st["IsLogging"].as_bool().unwrap_or(false);
    let body = html! {
        p { a href="/console/trails" { "← Trails" } }
        div.section-head {
            h1 { (name) " " (logging_badge(&st)) }
            div.actions {
                form method="post" action=(trail_href(name, if logging { "/stop" } else { "/start" })) {
                    (csrf(&ctx.session.csrf))
                    @if logging {
                        button.secondary type="submit" { "Stop logging" }
                    } @else {
                        button.primary type="submit" { "Start logging" }
                    }
                }
                a.button.secondary href=(trail_href(name, "/edit")) { "Edit" }
                a.button.danger href=(trail_href(name, "/delete")) { "Delete" }
            }
        }
        @if let Some(n) = notice { (views::notice(n)) }
        @if let Some(l) = lead { p { strong { (l) } } }
        @if let Some(e) = error { (views::api_error(e)) }
        section aria-labelledby="status-h" {
            h2 #status-h { "Status" }
            @match &status {
                Err(e) => (views::api_error(e)),
                Ok(s) => dl.details {
                    dt { "Logging" } dd { @if logging { "On" } @else { "Off" } }
                    dt { "Started logging" } dd { (views::time(&s["StartLoggingTime"])) }
                    dt { "Stopped logging" } dd { (views::time(&s["StopLoggingTime"])) }
                    dt { "Last log file delivered" } dd { (views::time(&s["LatestDeliveryTime"])) }
                    dt { "Last delivery error" } dd { (views::text(&s["LatestDeliveryError"])) }
                    dt { "Last digest file delivered" } dd { (views::time(&s["LatestDigestDeliveryTime"])) }
                    dt { "Last digest delivery error" } dd { (views::text(&s["LatestDigestDeliveryError"])) }
                    dt { "Last SNS notification" } dd { (views::time(&s["LatestNotificationTime"])) }
                }
            }
        }
        section aria-labelledby="general-h" {
            h2 #general-h { "General details" }
            dl.details {
                dt { "Trail ARN" } dd { code { (views::text(&t["TrailARN"])) } }
                dt { "Home region" } dd { (views::text(&t["HomeRegion"])) }
                dt { "Multi-region trail" } dd { (views::yes_no(&t["IsMultiRegionTrail"])) }
                dt { "Organization trail" } dd { (views::yes_no(&t["IsOrganizationTrail"])) }
                dt { "S3 bucket" } dd { (views::text(&t["S3BucketName"])) }
                dt { "Log file prefix" } dd { (views::text(&t["S3KeyPrefix"])) }
                dt { "Log file validation" } dd { @if t["LogFileValidationEnabled"].as_bool().unwrap_or(false) { "Enabled" } @else { "Disabled" } }
                dt { "SSE-KMS key" } dd { (views::text(&t["KmsKeyId"])) }
                dt { "SNS topic" } dd { (views::text(&t["SnsTopicARN"])) }
                dt { "CloudWatch Logs log group" } dd { (views::text(&t["CloudWatchLogsLogGroupArn"])) }
                dt { "CloudWatch Logs role" } dd { (views::text(&t["CloudWatchLogsRoleArn"])) }
            }
        }
        section aria-labelledby="selectors-h" {
            div.section-head {
                h2 #selectors-h { "Event selectors" }
                a.button.secondary href=(trail_href(name, "/selectors")) { "Edit event selectors" }
            }
            @match &selectors {
                Err(e) => (views::api_error(e)),
                Ok(s) => {
                    @let shown = if s["AdvancedEventSelectors"].as_array().is_some_and(|a| !a.is_empty()) {
                        json!({"AdvancedEventSelectors": s["AdvancedEventSelectors"]})
                    } else {
                        json!({"EventSelectors": s["EventSelectors"]})
                    };
                    pre.json tabindex="0" aria-label="Event selectors" { code { (serde_json::to_string_pretty(&shown).unwrap_or_default()) } }
                },
            }
        }
    };
    let code = error.map_or(StatusCode::OK, views::status_of);
    views::respond(
        code,
        views::page(name, Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// `GET /console/trails/{name}`.
pub async fn page(ctx: Ctx, Path(name): Path<String>, RawQuery(q): RawQuery) -> Response {
    let created = q.as_deref() == Some("created=1");
    let notice = created.then_some("Trail created.");
    trail_page_with(&ctx, &name, None, None, notice).await
}

async fn logging_action(posted: Posted, name: String, op: Operation) -> Response {
    let ctx = posted.ctx;
    match ctx.call(op, json!({"Name": name})).await {
        Ok(_) => Redirect::to(&trail_href(&name, "")).into_response(),
        Err(e) => trail_page(&ctx, &name, Some(&e), None).await,
    }
}

/// `POST /console/trails/{name}/start`.
pub async fn start(Path(name): Path<String>, posted: Posted) -> Response {
    logging_action(posted, name, Operation::StartLogging).await
}

/// `POST /console/trails/{name}/stop`.
pub async fn stop(Path(name): Path<String>, posted: Posted) -> Response {
    logging_action(posted, name, Operation::StopLogging).await
}

/// `GET /console/trails/{name}/delete`: the confirmation.
pub async fn delete_confirm(ctx: Ctx, Path(name): Path<String>) -> Response {
    delete_page(&ctx, &name, None)
}

fn delete_page(ctx: &Ctx, name: &str, error: Option<&ApiError>) -> Response {
    let body = html! {
        p { a href=(trail_href(name, "")) { "← " (name) } }
        h1 { "Delete trail " (name) "?" }
        @if let Some(e) = error { (views::api_error(e)) }
        p { "Deleting a trail stops its delivery. Log files already delivered stay in the bucket. This cannot be undone." }
        form method="post" action=(trail_href(name, "/delete")) {
            (csrf(&ctx.session.csrf))
            (text_input("confirm", "To confirm, type the trail name", "", None))
            div.actions {
                button.danger type="submit" { "Delete" }
                a.button.secondary href=(trail_href(name, "")) { "Cancel" }
            }
        }
    };
    let code = error.map_or(StatusCode::OK, views::status_of);
    views::respond(
        code,
        views::page("Delete trail", Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// `POST /console/trails/{name}/delete`.
pub async fn delete(Path(name): Path<String>, Posted { ctx, form }: Posted) -> Response {
    if form.get("confirm") != name {
        let e = ApiError::client(
            "ValidationException",
            "Type the trail's name to confirm the deletion.",
        );
        return delete_page(&ctx, &name, Some(&e));
    }
    match ctx
        .call(Operation::DeleteTrail, json!({"Name": name}))
        .await
    {
        Ok(_) => Redirect::to("/console/trails").into_response(),
        Err(e) => delete_page(&ctx, &name, Some(&e)),
    }
}

fn edit_page(ctx: &Ctx, name: &str, t: &Value, error: Option<&ApiError>) -> Response {
    let s = |k: &str| t[k].as_str().unwrap_or("").to_string();
    let body = html! {
        p { a href=(trail_href(name, "")) { "← " (name) } }
        h1 { "Edit trail " (name) }
        @if let Some(e) = error { (views::api_error(e)) }
        form method="post" action=(trail_href(name, "/edit")) {
            (csrf(&ctx.session.csrf))
            (checkbox("multi_region", "Multi-region trail", t["IsMultiRegionTrail"].as_bool().unwrap_or(false)))
            (text_input("bucket", "S3 bucket", &s("S3BucketName"), None))
            (text_input("prefix", "Log file prefix", &s("S3KeyPrefix"), Some("Empty removes the prefix.")))
            (checkbox("validation", "Log file validation enabled", t["LogFileValidationEnabled"].as_bool().unwrap_or(false)))
            (text_input("kms", "SSE-KMS key", &s("KmsKeyId"), Some("Empty removes the key.")))
            (text_input("sns", "SNS topic", &s("SnsTopicARN"), Some("Empty turns notifications off.")))
            (text_input("cw_group", "CloudWatch Logs log group ARN", &s("CloudWatchLogsLogGroupArn"), None))
            (text_input("cw_role", "CloudWatch Logs role ARN", &s("CloudWatchLogsRoleArn"), None))
            div.actions {
                button.primary type="submit" { "Save changes" }
                a.button.secondary href=(trail_href(name, "")) { "Cancel" }
            }
        }
    };
    let code = error.map_or(StatusCode::OK, views::status_of);
    views::respond(
        code,
        views::page("Edit trail", Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// `GET /console/trails/{name}/edit`.
pub async fn edit_form(ctx: Ctx, Path(name): Path<String>) -> Response {
    match ctx.call(Operation::GetTrail, json!({"Name": name})).await {
        Ok(v) => edit_page(&ctx, &name, &v["Trail"], None),
        Err(e) => trail_page(&ctx, &name, Some(&e), None).await,
    }
}

/// `POST /console/trails/{name}/edit`: UpdateTrail.
pub async fn update(Path(name): Path<String>, Posted { ctx, form }: Posted) -> Response {
    let mut req = Map::new();
    req.insert("Name".into(), json!(name));
    req.insert("S3BucketName".into(), json!(form.get("bucket")));
    // Empty strings are how UpdateTrail removes these settings.
    for (member, field) in [
        ("S3KeyPrefix", "prefix"),
        ("KmsKeyId", "kms"),
        ("SnsTopicName", "sns"),
        ("CloudWatchLogsLogGroupArn", "cw_group"),
        ("CloudWatchLogsRoleArn", "cw_role"),
    ] {
        req.insert(member.into(), json!(form.get(field)));
    }
    req.insert("IsMultiRegionTrail".into(), json!(form.on("multi_region")));
    req.insert(
        "EnableLogFileValidation".into(),
        json!(form.on("validation")),
    );
    match ctx.call(Operation::UpdateTrail, Value::Object(req)).await {
        Ok(_) => Redirect::to(&trail_href(&name, "")).into_response(),
        Err(e) => {
            let shown = json!({
                "IsMultiRegionTrail": form.on("multi_region"),
                "S3BucketName": form.get("bucket"),
                "S3KeyPrefix": form.get("prefix"),
                "LogFileValidationEnabled": form.on("validation"),
                "KmsKeyId": form.get("kms"),
                "SnsTopicARN": form.get("sns"),
                "CloudWatchLogsLogGroupArn": form.get("cw_group"),
                "CloudWatchLogsRoleArn": form.get("cw_role"),
            });
            edit_page(&ctx, &name, &shown, Some(&e))
        }
    }
}

fn selectors_page(ctx: &Ctx, name: &str, f: &EventsForm, error: Option<&ApiError>) -> Response {
    let body = html! {
        p { a href=(trail_href(name, "")) { "← " (name) } }
        h1 { "Event selectors of " (name) }
        @if let Some(e) = error { (views::api_error(e)) }
        form method="post" action=(trail_href(name, "/selectors")) {
            (csrf(&ctx.session.csrf))
            (events_fields(f))
            div.actions {
                button.primary type="submit" { "Save event selectors" }
                a.button.secondary href=(trail_href(name, "")) { "Cancel" }
            }
        }
    };
    let code = error.map_or(StatusCode::OK, views::status_of);
    views::respond(
        code,
        views::page("Event selectors", Nav::Trails, Some(&ctx.viewer()), body),
    )
}

/// `GET /console/trails/{name}/selectors`.
pub async fn selectors_form(ctx: Ctx, Path(name): Path<String>) -> Response {
    match ctx
        .call(Operation::GetEventSelectors, json!({"TrailName": name}))
        .await
    {
        Ok(v) => selectors_page(&ctx, &name, &EventsForm::from_selectors(&v), None),
        Err(e) => trail_page(&ctx, &name, Some(&e), None).await,
    }
}

/// `POST /console/trails/{name}/selectors`: PutEventSelectors.
pub async fn put_selectors(Path(name): Path<String>, Posted { ctx, form }: Posted) -> Response {
    let f = EventsForm::from_form(&form);
    let mut req = match f.put_request() {
        Ok(r) => r,
        Err(e) => return selectors_page(&ctx, &name, &f, Some(&e)),
    };
    req.insert("TrailName".into(), json!(name));
    match ctx
        .call(Operation::PutEventSelectors, Value::Object(req))
        .await
    {
        Ok(_) => Redirect::to(&trail_href(&name, "")).into_response(),
        Err(e) => selectors_page(&ctx, &name, &f, Some(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_selectors_from_the_form() {
        let f = EventsForm::from_form(
            &FormData::parse(b"selector_mode=basic&management=on&write=on&exclude_kms=on&data_type=AWS%3A%3AS3%3A%3AObject&data_values=arn%3Aaws%3As3").unwrap(),
        );
        let r = f.request().unwrap().unwrap();
        assert_eq!(
            r["EventSelectors"],
            json!([{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": true,
                    "ExcludeManagementEventSources": ["kms.amazonaws.com"],
                    "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}])
        );
        let default = EventsForm::from_form(
            &FormData::parse(b"selector_mode=basic&management=on&read=on&write=on").unwrap(),
        );
        assert!(default.request().unwrap().is_none());
        let adv = EventsForm::from_form(
            &FormData::parse(b"selector_mode=advanced&advanced=%5B").unwrap(),
        );
        assert_eq!(
            adv.request().unwrap_err().code,
            "InvalidEventSelectorsException"
        );
    }
}

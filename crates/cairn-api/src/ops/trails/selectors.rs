//! `PutEventSelectors`, `GetEventSelectors`, `PutInsightSelectors`, `GetInsightSelectors`.

use cairn_core::trail::{
    AdvancedEventSelector, EventSelector, InsightSelector, ReadWriteType,
    validate_advanced_event_selectors, validate_event_selectors, validate_insight_selectors,
};
use cairn_core::trail_config::TrailConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{put, resolve, resolve_home, trail_resource};
use crate::ApiError;
use crate::ops::{Ctx, OpOutput};

#[derive(Debug, Deserialize)]
pub(crate) struct PutEventSelectorsInput {
    #[serde(rename = "TrailName")]
    trail_name: String,
    #[serde(rename = "EventSelectors")]
    event_selectors: Option<Vec<EventSelector>>,
    #[serde(rename = "AdvancedEventSelectors")]
    advanced_event_selectors: Option<Vec<AdvancedEventSelector>>,
}

/// Basic **or** advanced selectors, never both; applying one kind replaces the other.
pub(crate) async fn put_event_selectors(
    ctx: &Ctx<'_>,
    input: PutEventSelectorsInput,
) -> Result<OpOutput, ApiError> {
    let mut trail = resolve_home(ctx, &input.trail_name).await?;
    match (input.event_selectors, input.advanced_event_selectors) {
        (Some(_), Some(_)) => {
            return Err(ApiError::client(
                "InvalidEventSelectorsException",
                "Specify either EventSelectors or AdvancedEventSelectors, not both.",
            ));
        }
        (None, None) => {
            return Err(ApiError::client(
                "InvalidEventSelectorsException",
                "Specify EventSelectors or AdvancedEventSelectors.",
            ));
        }
        (Some(basic), None) => {
            validate_event_selectors(&basic)?;
            trail.event_selectors = Some(basic);
            trail.advanced_event_selectors = None;
        }
        (None, Some(advanced)) => {
            validate_advanced_event_selectors(&advanced)?;
            trail.advanced_event_selectors = Some(advanced);
            trail.event_selectors = None;
        }
    }
    Ok(OpOutput {
        body: selectors_shape(&trail),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetEventSelectorsInput {
    #[serde(rename = "TrailName")]
    trail_name: String,
}

pub(crate) async fn get_event_selectors(
    ctx: &Ctx<'_>,
    input: GetEventSelectorsInput,
) -> Result<OpOutput, ApiError> {
    let trail = resolve(ctx, &input.trail_name).await?;
    Ok(OpOutput::body(selectors_shape(&trail)))
}

/// `TrailARN` plus whichever kind of selectors is in force (the default basic selector when
/// none were ever set).
fn selectors_shape(trail: &TrailConfig) -> Value {
    let mut body = json!({ "TrailARN": trail.arn() });
    match (
        &trail.advanced_event_selectors,
        trail.effective_event_selectors(),
    ) {
        (Some(advanced), _) => body["AdvancedEventSelectors"] = json!(advanced),
        (None, Some(basic)) => body["EventSelectors"] = json!(basic),
        (None, None) => {}
    }
    body
}

#[derive(Debug, Deserialize)]
pub(crate) struct PutInsightSelectorsInput {
    #[serde(rename = "TrailName")]
    trail_name: Option<String>,
    #[serde(rename = "InsightSelectors")]
    insight_selectors: Vec<InsightSelector>,
    #[serde(rename = "EventDataStore")]
    event_data_store: Option<String>,
    #[serde(rename = "InsightsDestination")]
    insights_destination: Option<String>,
}

pub(crate) async fn put_insight_selectors(
    ctx: &Ctx<'_>,
    input: PutInsightSelectorsInput,
) -> Result<OpOutput, ApiError> {
    let name = trail_or_data_store(
        input.trail_name.as_deref(),
        input.event_data_store.as_deref(),
        input.insights_destination.as_deref(),
    )?;
    let mut trail = resolve_home(ctx, name).await?;
    validate_insight_selectors(&input.insight_selectors)?;
    for selector in &input.insight_selectors {
        check_insight_prerequisites(&trail, selector)?;
    }
    trail.insight_selectors = Some(input.insight_selectors);
    Ok(OpOutput {
        body: insight_shape(&trail),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetInsightSelectorsInput {
    #[serde(rename = "TrailName")]
    trail_name: Option<String>,
    #[serde(rename = "EventDataStore")]
    event_data_store: Option<String>,
}

pub(crate) async fn get_insight_selectors(
    ctx: &Ctx<'_>,
    input: GetInsightSelectorsInput,
) -> Result<OpOutput, ApiError> {
    let name = trail_or_data_store(
        input.trail_name.as_deref(),
        input.event_data_store.as_deref(),
        None,
    )?;
    let trail = resolve(ctx, name).await?;
    if !trail.has_insight_selectors() {
        return Err(ApiError::client(
            "InsightNotEnabledException",
            format!(
                "Trail {} does not have Insights enabled. Edit the trail settings to enable Insights, and then try the operation again.",
                trail.arn()
            ),
        ));
    }
    Ok(OpOutput::body(insight_shape(&trail)))
}

fn insight_shape(trail: &TrailConfig) -> Value {
    json!({ "TrailARN": trail.arn(), "InsightSelectors": trail.insight_selectors.clone().unwrap_or_default() })
}

/// Insights run on trails only here: Cairn has no event data stores.
fn trail_or_data_store<'a>(
    trail: Option<&'a str>,
    data_store: Option<&str>,
    destination: Option<&str>,
) -> Result<&'a str, ApiError> {
    match (trail, data_store.or(destination)) {
        (Some(_), Some(_)) => Err(ApiError::client(
            "InvalidParameterCombinationException",
            "Specify either TrailName, or EventDataStore with InsightsDestination, not both.",
        )),
        (Some(t), None) => Ok(t),
        (None, Some(_)) => Err(ApiError::client(
            "InvalidParameterException",
            "Cairn has no event data stores; specify TrailName.",
        )),
        (None, None) => Err(ApiError::client(
            "InvalidParameterException",
            "TrailName is required.",
        )),
    }
}

/// ApiCallRateInsight needs the trail to log write management events; ApiErrorRateInsight
/// needs read or write management events.
fn check_insight_prerequisites(
    trail: &TrailConfig,
    selector: &InsightSelector,
) -> Result<(), ApiError> {
    let (reads, writes) = management_coverage(trail);
    let ok = match selector.insight_type.as_deref() {
        Some("ApiCallRateInsight") => writes,
        Some("ApiErrorRateInsight") => reads || writes,
        _ => true, // the type itself was validated already
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::client(
            "InvalidInsightSelectorsException",
            format!(
                "The trail {} does not log the management events {} needs (ApiCallRateInsight needs write events, ApiErrorRateInsight read or write events).",
                trail.name,
                selector.insight_type.as_deref().unwrap_or_default()
            ),
        ))
    }
}

/// Whether the trail's selectors log (read, write) management events.
fn management_coverage(trail: &TrailConfig) -> (bool, bool) {
    if let Some(advanced) = &trail.advanced_event_selectors {
        let mut cov = (false, false);
        for s in advanced {
            let field = |name: &str| s.field_selectors.iter().find(|f| f.field == name);
            let is_management = field("eventCategory")
                .and_then(|f| f.equals.as_ref())
                .is_some_and(|v| v.iter().any(|x| x == "Management"));
            if !is_management {
                continue;
            }
            match field("readOnly").and_then(|f| f.equals.as_ref()) {
                None => cov = (true, true),
                Some(values) => {
                    cov.0 |= values.iter().any(|v| v == "true");
                    cov.1 |= values.iter().any(|v| v == "false");
                }
            }
        }
        return cov;
    }
    let mut cov = (false, false);
    for s in trail.effective_event_selectors().unwrap_or_default() {
        if s.include_management_events == Some(false) {
            continue;
        }
        match s.read_write_type {
            Some(ReadWriteType::ReadOnly) => cov.0 = true,
            Some(ReadWriteType::WriteOnly) => cov.1 = true,
            _ => cov = (true, true),
        }
    }
    cov
}

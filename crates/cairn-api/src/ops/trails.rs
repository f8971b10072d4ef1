//! Trail reads: `DescribeTrails`, `ListTrails`, `GetTrail`.
//!
//! Trails are catalog documents in the `trail` namespace, keyed by name, holding the wire shape
//! of the `Trail` structure. Until trail management lands these read an empty catalog.

use serde::Deserialize;
use serde_json::{Value, json};

use super::OpOutput;
use crate::ApiError;
use crate::state::AppState;

const NAMESPACE: &str = "trail";

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DescribeTrailsInput {
    #[serde(rename = "trailNameList", default)]
    trail_name_list: Option<Vec<String>>,
    #[serde(rename = "includeShadowTrails", default)]
    #[allow(dead_code)] // shadow trails arrive with multi-region trails
    include_shadow_trails: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListTrailsInput {
    #[serde(rename = "NextToken", default)]
    #[allow(dead_code)] // one page holds every trail (at most 5 per region)
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetTrailInput {
    #[serde(rename = "Name")]
    name: String,
}

async fn all_trails(state: &AppState) -> Result<Vec<Value>, ApiError> {
    let rows = state.store.catalog_list(NAMESPACE).await.map_err(|e| {
        tracing::error!(error = %e, "reading trails failed");
        ApiError::internal()
    })?;
    rows.into_iter()
        .map(|(_, v)| serde_json::from_str(&v).map_err(|_| ApiError::internal()))
        .collect()
}

/// The trail's name whether the caller passed a name or an ARN.
fn trail_name(name_or_arn: &str) -> &str {
    match name_or_arn.strip_prefix("arn:") {
        Some(rest) => rest
            .rsplit_once(":trail/")
            .map(|(_, n)| n)
            .unwrap_or(name_or_arn),
        None => name_or_arn,
    }
}

pub(crate) async fn describe_trails(
    state: &AppState,
    input: DescribeTrailsInput,
) -> Result<OpOutput, ApiError> {
    let trails = all_trails(state).await?;
    let wanted = input.trail_name_list.unwrap_or_default();
    let list: Vec<Value> = trails
        .into_iter()
        .filter(|t| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| t["Name"] == trail_name(w) || t["TrailARN"] == w.as_str())
        })
        .collect();
    Ok(OpOutput::body(json!({ "trailList": list })))
}

pub(crate) async fn list_trails(
    state: &AppState,
    _input: ListTrailsInput,
) -> Result<OpOutput, ApiError> {
    let trails = all_trails(state).await?;
    let infos: Vec<Value> = trails
        .iter()
        .map(|t| json!({"TrailARN": t["TrailARN"], "Name": t["Name"], "HomeRegion": t["HomeRegion"]}))
        .collect();
    Ok(OpOutput::body(json!({ "Trails": infos })))
}

pub(crate) async fn get_trail(
    state: &AppState,
    input: GetTrailInput,
) -> Result<OpOutput, ApiError> {
    let name = trail_name(&input.name);
    let found = state
        .store
        .catalog_get(NAMESPACE, name)
        .await
        .map_err(|_| ApiError::internal())?;
    match found {
        Some(doc) => {
            let trail: Value = serde_json::from_str(&doc).map_err(|_| ApiError::internal())?;
            Ok(OpOutput::body(json!({ "Trail": trail })))
        }
        None => Err(ApiError::client(
            "TrailNotFoundException",
            format!(
                "Unknown trail: {} for the user: {}",
                input.name, state.config.account_id
            ),
        )),
    }
}

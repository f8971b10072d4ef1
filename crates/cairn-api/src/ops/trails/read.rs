//! `DescribeTrails`, `GetTrail`, `ListTrails`.

use cairn_core::trail::parse_trail_ref;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{all_trails, find, resolve, visible_trails};
use crate::ApiError;
use crate::ops::{Ctx, OpOutput, paging};

#[derive(Debug, Default, Deserialize)]
pub(crate) struct DescribeTrailsInput {
    #[serde(rename = "trailNameList")]
    trail_name_list: Option<Vec<String>>,
    #[serde(rename = "includeShadowTrails")]
    include_shadow_trails: Option<bool>,
}

pub(crate) async fn describe_trails(
    ctx: &Ctx<'_>,
    input: DescribeTrailsInput,
) -> Result<OpOutput, ApiError> {
    let include_shadows = input.include_shadow_trails.unwrap_or(true);
    let mut trails = visible_trails(ctx).await?;
    if !include_shadows {
        trails.retain(|t| t.home_region == ctx.region);
    }
    let names = input.trail_name_list.unwrap_or_default();
    let listed: Vec<Value> = if names.is_empty() {
        // Home trails first, then shadows, each by name.
        trails.sort_by(|a, b| {
            (a.home_region != ctx.region, &a.name).cmp(&(b.home_region != ctx.region, &b.name))
        });
        trails.iter().map(|t| t.trail_shape()).collect()
    } else {
        let mut out: Vec<Value> = Vec::new();
        for name in &names {
            // Unknown names are left out silently (the model lists no TrailNotFound here).
            let wanted = parse_trail_ref(name)?;
            if let Some(t) = find(&trails, &wanted, ctx.region) {
                let shape = t.trail_shape();
                if !out.contains(&shape) {
                    out.push(shape);
                }
            }
        }
        out
    };
    Ok(OpOutput::body(json!({ "trailList": listed })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct GetTrailInput {
    #[serde(rename = "Name")]
    name: String,
}

pub(crate) async fn get_trail(ctx: &Ctx<'_>, input: GetTrailInput) -> Result<OpOutput, ApiError> {
    let trail = resolve(ctx, &input.name).await?;
    Ok(OpOutput::body(json!({ "Trail": trail.trail_shape() })))
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListTrailsInput {
    #[serde(rename = "NextToken")]
    next_token: Option<String>,
}

/// Trails per `ListTrails` page.
const LIST_PAGE: usize = 10;

pub(crate) async fn list_trails(
    ctx: &Ctx<'_>,
    input: ListTrailsInput,
) -> Result<OpOutput, ApiError> {
    let mut trails = all_trails(ctx).await?;
    trails.sort_by_key(|t| t.arn());
    let keys: Vec<String> = trails.iter().map(|t| t.arn()).collect();
    let page = paging::page_after(&keys, input.next_token.as_deref(), LIST_PAGE, "ListTrails")?;
    let infos: Vec<Value> = trails[page.range.clone()]
        .iter()
        .map(|t| t.trail_info())
        .collect();
    let mut body = json!({ "Trails": infos });
    if let Some(token) = page.next_token {
        body["NextToken"] = json!(token);
    }
    Ok(OpOutput::body(body))
}

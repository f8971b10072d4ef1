//! Trail operations. Trails are [`TrailConfig`] documents in the catalog namespace `trail`,
//! keyed `<home region>/<name>`.
//!
//! - [`read`]: `DescribeTrails`, `GetTrail`, `ListTrails`
//! - [`manage`]: `CreateTrail`, `UpdateTrail`, `DeleteTrail`
//! - [`logging`]: `StartLogging`, `StopLogging`, `GetTrailStatus`
//! - [`selectors`]: `PutEventSelectors`, `GetEventSelectors`, `PutInsightSelectors`,
//!   `GetInsightSelectors`

pub(crate) mod logging;
pub(crate) mod manage;
pub(crate) mod read;
pub(crate) mod selectors;

use cairn_core::trail::{TrailRef, parse_trail_ref};
use cairn_core::trail_config::TrailConfig;
use cairn_store::CatalogWrite;

use super::Ctx;
use crate::ApiError;

/// Catalog namespaces of trail configurations and of their delivery status: defined once, by
/// the delivery side that reads and writes them too.
pub(crate) use cairn_delivery::{STATUS_NAMESPACE, TRAIL_NAMESPACE as NAMESPACE};

/// Every trail of the account, in every region.
pub(crate) async fn all_trails(ctx: &Ctx<'_>) -> Result<Vec<TrailConfig>, ApiError> {
    let rows = ctx
        .state
        .store
        .catalog_list(NAMESPACE)
        .await
        .map_err(ApiError::from_store)?;
    rows.into_iter()
        .map(|(key, doc)| {
            serde_json::from_str::<TrailConfig>(&doc).map_err(|e| {
                tracing::error!(%key, error = %e, "a stored trail could not be read");
                ApiError::internal()
            })
        })
        .collect()
}

/// The trails visible from the request's region (its own and shadows of multi-region trails).
pub(crate) async fn visible_trails(ctx: &Ctx<'_>) -> Result<Vec<TrailConfig>, ApiError> {
    let mut trails = all_trails(ctx).await?;
    trails.retain(|t| t.visible_in(ctx.region));
    Ok(trails)
}

/// Finds the trail a name or ARN refers to, as seen from the request's region.
///
/// A name resolves to the trail of that name homed in this region, else to a multi-region
/// trail's shadow; an ARN resolves to exactly that trail if it is visible here.
pub(crate) async fn resolve(ctx: &Ctx<'_>, name_or_arn: &str) -> Result<TrailConfig, ApiError> {
    let wanted = parse_trail_ref(name_or_arn)?;
    let trails = visible_trails(ctx).await?;
    find(&trails, &wanted, ctx.region)
        .cloned()
        .ok_or_else(|| not_found(ctx, name_or_arn))
}

/// Like [`resolve`], but the caller must be in the trail's home region (mutations).
pub(crate) async fn resolve_home(
    ctx: &Ctx<'_>,
    name_or_arn: &str,
) -> Result<TrailConfig, ApiError> {
    let trail = resolve(ctx, name_or_arn).await?;
    if trail.home_region != ctx.region {
        return Err(ApiError::client(
            "InvalidHomeRegionException",
            format!(
                "This operation must be called from the trail's home region: {} (the request was for {}).",
                trail.home_region, ctx.region
            ),
        ));
    }
    Ok(trail)
}

/// The trail `wanted` refers to among `trails`, preferring one homed in `region`.
pub(crate) fn find<'t>(
    trails: &'t [TrailConfig],
    wanted: &TrailRef,
    region: &str,
) -> Option<&'t TrailConfig> {
    match wanted {
        TrailRef::Name(name) => trails
            .iter()
            .find(|t| &t.name == name && t.home_region == region)
            .or_else(|| {
                trails
                    .iter()
                    .find(|t| &t.name == name && t.visible_in(region))
            }),
        TrailRef::Arn {
            region: home,
            account_id,
            name,
            ..
        } => trails
            .iter()
            .find(|t| &t.name == name && &t.home_region == home && &t.account_id == account_id),
    }
}

pub(crate) fn not_found(ctx: &Ctx<'_>, name_or_arn: &str) -> ApiError {
    ApiError::client(
        "TrailNotFoundException",
        format!(
            "Unknown trail: {name_or_arn} for the user: {}",
            ctx.state.config.account_id
        ),
    )
}

/// The trail as a resource of an audit event: `(AWS::CloudTrail::Trail, its ARN)`.
pub(crate) fn trail_resource(trail: &TrailConfig) -> (String, String) {
    ("AWS::CloudTrail::Trail".to_string(), trail.arn())
}

/// The catalog write that stores `trail`.
pub(crate) fn put(trail: &TrailConfig) -> CatalogWrite {
    CatalogWrite::put(
        NAMESPACE,
        &trail.key(),
        serde_json::to_string(trail).expect("a trail serializes"),
    )
}

//! `StartLogging`, `StopLogging`, `GetTrailStatus`.

use cairn_core::trail_config::{DeliveryStatus, trail_status_shape};
use serde::Deserialize;
use serde_json::json;

use super::{STATUS_NAMESPACE, put, resolve, resolve_home, trail_resource};
use crate::ApiError;
use crate::ops::{Ctx, OpOutput};

#[derive(Debug, Deserialize)]
pub(crate) struct NameInput {
    #[serde(rename = "Name")]
    name: String,
}

pub(crate) async fn start_logging(ctx: &Ctx<'_>, input: NameInput) -> Result<OpOutput, ApiError> {
    set_logging(ctx, input, true).await
}

pub(crate) async fn stop_logging(ctx: &Ctx<'_>, input: NameInput) -> Result<OpOutput, ApiError> {
    set_logging(ctx, input, false).await
}

/// Starting a logging trail (or stopping a stopped one) succeeds and moves the timestamp, as
/// AWS does.
async fn set_logging(ctx: &Ctx<'_>, input: NameInput, on: bool) -> Result<OpOutput, ApiError> {
    let mut trail = resolve_home(ctx, &input.name).await?;
    let now = ctx.state.clock.now();
    trail.is_logging = on;
    if on {
        trail.start_logging_time = Some(now);
    } else {
        trail.stop_logging_time = Some(now);
    }
    Ok(OpOutput {
        body: json!({}),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

pub(crate) async fn get_trail_status(
    ctx: &Ctx<'_>,
    input: NameInput,
) -> Result<OpOutput, ApiError> {
    let trail = resolve(ctx, &input.name).await?;
    let status = match ctx
        .state
        .store
        .catalog_get(STATUS_NAMESPACE, &trail.key())
        .await
        .map_err(ApiError::from_store)?
    {
        Some(doc) => serde_json::from_str::<DeliveryStatus>(&doc).map_err(|e| {
            tracing::error!(error = %e, "a stored trail status could not be read");
            ApiError::internal()
        })?,
        None => DeliveryStatus::default(),
    };
    Ok(OpOutput::body(trail_status_shape(&trail, &status)))
}

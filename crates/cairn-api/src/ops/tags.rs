//! `AddTags`, `RemoveTags`, `ListTags` — on trails (the only taggable resource so far).

use cairn_core::trail::{Tag, merge_tags, remove_tags, tags};
use cairn_core::trail_config::TrailConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use super::trails::{all_trails, put, trail_resource};
use super::{Ctx, OpOutput};
use crate::ApiError;

/// Resource ids per `ListTags` call.
const MAX_LIST: usize = 20;

#[derive(Debug, Deserialize)]
pub(crate) struct TagsInput {
    #[serde(rename = "ResourceId")]
    resource_id: String,
    #[serde(rename = "TagsList")]
    tags_list: Vec<Tag>,
}

pub(crate) async fn add_tags(ctx: &Ctx<'_>, input: TagsInput) -> Result<OpOutput, ApiError> {
    tags(&input.tags_list)?;
    let mut trail = tagged_trail(ctx, &input.resource_id).await?;
    trail.tags = merge_tags(&trail.tags, &input.tags_list)?;
    Ok(OpOutput {
        body: json!({}),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

pub(crate) async fn remove_tags_op(ctx: &Ctx<'_>, input: TagsInput) -> Result<OpOutput, ApiError> {
    let mut trail = tagged_trail(ctx, &input.resource_id).await?;
    trail.tags = remove_tags(&trail.tags, &input.tags_list);
    Ok(OpOutput {
        body: json!({}),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListTagsInput {
    #[serde(rename = "ResourceIdList")]
    resource_id_list: Vec<String>,
    #[serde(rename = "NextToken")]
    #[allow(dead_code)] // every answer fits one page (at most 20 resources)
    next_token: Option<String>,
}

pub(crate) async fn list_tags(ctx: &Ctx<'_>, input: ListTagsInput) -> Result<OpOutput, ApiError> {
    if input.resource_id_list.len() > MAX_LIST {
        // The model names no error for this documented limit; AWS JSON services answer
        // ValidationException for inputs that break a constraint.
        return Err(ApiError::client(
            "ValidationException",
            format!(
                "ResourceIdList holds {} ids; at most {MAX_LIST} are allowed.",
                input.resource_id_list.len()
            ),
        ));
    }
    let mut out: Vec<Value> = Vec::new();
    for id in &input.resource_id_list {
        let trail = tagged_trail(ctx, id).await?;
        out.push(json!({ "ResourceId": id, "TagsList": trail.tags }));
    }
    Ok(OpOutput::body(json!({ "ResourceTagList": out })))
}

/// The trail a tagging `ResourceId` names: it must be a trail ARN of this account.
async fn tagged_trail(ctx: &Ctx<'_>, resource_id: &str) -> Result<TrailConfig, ApiError> {
    let invalid = || {
        ApiError::client(
            "CloudTrailARNInvalidException",
            format!(
                "{resource_id} is not a valid CloudTrail ARN. Expected arn:aws:cloudtrail:<region>:<account>:trail/<name>."
            ),
        )
    };
    let parts: Vec<&str> = resource_id.splitn(6, ':').collect();
    let [arn, partition, service, region, account, resource] = parts[..] else {
        return Err(invalid());
    };
    if arn != "arn"
        || partition.is_empty()
        || service != "cloudtrail"
        || region.is_empty()
        || account.len() != 12
    {
        return Err(invalid());
    }
    let (kind, name) = resource.split_once('/').ok_or_else(invalid)?;
    match kind {
        "trail" => {}
        "eventdatastore" | "channel" | "dashboard" => {
            return Err(ApiError::client(
                "ResourceTypeNotSupportedException",
                format!("Tags on {kind} resources are not supported by Cairn."),
            ));
        }
        _ => return Err(invalid()),
    }
    let trails = all_trails(ctx).await?;
    trails
        .into_iter()
        .find(|t| t.name == name && t.home_region == region && t.account_id == account)
        .ok_or_else(|| {
            ApiError::client(
                "ResourceNotFoundException",
                format!("Resource not found: {resource_id}"),
            )
        })
}

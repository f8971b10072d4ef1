//! `CreateTrail`, `UpdateTrail`, `DeleteTrail`.
//!
//! Checks run in the order AWS reports them: the shape of each parameter first (names, ARNs,
//! formats), then combinations, then the state of the account (existing trails, the per-region
//! limit), then the outside world (the bucket exists, the SNS topic is known). Nothing changes
//! unless every check passes; the new configuration is returned as a pending catalog write.

use cairn_core::trail::{
    Tag, bucket_name, cloudwatch_logs, key_prefix, kms_key_id, merge_tags, sns_topic, tags,
    trail_flags, trail_name,
};
use cairn_core::trail_config::TrailConfig;
use cairn_store::CatalogWrite;
use serde::Deserialize;
use serde_json::json;

use super::{NAMESPACE, STATUS_NAMESPACE, all_trails, put, resolve_home, trail_resource};
use crate::ApiError;
use crate::ops::{Ctx, OpOutput};

/// Trails per region, shadows of multi-region trails included (AWS: 5, not adjustable).
pub(crate) const MAX_TRAILS_PER_REGION: usize = 5;

#[derive(Debug, Deserialize)]
pub(crate) struct CreateTrailInput {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "S3BucketName")]
    s3_bucket_name: String,
    #[serde(rename = "S3KeyPrefix")]
    s3_key_prefix: Option<String>,
    #[serde(rename = "SnsTopicName")]
    sns_topic_name: Option<String>,
    #[serde(rename = "IncludeGlobalServiceEvents")]
    include_global_service_events: Option<bool>,
    #[serde(rename = "IsMultiRegionTrail")]
    is_multi_region_trail: Option<bool>,
    #[serde(rename = "EnableLogFileValidation")]
    enable_log_file_validation: Option<bool>,
    #[serde(rename = "CloudWatchLogsLogGroupArn")]
    cloud_watch_logs_log_group_arn: Option<String>,
    #[serde(rename = "CloudWatchLogsRoleArn")]
    cloud_watch_logs_role_arn: Option<String>,
    #[serde(rename = "KmsKeyId")]
    kms_key_id: Option<String>,
    #[serde(rename = "IsOrganizationTrail")]
    is_organization_trail: Option<bool>,
    #[serde(rename = "TagsList")]
    tags_list: Option<Vec<Tag>>,
    #[serde(rename = "RecursiveLogging")]
    recursive_logging: Option<bool>,
}

/// Optional text parameters: absent or empty means "not set".
fn non_empty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

pub(crate) async fn create_trail(
    ctx: &Ctx<'_>,
    input: CreateTrailInput,
) -> Result<OpOutput, ApiError> {
    let (region, account) = (ctx.region, ctx.state.config.account_id.as_str());
    trail_name(&input.name)?;
    bucket_name(&input.s3_bucket_name)?;
    if let Some(prefix) = non_empty(&input.s3_key_prefix) {
        key_prefix(prefix)?;
    }
    let sns_topic_arn = match non_empty(&input.sns_topic_name) {
        Some(topic) => Some(sns_topic(topic, region, account)?.arn),
        None => None,
    };
    let multi_region = input.is_multi_region_trail.unwrap_or(false);
    let include_global = input.include_global_service_events.unwrap_or(true);
    trail_flags(include_global, multi_region)?;
    let kms = match non_empty(&input.kms_key_id) {
        Some(k) => Some(kms_key_id(k, region, account)?),
        None => None,
    };
    let cwl = cloudwatch_logs(
        non_empty(&input.cloud_watch_logs_log_group_arn),
        non_empty(&input.cloud_watch_logs_role_arn),
    )?;
    let is_org = input.is_organization_trail.unwrap_or(false);
    if is_org {
        require_organization(ctx)?;
    }
    let tag_list = input.tags_list.unwrap_or_default();
    tags(&tag_list)?;
    // Also enforces the per-resource limit of 50 tags.
    let tag_list = merge_tags(&[], &tag_list)?;

    let trails = all_trails(ctx).await?;
    if trails
        .iter()
        .any(|t| t.name == input.name && (t.visible_in(region) || multi_region))
    {
        return Err(ApiError::client(
            "TrailAlreadyExistsException",
            format!(
                "Trail {} already exists for customer: {account}",
                input.name
            ),
        ));
    }
    check_room(ctx, &trails, multi_region, region, None)?;
    require_bucket(ctx, &input.s3_bucket_name).await?;
    if let Some(arn) = &sns_topic_arn {
        require_known_topic(ctx, arn)?;
    }

    let (cwl_group, cwl_role) = cwl.map(|(g, r)| (Some(g), Some(r))).unwrap_or((None, None));
    let trail = TrailConfig {
        name: input.name,
        home_region: region.to_string(),
        account_id: account.to_string(),
        s3_bucket_name: input.s3_bucket_name,
        s3_key_prefix: non_empty(&input.s3_key_prefix).map(str::to_owned),
        sns_topic_arn,
        include_global_service_events: include_global,
        is_multi_region_trail: multi_region,
        log_file_validation_enabled: input.enable_log_file_validation.unwrap_or(false),
        cloud_watch_logs_log_group_arn: cwl_group,
        cloud_watch_logs_role_arn: cwl_role,
        kms_key_id: kms,
        is_organization_trail: is_org,
        recursive_logging: input.recursive_logging.unwrap_or(true),
        event_selectors: None,
        advanced_event_selectors: None,
        insight_selectors: None,
        tags: tag_list,
        is_logging: false,
        start_logging_time: None,
        stop_logging_time: None,
        created: ctx.state.clock.now(),
    };
    Ok(OpOutput {
        body: trail.create_response(),
        resources: vec![trail_resource(&trail)],
        start_consumers: vec![cairn_delivery::consumer_id(&trail.key())],
        // The delivery consumer starts here, not logging until the trail's StartLogging.
        changes: vec![
            put(&trail),
            CatalogWrite::put(
                cairn_delivery::STATE_NAMESPACE,
                &trail.key(),
                r#"{"logging":false}"#.to_string(),
            ),
        ],
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct UpdateTrailInput {
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "S3BucketName")]
    s3_bucket_name: Option<String>,
    #[serde(rename = "S3KeyPrefix")]
    s3_key_prefix: Option<String>,
    #[serde(rename = "SnsTopicName")]
    sns_topic_name: Option<String>,
    #[serde(rename = "IncludeGlobalServiceEvents")]
    include_global_service_events: Option<bool>,
    #[serde(rename = "IsMultiRegionTrail")]
    is_multi_region_trail: Option<bool>,
    #[serde(rename = "EnableLogFileValidation")]
    enable_log_file_validation: Option<bool>,
    #[serde(rename = "CloudWatchLogsLogGroupArn")]
    cloud_watch_logs_log_group_arn: Option<String>,
    #[serde(rename = "CloudWatchLogsRoleArn")]
    cloud_watch_logs_role_arn: Option<String>,
    #[serde(rename = "KmsKeyId")]
    kms_key_id: Option<String>,
    #[serde(rename = "IsOrganizationTrail")]
    is_organization_trail: Option<bool>,
    #[serde(rename = "RecursiveLogging")]
    recursive_logging: Option<bool>,
}

/// Omitted members keep their setting; an empty string clears an optional one (AWS documents
/// this for the KMS key and the CloudWatch Logs pair).
pub(crate) async fn update_trail(
    ctx: &Ctx<'_>,
    input: UpdateTrailInput,
) -> Result<OpOutput, ApiError> {
    let (region, account) = (ctx.region, ctx.state.config.account_id.clone());
    let mut trail = resolve_home(ctx, &input.name).await?;
    let before = trail.clone();

    if let Some(bucket) = &input.s3_bucket_name {
        bucket_name(bucket)?;
        trail.s3_bucket_name = bucket.clone();
    }
    if let Some(prefix) = &input.s3_key_prefix {
        if !prefix.is_empty() {
            key_prefix(prefix)?;
        }
        trail.s3_key_prefix = non_empty(&input.s3_key_prefix).map(str::to_owned);
    }
    if let Some(topic) = &input.sns_topic_name {
        trail.sns_topic_arn = match topic.is_empty() {
            true => None,
            false => Some(sns_topic(topic, region, &account)?.arn),
        };
    }
    if let Some(multi) = input.is_multi_region_trail {
        if multi != trail.is_multi_region_trail && input.include_global_service_events.is_none() {
            // Turning multi-region on turns global service events on, and off turns them off.
            trail.include_global_service_events = multi;
        }
        trail.is_multi_region_trail = multi;
    }
    if let Some(global) = input.include_global_service_events {
        trail.include_global_service_events = global;
    }
    trail_flags(
        trail.include_global_service_events,
        trail.is_multi_region_trail,
    )?;
    if let Some(k) = &input.kms_key_id {
        trail.kms_key_id = match k.is_empty() {
            true => None,
            false => Some(kms_key_id(k, region, &account)?),
        };
    }
    if input.cloud_watch_logs_log_group_arn.is_some() || input.cloud_watch_logs_role_arn.is_some() {
        let group = input
            .cloud_watch_logs_log_group_arn
            .as_deref()
            .or(trail.cloud_watch_logs_log_group_arn.as_deref());
        let role = input
            .cloud_watch_logs_role_arn
            .as_deref()
            .or(trail.cloud_watch_logs_role_arn.as_deref());
        let pair = cloudwatch_logs(
            group.filter(|s| !s.is_empty()),
            role.filter(|s| !s.is_empty()),
        )?;
        trail.cloud_watch_logs_log_group_arn = pair.as_ref().map(|(g, _)| g.clone());
        trail.cloud_watch_logs_role_arn = pair.map(|(_, r)| r);
    }
    if let Some(v) = input.enable_log_file_validation {
        trail.log_file_validation_enabled = v;
    }
    if let Some(org) = input.is_organization_trail {
        if org && !trail.is_organization_trail {
            require_organization(ctx)?;
        }
        trail.is_organization_trail = org;
    }
    if let Some(r) = input.recursive_logging {
        trail.recursive_logging = r;
    }

    if trail.is_multi_region_trail && !before.is_multi_region_trail {
        let trails = all_trails(ctx).await?;
        if let Some(clash) = trails
            .iter()
            .find(|t| t.name == trail.name && t.key() != trail.key())
        {
            return Err(ApiError::client(
                "InvalidParameterCombinationException",
                format!(
                    "A trail named {} already exists in {}; a multi-region trail's name must be unique in every region.",
                    clash.name, clash.home_region
                ),
            ));
        }
        check_room(ctx, &trails, true, region, Some(&trail.key()))?;
    }
    if trail.s3_bucket_name != before.s3_bucket_name {
        require_bucket(ctx, &trail.s3_bucket_name).await?;
    }
    if let Some(arn) = &trail.sns_topic_arn
        && before.sns_topic_arn.as_ref() != Some(arn)
    {
        require_known_topic(ctx, arn)?;
    }
    Ok(OpOutput {
        body: trail.create_response(),
        changes: vec![put(&trail)],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

#[derive(Debug, Deserialize)]
pub(crate) struct DeleteTrailInput {
    #[serde(rename = "Name")]
    name: String,
}

/// Removes the trail and its status; the bucket and the files already delivered stay.
pub(crate) async fn delete_trail(
    ctx: &Ctx<'_>,
    input: DeleteTrailInput,
) -> Result<OpOutput, ApiError> {
    let trail = resolve_home(ctx, &input.name).await?;
    Ok(OpOutput {
        body: json!({}),
        changes: vec![
            CatalogWrite::delete(NAMESPACE, &trail.key()),
            CatalogWrite::delete(STATUS_NAMESPACE, &trail.key()),
        ],
        resources: vec![trail_resource(&trail)],
        ..OpOutput::default()
    })
}

/// Refuses a trail that would make some region hold more than [`MAX_TRAILS_PER_REGION`]
/// trails (a multi-region trail counts in every region). `replacing` is the key of a trail
/// being changed, which is not counted twice.
fn check_room(
    ctx: &Ctx<'_>,
    trails: &[TrailConfig],
    multi_region: bool,
    region: &str,
    replacing: Option<&str>,
) -> Result<(), ApiError> {
    let regions: Vec<&str> = if multi_region {
        ctx.state
            .config
            .regions
            .iter()
            .map(String::as_str)
            .collect()
    } else {
        vec![region]
    };
    for r in regions {
        let count = trails
            .iter()
            .filter(|t| Some(t.key().as_str()) != replacing && t.visible_in(r))
            .count();
        if count >= MAX_TRAILS_PER_REGION {
            return Err(ApiError::client(
                "MaximumNumberOfTrailsExceededException",
                format!(
                    "User: {} already has {MAX_TRAILS_PER_REGION} trails in {r}.",
                    ctx.state.config.account_id
                ),
            ));
        }
    }
    Ok(())
}

async fn require_bucket(ctx: &Ctx<'_>, bucket: &str) -> Result<(), ApiError> {
    match ctx.state.buckets.exists(bucket).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::client(
            "S3BucketDoesNotExistException",
            format!(
                "S3 bucket {bucket} does not exist. Create it first, e.g. with `cairn buckets create {bucket}`."
            ),
        )),
        Err(e) => {
            tracing::warn!(%bucket, error = %e, "checking a bucket failed");
            Err(ApiError::client(
                "InsufficientS3BucketPolicyException",
                format!(
                    "Cairn could not check bucket {bucket}: the storage is unreachable or refused access."
                ),
            ))
        }
    }
}

fn require_known_topic(ctx: &Ctx<'_>, arn: &str) -> Result<(), ApiError> {
    if ctx.state.config.sns_topics.iter().any(|t| t == arn) {
        Ok(())
    } else {
        Err(ApiError::client(
            "InsufficientSnsTopicPolicyException",
            format!(
                "Incorrect SNS topic policy or topic not found: {arn}. Cairn knows the topics listed in its configuration (sns_topics)."
            ),
        ))
    }
}

fn require_organization(ctx: &Ctx<'_>) -> Result<(), ApiError> {
    match &ctx.state.config.organization_id {
        Some(_) => Ok(()),
        None => Err(ApiError::client(
            "OrganizationsNotInUseException",
            "This account is not a member of an organization. Configure organization_id to create organization trails.",
        )),
    }
}

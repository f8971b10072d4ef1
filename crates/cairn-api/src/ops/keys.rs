//! `ListPublicKeys`: the public halves of Cairn's digest signing keys.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cairn_core::trail_config::epoch_seconds;
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Ctx, OpOutput, timestamp};
use crate::ApiError;

/// The validity window reported for the key in force, as AWS reports its keys (30 days).
const REPORTED_VALIDITY: Duration = Duration::days(30);

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListPublicKeysInput {
    #[serde(
        rename = "StartTime",
        default,
        deserialize_with = "timestamp::optional"
    )]
    start_time: Option<DateTime<Utc>>,
    #[serde(rename = "EndTime", default, deserialize_with = "timestamp::optional")]
    end_time: Option<DateTime<Utc>>,
    #[serde(rename = "NextToken")]
    #[allow(dead_code)] // every answer fits one page
    next_token: Option<String>,
}

pub(crate) async fn list_public_keys(
    ctx: &Ctx<'_>,
    input: ListPublicKeysInput,
) -> Result<OpOutput, ApiError> {
    let now = ctx.state.clock.now();
    let start = input.start_time.unwrap_or(now);
    let end = input.end_time.unwrap_or(now);
    if start > end {
        return Err(ApiError::client(
            "InvalidTimeRangeException",
            "Occurs if the timestamp values are invalid. Either the start time occurs after the end time, or the time range is outside the range of possible values.",
        ));
    }
    let keys: Vec<Value> = ctx
        .state
        .keys
        .public_keys(ctx.region, start, end)
        .into_iter()
        .map(|k| {
            let until = k
                .valid_until
                .unwrap_or_else(|| (k.valid_from + REPORTED_VALIDITY).max(now));
            json!({
                "Value": STANDARD.encode(&k.der),
                "ValidityStartTime": epoch_seconds(k.valid_from),
                "ValidityEndTime": epoch_seconds(until),
                "Fingerprint": k.fingerprint,
            })
        })
        .collect();
    Ok(OpOutput::body(json!({ "PublicKeyList": keys })))
}

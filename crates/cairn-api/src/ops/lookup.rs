//! `LookupEvents`. (Being written.)

use serde_json::Value;

use super::{Ctx, OpOutput};
use crate::ApiError;

pub(crate) async fn lookup_events(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    Err(ApiError::client(
        "UnsupportedOperationException",
        "Cairn does not implement LookupEvents yet.",
    ))
}

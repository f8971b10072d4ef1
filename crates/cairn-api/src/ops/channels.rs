//! Channels: `CreateChannel`, `GetChannel`, `ListChannels`, `UpdateChannel`, `DeleteChannel`.
//! (Being written.)

use serde_json::Value;

use super::{Ctx, OpOutput};
use crate::ApiError;

fn not_yet(op: &str) -> Result<OpOutput, ApiError> {
    Err(ApiError::client(
        "UnsupportedOperationException",
        format!("Cairn does not implement {op} yet."),
    ))
}

pub(crate) async fn create_channel(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    not_yet("CreateChannel")
}
pub(crate) async fn get_channel(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    not_yet("GetChannel")
}
pub(crate) async fn list_channels(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    not_yet("ListChannels")
}
pub(crate) async fn update_channel(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    not_yet("UpdateChannel")
}
pub(crate) async fn delete_channel(_ctx: &Ctx<'_>, _input: Value) -> Result<OpOutput, ApiError> {
    not_yet("DeleteChannel")
}

//! `reactions.add`, `reactions.remove` and `reactions.get`.

use serde_json::json;

use switchboard_actors::channel::ChannelMsg;
use switchboard_actors::events::message_value;
use switchboard_actors::hub::ask;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};

/// `reactions.add` (`add`) or `reactions.remove`.
pub async fn react(api: &Api, caller: &Caller, params: &Params, add: bool) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("timestamp", ApiError::InvalidTs)?
        .ok_or(ApiError::InvalidArguments)?;
    let name = params.required_str("name")?;
    let name = name.trim_matches(':').to_owned();
    api.visible_channel(caller, &channel_id).await?;
    let channel = api.hub.channel(caller.team_id(), &channel_id).await?;
    ask(&channel, |reply| ChannelMsg::React {
        user: caller.user.id.clone(),
        ts,
        name,
        add,
        reply,
    })
    .await??;
    fields(json!({}))
}

/// `reactions.get`: the message with its reactions.
pub async fn get(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("timestamp", ApiError::InvalidTs)?
        .ok_or(ApiError::InvalidArguments)?;
    api.visible_channel(caller, &channel_id).await?;
    let message = api
        .hub
        .store()
        .message(caller.team_id(), &channel_id, ts)
        .await
        .map_err(internal("message lookup"))?
        .ok_or(ApiError::MessageNotFound)?;
    fields(json!({
        "type": "message",
        "channel": channel_id,
        "message": message_value(&message),
    }))
}

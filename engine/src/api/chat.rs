//! The `chat.*` methods.

use serde_json::{json, Map, Value};

use switchboard_actors::channel::{ChannelMsg, PostRequest};
use switchboard_actors::domain::{validate_message_text, Message};
use switchboard_actors::hub::ask;
use switchboard_actors::ids::{is_valid_id, ChannelId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{conversations, fields, internal, Api, Caller, MethodResult};

/// Fields copied from the arguments into the stored message as given.
const EXTRA_JSON_FIELDS: &[&str] = &["blocks", "attachments", "metadata"];

/// Fields a bot may set to change how its message is shown.
const BOT_DISPLAY_FIELDS: &[&str] = &["username", "icon_emoji", "icon_url"];

/// Resolves the `channel` argument of `chat.postMessage`: an id, `#name`, or a
/// user id (the direct message with that user, opened when needed).
async fn resolve_target(
    api: &Api,
    caller: &Caller,
    params: &Params,
) -> Result<ChannelId, ApiError> {
    let target = params.str("channel").unwrap_or_default();
    let target = target.trim();
    if let Some(name) = target.strip_prefix('#') {
        let channel = api
            .hub
            .store()
            .channel_by_name(caller.team_id(), name)
            .await
            .map_err(internal("channel lookup by name"))?
            .ok_or(ApiError::ChannelNotFound)?;
        return Ok(channel.id);
    }
    if is_valid_id(target, &['U', 'W']) {
        let mut open = Params::default();
        open.insert("users", target);
        let opened = conversations::open(api, caller, &open).await?;
        let id = opened
            .get("channel")
            .and_then(|c| c.get("id"))
            .and_then(Value::as_str)
            .ok_or(ApiError::InternalError)?;
        return Ok(ChannelId::from(id));
    }
    params.channel()
}

/// Collects the JSON extras (and a bot's display fields) of a post or edit.
fn extra_fields(caller: &Caller, params: &Params) -> Result<Map<String, Value>, ApiError> {
    let mut extra = Map::new();
    for name in EXTRA_JSON_FIELDS {
        if let Some(value) = params.json(name)? {
            extra.insert((*name).into(), value);
        }
    }
    if caller.user.is_bot {
        for name in BOT_DISPLAY_FIELDS {
            if let Some(value) = params.str(name).filter(|v| !v.is_empty()) {
                extra.insert((*name).into(), value.into());
            }
        }
    }
    Ok(extra)
}

/// Serializes a message for a method response (no `channel` inside).
fn message_json(message: &Message) -> Value {
    serde_json::to_value(message).unwrap_or_default()
}

/// `chat.postMessage`.
pub async fn post_message(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let text = params.str("text").unwrap_or_default();
    validate_message_text(&text)?;
    let thread_ts = params.ts("thread_ts", ApiError::InvalidTs)?;
    let extra = extra_fields(caller, params)?;
    let channel_id = resolve_target(api, caller, params).await?;
    let (channel, is_member) = api.visible_channel(caller, &channel_id).await?;
    policy::check(
        Actor::User(&caller.user),
        Action::Post {
            channel: &channel,
            is_member,
        },
    )?;
    let request = PostRequest {
        user: caller.user.id.clone(),
        text,
        thread_ts,
        bot_id: caller.user.bot_id.clone(),
        subtype: None,
        extra,
        files: Vec::new(),
        writes: Vec::new(),
    };
    let message = api
        .hub
        .post_message(caller.team_id(), &channel_id, request)
        .await?;
    fields(json!({
        "channel": channel_id,
        "ts": message.ts,
        "message": message_json(&message),
    }))
}

/// `chat.update`: the author edits text, blocks or attachments.
pub async fn update(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("ts", ApiError::InvalidTs)?
        .ok_or(ApiError::MessageNotFound)?;
    let text = params.str("text").unwrap_or_default();
    let extra = extra_fields(caller, params)?;
    if text.trim().is_empty() && extra.is_empty() {
        return Err(ApiError::NoText);
    }
    api.visible_channel(caller, &channel_id).await?;
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    let message = ask(&actor, |reply| ChannelMsg::Update {
        user: caller.user.id.clone(),
        ts,
        text,
        extra,
        reply,
    })
    .await??;
    fields(json!({
        "channel": channel_id,
        "ts": message.ts,
        "text": message.text,
        "message": message_json(&message),
    }))
}

/// `chat.delete`: the author deletes a message.
pub async fn delete(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("ts", ApiError::InvalidTs)?
        .ok_or(ApiError::MessageNotFound)?;
    api.visible_channel(caller, &channel_id).await?;
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    let deleted = ask(&actor, |reply| ChannelMsg::Delete {
        user: caller.user.id.clone(),
        ts,
        reply,
    })
    .await??;
    fields(json!({ "channel": channel_id, "ts": deleted }))
}

/// `chat.postEphemeral`: a message only `user` sees, on their live sessions,
/// never stored.
pub async fn post_ephemeral(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let target = params.user("user")?;
    let text = params.str("text").unwrap_or_default();
    let extra = extra_fields(caller, params)?;
    let request = PostRequest {
        user: caller.user.id.clone(),
        text: text.clone(),
        extra: extra.clone(),
        ..Default::default()
    };
    request.validate()?;
    let (_, member) = api.visible_channel(caller, &channel_id).await?;
    if !member {
        return Err(ApiError::NotInChannel);
    }
    let store = api.hub.store();
    let target_is_member = store
        .is_member(caller.team_id(), &channel_id, &target)
        .await
        .map_err(internal("membership lookup"))?;
    if !target_is_member {
        return Err(ApiError::UserNotInChannel);
    }
    let ts = Ts::now();
    let mut message = Message::new(
        caller.team_id().clone(),
        channel_id.clone(),
        caller.user.id.clone(),
        text,
        ts,
    );
    message.extra = extra;
    message.extra.insert("is_ephemeral".into(), true.into());
    message.bot_id = caller.user.bot_id.clone();
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    ask(&actor, |reply| ChannelMsg::Ephemeral {
        to: target,
        message,
        reply,
    })
    .await??;
    fields(json!({ "message_ts": ts }))
}

/// `chat.getPermalink`.
pub async fn get_permalink(
    api: &Api,
    caller: &Caller,
    params: &Params,
    host: Option<&str>,
) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("message_ts", ApiError::InvalidTs)?
        .ok_or(ApiError::MessageNotFound)?;
    api.visible_channel(caller, &channel_id).await?;
    api.hub
        .store()
        .message(caller.team_id(), &channel_id, ts)
        .await
        .map_err(internal("message lookup"))?
        .ok_or(ApiError::MessageNotFound)?;
    let compact = ts.to_string().replace('.', "");
    fields(json!({
        "channel": channel_id,
        "permalink": format!("{}/archives/{}/p{}", api.base_url(host), channel_id, compact),
    }))
}

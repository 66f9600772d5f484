//! The `conversations.*` methods.

use std::collections::HashSet;

use serde_json::{json, Value};

use switchboard_actors::channel::{ChannelChange, ChannelMsg};
use switchboard_actors::domain::{validate_channel_name, Channel, ChannelKind, TopicInfo};
use switchboard_actors::events;
use switchboard_actors::hub::ask;
use switchboard_actors::ids::{ChannelId, UserId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{cursor, fields, internal, next_cursor, Api, Caller, MethodResult};

/// Most users a multi-person direct message may have besides the caller.
const MAX_MPIM_OTHERS: usize = 8;

/// `conversations.create`.
pub async fn create(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let name = params.str("name").unwrap_or_default();
    validate_channel_name(&name)?;
    let kind = if params.flag("is_private") {
        ChannelKind::Private
    } else {
        ChannelKind::Public
    };
    policy::check(
        Actor::User(&caller.user),
        Action::CreateChannel {
            private: kind == ChannelKind::Private,
        },
    )?;
    let store = api.hub.store();
    if store
        .channel_by_name(caller.team_id(), &name)
        .await
        .map_err(internal("channel lookup by name"))?
        .is_some()
    {
        return Err(ApiError::NameTaken);
    }

    let now = Ts::now();
    let channel = Channel {
        id: ChannelId::generate(),
        team_id: caller.team_id().clone(),
        name,
        kind,
        creator: caller.user.id.clone(),
        created: now,
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: None,
    };
    let writes = vec![
        Write::InsertChannel(channel.clone()),
        Write::AddMember {
            team_id: channel.team_id.clone(),
            channel_id: channel.id.clone(),
            user_id: caller.user.id.clone(),
            joined: now,
        },
    ];
    match api.hub.write(writes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(ApiError::NameTaken),
        Err(error) => return Err(internal("channel create")(error)),
    }
    api.hub.update_team_cache(caller.team_id(), |cache| {
        cache.upsert_channel(channel.clone());
        cache.add_member(&channel.id, &caller.user.id);
    });

    if kind == ChannelKind::Public {
        api.hub
            .broadcast_to_team(caller.team_id(), events::channel_created(&channel))
            .await;
    }
    api.hub.deliver_to_user(
        &caller.user.id,
        &events::channel_joined(&channel, &caller.user.id),
    );
    tracing::info!(team = %channel.team_id, channel = %channel.id, name = %channel.name, "channel created");
    fields(json!({ "channel": channel.to_api(true, &caller.user.id) }))
}

/// Parses `types` (default `public_channel`).
fn parse_types(params: &Params) -> Result<Vec<ChannelKind>, ApiError> {
    let types = params
        .str("types")
        .unwrap_or_else(|| "public_channel".into());
    let mut kinds = Vec::new();
    for name in types.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        kinds.push(match name {
            "public_channel" => ChannelKind::Public,
            "private_channel" => ChannelKind::Private,
            "im" => ChannelKind::Im,
            "mpim" => ChannelKind::Mpim,
            _ => return Err(ApiError::InvalidArguments),
        });
    }
    if kinds.is_empty() {
        kinds.push(ChannelKind::Public);
    }
    Ok(kinds)
}

/// `conversations.list`, paged by channel id.
pub async fn list(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let filter = ChannelFilter {
        kinds: parse_types(params)?,
        exclude_archived: params.flag("exclude_archived"),
        viewer: caller.user.id.clone(),
        // Guests see only the conversations they were given.
        only_member: caller.user.role.is_guest(),
    };
    page_of_channels(api, caller, params, filter, "channels").await
}

/// Lists a page of conversations under `key` with their `is_member` flags.
pub(crate) async fn page_of_channels(
    api: &Api,
    caller: &Caller,
    params: &Params,
    filter: ChannelFilter,
    key: &str,
) -> MethodResult {
    let limit = params.limit(100, 1000)?;
    let after = cursor::decode("channel", params.str("cursor").as_deref())?.map(ChannelId);
    let store = api.hub.store();
    let mut channels = store
        .channels(
            caller.team_id(),
            &filter,
            Page {
                after,
                limit: limit + 1,
            },
        )
        .await
        .map_err(internal("channel list"))?;
    let more = channels.len() > limit;
    channels.truncate(limit);
    let memberships: HashSet<ChannelId> = store
        .member_channels(caller.team_id(), &caller.user.id)
        .await
        .map_err(internal("member channels"))?
        .into_iter()
        .collect();
    let next = more
        .then(|| {
            channels
                .last()
                .map(|c| cursor::encode("channel", c.id.as_str()))
        })
        .flatten();
    let items: Vec<Value> = channels
        .iter()
        .map(|c| c.to_api(memberships.contains(&c.id), &caller.user.id))
        .collect();
    let mut result = serde_json::Map::new();
    result.insert(key.into(), Value::Array(items));
    result.insert("response_metadata".into(), next_cursor(next));
    Ok(result)
}

/// `conversations.info`.
pub async fn info(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let (channel, member) = api.visible_channel(caller, &channel_id).await?;
    let mut info = channel.to_api(member, &caller.user.id);
    if member {
        let state = api
            .hub
            .store()
            .read_state(caller.team_id(), &channel_id, &caller.user.id)
            .await
            .map_err(internal("read state lookup"))?
            .unwrap_or_default();
        info["last_read"] = state.last_read.to_string().into();
        info["unread_count"] = state.unread_count.into();
        info["unread_count_display"] = state.unread_count.into();
        info["mention_count"] = state.mention_count.into();
    }
    fields(json!({ "channel": info }))
}

/// `conversations.mark`: moves the caller's read position to `ts` and
/// recounts their unread messages.
pub async fn mark(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let ts = params
        .ts("ts", ApiError::InvalidTs)?
        .ok_or(ApiError::InvalidTs)?;
    let (_, member) = api.visible_channel(caller, &channel_id).await?;
    if !member {
        return Err(ApiError::NotInChannel);
    }
    api.hub
        .write(vec![Write::MarkRead {
            team_id: caller.team_id().clone(),
            channel_id,
            user_id: caller.user.id.clone(),
            ts,
        }])
        .await
        .map_err(internal("conversations.mark"))?;
    Ok(serde_json::Map::new())
}

/// `conversations.join`: public channels only.
pub async fn join(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let (channel, _) = api.visible_channel(caller, &channel_id).await?;
    if channel.kind != ChannelKind::Public {
        return Err(ApiError::ChannelNotFound);
    }
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    let outcome = ask(&actor, |reply| ChannelMsg::Join {
        user: caller.user.id.clone(),
        inviter: None,
        reply,
    })
    .await??;
    let mut result = json!({ "channel": outcome.channel.to_api(true, &caller.user.id) });
    if outcome.already_in_channel {
        result["warning"] = "already_in_channel".into();
        result["response_metadata"] = json!({ "warnings": ["already_in_channel"] });
    }
    fields(result)
}

/// `conversations.leave`.
pub async fn leave(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    api.visible_channel(caller, &channel_id).await?;
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    let outcome = ask(&actor, |reply| ChannelMsg::Leave {
        user: caller.user.id.clone(),
        by: None,
        reply,
    })
    .await?;
    match outcome {
        Ok(()) => fields(json!({})),
        // Slack answers ok with a flag when the caller was not a member.
        Err(ApiError::NotInChannel) => fields(json!({ "not_in_channel": true })),
        Err(error) => Err(error),
    }
}

/// `conversations.invite`: adds each listed user.
pub async fn invite(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let users = params.user_list("users")?;
    let (channel, member) = api.visible_channel(caller, &channel_id).await?;
    if !member {
        return Err(ApiError::NotInChannel);
    }
    if channel.kind == ChannelKind::Im {
        return Err(ApiError::RestrictedAction);
    }
    let store = api.hub.store();
    for user_id in &users {
        if user_id == &caller.user.id {
            return Err(ApiError::CantInviteSelf);
        }
        let user = store
            .user(caller.team_id(), user_id)
            .await
            .map_err(internal("user lookup"))?
            .ok_or(ApiError::UserNotFound)?;
        if user.deleted {
            return Err(ApiError::UserNotFound);
        }
        policy::check(
            Actor::User(&caller.user),
            Action::InviteToChannel { target: &user },
        )?;
    }

    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    let mut added = 0;
    let mut latest = channel;
    for user_id in users {
        let outcome = ask(&actor, |reply| ChannelMsg::Join {
            user: user_id,
            inviter: Some(caller.user.id.clone()),
            reply,
        })
        .await??;
        if !outcome.already_in_channel {
            added += 1;
        }
        latest = outcome.channel;
    }
    if added == 0 {
        return Err(ApiError::AlreadyInChannel);
    }
    fields(json!({ "channel": latest.to_api(true, &caller.user.id) }))
}

/// `conversations.kick`.
pub async fn kick(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let user_id = params.user("user")?;
    if user_id == caller.user.id {
        return Err(ApiError::CantKickSelf);
    }
    let (channel, member) = api.visible_channel(caller, &channel_id).await?;
    policy::check(
        Actor::User(&caller.user),
        Action::RemoveMember {
            channel: &channel,
            target: &user_id,
        },
    )?;
    if !member {
        return Err(ApiError::NotInChannel);
    }
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    ask(&actor, |reply| ChannelMsg::Leave {
        user: user_id,
        by: Some(caller.user.id.clone()),
        reply,
    })
    .await??;
    fields(json!({}))
}

/// Reads `latest`, `oldest` and `inclusive` as inclusive bounds. `ts` values
/// are whole microseconds, so an exclusive bound `x` is the inclusive `x ± 1µs`.
fn inclusive_bounds(params: &Params) -> Result<(Option<Ts>, Option<Ts>), ApiError> {
    let inclusive = params.flag("inclusive");
    let latest = params.ts("latest", ApiError::InvalidTsLatest)?;
    let oldest = params.ts("oldest", ApiError::InvalidTsOldest)?;
    let latest = latest.map(|ts| {
        if inclusive {
            ts
        } else {
            Ts(ts.0.saturating_sub(1))
        }
    });
    let oldest = oldest.map(|ts| if inclusive { ts } else { Ts(ts.0 + 1) });
    Ok((latest, oldest))
}

/// Decodes a `next_ts` cursor.
fn cursor_ts(params: &Params) -> Result<Option<Ts>, ApiError> {
    match cursor::decode("next_ts", params.str("cursor").as_deref())? {
        Some(text) => text.parse().map(Some).map_err(|_| ApiError::InvalidCursor),
        None => Ok(None),
    }
}

/// `conversations.history`: newest first, `cursor` continues towards older.
pub async fn history(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let limit = params.limit(100, 999)?;
    let (mut latest, oldest) = inclusive_bounds(params)?;
    if let Some(position) = cursor_ts(params)? {
        // Continue strictly below the last message of the previous page.
        let below = Ts(position.0.saturating_sub(1));
        latest = Some(latest.map_or(below, |l| l.min(below)));
    }
    api.visible_channel(caller, &channel_id).await?;
    let range = HistoryRange {
        latest,
        oldest,
        inclusive: true,
        limit: limit + 1,
    };
    let mut messages = api
        .hub
        .store()
        .history(caller.team_id(), &channel_id, range)
        .await
        .map_err(internal("history"))?;
    let more = messages.len() > limit;
    messages.truncate(limit);
    let next = more
        .then(|| {
            messages
                .last()
                .map(|m| cursor::encode("next_ts", &m.ts.to_string()))
        })
        .flatten();
    fields(json!({
        "messages": messages,
        "has_more": more,
        "pin_count": 0,
        "response_metadata": next_cursor(next),
    }))
}

/// `conversations.replies`: the parent and its replies, oldest first; `cursor`
/// continues towards newer.
pub async fn replies(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let thread_ts = params
        .ts("ts", ApiError::InvalidTs)?
        .ok_or(ApiError::InvalidArguments)?;
    let limit = params.limit(1000, 1000)?;
    let (latest, mut oldest) = inclusive_bounds(params)?;
    if let Some(position) = cursor_ts(params)? {
        let above = Ts(position.0 + 1);
        oldest = Some(oldest.map_or(above, |o| o.max(above)));
    }
    api.visible_channel(caller, &channel_id).await?;
    let store = api.hub.store();
    let parent = store
        .message(caller.team_id(), &channel_id, thread_ts)
        .await
        .map_err(internal("thread parent"))?
        .ok_or(ApiError::ThreadNotFound)?;
    // A ts inside a thread names the whole thread.
    let root = parent.thread_ts.unwrap_or(parent.ts);
    let range = HistoryRange {
        latest,
        oldest,
        inclusive: true,
        limit: limit + 1,
    };
    let mut messages = store
        .replies(caller.team_id(), &channel_id, root, range)
        .await
        .map_err(internal("replies"))?;
    let more = messages.len() > limit;
    messages.truncate(limit);
    let next = more
        .then(|| {
            messages
                .last()
                .map(|m| cursor::encode("next_ts", &m.ts.to_string()))
        })
        .flatten();
    fields(json!({
        "messages": messages,
        "has_more": more,
        "response_metadata": next_cursor(next),
    }))
}

/// Sends a metadata change to the channel's actor.
async fn change(
    api: &Api,
    caller: &Caller,
    params: &Params,
    change: ChannelChange,
) -> Result<Channel, ApiError> {
    let channel_id = params.channel()?;
    let (channel, _) = api.visible_channel(caller, &channel_id).await?;
    let manages = matches!(
        change,
        ChannelChange::Rename(_) | ChannelChange::Archive | ChannelChange::Unarchive
    );
    if manages {
        policy::check(
            Actor::User(&caller.user),
            Action::ManageChannel { channel: &channel },
        )?;
    }
    let actor = api.hub.channel(caller.team_id(), &channel_id).await?;
    ask(&actor, |reply| ChannelMsg::Change {
        change,
        by: caller.user.id.clone(),
        reply,
    })
    .await?
}

/// `conversations.rename`.
pub async fn rename(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let name = params.str("name").unwrap_or_default();
    validate_channel_name(&name)?;
    let channel = change(api, caller, params, ChannelChange::Rename(name)).await?;
    fields(json!({ "channel": channel.to_api(true, &caller.user.id) }))
}

/// `conversations.archive` (`archive`) or `conversations.unarchive`.
pub async fn archive(api: &Api, caller: &Caller, params: &Params, archive: bool) -> MethodResult {
    let action = if archive {
        ChannelChange::Archive
    } else {
        ChannelChange::Unarchive
    };
    change(api, caller, params, action).await?;
    fields(json!({}))
}

/// `conversations.setTopic` (`topic`) or `conversations.setPurpose`.
pub async fn set_topic(api: &Api, caller: &Caller, params: &Params, topic: bool) -> MethodResult {
    let text = params
        .str(if topic { "topic" } else { "purpose" })
        .unwrap_or_default();
    let action = if topic {
        ChannelChange::Topic(text)
    } else {
        ChannelChange::Purpose(text)
    };
    let channel = change(api, caller, params, action).await?;
    fields(json!({ "channel": channel.to_api(true, &caller.user.id) }))
}

/// `conversations.open`: finds or creates the direct message (one other user,
/// or the caller alone) or multi-person direct message (two to eight others).
pub async fn open(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    if params.get("users").is_none() {
        // Reopening by id: the caller must be in it.
        let channel_id = params.channel()?;
        let (channel, member) = api.visible_channel(caller, &channel_id).await?;
        if !member {
            return Err(ApiError::ChannelNotFound);
        }
        return fields(
            json!({ "channel": channel.to_api(true, &caller.user.id), "already_open": true }),
        );
    }

    let mut others = params.user_list("users")?;
    others.retain(|u| u != &caller.user.id);
    others.sort();
    others.dedup();
    if others.len() > MAX_MPIM_OTHERS {
        return Err(ApiError::InvalidUserCount);
    }
    let store = api.hub.store();
    for user_id in &others {
        let user = store
            .user(caller.team_id(), user_id)
            .await
            .map_err(internal("user lookup"))?
            .ok_or(ApiError::UserNotFound)?;
        if user.deleted {
            return Err(ApiError::UserNotFound);
        }
    }

    let mut everyone = others.clone();
    everyone.push(caller.user.id.clone());
    everyone.sort();
    everyone.dedup();
    let kind = if others.len() <= 1 {
        ChannelKind::Im
    } else {
        ChannelKind::Mpim
    };
    let ids: Vec<&str> = everyone.iter().map(UserId::as_str).collect();
    let key = match kind {
        ChannelKind::Im => format!("im-{}", ids.join("-")),
        _ => format!("mpdm-{}", ids.join("--")),
    };

    let existing = store
        .channel_by_name(caller.team_id(), &key)
        .await
        .map_err(internal("direct message lookup"))?;
    if let Some(channel) = existing {
        return fields(
            json!({ "channel": channel.to_api(true, &caller.user.id), "already_open": true }),
        );
    }

    let now = Ts::now();
    let channel = Channel {
        id: if kind == ChannelKind::Im {
            ChannelId::generate_im()
        } else {
            ChannelId::generate()
        },
        team_id: caller.team_id().clone(),
        name: key.clone(),
        kind,
        creator: caller.user.id.clone(),
        created: now,
        is_archived: false,
        is_general: false,
        topic: TopicInfo::default(),
        purpose: TopicInfo::default(),
        im_user: others
            .first()
            .cloned()
            .or_else(|| Some(caller.user.id.clone())),
    };
    let mut writes = vec![Write::InsertChannel(channel.clone())];
    for user_id in &everyone {
        writes.push(Write::AddMember {
            team_id: channel.team_id.clone(),
            channel_id: channel.id.clone(),
            user_id: user_id.clone(),
            joined: now,
        });
    }
    match api.hub.write(writes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            // Another request opened the same conversation first.
            let channel = store
                .channel_by_name(caller.team_id(), &key)
                .await
                .map_err(internal("direct message lookup"))?
                .ok_or(ApiError::InternalError)?;
            return fields(
                json!({ "channel": channel.to_api(true, &caller.user.id), "already_open": true }),
            );
        }
        Err(error) => return Err(internal("direct message create")(error)),
    }
    api.hub.update_team_cache(caller.team_id(), |cache| {
        cache.upsert_channel(channel.clone());
        for user_id in &everyone {
            cache.add_member(&channel.id, user_id);
        }
    });

    for user_id in &everyone {
        let frame = if kind == ChannelKind::Im {
            events::im_created(user_id, &channel)
        } else {
            events::channel_joined(&channel, user_id)
        };
        api.hub.deliver_to_user(user_id, &frame);
    }
    tracing::info!(team = %channel.team_id, channel = %channel.id, "direct message opened");
    fields(json!({ "channel": channel.to_api(true, &caller.user.id) }))
}

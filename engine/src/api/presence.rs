//! `users.getPresence`, `users.setPresence` and the do-not-disturb methods
//! `dnd.setSnooze`, `dnd.endSnooze` and `dnd.info`. The state they read and
//! write lives in the presence registry (`actors/src/presence_registry.rs`).
//! DND schedules are not modelled: `dnd_enabled` is always false and only the
//! snooze counts.

use serde_json::json;

use switchboard_actors::ids::UserId;
use switchboard_actors::presence::{self, user_presence};
use switchboard_actors::presence_registry::unix_now;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};

/// Maximum snooze `dnd.setSnooze` accepts, in minutes (one year).
const MAX_SNOOZE_MINUTES: u64 = 365 * 24 * 60;

/// Slack's value for `next_dnd_start_ts` and `next_dnd_end_ts` when no DND
/// schedule is set.
const NO_DND_SCHEDULE: u64 = 1;

/// Returns the `user` argument, or the caller when it is absent, after checking
/// that the user exists in the caller's team.
async fn target_user(api: &Api, caller: &Caller, params: &Params) -> Result<UserId, ApiError> {
    if params.str("user").is_none_or(|text| text.is_empty()) {
        return Ok(caller.user.id.clone());
    }
    let user_id = params.user("user")?;
    api.hub
        .store()
        .user(caller.team_id(), &user_id)
        .await
        .map_err(internal("user lookup"))?
        .ok_or(ApiError::UserNotFound)?;
    Ok(user_id)
}

/// `users.getPresence`: `presence` for anyone; `online`, `auto_away`,
/// `manual_away`, `connection_count` and `last_activity` only for the caller,
/// as Slack does.
pub async fn get_presence(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let user_id = target_user(api, caller, params).await?;
    let presence = user_presence(&api.hub, caller.team_id(), &user_id);
    let word = if presence.active { "active" } else { "away" };
    if user_id != caller.user.id {
        return fields(json!({ "presence": word }));
    }
    fields(json!({
        "presence": word,
        "online": presence.online,
        "auto_away": presence.auto_away,
        "manual_away": presence.manual_away,
        "connection_count": presence.connection_count,
        "last_activity": presence.last_activity,
    }))
}

/// `users.setPresence`: `away` sets manual away, `auto` lets the devices decide.
pub fn set_presence(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let away = match params.str("presence").as_deref() {
        Some("away") => true,
        Some("auto") => false,
        _ => return Err(ApiError::InvalidPresence),
    };
    presence::set_manual_away(&api.hub, caller.team_id(), &caller.user.id, away);
    fields(json!({}))
}

/// `dnd.setSnooze`: snoozes notifications for `num_minutes`.
pub fn set_snooze(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let minutes: u64 = params
        .str("num_minutes")
        .and_then(|text| text.trim().parse().ok())
        .filter(|minutes| *minutes > 0)
        .ok_or(ApiError::MissingDuration)?;
    if minutes > MAX_SNOOZE_MINUTES {
        return Err(ApiError::InvalidArguments);
    }
    let now = unix_now();
    let until = now + minutes * 60;
    presence::set_snooze(&api.hub, caller.team_id(), &caller.user.id, Some(until));
    fields(json!({
        "snooze_enabled": true,
        "snooze_endtime": until,
        "snooze_remaining": until - now,
    }))
}

/// `dnd.endSnooze`: ends the caller's snooze; `snooze_not_active` when none runs.
pub fn end_snooze(api: &Api, caller: &Caller) -> MethodResult {
    if presence::snooze_end(&api.hub, caller.team_id(), &caller.user.id).is_none() {
        return Err(ApiError::SnoozeNotActive);
    }
    presence::set_snooze(&api.hub, caller.team_id(), &caller.user.id, None);
    fields(json!({
        "dnd_enabled": false,
        "next_dnd_start_ts": NO_DND_SCHEDULE,
        "next_dnd_end_ts": NO_DND_SCHEDULE,
        "snooze_enabled": false,
    }))
}

/// `dnd.info`: the snooze fields are returned for the caller only, as Slack does.
pub async fn dnd_info(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let user_id = target_user(api, caller, params).await?;
    let mut value = json!({
        "dnd_enabled": false,
        "next_dnd_start_ts": NO_DND_SCHEDULE,
        "next_dnd_end_ts": NO_DND_SCHEDULE,
    });
    if user_id == caller.user.id {
        let snooze_end = presence::snooze_end(&api.hub, caller.team_id(), &user_id);
        value["snooze_enabled"] = snooze_end.is_some().into();
        if let Some(until) = snooze_end {
            value["snooze_endtime"] = until.into();
            value["snooze_remaining"] = until.saturating_sub(unix_now()).into();
        }
    }
    fields(value)
}

//! `users.prefs.get` and `users.prefs.set`, limited to the one preference the
//! node acts on: `muted_channels`, the conversations that send the caller no
//! push notifications. Slack does not document these methods; their names and
//! the comma-separated `muted_channels` value follow what its clients send.

use std::collections::BTreeSet;

use serde_json::json;

use switchboard_actors::ids::{is_valid_id, ChannelId};
use switchboard_actors::ports::Write;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};

/// The preference `users.prefs.set` accepts.
const MUTED_CHANNELS: &str = "muted_channels";

/// Maximum number of conversations one member may mute.
const MAX_MUTED: usize = 1_000;

/// `users.prefs.get`: the caller's preferences.
pub async fn get(api: &Api, caller: &Caller) -> MethodResult {
    let muted = api
        .hub
        .store()
        .muted_channels(caller.team_id(), &caller.user.id)
        .await
        .map_err(internal("muted channels"))?;
    prefs_body(&muted)
}

/// `users.prefs.set`: `name=muted_channels` and `value`, a comma-separated
/// list of conversation ids that replaces the caller's list (empty unmutes
/// all). Every id must name a conversation the caller can see.
pub async fn set(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let name = params.required_str("name")?;
    if name != MUTED_CHANNELS {
        return Err(ApiError::InvalidArguments);
    }
    let value = params.str("value").unwrap_or_default();
    let mut muted = BTreeSet::new();
    for text in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !is_valid_id(text, &['C', 'D', 'G']) {
            return Err(ApiError::ChannelNotFound);
        }
        muted.insert(ChannelId::from(text));
    }
    if muted.len() > MAX_MUTED {
        return Err(ApiError::InvalidArguments);
    }
    for channel_id in &muted {
        api.visible_channel(caller, channel_id).await?;
    }

    let muted: Vec<ChannelId> = muted.into_iter().collect();
    let write = Write::SetMutedChannels {
        team_id: caller.team_id().clone(),
        user_id: caller.user.id.clone(),
        channels: muted.clone(),
    };
    api.hub
        .write(vec![write])
        .await
        .map_err(internal("muted channels write"))?;
    tracing::info!(team = %caller.team_id(), user = %caller.user.id, muted = muted.len(), "muted channels set");
    prefs_body(&muted)
}

/// Builds `{"prefs": {"muted_channels": "C1,C2"}}`.
fn prefs_body(muted: &[ChannelId]) -> MethodResult {
    let list: Vec<&str> = muted.iter().map(ChannelId::as_str).collect();
    fields(json!({ "prefs": { MUTED_CHANNELS: list.join(",") } }))
}

//! Methods served from the team cache (Flannel): the two boots (`rtm.start`,
//! `client.boot`), `users.list`, `users.info`, `users.infoBatch`,
//! `users.search`, `conversations.search` and `conversations.members`. They
//! read memory under a read lock; only misses and `latest` values reach the store.

use serde_json::{json, Map, Value};

use switchboard_actors::domain::{Channel, ChannelKind};
use switchboard_actors::ids::{ChannelId, UserId};
use switchboard_actors::ports::HistoryRange;
use switchboard_actors::team_cache::{SharedTeamCache, TeamCache};
use switchboard_actors::ApiError;

use super::params::Params;
use super::{cursor, fields, internal, next_cursor, rtm, Api, Caller, MethodResult};

/// Maximum number of ids one `users.infoBatch` call takes.
const MAX_BATCH_USERS: usize = 1000;

/// Returns the caller's team cache, loading the team on first use.
async fn cache_of(api: &Api, caller: &Caller) -> Result<SharedTeamCache, ApiError> {
    api.hub.team_cache(caller.team_id()).await
}

/// Returns whether the caller may see a conversation: public channels, or any
/// conversation they are a member of.
fn may_see(cache: &TeamCache, channel: &Channel, caller: &Caller) -> bool {
    !channel.kind.is_private() || cache.is_member(&channel.id, &caller.user.id)
}

/// `users.list` from the cache, paged by user id.
pub async fn users_list(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let limit = params.limit(200, 1000)?;
    let after = cursor::decode("user", params.str("cursor").as_deref())?.map(UserId);
    let cache = cache_of(api, caller).await?;
    let cache = cache.read().expect("team cache lock poisoned");
    // NOTE: a user created by the admin command in another process appears here
    // only once the cache has seen their id (a lookup or a connection) or the
    // team reloads.
    let mut users = cache.users_page(after.as_ref(), limit + 1);
    let more = users.len() > limit;
    users.truncate(limit);
    let next = more
        .then(|| users.last().map(|u| cursor::encode("user", u.id.as_str())))
        .flatten();
    let members: Vec<Value> = users.iter().map(|user| user.to_api()).collect();
    fields(json!({
        "members": members,
        "cache_ts": switchboard_actors::ts::Ts::now().seconds(),
        "response_metadata": next_cursor(next),
    }))
}

/// `users.info` from the cache; a miss is read from the store and cached.
pub async fn users_info(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let user_id = params.user("user")?;
    let cache = cache_of(api, caller).await?;
    let user = api
        .hub
        .cached_user(&cache, caller.team_id(), &user_id)
        .await
        .map_err(internal("user lookup"))?
        .ok_or(ApiError::UserNotFound)?;
    fields(json!({ "user": user.to_api() }))
}

/// `users.infoBatch` (not a Slack method): the profiles of many users in one
/// call. `users` is a comma-separated list of up to 1,000 ids. Returns `users`
/// in request order, duplicates removed, and `not_found` with the ids that
/// name no user of the team.
pub async fn users_info_batch(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let mut ids = params.user_list("users")?;
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    if ids.len() > MAX_BATCH_USERS {
        return Err(ApiError::InvalidArguments);
    }
    let cache = cache_of(api, caller).await?;
    let mut users = Vec::with_capacity(ids.len());
    let mut not_found = Vec::new();
    for id in ids {
        match api
            .hub
            .cached_user(&cache, caller.team_id(), &id)
            .await
            .map_err(internal("user lookup"))?
        {
            Some(user) => users.push(user.to_api()),
            None => not_found.push(id),
        }
    }
    fields(json!({ "users": users, "not_found": not_found }))
}

/// Reads `query` (required, may be empty) and `limit` (default 10, at most 100).
fn search_args(params: &Params) -> Result<(String, usize), ApiError> {
    let query = params
        .get("query")
        .map(|_| params.str("query").unwrap_or_default())
        .ok_or(ApiError::InvalidArguments)?;
    let limit = params.limit(10, 100)?;
    Ok((
        query.trim().trim_start_matches(['@', '#']).to_owned(),
        limit,
    ))
}

/// `users.search` (not a Slack method): active users whose name starts with
/// `query`, ignoring case and a leading `@`, ordered by name; for autocomplete.
pub async fn users_search(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let (query, limit) = search_args(params)?;
    let cache = cache_of(api, caller).await?;
    let cache = cache.read().expect("team cache lock poisoned");
    let members: Vec<Value> = cache
        .search_users(&query, limit)
        .into_iter()
        .map(|user| user.to_api())
        .collect();
    fields(json!({ "members": members }))
}

/// `conversations.search` (not a Slack method): channels whose name starts
/// with `query`, ignoring case and a leading `#`, ordered by name. Private
/// channels appear only to their members.
pub async fn conversations_search(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let (query, limit) = search_args(params)?;
    let cache = cache_of(api, caller).await?;
    let cache = cache.read().expect("team cache lock poisoned");
    let channels: Vec<Value> = cache
        .search_channels(&query, &caller.user.id, limit)
        .into_iter()
        .map(|channel| {
            let member = cache.is_member(&channel.id, &caller.user.id);
            channel.to_api(member, &caller.user.id)
        })
        .collect();
    fields(json!({ "channels": channels }))
}

/// `conversations.members` from the cache, paged by user id.
pub async fn conversations_members(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let channel_id = params.channel()?;
    let limit = params.limit(100, 1000)?;
    let after = cursor::decode("user", params.str("cursor").as_deref())?.map(UserId);
    let cache = cache_of(api, caller).await?;
    let cache = cache.read().expect("team cache lock poisoned");
    let channel = cache
        .channel(&channel_id)
        .filter(|channel| may_see(&cache, channel, caller))
        .ok_or(ApiError::ChannelNotFound)?;
    let mut members = cache.members_page(&channel.id, after.as_ref(), limit + 1);
    let more = members.len() > limit;
    members.truncate(limit);
    let next = more
        .then(|| members.last().map(|u| cursor::encode("user", u.as_str())))
        .flatten();
    fields(json!({ "members": members, "response_metadata": next_cursor(next) }))
}

/// `rtm.start`: the full snapshot, as Slack's retired method returned it: the
/// socket URL, self, team, every user, every conversation the caller may see
/// with its members, and the latest message of each. The yardstick for
/// `client.boot`.
pub async fn rtm_start(api: &Api, caller: &Caller, host: Option<&str>) -> MethodResult {
    let mut body = rtm::connect(api, caller, host).await?;
    let cache = cache_of(api, caller).await?;

    // Step 1: copy what the snapshot needs, so no lock is held across reads.
    let (users, mut visible) = {
        let cache = cache.read().expect("team cache lock poisoned");
        let users: Vec<Value> = cache
            .users_page(None, usize::MAX)
            .iter()
            .map(|u| u.to_api())
            .collect();
        let visible: Vec<(Channel, bool, Vec<UserId>)> = cache
            .channels()
            .filter(|channel| may_see(&cache, channel, caller))
            .map(|channel| {
                let member = cache.is_member(&channel.id, &caller.user.id);
                (
                    channel.clone(),
                    member,
                    cache.members(&channel.id).cloned().collect(),
                )
            })
            .collect();
        (users, visible)
    };
    visible.sort_by(|a, b| a.0.id.cmp(&b.0.id));

    // Step 2: the latest message of each conversation, from the store.
    let mut channels = Vec::new();
    let mut groups = Vec::new();
    let mut ims = Vec::new();
    for (channel, member, members) in visible {
        let latest = latest_message(api, caller, &channel.id).await?;
        let mut value = channel.to_api(member, &caller.user.id);
        value["members"] = json!(members);
        value["latest"] = latest;
        match channel.kind {
            ChannelKind::Public => channels.push(value),
            ChannelKind::Private | ChannelKind::Mpim => groups.push(value),
            ChannelKind::Im => ims.push(value),
        }
    }
    body.insert("users".into(), Value::Array(users));
    body.insert("channels".into(), Value::Array(channels));
    body.insert("groups".into(), Value::Array(groups));
    body.insert("ims".into(), Value::Array(ims));
    Ok(body)
}

/// Returns the newest top-level message of a conversation, or `null`.
async fn latest_message(
    api: &Api,
    caller: &Caller,
    channel_id: &ChannelId,
) -> Result<Value, ApiError> {
    let range = HistoryRange {
        latest: None,
        oldest: None,
        inclusive: true,
        limit: 1,
    };
    let newest = api
        .hub
        .store()
        .history(caller.team_id(), channel_id, range)
        .await
        .map_err(internal("latest message"))?;
    Ok(newest
        .first()
        .map(switchboard_actors::events::message_value)
        .unwrap_or(Value::Null))
}

/// `client.boot`: the light boot. The socket URL, self, team, and only the
/// conversations the caller is a member of, each with its `latest` ts and
/// `unread_count`. No other users: the client asks for them with
/// `users.infoBatch` or receives them before a message that needs them.
pub async fn client_boot(api: &Api, caller: &Caller, host: Option<&str>) -> MethodResult {
    let mut body = rtm::connect_with(api, caller, host, true).await?;
    let cache = cache_of(api, caller).await?;
    let (self_user, team, mine) = {
        let cache = cache.read().expect("team cache lock poisoned");
        // Each conversation with, for a direct message, the other member.
        let mine: Vec<(Channel, Option<UserId>)> = cache
            .member_channels(&caller.user.id)
            .filter_map(|id| cache.channel(id).cloned())
            .map(|channel| {
                let other = (channel.kind == ChannelKind::Im).then(|| {
                    cache
                        .members(&channel.id)
                        .find(|id| *id != &caller.user.id)
                        .unwrap_or(&caller.user.id)
                        .clone()
                });
                (channel, other)
            })
            .collect();
        let team = cache.team().clone();
        (caller.user.to_api(), team, mine)
    };

    let mut channels = Vec::with_capacity(mine.len());
    for (channel, other) in mine {
        let latest = api
            .hub
            .store()
            .last_ts(caller.team_id(), &channel.id)
            .await
            .map_err(internal("latest ts"))?;
        let mut value = Map::new();
        value.insert("id".into(), json!(channel.id));
        value.insert("name".into(), json!(channel.name));
        value.insert(
            "is_channel".into(),
            json!(channel.kind == ChannelKind::Public),
        );
        value.insert("is_private".into(), json!(channel.kind.is_private()));
        value.insert("is_im".into(), json!(channel.kind == ChannelKind::Im));
        value.insert("is_mpim".into(), json!(channel.kind == ChannelKind::Mpim));
        value.insert("is_archived".into(), json!(channel.is_archived));
        if let Some(other) = other {
            value.insert("user".into(), json!(other));
        }
        value.insert(
            "latest".into(),
            latest
                .map(|ts| json!(ts.to_string()))
                .unwrap_or(Value::Null),
        );
        // The message-post job keeps these counts; a member with no read
        // state yet has read nothing and been sent nothing since joining.
        let read = api
            .hub
            .store()
            .read_state(caller.team_id(), &channel.id, &caller.user.id)
            .await
            .map_err(internal("read state"))?
            .unwrap_or_default();
        value.insert("last_read".into(), json!(read.last_read.to_string()));
        value.insert("unread_count".into(), json!(read.unread_count));
        value.insert("unread_count_display".into(), json!(read.unread_count));
        value.insert("mention_count".into(), json!(read.mention_count));
        channels.push(Value::Object(value));
    }

    body.insert("self".into(), self_user);
    body.insert(
        "team".into(),
        json!({ "id": team.id, "name": team.name, "domain": team.domain }),
    );
    body.insert("channels".into(), Value::Array(channels));
    Ok(body)
}

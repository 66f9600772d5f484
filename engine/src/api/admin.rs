//! The `admin.*` methods: roles, deactivation and reactivation, session reset,
//! guest invitations and the audit log. The checks and write sets come from
//! `crate::admin`, shared with the `switchboard admin` command line.
//!
//! Names follow Slack's admin API where Slack has a method. Slack publishes no
//! method for three of these, so Switchboard names them:
//! `admin.users.reactivate`, `admin.users.transferPrimaryOwnership` and
//! `admin.audit.list` (Slack's audit log is a separate REST API).

use serde_json::json;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{ChannelId, UserId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ports::{Page, StoreError, Write};
use switchboard_actors::ApiError;

use super::params::Params;
use super::{cursor, fields, internal, next_cursor, Api, Caller, MethodResult};
use crate::admin::{plan_guest, plan_user_action, AdminError, NewGuest, UserAction};

/// Rejects a `team_id` argument naming another team than the caller's.
pub(super) fn check_team(caller: &Caller, params: &Params) -> Result<(), ApiError> {
    match params.str("team_id").filter(|t| !t.is_empty()) {
        Some(team) if team != caller.team_id().as_str() => Err(ApiError::TeamNotFound),
        _ => Ok(()),
    }
}

fn admin_error(error: AdminError) -> ApiError {
    match error {
        AdminError::Rejected(error) => error,
        AdminError::Store(error) => internal("admin action")(error),
    }
}

/// Commits an admin write set through the storage actor.
async fn commit(api: &Api, writes: Vec<switchboard_actors::ports::Write>) -> Result<(), ApiError> {
    if writes.is_empty() {
        return Ok(());
    }
    match api.hub.write(writes).await {
        Ok(()) => Ok(()),
        Err(StoreError::NotFound(_)) => Err(ApiError::UserNotFound),
        Err(error) => Err(internal("admin commit")(error)),
    }
}

/// `admin.users.setOwner`, `setAdmin`, `setRegular`, `remove` (deactivate),
/// `reactivate`, `session.reset` and `transferPrimaryOwnership`: one action on
/// the user named by `user_id`.
pub async fn user_action(
    api: &Api,
    caller: &Caller,
    params: &Params,
    action: UserAction,
) -> MethodResult {
    check_team(caller, params)?;
    let target = params.user("user_id")?;
    let writes = plan_user_action(
        api.hub.store().as_ref(),
        caller.team_id(),
        Some(&caller.user),
        &target,
        action,
    )
    .await
    .map_err(admin_error)?;
    // Every user whose record the action rewrites: the target, and the
    // previous primary owner of a transfer.
    let changed: Vec<UserId> = writes
        .iter()
        .filter_map(|write| match write {
            Write::UpdateUser(user) => Some(user.id.clone()),
            _ => None,
        })
        .collect();
    commit(api, writes).await?;
    tracing::info!(team = %caller.team_id(), actor = %caller.user.id, target = %target, action = ?action, "admin action committed");

    // The team cache serves users.info and users.list and authenticates
    // tokens, so it takes the new records before the method returns. The team
    // actor's audit-log poll does the same for the command line's changes.
    for user_id in &changed {
        match api.hub.store().user(caller.team_id(), user_id).await {
            Ok(Some(user)) => api
                .hub
                .update_team_cache(caller.team_id(), |cache| cache.upsert_user(user)),
            Ok(None) => {}
            Err(error) => {
                // The old record stays, but the user's tokens are checked
                // against the store again.
                tracing::warn!(team = %caller.team_id(), user = %user_id, %error, "refreshing a cached user failed");
                api.hub
                    .update_team_cache(caller.team_id(), |cache| cache.forget_tokens(user_id));
            }
        }
    }
    fields(json!({}))
}

/// `admin.users.invite`: creates a guest limited to `channel_ids`. Switchboard
/// sends no e-mail; the account exists at once and gets a token from
/// `switchboard admin create-token`. Only guests are invited this way: one of
/// `is_restricted` (multi-channel) or `is_ultra_restricted` (single-channel)
/// must be set. Returns the new `user`.
pub async fn invite(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    check_team(caller, params)?;
    let email = params.required_str("email")?;
    let role = if params.flag("is_ultra_restricted") {
        Role::SingleChannelGuest
    } else if params.flag("is_restricted") {
        Role::MultiChannelGuest
    } else {
        return Err(ApiError::InvalidArguments);
    };
    let channels: Vec<ChannelId> = params
        .required_str("channel_ids")?
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(ChannelId::from)
        .collect();
    let name = params
        .str("name")
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| email.split('@').next().unwrap_or_default().to_owned());
    let guest = NewGuest {
        name,
        email,
        real_name: params.str("real_name").filter(|n| !n.is_empty()),
        role,
        channels,
    };
    let (user, writes) = plan_guest(
        api.hub.store().as_ref(),
        caller.team_id(),
        Some(&caller.user),
        guest,
    )
    .await
    .map_err(admin_error)?;
    match api.hub.write(writes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(ApiError::NameTaken),
        Err(error) => return Err(internal("guest invite")(error)),
    }
    tracing::info!(team = %caller.team_id(), actor = %caller.user.id, guest = %user.id, role = role.as_str(), "guest invited");
    fields(json!({ "user": user.to_api() }))
}

/// `admin.audit.list`: the team's audit log, oldest first, paged by `cursor`;
/// owners only.
pub async fn audit_list(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    policy::check(Actor::User(&caller.user), Action::ReadAudit)?;
    let limit = params.limit(100, 1000)?;
    let after = match cursor::decode("audit", params.str("cursor").as_deref())? {
        Some(text) => Some(text.parse::<u64>().map_err(|_| ApiError::InvalidCursor)?),
        None => None,
    };
    let mut entries = api
        .hub
        .store()
        .audit_entries(
            caller.team_id(),
            Page {
                after,
                limit: limit + 1,
            },
        )
        .await
        .map_err(internal("audit log"))?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next = more
        .then(|| {
            entries
                .last()
                .map(|e| cursor::encode("audit", &e.id.to_string()))
        })
        .flatten();
    let items: Vec<_> = entries.iter().map(|entry| entry.to_api()).collect();
    fields(json!({ "entries": items, "response_metadata": next_cursor(next) }))
}

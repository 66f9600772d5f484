//! `api.test`, `auth.test`, `team.info` and `users.lookupByEmail`; the other
//! `users.*` methods read the team cache (`flannel.rs`).

use serde_json::{json, Value};

use switchboard_actors::domain::TokenKind;
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};

/// `api.test`: echoes the arguments; `error` makes it fail with that string.
pub fn api_test(params: &Params) -> MethodResult {
    if let Some(error) = params.str("error") {
        // Slack echoes the requested error; only known strings are honoured here.
        return Err(match error.as_str() {
            "invalid_auth" => ApiError::InvalidAuth,
            "not_authed" => ApiError::NotAuthed,
            _ => ApiError::InvalidArguments,
        });
    }
    let args: serde_json::Map<String, Value> = params
        .values()
        .iter()
        .filter(|(name, _)| name.as_str() != "token")
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if args.is_empty() {
        return fields(json!({}));
    }
    fields(json!({ "args": args }))
}

/// `auth.test`: who the token belongs to.
pub async fn auth_test(api: &Api, caller: &Caller, host: Option<&str>) -> MethodResult {
    let team = api
        .hub
        .store()
        .team(caller.team_id())
        .await
        .map_err(internal("team lookup"))?
        .ok_or(ApiError::TeamNotFound)?;
    let mut value = json!({
        "url": format!("{}/", api.base_url(host)),
        "team": team.name,
        "user": caller.user.name,
        "team_id": caller.team_id(),
        "user_id": caller.user.id,
        "is_enterprise_install": false,
    });
    if caller.kind == TokenKind::Bot {
        if let Some(bot_id) = &caller.user.bot_id {
            value["bot_id"] = bot_id.as_str().into();
        }
    }
    fields(value)
}

/// `team.info`.
pub async fn team_info(api: &Api, caller: &Caller) -> MethodResult {
    let team = api
        .hub
        .store()
        .team(caller.team_id())
        .await
        .map_err(internal("team lookup"))?
        .ok_or(ApiError::TeamNotFound)?;
    fields(json!({
        "team": {
            "id": team.id,
            "name": team.name,
            "domain": team.domain,
            "email_domain": "",
            "icon": { "image_default": true },
        }
    }))
}

/// `users.lookupByEmail`.
pub async fn lookup_by_email(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    let email = params.required_str("email")?;
    let user = api
        .hub
        .store()
        .user_by_email(caller.team_id(), email.trim())
        .await
        .map_err(internal("user lookup by email"))?
        .ok_or(ApiError::UsersNotFoundByEmail)?;
    fields(json!({ "user": user.to_api() }))
}

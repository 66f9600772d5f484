//! `admin.webhooks.create` and `admin.webhooks.revoke`. Slack has no public
//! method for these; the names follow its `admin.*` family.

use serde_json::json;

use switchboard_actors::ids::{is_valid_id, WebhookId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};
use crate::directory::DirectoryError;
use crate::webhooks::{create_webhook, revoke_webhook};

/// Maps a directory error: a bad argument is `invalid_arguments`, a store
/// failure `internal_error`.
fn directory_error(error: DirectoryError) -> ApiError {
    match error {
        DirectoryError::Invalid(reason) => {
            tracing::debug!(%reason, "webhook request rejected");
            ApiError::InvalidArguments
        }
        other => internal("webhook write")(other),
    }
}

/// `admin.webhooks.create`: `channel` (the default conversation) and an
/// optional `bot_user`; returns the webhook with its `url`.
pub async fn create(
    api: &Api,
    caller: &Caller,
    params: &Params,
    host: Option<&str>,
) -> MethodResult {
    policy::check(Actor::User(&caller.user), Action::ManageWebhooks)?;
    let channel_id = params.channel()?;
    api.visible_channel(caller, &channel_id).await?;
    let bot_user = match params.str("bot_user").filter(|u| !u.is_empty()) {
        Some(_) => Some(params.user("bot_user")?),
        None => None,
    };
    let created = create_webhook(
        api.hub.store().as_ref(),
        caller.team_id(),
        &channel_id,
        bot_user.as_ref(),
        &caller.user.id,
    )
    .await
    .map_err(directory_error)?;
    fields(json!({
        "webhook": {
            "id": created.webhook.id,
            "channel": created.webhook.channel_id,
            "bot_user_id": created.webhook.bot_user,
            "url": format!("{}{}", api.base_url(host), created.path),
        }
    }))
}

/// `admin.webhooks.revoke`: `webhook` is the `B…` id.
pub async fn revoke(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    policy::check(Actor::User(&caller.user), Action::ManageWebhooks)?;
    let id = params.required_str("webhook")?;
    if !is_valid_id(&id, &['B']) {
        return Err(ApiError::InvalidArguments);
    }
    revoke_webhook(api.hub.store().as_ref(), caller.team_id(), &WebhookId(id))
        .await
        .map_err(directory_error)?;
    fields(json!({}))
}

//! Creating and revoking incoming webhooks, for the admin API method and the
//! admin command. Like [`crate::directory`], these write through the store
//! directly, so they also work while no node runs.

use rand::RngCore;

use switchboard_actors::domain::Role;
use switchboard_actors::ids::{ChannelId, TeamId, UserId, WebhookId};
use switchboard_actors::ports::{Store, StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::webhook::Webhook;

use crate::auth::hash_token;
use crate::directory::{create_user, DirectoryError, NewUser};

/// A new webhook and the path of its URL, which holds the secret. The path is
/// shown once; only the secret's hash is stored.
#[derive(Clone, Debug)]
pub struct CreatedWebhook {
    /// The stored webhook.
    pub webhook: Webhook,
    /// `/hooks/T…/B…/SECRET`, to append to the node's base URL.
    pub path: String,
}

/// Creates a webhook that posts into `channel_id` by default, as `bot_user`
/// or, when `None`, as a new bot user named after the webhook.
pub async fn create_webhook(
    store: &dyn Store,
    team_id: &TeamId,
    channel_id: &ChannelId,
    bot_user: Option<&UserId>,
    created_by: &UserId,
) -> Result<CreatedWebhook, DirectoryError> {
    let channel = store.channel(team_id, channel_id).await?.ok_or_else(|| {
        DirectoryError::Invalid(format!("channel {channel_id} not found in team {team_id}"))
    })?;
    let id = WebhookId::generate();
    let bot = match bot_user {
        Some(user_id) => {
            let user = store.user(team_id, user_id).await?.ok_or_else(|| {
                DirectoryError::Invalid(format!("user {user_id} not found in team {team_id}"))
            })?;
            if !user.is_bot || user.deleted {
                return Err(DirectoryError::Invalid(format!(
                    "user {user_id} is not an active bot user; give a bot user or none to create one"
                )));
            }
            user
        }
        None => {
            let new = NewUser {
                name: format!("webhook-{}", id.as_str().to_lowercase()),
                real_name: Some("Incoming Webhook".into()),
                is_bot: true,
                role: Some(Role::Member),
                ..NewUser::default()
            };
            create_user(store, team_id, new).await?
        }
    };

    let mut secret = [0u8; 16];
    rand::rng().fill_bytes(&mut secret);
    let secret = hex::encode(secret);
    let webhook = Webhook {
        team_id: team_id.clone(),
        id,
        secret_hash: hash_token(&secret),
        channel_id: channel.id,
        bot_user: bot.id,
        created_by: created_by.clone(),
        created: Ts::now(),
        revoked: false,
    };
    commit_one(store, Write::InsertWebhook(webhook.clone())).await?;
    tracing::info!(team = %team_id, webhook = %webhook.id, channel = %webhook.channel_id, bot = %webhook.bot_user, "webhook created");
    let path = format!("/hooks/{}/{}/{}", team_id, webhook.id, secret);
    Ok(CreatedWebhook { webhook, path })
}

/// Revokes a webhook; its URL rejects every later post.
pub async fn revoke_webhook(
    store: &dyn Store,
    team_id: &TeamId,
    id: &WebhookId,
) -> Result<(), DirectoryError> {
    let write = Write::RevokeWebhook {
        team_id: team_id.clone(),
        id: id.clone(),
    };
    match commit_one(store, write).await {
        Ok(()) => {}
        Err(StoreError::NotFound(_)) => {
            return Err(DirectoryError::Invalid(format!(
                "webhook {id} not found in team {team_id}"
            )))
        }
        Err(error) => return Err(error.into()),
    }
    tracing::info!(team = %team_id, webhook = %id, "webhook revoked");
    Ok(())
}

async fn commit_one(store: &dyn Store, write: Write) -> Result<(), StoreError> {
    store
        .commit(vec![vec![write]])
        .await
        .pop()
        .unwrap_or_else(|| Err(StoreError::Backend("empty commit result".into())))
}

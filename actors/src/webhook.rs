//! Incoming webhooks: a URL that posts messages into a team as a bot.

use serde::{Deserialize, Serialize};

use crate::ids::{ChannelId, TeamId, UserId, WebhookId};
use crate::ts::Ts;

/// An incoming webhook. Its URL is `/hooks/{team_id}/{id}/{secret}`; only the
/// SHA-256 of the secret is stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Team the webhook posts into.
    pub team_id: TeamId,
    /// Webhook id, `B…`.
    pub id: WebhookId,
    /// Hex SHA-256 of the secret part of the URL.
    pub secret_hash: String,
    /// Conversation a payload without `channel` posts into.
    pub channel_id: ChannelId,
    /// Bot user the messages are posted as.
    pub bot_user: UserId,
    /// Admin who created the webhook.
    pub created_by: UserId,
    /// Creation time.
    pub created: Ts,
    /// Whether the webhook was revoked; a revoked webhook rejects every post.
    pub revoked: bool,
}

//! The incoming-webhook gateway: `POST /hooks/{team}/{webhook}/{secret}` with
//! Slack's incoming-webhook payload, as JSON or as a form with a `payload`
//! field. The message is posted as the webhook's bot and fanned out like any
//! other. A channel named in the payload that does not exist is created.
//!
//! Errors are plain-text bodies with an HTTP status, as Slack's webhooks
//! return them: `invalid_payload` and `no_text` (400), `invalid_token` (403),
//! `no_service` and `channel_not_found` (404), `channel_is_archived` (410).

use bytes::Bytes;
use serde_json::{Map, Value};
use warp::http::{header, HeaderMap, StatusCode};
use warp::reply::{Reply, Response};

use switchboard_actors::channel::{ChannelMsg, PostRequest};
use switchboard_actors::domain::{validate_channel_name, Channel, ChannelKind, TopicInfo, User};
use switchboard_actors::events;
use switchboard_actors::hub::ask;
use switchboard_actors::ids::{is_valid_id, ChannelId, TeamId, WebhookId};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ts::Ts;
use switchboard_actors::webhook::Webhook;
use switchboard_actors::{ApiError, Hub};

use crate::api::params::Params;
use crate::auth::hash_token;

/// Payload fields kept as given in the stored message.
const JSON_FIELDS: &[&str] = &["blocks", "attachments"];

/// Payload fields that change how the bot is shown.
const DISPLAY_FIELDS: &[&str] = &["username", "icon_emoji", "icon_url"];

/// A failed webhook post: the HTTP status and Slack's plain-text error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HookError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, one of Slack's webhook error strings.
    pub code: &'static str,
}

impl HookError {
    const INVALID_PAYLOAD: HookError = HookError::new(StatusCode::BAD_REQUEST, "invalid_payload");
    const NO_TEXT: HookError = HookError::new(StatusCode::BAD_REQUEST, "no_text");
    const INVALID_TOKEN: HookError = HookError::new(StatusCode::FORBIDDEN, "invalid_token");
    const NO_SERVICE: HookError = HookError::new(StatusCode::NOT_FOUND, "no_service");
    const CHANNEL_NOT_FOUND: HookError = HookError::new(StatusCode::NOT_FOUND, "channel_not_found");
    const CHANNEL_IS_ARCHIVED: HookError = HookError::new(StatusCode::GONE, "channel_is_archived");
    const INTERNAL: HookError = HookError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
    /// The body is larger than the configured limit.
    pub const TOO_LARGE: HookError =
        HookError::new(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large");

    const fn new(status: StatusCode, code: &'static str) -> HookError {
        HookError { status, code }
    }

    /// Builds the plain-text response.
    pub fn into_response(self) -> Response {
        warp::reply::with_status(self.code, self.status).into_response()
    }

    /// Maps an error of the posting path.
    fn from_api(error: ApiError) -> HookError {
        match error {
            ApiError::IsArchived => HookError::CHANNEL_IS_ARCHIVED,
            ApiError::NoText => HookError::NO_TEXT,
            ApiError::MsgTooLong | ApiError::ThreadNotFound | ApiError::InvalidTs => {
                HookError::INVALID_PAYLOAD
            }
            ApiError::ChannelNotFound | ApiError::NotInChannel => HookError::CHANNEL_NOT_FOUND,
            _ => HookError::INTERNAL,
        }
    }
}

/// Logs a store failure and maps it to `internal_error`.
fn store_failed(action: &'static str) -> impl Fn(StoreError) -> HookError {
    move |error| {
        tracing::error!(action, %error, "store failed during a webhook post");
        HookError::INTERNAL
    }
}

/// Checks the URL's ids and secret and returns the live webhook. Unknown and
/// revoked webhooks are `no_service`, and a wrong secret is `invalid_token`.
pub async fn authenticate(
    hub: &Hub,
    team: &str,
    webhook: &str,
    secret: &str,
) -> Result<Webhook, HookError> {
    if !is_valid_id(team, &['T']) || !is_valid_id(webhook, &['B']) {
        return Err(HookError::NO_SERVICE);
    }
    let found = hub
        .store()
        .webhook(&TeamId::from(team), &WebhookId::from(webhook))
        .await
        .map_err(store_failed("webhook lookup"))?
        .filter(|webhook| !webhook.revoked)
        .ok_or(HookError::NO_SERVICE)?;
    if found.secret_hash != hash_token(secret) {
        tracing::info!(team, webhook, "webhook post with a wrong secret");
        return Err(HookError::INVALID_TOKEN);
    }
    Ok(found)
}

/// Parses the body: a JSON object, or a form whose `payload` field contains one.
fn parse_payload(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, HookError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let json = if content_type.starts_with("application/x-www-form-urlencoded") {
        let form = Params::parse_form(body).map_err(|_| HookError::INVALID_PAYLOAD)?;
        match form.get("payload") {
            Some(Value::String(payload)) => payload.as_bytes().to_vec(),
            _ => return Err(HookError::INVALID_PAYLOAD),
        }
    } else {
        body.to_vec()
    };
    match serde_json::from_slice(&json) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(HookError::INVALID_PAYLOAD),
    }
}

/// Turns a payload into the message to post, checking field types.
fn build_request(
    webhook: &Webhook,
    bot: &User,
    payload: &Map<String, Value>,
) -> Result<PostRequest, HookError> {
    let text = match payload.get("text") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(_) => return Err(HookError::INVALID_PAYLOAD),
    };
    let mut extra = Map::new();
    for name in JSON_FIELDS {
        match payload.get(*name) {
            None | Some(Value::Null) => {}
            Some(value @ Value::Array(_)) => {
                extra.insert((*name).into(), value.clone());
            }
            Some(_) => return Err(HookError::INVALID_PAYLOAD),
        }
    }
    for name in DISPLAY_FIELDS {
        match payload.get(*name) {
            None | Some(Value::Null) => {}
            Some(Value::String(value)) if !value.is_empty() => {
                extra.insert((*name).into(), value.clone().into());
            }
            Some(Value::String(_)) => {}
            Some(_) => return Err(HookError::INVALID_PAYLOAD),
        }
    }
    let thread_ts = match payload.get("thread_ts") {
        None | Some(Value::Null) => None,
        Some(Value::String(ts)) => Some(ts.parse().map_err(|_| HookError::INVALID_PAYLOAD)?),
        Some(_) => return Err(HookError::INVALID_PAYLOAD),
    };
    let request = PostRequest {
        user: webhook.bot_user.clone(),
        text,
        thread_ts,
        bot_id: bot.bot_id.clone(),
        subtype: Some("bot_message".into()),
        extra,
        files: Vec::new(),
        writes: Vec::new(),
    };
    request.validate().map_err(HookError::from_api)?;
    Ok(request)
}

/// Returns the conversation a payload names: the webhook's default when
/// `channel` is absent, an id, or `#name` (created when missing).
async fn resolve_channel(
    hub: &Hub,
    webhook: &Webhook,
    payload: &Map<String, Value>,
) -> Result<Channel, HookError> {
    let target = match payload.get("channel") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(target)) => target.trim().to_owned(),
        Some(_) => return Err(HookError::INVALID_PAYLOAD),
    };
    let store = hub.store();
    if target.is_empty() || is_valid_id(&target, &['C', 'G', 'D']) {
        let channel_id = if target.is_empty() {
            webhook.channel_id.clone()
        } else {
            ChannelId(target)
        };
        return store
            .channel(&webhook.team_id, &channel_id)
            .await
            .map_err(store_failed("channel lookup"))?
            .ok_or(HookError::CHANNEL_NOT_FOUND);
    }
    let name = target.strip_prefix('#').unwrap_or(&target).to_owned();
    validate_channel_name(&name).map_err(|_| HookError::CHANNEL_NOT_FOUND)?;
    if let Some(channel) = store
        .channel_by_name(&webhook.team_id, &name)
        .await
        .map_err(store_failed("channel lookup by name"))?
    {
        return Ok(channel);
    }
    create_channel(hub, webhook, name).await
}

/// Creates a public channel with the bot as creator and member. When another
/// request creates the same name first, the store's unique (team_id, name)
/// rejects this insert and the winner's channel is returned.
async fn create_channel(hub: &Hub, webhook: &Webhook, name: String) -> Result<Channel, HookError> {
    let now = Ts::now();
    let channel = Channel {
        id: ChannelId::generate(),
        team_id: webhook.team_id.clone(),
        name,
        kind: ChannelKind::Public,
        creator: webhook.bot_user.clone(),
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
            user_id: webhook.bot_user.clone(),
            joined: now,
        },
    ];
    match hub.write(writes).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return hub
                .store()
                .channel_by_name(&webhook.team_id, &channel.name)
                .await
                .map_err(store_failed("channel lookup by name"))?
                .ok_or(HookError::INTERNAL);
        }
        Err(error) => return Err(store_failed("channel create")(error)),
    }
    hub.broadcast_to_team(&channel.team_id, events::channel_created(&channel))
        .await;
    tracing::info!(team = %channel.team_id, channel = %channel.id, name = %channel.name, webhook = %webhook.id, "channel created by a webhook");
    Ok(channel)
}

/// Makes the bot a member of the conversation when it is not: it joins any
/// public channel and the webhook's default conversation, and nothing else.
async fn ensure_member(hub: &Hub, webhook: &Webhook, channel: &Channel) -> Result<(), HookError> {
    let member = hub
        .store()
        .is_member(&webhook.team_id, &channel.id, &webhook.bot_user)
        .await
        .map_err(store_failed("membership lookup"))?;
    if member {
        return Ok(());
    }
    if channel.kind != ChannelKind::Public && channel.id != webhook.channel_id {
        return Err(HookError::CHANNEL_NOT_FOUND);
    }
    let actor = hub
        .channel(&webhook.team_id, &channel.id)
        .await
        .map_err(HookError::from_api)?;
    ask(&actor, |reply| ChannelMsg::Join {
        user: webhook.bot_user.clone(),
        inviter: None,
        reply,
    })
    .await
    .map_err(HookError::from_api)?
    .map_err(HookError::from_api)?;
    Ok(())
}

/// Posts one webhook payload; the webhook is already authenticated.
pub async fn post(
    hub: &Hub,
    webhook: &Webhook,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(), HookError> {
    let payload = parse_payload(headers, body)?;
    let bot = hub
        .store()
        .user(&webhook.team_id, &webhook.bot_user)
        .await
        .map_err(store_failed("bot lookup"))?
        .filter(|bot| !bot.deleted)
        .ok_or(HookError::NO_SERVICE)?;
    let request = build_request(webhook, &bot, &payload)?;
    let channel = resolve_channel(hub, webhook, &payload).await?;
    if channel.is_archived {
        return Err(HookError::CHANNEL_IS_ARCHIVED);
    }
    ensure_member(hub, webhook, &channel).await?;
    let message = hub
        .post_message(&webhook.team_id, &channel.id, request)
        .await
        .map_err(HookError::from_api)?;
    tracing::debug!(team = %webhook.team_id, webhook = %webhook.id, channel = %channel.id, ts = %message.ts, "webhook message posted");
    Ok(())
}

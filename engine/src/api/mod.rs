//! The Web API: Slack's method names, argument names, response shapes and error
//! strings. [`Api::call`] runs one method for one caller; `http` maps it onto
//! warp routes.

mod chat;
mod conversations;
pub mod cursor;
pub mod params;
mod reactions;
pub mod rtm;
mod users;

use std::sync::Arc;

use serde_json::{json, Map, Value};

use switchboard_actors::domain::{Channel, TokenKind, User};
use switchboard_actors::ids::{ChannelId, TeamId};
use switchboard_actors::{ApiError, Hub};

use crate::auth::{hash_token, token_team};
use params::Params;
use rtm::Tickets;

/// Result of a method: the fields to add next to `"ok": true`.
pub type MethodResult = Result<Map<String, Value>, ApiError>;

/// The authenticated caller of a method.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The caller's user record.
    pub user: User,
    /// Whether the token is a user or a bot token.
    pub kind: TokenKind,
}

impl Caller {
    /// Returns the caller's team.
    pub fn team_id(&self) -> &TeamId {
        &self.user.team_id
    }
}

/// The Web API of one node.
#[derive(Clone)]
pub struct Api {
    /// Shared node state.
    hub: Hub,
    /// Socket tickets issued by `rtm.connect`.
    tickets: Arc<Tickets>,
    /// Base URL clients reach the node at, such as `http://127.0.0.1:8080`;
    /// `None` means the request's `Host` header decides.
    public_url: Option<String>,
}

impl Api {
    /// Creates the API over a hub.
    pub fn new(hub: Hub, tickets: Arc<Tickets>, public_url: Option<String>) -> Api {
        Api {
            hub,
            tickets,
            public_url,
        }
    }

    /// Returns the socket tickets.
    pub fn tickets(&self) -> &Arc<Tickets> {
        &self.tickets
    }

    /// Runs a method and returns the whole response body, `{"ok":true,...}` or
    /// `{"ok":false,"error":...}`. `host` is the request's `Host` header.
    pub async fn call(
        &self,
        method: &str,
        token: Option<&str>,
        params: Params,
        host: Option<&str>,
    ) -> Value {
        let result = self.dispatch(method, token, &params, host).await;
        match result {
            Ok(mut fields) => {
                let mut body = Map::with_capacity(fields.len() + 1);
                body.insert("ok".into(), Value::Bool(true));
                body.append(&mut fields);
                Value::Object(body)
            }
            Err(error) => {
                if error == ApiError::InternalError {
                    tracing::error!(method, "method failed with internal_error");
                }
                json!({ "ok": false, "error": error.code() })
            }
        }
    }

    async fn dispatch(
        &self,
        method: &str,
        token: Option<&str>,
        params: &Params,
        host: Option<&str>,
    ) -> MethodResult {
        // Methods that need no token.
        if method == "api.test" {
            return users::api_test(params);
        }
        if !is_known_method(method) {
            return Err(ApiError::UnknownMethod);
        }

        let caller = self.authenticate(token).await?;
        match method {
            "auth.test" => users::auth_test(self, &caller, host).await,
            "team.info" => users::team_info(self, &caller).await,
            "users.list" => users::list(self, &caller, params).await,
            "users.info" => users::info(self, &caller, params).await,
            "users.lookupByEmail" => users::lookup_by_email(self, &caller, params).await,
            "conversations.create" => conversations::create(self, &caller, params).await,
            "conversations.list" => conversations::list(self, &caller, params).await,
            "conversations.info" => conversations::info(self, &caller, params).await,
            "conversations.join" => conversations::join(self, &caller, params).await,
            "conversations.leave" => conversations::leave(self, &caller, params).await,
            "conversations.invite" => conversations::invite(self, &caller, params).await,
            "conversations.kick" => conversations::kick(self, &caller, params).await,
            "conversations.members" => conversations::members(self, &caller, params).await,
            "conversations.history" => conversations::history(self, &caller, params).await,
            "conversations.replies" => conversations::replies(self, &caller, params).await,
            "conversations.rename" => conversations::rename(self, &caller, params).await,
            "conversations.archive" => conversations::archive(self, &caller, params, true).await,
            "conversations.unarchive" => conversations::archive(self, &caller, params, false).await,
            "conversations.setTopic" => conversations::set_topic(self, &caller, params, true).await,
            "conversations.setPurpose" => {
                conversations::set_topic(self, &caller, params, false).await
            }
            "conversations.open" => conversations::open(self, &caller, params).await,
            "conversations.mark" => conversations::mark(self, &caller, params).await,
            "chat.postMessage" => chat::post_message(self, &caller, params).await,
            "chat.update" => chat::update(self, &caller, params).await,
            "chat.delete" => chat::delete(self, &caller, params).await,
            "chat.postEphemeral" => chat::post_ephemeral(self, &caller, params).await,
            "chat.getPermalink" => chat::get_permalink(self, &caller, params, host).await,
            "reactions.add" => reactions::react(self, &caller, params, true).await,
            "reactions.remove" => reactions::react(self, &caller, params, false).await,
            "reactions.get" => reactions::get(self, &caller, params).await,
            "rtm.connect" => rtm::connect(self, &caller, host).await,
            _ => Err(ApiError::UnknownMethod),
        }
    }

    /// Resolves a token to its caller. `not_authed` without a token,
    /// `invalid_auth` for an unknown or revoked one, `account_inactive` for a
    /// deactivated user.
    pub async fn authenticate(&self, token: Option<&str>) -> Result<Caller, ApiError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(ApiError::NotAuthed)?;
        let team_id = token_team(token).ok_or(ApiError::InvalidAuth)?;
        let store = self.hub.store();
        let record = store
            .token(&team_id, &hash_token(token))
            .await
            .map_err(internal("token lookup"))?
            .filter(|record| !record.revoked)
            .ok_or(ApiError::InvalidAuth)?;
        let user = store
            .user(&team_id, &record.user_id)
            .await
            .map_err(internal("user lookup"))?
            .ok_or(ApiError::InvalidAuth)?;
        if user.deleted {
            return Err(ApiError::AccountInactive);
        }
        Ok(Caller {
            user,
            kind: record.kind,
        })
    }

    /// Returns the base URL for links and socket URLs.
    fn base_url(&self, host: Option<&str>) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        format!("http://{}", host.unwrap_or("127.0.0.1"))
    }

    /// Loads a conversation the caller may see: any public channel of their
    /// team, or a private one they are a member of. Returns it with whether the
    /// caller is a member.
    async fn visible_channel(
        &self,
        caller: &Caller,
        channel_id: &ChannelId,
    ) -> Result<(Channel, bool), ApiError> {
        let store = self.hub.store();
        let channel = store
            .channel(caller.team_id(), channel_id)
            .await
            .map_err(internal("channel lookup"))?
            .ok_or(ApiError::ChannelNotFound)?;
        let member = store
            .is_member(caller.team_id(), channel_id, &caller.user.id)
            .await
            .map_err(internal("membership lookup"))?;
        if channel.kind.is_private() && !member {
            return Err(ApiError::ChannelNotFound);
        }
        Ok((channel, member))
    }
}

/// Every method this node serves.
const METHODS: &[&str] = &[
    "auth.test",
    "team.info",
    "users.list",
    "users.info",
    "users.lookupByEmail",
    "conversations.create",
    "conversations.list",
    "conversations.info",
    "conversations.join",
    "conversations.leave",
    "conversations.invite",
    "conversations.kick",
    "conversations.members",
    "conversations.history",
    "conversations.replies",
    "conversations.rename",
    "conversations.archive",
    "conversations.unarchive",
    "conversations.setTopic",
    "conversations.setPurpose",
    "conversations.open",
    "conversations.mark",
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.postEphemeral",
    "chat.getPermalink",
    "reactions.add",
    "reactions.remove",
    "reactions.get",
    "rtm.connect",
];

fn is_known_method(method: &str) -> bool {
    METHODS.contains(&method)
}

/// Returns a closure that logs a store error and maps it to `internal_error`.
pub(crate) fn internal<E: std::fmt::Display>(action: &'static str) -> impl Fn(E) -> ApiError {
    move |error| {
        tracing::error!(action, %error, "store read failed");
        ApiError::InternalError
    }
}

/// Builds a method result from a `json!` object.
pub(crate) fn fields(value: Value) -> MethodResult {
    match value {
        Value::Object(map) => Ok(map),
        _ => Ok(Map::new()),
    }
}

/// Builds `response_metadata` with the next cursor (empty when done).
pub(crate) fn next_cursor(cursor: Option<String>) -> Value {
    json!({ "next_cursor": cursor.unwrap_or_default() })
}

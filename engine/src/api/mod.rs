//! The Web API: Slack's method names, argument names, response shapes and error
//! strings. [`Api::call`] runs one method for one caller; `http` maps it onto
//! warp routes.

mod admin;
mod billing;
mod chat;
mod conversations;
pub mod cursor;
mod files;
mod flannel;
pub mod params;
mod prefs;
mod presence;
mod reactions;
mod reminder_time;
mod reminders;
pub mod rtm;
mod users;
mod webhooks;

use std::sync::Arc;

use serde_json::{json, Map, Value};

use switchboard_actors::domain::{Channel, Role, TokenKind, User};
use switchboard_actors::ids::{ChannelId, TeamId};
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::{ApiError, Hub};

use crate::admin::UserAction;

use crate::auth::{hash_token, token_team};
use crate::files::blobs::{Blobs, StagedBlob};
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

/// Credential that identifies the caller of a request.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    /// An API token (`Authorization: Bearer` or the `token` argument), or none.
    Token(Option<&'a str>),
    /// The web client's session cookie text.
    BrowserSession(&'a str),
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
    /// The bytes of uploaded files.
    blobs: Arc<Blobs>,
}

impl Api {
    /// Creates the API over a hub.
    pub fn new(
        hub: Hub,
        tickets: Arc<Tickets>,
        public_url: Option<String>,
        blobs: Arc<Blobs>,
    ) -> Api {
        Api {
            hub,
            tickets,
            public_url,
            blobs,
        }
    }

    /// Returns the shared node state.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Returns the store of uploaded files' bytes.
    pub fn blobs(&self) -> &Arc<Blobs> {
        &self.blobs
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
        self.call_with(method, Credential::Token(token), params, host)
            .await
    }

    /// Runs a method for the caller a credential names; see [`Api::call`].
    pub async fn call_with(
        &self,
        method: &str,
        credential: Credential<'_>,
        params: Params,
        host: Option<&str>,
    ) -> Value {
        let result = self.dispatch(method, credential, &params, host).await;
        response_body(method, result)
    }

    /// Runs `files.upload` with the bytes of a multipart `file` part that the
    /// HTTP layer already staged. Returns the whole response body.
    pub async fn call_upload(
        &self,
        token: Option<&str>,
        params: Params,
        staged: StagedBlob,
        host: Option<&str>,
    ) -> Value {
        let result = match self.authenticate(token).await {
            Ok(caller) => files::upload(self, &caller, &params, Some(staged), host).await,
            Err(error) => {
                self.blobs.discard(staged).await;
                Err(error)
            }
        };
        response_body("files.upload", result)
    }
}

/// Builds the response body of a method: `{"ok":true,...}` or
/// `{"ok":false,"error":...}`.
fn response_body(method: &str, result: MethodResult) -> Value {
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

impl Api {
    async fn dispatch(
        &self,
        method: &str,
        credential: Credential<'_>,
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

        let caller = match credential {
            Credential::Token(token) => self.authenticate(token).await?,
            Credential::BrowserSession(cookie) => self.authenticate_browser(cookie).await?,
        };
        match method {
            "auth.test" => users::auth_test(self, &caller, host).await,
            "team.info" => users::team_info(self, &caller).await,
            "users.list" => flannel::users_list(self, &caller, params).await,
            "users.info" => flannel::users_info(self, &caller, params).await,
            "users.infoBatch" => flannel::users_info_batch(self, &caller, params).await,
            "users.search" => flannel::users_search(self, &caller, params).await,
            "conversations.search" => flannel::conversations_search(self, &caller, params).await,
            "rtm.start" => flannel::rtm_start(self, &caller, host).await,
            "client.boot" => flannel::client_boot(self, &caller, host).await,
            "users.lookupByEmail" => users::lookup_by_email(self, &caller, params).await,
            "conversations.create" => conversations::create(self, &caller, params).await,
            "conversations.list" => conversations::list(self, &caller, params).await,
            "conversations.info" => conversations::info(self, &caller, params).await,
            "conversations.join" => conversations::join(self, &caller, params).await,
            "conversations.leave" => conversations::leave(self, &caller, params).await,
            "conversations.invite" => conversations::invite(self, &caller, params).await,
            "conversations.kick" => conversations::kick(self, &caller, params).await,
            "conversations.members" => flannel::conversations_members(self, &caller, params).await,
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
            "users.prefs.get" => prefs::get(self, &caller).await,
            "users.prefs.set" => prefs::set(self, &caller, params).await,
            "chat.postMessage" => chat::post_message(self, &caller, params).await,
            "chat.update" => chat::update(self, &caller, params).await,
            "chat.delete" => chat::delete(self, &caller, params).await,
            "chat.postEphemeral" => chat::post_ephemeral(self, &caller, params).await,
            "chat.getPermalink" => chat::get_permalink(self, &caller, params, host).await,
            "reactions.add" => reactions::react(self, &caller, params, true).await,
            "reactions.remove" => reactions::react(self, &caller, params, false).await,
            "reactions.get" => reactions::get(self, &caller, params).await,
            "rtm.connect" => rtm::connect(self, &caller, host).await,
            "users.getPresence" => presence::get_presence(self, &caller, params).await,
            "users.setPresence" => presence::set_presence(self, &caller, params),
            "dnd.setSnooze" => presence::set_snooze(self, &caller, params),
            "dnd.endSnooze" => presence::end_snooze(self, &caller),
            "dnd.info" => presence::dnd_info(self, &caller, params).await,
            "admin.users.setOwner" => {
                admin::user_action(self, &caller, params, UserAction::SetRole(Role::Owner)).await
            }
            "admin.users.setAdmin" => {
                admin::user_action(self, &caller, params, UserAction::SetRole(Role::Admin)).await
            }
            "admin.users.setRegular" => {
                admin::user_action(self, &caller, params, UserAction::SetRole(Role::Member)).await
            }
            "admin.users.transferPrimaryOwnership" => {
                admin::user_action(self, &caller, params, UserAction::TransferPrimaryOwner).await
            }
            "admin.users.remove" => {
                admin::user_action(self, &caller, params, UserAction::Deactivate).await
            }
            "admin.users.reactivate" => {
                admin::user_action(self, &caller, params, UserAction::Reactivate).await
            }
            "admin.users.session.reset" => {
                admin::user_action(self, &caller, params, UserAction::ResetSessions).await
            }
            "admin.users.invite" => admin::invite(self, &caller, params).await,
            "admin.audit.list" => admin::audit_list(self, &caller, params).await,
            "admin.billing.report" => billing::report(self, &caller, params).await,
            "team.billableInfo" => billing::billable_info(self, &caller, params).await,
            "files.getUploadURLExternal" => {
                files::get_upload_url(self, &caller, params, host).await
            }
            "files.completeUploadExternal" => {
                files::complete_upload(self, &caller, params, host).await
            }
            "files.info" => files::info(self, &caller, params, host).await,
            "files.list" => files::list(self, &caller, params, host).await,
            "files.delete" => files::delete(self, &caller, params).await,
            "files.upload" => files::upload(self, &caller, params, None, host).await,
            "admin.webhooks.create" => webhooks::create(self, &caller, params, host).await,
            "admin.webhooks.revoke" => webhooks::revoke(self, &caller, params).await,
            "reminders.add" => reminders::add(self, &caller, params).await,
            "reminders.list" => reminders::list(self, &caller).await,
            "reminders.info" => reminders::info(self, &caller, params).await,
            "reminders.complete" => reminders::complete(self, &caller, params).await,
            "reminders.delete" => reminders::delete(self, &caller, params).await,
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
        let hash = hash_token(token);
        // A remembered token is trusted only while the cache contains every
        // admin action in the store. A deactivation from the admin command line
        // (another process) sends the request to the store until it is applied.
        let cached = self.hub.read_loaded_cache(&team_id, |cache| {
            let (user, kind) = cache.token_user(&hash)?;
            let caller = Caller {
                user: user.clone(),
                kind,
            };
            Some((caller, cache.applied_audit_id()))
        });
        if let Some((caller, applied)) = cached {
            if self.hub.cache_is_current(&team_id, applied).await {
                return Ok(caller);
            }
        }

        let store = self.hub.store();
        let record = store
            .token(&team_id, &hash)
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
        self.hub.update_team_cache(&team_id, |cache| {
            cache.remember_token(hash, &user.id, record.kind)
        });
        Ok(Caller {
            user,
            kind: record.kind,
        })
    }

    /// Resolves a web client's session cookie to its caller, who acts with a
    /// user token's rights. `invalid_auth` for an unknown or ended session.
    pub async fn authenticate_browser(&self, cookie: &str) -> Result<Caller, ApiError> {
        let store = self.hub.store();
        let session = crate::web_auth::browser_session(store.as_ref(), cookie)
            .await
            .map_err(internal("browser session lookup"))?
            .ok_or(ApiError::InvalidAuth)?;
        let user = store
            .user(&session.team_id, &session.user_id)
            .await
            .map_err(internal("user lookup"))?
            .ok_or(ApiError::InvalidAuth)?;
        if user.deleted {
            return Err(ApiError::AccountInactive);
        }
        Ok(Caller {
            user,
            kind: TokenKind::User,
        })
    }

    /// Returns the base URL for links and socket URLs.
    pub(crate) fn base_url(&self, host: Option<&str>) -> String {
        if let Some(url) = &self.public_url {
            return url.trim_end_matches('/').to_owned();
        }
        format!("http://{}", host.unwrap_or("127.0.0.1"))
    }

    /// Loads a conversation the caller may see by the permission policy (a
    /// public channel or one they are a member of; for guests, only the
    /// latter). Returns it with whether the caller is a member.
    async fn visible_channel(
        &self,
        caller: &Caller,
        channel_id: &ChannelId,
    ) -> Result<(Channel, bool), ApiError> {
        // A member's conversation comes from the team cache when it has it.
        // Everything else is read from the store, a non-member's view of a
        // public channel too.
        let cached = self
            .hub
            .cached_member_access(caller.team_id(), channel_id, &caller.user.id);
        if let Some((_, channel, _)) = cached {
            policy::check(
                Actor::User(&caller.user),
                Action::SeeChannel {
                    channel: &channel,
                    is_member: true,
                },
            )?;
            return Ok((channel, true));
        }

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
        policy::check(
            Actor::User(&caller.user),
            Action::SeeChannel {
                channel: &channel,
                is_member: member,
            },
        )?;
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
    "users.prefs.get",
    "users.prefs.set",
    "chat.postMessage",
    "chat.update",
    "chat.delete",
    "chat.postEphemeral",
    "chat.getPermalink",
    "reactions.add",
    "reactions.remove",
    "reactions.get",
    "rtm.connect",
    "users.getPresence",
    "users.setPresence",
    "dnd.setSnooze",
    "dnd.endSnooze",
    "dnd.info",
    "admin.users.setOwner",
    "admin.users.setAdmin",
    "admin.users.setRegular",
    "admin.users.transferPrimaryOwnership",
    "admin.users.remove",
    "admin.users.reactivate",
    "admin.users.session.reset",
    "admin.users.invite",
    "admin.audit.list",
    "admin.billing.report",
    "team.billableInfo",
    "rtm.start",
    "client.boot",
    "users.infoBatch",
    "users.search",
    "conversations.search",
    "files.getUploadURLExternal",
    "files.completeUploadExternal",
    "files.info",
    "files.list",
    "files.delete",
    "files.upload",
    "admin.webhooks.create",
    "admin.webhooks.revoke",
    "reminders.add",
    "reminders.list",
    "reminders.info",
    "reminders.complete",
    "reminders.delete",
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

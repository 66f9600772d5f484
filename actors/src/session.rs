//! The session actor: one per real-time connection. It takes the client's frames
//! in order (`ping`, `typing`, `message`, `presence_sub`, `presence_query`,
//! `tickle`) and answers on the session's queue. Events from channels reach the
//! queue directly through the session's handle. So do presence changes of the
//! users the session subscribed to: presence actors push them into the
//! session's presence inbox, and the node's presence batcher sends them in
//! batches (see `session/presence_batch.rs` and `presence_batcher.rs`).

use std::collections::HashSet;
use std::sync::Arc;

use ractor::{Actor, ActorProcessingErr, ActorRef};
use serde_json::{Map, Value};

use crate::channel::{ChannelMsg, PostRequest};
use crate::error::ApiError;
use crate::events;
use crate::hub::Hub;
use crate::ids::{is_valid_id, BotId, ChannelId, UserId};
use crate::presence;
use crate::presence_batcher::PresenceInbox;
use crate::session_handle::SessionHandle;
use crate::ts::Ts;

mod presence_batch;

/// Messages of a session actor: its whole interface.
pub enum SessionMsg {
    /// A text frame from the client.
    Frame(String),
    /// Panic inside the handler, for supervision tests.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// Arguments of a session actor.
pub struct SessionArgs {
    /// Shared node state.
    pub hub: Hub,
    /// The session's handle; replies go into its queue.
    pub handle: SessionHandle,
    /// Bot integration when the user is a bot user.
    pub bot_id: Option<BotId>,
}

/// State of a session actor.
pub struct SessionState {
    /// Shared node state.
    hub: Hub,
    /// The session's handle.
    handle: SessionHandle,
    /// Bot integration when the user is a bot user.
    bot_id: Option<BotId>,
    /// Users whose presence the session subscribed to with `presence_sub`.
    presence_subscriptions: HashSet<UserId>,
    /// The inbox into which presence actors push the changes of those users.
    presence_inbox: Arc<PresenceInbox>,
}

/// RTM error code for a frame that is not valid JSON or has no known `type`.
const ERROR_BAD_FRAME: u32 = 1;
/// RTM error code for a frame that failed in the API (its `msg` is Slack's string).
const ERROR_REJECTED: u32 = 2;

/// The session actor (see the module docs).
pub struct SessionActor;

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = SessionState;
    type Arguments = SessionArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: SessionArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let presence_inbox = Arc::new(PresenceInbox::new(args.handle.clone()));
        Ok(SessionState {
            hub: args.hub,
            handle: args.handle,
            bot_id: args.bot_id,
            presence_subscriptions: HashSet::new(),
            presence_inbox,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        state.unsubscribe_all();
        Ok(())
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: SessionMsg,
        state: &mut SessionState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            SessionMsg::Frame(text) => state.frame(&text).await,
            #[cfg(feature = "fault-injection")]
            SessionMsg::Panic => panic!("fault injection: session {} panicked", state.handle.id),
        }
        Ok(())
    }
}

impl SessionState {
    /// Handles one client frame. Every frame, even an invalid one, counts as
    /// activity of this session's device for presence.
    async fn frame(&mut self, text: &str) {
        presence::record_activity(&self.hub, &self.handle.user_id, self.handle.id);
        let frame: Map<String, Value> = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(_) => {
                self.handle
                    .deliver(&events::reply_error(None, ERROR_BAD_FRAME, "invalid_json"));
                return;
            }
        };
        let id = frame.get("id").cloned();
        let kind = frame
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match kind {
            "ping" => {
                self.handle.deliver(&events::pong(id.as_ref(), &frame));
            }
            "typing" => {
                let Some(channel_id) = channel_arg(&frame) else {
                    self.reject(id.as_ref(), ApiError::ChannelNotFound);
                    return;
                };
                let allowed = self
                    .hub
                    .authorize_post(&self.handle.team_id, &channel_id, &self.handle.user_id)
                    .await;
                if let Err(error) = allowed {
                    self.reject(id.as_ref(), error);
                    return;
                }
                match self.hub.channel(&self.handle.team_id, &channel_id).await {
                    Ok(channel) => {
                        let user = self.handle.user_id.clone();
                        let _ = channel.send_message(ChannelMsg::Typing { user });
                    }
                    Err(error) => self.reject(id.as_ref(), error),
                }
            }
            "message" => {
                let Some(reply_to) = id else {
                    self.reject(None, ApiError::InvalidArguments);
                    return;
                };
                match self.post(&frame).await {
                    Ok(message) => {
                        self.handle.deliver(&events::reply_ok(&reply_to, &message));
                    }
                    Err(error) => self.reject(Some(&reply_to), error),
                }
            }
            "presence_sub" => match user_ids_arg(&frame) {
                Some(users) => self.subscribe_presence(users),
                None => self.reject(id.as_ref(), ApiError::InvalidArguments),
            },
            "presence_query" => match user_ids_arg(&frame) {
                Some(users) => self.query_presence(&users),
                None => self.reject(id.as_ref(), ApiError::InvalidArguments),
            },
            // Slack clients send `tickle` to report user activity; the frame
            // already counted as activity above.
            "tickle" => {}
            _ => {
                self.handle.deliver(&events::reply_error(
                    id.as_ref(),
                    ERROR_BAD_FRAME,
                    "unknown_type",
                ));
            }
        }
    }

    /// Posts a `message` frame as the session's user.
    async fn post(&self, frame: &Map<String, Value>) -> Result<crate::domain::Message, ApiError> {
        let channel_id = channel_arg(frame).ok_or(ApiError::ChannelNotFound)?;
        self.hub
            .authorize_post(&self.handle.team_id, &channel_id, &self.handle.user_id)
            .await?;
        let thread_ts = match frame.get("thread_ts").and_then(Value::as_str) {
            Some(ts) => Some(ts.parse::<Ts>().map_err(|_| ApiError::InvalidTs)?),
            None => None,
        };
        let mut extra = Map::new();
        for key in ["blocks", "attachments"] {
            if let Some(value) = frame.get(key) {
                extra.insert(key.into(), value.clone());
            }
        }
        let request = PostRequest {
            user: self.handle.user_id.clone(),
            text: frame
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            thread_ts,
            bot_id: self.bot_id.clone(),
            subtype: None,
            extra,
            files: Vec::new(),
            writes: Vec::new(),
        };
        self.hub
            .post_message(&self.handle.team_id, &channel_id, request)
            .await
    }

    fn reject(&self, reply_to: Option<&Value>, error: ApiError) {
        self.handle
            .deliver(&events::reply_error(reply_to, ERROR_REJECTED, error.code()));
    }
}

/// Returns the frame's `ids` when it is a list of well-formed user ids.
fn user_ids_arg(frame: &Map<String, Value>) -> Option<Vec<UserId>> {
    let ids = frame.get("ids")?.as_array()?;
    ids.iter()
        .map(|id| {
            id.as_str()
                .filter(|id| is_valid_id(id, &['U', 'W']))
                .map(UserId::from)
        })
        .collect()
}

/// Returns the frame's `channel` when it is a well-formed conversation id.
fn channel_arg(frame: &Map<String, Value>) -> Option<ChannelId> {
    frame
        .get("channel")
        .and_then(Value::as_str)
        .filter(|id| is_valid_id(id, &['C', 'D', 'G']))
        .map(ChannelId::from)
}

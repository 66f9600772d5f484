//! The channel actor: one per active conversation. It owns the conversation's
//! membership, its connected sessions and the order of its events. Every change
//! is persisted through the storage actor first; only after the commit is the
//! event encoded once and queued, as the same bytes, on every subscribed session.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::{Map, Value};

use crate::domain::{
    validate_channel_name, validate_message_text, Channel, ChannelKind, Edited, Message,
    MAX_TOPIC_CHARS,
};
use crate::error::ApiError;
use crate::events;
use crate::file::FileShare;
use crate::hub::Hub;
use crate::ids::{BotId, ChannelId, FileId, SessionId, TeamId, UserId};
use crate::jobs::{Job, JobPayload};
use crate::ports::{Page, StoreError, Write};
use crate::session_handle::SessionHandle;
use crate::ts::Ts;

/// A new message to post.
#[derive(Clone, Debug, Default)]
pub struct PostRequest {
    /// Author (a bot user for bot tokens).
    pub user: UserId,
    /// Text in Slack's markup; may be empty when blocks or attachments are given.
    pub text: String,
    /// Parent of the thread to reply in.
    pub thread_ts: Option<Ts>,
    /// Bot integration of a bot author.
    pub bot_id: Option<BotId>,
    /// Subtype, such as `bot_message`.
    pub subtype: Option<String>,
    /// Extra fields kept as given: `blocks`, `attachments`, `username`,
    /// `icon_emoji`, `icon_url`, `metadata`, and `files` for a file share.
    pub extra: Map<String, Value>,
    /// Files the message shares into the conversation. Each share is stored
    /// with the message, and each file gets a `file_shared` event after it.
    pub files: Vec<FileId>,
    /// Further writes committed in the same write set as the message, such as
    /// the `FinishJob` of the job that posts it. When one of them fails, the
    /// message is not stored and the post fails.
    pub writes: Vec<Write>,
}

impl PostRequest {
    /// Checks the text limit and that there is something to show.
    pub fn validate(&self) -> Result<(), ApiError> {
        let has_content = !self.text.trim().is_empty()
            || self.extra.contains_key("blocks")
            || self.extra.contains_key("attachments")
            || !self.files.is_empty();
        if !has_content {
            return Err(ApiError::NoText);
        }
        validate_message_text(&self.text)
    }
}

/// A change to a conversation's metadata.
#[derive(Clone, Debug, PartialEq)]
pub enum ChannelChange {
    /// New name (validated by Slack's rules).
    Rename(String),
    /// Make the conversation read only.
    Archive,
    /// Make it writable again.
    Unarchive,
    /// New topic.
    Topic(String),
    /// New purpose.
    Purpose(String),
}

/// Result of a join: whether the user was a member already.
#[derive(Clone, Debug)]
pub struct JoinOutcome {
    /// The conversation after the join.
    pub channel: Channel,
    /// `true` when nothing changed because the user was a member.
    pub already_in_channel: bool,
}

/// Messages of a channel actor: its whole interface.
pub enum ChannelMsg {
    /// Post a message; replies with the stored message after it committed.
    Post {
        /// The message to post.
        request: PostRequest,
        /// Receives the stored message or the error.
        reply: RpcReplyPort<Result<Message, ApiError>>,
    },
    /// Edit a message's text (author only).
    Update {
        /// The editor.
        user: UserId,
        /// The message.
        ts: Ts,
        /// New text.
        text: String,
        /// New `blocks` / `attachments`, when given.
        extra: Map<String, Value>,
        /// Receives the edited message.
        reply: RpcReplyPort<Result<Message, ApiError>>,
    },
    /// Delete a message (author only).
    Delete {
        /// The user deleting.
        user: UserId,
        /// The message.
        ts: Ts,
        /// Receives the deleted message's `ts`.
        reply: RpcReplyPort<Result<Ts, ApiError>>,
    },
    /// Add or remove a reaction.
    React {
        /// The reacting user.
        user: UserId,
        /// The message.
        ts: Ts,
        /// Emoji name without colons.
        name: String,
        /// `true` to add, `false` to remove.
        add: bool,
        /// Receives the outcome.
        reply: RpcReplyPort<Result<(), ApiError>>,
    },
    /// Add a member (join, or invite when `inviter` is set).
    Join {
        /// The new member.
        user: UserId,
        /// The user who invited them.
        inviter: Option<UserId>,
        /// Receives the conversation and whether the user was a member already.
        reply: RpcReplyPort<Result<JoinOutcome, ApiError>>,
    },
    /// Remove a member (leave, or kick when `by` is set).
    Leave {
        /// The member leaving.
        user: UserId,
        /// The user removing them.
        by: Option<UserId>,
        /// Receives the outcome.
        reply: RpcReplyPort<Result<(), ApiError>>,
    },
    /// Change the conversation's name, archive state, topic or purpose.
    Change {
        /// What to change.
        change: ChannelChange,
        /// The member making the change.
        by: UserId,
        /// Receives the changed conversation.
        reply: RpcReplyPort<Result<Channel, ApiError>>,
    },
    /// Tell the other members' sessions that `user` is typing.
    Typing {
        /// The typing user.
        user: UserId,
    },
    /// Deliver a message, not stored, to one member's sessions only.
    Ephemeral {
        /// The recipient.
        to: UserId,
        /// The message.
        message: Message,
        /// Receives the outcome.
        reply: RpcReplyPort<Result<(), ApiError>>,
    },
    /// Attach link previews to a message (the URL-unfurl job); previews
    /// replace earlier ones of the same `from_url`.
    Attach {
        /// The message.
        ts: Ts,
        /// Slack unfurl attachments, each with a `from_url`.
        attachments: Vec<Value>,
        /// Receives the changed message.
        reply: RpcReplyPort<Result<Message, ApiError>>,
    },
    /// Deliver events to this session (idempotent).
    Subscribe(SessionHandle),
    /// Stop delivering events to this session.
    Unsubscribe(SessionId),
    /// The storage actor finished the write behind `effect`.
    Committed {
        /// The commit outcome.
        outcome: Result<(), StoreError>,
        /// What to do now that the write is durable (boxed: it is the largest
        /// variant by far and would size every message).
        effect: Box<Effect>,
    },
    /// Panic inside the handler, for supervision tests.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// Work that waits for a commit: the events to send and the caller to reply to.
pub enum Effect {
    /// A message was stored.
    Posted {
        /// The stored message.
        message: Message,
        /// Files the message shares.
        files: Vec<FileId>,
        /// The poster.
        reply: RpcReplyPort<Result<Message, ApiError>>,
    },
    /// A message was edited.
    Edited {
        /// After the edit.
        updated: Message,
        /// Before the edit.
        previous: Message,
        /// The editor.
        reply: RpcReplyPort<Result<Message, ApiError>>,
    },
    /// A message was deleted.
    Deleted {
        /// The message as it was.
        previous: Message,
        /// The deleter.
        reply: RpcReplyPort<Result<Ts, ApiError>>,
    },
    /// A reaction was added or removed.
    Reacted {
        /// `true` when added.
        added: bool,
        /// The reacting user.
        user: UserId,
        /// Emoji name.
        name: String,
        /// The message reacted to.
        item: Message,
        /// The reacting caller.
        reply: RpcReplyPort<Result<(), ApiError>>,
    },
    /// A member joined.
    Joined {
        /// The new member.
        user: UserId,
        /// Who invited them.
        inviter: Option<UserId>,
        /// The stored `channel_join` message.
        notice: Message,
        /// The caller.
        reply: RpcReplyPort<Result<JoinOutcome, ApiError>>,
    },
    /// A member left or was removed.
    Left {
        /// The former member.
        user: UserId,
        /// The stored `channel_leave` message.
        notice: Message,
        /// The caller.
        reply: RpcReplyPort<Result<(), ApiError>>,
    },
    /// Metadata changed.
    Changed {
        /// The conversation after the change.
        updated: Channel,
        /// What changed.
        change: ChannelChange,
        /// Who changed it.
        by: UserId,
        /// The stored notice message (topic and purpose changes).
        notice: Option<Message>,
        /// The caller.
        reply: RpcReplyPort<Result<Channel, ApiError>>,
    },
}

/// Arguments of a channel actor.
pub struct ChannelArgs {
    /// Shared node state.
    pub hub: Hub,
    /// Team of the channel.
    pub team_id: TeamId,
    /// The channel.
    pub channel_id: ChannelId,
}

/// State of a channel actor.
pub struct ChannelState {
    /// Shared node state.
    hub: Hub,
    /// The conversation as last committed.
    channel: Channel,
    /// Member ids as last committed.
    members: HashSet<UserId>,
    /// Sessions that receive this channel's events.
    subscribers: HashMap<SessionId, SessionHandle>,
    /// Highest `ts` handed out; the next message gets a greater one.
    last_ts: Ts,
}

/// The channel actor (see the module docs).
pub struct ChannelActor;

/// Page size used when loading a channel's members.
const MEMBER_PAGE: usize = 1000;

impl Actor for ChannelActor {
    type Msg = ChannelMsg;
    type State = ChannelState;
    type Arguments = ChannelArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: ChannelArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        let store = args.hub.store().clone();

        // Step 1: the channel itself, which must belong to the team.
        let channel = store
            .channel(&args.team_id, &args.channel_id)
            .await?
            .ok_or_else(|| {
                format!(
                    "channel {} not found in team {}",
                    args.channel_id, args.team_id
                )
            })?;

        // Step 2: its members, page by page.
        let mut members = HashSet::new();
        let mut after = None;
        loop {
            let page = store
                .members(
                    &args.team_id,
                    &args.channel_id,
                    Page {
                        after: after.clone(),
                        limit: MEMBER_PAGE,
                    },
                )
                .await?;
            let full = page.len() == MEMBER_PAGE;
            after = page.last().cloned();
            members.extend(page);
            if !full {
                break;
            }
        }

        // Step 3: the last ts, so new messages sort after everything stored.
        let last_ts = store
            .last_ts(&args.team_id, &args.channel_id)
            .await?
            .unwrap_or_default();

        // Step 4: subscribe the members' live sessions.
        let mut subscribers = HashMap::new();
        for member in &members {
            for handle in args.hub.registry().user_sessions(member) {
                subscribers.insert(handle.id, handle);
            }
        }

        tracing::debug!(
            team = %args.team_id,
            channel = %args.channel_id,
            members = members.len(),
            sessions = subscribers.len(),
            "channel actor started"
        );
        Ok(ChannelState {
            hub: args.hub,
            channel,
            members,
            subscribers,
            last_ts,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut ChannelState,
    ) -> Result<(), ActorProcessingErr> {
        tracing::debug!(channel = %state.channel.id, "channel actor stopped");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: ChannelMsg,
        state: &mut ChannelState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ChannelMsg::Post { request, reply } => state.post(&myself, request, reply).await,
            ChannelMsg::Update {
                user,
                ts,
                text,
                extra,
                reply,
            } => state.update(&myself, user, ts, text, extra, reply).await,
            ChannelMsg::Delete { user, ts, reply } => state.delete(&myself, user, ts, reply).await,
            ChannelMsg::React {
                user,
                ts,
                name,
                add,
                reply,
            } => state.react(&myself, user, ts, name, add, reply).await,
            ChannelMsg::Join {
                user,
                inviter,
                reply,
            } => state.join(&myself, user, inviter, reply),
            ChannelMsg::Leave { user, by, reply } => state.leave(&myself, user, by, reply),
            ChannelMsg::Change { change, by, reply } => state.change(&myself, change, by, reply),
            ChannelMsg::Typing { user } => state.typing(&user),
            ChannelMsg::Ephemeral { to, message, reply } => {
                let frame = events::message(&message);
                for handle in state.subscribers.values().filter(|h| h.user_id == to) {
                    handle.deliver(&frame);
                }
                let _ = reply.send(Ok(()));
            }
            ChannelMsg::Attach {
                ts,
                attachments,
                reply,
            } => state.attach(&myself, ts, attachments, reply).await,
            ChannelMsg::Subscribe(handle) => {
                // The team actor subscribes a session to the channels the store
                // lists for its user, so the user is a member even when this
                // actor has not seen the join (an admin command wrote it).
                if !handle.is_closed() {
                    state.members.insert(handle.user_id.clone());
                    state.subscribers.insert(handle.id, handle);
                }
            }
            ChannelMsg::Unsubscribe(session_id) => {
                state.subscribers.remove(&session_id);
            }
            ChannelMsg::Committed { outcome, effect } => state.committed(outcome, *effect).await,
            #[cfg(feature = "fault-injection")]
            ChannelMsg::Panic => panic!("fault injection: channel {} panicked", state.channel.id),
        }
        Ok(())
    }
}

impl ChannelState {
    /// Persists `writes`; when they commit, the actor receives `effect` back.
    fn persist(&self, myself: &ActorRef<ChannelMsg>, writes: Vec<Write>, effect: Effect) {
        let myself = myself.clone();
        self.hub.write_then(
            writes,
            Box::new(move |outcome| {
                if let Err(error) = myself.send_message(ChannelMsg::Committed { outcome, effect: Box::new(effect) }) {
                    tracing::error!(actor = %myself.get_id(), %error, "channel actor gone before its commit completed");
                }
            }),
        );
    }

    /// Returns the next `ts` and remembers it.
    fn next_ts(&mut self) -> Ts {
        self.last_ts = Ts::next_after(self.last_ts);
        self.last_ts
    }

    /// Checks that `user` may write: the conversation is open and they are a
    /// member. A user missing from the member set is looked up in the store once,
    /// because another process (an admin command) may have added them.
    async fn check_writable(&mut self, user: &UserId) -> Result<(), ApiError> {
        if self.channel.is_archived {
            return Err(ApiError::IsArchived);
        }
        if self.members.contains(user) {
            return Ok(());
        }
        let stored = self
            .hub
            .store()
            .is_member(&self.channel.team_id, &self.channel.id, user)
            .await
            .map_err(|error| {
                tracing::error!(channel = %self.channel.id, %error, "membership lookup failed");
                ApiError::InternalError
            })?;
        if !stored {
            return Err(ApiError::NotInChannel);
        }
        self.members.insert(user.clone());
        for handle in self.hub.registry().user_sessions(user) {
            self.subscribers.insert(handle.id, handle);
        }
        Ok(())
    }

    /// Loads a message of this channel.
    async fn load_message(&self, ts: Ts) -> Result<Message, ApiError> {
        match self
            .hub
            .store()
            .message(&self.channel.team_id, &self.channel.id, ts)
            .await
        {
            Ok(Some(message)) => Ok(message),
            Ok(None) => Err(ApiError::MessageNotFound),
            Err(error) => {
                tracing::error!(channel = %self.channel.id, %error, "loading a message failed");
                Err(ApiError::InternalError)
            }
        }
    }

    /// Queues a frame on every subscribed session and drops sessions that ended.
    fn fanout(&mut self, frame: &Bytes) {
        let mut gone = Vec::new();
        for (id, handle) in &self.subscribers {
            if !handle.deliver(frame) {
                gone.push(*id);
            }
        }
        for id in gone {
            self.subscribers.remove(&id);
        }
    }

    /// Queues, on each subscriber that has not been sent it, the profile of
    /// every user the message comes from or mentions, ahead of the message.
    /// A session without the push enabled costs one atomic load per user.
    fn push_profiles(&self, message: &Message) {
        let users = crate::profile_push::referenced_users(message);
        for user_id in &users {
            // Encoded on the first session that needs it, then shared.
            let mut frame: Option<Option<Bytes>> = None;
            for handle in self.subscribers.values() {
                if !handle.profiles.claim(user_id) {
                    continue;
                }
                let frame = frame.get_or_insert_with(|| self.profile_frame(user_id));
                if let Some(frame) = frame {
                    handle.deliver(frame);
                }
            }
        }
    }

    /// Encodes a `user_change` event for a user of the team cache.
    fn profile_frame(&self, user_id: &UserId) -> Option<Bytes> {
        let cache = self.hub.registry().caches.get(&self.channel.team_id)?;
        let cache = cache.read().expect("team cache lock poisoned");
        cache.user(user_id).map(crate::profile_push::user_change)
    }

    /// Sends a frame to the whole team for a public channel, to members otherwise.
    async fn announce(&mut self, frame: Bytes) {
        if self.channel.kind == ChannelKind::Public {
            self.hub
                .broadcast_to_team(&self.channel.team_id, frame)
                .await;
        } else {
            self.fanout(&frame);
        }
    }

    async fn post(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        request: PostRequest,
        reply: RpcReplyPort<Result<Message, ApiError>>,
    ) {
        let check = match request.validate() {
            Ok(()) => self.check_writable(&request.user).await,
            Err(error) => Err(error),
        };
        if let Err(error) = check {
            let _ = reply.send(Err(error));
            return;
        }

        // A reply names the thread's parent; a reply to a reply joins the same thread.
        let mut parent = None;
        if let Some(thread_ts) = request.thread_ts {
            match self.load_message(thread_ts).await {
                Ok(found) => parent = Some(found),
                Err(ApiError::MessageNotFound) => {
                    let _ = reply.send(Err(ApiError::ThreadNotFound));
                    return;
                }
                Err(error) => {
                    let _ = reply.send(Err(error));
                    return;
                }
            }
        }

        let ts = self.next_ts();
        let mut message = Message::new(
            self.channel.team_id.clone(),
            self.channel.id.clone(),
            request.user,
            request.text,
            ts,
        );
        message.bot_id = request.bot_id;
        message.subtype = request.subtype;
        message.extra = request.extra;
        if let Some(parent) = parent {
            message.thread_ts = Some(parent.thread_ts.unwrap_or(parent.ts));
            message.parent_user_id = Some(parent.user);
        }

        // The message's side effects (mentions, unread counts, pushes, unfurls)
        // run as a job that commits with the message: both exist or neither.
        let job = Job::new(
            message.team.clone(),
            &JobPayload::MessagePost {
                channel_id: message.channel.clone(),
                ts,
            },
        );
        let mut writes = vec![Write::InsertMessage(message.clone()), Write::InsertJob(job)];
        for file_id in &request.files {
            writes.push(Write::ShareFile(FileShare {
                team_id: self.channel.team_id.clone(),
                file_id: file_id.clone(),
                channel_id: self.channel.id.clone(),
                ts,
            }));
        }
        writes.extend(request.writes);
        let effect = Effect::Posted {
            message,
            files: request.files,
            reply,
        };
        self.persist(myself, writes, effect);
    }

    async fn update(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        user: UserId,
        ts: Ts,
        text: String,
        extra: Map<String, Value>,
        reply: RpcReplyPort<Result<Message, ApiError>>,
    ) {
        let previous = match self.load_message(ts).await {
            Ok(previous) => previous,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let check = if previous.user != user {
            Err(ApiError::CantUpdateMessage)
        } else if self.channel.is_archived {
            Err(ApiError::IsArchived)
        } else {
            validate_message_text(&text)
        };
        if let Err(error) = check {
            let _ = reply.send(Err(error));
            return;
        }

        let mut updated = previous.clone();
        updated.text = text;
        updated.extra.extend(extra);
        updated.edited = Some(Edited {
            user,
            ts: Ts::now(),
        });
        let writes = vec![Write::UpdateMessage(updated.clone())];
        self.persist(
            myself,
            writes,
            Effect::Edited {
                updated,
                previous,
                reply,
            },
        );
    }

    async fn attach(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        ts: Ts,
        attachments: Vec<Value>,
        reply: RpcReplyPort<Result<Message, ApiError>>,
    ) {
        let previous = match self.load_message(ts).await {
            Ok(previous) => previous,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let mut updated = previous.clone();
        let new_urls: Vec<&Value> = attachments.iter().map(|a| &a["from_url"]).collect();
        let mut merged: Vec<Value> = match updated.extra.get("attachments") {
            Some(Value::Array(existing)) => existing
                .iter()
                .filter(|a| a.get("from_url").is_none_or(|url| !new_urls.contains(&url)))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        merged.extend(attachments);
        updated
            .extra
            .insert("attachments".into(), Value::Array(merged));
        let writes = vec![Write::UpdateMessage(updated.clone())];
        self.persist(
            myself,
            writes,
            Effect::Edited {
                updated,
                previous,
                reply,
            },
        );
    }

    async fn delete(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        user: UserId,
        ts: Ts,
        reply: RpcReplyPort<Result<Ts, ApiError>>,
    ) {
        let previous = match self.load_message(ts).await {
            Ok(previous) => previous,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        if previous.user != user {
            let _ = reply.send(Err(ApiError::CantDeleteMessage));
            return;
        }
        let writes = vec![Write::DeleteMessage {
            team_id: self.channel.team_id.clone(),
            channel_id: self.channel.id.clone(),
            ts,
        }];
        self.persist(myself, writes, Effect::Deleted { previous, reply });
    }

    async fn react(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        user: UserId,
        ts: Ts,
        name: String,
        add: bool,
        reply: RpcReplyPort<Result<(), ApiError>>,
    ) {
        if !is_valid_reaction_name(&name) {
            let _ = reply.send(Err(ApiError::InvalidName));
            return;
        }
        if self.channel.kind.is_private() && !self.members.contains(&user) {
            let _ = reply.send(Err(ApiError::ChannelNotFound));
            return;
        }
        let item = match self.load_message(ts).await {
            Ok(item) => item,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let team_id = self.channel.team_id.clone();
        let channel_id = self.channel.id.clone();
        let write = if add {
            Write::AddReaction {
                team_id,
                channel_id,
                ts,
                name: name.clone(),
                user_id: user.clone(),
                added: Ts::now(),
            }
        } else {
            Write::RemoveReaction {
                team_id,
                channel_id,
                ts,
                name: name.clone(),
                user_id: user.clone(),
            }
        };
        self.persist(
            myself,
            vec![write],
            Effect::Reacted {
                added: add,
                user,
                name,
                item,
                reply,
            },
        );
    }

    fn join(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        user: UserId,
        inviter: Option<UserId>,
        reply: RpcReplyPort<Result<JoinOutcome, ApiError>>,
    ) {
        if self.channel.is_archived {
            let _ = reply.send(Err(ApiError::IsArchived));
            return;
        }
        if self.members.contains(&user) {
            let outcome = JoinOutcome {
                channel: self.channel.clone(),
                already_in_channel: true,
            };
            let _ = reply.send(Ok(outcome));
            return;
        }
        let ts = self.next_ts();
        let mut notice = Message::new(
            self.channel.team_id.clone(),
            self.channel.id.clone(),
            user.clone(),
            format!("<@{user}> has joined the channel"),
            ts,
        );
        notice.subtype = Some("channel_join".into());
        if let Some(inviter) = &inviter {
            notice
                .extra
                .insert("inviter".into(), inviter.as_str().into());
        }
        let writes = vec![
            Write::AddMember {
                team_id: self.channel.team_id.clone(),
                channel_id: self.channel.id.clone(),
                user_id: user.clone(),
                joined: ts,
            },
            Write::InsertMessage(notice.clone()),
        ];
        self.persist(
            myself,
            writes,
            Effect::Joined {
                user,
                inviter,
                notice,
                reply,
            },
        );
    }

    fn leave(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        user: UserId,
        by: Option<UserId>,
        reply: RpcReplyPort<Result<(), ApiError>>,
    ) {
        if !self.members.contains(&user) {
            let error = if by.is_some() {
                ApiError::UserNotInChannel
            } else {
                ApiError::NotInChannel
            };
            let _ = reply.send(Err(error));
            return;
        }
        if self.channel.is_general {
            let _ = reply.send(Err(ApiError::CantLeaveGeneral));
            return;
        }
        if self.channel.kind == ChannelKind::Im {
            let _ = reply.send(Err(ApiError::RestrictedAction));
            return;
        }
        let ts = self.next_ts();
        let mut notice = Message::new(
            self.channel.team_id.clone(),
            self.channel.id.clone(),
            user.clone(),
            format!("<@{user}> has left the channel"),
            ts,
        );
        notice.subtype = Some("channel_leave".into());
        let writes = vec![
            Write::RemoveMember {
                team_id: self.channel.team_id.clone(),
                channel_id: self.channel.id.clone(),
                user_id: user.clone(),
            },
            Write::InsertMessage(notice.clone()),
        ];
        self.persist(
            myself,
            writes,
            Effect::Left {
                user,
                notice,
                reply,
            },
        );
    }

    fn change(
        &mut self,
        myself: &ActorRef<ChannelMsg>,
        change: ChannelChange,
        by: UserId,
        reply: RpcReplyPort<Result<Channel, ApiError>>,
    ) {
        if !self.members.contains(&by) {
            let _ = reply.send(Err(ApiError::NotInChannel));
            return;
        }
        if matches!(self.channel.kind, ChannelKind::Im) {
            let _ = reply.send(Err(ApiError::RestrictedAction));
            return;
        }
        let mut updated = self.channel.clone();
        let mut notice = None;
        let check = match &change {
            ChannelChange::Rename(name) => validate_channel_name(name).and_then(|()| {
                if self.channel.is_archived {
                    return Err(ApiError::IsArchived);
                }
                updated.name = name.clone();
                Ok(())
            }),
            ChannelChange::Archive => {
                if self.channel.is_general {
                    Err(ApiError::CantArchiveGeneral)
                } else if self.channel.is_archived {
                    Err(ApiError::AlreadyArchived)
                } else {
                    updated.is_archived = true;
                    Ok(())
                }
            }
            ChannelChange::Unarchive => {
                if !self.channel.is_archived {
                    Err(ApiError::NotArchived)
                } else {
                    updated.is_archived = false;
                    Ok(())
                }
            }
            ChannelChange::Topic(text) | ChannelChange::Purpose(text) => {
                if self.channel.is_archived {
                    Err(ApiError::IsArchived)
                } else if text.chars().count() > MAX_TOPIC_CHARS {
                    Err(ApiError::TooLong)
                } else {
                    let now = self.next_ts();
                    let (field, subtype, verb) = match change {
                        ChannelChange::Topic(_) => (&mut updated.topic, "channel_topic", "topic"),
                        _ => (&mut updated.purpose, "channel_purpose", "purpose"),
                    };
                    field.value = text.clone();
                    field.creator = by.to_string();
                    field.last_set = now.seconds();
                    let mut message = Message::new(
                        self.channel.team_id.clone(),
                        self.channel.id.clone(),
                        by.clone(),
                        format!("<@{by}> set the channel {verb}: {text}"),
                        now,
                    );
                    message.subtype = Some(subtype.into());
                    message.extra.insert(verb.into(), text.clone().into());
                    notice = Some(message);
                    Ok(())
                }
            }
        };
        if let Err(error) = check {
            let _ = reply.send(Err(error));
            return;
        }
        let mut writes = vec![Write::UpdateChannel(updated.clone())];
        if let Some(message) = &notice {
            writes.push(Write::InsertMessage(message.clone()));
        }
        self.persist(
            myself,
            writes,
            Effect::Changed {
                updated,
                change,
                by,
                notice,
                reply,
            },
        );
    }

    fn typing(&mut self, user: &UserId) {
        if !self.members.contains(user) {
            return;
        }
        let frame = events::user_typing(&self.channel.id, user);
        for handle in self.subscribers.values().filter(|h| &h.user_id != user) {
            handle.deliver(&frame);
        }
    }

    /// Finishes a change after its commit: state, events, then the reply.
    async fn committed(&mut self, outcome: Result<(), StoreError>, effect: Effect) {
        let channel_id = self.channel.id.clone();
        let failed = |error: &StoreError, action: &str| {
            tracing::error!(channel = %channel_id, %error, action, "write failed");
        };
        match effect {
            Effect::Posted {
                message,
                files,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        self.push_profiles(&message);
                        for file_id in &files {
                            self.fanout(&events::file_shared(file_id, &message));
                        }
                        self.fanout(&events::message(&message));
                        Ok(message)
                    }
                    Err(StoreError::NotFound(_)) => Err(ApiError::ThreadNotFound),
                    Err(error) => {
                        failed(&error, "post");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Edited {
                updated,
                previous,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        let edited_at = updated
                            .edited
                            .as_ref()
                            .map(|e| e.ts)
                            .unwrap_or_else(Ts::now);
                        self.fanout(&events::message_changed(&updated, &previous, edited_at));
                        Ok(updated)
                    }
                    Err(StoreError::NotFound(_)) => Err(ApiError::MessageNotFound),
                    Err(error) => {
                        failed(&error, "update");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Deleted { previous, reply } => {
                let result = match outcome {
                    Ok(()) => {
                        self.fanout(&events::message_deleted(&previous, Ts::now()));
                        Ok(previous.ts)
                    }
                    Err(StoreError::NotFound(_)) => Err(ApiError::MessageNotFound),
                    Err(error) => {
                        failed(&error, "delete");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Reacted {
                added,
                user,
                name,
                item,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        self.fanout(&events::reaction(added, &user, &name, &item, Ts::now()));
                        Ok(())
                    }
                    Err(StoreError::Conflict(_)) => Err(ApiError::AlreadyReacted),
                    Err(StoreError::NotFound(_)) if added => Err(ApiError::MessageNotFound),
                    Err(StoreError::NotFound(_)) => Err(ApiError::NoReaction),
                    Err(error) => {
                        failed(&error, "react");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Joined {
                user,
                inviter,
                notice,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        self.members.insert(user.clone());
                        self.hub.update_team_cache(&self.channel.team_id, |cache| {
                            cache.add_member(&self.channel.id, &user)
                        });
                        for handle in self.hub.registry().user_sessions(&user) {
                            self.subscribers.insert(handle.id, handle);
                        }
                        self.hub
                            .deliver_to_user(&user, &events::channel_joined(&self.channel, &user));
                        self.fanout(&events::member_joined(
                            &self.channel,
                            &user,
                            inviter.as_ref(),
                        ));
                        self.fanout(&events::message(&notice));
                        Ok(JoinOutcome {
                            channel: self.channel.clone(),
                            already_in_channel: false,
                        })
                    }
                    Err(StoreError::Conflict(_)) => Ok(JoinOutcome {
                        channel: self.channel.clone(),
                        already_in_channel: true,
                    }),
                    Err(error) => {
                        failed(&error, "join");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Left {
                user,
                notice,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        self.fanout(&events::message(&notice));
                        self.fanout(&events::member_left(&self.channel, &user));
                        self.members.remove(&user);
                        self.hub.update_team_cache(&self.channel.team_id, |cache| {
                            cache.remove_member(&self.channel.id, &user)
                        });
                        self.subscribers.retain(|_, handle| handle.user_id != user);
                        self.hub
                            .deliver_to_user(&user, &events::channel_left(&self.channel));
                        Ok(())
                    }
                    Err(StoreError::NotFound(_)) => Err(ApiError::NotInChannel),
                    Err(error) => {
                        failed(&error, "leave");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
            Effect::Changed {
                updated,
                change,
                by,
                notice,
                reply,
            } => {
                let result = match outcome {
                    Ok(()) => {
                        self.channel = updated.clone();
                        self.hub.update_team_cache(&updated.team_id, |cache| {
                            cache.upsert_channel(updated.clone())
                        });
                        match change {
                            ChannelChange::Rename(_) => {
                                self.announce(events::channel_rename(&updated)).await
                            }
                            ChannelChange::Archive => {
                                self.announce(events::channel_archive(true, &updated.id, &by))
                                    .await
                            }
                            ChannelChange::Unarchive => {
                                self.announce(events::channel_archive(false, &updated.id, &by))
                                    .await
                            }
                            ChannelChange::Topic(_) | ChannelChange::Purpose(_) => {}
                        }
                        if let Some(notice) = &notice {
                            self.fanout(&events::message(notice));
                        }
                        Ok(updated)
                    }
                    Err(StoreError::Conflict(_)) => Err(ApiError::NameTaken),
                    Err(error) => {
                        failed(&error, "change");
                        Err(ApiError::InternalError)
                    }
                };
                let _ = reply.send(result);
            }
        }
    }
}

/// Returns whether an emoji name is acceptable: 1 to 100 characters of lower-case
/// letters, digits and `_ + - '`, with an optional `::skin-tone-N` suffix.
fn is_valid_reaction_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 100
        && name.chars().all(|c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, '_' | '+' | '-' | '\'' | ':')
        })
        && !name.starts_with(':')
        && !name.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaction_names() {
        assert!(is_valid_reaction_name("thumbsup"));
        assert!(is_valid_reaction_name("+1"));
        assert!(is_valid_reaction_name("wave::skin-tone-2"));
        assert!(!is_valid_reaction_name(""));
        assert!(!is_valid_reaction_name(":thumbsup:"));
        assert!(!is_valid_reaction_name("two words"));
    }

    #[test]
    fn post_request_needs_content() {
        let empty = PostRequest {
            text: "  ".into(),
            ..Default::default()
        };
        assert_eq!(empty.validate(), Err(ApiError::NoText));
        let mut blocks = PostRequest::default();
        blocks.extra.insert("blocks".into(), Value::Array(vec![]));
        assert_eq!(blocks.validate(), Ok(()));
        let long = PostRequest {
            text: "x".repeat(40_001),
            ..Default::default()
        };
        assert_eq!(long.validate(), Err(ApiError::MsgTooLong));
    }
}

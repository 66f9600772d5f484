//! The team actor: one per loaded team. It supervises the team's channel,
//! session and presence actors, starts a channel's actor on first use, opens
//! sessions, and broadcasts team-wide events to every session of the team.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::channel::{ChannelActor, ChannelArgs, ChannelMsg};
use crate::domain::Team;
use crate::error::ApiError;
use crate::events;
use crate::hub::Hub;
use crate::ids::{BotId, ChannelId, SessionId, TeamId, UserId};
use crate::ports::Page;
use crate::presence::{PresenceActor, PresenceArgs, PresenceMsg};
use crate::session::{SessionActor, SessionArgs, SessionMsg};
use crate::session_handle::{session_channel, CloseReason, SessionHandle, SessionOutbound};
use crate::team_cache::{SharedTeamCache, TeamCache};

/// A session the team actor just opened.
pub struct OpenedSession {
    /// Handle for delivering to the session.
    pub handle: SessionHandle,
    /// The queue the socket writer drains; `hello` is already in it.
    pub outbound: SessionOutbound,
    /// The session's actor, which takes the client's frames.
    pub actor: ActorRef<SessionMsg>,
}

/// Messages of a team actor: its whole interface.
pub enum TeamMsg {
    /// Return the channel's actor, starting it if needed.
    EnsureChannel {
        /// The channel.
        channel_id: ChannelId,
        /// Receives the actor, or `ChannelNotFound`.
        reply: RpcReplyPort<Result<ActorRef<ChannelMsg>, ApiError>>,
    },
    /// Open a real-time session for a user of this team.
    OpenSession {
        /// The connecting user.
        user_id: UserId,
        /// Bot integration when the user is a bot user.
        bot_id: Option<BotId>,
        /// Receives the opened session.
        reply: RpcReplyPort<Result<OpenedSession, ApiError>>,
    },
    /// Queue a frame on every session of the team.
    Broadcast {
        /// The encoded event.
        frame: Bytes,
    },
    /// End every session of a user (deactivation, token reset).
    CloseUserSessions {
        /// The user.
        user_id: UserId,
        /// Reason sent in the close frame.
        reason: CloseReason,
    },
    /// Apply the live effects of admin actions committed since the last poll:
    /// close the sessions of deactivated or reset users and send `user_change`
    /// and `team_join`. Admin actions reach the node only through the audit log,
    /// whether this node's API or the `switchboard admin` command line (another
    /// process on the same store) committed them. Sent every
    /// [`ADMIN_LOG_POLL_INTERVAL`].
    PollAdminLog,
    /// Stop the team when it had no session and no request since the last
    /// check; sent every `HubSettings::team_idle`.
    IdleCheck,
}

/// How often a team actor reads its team's new audit entries, which bounds how
/// long a deactivated user's socket stays open after the commit.
pub const ADMIN_LOG_POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Maximum number of audit entries applied per poll; the rest wait for the next.
const ADMIN_LOG_PAGE: usize = 100;

/// Arguments of a team actor.
pub struct TeamArgs {
    /// Shared node state.
    pub hub: Hub,
    /// The team to load.
    pub team_id: TeamId,
}

/// What a supervised child of the team actor is.
enum Child {
    /// A channel actor.
    Channel(ChannelId),
    /// A session actor.
    Session(SessionId),
    /// A presence actor.
    Presence(UserId),
}

/// State of a team actor.
pub struct TeamState {
    /// Shared node state.
    hub: Hub,
    /// The team.
    team: Team,
    /// Supervised children by actor id.
    children: HashMap<ActorId, Child>,
    /// Open sessions of the team.
    sessions: HashMap<SessionId, SessionHandle>,
    /// Highest audit entry id whose live effects were applied.
    audit_seen: u64,
    /// The team's users, conversations and memberships, also published in the
    /// registry for the API.
    cache: SharedTeamCache,
}

/// The team actor (see the module docs).
pub struct TeamActor;

impl Actor for TeamActor {
    type Msg = TeamMsg;
    type State = TeamState;
    type Arguments = TeamArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        args: TeamArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        // Earlier actions need no live effect: no session of this team is open
        // on this node yet, and new sessions check the user when they open.
        // The id is read before the load, so an action that commits during
        // the load is applied again by the first poll rather than missed.
        let audit_seen = args.hub.store().last_audit_id(&args.team_id).await?;
        let cache = TeamCache::load(args.hub.store().as_ref(), &args.team_id)
            .await?
            .ok_or_else(|| format!("team {} not found", args.team_id))?;
        cache.set_applied_audit_id(audit_seen);
        let team = cache.team().clone();
        // The timer task ends when this actor stops.
        myself.send_interval(ADMIN_LOG_POLL_INTERVAL, || TeamMsg::PollAdminLog);
        tracing::info!(
            team = %team.id,
            name = %team.name,
            users = cache.user_count(),
            channels = cache.channel_count(),
            "team loaded"
        );
        let cache = Arc::new(RwLock::new(cache));
        args.hub
            .registry()
            .caches
            .insert(team.id.clone(), cache.clone());
        if let Some(idle) = args.hub.settings().team_idle {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(idle).await;
                    if myself.send_message(TeamMsg::IdleCheck).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(TeamState {
            hub: args.hub,
            team,
            children: HashMap::new(),
            sessions: HashMap::new(),
            audit_seen,
            cache,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<Self::Msg>,
        state: &mut TeamState,
    ) -> Result<(), ActorProcessingErr> {
        for handle in state.sessions.values() {
            handle.close(CloseReason::Shutdown);
        }
        let registry = state.hub.registry();
        registry
            .caches
            .remove_if(&state.team.id, |_, cache| Arc::ptr_eq(cache, &state.cache));
        tracing::info!(team = %state.team.id, "team unloaded");
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: TeamMsg,
        state: &mut TeamState,
    ) -> Result<(), ActorProcessingErr> {
        // Any message but the timers (idle check, admin log poll) counts as
        // use of the team.
        let used = {
            let cache = state.cache.read().expect("team cache lock poisoned");
            match message {
                TeamMsg::IdleCheck => cache.take_used(),
                TeamMsg::PollAdminLog => false,
                _ => {
                    cache.mark_used();
                    true
                }
            }
        };
        match message {
            TeamMsg::IdleCheck => {
                if !used && state.sessions.is_empty() {
                    tracing::info!(team = %state.team.id, "team idle; evicting it");
                    myself.stop(Some("idle".into()));
                }
            }
            TeamMsg::EnsureChannel { channel_id, reply } => {
                let result = state.ensure_channel(&myself, &channel_id).await;
                let _ = reply.send(result);
            }
            TeamMsg::OpenSession {
                user_id,
                bot_id,
                reply,
            } => {
                let result = state.open_session(&myself, user_id, bot_id).await;
                let _ = reply.send(result);
            }
            TeamMsg::Broadcast { frame } => state.broadcast(&frame),
            TeamMsg::CloseUserSessions { user_id, reason } => {
                state.close_user_sessions(&user_id, reason);
            }
            TeamMsg::PollAdminLog => state.poll_admin_log().await,
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut TeamState,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorFailed(cell, error) => {
                let child = state.children.remove(&cell.get_id());
                match child {
                    Some(Child::Channel(channel_id)) => {
                        tracing::error!(team = %state.team.id, channel = %channel_id, %error, "channel actor failed; restarting it");
                        state.hub.registry().channels.remove(&channel_id);
                        if let Err(error) = state.spawn_channel(&myself, &channel_id).await {
                            tracing::error!(channel = %channel_id, %error, "channel actor restart failed; it starts again on next use");
                        }
                    }
                    Some(Child::Session(session_id)) => {
                        tracing::error!(team = %state.team.id, session = session_id, %error, "session actor failed; closing its socket");
                        state.end_session(session_id, CloseReason::InternalError);
                    }
                    Some(Child::Presence(user_id)) => {
                        tracing::error!(team = %state.team.id, user = %user_id, %error, "presence actor failed; restarting it");
                        state.hub.registry().presence.remove(&user_id);
                        if let Err(error) = state.spawn_presence(&myself, &user_id).await {
                            tracing::error!(user = %user_id, %error, "presence actor restart failed");
                        }
                    }
                    None => tracing::warn!(actor = %cell.get_id(), %error, "unknown child failed"),
                }
            }
            SupervisionEvent::ActorTerminated(cell, _, _) => {
                match state.children.remove(&cell.get_id()) {
                    Some(Child::Session(session_id)) => {
                        state.end_session(session_id, CloseReason::ClientClosed);
                    }
                    Some(Child::Channel(channel_id)) => {
                        state.hub.registry().channels.remove(&channel_id);
                    }
                    Some(Child::Presence(user_id)) => {
                        state.hub.registry().presence.remove(&user_id);
                    }
                    None => {}
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl TeamState {
    /// Queues a frame on every session of the team. A session that rejects it
    /// is closing and stays in `sessions` until its actor stops, because
    /// `end_session` must also remove it from the registry and tell the
    /// presence actor that the device is gone.
    fn broadcast(&self, frame: &Bytes) {
        for handle in self.sessions.values() {
            handle.deliver(frame);
        }
    }

    fn close_user_sessions(&self, user_id: &UserId, reason: CloseReason) {
        for handle in self.sessions.values().filter(|h| &h.user_id == user_id) {
            handle.close(reason);
        }
    }

    /// Applies the live effects of the audit entries committed since the last
    /// poll, in log order. A failed read is logged and retried on the next poll.
    async fn poll_admin_log(&mut self) {
        let page = Page {
            after: Some(self.audit_seen),
            limit: ADMIN_LOG_PAGE,
        };
        let entries = match self.hub.store().audit_entries(&self.team.id, page).await {
            Ok(entries) => entries,
            Err(error) => {
                tracing::warn!(team = %self.team.id, %error, "reading the audit log failed; retrying on the next poll");
                return;
            }
        };
        for entry in entries {
            let effect = entry.live_effect();
            if effect.joined {
                // A new user, possibly written by another process: the cache
                // takes the record and its memberships now, so users.list and
                // the prefix search show the user at once.
                if let Err(error) = self
                    .hub
                    .cached_user(&self.cache, &self.team.id, &entry.target)
                    .await
                {
                    tracing::warn!(team = %self.team.id, user = %entry.target, %error, "adding a new user to the team cache failed; it is added on first lookup");
                }
            } else {
                // A role change or (de)activation: the cache serves users.info,
                // users.list and the prefix search and authenticates tokens, so
                // it takes the new records before the sessions close.
                self.refresh_cached_user(&entry.target).await;
                for user_id in &effect.changed_users {
                    if *user_id != entry.target {
                        self.refresh_cached_user(user_id).await;
                    }
                }
            }
            if let Some(reason) = effect.close_sessions {
                self.close_user_sessions(&entry.target, reason);
            }
            let mut announced = effect.changed_users;
            if effect.joined {
                announced.push(entry.target.clone());
            }
            for user_id in announced {
                let user = match self.hub.store().user(&self.team.id, &user_id).await {
                    Ok(Some(user)) => user,
                    Ok(None) => continue,
                    Err(error) => {
                        tracing::warn!(team = %self.team.id, user = %user_id, %error, "loading a changed user failed; their event is not sent");
                        continue;
                    }
                };
                let frame = if effect.joined {
                    events::team_join(&user)
                } else {
                    events::user_change(&user)
                };
                self.broadcast(&frame);
            }
            tracing::info!(team = %self.team.id, entry = entry.id, action = entry.action.as_str(), target = %entry.target, "applied admin action");
            self.audit_seen = entry.id;
            self.cache
                .read()
                .expect("team cache lock poisoned")
                .set_applied_audit_id(entry.id);
        }
    }

    /// Replaces a user's cached record with the stored one.
    async fn refresh_cached_user(&self, user_id: &UserId) {
        match self.hub.store().user(&self.team.id, user_id).await {
            Ok(Some(user)) => {
                self.cache
                    .write()
                    .expect("team cache lock poisoned")
                    .upsert_user(user);
            }
            Ok(None) => {}
            Err(error) => {
                // The old record stays, but the user's tokens are checked
                // against the store again.
                tracing::warn!(team = %self.team.id, user = %user_id, %error, "refreshing a cached user failed");
                self.cache
                    .write()
                    .expect("team cache lock poisoned")
                    .forget_tokens(user_id);
            }
        }
    }

    async fn ensure_channel(
        &mut self,
        myself: &ActorRef<TeamMsg>,
        channel_id: &ChannelId,
    ) -> Result<ActorRef<ChannelMsg>, ApiError> {
        if let Some(entry) = self.hub.registry().channels.get(channel_id) {
            let (owner, actor) = entry.value();
            return if owner == &self.team.id {
                Ok(actor.clone())
            } else {
                Err(ApiError::ChannelNotFound)
            };
        }
        match self.hub.store().channel(&self.team.id, channel_id).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(ApiError::ChannelNotFound),
            Err(error) => {
                tracing::error!(channel = %channel_id, %error, "loading a channel failed");
                return Err(ApiError::InternalError);
            }
        }
        self.spawn_channel(myself, channel_id)
            .await
            .map_err(|error| {
                tracing::error!(channel = %channel_id, %error, "starting a channel actor failed");
                ApiError::InternalError
            })
    }

    async fn spawn_channel(
        &mut self,
        myself: &ActorRef<TeamMsg>,
        channel_id: &ChannelId,
    ) -> Result<ActorRef<ChannelMsg>, ractor::SpawnErr> {
        let args = ChannelArgs {
            hub: self.hub.clone(),
            team_id: self.team.id.clone(),
            channel_id: channel_id.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, ChannelActor, args, myself.get_cell()).await?;
        self.children
            .insert(actor.get_id(), Child::Channel(channel_id.clone()));
        self.hub
            .registry()
            .channels
            .insert(channel_id.clone(), (self.team.id.clone(), actor.clone()));
        Ok(actor)
    }

    async fn spawn_presence(
        &mut self,
        myself: &ActorRef<TeamMsg>,
        user_id: &UserId,
    ) -> Result<ActorRef<PresenceMsg>, ractor::SpawnErr> {
        let args = PresenceArgs {
            hub: self.hub.clone(),
            team_id: self.team.id.clone(),
            user_id: user_id.clone(),
        };
        let (actor, _) = Actor::spawn_linked(None, PresenceActor, args, myself.get_cell()).await?;
        self.children
            .insert(actor.get_id(), Child::Presence(user_id.clone()));
        self.hub
            .registry()
            .presence
            .insert(user_id.clone(), actor.clone());
        Ok(actor)
    }

    async fn open_session(
        &mut self,
        myself: &ActorRef<TeamMsg>,
        user_id: UserId,
        bot_id: Option<BotId>,
    ) -> Result<OpenedSession, ApiError> {
        // The user may have been deactivated between `rtm.connect` and now.
        match self.hub.store().user(&self.team.id, &user_id).await {
            Ok(Some(user)) if !user.deleted => {}
            Ok(_) => return Err(ApiError::AccountInactive),
            Err(error) => {
                tracing::error!(user = %user_id, %error, "loading a connecting user failed");
                return Err(ApiError::InternalError);
            }
        }
        let registry = self.hub.registry();
        let session_id = registry.next_session_id();
        let (handle, outbound) = session_channel(
            session_id,
            self.team.id.clone(),
            user_id.clone(),
            self.hub.settings().session_queue,
        );

        // Step 1: `hello` goes first, before any event can be queued.
        handle.deliver(&events::hello());

        // Step 2: the actor that takes the client's frames.
        let args = SessionArgs {
            hub: self.hub.clone(),
            handle: handle.clone(),
            bot_id,
        };
        let (actor, _) = Actor::spawn_linked(None, SessionActor, args, myself.get_cell())
            .await
            .map_err(|error| {
                tracing::error!(user = %user_id, %error, "starting a session actor failed");
                ApiError::InternalError
            })?;
        self.children
            .insert(actor.get_id(), Child::Session(session_id));

        // Step 3: make the session findable, then subscribe it to the running
        // actors of its channels. Channels that start later find it in the
        // registry. Both steps run inside this actor, so none is missed.
        registry.add_session(handle.clone());
        self.sessions.insert(session_id, handle.clone());
        if let Err(error) = self
            .hub
            .cached_user(&self.cache, &self.team.id, &user_id)
            .await
        {
            tracing::error!(user = %user_id, %error, "loading a user into the team cache failed");
            actor.stop(Some("user lookup failed".into()));
            return Err(ApiError::InternalError);
        }
        let channels: Vec<ChannelId> = self
            .cache
            .read()
            .expect("team cache lock poisoned")
            .member_channels(&user_id)
            .cloned()
            .collect();
        for channel_id in channels {
            if let Some(entry) = registry.channels.get(&channel_id) {
                let _ = entry
                    .value()
                    .1
                    .send_message(ChannelMsg::Subscribe(handle.clone()));
            }
        }

        // Step 4: presence.
        let presence = match registry.presence.get(&user_id).map(|p| p.clone()) {
            Some(presence) => Some(presence),
            None => self.spawn_presence(myself, &user_id).await.ok(),
        };
        if let Some(presence) = presence {
            let _ = presence.send_message(PresenceMsg::SessionOpened(session_id));
        }

        // Step 5: the user counts as active today, for billing.
        crate::activity::record_session(&self.hub, &self.team.id, &user_id);

        tracing::info!(team = %self.team.id, user = %user_id, session = session_id, "session opened");
        Ok(OpenedSession {
            handle,
            outbound,
            actor,
        })
    }

    /// Forgets a session and closes its socket; safe to call twice.
    fn end_session(&mut self, session_id: SessionId, reason: CloseReason) {
        let Some(handle) = self.sessions.remove(&session_id) else {
            return;
        };
        handle.close(reason);
        let registry = self.hub.registry();
        registry.remove_session(&handle.user_id, session_id);
        if let Some(presence) = registry.presence.get(&handle.user_id) {
            let _ = presence.send_message(PresenceMsg::SessionClosed(session_id));
        }
        tracing::info!(team = %self.team.id, user = %handle.user_id, session = session_id, reason = ?reason, "session closed");
    }
}

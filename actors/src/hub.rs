//! The hub: what every actor and the API share on one node. It holds the
//! registries, the store for reads, the storage actor for writes, and finds or
//! starts the actor that owns a team or a channel.

use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use ractor::{ActorRef, RpcReplyPort};
use tokio::sync::oneshot;

use crate::channel::{ChannelMsg, PostRequest};
use crate::domain::Message;
use crate::error::ApiError;
use crate::ids::{ChannelId, TeamId, UserId};
use crate::node::NodeMsg;
use crate::policy::{self, Action, Actor};
use crate::ports::{Store, StoreError, Write};
use crate::presence_batcher::PresenceBatcher;
use crate::registry::Registry;
use crate::storage::{Completion, StorageMsg};
use crate::team::TeamMsg;

/// Settings the actors read.
#[derive(Clone, Debug)]
pub struct HubSettings {
    /// Capacity of each session's outbound queue, in frames. A session whose
    /// queue is full is disconnected as a slow consumer.
    pub session_queue: usize,
    /// Maximum number of write sets in one storage transaction.
    pub max_batch: usize,
    /// Time without client frames after which a device counts as idle.
    pub presence_idle: Duration,
    /// Window in which presence changes for one session are gathered into
    /// one `presence_change` event; zero sends each change at once.
    pub presence_batch: Duration,
    /// How long a team actor stays loaded with no session and no request
    /// before it stops and drops its cache; `None` keeps teams loaded.
    pub team_idle: Option<std::time::Duration>,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            session_queue: 1024,
            max_batch: 512,
            presence_idle: Duration::from_secs(30 * 60),
            presence_batch: Duration::from_millis(100),
            team_idle: None,
        }
    }
}

/// Shared state of one node; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// Registries of live actors and sessions.
    registry: Registry,
    /// The system of record, for reads.
    store: Arc<dyn Store>,
    /// Settings.
    settings: HubSettings,
    /// The storage actor; replaced when the supervisor restarts it.
    storage: RwLock<Option<ActorRef<StorageMsg>>>,
    /// The root supervisor, set once the node has started.
    node: OnceLock<ActorRef<NodeMsg>>,
    /// The batcher of the sessions' presence changes. Its task runs while the
    /// node runs.
    presence_batcher: Arc<PresenceBatcher>,
}

impl Hub {
    /// Creates a hub over a store. The node supervisor fills in the actors.
    pub fn new(store: Arc<dyn Store>, settings: HubSettings) -> Hub {
        let presence_batcher = Arc::new(PresenceBatcher::new(settings.presence_batch));
        Hub {
            inner: Arc::new(HubInner {
                registry: Registry::default(),
                store,
                settings,
                storage: RwLock::new(None),
                node: OnceLock::new(),
                presence_batcher,
            }),
        }
    }

    /// Returns the registries.
    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// Returns the store, for reads. Writes go through [`Hub::write`].
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Returns the settings.
    pub fn settings(&self) -> &HubSettings {
        &self.inner.settings
    }

    /// Returns the node's presence batcher.
    pub fn presence_batcher(&self) -> &Arc<PresenceBatcher> {
        &self.inner.presence_batcher
    }

    pub(crate) fn set_storage(&self, storage: Option<ActorRef<StorageMsg>>) {
        *self.inner.storage.write().expect("storage lock poisoned") = storage;
    }

    pub(crate) fn set_node(&self, node: ActorRef<NodeMsg>) {
        let _ = self.inner.node.set(node);
    }

    /// Returns the storage actor, if it is running.
    pub fn storage(&self) -> Option<ActorRef<StorageMsg>> {
        self.inner
            .storage
            .read()
            .expect("storage lock poisoned")
            .clone()
    }

    /// Hands a change set to the storage actor; `done` runs after its commit.
    pub fn write_then(&self, writes: Vec<Write>, done: Completion) {
        let Some(storage) = self.storage() else {
            done(Err(StoreError::Backend(
                "storage actor is not running".into(),
            )));
            return;
        };
        if let Err(error) = storage.send_message(StorageMsg::Write { writes, done }) {
            tracing::error!(%error, "storage actor rejected a write");
            if let ractor::MessagingErr::SendErr(StorageMsg::Write { done, .. }) = error {
                done(Err(StoreError::Backend("storage actor stopped".into())));
            }
        }
    }

    /// Commits a change set and waits for the outcome.
    pub async fn write(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        let (sender, receiver) = oneshot::channel();
        self.write_then(
            writes,
            Box::new(move |result| {
                let _ = sender.send(result);
            }),
        );
        receiver.await.unwrap_or_else(|_| {
            Err(StoreError::Backend(
                "storage actor dropped the write".into(),
            ))
        })
    }

    /// Returns the actor of a team, loading the team when it is not loaded.
    pub async fn team(&self, team_id: &TeamId) -> Result<ActorRef<TeamMsg>, ApiError> {
        if let Some(team) = self.inner.registry.teams.get(team_id) {
            return Ok(team.clone());
        }
        let node = self.inner.node.get().ok_or(ApiError::ServiceUnavailable)?;
        ask(node, |reply| NodeMsg::EnsureTeam {
            team_id: team_id.clone(),
            reply,
        })
        .await?
    }

    /// Returns the actor of a channel, starting it when it is not running.
    /// `ChannelNotFound` when the channel is not in that team.
    pub async fn channel(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
    ) -> Result<ActorRef<ChannelMsg>, ApiError> {
        if let Some(channel) = self.inner.registry.channels.get(channel_id) {
            let (owner, actor) = channel.value();
            if owner != team_id {
                return Err(ApiError::ChannelNotFound);
            }
            return Ok(actor.clone());
        }
        let team = self.team(team_id).await?;
        ask(&team, |reply| TeamMsg::EnsureChannel {
            channel_id: channel_id.clone(),
            reply,
        })
        .await?
    }

    /// Posts a message through the channel's actor: validated, persisted, then
    /// delivered to every subscribed session.
    pub async fn post_message(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        request: PostRequest,
    ) -> Result<Message, ApiError> {
        request.validate()?;
        let channel = self.channel(team_id, channel_id).await?;
        ask(&channel, |reply| ChannelMsg::Post { request, reply }).await?
    }

    /// Checks through the permission policy that a user may post (or type) in a
    /// conversation. The user, the conversation and the membership come from
    /// the team cache when it has all three, and from the store otherwise.
    /// Admin actions through the API update the cache before they return, and
    /// the cache is trusted only while it contains every audited admin action,
    /// so a deactivation or role change applies to the next frame.
    pub async fn authorize_post(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<(), ApiError> {
        // A role change or deactivation not yet applied to the cache (one from
        // the admin command line, another process) sends the check to the store.
        let cached = self.cached_member_access(team_id, channel_id, user_id);
        if let Some((user, channel, applied)) = cached {
            if self.cache_is_current(team_id, applied).await {
                return policy::check(
                    Actor::User(&user),
                    Action::Post {
                        channel: &channel,
                        is_member: true,
                    },
                );
            }
        }
        self.authorize_post_from_store(team_id, channel_id, user_id)
            .await
    }

    /// Checks like [`Hub::authorize_post`] with the user, the conversation
    /// and the membership read from the store.
    async fn authorize_post_from_store(
        &self,
        team_id: &TeamId,
        channel_id: &ChannelId,
        user_id: &UserId,
    ) -> Result<(), ApiError> {
        let store = self.store();
        let failed = |what: &'static str| {
            move |error: StoreError| {
                tracing::error!(team = %team_id, user = %user_id, channel = %channel_id, %error, "{what} failed");
                ApiError::InternalError
            }
        };
        let user = store
            .user(team_id, user_id)
            .await
            .map_err(failed("user lookup"))?
            .ok_or(ApiError::AccountInactive)?;
        let channel = store
            .channel(team_id, channel_id)
            .await
            .map_err(failed("channel lookup"))?
            .ok_or(ApiError::ChannelNotFound)?;
        let is_member = store
            .is_member(team_id, channel_id, user_id)
            .await
            .map_err(failed("membership lookup"))?;
        policy::check(
            Actor::User(&user),
            Action::Post {
                channel: &channel,
                is_member,
            },
        )
    }

    /// Queues a frame on every live session of a user.
    pub fn deliver_to_user(&self, user_id: &UserId, frame: &bytes::Bytes) {
        self.inner.registry.deliver_to_user(user_id, frame);
    }

    /// Queues a frame on every live session of a team.
    pub async fn broadcast_to_team(&self, team_id: &TeamId, frame: bytes::Bytes) {
        match self.team(team_id).await {
            Ok(team) => {
                if let Err(error) = team.send_message(TeamMsg::Broadcast { frame }) {
                    tracing::error!(team = %team_id, %error, "team broadcast failed");
                }
            }
            Err(error) => tracing::error!(team = %team_id, %error, "team broadcast failed"),
        }
    }
}

/// Sends a request to an actor and waits for its reply. A stopped or failed
/// actor yields `InternalError`, logged with the actor's id.
pub async fn ask<M, T>(
    actor: &ActorRef<M>,
    build: impl FnOnce(RpcReplyPort<T>) -> M,
) -> Result<T, ApiError>
where
    M: ractor::Message,
    T: Send + 'static,
{
    match actor.call(build, None).await {
        Ok(ractor::rpc::CallResult::Success(value)) => Ok(value),
        Ok(_) => {
            tracing::error!(actor = %actor.get_id(), "actor dropped a request without replying");
            Err(ApiError::InternalError)
        }
        Err(error) => {
            tracing::error!(actor = %actor.get_id(), %error, "actor request failed");
            Err(ApiError::InternalError)
        }
    }
}

//! Node-wide registries, sharded maps so that no global lock sits on the hot
//! path: channel id to its actor, user id to their live sessions, and so on.

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use ractor::ActorRef;

use crate::activity::ActivityLog;
use crate::channel::ChannelMsg;
use crate::ids::{ChannelId, SessionId, TeamId, UserId};
use crate::presence::PresenceMsg;
use crate::presence_registry::PresenceRegistry;
use crate::session_handle::SessionHandle;
use crate::team::TeamMsg;
use crate::team_cache::SharedTeamCache;

/// The registries of one node.
#[derive(Default)]
pub struct Registry {
    /// Loaded teams.
    pub teams: DashMap<TeamId, ActorRef<TeamMsg>>,
    /// Running channel actors with the team that owns each channel.
    pub channels: DashMap<ChannelId, (TeamId, ActorRef<ChannelMsg>)>,
    /// Live sessions of each connected user.
    pub sessions: DashMap<UserId, Vec<SessionHandle>>,
    /// Presence actors of users who have had a session since the team loaded.
    pub presence: DashMap<UserId, ActorRef<PresenceMsg>>,
    /// Presence records (manual away, snooze, announced presence) and presence
    /// subscriptions; they outlive a presence actor restart.
    pub presence_state: PresenceRegistry,
    /// Caches of loaded teams; the team actor inserts its cache after loading
    /// it and removes it when it stops.
    pub caches: DashMap<TeamId, SharedTeamCache>,
    /// The last day of each user's session activity this node has written.
    pub activity: ActivityLog,
    /// Source of session ids.
    next_session_id: AtomicU64,
}

impl Registry {
    /// Returns a fresh session id.
    pub fn next_session_id(&self) -> SessionId {
        self.next_session_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds a live session.
    pub fn add_session(&self, handle: SessionHandle) {
        self.sessions
            .entry(handle.user_id.clone())
            .or_default()
            .push(handle);
    }

    /// Removes a session; returns how many sessions the user still has.
    pub fn remove_session(&self, user_id: &UserId, session_id: SessionId) -> usize {
        let mut remaining = 0;
        self.sessions.remove_if_mut(user_id, |_, handles| {
            handles.retain(|handle| handle.id != session_id);
            remaining = handles.len();
            handles.is_empty()
        });
        remaining
    }

    /// Returns clones of a user's live sessions.
    pub fn user_sessions(&self, user_id: &UserId) -> Vec<SessionHandle> {
        self.sessions
            .get(user_id)
            .map(|handles| handles.clone())
            .unwrap_or_default()
    }

    /// Returns how many live sessions a user has.
    pub fn session_count(&self, user_id: &UserId) -> usize {
        self.sessions.get(user_id).map(|h| h.len()).unwrap_or(0)
    }

    /// Queues a frame on every live session of a user.
    pub fn deliver_to_user(&self, user_id: &UserId, frame: &bytes::Bytes) {
        if let Some(handles) = self.sessions.get(user_id) {
            for handle in handles.iter() {
                handle.deliver(frame);
            }
        }
    }
}

//! The presence actor: one per user who has connected since the team loaded. The
//! user is `active` while any session is open and `away` otherwise; every change
//! is announced to the team as `presence_change`.

use std::collections::HashSet;

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use crate::events;
use crate::hub::Hub;
use crate::ids::{SessionId, TeamId, UserId};

/// Messages of a presence actor: its whole interface.
pub enum PresenceMsg {
    /// A session of the user opened.
    SessionOpened(SessionId),
    /// A session of the user closed.
    SessionClosed(SessionId),
    /// Return whether the user is active and how many sessions are open.
    Get(RpcReplyPort<PresenceInfo>),
    /// Panic inside the handler, for supervision tests.
    #[cfg(feature = "fault-injection")]
    Panic,
}

/// A user's presence as the presence actor sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresenceInfo {
    /// Whether any session is open.
    pub active: bool,
    /// Number of open sessions.
    pub connection_count: usize,
}

/// Arguments of a presence actor.
pub struct PresenceArgs {
    /// Shared node state.
    pub hub: Hub,
    /// Team of the user.
    pub team_id: TeamId,
    /// The user.
    pub user_id: UserId,
    /// Whether this is a restart after a failure: the actor then rebuilds its
    /// sessions from the registry and announces the user's current presence.
    pub restart: bool,
}

/// State of a presence actor.
pub struct PresenceState {
    /// Shared node state.
    hub: Hub,
    /// Team of the user.
    team_id: TeamId,
    /// The user.
    user_id: UserId,
    /// Open sessions of the user.
    sessions: HashSet<SessionId>,
}

/// The presence actor (see the module docs).
pub struct PresenceActor;

impl Actor for PresenceActor {
    type Msg = PresenceMsg;
    type State = PresenceState;
    type Arguments = PresenceArgs;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        args: PresenceArgs,
    ) -> Result<Self::State, ActorProcessingErr> {
        // On first start the team actor reports each session with
        // `SessionOpened`. After a restart the open sessions are still in the
        // registry, and the team hears the user's presence again in case a
        // change was lost with the failed actor.
        let mut sessions = HashSet::new();
        if args.restart {
            sessions.extend(
                args.hub
                    .registry()
                    .user_sessions(&args.user_id)
                    .iter()
                    .map(|h| h.id),
            );
            let frame = events::presence_change(&args.user_id, !sessions.is_empty());
            args.hub.broadcast_to_team(&args.team_id, frame).await;
        }
        Ok(PresenceState {
            hub: args.hub,
            team_id: args.team_id,
            user_id: args.user_id,
            sessions,
        })
    }

    async fn handle(
        &self,
        _myself: ActorRef<Self::Msg>,
        message: PresenceMsg,
        state: &mut PresenceState,
    ) -> Result<(), ActorProcessingErr> {
        let was_active = !state.sessions.is_empty();
        match message {
            PresenceMsg::SessionOpened(id) => {
                state.sessions.insert(id);
            }
            PresenceMsg::SessionClosed(id) => {
                state.sessions.remove(&id);
            }
            PresenceMsg::Get(reply) => {
                let _ = reply.send(PresenceInfo {
                    active: was_active,
                    connection_count: state.sessions.len(),
                });
            }
            #[cfg(feature = "fault-injection")]
            PresenceMsg::Panic => panic!("fault injection: presence of {} panicked", state.user_id),
        }
        let active = !state.sessions.is_empty();
        if active != was_active {
            tracing::debug!(user = %state.user_id, active, "presence changed");
            let frame = events::presence_change(&state.user_id, active);
            state.hub.broadcast_to_team(&state.team_id, frame).await;
        }
        Ok(())
    }
}

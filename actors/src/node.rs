//! The node supervisor: the root of the actor tree. It starts the storage actor,
//! loads teams on demand, and restarts a storage or team actor that fails.

use std::collections::HashMap;
use std::time::Duration;

use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};

use crate::error::ApiError;
use crate::hub::Hub;
use crate::ids::TeamId;
use crate::session_handle::CloseReason;
use crate::storage::{StorageActor, StorageArgs};
use crate::team::{TeamActor, TeamArgs, TeamMsg};

/// Messages of the node supervisor: its whole interface.
pub enum NodeMsg {
    /// Return the team's actor, loading the team if needed.
    EnsureTeam {
        /// The team.
        team_id: TeamId,
        /// Receives the actor, or `TeamNotFound`.
        reply: RpcReplyPort<Result<ActorRef<TeamMsg>, ApiError>>,
    },
}

/// State of the node supervisor.
pub struct NodeState {
    /// Shared node state.
    hub: Hub,
    /// Loaded teams by actor id.
    teams: HashMap<ActorId, TeamId>,
    /// Id of the running storage actor.
    storage: Option<ActorId>,
}

/// The node supervisor (see the module docs).
pub struct NodeSupervisor;

impl Actor for NodeSupervisor {
    type Msg = NodeMsg;
    type State = NodeState;
    type Arguments = Hub;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        hub: Hub,
    ) -> Result<Self::State, ActorProcessingErr> {
        let mut state = NodeState {
            hub,
            teams: HashMap::new(),
            storage: None,
        };
        state.start_storage(&myself).await?;
        tracing::info!("node supervisor started");
        Ok(state)
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: NodeMsg,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            NodeMsg::EnsureTeam { team_id, reply } => {
                let result = state.ensure_team(&myself, team_id).await;
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut NodeState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, failure) = match event {
            SupervisionEvent::ActorFailed(cell, error) => (cell, Some(error.to_string())),
            SupervisionEvent::ActorTerminated(cell, _, _) => (cell, None),
            _ => return Ok(()),
        };
        let id = cell.get_id();
        if state.storage == Some(id) {
            state.storage = None;
            state.hub.set_storage(None);
            if let Some(error) = failure {
                tracing::error!(%error, "storage actor failed; restarting it");
                state.start_storage(&myself).await?;
            }
        } else if let Some(team_id) = state.teams.remove(&id) {
            state.hub.registry().teams.remove(&team_id);
            if let Some(error) = failure {
                tracing::error!(team = %team_id, %error, "team actor failed; it loads again on next use");
            }
        }
        Ok(())
    }
}

impl NodeState {
    async fn start_storage(
        &mut self,
        myself: &ActorRef<NodeMsg>,
    ) -> Result<(), ActorProcessingErr> {
        let args = StorageArgs {
            store: self.hub.store().clone(),
            max_batch: self.hub.settings().max_batch,
        };
        let (storage, _) = Actor::spawn_linked(None, StorageActor, args, myself.get_cell()).await?;
        self.storage = Some(storage.get_id());
        self.hub.set_storage(Some(storage));
        Ok(())
    }

    async fn ensure_team(
        &mut self,
        myself: &ActorRef<NodeMsg>,
        team_id: TeamId,
    ) -> Result<ActorRef<TeamMsg>, ApiError> {
        if let Some(team) = self.hub.registry().teams.get(&team_id) {
            return Ok(team.clone());
        }
        match self.hub.store().team(&team_id).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(ApiError::TeamNotFound),
            Err(error) => {
                tracing::error!(team = %team_id, %error, "loading a team failed");
                return Err(ApiError::InternalError);
            }
        }
        let args = TeamArgs {
            hub: self.hub.clone(),
            team_id: team_id.clone(),
        };
        let (team, _) = Actor::spawn_linked(None, TeamActor, args, myself.get_cell())
            .await
            .map_err(|error| {
                tracing::error!(team = %team_id, %error, "starting a team actor failed");
                ApiError::InternalError
            })?;
        self.teams.insert(team.get_id(), team_id.clone());
        self.hub.registry().teams.insert(team_id, team.clone());
        Ok(team)
    }
}

/// Starts the actor tree of a node over `hub`, and the task of its presence
/// batcher.
pub async fn start_node(hub: Hub) -> Result<ActorRef<NodeMsg>, ractor::SpawnErr> {
    let (node, _) = Actor::spawn(None, NodeSupervisor, hub.clone()).await?;
    hub.set_node(node.clone());
    tokio::spawn(hub.presence_batcher().clone().run());
    Ok(node)
}

/// Stops a node step by step: close every session with a close frame, let the
/// storage actor commit everything it holds, then stop the actor tree.
pub async fn stop_node(hub: &Hub, node: &ActorRef<NodeMsg>, timeout: Duration) {
    // Step 1: every socket gets a close frame.
    for entry in hub.registry().sessions.iter() {
        for handle in entry.value() {
            handle.close(CloseReason::Shutdown);
        }
    }

    // Step 2: the storage actor commits every queued write, then stops.
    if let Some(storage) = hub.storage() {
        if let Err(error) = storage.drain_and_wait(Some(timeout)).await {
            tracing::error!(%error, "storage actor did not drain in time");
        }
    }

    // Step 3: the rest of the tree, and the presence batcher.
    if let Err(error) = node
        .stop_and_wait(Some("node shutdown".into()), Some(timeout))
        .await
    {
        tracing::error!(%error, "actor tree did not stop in time");
    }
    hub.presence_batcher().stop();
    tracing::info!("node stopped");
}

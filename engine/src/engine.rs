//! The embeddable engine: opens the store, starts the actor tree, and exposes
//! the warp routes, the Web API and in-process sessions to a host program.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ractor::ActorRef;
use tokio::net::TcpListener;
use warp::Filter;

use switchboard_actors::hub::ask;
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::node::{start_node, stop_node, NodeMsg};
use switchboard_actors::ports::Store;
use switchboard_actors::team::{OpenedSession, TeamMsg};
use switchboard_actors::{ApiError, Hub, HubSettings};

use crate::api::rtm::Tickets;
use crate::api::Api;
use crate::config::Config;
use crate::directory::{bootstrap_if_empty, Bootstrap, DirectoryError};
use crate::files::blobs::Blobs;
use crate::jobs::JobSystem;
use crate::store::open_store;

/// Error starting or running the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The data directory could not be created.
    #[error("cannot create data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The store could not be opened.
    #[error("cannot open store: {0}")]
    Store(String),
    /// The actor tree did not start.
    #[error("cannot start actors: {0}")]
    Actors(String),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Creating the demo workspace failed.
    #[error("bootstrap failed: {0}")]
    Bootstrap(#[from] DirectoryError),
    /// The job queue could not be opened.
    #[error("cannot start the job system: {0}")]
    Jobs(String),
}

/// A running Switchboard node without its listener: the host decides where the
/// routes are served.
pub struct Engine {
    /// The settings it started with.
    config: Config,
    /// Shared node state.
    hub: Hub,
    /// Root of the actor tree.
    node: ActorRef<NodeMsg>,
    /// The Web API.
    api: Api,
    /// The job queue, relay and workers.
    jobs: JobSystem,
}

impl Engine {
    /// Opens the store of `config.store_url()` (SQLite under the data directory
    /// by default) and starts the actors.
    pub async fn start(config: Config) -> Result<Engine, EngineError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| EngineError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let url = config
            .store_url()
            .map_err(|error| EngineError::Store(error.to_string()))?;
        let store = open_store(&url, config.durable, config.store_pool_size)
            .await
            .map_err(|error| EngineError::Store(format!("{url}: {error}")))?;
        Engine::start_with_store(config, store).await
    }

    /// Starts the actors over a store the host opened.
    pub async fn start_with_store(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<Engine, EngineError> {
        let files_dir = config.files_dir();
        let max_file_bytes = config.max_file_bytes;
        let blobs = tokio::task::spawn_blocking(move || Blobs::open(&files_dir, max_file_bytes))
            .await
            .map_err(|error| EngineError::Store(error.to_string()))?
            .map_err(|source| EngineError::DataDir {
                path: config.files_dir().display().to_string(),
                source,
            })?;
        let settings = HubSettings {
            session_queue: config.session_queue,
            max_batch: config.max_batch,
            presence_idle: Duration::from_millis(config.presence_idle_ms),
            presence_batch: Duration::from_millis(config.presence_batch_ms),
            team_idle: (config.team_idle_secs > 0)
                .then(|| std::time::Duration::from_secs(config.team_idle_secs)),
        };
        let hub = Hub::new(store, settings);
        let node = start_node(hub.clone())
            .await
            .map_err(|error| EngineError::Actors(error.to_string()))?;
        let jobs = match JobSystem::start(hub.clone(), &config).await {
            Ok(jobs) => jobs,
            Err(error) => {
                stop_node(
                    &hub,
                    &node,
                    Duration::from_secs(config.shutdown_timeout_secs),
                )
                .await;
                return Err(EngineError::Jobs(error.to_string()));
            }
        };
        let api = Api::new(
            hub.clone(),
            Arc::new(Tickets::default()),
            config.public_url.clone(),
            Arc::new(blobs),
        );
        tracing::info!(data_dir = %config.data_dir.display(), durable = config.durable, "engine started");
        Ok(Engine {
            config,
            hub,
            node,
            api,
            jobs,
        })
    }

    /// Returns the settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Returns the shared node state (registries, store, actors).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Returns the job system (queue and metrics).
    pub fn jobs(&self) -> &JobSystem {
        &self.jobs
    }

    /// Returns the Web API, callable without HTTP.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Returns every route (`/api/{method}`, `/rtm`) for a host's warp server.
    pub fn routes(
        &self,
    ) -> impl Filter<Extract = (warp::reply::Response,), Error = std::convert::Infallible> + Clone
    {
        crate::http::routes(
            self.api.clone(),
            self.hub.clone(),
            self.config.max_body_bytes,
            self.config.max_webhook_body_bytes,
        )
    }

    /// Creates the demo workspace when the store is empty; see
    /// [`bootstrap_if_empty`].
    pub async fn bootstrap(&self, api_url: &str) -> Result<Option<Bootstrap>, EngineError> {
        Ok(bootstrap_if_empty(self.hub.store().as_ref(), &self.config.data_dir, api_url).await?)
    }

    /// Opens an in-process session for a user, with no socket: the caller
    /// drains `outbound.frames` itself. The benchmark harness uses this.
    pub async fn open_session(
        &self,
        team_id: &TeamId,
        user_id: &UserId,
    ) -> Result<OpenedSession, ApiError> {
        let team = self.hub.team(team_id).await?;
        ask(&team, |reply| TeamMsg::OpenSession {
            user_id: user_id.clone(),
            bot_id: None,
            reply,
        })
        .await?
    }

    /// Binds the configured address.
    pub async fn bind(&self) -> Result<TcpListener, EngineError> {
        TcpListener::bind(self.config.listen)
            .await
            .map_err(|source| EngineError::Bind {
                addr: self.config.listen.to_string(),
                source,
            })
    }

    /// Serves the routes on `listener` until `shutdown` completes, then stops
    /// the node step by step (see [`Engine::stop`]).
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) {
        let (stop_accepting, accepting_stopped) = tokio::sync::oneshot::channel::<()>();
        let hub = self.hub.clone();
        let signal = async move {
            shutdown.await;
            tracing::info!("shutdown requested: no new connections");
            // Sockets get their close frames now, so the server can finish.
            for entry in hub.registry().sessions.iter() {
                for handle in entry.value() {
                    handle.close(switchboard_actors::session_handle::CloseReason::Shutdown);
                }
            }
            let _ = stop_accepting.send(());
        };
        let server = warp::serve(self.routes())
            .incoming(listener)
            .graceful(signal)
            .run();
        let timeout = Duration::from_secs(self.config.shutdown_timeout_secs);
        tokio::pin!(server);
        tokio::select! {
            _ = &mut server => {}
            _ = async {
                let _ = accepting_stopped.await;
                tokio::time::sleep(timeout).await;
            } => tracing::warn!("connections still open after the shutdown timeout"),
        }
        self.stop().await;
    }

    /// Stops the node: sessions get close frames, the storage actor commits
    /// what it holds, then the actor tree stops.
    pub async fn stop(&self) {
        let timeout = Duration::from_secs(self.config.shutdown_timeout_secs);
        // Workers write through the storage actor, so they stop first.
        self.jobs.stop().await;
        stop_node(&self.hub, &self.node, timeout).await;
    }
}

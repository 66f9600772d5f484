//! Starting and stopping the job system of one node: the queue chosen by the
//! configuration, the outbox relay, the reminder scheduler, one worker per
//! owned partition of each job kind, and the month-end billing check.

use std::sync::Arc;
use std::time::Duration;

use switchboard_actors::jobs::{JobKind, JobQueue, QueueError};
use switchboard_actors::Hub;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::embedded::EmbeddedQueue;
use super::handlers::{JobContext, JobSettings};
use super::kafka::{KafkaAddress, KafkaQueue};
use super::metrics::JobMetrics;
use super::relay::Relay;
use super::scheduler::ReminderScheduler;
use super::worker::{owns_partition, Worker};
use crate::config::Config;

/// How long `stop` waits for the relay, the scheduler and the workers to finish
/// their current work.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The running job system of a node.
pub struct JobSystem {
    /// The queue in use.
    queue: Arc<dyn JobQueue>,
    /// Counters per job kind.
    metrics: Arc<JobMetrics>,
    /// Cancelled by `stop`.
    stop: CancellationToken,
    /// The relay, scheduler and worker tasks.
    tasks: tokio::sync::Mutex<JoinSet<()>>,
}

/// Opens the queue named by `config.queue`: `embedded`, or
/// `kafka://host:port[/topic-prefix]`.
pub async fn open_queue(config: &Config) -> Result<Arc<dyn JobQueue>, QueueError> {
    let url = config.queue.trim();
    if url == "embedded" {
        let path = config.data_dir.join("queue.db");
        let partitions = config.queue_partitions;
        let durable = config.durable;
        let queue =
            tokio::task::spawn_blocking(move || EmbeddedQueue::open(&path, partitions, durable))
                .await
                .map_err(|error| {
                    QueueError::Backend(format!("embedded queue open task failed: {error}"))
                })??;
        return Ok(Arc::new(queue));
    }
    if url.starts_with("kafka://") {
        let address = KafkaAddress::parse(url).map_err(QueueError::Backend)?;
        let queue = KafkaQueue::connect(&address, config.queue_partitions).await?;
        return Ok(Arc::new(queue));
    }
    Err(QueueError::Backend(format!(
        "invalid queue {url:?}: expected \"embedded\" or kafka://host:port"
    )))
}

impl JobSystem {
    /// Opens the queue and starts the relay, the reminder scheduler and this
    /// node's workers.
    pub async fn start(hub: Hub, config: &Config) -> Result<JobSystem, QueueError> {
        let queue = open_queue(config).await?;
        let metrics = Arc::new(JobMetrics::default());
        let settings = JobSettings {
            max_attempts: config.job_max_attempts,
            backoff_base: Duration::from_millis(config.job_backoff_ms),
            push_gateway_url: config.push_gateway_url.clone(),
            unfurl: super::UnfurlSettings {
                allow_private: config.unfurl_allow_private,
                timeout: Duration::from_millis(config.unfurl_timeout_ms),
                max_bytes: config.unfurl_max_bytes,
            },
        };
        let http = reqwest::Client::builder().build().map_err(|error| {
            QueueError::Backend(format!("failed to build an HTTP client: {error}"))
        })?;
        let context = Arc::new(JobContext {
            hub: hub.clone(),
            settings,
            http,
            metrics: Arc::clone(&metrics),
        });

        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        tasks.spawn(super::month_end::run(hub.clone(), stop.clone()));
        let scheduler = ReminderScheduler { hub: hub.clone() };
        tasks.spawn(scheduler.run(stop.clone()));
        let relay = Relay {
            hub,
            queue: Arc::clone(&queue),
            metrics: Arc::clone(&metrics),
            hold_marker: config.fault_relay_hold_marker.clone(),
        };
        tasks.spawn(relay.run(stop.clone()));

        let mut owned = 0;
        for kind in JobKind::ALL {
            for partition in 0..queue.partitions() {
                if !owns_partition(partition, config.node_index, config.node_count) {
                    continue;
                }
                let worker = Worker {
                    context: Arc::clone(&context),
                    queue: Arc::clone(&queue),
                    queue_key: config.queue.trim().to_owned(),
                    kind,
                    partition,
                };
                tasks.spawn(worker.run(stop.clone()));
                owned += 1;
            }
        }
        tracing::info!(
            queue = queue.name(),
            partitions = queue.partitions(),
            node_index = config.node_index,
            node_count = config.node_count,
            workers = owned,
            "job system started"
        );
        Ok(JobSystem {
            queue,
            metrics,
            stop,
            tasks: tokio::sync::Mutex::new(tasks),
        })
    }

    /// Returns the queue in use.
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.queue
    }

    /// Returns the counters.
    pub fn metrics(&self) -> &Arc<JobMetrics> {
        &self.metrics
    }

    /// Stops the relay, the scheduler and the workers. A job in progress
    /// finishes first,
    /// unless that takes longer than the stop timeout; such a job runs again
    /// after the restart.
    pub async fn stop(&self) {
        self.stop.cancel();
        let mut tasks = self.tasks.lock().await;
        let drained = tokio::time::timeout(STOP_TIMEOUT, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("job tasks still running after the stop timeout; aborting them");
            tasks.abort_all();
        }
        tracing::info!("job system stopped");
    }
}

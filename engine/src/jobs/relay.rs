//! The outbox relay: moves jobs from the store's outbox to the job queue and
//! marks them sent. A crash between the publish and the mark publishes the
//! same jobs again after the restart. Workers skip jobs already done, so no
//! job is lost and none takes effect twice.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use switchboard_actors::jobs::{JobQueue, QueueError};
use switchboard_actors::ports::Write;
use switchboard_actors::Hub;
use tokio_util::sync::CancellationToken;

use super::metrics::JobMetrics;

/// Maximum number of jobs read from the outbox and published at once.
const RELAY_BATCH: usize = 4096;

/// Pause after an empty scan of the outbox.
const IDLE_PAUSE: Duration = Duration::from_millis(5);

/// Pause after a failed publish or mark, before the next try.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// The outbox relay and its dependencies.
pub struct Relay {
    /// Shared node state: the store to scan and the storage actor to write.
    pub hub: Hub,
    /// The queue that jobs are published to.
    pub queue: Arc<dyn JobQueue>,
    /// Counters to update.
    pub metrics: Arc<JobMetrics>,
    /// Fault injection: when set, the relay creates this file after it has
    /// read its first unsent jobs and then waits without publishing them, so a
    /// test can kill the node between the commit and the publish.
    pub hold_marker: Option<PathBuf>,
}

impl Relay {
    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(queue = self.queue.name(), "job relay started");
        while !stop.is_cancelled() {
            let pause = match self.relay_once().await {
                Ok(0) => IDLE_PAUSE,
                Ok(_) => Duration::ZERO,
                Err(error) => {
                    tracing::error!(%error, queue = self.queue.name(), "job relay failed; retrying");
                    ERROR_PAUSE
                }
            };
            if let Some(marker) = &self.hold_marker {
                if marker.exists() {
                    stop.cancelled().await;
                    break;
                }
            }
            if !pause.is_zero() {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tokio::time::sleep(pause) => {}
                }
            }
        }
        tracing::info!("job relay stopped");
    }

    /// Publishes one batch of unsent jobs and marks them sent; returns how
    /// many there were.
    async fn relay_once(&self) -> Result<usize, QueueError> {
        let jobs = self
            .hub
            .store()
            .unsent_jobs(RELAY_BATCH)
            .await
            .map_err(|error| QueueError::Backend(format!("failed to read the outbox: {error}")))?;
        if jobs.is_empty() {
            return Ok(0);
        }
        if let Some(marker) = &self.hold_marker {
            std::fs::write(marker, format!("{} unsent jobs held\n", jobs.len())).map_err(
                |error| {
                    QueueError::Backend(format!("failed to write {}: {error}", marker.display()))
                },
            )?;
            tracing::warn!(jobs = jobs.len(), marker = %marker.display(), "fault injection: relay holds jobs before publishing");
            return Ok(0);
        }

        self.queue.publish(&jobs).await?;
        for job in &jobs {
            self.metrics
                .kind(job.kind)
                .enqueued
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }

        let marks = jobs
            .iter()
            .map(|job| Write::MarkJobSent {
                team_id: job.team_id.clone(),
                job_id: job.id.clone(),
            })
            .collect();
        self.hub
            .write(marks)
            .await
            .map_err(|error| QueueError::Backend(format!("failed to mark jobs sent: {error}")))?;
        Ok(jobs.len())
    }
}

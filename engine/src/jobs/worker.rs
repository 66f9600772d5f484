//! Workers: one task per (job kind, partition) that this node owns. A worker
//! reads jobs in offset order, runs each at least once, retries a failing job
//! with exponential backoff and jitter, moves it to the dead-letter table after
//! the last attempt, and stores its next offset after each batch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use switchboard_actors::jobs::{DeadJob, Job, JobKind, JobQueue};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ts::Ts;
use tokio_util::sync::CancellationToken;

use super::handlers::{self, Handled, JobContext};

/// Maximum number of jobs fetched at once.
const FETCH_BATCH: usize = 512;

/// Maximum number of jobs of one partition that run at once.
const CONCURRENT_JOBS: usize = 64;

/// Pause after a failed fetch or offset read.
const ERROR_PAUSE: Duration = Duration::from_millis(500);

/// Maximum pause between two attempts of a job.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// One consumer of one partition of one topic.
pub struct Worker {
    /// Handlers' shared context: hub, settings, HTTP client, metrics.
    pub context: Arc<JobContext>,
    /// The queue to read.
    pub queue: Arc<dyn JobQueue>,
    /// Names the queue in stored offsets, so offsets of one queue are never
    /// used with another (`embedded`, or the Kafka URL).
    pub queue_key: String,
    /// The topic read.
    pub kind: JobKind,
    /// The partition read.
    pub partition: u32,
}

/// Returns whether this node consumes `partition`: partitions are dealt out
/// round-robin over the nodes, so node `index` of `count` owns every
/// partition whose number is `index` modulo `count`.
pub fn owns_partition(partition: u32, node_index: u32, node_count: u32) -> bool {
    partition % node_count.max(1) == node_index
}

/// Returns the pause before attempt `attempt + 1` (the first retry has
/// `attempt = 1`): `base * 2^(attempt-1)`, capped at [`MAX_BACKOFF`], plus up
/// to the same amount again of random jitter.
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let exponential = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(MAX_BACKOFF);
    let jitter = rand::rng().random_range(0..=exponential.as_millis() as u64);
    exponential + Duration::from_millis(jitter)
}

impl Worker {
    /// Returns the key of this worker's offset in the store.
    fn offset_topic(&self) -> String {
        format!("{}|{}", self.queue_key, self.kind.as_str())
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let hub = self.context.hub.clone();
        let topic = self.offset_topic();
        let mut offset = loop {
            match hub.store().queue_offset(&topic, self.partition).await {
                Ok(offset) => break offset.unwrap_or(0),
                Err(error) => {
                    tracing::error!(%topic, partition = self.partition, %error, "reading a worker offset failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(ERROR_PAUSE) => {}
                    }
                }
            }
        };
        tracing::debug!(%topic, partition = self.partition, offset, "job worker started");

        while !stop.is_cancelled() {
            let fetched = tokio::select! {
                _ = stop.cancelled() => break,
                fetched = self.queue.fetch(self.kind, self.partition, offset, FETCH_BATCH) => fetched,
            };
            let batch = match fetched {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%topic, partition = self.partition, offset, %error, "fetching jobs failed; retrying");
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(ERROR_PAUSE) => {}
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                continue;
            }
            // Jobs of one chunk run concurrently, so their commits share
            // group commits; jobs of a partition are therefore not ordered
            // among themselves. Every job of the batch is finished (or dead)
            // before the offset moves past it, so a crash here runs it again
            // rather than losing it.
            for chunk in batch.chunks(CONCURRENT_JOBS) {
                let runs = chunk
                    .iter()
                    .map(|queued| run_job(&self.context, queued.job.clone()));
                futures_util::future::join_all(runs).await;
                offset = chunk.last().map_or(offset, |queued| queued.offset + 1);
            }
            let write = Write::SetQueueOffset {
                topic: topic.clone(),
                partition: self.partition,
                offset,
            };
            if let Err(error) = hub.write(vec![write]).await {
                // The jobs ran; after a restart they run again and are
                // skipped as done.
                tracing::error!(%topic, partition = self.partition, offset, %error, "storing a worker offset failed");
            }
        }
        tracing::debug!(%topic, partition = self.partition, "job worker stopped");
    }
}

/// Runs one job to completion: skips it when it is already done, tries it up
/// to `max_attempts` times, and dead-letters it after the last failure.
pub async fn run_job(context: &JobContext, job: Job) {
    let hub = &context.hub;
    let metrics = &context.metrics;
    match hub.store().is_job_done(&job.team_id, &job.id).await {
        Ok(true) => return,
        Ok(false) => {}
        Err(error) => {
            tracing::warn!(job = %job.id, %error, "checking whether a job is done failed; running it");
        }
    }

    let max_attempts = context.settings.max_attempts.max(1);
    let mut last_error = String::new();
    for attempt in 1..=max_attempts {
        let outcome = match handlers::handle(context, &job).await {
            Ok(Handled::Writes(mut writes)) => {
                writes.insert(
                    0,
                    Write::FinishJob {
                        team_id: job.team_id.clone(),
                        job_id: job.id.clone(),
                    },
                );
                hub.write(writes).await.map_err(|error| match error {
                    StoreError::Conflict(_) => None,
                    other => Some(other.to_string()),
                })
            }
            Ok(Handled::Finished) => Ok(()),
            Ok(Handled::AlreadyFinished) => Err(None),
            Err(error) => Err(Some(error)),
        };
        match outcome {
            Ok(()) => {
                let latency = Ts::now().0.saturating_sub(job.enqueued.0);
                metrics.record_done(job.kind, latency);
                return;
            }
            // Another delivery of the same job finished first.
            Err(None) => return,
            Err(Some(error)) => last_error = error,
        }
        if attempt < max_attempts {
            metrics
                .kind(job.kind)
                .retried
                .fetch_add(1, Ordering::Relaxed);
            let pause = backoff(context.settings.backoff_base, attempt);
            tracing::warn!(job = %job.id, kind = job.kind.as_str(), team = %job.team_id, attempt, error = %last_error, pause_ms = pause.as_millis() as u64, "job failed; retrying");
            tokio::time::sleep(pause).await;
        }
    }

    tracing::error!(job = %job.id, kind = job.kind.as_str(), team = %job.team_id, attempts = max_attempts, error = %last_error, "job failed every attempt; moved to dead letters");
    let dead = DeadJob {
        job,
        attempts: max_attempts,
        error: last_error,
        died: Ts::now(),
    };
    let kind = dead.job.kind;
    match hub.write(vec![Write::InsertDeadJob(dead)]).await {
        Ok(()) => {
            metrics.kind(kind).dead.fetch_add(1, Ordering::Relaxed);
        }
        Err(error) => tracing::error!(%error, "storing a dead job failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_dealt_round_robin() {
        assert!(owns_partition(0, 0, 2));
        assert!(!owns_partition(1, 0, 2));
        assert!(owns_partition(3, 1, 2));
        assert!(owns_partition(5, 0, 1));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_millis(100);
        let first = backoff(base, 1);
        assert!(first >= base, "{first:?}");
        assert!(first <= base * 2, "{first:?}");
        let third = backoff(base, 3);
        assert!(third >= base * 4, "{third:?}");
        assert!(third <= base * 8, "{third:?}");
        let late = backoff(base, 40);
        assert!(late >= MAX_BACKOFF, "{late:?}");
        assert!(late <= MAX_BACKOFF * 2, "{late:?}");
    }
}

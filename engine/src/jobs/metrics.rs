//! Counters of the job system, per job kind: enqueued (published by the
//! relay), done, retried, dead, and the time from enqueue to done.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Map, Value};
use switchboard_actors::jobs::JobKind;

/// Counters of one job kind. Every field counts since the node started.
#[derive(Debug, Default)]
pub struct KindMetrics {
    /// Jobs the relay published to the queue (a republished job counts again).
    pub enqueued: AtomicU64,
    /// Jobs whose handler finished.
    pub done: AtomicU64,
    /// Failed attempts that were retried.
    pub retried: AtomicU64,
    /// Jobs moved to the dead-letter table.
    pub dead: AtomicU64,
    /// Sum of enqueue-to-done times of finished jobs, in microseconds.
    pub latency_micros_total: AtomicU64,
    /// Largest enqueue-to-done time seen, in microseconds.
    pub latency_micros_max: AtomicU64,
}

/// Counters of every job kind.
#[derive(Debug, Default)]
pub struct JobMetrics {
    /// Indexed like [`JobKind::ALL`].
    kinds: [KindMetrics; 5],
}

impl JobMetrics {
    /// Returns the counters of one kind.
    pub fn kind(&self, kind: JobKind) -> &KindMetrics {
        let index = JobKind::ALL
            .iter()
            .position(|candidate| *candidate == kind)
            .expect("JobKind::ALL lists every kind");
        &self.kinds[index]
    }

    /// Records a finished job that waited `latency_micros` since its enqueue.
    pub fn record_done(&self, kind: JobKind, latency_micros: u64) {
        let counters = self.kind(kind);
        counters.done.fetch_add(1, Ordering::Relaxed);
        counters
            .latency_micros_total
            .fetch_add(latency_micros, Ordering::Relaxed);
        counters
            .latency_micros_max
            .fetch_max(latency_micros, Ordering::Relaxed);
    }

    /// Returns every counter as JSON: `{kind: {enqueued, done, retried, dead,
    /// latency_ms_mean, latency_ms_max}}`.
    pub fn snapshot(&self) -> Value {
        let mut kinds = Map::new();
        for kind in JobKind::ALL {
            let counters = self.kind(kind);
            let done = counters.done.load(Ordering::Relaxed);
            let total = counters.latency_micros_total.load(Ordering::Relaxed);
            let mean_ms = if done == 0 {
                0.0
            } else {
                total as f64 / done as f64 / 1000.0
            };
            kinds.insert(
                kind.as_str().into(),
                json!({
                    "enqueued": counters.enqueued.load(Ordering::Relaxed),
                    "done": done,
                    "retried": counters.retried.load(Ordering::Relaxed),
                    "dead": counters.dead.load(Ordering::Relaxed),
                    "latency_ms_mean": mean_ms,
                    "latency_ms_max": counters.latency_micros_max.load(Ordering::Relaxed) as f64 / 1000.0,
                }),
            );
        }
        Value::Object(kinds)
    }
}

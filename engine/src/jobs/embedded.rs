//! The embedded job queue: a partitioned log in its own SQLite file
//! (`queue.db` in the data directory), for single-node deployments. A record
//! is durable once `publish` returns (the WAL is fsynced when the node is
//! durable), so queued jobs survive a restart.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension};
use switchboard_actors::jobs::{Job, JobKind, JobQueue, QueueError, QueuedJob};
use tokio::sync::Notify;

use super::codec;

/// How long an empty `fetch` waits for a publish before it returns nothing.
const FETCH_WAIT: Duration = Duration::from_millis(100);

/// The embedded queue (see the module docs).
pub struct EmbeddedQueue {
    /// State shared with the blocking tasks that run the SQL.
    shared: Arc<Shared>,
    /// Number of partitions of every topic.
    partitions: u32,
    /// Woken by every publish, so waiting fetches read the new records.
    published: Notify,
}

/// The connection and the next offset of every partition written so far.
struct Shared {
    /// Path of the queue file, for errors.
    path: PathBuf,
    /// The only connection; SQLite serializes writers anyway, and reads are
    /// short.
    state: Mutex<QueueState>,
}

/// The state behind the connection mutex.
struct QueueState {
    /// The open database.
    connection: Connection,
    /// Next offset per (topic, partition), loaded from the file on first use.
    next_offsets: HashMap<(JobKind, u32), i64>,
}

fn backend(context: &str) -> impl FnOnce(rusqlite::Error) -> QueueError + '_ {
    move |error| QueueError::Backend(format!("{context}: {error}"))
}

impl EmbeddedQueue {
    /// Opens (creating when missing) the queue file at `path`. With `durable`,
    /// every publish is fsynced before it returns.
    pub fn open(path: &Path, partitions: u32, durable: bool) -> Result<EmbeddedQueue, QueueError> {
        let connection = Connection::open(path)
            .map_err(backend(&format!("failed to open {}", path.display())))?;
        connection
            .busy_timeout(Duration::from_secs(5))
            .map_err(backend("failed to set busy_timeout"))?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(backend("failed to set journal_mode=WAL"))?;
        connection
            .pragma_update(None, "synchronous", if durable { "FULL" } else { "OFF" })
            .map_err(backend("failed to set synchronous"))?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS queue_records (
                     topic     TEXT    NOT NULL,
                     partition INTEGER NOT NULL,
                     offset    INTEGER NOT NULL,
                     record    BLOB    NOT NULL,  -- codec::encode of the job
                     PRIMARY KEY (topic, partition, offset)
                 ) WITHOUT ROWID;",
            )
            .map_err(backend("failed to create queue_records"))?;
        tracing::info!(path = %path.display(), partitions, durable, "opened embedded job queue");
        Ok(EmbeddedQueue {
            shared: Arc::new(Shared {
                path: path.to_owned(),
                state: Mutex::new(QueueState {
                    connection,
                    next_offsets: HashMap::new(),
                }),
            }),
            partitions: partitions.max(1),
            published: Notify::new(),
        })
    }

    /// Runs `work` on the connection in a blocking task.
    async fn with_state<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&mut QueueState) -> Result<T, QueueError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || {
            let mut state = shared
                .state
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            work(&mut state)
        })
        .await
        .unwrap_or_else(|error| {
            Err(QueueError::Backend(format!(
                "embedded queue task failed on {}: {error}",
                self.shared.path.display()
            )))
        })
    }
}

/// Returns the next offset of a partition, reading the file on first use.
fn next_offset(state: &mut QueueState, kind: JobKind, partition: u32) -> Result<i64, QueueError> {
    if let Some(offset) = state.next_offsets.get(&(kind, partition)) {
        return Ok(*offset);
    }
    let newest: Option<i64> = state
        .connection
        .query_row(
            "SELECT MAX(offset) FROM queue_records WHERE topic = ?1 AND partition = ?2",
            (kind.as_str(), partition),
            |row| row.get(0),
        )
        .optional()
        .map_err(backend("failed to read the newest offset"))?
        .flatten();
    let next = newest.map_or(0, |offset| offset + 1);
    state.next_offsets.insert((kind, partition), next);
    Ok(next)
}

#[async_trait]
impl JobQueue for EmbeddedQueue {
    fn name(&self) -> &'static str {
        "embedded"
    }

    fn partitions(&self) -> u32 {
        self.partitions
    }

    async fn publish(&self, jobs: &[Job]) -> Result<(), QueueError> {
        if jobs.is_empty() {
            return Ok(());
        }
        let partitions = self.partitions;
        let records: Vec<(JobKind, u32, Vec<u8>)> = jobs
            .iter()
            .map(|job| (job.kind, job.partition(partitions), codec::encode(job)))
            .collect();
        self.with_state(move |state| {
            // Offsets are assigned in memory but only kept once the
            // transaction commits, so a failed publish leaves no gap.
            let mut assigned = HashMap::new();
            for (kind, partition, _) in &records {
                if let Entry::Vacant(slot) = assigned.entry((*kind, *partition)) {
                    slot.insert(next_offset(state, *kind, *partition)?);
                }
            }
            let transaction = state
                .connection
                .transaction()
                .map_err(backend("failed to begin a publish"))?;
            {
                let mut insert = transaction
                    .prepare_cached(
                        "INSERT INTO queue_records (topic, partition, offset, record) \
                         VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(backend("failed to prepare a publish"))?;
                for (kind, partition, record) in &records {
                    let offset = assigned
                        .get_mut(&(*kind, *partition))
                        .expect("every partition was assigned above");
                    insert
                        .execute((kind.as_str(), partition, *offset, record))
                        .map_err(backend("failed to append a job"))?;
                    *offset += 1;
                }
            }
            transaction
                .commit()
                .map_err(backend("failed to commit a publish"))?;
            state.next_offsets.extend(assigned);
            Ok(())
        })
        .await?;
        self.published.notify_waiters();
        Ok(())
    }

    async fn fetch(
        &self,
        kind: JobKind,
        partition: u32,
        offset: i64,
        max: usize,
    ) -> Result<Vec<QueuedJob>, QueueError> {
        let read = || {
            self.with_state(move |state| {
                let mut statement = state
                    .connection
                    .prepare_cached(
                        "SELECT offset, record FROM queue_records \
                         WHERE topic = ?1 AND partition = ?2 AND offset >= ?3 \
                         ORDER BY offset LIMIT ?4",
                    )
                    .map_err(backend("failed to prepare a fetch"))?;
                let rows = statement
                    .query_map((kind.as_str(), partition, offset, max as i64), |row| {
                        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
                    })
                    .map_err(backend("failed to fetch jobs"))?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(backend("failed to fetch jobs"))?;
                rows.into_iter()
                    .map(|(offset, bytes)| -> Result<QueuedJob, QueueError> {
                        Ok(QueuedJob {
                            offset,
                            job: codec::decode(&bytes)?,
                        })
                    })
                    .collect()
            })
        };
        // Register interest before reading, so a publish between the read and
        // the wait still wakes this fetch.
        let notified = self.published.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let jobs: Vec<QueuedJob> = read().await?;
        if !jobs.is_empty() {
            return Ok(jobs);
        }
        let _ = tokio::time::timeout(FETCH_WAIT, notified).await;
        read().await
    }
}

//! The reminder scheduler: once a second it reads the reminders that are due
//! and neither fired nor complete, across all teams, and commits one write set
//! that marks each fired (`Write::FireReminder`) and puts its `Reminder` job in
//! the outbox (`Write::InsertJob`). The relay then publishes the jobs like any
//! other. A reminder that fell due while the node was down is found by the
//! first scan after the start.

use std::time::Duration;

use switchboard_actors::jobs::{Job, JobPayload};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::reminder::Reminder;
use switchboard_actors::ts::Ts;
use switchboard_actors::Hub;
use tokio_util::sync::CancellationToken;

/// Pause between two scans.
const SCAN_INTERVAL: Duration = Duration::from_secs(1);

/// Maximum number of reminders fired by one scan. A full scan is followed by
/// the next one at once.
const SCAN_BATCH: usize = 1000;

/// The reminder scheduler and its dependencies.
pub struct ReminderScheduler {
    /// Shared node state: the store to scan and the storage actor to write.
    pub hub: Hub,
}

/// Returns the writes that fire one reminder: the mark and its delivery job.
fn fire_writes(reminder: &Reminder) -> [Write; 2] {
    let job = Job::new(
        reminder.team_id.clone(),
        &JobPayload::Reminder {
            reminder_id: reminder.id.clone(),
        },
    );
    [
        Write::FireReminder {
            team_id: reminder.team_id.clone(),
            reminder_id: reminder.id.clone(),
        },
        Write::InsertJob(job),
    ]
}

impl ReminderScheduler {
    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        tracing::info!(
            interval_ms = SCAN_INTERVAL.as_millis() as u64,
            "reminder scheduler started"
        );
        while !stop.is_cancelled() {
            let pause = match self.fire_due().await {
                Ok(fired) if fired == SCAN_BATCH => Duration::ZERO,
                Ok(_) => SCAN_INTERVAL,
                Err(error) => {
                    tracing::error!(%error, "firing due reminders failed; retrying");
                    SCAN_INTERVAL
                }
            };
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(pause) => {}
            }
        }
        tracing::info!("reminder scheduler stopped");
    }

    /// Fires every due reminder of one scan and returns how many it found.
    async fn fire_due(&self) -> Result<usize, StoreError> {
        let now = i64::try_from(Ts::now().seconds()).unwrap_or(i64::MAX);
        let due = self.hub.store().due_reminders(now, SCAN_BATCH).await?;
        if due.is_empty() {
            return Ok(0);
        }
        let writes: Vec<Write> = due.iter().flat_map(fire_writes).collect();
        match self.hub.write(writes).await {
            Ok(()) => {
                for reminder in &due {
                    log_fired(reminder);
                }
            }
            // A reminder was completed, deleted or fired by another node
            // between the scan and the commit, which rolled the whole set
            // back. Fire the others one by one.
            Err(StoreError::NotFound(detail)) => {
                tracing::info!(%detail, reminders = due.len(), "a due reminder changed before it fired; firing one by one");
                for reminder in &due {
                    match self.hub.write(fire_writes(reminder).into()).await {
                        Ok(()) => log_fired(reminder),
                        Err(StoreError::NotFound(_)) => {
                            tracing::debug!(team = %reminder.team_id, reminder = %reminder.id, "reminder no longer pending; not fired");
                        }
                        Err(error) => return Err(error),
                    }
                }
            }
            Err(error) => return Err(error),
        }
        Ok(due.len())
    }
}

fn log_fired(reminder: &Reminder) {
    tracing::info!(team = %reminder.team_id, reminder = %reminder.id, user = %reminder.user, time = reminder.time, "reminder fired");
}

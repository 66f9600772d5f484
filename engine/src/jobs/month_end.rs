//! The month-end billing check: once a month has ended, every team gets one
//! billing job for it. The check runs when the job system starts and then
//! every hour. It is idempotent. A team whose report of the previous month was
//! computed after that month ended is skipped. The job has a fixed id per
//! month, so the outbox rejects a second insert and a worker skips a job that
//! is already done. Every node runs the check, and the first insert wins.

use std::time::Duration;

use switchboard_actors::calendar::Month;
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::Hub;
use tokio_util::sync::CancellationToken;

use crate::billing::month_end_job;

/// Pause between two checks.
const CHECK_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// Runs the check now and then every [`CHECK_INTERVAL`] until `stop` is
/// cancelled.
pub async fn run(hub: Hub, stop: CancellationToken) {
    tracing::info!(
        interval_secs = CHECK_INTERVAL.as_secs(),
        "month-end billing check started"
    );
    loop {
        let month = Month::current().previous();
        match enqueue_month_end(&hub, month).await {
            Ok(0) => tracing::debug!(%month, "month-end billing check found nothing to enqueue"),
            Ok(enqueued) => {
                tracing::info!(%month, teams = enqueued, "month-end billing jobs enqueued")
            }
            Err(error) => {
                tracing::error!(%month, %error, "month-end billing check failed; retrying in an hour")
            }
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
        }
    }
    tracing::info!("month-end billing check stopped");
}

/// Enqueues the billing job of `month` for every team that existed before the
/// month ended and has no final report of it. Returns how many it enqueued.
pub async fn enqueue_month_end(hub: &Hub, month: Month) -> Result<usize, StoreError> {
    let store = hub.store();
    let mut enqueued = 0;
    for team in store.teams().await? {
        if team.created >= month.end() {
            continue;
        }
        let report = store.billing_report(&team.id, month).await?;
        if report.is_some_and(|report| report.is_final()) {
            continue;
        }
        let job = month_end_job(&team.id, month);
        let job_id = job.id.clone();
        match hub.write(vec![Write::InsertJob(job)]).await {
            Ok(()) => {
                tracing::info!(team = %team.id, job = %job_id, %month, "month-end billing job enqueued");
                enqueued += 1;
            }
            // Enqueued before by this or another node, so its report is pending.
            // NOTE: the SQLite outbox keeps published rows, so a month-end job
            // that was dead-lettered is never enqueued again here. An admin's
            // `admin.billing.report` with `refresh=true` recomputes the month.
            Err(StoreError::Conflict(_)) => {
                tracing::debug!(team = %team.id, job = %job_id, %month, "month-end billing job already enqueued");
            }
            Err(error) => return Err(error),
        }
    }
    Ok(enqueued)
}

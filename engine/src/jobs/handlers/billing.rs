//! The billing job: counts a team's billable seats for a month from the
//! recorded activity and stores the report. The worker commits the report in
//! the job's write set with `FinishJob`, so a second delivery of the same job
//! changes nothing, while a later job for the same month replaces the report.

use switchboard_actors::calendar::Month;
use switchboard_actors::ids::TeamId;
use switchboard_actors::ports::Write;

use super::JobContext;
use crate::billing::compute_report;

pub(super) async fn handle(
    context: &JobContext,
    job_id: &str,
    team_id: &TeamId,
    month: &str,
) -> Result<Vec<Write>, String> {
    let month: Month = month
        .parse()
        .map_err(|error| format!("billing job {job_id} of team {team_id}: {error}"))?;
    let report = compute_report(context.hub.store().as_ref(), team_id, month, job_id)
        .await
        .map_err(|error| {
            format!("failed to compute the billing report {month} of team {team_id}: {error}")
        })?;
    tracing::info!(job = job_id, team = %team_id, %month, billable_seats = report.billable_seats(), "billing report computed");
    Ok(vec![Write::PutBillingReport(report)])
}

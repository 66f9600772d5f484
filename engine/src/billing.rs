//! Computing billing reports: the code shared by the billing job, the
//! `admin.billing.report` and `team.billableInfo` methods and the
//! `switchboard admin billing` command, so that all of them count seats the
//! same way (see `switchboard_actors::billing` for the rule).

use switchboard_actors::billing::{billable_members, ActiveMember, BillingReport};
use switchboard_actors::calendar::Month;
use switchboard_actors::domain::User;
use switchboard_actors::ids::TeamId;
use switchboard_actors::jobs::{Job, JobPayload};
use switchboard_actors::ports::{Page, Store, StoreError};
use switchboard_actors::ts::Ts;

/// Page size when reading a team's users.
const USER_PAGE: usize = 1000;

/// Returns every user of a team, bots and deactivated users included.
pub async fn team_users(store: &dyn Store, team_id: &TeamId) -> Result<Vec<User>, StoreError> {
    let mut users = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .users(
                team_id,
                Page {
                    after: after.clone(),
                    limit: USER_PAGE,
                },
            )
            .await?;
        let full = page.len() == USER_PAGE;
        after = page.last().map(|user| user.id.clone());
        users.extend(page);
        if !full {
            return Ok(users);
        }
    }
}

/// Returns the billable members of a team for a month, from the activity
/// recorded so far.
pub async fn billable_for_month(
    store: &dyn Store,
    team_id: &TeamId,
    month: Month,
) -> Result<(Vec<User>, Vec<ActiveMember>), StoreError> {
    let users = team_users(store, team_id).await?;
    let activity = store.active_members(team_id, month).await?;
    let billable = billable_members(&users, &activity);
    Ok((users, billable))
}

/// Computes a team's billing report for a month, as of now. `job_id` names
/// the job that will store it, or is empty when nothing stores it.
pub async fn compute_report(
    store: &dyn Store,
    team_id: &TeamId,
    month: Month,
    job_id: &str,
) -> Result<BillingReport, StoreError> {
    let computed = Ts::now();
    let (_, members) = billable_for_month(store, team_id, month).await?;
    Ok(BillingReport {
        team_id: team_id.clone(),
        month,
        computed,
        job_id: job_id.to_owned(),
        members,
    })
}

/// Returns the billing job enqueued when a report is requested and missing.
/// Its id is fixed per month, so repeated requests while the job is pending
/// enqueue it once.
pub fn requested_job(team_id: &TeamId, month: Month) -> Job {
    let id = format!("JBILL{:04}{:02}REQ", month.year, month.month);
    Job::with_id(id, team_id.clone(), &payload(month))
}

/// Returns the billing job enqueued after a month ended. Its id is fixed per
/// month, so every node and every hourly check enqueue it once.
pub fn month_end_job(team_id: &TeamId, month: Month) -> Job {
    let id = format!("JBILL{:04}{:02}END", month.year, month.month);
    Job::with_id(id, team_id.clone(), &payload(month))
}

/// Returns a billing job with a fresh id, which recomputes a report that
/// exists already.
pub fn refresh_job(team_id: &TeamId, month: Month) -> Job {
    Job::new(team_id.clone(), &payload(month))
}

/// Returns the payload of a billing job for a month.
fn payload(month: Month) -> JobPayload {
    JobPayload::Billing {
        month: month.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_job_ids_differ_by_month_and_trigger() {
        let team = TeamId::from("T1");
        let june: Month = "2025-06".parse().unwrap();
        let requested = requested_job(&team, june);
        let ended = month_end_job(&team, june);
        assert_eq!(requested.id, "JBILL202506REQ");
        assert_eq!(ended.id, "JBILL202506END");
        assert_eq!(month_end_job(&team, june.previous()).id, "JBILL202505END");
        assert_eq!(
            ended.decode().unwrap(),
            JobPayload::Billing {
                month: "2025-06".into()
            }
        );
        assert_ne!(refresh_job(&team, june).id, refresh_job(&team, june).id);
    }
}

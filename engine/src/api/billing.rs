//! Billing methods, for admins and owners: `admin.billing.report`
//! (Switchboard's own; Slack publishes no such method) returns the stored
//! report of a month and enqueues the billing job that computes it, and
//! Slack's `team.billableInfo` returns who is billed this month.

use serde_json::{json, Map, Value};

use switchboard_actors::calendar::Month;
use switchboard_actors::ids::UserId;
use switchboard_actors::policy::{self, Action, Actor};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ApiError;

use super::params::Params;
use super::{fields, internal, Api, Caller, MethodResult};
use crate::billing::{billable_for_month, refresh_job, requested_job};

/// Reads the `month` argument (`YYYY-MM`, the current UTC month when absent).
/// `invalid_month` for another format or a month that has not begun.
fn month_argument(params: &Params) -> Result<Month, ApiError> {
    let current = Month::current();
    let Some(text) = params.str("month").filter(|text| !text.is_empty()) else {
        return Ok(current);
    };
    let month: Month = text.parse().map_err(|_| ApiError::InvalidMonth)?;
    if month > current {
        return Err(ApiError::InvalidMonth);
    }
    Ok(month)
}

/// `admin.billing.report`: the billable seats of the caller's team for
/// `month`. Returns `report` when a report of the month is stored. When none
/// is, or with `refresh=true`, it enqueues a billing job through the outbox
/// and fails with `report_pending`. A later call returns the report once the
/// job has run, and after a refresh the new report has a later `computed`.
pub async fn report(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    policy::check(Actor::User(&caller.user), Action::ReadBilling)?;
    super::admin::check_team(caller, params)?;
    let month = month_argument(params)?;
    let refresh = params.flag("refresh");
    let team_id = caller.team_id();

    let stored = api
        .hub
        .store()
        .billing_report(team_id, month)
        .await
        .map_err(internal("billing report"))?;
    if let Some(report) = stored.filter(|_| !refresh) {
        return fields(json!({ "report": report.to_api() }));
    }

    let job = if refresh {
        refresh_job(team_id, month)
    } else {
        requested_job(team_id, month)
    };
    let job_id = job.id.clone();
    match api.hub.write(vec![Write::InsertJob(job)]).await {
        Ok(()) => {
            tracing::info!(team = %team_id, actor = %caller.user.id, job = %job_id, %month, refresh, "billing job enqueued");
        }
        // The job of a missing report is enqueued once; it is still pending.
        Err(StoreError::Conflict(_)) => {
            tracing::debug!(team = %team_id, job = %job_id, %month, "billing job already enqueued");
        }
        Err(error) => return Err(internal("billing job enqueue")(error)),
    }
    Err(ApiError::ReportPending)
}

/// `team.billableInfo`: `billable_info` maps each user who is not a bot to
/// `{"billing_active": bool}`, true when the user is a billable seat of the
/// current UTC month so far (active on at least one day of it). With `user`,
/// only that user; `user_not_found` when the team has no such person.
pub async fn billable_info(api: &Api, caller: &Caller, params: &Params) -> MethodResult {
    policy::check(Actor::User(&caller.user), Action::ReadBilling)?;
    super::admin::check_team(caller, params)?;
    let only = params
        .str("user")
        .filter(|text| !text.is_empty())
        .map(|text| UserId::from(text.as_str()));

    let (users, billable) =
        billable_for_month(api.hub.store().as_ref(), caller.team_id(), Month::current())
            .await
            .map_err(internal("billable members"))?;
    let mut info = Map::new();
    for user in users.iter().filter(|user| !user.is_bot) {
        if only.as_ref().is_some_and(|only| *only != user.id) {
            continue;
        }
        let active = billable.iter().any(|member| member.user_id == user.id);
        info.insert(user.id.to_string(), json!({ "billing_active": active }));
    }
    if only.is_some() && info.is_empty() {
        return Err(ApiError::UserNotFound);
    }
    fields(json!({ "billable_info": Value::Object(info) }))
}

//! The billing tables of `0008_billing.sql` in MySQL: members' active days and
//! the billing reports, with the semantics of the SQLite store.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction};
use switchboard_actors::billing::{ActiveMember, BillingReport};
use switchboard_actors::calendar::{Day, Month};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::StoreError;

use super::rows::{column, invalid_column, ts_from_sql, ts_to_sql};
use super::writes::{execute, WriteFailure};

type WriteResult = Result<(), WriteFailure>;
type ReadResult<T> = Result<T, mysql_async::Error>;

pub(super) async fn record_activity(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    day: Day,
    user_id: &UserId,
) -> WriteResult {
    // INSERT IGNORE would also hide errors other than the duplicate key, so
    // the duplicate is turned into a no-op update instead.
    execute(
        transaction,
        "INSERT INTO activity_days (team_id, day, user_id) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE user_id = user_id",
        vec![
            team_id.as_str().into(),
            day.to_string().into(),
            user_id.as_str().into(),
        ],
        &format!("activity of {user_id} on {day} in team {team_id}"),
    )
    .await
    .map(drop)
}

pub(super) async fn put_report(
    transaction: &mut Transaction<'_>,
    report: &BillingReport,
) -> WriteResult {
    let members = serde_json::to_string(&report.members).map_err(|error| {
        WriteFailure::Rejected(StoreError::Backend(format!(
            "failed to encode report members: {error}"
        )))
    })?;
    execute(
        transaction,
        "INSERT INTO billing_reports (team_id, month, job_id, computed, total_seats, members) \
         VALUES (?, ?, ?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE job_id = VALUES(job_id), computed = VALUES(computed), \
           total_seats = VALUES(total_seats), members = VALUES(members)",
        vec![
            report.team_id.as_str().into(),
            report.month.to_string().into(),
            report.job_id.as_str().into(),
            ts_to_sql(report.computed).into(),
            (report.billable_seats() as u64).into(),
            members.into(),
        ],
        &format!("billing report {} of team {}", report.month, report.team_id),
    )
    .await
    .map(drop)
}

pub(super) async fn active_members(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    month: Month,
) -> ReadResult<Vec<ActiveMember>> {
    // Days are `YYYY-MM-DD` ASCII with a binary collation, which sorts by
    // date, so the month is the range from its first day to the next month's.
    let rows: Vec<Row> = connection
        .exec(
            "SELECT user_id, COUNT(*) FROM activity_days \
             WHERE team_id = ? AND day >= ? AND day < ? \
             GROUP BY user_id ORDER BY user_id",
            (
                team_id.as_str(),
                month.first_day().to_string(),
                month.next().first_day().to_string(),
            ),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            Ok(ActiveMember {
                user_id: UserId(column(&mut row, 0, "activity_days.user_id")?),
                active_days: column(&mut row, 1, "activity_days day count")?,
            })
        })
        .collect()
}

pub(super) async fn report(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    month: Month,
) -> ReadResult<Option<BillingReport>> {
    let row: Option<Row> = connection
        .exec_first(
            "SELECT job_id, computed, members FROM billing_reports \
             WHERE team_id = ? AND month = ?",
            (team_id.as_str(), month.to_string()),
        )
        .await?;
    let Some(mut row) = row else {
        return Ok(None);
    };
    let members: String = column(&mut row, 2, "billing_reports.members")?;
    let members: Vec<ActiveMember> = serde_json::from_str(&members)
        .map_err(|error| invalid_column("billing_reports.members", error))?;
    Ok(Some(BillingReport {
        team_id: team_id.clone(),
        month,
        computed: ts_from_sql(column(&mut row, 1, "billing_reports.computed")?),
        job_id: column(&mut row, 0, "billing_reports.job_id")?,
        members,
    }))
}

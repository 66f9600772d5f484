//! The billing tables of `0008_billing.sql`: members' active days and the
//! billing reports. Writes run inside the commit transaction; reads run on a
//! pooled read-only connection.

use rusqlite::{Connection, OptionalExtension};
use switchboard_actors::billing::{ActiveMember, BillingReport};
use switchboard_actors::calendar::{Day, Month};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::StoreError;

use super::rows::{ts_from_sql, ts_to_sql};
use super::writes::write_error;

/// Maps an error of a read query to `Backend`, naming what was read.
fn read_error(subject: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Backend(format!("failed to read {subject}: {error}"))
}

pub(super) fn record_activity(
    connection: &Connection,
    team_id: &TeamId,
    day: Day,
    user_id: &UserId,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO activity_days (team_id, day, user_id) VALUES (?1, ?2, ?3) \
             ON CONFLICT (team_id, day, user_id) DO NOTHING",
        )
        .and_then(|mut statement| {
            statement.execute((team_id.as_str(), day.to_string(), user_id.as_str()))
        })
        .map(drop)
        .map_err(|error| write_error(error, &format!("activity of {user_id} on {day}")))
}

pub(super) fn put_report(
    connection: &Connection,
    report: &BillingReport,
) -> Result<(), StoreError> {
    let members = serde_json::to_string(&report.members).map_err(|error| {
        StoreError::Backend(format!("failed to encode report members: {error}"))
    })?;
    connection
        .prepare_cached(
            "INSERT INTO billing_reports \
             (team_id, month, job_id, computed, total_seats, members) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (team_id, month) DO UPDATE SET \
               job_id = excluded.job_id, computed = excluded.computed, \
               total_seats = excluded.total_seats, members = excluded.members",
        )
        .and_then(|mut statement| {
            statement.execute((
                report.team_id.as_str(),
                report.month.to_string(),
                &report.job_id,
                ts_to_sql(report.computed),
                report.billable_seats() as i64,
                members,
            ))
        })
        .map(drop)
        .map_err(|error| {
            write_error(
                error,
                &format!("billing report {} of team {}", report.month, report.team_id),
            )
        })
}

pub(super) fn active_members(
    connection: &Connection,
    team_id: &TeamId,
    month: Month,
) -> Result<Vec<ActiveMember>, StoreError> {
    // Days are `YYYY-MM-DD` text, which sorts by date, so the month is the
    // range from its first day to the next month's first day.
    connection
        .prepare_cached(
            "SELECT user_id, COUNT(*) FROM activity_days \
             WHERE team_id = ?1 AND day >= ?2 AND day < ?3 \
             GROUP BY user_id ORDER BY user_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        month.first_day().to_string(),
                        month.next().first_day().to_string(),
                    ),
                    |row| {
                        Ok(ActiveMember {
                            user_id: UserId(row.get(0)?),
                            active_days: row.get(1)?,
                        })
                    },
                )?
                .collect()
        })
        .map_err(read_error("active members"))
}

pub(super) fn report(
    connection: &Connection,
    team_id: &TeamId,
    month: Month,
) -> Result<Option<BillingReport>, StoreError> {
    let row = connection
        .prepare_cached(
            "SELECT job_id, computed, members FROM billing_reports \
             WHERE team_id = ?1 AND month = ?2",
        )
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), month.to_string()), |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, String>(2)?,
                    ))
                })
                .optional()
        })
        .map_err(read_error("billing report"))?;
    let Some((job_id, computed, members)) = row else {
        return Ok(None);
    };
    let members: Vec<ActiveMember> = serde_json::from_str(&members).map_err(|error| {
        StoreError::Backend(format!(
            "invalid stored members of billing report {month} of team {team_id}: {error}"
        ))
    })?;
    Ok(Some(BillingReport {
        team_id: team_id.clone(),
        month,
        computed: ts_from_sql(computed),
        job_id,
        members,
    }))
}

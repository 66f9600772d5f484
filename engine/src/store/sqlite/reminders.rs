//! The `reminders` table of `0005_reminders.sql`. Writes run inside the commit
//! transaction; reads run on a pooled read-only connection.

use rusqlite::{Connection, OptionalExtension, Row};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::StoreError;
use switchboard_actors::reminder::Reminder;

use super::rows::{limit_to_sql, ts_from_sql, ts_to_sql};
use super::writes::{require_changed, write_error};

/// Columns read by [`reminder_from_row`], in its order.
const REMINDER_COLUMNS: &str =
    "team_id, id, creator, user_id, text, due, complete_ts, fired, created";

/// Maps an error of a read query to `Backend`, naming what was read.
fn read_error(subject: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Backend(format!("failed to read {subject}: {error}"))
}

fn reminder_from_row(row: &Row<'_>) -> rusqlite::Result<Reminder> {
    Ok(Reminder {
        team_id: TeamId(row.get(0)?),
        id: row.get(1)?,
        creator: UserId(row.get(2)?),
        user: UserId(row.get(3)?),
        text: row.get(4)?,
        time: row.get(5)?,
        complete_ts: row.get(6)?,
        fired: row.get::<_, i64>(7)? != 0,
        created: ts_from_sql(row.get(8)?),
    })
}

pub(super) fn insert(connection: &Connection, reminder: &Reminder) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO reminders \
             (team_id, id, creator, user_id, text, due, complete_ts, fired, created) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .and_then(|mut statement| {
            statement.execute((
                reminder.team_id.as_str(),
                &reminder.id,
                reminder.creator.as_str(),
                reminder.user.as_str(),
                &reminder.text,
                reminder.time,
                reminder.complete_ts,
                i64::from(reminder.fired),
                ts_to_sql(reminder.created),
            ))
        })
        .map(drop)
        .map_err(|error| {
            write_error(
                error,
                &format!("reminder {} of team {}", reminder.id, reminder.team_id),
            )
        })
}

pub(super) fn complete(
    connection: &Connection,
    team_id: &TeamId,
    reminder_id: &str,
    complete_ts: i64,
) -> Result<(), StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE reminders SET complete_ts = ?3 \
             WHERE team_id = ?1 AND id = ?2 AND complete_ts = 0",
        )
        .and_then(|mut statement| statement.execute((team_id.as_str(), reminder_id, complete_ts)))
        .map_err(|error| write_error(error, &format!("reminder {reminder_id}")))?;
    require_changed(changed, || {
        format!("incomplete reminder {reminder_id} of team {team_id}")
    })
}

pub(super) fn delete(
    connection: &Connection,
    team_id: &TeamId,
    reminder_id: &str,
) -> Result<(), StoreError> {
    let changed = connection
        .prepare_cached("DELETE FROM reminders WHERE team_id = ?1 AND id = ?2")
        .and_then(|mut statement| statement.execute((team_id.as_str(), reminder_id)))
        .map_err(|error| write_error(error, &format!("reminder {reminder_id}")))?;
    require_changed(changed, || {
        format!("reminder {reminder_id} of team {team_id}")
    })
}

pub(super) fn fire(
    connection: &Connection,
    team_id: &TeamId,
    reminder_id: &str,
) -> Result<(), StoreError> {
    let changed = connection
        .prepare_cached(
            "UPDATE reminders SET fired = 1 \
             WHERE team_id = ?1 AND id = ?2 AND fired = 0 AND complete_ts = 0",
        )
        .and_then(|mut statement| statement.execute((team_id.as_str(), reminder_id)))
        .map_err(|error| write_error(error, &format!("reminder {reminder_id}")))?;
    require_changed(changed, || {
        format!("pending reminder {reminder_id} of team {team_id}")
    })
}

pub(super) fn reminder(
    connection: &Connection,
    team_id: &TeamId,
    reminder_id: &str,
) -> Result<Option<Reminder>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ?1 AND id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), reminder_id), reminder_from_row)
                .optional()
        })
        .map_err(read_error("reminder"))
}

pub(super) fn user_reminders(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Vec<Reminder>, StoreError> {
    // Two indexed lookups. UNION drops the second copy of a reminder that a
    // user set for themselves.
    connection
        .prepare_cached(&format!(
            "SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ?1 AND user_id = ?2 \
             UNION \
             SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ?1 AND creator = ?2 \
             ORDER BY due, id"
        ))
        .and_then(|mut statement| {
            statement
                .query_map((team_id.as_str(), user_id.as_str()), reminder_from_row)?
                .collect()
        })
        .map_err(read_error("reminders of a user"))
}

pub(super) fn due_reminders(
    connection: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<Reminder>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {REMINDER_COLUMNS} FROM reminders \
             WHERE fired = 0 AND complete_ts = 0 AND due <= ?1 \
             ORDER BY due, team_id, id LIMIT ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_map((now, limit_to_sql(limit)), reminder_from_row)?
                .collect()
        })
        .map_err(read_error("due reminders"))
}

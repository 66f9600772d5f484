//! The `reminders` table of `0005_reminders.sql` in MySQL, with the semantics
//! of the SQLite store.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::reminder::Reminder;

use super::rows::{column, limit_to_sql, ts_from_sql, ts_to_sql};
use super::writes::{execute, require_matched, WriteFailure};

type WriteResult = Result<(), WriteFailure>;
type ReadResult<T> = Result<T, mysql_async::Error>;

/// Columns read by [`reminder_from_row`], in its order.
const REMINDER_COLUMNS: &str =
    "team_id, id, creator, user_id, text, due, complete_ts, fired, created";

fn reminder_from_row(mut row: Row) -> ReadResult<Reminder> {
    let fired: i64 = column(&mut row, 7, "reminders.fired")?;
    Ok(Reminder {
        team_id: TeamId(column(&mut row, 0, "reminders.team_id")?),
        id: column(&mut row, 1, "reminders.id")?,
        creator: UserId(column(&mut row, 2, "reminders.creator")?),
        user: UserId(column(&mut row, 3, "reminders.user_id")?),
        text: column(&mut row, 4, "reminders.text")?,
        time: column(&mut row, 5, "reminders.due")?,
        complete_ts: column(&mut row, 6, "reminders.complete_ts")?,
        fired: fired != 0,
        created: ts_from_sql(column(&mut row, 8, "reminders.created")?),
    })
}

pub(super) async fn insert(transaction: &mut Transaction<'_>, reminder: &Reminder) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO reminders \
         (team_id, id, creator, user_id, text, due, complete_ts, fired, created) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            reminder.team_id.as_str().into(),
            reminder.id.as_str().into(),
            reminder.creator.as_str().into(),
            reminder.user.as_str().into(),
            reminder.text.as_str().into(),
            reminder.time.into(),
            reminder.complete_ts.into(),
            i64::from(reminder.fired).into(),
            ts_to_sql(reminder.created).into(),
        ],
        &format!("reminder {} of team {}", reminder.id, reminder.team_id),
    )
    .await
    .map(drop)
}

pub(super) async fn complete(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    reminder_id: &str,
    complete_ts: i64,
) -> WriteResult {
    let subject = format!("incomplete reminder {reminder_id} of team {team_id}");
    let matched = execute(
        transaction,
        "UPDATE reminders SET complete_ts = ? \
         WHERE team_id = ? AND id = ? AND complete_ts = 0",
        vec![
            complete_ts.into(),
            team_id.as_str().into(),
            reminder_id.into(),
        ],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

pub(super) async fn delete(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    reminder_id: &str,
) -> WriteResult {
    let subject = format!("reminder {reminder_id} of team {team_id}");
    let matched = execute(
        transaction,
        "DELETE FROM reminders WHERE team_id = ? AND id = ?",
        vec![team_id.as_str().into(), reminder_id.into()],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

pub(super) async fn fire(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    reminder_id: &str,
) -> WriteResult {
    let subject = format!("pending reminder {reminder_id} of team {team_id}");
    let matched = execute(
        transaction,
        "UPDATE reminders SET fired = 1 \
         WHERE team_id = ? AND id = ? AND fired = 0 AND complete_ts = 0",
        vec![team_id.as_str().into(), reminder_id.into()],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

pub(super) async fn reminder(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    reminder_id: &str,
) -> ReadResult<Option<Reminder>> {
    let row: Option<Row> = connection
        .exec_first(
            format!("SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ? AND id = ?"),
            (team_id.as_str(), reminder_id),
        )
        .await?;
    row.map(reminder_from_row).transpose()
}

pub(super) async fn user_reminders(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    user_id: &UserId,
) -> ReadResult<Vec<Reminder>> {
    // Two indexed lookups. UNION drops the second copy of a reminder that a
    // user set for themselves.
    let rows: Vec<Row> = connection
        .exec(
            format!(
                "SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ? AND user_id = ? \
                 UNION \
                 SELECT {REMINDER_COLUMNS} FROM reminders WHERE team_id = ? AND creator = ? \
                 ORDER BY due, id"
            ),
            (
                team_id.as_str(),
                user_id.as_str(),
                team_id.as_str(),
                user_id.as_str(),
            ),
        )
        .await?;
    rows.into_iter().map(reminder_from_row).collect()
}

pub(super) async fn due_reminders(
    connection: &mut impl Queryable,
    now: i64,
    limit: usize,
) -> ReadResult<Vec<Reminder>> {
    let rows: Vec<Row> = connection
        .exec(
            format!(
                "SELECT {REMINDER_COLUMNS} FROM reminders \
                 WHERE fired = 0 AND complete_ts = 0 AND due <= ? \
                 ORDER BY due, team_id, id LIMIT ?"
            ),
            (now, limit_to_sql(limit)),
        )
        .await?;
    rows.into_iter().map(reminder_from_row).collect()
}

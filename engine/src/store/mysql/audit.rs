//! The audit log in MySQL, with the same semantics as the SQLite store: each
//! entry gets its team's next `id` inside the commit transaction.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction};
use switchboard_actors::audit::{AuditAction, AuditEntry};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::Page;

use super::rows::{column, ts_from_sql, ts_to_sql};
use super::writes::{execute, WriteFailure};

type WriteResult = Result<(), WriteFailure>;

/// Appends an entry with the next `id` of its team. Two transactions that pick
/// the same `id` collide on the primary key, and the later one fails.
pub(super) async fn insert(transaction: &mut Transaction<'_>, entry: &AuditEntry) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO audit_log (team_id, id, at, actor_id, action, target_id, details) \
         SELECT ?, COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ? FROM audit_log WHERE team_id = ?",
        vec![
            entry.team_id.as_str().into(),
            ts_to_sql(entry.at).into(),
            entry
                .actor
                .as_ref()
                .map(|actor| actor.as_str().to_owned())
                .into(),
            entry.action.as_str().into(),
            entry.target.as_str().into(),
            entry.details.to_string().into(),
            entry.team_id.as_str().into(),
        ],
        &format!(
            "audit entry {} on user {}",
            entry.action.as_str(),
            entry.target
        ),
    )
    .await
    .map(drop)
}

/// Marks every token of a user as revoked; succeeds when the user has none.
pub(super) async fn revoke_user_tokens(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    user_id: &UserId,
) -> WriteResult {
    execute(
        transaction,
        "UPDATE tokens SET revoked = 1 WHERE team_id = ? AND user_id = ?",
        vec![team_id.as_str().into(), user_id.as_str().into()],
        &format!("tokens of user {user_id}"),
    )
    .await
    .map(drop)
}

fn entry_from_row(mut row: Row) -> Result<AuditEntry, mysql_async::Error> {
    let action: String = column(&mut row, 4, "audit_log.action")?;
    let details: String = column(&mut row, 6, "audit_log.details")?;
    let invalid = |detail: String| mysql_async::Error::Other(detail.into());
    Ok(AuditEntry {
        team_id: TeamId(column(&mut row, 0, "audit_log.team_id")?),
        id: column::<i64>(&mut row, 1, "audit_log.id")?.max(0) as u64,
        at: ts_from_sql(column(&mut row, 2, "audit_log.at")?),
        actor: column::<Option<String>>(&mut row, 3, "audit_log.actor_id")?.map(UserId),
        action: AuditAction::parse(&action)
            .ok_or_else(|| invalid(format!("unknown audit action {action:?}")))?,
        target: UserId(column(&mut row, 5, "audit_log.target_id")?),
        details: serde_json::from_str(&details)
            .map_err(|error| invalid(format!("audit details are not JSON: {error}")))?,
    })
}

/// Returns entries with `id` above `page.after`, ascending.
pub(super) async fn entries(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    page: &Page<u64>,
) -> Result<Vec<AuditEntry>, mysql_async::Error> {
    let after = page.after.unwrap_or(0).min(i64::MAX as u64) as i64;
    let limit = page.limit.min(i64::MAX as usize) as i64;
    let rows: Vec<Row> = connection
        .exec(
            "SELECT team_id, id, at, actor_id, action, target_id, details FROM audit_log \
             WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?",
            (team_id.as_str(), after, limit),
        )
        .await?;
    rows.into_iter().map(entry_from_row).collect()
}

/// Returns the team's highest entry `id`, 0 for an empty log.
pub(super) async fn last_id(
    connection: &mut impl Queryable,
    team_id: &TeamId,
) -> Result<u64, mysql_async::Error> {
    let id: Option<i64> = connection
        .exec_first(
            "SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE team_id = ?",
            (team_id.as_str(),),
        )
        .await?;
    Ok(id.unwrap_or(0).max(0) as u64)
}

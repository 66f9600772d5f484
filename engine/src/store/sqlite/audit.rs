//! The audit log in SQLite: appending an entry inside the commit transaction
//! and reading a team's entries.

use rusqlite::{Connection, Row};
use switchboard_actors::audit::{AuditAction, AuditEntry};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::{Page, StoreError};

use super::rows::{limit_to_sql, ts_from_sql, ts_to_sql};

/// Appends an entry with the next `id` of its team. The commit transaction
/// holds SQLite's only write lock, so two entries never get the same `id`.
pub(super) fn insert(connection: &Connection, entry: &AuditEntry) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO audit_log (team_id, id, at, actor_id, action, target_id, details) \
             SELECT ?1, COALESCE(MAX(id), 0) + 1, ?2, ?3, ?4, ?5, ?6 FROM audit_log WHERE team_id = ?1",
            (
                entry.team_id.as_str(),
                ts_to_sql(entry.at),
                entry.actor.as_ref().map(UserId::as_str),
                entry.action.as_str(),
                entry.target.as_str(),
                entry.details.to_string(),
            ),
        )
        .map(drop)
        .map_err(|error| {
            StoreError::Backend(format!(
                "failed to write audit entry {} on user {} in team {}: {error}",
                entry.action.as_str(),
                entry.target,
                entry.team_id
            ))
        })
}

/// Marks every token of a user as revoked.
pub(super) fn revoke_user_tokens(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<(), StoreError> {
    connection
        .execute(
            "UPDATE tokens SET revoked = 1 WHERE team_id = ?1 AND user_id = ?2",
            (team_id.as_str(), user_id.as_str()),
        )
        .map(drop)
        .map_err(|error| {
            StoreError::Backend(format!(
                "failed to revoke the tokens of user {user_id} in team {team_id}: {error}"
            ))
        })
}

fn read_error(error: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("failed to read the audit log: {error}"))
}

fn entry_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let action: String = row.get(4)?;
    let details: String = row.get(6)?;
    let invalid = |column: usize, detail: String| {
        rusqlite::Error::FromSqlConversionFailure(
            column,
            rusqlite::types::Type::Text,
            detail.into(),
        )
    };
    Ok(AuditEntry {
        team_id: TeamId(row.get(0)?),
        id: row.get::<_, i64>(1)?.max(0) as u64,
        at: ts_from_sql(row.get(2)?),
        actor: row.get::<_, Option<String>>(3)?.map(UserId),
        action: AuditAction::parse(&action)
            .ok_or_else(|| invalid(4, format!("unknown audit action {action:?}")))?,
        target: UserId(row.get(5)?),
        details: serde_json::from_str(&details)
            .map_err(|error| invalid(6, format!("audit details are not JSON: {error}")))?,
    })
}

/// Returns entries with `id` above `page.after`, ascending.
pub(super) fn entries(
    connection: &Connection,
    team_id: &TeamId,
    page: &Page<u64>,
) -> Result<Vec<AuditEntry>, StoreError> {
    let after = page.after.unwrap_or(0).min(i64::MAX as u64) as i64;
    connection
        .prepare_cached(
            "SELECT team_id, id, at, actor_id, action, target_id, details FROM audit_log \
             WHERE team_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
        )
        .and_then(|mut statement| {
            statement
                .query_map(
                    (team_id.as_str(), after, limit_to_sql(page.limit)),
                    entry_from_row,
                )?
                .collect()
        })
        .map_err(read_error)
}

/// Returns the team's highest entry `id`, 0 for an empty log.
pub(super) fn last_id(connection: &Connection, team_id: &TeamId) -> Result<u64, StoreError> {
    connection
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM audit_log WHERE team_id = ?1")
        .and_then(|mut statement| {
            statement.query_row([team_id.as_str()], |row| row.get::<_, i64>(0))
        })
        .map(|id| id.max(0) as u64)
        .map_err(read_error)
}

//! Login links and browser sessions in SQLite: their writes, applied inside
//! the commit transaction, and their reads.

use rusqlite::{Connection, OptionalExtension, Row};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ports::StoreError;
use switchboard_actors::ts::Ts;
use switchboard_actors::web_auth::{BrowserSession, LoginLink};

use super::rows::{ts_from_sql, ts_to_sql};
use super::writes::write_error;

pub(super) fn insert_login_link(
    connection: &Connection,
    link: &LoginLink,
) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO login_links (team_id, hash, user_id, created, expires, used) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (
                link.team_id.as_str(),
                &link.hash,
                link.user_id.as_str(),
                ts_to_sql(link.created),
                ts_to_sql(link.expires),
                link.used,
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &format!("login link of user {}", link.user_id)))
}

/// Marks an unused, unexpired link used. The condition sits in the UPDATE, so
/// two browsers redeeming one link at once cannot both succeed.
pub(super) fn use_login_link(
    connection: &Connection,
    team_id: &TeamId,
    hash: &str,
    now: Ts,
) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE login_links SET used = 1 \
             WHERE team_id = ?1 AND hash = ?2 AND used = 0 AND expires > ?3",
            (team_id.as_str(), hash, ts_to_sql(now)),
        )
        .map_err(|error| write_error(error, "login link"))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!(
            "unused, unexpired login link in team {team_id}"
        )));
    }
    Ok(())
}

pub(super) fn insert_browser_session(
    connection: &Connection,
    session: &BrowserSession,
) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO browser_sessions (team_id, hash, user_id, created) VALUES (?1, ?2, ?3, ?4)",
            (
                session.team_id.as_str(),
                &session.hash,
                session.user_id.as_str(),
                ts_to_sql(session.created),
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &format!("browser session of user {}", session.user_id)))
}

pub(super) fn delete_browser_session(
    connection: &Connection,
    team_id: &TeamId,
    hash: &str,
) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "DELETE FROM browser_sessions WHERE team_id = ?1 AND hash = ?2",
            (team_id.as_str(), hash),
        )
        .map_err(|error| write_error(error, "browser session"))?;
    if changed == 0 {
        return Err(StoreError::NotFound(format!(
            "browser session in team {team_id}"
        )));
    }
    Ok(())
}

pub(super) fn login_link(
    connection: &Connection,
    team_id: &TeamId,
    hash: &str,
) -> Result<Option<LoginLink>, StoreError> {
    connection
        .prepare_cached(
            "SELECT team_id, hash, user_id, created, expires, used FROM login_links \
             WHERE team_id = ?1 AND hash = ?2",
        )
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), hash), login_link_from_row)
                .optional()
        })
        .map_err(|error| StoreError::Backend(format!("failed to read login link: {error}")))
}

pub(super) fn browser_session(
    connection: &Connection,
    team_id: &TeamId,
    hash: &str,
) -> Result<Option<BrowserSession>, StoreError> {
    connection
        .prepare_cached(
            "SELECT team_id, hash, user_id, created FROM browser_sessions \
             WHERE team_id = ?1 AND hash = ?2",
        )
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), hash), browser_session_from_row)
                .optional()
        })
        .map_err(|error| StoreError::Backend(format!("failed to read browser session: {error}")))
}

fn login_link_from_row(row: &Row<'_>) -> rusqlite::Result<LoginLink> {
    Ok(LoginLink {
        team_id: TeamId::from(row.get::<_, String>(0)?.as_str()),
        hash: row.get(1)?,
        user_id: UserId::from(row.get::<_, String>(2)?.as_str()),
        created: ts_from_sql(row.get(3)?),
        expires: ts_from_sql(row.get(4)?),
        used: row.get(5)?,
    })
}

fn browser_session_from_row(row: &Row<'_>) -> rusqlite::Result<BrowserSession> {
    Ok(BrowserSession {
        team_id: TeamId::from(row.get::<_, String>(0)?.as_str()),
        hash: row.get(1)?,
        user_id: UserId::from(row.get::<_, String>(2)?.as_str()),
        created: ts_from_sql(row.get(3)?),
    })
}

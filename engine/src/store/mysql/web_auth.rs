//! Login links and browser sessions in MySQL, with the same semantics as the
//! SQLite store: single use is decided by the conditional UPDATE itself.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction};
use switchboard_actors::ids::{TeamId, UserId};
use switchboard_actors::ts::Ts;
use switchboard_actors::web_auth::{BrowserSession, LoginLink};

use super::rows::{column, ts_from_sql, ts_to_sql};
use super::writes::{execute, require_matched, WriteFailure};

type WriteResult = Result<(), WriteFailure>;

pub(super) async fn insert_login_link(
    transaction: &mut Transaction<'_>,
    link: &LoginLink,
) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO login_links (team_id, hash, user_id, created, expires, used) VALUES (?, ?, ?, ?, ?, ?)",
        vec![
            link.team_id.as_str().into(),
            link.hash.as_str().into(),
            link.user_id.as_str().into(),
            ts_to_sql(link.created).into(),
            ts_to_sql(link.expires).into(),
            link.used.into(),
        ],
        &format!("login link of user {}", link.user_id),
    )
    .await
    .map(drop)
}

/// Marks an unused, unexpired link used; `NotFound` otherwise.
pub(super) async fn use_login_link(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    hash: &str,
    now: Ts,
) -> WriteResult {
    let matched = execute(
        transaction,
        "UPDATE login_links SET used = 1 WHERE team_id = ? AND hash = ? AND used = 0 AND expires > ?",
        vec![team_id.as_str().into(), hash.into(), ts_to_sql(now).into()],
        "login link",
    )
    .await?;
    require_matched(matched, || {
        format!("unused, unexpired login link in team {team_id}")
    })
}

pub(super) async fn insert_browser_session(
    transaction: &mut Transaction<'_>,
    session: &BrowserSession,
) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO browser_sessions (team_id, hash, user_id, created) VALUES (?, ?, ?, ?)",
        vec![
            session.team_id.as_str().into(),
            session.hash.as_str().into(),
            session.user_id.as_str().into(),
            ts_to_sql(session.created).into(),
        ],
        &format!("browser session of user {}", session.user_id),
    )
    .await
    .map(drop)
}

pub(super) async fn delete_browser_session(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    hash: &str,
) -> WriteResult {
    let matched = execute(
        transaction,
        "DELETE FROM browser_sessions WHERE team_id = ? AND hash = ?",
        vec![team_id.as_str().into(), hash.into()],
        "browser session",
    )
    .await?;
    require_matched(matched, || format!("browser session in team {team_id}"))
}

pub(super) async fn login_link(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    hash: &str,
) -> Result<Option<LoginLink>, mysql_async::Error> {
    let row: Option<Row> = connection
        .exec_first(
            "SELECT team_id, hash, user_id, created, expires, used FROM login_links WHERE team_id = ? AND hash = ?",
            (team_id.as_str(), hash),
        )
        .await?;
    row.map(|mut row| {
        Ok(LoginLink {
            team_id: TeamId(column(&mut row, 0, "login_links.team_id")?),
            hash: column(&mut row, 1, "login_links.hash")?,
            user_id: UserId(column(&mut row, 2, "login_links.user_id")?),
            created: ts_from_sql(column(&mut row, 3, "login_links.created")?),
            expires: ts_from_sql(column(&mut row, 4, "login_links.expires")?),
            used: column(&mut row, 5, "login_links.used")?,
        })
    })
    .transpose()
}

pub(super) async fn browser_session(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    hash: &str,
) -> Result<Option<BrowserSession>, mysql_async::Error> {
    let row: Option<Row> = connection
        .exec_first(
            "SELECT team_id, hash, user_id, created FROM browser_sessions WHERE team_id = ? AND hash = ?",
            (team_id.as_str(), hash),
        )
        .await?;
    row.map(|mut row| {
        Ok(BrowserSession {
            team_id: TeamId(column(&mut row, 0, "browser_sessions.team_id")?),
            hash: column(&mut row, 1, "browser_sessions.hash")?,
            user_id: UserId(column(&mut row, 2, "browser_sessions.user_id")?),
            created: ts_from_sql(column(&mut row, 3, "browser_sessions.created")?),
        })
    })
    .transpose()
}

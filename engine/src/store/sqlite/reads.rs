//! The read queries behind the [`Store`](switchboard_actors::ports::Store) read
//! methods. Each runs on a read-only connection from the pool.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension};
use switchboard_actors::domain::{
    Channel, ChannelKind, Message, ReactionSummary, Team, Token, User,
};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page, StoreError};
use switchboard_actors::ts::Ts;

use super::rows::{
    channel_from_row, email_key, limit_to_sql, message_from_row, team_from_row, token_from_row,
    ts_from_sql, ts_to_sql, user_from_row, CHANNEL_COLUMNS, MESSAGE_COLUMNS, MESSAGE_FROM,
    TEAM_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS,
};

/// Maps an error of a read query to `Backend`, naming what was read.
fn read_error(subject: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Backend(format!("failed to read {subject}: {error}"))
}

/// Returns the lower bound of a paged listing. Ids are never empty, so every id
/// is greater than the empty string that stands for "from the start".
fn page_start(after: Option<&str>) -> &str {
    after.unwrap_or("")
}

pub(super) fn team(connection: &Connection, team_id: &TeamId) -> Result<Option<Team>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams WHERE team_id = ?1"
        ))
        .and_then(|mut statement| {
            statement
                .query_row([team_id.as_str()], team_from_row)
                .optional()
        })
        .map_err(read_error("team"))
}

pub(super) fn teams(connection: &Connection) -> Result<Vec<Team>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {TEAM_COLUMNS} FROM teams ORDER BY created, team_id"
        ))
        .and_then(|mut statement| statement.query_map([], team_from_row)?.collect())
        .map_err(read_error("teams"))
}

pub(super) fn token(
    connection: &Connection,
    team_id: &TeamId,
    hash: &str,
) -> Result<Option<Token>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens WHERE team_id = ?1 AND hash = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), hash), token_from_row)
                .optional()
        })
        .map_err(read_error("token"))
}

pub(super) fn user(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Option<User>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE team_id = ?1 AND id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), user_id.as_str()), user_from_row)
                .optional()
        })
        .map_err(read_error("user"))
}

pub(super) fn users(
    connection: &Connection,
    team_id: &TeamId,
    page: &Page<UserId>,
) -> Result<Vec<User>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE team_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        page_start(page.after.as_ref().map(UserId::as_str)),
                        limit_to_sql(page.limit),
                    ),
                    user_from_row,
                )?
                .collect()
        })
        .map_err(read_error("users"))
}

/// Returns the user whose e-mail address equals `email` ignoring case. An empty
/// address matches nobody, although bots store one. When two users share an
/// address, the one with the smallest id is returned.
pub(super) fn user_by_email(
    connection: &Connection,
    team_id: &TeamId,
    email: &str,
) -> Result<Option<User>, StoreError> {
    if email.is_empty() {
        return Ok(None);
    }
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE team_id = ?1 AND email_lower = ?2 ORDER BY id LIMIT 1"
        ))
        .and_then(|mut statement| statement.query_row((team_id.as_str(), email_key(email)), user_from_row).optional())
        .map_err(read_error("user by e-mail"))
}

pub(super) fn user_by_name(
    connection: &Connection,
    team_id: &TeamId,
    name: &str,
) -> Result<Option<User>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE team_id = ?1 AND name = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), name), user_from_row)
                .optional()
        })
        .map_err(read_error("user by name"))
}

pub(super) fn channel(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
) -> Result<Option<Channel>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE team_id = ?1 AND id = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), channel_id.as_str()), channel_from_row)
                .optional()
        })
        .map_err(read_error("channel"))
}

pub(super) fn channel_by_name(
    connection: &Connection,
    team_id: &TeamId,
    name: &str,
) -> Result<Option<Channel>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE team_id = ?1 AND name = ?2"
        ))
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), name), channel_from_row)
                .optional()
        })
        .map_err(read_error("channel by name"))
}

/// Lists conversations by the filter. A public conversation is listed for any
/// viewer unless `only_member` is set. Every other kind, and every kind under
/// `only_member`, is listed only when the viewer is a member.
pub(super) fn channels(
    connection: &Connection,
    team_id: &TeamId,
    filter: &ChannelFilter,
    page: &Page<ChannelId>,
) -> Result<Vec<Channel>, StoreError> {
    if filter.kinds.is_empty() {
        return Ok(Vec::new());
    }

    let mut parameters = vec![
        Value::Text(team_id.0.clone()),
        Value::Text(page_start(page.after.as_ref().map(ChannelId::as_str)).to_owned()),
        Value::Integer(i64::from(filter.exclude_archived)),
        Value::Integer(i64::from(filter.only_member)),
        Value::Text(filter.viewer.0.clone()),
        Value::Text(ChannelKind::Public.as_str().to_owned()),
    ];
    let first_kind = parameters.len() + 1;
    let kind_placeholders: Vec<String> = (0..filter.kinds.len())
        .map(|index| format!("?{}", first_kind + index))
        .collect();
    parameters.extend(
        filter
            .kinds
            .iter()
            .map(|kind| Value::Text(kind.as_str().to_owned())),
    );
    parameters.push(Value::Integer(limit_to_sql(page.limit)));
    let limit_placeholder = parameters.len();

    let sql = format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels c \
         WHERE c.team_id = ?1 AND c.id > ?2 \
         AND (?3 = 0 OR c.is_archived = 0) \
         AND ((c.kind = ?6 AND ?4 = 0) \
              OR EXISTS (SELECT 1 FROM members mb \
                         WHERE mb.team_id = c.team_id AND mb.channel_id = c.id AND mb.user_id = ?5)) \
         AND c.kind IN ({}) \
         ORDER BY c.id LIMIT ?{limit_placeholder}",
        kind_placeholders.join(", ")
    );
    connection
        .prepare_cached(&sql)
        .and_then(|mut statement| {
            statement
                .query_map(rusqlite::params_from_iter(parameters), channel_from_row)?
                .collect()
        })
        .map_err(read_error("channels"))
}

pub(super) fn members(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    page: &Page<UserId>,
) -> Result<Vec<UserId>, StoreError> {
    connection
        .prepare_cached(
            "SELECT user_id FROM members WHERE team_id = ?1 AND channel_id = ?2 AND user_id > ?3 \
             ORDER BY user_id LIMIT ?4",
        )
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        channel_id.as_str(),
                        page_start(page.after.as_ref().map(UserId::as_str)),
                        limit_to_sql(page.limit),
                    ),
                    |row| row.get(0).map(UserId),
                )?
                .collect()
        })
        .map_err(read_error("members"))
}

pub(super) fn member_channels(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Vec<ChannelId>, StoreError> {
    connection
        .prepare_cached("SELECT channel_id FROM members WHERE team_id = ?1 AND user_id = ?2 ORDER BY channel_id")
        .and_then(|mut statement| {
            statement
                .query_map((team_id.as_str(), user_id.as_str()), |row| row.get(0).map(ChannelId))?
                .collect()
        })
        .map_err(read_error("channels of a member"))
}

pub(super) fn is_member(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached(
            "SELECT 1 FROM members WHERE team_id = ?1 AND channel_id = ?2 AND user_id = ?3",
        )
        .and_then(|mut statement| {
            statement.exists((team_id.as_str(), channel_id.as_str(), user_id.as_str()))
        })
        .map_err(read_error("membership"))
}

pub(super) fn message(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
) -> Result<Option<Message>, StoreError> {
    let found = connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
             WHERE m.team_id = ?1 AND m.channel_id = ?2 AND m.ts = ?3"
        ))
        .and_then(|mut statement| {
            statement
                .query_row(
                    (team_id.as_str(), channel_id.as_str(), ts_to_sql(ts)),
                    message_from_row,
                )
                .optional()
        })
        .map_err(read_error("message"))?;

    match found {
        Some(mut message) => {
            attach_reactions(connection, std::slice::from_mut(&mut message))?;
            Ok(Some(message))
        }
        None => Ok(None),
    }
}

/// Returns the inclusive `ts` bounds, as stored integers, of a range. An
/// exclusive bound moves one microsecond inward, which is exact because `ts`
/// values are whole microseconds.
fn ts_bounds(range: &HistoryRange) -> (i64, i64) {
    let lowest = match range.oldest {
        None => i64::MIN,
        Some(oldest) if range.inclusive => ts_to_sql(oldest),
        Some(oldest) => ts_to_sql(oldest).saturating_add(1),
    };
    let highest = match range.latest {
        None => i64::MAX,
        Some(latest) if range.inclusive => ts_to_sql(latest),
        Some(latest) => ts_to_sql(latest).saturating_sub(1),
    };
    (lowest, highest)
}

/// Returns top-level messages and thread parents, newest first. Replies (a
/// `thread_ts` other than their own `ts`) stay out.
pub(super) fn history(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    range: &HistoryRange,
) -> Result<Vec<Message>, StoreError> {
    let (lowest, highest) = ts_bounds(range);
    let mut messages: Vec<Message> = connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
             WHERE m.team_id = ?1 AND m.channel_id = ?2 AND m.ts BETWEEN ?3 AND ?4 \
             AND (m.thread_ts IS NULL OR m.thread_ts = m.ts) \
             ORDER BY m.ts DESC LIMIT ?5"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        channel_id.as_str(),
                        lowest,
                        highest,
                        limit_to_sql(range.limit),
                    ),
                    message_from_row,
                )?
                .collect()
        })
        .map_err(read_error("history"))?;

    attach_reactions(connection, &mut messages)?;
    Ok(messages)
}

/// Returns a thread oldest first: the message at `thread_ts` and the replies
/// pointing at it, both only inside the range.
pub(super) fn replies(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    thread_ts: Ts,
    range: &HistoryRange,
) -> Result<Vec<Message>, StoreError> {
    let (lowest, highest) = ts_bounds(range);
    let mut messages: Vec<Message> = connection
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
             WHERE m.team_id = ?1 AND m.channel_id = ?2 AND m.ts BETWEEN ?4 AND ?5 \
             AND (m.ts = ?3 OR (m.thread_ts = ?3 AND m.ts <> ?3)) \
             ORDER BY m.ts ASC LIMIT ?6"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        channel_id.as_str(),
                        ts_to_sql(thread_ts),
                        lowest,
                        highest,
                        limit_to_sql(range.limit),
                    ),
                    message_from_row,
                )?
                .collect()
        })
        .map_err(read_error("thread replies"))?;

    attach_reactions(connection, &mut messages)?;
    Ok(messages)
}

pub(super) fn last_ts(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
) -> Result<Option<Ts>, StoreError> {
    connection
        .prepare_cached("SELECT MAX(ts) FROM messages WHERE team_id = ?1 AND channel_id = ?2")
        .and_then(|mut statement| {
            statement.query_row((team_id.as_str(), channel_id.as_str()), |row| {
                row.get::<_, Option<i64>>(0)
            })
        })
        .map(|newest| newest.map(ts_from_sql))
        .map_err(read_error("last ts"))
}

/// Fills `reactions` on each message: one summary per emoji name, names in the
/// order of their first reaction, users in the order they reacted. Reactions
/// added in the same microsecond keep their insertion order (SQLite's rowid).
fn attach_reactions(connection: &Connection, messages: &mut [Message]) -> Result<(), StoreError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut statement = connection
        .prepare_cached(
            "SELECT name, user_id FROM reactions WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3 \
             ORDER BY added, rowid",
        )
        .map_err(read_error("reactions"))?;

    for message in messages {
        let rows = statement
            .query_map(
                (
                    message.team.as_str(),
                    message.channel.as_str(),
                    ts_to_sql(message.ts),
                ),
                |row| Ok((row.get::<_, String>(0)?, UserId(row.get(1)?))),
            )
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(read_error("reactions"))?;
        message.reactions = group_reactions(rows);
    }
    Ok(())
}

/// Groups (name, user) pairs, given in the order they were added, into one
/// summary per name.
fn group_reactions(rows: Vec<(String, UserId)>) -> Vec<ReactionSummary> {
    let mut summaries: Vec<ReactionSummary> = Vec::new();
    for (name, user) in rows {
        match summaries.iter_mut().find(|summary| summary.name == name) {
            Some(summary) => summary.users.push(user),
            None => summaries.push(ReactionSummary {
                name,
                users: vec![user],
                count: 0,
            }),
        }
    }
    for summary in &mut summaries {
        summary.count = summary.users.len();
    }
    summaries
}

/// Lists every conversation of a team, of every kind, ordered by id.
pub(super) fn team_channels(
    connection: &Connection,
    team_id: &TeamId,
    page: &Page<ChannelId>,
) -> Result<Vec<Channel>, StoreError> {
    connection
        .prepare_cached(&format!(
            "SELECT {CHANNEL_COLUMNS} FROM channels WHERE team_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ))
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        page_start(page.after.as_ref().map(ChannelId::as_str)),
                        limit_to_sql(page.limit),
                    ),
                    channel_from_row,
                )?
                .collect()
        })
        .map_err(read_error("channels of a team"))
}

/// Lists every membership of a team ordered by (channel id, user id).
pub(super) fn team_members(
    connection: &Connection,
    team_id: &TeamId,
    page: &Page<(ChannelId, UserId)>,
) -> Result<Vec<(ChannelId, UserId)>, StoreError> {
    let (after_channel, after_user) = match &page.after {
        Some((channel, user)) => (channel.as_str(), user.as_str()),
        None => ("", ""),
    };
    connection
        .prepare_cached(
            "SELECT channel_id, user_id FROM members WHERE team_id = ?1 \
             AND (channel_id > ?2 OR (channel_id = ?2 AND user_id > ?3)) \
             ORDER BY channel_id, user_id LIMIT ?4",
        )
        .and_then(|mut statement| {
            statement
                .query_map(
                    (
                        team_id.as_str(),
                        after_channel,
                        after_user,
                        limit_to_sql(page.limit),
                    ),
                    |row| Ok((ChannelId(row.get(0)?), UserId(row.get(1)?))),
                )?
                .collect()
        })
        .map_err(read_error("memberships of a team"))
}

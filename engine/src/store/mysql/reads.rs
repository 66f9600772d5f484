//! The read queries behind the [`Store`](switchboard_actors::ports::Store) read
//! methods. Every query names its team, so it runs on one shard.

use std::collections::HashMap;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row, TxOpts, Value};
use switchboard_actors::domain::{
    Channel, ChannelKind, Message, ReactionSummary, Team, Token, User,
};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{ChannelFilter, HistoryRange, Page};
use switchboard_actors::ts::Ts;

use super::rows::{
    channel_from_row, column, email_key, limit_to_sql, message_from_row, team_from_row,
    token_from_row, ts_from_sql, ts_to_sql, user_from_row, CHANNEL_COLUMNS, MESSAGE_COLUMNS,
    MESSAGE_FROM, TEAM_COLUMNS, TOKEN_COLUMNS, USER_COLUMNS,
};

type ReadResult<T> = Result<T, mysql_async::Error>;

/// Returns the lower bound of a paged listing. Ids are never empty, so every id
/// is greater than the empty string that stands for "from the start".
fn page_start(after: Option<&str>) -> &str {
    after.unwrap_or("")
}

/// Runs a query that returns at most one row and decodes it.
async fn first<T>(
    connection: &mut impl Queryable,
    sql: &str,
    parameters: Vec<Value>,
    decode: fn(Row) -> ReadResult<T>,
) -> ReadResult<Option<T>> {
    let row: Option<Row> = connection.exec_first(sql, parameters).await?;
    row.map(decode).transpose()
}

/// Runs a query and decodes every row.
async fn all<T>(
    connection: &mut impl Queryable,
    sql: &str,
    parameters: Vec<Value>,
    decode: fn(Row) -> ReadResult<T>,
) -> ReadResult<Vec<T>> {
    let rows: Vec<Row> = connection.exec(sql, parameters).await?;
    rows.into_iter().map(decode).collect()
}

pub(super) async fn team(connection: &mut Conn, team_id: &TeamId) -> ReadResult<Option<Team>> {
    let sql = format!("SELECT {TEAM_COLUMNS} FROM teams WHERE team_id = ?");
    first(
        connection,
        &sql,
        vec![team_id.as_str().into()],
        team_from_row,
    )
    .await
}

/// Lists every team. This is the one read that names no team, so under Vitess
/// it is a scatter query over every shard; only bootstrap calls it.
pub(super) async fn teams(connection: &mut Conn) -> ReadResult<Vec<Team>> {
    let sql = format!("SELECT {TEAM_COLUMNS} FROM teams ORDER BY created, team_id");
    all(connection, &sql, Vec::new(), team_from_row).await
}

pub(super) async fn token(
    connection: &mut Conn,
    team_id: &TeamId,
    hash: &str,
) -> ReadResult<Option<Token>> {
    let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE team_id = ? AND hash = ?");
    let parameters = vec![team_id.as_str().into(), hash.into()];
    first(connection, &sql, parameters, token_from_row).await
}

pub(super) async fn user(
    connection: &mut Conn,
    team_id: &TeamId,
    user_id: &UserId,
) -> ReadResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id = ?");
    let parameters = vec![team_id.as_str().into(), user_id.as_str().into()];
    first(connection, &sql, parameters, user_from_row).await
}

pub(super) async fn users(
    connection: &mut Conn,
    team_id: &TeamId,
    page: &Page<UserId>,
) -> ReadResult<Vec<User>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND id > ? ORDER BY id LIMIT ?"
    );
    let parameters = vec![
        team_id.as_str().into(),
        page_start(page.after.as_ref().map(UserId::as_str)).into(),
        limit_to_sql(page.limit).into(),
    ];
    all(connection, &sql, parameters, user_from_row).await
}

/// Returns the user whose e-mail address equals `email` ignoring case. An empty
/// address matches nobody, although bots store one. When two users share an
/// address, the one with the smallest id is returned.
pub(super) async fn user_by_email(
    connection: &mut Conn,
    team_id: &TeamId,
    email: &str,
) -> ReadResult<Option<User>> {
    if email.is_empty() {
        return Ok(None);
    }
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND email_lower = ? ORDER BY id LIMIT 1"
    );
    let parameters = vec![team_id.as_str().into(), email_key(email).into()];
    first(connection, &sql, parameters, user_from_row).await
}

pub(super) async fn user_by_name(
    connection: &mut Conn,
    team_id: &TeamId,
    name: &str,
) -> ReadResult<Option<User>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE team_id = ? AND name = ?");
    let parameters = vec![team_id.as_str().into(), name.into()];
    first(connection, &sql, parameters, user_from_row).await
}

pub(super) async fn channel(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
) -> ReadResult<Option<Channel>> {
    let sql = format!("SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.team_id = ? AND c.id = ?");
    let parameters = vec![team_id.as_str().into(), channel_id.as_str().into()];
    first(connection, &sql, parameters, channel_from_row).await
}

pub(super) async fn channel_by_name(
    connection: &mut Conn,
    team_id: &TeamId,
    name: &str,
) -> ReadResult<Option<Channel>> {
    let sql =
        format!("SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.team_id = ? AND c.name = ?");
    let parameters = vec![team_id.as_str().into(), name.into()];
    first(connection, &sql, parameters, channel_from_row).await
}

/// Lists conversations by the filter. A public conversation is listed for any
/// viewer unless `only_member` is set. Every other kind, and every kind under
/// `only_member`, is listed only when the viewer is a member.
pub(super) async fn channels(
    connection: &mut Conn,
    team_id: &TeamId,
    filter: &ChannelFilter,
    page: &Page<ChannelId>,
) -> ReadResult<Vec<Channel>> {
    if filter.kinds.is_empty() {
        return Ok(Vec::new());
    }
    let kind_placeholders = vec!["?"; filter.kinds.len()].join(", ");
    let sql = format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels c \
         WHERE c.team_id = ? AND c.id > ? \
         AND (? = 0 OR c.is_archived = 0) \
         AND ((c.kind = ? AND ? = 0) \
              OR EXISTS (SELECT 1 FROM members mb \
                         WHERE mb.team_id = c.team_id AND mb.channel_id = c.id AND mb.user_id = ?)) \
         AND c.kind IN ({kind_placeholders}) \
         ORDER BY c.id LIMIT ?"
    );
    let mut parameters: Vec<Value> = vec![
        team_id.as_str().into(),
        page_start(page.after.as_ref().map(ChannelId::as_str)).into(),
        filter.exclude_archived.into(),
        ChannelKind::Public.as_str().into(),
        filter.only_member.into(),
        filter.viewer.as_str().into(),
    ];
    parameters.extend(filter.kinds.iter().map(|kind| Value::from(kind.as_str())));
    parameters.push(limit_to_sql(page.limit).into());
    all(connection, &sql, parameters, channel_from_row).await
}

pub(super) async fn members(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
    page: &Page<UserId>,
) -> ReadResult<Vec<UserId>> {
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        page_start(page.after.as_ref().map(UserId::as_str)).into(),
        limit_to_sql(page.limit).into(),
    ];
    all(
        connection,
        "SELECT user_id FROM members WHERE team_id = ? AND channel_id = ? AND user_id > ? \
         ORDER BY user_id LIMIT ?",
        parameters,
        |mut row| column(&mut row, 0, "members.user_id").map(UserId),
    )
    .await
}

pub(super) async fn member_channels(
    connection: &mut Conn,
    team_id: &TeamId,
    user_id: &UserId,
) -> ReadResult<Vec<ChannelId>> {
    all(
        connection,
        "SELECT channel_id FROM members WHERE team_id = ? AND user_id = ? ORDER BY channel_id",
        vec![team_id.as_str().into(), user_id.as_str().into()],
        |mut row| column(&mut row, 0, "members.channel_id").map(ChannelId),
    )
    .await
}

pub(super) async fn is_member(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
) -> ReadResult<bool> {
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        user_id.as_str().into(),
    ];
    let found = first(
        connection,
        "SELECT 1 FROM members WHERE team_id = ? AND channel_id = ? AND user_id = ?",
        parameters,
        |_| Ok(()),
    )
    .await?;
    Ok(found.is_some())
}

/// Returns one message with its reactions, both read in one snapshot.
pub(super) async fn message(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
) -> ReadResult<Option<Message>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.team_id = ? AND m.channel_id = ? AND m.ts = ?"
    );
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        ts_to_sql(ts).into(),
    ];
    let mut snapshot = connection.start_transaction(read_only()).await?;
    let mut messages: Vec<Message> = first(&mut snapshot, &sql, parameters, message_from_row)
        .await?
        .into_iter()
        .collect();
    attach_reactions(&mut snapshot, team_id, channel_id, &mut messages).await?;
    snapshot.commit().await?;
    Ok(messages.pop())
}

/// Options of the transaction a read of several queries runs in, so that every
/// query sees the same snapshot.
fn read_only() -> TxOpts {
    let mut options = TxOpts::default();
    options.with_readonly(true).with_consistent_snapshot(true);
    options
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
pub(super) async fn history(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
    range: &HistoryRange,
) -> ReadResult<Vec<Message>> {
    let (lowest, highest) = ts_bounds(range);
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.team_id = ? AND m.channel_id = ? AND m.ts BETWEEN ? AND ? \
         AND (m.thread_ts IS NULL OR m.thread_ts = m.ts) \
         ORDER BY m.ts DESC LIMIT ?"
    );
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        lowest.into(),
        highest.into(),
        limit_to_sql(range.limit).into(),
    ];
    let mut snapshot = connection.start_transaction(read_only()).await?;
    let mut messages = all(&mut snapshot, &sql, parameters, message_from_row).await?;
    attach_reactions(&mut snapshot, team_id, channel_id, &mut messages).await?;
    snapshot.commit().await?;
    Ok(messages)
}

/// Returns a thread oldest first: the message at `thread_ts` and the replies
/// pointing at it, both only inside the range.
pub(super) async fn replies(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
    thread_ts: Ts,
    range: &HistoryRange,
) -> ReadResult<Vec<Message>> {
    let (lowest, highest) = ts_bounds(range);
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
         WHERE m.team_id = ? AND m.channel_id = ? AND m.ts BETWEEN ? AND ? \
         AND (m.ts = ? OR (m.thread_ts = ? AND m.ts <> ?)) \
         ORDER BY m.ts ASC LIMIT ?"
    );
    let thread_ts = ts_to_sql(thread_ts);
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        lowest.into(),
        highest.into(),
        thread_ts.into(),
        thread_ts.into(),
        thread_ts.into(),
        limit_to_sql(range.limit).into(),
    ];
    let mut snapshot = connection.start_transaction(read_only()).await?;
    let mut messages = all(&mut snapshot, &sql, parameters, message_from_row).await?;
    attach_reactions(&mut snapshot, team_id, channel_id, &mut messages).await?;
    snapshot.commit().await?;
    Ok(messages)
}

pub(super) async fn last_ts(
    connection: &mut Conn,
    team_id: &TeamId,
    channel_id: &ChannelId,
) -> ReadResult<Option<Ts>> {
    let newest = first(
        connection,
        "SELECT MAX(ts) FROM messages WHERE team_id = ? AND channel_id = ?",
        vec![team_id.as_str().into(), channel_id.as_str().into()],
        |mut row| column::<Option<i64>>(&mut row, 0, "MAX(messages.ts)"),
    )
    .await?;
    Ok(newest.flatten().map(ts_from_sql))
}

/// Fills `reactions` on each message: one summary per emoji name, names in the
/// order of their first reaction, users in the order they reacted. Reactions
/// added in the same microsecond keep their insertion order (`seq`).
///
/// One query reads the reactions of every message between the oldest and the
/// newest of `messages`, so that the statement text stays fixed. Rows of other
/// messages in that span (replies left out of history) are ignored.
async fn attach_reactions(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    channel_id: &ChannelId,
    messages: &mut [Message],
) -> ReadResult<()> {
    let (Some(lowest), Some(highest)) = (
        messages.iter().map(|message| message.ts).min(),
        messages.iter().map(|message| message.ts).max(),
    ) else {
        return Ok(());
    };
    let parameters = vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        ts_to_sql(lowest).into(),
        ts_to_sql(highest).into(),
    ];
    let rows = all(
        connection,
        "SELECT ts, name, user_id FROM reactions \
         WHERE team_id = ? AND channel_id = ? AND ts BETWEEN ? AND ? \
         ORDER BY ts, added, seq",
        parameters,
        |mut row| {
            Ok((
                ts_from_sql(column(&mut row, 0, "reactions.ts")?),
                column::<String>(&mut row, 1, "reactions.name")?,
                UserId(column(&mut row, 2, "reactions.user_id")?),
            ))
        },
    )
    .await?;

    let mut by_message: HashMap<Ts, Vec<(String, UserId)>> = HashMap::new();
    for (ts, name, user) in rows {
        by_message.entry(ts).or_default().push((name, user));
    }
    for message in messages {
        if let Some(reactions) = by_message.remove(&message.ts) {
            message.reactions = group_reactions(reactions);
        }
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

/// Lists every conversation of a team ordered by id, for loading the team cache.
pub(super) async fn team_channels(
    connection: &mut Conn,
    team_id: &TeamId,
    page: &Page<ChannelId>,
) -> ReadResult<Vec<Channel>> {
    let sql = format!(
        "SELECT {CHANNEL_COLUMNS} FROM channels c WHERE c.team_id = ? AND c.id > ? ORDER BY c.id LIMIT ?"
    );
    let parameters = vec![
        team_id.as_str().into(),
        page_start(page.after.as_ref().map(ChannelId::as_str)).into(),
        limit_to_sql(page.limit).into(),
    ];
    all(connection, &sql, parameters, channel_from_row).await
}

/// Lists every membership of a team ordered by (channel id, user id).
pub(super) async fn team_members(
    connection: &mut Conn,
    team_id: &TeamId,
    page: &Page<(ChannelId, UserId)>,
) -> ReadResult<Vec<(ChannelId, UserId)>> {
    let (after_channel, after_user) = match &page.after {
        Some((channel, user)) => (channel.as_str(), user.as_str()),
        None => ("", ""),
    };
    let parameters: Vec<Value> = vec![
        team_id.as_str().into(),
        after_channel.into(),
        after_channel.into(),
        after_user.into(),
        limit_to_sql(page.limit).into(),
    ];
    all(
        connection,
        "SELECT channel_id, user_id FROM members WHERE team_id = ? \
         AND (channel_id > ? OR (channel_id = ? AND user_id > ?)) \
         ORDER BY channel_id, user_id LIMIT ?",
        parameters,
        |mut row| {
            Ok((
                ChannelId(column(&mut row, 0, "members.channel_id")?),
                UserId(column(&mut row, 1, "members.user_id")?),
            ))
        },
    )
    .await
}

//! Conversions between domain values and MySQL columns: column lists, row
//! decoders, and the encoding of timestamps and JSON.

use mysql_async::prelude::FromValue;
use mysql_async::{Row, Value};
use switchboard_actors::domain::{
    Channel, ChannelKind, Edited, Message, MessageType, Profile, Role, Team, Token, TokenKind,
    TopicInfo, User,
};
use switchboard_actors::ids::{BotId, ChannelId, TeamId, UserId};
use switchboard_actors::ts::Ts;

/// Converts a `Ts` to the BIGINT the columns store. Values above `i64::MAX`
/// (which no clock produces, but a parsed request parameter can) become
/// `i64::MAX`, so that they still compare as later than every stored `ts`.
pub(super) fn ts_to_sql(ts: Ts) -> i64 {
    i64::try_from(ts.0).unwrap_or(i64::MAX)
}

/// Converts a stored BIGINT back to a `Ts`. Negative values are never written,
/// and read as 0.
pub(super) fn ts_from_sql(value: i64) -> Ts {
    Ts(u64::try_from(value).unwrap_or(0))
}

/// Converts `TopicInfo::last_set` seconds to a BIGINT column.
pub(super) fn seconds_to_sql(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Converts a row limit to the integer `LIMIT` takes.
pub(super) fn limit_to_sql(limit: usize) -> u64 {
    u64::try_from(limit).unwrap_or(u64::MAX)
}

/// Returns the driver value of an optional id or string column.
pub(super) fn optional_text(value: Option<&str>) -> Value {
    value.map_or(Value::NULL, Value::from)
}

/// Returns an error that fails the read which found an undecodable value.
pub(super) fn invalid_column(column: &str, detail: impl std::fmt::Display) -> mysql_async::Error {
    mysql_async::Error::Other(format!("invalid stored value in column {column}: {detail}").into())
}

/// Takes column `index` out of `row`, converted to `T`.
pub(super) fn column<T: FromValue>(
    row: &mut Row,
    index: usize,
    name: &str,
) -> Result<T, mysql_async::Error> {
    match row.take_opt::<T, usize>(index) {
        Some(Ok(value)) => Ok(value),
        Some(Err(error)) => Err(invalid_column(name, error)),
        None => Err(invalid_column(
            name,
            "the column is missing from the result",
        )),
    }
}

/// Columns read by [`team_from_row`], in its order.
pub(super) const TEAM_COLUMNS: &str = "team_id, name, domain, created";

/// Decodes a row selected with [`TEAM_COLUMNS`].
pub(super) fn team_from_row(mut row: Row) -> Result<Team, mysql_async::Error> {
    Ok(Team {
        id: TeamId(column(&mut row, 0, "teams.team_id")?),
        name: column(&mut row, 1, "teams.name")?,
        domain: column(&mut row, 2, "teams.domain")?,
        created: ts_from_sql(column(&mut row, 3, "teams.created")?),
    })
}

/// Columns read by [`user_from_row`], in its order.
pub(super) const USER_COLUMNS: &str =
    "team_id, id, name, profile, is_bot, bot_id, role, deleted, tz, updated";

/// Decodes a row selected with [`USER_COLUMNS`].
pub(super) fn user_from_row(mut row: Row) -> Result<User, mysql_async::Error> {
    let profile_json: String = column(&mut row, 3, "users.profile")?;
    let profile: Profile = serde_json::from_str(&profile_json)
        .map_err(|error| invalid_column("users.profile", error))?;
    let role: String = column(&mut row, 6, "users.role")?;
    Ok(User {
        team_id: TeamId(column(&mut row, 0, "users.team_id")?),
        id: UserId(column(&mut row, 1, "users.id")?),
        name: column(&mut row, 2, "users.name")?,
        profile,
        is_bot: column(&mut row, 4, "users.is_bot")?,
        bot_id: column::<Option<String>>(&mut row, 5, "users.bot_id")?.map(BotId),
        role: Role::parse(&role),
        deleted: column(&mut row, 7, "users.deleted")?,
        tz: column(&mut row, 8, "users.tz")?,
        updated: ts_from_sql(column(&mut row, 9, "users.updated")?),
    })
}

/// Serializes a profile for the `users.profile` column.
pub(super) fn profile_to_json(profile: &Profile) -> String {
    serde_json::to_string(profile).expect("a Profile of strings always serializes")
}

/// Returns the key of the `users.email_lower` column: the address in lower
/// case, so that lookups ignore case in every script, not only ASCII.
pub(super) fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// Columns read by [`token_from_row`], in its order.
pub(super) const TOKEN_COLUMNS: &str = "team_id, hash, user_id, kind, created, revoked";

/// Decodes a row selected with [`TOKEN_COLUMNS`].
pub(super) fn token_from_row(mut row: Row) -> Result<Token, mysql_async::Error> {
    let kind: String = column(&mut row, 3, "tokens.kind")?;
    Ok(Token {
        team_id: TeamId(column(&mut row, 0, "tokens.team_id")?),
        hash: column(&mut row, 1, "tokens.hash")?,
        user_id: UserId(column(&mut row, 2, "tokens.user_id")?),
        kind: TokenKind::parse(&kind),
        created: ts_from_sql(column(&mut row, 4, "tokens.created")?),
        revoked: column(&mut row, 5, "tokens.revoked")?,
    })
}

/// Columns read by [`channel_from_row`], in its order.
pub(super) const CHANNEL_COLUMNS: &str =
    "c.team_id, c.id, c.name, c.kind, c.creator, c.created, c.is_archived, c.is_general, \
     c.topic, c.topic_creator, c.topic_last_set, c.purpose, c.purpose_creator, c.purpose_last_set, c.im_user";

/// Decodes a row selected with [`CHANNEL_COLUMNS`].
pub(super) fn channel_from_row(mut row: Row) -> Result<Channel, mysql_async::Error> {
    let kind_name: String = column(&mut row, 3, "channels.kind")?;
    let kind = ChannelKind::parse(&kind_name)
        .ok_or_else(|| invalid_column("channels.kind", format!("unknown kind {kind_name:?}")))?;
    Ok(Channel {
        team_id: TeamId(column(&mut row, 0, "channels.team_id")?),
        id: ChannelId(column(&mut row, 1, "channels.id")?),
        name: column(&mut row, 2, "channels.name")?,
        kind,
        creator: UserId(column(&mut row, 4, "channels.creator")?),
        created: ts_from_sql(column(&mut row, 5, "channels.created")?),
        is_archived: column(&mut row, 6, "channels.is_archived")?,
        is_general: column(&mut row, 7, "channels.is_general")?,
        topic: TopicInfo {
            value: column(&mut row, 8, "channels.topic")?,
            creator: column(&mut row, 9, "channels.topic_creator")?,
            last_set: seconds_from_sql(column(&mut row, 10, "channels.topic_last_set")?),
        },
        purpose: TopicInfo {
            value: column(&mut row, 11, "channels.purpose")?,
            creator: column(&mut row, 12, "channels.purpose_creator")?,
            last_set: seconds_from_sql(column(&mut row, 13, "channels.purpose_last_set")?),
        },
        im_user: column::<Option<String>>(&mut row, 14, "channels.im_user")?.map(UserId),
    })
}

/// Converts a BIGINT column back to `TopicInfo::last_set` seconds.
fn seconds_from_sql(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// Columns read by [`message_from_row`], in its order. `m` is the message and
/// `p` its thread parent, joined only when `m` is a reply (see
/// [`MESSAGE_FROM`]).
pub(super) const MESSAGE_COLUMNS: &str =
    "m.team_id, m.channel_id, m.ts, m.user_id, m.text, m.subtype, m.bot_id, \
     m.thread_ts, m.reply_count, m.latest_reply, m.edited_user, m.edited_ts, m.extra, p.user_id";

/// The `FROM` clause that goes with [`MESSAGE_COLUMNS`]. The join finds the
/// parent of a reply for `parent_user_id`, and matches nothing for other
/// messages. It names the team, so it stays on one shard.
pub(super) const MESSAGE_FROM: &str = "messages m LEFT JOIN messages p \
     ON p.team_id = m.team_id AND p.channel_id = m.channel_id AND p.ts = m.thread_ts AND m.thread_ts <> m.ts";

/// Decodes a row selected with [`MESSAGE_COLUMNS`], without reactions.
///
/// `reply_count` and `latest_reply` are set only on a thread parent (a message
/// whose `thread_ts` equals its `ts`).
pub(super) fn message_from_row(mut row: Row) -> Result<Message, mysql_async::Error> {
    let ts = ts_from_sql(column(&mut row, 2, "messages.ts")?);
    let thread_ts = column::<Option<i64>>(&mut row, 7, "messages.thread_ts")?.map(ts_from_sql);
    let is_thread_parent = thread_ts == Some(ts);

    let reply_count: i64 = column(&mut row, 8, "messages.reply_count")?;
    let latest_reply =
        column::<Option<i64>>(&mut row, 9, "messages.latest_reply")?.map(ts_from_sql);

    let edited_user: Option<String> = column(&mut row, 10, "messages.edited_user")?;
    let edited_ts: Option<i64> = column(&mut row, 11, "messages.edited_ts")?;
    let edited = match (edited_user, edited_ts) {
        (Some(user), Some(ts)) => Some(Edited {
            user: UserId(user),
            ts: ts_from_sql(ts),
        }),
        _ => None,
    };

    let extra_json: String = column(&mut row, 12, "messages.extra")?;
    let extra: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&extra_json)
        .map_err(|error| invalid_column("messages.extra", error))?;

    Ok(Message {
        kind: MessageType::Message,
        subtype: column(&mut row, 5, "messages.subtype")?,
        user: UserId(column(&mut row, 3, "messages.user_id")?),
        text: column(&mut row, 4, "messages.text")?,
        ts,
        team: TeamId(column(&mut row, 0, "messages.team_id")?),
        channel: ChannelId(column(&mut row, 1, "messages.channel_id")?),
        bot_id: column::<Option<String>>(&mut row, 6, "messages.bot_id")?.map(BotId),
        thread_ts,
        parent_user_id: column::<Option<String>>(&mut row, 13, "parent user_id")?.map(UserId),
        reply_count: is_thread_parent.then(|| u32::try_from(reply_count).unwrap_or(0)),
        latest_reply: if is_thread_parent { latest_reply } else { None },
        edited,
        reactions: Vec::new(),
        extra,
    })
}

/// Serializes a message's extra fields for the `messages.extra` column.
pub(super) fn extra_to_json(extra: &serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::to_string(extra).expect("a JSON map always serializes")
}

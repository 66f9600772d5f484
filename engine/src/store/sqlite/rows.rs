//! Conversions between domain values and SQLite columns: column lists, row
//! decoders, and the encoding of timestamps, booleans and JSON.

use rusqlite::Row;
use switchboard_actors::domain::{
    Channel, ChannelKind, Edited, Message, MessageType, Profile, Role, Team, Token, TokenKind,
    TopicInfo, User,
};
use switchboard_actors::ids::{BotId, ChannelId, TeamId, UserId};
use switchboard_actors::ts::Ts;

/// Converts a `Ts` to the INTEGER the columns store. Values above `i64::MAX`
/// (which no clock produces, but a parsed request parameter can) become
/// `i64::MAX`, so that they still compare as later than every stored `ts`.
pub(super) fn ts_to_sql(ts: Ts) -> i64 {
    i64::try_from(ts.0).unwrap_or(i64::MAX)
}

/// Converts a stored INTEGER back to a `Ts`. Negative values are never written,
/// and read as 0.
pub(super) fn ts_from_sql(value: i64) -> Ts {
    Ts(u64::try_from(value).unwrap_or(0))
}

/// Converts a row limit to the INTEGER SQLite's `LIMIT` takes.
pub(super) fn limit_to_sql(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// Wraps a decoding failure of a stored value so that the query that read it
/// fails with a message naming the column.
fn invalid_column(column: &str, detail: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("invalid stored value in column {column}: {detail}").into(),
    )
}

/// Columns read by [`team_from_row`], in its order.
pub(super) const TEAM_COLUMNS: &str = "team_id, name, domain, created";

/// Decodes a row selected with [`TEAM_COLUMNS`].
pub(super) fn team_from_row(row: &Row<'_>) -> rusqlite::Result<Team> {
    Ok(Team {
        id: TeamId(row.get(0)?),
        name: row.get(1)?,
        domain: row.get(2)?,
        created: ts_from_sql(row.get(3)?),
    })
}

/// Columns read by [`user_from_row`], in its order.
pub(super) const USER_COLUMNS: &str =
    "team_id, id, name, profile, is_bot, bot_id, role, deleted, tz, updated";

/// Decodes a row selected with [`USER_COLUMNS`].
pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<User> {
    let profile_json: String = row.get(3)?;
    let profile: Profile = serde_json::from_str(&profile_json)
        .map_err(|error| invalid_column("users.profile", error))?;
    let role: String = row.get(6)?;
    Ok(User {
        team_id: TeamId(row.get(0)?),
        id: UserId(row.get(1)?),
        name: row.get(2)?,
        profile,
        is_bot: row.get(4)?,
        bot_id: row.get::<_, Option<String>>(5)?.map(BotId),
        role: Role::parse(&role),
        deleted: row.get(7)?,
        tz: row.get(8)?,
        updated: ts_from_sql(row.get(9)?),
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
pub(super) fn token_from_row(row: &Row<'_>) -> rusqlite::Result<Token> {
    let kind: String = row.get(3)?;
    Ok(Token {
        team_id: TeamId(row.get(0)?),
        hash: row.get(1)?,
        user_id: UserId(row.get(2)?),
        kind: TokenKind::parse(&kind),
        created: ts_from_sql(row.get(4)?),
        revoked: row.get(5)?,
    })
}

/// Columns read by [`channel_from_row`], in its order.
pub(super) const CHANNEL_COLUMNS: &str =
    "team_id, id, name, kind, creator, created, is_archived, is_general, \
     topic, topic_creator, topic_last_set, purpose, purpose_creator, purpose_last_set, im_user";

/// Decodes a row selected with [`CHANNEL_COLUMNS`].
pub(super) fn channel_from_row(row: &Row<'_>) -> rusqlite::Result<Channel> {
    let kind_name: String = row.get(3)?;
    let kind = ChannelKind::parse(&kind_name)
        .ok_or_else(|| invalid_column("channels.kind", format!("unknown kind {kind_name:?}")))?;
    Ok(Channel {
        team_id: TeamId(row.get(0)?),
        id: ChannelId(row.get(1)?),
        name: row.get(2)?,
        kind,
        creator: UserId(row.get(4)?),
        created: ts_from_sql(row.get(5)?),
        is_archived: row.get(6)?,
        is_general: row.get(7)?,
        topic: TopicInfo {
            value: row.get(8)?,
            creator: row.get(9)?,
            last_set: seconds_from_sql(row.get(10)?),
        },
        purpose: TopicInfo {
            value: row.get(11)?,
            creator: row.get(12)?,
            last_set: seconds_from_sql(row.get(13)?),
        },
        im_user: row.get::<_, Option<String>>(14)?.map(UserId),
    })
}

/// Converts `TopicInfo::last_set` seconds to an INTEGER column.
pub(super) fn seconds_to_sql(seconds: u64) -> i64 {
    i64::try_from(seconds).unwrap_or(i64::MAX)
}

/// Converts an INTEGER column back to `TopicInfo::last_set` seconds.
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
/// messages.
pub(super) const MESSAGE_FROM: &str = "messages m LEFT JOIN messages p \
     ON p.team_id = m.team_id AND p.channel_id = m.channel_id AND p.ts = m.thread_ts AND m.thread_ts <> m.ts";

/// Decodes a row selected with [`MESSAGE_COLUMNS`], without reactions.
///
/// `reply_count` and `latest_reply` are set only on a thread parent (a message
/// whose `thread_ts` equals its `ts`).
pub(super) fn message_from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let ts = ts_from_sql(row.get(2)?);
    let thread_ts = row.get::<_, Option<i64>>(7)?.map(ts_from_sql);
    let is_thread_parent = thread_ts == Some(ts);

    let reply_count: i64 = row.get(8)?;
    let latest_reply = row.get::<_, Option<i64>>(9)?.map(ts_from_sql);

    let edited_user: Option<String> = row.get(10)?;
    let edited_ts: Option<i64> = row.get(11)?;
    let edited = match (edited_user, edited_ts) {
        (Some(user), Some(ts)) => Some(Edited {
            user: UserId(user),
            ts: ts_from_sql(ts),
        }),
        _ => None,
    };

    let extra_json: String = row.get(12)?;
    let extra: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&extra_json)
        .map_err(|error| invalid_column("messages.extra", error))?;

    Ok(Message {
        kind: MessageType::Message,
        subtype: row.get(5)?,
        user: UserId(row.get(3)?),
        text: row.get(4)?,
        ts,
        team: TeamId(row.get(0)?),
        channel: ChannelId(row.get(1)?),
        bot_id: row.get::<_, Option<String>>(6)?.map(BotId),
        thread_ts,
        parent_user_id: row.get::<_, Option<String>>(13)?.map(UserId),
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

//! Applying one [`Write`] inside the commit transaction, and mapping SQLite
//! errors to [`StoreError`].

use rusqlite::{Connection, OptionalExtension};
use switchboard_actors::domain::{Channel, Message, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ts::Ts;

use super::files;
use super::jobs;
use super::reminders;
use super::rows::{
    email_key, extra_to_json, profile_to_json, seconds_to_sql, ts_from_sql, ts_to_sql,
};
use super::web_auth;

/// Applies every write of one write set, stopping at the first error. The caller
/// runs this inside a savepoint and rolls the whole set back on error.
pub(super) fn apply_write_set(connection: &Connection, writes: &[Write]) -> Result<(), StoreError> {
    for write in writes {
        apply_write(connection, write)?;
    }
    Ok(())
}

/// Applies one write.
fn apply_write(connection: &Connection, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::InsertTeam(team) => connection
            .execute(
                "INSERT INTO teams (team_id, name, domain, created) VALUES (?1, ?2, ?3, ?4)",
                (
                    team.id.as_str(),
                    &team.name,
                    &team.domain,
                    ts_to_sql(team.created),
                ),
            )
            .map(drop)
            .map_err(|error| write_error(error, &format!("team {}", team.id))),
        Write::InsertUser(user) => insert_user(connection, user),
        Write::UpdateUser(user) => update_user(connection, user),
        Write::InsertToken(token) => connection
            .execute(
                "INSERT INTO tokens (team_id, hash, user_id, kind, created, revoked) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                (
                    token.team_id.as_str(),
                    &token.hash,
                    token.user_id.as_str(),
                    token.kind.as_str(),
                    ts_to_sql(token.created),
                    token.revoked,
                ),
            )
            .map(drop)
            .map_err(|error| {
                write_error(
                    error,
                    &format!("token of user {} in team {}", token.user_id, token.team_id),
                )
            }),
        Write::InsertChannel(channel) => insert_channel(connection, channel),
        Write::UpdateChannel(channel) => update_channel(connection, channel),
        Write::AddMember {
            team_id,
            channel_id,
            user_id,
            joined,
        } => add_member(connection, team_id, channel_id, user_id, *joined),
        Write::RemoveMember {
            team_id,
            channel_id,
            user_id,
        } => remove_member(connection, team_id, channel_id, user_id),
        Write::InsertMessage(message) => insert_message(connection, message),
        Write::UpdateMessage(message) => update_message(connection, message),
        Write::DeleteMessage {
            team_id,
            channel_id,
            ts,
        } => delete_message(connection, team_id, channel_id, *ts),
        Write::AddReaction {
            team_id,
            channel_id,
            ts,
            name,
            user_id,
            added,
        } => add_reaction(connection, team_id, channel_id, *ts, name, user_id, *added),
        Write::RemoveReaction {
            team_id,
            channel_id,
            ts,
            name,
            user_id,
        } => remove_reaction(connection, team_id, channel_id, *ts, name, user_id),
        Write::InsertLoginLink(link) => web_auth::insert_login_link(connection, link),
        Write::UseLoginLink { team_id, hash, now } => {
            web_auth::use_login_link(connection, team_id, hash, *now)
        }
        Write::InsertBrowserSession(session) => {
            web_auth::insert_browser_session(connection, session)
        }
        Write::DeleteBrowserSession { team_id, hash } => {
            web_auth::delete_browser_session(connection, team_id, hash)
        }
        Write::RevokeUserTokens { team_id, user_id } => {
            super::audit::revoke_user_tokens(connection, team_id, user_id)
        }
        Write::InsertAuditEntry(entry) => super::audit::insert(connection, entry),
        Write::InsertWebhook(webhook) => files::insert_webhook(connection, webhook),
        Write::RevokeWebhook { team_id, id } => files::revoke_webhook(connection, team_id, id),
        Write::InsertFile(file) => files::insert_file(connection, file),
        Write::UpdateFile(file) => files::update_file(connection, file),
        Write::DeleteFile { team_id, file_id } => files::delete_file(connection, team_id, file_id),
        Write::ShareFile(share) => files::share_file(connection, share),
        Write::InsertJob(job) => jobs::insert_job(connection, job),
        Write::MarkJobSent { team_id, job_id } => jobs::mark_sent(connection, team_id, job_id),
        Write::FinishJob { team_id, job_id } => jobs::finish(connection, team_id, job_id),
        Write::InsertDeadJob(dead) => jobs::insert_dead(connection, dead),
        Write::SetQueueOffset {
            topic,
            partition,
            offset,
        } => jobs::set_offset(connection, topic, *partition, *offset),
        Write::CountUnread {
            team_id,
            channel_id,
            ts,
            recipients,
            mentioned,
        } => jobs::count_unread(connection, team_id, channel_id, *ts, recipients, mentioned),
        Write::MarkRead {
            team_id,
            channel_id,
            user_id,
            ts,
        } => jobs::mark_read(connection, team_id, channel_id, user_id, *ts),
        Write::SetMutedChannels {
            team_id,
            user_id,
            channels,
        } => jobs::set_muted_channels(connection, team_id, user_id, channels),
        Write::RecordActivity {
            team_id,
            day,
            user_id,
        } => super::billing::record_activity(connection, team_id, *day, user_id),
        Write::PutBillingReport(report) => super::billing::put_report(connection, report),
        Write::InsertReminder(reminder) => reminders::insert(connection, reminder),
        Write::CompleteReminder {
            team_id,
            reminder_id,
            complete_ts,
        } => reminders::complete(connection, team_id, reminder_id, *complete_ts),
        Write::DeleteReminder {
            team_id,
            reminder_id,
        } => reminders::delete(connection, team_id, reminder_id),
        Write::FireReminder {
            team_id,
            reminder_id,
        } => reminders::fire(connection, team_id, reminder_id),
    }
}

/// Maps an error of a write statement. Unique and primary-key violations become
/// `Conflict`, and every other error becomes `Backend`. `subject` names the row written,
/// and SQLite's message names the constraint's columns.
pub(super) fn write_error(error: rusqlite::Error, subject: &str) -> StoreError {
    let is_unique_violation = error.sqlite_error().is_some_and(|failure| {
        matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    });
    if is_unique_violation {
        StoreError::Conflict(format!("{subject} conflicts with an existing row: {error}"))
    } else {
        StoreError::Backend(format!("failed to write {subject}: {error}"))
    }
}

/// Returns `NotFound(subject)` when a statement changed no row.
pub(super) fn require_changed(
    changed: usize,
    subject: impl FnOnce() -> String,
) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound(subject()))
    } else {
        Ok(())
    }
}

fn insert_user(connection: &Connection, user: &User) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO users (team_id, id, name, profile, email_lower, is_bot, bot_id, role, deleted, tz, updated) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            (
                user.team_id.as_str(),
                user.id.as_str(),
                &user.name,
                profile_to_json(&user.profile),
                email_key(&user.profile.email),
                user.is_bot,
                user.bot_id.as_ref().map(|id| id.as_str()),
                user.role.as_str(),
                user.deleted,
                &user.tz,
                ts_to_sql(user.updated),
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &user_subject(user)))
}

/// Replaces every field of the user except its ids. `NotFound` when the user
/// does not exist.
fn update_user(connection: &Connection, user: &User) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE users SET name = ?3, profile = ?4, email_lower = ?5, is_bot = ?6, bot_id = ?7, role = ?8, \
             deleted = ?9, tz = ?10, updated = ?11 \
             WHERE team_id = ?1 AND id = ?2",
            (
                user.team_id.as_str(),
                user.id.as_str(),
                &user.name,
                profile_to_json(&user.profile),
                email_key(&user.profile.email),
                user.is_bot,
                user.bot_id.as_ref().map(|id| id.as_str()),
                user.role.as_str(),
                user.deleted,
                &user.tz,
                ts_to_sql(user.updated),
            ),
        )
        .map_err(|error| write_error(error, &user_subject(user)))?;
    require_changed(changed, || {
        format!("user {} in team {}", user.id, user.team_id)
    })
}

fn user_subject(user: &User) -> String {
    format!(
        "user {} named {:?} in team {}",
        user.id, user.name, user.team_id
    )
}

fn insert_channel(connection: &Connection, channel: &Channel) -> Result<(), StoreError> {
    connection
        .execute(
            "INSERT INTO channels (team_id, id, name, kind, creator, created, is_archived, is_general, \
             topic, topic_creator, topic_last_set, purpose, purpose_creator, purpose_last_set, im_user) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            rusqlite::params![
                channel.team_id.as_str(),
                channel.id.as_str(),
                &channel.name,
                channel.kind.as_str(),
                channel.creator.as_str(),
                ts_to_sql(channel.created),
                channel.is_archived,
                channel.is_general,
                &channel.topic.value,
                &channel.topic.creator,
                seconds_to_sql(channel.topic.last_set),
                &channel.purpose.value,
                &channel.purpose.creator,
                seconds_to_sql(channel.purpose.last_set),
                channel.im_user.as_ref().map(|id| id.as_str()),
            ],
        )
        .map(drop)
        .map_err(|error| write_error(error, &channel_subject(channel)))
}

/// Replaces the name, flags, topic and purpose. The kind, creator, creation time
/// and direct-message user never change. `NotFound` when the conversation does
/// not exist.
fn update_channel(connection: &Connection, channel: &Channel) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE channels SET name = ?3, is_archived = ?4, is_general = ?5, \
             topic = ?6, topic_creator = ?7, topic_last_set = ?8, \
             purpose = ?9, purpose_creator = ?10, purpose_last_set = ?11 \
             WHERE team_id = ?1 AND id = ?2",
            rusqlite::params![
                channel.team_id.as_str(),
                channel.id.as_str(),
                &channel.name,
                channel.is_archived,
                channel.is_general,
                &channel.topic.value,
                &channel.topic.creator,
                seconds_to_sql(channel.topic.last_set),
                &channel.purpose.value,
                &channel.purpose.creator,
                seconds_to_sql(channel.purpose.last_set),
            ],
        )
        .map_err(|error| write_error(error, &channel_subject(channel)))?;
    require_changed(changed, || {
        format!("channel {} in team {}", channel.id, channel.team_id)
    })
}

fn channel_subject(channel: &Channel) -> String {
    format!(
        "channel {} named {:?} in team {}",
        channel.id, channel.name, channel.team_id
    )
}

/// Returns whether the conversation exists.
fn channel_exists(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached("SELECT 1 FROM channels WHERE team_id = ?1 AND id = ?2")
        .and_then(|mut statement| statement.exists((team_id.as_str(), channel_id.as_str())))
        .map_err(|error| {
            StoreError::Backend(format!("failed to look up channel {channel_id}: {error}"))
        })
}

/// Adds a member. `NotFound` when the conversation does not exist, so that no
/// membership outlives or precedes its conversation.
fn add_member(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
    joined: Ts,
) -> Result<(), StoreError> {
    if !channel_exists(connection, team_id, channel_id)? {
        return Err(StoreError::NotFound(format!(
            "channel {channel_id} in team {team_id}"
        )));
    }
    connection
        .execute(
            "INSERT INTO members (team_id, channel_id, user_id, joined) VALUES (?1, ?2, ?3, ?4)",
            (
                team_id.as_str(),
                channel_id.as_str(),
                user_id.as_str(),
                ts_to_sql(joined),
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &format!("member {user_id} of channel {channel_id}")))
}

fn remove_member(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "DELETE FROM members WHERE team_id = ?1 AND channel_id = ?2 AND user_id = ?3",
            (team_id.as_str(), channel_id.as_str(), user_id.as_str()),
        )
        .map_err(|error| {
            write_error(error, &format!("member {user_id} of channel {channel_id}"))
        })?;
    require_changed(changed, || {
        format!("member {user_id} of channel {channel_id}")
    })
}

/// Inserts a message. A reply also updates its thread parent, as
/// [`attach_reply`] describes.
fn insert_message(connection: &Connection, message: &Message) -> Result<(), StoreError> {
    let subject = format!("message {} in channel {}", message.ts, message.channel);
    connection
        .execute(
            "INSERT INTO messages (team_id, channel_id, ts, user_id, text, subtype, bot_id, thread_ts, \
             reply_count, latest_reply, edited_user, edited_ts, extra) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 0, NULL, ?9, ?10, ?11)",
            rusqlite::params![
                message.team.as_str(),
                message.channel.as_str(),
                ts_to_sql(message.ts),
                message.user.as_str(),
                &message.text,
                &message.subtype,
                message.bot_id.as_ref().map(|id| id.as_str()),
                message.thread_ts.map(ts_to_sql),
                message.edited.as_ref().map(|edited| edited.user.as_str()),
                message.edited.as_ref().map(|edited| ts_to_sql(edited.ts)),
                extra_to_json(&message.extra),
            ],
        )
        .map_err(|error| write_error(error, &subject))?;

    match message.thread_ts {
        Some(parent_ts) if parent_ts != message.ts => attach_reply(
            connection,
            &message.team,
            &message.channel,
            parent_ts,
            message.ts,
        ),
        _ => Ok(()),
    }
}

/// Records a new reply on its parent: one more reply, the reply as the latest,
/// and `thread_ts = ts` to mark the parent.
///
/// `NotFound("thread parent …")` when the parent is missing or is itself a
/// reply, because threads do not nest.
fn attach_reply(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    parent_ts: Ts,
    reply_ts: Ts,
) -> Result<(), StoreError> {
    let changed = connection
        .execute(
            "UPDATE messages SET reply_count = reply_count + 1, \
             latest_reply = MAX(COALESCE(latest_reply, ?4), ?4), thread_ts = ts \
             WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3 AND (thread_ts IS NULL OR thread_ts = ts)",
            (team_id.as_str(), channel_id.as_str(), ts_to_sql(parent_ts), ts_to_sql(reply_ts)),
        )
        .map_err(|error| write_error(error, &format!("thread parent {parent_ts} in channel {channel_id}")))?;
    require_changed(changed, || {
        format!("thread parent {parent_ts} in channel {channel_id}")
    })
}

/// Replaces the text, edit marker and extra fields. `NotFound` when the message
/// is gone.
fn update_message(connection: &Connection, message: &Message) -> Result<(), StoreError> {
    let subject = format!("message {} in channel {}", message.ts, message.channel);
    let changed = connection
        .execute(
            "UPDATE messages SET text = ?4, edited_user = ?5, edited_ts = ?6, extra = ?7 \
             WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            (
                message.team.as_str(),
                message.channel.as_str(),
                ts_to_sql(message.ts),
                &message.text,
                message.edited.as_ref().map(|edited| edited.user.as_str()),
                message.edited.as_ref().map(|edited| ts_to_sql(edited.ts)),
                extra_to_json(&message.extra),
            ),
        )
        .map_err(|error| write_error(error, &subject))?;
    require_changed(changed, || subject)
}

/// Deletes a message and its reactions. Deleting a reply updates its parent:
/// one reply fewer and the newest remaining reply as the latest. When no reply
/// remains, the parent goes back to a plain message (no `thread_ts`, count 0).
fn delete_message(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
) -> Result<(), StoreError> {
    let subject = format!("message {ts} in channel {channel_id}");
    let key = (team_id.as_str(), channel_id.as_str(), ts_to_sql(ts));

    let thread_ts: Option<Option<i64>> = connection
        .query_row(
            "SELECT thread_ts FROM messages WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            key,
            |row| row.get(0),
        )
        .optional()
        .map_err(|error| write_error(error, &subject))?;
    let Some(thread_ts) = thread_ts else {
        return Err(StoreError::NotFound(subject));
    };

    connection
        .execute(
            "DELETE FROM messages WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            key,
        )
        .map_err(|error| write_error(error, &subject))?;
    connection
        .execute(
            "DELETE FROM reactions WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            key,
        )
        .map_err(|error| write_error(error, &format!("reactions of {subject}")))?;

    match thread_ts {
        Some(parent_ts) if parent_ts != ts_to_sql(ts) => {
            detach_reply(connection, team_id, channel_id, parent_ts)
        }
        _ => Ok(()),
    }
}

/// Updates a thread parent after one of its replies was deleted. A parent that
/// was deleted earlier is left alone.
fn detach_reply(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    parent_ts: i64,
) -> Result<(), StoreError> {
    let subject = format!(
        "thread parent {} in channel {channel_id}",
        ts_from_sql(parent_ts)
    );
    let key = (team_id.as_str(), channel_id.as_str(), parent_ts);

    let newest_reply: Option<i64> = connection
        .query_row(
            "SELECT MAX(ts) FROM messages WHERE team_id = ?1 AND channel_id = ?2 AND thread_ts = ?3 AND ts <> ?3",
            key,
            |row| row.get(0),
        )
        .map_err(|error| write_error(error, &subject))?;

    let result = match newest_reply {
        Some(newest) => connection.execute(
            "UPDATE messages SET reply_count = MAX(reply_count - 1, 0), latest_reply = ?4 \
             WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            (team_id.as_str(), channel_id.as_str(), parent_ts, newest),
        ),
        None => connection.execute(
            "UPDATE messages SET reply_count = 0, latest_reply = NULL, thread_ts = NULL \
             WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3",
            key,
        ),
    };
    result
        .map(drop)
        .map_err(|error| write_error(error, &subject))
}

/// Adds a reaction. `NotFound` when the message does not exist, so that no
/// reaction is stored where no read would ever return it.
fn add_reaction(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    name: &str,
    user_id: &UserId,
    added: Ts,
) -> Result<(), StoreError> {
    let message_subject = format!("message {ts} in channel {channel_id}");
    let message_exists = connection
        .prepare_cached("SELECT 1 FROM messages WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3")
        .and_then(|mut statement| {
            statement.exists((team_id.as_str(), channel_id.as_str(), ts_to_sql(ts)))
        })
        .map_err(|error| write_error(error, &message_subject))?;
    if !message_exists {
        return Err(StoreError::NotFound(message_subject));
    }

    connection
        .execute(
            "INSERT INTO reactions (team_id, channel_id, ts, name, user_id, added) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            (
                team_id.as_str(),
                channel_id.as_str(),
                ts_to_sql(ts),
                name,
                user_id.as_str(),
                ts_to_sql(added),
            ),
        )
        .map(drop)
        .map_err(|error| write_error(error, &reaction_subject(name, user_id, &message_subject)))
}

fn remove_reaction(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    name: &str,
    user_id: &UserId,
) -> Result<(), StoreError> {
    let message_subject = format!("message {ts} in channel {channel_id}");
    let subject = reaction_subject(name, user_id, &message_subject);
    let changed = connection
        .execute(
            "DELETE FROM reactions WHERE team_id = ?1 AND channel_id = ?2 AND ts = ?3 AND name = ?4 AND user_id = ?5",
            (team_id.as_str(), channel_id.as_str(), ts_to_sql(ts), name, user_id.as_str()),
        )
        .map_err(|error| write_error(error, &subject))?;
    require_changed(changed, || subject)
}

fn reaction_subject(name: &str, user_id: &UserId, message_subject: &str) -> String {
    format!("reaction :{name}: by {user_id} on {message_subject}")
}

//! Applying [`Write`]s inside the commit transaction, and mapping MySQL errors
//! to [`StoreError`]. The semantics of each write match the SQLite store's.

use mysql_async::prelude::Queryable;
use mysql_async::{Transaction, Value};
use switchboard_actors::domain::{Channel, Message, User};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::jobs::Job;
use switchboard_actors::ports::{StoreError, Write};
use switchboard_actors::ts::Ts;

use super::audit;
use super::files;
use super::jobs;
use super::reminders;
use super::rows::{
    column, email_key, extra_to_json, optional_text, profile_to_json, seconds_to_sql, ts_from_sql,
    ts_to_sql,
};
use super::web_auth;

/// MySQL's error code for a duplicate key (`ER_DUP_ENTRY`).
const ER_DUP_ENTRY: u16 = 1062;

/// Largest number of rows in one multi-row message insert. Inserts use
/// power-of-two row counts up to this, so each connection prepares at most
/// seven insert statements.
pub(super) const MAX_ROWS_PER_INSERT: usize = 64;

/// Largest total of text and extra bytes in one multi-row insert. MariaDB's
/// default `max_allowed_packet` is 16 MiB, and a statement's parameters travel
/// in one packet.
const MAX_BYTES_PER_INSERT: usize = 4 * 1024 * 1024;

/// Columns of a message insert, in the order of [`message_values`].
const MESSAGE_INSERT: &str =
    "INSERT INTO messages (team_id, channel_id, ts, user_id, text, subtype, bot_id, thread_ts, \
     reply_count, latest_reply, edited_user, edited_ts, extra) VALUES ";

/// Placeholders of one row of [`MESSAGE_INSERT`].
const MESSAGE_ROW: &str = "(?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?, ?)";

/// The failure of one write.
pub(super) enum WriteFailure {
    /// The write was rejected (a duplicate, a missing row) or the server
    /// failed the statement. The caller rolls the write set back.
    Rejected(StoreError),
    /// The connection failed, so the transaction is gone.
    Connection(mysql_async::Error),
}

type WriteResult = Result<(), WriteFailure>;

/// Maps an error of a write statement. A duplicate key becomes `Conflict`, any
/// other error the server returns becomes `Backend`, and a broken connection
/// stays a connection failure. `subject` names the row written.
fn write_error(error: mysql_async::Error, subject: &str) -> WriteFailure {
    match &error {
        mysql_async::Error::Server(server) if server.code == ER_DUP_ENTRY => {
            WriteFailure::Rejected(StoreError::Conflict(format!(
                "{subject} conflicts with an existing row: {}",
                server.message
            )))
        }
        mysql_async::Error::Server(_) => WriteFailure::Rejected(StoreError::Backend(format!(
            "failed to write {subject}: {error}"
        ))),
        _ => WriteFailure::Connection(error),
    }
}

/// Returns `NotFound(subject)` when a statement matched no row.
pub(super) fn require_matched(matched: u64, subject: impl FnOnce() -> String) -> WriteResult {
    if matched == 0 {
        Err(WriteFailure::Rejected(StoreError::NotFound(subject())))
    } else {
        Ok(())
    }
}

/// Runs one statement and returns the number of rows it matched (the pool
/// sets `CLIENT_FOUND_ROWS`, so an UPDATE that changes nothing still counts).
pub(super) async fn execute(
    transaction: &mut Transaction<'_>,
    sql: &str,
    parameters: Vec<Value>,
    subject: &str,
) -> Result<u64, WriteFailure> {
    transaction
        .exec_drop(sql, parameters)
        .await
        .map_err(|error| write_error(error, subject))?;
    Ok(transaction.affected_rows())
}

/// Applies a whole batch without savepoints, stopping at the first failure.
/// Runs of write sets that each insert one message that is not a reply (with
/// or without its outbox job) go in multi-row inserts, and every other write
/// set runs as [`apply_write_set`] runs it. On `Rejected`, the caller rolls the
/// transaction back and runs the batch again with savepoints. Grouping the
/// plain inserts gives the same rows as running the sets one by one, because
/// such a message and its job change no other row.
pub(super) async fn apply_batch_unguarded(
    transaction: &mut Transaction<'_>,
    batch: &[Vec<Write>],
) -> WriteResult {
    let mut plain_messages: Vec<&Message> = Vec::new();
    let mut plain_jobs: Vec<&Job> = Vec::new();
    for writes in batch {
        match writes.as_slice() {
            [Write::InsertMessage(message)] if !is_reply(message) => plain_messages.push(message),
            [Write::InsertMessage(message), Write::InsertJob(job)] if !is_reply(message) => {
                plain_messages.push(message);
                plain_jobs.push(job);
            }
            _ => {
                insert_plain_messages(transaction, &plain_messages).await?;
                jobs::insert_jobs(transaction, &plain_jobs).await?;
                plain_messages.clear();
                plain_jobs.clear();
                apply_write_set(transaction, writes).await?;
            }
        }
    }
    insert_plain_messages(transaction, &plain_messages).await?;
    jobs::insert_jobs(transaction, &plain_jobs).await
}

/// Returns whether the message is a thread reply, which also changes its parent.
fn is_reply(message: &Message) -> bool {
    message
        .thread_ts
        .is_some_and(|thread_ts| thread_ts != message.ts)
}

/// Inserts messages that are not replies with as few statements as the size
/// limits allow.
async fn insert_plain_messages(
    transaction: &mut Transaction<'_>,
    messages: &[&Message],
) -> WriteResult {
    let mut start = 0;
    while start < messages.len() {
        // The largest power of two of rows that fits the row and byte limits.
        let mut count = MAX_ROWS_PER_INSERT.min(messages.len() - start);
        count = 1 << (usize::BITS - 1 - count.leading_zeros());
        while count > 1 && payload_bytes(&messages[start..start + count]) > MAX_BYTES_PER_INSERT {
            count /= 2;
        }
        let chunk = &messages[start..start + count];
        let sql = format!("{MESSAGE_INSERT}{}", vec![MESSAGE_ROW; count].join(", "));
        let parameters: Vec<Value> = chunk
            .iter()
            .flat_map(|message| message_values(message))
            .collect();
        let subject = format!(
            "{count} messages starting at {} in channel {}",
            chunk[0].ts, chunk[0].channel
        );
        execute(transaction, &sql, parameters, &subject).await?;
        start += count;
    }
    Ok(())
}

/// Returns the bytes of text and extra fields the messages send.
fn payload_bytes(messages: &[&Message]) -> usize {
    messages
        .iter()
        .map(|message| message.text.len() + extra_to_json(&message.extra).len())
        .sum()
}

/// Returns the values of one [`MESSAGE_ROW`].
fn message_values(message: &Message) -> Vec<Value> {
    vec![
        message.team.as_str().into(),
        message.channel.as_str().into(),
        ts_to_sql(message.ts).into(),
        message.user.as_str().into(),
        message.text.as_str().into(),
        optional_text(message.subtype.as_deref()),
        optional_text(message.bot_id.as_ref().map(|id| id.as_str())),
        message.thread_ts.map(ts_to_sql).into(),
        optional_text(message.edited.as_ref().map(|edited| edited.user.as_str())),
        message
            .edited
            .as_ref()
            .map(|edited| ts_to_sql(edited.ts))
            .into(),
        extra_to_json(&message.extra).into(),
    ]
}

/// Applies every write of one write set, stopping at the first error. The caller
/// runs this inside a savepoint and rolls the whole set back on error.
pub(super) async fn apply_write_set(
    transaction: &mut Transaction<'_>,
    writes: &[Write],
) -> WriteResult {
    for write in writes {
        apply_write(transaction, write).await?;
    }
    Ok(())
}

/// Applies one write.
async fn apply_write(transaction: &mut Transaction<'_>, write: &Write) -> WriteResult {
    match write {
        Write::InsertTeam(team) => execute(
            transaction,
            "INSERT INTO teams (team_id, name, domain, created) VALUES (?, ?, ?, ?)",
            vec![
                team.id.as_str().into(),
                team.name.as_str().into(),
                team.domain.as_str().into(),
                ts_to_sql(team.created).into(),
            ],
            &format!("team {}", team.id),
        )
        .await
        .map(drop),
        Write::InsertUser(user) => insert_user(transaction, user).await,
        Write::UpdateUser(user) => update_user(transaction, user).await,
        Write::InsertToken(token) => execute(
            transaction,
            "INSERT INTO tokens (team_id, hash, user_id, kind, created, revoked) VALUES (?, ?, ?, ?, ?, ?)",
            vec![
                token.team_id.as_str().into(),
                token.hash.as_str().into(),
                token.user_id.as_str().into(),
                token.kind.as_str().into(),
                ts_to_sql(token.created).into(),
                token.revoked.into(),
            ],
            &format!("token of user {} in team {}", token.user_id, token.team_id),
        )
        .await
        .map(drop),
        Write::InsertChannel(channel) => insert_channel(transaction, channel).await,
        Write::UpdateChannel(channel) => update_channel(transaction, channel).await,
        Write::AddMember {
            team_id,
            channel_id,
            user_id,
            joined,
        } => add_member(transaction, team_id, channel_id, user_id, *joined).await,
        Write::RemoveMember {
            team_id,
            channel_id,
            user_id,
        } => {
            let subject = format!("member {user_id} of channel {channel_id}");
            let matched = execute(
                transaction,
                "DELETE FROM members WHERE team_id = ? AND channel_id = ? AND user_id = ?",
                vec![team_id.as_str().into(), channel_id.as_str().into(), user_id.as_str().into()],
                &subject,
            )
            .await?;
            require_matched(matched, || subject)
        }
        Write::RevokeUserTokens { team_id, user_id } => {
            audit::revoke_user_tokens(transaction, team_id, user_id).await
        }
        Write::InsertAuditEntry(entry) => audit::insert(transaction, entry).await,
        Write::InsertLoginLink(link) => web_auth::insert_login_link(transaction, link).await,
        Write::UseLoginLink { team_id, hash, now } => {
            web_auth::use_login_link(transaction, team_id, hash, *now).await
        }
        Write::InsertBrowserSession(session) => {
            web_auth::insert_browser_session(transaction, session).await
        }
        Write::DeleteBrowserSession { team_id, hash } => {
            web_auth::delete_browser_session(transaction, team_id, hash).await
        }
        Write::InsertWebhook(webhook) => files::insert_webhook(transaction, webhook).await,
        Write::RevokeWebhook { team_id, id } => {
            files::revoke_webhook(transaction, team_id, id).await
        }
        Write::InsertFile(file) => files::insert_file(transaction, file).await,
        Write::UpdateFile(file) => files::update_file(transaction, file).await,
        Write::DeleteFile { team_id, file_id } => {
            files::delete_file(transaction, team_id, file_id).await
        }
        Write::ShareFile(share) => files::share_file(transaction, share).await,
        Write::InsertJob(job) => jobs::insert_jobs(transaction, &[job]).await,
        Write::MarkJobSent { team_id, job_id } => {
            jobs::mark_sent(transaction, team_id, job_id).await
        }
        Write::FinishJob { team_id, job_id } => jobs::finish(transaction, team_id, job_id).await,
        Write::InsertDeadJob(dead) => jobs::insert_dead(transaction, dead).await,
        Write::SetQueueOffset {
            topic,
            partition,
            offset,
        } => jobs::set_offset(transaction, topic, *partition, *offset).await,
        Write::CountUnread {
            team_id,
            channel_id,
            ts,
            recipients,
            mentioned,
        } => {
            jobs::count_unread(transaction, team_id, channel_id, *ts, recipients, mentioned).await
        }
        Write::MarkRead {
            team_id,
            channel_id,
            user_id,
            ts,
        } => jobs::mark_read(transaction, team_id, channel_id, user_id, *ts).await,
        Write::SetMutedChannels {
            team_id,
            user_id,
            channels,
        } => jobs::set_muted_channels(transaction, team_id, user_id, channels).await,
        Write::RecordActivity {
            team_id,
            day,
            user_id,
        } => super::billing::record_activity(transaction, team_id, *day, user_id).await,
        Write::PutBillingReport(report) => super::billing::put_report(transaction, report).await,
        Write::InsertReminder(reminder) => reminders::insert(transaction, reminder).await,
        Write::CompleteReminder {
            team_id,
            reminder_id,
            complete_ts,
        } => reminders::complete(transaction, team_id, reminder_id, *complete_ts).await,
        Write::DeleteReminder {
            team_id,
            reminder_id,
        } => reminders::delete(transaction, team_id, reminder_id).await,
        Write::FireReminder {
            team_id,
            reminder_id,
        } => reminders::fire(transaction, team_id, reminder_id).await,
        Write::InsertMessage(message) => insert_message(transaction, message).await,
        Write::UpdateMessage(message) => update_message(transaction, message).await,
        Write::DeleteMessage {
            team_id,
            channel_id,
            ts,
        } => delete_message(transaction, team_id, channel_id, *ts).await,
        Write::AddReaction {
            team_id,
            channel_id,
            ts,
            name,
            user_id,
            added,
        } => add_reaction(transaction, team_id, channel_id, *ts, name, user_id, *added).await,
        Write::RemoveReaction {
            team_id,
            channel_id,
            ts,
            name,
            user_id,
        } => {
            let subject = reaction_subject(name, user_id, *ts, channel_id);
            let matched = execute(
                transaction,
                "DELETE FROM reactions WHERE team_id = ? AND channel_id = ? AND ts = ? AND name = ? AND user_id = ?",
                vec![
                    team_id.as_str().into(),
                    channel_id.as_str().into(),
                    ts_to_sql(*ts).into(),
                    name.as_str().into(),
                    user_id.as_str().into(),
                ],
                &subject,
            )
            .await?;
            require_matched(matched, || subject)
        }
    }
}

/// Returns the values of a user's columns after `team_id, id`, in the order of
/// the user statements below.
fn user_values(user: &User) -> Vec<Value> {
    vec![
        user.team_id.as_str().into(),
        user.id.as_str().into(),
        user.name.as_str().into(),
        profile_to_json(&user.profile).into(),
        email_key(&user.profile.email).into(),
        user.is_bot.into(),
        optional_text(user.bot_id.as_ref().map(|id| id.as_str())),
        user.role.as_str().into(),
        user.deleted.into(),
        user.tz.as_str().into(),
        ts_to_sql(user.updated).into(),
    ]
}

fn user_subject(user: &User) -> String {
    format!(
        "user {} named {:?} in team {}",
        user.id, user.name, user.team_id
    )
}

async fn insert_user(transaction: &mut Transaction<'_>, user: &User) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO users (team_id, id, name, profile, email_lower, is_bot, bot_id, role, deleted, tz, updated) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        user_values(user),
        &user_subject(user),
    )
    .await
    .map(drop)
}

/// Replaces every field of the user except its ids. `NotFound` when the user
/// does not exist.
async fn update_user(transaction: &mut Transaction<'_>, user: &User) -> WriteResult {
    let mut values = user_values(user);
    // The key moves from the front to the WHERE clause at the end.
    let key: Vec<Value> = values.drain(..2).collect();
    values.extend(key);
    let matched = execute(
        transaction,
        "UPDATE users SET name = ?, profile = ?, email_lower = ?, is_bot = ?, bot_id = ?, role = ?, \
         deleted = ?, tz = ?, updated = ? WHERE team_id = ? AND id = ?",
        values,
        &user_subject(user),
    )
    .await?;
    require_matched(matched, || {
        format!("user {} in team {}", user.id, user.team_id)
    })
}

fn channel_subject(channel: &Channel) -> String {
    format!(
        "channel {} named {:?} in team {}",
        channel.id, channel.name, channel.team_id
    )
}

async fn insert_channel(transaction: &mut Transaction<'_>, channel: &Channel) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO channels (team_id, id, name, kind, creator, created, is_archived, is_general, \
         topic, topic_creator, topic_last_set, purpose, purpose_creator, purpose_last_set, im_user) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        vec![
            channel.team_id.as_str().into(),
            channel.id.as_str().into(),
            channel.name.as_str().into(),
            channel.kind.as_str().into(),
            channel.creator.as_str().into(),
            ts_to_sql(channel.created).into(),
            channel.is_archived.into(),
            channel.is_general.into(),
            channel.topic.value.as_str().into(),
            channel.topic.creator.as_str().into(),
            seconds_to_sql(channel.topic.last_set).into(),
            channel.purpose.value.as_str().into(),
            channel.purpose.creator.as_str().into(),
            seconds_to_sql(channel.purpose.last_set).into(),
            optional_text(channel.im_user.as_ref().map(|id| id.as_str())),
        ],
        &channel_subject(channel),
    )
    .await
    .map(drop)
}

/// Replaces the name, flags, topic and purpose. The kind, creator, creation time
/// and direct-message user never change. `NotFound` when the conversation does
/// not exist.
async fn update_channel(transaction: &mut Transaction<'_>, channel: &Channel) -> WriteResult {
    let matched = execute(
        transaction,
        "UPDATE channels SET name = ?, is_archived = ?, is_general = ?, \
         topic = ?, topic_creator = ?, topic_last_set = ?, \
         purpose = ?, purpose_creator = ?, purpose_last_set = ? \
         WHERE team_id = ? AND id = ?",
        vec![
            channel.name.as_str().into(),
            channel.is_archived.into(),
            channel.is_general.into(),
            channel.topic.value.as_str().into(),
            channel.topic.creator.as_str().into(),
            seconds_to_sql(channel.topic.last_set).into(),
            channel.purpose.value.as_str().into(),
            channel.purpose.creator.as_str().into(),
            seconds_to_sql(channel.purpose.last_set).into(),
            channel.team_id.as_str().into(),
            channel.id.as_str().into(),
        ],
        &channel_subject(channel),
    )
    .await?;
    require_matched(matched, || {
        format!("channel {} in team {}", channel.id, channel.team_id)
    })
}

/// Returns whether a row exists for a query that selects `1`.
async fn exists(
    transaction: &mut Transaction<'_>,
    sql: &str,
    parameters: Vec<Value>,
    subject: &str,
) -> Result<bool, WriteFailure> {
    let found: Option<i64> = transaction
        .exec_first(sql, parameters)
        .await
        .map_err(|error| write_error(error, subject))?;
    Ok(found.is_some())
}

/// Adds a member. `NotFound` when the conversation does not exist, so that no
/// membership outlives or precedes its conversation.
async fn add_member(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
    joined: Ts,
) -> WriteResult {
    let channel_subject = format!("channel {channel_id} in team {team_id}");
    let channel_exists = exists(
        transaction,
        "SELECT 1 FROM channels WHERE team_id = ? AND id = ?",
        vec![team_id.as_str().into(), channel_id.as_str().into()],
        &channel_subject,
    )
    .await?;
    if !channel_exists {
        return Err(WriteFailure::Rejected(StoreError::NotFound(
            channel_subject,
        )));
    }
    execute(
        transaction,
        "INSERT INTO members (team_id, channel_id, user_id, joined) VALUES (?, ?, ?, ?)",
        vec![
            team_id.as_str().into(),
            channel_id.as_str().into(),
            user_id.as_str().into(),
            ts_to_sql(joined).into(),
        ],
        &format!("member {user_id} of channel {channel_id}"),
    )
    .await
    .map(drop)
}

/// Inserts a message. A reply also updates its thread parent, as
/// [`attach_reply`] describes.
async fn insert_message(transaction: &mut Transaction<'_>, message: &Message) -> WriteResult {
    let sql = format!("{MESSAGE_INSERT}{MESSAGE_ROW}");
    let subject = format!("message {} in channel {}", message.ts, message.channel);
    execute(transaction, &sql, message_values(message), &subject).await?;

    match message.thread_ts {
        Some(parent_ts) if parent_ts != message.ts => {
            attach_reply(
                transaction,
                &message.team,
                &message.channel,
                parent_ts,
                message.ts,
            )
            .await
        }
        _ => Ok(()),
    }
}

/// Records a new reply on its parent: one more reply, the reply as the latest,
/// and `thread_ts = ts` to mark the parent.
///
/// `NotFound("thread parent …")` when the parent is missing or is itself a
/// reply, because threads do not nest.
async fn attach_reply(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    parent_ts: Ts,
    reply_ts: Ts,
) -> WriteResult {
    let subject = format!("thread parent {parent_ts} in channel {channel_id}");
    let reply_ts = ts_to_sql(reply_ts);
    let matched = execute(
        transaction,
        "UPDATE messages SET reply_count = reply_count + 1, \
         latest_reply = GREATEST(COALESCE(latest_reply, ?), ?), thread_ts = ts \
         WHERE team_id = ? AND channel_id = ? AND ts = ? AND (thread_ts IS NULL OR thread_ts = ts)",
        vec![
            reply_ts.into(),
            reply_ts.into(),
            team_id.as_str().into(),
            channel_id.as_str().into(),
            ts_to_sql(parent_ts).into(),
        ],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

/// Replaces the text, edit marker and extra fields. `NotFound` when the message
/// is gone.
async fn update_message(transaction: &mut Transaction<'_>, message: &Message) -> WriteResult {
    let subject = format!("message {} in channel {}", message.ts, message.channel);
    let matched = execute(
        transaction,
        "UPDATE messages SET text = ?, edited_user = ?, edited_ts = ?, extra = ? \
         WHERE team_id = ? AND channel_id = ? AND ts = ?",
        vec![
            message.text.as_str().into(),
            optional_text(message.edited.as_ref().map(|edited| edited.user.as_str())),
            message
                .edited
                .as_ref()
                .map(|edited| ts_to_sql(edited.ts))
                .into(),
            extra_to_json(&message.extra).into(),
            message.team.as_str().into(),
            message.channel.as_str().into(),
            ts_to_sql(message.ts).into(),
        ],
        &subject,
    )
    .await?;
    require_matched(matched, || subject)
}

/// Returns the key values `team_id, channel_id, ts` of a message.
fn message_key(team_id: &TeamId, channel_id: &ChannelId, ts: i64) -> Vec<Value> {
    vec![
        team_id.as_str().into(),
        channel_id.as_str().into(),
        ts.into(),
    ]
}

/// Deletes a message and its reactions. Deleting a reply updates its parent:
/// one reply fewer and the newest remaining reply as the latest. When no reply
/// remains, the parent goes back to a plain message (no `thread_ts`, count 0).
async fn delete_message(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
) -> WriteResult {
    let subject = format!("message {ts} in channel {channel_id}");
    let ts = ts_to_sql(ts);

    // FOR UPDATE locks the row, so the thread bookkeeping below sees the
    // thread_ts that is deleted.
    let found: Option<mysql_async::Row> = transaction
        .exec_first(
            "SELECT thread_ts FROM messages WHERE team_id = ? AND channel_id = ? AND ts = ? FOR UPDATE",
            message_key(team_id, channel_id, ts),
        )
        .await
        .map_err(|error| write_error(error, &subject))?;
    let Some(mut row) = found else {
        return Err(WriteFailure::Rejected(StoreError::NotFound(subject)));
    };
    let thread_ts: Option<i64> = column(&mut row, 0, "messages.thread_ts").map_err(|error| {
        WriteFailure::Rejected(StoreError::Backend(format!(
            "failed to read {subject}: {error}"
        )))
    })?;

    execute(
        transaction,
        "DELETE FROM messages WHERE team_id = ? AND channel_id = ? AND ts = ?",
        message_key(team_id, channel_id, ts),
        &subject,
    )
    .await?;
    execute(
        transaction,
        "DELETE FROM reactions WHERE team_id = ? AND channel_id = ? AND ts = ?",
        message_key(team_id, channel_id, ts),
        &format!("reactions of {subject}"),
    )
    .await?;

    match thread_ts {
        Some(parent_ts) if parent_ts != ts => {
            detach_reply(transaction, team_id, channel_id, parent_ts).await
        }
        _ => Ok(()),
    }
}

/// Updates a thread parent after one of its replies was deleted. A parent that
/// was deleted earlier is left alone.
async fn detach_reply(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    parent_ts: i64,
) -> WriteResult {
    let subject = format!(
        "thread parent {} in channel {channel_id}",
        ts_from_sql(parent_ts)
    );
    let newest: Option<mysql_async::Row> = transaction
        .exec_first(
            "SELECT MAX(ts) FROM messages WHERE team_id = ? AND channel_id = ? AND thread_ts = ? AND ts <> ?",
            vec![
                Value::from(team_id.as_str()),
                channel_id.as_str().into(),
                parent_ts.into(),
                parent_ts.into(),
            ],
        )
        .await
        .map_err(|error| write_error(error, &subject))?;
    let newest_reply: Option<i64> = match newest {
        Some(mut row) => column(&mut row, 0, "MAX(messages.ts)").map_err(|error| {
            WriteFailure::Rejected(StoreError::Backend(format!(
                "failed to read {subject}: {error}"
            )))
        })?,
        None => None,
    };

    match newest_reply {
        Some(newest) => execute(
            transaction,
            "UPDATE messages SET reply_count = GREATEST(reply_count - 1, 0), latest_reply = ? \
             WHERE team_id = ? AND channel_id = ? AND ts = ?",
            vec![
                newest.into(),
                team_id.as_str().into(),
                channel_id.as_str().into(),
                parent_ts.into(),
            ],
            &subject,
        )
        .await
        .map(drop),
        None => execute(
            transaction,
            "UPDATE messages SET reply_count = 0, latest_reply = NULL, thread_ts = NULL \
             WHERE team_id = ? AND channel_id = ? AND ts = ?",
            message_key(team_id, channel_id, parent_ts),
            &subject,
        )
        .await
        .map(drop),
    }
}

fn reaction_subject(name: &str, user_id: &UserId, ts: Ts, channel_id: &ChannelId) -> String {
    format!("reaction :{name}: by {user_id} on message {ts} in channel {channel_id}")
}

/// Adds a reaction. `NotFound` when the message does not exist, so that no
/// reaction is stored where no read would ever return it. Its `seq` is one
/// more than the message's highest, which orders reactions of the same
/// microsecond by insertion.
#[allow(clippy::too_many_arguments)]
async fn add_reaction(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    name: &str,
    user_id: &UserId,
    added: Ts,
) -> WriteResult {
    let message_subject = format!("message {ts} in channel {channel_id}");
    let message_exists = exists(
        transaction,
        "SELECT 1 FROM messages WHERE team_id = ? AND channel_id = ? AND ts = ? FOR UPDATE",
        message_key(team_id, channel_id, ts_to_sql(ts)),
        &message_subject,
    )
    .await?;
    if !message_exists {
        return Err(WriteFailure::Rejected(StoreError::NotFound(
            message_subject,
        )));
    }

    execute(
        transaction,
        "INSERT INTO reactions (team_id, channel_id, ts, name, user_id, added, seq) \
         SELECT ?, ?, ?, ?, ?, ?, COALESCE(MAX(seq), 0) + 1 FROM reactions \
         WHERE team_id = ? AND channel_id = ? AND ts = ?",
        vec![
            team_id.as_str().into(),
            channel_id.as_str().into(),
            ts_to_sql(ts).into(),
            name.into(),
            user_id.as_str().into(),
            ts_to_sql(added).into(),
            team_id.as_str().into(),
            channel_id.as_str().into(),
            ts_to_sql(ts).into(),
        ],
        &reaction_subject(name, user_id, ts, channel_id),
    )
    .await
    .map(drop)
}

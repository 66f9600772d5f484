//! The job tables of `0004_jobs.sql` in MySQL: the outbox, finished and dead
//! jobs, queue offsets and read states, with the semantics of the SQLite store.
//! One difference: a published job's outbox row is deleted rather than
//! flagged, so the relay's scan across teams reads only unsent jobs.

use mysql_async::prelude::Queryable;
use mysql_async::{Row, Transaction, Value};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::jobs::{DeadJob, Job, JobKind, ReadState};
use switchboard_actors::ts::Ts;

use super::rows::{column, invalid_column, limit_to_sql, ts_from_sql, ts_to_sql};
use super::writes::{execute, WriteFailure, MAX_ROWS_PER_INSERT};

type WriteResult = Result<(), WriteFailure>;
type ReadResult<T> = Result<T, mysql_async::Error>;

/// Columns of an outbox insert, in the order of [`job_values`].
const JOB_INSERT: &str =
    "INSERT INTO job_outbox (team_id, job_id, kind, payload, enqueued) VALUES ";

/// Placeholders of one row of [`JOB_INSERT`].
const JOB_ROW: &str = "(?, ?, ?, ?, ?)";

/// Columns read by [`job_from_row`], in its order.
const JOB_COLUMNS: &str = "team_id, job_id, kind, payload, enqueued";

/// Returns the values of one [`JOB_ROW`].
fn job_values(job: &Job) -> Vec<Value> {
    vec![
        job.team_id.as_str().into(),
        job.id.as_str().into(),
        job.kind.as_str().into(),
        job.payload.as_str().into(),
        ts_to_sql(job.enqueued).into(),
    ]
}

/// Decodes the first five columns of a row selected with [`JOB_COLUMNS`].
fn job_from_row(row: &mut Row) -> ReadResult<Job> {
    let kind: String = column(row, 2, "kind")?;
    Ok(Job {
        team_id: TeamId(column(row, 0, "team_id")?),
        id: column(row, 1, "job_id")?,
        kind: JobKind::parse(&kind)
            .ok_or_else(|| invalid_column("kind", format!("unknown job kind {kind:?}")))?,
        payload: column(row, 3, "payload")?,
        enqueued: ts_from_sql(column(row, 4, "enqueued")?),
    })
}

/// Inserts outbox jobs with as few statements as the row limit allows. A
/// payload carries ids and at most one message's text (40,000 characters, up
/// to 160 KB), so 64 rows stay under MariaDB's default 16 MiB packet limit.
pub(super) async fn insert_jobs(transaction: &mut Transaction<'_>, jobs: &[&Job]) -> WriteResult {
    for chunk in jobs.chunks(MAX_ROWS_PER_INSERT) {
        let sql = format!("{JOB_INSERT}{}", vec![JOB_ROW; chunk.len()].join(", "));
        let parameters: Vec<Value> = chunk.iter().flat_map(|job| job_values(job)).collect();
        let subject = format!("{} outbox jobs starting at {}", chunk.len(), chunk[0].id);
        execute(transaction, &sql, parameters, &subject).await?;
    }
    Ok(())
}

pub(super) async fn mark_sent(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    job_id: &str,
) -> WriteResult {
    execute(
        transaction,
        "DELETE FROM job_outbox WHERE team_id = ? AND job_id = ?",
        vec![team_id.as_str().into(), job_id.into()],
        &format!("outbox job {job_id} of team {team_id}"),
    )
    .await
    .map(drop)
}

pub(super) async fn finish(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    job_id: &str,
) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO jobs_done (team_id, job_id, finished) VALUES (?, ?, ?)",
        vec![
            team_id.as_str().into(),
            job_id.into(),
            ts_to_sql(Ts::now()).into(),
        ],
        &format!("finished job {job_id} of team {team_id}"),
    )
    .await
    .map(drop)
}

pub(super) async fn insert_dead(transaction: &mut Transaction<'_>, dead: &DeadJob) -> WriteResult {
    // A job that died before (and was delivered again) keeps its latest error.
    let mut parameters = job_values(&dead.job);
    parameters.extend([
        dead.attempts.into(),
        dead.error.as_str().into(),
        ts_to_sql(dead.died).into(),
    ]);
    execute(
        transaction,
        "REPLACE INTO dead_jobs (team_id, job_id, kind, payload, enqueued, attempts, error, died) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        parameters,
        &format!("dead job {}", dead.job.id),
    )
    .await
    .map(drop)
}

pub(super) async fn set_offset(
    transaction: &mut Transaction<'_>,
    topic: &str,
    partition: u32,
    offset: i64,
) -> WriteResult {
    execute(
        transaction,
        "INSERT INTO queue_offsets (topic, topic_partition, next_offset) VALUES (?, ?, ?) \
         ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset)",
        vec![topic.into(), partition.into(), offset.into()],
        &format!("offset of {topic}/{partition}"),
    )
    .await
    .map(drop)
}

/// Counts a message as unread for each recipient whose read position is
/// before it, and as a mention for those in `mentioned`, in one statement per
/// [`MAX_ROWS_PER_INSERT`] recipients.
pub(super) async fn count_unread(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    recipients: &[UserId],
    mentioned: &[UserId],
) -> WriteResult {
    for chunk in recipients.chunks(MAX_ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?, 0, 1, ?)"; chunk.len()].join(", ");
        // The assignments run left to right and neither changes last_read, so
        // both conditions see the stored read position.
        let sql = format!(
            "INSERT INTO read_states \
             (team_id, channel_id, user_id, last_read, unread_count, mention_count) VALUES {rows} \
             ON DUPLICATE KEY UPDATE \
               unread_count = IF(last_read < ?, unread_count + 1, unread_count), \
               mention_count = IF(last_read < ?, mention_count + VALUES(mention_count), mention_count)"
        );
        let mut parameters: Vec<Value> = Vec::with_capacity(chunk.len() * 4 + 2);
        for user_id in chunk {
            parameters.extend([
                team_id.as_str().into(),
                channel_id.as_str().into(),
                user_id.as_str().into(),
                i64::from(mentioned.contains(user_id)).into(),
            ]);
        }
        parameters.push(ts_to_sql(ts).into());
        parameters.push(ts_to_sql(ts).into());
        execute(
            transaction,
            &sql,
            parameters,
            &format!("read states of channel {channel_id} in team {team_id}"),
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn mark_read(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
    ts: Ts,
) -> WriteResult {
    // Unread messages are recounted from the messages table: top-level
    // messages and thread parents from other users after the new position.
    // NOTE: a partial mark keeps the whole mention count (capped at the unread
    // count), because individual mentions are not stored.
    let unread: Option<i64> = transaction
        .exec_first(
            "SELECT COUNT(*) FROM messages WHERE team_id = ? AND channel_id = ? \
             AND ts > ? AND user_id <> ? AND (thread_ts IS NULL OR thread_ts = ts)",
            (
                team_id.as_str(),
                channel_id.as_str(),
                ts_to_sql(ts),
                user_id.as_str(),
            ),
        )
        .await
        .map_err(WriteFailure::Connection)?;
    let unread = unread.unwrap_or(0);
    execute(
        transaction,
        "INSERT INTO read_states \
         (team_id, channel_id, user_id, last_read, unread_count, mention_count) \
         VALUES (?, ?, ?, ?, ?, 0) \
         ON DUPLICATE KEY UPDATE \
           mention_count = LEAST(mention_count, VALUES(unread_count)), \
           last_read = VALUES(last_read), \
           unread_count = VALUES(unread_count)",
        vec![
            team_id.as_str().into(),
            channel_id.as_str().into(),
            user_id.as_str().into(),
            ts_to_sql(ts).into(),
            unread.into(),
        ],
        &format!("read state of {user_id} in channel {channel_id}"),
    )
    .await
    .map(drop)
}

pub(super) async fn unsent_jobs(
    connection: &mut impl Queryable,
    limit: usize,
) -> ReadResult<Vec<Job>> {
    let rows: Vec<Row> = connection
        .exec(
            format!("SELECT {JOB_COLUMNS} FROM job_outbox ORDER BY enqueued, job_id LIMIT ?"),
            (limit_to_sql(limit),),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| job_from_row(&mut row))
        .collect()
}

pub(super) async fn is_done(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    job_id: &str,
) -> ReadResult<bool> {
    let found: Option<i64> = connection
        .exec_first(
            "SELECT 1 FROM jobs_done WHERE team_id = ? AND job_id = ?",
            (team_id.as_str(), job_id),
        )
        .await?;
    Ok(found.is_some())
}

pub(super) async fn queue_offset(
    connection: &mut impl Queryable,
    topic: &str,
    partition: u32,
) -> ReadResult<Option<i64>> {
    connection
        .exec_first(
            "SELECT next_offset FROM queue_offsets WHERE topic = ? AND topic_partition = ?",
            (topic, partition),
        )
        .await
}

pub(super) async fn dead_jobs(
    connection: &mut impl Queryable,
    team_id: &TeamId,
) -> ReadResult<Vec<DeadJob>> {
    let rows: Vec<Row> = connection
        .exec(
            format!(
                "SELECT {JOB_COLUMNS}, attempts, error, died FROM dead_jobs \
                 WHERE team_id = ? ORDER BY died, job_id"
            ),
            (team_id.as_str(),),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| {
            Ok(DeadJob {
                job: job_from_row(&mut row)?,
                attempts: column(&mut row, 5, "dead_jobs.attempts")?,
                error: column(&mut row, 6, "dead_jobs.error")?,
                died: ts_from_sql(column(&mut row, 7, "dead_jobs.died")?),
            })
        })
        .collect()
}

pub(super) async fn read_state(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
) -> ReadResult<Option<ReadState>> {
    let row: Option<Row> = connection
        .exec_first(
            "SELECT last_read, unread_count, mention_count FROM read_states \
             WHERE team_id = ? AND channel_id = ? AND user_id = ?",
            (team_id.as_str(), channel_id.as_str(), user_id.as_str()),
        )
        .await?;
    row.map(|mut row| {
        Ok(ReadState {
            last_read: ts_from_sql(column(&mut row, 0, "read_states.last_read")?),
            unread_count: column(&mut row, 1, "read_states.unread_count")?,
            mention_count: column(&mut row, 2, "read_states.mention_count")?,
        })
    })
    .transpose()
}

pub(super) async fn set_muted_channels(
    transaction: &mut Transaction<'_>,
    team_id: &TeamId,
    user_id: &UserId,
    channels: &[ChannelId],
) -> WriteResult {
    let subject = format!("muted channels of {user_id} in team {team_id}");
    execute(
        transaction,
        "DELETE FROM channel_mutes WHERE team_id = ? AND user_id = ?",
        vec![team_id.as_str().into(), user_id.as_str().into()],
        &subject,
    )
    .await?;
    for chunk in channels.chunks(MAX_ROWS_PER_INSERT) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
        let mut parameters: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for channel_id in chunk {
            parameters.extend([
                team_id.as_str().into(),
                user_id.as_str().into(),
                channel_id.as_str().into(),
            ]);
        }
        execute(
            transaction,
            &format!(
                "INSERT IGNORE INTO channel_mutes (team_id, user_id, channel_id) VALUES {rows}"
            ),
            parameters,
            &subject,
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn muted_channels(
    connection: &mut impl Queryable,
    team_id: &TeamId,
    user_id: &UserId,
) -> ReadResult<Vec<ChannelId>> {
    let rows: Vec<Row> = connection
        .exec(
            "SELECT channel_id FROM channel_mutes WHERE team_id = ? AND user_id = ? \
             ORDER BY channel_id",
            (team_id.as_str(), user_id.as_str()),
        )
        .await?;
    rows.into_iter()
        .map(|mut row| column(&mut row, 0, "channel_mutes.channel_id").map(ChannelId))
        .collect()
}

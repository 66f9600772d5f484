//! The job tables of `0004_jobs.sql`: the outbox, finished and dead jobs,
//! queue offsets and read states. Writes run inside the commit transaction;
//! reads run on a pooled read-only connection.

use rusqlite::{Connection, OptionalExtension, Row};
use switchboard_actors::ids::{ChannelId, TeamId, UserId};
use switchboard_actors::jobs::{DeadJob, Job, JobKind, ReadState};
use switchboard_actors::ports::StoreError;
use switchboard_actors::ts::Ts;

use super::rows::{limit_to_sql, ts_from_sql, ts_to_sql};
use super::writes::write_error;

/// Maps an error of a read query to `Backend`, naming what was read.
fn read_error(subject: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |error| StoreError::Backend(format!("failed to read {subject}: {error}"))
}

/// Parses a stored kind name; an unknown name is a conversion error.
fn kind_from_sql(name: String) -> rusqlite::Result<JobKind> {
    JobKind::parse(&name).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown job kind {name:?}").into(),
        )
    })
}

/// Reads (team_id, job_id, kind, payload, enqueued) starting at column 0.
fn job_from_row(row: &Row<'_>) -> rusqlite::Result<Job> {
    Ok(Job {
        team_id: TeamId(row.get(0)?),
        id: row.get(1)?,
        kind: kind_from_sql(row.get(2)?)?,
        payload: row.get(3)?,
        enqueued: ts_from_sql(row.get(4)?),
    })
}

pub(super) fn insert_job(connection: &Connection, job: &Job) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO job_outbox (team_id, job_id, kind, payload, enqueued, sent) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        )
        .and_then(|mut statement| {
            statement.execute((
                job.team_id.as_str(),
                &job.id,
                job.kind.as_str(),
                &job.payload,
                ts_to_sql(job.enqueued),
            ))
        })
        .map(drop)
        .map_err(|error| write_error(error, &format!("job {} of team {}", job.id, job.team_id)))
}

pub(super) fn mark_sent(
    connection: &Connection,
    team_id: &TeamId,
    job_id: &str,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("UPDATE job_outbox SET sent = 1 WHERE team_id = ?1 AND job_id = ?2")
        .and_then(|mut statement| statement.execute((team_id.as_str(), job_id)))
        .map(drop)
        .map_err(|error| write_error(error, &format!("outbox job {job_id} of team {team_id}")))
}

pub(super) fn finish(
    connection: &Connection,
    team_id: &TeamId,
    job_id: &str,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("INSERT INTO jobs_done (team_id, job_id, finished) VALUES (?1, ?2, ?3)")
        .and_then(|mut statement| {
            statement.execute((team_id.as_str(), job_id, ts_to_sql(Ts::now())))
        })
        .map(drop)
        .map_err(|error| write_error(error, &format!("finished job {job_id}")))
}

pub(super) fn insert_dead(connection: &Connection, dead: &DeadJob) -> Result<(), StoreError> {
    let job = &dead.job;
    // A job that died before (and was delivered again) keeps its latest error.
    connection
        .prepare_cached(
            "INSERT OR REPLACE INTO dead_jobs \
             (team_id, job_id, kind, payload, enqueued, attempts, error, died) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .and_then(|mut statement| {
            statement.execute((
                job.team_id.as_str(),
                &job.id,
                job.kind.as_str(),
                &job.payload,
                ts_to_sql(job.enqueued),
                dead.attempts,
                &dead.error,
                ts_to_sql(dead.died),
            ))
        })
        .map(drop)
        .map_err(|error| write_error(error, &format!("dead job {}", job.id)))
}

pub(super) fn set_offset(
    connection: &Connection,
    topic: &str,
    partition: u32,
    offset: i64,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO queue_offsets (topic, partition, next_offset) VALUES (?1, ?2, ?3) \
             ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
        )
        .and_then(|mut statement| statement.execute((topic, partition, offset)))
        .map(drop)
        .map_err(|error| write_error(error, &format!("offset of {topic}/{partition}")))
}

pub(super) fn count_unread(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    ts: Ts,
    recipients: &[UserId],
    mentioned: &[UserId],
) -> Result<(), StoreError> {
    // A member whose read position is at or after the message (they marked it
    // read already) is not counted.
    let mut statement = connection
        .prepare_cached(
            "INSERT INTO read_states \
             (team_id, channel_id, user_id, last_read, unread_count, mention_count) \
             VALUES (?1, ?2, ?3, 0, 1, ?4) \
             ON CONFLICT (team_id, channel_id, user_id) DO UPDATE SET \
               unread_count = unread_count + 1, \
               mention_count = mention_count + excluded.mention_count \
             WHERE last_read < ?5",
        )
        .map_err(|error| write_error(error, "read states"))?;
    for user_id in recipients {
        let mention = i64::from(mentioned.contains(user_id));
        statement
            .execute((
                team_id.as_str(),
                channel_id.as_str(),
                user_id.as_str(),
                mention,
                ts_to_sql(ts),
            ))
            .map_err(|error| write_error(error, &format!("read state of {user_id}")))?;
    }
    Ok(())
}

pub(super) fn mark_read(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
    ts: Ts,
) -> Result<(), StoreError> {
    // Unread messages are recounted from the messages table: top-level messages
    // and thread parents from other users after the new position. Mentions
    // cannot be recounted, so they are kept only while messages stay unread.
    // NOTE: a partial mark keeps the whole mention count (capped at the unread
    // count), because individual mentions are not stored.
    let unread: i64 = connection
        .prepare_cached(
            "SELECT COUNT(*) FROM messages WHERE team_id = ?1 AND channel_id = ?2 \
             AND ts > ?3 AND user_id <> ?4 AND (thread_ts IS NULL OR thread_ts = ts)",
        )
        .and_then(|mut statement| {
            statement.query_row(
                (
                    team_id.as_str(),
                    channel_id.as_str(),
                    ts_to_sql(ts),
                    user_id.as_str(),
                ),
                |row| row.get(0),
            )
        })
        .map_err(|error| write_error(error, "unread count"))?;
    connection
        .prepare_cached(
            "INSERT INTO read_states \
             (team_id, channel_id, user_id, last_read, unread_count, mention_count) \
             VALUES (?1, ?2, ?3, ?4, ?5, 0) \
             ON CONFLICT (team_id, channel_id, user_id) DO UPDATE SET \
               last_read = excluded.last_read, \
               unread_count = excluded.unread_count, \
               mention_count = MIN(mention_count, excluded.unread_count)",
        )
        .and_then(|mut statement| {
            statement.execute((
                team_id.as_str(),
                channel_id.as_str(),
                user_id.as_str(),
                ts_to_sql(ts),
                unread,
            ))
        })
        .map(drop)
        .map_err(|error| write_error(error, &format!("read state of {user_id}")))
}

pub(super) fn unsent_jobs(connection: &Connection, limit: usize) -> Result<Vec<Job>, StoreError> {
    connection
        .prepare_cached(
            "SELECT team_id, job_id, kind, payload, enqueued FROM job_outbox \
             WHERE sent = 0 ORDER BY enqueued, job_id LIMIT ?1",
        )
        .and_then(|mut statement| {
            statement
                .query_map([limit_to_sql(limit)], job_from_row)?
                .collect()
        })
        .map_err(read_error("unsent jobs"))
}

pub(super) fn is_done(
    connection: &Connection,
    team_id: &TeamId,
    job_id: &str,
) -> Result<bool, StoreError> {
    connection
        .prepare_cached("SELECT 1 FROM jobs_done WHERE team_id = ?1 AND job_id = ?2")
        .and_then(|mut statement| {
            statement
                .query_row((team_id.as_str(), job_id), |_| Ok(()))
                .optional()
        })
        .map(|row| row.is_some())
        .map_err(read_error("finished job"))
}

pub(super) fn queue_offset(
    connection: &Connection,
    topic: &str,
    partition: u32,
) -> Result<Option<i64>, StoreError> {
    connection
        .prepare_cached("SELECT next_offset FROM queue_offsets WHERE topic = ?1 AND partition = ?2")
        .and_then(|mut statement| {
            statement
                .query_row((topic, partition), |row| row.get(0))
                .optional()
        })
        .map_err(read_error("queue offset"))
}

pub(super) fn dead_jobs(
    connection: &Connection,
    team_id: &TeamId,
) -> Result<Vec<DeadJob>, StoreError> {
    connection
        .prepare_cached(
            "SELECT team_id, job_id, kind, payload, enqueued, attempts, error, died \
             FROM dead_jobs WHERE team_id = ?1 ORDER BY died, job_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map([team_id.as_str()], |row| {
                    Ok(DeadJob {
                        job: job_from_row(row)?,
                        attempts: row.get(5)?,
                        error: row.get(6)?,
                        died: ts_from_sql(row.get(7)?),
                    })
                })?
                .collect()
        })
        .map_err(read_error("dead jobs"))
}

pub(super) fn read_state(
    connection: &Connection,
    team_id: &TeamId,
    channel_id: &ChannelId,
    user_id: &UserId,
) -> Result<Option<ReadState>, StoreError> {
    connection
        .prepare_cached(
            "SELECT last_read, unread_count, mention_count FROM read_states \
             WHERE team_id = ?1 AND channel_id = ?2 AND user_id = ?3",
        )
        .and_then(|mut statement| {
            statement
                .query_row(
                    (team_id.as_str(), channel_id.as_str(), user_id.as_str()),
                    |row| {
                        Ok(ReadState {
                            last_read: ts_from_sql(row.get(0)?),
                            unread_count: row.get(1)?,
                            mention_count: row.get(2)?,
                        })
                    },
                )
                .optional()
        })
        .map_err(read_error("read state"))
}

pub(super) fn set_muted_channels(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
    channels: &[ChannelId],
) -> Result<(), StoreError> {
    let subject = || format!("muted channels of {user_id} in team {team_id}");
    connection
        .prepare_cached("DELETE FROM channel_mutes WHERE team_id = ?1 AND user_id = ?2")
        .and_then(|mut statement| statement.execute((team_id.as_str(), user_id.as_str())))
        .map_err(|error| write_error(error, &subject()))?;
    let mut insert = connection
        .prepare_cached(
            "INSERT OR IGNORE INTO channel_mutes (team_id, user_id, channel_id) VALUES (?1, ?2, ?3)",
        )
        .map_err(|error| write_error(error, &subject()))?;
    for channel_id in channels {
        insert
            .execute((team_id.as_str(), user_id.as_str(), channel_id.as_str()))
            .map_err(|error| write_error(error, &subject()))?;
    }
    Ok(())
}

pub(super) fn muted_channels(
    connection: &Connection,
    team_id: &TeamId,
    user_id: &UserId,
) -> Result<Vec<ChannelId>, StoreError> {
    connection
        .prepare_cached(
            "SELECT channel_id FROM channel_mutes WHERE team_id = ?1 AND user_id = ?2 \
             ORDER BY channel_id",
        )
        .and_then(|mut statement| {
            statement
                .query_map((team_id.as_str(), user_id.as_str()), |row| {
                    Ok(ChannelId(row.get(0)?))
                })?
                .collect()
        })
        .map_err(read_error("muted channels"))
}

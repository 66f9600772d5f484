-- Jobs: the transactional outbox, finished and dead jobs, queue consumer
-- offsets, and the per-member read state that the message-post job maintains.
--
-- Every table except queue_offsets is led by team_id, as in 0001_init.sql.
-- queue_offsets belongs to the node's consumers, not to a team.

-- Jobs written in the same transaction as the change that caused them. The
-- relay publishes unsent rows to the job queue and then sets sent = 1.
CREATE TABLE job_outbox (
    team_id  TEXT    NOT NULL,
    job_id   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,  -- JobKind::as_str
    payload  TEXT    NOT NULL,  -- JSON of jobs::JobPayload
    enqueued INTEGER NOT NULL,
    sent     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, job_id)
);

-- The relay's scan: only unsent rows are indexed.
CREATE INDEX job_outbox_unsent ON job_outbox (team_id, enqueued) WHERE sent = 0;

-- One row per job whose handler finished. A handler commits its effects in the
-- same write set as this row, so a second delivery of the job conflicts here and
-- changes nothing.
CREATE TABLE jobs_done (
    team_id  TEXT    NOT NULL,
    job_id   TEXT    NOT NULL,
    finished INTEGER NOT NULL,
    PRIMARY KEY (team_id, job_id)
);

-- Jobs that failed every attempt, with the last error.
CREATE TABLE dead_jobs (
    team_id  TEXT    NOT NULL,
    job_id   TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    payload  TEXT    NOT NULL,
    enqueued INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    error    TEXT    NOT NULL,
    died     INTEGER NOT NULL,
    PRIMARY KEY (team_id, job_id)
);

-- Next offset to read in each partition of each queue topic.
CREATE TABLE queue_offsets (
    topic       TEXT    NOT NULL,
    partition   INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- A member's read position in a conversation and the messages after it.
CREATE TABLE read_states (
    team_id       TEXT    NOT NULL,
    channel_id    TEXT    NOT NULL,
    user_id       TEXT    NOT NULL,
    last_read     INTEGER NOT NULL,  -- ts of the newest message read, 0 for none
    unread_count  INTEGER NOT NULL,
    mention_count INTEGER NOT NULL,
    PRIMARY KEY (team_id, channel_id, user_id)
);

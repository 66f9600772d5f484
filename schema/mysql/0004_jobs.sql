-- Jobs: the transactional outbox, finished and dead jobs, queue consumer
-- offsets, and the per-member read state that the message-post job maintains.
--
-- Every table except queue_offsets is led by team_id, as in 0001_init.sql.
-- queue_offsets belongs to the node's consumers, not to a team; under Vitess
-- it is sharded by topic (schema/vitess/vschema.json).

-- Jobs written in the same transaction as the change that caused them. Unlike
-- the SQLite store, a row is deleted once the relay has published it, so the
-- table holds only unsent jobs and the relay's scan across teams stays small.
CREATE TABLE job_outbox (
    team_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    job_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind     VARCHAR(32) NOT NULL,  -- JobKind::as_str
    payload  MEDIUMTEXT  NOT NULL,  -- JSON of jobs::JobPayload
    enqueued BIGINT      NOT NULL,
    PRIMARY KEY (team_id, job_id),
    KEY job_outbox_by_enqueued (team_id, enqueued)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per job whose handler finished. A handler commits its effects in the
-- same transaction as this row, so a second delivery of the job conflicts here
-- and changes nothing.
CREATE TABLE jobs_done (
    team_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    job_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    finished BIGINT      NOT NULL,
    PRIMARY KEY (team_id, job_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Jobs that failed every attempt, with the last error.
CREATE TABLE dead_jobs (
    team_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    job_id   VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind     VARCHAR(32) NOT NULL,
    payload  MEDIUMTEXT  NOT NULL,
    enqueued BIGINT      NOT NULL,
    attempts INT         NOT NULL,
    error    TEXT        NOT NULL,
    died     BIGINT      NOT NULL,
    PRIMARY KEY (team_id, job_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Next offset to read in each partition of each queue topic.
CREATE TABLE queue_offsets (
    topic           VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    topic_partition INT          NOT NULL,
    next_offset     BIGINT       NOT NULL,
    PRIMARY KEY (topic, topic_partition)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- A member's read position in a conversation and the messages after it.
CREATE TABLE read_states (
    team_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id       VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    last_read     BIGINT      NOT NULL,  -- ts of the newest message read, 0 for none
    unread_count  INT         NOT NULL,
    mention_count INT         NOT NULL,
    PRIMARY KEY (team_id, channel_id, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Reminders (reminders.add and the scheduler that delivers them). team_id
-- leads every key, as in 0001_init.sql.
--
-- The scheduler's scan for due reminders crosses teams (a scatter query under
-- Vitess). It reads reminders_pending, whose leading columns after team_id
-- hold pending rows together.

CREATE TABLE reminders (
    team_id     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- Rm…
    creator     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- the recipient
    text        MEDIUMTEXT  NOT NULL,
    due         BIGINT      NOT NULL,  -- Unix seconds (Slack's `time`)
    complete_ts BIGINT      NOT NULL,  -- Unix seconds, 0 while not complete
    fired       TINYINT     NOT NULL,  -- 1 once its delivery job is in the outbox
    created     BIGINT      NOT NULL,  -- microseconds since the Unix epoch
    PRIMARY KEY (team_id, id),
    KEY reminders_by_user (team_id, user_id),
    KEY reminders_by_creator (team_id, creator),
    KEY reminders_pending (team_id, fired, complete_ts, due)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

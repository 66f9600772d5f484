-- Billing: the UTC days on which each member was active, and the billing
-- reports computed from them. team_id leads every key, as in 0001_init.sql.

-- One row per member and UTC day with activity: a posted message or an
-- opened real-time session. An insert of an existing row changes nothing, so
-- the table keeps one row per day however often the member was active.
CREATE TABLE activity_days (
    team_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    day     CHAR(10)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- YYYY-MM-DD, UTC
    user_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (team_id, day, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- The billable seats of a team for a month, replaced by each new computation.
CREATE TABLE billing_reports (
    team_id     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    month       CHAR(7)     CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- YYYY-MM
    job_id      VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- the billing job that computed it
    computed    BIGINT      NOT NULL,  -- microseconds since the epoch
    total_seats INT         NOT NULL,
    members     MEDIUMTEXT  NOT NULL,  -- JSON array of {"id": "U…", "active_days": N}
    PRIMARY KEY (team_id, month)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

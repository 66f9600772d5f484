-- Conversations a member muted (Slack's `muted_channels` preference): a muted
-- conversation sends the member no push notifications. team_id leads the key,
-- as in 0001_init.sql.
CREATE TABLE channel_mutes (
    team_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    PRIMARY KEY (team_id, user_id, channel_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

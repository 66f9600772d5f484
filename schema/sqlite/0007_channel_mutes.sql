-- Conversations a member muted (Slack's `muted_channels` preference): a muted
-- conversation sends the member no push notifications. team_id leads the key,
-- as in 0001_init.sql.
CREATE TABLE channel_mutes (
    team_id    TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    channel_id TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id, channel_id)
);

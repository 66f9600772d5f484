-- Incoming webhooks, uploaded files and their shares into conversations.
--
-- As in 0001_init.sql, team_id leads every primary key and index so that the
-- sharded MySQL twin keeps each query on one shard. Timestamps are INTEGER
-- microseconds since the Unix epoch; booleans are INTEGER 0 or 1.

-- Only the SHA-256 of a webhook's secret is stored, never the secret.
CREATE TABLE webhooks (
    team_id     TEXT    NOT NULL,
    id          TEXT    NOT NULL,  -- B…, the second part of the URL
    secret_hash TEXT    NOT NULL,
    channel_id  TEXT    NOT NULL,  -- default conversation
    bot_user_id TEXT    NOT NULL,  -- the bot user messages are posted as
    created_by  TEXT    NOT NULL,
    created     INTEGER NOT NULL,
    revoked     INTEGER NOT NULL,
    PRIMARY KEY (team_id, id)
);

-- File metadata. The bytes live under DATA_DIR/files/, named by sha256.
CREATE TABLE files (
    team_id     TEXT    NOT NULL,
    id          TEXT    NOT NULL,  -- F…
    user_id     TEXT    NOT NULL,  -- the uploader
    name        TEXT    NOT NULL,
    title       TEXT    NOT NULL,
    mimetype    TEXT    NOT NULL,
    filetype    TEXT    NOT NULL,
    size        INTEGER NOT NULL,  -- bytes
    sha256      TEXT,              -- NULL until the bytes are stored
    state       TEXT    NOT NULL,  -- FileState::as_str
    upload_hash TEXT    NOT NULL,  -- SHA-256 of the upload URL's secret; '' once used
    created     INTEGER NOT NULL,
    PRIMARY KEY (team_id, id)
);

-- files.list by uploader, newest first.
CREATE INDEX files_by_user ON files (team_id, user_id, created);
-- Counting the files that still refer to a blob before it is removed.
CREATE INDEX files_by_sha256 ON files (team_id, sha256);

-- One row per message that shares a file into a conversation.
CREATE TABLE file_shares (
    team_id    TEXT    NOT NULL,
    file_id    TEXT    NOT NULL,
    channel_id TEXT    NOT NULL,
    ts         INTEGER NOT NULL,  -- the message that carries the file
    PRIMARY KEY (team_id, file_id, channel_id, ts)
);

-- files.list filtered by conversation.
CREATE INDEX file_shares_by_channel ON file_shares (team_id, channel_id, file_id);

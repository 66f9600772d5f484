-- Incoming webhooks, uploaded files and their shares into conversations.
-- team_id leads every key and index, as in 0001_init.sql, so each query stays
-- on the shard of its team.

-- Only the SHA-256 of a webhook's secret is stored, never the secret.
CREATE TABLE webhooks (
    team_id     VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id          VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- B…, the second part of the URL
    secret_hash CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- default conversation
    bot_user_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- the bot messages are posted as
    created_by  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created     BIGINT      NOT NULL,
    revoked     TINYINT     NOT NULL,
    PRIMARY KEY (team_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- File metadata. The bytes live under DATA_DIR/files/, named by sha256.
CREATE TABLE files (
    team_id     VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- F…
    user_id     VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- the uploader
    name        VARCHAR(1024) NOT NULL,
    title       VARCHAR(1024) NOT NULL,
    mimetype    VARCHAR(255) NOT NULL,
    filetype    VARCHAR(64)  NOT NULL,
    size        BIGINT       NOT NULL,  -- bytes
    sha256      CHAR(64)     CHARACTER SET ascii COLLATE ascii_bin NULL,  -- NULL until the bytes are stored
    state       VARCHAR(16)  NOT NULL,  -- FileState::as_str
    upload_hash VARCHAR(64)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- SHA-256 of the upload secret; '' once used
    created     BIGINT       NOT NULL,
    PRIMARY KEY (team_id, id),
    KEY files_by_user (team_id, user_id, created),  -- files.list by uploader
    KEY files_by_sha256 (team_id, sha256)           -- blob references before removing bytes
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- One row per message that shares a file into a conversation.
CREATE TABLE file_shares (
    team_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    file_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ts         BIGINT      NOT NULL,  -- the message that carries the file
    PRIMARY KEY (team_id, file_id, channel_id, ts),
    KEY file_shares_by_channel (team_id, channel_id, file_id)  -- files.list by conversation
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Initial schema of the MySQL store (MySQL 8 or MariaDB 10.11 with InnoDB).
--
-- Sharded by team: every table carries team_id, and team_id leads every primary
-- key and every index, so each query the Store trait issues names one team and
-- Vitess (a hash vindex on team_id, see schema/vitess/vschema.json) routes it to
-- one shard. The application generates every id and ts; nothing uses
-- AUTO_INCREMENT, so Vitess needs no sequence tables and two primaries that
-- both take writes never hand out the same key.
--
-- Ids and hashes are ASCII with a binary collation (compact keys, exact
-- comparison). Text is utf8mb4 with the binary collation utf8mb4_bin, so
-- 4-byte characters such as emoji survive and unique names compare exactly as
-- in the SQLite store ('General' and 'general' are different names).
--
-- Timestamps (ts, created, joined, added, ...) are BIGINT microseconds since
-- the Unix epoch. Booleans are TINYINT 0 or 1. JSON columns hold serde_json
-- text. Statements are separated by a semicolon at the end of a line; the
-- migration runner splits on those.

CREATE TABLE schema_migrations (
    version    INT    NOT NULL,
    applied_at BIGINT NOT NULL,  -- microseconds since the Unix epoch
    PRIMARY KEY (version)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE teams (
    team_id VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name    VARCHAR(255) NOT NULL,
    domain  VARCHAR(255) NOT NULL,
    created BIGINT       NOT NULL,
    PRIMARY KEY (team_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE users (
    team_id     VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name        VARCHAR(255) NOT NULL,
    profile     MEDIUMTEXT   NOT NULL,  -- JSON of domain::Profile
    email_lower VARCHAR(320) NOT NULL,  -- profile e-mail in lower case, for lookups
    is_bot      TINYINT      NOT NULL,
    bot_id      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    role        VARCHAR(32)  NOT NULL,  -- Role::as_str
    deleted     TINYINT      NOT NULL,
    tz          VARCHAR(64)  NOT NULL,
    updated     BIGINT       NOT NULL,
    PRIMARY KEY (team_id, id),
    UNIQUE KEY users_by_name (team_id, name),
    KEY users_by_email (team_id, email_lower)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Only the SHA-256 hash of a token is stored, never the token text.
CREATE TABLE tokens (
    team_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    hash    CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    kind    VARCHAR(16) NOT NULL,  -- TokenKind::as_str
    created BIGINT      NOT NULL,
    revoked TINYINT     NOT NULL,
    PRIMARY KEY (team_id, hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE channels (
    team_id          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id               VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name             VARCHAR(255) NOT NULL,
    kind             VARCHAR(16)  NOT NULL,  -- ChannelKind::as_str
    creator          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created          BIGINT       NOT NULL,
    is_archived      TINYINT      NOT NULL,
    is_general       TINYINT      NOT NULL,
    topic            TEXT         NOT NULL,
    topic_creator    VARCHAR(32)  NOT NULL,
    topic_last_set   BIGINT       NOT NULL,  -- seconds, as TopicInfo::last_set
    purpose          TEXT         NOT NULL,
    purpose_creator  VARCHAR(32)  NOT NULL,
    purpose_last_set BIGINT       NOT NULL,  -- seconds, as TopicInfo::last_set
    im_user          VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    PRIMARY KEY (team_id, id),
    UNIQUE KEY channels_by_name (team_id, name)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE members (
    team_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    user_id    VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    joined     BIGINT      NOT NULL,
    PRIMARY KEY (team_id, channel_id, user_id),
    -- Serves member_channels: the conversations of one user.
    KEY members_by_user (team_id, user_id, channel_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- text is MEDIUMTEXT because 40,000 characters of 4-byte UTF-8 (160,000 bytes)
-- exceed TEXT's 65,535 bytes.
CREATE TABLE messages (
    team_id      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id   VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ts           BIGINT       NOT NULL,
    user_id      VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    text         MEDIUMTEXT   NOT NULL,
    subtype      VARCHAR(64)  NULL,
    bot_id       VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    thread_ts    BIGINT       NULL,  -- NULL outside threads, equal to ts on a thread parent
    reply_count  BIGINT       NOT NULL DEFAULT 0,  -- replies of a thread parent
    latest_reply BIGINT       NULL,  -- ts of the newest reply of a thread parent
    edited_user  VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NULL,
    edited_ts    BIGINT       NULL,
    extra        MEDIUMTEXT   NOT NULL,  -- JSON object: blocks, attachments, username, icons, metadata
    PRIMARY KEY (team_id, channel_id, ts),
    -- Thread lookups. The trailing ts lets a thread be read in order and its
    -- newest reply be found without a sort.
    KEY messages_by_thread (team_id, channel_id, thread_ts, ts)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- seq orders reactions added in the same microsecond by insertion, as SQLite's
-- rowid does in the embedded store. The insert computes it per message
-- (MAX(seq) + 1), so it needs no AUTO_INCREMENT.
CREATE TABLE reactions (
    team_id    VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    channel_id VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ts         BIGINT       NOT NULL,  -- the message reacted to
    name       VARCHAR(255) NOT NULL,  -- emoji name without colons
    user_id    VARCHAR(32)  CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    added      BIGINT       NOT NULL,  -- orders reaction names and their users
    seq        BIGINT       NOT NULL,  -- insertion order among the message's reactions
    PRIMARY KEY (team_id, channel_id, ts, name, user_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

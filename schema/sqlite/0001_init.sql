-- Initial schema of the embedded SQLite store.
--
-- Every table except schema_migrations has a team_id column, and team_id is the
-- first column of every primary key and index. The MySQL twin of this schema is
-- sharded by team (Vitess, hash vindex on team_id), so each query the Store trait
-- issues stays on one shard.
--
-- Timestamps (ts, created, joined, added, ...) are INTEGER microseconds since the
-- Unix epoch. Booleans are INTEGER 0 or 1. JSON columns hold serde_json text.

-- Applied migrations, one row per version; written by the migration runner.
CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at INTEGER NOT NULL  -- microseconds since the Unix epoch
);

CREATE TABLE teams (
    team_id TEXT    NOT NULL,
    name    TEXT    NOT NULL,
    domain  TEXT    NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (team_id)
);

CREATE TABLE users (
    team_id     TEXT    NOT NULL,
    id          TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    profile     TEXT    NOT NULL,  -- JSON of domain::Profile
    email_lower TEXT    NOT NULL,  -- profile e-mail in lower case, for lookups
    is_bot      INTEGER NOT NULL,
    bot_id      TEXT,
    role        TEXT    NOT NULL,  -- Role::as_str
    deleted     INTEGER NOT NULL,
    tz          TEXT    NOT NULL,
    updated     INTEGER NOT NULL,
    PRIMARY KEY (team_id, id),
    UNIQUE (team_id, name)
);

CREATE INDEX users_by_email ON users (team_id, email_lower);

-- Only the SHA-256 hash of a token is stored, never the token text.
CREATE TABLE tokens (
    team_id TEXT    NOT NULL,
    hash    TEXT    NOT NULL,
    user_id TEXT    NOT NULL,
    kind    TEXT    NOT NULL,  -- TokenKind::as_str
    created INTEGER NOT NULL,
    revoked INTEGER NOT NULL,
    PRIMARY KEY (team_id, hash)
);

CREATE TABLE channels (
    team_id          TEXT    NOT NULL,
    id               TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    kind             TEXT    NOT NULL,  -- ChannelKind::as_str
    creator          TEXT    NOT NULL,
    created          INTEGER NOT NULL,
    is_archived      INTEGER NOT NULL,
    is_general       INTEGER NOT NULL,
    topic            TEXT    NOT NULL,
    topic_creator    TEXT    NOT NULL,
    topic_last_set   INTEGER NOT NULL,  -- seconds, as TopicInfo::last_set
    purpose          TEXT    NOT NULL,
    purpose_creator  TEXT    NOT NULL,
    purpose_last_set INTEGER NOT NULL,  -- seconds, as TopicInfo::last_set
    im_user          TEXT,
    PRIMARY KEY (team_id, id),
    UNIQUE (team_id, name)
);

CREATE TABLE members (
    team_id    TEXT    NOT NULL,
    channel_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    joined     INTEGER NOT NULL,
    PRIMARY KEY (team_id, channel_id, user_id)
);

-- Serves member_channels: the conversations of one user.
CREATE INDEX members_by_user ON members (team_id, user_id, channel_id);

CREATE TABLE messages (
    team_id      TEXT    NOT NULL,
    channel_id   TEXT    NOT NULL,
    ts           INTEGER NOT NULL,
    user_id      TEXT    NOT NULL,
    text         TEXT    NOT NULL,
    subtype      TEXT,
    bot_id       TEXT,
    thread_ts    INTEGER,  -- NULL outside threads, equal to ts on a thread parent
    reply_count  INTEGER NOT NULL DEFAULT 0,  -- replies of a thread parent
    latest_reply INTEGER,  -- ts of the newest reply of a thread parent
    edited_user  TEXT,
    edited_ts    INTEGER,
    extra        TEXT    NOT NULL,  -- JSON object: blocks, attachments, username, icons, metadata
    PRIMARY KEY (team_id, channel_id, ts)
);

-- Thread lookups. The trailing ts lets a thread be read in order and its newest
-- reply be found without a sort.
CREATE INDEX messages_by_thread ON messages (team_id, channel_id, thread_ts, ts);

CREATE TABLE reactions (
    team_id    TEXT    NOT NULL,
    channel_id TEXT    NOT NULL,
    ts         INTEGER NOT NULL,  -- the message reacted to
    name       TEXT    NOT NULL,  -- emoji name without colons
    user_id    TEXT    NOT NULL,
    added      INTEGER NOT NULL,  -- orders reaction names and their users
    PRIMARY KEY (team_id, channel_id, ts, name, user_id)
);

-- Admin server: the audit log, and an index for revoking a user's tokens.
--
-- As in 0001, team_id leads every key and index, so the MySQL twin (sharded by
-- team) keeps each query on one shard.

-- One row per admin action, written in the same transaction as the change.
-- id counts from 1 within each team; the store assigns MAX(id) + 1 on insert.
CREATE TABLE audit_log (
    team_id   TEXT    NOT NULL,
    id        INTEGER NOT NULL,
    at        INTEGER NOT NULL,  -- microseconds since the Unix epoch
    actor_id  TEXT,              -- NULL for the switchboard admin command line
    action    TEXT    NOT NULL,  -- AuditAction::as_str
    target_id TEXT    NOT NULL,
    details   TEXT    NOT NULL,  -- JSON object
    PRIMARY KEY (team_id, id)
);

-- Serves RevokeUserTokens: the tokens of one user.
CREATE INDEX tokens_by_user ON tokens (team_id, user_id);

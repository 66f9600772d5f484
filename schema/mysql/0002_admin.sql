-- Admin server: the audit log, and an index for revoking a user's tokens.
-- team_id leads every key and index, as in 0001_init.sql.

-- One row per admin action, written in the same transaction as the change.
-- id counts from 1 within each team; the store assigns MAX(id) + 1 on insert.
CREATE TABLE audit_log (
    team_id   VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    id        BIGINT      NOT NULL,
    at        BIGINT      NOT NULL,  -- microseconds since the Unix epoch
    actor_id  VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NULL,  -- NULL for the command line
    action    VARCHAR(64) NOT NULL,  -- AuditAction::as_str
    target_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    details   MEDIUMTEXT  NOT NULL,  -- JSON object
    PRIMARY KEY (team_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Serves RevokeUserTokens: the tokens of one user.
CREATE INDEX tokens_by_user ON tokens (team_id, user_id);

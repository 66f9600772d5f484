-- Browser sign-in for the web client: single-use login links printed by
-- `switchboard admin login-link`, and the browser sessions they open. Only the
-- SHA-256 of each link token and cookie is stored. team_id leads every key, as
-- in 0001_init.sql, and is also written inside the token and cookie texts.

CREATE TABLE login_links (
    team_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    hash    CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- hex SHA-256 of the link token text
    user_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created BIGINT      NOT NULL,
    expires BIGINT      NOT NULL,
    used    TINYINT     NOT NULL,  -- 0 until a browser signs in with the link
    PRIMARY KEY (team_id, hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

CREATE TABLE browser_sessions (
    team_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    hash    CHAR(64)    CHARACTER SET ascii COLLATE ascii_bin NOT NULL,  -- hex SHA-256 of the session cookie text
    user_id VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    created BIGINT      NOT NULL,
    PRIMARY KEY (team_id, hash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Browser sign-in for the web client: single-use login links printed by
-- `switchboard admin login-link`, and the browser sessions they open. Only the
-- SHA-256 of each link token and cookie is stored. team_id leads every key, as
-- in 0001_init.sql, and is also written inside the token and cookie texts.

CREATE TABLE login_links (
    team_id TEXT    NOT NULL,
    hash    TEXT    NOT NULL,  -- hex SHA-256 of the link token text
    user_id TEXT    NOT NULL,
    created INTEGER NOT NULL,  -- microseconds since the Unix epoch
    expires INTEGER NOT NULL,  -- microseconds since the Unix epoch
    used    INTEGER NOT NULL,  -- 0 until a browser signs in with the link
    PRIMARY KEY (team_id, hash)
);

CREATE TABLE browser_sessions (
    team_id TEXT    NOT NULL,
    hash    TEXT    NOT NULL,  -- hex SHA-256 of the session cookie text
    user_id TEXT    NOT NULL,
    created INTEGER NOT NULL,  -- microseconds since the Unix epoch
    PRIMARY KEY (team_id, hash)
);

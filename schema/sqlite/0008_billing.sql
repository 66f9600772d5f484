-- Billing: the UTC days on which each member was active, and the billing
-- reports computed from them. team_id leads every key, as in 0001_init.sql.

-- One row per member and UTC day with activity: a posted message or an
-- opened real-time session. An insert of an existing row changes nothing, so
-- the table keeps one row per day however often the member was active.
CREATE TABLE activity_days (
    team_id TEXT NOT NULL,
    day     TEXT NOT NULL,  -- YYYY-MM-DD, UTC
    user_id TEXT NOT NULL,
    PRIMARY KEY (team_id, day, user_id)
);

-- The billable seats of a team for a month, replaced by each new computation.
CREATE TABLE billing_reports (
    team_id     TEXT    NOT NULL,
    month       TEXT    NOT NULL,  -- YYYY-MM
    job_id      TEXT    NOT NULL,  -- the billing job that computed it
    computed    INTEGER NOT NULL,  -- microseconds since the epoch
    total_seats INTEGER NOT NULL,
    members     TEXT    NOT NULL,  -- JSON array of {"id": "U…", "active_days": N}
    PRIMARY KEY (team_id, month)
);

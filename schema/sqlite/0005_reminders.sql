-- Reminders (reminders.add and the scheduler that delivers them). team_id
-- leads every key, as in 0001_init.sql.

CREATE TABLE reminders (
    team_id     TEXT    NOT NULL,
    id          TEXT    NOT NULL,  -- Rm…
    creator     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL,  -- the recipient
    text        TEXT    NOT NULL,
    due         INTEGER NOT NULL,  -- Unix seconds (Slack's `time`)
    complete_ts INTEGER NOT NULL,  -- Unix seconds, 0 while not complete
    fired       INTEGER NOT NULL,  -- 1 once its delivery job is in the outbox
    created     INTEGER NOT NULL,  -- microseconds since the Unix epoch
    PRIMARY KEY (team_id, id)
);

-- reminders.list: the reminders a user created or receives.
CREATE INDEX reminders_by_user ON reminders (team_id, user_id);
CREATE INDEX reminders_by_creator ON reminders (team_id, creator);

-- The scheduler's scan across teams: only pending reminders are indexed.
CREATE INDEX reminders_pending ON reminders (team_id, due)
    WHERE fired = 0 AND complete_ts = 0;

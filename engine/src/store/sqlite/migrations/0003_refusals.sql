-- Refused attempts to act on a task (role, authority limit, four-eyes, already voted).
-- Not part of any case's history: recording one changes no event and no case row.
CREATE TABLE refusals (
    id        INTEGER PRIMARY KEY,
    case_id   TEXT NOT NULL,
    task_id   TEXT NOT NULL,
    action    TEXT NOT NULL,
    user      TEXT NOT NULL,
    rule      TEXT NOT NULL,
    message   TEXT NOT NULL,
    directory TEXT,
    at        INTEGER NOT NULL
);
CREATE INDEX refusals_case ON refusals (case_id, at);
CREATE INDEX refusals_at ON refusals (at);

-- Docket's SQLite schema. Times: events.at is RFC 3339 text (it is hashed); every other
-- time is INTEGER microseconds since the Unix epoch (indexed comparisons).

CREATE TABLE flow_versions (
    id          TEXT PRIMARY KEY,
    flow_id     TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    source      TEXT NOT NULL,
    deployed_at INTEGER NOT NULL,
    UNIQUE (flow_id, hash),
    UNIQUE (flow_id, version)
);

CREATE TABLE cases (
    id              TEXT PRIMARY KEY,
    flow_version_id TEXT NOT NULL REFERENCES flow_versions (id),
    status          TEXT NOT NULL,
    outcome         TEXT,
    last_seq        INTEGER NOT NULL,
    last_hash       TEXT NOT NULL,
    -- The seq the case's snapshot (below) reflects; 0 when it has none.
    snapshot_seq    INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- No index on status: every transition changes it, and only listings filter by it.

-- The latest state snapshot of each case. Apart from the case row, so that row stays small
-- and is updated in place; a new snapshot replaces the old one (INSERT OR REPLACE), which
-- appends it at the end of the table.
CREATE TABLE snapshots (
    case_id TEXT PRIMARY KEY,
    state   TEXT NOT NULL
);

-- Append-only, hash-chained history. (case_id, seq) is the optimistic-concurrency key.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    case_id   TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    type      TEXT NOT NULL,
    payload   TEXT NOT NULL,
    at        TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    UNIQUE (case_id, seq)
);

-- Due work. ready_at = when the job may be claimed: its due time while unleased, its
-- lease expiry while leased; one index serves every claim.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    case_id          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    due_at           INTEGER NOT NULL,
    ready_at         INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_epoch      INTEGER NOT NULL DEFAULT 0,
    lease_expires_at INTEGER,
    claims           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_ready ON jobs (ready_at);
CREATE INDEX jobs_case ON jobs (case_id);

-- Passive timers: firing one deletes its row in the transition that applies it.
CREATE TABLE timers (
    case_id  TEXT NOT NULL,
    timer_id TEXT NOT NULL,
    node     TEXT NOT NULL,
    due_at   INTEGER NOT NULL,
    PRIMARY KEY (case_id, timer_id)
);
CREATE INDEX timers_due ON timers (due_at);

CREATE TABLE tasks (
    id        TEXT PRIMARY KEY,
    case_id   TEXT NOT NULL,
    node      TEXT NOT NULL,
    role      TEXT NOT NULL,
    escalated_to TEXT,
    authority REAL,
    due_at    INTEGER,
    open      INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    closed_at INTEGER
);
CREATE INDEX tasks_open ON tasks (open, role);
CREATE INDEX tasks_case ON tasks (case_id);

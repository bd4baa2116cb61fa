-- Timers are claimed under a lease, as jobs are, so that of several processes on one
-- database only one runs a due timer. ready_at = when the timer may be claimed: its due
-- time while unleased, its lease expiry while leased; one index serves every claim.
ALTER TABLE timers ADD COLUMN ready_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN lease_owner TEXT;
ALTER TABLE timers ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE timers ADD COLUMN lease_expires_at INTEGER;
UPDATE timers SET ready_at = due_at;
DROP INDEX timers_due;
CREATE INDEX timers_ready ON timers (ready_at);
-- Taking over an identity, and stopping, give back what one owner holds.
CREATE INDEX jobs_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX timers_owner ON timers (lease_owner) WHERE lease_owner IS NOT NULL;

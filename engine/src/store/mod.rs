//! The store port: durable flow versions, cases, hash-chained events, jobs, timers and tasks.
//!
//! Architecture invariant: the store knows events only as `(type, canonical payload)` pairs
//! and case state only as an opaque JSON snapshot; it never interprets either. Every change
//! to a case goes through [`Store::commit`] as one [`Transition`], applied atomically.
//!
//! The trait is shaped for SQLite (one process, group commit) and PostgreSQL (many
//! processes, `FOR UPDATE SKIP LOCKED`) alike: ids and times come from the caller, claims are
//! leases with an epoch, and nothing here assumes a single writer process.

pub mod audit;
pub mod chain;
pub mod refusal;
pub mod sqlite;

/// The conformance suite every adapter runs (its PostgreSQL twin calls it from outside).
#[cfg(any(test, feature = "testing"))]
pub mod conformance;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;
use uuid::Uuid;

pub use audit::{AuditReport, BrokenChain};
pub use refusal::{Refusal, RefusalFilter};
pub use sqlite::{SqliteOptions, SqliteStore};

/// Wall-clock instant; always passed in by the caller, never read by the store.
pub type Time = DateTime<Utc>;

/// Errors of the store, classified so callers can answer precisely.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another transition of this case committed first (stale head, duplicate `seq`,
    /// or a case id that already exists). Retry from fresh state.
    #[error("conflict on case {case_id}: {detail}")]
    Conflict { case_id: Uuid, detail: String },
    /// The claimed job's lease is no longer ours (expired and re-claimed, or completed).
    #[error("lease lost on job {job_id} (owner {owner}, epoch {epoch})")]
    LeaseLost {
        job_id: Uuid,
        owner: String,
        epoch: i64,
    },
    /// The timer was already fired or cancelled, or is not due yet.
    #[error("timer {timer_id} of case {case_id} is not armed or not due")]
    TimerGone { case_id: Uuid, timer_id: String },
    #[error("case {0} not found")]
    CaseNotFound(Uuid),
    #[error("flow version {0} not found")]
    FlowVersionNotFound(Uuid),
    /// A stored row could not be decoded: a bug or a hand-edited database.
    #[error("corrupt row in {place}: {detail}")]
    Corrupt { place: &'static str, detail: String },
    // The sqlx errors below are said in the message and not exposed as a `source`: sqlx
    // repeats its own message in its source chain, so a report walking the chain said
    // "unable to open database file" three times.
    #[error("database error in {place}: {error}")]
    Database {
        place: &'static str,
        error: sqlx::Error,
    },
    #[error("migrating the database failed: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    #[error("invalid database url `{url}`: {error}")]
    Url { url: String, error: sqlx::Error },
    /// A command that works on an existing database was pointed at none.
    #[error("no database at {path} (`docket run` or `docket start` creates one)")]
    NoDatabase { path: String },
    /// The group-commit writer has stopped (its database connection failed).
    #[error("the store's writer has stopped: {0}")]
    WriterStopped(String),
}

impl Error {
    pub(crate) fn migrate(source: sqlx::migrate::MigrateError) -> Error {
        Error::Migrate(source)
    }

    pub(crate) fn db(place: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |error| Error::Database { place, error }
    }

    /// Conflicts and lost leases mean "someone else got there first": not a failure of
    /// the store, and retrying with fresh state is the right answer.
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Error::Conflict { .. } | Error::LeaseLost { .. } | Error::TimerGone { .. }
        )
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A case's lifecycle status, as the store indexes it (fsck and listings read it): the
/// state machine's own status, stored by name.
pub use crate::case::CaseStatus;

/// An immutable, content-addressed deployment of a flow's YAML.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowVersion {
    pub id: Uuid,
    pub flow_id: String,
    /// 1, 2, 3… per flow id, in deployment order.
    pub version: i64,
    /// Hex SHA-256 of the YAML source.
    pub hash: String,
    pub source: String,
    pub deployed_at: Time,
}

/// The result of [`Store::deploy_flow`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub version: FlowVersion,
    /// False when a version with the same hash already existed (deploy is idempotent).
    pub created: bool,
}

/// The head of a case's hash chain: its last `seq` and that event's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainHead {
    pub seq: i64,
    pub hash: String,
}

impl ChainHead {
    /// The head of a case with no events yet.
    pub fn genesis() -> Self {
        ChainHead {
            seq: 0,
            hash: chain::GENESIS.to_string(),
        }
    }
}

/// One event to append. The store hashes and stores `payload` exactly as given.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: String,
    /// Canonical JSON text ([`canonical_json::canonical_json`]): produced once by the caller, so
    /// equal events always hash the same and the store never re-serialises them.
    pub payload: String,
    pub at: Time,
}

/// A case row to create with the transition that starts it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCase {
    pub flow_version: Uuid,
}

/// The lease on a claimed job: completing or releasing it checks owner and epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub job_id: Uuid,
    pub owner: String,
    pub epoch: i64,
    pub expires_at: Time,
}

/// A job to enqueue. With `lease_to`, the job is born claimed by that owner (epoch 1)
/// so the process that created it can run it at once without a round trip; should that
/// process die, the lease expires and anyone may claim it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub due: Time,
    pub lease_to: Option<(String, Time)>,
}

impl NewJob {
    /// The lease this job is born with, if any.
    pub fn initial_lease(&self) -> Option<Lease> {
        self.lease_to.as_ref().map(|(owner, expires_at)| Lease {
            job_id: self.id,
            owner: owner.clone(),
            epoch: 1,
            expires_at: *expires_at,
        })
    }
}

/// A timer to arm (or re-arm: arming an armed timer moves its due time). With `lease_to`,
/// the timer is born claimed by that owner (epoch 1), as a [`NewJob`] can be: the process
/// that armed it holds it in memory and fires it when due, and no other process claims it
/// before that lease expires.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTimer {
    pub timer_id: String,
    pub node: String,
    pub due: Time,
    pub lease_to: Option<(String, Time)>,
}

/// An open human task to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    pub task_id: String,
    pub node: String,
    pub role: String,
    pub authority: Option<f64>,
    pub due: Option<Time>,
}

/// Everything one command changes, committed atomically: events appended after `prev`,
/// the case row, and the rows the effects turn into.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub case_id: Uuid,
    /// Set when this transition starts the case (then `prev` must be genesis).
    pub create: Option<NewCase>,
    /// The chain head the events were decided against (optimistic concurrency).
    pub prev: ChainHead,
    pub events: Vec<NewEvent>,
    pub status: CaseStatus,
    pub outcome: Option<String>,
    /// Full case state for fast loads, as JSON text; `None` keeps the previous snapshot
    /// (the state is then rebuilt by replaying the events after it).
    pub snapshot: Option<String>,
    pub now: Time,
    /// The claimed job this transition consumes (deleted if owner and epoch still match).
    pub complete_job: Option<Lease>,
    /// The timer this transition fires (deleted if still armed and due at `now`).
    pub fire_timer: Option<String>,
    pub jobs: Vec<NewJob>,
    pub arm_timers: Vec<NewTimer>,
    pub cancel_timers: Vec<String>,
    pub open_tasks: Vec<NewTask>,
    pub close_tasks: Vec<String>,
    /// Open tasks that now also show in another role's inbox (SLA escalation): `(task, role)`.
    pub escalate_tasks: Vec<(String, String)>,
    /// Jobs no longer wanted (deleted whoever holds them).
    pub cancel_jobs: Vec<Uuid>,
}

impl Transition {
    /// An empty transition of `case_id` after `prev`; fill in what changes.
    pub fn new(case_id: Uuid, prev: ChainHead, status: CaseStatus, now: Time) -> Self {
        Transition {
            case_id,
            create: None,
            prev,
            events: Vec::new(),
            status,
            outcome: None,
            snapshot: None,
            now,
            complete_job: None,
            fire_timer: None,
            jobs: Vec::new(),
            arm_timers: Vec::new(),
            cancel_timers: Vec::new(),
            open_tasks: Vec::new(),
            close_tasks: Vec::new(),
            escalate_tasks: Vec::new(),
            cancel_jobs: Vec::new(),
        }
    }
}

/// What a committed transition left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The new chain head (unchanged when the transition appended no event).
    pub head: ChainHead,
}

/// A case row with the events after its snapshot, read together in one consistent read.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseRecord {
    pub id: Uuid,
    pub flow_version: Uuid,
    pub status: CaseStatus,
    pub outcome: Option<String>,
    pub head: ChainHead,
    pub snapshot: Option<serde_json::Value>,
    /// The `seq` the snapshot reflects; events after it must be replayed.
    pub snapshot_seq: i64,
    /// The events after `snapshot_seq` up to `head`, in order (all of them without a
    /// snapshot): read in the same transaction as the row, so they always end at `head`.
    pub tail: Vec<StoredEvent>,
    pub created_at: Time,
    pub updated_at: Time,
}

/// A case row, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseSummary {
    pub id: Uuid,
    pub flow_id: String,
    pub flow_version: i64,
    pub status: CaseStatus,
    pub outcome: Option<String>,
    pub last_seq: i64,
    pub created_at: Time,
    pub updated_at: Time,
}

#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    pub status: Option<CaseStatus>,
    pub flow_id: Option<String>,
    pub limit: Option<u32>,
}

/// An event exactly as stored: the hashed bytes, not a re-serialisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    pub case_id: Uuid,
    pub seq: i64,
    pub kind: String,
    /// Canonical JSON text.
    pub payload: String,
    /// RFC 3339 with microseconds, UTC.
    pub at: String,
    pub prev_hash: String,
    pub hash: String,
}

/// A job claimed under a lease.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub case_id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    pub due: Time,
    /// How many times it has been claimed, this claim included.
    pub claims: i64,
    pub lease: Lease,
}

/// A claim request: due jobs and due timers, each under a new lease.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub owner: String,
    pub now: Time,
    pub lease_for: Duration,
    /// Most jobs, and most timers, to take.
    pub limit: u32,
}

/// What one [`Store::claim`] took.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claimed {
    pub jobs: Vec<ClaimedJob>,
    pub timers: Vec<ClaimedTimer>,
}

/// An armed timer that is due, claimed under a lease: no other process claims it before
/// the lease expires. Firing it (in a transition) deletes its row whoever holds it, so a
/// timer fires exactly once even if two processes ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedTimer {
    pub case_id: Uuid,
    pub timer_id: String,
    pub node: String,
    pub due: Time,
    pub epoch: i64,
    pub expires_at: Time,
}

/// A lease this process holds, as [`Store::renew_leases`] and [`Store::release`] name it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Held {
    Job {
        id: Uuid,
        epoch: i64,
    },
    Timer {
        case_id: Uuid,
        timer_id: String,
        epoch: i64,
    },
}

/// An open human task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskRecord {
    pub task_id: String,
    pub case_id: Uuid,
    pub flow_id: String,
    pub node: String,
    pub role: String,
    /// The role it was escalated to after its SLA ran out (it shows in both inboxes).
    pub escalated_to: Option<String>,
    pub authority: Option<f64>,
    pub due: Option<Time>,
    pub open: bool,
    pub opened_at: Time,
}

/// One broken invariant found by [`Store::fsck`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// Stable name of the invariant, e.g. `event-gap`.
    pub rule: &'static str,
    pub case_id: Option<Uuid>,
    pub detail: String,
}

/// Group-commit counters since the store was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct CommitStats {
    /// Database transactions that committed transitions (each one fsync). Transactions
    /// holding only claims, releases or deployments are not counted, so the mean group
    /// commit is about transitions alone.
    pub transactions: u64,
    /// Case transitions committed.
    pub transitions: u64,
    /// Transitions refused (conflict, lost lease, timer gone).
    pub rejected: u64,
    /// Batches that had to be re-run one savepoint per transition.
    pub isolated_batches: u64,
    /// Largest batch written.
    pub max_batch: u64,
}

impl CommitStats {
    /// Mean transitions per database transaction.
    pub fn mean_batch(&self) -> f64 {
        if self.transactions == 0 {
            0.0
        } else {
            self.transitions as f64 / self.transactions as f64
        }
    }
}

/// The store port. Implementations must make [`Store::commit`] durable before it returns.
pub trait Store: Clone + Send + Sync + 'static {
    /// Records a flow version unless one with the same flow id and hash exists.
    fn deploy_flow(
        &self,
        flow_id: &str,
        hash: &str,
        source: &str,
        id: Uuid,
        now: Time,
    ) -> impl Future<Output = Result<Deployed>> + Send;

    fn flow_version(&self, id: Uuid) -> impl Future<Output = Result<FlowVersion>> + Send;

    /// The newest version of a flow, if it was ever deployed.
    fn latest_flow_version(
        &self,
        flow_id: &str,
    ) -> impl Future<Output = Result<Option<FlowVersion>>> + Send;

    /// Applies one transition atomically and durably. `Conflict`, `LeaseLost` or
    /// `TimerGone` mean nothing of it was applied.
    fn commit(&self, transition: Transition) -> impl Future<Output = Result<Committed>> + Send;

    fn load_case(&self, id: Uuid) -> impl Future<Output = Result<CaseRecord>> + Send;

    fn list_cases(
        &self,
        filter: &CaseFilter,
    ) -> impl Future<Output = Result<Vec<CaseSummary>>> + Send;

    /// Events of a case with `seq > after`, in order.
    fn events(
        &self,
        case_id: Uuid,
        after: i64,
    ) -> impl Future<Output = Result<Vec<StoredEvent>>> + Send;

    /// Events of all cases ordered by `(case_id, seq)`, strictly after `from`: the audit walk.
    fn scan_events(
        &self,
        from: Option<(Uuid, i64)>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<StoredEvent>>> + Send;

    /// Every case's chain head, ordered by case id.
    fn chain_heads(&self) -> impl Future<Output = Result<Vec<(Uuid, ChainHead)>>> + Send;

    /// Claims due jobs and due timers (due and unleased, or lease expired), oldest first,
    /// each under a new lease (its epoch moves on).
    fn claim(&self, claim: Claim) -> impl Future<Output = Result<Claimed>> + Send;

    /// Extends the leases `owner` holds on `held` to at least `until`; returns those now
    /// held by someone else (re-claimed after expiring, or given back). A job or timer
    /// that is gone (completed, fired, cancelled) is not lost and is not returned.
    fn renew_leases(
        &self,
        owner: &str,
        held: Vec<Held>,
        until: Time,
    ) -> impl Future<Output = Result<Vec<Held>>> + Send;

    /// Gives back every job and timer leased to `owner`: claimable again when due, but
    /// not before `now`, so work given back queues behind work already waiting. Called
    /// when a process takes over an identity whose previous holder is proven dead, and by
    /// a process stopping gracefully once its running work has finished. The epoch moves
    /// at the next claim, so a stale holder could not complete what it held.
    fn release_owned(&self, owner: &str, now: Time) -> impl Future<Output = Result<u64>> + Send;

    /// The earliest time any job or timer becomes due or claimable, if any.
    fn next_due(&self) -> impl Future<Output = Result<Option<Time>>> + Send;

    /// Jobs and timers under a lease that has not expired at `now` (someone is, or may
    /// still be, working on them).
    fn live_leases(&self, now: Time) -> impl Future<Output = Result<u64>> + Send;

    /// Open tasks, optionally only those in `role`'s inbox (assigned or escalated to it).
    fn open_tasks(
        &self,
        role: Option<&str>,
    ) -> impl Future<Output = Result<Vec<TaskRecord>>> + Send;

    fn task(&self, task_id: &str) -> impl Future<Output = Result<Option<TaskRecord>>> + Send;

    /// Checks the store's invariants; an empty list means healthy.
    fn fsck(&self) -> impl Future<Output = Result<Vec<Violation>>> + Send;

    fn commit_stats(&self) -> CommitStats;

    /// Records a refused attempt durably, outside every case's history (no event, no
    /// change to the case row).
    fn record_refusal(&self, refusal: Refusal) -> impl Future<Output = Result<()>> + Send;

    /// Refused attempts, newest first: one case's, or all.
    fn refusals(&self, filter: &RefusalFilter)
    -> impl Future<Output = Result<Vec<Refusal>>> + Send;
}

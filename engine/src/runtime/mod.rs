//! The runtime: claims due work from the store, runs plugins off the async threads, applies
//! the pure case state machine, and commits each transition with its follow-up rows.
//!
//! Hot path (no database reads): a committed transition's plugin runs are born leased to
//! this process and start at once from memory; the case's state stays in a bounded cache.
//! The store remains the source of truth: a restart (or an evicted case) reloads from the
//! snapshot plus the events after it, and a crashed process's leases expire (or are
//! given back at once when a restarted worker takes over its identity).
//!
//! Split by concern: `flows` (compiled flow cache), `worker` (claims, leases, heartbeat,
//! graceful stop), `step` (plugin runs and the folding of automatic steps), `timer`,
//! `commit` (loading a case, committing its transitions), `convert` (decisions into store
//! transitions), `cache` (in-flight cases), `pool` (the plugin threads).
//!
//! Exactly-once transitions: a plugin result is committed together with the deletion of
//! its job (owner and epoch checked) and the case head moves by optimistic concurrency, so
//! a redelivered job either finds its job row gone or is rejected as a stale attempt.

mod cache;
mod commit;
mod convert;
mod flows;
mod pool;
mod refusal;
mod step;
mod timer;
mod worker;

use crate::case::{self, CaseId, CaseState, Command, Rejected, TaskId};
use crate::flow::{self, Diagnostic, Flow};
use crate::plugin::{CallLimits, Plugins};
use crate::store::{self, ChainHead, CommitStats, FlowVersion, Held, Lease, NewCase, Store, Time};
use cache::{CaseCache, Live};
use chrono::{DateTime, NaiveDate, Utc};
use commit::{deciding_again, lost_race};
use convert::{Dispatch, StepJob};
use flows::FlowCache;
use pool::PluginPool;
use serde::Serialize;
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, watch};
use uuid::Uuid;

pub use refusal::rule as refusal_rule;

/// The runtime's source of time: the only clock the engine reads.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("flow {file} is invalid:\n{}", diagnostics.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n"))]
    InvalidFlow {
        file: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The state machine refused the command; nothing changed.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    #[error("task `{0}` not found")]
    UnknownTask(String),
    /// The acting user is not in the approver directory (or it could not be read).
    #[error(transparent)]
    Directory(#[from] crate::directory::Error),
    /// A refused attempt that could not be recorded: the case did not change either.
    #[error("{refused} (and recording the refusal failed: {error})")]
    RefusalNotRecorded {
        refused: Box<Rejected>,
        error: Box<store::Error>,
    },
    #[error("cannot encode {what}: {message}")]
    Encode { what: &'static str, message: String },
    #[error("cannot decode {what}: {message}")]
    Decode { what: String, message: String },
    #[error("bad job payload: {message}")]
    BadJob { message: String },
    /// Other transitions of the case kept committing first; nothing of this one was applied.
    #[error("case {case_id} changed while this command was applied: try again")]
    Busy { case_id: Uuid },
    /// The stored history does not rebuild the state its case row names (corruption).
    #[error("case {case_id}: its history rebuilds seq {state} but its head is at {head}")]
    Diverged {
        case_id: Uuid,
        state: u64,
        head: i64,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks and compiles a flow against `plugins`: what [`Runtime::deploy`] does before it
/// writes anything, for callers that refuse a bad flow before opening a store.
pub fn compile(file: &str, yaml: &str, plugins: &dyn Plugins) -> Result<(Flow, Vec<Diagnostic>)> {
    flow::load(file, yaml, Some(plugins)).map_err(|diagnostics| Error::InvalidFlow {
        file: file.to_string(),
        diagnostics,
    })
}

/// Runtime tuning. Every loop and queue has a bound.
#[derive(Debug, Clone)]
pub struct Config {
    /// Identity of this process in leases: one live runtime per identity and database.
    /// Keep it across restarts so a restarted worker takes its own leases back at once
    /// ([`Runtime::take_over_identity`]).
    pub owner: String,
    /// How long a claim holds a job or timer before others may take it. Held work has
    /// its lease renewed every third of this, so only a stopped process loses its leases.
    pub lease: Duration,
    /// A step job claimed more than this many times (each holder stopped before finishing
    /// it) is not run again: the case gets an incident instead.
    pub max_claims: i64,
    /// Work items (plugin runs, timers) this process holds at once.
    pub max_in_flight: usize,
    /// Plugin calls running at once (CPU-bound: about the number of cores).
    pub plugin_threads: usize,
    /// Cases kept in memory.
    pub cache_cases: usize,
    /// Work due within this horizon is held in memory; later work waits in the store.
    pub horizon: Duration,
    /// Shortest and longest sleep of the polling loop when there is nothing to do.
    pub idle_floor: Duration,
    pub idle_ceiling: Duration,
    pub call_limits: CallLimits,
    /// Plugin runs folded into one transition at most (see `Runtime::advance`): the
    /// automatic steps that follow a command run at once and commit together.
    pub chain_steps: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            owner: std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            lease: Duration::from_secs(60),
            max_claims: 10,
            max_in_flight: 4096,
            plugin_threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            cache_cases: 100_000,
            horizon: Duration::from_secs(10),
            idle_floor: Duration::from_millis(10),
            idle_ceiling: Duration::from_millis(250),
            call_limits: CallLimits::default(),
            chain_steps: 32,
        }
    }
}

/// A unit of work this process runs, under a lease it holds until the work commits.
#[derive(Debug, Clone)]
enum Work {
    Step {
        case_id: Uuid,
        job: StepJob,
        due: Time,
        lease: Lease,
        /// Times the job was claimed, this claim included.
        claims: i64,
    },
    Timer {
        case_id: Uuid,
        timer_id: String,
        due: Time,
        /// The epoch of this process's lease on the timer.
        epoch: i64,
    },
}

/// A case stopped needing automatic work (it waits or ended) — reported to a listener.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settled {
    pub case_id: Uuid,
    pub status: store::CaseStatus,
    pub outcome: Option<String>,
    pub at: Time,
}

/// Runtime counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuntimeStats {
    pub steps: u64,
    /// Wall time spent inside plugin calls, as the plugin host reports it.
    pub plugin_us: u64,
    /// State-machine transitions applied (commands, including steps folded into the
    /// transition before them); `commit.transitions` counts the store commits.
    pub transitions: u64,
    pub conflicts: u64,
    pub stale: u64,
    pub errors: u64,
    /// Timers this process fired.
    pub timers: u64,
    /// Held leases found taken by another owner at renewal.
    pub leases_lost: u64,
    /// Step jobs turned into incidents for having been claimed too often.
    pub abandoned: u64,
    pub commit: CommitStats,
}

/// The result of starting a case or acting on one.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    pub case_id: Uuid,
    pub status: store::CaseStatus,
    pub outcome: Option<String>,
}

/// A deployed, compiled flow version.
#[derive(Clone)]
pub struct Deployment {
    pub version: FlowVersion,
    pub flow: Arc<Flow>,
    pub created: bool,
    pub warnings: Vec<Diagnostic>,
}

#[derive(Default)]
struct Counters {
    steps: AtomicU64,
    plugin_us: AtomicU64,
    transitions: AtomicU64,
    conflicts: AtomicU64,
    stale: AtomicU64,
    errors: AtomicU64,
    timers: AtomicU64,
    leases_lost: AtomicU64,
    abandoned: AtomicU64,
}

struct Inner<S> {
    store: S,
    plugins: Arc<dyn Plugins>,
    clock: Arc<dyn Clock>,
    cfg: Config,
    flows: Mutex<FlowCache>,
    cases: Mutex<CaseCache>,
    in_flight: AtomicUsize,
    /// Signalled whenever a work item finishes.
    work_done: Notify,
    timers_in_flight: Mutex<HashSet<(Uuid, String)>>,
    /// The leases of work items this process holds (renewed by the heartbeat).
    held: Mutex<HashSet<Held>>,
    /// Set once the runtime stops: work not yet started is dropped.
    stopping: watch::Sender<bool>,
    plugin_pool: PluginPool,
    settled: Mutex<Option<mpsc::UnboundedSender<Settled>>>,
    counters: Counters,
}

/// The runtime. Cheap to clone; clones share everything.
pub struct Runtime<S: Store> {
    inner: Arc<Inner<S>>,
}

impl<S: Store> Clone for Runtime<S> {
    fn clone(&self) -> Self {
        Runtime {
            inner: self.inner.clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<S: Store> Runtime<S> {
    pub fn new(store: S, plugins: Arc<dyn Plugins>, clock: Arc<dyn Clock>, cfg: Config) -> Self {
        let plugin_pool = PluginPool::new(cfg.plugin_threads)
            .expect("the plugin pool needs its threads (the OS refused to start one)");
        let cases = Mutex::new(CaseCache::new(cfg.cache_cases));
        let inner = Arc::new(Inner {
            store,
            plugins,
            clock,
            cfg,
            flows: Mutex::new(FlowCache::default()),
            cases,
            in_flight: AtomicUsize::new(0),
            work_done: Notify::new(),
            timers_in_flight: Mutex::new(HashSet::new()),
            held: Mutex::new(HashSet::new()),
            stopping: watch::channel(false).0,
            plugin_pool,
            settled: Mutex::new(None),
            counters: Counters::default(),
        });
        // Outside a tokio runtime nothing can be held (work items are tokio tasks).
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(worker::heartbeat(Arc::downgrade(&inner)));
        }
        Runtime { inner }
    }

    pub fn store(&self) -> &S {
        &self.inner.store
    }

    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// Reports every case that stops needing automatic work to the returned receiver.
    pub fn subscribe_settled(&self) -> mpsc::UnboundedReceiver<Settled> {
        let (tx, rx) = mpsc::unbounded_channel();
        *lock(&self.inner.settled) = Some(tx);
        rx
    }

    pub fn stats(&self) -> RuntimeStats {
        let c = &self.inner.counters;
        RuntimeStats {
            steps: c.steps.load(Ordering::Relaxed),
            plugin_us: c.plugin_us.load(Ordering::Relaxed),
            transitions: c.transitions.load(Ordering::Relaxed),
            conflicts: c.conflicts.load(Ordering::Relaxed),
            stale: c.stale.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            timers: c.timers.load(Ordering::Relaxed),
            leases_lost: c.leases_lost.load(Ordering::Relaxed),
            abandoned: c.abandoned.load(Ordering::Relaxed),
            commit: self.inner.store.commit_stats(),
        }
    }

    /// Work items running or waiting in this process.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    // ----- commands ------------------------------------------------------------------

    fn dispatch(&self, run_here: bool) -> Dispatch<'_> {
        Dispatch {
            owner: run_here.then_some(self.inner.cfg.owner.as_str()),
            lease: self.inner.cfg.lease,
            horizon: self.inner.cfg.horizon,
        }
    }

    /// Starts a case of a deployed version. With `run_here`, its automatic work runs in
    /// this process at once; otherwise it waits in the store for a worker.
    pub async fn start_case(
        &self,
        version: Uuid,
        input: serde_json::Value,
        initiator: &str,
        business_date: Option<NaiveDate>,
        run_here: bool,
    ) -> Result<Outcome> {
        let flow = self.flow(version).await?;
        let case_id = Uuid::now_v7();
        let now = self.inner.clock.now();
        let start = case::Start {
            case_id: CaseId::new(case_id),
            input,
            initiator: initiator.to_string(),
            business_date,
        };
        let (state, decision) = case::start(&flow, start, now)?;
        let (state, decision) = if run_here {
            self.advance(&flow, state, decision).await?
        } else {
            (state, decision)
        };
        let now = self.inner.clock.now();
        let genesis = ChainHead::genesis();
        let (mut t, work) = convert::transition(
            case_id,
            &genesis,
            0,
            &state,
            &decision,
            now,
            &self.dispatch(run_here),
        )?;
        t.create = Some(NewCase {
            flow_version: version,
        });
        let snapshot_seq = if t.snapshot.is_some() {
            t.events.len() as i64
        } else {
            0
        };
        let committed = self.inner.store.commit(t).await?;
        self.inner
            .counters
            .transitions
            .fetch_add(1, Ordering::Relaxed);
        let outcome = Outcome {
            case_id,
            status: state.status(),
            outcome: state.outcome().map(str::to_string),
        };
        if run_here && !state.status().is_final() {
            lock(&self.inner.cases).insert(
                case_id,
                Live {
                    state,
                    head: committed.head,
                    snapshot_seq,
                    flow,
                },
            );
        }
        self.after_commit(&outcome, now, work);
        Ok(outcome)
    }

    /// `user`, as `directory` knows them, acts on a task. The directory's digest is
    /// recorded with the action. Rejections (four-eyes, authority, closed task…) change
    /// nothing in the case; those refusing the person are recorded beside it
    /// ([`Store::record_refusal`]). With `run_here`, the automatic work that follows runs
    /// in this process.
    pub async fn act(
        &self,
        task: &str,
        action: &str,
        user: &str,
        directory: &dyn crate::directory::Directory,
        comment: Option<String>,
        run_here: bool,
    ) -> Result<Outcome> {
        let identity = crate::directory::identify(directory, user)?;
        let record = self
            .inner
            .store
            .task(task)
            .await?
            .ok_or_else(|| Error::UnknownTask(task.to_string()))?;
        let cmd = Command::HumanAction {
            task: TaskId::new(task),
            action: action.to_string(),
            actor: identity.actor(directory.digest()),
            comment,
        };
        let result = self.command(record.case_id, cmd, run_here).await;
        let attempt = refusal::Attempt {
            case_id: record.case_id,
            task,
            action,
            user,
            directory: directory.digest(),
        };
        refusal::record(&self.inner.store, &attempt, result, self.inner.clock.now()).await
    }

    /// Applies any command to a case (human action, incident retry, cancel). A commit that
    /// lost a race with another transition of the case (another process acted first) is
    /// decided again on fresh state, where it usually becomes a clear refusal ("task
    /// already closed"); a case that keeps changing is [`Error::Busy`].
    pub async fn command(&self, case_id: Uuid, cmd: Command, run_here: bool) -> Result<Outcome> {
        deciding_again(|| self.try_command(case_id, cmd.clone(), run_here))
            .await
            .map_err(|e| {
                if lost_race(&e) {
                    Error::Busy { case_id }
                } else {
                    e
                }
            })
    }

    async fn try_command(&self, case_id: Uuid, cmd: Command, run_here: bool) -> Result<Outcome> {
        let slot = lock(&self.inner.cases).slot(case_id);
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        let Some(live) = guard.as_mut() else {
            return Err(Error::Store(store::Error::CaseNotFound(case_id)));
        };
        let now = self.inner.clock.now();
        let flow = live.flow.clone();
        let (state, decision) = case::transition(&flow, &live.state, cmd, now)?;
        let (state, decision) = if run_here {
            match self.advance(&flow, state, decision).await {
                Ok(r) => r,
                Err(e) => {
                    *guard = None;
                    return Err(e);
                }
            }
        } else {
            (state, decision)
        };
        let Some(live) = guard.as_mut() else {
            return Err(Error::Store(store::Error::CaseNotFound(case_id)));
        };
        let now = self.inner.clock.now();
        let snapshot_seq = live.snapshot_seq;
        let (t, work) = convert::transition(
            case_id,
            &live.head,
            snapshot_seq,
            &state,
            &decision,
            now,
            &self.dispatch(run_here),
        )?;
        let outcome = self
            .commit_live(&mut guard, t, state, flow, snapshot_seq)
            .await?;
        drop(guard);
        self.after_commit(&outcome, now, work);
        Ok(outcome)
    }

    /// Loads a case's state (for inspection): snapshot plus the events after it.
    pub async fn case_state(&self, case_id: Uuid) -> Result<CaseState> {
        let slot = lock(&self.inner.cases).slot(case_id);
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        guard
            .as_ref()
            .map(|l| l.state.clone())
            .ok_or(Error::Store(store::Error::CaseNotFound(case_id)))
    }

    /// Waits until this process holds no work (used by `docket run` and `task complete`
    /// to drive a case until it waits or ends).
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.work_done.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

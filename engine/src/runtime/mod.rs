//! The runtime: claims due work from the store, runs plugins off the async threads, applies
//! the pure case state machine, and commits each transition with its follow-up rows.
//!
//! Hot path (no database reads): a committed transition's plugin runs are born leased to
//! this process and start at once from memory; the case's state stays in a bounded cache.
//! The store remains the source of truth: a restart (or an evicted case) reloads from the
//! snapshot plus the events after it, and a crashed process's leases expire (or are
//! reclaimed at once by a restarted worker with the same identity).
//!
//! Exactly-once transitions: a plugin result is committed together with the deletion of
//! its job (owner and epoch checked) and the case head moves by optimistic concurrency, so
//! a redelivered job either finds its job row gone or is rejected as a stale attempt.

mod cache;
mod convert;
mod pool;
mod refusal;

use crate::case::{self, CaseId, CaseState, Command, Decision, Effect, Rejected, TaskId, TimerId};
use crate::flow::{self, Diagnostic, Flow};
use crate::plugin::{CallLimits, PluginRef, Plugins, StepInput};
use crate::store::{
    self, ChainHead, Claim, CommitStats, FlowVersion, Lease, NewCase, Store, Time, Transition,
};
use cache::{CaseCache, Live};
use chrono::{DateTime, NaiveDate, Utc};
use convert::{Dispatch, StepJob};
use pool::PluginPool;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

pub(crate) use convert::parse_event;
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
    #[error("case {case_id}: state rebuilt at seq {state} but its head is at {head}")]
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
    /// Identity of this process in job leases. Keep it across restarts (the default is
    /// fine for one process per database) so a restarted worker resumes its own leases.
    pub owner: String,
    /// How long a claim holds a job before others may take it.
    pub lease: Duration,
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
    /// automatic steps that follow a command run at once and commit together. A chain
    /// also stops before a step whose time limit would take it past half of `lease`.
    pub chain_steps: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            owner: std::env::var("HOSTNAME").unwrap_or_else(|_| "local".into()),
            lease: Duration::from_secs(60),
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

/// A unit of work this process runs.
#[derive(Debug, Clone)]
enum Work {
    Step {
        case_id: Uuid,
        job: StepJob,
        due: Time,
        lease: Lease,
    },
    Timer {
        case_id: Uuid,
        timer_id: String,
        due: Time,
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
}

/// Compiled flows by version id, and by hash (two ids never compile one YAML twice).
type FlowCache = (HashMap<Uuid, Arc<Flow>>, HashMap<String, Arc<Flow>>);

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
        Runtime {
            inner: Arc::new(Inner {
                store,
                plugins,
                clock,
                cfg,
                flows: Mutex::new((HashMap::new(), HashMap::new())),
                cases,
                in_flight: AtomicUsize::new(0),
                work_done: Notify::new(),
                timers_in_flight: Mutex::new(HashSet::new()),
                plugin_pool,
                settled: Mutex::new(None),
                counters: Counters::default(),
            }),
        }
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
            commit: self.inner.store.commit_stats(),
        }
    }

    /// Work items running or waiting in this process.
    pub fn in_flight(&self) -> usize {
        self.inner.in_flight.load(Ordering::Acquire)
    }

    // ----- flows ---------------------------------------------------------------------

    /// Checks and compiles a flow, and records it as a new version if its YAML changed.
    pub async fn deploy(&self, file: &str, yaml: &str) -> Result<Deployment> {
        let (flow, warnings) = compile(file, yaml, self.inner.plugins.as_ref())?;
        self.deploy_compiled(flow, warnings).await
    }

    /// Records a flow compiled by [`compile`] (against the plugins this runtime runs) as a
    /// new version if its YAML changed; `warnings` are its validator's warnings.
    pub async fn deploy_compiled(
        &self,
        flow: Flow,
        warnings: Vec<Diagnostic>,
    ) -> Result<Deployment> {
        let deployed = self
            .inner
            .store
            .deploy_flow(
                flow.id(),
                flow.hash(),
                flow.source(),
                Uuid::now_v7(),
                self.inner.clock.now(),
            )
            .await?;
        let flow = {
            let mut flows = lock(&self.inner.flows);
            let flow = flows
                .1
                .entry(flow.hash().to_string())
                .or_insert_with(|| Arc::new(flow))
                .clone();
            flows.0.insert(deployed.version.id, flow.clone());
            flow
        };
        Ok(Deployment {
            version: deployed.version,
            flow,
            created: deployed.created,
            warnings,
        })
    }

    /// The compiled flow of a stored version (compiled once per hash).
    pub async fn flow(&self, version: Uuid) -> Result<Arc<Flow>> {
        if let Some(flow) = lock(&self.inner.flows).0.get(&version) {
            return Ok(flow.clone());
        }
        let stored = self.inner.store.flow_version(version).await?;
        let compiled = lock(&self.inner.flows).1.get(&stored.hash).cloned();
        if let Some(flow) = compiled {
            lock(&self.inner.flows).0.insert(version, flow.clone());
            return Ok(flow);
        }
        // Validated when it was deployed; a version must keep running even if the plugin
        // registry moved on, so no registry checks here.
        let file = format!("{}@v{}", stored.flow_id, stored.version);
        let (flow, _) = flow::load(&file, &stored.source, None)
            .map_err(|diagnostics| Error::InvalidFlow { file, diagnostics })?;
        let flow = Arc::new(flow);
        let mut flows = lock(&self.inner.flows);
        flows.1.insert(stored.hash.clone(), flow.clone());
        flows.0.insert(version, flow.clone());
        Ok(flow)
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

    /// Applies any command to a case (human action, incident retry, cancel).
    pub async fn command(&self, case_id: Uuid, cmd: Command, run_here: bool) -> Result<Outcome> {
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

    // ----- the worker loop -------------------------------------------------------------

    /// Claims and runs due work until `shutdown` resolves, or — with `until_idle` — until
    /// nothing is due now and nothing is in flight. Resumes whatever a crashed process with
    /// the same owner left leased.
    pub async fn run_worker(
        &self,
        until_idle: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        let cfg = &self.inner.cfg;
        let mut first = true;
        let mut sleep = cfg.idle_floor;
        loop {
            let room = cfg.max_in_flight.saturating_sub(self.in_flight());
            let mut found = 0usize;
            let now = self.inner.clock.now();
            // A read first: claiming is a write (an fsync), not worth it when nothing is due.
            let due =
                room > 0 && (first || self.inner.store.next_due().await?.is_some_and(|t| t <= now));
            if due {
                let jobs = self
                    .inner
                    .store
                    .claim_jobs(Claim {
                        owner: cfg.owner.clone(),
                        now,
                        lease_for: cfg.lease,
                        limit: room.min(1024) as u32,
                        reclaim_own: first,
                    })
                    .await?;
                first = false;
                found += jobs.len();
                for job in jobs {
                    match serde_json::from_value::<StepJob>(job.payload.clone()) {
                        Ok(step) if job.kind == convert::STEP_JOB => self.spawn(Work::Step {
                            case_id: job.case_id,
                            job: step,
                            due: job.due,
                            lease: job.lease,
                        }),
                        other => {
                            // Leave it leased: it comes back after the lease, and fsck and
                            // the log say why it does not run.
                            tracing::error!(job = %job.lease.job_id, kind = %job.kind, error = ?other.err(), "unreadable job");
                            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                for timer in self
                    .inner
                    .store
                    .due_timers(now, room.min(1024) as u32)
                    .await?
                {
                    let key = (timer.case_id, timer.timer_id.clone());
                    if lock(&self.inner.timers_in_flight).insert(key) {
                        found += 1;
                        self.spawn_registered_timer(timer.case_id, timer.timer_id, timer.due);
                    }
                }
            }
            if found == 0 && until_idle && self.in_flight() == 0 {
                return Ok(());
            }
            sleep = if found > 0 {
                cfg.idle_floor
            } else {
                (sleep * 2).min(cfg.idle_ceiling)
            };
            let done = self.inner.work_done.notified();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(sleep) => {}
                // Room freed up: look for more sooner, but never sooner than the floor.
                _ = done, if found == 0 && room == 0 => tokio::time::sleep(cfg.idle_floor).await,
            }
        }
        // Graceful stop: let what is running finish (their leases protect the rest).
        self.wait_idle().await;
        Ok(())
    }

    fn spawn(&self, work: Work) {
        match work {
            Work::Timer {
                case_id,
                timer_id,
                due,
            } => {
                // The poller may have found the same timer due: run it once.
                let fresh = lock(&self.inner.timers_in_flight).insert((case_id, timer_id.clone()));
                if fresh {
                    self.spawn_registered_timer(case_id, timer_id, due);
                }
            }
            step => self.spawn_item(step),
        }
    }

    fn spawn_registered_timer(&self, case_id: Uuid, timer_id: String, due: Time) {
        self.spawn_item(Work::Timer {
            case_id,
            timer_id,
            due,
        });
    }

    fn spawn_item(&self, work: Work) {
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        let rt = self.clone();
        tokio::spawn(async move {
            let due = match &work {
                Work::Step { due, .. } | Work::Timer { due, .. } => *due,
            };
            let wait = (due - rt.inner.clock.now()).to_std().unwrap_or_default();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let result = match work {
                Work::Step {
                    case_id,
                    job,
                    lease,
                    ..
                } => rt.run_step(case_id, job, lease).await,
                Work::Timer {
                    case_id, timer_id, ..
                } => {
                    let r = rt.run_timer(case_id, &timer_id).await;
                    lock(&rt.inner.timers_in_flight).remove(&(case_id, timer_id));
                    r
                }
            };
            if let Err(e) = result {
                rt.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "work item failed; it will be retried after its lease");
            }
            rt.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            rt.inner.work_done.notify_waiters();
        });
    }

    // ----- one unit of work -------------------------------------------------------------

    async fn ensure_loaded(&self, slot: &mut Option<Live>, case_id: Uuid) -> Result<()> {
        if slot.is_some() {
            return Ok(());
        }
        let store = &self.inner.store;
        let record = store.load_case(case_id).await?;
        let flow = self.flow(record.flow_version).await?;
        let state = match record.snapshot {
            Some(snapshot) => {
                let mut state: CaseState =
                    serde_json::from_value(snapshot).map_err(|e| Error::Decode {
                        what: format!("snapshot of case {case_id}"),
                        message: e.to_string(),
                    })?;
                for stored in store.events(case_id, record.snapshot_seq).await? {
                    state = case::evolve(&flow, state, &parse_event(&stored)?);
                }
                state
            }
            None => {
                let events = store
                    .events(case_id, 0)
                    .await?
                    .iter()
                    .map(parse_event)
                    .collect::<Result<Vec<_>>>()?;
                case::replay(&flow, &events).map_err(|e| Error::Decode {
                    what: format!("history of case {case_id}"),
                    message: e.to_string(),
                })?
            }
        };
        if state.seq() as i64 != record.head.seq {
            return Err(Error::Diverged {
                case_id,
                state: state.seq(),
                head: record.head.seq,
            });
        }
        *slot = Some(Live {
            state,
            head: record.head,
            snapshot_seq: record.snapshot_seq,
            flow,
        });
        Ok(())
    }

    /// Commits a transition of a loaded case and moves the cached state on; on any error
    /// the cached state is dropped (reloaded from the store next time).
    async fn commit_live(
        &self,
        slot: &mut Option<Live>,
        t: Transition,
        state: CaseState,
        flow: Arc<Flow>,
        snapshot_seq: i64,
    ) -> Result<Outcome> {
        let case_id = t.case_id;
        let snapshot_taken = t.snapshot.is_some();
        match self.inner.store.commit(t).await {
            Ok(committed) => {
                self.inner
                    .counters
                    .transitions
                    .fetch_add(1, Ordering::Relaxed);
                let outcome = Outcome {
                    case_id,
                    status: state.status(),
                    outcome: state.outcome().map(str::to_string),
                };
                *slot = Some(Live {
                    snapshot_seq: if snapshot_taken {
                        committed.head.seq
                    } else {
                        snapshot_seq
                    },
                    head: committed.head,
                    state,
                    flow,
                });
                Ok(outcome)
            }
            Err(e) => {
                if e.is_conflict() {
                    self.inner
                        .counters
                        .conflicts
                        .fetch_add(1, Ordering::Relaxed);
                }
                *slot = None;
                Err(e.into())
            }
        }
    }

    /// After a commit: forget finished cases, report settled ones, start follow-ups.
    fn after_commit(&self, outcome: &Outcome, now: Time, work: Vec<Work>) {
        if outcome.status.is_final() {
            lock(&self.inner.cases).remove(outcome.case_id);
        }
        if outcome.status != store::CaseStatus::Running
            && let Some(tx) = lock(&self.inner.settled).as_ref()
        {
            let _ = tx.send(Settled {
                case_id: outcome.case_id,
                status: outcome.status,
                outcome: outcome.outcome.clone(),
                at: now,
            });
        }
        for w in work {
            self.spawn(w);
        }
    }

    /// Deletes a job whose run no longer matters (the case moved on): a no-op transition.
    async fn drop_job(&self, case_id: Uuid, lease: Lease, head: ChainHead) -> Result<()> {
        self.inner.counters.stale.fetch_add(1, Ordering::Relaxed);
        let mut t = Transition::new(
            case_id,
            head,
            store::CaseStatus::Running,
            self.inner.clock.now(),
        );
        t.complete_job = Some(lease);
        self.inner.store.commit(t).await?;
        Ok(())
    }

    async fn run_step(&self, case_id: Uuid, job: StepJob, lease: Lease) -> Result<()> {
        let slot = lock(&self.inner.cases).slot(case_id);
        // The case lock is held throughout: the plugin run, and every step chained after it
        // (`advance`), see the state they commit against; other commands on this case wait.
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        let Some(live) = guard.as_ref() else {
            return Ok(());
        };
        let pending = live
            .state
            .pending_steps()
            .any(|(n, a, _)| *n == job.node && a == job.attempt);
        let input = case::step_input(&live.flow, &live.state, &job.node);
        let (true, Some(input)) = (pending, input) else {
            // The case moved on (cancelled, or the run was superseded): drop the job.
            let head = live.head.clone();
            drop(guard);
            return self.drop_job(case_id, lease, head).await;
        };
        let flow = live.flow.clone();
        let cmd = self
            .call_plugin(
                job.plugin_ref()?,
                input,
                job.timeout(),
                job.node.clone(),
                job.attempt,
            )
            .await?;
        // The cached state is taken out while the transition is built (no copy of it is
        // made); the commit puts the new one back, and any failure leaves the slot empty,
        // so the case is reloaded from the store next time.
        let Some(Live {
            state,
            head,
            snapshot_seq,
            ..
        }) = guard.take()
        else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let (state, decision) = match case::transition_owned(&flow, state, cmd, now) {
            Ok(r) => r,
            Err(Rejected::Stale { .. } | Rejected::CaseClosed { .. }) => {
                drop(guard);
                return self.drop_job(case_id, lease, head).await;
            }
            Err(other) => return Err(other.into()),
        };
        let (state, decision) = self.advance(&flow, state, decision).await?;
        let now = self.inner.clock.now();
        let (mut t, work) = convert::transition(
            case_id,
            &head,
            snapshot_seq,
            &state,
            &decision,
            now,
            &self.dispatch(true),
        )?;
        t.complete_job = Some(lease);
        let outcome = self
            .commit_live(&mut guard, t, state, flow, snapshot_seq)
            .await?;
        drop(guard);
        self.after_commit(&outcome, now, work);
        Ok(())
    }

    /// Runs one plugin call on the plugin pool and turns its report into the command that
    /// answers the run.
    async fn call_plugin(
        &self,
        plugin: PluginRef,
        input: StepInput,
        timeout: Option<Duration>,
        node: crate::flow::NodeId,
        attempt: u32,
    ) -> Result<Command> {
        let rt = self.clone();
        self.inner
            .plugin_pool
            .run(move || rt.call_plugin_here(&plugin, &input, timeout, node, attempt))
            .await
            .map_err(|message| Error::BadJob {
                message: format!("plugin call failed: {message}"),
            })
    }

    /// One plugin call on the current thread (a plugin pool thread).
    fn call_plugin_here(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        timeout: Option<Duration>,
        node: crate::flow::NodeId,
        attempt: u32,
    ) -> Command {
        let mut limits = self.inner.cfg.call_limits;
        if let Some(timeout) = timeout {
            limits.timeout = timeout;
        }
        let digest = input.digest();
        let result = self.inner.plugins.call(plugin, input, &limits);
        self.inner.counters.steps.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(report) => {
                let us = report.duration.as_micros() as u64;
                self.inner
                    .counters
                    .plugin_us
                    .fetch_add(us, Ordering::Relaxed);
                Command::StepSucceeded {
                    node,
                    attempt,
                    report,
                    input_digest: digest,
                }
            }
            Err(error) => Command::StepFailed {
                node,
                attempt,
                error,
                build: None,
            },
        }
    }

    /// Runs, here and now, the plugin steps a decision asks for at once, folding each
    /// result into the same transition, until the case waits for something else (a
    /// person, the clock, a retry's backoff), ends, `chain_steps` runs were made, or the
    /// next step, should it take its whole time limit, would end more than half a lease
    /// after the chain began.
    ///
    /// Nothing of it is acknowledged before the one transaction holding all of it is on
    /// disk; plugins are pure, so a crash before that commit only means they run again
    /// from the last committed state. Steps not run here become jobs as usual. The whole
    /// chain — calls and state-machine transitions — runs as one job on the plugin pool.
    async fn advance(
        &self,
        flow: &Arc<Flow>,
        state: CaseState,
        decision: Decision,
    ) -> Result<(CaseState, Decision)> {
        if !self.wants_steps_now(&decision) {
            return Ok((state, decision));
        }
        let rt = self.clone();
        let flow = flow.clone();
        self.inner
            .plugin_pool
            .run(move || rt.fold_steps(&flow, state, decision))
            .await
            .map_err(|message| Error::BadJob {
                message: format!("plugin call failed: {message}"),
            })?
    }

    /// Whether every effect of `decision` is a plugin run due now (and there is one).
    fn wants_steps_now(&self, decision: &Decision) -> bool {
        let now = self.inner.clock.now();
        !decision.effects.is_empty()
            && decision
                .effects
                .iter()
                .all(|e| matches!(e, Effect::RunPlugin { due, .. } if *due <= now))
    }

    /// The loop of [`Runtime::advance`], on a plugin pool thread.
    fn fold_steps(
        &self,
        flow: &Flow,
        mut state: CaseState,
        mut decision: Decision,
    ) -> Result<(CaseState, Decision)> {
        let budget = self.inner.cfg.chain_steps;
        // A chain commits within half a lease: the job it may have started from (and
        // its run) stays leased to this process until the commit checks the lease.
        let deadline = Instant::now() + self.inner.cfg.lease / 2;
        let default_timeout = self.inner.cfg.call_limits.timeout;
        let mut runs = 0usize;
        let mut late = false;
        while runs < budget && !late && self.wants_steps_now(&decision) {
            for effect in std::mem::take(&mut decision.effects) {
                let Effect::RunPlugin {
                    node,
                    attempt,
                    plugin,
                    timeout,
                    ..
                } = &effect
                else {
                    decision.effects.push(effect);
                    continue;
                };
                let pending = state
                    .pending_steps()
                    .any(|(n, a, _)| n == node && a == *attempt);
                if !pending {
                    // Cancelled by a step run earlier in this chain: nothing to enqueue.
                    continue;
                }
                // A step that might not end before the deadline is left to a job.
                late |= Instant::now() + timeout.unwrap_or(default_timeout) > deadline;
                let input = match case::step_input(flow, &state, node) {
                    Some(input) if runs < budget && !late => input,
                    _ => {
                        decision.effects.push(effect);
                        continue;
                    }
                };
                let cmd = self.call_plugin_here(plugin, &input, *timeout, node.clone(), *attempt);
                runs += 1;
                let (next, d) = case::transition_owned(flow, state, cmd, self.inner.clock.now())?;
                self.inner
                    .counters
                    .transitions
                    .fetch_add(1, Ordering::Relaxed);
                state = next;
                decision.events.extend(d.events);
                decision.effects.extend(d.effects);
            }
        }
        Ok((state, decision))
    }

    async fn run_timer(&self, case_id: Uuid, timer_id: &str) -> Result<()> {
        let slot = lock(&self.inner.cases).slot(case_id);
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        let Some(live) = guard.as_ref() else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let cmd = Command::TimerFired {
            timer: TimerId::new(timer_id),
        };
        let (state, decision) = match case::transition(&live.flow, &live.state, cmd, now) {
            Ok(r) => r,
            // Not ours any more (cancelled in the state, or the case ended): drop the row.
            Err(Rejected::UnknownTimer { .. } | Rejected::CaseClosed { .. }) => {
                let mut t =
                    Transition::new(case_id, live.head.clone(), store::CaseStatus::Running, now);
                t.fire_timer = Some(timer_id.to_string());
                drop(guard);
                self.inner.counters.stale.fetch_add(1, Ordering::Relaxed);
                return match self.inner.store.commit(t).await {
                    Ok(_) | Err(store::Error::TimerGone { .. }) => Ok(()),
                    Err(e) => Err(e.into()),
                };
            }
            // The clocks disagree by a hair: the poller comes back for it.
            Err(Rejected::TimerNotDue { .. }) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        let flow = live.flow.clone();
        let (state, decision) = match self.advance(&flow, state, decision).await {
            Ok(r) => r,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        let Some(live) = guard.as_ref() else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let snapshot_seq = live.snapshot_seq;
        let (mut t, work) = convert::transition(
            case_id,
            &live.head,
            snapshot_seq,
            &state,
            &decision,
            now,
            &self.dispatch(true),
        )?;
        t.fire_timer = Some(timer_id.to_string());
        let outcome = match self
            .commit_live(&mut guard, t, state, flow, snapshot_seq)
            .await
        {
            Ok(o) => o,
            // Fired by someone else first: exactly once, and not by us.
            Err(Error::Store(store::Error::TimerGone { .. })) => return Ok(()),
            Err(e) => return Err(e),
        };
        drop(guard);
        self.after_commit(&outcome, now, work);
        Ok(())
    }
}

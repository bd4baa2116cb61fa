//! `docket worker`: runs due work (plugin steps, retries, timers) until stopped, or with
//! `--until-idle` until nothing is due. Resumes whatever a crashed worker left behind.

use crate::cli::run::{DbArg, runtime};
use anyhow::{Context, Result, bail};
use clap::Args;
use engine::runtime::Config;
use engine::store::{CaseFilter, CaseStatus, Store};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    db: DbArg,
    /// Exit once nothing runs, nothing is leased (by this or another worker) and nothing
    /// is due within the next 10 seconds.
    #[arg(long)]
    until_idle: bool,
    /// This worker's identity in leases (default: $HOSTNAME). A restarted worker with the
    /// same identity takes its leases back at once; others wait for them to expire. One
    /// live worker per identity and database: run more workers with their own ids.
    #[arg(long)]
    worker_id: Option<String>,
    /// Seconds a claimed job stays leased.
    #[arg(long, default_value_t = 60)]
    lease_secs: u64,
    /// Work items held at once.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
}

pub(crate) async fn run(args: WorkerArgs) -> Result<ExitCode> {
    // SIGTERM or Ctrl-C: stop claiming, let running transitions finish, give back leases.
    // Listened for first, so a stop that comes while plugins load is not a kill.
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
    let store = args.db.open_existing().await?;
    let mut config = Config::default();
    if let Some(id) = args.worker_id {
        config.owner = id;
    }
    // Held until this function returns (the process ends or the worker stops).
    let _identity = lock_identity(store.file(), &args.db.db, &config.owner)?;
    config.lease = Duration::from_secs(args.lease_secs.max(1));
    config.max_in_flight = args.max_in_flight.max(1);
    let rt = runtime(store, config)?;
    let began = Instant::now();
    // The identity lock proves its previous holder dead: take its leases back at once.
    let resumed = rt.take_over_identity().await?;
    if resumed > 0 {
        eprintln!(
            "worker {}: took back {resumed} job(s) and timer(s) of a previous run",
            rt.config().owner
        );
    }
    let shutdown = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };
    rt.run_worker(args.until_idle, shutdown).await?;
    let s = rt.stats();
    let secs = began.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "worker {}: {} plugin steps, {} timers, {} transitions ({:.0}/s), {} stale, {} conflicts, \
         {} errors; {} transactions, mean group commit {:.1}",
        rt.config().owner,
        s.steps,
        s.timers,
        s.transitions,
        s.transitions as f64 / secs,
        s.stale,
        s.conflicts,
        s.errors,
        s.commit.transactions,
        s.commit.mean_batch()
    );
    // What is left is not this worker's to do now: say what it waits for.
    let store = rt.store();
    let tasks = store.open_tasks(None).await?.len();
    let incidents = store
        .list_cases(&CaseFilter {
            status: Some(CaseStatus::Incident),
            flow_id: None,
            limit: Some(INCIDENTS_COUNTED),
        })
        .await?
        .len();
    let incidents = if incidents >= INCIDENTS_COUNTED as usize {
        format!("{incidents}+")
    } else {
        incidents.to_string()
    };
    let next = match store.next_due().await? {
        Some(at) => format!("next work due {}", at.format("%Y-%m-%d %H:%M:%S UTC")),
        None => "no timer or job pending".into(),
    };
    eprintln!(
        "left: {tasks} open task(s) (`docket tasks`), {incidents} case(s) in incident \
         (`docket cases --status incident`), {next}"
    );
    Ok(ExitCode::SUCCESS)
}

/// Incidents counted in the closing summary before it says "N+".
const INCIDENTS_COUNTED: u32 = 1000;

/// The lock that makes this process the only live worker with its identity on its database.
///
/// A worker resumes the leases held under its identity at once (so a restarted worker picks
/// up a crashed one's work without waiting for the leases to expire): two live workers
/// sharing an identity would take each other's work. The lock is an OS file lock, so a
/// crashed worker's lock goes with its process.
fn lock_identity(file: &std::path::Path, db: &str, id: &str) -> Result<std::fs::File> {
    use sha2::{Digest, Sha256};
    use std::io::{Read, Seek, Write};
    let mut key = Sha256::new();
    key.update(file.as_os_str().as_encoded_bytes());
    key.update([0]);
    key.update(id.as_bytes());
    let name = format!("docket-worker-{}.lock", &hex::encode(key.finalize())[..24]);
    let path = std::env::temp_dir().join(name);
    let mut lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("opening the worker lock {}", path.display()))?;
    match lock.try_lock() {
        Ok(()) => {
            // The holder's pid, for the message another worker gets.
            lock.set_len(0)?;
            lock.rewind()?;
            write!(lock, "{}", std::process::id())?;
            Ok(lock)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = lock.read_to_string(&mut pid);
            bail!(
                "a worker with identity `{id}` is already running on {db} (pid {}): give this \
                 one its own --worker-id",
                if pid.is_empty() { "?" } else { pid.trim() }
            )
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

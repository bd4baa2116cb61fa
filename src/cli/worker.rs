//! `docket worker`: runs due work (plugin steps, retries, timers) until stopped, or with
//! `--until-idle` until nothing is due. Resumes whatever a crashed worker left behind.

use crate::cli::run::{DbArg, runtime};
use anyhow::Result;
use clap::Args;
use engine::runtime::Config;
use engine::store::{CaseFilter, CaseStatus, Store};
use std::process::ExitCode;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    db: DbArg,
    /// Exit once nothing is due now and nothing is running.
    #[arg(long)]
    until_idle: bool,
    /// This worker's identity in job leases. A restarted worker with the same identity
    /// resumes its own leases at once; others wait for them to expire.
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
    let store = args.db.open_existing().await?;
    let mut config = Config::default();
    if let Some(id) = args.worker_id {
        config.owner = id;
    }
    config.lease = Duration::from_secs(args.lease_secs.max(1));
    config.max_in_flight = args.max_in_flight.max(1);
    let rt = runtime(store, config)?;
    let began = Instant::now();
    let shutdown = async {
        // Ctrl-C: stop claiming, let running work finish.
        let _ = tokio::signal::ctrl_c().await;
    };
    rt.run_worker(args.until_idle, shutdown).await?;
    let s = rt.stats();
    let secs = began.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "worker {}: {} plugin steps, {} transitions ({:.0}/s), {} stale, {} conflicts, {} errors; \
         {} transactions, mean group commit {:.1}",
        rt.config().owner,
        s.steps,
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

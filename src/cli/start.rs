//! `docket start`: enqueue N cases of a flow and return at once (a worker runs them).

use crate::cli::run::{DbArg, default_initiator, read_flow, read_json};
use anyhow::{Context, Result, bail};
use clap::Args;
use engine::runtime::Config;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;

/// Starts sent to the store at once: enough to fill the writer's batches.
const CONCURRENT_STARTS: usize = 512;

#[derive(Args, Debug)]
pub(crate) struct StartArgs {
    /// Flow YAML file, or the name of a bundled flow (workflows/NAME.yaml).
    flow: String,
    /// Case input: a JSON object, or a JSON array whose element `i % len` is case i's input.
    #[arg(long)]
    input: PathBuf,
    /// How many cases to start.
    #[arg(long, default_value_t = 1)]
    count: usize,
    #[command(flatten)]
    db: DbArg,
    #[arg(long = "as", default_value_t = default_initiator())]
    initiator: String,
    /// The case's business date (YYYY-MM-DD), the only "today" plugins see; default: today (UTC).
    #[arg(long)]
    business_date: Option<chrono::NaiveDate>,
}

pub(crate) async fn run(args: StartArgs) -> Result<ExitCode> {
    let (file, yaml) = read_flow(&args.flow)?;
    let inputs = match read_json(&args.input)? {
        serde_json::Value::Array(items) => items,
        one => vec![one],
    };
    if inputs.is_empty() {
        bail!("{}: the input array is empty", args.input.display());
    }
    let plugins = crate::cli::run::plugins()?;
    let (flow, warnings) =
        crate::cli::run::preflight(&file, &yaml, plugins.as_ref(), &args.input, &inputs)?;
    let store = args.db.open().await?;
    let rt = crate::cli::run::runtime_with(store, plugins, Config::default());
    let deployment = rt.deploy_compiled(flow, warnings).await?;
    let version = deployment.version.id;
    let began = Instant::now();
    let slots = Arc::new(Semaphore::new(CONCURRENT_STARTS));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..args.count {
        let permit = slots
            .clone()
            .acquire_owned()
            .await
            .context("start slots closed")?;
        let rt = rt.clone();
        let input = inputs[i % inputs.len()].clone();
        let initiator = args.initiator.clone();
        let business_date = args.business_date;
        tasks.spawn(async move {
            let r = rt
                .start_case(version, input, &initiator, business_date, false)
                .await;
            drop(permit);
            r.with_context(|| format!("starting case {i}"))
        });
        // Surface the first failure early instead of after N starts.
        while let Some(done) = tasks.try_join_next() {
            done??;
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = began.elapsed();
    println!(
        "started {} case(s) of {} v{} in {:.2}s ({:.0}/s); `docket worker --db {}` runs them",
        args.count,
        deployment.version.flow_id,
        deployment.version.version,
        elapsed.as_secs_f64(),
        args.count as f64 / elapsed.as_secs_f64().max(1e-9),
        args.db.db
    );
    Ok(ExitCode::SUCCESS)
}

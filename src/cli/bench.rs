//! `docket bench`: many cases of the retail-loan automatic path through the real plugins and
//! a durable store (fsync'd group commits), printing cases/s, transitions/s, case latency
//! percentiles and the mean group-commit size. Figures, not assertions.

use crate::cli::run::{check_inputs, plugins, read_flow, read_json, runtime_with};
use anyhow::{Context, Result, bail};
use clap::Args;
use engine::runtime::Config;
use engine::store::{SqliteStore, Store};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc};
use uuid::Uuid;

/// Without `--input`, the bench uses every automatic-path sample of the retail-loan flow
/// (approvals and automatic rejections), as bundled in the binary.
fn default_inputs() -> Result<Vec<serde_json::Value>> {
    crate::cli::bundled::RETAIL_AUTO_SAMPLES
        .iter()
        .map(|(name, text)| {
            serde_json::from_str(text).with_context(|| format!("bundled sample {name}"))
        })
        .collect()
}

#[derive(Args, Debug)]
pub(crate) struct BenchArgs {
    /// Cases to run.
    #[arg(long, default_value_t = 20_000)]
    cases: usize,
    /// Database; a fresh temporary file when absent (removed afterwards).
    #[arg(long)]
    db: Option<String>,
    /// The flow to run: a file, or a bundled flow's name.
    #[arg(long, default_value = "retail-loan")]
    flow: String,
    /// Case input: a JSON object, or an array (case i uses element i % len).
    #[arg(long)]
    input: Option<PathBuf>,
    /// Cases in flight at once (concurrent clients). Enough to keep both cores and the
    /// group commit busy here; more only queues, adding latency and no throughput.
    #[arg(long, default_value_t = 256)]
    window: usize,
}

/// A temporary database file and its WAL/SHM companions, removed on drop.
struct TempDb(PathBuf);

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// CPU seconds (user + system) this process has used, from /proc (Linux); `None` elsewhere.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks are 100 per second on Linux.
    Some((utime + stime) / 100.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub(crate) async fn run(args: BenchArgs) -> Result<ExitCode> {
    if args.cases == 0 {
        bail!("--cases must be at least 1");
    }
    let inputs = match &args.input {
        None => default_inputs()?,
        Some(path) => match read_json(path)? {
            serde_json::Value::Array(items) if !items.is_empty() => items,
            serde_json::Value::Array(_) => bail!("{}: empty input array", path.display()),
            one => vec![one],
        },
    };
    let (file, yaml) = read_flow(&args.flow)?;
    // Refused before the database is opened, so a refusal leaves nothing behind.
    let plugins = plugins()?;
    let (flow, warnings) = engine::runtime::compile(&file, &yaml, plugins.as_ref())?;
    match &args.input {
        None if flow.id() != "retail-loan" => bail!(
            "flow `{}` needs --input FILE (a case input, or an array of them): the bundled \
             samples used without it are retail-loan's",
            flow.id()
        ),
        None => check_inputs(&flow, "the bundled retail-loan samples", &inputs)?,
        Some(path) => check_inputs(&flow, &path.display().to_string(), &inputs)?,
    }

    let (url, _temp) = match &args.db {
        Some(url) => (url.clone(), None),
        None => {
            let path = std::env::temp_dir().join(format!("docket-bench-{}.db", Uuid::now_v7()));
            (path.display().to_string(), Some(TempDb(path)))
        }
    };
    let store = SqliteStore::open(&url)
        .await
        .with_context(|| format!("opening {url}"))?;
    let config = Config {
        max_in_flight: args.window.max(1) * 4,
        owner: format!("bench-{}", std::process::id()),
        ..Config::default()
    };
    let rt = runtime_with(store.clone(), plugins, config);
    let mut settled = rt.subscribe_settled();
    let deployment = rt.deploy_compiled(flow, warnings).await?;
    let version = deployment.version.id;

    // Warm-up: one case end to end, so plugin compilation is not in the figures.
    let warm = rt
        .start_case(version, inputs[0].clone(), "bench", None, true)
        .await?;
    while let Some(s) = settled.recv().await {
        if s.case_id == warm.case_id {
            break;
        }
    }
    let base_stats = rt.stats();
    let cpu_before = cpu_seconds();

    let window = Arc::new(Semaphore::new(args.window.max(1)));
    let (started_tx, mut started_rx) = mpsc::unbounded_channel::<(Uuid, Instant)>();
    let began = Instant::now();
    let producer = {
        let rt = rt.clone();
        let window = window.clone();
        let inputs = inputs.clone();
        let n = args.cases;
        tokio::spawn(async move {
            for i in 0..n {
                let permit = window.acquire().await.context("window closed")?;
                permit.forget();
                let rt = rt.clone();
                let input = inputs[i % inputs.len()].clone();
                let tx = started_tx.clone();
                tokio::spawn(async move {
                    let t0 = Instant::now();
                    match rt.start_case(version, input, "bench", None, true).await {
                        Ok(o) => {
                            let _ = tx.send((o.case_id, t0));
                        }
                        Err(e) => eprintln!("bench: starting a case failed: {e}"),
                    }
                });
            }
            anyhow::Ok(())
        })
    };

    // Collected on a worker thread (a task), not on the main thread that waits for the
    // command: otherwise every settled case wakes a third thread.
    let cases = args.cases;
    let collector = tokio::spawn(async move {
        let mut started: HashMap<Uuid, Instant> = HashMap::with_capacity(cases);
        let mut ended: HashMap<Uuid, Instant> = HashMap::with_capacity(cases);
        let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
        while ended.len() < cases {
            tokio::select! {
                Some((id, t0)) = started_rx.recv() => { started.insert(id, t0); }
                Some(s) = settled.recv() => {
                    if ended.insert(s.case_id, Instant::now()).is_none() {
                        window.add_permits(1);
                        let key = match &s.outcome { Some(o) => format!("{} ({o})", s.status), None => s.status.to_string() };
                        *outcomes.entry(key).or_default() += 1;
                    }
                }
                else => break,
            }
        }
        (began.elapsed(), started, ended, outcomes, started_rx)
    });
    let (elapsed, mut started, ended, outcomes, mut started_rx) =
        collector.await.context("collecting settled cases")?;
    let cpu = cpu_before.zip(cpu_seconds()).map(|(a, b)| b - a);
    producer.await??;
    while let Ok((id, t0)) = started_rx.try_recv() {
        started.insert(id, t0);
    }
    let mut latencies: Vec<Duration> = ended
        .iter()
        .filter_map(|(id, end)| started.get(id).map(|t0| end.saturating_duration_since(*t0)))
        .collect();
    latencies.sort_unstable();
    let stats = rt.stats();
    let transitions = stats.transitions - base_stats.transitions;
    let commits = stats.commit.transitions - base_stats.commit.transitions;
    let transactions = stats.commit.transactions - base_stats.commit.transactions;
    let secs = elapsed.as_secs_f64().max(1e-9);
    let events: i64 = store
        .list_cases(&engine::store::CaseFilter::default())
        .await?
        .iter()
        .map(|c| c.last_seq)
        .sum();

    println!(
        "bench: {} cases of {} v{} through the real plugins, {} in flight, SQLite WAL synchronous=FULL ({url})",
        args.cases, deployment.version.flow_id, deployment.version.version, args.window
    );
    println!("  elapsed        {secs:.2} s");
    println!("  cases/s        {:.0}", args.cases as f64 / secs);
    println!(
        "  transitions/s  {:.0}  ({transitions} state-machine transitions, {} of them plugin results; {commits} commits)",
        transitions as f64 / secs,
        stats.steps - base_stats.steps
    );
    println!(
        "  case latency   p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    println!(
        "  group commit   {transactions} fsync'd transactions, mean {:.1} commits each (max {})",
        commits as f64 / (transactions.max(1) as f64),
        stats.commit.max_batch
    );
    println!("  events         {events} stored");
    let plugin_ms = (stats.plugin_us - base_stats.plugin_us) as f64 / 1e3 / args.cases as f64;
    match cpu {
        Some(cpu) => println!(
            "  cpu            {:.2} ms per case ({:.0}% of {} cores); inside plugin calls {plugin_ms:.2} ms per case",
            cpu * 1e3 / args.cases as f64,
            cpu / secs * 100.0,
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        ),
        None => println!("  plugin calls   {plugin_ms:.2} ms per case"),
    }
    println!(
        "  outcomes       {}",
        outcomes
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if stats.errors > 0 || stats.conflicts > 0 {
        println!(
            "  anomalies      {} errors, {} conflicts",
            stats.errors, stats.conflicts
        );
    }
    Ok(ExitCode::SUCCESS)
}

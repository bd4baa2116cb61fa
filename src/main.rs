//! The `docket` binary: the only place that wires engine, plugin host and API together.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

/// See the workspace Cargo.toml: the runtime allocates many short-lived JSON trees from
/// several threads at once, where glibc malloc is slow (`docs/PERFORMANCE.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "docket", version, about = "Durable approval-flow engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy a flow (if new), start one case, drive it until it ends or waits; print its history.
    Run(cli::run::RunArgs),
    /// Enqueue N cases of a flow for a worker, and return at once.
    Start(cli::start::StartArgs),
    /// Run due work (plugin steps, retries, timers); resumes what a crashed worker left.
    Worker(cli::worker::WorkerArgs),
    /// List cases.
    Cases(cli::cases::CasesArgs),
    /// Show a case's history: routes with the values they read, plugin builds and digests.
    History(cli::history::HistoryArgs),
    /// Explain a case's decisions: routes, plugin runs, failures, incidents, approvers.
    Explain(cli::explain::ExplainArgs),
    /// List open human tasks.
    Tasks(cli::tasks::TasksArgs),
    /// Act on a human task.
    #[command(subcommand)]
    Task(cli::tasks::TaskCommand),
    /// Verify hash chains or check the store's invariants.
    #[command(subcommand)]
    Audit(cli::audit::AuditCommand),
    /// Check the store's invariants (same as `audit fsck`).
    Fsck(cli::audit::FsckArgs),
    /// Measure throughput and latency of the retail-loan automatic path.
    Bench(cli::bench::BenchArgs),
    /// Check flow files: every problem with file:line:col (exit 1 on errors).
    Validate(cli::validate::ValidateArgs),
    /// Draw a flow as Mermaid or Graphviz DOT.
    Graph(cli::graph::GraphArgs),
    /// Print the JSON Schema of the flow format (for editor completion).
    Schema,
    /// Run a plugin component on sample input, or list plugins.
    #[command(subcommand)]
    Plugin(cli::plugin::PluginCommand),
}

/// Output piped into a reader that stopped (`docket history … | head`) ends the command
/// quietly with the status a shell gives a process killed by SIGPIPE, instead of a panic
/// and a backtrace: Rust ignores SIGPIPE, so `println!` panics on the broken pipe.
fn quiet_on_broken_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info
            .payload_as_str()
            .is_some_and(|m| m.starts_with("failed printing to") && m.contains("Broken pipe"))
        {
            std::process::exit(141);
        }
        report(info)
    }));
}

/// The async runtime: one worker thread per two cores. The CPU-bound work — plugin
/// calls and the state machine steps between them — runs on the runtime's plugin pool
/// (a thread per core), and SQLite writes on the store's writer thread; the async
/// threads only pass work between them. More of them than that only compete with the
/// pool for the cores (`docs/PERFORMANCE.md`). `TOKIO_WORKER_THREADS` still overrides the
/// count.
fn async_runtime() -> tokio::runtime::Builder {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.enable_all();
    if std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        builder.worker_threads((cores / 2).max(1));
    }
    builder
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOCKET_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match async_runtime().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(args) => cli::run::run(args).await,
            Command::Start(args) => cli::start::run(args).await,
            Command::Worker(args) => cli::worker::run(args).await,
            Command::Cases(args) => cli::cases::run(args).await,
            Command::History(args) => cli::history::run(args).await,
            Command::Explain(args) => cli::explain::run(args).await,
            Command::Tasks(args) => cli::tasks::list(args).await,
            Command::Task(cmd) => cli::tasks::run(cmd).await,
            Command::Audit(cmd) => cli::audit::run(cmd).await,
            Command::Fsck(args) => cli::audit::fsck(args).await,
            Command::Bench(args) => cli::bench::run(args).await,
            Command::Validate(args) => cli::validate::run(args),
            Command::Graph(args) => cli::graph::run(args),
            Command::Schema => cli::schema::run(),
            Command::Plugin(cmd) => cli::plugin::run(cmd),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

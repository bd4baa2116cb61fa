//! `docket run`: deploy a flow version if new, start one case, drive it until it ends or
//! waits (for a person, or for work due later), print its status, outcome and history.
//! Also the wiring the store-backed commands share (opening the store, the runtime).

use anyhow::{Context, Result, bail};
use clap::Args;
use engine::runtime::{Config, Runtime, SystemClock};
use engine::store::{SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// The database used when neither `--db` nor `DOCKET_DB` says otherwise: a file in the
/// current directory, so a checkout can try Docket without any setup.
pub(crate) const DEFAULT_DB: &str = "docket.db";

/// `--db` for every store-backed command.
#[derive(Args, Debug, Clone)]
pub(crate) struct DbArg {
    /// Database: `sqlite://FILE`, `sqlite:FILE` or a file path (`run` and `start` create
    /// it if missing).
    #[arg(long, env = "DOCKET_DB", default_value = DEFAULT_DB)]
    pub(crate) db: String,
}

impl DbArg {
    /// Opens the database, creating it if missing (commands that deploy and start cases).
    pub(crate) async fn open(&self) -> Result<SqliteStore> {
        self.open_with(true).await
    }

    /// Opens a database that must exist already (commands that read or act on cases).
    pub(crate) async fn open_existing(&self) -> Result<SqliteStore> {
        self.open_with(false).await
    }

    async fn open_with(&self, create: bool) -> Result<SqliteStore> {
        let options = engine::store::SqliteOptions {
            create,
            ..Default::default()
        };
        SqliteStore::open_with(&self.db, options)
            .await
            .with_context(|| format!("opening database {}", self.db))
    }
}

/// The bundled plugins (compiled once per content hash, cached by the host).
pub(crate) fn plugins() -> Result<Arc<dyn engine::plugin::Plugins>> {
    let registry = plugin_host::Registry::bundled().context("loading the bundled plugins")?;
    Ok(Arc::new(registry))
}

pub(crate) fn runtime(store: SqliteStore, config: Config) -> Result<Runtime<SqliteStore>> {
    Ok(runtime_with(store, plugins()?, config))
}

pub(crate) fn runtime_with(
    store: SqliteStore,
    plugins: Arc<dyn engine::plugin::Plugins>,
    config: Config,
) -> Runtime<SqliteStore> {
    Runtime::new(store, plugins, Arc::new(SystemClock), config)
}

/// Compiles the flow (against the plugins it will run with) and checks each case input
/// against it before anything is opened or written: a refused `run` or `start` leaves no
/// database, flow version or case behind. Returns what `Runtime::deploy_compiled` takes.
pub(crate) fn preflight(
    file: &str,
    yaml: &str,
    plugins: &dyn engine::plugin::Plugins,
    input_file: &Path,
    inputs: &[serde_json::Value],
) -> Result<(engine::flow::Flow, Vec<engine::flow::Diagnostic>)> {
    let (flow, warnings) = engine::runtime::compile(file, yaml, plugins)?;
    check_inputs(&flow, &input_file.display().to_string(), inputs)?;
    Ok((flow, warnings))
}

/// Checks each case input against `flow`; an error names `source` (and the element of
/// an array of inputs).
pub(crate) fn check_inputs(
    flow: &engine::flow::Flow,
    source: &str,
    inputs: &[serde_json::Value],
) -> Result<()> {
    for (i, input) in inputs.iter().enumerate() {
        engine::case::check_input(flow, input).map_err(|rejected| {
            let place = if inputs.len() > 1 {
                format!("{source}, element {i}")
            } else {
                source.to_string()
            };
            anyhow::Error::from(rejected).context(place)
        })?;
    }
    Ok(())
}

/// A flow argument: a YAML path, or the name of a bundled flow in `workflows/`.
/// A flow by file path, else `workflows/<name>.yaml` under the current directory, else
/// the copy of a bundled flow inside this binary: `(file name for messages, YAML)`.
pub(crate) fn read_flow(flow: &str) -> Result<(String, String)> {
    let direct = PathBuf::from(flow);
    let local = Path::new("workflows").join(format!("{flow}.yaml"));
    for path in [direct, local] {
        if path.is_file() {
            let yaml = std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            return Ok((path.display().to_string(), yaml));
        }
    }
    match crate::cli::bundled::flow(flow) {
        Some(yaml) => Ok((format!("workflows/{flow}.yaml (bundled)"), yaml.to_string())),
        None => bail!(
            "flow `{flow}`: no such file (nor workflows/{flow}.yaml); bundled flows: {}",
            crate::cli::bundled::FLOWS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

pub(crate) fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Runtime settings for a one-shot command that drives a case in its own process: its
/// own lease owner, so a `docket worker` starting meanwhile (which reclaims the leases of
/// its own identity) does not take this process's work from under it.
pub(crate) fn one_shot_config() -> Config {
    let base = Config::default();
    Config {
        owner: format!("{}-cli-{}", base.owner, std::process::id()),
        ..base
    }
}

/// Who starts cases from the command line (four-eyes: they may not approve them).
pub(crate) fn default_initiator() -> String {
    std::env::var("USER").unwrap_or_else(|_| "cli".into())
}

#[derive(Args, Debug)]
pub(crate) struct RunArgs {
    /// Flow YAML file, or the name of a bundled flow (workflows/NAME.yaml).
    flow: String,
    /// The case input (a JSON object).
    #[arg(long)]
    input: PathBuf,
    #[command(flatten)]
    db: DbArg,
    /// Who starts the case (recorded; four-eyes keeps them from approving it).
    #[arg(long = "as", default_value_t = default_initiator())]
    initiator: String,
    /// The case's business date (YYYY-MM-DD), the only "today" plugins see; default: today (UTC).
    #[arg(long)]
    business_date: Option<chrono::NaiveDate>,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: RunArgs) -> Result<ExitCode> {
    let (file, yaml) = read_flow(&args.flow)?;
    let input = read_json(&args.input)?;
    let plugins = plugins()?;
    let (flow, warnings) = preflight(
        &file,
        &yaml,
        plugins.as_ref(),
        &args.input,
        std::slice::from_ref(&input),
    )?;
    let store = args.db.open().await?;
    let rt = runtime_with(store.clone(), plugins, one_shot_config());
    let deployment = rt.deploy_compiled(flow, warnings).await?;
    for warning in &deployment.warnings {
        eprintln!("{warning}");
    }
    let started = rt
        .start_case(
            deployment.version.id,
            input,
            &args.initiator,
            args.business_date,
            true,
        )
        .await?;
    rt.wait_idle().await;
    let summary = store
        .list_cases(&engine::store::CaseFilter::default())
        .await?
        .into_iter()
        .find(|c| c.id == started.case_id)
        .context("the case vanished")?;
    let file = engine::views::load(&store, started.case_id).await?;
    if args.json {
        let out = serde_json::json!({
            "case_id": summary.id,
            "flow": summary.flow_id,
            "flow_version": summary.flow_version,
            "status": summary.status,
            "outcome": summary.outcome,
            "events": file.history,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "case {} of {} v{}{}",
            summary.id,
            summary.flow_id,
            summary.flow_version,
            if deployment.created {
                " (newly deployed)"
            } else {
                ""
            }
        );
        println!("status: {}", summary.status);
        println!("outcome: {}", summary.outcome.as_deref().unwrap_or("-"));
        if summary.status == engine::store::CaseStatus::Running {
            println!(
                "(work is due later: `docket worker --db {}` runs it)",
                args.db.db
            );
        }
        println!();
        crate::cli::history::print(&file.history);
        for task in store.open_tasks(None).await? {
            if task.case_id == summary.id {
                println!(
                    "\nwaiting for {} (task {}): `docket task complete {} --action ACTION --as USER`",
                    task.role, task.task_id, task.task_id
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

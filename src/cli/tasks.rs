//! `docket tasks` (open human tasks) and `docket task complete` (act on one as a person
//! from the approver directory).
//!
//! `task complete` sends a HumanAction through the case state machine: a rejection
//! (four-eyes, authority, role, closed task…) is printed and exits 1 with nothing changed.
//! On success it drives the case on in this process until it waits or ends, so the person
//! sees where the case went; work due later is left to `docket worker`.

use crate::cli::run::{DbArg, runtime};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use engine::case::Actor;
use engine::runtime::Error as RuntimeError;
use engine::store::Store;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The approver directory used when `--directory` is not given: this file under the
/// current directory, else the sample directory bundled in the binary (so the bundled
/// flows can be driven from any directory, as `docket run` can).
const DEFAULT_DIRECTORY: &str = "workflows/directory/approvers.yaml";

#[derive(Args, Debug)]
pub(crate) struct TasksArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only tasks in this role's inbox (assigned or escalated to it).
    #[arg(long)]
    role: Option<String>,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum TaskCommand {
    /// Act on a task as a person from the approver directory.
    Complete(CompleteArgs),
}

#[derive(Args, Debug)]
pub(crate) struct CompleteArgs {
    /// The task id (from `docket tasks`).
    task: String,
    /// approve, reject, return, … (the approval node's actions).
    #[arg(long)]
    action: String,
    /// The acting user, looked up in the approver directory.
    #[arg(long = "as")]
    user: String,
    #[arg(long)]
    comment: Option<String>,
    /// Approver directory (user → roles, authority limit) [default:
    /// workflows/directory/approvers.yaml, else the bundled sample directory].
    #[arg(long)]
    directory: Option<PathBuf>,
    #[command(flatten)]
    db: DbArg,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Directory {
    approvers: BTreeMap<String, Approver>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Approver {
    roles: Vec<String>,
    #[serde(default)]
    authority_limit: Option<f64>,
}

/// The approver directory to use: `(name for messages, YAML)`.
fn read_directory(given: Option<&Path>) -> Result<(String, String)> {
    let local = Path::new(DEFAULT_DIRECTORY);
    let path = match given {
        Some(path) => path,
        None if local.is_file() => local,
        None => {
            return Ok((
                format!("{DEFAULT_DIRECTORY} (bundled)"),
                crate::cli::bundled::APPROVERS.to_string(),
            ));
        }
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the approver directory {}", path.display()))?;
    Ok((path.display().to_string(), text))
}

fn actor(directory: Option<&Path>, user: &str) -> Result<Actor> {
    let (name, text) = read_directory(directory)?;
    let dir: Directory =
        serde_saphyr::from_str(&text).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let Some(a) = dir.approvers.get(user) else {
        bail!("`{user}` is not in the approver directory {name}");
    };
    Ok(Actor {
        user: user.to_string(),
        roles: a.roles.clone(),
        authority_limit: a.authority_limit,
    })
}

pub(crate) async fn list(args: TasksArgs) -> Result<ExitCode> {
    let store = args.db.open_existing().await?;
    let tasks = store.open_tasks(args.role.as_deref()).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tasks)?);
        return Ok(ExitCode::SUCCESS);
    }
    for t in &tasks {
        println!(
            "{}\n    flow {} node {} role {}{}{}{}",
            t.task_id,
            t.flow_id,
            t.node,
            t.role,
            t.escalated_to
                .as_deref()
                .map(|r| format!(" (escalated to {r})"))
                .unwrap_or_default(),
            t.authority
                .map(|a| format!(", authority ≥ {a}"))
                .unwrap_or_default(),
            t.due
                .map(|d| format!(", due {}", d.format("%Y-%m-%d %H:%M")))
                .unwrap_or_default(),
        );
    }
    println!("{} open task(s)", tasks.len());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(cmd: TaskCommand) -> Result<ExitCode> {
    let TaskCommand::Complete(args) = cmd;
    let actor = actor(args.directory.as_deref(), &args.user)?;
    let store = args.db.open_existing().await?;
    let rt = runtime(store.clone(), crate::cli::run::one_shot_config())?;
    match rt
        .act(&args.task, &args.action, actor, args.comment, true)
        .await
    {
        Ok(outcome) => {
            rt.wait_idle().await;
            let case = store.load_case(outcome.case_id).await?;
            println!(
                "{} on {} by {}: case {} is {}{}",
                args.action,
                args.task,
                args.user,
                case.id,
                case.status,
                case.outcome.map(|o| format!(" ({o})")).unwrap_or_default()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(RuntimeError::Rejected(why)) => {
            eprintln!("rejected: {why}");
            eprintln!("nothing was changed");
            Ok(ExitCode::FAILURE)
        }
        Err(RuntimeError::UnknownTask(task)) => {
            eprintln!("no task `{task}` (see `docket tasks`)");
            Ok(ExitCode::FAILURE)
        }
        Err(RuntimeError::Store(e)) if e.is_conflict() => {
            eprintln!("conflict: the case changed meanwhile ({e}); nothing was changed, try again");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

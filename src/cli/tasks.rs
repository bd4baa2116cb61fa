//! `docket tasks` (open human tasks) and `docket task complete` (act on one as a person
//! from the approver directory).
//!
//! `task complete` sends a HumanAction through the case state machine: a rejection
//! (four-eyes, authority, role, closed task…) is printed and exits 1 with nothing changed.
//! On success it drives the case on in this process until it waits or ends, so the person
//! sees where the case went; work due later is left to `docket worker`.

use crate::cli::run::{DbArg, runtime};
use anyhow::Result;
use clap::{Args, Subcommand};
use engine::directory::{self, Directory, YamlDirectory};
use engine::runtime::Error as RuntimeError;
use engine::store::Store;
use engine::views::TaskView;
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
    /// Approver directory (user → roles, authority limit, clearances) [default:
    /// workflows/directory/approvers.yaml, else the bundled sample directory].
    #[arg(long)]
    directory: Option<PathBuf>,
    #[command(flatten)]
    db: DbArg,
}

/// The approver directory to use: the given file, else [`DEFAULT_DIRECTORY`] under the
/// current directory, else the sample bundled in the binary.
pub(crate) fn directory(given: Option<&Path>) -> Result<YamlDirectory> {
    let local = Path::new(DEFAULT_DIRECTORY);
    let dir = match given {
        Some(path) => YamlDirectory::read(path)?,
        None if local.is_file() => YamlDirectory::read(local)?,
        None => YamlDirectory::parse(
            &format!("{DEFAULT_DIRECTORY} (bundled)"),
            crate::cli::bundled::APPROVERS,
        )?,
    };
    Ok(dir)
}

pub(crate) async fn list(args: TasksArgs) -> Result<ExitCode> {
    let store = args.db.open_existing().await?;
    let tasks: Vec<TaskView> = store
        .open_tasks(args.role.as_deref())
        .await?
        .into_iter()
        .map(TaskView::from)
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tasks)?);
        return Ok(ExitCode::SUCCESS);
    }
    for t in &tasks {
        println!(
            "{}\n    flow {} node {} {}",
            t.task_id,
            t.flow_id,
            t.node,
            t.describe()
        );
    }
    println!("{} open task(s)", tasks.len());
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn run(cmd: TaskCommand) -> Result<ExitCode> {
    let TaskCommand::Complete(args) = cmd;
    let dir = directory(args.directory.as_deref())?;
    // An unknown user is refused before anything is opened.
    directory::identify(&dir, &args.user)?;
    let store = args.db.open_existing().await?;
    let rt = runtime(store.clone(), crate::cli::run::one_shot_config())?;
    match rt
        .act(
            &args.task,
            &args.action,
            &args.user,
            &dir,
            args.comment,
            true,
        )
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
            if engine::runtime::refusal_rule(&why).is_some() {
                eprintln!(
                    "the refused attempt is on record (`docket audit refusals`), with directory sha256 {}",
                    dir.digest()
                );
            }
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

//! `docket audit verify` (walk every hash chain) and `docket audit fsck` / `docket fsck`
//! (the store's invariants), both exiting 1 when something is wrong; `docket audit
//! refusals` (refused attempts to act on tasks, newest first).

use crate::cli::run::DbArg;
use anyhow::Result;
use clap::{Args, Subcommand};
use engine::store::{RefusalFilter, Store, audit};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Recompute every case's hash chain from the stored bytes; name the first broken
    /// event of each broken case.
    Verify(FsckArgs),
    /// Check the store's invariants (no event gaps, no waiting case without a cause…).
    Fsck(FsckArgs),
    /// List refused attempts to act on tasks (role, authority limit, four-eyes, already
    /// voted), newest first.
    Refusals(RefusalsArgs),
}

#[derive(Args, Debug)]
pub(crate) struct RefusalsArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only this case's.
    #[arg(long)]
    case: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: u32,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub(crate) struct FsckArgs {
    #[command(flatten)]
    db: DbArg,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(cmd: AuditCommand) -> Result<ExitCode> {
    match cmd {
        AuditCommand::Verify(args) => verify(args).await,
        AuditCommand::Fsck(args) => fsck(args).await,
        AuditCommand::Refusals(args) => refusals(args).await,
    }
}

async fn refusals(args: RefusalsArgs) -> Result<ExitCode> {
    let case_id = args
        .case
        .as_deref()
        .map(crate::cli::history::case_id)
        .transpose()?;
    let store = args.db.open_existing().await?;
    let refusals = store
        .refusals(&RefusalFilter {
            case_id,
            limit: Some(args.limit),
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&refusals)?);
        return Ok(ExitCode::SUCCESS);
    }
    for r in &refusals {
        println!(
            "case {}: {}",
            r.case_id,
            crate::cli::history::refusal_line(r)
        );
    }
    println!("{} refused attempt(s)", refusals.len());
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: FsckArgs) -> Result<ExitCode> {
    let store = args.db.open_existing().await?;
    let report = audit::verify(&store).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for b in &report.broken {
            println!("BROKEN case {} at event {}: {}", b.case_id, b.seq, b.reason);
        }
        println!(
            "{} case(s), {} event(s) verified: {}",
            report.cases,
            report.events,
            if report.is_ok() {
                "all chains intact".to_string()
            } else {
                format!("{} broken", report.broken.len())
            }
        );
    }
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub(crate) async fn fsck(args: FsckArgs) -> Result<ExitCode> {
    let store = args.db.open_existing().await?;
    let violations = store.fsck().await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&violations)?);
    } else {
        for v in &violations {
            let case = v
                .case_id
                .map(|c| c.to_string())
                .unwrap_or_else(|| "-".into());
            println!("{}: case {case}: {}", v.rule, v.detail);
        }
        println!(
            "fsck: {}",
            if violations.is_empty() {
                "ok".to_string()
            } else {
                format!("{} violation(s)", violations.len())
            }
        );
    }
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

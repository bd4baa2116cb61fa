//! `docket cases`: list cases, optionally by status.

use crate::cli::run::DbArg;
use anyhow::{Result, bail};
use clap::Args;
use engine::store::{CaseFilter, CaseStatus, Store};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct CasesArgs {
    #[command(flatten)]
    db: DbArg,
    /// running, waiting, incident, completed or cancelled.
    #[arg(long)]
    status: Option<String>,
    /// Only cases of this flow id.
    #[arg(long)]
    flow: Option<String>,
    /// At most this many.
    #[arg(long)]
    limit: Option<u32>,
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: CasesArgs) -> Result<ExitCode> {
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => match CaseStatus::parse(s) {
            Some(s) => Some(s),
            None => {
                bail!("unknown status `{s}` (running, waiting, incident, completed, cancelled)")
            }
        },
    };
    let store = args.db.open_existing().await?;
    let cases = store
        .list_cases(&CaseFilter {
            status,
            flow_id: args.flow,
            limit: args.limit,
        })
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&cases)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<36}  {:<24}  {:<9}  {:<12}  {:>6}  updated",
        "case", "flow", "status", "outcome", "events"
    );
    for c in &cases {
        println!(
            "{:<36}  {:<24}  {:<9}  {:<12}  {:>6}  {}",
            c.id,
            format!("{} v{}", c.flow_id, c.flow_version),
            c.status.as_str(),
            c.outcome.as_deref().unwrap_or("-"),
            c.last_seq,
            c.updated_at.format("%Y-%m-%d %H:%M:%S")
        );
    }
    println!("{} case(s)", cases.len());
    Ok(ExitCode::SUCCESS)
}

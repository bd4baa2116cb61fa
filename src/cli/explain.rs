//! `docket explain CASE`: every decision the case went through — routes with their
//! expression and the values they read, plugin runs with build, SHA-256, duration, input
//! digest and output, failures, incidents, and who acted (and which directory vouched for
//! them). The facts are `engine::views::Explanation`, which the API serves too.

use crate::cli::history::case_id;
use anyhow::Result;
use clap::Args;
use engine::views::{self, Decision};
use std::process::ExitCode;

/// How much of a plugin's result the text shows.
const RESULT_CHARS: usize = 400;

#[derive(Args, Debug)]
pub(crate) struct ExplainArgs {
    /// The case id.
    case: String,
    #[command(flatten)]
    db: crate::cli::run::DbArg,
    /// Print the explanation as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: ExplainArgs) -> Result<ExitCode> {
    let id = case_id(&args.case)?;
    let store = args.db.open_existing().await?;
    let file = views::load(&store, id).await?;
    let explanation = file.explain();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&explanation)?);
        return Ok(ExitCode::SUCCESS);
    }
    crate::cli::history::print_case(&file.case);
    if explanation.decisions.is_empty() {
        println!("no decisions yet");
    }
    for d in &explanation.decisions {
        println!(
            "{:>4}  {}  {:<17} {}",
            d.seq,
            d.at.format("%H:%M:%S%.3f"),
            d.decision.kind(),
            d.description
        );
        if let Decision::Step {
            output, result_var, ..
        } = &d.decision
        {
            let result = output.result.canonical();
            let cut: String = result.chars().take(RESULT_CHARS).collect();
            println!(
                "{:>38}{} = {cut}{}",
                "",
                result_var.as_deref().unwrap_or("(no result variable)"),
                if cut.len() < result.len() {
                    "… (--json shows all of it)"
                } else {
                    ""
                }
            );
            for r in &output.reasons {
                println!("{:>38}reason {} ({}): {}", "", r.code, r.weight, r.message);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

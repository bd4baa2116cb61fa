//! `docket history CASE`: what the case is and waits for, its events (each described from
//! the typed event: the route taken with its expression and the values it read, each
//! plugin run with its build, hash, duration and input digest), then the attempts to act
//! on it that were refused. Everything comes from `engine::views`, as the API's will.

use anyhow::{Context, Result};
use clap::Args;
use engine::case::Event;
use engine::store::{Refusal, RefusalFilter, Store};
use engine::views::{self, CaseView, HistoryEntry};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// The case id.
    case: String,
    #[command(flatten)]
    db: crate::cli::run::DbArg,
    /// Print JSON: the case view, every event (typed, with its hash) and the refused
    /// attempts.
    #[arg(long)]
    json: bool,
}

/// A case id given on the command line.
pub(crate) fn case_id(arg: &str) -> Result<uuid::Uuid> {
    uuid::Uuid::parse_str(arg.trim()).with_context(|| format!("`{arg}` is not a case id"))
}

pub(crate) async fn run(args: HistoryArgs) -> Result<ExitCode> {
    let id = case_id(&args.case)?;
    let store = args.db.open_existing().await?;
    let file = views::load(&store, id).await?;
    let mut refusals = store
        .refusals(&RefusalFilter {
            case_id: Some(id),
            limit: None,
        })
        .await?;
    // In the order they happened, as the events are.
    refusals.reverse();
    if args.json {
        let out = serde_json::json!({
            "case": file.case,
            "events": file.history,
            "refusals": refusals,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_case(&file.case);
        print(&file.history);
        print_refusals(&refusals);
    }
    Ok(ExitCode::SUCCESS)
}

/// The case's status line and what it waits for.
pub(crate) fn print_case(case: &CaseView) {
    println!(
        "case {}: {}{}",
        case.id,
        case.status,
        case.outcome
            .as_deref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default()
    );
    println!(
        "flow {} v{} (sha256 {}…), started by {}, business date {}",
        case.flow_id,
        case.flow_version,
        short(&case.flow_hash),
        case.initiator,
        case.business_date
    );
    let w = &case.waits_for;
    for t in &w.tasks {
        println!(
            "waits for task {} at {}: {}",
            t.task_id,
            t.node,
            t.describe()
        );
    }
    for t in &w.timers {
        println!(
            "waits for timer {} at {}, due {}",
            t.timer_id,
            t.node,
            t.due.format("%Y-%m-%d %H:%M:%S")
        );
    }
    for i in &w.incidents {
        println!(
            "INCIDENT at {} after {} attempt(s): {}",
            i.node, i.attempts, i.error
        );
    }
    for s in &w.steps {
        println!(
            "waits for {} attempt {}, due {}",
            s.node,
            s.attempt,
            s.due.format("%Y-%m-%d %H:%M:%S%.3f")
        );
    }
    println!();
}

pub(crate) fn print(history: &[HistoryEntry]) {
    for e in history {
        println!("{}", line(e));
    }
}

fn print_refusals(refusals: &[Refusal]) {
    if refusals.is_empty() {
        return;
    }
    println!("\nrefused attempts (recorded beside the case, not in its history):");
    for r in refusals {
        println!("  {}", refusal_line(r));
    }
}

/// One refused attempt in one line.
pub(crate) fn refusal_line(r: &Refusal) -> String {
    format!(
        "{}  {} tried `{}` on {}: refused by {} — {}{}",
        r.at.format("%Y-%m-%d %H:%M:%S%.3f"),
        r.user,
        r.action,
        r.task_id,
        r.rule,
        r.message,
        r.directory
            .as_deref()
            .map(|d| format!(" [directory sha256 {}…]", short(d)))
            .unwrap_or_default()
    )
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

fn time_of(at: &str) -> &str {
    // 2026-03-01T09:00:00.123456Z → 09:00:00.123
    at.get(11..23).unwrap_or(at)
}

/// Compact text, cut to `max` characters.
fn compact(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// One event as one line (two for a plugin run: its result on the second).
pub(crate) fn line(e: &HistoryEntry) -> String {
    let mut out = format!(
        "{:>4}  {}  {:<16} {}",
        e.seq,
        time_of(&e.at),
        e.kind,
        e.description
    );
    if let Event::StepCompleted {
        output, result_var, ..
    } = &e.event
    {
        out.push_str(&format!(
            "\n{:>38}{} = {}",
            "",
            result_var.as_deref().unwrap_or("(no result variable)"),
            compact(output.result.canonical(), 200)
        ));
    }
    out
}

//! `docket history CASE`: a case's events, readable — the route taken with its expression
//! and the values it read, each plugin run with its build, hash, duration and input digest.

use anyhow::{Context, Result};
use clap::Args;
use engine::store::{Store, StoredEvent};
use serde_json::Value;
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub(crate) struct HistoryArgs {
    /// The case id.
    case: String,
    #[command(flatten)]
    db: crate::cli::run::DbArg,
    /// Print JSON (every stored field, hashes included).
    #[arg(long)]
    json: bool,
}

pub(crate) async fn run(args: HistoryArgs) -> Result<ExitCode> {
    let id = uuid::Uuid::parse_str(args.case.trim())
        .with_context(|| format!("`{}` is not a case id", args.case))?;
    let store = args.db.open_existing().await?;
    let case = store.load_case(id).await?;
    let events = store.events(id, 0).await?;
    if args.json {
        let out: Vec<Value> = events.iter().map(event_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "case {id}: {}{}",
            case.status,
            case.outcome.map(|o| format!(" ({o})")).unwrap_or_default()
        );
        print(&events);
    }
    Ok(ExitCode::SUCCESS)
}

/// One stored event as JSON, payload parsed.
pub(crate) fn event_json(e: &StoredEvent) -> Value {
    serde_json::json!({
        "seq": e.seq,
        "type": e.kind,
        "at": e.at,
        "payload": serde_json::from_str::<Value>(&e.payload).unwrap_or(Value::String(e.payload.clone())),
        "hash": e.hash,
    })
}

pub(crate) fn print(events: &[StoredEvent]) {
    for e in events {
        println!("{}", line(e));
    }
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("-")
}

/// Compact JSON, cut to `max` characters.
fn compact(v: &Value, max: usize) -> String {
    let s = v.to_string();
    if s.chars().count() <= max {
        s
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

fn time_of(at: &str) -> &str {
    // 2026-03-01T09:00:00.123456Z → 09:00:00.123
    at.get(11..23).unwrap_or(at)
}

/// One event as one (sometimes two) readable lines.
pub(crate) fn line(e: &StoredEvent) -> String {
    let p: Value = serde_json::from_str(&e.payload).unwrap_or(Value::Null);
    let mut out = format!("{:>4}  {}  {:<16} ", e.seq, time_of(&e.at), e.kind);
    let node = str_of(&p, "node");
    let _ = match e.kind.as_str() {
        "case_started" => write!(
            out,
            "flow {} (sha256 {}…) by {}, business date {}, input {}",
            str_of(&p, "flow_id"),
            short(str_of(&p, "flow_hash")),
            str_of(&p, "initiator"),
            str_of(&p, "business_date"),
            compact(&p["input"], 160)
        ),
        "node_entered" => write!(out, "→ {node}"),
        "step_completed" => {
            let plugin = &p["plugin"];
            let output = &p["output"];
            let mut extra = String::new();
            if let Some(o) = output.get("outcome").and_then(Value::as_str) {
                let _ = write!(extra, " outcome={o}");
            }
            if let Some(s) = output.get("score").and_then(Value::as_f64) {
                let _ = write!(extra, " score={s}");
            }
            if let Some(reasons) = output
                .get("reasons")
                .and_then(Value::as_array)
                .filter(|r| !r.is_empty())
            {
                let codes: Vec<&str> = reasons.iter().map(|r| str_of(r, "code")).collect();
                let _ = write!(extra, " reasons={}", codes.join(","));
            }
            write!(
                out,
                "{node}: {}@{} (sha256 {}…) {:.3} ms, input sha256 {}…{extra}\n{:>38}{} = {}",
                str_of(plugin, "name"),
                str_of(plugin, "version"),
                short(str_of(plugin, "sha256")),
                p["duration_us"].as_u64().unwrap_or(0) as f64 / 1000.0,
                short(str_of(&p, "input_digest")),
                "",
                p.get("result_var")
                    .and_then(Value::as_str)
                    .unwrap_or("(no result variable)"),
                compact(&output["result"], 200)
            )
        }
        "step_failed" => write!(
            out,
            "{node} attempt {}: {} {}: {}; {}",
            p["attempt"],
            str_of(&p["error"], "plugin"),
            compact(&p["error"]["kind"], 40),
            str_of(&p["error"], "message"),
            match p.get("retry_at").and_then(Value::as_str) {
                Some(at) => format!("retry at {at}"),
                None => "no retry".into(),
            }
        ),
        "incident_raised" => write!(
            out,
            "{node}: INCIDENT after {} attempt(s): {}",
            p["attempts"],
            compact(&p["cause"], 240)
        ),
        "incident_resolved" => write!(out, "{node}: retried by {}", str_of(&p, "by")),
        "route_taken" => {
            let values = p["values"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", compact(v, 60)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let which = match (
                p["route_index"].as_u64(),
                p.get("expression").and_then(Value::as_str),
            ) {
                (Some(i), Some(expr)) => format!("route {} `{expr}`", i + 1),
                (_, _) => "otherwise".to_string(),
            };
            write!(
                out,
                "{node}: {which} read {{{values}}} → {}",
                str_of(&p, "to")
            )
        }
        "task_opened" => write!(
            out,
            "{} for role {}{}{}",
            str_of(&p, "task"),
            str_of(&p, "role"),
            p["authority"]
                .as_f64()
                .map(|a| format!(", authority ≥ {a}"))
                .unwrap_or_default(),
            p.get("due")
                .and_then(Value::as_str)
                .map(|d| format!(", due {d}"))
                .unwrap_or_default()
        ),
        "task_acted" => write!(
            out,
            "{} by {} ({}): {}{}",
            str_of(&p, "task"),
            str_of(&p["actor"], "user"),
            compact(&p["actor"]["roles"], 80),
            str_of(&p, "action"),
            p.get("comment")
                .and_then(Value::as_str)
                .map(|c| format!(" — \"{c}\""))
                .unwrap_or_default()
        ),
        "task_escalated" => write!(
            out,
            "{} → role {}",
            str_of(&p, "task"),
            str_of(&p, "to_role")
        ),
        "task_closed" => write!(
            out,
            "{}{}",
            str_of(&p, "task"),
            p.get("action")
                .and_then(Value::as_str)
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        ),
        "timer_armed" => write!(
            out,
            "{} at {node}, due {}",
            str_of(&p, "timer"),
            str_of(&p, "due")
        ),
        "timer_fired" => write!(out, "{}", str_of(&p, "timer")),
        "branch_forked" => write!(out, "{node}: {}", compact(&p["branches"], 160)),
        "branch_joined" => write!(out, "{node}: {} branch(es) still running", p["remaining"]),
        "case_completed" => write!(out, "outcome: {}", str_of(&p, "outcome")),
        "case_cancelled" => write!(out, "by {}: {}", str_of(&p, "by"), str_of(&p, "reason")),
        _ => write!(out, "{}", compact(&p, 200)),
    };
    out
}

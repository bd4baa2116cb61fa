//! History entries: each stored event decoded into its typed form, with the stored hash
//! and a one-line description read from the typed event (never from JSON field names).

use super::Error;
use crate::case::Event;
use crate::store::StoredEvent;
use serde::Serialize;
use serde_json::Value;
use std::fmt::Write as _;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub seq: i64,
    /// When it happened, exactly as stored (RFC 3339, microseconds, UTC: it is hashed).
    pub at: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The event's hash in the case's chain.
    pub hash: String,
    pub event: Event,
    pub description: String,
}

impl HistoryEntry {
    pub fn decode(stored: &StoredEvent) -> Result<HistoryEntry, Error> {
        let event = decode(stored)?;
        Ok(HistoryEntry {
            seq: stored.seq,
            at: stored.at.clone(),
            kind: stored.kind.clone(),
            hash: stored.hash.clone(),
            description: describe(&event),
            event,
        })
    }
}

/// A stored event as its typed form; one that does not decode is an error naming the
/// case and the event.
pub fn decode(stored: &StoredEvent) -> Result<Event, Error> {
    Event::decode(&stored.kind, &stored.payload).map_err(|error| Error::Undecodable {
        case_id: stored.case_id,
        seq: stored.seq,
        kind: stored.kind.clone(),
        error,
    })
}

fn short(s: &str) -> &str {
    s.get(..12).unwrap_or(s)
}

/// Compact JSON, cut to `max` characters.
pub(super) fn compact(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// `route 2 `tier == 'fast'`` or `otherwise`.
pub(super) fn route_label(index: Option<usize>, expression: Option<&str>) -> String {
    match (index, expression) {
        (Some(i), Some(expr)) => format!("route {} `{expr}`", i + 1),
        _ => "otherwise".to_string(),
    }
}

/// `{a=1, b="x"}`: the values a route read.
pub(super) fn values_read(values: &std::collections::BTreeMap<String, Value>) -> String {
    let list = values
        .iter()
        .map(|(k, v)| format!("{k}={}", compact(&v.to_string(), 60)))
        .collect::<Vec<_>>()
        .join(", ");
    format!("{{{list}}}")
}

/// What an event says, in one line.
pub fn describe(event: &Event) -> String {
    let mut out = String::new();
    let _ = match event {
        Event::CaseStarted {
            flow_id,
            flow_hash,
            input,
            initiator,
            business_date,
            ..
        } => write!(
            out,
            "flow {flow_id} (sha256 {}…) by {initiator}, business date {business_date}, input {}",
            short(flow_hash),
            compact(input.canonical(), 160)
        ),
        Event::NodeEntered { node, .. } => write!(out, "→ {node}"),
        Event::StepCompleted {
            node,
            plugin,
            duration_us,
            input_digest,
            output,
            ..
        } => {
            let mut extra = String::new();
            if let Some(o) = &output.outcome {
                let _ = write!(extra, " outcome={o}");
            }
            if let Some(s) = output.score {
                let _ = write!(extra, " score={s}");
            }
            if !output.reasons.is_empty() {
                let codes: Vec<&str> = output.reasons.iter().map(|r| r.code.as_str()).collect();
                let _ = write!(extra, " reasons={}", codes.join(","));
            }
            write!(
                out,
                "{node}: {}@{} (sha256 {}…) {:.3} ms, input sha256 {}…{extra}",
                plugin.name,
                plugin.version,
                short(&plugin.sha256),
                *duration_us as f64 / 1000.0,
                short(input_digest),
            )
        }
        Event::StepFailed {
            node,
            attempt,
            error,
            retry_at,
            ..
        } => write!(
            out,
            "{node} attempt {attempt}: {} {}: {}; {}",
            error.plugin,
            serde_json::to_string(&error.kind).unwrap_or_default(),
            error.message,
            match retry_at {
                Some(at) => format!("retry at {}", rfc3339(at)),
                None => "no retry".into(),
            }
        ),
        Event::IncidentRaised {
            node,
            cause,
            attempts,
            ..
        } => write!(
            out,
            "{node}: INCIDENT after {attempts} attempt(s): {}",
            compact(&cause.message(), 240)
        ),
        Event::IncidentResolved {
            node, by, comment, ..
        } => write!(
            out,
            "{node}: retried by {by}{}",
            comment
                .as_deref()
                .map(|c| format!(" — \"{c}\""))
                .unwrap_or_default()
        ),
        Event::RouteTaken {
            node,
            route_index,
            expression,
            values,
            to,
            ..
        } => write!(
            out,
            "{node}: {} read {} → {to}",
            route_label(*route_index, expression.as_deref()),
            values_read(values)
        ),
        Event::TaskOpened {
            task,
            role,
            authority,
            due,
            ..
        } => write!(
            out,
            "{task} for role {role}{}{}",
            authority
                .map(|a| format!(", authority ≥ {a}"))
                .unwrap_or_default(),
            due.map(|d| format!(", due {}", rfc3339(&d)))
                .unwrap_or_default()
        ),
        Event::TaskActed {
            task,
            action,
            actor,
            comment,
            ..
        } => write!(
            out,
            "{task} by {} ({}): {action}{}{}",
            actor.user,
            serde_json::to_string(&actor.roles).unwrap_or_default(),
            comment
                .as_deref()
                .map(|c| format!(" — \"{c}\""))
                .unwrap_or_default(),
            actor
                .directory
                .as_deref()
                .map(|d| format!(" [directory sha256 {}…]", short(d)))
                .unwrap_or_default()
        ),
        Event::TaskEscalated { task, to_role, .. } => write!(out, "{task} → role {to_role}"),
        Event::TaskClosed { task, action, .. } => write!(
            out,
            "{task}{}",
            action
                .as_deref()
                .map(|a| format!(" ({a})"))
                .unwrap_or_default()
        ),
        Event::TimerArmed {
            timer, node, due, ..
        } => write!(out, "{timer} at {node}, due {}", rfc3339(due)),
        Event::TimerFired { timer, .. } => write!(out, "{timer}"),
        Event::BranchForked { node, branches, .. } => write!(
            out,
            "{node}: {}",
            branches
                .iter()
                .map(|b| format!("{} → {}", b.token, b.node))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Event::BranchJoined {
            node, remaining, ..
        } => write!(out, "{node}: {remaining} branch(es) still running"),
        Event::CaseCompleted { outcome, .. } => write!(out, "outcome: {outcome}"),
        Event::CaseCancelled { by, reason, .. } => write!(out, "by {by}: {reason}"),
    };
    out
}

/// A time as the store writes it: RFC 3339, UTC, `Z`.
pub(super) fn rfc3339(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

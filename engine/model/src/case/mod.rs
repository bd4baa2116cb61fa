//! The pure case state machine: `(state, command, now) -> (events, effects)`.
//!
//! Architecture invariant: no IO, no clock, no randomness — the time, the case id and
//! every outcome from the world arrive as input. One command is one transition: `decide`
//! drives tokens through automatic nodes (decisions, forks, joins) and stops where the
//! world must act (plugin runs, timers, people). The state only changes by [`evolve`]-ing
//! events, so [`replay`] of a case's history rebuilds the state `decide` left.
//!
//! Files: `ids`, `command`, `event`, `effect`, `reject` (the vocabulary), `state` and
//! `evolve` (the fold), `machine` (one transition's driver loop), and one file per node kind: `step`
//! (task nodes, retries, incidents), `decision`, `approval`, `parallel`, `timer`.

mod approval;
mod command;
mod decision;
mod effect;
mod event;
mod evolve;
mod ids;
mod machine;
mod parallel;
mod reject;
mod state;
mod step;
mod timer;
mod vars;

#[cfg(test)]
mod tests;

pub use command::{Command, Start};
pub use effect::{Decision, Effect};
pub use event::{Branch, DecodeError, EVENT_FORMAT, Event, IncidentCause};
pub use evolve::evolve;
pub use ids::{Actor, CaseId, TaskId, TimerId, TokenId};
pub use reject::{FourEyes, Rejected, RejectionClass};
pub use state::{Act, CaseState, CaseStatus, Task, Timer, Token, Wait};
pub use vars::Vars;

use crate::flow::{Flow, NodeId, NodeKind};
use crate::plugin::StepInput;
use chrono::{DateTime, Utc};
use machine::Tx;
use std::time::Duration;

/// Automatic nodes one transition may pass before the case stops at an incident: a flow
/// that loops through decisions without waiting must not hang the runtime.
pub const MAX_NODES_PER_TRANSITION: usize = 1_000;

/// The longest delay between two runs of a failing step.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 60 * 60);

/// Whether `input` may start a case of `flow` (a JSON object its input schema accepts):
/// what [`start`] checks first, for callers that refuse bad input before writing anything.
pub fn check_input(flow: &Flow, input: &serde_json::Value) -> Result<(), Rejected> {
    if !input.is_object() {
        return Err(Rejected::InvalidInput {
            errors: vec![crate::schema::SchemaError {
                pointer: String::new(),
                message: "the case input must be a JSON object".into(),
            }],
        });
    }
    flow.input()
        .check(input)
        .map_err(|errors| Rejected::InvalidInput { errors })
}

/// Starts a case: checks the input against the flow's schema (a mismatch changes
/// nothing), makes its fields the case variables, and drives the case from the start
/// node until it waits. Returns the new state with the transition.
pub fn start(
    flow: &Flow,
    cmd: Start,
    now: DateTime<Utc>,
) -> Result<(CaseState, Decision), Rejected> {
    check_input(flow, &cmd.input)?;
    let started = Event::CaseStarted {
        format: EVENT_FORMAT,
        case_id: cmd.case_id,
        flow_id: flow.id().to_string(),
        flow_hash: flow.hash().to_string(),
        input: crate::doc::Doc::new(cmd.input),
        initiator: cmd.initiator,
        business_date: cmd.business_date.unwrap_or_else(|| now.date_naive()),
        at: now,
    };
    let state = CaseState::from_started(&started).expect("a CaseStarted event");
    let mut tx = Tx::with_first(flow, state, started, now);
    tx.enter(TokenId(0), flow.start().clone());
    tx.run();
    Ok(tx.finish())
}

/// Validates `cmd` against the case and produces the transition's events and effects.
/// Rejections are typed and produce nothing.
pub fn decide(
    flow: &Flow,
    state: &CaseState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<Decision, Rejected> {
    transition(flow, state, cmd, now).map(|(_, d)| d)
}

/// [`decide`], also returning the state after the transition's events.
pub fn transition(
    flow: &Flow,
    state: &CaseState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<(CaseState, Decision), Rejected> {
    transition_owned(flow, state.clone(), cmd, now)
}

/// [`transition`] consuming the state, for a caller that holds the only copy (the
/// runtime, folding steps into one transition): nothing is cloned, and on a rejection the
/// state is gone with it.
pub fn transition_owned(
    flow: &Flow,
    state: CaseState,
    cmd: Command,
    now: DateTime<Utc>,
) -> Result<(CaseState, Decision), Rejected> {
    if state.flow_hash() != flow.hash() {
        return Err(Rejected::FlowMismatch {
            expected: state.flow_hash().to_string(),
            found: flow.hash().to_string(),
        });
    }
    // Actions on closed tasks say so even after the case ended.
    let closed = state.status().is_final() && !matches!(cmd, Command::HumanAction { .. });
    if closed {
        return Err(Rejected::CaseClosed {
            status: state.status(),
        });
    }
    let mut tx = Tx::new(flow, state, now);
    match cmd {
        Command::StepSucceeded {
            node,
            attempt,
            report,
            input_digest,
        } => step::succeeded(&mut tx, node, attempt, report, input_digest)?,
        Command::StepFailed {
            node,
            attempt,
            error,
            build,
        } => step::failed(&mut tx, node, attempt, error, build)?,
        Command::TimerFired { timer } => timer::fired(&mut tx, timer)?,
        Command::HumanAction {
            task,
            action,
            actor,
            comment,
        } => approval::act(&mut tx, task, action, actor, comment)?,
        Command::RetryIncident { actor, comment } => retry_incidents(&mut tx, actor, comment)?,
        Command::Cancel { actor, reason } => cancel(&mut tx, actor, reason),
    }
    tx.run();
    Ok(tx.finish())
}

/// Re-runs every node the case has an incident at.
fn retry_incidents(
    tx: &mut Tx<'_>,
    actor: String,
    comment: Option<String>,
) -> Result<(), Rejected> {
    let stuck: Vec<(TokenId, NodeId)> = tx
        .state()
        .incidents()
        .map(|t| (t.id, t.node.clone()))
        .collect();
    if stuck.is_empty() {
        return Err(Rejected::NoIncident);
    }
    for (token, node) in stuck {
        tx.emit(Event::IncidentResolved {
            node,
            token,
            by: actor.clone(),
            comment: comment.clone(),
            at: tx.now,
        });
        tx.resume(token);
    }
    Ok(())
}

fn cancel(tx: &mut Tx<'_>, actor: String, reason: String) {
    tx.wind_down();
    tx.emit(Event::CaseCancelled {
        by: actor,
        reason: reason.clone(),
        at: tx.now,
    });
    tx.effect(Effect::CancelCase { reason });
}

/// Why a history could not be replayed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    #[error("a case history must start with case_started, found {found}")]
    NotStarted { found: String },
    #[error("the history was written by flow version {history}, not {flow}")]
    FlowMismatch { history: String, flow: String },
}

/// Rebuilds a case's state from its history (audit, and the store's snapshot check).
pub fn replay<'e>(
    flow: &Flow,
    events: impl IntoIterator<Item = &'e Event>,
) -> Result<CaseState, ReplayError> {
    let mut events = events.into_iter();
    let first = events.next();
    let Some(mut state) = first.and_then(CaseState::from_started) else {
        return Err(ReplayError::NotStarted {
            found: first.map_or("nothing", |e| e.kind()).to_string(),
        });
    };
    if state.flow_hash() != flow.hash() {
        return Err(ReplayError::FlowMismatch {
            history: state.flow_hash().to_string(),
            flow: flow.hash().to_string(),
        });
    }
    for e in events {
        state.apply(flow, e);
    }
    Ok(state)
}

/// The input of the plugin run a `RunPlugin` effect asks for; `None` when `node` is not a
/// task node of `flow`.
pub fn step_input(flow: &Flow, state: &CaseState, node: &NodeId) -> Option<StepInput> {
    let NodeKind::Task(task) = &flow.get(node.as_str())?.kind else {
        return None;
    };
    Some(StepInput {
        case_id: state.case_id().to_string(),
        node_id: node.to_string(),
        config: task.config_json.clone(),
        // Canonical (keys sorted): the live state and one replayed from the stored history
        // give the same text, so the recorded input digest can be checked later.
        vars: state.vars().canonical_json(),
        // `YYYY-MM-DD` (NaiveDate's Display is `%Y-%m-%d` without parsing a format string).
        business_date: state.business_date().to_string(),
    })
}

/// `now + d`, or `None` past the calendar's end.
fn later(now: DateTime<Utc>, d: Duration) -> Option<DateTime<Utc>> {
    let d = chrono::TimeDelta::from_std(d).ok()?;
    now.checked_add_signed(d)
}

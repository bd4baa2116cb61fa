//! Task nodes: plugin runs, their results, retries with exponential backoff, incidents.

use super::MAX_BACKOFF;
use super::effect::Effect;
use super::event::{Event, IncidentCause};
use super::ids::TokenId;
use super::machine::Tx;
use super::reject::Rejected;
use super::state::{CaseState, Wait};
use crate::flow::{NodeId, NodeKind, TaskNode};
use crate::plugin::{CallReport, PluginBuild, StepError};
use std::time::Duration;

/// Asks the runtime to run the plugin for the attempt the token waits on.
pub(super) fn schedule(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, task: &TaskNode) {
    let Some(Wait::Step { attempt, due, .. }) = tx.state().token(token).map(|t| &t.wait) else {
        return;
    };
    let (attempt, due) = (*attempt, *due);
    tx.effect(Effect::RunPlugin {
        node: node.clone(),
        attempt,
        plugin: task.plugin.clone(),
        due,
        timeout: task.timeout,
    });
}

/// The token waiting for `attempt` of `node`, or why the result is stale.
pub(super) fn running(state: &CaseState, node: &NodeId, attempt: u32) -> Result<TokenId, Rejected> {
    let mut other = None;
    for t in state.tokens().filter(|t| &t.node == node) {
        if let Wait::Step { attempt: a, .. } = t.wait {
            if a == attempt {
                return Ok(t.id);
            }
            other = Some(a);
        }
    }
    Err(Rejected::Stale {
        node: node.clone(),
        attempt,
        running: other,
    })
}

pub(super) fn succeeded(
    tx: &mut Tx<'_>,
    node: NodeId,
    attempt: u32,
    report: CallReport,
    input_digest: String,
) -> Result<(), Rejected> {
    let token = running(tx.state(), &node, attempt)?;
    let output = match report.output {
        Ok(output) => output,
        Err(error) => {
            failed_run(tx, token, node, attempt, error, Some(report.build));
            return Ok(());
        }
    };
    let Some(NodeKind::Task(task)) = tx.flow.get(node.as_str()).map(|n| &n.kind) else {
        return Ok(());
    };
    tx.emit(Event::StepCompleted {
        node,
        token,
        attempt,
        plugin: report.build,
        duration_us: u64::try_from(report.duration.as_micros()).unwrap_or(u64::MAX),
        input_digest,
        output,
        result_var: task.result.clone(),
        at: tx.now,
    });
    tx.enter(token, task.next.clone());
    Ok(())
}

pub(super) fn failed(
    tx: &mut Tx<'_>,
    node: NodeId,
    attempt: u32,
    error: StepError,
    build: Option<PluginBuild>,
) -> Result<(), Rejected> {
    let token = running(tx.state(), &node, attempt)?;
    failed_run(tx, token, node, attempt, error, build);
    Ok(())
}

/// A failed run: retry after a backoff while the budget lasts and the error is worth it,
/// else an incident. The case is never dropped.
fn failed_run(
    tx: &mut Tx<'_>,
    token: TokenId,
    node: NodeId,
    attempt: u32,
    error: StepError,
    build: Option<PluginBuild>,
) {
    let Some(NodeKind::Task(task)) = tx.flow.get(node.as_str()).map(|n| &n.kind) else {
        return;
    };
    let failures = match tx.state().token(token).map(|t| &t.wait) {
        Some(Wait::Step { failures, .. }) => failures + 1,
        _ => 1,
    };
    let retry_at = if error.kind.is_retryable() && failures < task.retry.attempts {
        super::later(tx.now, backoff(task.retry.backoff, failures))
    } else {
        None
    };
    tx.emit(Event::StepFailed {
        node: node.clone(),
        token,
        attempt,
        error: error.clone(),
        build,
        retry_at,
        at: tx.now,
    });
    match retry_at {
        Some(_) => schedule(tx, token, &node, task),
        None => tx.incident(token, node, IncidentCause::Step { error }, failures),
    }
}

/// The delay after the `failures`-th failure: `first`, doubling each time, at most
/// [`MAX_BACKOFF`].
pub(super) fn backoff(first: Duration, failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(32);
    first
        .checked_mul(1u32 << doublings.min(31))
        .unwrap_or(MAX_BACKOFF)
        .min(MAX_BACKOFF)
}

//! Approval nodes: tasks for people, with roles, authority limits, four-eyes, quorums
//! (votes, veto) and SLA escalation.

use super::effect::Effect;
use super::event::{Event, IncidentCause};
use super::ids::{Actor, TaskId, TimerId, TokenId};
use super::machine::Tx;
use super::reject::{FourEyes, Rejected};
use super::state::{self, Task};
use crate::flow::{ApprovalNode, NodeId, NodeKind};

/// Opens the node's task (and arms its SLA deadline).
pub(super) fn open(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, a: &ApprovalNode) {
    let authority = match &a.assign.authority {
        None => None,
        Some(expr) => {
            let value = expr.eval(tx.state().vars());
            match value {
                Ok(v) => match v.as_f64() {
                    Some(f) if f.is_finite() => Some(f),
                    _ => {
                        let cause = IncidentCause::Expression {
                            expression: expr.source().to_string(),
                            message: format!("the authority needed must be a number, got {v}"),
                        };
                        tx.incident(token, node.clone(), cause, 0);
                        return;
                    }
                },
                Err(e) => {
                    let cause = IncidentCause::Expression {
                        expression: expr.source().to_string(),
                        message: e.to_string(),
                    };
                    tx.incident(token, node.clone(), cause, 0);
                    return;
                }
            }
        }
    };
    let due = match &a.sla {
        None => None,
        Some(sla) => match super::later(tx.now, sla.within) {
            Some(due) => Some(due),
            None => {
                let message = format!(
                    "approval `{node}`: an SLA of {:?} from {} overflows the calendar",
                    sla.within, tx.now
                );
                tx.incident(token, node.clone(), IncidentCause::Flow { message }, 0);
                return;
            }
        },
    };
    let state = tx.state();
    let task = TaskId::derive(state.case_id(), node.as_str(), state.seq() + 1);
    tx.emit(Event::TaskOpened {
        task: task.clone(),
        node: node.clone(),
        token,
        role: a.assign.role.clone(),
        authority,
        due,
        at: tx.now,
    });
    tx.effect(Effect::OpenTask {
        task: task.clone(),
        node: node.clone(),
        role: a.assign.role.clone(),
        authority,
        due,
    });
    if let Some(due) = due {
        let timer = TimerId::for_sla(&task);
        tx.emit(Event::TimerArmed {
            timer: timer.clone(),
            node: node.clone(),
            token,
            task: Some(task),
            due,
            at: tx.now,
        });
        tx.effect(Effect::ArmTimer { timer, due });
    }
}

/// A person acts on a task: checked, recorded, and — when it decides — the task closes
/// and the token follows the action.
pub(super) fn act(
    tx: &mut Tx<'_>,
    task_id: TaskId,
    action: String,
    actor: Actor,
    comment: Option<String>,
) -> Result<(), Rejected> {
    let state = tx.state();
    let Some(task) = state.task(&task_id).cloned() else {
        return Err(if state.closed_tasks.contains(&task_id) {
            Rejected::TaskClosed { task: task_id }
        } else if state.status().is_final() {
            Rejected::CaseClosed {
                status: state.status(),
            }
        } else {
            Rejected::UnknownTask { task: task_id }
        });
    };
    let Some(NodeKind::Approval(node)) = tx.flow.get(task.node.as_str()).map(|n| &n.kind) else {
        return Err(Rejected::UnknownTask { task: task_id });
    };
    check(state, node, &task, &action, &actor)?;

    let decided = match &node.quorum {
        None => true,
        Some(q) => match action.as_str() {
            // `task` is from before this vote: count it in.
            "approve" => task.count("approve") + 1 >= q.needed,
            "reject" => {
                let veto = q.veto.iter().any(|r| actor.has_role(r));
                let rejections = task.count("reject") + 1;
                veto || rejections > q.of.saturating_sub(q.needed)
            }
            _ => true,
        },
    };
    let target = node.actions[action.as_str()].clone();
    tx.emit(Event::TaskActed {
        task: task_id.clone(),
        action: action.clone(),
        actor,
        comment,
        at: tx.now,
    });
    if decided {
        close(tx, &task, Some(action));
        tx.enter(task.token, target);
    }
    Ok(())
}

/// The rules on who may act, in the order a person would want to hear them. Role and
/// authority apply to every action, not only to `approve`: the task belongs to those who
/// may decide it, so returning or asking for information is theirs too.
fn check(
    state: &state::CaseState,
    node: &ApprovalNode,
    task: &Task,
    action: &str,
    actor: &Actor,
) -> Result<(), Rejected> {
    if !node.actions.contains_key(action) {
        return Err(Rejected::UnknownAction {
            task: task.id.clone(),
            action: action.to_string(),
            allowed: node.actions.keys().cloned().collect(),
        });
    }
    let escalated = task.escalated_to.as_deref();
    if !actor.has_role(&task.role) && !escalated.is_some_and(|r| actor.has_role(r)) {
        return Err(Rejected::Role {
            task: task.id.clone(),
            user: actor.user.clone(),
            role: task.role.clone(),
            escalated_to: task.escalated_to.clone(),
        });
    }
    if let Some(required) = task.authority
        && !actor.authority_limit.is_some_and(|l| l >= required)
    {
        return Err(Rejected::Authority {
            task: task.id.clone(),
            user: actor.user.clone(),
            limit: actor.authority_limit,
            required,
        });
    }
    if node.four_eyes {
        if state.initiator() == actor.user {
            return Err(Rejected::FourEyes {
                task: task.id.clone(),
                user: actor.user.clone(),
                reason: FourEyes::Initiator,
            });
        }
        if let Some(other) = state
            .acted_on(&actor.user)
            .and_then(|nodes| nodes.iter().find(|n| **n != task.node))
        {
            return Err(Rejected::FourEyes {
                task: task.id.clone(),
                user: actor.user.clone(),
                reason: FourEyes::OtherLevel {
                    node: other.clone(),
                },
            });
        }
    }
    if node.quorum.is_some() && task.acts.iter().any(|a| a.user == actor.user) {
        return Err(Rejected::AlreadyVoted {
            task: task.id.clone(),
            user: actor.user.clone(),
        });
    }
    Ok(())
}

/// Closes a task taken by `action`, and its SLA timer.
fn close(tx: &mut Tx<'_>, task: &Task, action: Option<String>) {
    let sla = tx.state().task(&task.id).and_then(|t| t.sla_timer.clone());
    tx.emit(Event::TaskClosed {
        task: task.id.clone(),
        action,
        at: tx.now,
    });
    tx.effect(Effect::CloseTask {
        task: task.id.clone(),
    });
    if let Some(timer) = sla {
        tx.effect(Effect::CancelTimer { timer });
    }
}

/// An SLA deadline passed: the task stays open and its escalation role may act too.
pub(super) fn escalate(tx: &mut Tx<'_>, task: TaskId, node: &NodeId) {
    let Some(NodeKind::Approval(a)) = tx.flow.get(node.as_str()).map(|n| &n.kind) else {
        return;
    };
    let Some(sla) = &a.sla else {
        return;
    };
    if tx.state().task(&task).is_none() {
        return;
    }
    let to_role = sla.escalate_to.clone();
    tx.emit(Event::TaskEscalated {
        task: task.clone(),
        to_role: to_role.clone(),
        at: tx.now,
    });
    tx.effect(Effect::EscalateTask { task, to_role });
}

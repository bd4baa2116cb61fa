//! `evolve`: the pure fold of a case's events into its state.
//!
//! Architecture invariant: this is the only place that changes a `CaseState`. `decide`
//! builds its events by applying each one here as it goes, so the state a transition
//! leaves and the state replay rebuilds are the same by construction.

use super::event::Event;
use super::ids::TaskId;
use super::state::{Act, CaseState, CaseStatus, Task, Timer, Token, Wait};
use crate::flow::{Flow, NodeId, NodeKind};

impl CaseState {
    fn next_attempt(&mut self, node: &NodeId) -> u32 {
        let n = self.attempts.entry(node.clone()).or_insert(0);
        *n += 1;
        *n
    }

    fn is_task_node(flow: &Flow, node: &NodeId) -> bool {
        matches!(
            flow.get(node.as_str()).map(|n| &n.kind),
            Some(NodeKind::Task(_))
        )
    }

    fn recompute_status(&mut self) {
        if self.status.is_final() {
            return;
        }
        let waits = self.tokens.values().map(|t| &t.wait);
        let mut status = CaseStatus::Waiting;
        for w in waits {
            match w {
                Wait::Incident { .. } => {
                    status = CaseStatus::Incident;
                    break;
                }
                Wait::Moving | Wait::Step { .. } => status = CaseStatus::Running,
                _ => {}
            }
        }
        self.status = status;
    }

    fn close_everything(&mut self) {
        self.tokens.clear();
        let open: Vec<TaskId> = self.tasks.keys().cloned().collect();
        self.closed_tasks.extend(open);
        self.tasks.clear();
        self.timers.clear();
    }

    /// Applies one event in place. Events that do not fit the state (which `decide` never
    /// produces) change nothing but the sequence number.
    pub(super) fn apply(&mut self, flow: &Flow, event: &Event) {
        self.seq += 1;
        self.updated_at = event.at();
        match event {
            Event::CaseStarted { .. } => {}
            Event::NodeEntered { node, token, at } => {
                let wait = if Self::is_task_node(flow, node) {
                    Wait::Step {
                        attempt: self.next_attempt(node),
                        failures: 0,
                        due: *at,
                    }
                } else {
                    Wait::Moving
                };
                if token.0 >= self.next_token {
                    self.next_token = token.0 + 1;
                }
                let t = self.tokens.entry(*token).or_insert_with(|| Token {
                    id: *token,
                    node: node.clone(),
                    parent: None,
                    wait: Wait::Moving,
                });
                t.node = node.clone();
                t.wait = wait;
            }
            Event::StepCompleted {
                token,
                output,
                result_var,
                ..
            } => {
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = Wait::Moving;
                }
                if let Some(name) = result_var {
                    self.vars.insert(name.clone(), output.result.clone());
                }
            }
            Event::StepFailed {
                node,
                token,
                retry_at,
                ..
            } => {
                let failures = match self.tokens.get(token).map(|t| &t.wait) {
                    Some(Wait::Step { failures, .. }) => *failures + 1,
                    _ => 1,
                };
                let next = match retry_at {
                    Some(due) => Wait::Step {
                        attempt: self.next_attempt(node),
                        failures,
                        due: *due,
                    },
                    // The incident that follows replaces this; keep the count until then.
                    None => Wait::Step {
                        attempt: self.attempts.get(node).copied().unwrap_or(0),
                        failures,
                        due: event.at(),
                    },
                };
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = next;
                }
            }
            Event::IncidentRaised {
                token,
                cause,
                attempts,
                at,
                ..
            } => {
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = Wait::Incident {
                        cause: cause.clone(),
                        attempts: *attempts,
                        since: *at,
                    };
                }
            }
            Event::IncidentResolved {
                node, token, at, ..
            } => {
                let wait = if Self::is_task_node(flow, node) {
                    Wait::Step {
                        attempt: self.next_attempt(node),
                        failures: 0,
                        due: *at,
                    }
                } else {
                    Wait::Moving
                };
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = wait;
                }
            }
            Event::RouteTaken { .. } => {}
            Event::TaskOpened {
                task,
                node,
                token,
                role,
                authority,
                due,
                at,
            } => {
                self.tasks.insert(
                    task.clone(),
                    Task {
                        id: task.clone(),
                        node: node.clone(),
                        token: *token,
                        role: role.clone(),
                        escalated_to: None,
                        authority: *authority,
                        due: *due,
                        sla_timer: None,
                        acts: Vec::new(),
                        opened_at: *at,
                    },
                );
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = Wait::Task { task: task.clone() };
                }
            }
            Event::TaskActed {
                task,
                action,
                actor,
                at,
                ..
            } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.acts.push(Act {
                        user: actor.user.clone(),
                        action: action.clone(),
                        at: *at,
                    });
                    self.acted
                        .entry(actor.user.clone())
                        .or_default()
                        .insert(t.node.clone());
                }
            }
            Event::TaskEscalated { task, to_role, .. } => {
                if let Some(t) = self.tasks.get_mut(task) {
                    t.escalated_to = Some(to_role.clone());
                }
            }
            Event::TaskClosed { task, .. } => {
                if let Some(t) = self.tasks.remove(task) {
                    if let Some(timer) = &t.sla_timer {
                        self.timers.remove(timer);
                    }
                    if let Some(tok) = self.tokens.get_mut(&t.token)
                        && tok.wait == (Wait::Task { task: task.clone() })
                    {
                        tok.wait = Wait::Moving;
                    }
                }
                self.closed_tasks.insert(task.clone());
            }
            Event::TimerArmed {
                timer,
                node,
                token,
                task,
                due,
                ..
            } => {
                self.timers.insert(
                    timer.clone(),
                    Timer {
                        id: timer.clone(),
                        node: node.clone(),
                        token: *token,
                        task: task.clone(),
                        due: *due,
                    },
                );
                match task {
                    Some(task) => {
                        if let Some(t) = self.tasks.get_mut(task) {
                            t.sla_timer = Some(timer.clone());
                        }
                    }
                    None => {
                        if let Some(t) = self.tokens.get_mut(token) {
                            t.wait = Wait::Timer {
                                timer: timer.clone(),
                            };
                        }
                    }
                }
            }
            Event::TimerFired { timer, .. } => {
                if let Some(armed) = self.timers.remove(timer) {
                    match &armed.task {
                        Some(task) => {
                            if let Some(t) = self.tasks.get_mut(task) {
                                t.sla_timer = None;
                            }
                        }
                        None => {
                            if let Some(t) = self.tokens.get_mut(&armed.token) {
                                t.wait = Wait::Moving;
                            }
                        }
                    }
                }
            }
            Event::BranchForked {
                token, branches, ..
            } => {
                if let Some(t) = self.tokens.get_mut(token) {
                    t.wait = Wait::Branches {
                        pending: branches.len() as u32,
                    };
                }
                for b in branches {
                    self.tokens.insert(
                        b.token,
                        Token {
                            id: b.token,
                            node: b.node.clone(),
                            parent: Some(*token),
                            wait: Wait::Moving,
                        },
                    );
                    if b.token.0 >= self.next_token {
                        self.next_token = b.token.0 + 1;
                    }
                }
            }
            Event::BranchJoined {
                token,
                parent,
                remaining,
                ..
            } => {
                self.tokens.remove(token);
                if let Some(p) = self.tokens.get_mut(parent) {
                    p.wait = if *remaining == 0 {
                        Wait::Moving
                    } else {
                        Wait::Branches {
                            pending: *remaining,
                        }
                    };
                }
            }
            Event::CaseCompleted { outcome, .. } => {
                self.close_everything();
                self.outcome = Some(outcome.clone());
                self.status = CaseStatus::Completed;
            }
            Event::CaseCancelled { .. } => {
                self.close_everything();
                self.status = CaseStatus::Cancelled;
            }
        }
        self.recompute_status();
    }
}

/// Applies one event: the pure fold that replay is made of.
pub fn evolve(flow: &Flow, mut state: CaseState, event: &Event) -> CaseState {
    state.apply(flow, event);
    state
}

//! The state of one case and `evolve`, the pure fold of its events.
//!
//! Architecture invariant: this is the only place that changes a `CaseState`. `decide`
//! builds its events by applying each one here as it goes, so the state a transition
//! leaves and the state replay rebuilds are the same by construction.

use super::event::{Event, IncidentCause};
use super::ids::{CaseId, TaskId, TimerId, TokenId};
use crate::flow::{Flow, NodeId, NodeKind};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// Automatic work is pending (a plugin run, possibly after a backoff).
    Running,
    /// Waits only for people or the clock.
    Waiting,
    /// At least one token stopped at an incident; a supervisor must retry or cancel.
    Incident,
    Completed,
    Cancelled,
}

impl CaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Running => "running",
            CaseStatus::Waiting => "waiting",
            CaseStatus::Incident => "incident",
            CaseStatus::Completed => "completed",
            CaseStatus::Cancelled => "cancelled",
        }
    }

    /// Completed or cancelled: no command changes the case any more.
    pub fn is_final(self) -> bool {
        matches!(self, CaseStatus::Completed | CaseStatus::Cancelled)
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A position in the graph and what it waits for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub id: TokenId,
    pub node: NodeId,
    /// The token parked at the parallel node that started this one.
    pub parent: Option<TokenId>,
    pub wait: Wait,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Wait {
    /// Passing through automatic nodes inside one transition; never left after one.
    Moving,
    /// A plugin run of attempt `attempt` is due at `due`; `failures` failed runs precede
    /// it in this round.
    Step {
        attempt: u32,
        failures: u32,
        due: DateTime<Utc>,
    },
    Timer {
        timer: TimerId,
    },
    Task {
        task: TaskId,
    },
    /// Parked at a parallel node until `pending` child tokens reach its join.
    Branches {
        pending: u32,
    },
    Incident {
        cause: IncidentCause,
        attempts: u32,
        since: DateTime<Utc>,
    },
}

/// An open human task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub id: TaskId,
    pub node: NodeId,
    pub token: TokenId,
    pub role: String,
    /// Set once the SLA ran out: holders of this role may act too.
    pub escalated_to: Option<String>,
    pub authority: Option<f64>,
    pub due: Option<DateTime<Utc>>,
    /// The armed SLA timer, until it fires.
    pub sla_timer: Option<TimerId>,
    /// Actions taken so far (quorum votes), in order.
    pub acts: Vec<Act>,
    pub opened_at: DateTime<Utc>,
}

impl Task {
    /// Votes cast for `action` so far.
    pub fn count(&self, action: &str) -> u32 {
        self.acts.iter().filter(|a| a.action == action).count() as u32
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Act {
    pub user: String,
    pub action: String,
    pub at: DateTime<Utc>,
}

/// An armed timer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timer {
    pub id: TimerId,
    pub node: NodeId,
    pub token: TokenId,
    /// The task whose SLA this is; `None` for a timer node.
    pub task: Option<TaskId>,
    pub due: DateTime<Utc>,
}

/// Everything the state machine knows about one case. Built from a `CaseStarted` event
/// and changed only by [`evolve`]; serialisable, so the store keeps it as a snapshot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseState {
    pub(super) case_id: CaseId,
    pub(super) flow_id: String,
    pub(super) flow_hash: String,
    pub(super) status: CaseStatus,
    pub(super) initiator: String,
    pub(super) business_date: NaiveDate,
    pub(super) started_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    /// Case variables: always a JSON object.
    pub(super) vars: Value,
    pub(super) tokens: BTreeMap<TokenId, Token>,
    pub(super) next_token: u32,
    pub(super) tasks: BTreeMap<TaskId, Task>,
    pub(super) closed_tasks: BTreeSet<TaskId>,
    pub(super) timers: BTreeMap<TimerId, Timer>,
    /// Last attempt number handed out per task node.
    pub(super) attempts: BTreeMap<NodeId, u32>,
    /// Who acted on which approval nodes (four-eyes across levels).
    pub(super) acted: BTreeMap<String, BTreeSet<NodeId>>,
    pub(super) outcome: Option<String>,
    /// Number of events applied: the seq of the last event when seqs start at 1.
    pub(super) seq: u64,
}

impl CaseState {
    pub fn case_id(&self) -> CaseId {
        self.case_id
    }
    pub fn flow_id(&self) -> &str {
        &self.flow_id
    }
    pub fn flow_hash(&self) -> &str {
        &self.flow_hash
    }
    pub fn status(&self) -> CaseStatus {
        self.status
    }
    pub fn initiator(&self) -> &str {
        &self.initiator
    }
    pub fn business_date(&self) -> NaiveDate {
        self.business_date
    }
    pub fn started_at(&self) -> DateTime<Utc> {
        self.started_at
    }
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// The case variables (a JSON object).
    pub fn vars(&self) -> &Value {
        &self.vars
    }
    pub fn tokens(&self) -> impl Iterator<Item = &Token> {
        self.tokens.values()
    }
    pub fn tasks(&self) -> impl Iterator<Item = &Task> {
        self.tasks.values()
    }
    pub fn task(&self, id: &TaskId) -> Option<&Task> {
        self.tasks.get(id)
    }
    pub fn timers(&self) -> impl Iterator<Item = &Timer> {
        self.timers.values()
    }
    /// The outcome of the end node reached, once completed.
    pub fn outcome(&self) -> Option<&str> {
        self.outcome.as_deref()
    }
    /// Number of events applied.
    pub fn seq(&self) -> u64 {
        self.seq
    }
    /// Tokens stopped at incidents.
    pub fn incidents(&self) -> impl Iterator<Item = &Token> {
        self.tokens
            .values()
            .filter(|t| matches!(t.wait, Wait::Incident { .. }))
    }
    /// Plugin runs the case waits for: (node, attempt, due).
    pub fn pending_steps(&self) -> impl Iterator<Item = (&NodeId, u32, DateTime<Utc>)> {
        self.tokens.values().filter_map(|t| match t.wait {
            Wait::Step { attempt, due, .. } => Some((&t.node, attempt, due)),
            _ => None,
        })
    }

    /// The state right after `CaseStarted`; `None` for any other event.
    pub fn from_started(event: &Event) -> Option<CaseState> {
        let Event::CaseStarted {
            case_id,
            flow_id,
            flow_hash,
            input,
            initiator,
            business_date,
            at,
        } = event
        else {
            return None;
        };
        let vars = match input {
            Value::Object(m) => Value::Object(m.clone()),
            _ => Value::Object(serde_json::Map::new()),
        };
        Some(CaseState {
            case_id: *case_id,
            flow_id: flow_id.clone(),
            flow_hash: flow_hash.clone(),
            status: CaseStatus::Running,
            initiator: initiator.clone(),
            business_date: *business_date,
            started_at: *at,
            updated_at: *at,
            vars,
            tokens: BTreeMap::new(),
            next_token: 0,
            tasks: BTreeMap::new(),
            closed_tasks: BTreeSet::new(),
            timers: BTreeMap::new(),
            attempts: BTreeMap::new(),
            acted: BTreeMap::new(),
            outcome: None,
            seq: 1,
        })
    }

    /// The approval nodes `user` acted on in this case.
    pub(super) fn acted_on(&self, user: &str) -> Option<&BTreeSet<NodeId>> {
        self.acted.get(user)
    }

    pub(super) fn token(&self, id: TokenId) -> Option<&Token> {
        self.tokens.get(&id)
    }

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
                if let (Some(name), Value::Object(vars)) = (result_var, &mut self.vars) {
                    vars.insert(name.clone(), output.result.clone());
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

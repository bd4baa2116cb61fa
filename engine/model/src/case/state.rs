//! The state of one case: tokens and what they wait for, open tasks, armed timers,
//! variables. Changed only by `evolve` (in `evolve.rs`).

use super::event::{Event, IncidentCause};
use super::ids::{CaseId, TaskId, TimerId, TokenId};
use super::vars::Vars;
use crate::flow::NodeId;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
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

    /// The inverse of [`CaseStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "running" => CaseStatus::Running,
            "waiting" => CaseStatus::Waiting,
            "incident" => CaseStatus::Incident,
            "completed" => CaseStatus::Completed,
            "cancelled" => CaseStatus::Cancelled,
            _ => return None,
        })
    }

    /// Completed or cancelled: no command changes the case any more (and, in the store,
    /// the case owns no jobs, timers or open tasks).
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
    /// Case variables: the input overlaid by step results, shared with the events that
    /// brought them (cloning the state copies no JSON).
    pub(super) vars: Vars,
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
    /// The case variables (one JSON object).
    pub fn vars(&self) -> &Vars {
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
            ..
        } = event
        else {
            return None;
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
            vars: Vars::from_input(input.clone()),
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
}

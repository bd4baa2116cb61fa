//! Events: the append-only history of a case. Replaying them rebuilds its state.
//!
//! # The stored form, and how it may change
//!
//! An event is stored as its `type` tag (`Event::kind`) and the canonical JSON of
//! `#[serde(tag = "type")]` without that tag; the hash chain covers those bytes, so stored
//! events are never rewritten. The rules that keep every history readable:
//!
//! - A field, once shipped, keeps its name, type and meaning. Nothing is renamed or removed.
//! - A new field is optional on read (`#[serde(default)]`, absent = its old meaning), so
//!   older events decode unchanged. A new field that is absent in its default is not
//!   written either (`skip_serializing_if`), so an event that does not use it keeps its
//!   bytes.
//! - Each such extension raises [`EVENT_FORMAT`]. A case records the format it was written
//!   in once, in `CaseStarted::format` (absent: format 1), and [`Event::decode`] is the one
//!   entry point readers use: it reads every format up to [`EVENT_FORMAT`] and refuses a
//!   history from a newer one instead of misreading it.
//!
//! Formats: **1** — the original form. **2** — `case_started` carries `format`; the
//! `actor` of `task_acted` carries `directory`, the SHA-256 of the approver directory that
//! vouched for the actor's roles and limit.

use super::ids::{Actor, CaseId, TaskId, TimerId, TokenId};
use crate::doc::Doc;
use crate::flow::NodeId;
use crate::plugin::{PluginBuild, StepError, StepOutput};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// The version of the stored form that this build writes (see the module comment).
pub const EVENT_FORMAT: u32 = 2;

/// What a `case_started` without `format` was written in.
fn format_1() -> u32 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    CaseStarted {
        /// The stored form the case's history is written in ([`EVENT_FORMAT`] when it
        /// started; absent in format 1).
        #[serde(default = "format_1")]
        format: u32,
        case_id: CaseId,
        flow_id: String,
        flow_hash: String,
        /// Shared with the case variables.
        input: Doc,
        initiator: String,
        business_date: NaiveDate,
        at: DateTime<Utc>,
    },
    /// A token arrived at a node.
    NodeEntered {
        node: NodeId,
        token: TokenId,
        at: DateTime<Utc>,
    },
    /// A plugin run succeeded; `output.result` lands in `result_var` when the node names one.
    StepCompleted {
        node: NodeId,
        token: TokenId,
        attempt: u32,
        plugin: PluginBuild,
        duration_us: u64,
        /// `StepInput::digest` of the input the plugin was given.
        input_digest: String,
        output: StepOutput,
        result_var: Option<String>,
        at: DateTime<Utc>,
    },
    /// A plugin run failed. `retry_at` is when the next attempt runs; `None` means no
    /// retry (an `IncidentRaised` follows).
    StepFailed {
        node: NodeId,
        token: TokenId,
        attempt: u32,
        error: StepError,
        build: Option<PluginBuild>,
        retry_at: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// The token stops at `node` until a supervisor retries or cancels.
    IncidentRaised {
        node: NodeId,
        token: TokenId,
        cause: IncidentCause,
        /// Failed runs in the last round (0 for incidents that are not plugin failures).
        attempts: u32,
        at: DateTime<Utc>,
    },
    /// A supervisor's retry: the node runs again.
    IncidentResolved {
        node: NodeId,
        token: TokenId,
        by: String,
        comment: Option<String>,
        at: DateTime<Utc>,
    },
    /// A decision chose a route. `route_index` is `None` for `otherwise`; `values` are the
    /// variables the route's expression read (for `otherwise`: those every route read).
    RouteTaken {
        node: NodeId,
        token: TokenId,
        route_index: Option<usize>,
        expression: Option<String>,
        values: BTreeMap<String, Value>,
        to: NodeId,
        at: DateTime<Utc>,
    },
    TaskOpened {
        task: TaskId,
        node: NodeId,
        token: TokenId,
        role: String,
        /// The value of `assign.authority` at opening; approvers' limits must cover it.
        authority: Option<f64>,
        /// SLA deadline.
        due: Option<DateTime<Utc>>,
        at: DateTime<Utc>,
    },
    /// A person acted: a vote in a quorum, or the deciding action (a `TaskClosed` naming
    /// the action follows).
    TaskActed {
        task: TaskId,
        action: String,
        actor: Actor,
        comment: Option<String>,
        at: DateTime<Utc>,
    },
    TaskEscalated {
        task: TaskId,
        to_role: String,
        at: DateTime<Utc>,
    },
    /// `action` is the action taken; `None` when the case ended or was cancelled around it.
    TaskClosed {
        task: TaskId,
        action: Option<String>,
        at: DateTime<Utc>,
    },
    /// `task` is set for an SLA deadline; otherwise the token waits at a timer node.
    TimerArmed {
        timer: TimerId,
        node: NodeId,
        token: TokenId,
        task: Option<TaskId>,
        due: DateTime<Utc>,
        at: DateTime<Utc>,
    },
    TimerFired {
        timer: TimerId,
        at: DateTime<Utc>,
    },
    /// A parallel node parked `token` and started one child token per branch.
    BranchForked {
        node: NodeId,
        token: TokenId,
        branches: Vec<Branch>,
        at: DateTime<Utc>,
    },
    /// A child token reached the join; `remaining` children are still on their way. At 0
    /// the parent token goes on from the join.
    BranchJoined {
        node: NodeId,
        token: TokenId,
        parent: TokenId,
        remaining: u32,
        at: DateTime<Utc>,
    },
    CaseCompleted {
        outcome: String,
        at: DateTime<Utc>,
    },
    CaseCancelled {
        by: String,
        reason: String,
        at: DateTime<Utc>,
    },
}

/// Why a stored event could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("`{kind}` event: {message}")]
    Invalid { kind: String, message: String },
    #[error(
        "the history is in event format {format}, newer than this build reads (up to {EVENT_FORMAT})"
    )]
    NewerFormat { format: u32 },
}

impl Event {
    /// Reads a stored event: its `type` tag and its canonical payload (the rest of the
    /// object). Reads every format up to [`EVENT_FORMAT`]; a `case_started` of a newer
    /// format is refused, since the events after it may mean what this build cannot know.
    pub fn decode(kind: &str, payload: &str) -> Result<Event, DecodeError> {
        let invalid = |e: serde_json::Error| DecodeError::Invalid {
            kind: kind.to_string(),
            message: e.to_string(),
        };
        let mut value: Value = serde_json::from_str(payload).map_err(invalid)?;
        let Some(map) = value.as_object_mut() else {
            return Err(DecodeError::Invalid {
                kind: kind.to_string(),
                message: "the payload is not a JSON object".into(),
            });
        };
        map.insert("type".into(), Value::String(kind.to_string()));
        let event: Event = serde_json::from_value(value).map_err(invalid)?;
        if let Event::CaseStarted { format, .. } = event
            && format > EVENT_FORMAT
        {
            return Err(DecodeError::NewerFormat { format });
        }
        Ok(event)
    }

    /// The `type` tag, e.g. `node_entered`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::CaseStarted { .. } => "case_started",
            Event::NodeEntered { .. } => "node_entered",
            Event::StepCompleted { .. } => "step_completed",
            Event::StepFailed { .. } => "step_failed",
            Event::IncidentRaised { .. } => "incident_raised",
            Event::IncidentResolved { .. } => "incident_resolved",
            Event::RouteTaken { .. } => "route_taken",
            Event::TaskOpened { .. } => "task_opened",
            Event::TaskActed { .. } => "task_acted",
            Event::TaskEscalated { .. } => "task_escalated",
            Event::TaskClosed { .. } => "task_closed",
            Event::TimerArmed { .. } => "timer_armed",
            Event::TimerFired { .. } => "timer_fired",
            Event::BranchForked { .. } => "branch_forked",
            Event::BranchJoined { .. } => "branch_joined",
            Event::CaseCompleted { .. } => "case_completed",
            Event::CaseCancelled { .. } => "case_cancelled",
        }
    }

    /// When it happened.
    pub fn at(&self) -> DateTime<Utc> {
        match self {
            Event::CaseStarted { at, .. }
            | Event::NodeEntered { at, .. }
            | Event::StepCompleted { at, .. }
            | Event::StepFailed { at, .. }
            | Event::IncidentRaised { at, .. }
            | Event::IncidentResolved { at, .. }
            | Event::RouteTaken { at, .. }
            | Event::TaskOpened { at, .. }
            | Event::TaskActed { at, .. }
            | Event::TaskEscalated { at, .. }
            | Event::TaskClosed { at, .. }
            | Event::TimerArmed { at, .. }
            | Event::TimerFired { at, .. }
            | Event::BranchForked { at, .. }
            | Event::BranchJoined { at, .. }
            | Event::CaseCompleted { at, .. }
            | Event::CaseCancelled { at, .. } => *at,
        }
    }
}

/// One branch of a fork: the child token and the node it starts at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branch {
    pub token: TokenId,
    pub node: NodeId,
}

/// Why a token stopped at an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum IncidentCause {
    /// A plugin failed and its retries ran out (or the failure is not worth a retry).
    Step { error: StepError },
    /// An expression (route, authority, timer date) could not be evaluated.
    Expression { expression: String, message: String },
    /// The graph misbehaved at run time (a token at a foreign join, an automatic loop).
    Flow { message: String },
}

impl IncidentCause {
    /// The plugin involved, for step failures.
    pub fn plugin(&self) -> Option<&str> {
        match self {
            IncidentCause::Step { error } => Some(&error.plugin),
            _ => None,
        }
    }

    /// One line saying what went wrong.
    pub fn message(&self) -> String {
        match self {
            IncidentCause::Step { error } => error.to_string(),
            IncidentCause::Expression {
                expression,
                message,
            } => format!("expression `{expression}`: {message}"),
            IncidentCause::Flow { message } => message.clone(),
        }
    }
}

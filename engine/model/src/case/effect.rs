//! Effects: what the runtime must do after committing a transition.

use super::event::Event;
use super::ids::{TaskId, TimerId};
use crate::flow::NodeId;
use crate::plugin::PluginRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// Run a task node's plugin at `due` (now, or later after a backoff) and answer with
    /// `StepSucceeded`/`StepFailed` carrying the same `node` and `attempt`. Attempt numbers
    /// count every run of the node in this case, so a result for an earlier run is stale.
    RunPlugin {
        node: NodeId,
        attempt: u32,
        plugin: PluginRef,
        due: DateTime<Utc>,
        /// The node's time limit; the runtime's default when `None`.
        timeout: Option<Duration>,
    },
    /// A plugin run that is no longer wanted (the case ended while it was pending).
    CancelStep {
        node: NodeId,
        attempt: u32,
    },
    /// Answer with `TimerFired { timer }` once `due` has passed (timer nodes and SLAs).
    ArmTimer {
        timer: TimerId,
        due: DateTime<Utc>,
    },
    CancelTimer {
        timer: TimerId,
    },
    /// Put a task in the inbox of `role` (and of approvers whose limit covers `authority`).
    OpenTask {
        task: TaskId,
        node: NodeId,
        role: String,
        authority: Option<f64>,
        due: Option<DateTime<Utc>>,
    },
    /// The task's SLA ran out: it now also shows in `to_role`'s inbox.
    EscalateTask {
        task: TaskId,
        to_role: String,
    },
    CloseTask {
        task: TaskId,
    },
    /// The case reached an end node.
    CompleteCase {
        outcome: String,
    },
    /// The case was cancelled.
    CancelCase {
        reason: String,
    },
}

/// The result of a command: events to append (in order) and effects to carry out after
/// the commit.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub events: Vec<Event>,
    pub effects: Vec<Effect>,
}

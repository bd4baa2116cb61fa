//! Commands: everything that can happen to a case, as data.

use super::ids::{Actor, CaseId, TaskId, TimerId};
use crate::flow::NodeId;
use crate::plugin::{CallReport, PluginBuild, StepError};
use chrono::NaiveDate;

/// Starts a case. Separate from [`Command`] because there is no state yet: see
/// [`super::start`].
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub case_id: CaseId,
    /// Checked against the flow's input schema; its fields become the case variables.
    pub input: serde_json::Value,
    pub initiator: String,
    /// The case's "today" for plugins; `now`'s date (UTC) when `None`.
    pub business_date: Option<NaiveDate>,
}

/// A command on a running case: see [`super::decide`].
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// A plugin call finished. A report whose `output` is an error is handled as
    /// [`Command::StepFailed`] with the report's build.
    StepSucceeded {
        node: NodeId,
        attempt: u32,
        report: CallReport,
        /// `StepInput::digest` of the input the plugin was given (computed by the runtime).
        input_digest: String,
    },
    /// A plugin call could not even produce a report (unknown plugin, load failure…).
    StepFailed {
        node: NodeId,
        attempt: u32,
        error: StepError,
        build: Option<PluginBuild>,
    },
    /// A timer armed by this case is due.
    TimerFired { timer: TimerId },
    /// A person acts on a task.
    HumanAction {
        task: TaskId,
        action: String,
        actor: Actor,
        comment: Option<String>,
    },
    /// A supervisor re-runs the nodes the case has incidents at.
    RetryIncident {
        actor: String,
        comment: Option<String>,
    },
    /// A supervisor (or the initiator) cancels the case.
    Cancel { actor: String, reason: String },
}

//! The decision explanation: every decision a case went through, in order — each route
//! with its expression and the values it read, each plugin run with its build (name,
//! version, SHA-256), duration, input digest and output, each failure and incident, and
//! each person's action with the directory that vouched for them.

use super::history::route_label;
use super::{CaseView, HistoryEntry};
use crate::case::{Event, IncidentCause};
use crate::plugin::{PluginBuild, StepError, StepOutput};
use crate::store::{CaseStatus, Time};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub case_id: Uuid,
    pub flow_id: String,
    pub flow_version: i64,
    pub flow_hash: String,
    pub status: CaseStatus,
    pub outcome: Option<String>,
    pub decisions: Vec<Decided>,
}

/// One decision and where it sits in the history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decided {
    /// The event that records it.
    pub seq: i64,
    pub at: Time,
    #[serde(flatten)]
    pub decision: Decision,
    /// The same, in one line.
    pub description: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    /// A decision node chose a route.
    Route {
        node: String,
        /// 0-based index of the route taken; `None` for `otherwise`.
        route_index: Option<usize>,
        /// `route 2 `expr`` or `otherwise`.
        label: String,
        expression: Option<String>,
        /// The variables the expression read (for `otherwise`: those every route read).
        values: BTreeMap<String, Value>,
        to: String,
    },
    /// A plugin run succeeded.
    Step {
        node: String,
        attempt: u32,
        plugin: String,
        version: String,
        sha256: String,
        duration_us: u64,
        /// SHA-256 of exactly the input the plugin received (`StepInput::digest`).
        input_digest: String,
        /// The case variable its result was stored in.
        result_var: Option<String>,
        output: StepOutput,
    },
    /// A plugin run failed; `retry_at` says when it runs again (`None`: no retry).
    StepFailed {
        node: String,
        attempt: u32,
        error: StepError,
        build: Option<PluginBuild>,
        retry_at: Option<Time>,
    },
    /// A token stopped at an incident.
    Incident {
        node: String,
        error: String,
        cause: IncidentCause,
        attempts: u32,
    },
    /// A supervisor retried the node.
    IncidentResolved {
        node: String,
        by: String,
        comment: Option<String>,
    },
    /// A person acted on a task.
    Human {
        task: String,
        action: String,
        user: String,
        roles: Vec<String>,
        authority_limit: Option<f64>,
        /// SHA-256 of the approver directory that granted the roles and the limit
        /// (`None` in histories older than event format 2).
        directory: Option<String>,
        comment: Option<String>,
    },
}

impl Decision {
    /// The decision an event records, if it records one.
    pub fn of(event: &Event) -> Option<Decision> {
        Some(match event {
            Event::RouteTaken {
                node,
                route_index,
                expression,
                values,
                to,
                ..
            } => Decision::Route {
                node: node.to_string(),
                route_index: *route_index,
                label: route_label(*route_index, expression.as_deref()),
                expression: expression.clone(),
                values: values.clone(),
                to: to.to_string(),
            },
            Event::StepCompleted {
                node,
                attempt,
                plugin,
                duration_us,
                input_digest,
                output,
                result_var,
                ..
            } => Decision::Step {
                node: node.to_string(),
                attempt: *attempt,
                plugin: plugin.name.clone(),
                version: plugin.version.clone(),
                sha256: plugin.sha256.clone(),
                duration_us: *duration_us,
                input_digest: input_digest.clone(),
                result_var: result_var.clone(),
                output: output.clone(),
            },
            Event::StepFailed {
                node,
                attempt,
                error,
                build,
                retry_at,
                ..
            } => Decision::StepFailed {
                node: node.to_string(),
                attempt: *attempt,
                error: error.clone(),
                build: build.clone(),
                retry_at: *retry_at,
            },
            Event::IncidentRaised {
                node,
                cause,
                attempts,
                ..
            } => Decision::Incident {
                node: node.to_string(),
                error: cause.message(),
                cause: cause.clone(),
                attempts: *attempts,
            },
            Event::IncidentResolved {
                node, by, comment, ..
            } => Decision::IncidentResolved {
                node: node.to_string(),
                by: by.clone(),
                comment: comment.clone(),
            },
            Event::TaskActed {
                task,
                action,
                actor,
                comment,
                ..
            } => Decision::Human {
                task: task.to_string(),
                action: action.clone(),
                user: actor.user.clone(),
                roles: actor.roles.clone(),
                authority_limit: actor.authority_limit,
                directory: actor.directory.clone(),
                comment: comment.clone(),
            },
            _ => return None,
        })
    }

    /// `route`, `step`, `step_failed`, `incident`, `incident_resolved` or `human`.
    pub fn kind(&self) -> &'static str {
        match self {
            Decision::Route { .. } => "route",
            Decision::Step { .. } => "step",
            Decision::StepFailed { .. } => "step_failed",
            Decision::Incident { .. } => "incident",
            Decision::IncidentResolved { .. } => "incident_resolved",
            Decision::Human { .. } => "human",
        }
    }
}

impl Explanation {
    pub fn of(case: &CaseView, history: &[HistoryEntry]) -> Explanation {
        Explanation {
            case_id: case.id,
            flow_id: case.flow_id.clone(),
            flow_version: case.flow_version,
            flow_hash: case.flow_hash.clone(),
            status: case.status,
            outcome: case.outcome.clone(),
            decisions: history
                .iter()
                .filter_map(|h| {
                    Decision::of(&h.event).map(|decision| Decided {
                        seq: h.seq,
                        at: h.event.at(),
                        decision,
                        description: h.description.clone(),
                    })
                })
                .collect(),
        }
    }
}

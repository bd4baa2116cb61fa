//! The case view: what a case is and what it waits for, from the state its history
//! replays to.

use crate::case::{CaseState, Event, IncidentCause, Task, Timer, Wait};
use crate::store::{CaseRecord, CaseStatus, FlowVersion, TaskRecord, Time};
use chrono::NaiveDate;
use serde::Serialize;
use uuid::Uuid;

use super::HistoryEntry;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseView {
    pub id: Uuid,
    pub flow_id: String,
    pub flow_version: i64,
    /// SHA-256 of the flow version's YAML.
    pub flow_hash: String,
    pub status: CaseStatus,
    pub outcome: Option<String>,
    pub initiator: String,
    pub business_date: NaiveDate,
    pub created_at: Time,
    pub updated_at: Time,
    /// Events in its history.
    pub events: i64,
    /// The stored form its history is written in (`case::EVENT_FORMAT` when it started).
    pub event_format: u32,
    pub waits_for: Waits,
}

/// What a case waits for. Empty when it ended.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Waits {
    pub tasks: Vec<TaskView>,
    /// Timer nodes and SLA deadlines.
    pub timers: Vec<TimerView>,
    /// Tokens stopped at an incident: a supervisor must retry or cancel.
    pub incidents: Vec<IncidentView>,
    /// Plugin runs due (now, or after a retry's backoff).
    pub steps: Vec<PendingStep>,
}

impl Waits {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
            && self.timers.is_empty()
            && self.incidents.is_empty()
            && self.steps.is_empty()
    }
}

/// An open human task.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TaskView {
    pub task_id: String,
    pub case_id: Uuid,
    pub flow_id: String,
    pub node: String,
    pub role: String,
    /// The role it was escalated to after its SLA ran out (it shows in both inboxes).
    pub escalated_to: Option<String>,
    /// The amount an approver's limit must cover.
    pub authority: Option<f64>,
    pub due: Option<Time>,
    pub opened_at: Time,
}

impl From<TaskRecord> for TaskView {
    fn from(t: TaskRecord) -> Self {
        TaskView {
            task_id: t.task_id,
            case_id: t.case_id,
            flow_id: t.flow_id,
            node: t.node,
            role: t.role,
            escalated_to: t.escalated_to,
            authority: t.authority,
            due: t.due,
            opened_at: t.opened_at,
        }
    }
}

impl TaskView {
    fn of(state: &CaseState, t: &Task) -> Self {
        TaskView {
            task_id: t.id.to_string(),
            case_id: state.case_id().as_uuid(),
            flow_id: state.flow_id().to_string(),
            node: t.node.to_string(),
            role: t.role.clone(),
            escalated_to: t.escalated_to.clone(),
            authority: t.authority,
            due: t.due,
            opened_at: t.opened_at,
        }
    }

    /// `role credit_officer (escalated to …), authority ≥ 120000, due 2026-01-05 10:00`.
    pub fn describe(&self) -> String {
        format!(
            "role {}{}{}{}",
            self.role,
            self.escalated_to
                .as_deref()
                .map(|r| format!(" (escalated to {r})"))
                .unwrap_or_default(),
            self.authority
                .map(|a| format!(", authority ≥ {a}"))
                .unwrap_or_default(),
            self.due
                .map(|d| format!(", due {}", d.format("%Y-%m-%d %H:%M")))
                .unwrap_or_default(),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimerView {
    pub timer_id: String,
    pub node: String,
    /// The task whose SLA deadline this is; `None` for a timer node.
    pub task: Option<String>,
    pub due: Time,
}

impl From<&Timer> for TimerView {
    fn from(t: &Timer) -> Self {
        TimerView {
            timer_id: t.id.to_string(),
            node: t.node.to_string(),
            task: t.task.as_ref().map(|t| t.to_string()),
            due: t.due,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidentView {
    pub node: String,
    /// One line saying what went wrong.
    pub error: String,
    /// The plugin involved, for step failures.
    pub plugin: Option<String>,
    pub cause: IncidentCause,
    /// Failed runs in the last round (0 for incidents that are not plugin failures).
    pub attempts: u32,
    pub since: Time,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PendingStep {
    pub node: String,
    pub attempt: u32,
    pub due: Time,
}

impl CaseView {
    /// The view of a case from its row, its flow version, the state its history replays
    /// to, and that history.
    pub fn new(
        record: &CaseRecord,
        version: &FlowVersion,
        state: &CaseState,
        history: &[HistoryEntry],
    ) -> Self {
        let event_format = match history.first().map(|h| &h.event) {
            Some(Event::CaseStarted { format, .. }) => *format,
            _ => 1,
        };
        let incidents = state
            .tokens()
            .filter_map(|t| match &t.wait {
                Wait::Incident {
                    cause,
                    attempts,
                    since,
                } => Some(IncidentView {
                    node: t.node.to_string(),
                    error: cause.message(),
                    plugin: cause.plugin().map(str::to_string),
                    cause: cause.clone(),
                    attempts: *attempts,
                    since: *since,
                }),
                _ => None,
            })
            .collect();
        CaseView {
            id: record.id,
            flow_id: version.flow_id.clone(),
            flow_version: version.version,
            flow_hash: version.hash.clone(),
            status: record.status,
            outcome: record.outcome.clone(),
            initiator: state.initiator().to_string(),
            business_date: state.business_date(),
            created_at: record.created_at,
            updated_at: record.updated_at,
            events: record.head.seq,
            event_format,
            waits_for: Waits {
                tasks: state.tasks().map(|t| TaskView::of(state, t)).collect(),
                timers: state.timers().map(TimerView::from).collect(),
                incidents,
                steps: state
                    .pending_steps()
                    .map(|(node, attempt, due)| PendingStep {
                        node: node.to_string(),
                        attempt,
                        due,
                    })
                    .collect(),
            },
        }
    }
}

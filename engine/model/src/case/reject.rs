//! Rejections: commands that do not apply to the case. A rejected command produces no
//! event and no effect, so the runtime can treat a redelivered command as a no-op.

use super::ids::{TaskId, TimerId};
use super::state::CaseStatus;
use crate::flow::NodeId;
use crate::schema::SchemaError;
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Rejected {
    #[error(
        "the case input does not match the flow's input schema: {}",
        list(errors)
    )]
    InvalidInput { errors: Vec<SchemaError> },
    #[error("the case runs flow version {expected}, not {found}")]
    FlowMismatch { expected: String, found: String },
    #[error("the case is {status}: it takes no more commands")]
    CaseClosed { status: CaseStatus },
    #[error("stale result for node `{node}` attempt {attempt}: {}", match running {
        Some(r) => format!("attempt {r} is the one running"),
        None => "no run of that node is pending".to_string(),
    })]
    Stale {
        node: NodeId,
        attempt: u32,
        running: Option<u32>,
    },
    #[error("timer `{timer}` is not armed on this case")]
    UnknownTimer { timer: TimerId },
    #[error("timer `{timer}` is due at {due}, not yet")]
    TimerNotDue { timer: TimerId, due: DateTime<Utc> },
    #[error("task `{task}` does not belong to this case")]
    UnknownTask { task: TaskId },
    #[error("task `{task}` is already closed")]
    TaskClosed { task: TaskId },
    #[error("task `{task}` has no action `{action}` (allowed: {})", allowed.join(", "))]
    UnknownAction {
        task: TaskId,
        action: String,
        allowed: Vec<String>,
    },
    #[error("`{user}` lacks role `{role}` needed for task `{task}`{}", match escalated_to {
        Some(r) => format!(" (or `{r}` after escalation)"),
        None => String::new(),
    })]
    Role {
        task: TaskId,
        user: String,
        role: String,
        escalated_to: Option<String>,
    },
    #[error("`{user}`'s authority limit ({}) does not cover {required} on task `{task}`", match limit {
        Some(l) => l.to_string(),
        None => "none".to_string(),
    })]
    Authority {
        task: TaskId,
        user: String,
        limit: Option<f64>,
        required: f64,
    },
    #[error("four-eyes: `{user}` may not act on task `{task}`: {reason}")]
    FourEyes {
        task: TaskId,
        user: String,
        reason: FourEyes,
    },
    #[error("`{user}` already voted on task `{task}`")]
    AlreadyVoted { task: TaskId, user: String },
    #[error("the case has no incident to retry")]
    NoIncident,
}

/// Why four-eyes refused an actor.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FourEyes {
    #[error("they started the case")]
    Initiator,
    #[error("they already acted on approval `{node}` of this case")]
    OtherLevel { node: NodeId },
}

/// How an edge should answer a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionClass {
    /// Bad input (400/422).
    Invalid,
    /// The actor may not do this (403).
    Forbidden,
    /// The thing named does not exist (404).
    NotFound,
    /// The case moved on: already done, closed, stale (409). Redeliveries land here.
    Conflict,
}

impl Rejected {
    pub fn class(&self) -> RejectionClass {
        match self {
            Rejected::InvalidInput { .. } | Rejected::UnknownAction { .. } => {
                RejectionClass::Invalid
            }
            Rejected::Role { .. } | Rejected::Authority { .. } | Rejected::FourEyes { .. } => {
                RejectionClass::Forbidden
            }
            Rejected::UnknownTask { .. } | Rejected::UnknownTimer { .. } => {
                RejectionClass::NotFound
            }
            Rejected::FlowMismatch { .. }
            | Rejected::CaseClosed { .. }
            | Rejected::Stale { .. }
            | Rejected::TimerNotDue { .. }
            | Rejected::TaskClosed { .. }
            | Rejected::AlreadyVoted { .. }
            | Rejected::NoIncident => RejectionClass::Conflict,
        }
    }
}

fn list(errors: &[SchemaError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

//! Identifiers the case state machine hands out or receives: cases, tasks, timers, tokens, actors.
//!
//! Task and timer ids are derived from the case id, the node and the sequence number of
//! the event that created them, so replaying a case's history rebuilds the same ids.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A case's identity. Generated at the edge (uuid v7) and passed in: the state machine
/// has no randomness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(uuid::Uuid);

impl CaseId {
    pub fn new(id: uuid::Uuid) -> CaseId {
        CaseId(id)
    }

    pub fn as_uuid(&self) -> uuid::Uuid {
        self.0
    }
}

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<uuid::Uuid> for CaseId {
    fn from(id: uuid::Uuid) -> Self {
        CaseId(id)
    }
}

/// A human task opened by an approval node: `{case}:{node}:{seq}` where `seq` is the
/// sequence number of its `TaskOpened` event.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// Wraps an id received from outside (a request path). Unknown ids are rejected by
    /// the state machine, not here.
    pub fn new(id: impl Into<String>) -> TaskId {
        TaskId(id.into())
    }

    pub(super) fn derive(case: CaseId, node: &str, seq: u64) -> TaskId {
        TaskId(format!("{case}:{node}:{seq}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A timer: a timer node's wait (`{case}:{node}:{seq}`) or a task's SLA deadline
/// (`{task}:sla`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimerId(String);

impl TimerId {
    pub fn new(id: impl Into<String>) -> TimerId {
        TimerId(id.into())
    }

    pub(super) fn for_node(case: CaseId, node: &str, seq: u64) -> TimerId {
        TimerId(format!("{case}:{node}:{seq}"))
    }

    pub(super) fn for_sla(task: &TaskId) -> TimerId {
        TimerId(format!("{task}:sla"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A position in the flow graph. A case starts with token 0; a parallel node parks its
/// token and starts one child token per branch; the join resumes the parked token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenId(pub u32);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token {}", self.0)
    }
}

/// Who acts on a task, as the approver directory knows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub user: String,
    pub roles: Vec<String>,
    /// The largest amount this person may approve; `None` = no authority.
    pub authority_limit: Option<f64>,
    /// SHA-256 of the approver directory that granted `roles` and `authority_limit`
    /// (event format 2; `None` in older histories, and not written then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<String>,
}

impl Actor {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

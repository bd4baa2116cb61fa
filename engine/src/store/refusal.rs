//! Refused attempts: a person tried to act on a task and a rule said no. Kept apart from
//! the case (no event in its hash chain, no change to its row), where an auditor finds them.

use super::Time;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One refused attempt, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Refusal {
    pub case_id: Uuid,
    pub task_id: String,
    /// The action that was attempted (`approve`, `reject`, …).
    pub action: String,
    /// Who tried.
    pub user: String,
    /// The rule that refused: `role`, `authority_limit`, `four_eyes` or `already_voted`.
    pub rule: String,
    /// The refusal as the person was told it.
    pub message: String,
    /// SHA-256 of the approver directory the person was looked up in.
    pub directory: Option<String>,
    pub at: Time,
}

/// Which refusals to list.
#[derive(Debug, Clone, Default)]
pub struct RefusalFilter {
    /// Only this case's.
    pub case_id: Option<Uuid>,
    /// At most this many (newest first).
    pub limit: Option<u32>,
}

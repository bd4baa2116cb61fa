//! Flow definitions: YAML → spanned tree → checked, compiled [`Flow`].
//!
//! `load` reports every problem at once, each with `file:line:col`, a stable code and a
//! one-line help (see docs/FLOW-FORMAT.md for the list of codes).

mod diag;
mod model;
mod yaml;

pub use diag::{Diagnostic, Severity};
pub use model::{
    ApprovalNode, Assign, DecisionNode, EndNode, Flow, JoinNode, Node, NodeId, NodeKind,
    ParallelNode, Quorum, Retry, Route, Schedule, Sla, TaskNode, TimerNode, TimerWait,
};

/// The closest candidate to `word` when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

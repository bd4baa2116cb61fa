//! Views: what a case says, decoded once from its typed history, for every reader (the CLI
//! now, the REST API next), so both print the same facts.
//!
//! - [`CaseView`]: what the case is and what it waits for (tasks, timers, incidents, steps).
//! - [`HistoryEntry`]: one stored event, typed, with its hash and a one-line description.
//! - [`Explanation`]: every decision the case went through — routes with the values they
//!   read, plugin runs with build, duration, input digest and output, failures, incidents
//!   and the people who acted (with the directory that vouched for them).
//! - [`TaskView`]: an open task.
//!
//! Events are read through `Event::decode` only; a stored event that does not decode is
//! an error naming the case and the event, never skipped.

mod case;
mod explain;
mod history;

pub use case::{CaseView, IncidentView, PendingStep, TaskView, TimerView, Waits};
pub use explain::{Decided, Decision, Explanation};
pub use history::{HistoryEntry, decode, describe};

use crate::case::DecodeError;
use crate::store::{self, Store};
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] store::Error),
    #[error("case {case_id}: event {seq} (`{kind}`) does not decode: {error}")]
    Undecodable {
        case_id: Uuid,
        seq: i64,
        kind: String,
        error: DecodeError,
    },
    #[error("case {case_id}: its flow version {file} does not compile: {message}")]
    Flow {
        case_id: Uuid,
        file: String,
        message: String,
    },
    #[error("case {case_id}: its history does not replay: {message}")]
    Replay { case_id: Uuid, message: String },
}

/// A case as every reader sees it: the case view and its decoded history.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct CaseFile {
    pub case: CaseView,
    pub history: Vec<HistoryEntry>,
}

impl CaseFile {
    /// The decisions the case went through.
    pub fn explain(&self) -> Explanation {
        Explanation::of(&self.case, &self.history)
    }
}

/// Loads a case from the store: its row, its flow version, its history (every event
/// decoded) and the state its history replays to.
pub async fn load<S: Store>(store: &S, case_id: Uuid) -> Result<CaseFile, Error> {
    let record = store.load_case(case_id).await?;
    let version = store.flow_version(record.flow_version).await?;
    let stored = store.events(case_id, 0).await?;
    let history = stored
        .iter()
        .map(HistoryEntry::decode)
        .collect::<Result<Vec<_>, _>>()?;
    let file = format!("{}@v{}", version.flow_id, version.version);
    // Validated when deployed; no plugin registry needed to read what happened.
    let (flow, _) =
        crate::flow::load(&file, &version.source, None).map_err(|diagnostics| Error::Flow {
            case_id,
            file: file.clone(),
            message: diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("; "),
        })?;
    let state = crate::case::replay(&flow, history.iter().map(|h| &h.event)).map_err(|e| {
        Error::Replay {
            case_id,
            message: e.to_string(),
        }
    })?;
    let case = CaseView::new(&record, &version, &state, &history);
    Ok(CaseFile { case, history })
}

#[cfg(test)]
mod tests;

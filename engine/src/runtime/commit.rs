//! A case's slot between transitions: loading it from the store (one consistent read of
//! the row and the events after its snapshot), committing a transition of it, and what
//! follows a commit (settled cases reported, follow-up work started).

use super::cache::Live;
use super::convert::parse_event;
use super::{Error, Outcome, Result, Runtime, Settled, Work, lock};
use crate::case::{self, CaseState};
use crate::flow::Flow;
use crate::store::{self, Store, Time, Transition};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use uuid::Uuid;

/// Attempts of a transition whose commit lost a race with another transition of its case
/// (another process acted first): each attempt decides again on fresh state.
const ATTEMPTS: usize = 3;

impl<S: Store> Runtime<S> {
    /// Loads the case into `slot` unless it is there already.
    pub(super) async fn ensure_loaded(&self, slot: &mut Option<Live>, case_id: Uuid) -> Result<()> {
        if slot.is_some() {
            return Ok(());
        }
        let record = self.inner.store.load_case(case_id).await?;
        let flow = self.flow(record.flow_version).await?;
        let mut state = match record.snapshot {
            Some(snapshot) => {
                serde_json::from_value::<CaseState>(snapshot).map_err(|e| Error::Decode {
                    what: format!("snapshot of case {case_id}"),
                    message: e.to_string(),
                })?
            }
            None => {
                let events = record
                    .tail
                    .iter()
                    .map(parse_event)
                    .collect::<Result<Vec<_>>>()?;
                let state = case::replay(&flow, &events).map_err(|e| Error::Decode {
                    what: format!("history of case {case_id}"),
                    message: e.to_string(),
                })?;
                *slot = Some(self.checked(case_id, state, record.head, 0, flow)?);
                return Ok(());
            }
        };
        for stored in &record.tail {
            state = case::evolve(&flow, state, &parse_event(stored)?);
        }
        *slot = Some(self.checked(case_id, state, record.head, record.snapshot_seq, flow)?);
        Ok(())
    }

    /// The loaded case, once its rebuilt state is known to stand at the stored head. The
    /// row and its events come from one read, so a mismatch means a corrupt history.
    fn checked(
        &self,
        case_id: Uuid,
        state: CaseState,
        head: store::ChainHead,
        snapshot_seq: i64,
        flow: Arc<Flow>,
    ) -> Result<Live> {
        if state.seq() as i64 != head.seq {
            return Err(Error::Diverged {
                case_id,
                state: state.seq(),
                head: head.seq,
            });
        }
        Ok(Live {
            state,
            head,
            snapshot_seq,
            flow,
        })
    }

    /// Commits a transition of a loaded case and moves the cached state on; on any error
    /// the cached state is dropped (reloaded from the store next time).
    pub(super) async fn commit_live(
        &self,
        slot: &mut Option<Live>,
        t: Transition,
        state: CaseState,
        flow: Arc<Flow>,
        snapshot_seq: i64,
    ) -> Result<Outcome> {
        let case_id = t.case_id;
        let snapshot_taken = t.snapshot.is_some();
        match self.inner.store.commit(t).await {
            Ok(committed) => {
                self.inner
                    .counters
                    .transitions
                    .fetch_add(1, Ordering::Relaxed);
                let outcome = Outcome {
                    case_id,
                    status: state.status(),
                    outcome: state.outcome().map(str::to_string),
                };
                *slot = Some(Live {
                    snapshot_seq: if snapshot_taken {
                        committed.head.seq
                    } else {
                        snapshot_seq
                    },
                    head: committed.head,
                    state,
                    flow,
                });
                Ok(outcome)
            }
            Err(e) => {
                if e.is_conflict() {
                    self.inner
                        .counters
                        .conflicts
                        .fetch_add(1, Ordering::Relaxed);
                }
                *slot = None;
                Err(e.into())
            }
        }
    }

    /// After a commit: forget finished cases, report settled ones, start follow-ups.
    pub(super) fn after_commit(&self, outcome: &Outcome, now: Time, work: Vec<Work>) {
        if outcome.status.is_final() {
            lock(&self.inner.cases).remove(outcome.case_id);
        }
        if outcome.status != store::CaseStatus::Running
            && let Some(tx) = lock(&self.inner.settled).as_ref()
        {
            let _ = tx.send(Settled {
                case_id: outcome.case_id,
                status: outcome.status,
                outcome: outcome.outcome.clone(),
                at: now,
            });
        }
        for w in work {
            self.spawn(w);
        }
    }
}

/// Whether an error means "another transition of the case committed first": deciding
/// again on fresh state is the answer.
pub(super) fn lost_race(e: &Error) -> bool {
    matches!(e, Error::Store(store::Error::Conflict { .. }))
}

/// Runs `attempt` (which loads the case, decides and commits) again while it loses races
/// with other transitions of its case, [`ATTEMPTS`] times at most; the last loss is returned.
pub(super) async fn deciding_again<T, F: Future<Output = Result<T>>>(
    mut attempt: impl FnMut() -> F,
) -> Result<T> {
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if lost_race(&e) && tries < ATTEMPTS => tries += 1,
            other => return other,
        }
    }
}

//! Timers: a due timer (claimed under a lease, or armed by this process and held in
//! memory) fires through the state machine; its row goes in the same transaction, so a
//! timer fires exactly once whoever runs it.

use super::convert;
use super::{Error, Result, Runtime, lock};
use crate::case::{self, Command, Rejected, TimerId};
use crate::store::{self, Store, Time, Transition};
use std::sync::atomic::Ordering;
use uuid::Uuid;

impl<S: Store> Runtime<S> {
    /// Fires a timer this process holds. `Some(due)` when the clock says it is not due yet
    /// (the holder waits until then and runs it again).
    pub(super) async fn run_timer(&self, case_id: Uuid, timer_id: &str) -> Result<Option<Time>> {
        let slot = lock(&self.inner.cases).slot(case_id);
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        let Some(live) = guard.as_ref() else {
            return Ok(None);
        };
        let now = self.inner.clock.now();
        let cmd = Command::TimerFired {
            timer: TimerId::new(timer_id),
        };
        let (state, decision) = match case::transition(&live.flow, &live.state, cmd, now) {
            Ok(r) => r,
            // Not ours any more (cancelled in the state, or the case ended): drop the row.
            Err(Rejected::UnknownTimer { .. } | Rejected::CaseClosed { .. }) => {
                let mut t =
                    Transition::new(case_id, live.head.clone(), store::CaseStatus::Running, now);
                t.fire_timer = Some(timer_id.to_string());
                drop(guard);
                self.inner.counters.stale.fetch_add(1, Ordering::Relaxed);
                return match self.inner.store.commit(t).await {
                    Ok(_) | Err(store::Error::TimerGone { .. }) => Ok(None),
                    Err(e) => Err(e.into()),
                };
            }
            Err(Rejected::TimerNotDue { due, .. }) => return Ok(Some(due)),
            Err(other) => return Err(other.into()),
        };
        let flow = live.flow.clone();
        let (state, decision) = match self.advance(&flow, state, decision).await {
            Ok(r) => r,
            Err(e) => {
                *guard = None;
                return Err(e);
            }
        };
        let Some(live) = guard.as_ref() else {
            return Ok(None);
        };
        let now = self.inner.clock.now();
        let snapshot_seq = live.snapshot_seq;
        let (mut t, work) = convert::transition(
            case_id,
            &live.head,
            snapshot_seq,
            &state,
            &decision,
            now,
            &self.dispatch(true),
        )?;
        t.fire_timer = Some(timer_id.to_string());
        let outcome = match self
            .commit_live(&mut guard, t, state, flow, snapshot_seq)
            .await
        {
            Ok(o) => o,
            // Fired by someone else first: exactly once, and not by us.
            Err(Error::Store(store::Error::TimerGone { .. })) => return Ok(None),
            Err(e) => return Err(e),
        };
        drop(guard);
        self.inner.counters.timers.fetch_add(1, Ordering::Relaxed);
        self.after_commit(&outcome, now, work);
        Ok(None)
    }
}

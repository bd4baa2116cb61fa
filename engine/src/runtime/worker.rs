//! The worker loop: claims due jobs and timers under leases, runs each as a work item,
//! keeps the leases of held items alive (heartbeat), and stops gracefully.
//!
//! A lease is held from the moment an item is claimed (or born leased to this process)
//! until its transition commits: the heartbeat renews every held lease well before it
//! expires, so a step that runs longer than a lease is never claimed by another process.
//! Only a process that stops (crash, kill, lost connection) lets its leases expire.

use super::convert::{self, StepJob};
use super::{Result, Runtime, Work, lock};
use crate::store::{Claim, Held, Store};
use std::future::Future;
use std::sync::Weak;
use std::sync::atomic::Ordering;

impl<S: Store> Runtime<S> {
    /// Takes over this runtime's identity (`Config::owner`): everything still leased to it
    /// is given back at once, so a restarted process resumes a crashed one's work instead
    /// of waiting for its leases to expire. Call it only when no other live process has
    /// this identity (the `docket worker` command holds an OS lock per identity first),
    /// and before this runtime holds any work.
    pub async fn take_over_identity(&self) -> Result<u64> {
        let now = self.inner.clock.now();
        Ok(self
            .inner
            .store
            .release_owned(&self.inner.cfg.owner, now)
            .await?)
    }

    /// Claims and runs due work until `shutdown` resolves, or — with `until_idle` — until
    /// nothing runs here, nothing is leased anywhere (another worker's work, or a dead
    /// one's whose lease has yet to expire), and nothing is due within the horizon.
    ///
    /// On shutdown it stops claiming, lets running transitions finish, drops work that
    /// was only waiting for its due time, and gives back every lease of this runtime's
    /// identity, so another worker can take the work at once.
    pub async fn run_worker(
        &self,
        until_idle: bool,
        shutdown: impl Future<Output = ()>,
    ) -> Result<()> {
        tokio::pin!(shutdown);
        // A runtime stopped before runs work again once asked to.
        self.inner.stopping.send_replace(false);
        let cfg = &self.inner.cfg;
        let horizon = chrono::Duration::from_std(cfg.horizon).unwrap_or(chrono::Duration::MAX);
        let mut first = true;
        let mut sleep = cfg.idle_floor;
        loop {
            let room = cfg.max_in_flight.saturating_sub(self.in_flight());
            let mut found = 0usize;
            let now = self.inner.clock.now();
            // A read first: claiming is a write (an fsync), not worth it when nothing is due.
            let next = self.inner.store.next_due().await?;
            if room > 0 && (first || next.is_some_and(|t| t <= now)) {
                first = false;
                let claimed = self
                    .inner
                    .store
                    .claim(Claim {
                        owner: cfg.owner.clone(),
                        now,
                        lease_for: cfg.lease,
                        limit: room.min(1024) as u32,
                    })
                    .await;
                let claimed = claimed?;
                found += claimed.jobs.len() + claimed.timers.len();
                for job in claimed.jobs {
                    match serde_json::from_value::<StepJob>(job.payload.clone()) {
                        Ok(step) if job.kind == convert::STEP_JOB => self.spawn(Work::Step {
                            case_id: job.case_id,
                            job: step,
                            due: job.due,
                            lease: job.lease,
                            claims: job.claims,
                        }),
                        other => {
                            // Leave it leased: it comes back after the lease, and fsck and
                            // the log say why it does not run.
                            tracing::error!(job = %job.lease.job_id, kind = %job.kind, error = ?other.err(), "unreadable job");
                            self.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                for timer in claimed.timers {
                    self.spawn(Work::Timer {
                        case_id: timer.case_id,
                        timer_id: timer.timer_id,
                        due: timer.due,
                        epoch: timer.epoch,
                    });
                }
            }
            if found == 0 && until_idle && self.in_flight() == 0 {
                let soon = next.is_some_and(|t| t <= now + horizon);
                // Idle: nothing held here, so nothing to give back.
                if !soon && self.inner.store.live_leases(now).await? == 0 {
                    return Ok(());
                }
            }
            sleep = if found > 0 {
                cfg.idle_floor
            } else {
                (sleep * 2).min(cfg.idle_ceiling)
            };
            let done = self.inner.work_done.notified();
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(sleep) => {}
                // Room freed up: look for more sooner, but never sooner than the floor.
                _ = done, if found == 0 && room == 0 => tokio::time::sleep(cfg.idle_floor).await,
            }
        }
        self.stop().await;
        Ok(())
    }

    /// Graceful stop: work waiting for its due time is dropped, running work finishes,
    /// then every lease of this identity is given back.
    async fn stop(&self) {
        let _ = self.inner.stopping.send(true);
        self.wait_idle().await;
        let now = self.inner.clock.now();
        if let Err(e) = self
            .inner
            .store
            .release_owned(&self.inner.cfg.owner, now)
            .await
        {
            tracing::warn!(error = %e, "giving back leases on stop failed; they will expire");
        }
    }

    /// Whether the runtime is stopping (no new work starts).
    fn stopping(&self) -> bool {
        *self.inner.stopping.borrow()
    }

    pub(super) fn spawn(&self, work: Work) {
        if let Work::Timer {
            case_id, timer_id, ..
        } = &work
        {
            // A timer held in memory may also come back from a claim: run it once.
            if !lock(&self.inner.timers_in_flight).insert((*case_id, timer_id.clone())) {
                return;
            }
        }
        let held = work.held();
        lock(&self.inner.held).insert(held.clone());
        self.inner.in_flight.fetch_add(1, Ordering::AcqRel);
        let rt = self.clone();
        tokio::spawn(async move {
            let mut due = work.due();
            let mut stopping = rt.inner.stopping.subscribe();
            let result = loop {
                let wait = (due - rt.inner.clock.now()).to_std().unwrap_or_default();
                if !wait.is_zero() {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => {}
                        _ = stopping.wait_for(|s| *s) => {}
                    }
                }
                if rt.stopping() {
                    // Not started: its lease is given back when the runtime stops.
                    break Ok(());
                }
                match &work {
                    Work::Step {
                        case_id,
                        job,
                        lease,
                        claims,
                        ..
                    } => break rt.run_step(*case_id, job, lease, *claims).await,
                    Work::Timer {
                        case_id, timer_id, ..
                    } => match rt.run_timer(*case_id, timer_id).await {
                        // The clock says not yet: the lease is ours, wait for it again.
                        Ok(Some(later)) => due = later,
                        other => break other.map(|_| ()),
                    },
                }
            };
            if let Work::Timer {
                case_id, timer_id, ..
            } = work
            {
                lock(&rt.inner.timers_in_flight).remove(&(case_id, timer_id));
            }
            lock(&rt.inner.held).remove(&held);
            if let Err(e) = result {
                rt.inner.counters.errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "work item failed; it will be retried after its lease");
            }
            rt.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
            rt.inner.work_done.notify_waiters();
        });
    }
}

impl Work {
    fn due(&self) -> crate::store::Time {
        match self {
            Work::Step { due, .. } | Work::Timer { due, .. } => *due,
        }
    }

    fn held(&self) -> Held {
        match self {
            Work::Step { lease, .. } => Held::Job {
                id: lease.job_id,
                epoch: lease.epoch,
            },
            Work::Timer {
                case_id,
                timer_id,
                epoch,
                ..
            } => Held::Timer {
                case_id: *case_id,
                timer_id: timer_id.clone(),
                epoch: *epoch,
            },
        }
    }
}

/// Renews the leases of every item a runtime holds, every third of a lease, for as long
/// as the runtime exists. One store call per round, whatever the number of items.
pub(super) async fn heartbeat<S: Store>(inner: Weak<super::Inner<S>>) {
    let period = match inner.upgrade() {
        Some(inner) => inner.cfg.lease / 3,
        None => return,
    };
    loop {
        tokio::time::sleep(period).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let held: Vec<Held> = lock(&inner.held).iter().cloned().collect();
        if held.is_empty() {
            continue;
        }
        let lease = chrono::Duration::from_std(inner.cfg.lease).unwrap_or(chrono::Duration::MAX);
        let until = inner.clock.now() + lease;
        match inner
            .store
            .renew_leases(&inner.cfg.owner, held, until)
            .await
        {
            Ok(lost) => {
                for h in lost {
                    // Its commit will find the lease gone and change nothing.
                    inner.counters.leases_lost.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(held = ?h, "lease lost while the work was held");
                }
            }
            Err(e) => tracing::warn!(error = %e, "renewing leases failed; retrying"),
        }
    }
}

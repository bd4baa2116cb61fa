//! Plugin steps: a claimed (or born-leased) step job runs its plugin and commits the
//! result, and the automatic steps that follow a command fold into its transition.

use super::cache::Live;
use super::commit::deciding_again;
use super::convert::{self, StepJob};
use super::{Error, Result, Runtime, lock};
use crate::case::{self, CaseState, Command, Decision, Effect, Rejected};
use crate::flow::Flow;
use crate::plugin::{PluginRef, StepError, StepErrorKind, StepInput};
use crate::store::{self, ChainHead, Lease, Store, Transition};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use uuid::Uuid;

impl<S: Store> Runtime<S> {
    /// Deletes a job whose run no longer matters (the case moved on): a no-op transition.
    pub(super) async fn drop_job(
        &self,
        case_id: Uuid,
        lease: Lease,
        head: ChainHead,
    ) -> Result<()> {
        self.inner.counters.stale.fetch_add(1, Ordering::Relaxed);
        let mut t = Transition::new(
            case_id,
            head,
            store::CaseStatus::Running,
            self.inner.clock.now(),
        );
        t.complete_job = Some(lease);
        self.inner.store.commit(t).await?;
        Ok(())
    }

    /// Runs a step job and commits its result with the job's completion. A commit that
    /// lost a race with another transition of the case (another process acted on it)
    /// decides again on fresh state.
    pub(super) async fn run_step(
        &self,
        case_id: Uuid,
        job: &StepJob,
        lease: &Lease,
        claims: i64,
    ) -> Result<()> {
        deciding_again(|| self.try_step(case_id, job, lease, claims)).await
    }

    async fn try_step(
        &self,
        case_id: Uuid,
        job: &StepJob,
        lease: &Lease,
        claims: i64,
    ) -> Result<()> {
        let slot = lock(&self.inner.cases).slot(case_id);
        // The case lock is held throughout: the plugin run, and every step chained after it
        // (`advance`), see the state they commit against; other commands on this case wait.
        let mut guard = slot.lock().await;
        self.ensure_loaded(&mut guard, case_id).await?;
        let Some(live) = guard.as_ref() else {
            return Ok(());
        };
        let pending = live
            .state
            .pending_steps()
            .any(|(n, a, _)| *n == job.node && a == job.attempt);
        let input = case::step_input(&live.flow, &live.state, &job.node);
        let (true, Some(input)) = (pending, input) else {
            // The case moved on (cancelled, or the run was superseded): drop the job.
            let head = live.head.clone();
            drop(guard);
            return self.drop_job(case_id, lease.clone(), head).await;
        };
        let flow = live.flow.clone();
        let cmd = if claims > self.inner.cfg.max_claims {
            // Every process that took this run stopped before finishing it: do not take
            // the next one down too. The case waits in an incident for a supervisor.
            self.inner
                .counters
                .abandoned
                .fetch_add(1, Ordering::Relaxed);
            Command::StepFailed {
                node: job.node.clone(),
                attempt: job.attempt,
                error: StepError {
                    kind: StepErrorKind::Abandoned,
                    plugin: job.plugin.clone(),
                    sha256: None,
                    code: None,
                    message: format!(
                        "the run was claimed {claims} times and never finished: the process \
                         running it stopped each time (crashed, was killed or lost its lease)"
                    ),
                },
                build: None,
            }
        } else {
            self.call_plugin(
                job.plugin_ref()?,
                input,
                job.timeout(),
                job.node.clone(),
                job.attempt,
            )
            .await?
        };
        // The cached state is taken out while the transition is built (no copy of it is
        // made); the commit puts the new one back, and any failure leaves the slot empty,
        // so the case is reloaded from the store next time.
        let Some(Live {
            state,
            head,
            snapshot_seq,
            ..
        }) = guard.take()
        else {
            return Ok(());
        };
        let now = self.inner.clock.now();
        let (state, decision) = match case::transition_owned(&flow, state, cmd, now) {
            Ok(r) => r,
            Err(Rejected::Stale { .. } | Rejected::CaseClosed { .. }) => {
                drop(guard);
                return self.drop_job(case_id, lease.clone(), head).await;
            }
            Err(other) => return Err(other.into()),
        };
        let (state, decision) = self.advance(&flow, state, decision).await?;
        let now = self.inner.clock.now();
        let (mut t, work) = convert::transition(
            case_id,
            &head,
            snapshot_seq,
            &state,
            &decision,
            now,
            &self.dispatch(true),
        )?;
        t.complete_job = Some(lease.clone());
        let outcome = self
            .commit_live(&mut guard, t, state, flow, snapshot_seq)
            .await?;
        drop(guard);
        self.after_commit(&outcome, now, work);
        Ok(())
    }

    /// Runs one plugin call on the plugin pool and turns its report into the command that
    /// answers the run.
    async fn call_plugin(
        &self,
        plugin: PluginRef,
        input: StepInput,
        timeout: Option<Duration>,
        node: crate::flow::NodeId,
        attempt: u32,
    ) -> Result<Command> {
        let rt = self.clone();
        self.inner
            .plugin_pool
            .run(move || rt.call_plugin_here(&plugin, &input, timeout, node, attempt))
            .await
            .map_err(|message| Error::BadJob {
                message: format!("plugin call failed: {message}"),
            })
    }

    /// One plugin call on the current thread (a plugin pool thread).
    fn call_plugin_here(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        timeout: Option<Duration>,
        node: crate::flow::NodeId,
        attempt: u32,
    ) -> Command {
        let mut limits = self.inner.cfg.call_limits;
        if let Some(timeout) = timeout {
            limits.timeout = timeout;
        }
        let digest = input.digest();
        let result = self.inner.plugins.call(plugin, input, &limits);
        self.inner.counters.steps.fetch_add(1, Ordering::Relaxed);
        match result {
            Ok(report) => {
                let us = report.duration.as_micros() as u64;
                self.inner
                    .counters
                    .plugin_us
                    .fetch_add(us, Ordering::Relaxed);
                Command::StepSucceeded {
                    node,
                    attempt,
                    report,
                    input_digest: digest,
                }
            }
            Err(error) => Command::StepFailed {
                node,
                attempt,
                error,
                build: None,
            },
        }
    }

    /// Runs, here and now, the plugin steps a decision asks for at once, folding each
    /// result into the same transition, until the case waits for something else (a
    /// person, the clock, a retry's backoff), ends, or `chain_steps` runs were made. A
    /// chain that started from a job keeps that job's lease alive however long it runs
    /// (the heartbeat renews every held lease).
    ///
    /// Nothing of it is acknowledged before the one transaction holding all of it is on
    /// disk; plugins are pure, so a crash before that commit only means they run again
    /// from the last committed state. Steps not run here become jobs as usual. The whole
    /// chain — calls and state-machine transitions — runs as one job on the plugin pool.
    pub(super) async fn advance(
        &self,
        flow: &Arc<Flow>,
        state: CaseState,
        decision: Decision,
    ) -> Result<(CaseState, Decision)> {
        if !self.wants_steps_now(&decision) {
            return Ok((state, decision));
        }
        let rt = self.clone();
        let flow = flow.clone();
        self.inner
            .plugin_pool
            .run(move || rt.fold_steps(&flow, state, decision))
            .await
            .map_err(|message| Error::BadJob {
                message: format!("plugin call failed: {message}"),
            })?
    }

    /// Whether every effect of `decision` is a plugin run due now (and there is one).
    fn wants_steps_now(&self, decision: &Decision) -> bool {
        let now = self.inner.clock.now();
        !decision.effects.is_empty()
            && decision
                .effects
                .iter()
                .all(|e| matches!(e, Effect::RunPlugin { due, .. } if *due <= now))
    }

    /// The loop of [`Runtime::advance`], on a plugin pool thread.
    fn fold_steps(
        &self,
        flow: &Flow,
        mut state: CaseState,
        mut decision: Decision,
    ) -> Result<(CaseState, Decision)> {
        let budget = self.inner.cfg.chain_steps;
        let mut runs = 0usize;
        while runs < budget && self.wants_steps_now(&decision) {
            for effect in std::mem::take(&mut decision.effects) {
                let Effect::RunPlugin {
                    node,
                    attempt,
                    plugin,
                    timeout,
                    ..
                } = &effect
                else {
                    decision.effects.push(effect);
                    continue;
                };
                let pending = state
                    .pending_steps()
                    .any(|(n, a, _)| n == node && a == *attempt);
                if !pending {
                    // Cancelled by a step run earlier in this chain: nothing to enqueue.
                    continue;
                }
                let input = match case::step_input(flow, &state, node) {
                    Some(input) if runs < budget => input,
                    _ => {
                        decision.effects.push(effect);
                        continue;
                    }
                };
                let cmd = self.call_plugin_here(plugin, &input, *timeout, node.clone(), *attempt);
                runs += 1;
                let (next, d) = case::transition_owned(flow, state, cmd, self.inner.clock.now())?;
                self.inner
                    .counters
                    .transitions
                    .fetch_add(1, Ordering::Relaxed);
                state = next;
                decision.events.extend(d.events);
                decision.effects.extend(d.effects);
            }
        }
        Ok((state, decision))
    }
}

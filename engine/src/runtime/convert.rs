//! Turns a case decision into a store transition (events as `(type, payload)` pairs,
//! effects as job/timer/task rows) and back: stored events into case events.

use super::{Error, Work};
use crate::case::{CaseState, Decision, Effect, Event};
use crate::flow::NodeId;
use crate::plugin::PluginRef;
use crate::store::{
    self, ChainHead, NewEvent, NewJob, NewTask, NewTimer, StoredEvent, Time, Transition,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;
use uuid::Uuid;

/// The job kind of a plugin run.
pub(super) const STEP_JOB: &str = "step";

/// A running case keeps a snapshot at most this many events old, so loading it replays
/// little; a case that waits (for a person, a timer, a supervisor) is always snapshotted,
/// since it will be loaded again. A case that ends is not: nothing acts on it any more,
/// and inspecting it replays its history (which the audit does anyway).
const SNAPSHOT_EVERY: i64 = 64;

/// The payload of a `step` job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct StepJob {
    pub(super) node: NodeId,
    pub(super) attempt: u32,
    pub(super) plugin: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) timeout_ms: Option<u64>,
}

impl StepJob {
    pub(super) fn plugin_ref(&self) -> Result<PluginRef, Error> {
        PluginRef::parse(&self.plugin).map_err(|message| Error::BadJob { message })
    }

    pub(super) fn timeout(&self) -> Option<Duration> {
        self.timeout_ms.map(Duration::from_millis)
    }
}

/// The job of one plugin run: derived from case, node and attempt (attempts count every
/// run of a node in a case), so the same run can never be enqueued twice.
pub(super) fn job_id(case_id: Uuid, node: &NodeId, attempt: u32) -> Uuid {
    let digest = Sha256::digest(format!("{case_id}/{node}/{attempt}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

/// An event as the store keeps it: its `type` tag apart, the rest as canonical payload
/// (written straight from the event, no `Value` tree in between).
pub(super) fn new_event(event: &Event) -> Result<NewEvent, Error> {
    let payload =
        canonical_json::to_canonical_json(event, Some("type")).map_err(|e| Error::Encode {
            what: "an event",
            message: e.to_string(),
        })?;
    Ok(NewEvent {
        kind: event.kind().to_string(),
        payload,
        at: event.at(),
    })
}

/// A stored event back into a case event (see `Event::decode`).
pub(crate) fn parse_event(stored: &StoredEvent) -> Result<Event, Error> {
    Event::decode(&stored.kind, &stored.payload).map_err(|e| Error::Decode {
        what: format!("event {} of case {}", stored.seq, stored.case_id),
        message: e.to_string(),
    })
}

/// How the transition's follow-up work is to be run.
pub(super) struct Dispatch<'a> {
    /// Lease follow-up work to this owner and run it in this process; `None` leaves it
    /// to whichever worker claims it.
    pub(super) owner: Option<&'a str>,
    pub(super) lease: Duration,
    /// Work due later than `now + horizon` is left in the store for the poller rather
    /// than held in memory.
    pub(super) horizon: Duration,
}

/// Builds the transition of `decision` (which led to `state`) after `prev`, and the work
/// this process should run once it commits.
pub(super) fn transition(
    case_id: Uuid,
    prev: &ChainHead,
    snapshot_seq: i64,
    state: &CaseState,
    decision: &Decision,
    now: Time,
    dispatch: &Dispatch<'_>,
) -> Result<(Transition, Vec<Work>), Error> {
    let status = state.status();
    let mut t = Transition::new(case_id, prev.clone(), status, now);
    for event in &decision.events {
        t.events.push(new_event(event)?);
    }
    let new_seq = prev.seq + t.events.len() as i64;
    let waits = matches!(
        status,
        store::CaseStatus::Waiting | store::CaseStatus::Incident
    );
    let running_long =
        status == store::CaseStatus::Running && new_seq - snapshot_seq >= SNAPSHOT_EVERY;
    if waits || running_long {
        t.snapshot = Some(serde_json::to_string(state).map_err(|e| Error::Encode {
            what: "a case snapshot",
            message: e.to_string(),
        })?);
    }
    let horizon = now + chrono::Duration::from_std(dispatch.horizon).unwrap_or_default();
    let lease = chrono::Duration::from_std(dispatch.lease).unwrap_or(chrono::Duration::seconds(60));
    let mut work = Vec::new();
    for effect in &decision.effects {
        match effect {
            Effect::RunPlugin {
                node,
                attempt,
                plugin,
                due,
                timeout,
            } => {
                let payload = StepJob {
                    node: node.clone(),
                    attempt: *attempt,
                    plugin: plugin.to_string(),
                    timeout_ms: timeout.map(|d| d.as_millis() as u64),
                };
                let lease_to = match dispatch.owner {
                    Some(owner) if *due <= horizon => {
                        Some((owner.to_string(), (*due).max(now) + lease))
                    }
                    _ => None,
                };
                let job = NewJob {
                    id: job_id(case_id, node, *attempt),
                    kind: STEP_JOB.into(),
                    payload: serde_json::to_value(&payload).map_err(|e| Error::Encode {
                        what: "a job",
                        message: e.to_string(),
                    })?,
                    due: *due,
                    lease_to,
                };
                if let Some(lease) = job.initial_lease() {
                    work.push(Work::Step {
                        case_id,
                        job: payload,
                        due: *due,
                        lease,
                        // Born leased counts as the first claim.
                        claims: 1,
                    });
                }
                t.jobs.push(job);
            }
            Effect::CancelStep { node, attempt } => {
                t.cancel_jobs.push(job_id(case_id, node, *attempt))
            }
            Effect::ArmTimer { timer, due } => {
                let node = decision
                    .events
                    .iter()
                    .find_map(|e| match e {
                        Event::TimerArmed {
                            timer: armed, node, ..
                        } if armed == timer => Some(node.to_string()),
                        _ => None,
                    })
                    .ok_or_else(|| Error::Encode {
                        what: "a timer",
                        message: format!("timer `{timer}` is armed without its timer_armed event"),
                    })?;
                let lease_to = match dispatch.owner {
                    Some(owner) if *due <= horizon => {
                        Some((owner.to_string(), (*due).max(now) + lease))
                    }
                    _ => None,
                };
                if lease_to.is_some() {
                    work.push(Work::Timer {
                        case_id,
                        timer_id: timer.to_string(),
                        due: *due,
                        // Born leased: the first epoch.
                        epoch: 1,
                    });
                }
                t.arm_timers.push(NewTimer {
                    timer_id: timer.to_string(),
                    node,
                    due: *due,
                    lease_to,
                });
            }
            Effect::CancelTimer { timer } => t.cancel_timers.push(timer.to_string()),
            Effect::OpenTask {
                task,
                node,
                role,
                authority,
                due,
            } => t.open_tasks.push(NewTask {
                task_id: task.to_string(),
                node: node.to_string(),
                role: role.clone(),
                authority: *authority,
                due: *due,
            }),
            Effect::EscalateTask { task, to_role } => {
                t.escalate_tasks.push((task.to_string(), to_role.clone()))
            }
            Effect::CloseTask { task } => t.close_tasks.push(task.to_string()),
            Effect::CompleteCase { outcome } => t.outcome = Some(outcome.clone()),
            // The status (cancelled) comes from the state; the store clears the case's work.
            Effect::CancelCase { .. } => {}
        }
    }
    Ok((t, work))
}

//! One transition in the making: the working state, the events and effects so far, and
//! the loop that drives tokens through automatic nodes until each waits for the world.

use super::effect::{Decision, Effect};
use super::event::{Event, IncidentCause};
use super::ids::TokenId;
use super::state::{CaseState, Wait};
use super::{MAX_NODES_PER_TRANSITION, approval, decision, parallel, step, timer};
use crate::flow::{Flow, NodeId, NodeKind};
use chrono::{DateTime, Utc};
use std::collections::VecDeque;

pub(super) struct Tx<'f> {
    pub(super) flow: &'f Flow,
    /// Changed only through [`Tx::emit`].
    state: CaseState,
    pub(super) now: DateTime<Utc>,
    events: Vec<Event>,
    effects: Vec<Effect>,
    /// Tokens that arrived at a node and have not been processed yet.
    queue: VecDeque<TokenId>,
    entered: usize,
}

impl<'f> Tx<'f> {
    pub(super) fn new(flow: &'f Flow, state: CaseState, now: DateTime<Utc>) -> Tx<'f> {
        Tx {
            flow,
            state,
            now,
            events: Vec::new(),
            effects: Vec::new(),
            queue: VecDeque::new(),
            entered: 0,
        }
    }

    /// A transition that begins with an event already applied (`CaseStarted`).
    pub(super) fn with_first(
        flow: &'f Flow,
        state: CaseState,
        first: Event,
        now: DateTime<Utc>,
    ) -> Tx<'f> {
        let mut tx = Tx::new(flow, state, now);
        tx.events.push(first);
        tx
    }

    pub(super) fn state(&self) -> &CaseState {
        &self.state
    }

    /// Records an event and applies it to the working state.
    pub(super) fn emit(&mut self, event: Event) {
        self.state.apply(self.flow, &event);
        self.events.push(event);
    }

    pub(super) fn effect(&mut self, effect: Effect) {
        self.effects.push(effect);
    }

    /// Removes effects of this transition that `pred` matches; whether any was removed.
    /// Used when something created earlier in the same transition is closed again, so the
    /// runtime is not told to create and delete it at once.
    pub(super) fn retract(&mut self, pred: impl Fn(&Effect) -> bool) -> bool {
        let before = self.effects.len();
        self.effects.retain(|e| !pred(e));
        self.effects.len() != before
    }

    /// Moves `token` to `node` and queues it for processing.
    pub(super) fn enter(&mut self, token: TokenId, node: NodeId) {
        self.emit(Event::NodeEntered {
            node: node.clone(),
            token,
            at: self.now,
        });
        self.entered += 1;
        if self.entered > MAX_NODES_PER_TRANSITION {
            let message = format!(
                "more than {MAX_NODES_PER_TRANSITION} nodes entered in one transition: the flow loops through automatic nodes without waiting"
            );
            self.incident(token, node, IncidentCause::Flow { message }, 0);
            return;
        }
        self.queue.push_back(token);
    }

    /// Queues a token to process its current node again (after an incident's retry).
    pub(super) fn resume(&mut self, token: TokenId) {
        self.queue.push_back(token);
    }

    pub(super) fn incident(
        &mut self,
        token: TokenId,
        node: NodeId,
        cause: IncidentCause,
        attempts: u32,
    ) {
        self.emit(Event::IncidentRaised {
            node,
            token,
            cause,
            attempts,
            at: self.now,
        });
    }

    /// Processes queued tokens until every one waits (or the case ended).
    pub(super) fn run(&mut self) {
        while let Some(token) = self.queue.pop_front() {
            if self.state.status().is_final() {
                self.queue.clear();
                break;
            }
            let Some(t) = self.state.token(token) else {
                continue;
            };
            let node_id = t.node.clone();
            let flow = self.flow;
            let Some(node) = flow.get(node_id.as_str()) else {
                let message = format!("node `{node_id}` is not in flow `{}`", flow.id());
                self.incident(token, node_id, IncidentCause::Flow { message }, 0);
                continue;
            };
            match &node.kind {
                NodeKind::Task(task) => step::schedule(self, token, &node_id, task),
                NodeKind::Decision(d) => decision::route(self, token, &node_id, d),
                NodeKind::Approval(a) => approval::open(self, token, &node_id, a),
                NodeKind::Parallel(p) => parallel::fork(self, token, &node_id, p),
                NodeKind::Join(j) => parallel::join(self, token, &node_id, j),
                NodeKind::Timer(t) => timer::arm(self, token, &node_id, t),
                NodeKind::End(end) => self.complete(end.outcome.clone()),
            }
        }
    }

    /// The case reached an end node: close what is open, then complete.
    fn complete(&mut self, outcome: String) {
        self.wind_down();
        self.emit(Event::CaseCompleted {
            outcome: outcome.clone(),
            at: self.now,
        });
        self.effect(Effect::CompleteCase { outcome });
    }

    /// Closes open tasks (with events), and tells the runtime to drop the timers and
    /// plugin runs nobody waits for any more.
    pub(super) fn wind_down(&mut self) {
        let tasks: Vec<_> = self.state.tasks().map(|t| t.id.clone()).collect();
        let timers: Vec<_> = self.state.timers().map(|t| t.id.clone()).collect();
        let steps: Vec<_> = self
            .state
            .tokens()
            .filter_map(|t| match t.wait {
                Wait::Step { attempt, .. } => Some((t.id, t.node.clone(), attempt)),
                _ => None,
            })
            .collect();
        for task in tasks {
            self.emit(Event::TaskClosed {
                task: task.clone(),
                action: None,
                at: self.now,
            });
            self.retract(|e| matches!(e, Effect::EscalateTask { task: t, .. } if *t == task));
            let opened_now =
                self.retract(|e| matches!(e, Effect::OpenTask { task: t, .. } if *t == task));
            if !opened_now {
                self.effect(Effect::CloseTask { task });
            }
        }
        for timer in timers {
            if !self.retract(|e| matches!(e, Effect::ArmTimer { timer: t, .. } if *t == timer)) {
                self.effect(Effect::CancelTimer { timer });
            }
        }
        for (token, node, attempt) in steps {
            // A token still queued has not asked for its run yet.
            let queued = self.queue.contains(&token);
            let scheduled_now = self.retract(|e| {
                matches!(e, Effect::RunPlugin { node: n, attempt: a, .. } if *n == node && *a == attempt)
            });
            if !queued && !scheduled_now {
                self.effect(Effect::CancelStep { node, attempt });
            }
        }
    }

    pub(super) fn finish(self) -> (CaseState, Decision) {
        (
            self.state,
            Decision {
                events: self.events,
                effects: self.effects,
            },
        )
    }
}

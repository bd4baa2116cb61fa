//! Tests of the case state machine: one file per node kind or rule, plus property tests.
//!
//! Flows are built in code from the compiled model (the same types the validator
//! produces), so each test shows exactly the graph it drives. Every transition a test
//! makes is also replayed — from events round-tripped through JSON — and compared with
//! the state `decide` left.

mod approval;
mod bundled;
mod cancel;
mod decision;
mod json;
mod parallel;
mod prop;
mod start;
mod steps;
mod timer;

use super::*;
use crate::expr::Expr;
use crate::flow::{
    ApprovalNode, Assign, DecisionNode, EndNode, Flow, JoinNode, Node, NodeId, NodeKind,
    ParallelNode, Quorum, Retry, Route, Sla, TaskNode, TimerNode, TimerWait,
};
use crate::plugin::{CallReport, PluginBuild, PluginRef, StepError, StepErrorKind, StepOutput};
use crate::schema::Schema;
use chrono::{DateTime, TimeZone, Utc};
use indexmap::IndexMap;
use serde_json::{Value, json};
use std::time::Duration;

pub(super) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap()
}

pub(super) fn case_id() -> CaseId {
    CaseId::new(uuid::Uuid::from_u128(
        0x0190_0000_0000_7000_8000_0000_0000_0001,
    ))
}

/// A flow from its nodes; the first node listed is the start.
pub(super) fn flow(nodes: Vec<(&str, NodeKind)>) -> Flow {
    flow_with_input(Schema::any_object(), nodes)
}

pub(super) fn flow_with_input(input: Schema, nodes: Vec<(&str, NodeKind)>) -> Flow {
    let start = NodeId::from(nodes[0].0);
    let mut map = IndexMap::new();
    let mut plugins = Vec::new();
    for (id, kind) in nodes {
        if let NodeKind::Task(t) = &kind
            && !plugins.contains(&t.plugin)
        {
            plugins.push(t.plugin.clone());
        }
        map.insert(
            NodeId::from(id),
            Node {
                id: NodeId::from(id),
                kind,
            },
        );
    }
    Flow {
        id: "test-flow".into(),
        title: None,
        hash: "f".repeat(64),
        source: String::new(),
        input,
        start,
        schedule: None,
        nodes: map,
        plugins,
    }
}

pub(super) fn task(plugin: &str, result: &str, next: &str) -> NodeKind {
    NodeKind::Task(TaskNode {
        plugin: PluginRef::parse(plugin).unwrap(),
        config: json!({"card": "v1"}),
        config_json: r#"{"card":"v1"}"#.into(),
        result: Some(result.to_string()),
        retry: Retry::default(),
        timeout: None,
        next: next.into(),
    })
}

pub(super) fn task_retry(plugin: &str, next: &str, attempts: u32, backoff: Duration) -> NodeKind {
    NodeKind::Task(TaskNode {
        plugin: PluginRef::parse(plugin).unwrap(),
        config: json!({}),
        config_json: "{}".into(),
        result: None,
        retry: Retry { attempts, backoff },
        timeout: Some(Duration::from_millis(250)),
        next: next.into(),
    })
}

pub(super) fn decision(routes: &[(&str, &str)], otherwise: &str) -> NodeKind {
    NodeKind::Decision(DecisionNode {
        routes: routes
            .iter()
            .map(|(when, to)| Route {
                when: Expr::compile(when).unwrap(),
                to: (*to).into(),
            })
            .collect(),
        otherwise: otherwise.into(),
    })
}

pub(super) fn approval(role: &str, actions: &[(&str, &str)]) -> ApprovalNode {
    ApprovalNode {
        assign: Assign {
            role: role.to_string(),
            authority: None,
        },
        four_eyes: false,
        quorum: None,
        sla: None,
        actions: actions
            .iter()
            .map(|(a, to)| (a.to_string(), NodeId::from(*to)))
            .collect(),
    }
}

pub(super) fn with_authority(mut a: ApprovalNode, expr: &str) -> ApprovalNode {
    a.assign.authority = Some(Expr::compile(expr).unwrap());
    a
}

pub(super) fn with_quorum(
    mut a: ApprovalNode,
    of: u32,
    needed: u32,
    veto: &[&str],
) -> ApprovalNode {
    a.quorum = Some(Quorum {
        of,
        needed,
        veto: veto.iter().map(|s| s.to_string()).collect(),
    });
    a
}

pub(super) fn with_sla(mut a: ApprovalNode, within: Duration, escalate_to: &str) -> ApprovalNode {
    a.sla = Some(Sla {
        within,
        escalate_to: escalate_to.to_string(),
    });
    a
}

pub(super) fn four_eyes(mut a: ApprovalNode) -> ApprovalNode {
    a.four_eyes = true;
    a
}

pub(super) fn parallel(branches: &[&str], join: &str) -> NodeKind {
    NodeKind::Parallel(ParallelNode {
        branches: branches.iter().map(|b| NodeId::from(*b)).collect(),
        join: join.into(),
    })
}

pub(super) fn join(parallel: &str, next: &str) -> NodeKind {
    NodeKind::Join(JoinNode {
        parallel: parallel.into(),
        next: next.into(),
    })
}

pub(super) fn timer_after(d: Duration, next: &str) -> NodeKind {
    NodeKind::Timer(TimerNode {
        wait: TimerWait::After(d),
        next: next.into(),
    })
}

pub(super) fn timer_until(expr: &str, next: &str) -> NodeKind {
    NodeKind::Timer(TimerNode {
        wait: TimerWait::Until(Expr::compile(expr).unwrap()),
        next: next.into(),
    })
}

pub(super) fn end(outcome: &str) -> NodeKind {
    NodeKind::End(EndNode {
        outcome: outcome.to_string(),
    })
}

pub(super) fn actor(user: &str, roles: &[&str], limit: Option<f64>) -> Actor {
    Actor {
        user: user.to_string(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
        authority_limit: limit,
        directory: None,
    }
}

pub(super) fn build(plugin: &str) -> PluginBuild {
    PluginBuild {
        name: plugin.split('@').next().unwrap().to_string(),
        version: "1.0.0".into(),
        sha256: "a".repeat(64),
    }
}

pub(super) fn output(result: Value) -> StepOutput {
    StepOutput {
        result: result.into(),
        outcome: None,
        score: None,
        reasons: Vec::new(),
    }
}

pub(super) fn error(kind: StepErrorKind) -> StepError {
    StepError {
        kind,
        plugin: "scorecard@1".into(),
        sha256: None,
        code: None,
        message: "boom".into(),
    }
}

/// A running case in a test: its flow, state, full history and clock.
pub(super) struct Case {
    pub(super) flow: Flow,
    pub(super) state: CaseState,
    pub(super) history: Vec<Event>,
    pub(super) now: DateTime<Utc>,
}

impl Case {
    pub(super) fn start(flow: Flow, input: Value) -> (Case, Decision) {
        let cmd = Start {
            case_id: case_id(),
            input,
            initiator: "maker".into(),
            business_date: None,
        };
        let (state, d) = start(&flow, cmd, t0()).expect("case starts");
        let mut case = Case {
            flow,
            state,
            history: Vec::new(),
            now: t0(),
        };
        case.record(&d);
        (case, d)
    }

    fn record(&mut self, d: &Decision) {
        self.history.extend(d.events.iter().cloned());
        assert_replays(&self.flow, &self.history, &self.state);
        assert_quiescent(&self.state);
    }

    pub(super) fn advance(&mut self, by: Duration) {
        self.now += chrono::TimeDelta::from_std(by).unwrap();
    }

    /// Runs a command; on success the state moves on and the transition is checked.
    pub(super) fn cmd(&mut self, cmd: Command) -> Result<Decision, Rejected> {
        let before = self.state.clone();
        let result = transition(&self.flow, &self.state, cmd, self.now);
        match result {
            Ok((state, d)) => {
                self.state = state;
                self.record(&d);
                Ok(d)
            }
            Err(r) => {
                assert_eq!(self.state, before, "a rejection changes nothing");
                Err(r)
            }
        }
    }

    /// The attempt the case waits for at `node`.
    pub(super) fn attempt(&self, node: &str) -> u32 {
        self.state
            .pending_steps()
            .find(|(n, _, _)| n.as_str() == node)
            .map(|(_, a, _)| a)
            .unwrap_or_else(|| panic!("no step pending at `{node}`: {:?}", self.state))
    }

    pub(super) fn succeed(&mut self, node: &str, result: Value) -> Decision {
        let attempt = self.attempt(node);
        self.cmd(Command::StepSucceeded {
            node: node.into(),
            attempt,
            report: CallReport {
                build: build("scorecard@1"),
                duration: Duration::from_micros(1500),
                output: Ok(output(result)),
            },
            input_digest: "d".repeat(64),
        })
        .expect("step result accepted")
    }

    pub(super) fn fail(&mut self, node: &str, kind: StepErrorKind) -> Decision {
        let attempt = self.attempt(node);
        self.cmd(Command::StepFailed {
            node: node.into(),
            attempt,
            error: error(kind),
            build: None,
        })
        .expect("step failure accepted")
    }

    /// The open task at `node`.
    pub(super) fn task(&self, node: &str) -> TaskId {
        self.state
            .tasks()
            .find(|t| t.node.as_str() == node)
            .map(|t| t.id.clone())
            .unwrap_or_else(|| panic!("no open task at `{node}`"))
    }

    pub(super) fn act(
        &mut self,
        node: &str,
        action: &str,
        who: Actor,
    ) -> Result<Decision, Rejected> {
        let task = self.task(node);
        self.cmd(Command::HumanAction {
            task,
            action: action.to_string(),
            actor: who,
            comment: Some("ok".into()),
        })
    }

    /// The node each live token is at, sorted.
    pub(super) fn positions(&self) -> Vec<String> {
        let mut v: Vec<String> = self.state.tokens().map(|t| t.node.to_string()).collect();
        v.sort();
        v
    }
}

/// Replaying the history (after a round trip of every event through the store's form:
/// canonical payload without the `type` tag) rebuilds exactly `state`; so does a JSON
/// round trip of the snapshot. The payload is the canonical text of the event's JSON tree.
pub(super) fn assert_replays(flow: &Flow, history: &[Event], state: &CaseState) {
    let stored: Vec<Event> = history
        .iter()
        .map(|e| {
            let text = canonical_json::to_canonical_json(e, Some("type")).unwrap();
            let mut tree = serde_json::to_value(e).unwrap();
            let tag = tree.as_object_mut().unwrap().remove("type").unwrap();
            assert_eq!(
                text,
                canonical_json::canonical_json(&tree),
                "canonical payload"
            );
            let mut back: serde_json::Value =
                serde_json::from_str(&text).unwrap_or_else(|err| panic!("{text}: {err}"));
            back.as_object_mut().unwrap().insert("type".into(), tag);
            serde_json::from_value(back).unwrap_or_else(|err| panic!("{text}: {err}"))
        })
        .collect();
    assert_eq!(&stored, history, "events survive JSON");
    let replayed = replay(flow, &stored).expect("history replays");
    assert_eq!(&replayed, state, "replay rebuilds the state");
    assert_eq!(state.seq(), history.len() as u64);
    let snapshot: CaseState = serde_json::from_str(&serde_json::to_string(state).unwrap()).unwrap();
    assert_eq!(&snapshot, state, "the snapshot survives JSON");
}

/// After a transition no token is left half-way.
pub(super) fn assert_quiescent(state: &CaseState) {
    for t in state.tokens() {
        assert!(t.wait != Wait::Moving, "{} left moving at {}", t.id, t.node);
    }
}

/// Event kinds in order, for compact assertions.
pub(super) fn kinds(d: &Decision) -> Vec<&'static str> {
    d.events.iter().map(Event::kind).collect()
}

//! The compiled flow: what the case state machine and the runtime consume.
//!
//! Architecture invariant: a [`Flow`] only comes out of the validator
//! ([`crate::flow::load`]); its fields are private, so every `Flow` in the program has
//! passed every check (targets exist, every node reaches an end, joins match their
//! parallels, expressions compile).

use crate::expr::Expr;
use crate::plugin::PluginRef;
use crate::schema::Schema;
use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// A node's id, unique within its flow (the key in `nodes:`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NodeId(String);

impl NodeId {
    pub fn new(id: impl Into<String>) -> NodeId {
        NodeId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for NodeId {
    fn from(s: &str) -> Self {
        NodeId(s.to_string())
    }
}

impl std::borrow::Borrow<str> for NodeId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// A compiled, validated flow version.
#[derive(Clone, Debug)]
pub struct Flow {
    pub(crate) id: String,
    pub(crate) title: Option<String>,
    pub(crate) hash: String,
    pub(crate) source: String,
    pub(crate) input: Schema,
    pub(crate) start: NodeId,
    pub(crate) schedule: Option<Schedule>,
    pub(crate) nodes: IndexMap<NodeId, Node>,
    pub(crate) plugins: Vec<PluginRef>,
}

impl Flow {
    /// The flow id, e.g. `retail-loan`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// Lowercase hex SHA-256 of the YAML source: the version's identity.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The YAML text as deployed.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The input schema, checked when a case starts.
    pub fn input(&self) -> &Schema {
        &self.input
    }

    pub fn start(&self) -> &NodeId {
        &self.start
    }

    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    /// The node with this id. Panics only on an id that is not from this flow.
    pub fn node(&self, id: &NodeId) -> &Node {
        match self.nodes.get(id) {
            Some(n) => n,
            None => panic!("flow `{}` has no node `{id}`", self.id),
        }
    }

    /// The node with this id, if the flow has one (ids from outside, e.g. a request).
    pub fn get(&self, id: &str) -> Option<&Node> {
        self.nodes.get(id)
    }

    /// Nodes in source order.
    pub fn nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.values()
    }

    /// Distinct plugin references, in order of first use.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginRef> {
        self.plugins.iter()
    }
}

/// A flow-level cron schedule (standard 5 fields, UTC), for periodic flows.
#[derive(Clone, Debug)]
pub struct Schedule {
    pub cron: String,
    pub(crate) parsed: croner::Cron,
}

impl Schedule {
    /// Parses a standard 5-field cron expression (croner; `L`, `W`, `#` and names allowed).
    pub fn parse(cron: &str) -> Result<Schedule, String> {
        let parser = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build();
        let parsed = parser.parse(cron).map_err(|e| e.to_string())?;
        Ok(Schedule {
            cron: cron.to_string(),
            parsed,
        })
    }

    /// The first firing strictly after `t`, if any.
    pub fn next_after(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.parsed.find_next_occurrence(&t, false).ok()
    }

    /// The schedule in words, e.g. "At 06:00 on day 1 of the month".
    pub fn describe(&self) -> String {
        self.parsed.describe()
    }
}

/// One node of a flow.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: NodeId,
    pub kind: NodeKind,
}

impl Node {
    /// Every node this one can go to, in a stable order (duplicates removed).
    pub fn targets(&self) -> Vec<&NodeId> {
        let mut out: Vec<&NodeId> = Vec::new();
        fn push<'a>(id: &'a NodeId, out: &mut Vec<&'a NodeId>) {
            if !out.contains(&id) {
                out.push(id);
            }
        }
        match &self.kind {
            NodeKind::Task(t) => push(&t.next, &mut out),
            NodeKind::Decision(d) => {
                for r in &d.routes {
                    push(&r.to, &mut out);
                }
                push(&d.otherwise, &mut out);
            }
            NodeKind::Approval(a) => {
                for t in a.actions.values() {
                    push(t, &mut out);
                }
            }
            NodeKind::Parallel(p) => {
                for b in &p.branches {
                    push(b, &mut out);
                }
            }
            NodeKind::Join(j) => push(&j.next, &mut out),
            NodeKind::Timer(t) => push(&t.next, &mut out),
            NodeKind::End(_) => {}
        }
        out
    }
}

/// What a node does.
#[derive(Clone, Debug)]
pub enum NodeKind {
    /// Automatic: runs a plugin.
    Task(TaskNode),
    /// Automatic: picks the first route whose condition holds.
    Decision(DecisionNode),
    /// Human: waits for approvers' actions.
    Approval(ApprovalNode),
    /// Automatic: starts every branch at once.
    Parallel(ParallelNode),
    /// Automatic: waits for every branch of its parallel.
    Join(JoinNode),
    /// Waits for a duration or a date.
    Timer(TimerNode),
    /// Ends the case with an outcome.
    End(EndNode),
}

impl NodeKind {
    /// The `kind:` name in YAML.
    pub fn name(&self) -> &'static str {
        match self {
            NodeKind::Task(_) => "task",
            NodeKind::Decision(_) => "decision",
            NodeKind::Approval(_) => "approval",
            NodeKind::Parallel(_) => "parallel",
            NodeKind::Join(_) => "join",
            NodeKind::Timer(_) => "timer",
            NodeKind::End(_) => "end",
        }
    }

    /// Whether the engine passes this node without waiting for a person or the clock.
    pub fn is_automatic(&self) -> bool {
        matches!(
            self,
            NodeKind::Task(_) | NodeKind::Decision(_) | NodeKind::Parallel(_) | NodeKind::Join(_)
        )
    }
}

#[derive(Clone, Debug)]
pub struct TaskNode {
    pub plugin: PluginRef,
    /// The node's `config` (JSON object; `{}` when absent).
    pub config: serde_json::Value,
    /// `config` as the JSON text every call of the node hands the plugin.
    pub config_json: std::sync::Arc<str>,
    /// Variable the plugin's result document lands in.
    pub result: Option<String>,
    pub retry: Retry,
    /// Per-call time limit; the runtime's default when `None`.
    pub timeout: Option<Duration>,
    pub next: NodeId,
}

/// Retry policy of a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Total tries including the first (default 3).
    pub attempts: u32,
    /// Delay before the second try; doubles after each failure (default 1s).
    pub backoff: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 3,
            backoff: Duration::from_secs(1),
        }
    }
}

#[derive(Clone, Debug)]
pub struct DecisionNode {
    /// Tried in order; the first whose `when` is true wins.
    pub routes: Vec<Route>,
    /// Taken when no route matches.
    pub otherwise: NodeId,
}

#[derive(Clone, Debug)]
pub struct Route {
    pub when: Expr,
    pub to: NodeId,
}

#[derive(Clone, Debug)]
pub struct ApprovalNode {
    pub assign: Assign,
    /// The case's initiator, and anyone who already acted on an earlier approval of this
    /// case, may not act.
    pub four_eyes: bool,
    pub quorum: Option<Quorum>,
    pub sla: Option<Sla>,
    /// Action name → target: approve / reject / return / request_info / designer-named.
    pub actions: IndexMap<String, NodeId>,
}

#[derive(Clone, Debug)]
pub struct Assign {
    pub role: String,
    /// A number the approver's authority limit must be at least.
    pub authority: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quorum {
    /// Number of approvers asked.
    pub of: u32,
    /// Approvals needed.
    pub needed: u32,
    /// Roles whose reject ends the vote at once.
    pub veto: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sla {
    pub within: Duration,
    pub escalate_to: String,
}

#[derive(Clone, Debug)]
pub struct ParallelNode {
    pub branches: Vec<NodeId>,
    /// The join all branches meet at (computed by the validator: the immediate
    /// post-dominator of the parallel).
    pub join: NodeId,
}

#[derive(Clone, Debug)]
pub struct JoinNode {
    /// The parallel this join closes.
    pub parallel: NodeId,
    pub next: NodeId,
}

#[derive(Clone, Debug)]
pub struct TimerNode {
    pub wait: TimerWait,
    pub next: NodeId,
}

#[derive(Clone, Debug)]
pub enum TimerWait {
    After(Duration),
    /// Evaluates to an RFC 3339 timestamp or a `YYYY-MM-DD` string (midnight UTC).
    Until(Expr),
}

#[derive(Clone, Debug)]
pub struct EndNode {
    pub outcome: String,
}

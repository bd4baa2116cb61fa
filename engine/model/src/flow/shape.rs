//! Shape checks: the spanned YAML tree → a flow AST that still points into the tree.
//!
//! Every unknown field, missing field and wrong shape is reported, and checking goes on
//! with what is usable, so one run reports all problems.

use super::codes;
use super::did_you_mean;
use super::sink::Sink;
use super::yaml::{Pos, Yaml};

/// A scalar with the tree node it came from.
#[derive(Clone, Debug)]
pub(crate) struct Str<'a> {
    pub(crate) v: String,
    pub(crate) node: &'a Yaml,
}

pub(crate) struct FlowAst<'a> {
    pub(crate) root: &'a Yaml,
    pub(crate) id: Option<Str<'a>>,
    pub(crate) title: Option<String>,
    pub(crate) input: Option<&'a Yaml>,
    pub(crate) start: Option<Str<'a>>,
    pub(crate) schedule: Option<Str<'a>>,
    pub(crate) nodes_key: Option<&'a Yaml>,
    pub(crate) nodes: Vec<NodeAst<'a>>,
}

pub(crate) struct NodeAst<'a> {
    pub(crate) id: String,
    pub(crate) key: &'a Yaml,
    /// `None` when the kind is missing or unknown (already reported).
    pub(crate) kind: Option<KindAst<'a>>,
}

pub(crate) struct RouteAst<'a> {
    pub(crate) when: Str<'a>,
    pub(crate) to: Str<'a>,
}

pub(crate) struct QuorumAst<'a> {
    pub(crate) node: &'a Yaml,
    pub(crate) of: Option<(u32, &'a Yaml)>,
    pub(crate) needed: Option<(u32, &'a Yaml)>,
    pub(crate) veto: Vec<Str<'a>>,
}

pub(crate) struct SlaAst<'a> {
    pub(crate) within: Str<'a>,
    pub(crate) escalate_to: Str<'a>,
}

pub(crate) enum KindAst<'a> {
    Task {
        plugin: Option<Str<'a>>,
        config: Option<&'a Yaml>,
        result: Option<Str<'a>>,
        attempts: Option<(u32, &'a Yaml)>,
        backoff: Option<Str<'a>>,
        timeout: Option<Str<'a>>,
        next: Option<Str<'a>>,
    },
    Decision {
        routes: Vec<RouteAst<'a>>,
        otherwise: Option<Str<'a>>,
    },
    Approval {
        role: Option<Str<'a>>,
        authority: Option<Str<'a>>,
        four_eyes: bool,
        quorum: Option<QuorumAst<'a>>,
        sla: Option<SlaAst<'a>>,
        actions: Vec<(Str<'a>, Str<'a>)>,
    },
    Parallel {
        branches: Vec<Str<'a>>,
    },
    Join {
        next: Option<Str<'a>>,
    },
    Timer {
        after: Option<Str<'a>>,
        until: Option<Str<'a>>,
        next: Option<Str<'a>>,
    },
    End {
        outcome: Option<Str<'a>>,
    },
}

pub(crate) const KINDS: &[&str] = &[
    "task", "decision", "approval", "parallel", "join", "timer", "end",
];
const FLOW_FIELDS: &[&str] = &[
    "flow",
    "title",
    "description",
    "input",
    "start",
    "schedule",
    "nodes",
];

fn kind_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "task" => &[
            "kind",
            "description",
            "plugin",
            "config",
            "result",
            "retry",
            "timeout",
            "next",
        ],
        // `otherwise` is read only to say where it belongs.
        "decision" => &["kind", "description", "routes", "otherwise"],
        "approval" => &[
            "kind",
            "description",
            "assign",
            "four_eyes",
            "quorum",
            "sla",
            "actions",
        ],
        "parallel" => &["kind", "description", "branches"],
        "join" => &["kind", "description", "next"],
        "timer" => &["kind", "description", "after", "until", "next"],
        "end" => &["kind", "description", "outcome"],
        _ => &["kind"],
    }
}

/// The fields of one map, checked against the allowed names.
struct Fields<'a> {
    /// Where "missing field" problems point: the map's own key when it has one.
    at: Pos,
    entries: Vec<(&'a str, &'a Yaml, &'a Yaml)>,
}

impl<'a> Fields<'a> {
    /// `what` names the map in messages ("node `score`", "retry"…).
    fn new(sink: &mut Sink, node: &'a Yaml, allowed: &[&str], what: &str) -> Option<Fields<'a>> {
        let Some(map) = node.as_map() else {
            sink.error(
                node.pos,
                codes::WRONG_SHAPE,
                format!("{what} must be a map, found {}", node.describe()),
                Some(format!("write {what} as `key: value` lines")),
            );
            return None;
        };
        let mut entries = Vec::new();
        for (k, v) in map {
            let Some(name) = k.as_str() else {
                sink.error(
                    k.pos,
                    codes::WRONG_SHAPE,
                    format!("keys of {what} must be names"),
                    Some("write keys as plain words, e.g. `next:`".into()),
                );
                continue;
            };
            if !allowed.contains(&name) {
                let help = match did_you_mean(name, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("{what} takes: {}", allowed.join(", ")),
                };
                sink.error(
                    k.pos,
                    codes::UNKNOWN_FIELD,
                    format!("unknown field `{name}` in {what}"),
                    Some(help),
                );
                continue;
            }
            entries.push((name, k, v));
        }
        Some(Fields {
            at: node.pos,
            entries,
        })
    }

    fn at(mut self, pos: Pos) -> Self {
        self.at = pos;
        self
    }

    /// The position of a field's key (for problems with the field as a whole).
    fn key_pos(&self, name: &str) -> Pos {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, k, _)| k.pos)
            .unwrap_or(self.at)
    }

    fn get(&self, name: &str) -> Option<&'a Yaml> {
        self.entries
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, _, v)| *v)
    }

    fn require(&self, sink: &mut Sink, name: &str, what: &str, help: &str) -> Option<&'a Yaml> {
        let v = self.get(name);
        if v.is_none() {
            sink.error(
                self.at,
                codes::MISSING_FIELD,
                format!("{what} has no `{name}`"),
                Some(help.to_string()),
            );
        }
        v
    }
}

/// A scalar's text; reports maps and lists.
fn scalar<'a>(sink: &mut Sink, node: &'a Yaml, what: &str) -> Option<Str<'a>> {
    match node.as_str() {
        Some(s) if !node.is_null() => Some(Str {
            v: s.to_string(),
            node,
        }),
        _ => {
            sink.error(
                node.pos,
                codes::WRONG_SHAPE,
                format!("{what} must be a single value, found {}", node.describe()),
                Some("write one value after the colon, e.g. `key: value`".into()),
            );
            None
        }
    }
}

fn opt_scalar<'a>(sink: &mut Sink, node: Option<&'a Yaml>, what: &str) -> Option<Str<'a>> {
    node.and_then(|n| scalar(sink, n, what))
}

fn whole_number<'a>(sink: &mut Sink, node: &'a Yaml, what: &str) -> Option<(u32, &'a Yaml)> {
    let json = node.to_json();
    match json.as_u64().map(u32::try_from) {
        Some(Ok(n)) => Some((n, node)),
        _ => {
            sink.error(
                node.pos,
                codes::WRONG_SHAPE,
                format!("{what} must be a whole number, found {}", node.describe()),
                Some("e.g. `3`, without quotes".into()),
            );
            None
        }
    }
}

/// A target field (`next:`, `to:`…): a node id.
fn target<'a>(sink: &mut Sink, node: Option<&'a Yaml>, what: &str) -> Option<Str<'a>> {
    let t = opt_scalar(sink, node, what);
    if node.is_some() && t.is_none() {
        sink.incomplete = true;
    }
    t
}

fn require_target<'a>(
    sink: &mut Sink,
    fields: &Fields<'a>,
    name: &str,
    what: &str,
    help: &str,
) -> Option<Str<'a>> {
    let node = fields.require(sink, name, what, help);
    if node.is_none() {
        sink.incomplete = true;
    }
    target(sink, node, &format!("`{name}` of {what}"))
}

fn is_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Checks the whole tree. Returns `None` only when the root is not a map.
pub(crate) fn flow<'a>(sink: &mut Sink, root: &'a Yaml) -> Option<FlowAst<'a>> {
    let fields = Fields::new(sink, root, FLOW_FIELDS, "the flow")?;
    let id = fields
        .require(
            sink,
            "flow",
            "the flow",
            "name the flow: `flow: retail-loan`",
        )
        .and_then(|n| scalar(sink, n, "`flow`"));
    if let Some(id) = &id
        && !(is_ident(&id.v) && id.v.chars().all(|c| !c.is_ascii_uppercase()))
    {
        sink.error(
            id.node.pos,
            codes::INVALID_ID,
            format!(
                "flow id `{}` must be lowercase letters, digits, `-` and `_`",
                id.v
            ),
            Some("e.g. `flow: retail-loan`".into()),
        );
    }
    let title = opt_scalar(sink, fields.get("title"), "`title`").map(|s| s.v);
    opt_scalar(sink, fields.get("description"), "`description`");
    let input = fields.get("input");
    if let Some(i) = input
        && i.as_map().is_none()
    {
        sink.error(
            i.pos,
            codes::WRONG_SHAPE,
            format!(
                "`input` must be a JSON Schema written as a map, found {}",
                i.describe()
            ),
            Some(
                "e.g. `input: { required: [amount], properties: { amount: { type: number } } }`"
                    .into(),
            ),
        );
    }
    let start = fields.require(
        sink,
        "start",
        "the flow",
        "name the first node: `start: intake`",
    );
    if start.is_none() {
        sink.incomplete = true;
    }
    let start = target(sink, start, "`start`");
    let schedule = opt_scalar(sink, fields.get("schedule"), "`schedule`");
    let nodes_node = fields.require(sink, "nodes", "the flow", "list the nodes under `nodes:`");
    let nodes_key = fields
        .entries
        .iter()
        .find(|(n, _, _)| *n == "nodes")
        .map(|(_, k, _)| *k);
    let mut nodes = Vec::new();
    if let Some(nn) = nodes_node {
        match nn.as_map() {
            Some(map) => {
                for (k, v) in map {
                    let Some(name) = k.as_str() else {
                        sink.error(
                            k.pos,
                            codes::WRONG_SHAPE,
                            "node ids must be names".to_string(),
                            Some("e.g. `review:`".into()),
                        );
                        continue;
                    };
                    if !is_ident(name) {
                        sink.error(
                            k.pos,
                            codes::INVALID_ID,
                            format!("node id `{name}` must start with a letter or `_` and hold only letters, digits, `_` and `-`"),
                            Some("e.g. `credit_review` or `credit-review`".into()),
                        );
                    }
                    let kind = node(sink, name, k, v);
                    if kind.is_none() {
                        sink.incomplete = true;
                    }
                    nodes.push(NodeAst {
                        id: name.to_string(),
                        key: k,
                        kind,
                    });
                }
            }
            None => {
                sink.incomplete = true;
                sink.error(
                    nn.pos,
                    codes::WRONG_SHAPE,
                    format!(
                        "`nodes` must be a map of node id to node, found {}",
                        nn.describe()
                    ),
                    Some(
                        "e.g. `nodes:` followed by indented `done: { kind: end, outcome: done }`"
                            .into(),
                    ),
                );
            }
        }
    } else {
        sink.incomplete = true;
    }
    Some(FlowAst {
        root,
        id,
        title,
        input,
        start,
        schedule,
        nodes_key,
        nodes,
    })
}

fn node<'a>(sink: &mut Sink, id: &str, key: &Yaml, body: &'a Yaml) -> Option<KindAst<'a>> {
    let what = format!("node `{id}`");
    let Some(map) = body.as_map() else {
        sink.error(
            body.pos,
            codes::WRONG_SHAPE,
            format!("{what} must be a map, found {}", body.describe()),
            Some("e.g. `done: { kind: end, outcome: approved }`".into()),
        );
        return None;
    };
    let kind_node = map
        .iter()
        .find(|(k, _)| k.as_str() == Some("kind"))
        .map(|(_, v)| v);
    let Some(kind_node) = kind_node else {
        sink.error(
            key.pos,
            codes::MISSING_FIELD,
            format!("{what} has no `kind`"),
            Some(format!("add `kind:` one of {}", KINDS.join(", "))),
        );
        return None;
    };
    let kind = kind_node.as_str().unwrap_or_default();
    if !KINDS.contains(&kind) {
        let help = match did_you_mean(kind, KINDS.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("node kinds: {}", KINDS.join(", ")),
        };
        sink.error(
            kind_node.pos,
            codes::UNKNOWN_KIND,
            format!("unknown node kind `{kind}`"),
            Some(help),
        );
        return None;
    }
    let what = format!("{kind} node `{id}`");
    let f = Fields::new(sink, body, kind_fields(kind), &what)?.at(key.pos);
    opt_scalar(sink, f.get("description"), "`description`");
    Some(match kind {
        "task" => task(sink, &f, &what),
        "decision" => decision(sink, &f, &what),
        "approval" => approval(sink, &f, &what),
        "parallel" => {
            let mut branches = Vec::new();
            if let Some(b) = f.require(
                sink,
                "branches",
                &what,
                "list the first node of each branch: `branches: [a, b]`",
            ) {
                match b.as_seq() {
                    Some(items) => {
                        for item in items {
                            if let Some(t) = target(sink, Some(item), "a branch") {
                                branches.push(t);
                            }
                        }
                    }
                    None => {
                        sink.incomplete = true;
                        sink.error(
                            b.pos,
                            codes::WRONG_SHAPE,
                            format!(
                                "`branches` must be a list of node ids, found {}",
                                b.describe()
                            ),
                            Some("e.g. `branches: [credit_check, fraud_check]`".into()),
                        );
                    }
                }
            } else {
                sink.incomplete = true;
            }
            KindAst::Parallel { branches }
        }
        "join" => KindAst::Join {
            next: require_target(
                sink,
                &f,
                "next",
                &what,
                "name the node after the join: `next: decide`",
            ),
        },
        "timer" => {
            let after = opt_scalar(sink, f.get("after"), "`after`");
            let until = opt_scalar(sink, f.get("until"), "`until`");
            if f.get("after").is_some() && f.get("until").is_some() {
                sink.error(
                    key.pos,
                    codes::TIMER_WAIT,
                    format!("{what} has both `after` and `until`"),
                    Some("keep one: `after: 30d` waits a duration, `until: <expression>` waits for a date".into()),
                );
            } else if f.get("after").is_none() && f.get("until").is_none() {
                sink.error(
                    key.pos,
                    codes::TIMER_WAIT,
                    format!("{what} has neither `after` nor `until`"),
                    Some("add `after: 30d` (a duration) or `until: <expression>` (a date)".into()),
                );
            }
            KindAst::Timer {
                after,
                until,
                next: require_target(
                    sink,
                    &f,
                    "next",
                    &what,
                    "name the node after the wait: `next: review`",
                ),
            }
        }
        _ => KindAst::End {
            outcome: f
                .require(
                    sink,
                    "outcome",
                    &what,
                    "say how the case ends: `outcome: approved`",
                )
                .and_then(|n| scalar(sink, n, "`outcome`")),
        },
    })
}

fn task<'a>(sink: &mut Sink, f: &Fields<'a>, what: &str) -> KindAst<'a> {
    let plugin = f
        .require(
            sink,
            "plugin",
            what,
            "name the plugin and its major version: `plugin: scorecard@1`",
        )
        .and_then(|n| scalar(sink, n, "`plugin`"));
    let config = f.get("config");
    if let Some(c) = config
        && c.as_map().is_none()
        && !c.is_null()
    {
        sink.error(
            c.pos,
            codes::WRONG_SHAPE,
            format!("`config` must be a map, found {}", c.describe()),
            Some("e.g. `config: { card: retail-v2 }`".into()),
        );
    }
    let result = opt_scalar(sink, f.get("result"), "`result`");
    let (mut attempts, mut backoff) = (None, None);
    if let Some(r) = f.get("retry")
        && let Some(rf) = Fields::new(sink, r, &["attempts", "backoff"], "`retry`")
            .map(|x| x.at(f.key_pos("retry")))
    {
        attempts = rf
            .get("attempts")
            .and_then(|n| whole_number(sink, n, "`attempts`"));
        backoff = opt_scalar(sink, rf.get("backoff"), "`backoff`");
    }
    let timeout = opt_scalar(sink, f.get("timeout"), "`timeout`");
    let next = require_target(
        sink,
        f,
        "next",
        what,
        "name the node after the task: `next: decide`",
    );
    KindAst::Task {
        plugin,
        config,
        result,
        attempts,
        backoff,
        timeout,
        next,
    }
}

fn decision<'a>(sink: &mut Sink, f: &Fields<'a>, what: &str) -> KindAst<'a> {
    let mut routes = Vec::new();
    let mut otherwise: Option<Str<'a>> = None;
    if let Some(o) = f.get("otherwise") {
        sink.error(
            f.key_pos("otherwise"),
            codes::MISPLACED_OTHERWISE,
            "`otherwise` belongs in `routes`, as the last route".into(),
            Some("write it as the last item of `routes`: `- otherwise: <node>`".into()),
        );
        otherwise = target(sink, Some(o), "`otherwise`");
    }
    let sibling_otherwise = otherwise.is_some();
    let Some(list) = f.require(
        sink,
        "routes",
        what,
        "list the routes: `routes: [{ when: amount < 1000, to: approved }, { otherwise: review }]`",
    ) else {
        sink.incomplete = true;
        return KindAst::Decision { routes, otherwise };
    };
    let Some(items) = list.as_seq() else {
        sink.incomplete = true;
        sink.error(
            list.pos,
            codes::WRONG_SHAPE,
            format!("`routes` must be a list, found {}", list.describe()),
            Some("write each route as `- when: <condition>` + `to: <node>`, and `- otherwise: <node>` last".into()),
        );
        return KindAst::Decision { routes, otherwise };
    };
    for item in items {
        if let Some(o) = otherwise.as_ref().filter(|_| !sibling_otherwise) {
            sink.error(
                item.pos,
                codes::MISPLACED_OTHERWISE,
                "route after `otherwise` is never taken".to_string(),
                Some(format!(
                    "`otherwise` (line {}) must be the last route",
                    o.node.pos.line
                )),
            );
            continue;
        }
        let is_otherwise = item
            .as_map()
            .is_some_and(|m| m.iter().any(|(k, _)| k.as_str() == Some("otherwise")));
        if is_otherwise {
            let Some(rf) = Fields::new(sink, item, &["otherwise"], "an `otherwise` route") else {
                continue;
            };
            otherwise = target(sink, rf.get("otherwise"), "`otherwise`");
            if otherwise.is_none() {
                sink.incomplete = true;
            }
            continue;
        }
        let Some(rf) = Fields::new(sink, item, &["when", "to"], "a route") else {
            sink.incomplete = true;
            continue;
        };
        let when = rf
            .require(
                sink,
                "when",
                "the route",
                "give the condition: `when: amount < 1000`",
            )
            .and_then(|n| scalar(sink, n, "`when`"));
        let to = require_target(
            sink,
            &rf,
            "to",
            "the route",
            "name the node it goes to: `to: approved`",
        );
        if let (Some(when), Some(to)) = (when, to) {
            routes.push(RouteAst { when, to });
        }
    }
    if otherwise.is_none() && !items.is_empty() {
        sink.error(
            list.pos,
            codes::MISSING_OTHERWISE,
            format!("{what} has no `otherwise` route"),
            Some("end the routes with `- otherwise: <node>`, taken when no condition holds".into()),
        );
        sink.incomplete = true;
    } else if items.is_empty() {
        sink.error(
            list.pos,
            codes::MISSING_OTHERWISE,
            format!("{what} has no routes"),
            Some("add routes and end them with `- otherwise: <node>`".into()),
        );
        sink.incomplete = true;
    }
    KindAst::Decision { routes, otherwise }
}

fn approval<'a>(sink: &mut Sink, f: &Fields<'a>, what: &str) -> KindAst<'a> {
    let (mut role, mut authority) = (None, None);
    if let Some(a) = f.require(
        sink,
        "assign",
        what,
        "say who acts: `assign: { role: credit_officer }`",
    ) && let Some(af) =
        Fields::new(sink, a, &["role", "authority"], "`assign`").map(|x| x.at(f.key_pos("assign")))
    {
        role = af
            .require(
                sink,
                "role",
                "`assign`",
                "name the approvers' role: `role: credit_officer`",
            )
            .and_then(|n| scalar(sink, n, "`role`"));
        authority = opt_scalar(sink, af.get("authority"), "`authority`");
    }
    let four_eyes = match f.get("four_eyes") {
        None => false,
        Some(n) => match n.to_json() {
            serde_json::Value::Bool(b) => b,
            _ => {
                sink.error(
                    n.pos,
                    codes::WRONG_SHAPE,
                    format!("`four_eyes` must be true or false, found {}", n.describe()),
                    Some("write `four_eyes: true` or `four_eyes: false` (YAML 1.2: `yes`/`no` are strings)".into()),
                );
                false
            }
        },
    };
    let mut quorum = None;
    if let Some(q) = f.get("quorum")
        && let Some(qf) = Fields::new(sink, q, &["of", "needed", "veto"], "`quorum`")
            .map(|x| x.at(f.key_pos("quorum")))
    {
        let of = qf
            .require(
                sink,
                "of",
                "`quorum`",
                "say how many approvers are asked: `of: 3`",
            )
            .and_then(|n| whole_number(sink, n, "`of`"));
        let needed = qf
            .require(
                sink,
                "needed",
                "`quorum`",
                "say how many approvals are needed: `needed: 2`",
            )
            .and_then(|n| whole_number(sink, n, "`needed`"));
        let mut veto = Vec::new();
        if let Some(v) = qf.get("veto") {
            match v.as_seq() {
                Some(items) => {
                    for i in items {
                        if let Some(s) = scalar(sink, i, "a veto role") {
                            veto.push(s);
                        }
                    }
                }
                None => sink.error(
                    v.pos,
                    codes::WRONG_SHAPE,
                    format!("`veto` must be a list of roles, found {}", v.describe()),
                    Some("e.g. `veto: [chief_risk_officer]`".into()),
                ),
            }
        }
        quorum = Some(QuorumAst {
            node: q,
            of,
            needed,
            veto,
        });
    }
    let mut sla = None;
    if let Some(s) = f.get("sla")
        && let Some(sf) = Fields::new(sink, s, &["within", "escalate_to"], "`sla`")
            .map(|x| x.at(f.key_pos("sla")))
    {
        let within = sf
            .require(sink, "within", "`sla`", "give the deadline: `within: 4h`")
            .and_then(|n| scalar(sink, n, "`within`"));
        let escalate_to = sf
            .require(
                sink,
                "escalate_to",
                "`sla`",
                "name the role to escalate to: `escalate_to: senior_officer`",
            )
            .and_then(|n| scalar(sink, n, "`escalate_to`"));
        if let (Some(within), Some(escalate_to)) = (within, escalate_to) {
            sla = Some(SlaAst {
                within,
                escalate_to,
            });
        }
    }
    let mut actions = Vec::new();
    match f.get("actions") {
        None => {
            sink.error(
                f.at,
                codes::NO_ACTIONS,
                format!("{what} has no `actions`"),
                Some("map each action to its next node: `actions: { approve: approved, reject: rejected }`".into()),
            );
            sink.incomplete = true;
        }
        Some(a) => match a.as_map() {
            Some(entries) if !entries.is_empty() => {
                for (k, v) in entries {
                    let Some(name) = k.as_str() else {
                        sink.error(
                            k.pos,
                            codes::WRONG_SHAPE,
                            "action names must be names".to_string(),
                            Some("e.g. `approve: approved`".into()),
                        );
                        continue;
                    };
                    if !is_ident(name) {
                        sink.error(
                            k.pos,
                            codes::INVALID_ID,
                            format!("action `{name}` must be letters, digits, `_` and `-`"),
                            Some("e.g. `request_info` or `refer-to-committee`".into()),
                        );
                    }
                    if let Some(t) = target(sink, Some(v), &format!("action `{name}`")) {
                        actions.push((
                            Str {
                                v: name.to_string(),
                                node: k,
                            },
                            t,
                        ));
                    }
                }
            }
            Some(_) => {
                sink.error(
                    a.pos,
                    codes::NO_ACTIONS,
                    format!("{what} has no actions"),
                    Some("map each action to its next node: `actions: { approve: approved, reject: rejected }`".into()),
                );
                sink.incomplete = true;
            }
            None => {
                sink.incomplete = true;
                sink.error(
                    a.pos,
                    codes::WRONG_SHAPE,
                    format!(
                        "`actions` must be a map of action to node, found {}",
                        a.describe()
                    ),
                    Some("e.g. `actions: { approve: approved, reject: rejected }`".into()),
                );
            }
        },
    }
    KindAst::Approval {
        role,
        authority,
        four_eyes,
        quorum,
        sla,
        actions,
    }
}

//! Meaning checks and compilation: the flow AST → [`Flow`].
//!
//! Targets, expressions, durations, cron, plugin references and configs, the input
//! schema, then the graph checks (`flow::graph`). A `Flow` is built only when no error
//! was found.

use super::codes;
use super::did_you_mean;
use super::duration::parse_duration;
use super::graph::{self, GKind, GNode};
use super::model::*;
use super::shape::{FlowAst, KindAst, Str};
use super::sink::Sink;
use super::types::{self, T, Vars};
use super::yaml::{SourceMap, Yaml};
use crate::expr::Expr;
use crate::plugin::{PluginRef, Plugins};
use crate::schema::Schema;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// Retry attempts above this are refused: a limit on everything.
pub const MAX_ATTEMPTS: u32 = 100;

struct Ctx<'a, 'p> {
    sink: &'a mut Sink,
    map: &'a SourceMap,
    ids: &'a IndexMap<String, usize>,
    plugins: Option<&'p dyn Plugins>,
}

impl Ctx<'_, '_> {
    /// Resolves a target; reports an unknown one.
    fn target(&mut self, t: &Option<Str<'_>>) -> Option<NodeId> {
        let t = t.as_ref()?;
        if self.ids.contains_key(&t.v) {
            return Some(NodeId::new(t.v.clone()));
        }
        let help = match did_you_mean(&t.v, self.ids.keys().map(String::as_str)) {
            Some(s) => format!("did you mean `{s}`?"),
            None => "targets are node ids, the keys under `nodes:`".into(),
        };
        self.sink.error(
            t.node.pos,
            codes::UNKNOWN_TARGET,
            format!("no node `{}` in this flow", t.v),
            Some(help),
        );
        self.sink.incomplete = true;
        None
    }

    fn duration(&mut self, d: &Option<Str<'_>>) -> Option<Option<Duration>> {
        let Some(d) = d else { return Some(None) };
        match parse_duration(&d.v) {
            Ok(x) => Some(Some(x)),
            Err(e) => {
                self.sink.error(
                    d.node.pos,
                    codes::INVALID_DURATION,
                    format!("invalid duration {e}"),
                    Some("write a whole number and a unit: `500ms`, `2s`, `15m`, `4h`, `1d`, `1h30m`".into()),
                );
                None
            }
        }
    }

    fn expr(&mut self, s: &Str<'_>, vars: &Vars<'_>, want: Option<T>, role: &str) -> Option<Expr> {
        match Expr::compile(&s.v) {
            Ok(e) => {
                types::check(self.sink, self.map, vars, &e, s.node, want, role);
                Some(e)
            }
            Err(err) => {
                let pos = self.map.pos_in_scalar(s.node, err.offset);
                self.sink.error(
                    pos,
                    codes::CEL_SYNTAX,
                    format!("invalid expression `{}`: {}", s.v, err.message),
                    Some("conditions are CEL: `amount <= 200000 && docs.ok`; quote the value if it starts with `!`, `*`, `&`, `[` or `{`".into()),
                );
                None
            }
        }
    }
}

/// Where a schema error goes: at the key for an unknown field (or a schema keyword), at
/// the value otherwise.
fn schema_error_pos(root: &Yaml, pointer: &str, at_key: bool) -> super::yaml::Pos {
    match root.key_at_pointer(pointer) {
        Some(k) if at_key => k.pos,
        _ => root.at_pointer(pointer).pos,
    }
}

fn is_cel_ident(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub(crate) fn compile(
    sink: &mut Sink,
    src: &str,
    ast: &FlowAst<'_>,
    map: &SourceMap,
    plugins: Option<&dyn Plugins>,
) -> Option<Flow> {
    // Input schema.
    let input = match ast.input {
        Some(node) if node.as_map().is_some() => match Schema::compile_object(&node.to_json()) {
            Ok(s) => Some(s),
            Err(errors) => {
                for e in errors {
                    sink.error(
                        schema_error_pos(node, &e.pointer, true),
                        codes::INVALID_SCHEMA,
                        format!("invalid `input` schema: {}", e.message),
                        Some("`input` is a JSON Schema subset; see docs/FLOW-FORMAT.md".into()),
                    );
                }
                None
            }
        },
        Some(_) => None,
        None => Some(Schema::any_object()),
    };
    let input_for_checks = input.clone().unwrap_or_else(Schema::any_object);

    // Schedule.
    let schedule = match &ast.schedule {
        None => Some(None),
        Some(s) => match Schedule::parse(&s.v) {
            Ok(x) => Some(Some(x)),
            Err(e) => {
                sink.error(
                    s.node.pos,
                    codes::INVALID_CRON,
                    format!("invalid cron expression `{}`: {e}", s.v),
                    Some("5 fields: minute hour day-of-month month day-of-week, e.g. `0 6 1 * *` (06:00 UTC on the 1st)".into()),
                );
                None
            }
        },
    };

    let ids: IndexMap<String, usize> = ast
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();

    // Variables: input fields and task results.
    let mut results: HashMap<String, Option<Schema>> = HashMap::new();
    for n in &ast.nodes {
        if let Some(KindAst::Task {
            result: Some(r),
            plugin,
            ..
        }) = &n.kind
        {
            if !is_cel_ident(&r.v) {
                sink.error(
                    r.node.pos,
                    codes::INVALID_RESULT_NAME,
                    format!("result name `{}` is not an identifier", r.v),
                    Some("expressions read it as a variable: use letters, digits and `_`, e.g. `scoring`".into()),
                );
                continue;
            }
            if input_for_checks.declares(&[r.v.as_str()]) {
                sink.error(
                    r.node.pos,
                    codes::INVALID_RESULT_NAME,
                    format!(
                        "result `{}` would overwrite the input field of the same name",
                        r.v
                    ),
                    Some("name the result differently".into()),
                );
                continue;
            }
            let output = plugins
                .zip(plugin.as_ref())
                .and_then(|(reg, p)| PluginRef::parse(&p.v).ok().and_then(|p| reg.describe(&p)))
                .and_then(|info| Schema::compile(&info.output_schema).ok());
            let slot = results.entry(r.v.clone()).or_insert(None);
            if slot.is_none() {
                *slot = output;
            }
        }
    }
    let vars = Vars {
        input: &input_for_checks,
        results,
        // With a broken input schema, "not defined" would only echo that error.
        warn_undefined: input.is_some(),
    };

    let mut cx = Ctx {
        sink,
        map,
        ids: &ids,
        plugins,
    };
    let start = cx.target(&ast.start);

    let mut built: IndexMap<NodeId, Node> = IndexMap::new();
    let mut used_plugins: Vec<PluginRef> = Vec::new();
    let mut gnodes: Vec<GNode<'_>> = Vec::new();
    let mut all_built = true;
    for n in &ast.nodes {
        let mut succ_names: Vec<&Str<'_>> = Vec::new();
        let (gkind, kind) = match &n.kind {
            None => (GKind::Auto, None),
            Some(k) => {
                collect_targets(k, &mut succ_names);
                let gkind = match k {
                    KindAst::Task { .. } | KindAst::Decision { .. } => GKind::Auto,
                    KindAst::Approval { .. } | KindAst::Timer { .. } => GKind::Wait,
                    KindAst::Parallel { .. } => GKind::Parallel,
                    KindAst::Join { .. } => GKind::Join,
                    KindAst::End { .. } => GKind::End,
                };
                (
                    gkind,
                    node_kind(&mut cx, &n.id, n.key, k, &vars, &mut used_plugins),
                )
            }
        };
        let mut succ = Vec::new();
        for s in succ_names {
            if let Some(&i) = ids.get(&s.v)
                && !succ.contains(&i)
            {
                succ.push(i);
            }
        }
        gnodes.push(GNode {
            id: &n.id,
            pos: n.key.pos,
            kind: gkind,
            succ,
        });
        match kind {
            Some(kind) => {
                built.insert(
                    NodeId::new(n.id.clone()),
                    Node {
                        id: NodeId::new(n.id.clone()),
                        kind,
                    },
                );
            }
            None => all_built = false,
        }
    }

    let start_index = ast.start.as_ref().and_then(|s| ids.get(&s.v).copied());
    let nodes_pos = ast.nodes_key.map(|k| k.pos).unwrap_or(ast.root.pos);
    let complete = !cx.sink.incomplete;
    let joins = graph::check(cx.sink, &gnodes, start_index, nodes_pos, complete);

    if cx.sink.has_errors() || !all_built {
        return None;
    }
    let (Some(id), Some(input), Some(schedule), Some(start)) = (&ast.id, input, schedule, start)
    else {
        return None;
    };
    // Fill in what the graph checks computed.
    for (p, j) in &joins {
        let pid = NodeId::new(ast.nodes[*p].id.clone());
        let jid = NodeId::new(ast.nodes[*j].id.clone());
        if let Some(Node {
            kind: NodeKind::Parallel(par),
            ..
        }) = built.get_mut(&pid)
        {
            par.join = jid.clone();
        }
        if let Some(Node {
            kind: NodeKind::Join(join),
            ..
        }) = built.get_mut(&jid)
        {
            join.parallel = pid;
        }
    }
    Some(Flow {
        id: id.v.clone(),
        title: ast.title.clone(),
        hash: hex::encode(Sha256::digest(src.as_bytes())),
        source: src.to_string(),
        input,
        start,
        schedule,
        nodes: built,
        plugins: used_plugins,
    })
}

fn collect_targets<'a, 'b>(k: &'b KindAst<'a>, out: &mut Vec<&'b Str<'a>>) {
    match k {
        KindAst::Task { next, .. } | KindAst::Join { next } | KindAst::Timer { next, .. } => {
            out.extend(next.iter());
        }
        KindAst::Decision { routes, otherwise } => {
            out.extend(routes.iter().map(|r| &r.to));
            out.extend(otherwise.iter());
        }
        KindAst::Approval { actions, .. } => out.extend(actions.iter().map(|(_, t)| t)),
        KindAst::Parallel { branches } => out.extend(branches.iter()),
        KindAst::End { .. } => {}
    }
}

fn node_kind(
    cx: &mut Ctx<'_, '_>,
    id: &str,
    key: &Yaml,
    k: &KindAst<'_>,
    vars: &Vars<'_>,
    used_plugins: &mut Vec<PluginRef>,
) -> Option<NodeKind> {
    match k {
        KindAst::Task {
            plugin,
            config,
            result,
            attempts,
            backoff,
            timeout,
            next,
        } => {
            let plugin = plugin.as_ref().and_then(|p| plugin_ref(cx, p, *config));
            if let Some(p) = &plugin
                && !used_plugins.contains(p)
            {
                used_plugins.push(p.clone());
            }
            let attempts = match attempts {
                None => Some(Retry::default().attempts),
                Some((a, _)) if (1..=MAX_ATTEMPTS).contains(a) => Some(*a),
                Some((a, node)) => {
                    cx.sink.error(
                        node.pos,
                        codes::INVALID_NUMBER,
                        format!("`attempts: {a}` is out of range"),
                        Some(format!(
                            "attempts counts every try including the first: 1 to {MAX_ATTEMPTS}"
                        )),
                    );
                    None
                }
            };
            let backoff = cx.duration(backoff);
            let timeout = cx.duration(timeout);
            let next = cx.target(next);
            let config = match config {
                Some(c) if !c.is_null() => c.to_json(),
                _ => serde_json::Value::Object(Default::default()),
            };
            Some(NodeKind::Task(TaskNode {
                plugin: plugin?,
                config_json: canonical_json::canonical_json(&config).into(),
                config,
                result: result.as_ref().map(|r| r.v.clone()),
                retry: Retry {
                    attempts: attempts?,
                    backoff: backoff?.unwrap_or(Retry::default().backoff),
                },
                timeout: timeout?,
                next: next?,
            }))
        }
        KindAst::Decision { routes, otherwise } => {
            let mut out = Vec::new();
            let mut ok = true;
            for r in routes {
                let when = cx.expr(&r.when, vars, Some(T::Bool), "a route condition");
                let to = cx.target(&Some(r.to.clone()));
                match (when, to) {
                    (Some(when), Some(to)) => out.push(Route { when, to }),
                    _ => ok = false,
                }
            }
            let otherwise = cx.target(otherwise);
            if !ok {
                return None;
            }
            Some(NodeKind::Decision(DecisionNode {
                routes: out,
                otherwise: otherwise?,
            }))
        }
        KindAst::Approval {
            role,
            authority,
            four_eyes,
            quorum,
            sla,
            actions,
        } => {
            let authority = match authority {
                None => Some(None),
                Some(a) => cx.expr(a, vars, Some(T::Number), "an authority").map(Some),
            };
            let mut targets = IndexMap::new();
            let mut ok = true;
            for (name, t) in actions {
                match cx.target(&Some(t.clone())) {
                    Some(t) => {
                        targets.insert(name.v.clone(), t);
                    }
                    None => ok = false,
                }
            }
            let quorum = match quorum {
                None => Some(None),
                Some(q) => {
                    let mut qok = true;
                    if let (Some((of, of_node)), Some((needed, needed_node))) = (q.of, q.needed) {
                        if of == 0 {
                            qok = false;
                            cx.sink.error(
                                of_node.pos,
                                codes::INVALID_QUORUM,
                                "a quorum of 0 approvers cannot decide".into(),
                                Some("`of` is how many approvers are asked, at least 1".into()),
                            );
                        } else if needed == 0 || needed > of {
                            qok = false;
                            cx.sink.error(
                                needed_node.pos,
                                codes::INVALID_QUORUM,
                                format!("`needed: {needed}` cannot be met with `of: {of}`"),
                                Some(format!("needed is between 1 and {of}")),
                            );
                        }
                    } else {
                        qok = false;
                    }
                    let missing: Vec<&str> = ["approve", "reject"]
                        .into_iter()
                        .filter(|a| !actions.iter().any(|(n, _)| n.v == *a))
                        .collect();
                    if !missing.is_empty() && !actions.is_empty() {
                        qok = false;
                        cx.sink.error(
                            q.node.pos,
                            codes::QUORUM_ACTIONS,
                            format!(
                                "approval `{id}` has a quorum but no {} action",
                                missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(" or ")
                            ),
                            Some("with a quorum, `approve` and `reject` are the votes: map both to nodes".into()),
                        );
                    }
                    match (qok, q.of, q.needed) {
                        (true, Some((of, _)), Some((needed, _))) => Some(Some(Quorum {
                            of,
                            needed,
                            veto: q.veto.iter().map(|v| v.v.clone()).collect(),
                        })),
                        _ => None,
                    }
                }
            };
            let sla = match sla {
                None => Some(None),
                Some(s) => cx
                    .duration(&Some(s.within.clone()))
                    .flatten()
                    .map(|within| {
                        Some(Sla {
                            within,
                            escalate_to: s.escalate_to.v.clone(),
                        })
                    }),
            };
            if !ok {
                return None;
            }
            Some(NodeKind::Approval(ApprovalNode {
                assign: Assign {
                    role: role.as_ref()?.v.clone(),
                    authority: authority?,
                },
                four_eyes: *four_eyes,
                quorum: quorum?,
                sla: sla?,
                actions: targets,
            }))
        }
        KindAst::Parallel { branches } => {
            let mut out: Vec<NodeId> = Vec::new();
            let mut ok = true;
            for b in branches {
                match cx.target(&Some(b.clone())) {
                    Some(t) if out.contains(&t) => {
                        ok = false;
                        cx.sink.incomplete = true;
                        cx.sink.error(
                            b.node.pos,
                            codes::FEW_BRANCHES,
                            format!("branch `{t}` is listed twice"),
                            Some("list each branch's first node once".into()),
                        );
                    }
                    Some(t) => out.push(t),
                    None => ok = false,
                }
            }
            if ok && out.len() < 2 {
                cx.sink.incomplete = true;
                cx.sink.error(
                    key.pos,
                    codes::FEW_BRANCHES,
                    format!(
                        "parallel `{id}` has {} branch{}; it needs at least two",
                        out.len(),
                        if out.len() == 1 { "" } else { "es" }
                    ),
                    Some("with one branch, go there with a plain `next` instead".into()),
                );
                return None;
            }
            ok.then_some(NodeKind::Parallel(ParallelNode {
                branches: out,
                // Set once the graph checks found it.
                join: NodeId::new(""),
            }))
        }
        KindAst::Join { next } => Some(NodeKind::Join(JoinNode {
            parallel: NodeId::new(""),
            next: cx.target(next)?,
        })),
        KindAst::Timer { after, until, next } => {
            let wait = match (after, until) {
                (Some(_), None) => cx.duration(after).flatten().map(TimerWait::After),
                (None, Some(u)) => cx
                    .expr(u, vars, Some(T::String), "a timer's `until`")
                    .map(TimerWait::Until),
                _ => None,
            };
            let next = cx.target(next);
            Some(NodeKind::Timer(TimerNode {
                wait: wait?,
                next: next?,
            }))
        }
        KindAst::End { outcome } => Some(NodeKind::End(EndNode {
            outcome: outcome.as_ref()?.v.clone(),
        })),
    }
}

fn plugin_ref(cx: &mut Ctx<'_, '_>, p: &Str<'_>, config: Option<&Yaml>) -> Option<PluginRef> {
    let r = match PluginRef::parse(&p.v) {
        Ok(r) => r,
        Err(e) => {
            cx.sink.error(
                p.node.pos,
                codes::INVALID_PLUGIN_REF,
                e,
                Some("write the plugin's name and major version: `scorecard@1`".into()),
            );
            return None;
        }
    };
    let Some(registry) = cx.plugins else {
        return Some(r);
    };
    let Some(info) = registry.describe(&r) else {
        let mut help = "install it, or check the name and major version".to_string();
        // No listing in the port: suggest the same name at another major when it exists.
        for major in (0..=r.major + 3).rev() {
            if major == r.major {
                continue;
            }
            let other = PluginRef {
                name: r.name.clone(),
                major,
            };
            if registry.describe(&other).is_some() {
                help = format!("`{other}` is registered");
                break;
            }
        }
        cx.sink.error(
            p.node.pos,
            codes::UNKNOWN_PLUGIN,
            format!("no plugin `{r}` in the registry"),
            Some(help),
        );
        return None;
    };
    let schema = match Schema::compile_object(&info.config_schema) {
        Ok(s) => s,
        Err(errors) => {
            cx.sink.error(
                p.node.pos,
                codes::CONFIG_MISMATCH,
                format!(
                    "plugin `{r}` declares a config schema Docket cannot check: {}",
                    errors.first().map(ToString::to_string).unwrap_or_default()
                ),
                Some("the plugin's `describe().config_schema` must use the JSON Schema subset of docs/FLOW-FORMAT.md".into()),
            );
            return None;
        }
    };
    let value = match config {
        Some(c) if !c.is_null() => c.to_json(),
        _ => serde_json::Value::Object(Default::default()),
    };
    if let Err(errors) = schema.check(&value) {
        for e in errors {
            let pos = match config {
                Some(c) if !c.is_null() => {
                    schema_error_pos(c, &e.pointer, e.message.starts_with("unknown field"))
                }
                _ => p.node.pos,
            };
            let place = if e.pointer.is_empty() {
                String::new()
            } else {
                format!(" at `{}`", e.pointer)
            };
            cx.sink.error(
                pos,
                codes::CONFIG_MISMATCH,
                format!("config for `{r}`{place}: {}", e.message),
                Some(format!(
                    "see the config schema of `{r}` (`docket plugin describe {}`)",
                    r.name
                )),
            );
        }
        return None;
    }
    Some(r)
}

//! Graph checks (petgraph): reachability, paths to an end, cycles of automatic nodes,
//! and matching each parallel to its join.
//!
//! A parallel's join is its immediate post-dominator (dominators on the reversed graph,
//! rooted at a virtual exit that every `end` leads to): the first node every path from
//! the parallel must pass. It must be a `join`, and each branch's region — the nodes
//! reachable from the branch without passing the join — must be entered only through
//! its first node, stay apart from the other branches and not loop back to the parallel.

use super::codes;
use super::sink::Sink;
use super::yaml::Pos;
use petgraph::algo::dominators::simple_fast;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::Reversed;
use std::collections::{HashMap, HashSet, VecDeque};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GKind {
    /// task or decision
    Auto,
    /// approval or timer
    Wait,
    End,
    Parallel,
    Join,
}

impl GKind {
    fn automatic(self) -> bool {
        matches!(self, GKind::Auto | GKind::Parallel | GKind::Join)
    }
}

pub(crate) struct GNode<'a> {
    pub(crate) id: &'a str,
    pub(crate) pos: Pos,
    pub(crate) kind: GKind,
    pub(crate) succ: Vec<usize>,
}

/// Parallel index → its join's index.
pub(crate) type Joins = HashMap<usize, usize>;

/// Runs the checks. Graph-wide ones only when `complete` (every node and target read).
pub(crate) fn check(
    sink: &mut Sink,
    nodes: &[GNode<'_>],
    start: Option<usize>,
    nodes_pos: Pos,
    complete: bool,
) -> Joins {
    automatic_cycles(sink, nodes);
    let Some(start) = start else {
        return Joins::new();
    };
    if !complete {
        return Joins::new();
    }
    let reachable = walk(start, |i| nodes[i].succ.clone());
    for (i, n) in nodes.iter().enumerate() {
        if !reachable.contains(&i) {
            sink.error(
                n.pos,
                codes::UNREACHABLE,
                format!("node `{}` is unreachable from `start`", n.id),
                Some("point a `next`, route, action or branch at it, or delete it".into()),
            );
        }
    }
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (i, n) in nodes.iter().enumerate() {
        for &s in &n.succ {
            preds[s].push(i);
        }
    }
    let ends: Vec<usize> = (0..nodes.len())
        .filter(|&i| nodes[i].kind == GKind::End)
        .collect();
    if ends.is_empty() {
        sink.error(
            nodes_pos,
            codes::NO_PATH_TO_END,
            "the flow has no `end` node".into(),
            Some("add one: `done: { kind: end, outcome: completed }`".into()),
        );
        return Joins::new();
    }
    let mut reaches_end = HashSet::new();
    for &e in &ends {
        reaches_end.extend(walk(e, |i| preds[i].clone()));
    }
    let mut dead = false;
    for (i, n) in nodes.iter().enumerate() {
        if reachable.contains(&i) && !reaches_end.contains(&i) {
            dead = true;
            sink.error(
                n.pos,
                codes::NO_PATH_TO_END,
                format!("no path from node `{}` leads to an `end`", n.id),
                Some(
                    "a case reaching it could never finish: give it a way out to an `end` node"
                        .into(),
                ),
            );
        }
    }
    if dead {
        return Joins::new();
    }
    joins(sink, nodes, &preds, &reachable, &ends)
}

fn walk(from: usize, next: impl Fn(usize) -> Vec<usize>) -> HashSet<usize> {
    let mut seen = HashSet::from([from]);
    let mut queue = VecDeque::from([from]);
    while let Some(i) = queue.pop_front() {
        for s in next(i) {
            if seen.insert(s) {
                queue.push_back(s);
            }
        }
    }
    seen
}

fn automatic_cycles(sink: &mut Sink, nodes: &[GNode<'_>]) {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let idx: Vec<NodeIndex> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
    for (i, n) in nodes.iter().enumerate() {
        if !n.kind.automatic() {
            continue;
        }
        for &s in &n.succ {
            if nodes[s].kind.automatic() {
                g.add_edge(idx[i], idx[s], ());
            }
        }
    }
    let mut sccs: Vec<Vec<usize>> = tarjan_scc(&g)
        .into_iter()
        .map(|c| {
            let mut v: Vec<usize> = c.into_iter().map(|x| g[x]).collect();
            v.sort_unstable();
            v
        })
        .filter(|c| {
            c.len() > 1 || (nodes[c[0]].kind.automatic() && nodes[c[0]].succ.contains(&c[0]))
        })
        .collect();
    sccs.sort();
    for scc in sccs {
        let members: HashSet<usize> = scc.iter().copied().collect();
        let first = scc[0];
        let cycle = cycle_through(nodes, first, &members);
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| format!("`{}`", nodes[i].id))
            .collect();
        sink.error(
            nodes[first].pos,
            codes::AUTOMATIC_CYCLE,
            format!("{} loops through automatic nodes only", names.join(" → ")),
            Some("a loop must pass an approval or a timer, or a case could spin forever".into()),
        );
    }
}

/// A cycle from `first` back to itself inside `members` (shortest, by BFS).
fn cycle_through(nodes: &[GNode<'_>], first: usize, members: &HashSet<usize>) -> Vec<usize> {
    let mut parent: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::new();
    for &s in &nodes[first].succ {
        if s == first {
            return vec![first, first];
        }
        if members.contains(&s) && !parent.contains_key(&s) {
            parent.insert(s, first);
            queue.push_back(s);
        }
    }
    while let Some(i) = queue.pop_front() {
        for &s in &nodes[i].succ {
            if s == first {
                let mut path = vec![first, i];
                let mut cur = i;
                while let Some(&p) = parent.get(&cur) {
                    if p == first {
                        break;
                    }
                    path.push(p);
                    cur = p;
                }
                path.push(first);
                // path is first, i, …, first reversed in the middle.
                let mut middle: Vec<usize> = path[1..path.len() - 1].to_vec();
                middle.reverse();
                let mut out = vec![first];
                out.extend(middle);
                out.push(first);
                return out;
            }
            if members.contains(&s) && !parent.contains_key(&s) {
                parent.insert(s, i);
                queue.push_back(s);
            }
        }
    }
    vec![first]
}

fn joins(
    sink: &mut Sink,
    nodes: &[GNode<'_>],
    preds: &[Vec<usize>],
    reachable: &HashSet<usize>,
    ends: &[usize],
) -> Joins {
    let n = nodes.len();
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(n + 1, n * 2);
    for _ in 0..=n {
        g.add_node(());
    }
    for (i, node) in nodes.iter().enumerate() {
        for &s in &node.succ {
            g.add_edge(NodeIndex::new(i), NodeIndex::new(s), ());
        }
    }
    let exit = NodeIndex::new(n);
    for &e in ends {
        g.add_edge(NodeIndex::new(e), exit, ());
    }
    let pdom = simple_fast(Reversed(&g), exit);
    let mut joins = Joins::new();
    let mut failed = false;
    // Each reachable parallel's immediate post-dominator, grouped by join.
    let mut by_join: HashMap<usize, Vec<usize>> = HashMap::new();
    for p in 0..n {
        if nodes[p].kind != GKind::Parallel || !reachable.contains(&p) {
            continue;
        }
        let pid = nodes[p].id;
        let ipdom = pdom
            .immediate_dominator(NodeIndex::new(p))
            .map(|x| x.index())
            .filter(|&x| x < n);
        match ipdom.filter(|&x| nodes[x].kind == GKind::Join) {
            Some(j) => by_join.entry(j).or_default().push(p),
            None => {
                failed = true;
                let message = match ipdom {
                    Some(x) => format!(
                        "the branches of parallel `{pid}` first meet at `{}`, which is not a join",
                        nodes[x].id
                    ),
                    None => format!(
                        "the branches of parallel `{pid}` do not all meet at one join: some path leaves a branch for an `end`"
                    ),
                };
                sink.error(
                    nodes[p].pos,
                    codes::BRANCH_ESCAPES,
                    message,
                    Some("lead every branch to the same `join` node, and let nothing in a branch leave to elsewhere (an `end`, another node)".into()),
                );
            }
        }
    }
    let mut grouped: Vec<(usize, Vec<usize>)> = by_join.into_iter().collect();
    grouped.sort();
    for (j, parallels) in grouped {
        if parallels.len() > 1 {
            failed = true;
            let names: Vec<String> = parallels
                .iter()
                .map(|&p| format!("`{}`", nodes[p].id))
                .collect();
            sink.error(
                nodes[j].pos,
                codes::JOIN_WITHOUT_PARALLEL,
                format!(
                    "join `{}` closes several parallels ({})",
                    nodes[j].id,
                    names.join(", ")
                ),
                Some("give each parallel its own join".into()),
            );
            continue;
        }
        let p = parallels[0];
        if let Some(problem) = branch_problem(nodes, p, j, preds) {
            failed = true;
            sink.error(
                nodes[p].pos,
                codes::BRANCH_ESCAPES,
                problem,
                Some("each branch must run on its own from the parallel to its join, entered only at its first node".into()),
            );
            continue;
        }
        joins.insert(p, j);
    }
    // A parallel that found no join leaves its join unclosed: saying so again is noise.
    for (j, node) in nodes.iter().enumerate().filter(|_| !failed) {
        if node.kind == GKind::Join && reachable.contains(&j) && !joins.values().any(|&x| x == j) {
            sink.error(
                node.pos,
                codes::JOIN_WITHOUT_PARALLEL,
                format!("join `{}` closes no parallel", node.id),
                Some("a join is where all branches of one `parallel` meet; route the branches here or use a plain `next`".into()),
            );
        }
    }
    joins
}

/// What is wrong with the branches of parallel `p` closed by join `j`, if anything.
fn branch_problem(nodes: &[GNode<'_>], p: usize, j: usize, preds: &[Vec<usize>]) -> Option<String> {
    let pid = nodes[p].id;
    let mut owner: HashMap<usize, usize> = HashMap::new();
    for &b in &nodes[p].succ {
        if b == j {
            continue;
        }
        let region = walk(b, |i| {
            nodes[i].succ.iter().copied().filter(|&s| s != j).collect()
        });
        if region.contains(&p) {
            return Some(format!(
                "branch `{}` of parallel `{pid}` loops back to the parallel before reaching join `{}`",
                nodes[b].id, nodes[j].id
            ));
        }
        for &r in &region {
            if let Some(&other) = owner.get(&r) {
                return Some(format!(
                    "node `{}` is on two branches (`{}` and `{}`) of parallel `{pid}`",
                    nodes[r].id, nodes[other].id, nodes[b].id
                ));
            }
            owner.insert(r, b);
        }
        for &r in &region {
            for &q in &preds[r] {
                let inside = region.contains(&q) || (q == p && r == b);
                if !inside {
                    return Some(format!(
                        "node `{}` on branch `{}` of parallel `{pid}` is also entered from `{}`, outside the branch",
                        nodes[r].id, nodes[b].id, nodes[q].id
                    ));
                }
            }
        }
    }
    for &q in &preds[j] {
        if q != p && !owner.contains_key(&q) {
            return Some(format!(
                "`{}` goes to join `{}` without being on a branch of parallel `{pid}`",
                nodes[q].id, nodes[j].id
            ));
        }
    }
    None
}

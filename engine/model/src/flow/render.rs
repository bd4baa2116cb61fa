//! Pictures of a flow: Mermaid and Graphviz DOT, conditions and actions on the edges.

use super::duration::format_duration;
use super::model::{Flow, Node, NodeKind, TimerWait};
use std::fmt::Write;

/// An edge: from, to, label.
fn edges(node: &Node) -> Vec<(&str, String)> {
    match &node.kind {
        NodeKind::Task(t) => vec![(t.next.as_str(), String::new())],
        NodeKind::Decision(d) => {
            let mut out: Vec<(&str, String)> = d
                .routes
                .iter()
                .map(|r| (r.to.as_str(), r.when.source().to_string()))
                .collect();
            out.push((d.otherwise.as_str(), "otherwise".into()));
            out
        }
        NodeKind::Approval(a) => a
            .actions
            .iter()
            .map(|(name, to)| (to.as_str(), name.clone()))
            .collect(),
        NodeKind::Parallel(p) => p
            .branches
            .iter()
            .map(|b| (b.as_str(), String::new()))
            .collect(),
        NodeKind::Join(j) => vec![(j.next.as_str(), String::new())],
        NodeKind::Timer(t) => {
            let label = match &t.wait {
                TimerWait::After(d) => format!("after {}", format_duration(*d)),
                TimerWait::Until(e) => format!("until {}", e.source()),
            };
            vec![(t.next.as_str(), label)]
        }
        NodeKind::End(_) => Vec::new(),
    }
}

/// The second line of a node's label: what it does.
fn detail(node: &Node) -> String {
    match &node.kind {
        NodeKind::Task(t) => format!("task: {}", t.plugin),
        NodeKind::Decision(_) => "decision".into(),
        NodeKind::Approval(a) => {
            let mut s = format!("approval: {}", a.assign.role);
            if let Some(q) = &a.quorum {
                let _ = write!(s, ", {} of {}", q.needed, q.of);
            }
            if a.four_eyes {
                s.push_str(", four eyes");
            }
            if let Some(sla) = &a.sla {
                let _ = write!(
                    s,
                    ", SLA {} → {}",
                    format_duration(sla.within),
                    sla.escalate_to
                );
            }
            s
        }
        NodeKind::Parallel(_) => "parallel".into(),
        NodeKind::Join(_) => "join".into(),
        NodeKind::Timer(_) => "timer".into(),
        NodeKind::End(e) => format!("end: {}", e.outcome),
    }
}

/// Mermaid entity codes for characters that break labels.
fn mermaid_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '|' => out.push_str("#124;"),
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// A Mermaid `flowchart`. Node ids are numbered (Mermaid ids cannot hold every YAML
/// key); labels carry the real ids.
pub fn mermaid(flow: &Flow) -> String {
    let index: std::collections::HashMap<&str, usize> = flow
        .nodes()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect();
    let mut out = String::new();
    // Front matter is YAML: a single-quoted scalar takes any title ('' escapes ').
    let title = flow
        .title()
        .unwrap_or(flow.id())
        .replace('\'', "''")
        .replace('\n', " ");
    let _ = writeln!(out, "---\ntitle: '{title}'\n---\nflowchart TD");
    let _ = writeln!(out, "  start((start))");
    for (i, n) in flow.nodes().enumerate() {
        let label = format!(
            "{}<br/>{}",
            mermaid_text(n.id.as_str()),
            mermaid_text(&detail(n))
        );
        let (open, close) = match n.kind {
            NodeKind::Task(_) => ("[\"", "\"]"),
            NodeKind::Decision(_) => ("{\"", "\"}"),
            NodeKind::Approval(_) => ("([\"", "\"])"),
            NodeKind::Parallel(_) | NodeKind::Join(_) => ("[[\"", "\"]]"),
            NodeKind::Timer(_) => ("{{\"", "\"}}"),
            NodeKind::End(_) => ("(((\"", "\")))"),
        };
        let _ = writeln!(out, "  n{i}{open}{label}{close}");
    }
    let _ = writeln!(out, "  start --> n{}", index[flow.start().as_str()]);
    for (i, n) in flow.nodes().enumerate() {
        for (to, label) in edges(n) {
            let j = index[to];
            if label.is_empty() {
                let _ = writeln!(out, "  n{i} --> n{j}");
            } else {
                let _ = writeln!(out, "  n{i} -->|\"{}\"| n{j}", mermaid_text(&label));
            }
        }
    }
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A Graphviz DOT digraph.
pub fn dot(flow: &Flow) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", dot_text(flow.id()));
    let _ = writeln!(
        out,
        "  label=\"{}\";",
        dot_text(flow.title().unwrap_or(flow.id()))
    );
    let _ = writeln!(
        out,
        "  rankdir=TB;\n  node [fontname=\"Helvetica\"];\n  edge [fontname=\"Helvetica\", fontsize=10];"
    );
    let _ = writeln!(
        out,
        "  \"__start\" [shape=circle, label=\"start\", width=0.5];"
    );
    for n in flow.nodes() {
        let shape = match n.kind {
            NodeKind::Task(_) => "box",
            NodeKind::Decision(_) => "diamond",
            NodeKind::Approval(_) => "box, style=rounded",
            NodeKind::Parallel(_) | NodeKind::Join(_) => "box, style=bold",
            NodeKind::Timer(_) => "hexagon",
            NodeKind::End(_) => "doublecircle",
        };
        let _ = writeln!(
            out,
            "  \"{}\" [shape={shape}, label=\"{}\\n{}\"];",
            dot_text(n.id.as_str()),
            dot_text(n.id.as_str()),
            dot_text(&detail(n))
        );
    }
    let _ = writeln!(
        out,
        "  \"__start\" -> \"{}\";",
        dot_text(flow.start().as_str())
    );
    for n in flow.nodes() {
        for (to, label) in edges(n) {
            if label.is_empty() {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{}\";",
                    dot_text(n.id.as_str()),
                    dot_text(to)
                );
            } else {
                let _ = writeln!(
                    out,
                    "  \"{}\" -> \"{}\" [label=\"{}\"];",
                    dot_text(n.id.as_str()),
                    dot_text(to),
                    dot_text(&label)
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOW: &str = r#"
flow: pic
title: Picture "test"
start: route
nodes:
  route:
    kind: decision
    routes:
      - when: amount < 10 && name == "a|b"
        to: ok
      - otherwise: review
  review:
    kind: approval
    assign: { role: officer }
    quorum: { of: 3, needed: 2 }
    actions: { approve: wait, reject: no }
  wait: { kind: timer, after: 1h30m, next: ok }
  ok: { kind: end, outcome: approved }
  no: { kind: end, outcome: rejected }
"#;

    #[test]
    fn mermaid_labels_edges_with_conditions_and_actions() {
        let (flow, _) = crate::flow::load("pic.yaml", FLOW, None).unwrap();
        let m = mermaid(&flow);
        assert!(
            m.starts_with("---\ntitle: 'Picture \"test\"'\n---\nflowchart TD\n"),
            "{m}"
        );
        assert!(m.contains("start --> n0"), "{m}");
        assert!(
            m.contains("n0 -->|\"amount #lt; 10 #amp;#amp; name == #quot;a#124;b#quot;\"| n3"),
            "{m}"
        );
        assert!(m.contains("n0 -->|\"otherwise\"| n1"), "{m}");
        assert!(m.contains("n1 -->|\"approve\"| n2"), "{m}");
        assert!(m.contains("n2 -->|\"after 1h30m\"| n3"), "{m}");
        assert!(m.contains("approval: officer, 2 of 3"), "{m}");
    }

    #[test]
    fn dot_escapes_quotes() {
        let (flow, _) = crate::flow::load("pic.yaml", FLOW, None).unwrap();
        let d = dot(&flow);
        assert!(d.starts_with("digraph \"pic\" {"), "{d}");
        assert!(d.contains("label=\"Picture \\\"test\\\"\""), "{d}");
        assert!(
            d.contains("\"route\" -> \"ok\" [label=\"amount < 10 && name == \\\"a|b\\\"\"];"),
            "{d}"
        );
        assert!(
            d.contains("\"review\" -> \"no\" [label=\"reject\"];"),
            "{d}"
        );
        assert!(d.trim_end().ends_with('}'));
    }
}

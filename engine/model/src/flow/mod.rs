//! Flow definitions: YAML → spanned tree → checked, compiled [`Flow`].
//!
//! `load` reports every problem at once, each with `file:line:col`, a stable code and a
//! one-line help (see docs/FLOW-FORMAT.md for the list of codes).

pub mod codes;
mod compile;
pub mod def;
mod diag;
mod duration;
mod graph;
mod model;
pub mod render;
mod shape;
mod sink;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod types;
mod yaml;

use crate::plugin::Plugins;
use sink::Sink;
use yaml::{Pos, SourceMap};

pub use compile::MAX_ATTEMPTS;
pub use diag::{Diagnostic, Severity};
pub use duration::{format_duration, parse_duration};
pub use model::{
    ApprovalNode, Assign, DecisionNode, EndNode, Flow, JoinNode, Node, NodeId, NodeKind,
    ParallelNode, Quorum, Retry, Route, Schedule, Sla, TaskNode, TimerNode, TimerWait,
};

/// The closest candidate to `word` when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Reads, checks and compiles a flow. `file` names the source in diagnostics (a path or
/// a flow name). With a plugin registry, plugin references and node configs are checked
/// against it. `Ok` carries the warnings; `Err` every diagnostic, errors and warnings,
/// in source order.
pub fn load(
    file: &str,
    yaml: &str,
    plugins: Option<&dyn Plugins>,
) -> Result<(Flow, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut sink = Sink::new(file);
    let flow = check_into(&mut sink, yaml, plugins);
    let mut diags = sink.out;
    diags.sort_by(|a, b| (a.line, a.column, a.code).cmp(&(b.line, b.column, b.code)));
    diags.dedup();
    match flow {
        Some(flow) if !diags.iter().any(Diagnostic::is_error) => Ok((flow, diags)),
        _ => Err(diags),
    }
}

/// Largest flow file accepted (a 2,000-node flow is about 250 KiB).
pub const MAX_SOURCE_BYTES: usize = 8 << 20;

fn check_into(sink: &mut Sink, yaml: &str, plugins: Option<&dyn Plugins>) -> Option<Flow> {
    if yaml.len() > MAX_SOURCE_BYTES {
        sink.error(
            Pos { line: 1, col: 1 },
            codes::TOO_LARGE,
            format!(
                "the file has {} bytes; a flow may have at most {MAX_SOURCE_BYTES}",
                yaml.len()
            ),
            Some("split the process into several flows".into()),
        );
        return None;
    }
    let parsed = match yaml::parse(yaml) {
        Ok(p) => p,
        Err(e) => {
            sink.error(
                e.pos,
                codes::YAML_SYNTAX,
                format!("YAML syntax error: {}", e.message),
                Some("check indentation and quoting around this place".into()),
            );
            return None;
        }
    };
    for d in &parsed.duplicates {
        sink.error(
            d.pos,
            codes::DUPLICATE_KEY,
            format!("duplicate key `{}`", d.key),
            Some(format!(
                "`{}` is already defined at line {}; rename or merge one of them",
                d.key, d.first.line
            )),
        );
    }
    let Some(root) = parsed.root.as_ref() else {
        sink.error(
            Pos { line: 1, col: 1 },
            codes::MISSING_FIELD,
            "the file is empty".into(),
            Some("a flow starts with `flow: <id>`, `start: <node>` and `nodes:`".into()),
        );
        return None;
    };
    let ast = shape::flow(sink, root)?;
    let map = SourceMap::new(yaml);
    compile::compile(sink, yaml, &ast, &map, plugins)
}

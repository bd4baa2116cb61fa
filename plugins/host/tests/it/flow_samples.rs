//! Every task node of every bundled flow run on every sample case, through the sandbox,
//! against the recorded outputs in `flow_samples.txt`: a change to a plugin, the SDK or
//! the host that changes a single byte of any result, outcome, score, reason or error
//! shows here, with the call it happened in.
//!
//! Each sample's variables grow as the runtime grows them: a node's result lands under
//! its `result` name before the next node runs. Nodes run in source order whatever the
//! routes say, so every node sees every sample. `UPDATE_FLOW_SAMPLES=1` rewrites the file
//! (review its diff: it is the behaviour of the bundled plugins).

use super::each_sample_call;
use model::doc::JsonRef;
use model::plugin::Plugins;
use plugin_host::Registry;
use serde_json::json;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/flow_samples.txt")
}

/// One line per call: `flow/sample/node <outcome JSON>`.
fn run_all(registry: &Registry) -> String {
    let mut out = String::new();
    each_sample_call(registry, |at, task, input| {
        let report = registry
            .call(&task.plugin, input, &super::answer_limits())
            .expect("bundled plugin");
        let (line, result) = match report.output {
            Ok(output) => {
                // The SDK writes canonical text, which the host keeps as it is.
                assert!(
                    matches!(output.result.json(), JsonRef::Kept(_)),
                    "{}/{}/{}: the result is not canonical text",
                    at.flow,
                    at.sample,
                    at.node
                );
                let result = (*output.result).clone();
                let line = json!({
                    "result": output.result,
                    "outcome": output.outcome,
                    "score": output.score,
                    "reasons": output.reasons,
                });
                (line, Some(result))
            }
            // Not the build's hash: it changes with every rebuild of the plugin.
            Err(e) => (
                json!({ "error": { "kind": e.kind, "code": e.code, "message": e.message } }),
                None,
            ),
        };
        writeln!(out, "{}/{}/{} {line}", at.flow, at.sample, at.node).unwrap();
        result
    });
    out
}

#[test]
fn bundled_plugins_give_the_recorded_output_for_every_sample() {
    let registry = Registry::bundled().expect("bundled plugins load");
    let actual = run_all(&registry);
    if std::env::var("UPDATE_FLOW_SAMPLES").is_ok_and(|v| v == "1") {
        std::fs::write(recorded(), &actual).expect("write flow_samples.txt");
        return;
    }
    let expected = std::fs::read_to_string(recorded())
        .expect("tests/it/flow_samples.txt (UPDATE_FLOW_SAMPLES=1 writes it)");
    let differing: Vec<String> = expected
        .lines()
        .zip(actual.lines())
        .filter(|(e, a)| e != a)
        .map(|(e, a)| format!("expected {e}\n  actual {a}"))
        .collect();
    assert!(
        differing.is_empty() && expected.lines().count() == actual.lines().count(),
        "{} of {} calls differ ({} lines recorded, {} now):\n{}",
        differing.len(),
        actual.lines().count(),
        expected.lines().count(),
        actual.lines().count(),
        differing.join("\n")
    );
}

//! Every task node of every bundled flow run on every sample case, through the sandbox,
//! against the recorded outputs in `flow_samples.txt`: a change to a plugin, the SDK or
//! the host that changes a single byte of any result, outcome, score, reason or error
//! shows here, with the call it happened in.
//!
//! Each sample's variables grow as the runtime grows them: a node's result lands under
//! its `result` name before the next node runs. Nodes run in source order whatever the
//! routes say, so every node sees every sample. `UPDATE_FLOW_SAMPLES=1` rewrites the file
//! (review its diff: it is the behaviour of the bundled plugins).

use engine::flow::NodeKind;
use engine::plugin::{CallLimits, Plugins, StepInput};
use plugin_host::Registry;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const FLOWS: [&str; 4] = [
    "retail-loan",
    "small-business",
    "corporate-credit",
    "post-loan-monitoring",
];
const BUSINESS_DATE: &str = "2026-06-30";

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/flow_samples.txt")
}

/// One line per call: `flow/sample/node <outcome JSON>`.
fn run_all(registry: &Registry) -> String {
    let mut out = String::new();
    for flow_name in FLOWS {
        let yaml = std::fs::read_to_string(workflows().join(format!("{flow_name}.yaml")))
            .expect("flow file");
        let (flow, _) = engine::flow::load(flow_name, &yaml, Some(registry))
            .unwrap_or_else(|d| panic!("{flow_name} does not load: {d:?}"));
        let mut samples: Vec<PathBuf> =
            std::fs::read_dir(workflows().join("samples").join(flow_name))
                .expect("samples folder")
                .map(|e| e.expect("entry").path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
        samples.sort();
        for sample in samples {
            let name = sample.file_stem().unwrap().to_string_lossy().into_owned();
            let mut vars: Value =
                serde_json::from_str(&std::fs::read_to_string(&sample).unwrap()).unwrap();
            for node in flow.nodes() {
                let NodeKind::Task(task) = &node.kind else {
                    continue;
                };
                let input = StepInput {
                    case_id: format!("{flow_name}-{name}"),
                    node_id: node.id.to_string(),
                    config: task.config_json.clone(),
                    vars: vars.to_string(),
                    business_date: BUSINESS_DATE.into(),
                };
                let report = registry
                    .call(&task.plugin, &input, &CallLimits::default())
                    .expect("bundled plugin");
                let line = match report.output {
                    Ok(output) => {
                        if let (Some(var), Value::Object(map)) = (&task.result, &mut vars) {
                            map.insert(var.clone(), output.result.clone());
                        }
                        json!({
                            "result": output.result,
                            "outcome": output.outcome,
                            "score": output.score,
                            "reasons": output.reasons,
                        })
                    }
                    // Not the build's hash: it changes with every rebuild of the plugin.
                    Err(e) => {
                        json!({ "error": { "kind": e.kind, "code": e.code, "message": e.message } })
                    }
                };
                writeln!(out, "{flow_name}/{name}/{} {line}", node.id).unwrap();
            }
        }
    }
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

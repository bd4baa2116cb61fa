//! Integration tests of the plugin host: hostile plugins, the registry, the WASI
//! stand-ins, the compiled-component cache and the bundled plugins.

mod bundled;
mod cache;
mod compliance;
mod flow_samples;
mod guarantee_circle;
mod hostile;
mod ocr_check;
mod prepared;
mod registry;
mod sandbox;
mod scan;
mod scorecard;
mod soak;

use model::flow::{NodeKind, TaskNode};
use model::plugin::{CallLimits, Plugins, StepInput};
use plugin_host::{Host, HostConfig, LoadSource, LoadedPlugin};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The bundled flows whose task nodes the sample tests call.
const FLOWS: [&str; 4] = [
    "retail-loan",
    "small-business",
    "corporate-credit",
    "post-loan-monitoring",
];
/// The business date every sample call gets.
const BUSINESS_DATE: &str = "2026-06-30";

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

/// Where a sample call happens: flow, sample file stem, node id.
struct SampleCall<'a> {
    flow: &'a str,
    sample: &'a str,
    node: &'a str,
}

/// Every task node of every bundled flow on every sample case, in source order whatever
/// the routes say (so every node sees every sample), the case variables growing as the
/// runtime grows them: the result `call` returns lands under the node's `result` name
/// before the next node runs.
fn each_sample_call(
    registry: &dyn Plugins,
    mut call: impl FnMut(&SampleCall<'_>, &TaskNode, &StepInput) -> Option<Value>,
) {
    for flow_name in FLOWS {
        let yaml = std::fs::read_to_string(workflows().join(format!("{flow_name}.yaml")))
            .expect("flow file");
        let (flow, _) = model::flow::load(flow_name, &yaml, Some(registry))
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
                let at = SampleCall {
                    flow: flow_name,
                    sample: &name,
                    node: node.id.as_str(),
                };
                if let (Some(result), Some(var), Value::Object(map)) =
                    (call(&at, task, &input), &task.result, &mut vars)
                {
                    map.insert(var.clone(), result);
                }
            }
        }
    }
}

/// A cache directory kept between test runs, so components compile once.
fn test_cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docket-plugin-cache")
}

/// One host for the tests that do not test the host's own set-up.
fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        Host::new(HostConfig {
            cache_dir: Some(test_cache_dir()),
            ..HostConfig::default()
        })
        .expect("default host config works")
    })
}

fn load(path: &str) -> LoadedPlugin {
    host()
        .load_file(path)
        .unwrap_or_else(|e| panic!("loading {path}: {e}"))
}

fn misbehave() -> &'static LoadedPlugin {
    static PLUGIN: OnceLock<LoadedPlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load(plugin_host::test_components::MISBEHAVE))
}

fn raw() -> &'static LoadedPlugin {
    static PLUGIN: OnceLock<LoadedPlugin> = OnceLock::new();
    PLUGIN.get_or_init(|| load(plugin_host::test_components::RAW))
}

fn input(config: Value) -> StepInput {
    StepInput::new(
        "case-1",
        "node-a",
        &config,
        &json!({ "amount": 1200, "applicant": { "name": "Li" } }),
        "2024-03-31",
    )
}

fn mode(mode: &str) -> StepInput {
    input(json!({ "mode": mode }))
}

fn limits() -> CallLimits {
    CallLimits::default()
}

/// For calls whose subject is the plugin's answer, not its speed: the default limits with
/// a time limit a stalled test machine cannot reach (a busy machine can stall a call past
/// the default limit, which would make the answer a timeout).
fn answer_limits() -> CallLimits {
    CallLimits {
        timeout: std::time::Duration::from_secs(30),
        ..CallLimits::default()
    }
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes_source(label: &str) -> LoadSource {
    LoadSource::Bytes(label.to_string())
}

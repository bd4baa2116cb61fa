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
mod scorecard;
mod soak;

use engine::plugin::{CallLimits, StepInput};
use plugin_host::{Host, HostConfig, LoadSource, LoadedPlugin};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::OnceLock;

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

fn read(path: &str) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn bytes_source(label: &str) -> LoadSource {
    LoadSource::Bytes(label.to_string())
}

//! Plugin references and node configs checked against a registry (`E0304`, `E0305`), and
//! task results typed by the plugin's output schema.
//!
//! The registry here is an in-memory table of `describe()` answers: the flow validator
//! only ever asks `describe`, and the real registry (plugins/host) is exercised by the
//! `docket validate` end-to-end tests.

use engine::plugin::{
    CallLimits, CallReport, PluginInfo, PluginRef, Plugins, StepError, StepErrorKind, StepInput,
};
use serde_json::json;

struct Described(Vec<PluginInfo>);

impl Plugins for Described {
    fn describe(&self, plugin: &PluginRef) -> Option<PluginInfo> {
        self.0
            .iter()
            .find(|i| {
                i.name == plugin.name
                    && i.version.split('.').next() == Some(plugin.major.to_string().as_str())
            })
            .cloned()
    }

    fn call(
        &self,
        plugin: &PluginRef,
        _: &StepInput,
        _: &CallLimits,
    ) -> Result<CallReport, StepError> {
        Err(StepError {
            kind: StepErrorKind::NotFound,
            plugin: plugin.to_string(),
            sha256: None,
            code: None,
            message: "this registry only describes plugins".into(),
        })
    }
}

fn registry() -> Described {
    Described(vec![PluginInfo {
        name: "scorecard".into(),
        version: "1.4.0".into(),
        config_schema: json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["card"],
            "properties": {
                "card": {"type": "string", "minLength": 1},
                "cutoff": {"type": "number", "minimum": 0}
            }
        }),
        output_schema: json!({
            "type": "object",
            "properties": {"score": {"type": "number"}, "grade": {"type": "string"}}
        }),
    }])
}

fn flow(plugin: &str, config: &str, when: &str) -> String {
    format!(
        "flow: p
start: score
nodes:
  score:
    kind: task
    plugin: {plugin}
    config: {config}
    result: scoring
    next: route
  route:
    kind: decision
    routes:
      - when: {when}
        to: done
      - otherwise: done
  done: {{ kind: end, outcome: done }}
"
    )
}

fn codes(src: &str) -> Vec<(String, usize, usize)> {
    let reg = registry();
    match engine::flow::load("p.yaml", src, Some(&reg)) {
        Ok((_, warnings)) => warnings
            .iter()
            .map(|d| (d.code.to_string(), d.line, d.column))
            .collect(),
        Err(diags) => diags
            .iter()
            .map(|d| (d.code.to_string(), d.line, d.column))
            .collect(),
    }
}

#[test]
fn a_known_plugin_with_a_good_config_passes() {
    assert_eq!(
        codes(&flow(
            "scorecard@1",
            "{ card: retail-v2, cutoff: 600 }",
            "scoring.score > 700"
        )),
        []
    );
}

#[test]
fn an_unknown_plugin_is_an_error_at_its_reference() {
    assert_eq!(
        codes(&flow("scorecrd@1", "{ card: x }", "true")),
        [("E0304".into(), 6, 13)]
    );
    // Another major of a registered plugin: the help names the one that exists.
    let reg = registry();
    let diags = engine::flow::load(
        "p.yaml",
        &flow("scorecard@2", "{ card: x }", "true"),
        Some(&reg),
    )
    .unwrap_err();
    assert_eq!(
        diags[0].help.as_deref(),
        Some("`scorecard@1` is registered")
    );
}

#[test]
fn config_errors_point_inside_the_config() {
    // Unknown field: at its key. Wrong type: at the value. Missing field: at the config.
    assert_eq!(
        codes(&flow("scorecard@1", "{ card: x, cutof: 600 }", "true")),
        [("E0305".into(), 7, 24)]
    );
    assert_eq!(
        codes(&flow("scorecard@1", "{ card: x, cutoff: high }", "true")),
        [("E0305".into(), 7, 32)]
    );
    assert_eq!(
        codes(&flow("scorecard@1", "{ cutoff: 1 }", "true")),
        [("E0305".into(), 7, 13)]
    );
    let reg = registry();
    let diags = engine::flow::load(
        "p.yaml",
        &flow("scorecard@1", "{ card: x, cutof: 600 }", "true"),
        Some(&reg),
    )
    .unwrap_err();
    assert!(
        diags[0].message.contains("did you mean `cutoff`?"),
        "{}",
        diags[0].message
    );
}

#[test]
fn results_are_typed_by_the_output_schema() {
    assert_eq!(
        codes(&flow("scorecard@1", "{ card: x }", "scoring.grade > 700")),
        [("E0202".into(), 13, 29)]
    );
    // Without a registry the result is of unknown type, and the same condition passes.
    assert!(
        engine::flow::load(
            "p.yaml",
            &flow("scorecard@1", "{ card: x }", "scoring.grade > 700"),
            None
        )
        .is_ok()
    );
}

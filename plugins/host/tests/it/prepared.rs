//! Pre-initialised instances per node config: a call on a snapshot prepared for its
//! config gives exactly what a call on the plain component gives, a snapshot never
//! lends its config to a call with another one, a config that cannot be prepared runs
//! (and fails) as before, and plugins without `prepare` are untouched.

use model::plugin::{
    CallLimits, CallReport, PluginRef, Plugins, StepErrorKind, StepInput, StepOutput,
};
use plugin_host::{Host, HostConfig, PrepareState, Registry};
use serde_json::{Value, json};
use std::sync::{Arc, OnceLock};

fn registry_with(max_prepared_configs: usize) -> Registry {
    let host = Host::new(HostConfig {
        cache_dir: Some(super::test_cache_dir()),
        max_prepared_configs,
        ..HostConfig::default()
    })
    .expect("host");
    let mut registry = Registry::new(host);
    registry.add_bundled().expect("bundled plugins load");
    registry
}

/// The bundled plugins pre-initialised per config (the default).
fn prepared() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| registry_with(64))
}

/// The bundled plugins with preparation off: every call parses its config.
fn plain() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| registry_with(0))
}

/// Everything a call returns, floats by their bits, the result as the text it came as.
fn exact(output: &Result<StepOutput, model::plugin::StepError>) -> String {
    match output {
        Ok(o) => format!(
            "ok result={} outcome={:?} score={:?} reasons={:?}",
            o.result,
            o.outcome,
            o.score.map(f64::to_bits),
            o.reasons
                .iter()
                .map(|r| (&r.code, &r.message, r.weight.to_bits()))
                .collect::<Vec<_>>()
        ),
        Err(e) => format!("err {e:?}"),
    }
}

fn call(registry: &Registry, plugin: &PluginRef, input: &StepInput) -> CallReport {
    registry
        .call(plugin, input, &super::answer_limits())
        .expect("bundled plugin")
}

#[test]
fn every_bundled_plugin_gives_the_same_output_prepared_as_plain() {
    let (prepared, plain) = (prepared(), plain());
    let mut calls = 0;
    let mut configs = Vec::new();
    super::each_sample_call(prepared, |at, task, input| {
        let ours = call(prepared, &task.plugin, input);
        let theirs = call(plain, &task.plugin, input);
        assert_eq!(
            exact(&ours.output),
            exact(&theirs.output),
            "{}/{}/{}",
            at.flow,
            at.sample,
            at.node
        );
        // The build reported is the original component, prepared or not.
        assert_eq!(ours.build, theirs.build);
        calls += 1;
        configs.push((task.plugin.clone(), task.config_json.clone()));
        ours.output.ok().map(|o| o.result.into_value())
    });
    assert!(calls > 40, "only {calls} calls");
    // Those calls ran on snapshots, not on the plain component.
    let mut names = Vec::new();
    for (plugin, config) in configs {
        let ours = prepared.resolve(&plugin).unwrap();
        assert!(ours.is_preparable(), "{} exports prepare", ours.id());
        assert_eq!(
            ours.prepare_state(&config),
            PrepareState::Ready,
            "{}",
            ours.id()
        );
        let theirs = plain.resolve(&plugin).unwrap();
        assert_eq!(theirs.prepare_state(&config), PrepareState::None);
        names.push(ours.info().name.clone());
    }
    names.sort();
    names.dedup();
    assert_eq!(
        names,
        ["compliance", "guarantee-circle", "ocr-check", "scorecard"]
    );
}

fn scorecard_input(card: &Value) -> StepInput {
    let vars = json!({
        "applicant": {"monthly_income": 15000, "employment_months": 48, "age": 38,
                      "monthly_debt_payments": 3750, "relationship_months": 24,
                      "housing": "own_mortgage"},
        "bureau": {"revolving_utilisation": 0.2, "delinquencies_24m": 0, "history_months": 60}
    });
    StepInput::new("case-p", "score", card, &vars, "2026-06-30")
}

fn retail_card() -> Value {
    serde_json::from_str(include_str!(
        "../../../../workflows/scorecards/retail-v1.json"
    ))
    .unwrap()
}

#[test]
fn a_snapshot_never_lends_its_config_to_a_call_with_another() {
    let scorecard = prepared()
        .resolve(&PluginRef::parse("scorecard@1").unwrap())
        .unwrap();
    let card = retail_card();
    let prepared_input = scorecard_input(&card);
    let limits = CallLimits::default();
    assert_eq!(
        scorecard.prepare(&prepared_input.config, &limits),
        PrepareState::Ready
    );

    // Another card: every base point shifted, so the score differs.
    let mut other = card.clone();
    let base = other["base_points"].as_f64().unwrap_or(0.0);
    other["base_points"] = json!(base + 17.0);
    // The same card written with other whitespace: the same result, another text.
    let spaced: Arc<str> = serde_json::to_string_pretty(&card).unwrap().into();
    let mut spaced_input = scorecard_input(&card);
    spaced_input.config = spaced;

    let on_own = scorecard
        .call_on_prepared(&prepared_input.config, &prepared_input, &limits)
        .expect("snapshot is ready");
    let own_score = on_own.report.output.as_ref().unwrap().score.unwrap();
    for input in [scorecard_input(&other), spaced_input] {
        let on_snapshot = scorecard
            .call_on_prepared(&prepared_input.config, &input, &limits)
            .expect("snapshot is ready");
        let plain_call = call(plain(), &PluginRef::parse("scorecard@1").unwrap(), &input);
        assert_eq!(exact(&on_snapshot.report.output), exact(&plain_call.output));
        let score = on_snapshot.report.output.as_ref().unwrap().score.unwrap();
        if *input.config != *serde_json::to_string_pretty(&card).unwrap() {
            assert_ne!(score, own_score, "the other card scores differently");
        } else {
            assert_eq!(score, own_score);
        }
    }
}

#[test]
fn a_config_that_fails_to_prepare_fails_the_call_as_before() {
    let reference = PluginRef::parse("scorecard@1").unwrap();
    let scorecard = prepared().resolve(&reference).unwrap();
    let mut bad = retail_card();
    bad["card"] = json!("  ");
    let input = scorecard_input(&bad);
    for _ in 0..2 {
        let ours = call(prepared(), &reference, &input);
        let theirs = call(plain(), &reference, &input);
        let error = ours.output.as_ref().unwrap_err();
        assert_eq!(error.kind, StepErrorKind::Plugin);
        assert_eq!(error.code.as_deref(), Some("invalid_config"));
        assert_eq!(exact(&ours.output), exact(&theirs.output));
        match scorecard.prepare_state(&input.config) {
            PrepareState::Failed(why) => assert!(why.contains("invalid_config"), "{why}"),
            other => panic!("expected a failed preparation, got {other:?}"),
        }
    }

    // Not JSON at all: the plugin's `invalid_input`, as before.
    let mut input = scorecard_input(&json!({}));
    input.config = "{\"card\":".into();
    let ours = call(prepared(), &reference, &input);
    let theirs = call(plain(), &reference, &input);
    assert_eq!(
        ours.output.as_ref().unwrap_err().code.as_deref(),
        Some("invalid_input")
    );
    assert_eq!(exact(&ours.output), exact(&theirs.output));
    assert!(matches!(
        scorecard.prepare_state(&input.config),
        PrepareState::Failed(_)
    ));
}

#[test]
fn prepare_runs_under_the_calls_limits() {
    // A memory limit below the plugin's initial memory: `prepare` cannot even start, so
    // the config is not prepared and the call fails on the plain component as before.
    let reference = PluginRef::parse("ocr-check@1").unwrap();
    let input = StepInput::new("case-m", "documents", &json!({}), &json!({}), "2026-06-30");
    let limits = CallLimits {
        memory_bytes: 1 << 20,
        ..CallLimits::default()
    };
    let ours = prepared().call(&reference, &input, &limits).unwrap();
    let theirs = plain().call(&reference, &input, &limits).unwrap();
    assert_eq!(
        ours.output.as_ref().unwrap_err().kind,
        StepErrorKind::MemoryLimit
    );
    assert_eq!(exact(&ours.output), exact(&theirs.output));
    let ocr = prepared().resolve(&reference).unwrap();
    match ocr.prepare_state(&input.config) {
        PrepareState::Failed(why) => assert!(why.contains("MemoryLimit"), "{why}"),
        other => panic!("expected a failed preparation, got {other:?}"),
    }
}

#[test]
fn plugins_without_prepare_run_as_before() {
    // The hostile plugins (and the plugin template) export the plain `step` world.
    for plugin in [super::misbehave(), super::raw()] {
        assert!(!plugin.is_preparable(), "{}", plugin.id());
        let config: Arc<str> = "{\"mode\":\"echo\"}".into();
        assert_eq!(
            plugin.prepare(&config, &CallLimits::default()),
            PrepareState::None
        );
    }
    let echo = super::misbehave().call(&super::mode("echo"), &super::limits());
    assert!(echo.report.output.is_ok(), "{:?}", echo.report.output);
}

#[test]
fn calls_from_several_threads_prepare_their_configs_and_agree() {
    let registry = registry_with(64);
    let reference = PluginRef::parse("scorecard@1").unwrap();
    let cards: Vec<StepInput> = (0..3)
        .map(|i| {
            let mut card = retail_card();
            card["base_points"] = json!(card["base_points"].as_f64().unwrap_or(0.0) + i as f64);
            scorecard_input(&card)
        })
        .collect();
    let expected: Vec<String> = cards
        .iter()
        .map(|input| exact(&call(plain(), &reference, input).output))
        .collect();
    std::thread::scope(|s| {
        for t in 0..4 {
            let (registry, reference, cards, expected) = (&registry, &reference, &cards, &expected);
            s.spawn(move || {
                for round in 0..6 {
                    let i = (t + round) % cards.len();
                    let report = call(registry, reference, &cards[i]);
                    assert_eq!(exact(&report.output), expected[i]);
                }
            });
        }
    });
    let scorecard = registry.resolve(&reference).unwrap();
    for input in &cards {
        assert_eq!(scorecard.prepare_state(&input.config), PrepareState::Ready);
    }
}

/// A plugin whose `prepare` loops, allocates without end or panics: its preparation
/// fails within the call's limits, every call of that config fails with the matching
/// typed error (the call prepares on the fly and misbehaves the same way), and the host
/// goes on serving that plugin's other configs.
#[test]
fn a_hostile_prepare_costs_its_own_calls_only() {
    let plugin = super::load(plugin_host::test_components::PREPARE);
    assert!(plugin.is_preparable());
    let limits = CallLimits {
        timeout: std::time::Duration::from_millis(300),
        memory_bytes: 32 << 20,
        ..CallLimits::default()
    };
    let input = |mode: &str| {
        StepInput::new(
            "case-h",
            "prep",
            &json!({ "prepare": mode }),
            &json!({}),
            "2026-06-30",
        )
    };
    for (mode, kind, says) in [
        ("loop", StepErrorKind::Timeout, "Timeout"),
        ("memory-bomb", StepErrorKind::MemoryLimit, "MemoryLimit"),
        (
            "panic",
            StepErrorKind::Trap,
            "prepare refused this config on purpose",
        ),
    ] {
        let hostile = input(mode);
        let state = plugin.prepare(&hostile.config, &limits);
        match &state {
            PrepareState::Failed(why) => assert!(why.contains(says), "{mode}: {why}"),
            other => panic!("{mode}: expected a failed preparation, got {other:?}"),
        }
        let call = plugin.call(&hostile, &limits);
        let error = call.report.output.expect_err(mode);
        assert_eq!(error.kind, kind, "{mode}: {error:?}");
        if mode == "panic" {
            assert!(error.message.contains(says), "{}", error.message);
        }
        // The same plugin, another config: prepared and served (the tight limits are for
        // the hostile configs; a machine stall must not fail the well-behaved one).
        let fine = input("ok");
        let roomy = super::answer_limits();
        assert_eq!(plugin.prepare(&fine.config, &roomy), PrepareState::Ready);
        let ok = plugin.call(&fine, &roomy).report.output.expect("ok config");
        assert_eq!(*ok.result, json!({ "prepared": "ok" }));
    }
}

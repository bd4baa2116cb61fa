//! The bundled `guarantee-circle` component called through the engine's plugin port:
//! realistic networks and a hostile one, from inside the sandbox and its time limit.

use model::plugin::{
    CallLimits, PluginRef, Plugins, StepError, StepErrorKind, StepInput, StepOutput,
};
use plugin_host::Registry;
use serde_json::{Value, json};
use std::sync::OnceLock;

const CORPORATE: &str =
    include_str!("../../../../workflows/rules/guarantee-circle-corporate-v1.json");

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::bundled().expect("bundled plugins load"))
}

fn corporate() -> Value {
    serde_json::from_str(CORPORATE).unwrap()
}

fn call(config: Value, vars: Value) -> Result<StepOutput, StepError> {
    let input = StepInput::new(
        "case-guarantees",
        "guarantees",
        &config,
        &vars,
        "2024-06-30",
    );
    let report = registry()
        .call(
            &PluginRef::parse("guarantee-circle@1").unwrap(),
            &input,
            &CallLimits::default(),
        )
        .expect("guarantee-circle is bundled");
    assert_eq!(report.build.name, "guarantee-circle");
    report.output
}

/// A ⇄ B, B → C → A, C → D → E, F → A; C in default.
fn park() -> Value {
    json!({
        "applicant": {"credit_code": "A"},
        "guarantee_network": {
            "relations": [
                {"guarantor": "A", "borrower": "B", "amount": 5000000},
                {"guarantor": "B", "borrower": "A", "amount": 8000000},
                {"guarantor": "B", "borrower": "C", "amount": 10000000},
                {"guarantor": "C", "borrower": "A", "amount": 6000000},
                {"guarantor": "C", "borrower": "D", "amount": 3000000},
                {"guarantor": "D", "borrower": "E", "amount": 2000000},
                {"guarantor": "F", "borrower": "A", "amount": 1000000}
            ],
            "parties": [
                {"id": "A", "outstanding": 10000000}, {"id": "B", "outstanding": 20000000},
                {"id": "C", "outstanding": 15000000, "status": "default"}
            ]
        }
    })
}

#[test]
fn describe_names_version_and_bounds() {
    let info = registry()
        .describe(&PluginRef::parse("guarantee-circle@1").unwrap())
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("guarantee-circle", "1.0.0")
    );
    assert_eq!(
        info.config_schema["properties"]["max_cycle_length"]["maximum"],
        json!(12)
    );
    assert_eq!(
        info.output_schema["properties"]["risk_flag"]["enum"],
        json!(["none", "watch", "high"])
    );
}

#[test]
fn the_industrial_park_is_a_high_risk_circle() {
    let out = call(corporate(), park()).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("high"));
    let r = &out.result;
    assert_eq!(r["network"]["members"], json!(["A", "B", "C"]));
    assert_eq!(
        r["circles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["members"].clone())
            .collect::<Vec<_>>(),
        [json!(["A", "B"]), json!(["A", "B", "C"])]
    );
    assert_eq!(
        r["circles"][1]["exposure"],
        json!({"guaranteed": 21000000.0, "outstanding": 45000000.0})
    );
    assert_eq!(r["total_exposure"]["guaranteed"], json!(29000000.0));
    assert_eq!(
        r["reason_codes"],
        json!(["GC_IN_CIRCLE", "GC_MUTUAL_GUARANTEE", "GC_MEMBER_DISTRESS"])
    );
    // Fresh instance, same input: same output.
    assert_eq!(call(corporate(), park()).unwrap(), out);
}

#[test]
fn no_way_back_is_no_circle() {
    let mut vars = park();
    vars["applicant"]["credit_code"] = json!("ｆ");
    let out = call(corporate(), vars).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("none"));
    assert_eq!(out.result["applicant"], json!("F"));
    assert_eq!(out.result["in_circle"], json!(false));
    assert_eq!(out.reasons, vec![]);
}

#[test]
fn a_dense_hostile_network_finishes_within_the_default_limits() {
    // Every one of 100 firms guarantees every other: 9,900 relations, ~10^20 circles.
    let ids: Vec<String> = (0..100).map(|i| format!("F{i:03}")).collect();
    let relations: Vec<Value> = ids
        .iter()
        .flat_map(|a| {
            ids.iter()
                .filter(move |b| *b != a)
                .map(move |b| json!({"guarantor": a, "borrower": b, "amount": 1000}))
        })
        .collect();
    let vars = json!({"applicant": {"credit_code": "F000"}, "guarantee_network": {"relations": relations}});
    let out = call(json!({"max_cycle_length": 12}), vars.clone()).unwrap();
    assert_eq!(out.result["circles_truncated"], json!(true));
    assert_eq!(out.result["circles"].as_array().unwrap().len(), 50);
    assert_eq!(out.result["network"]["size"], json!(100));
    assert_eq!(out.result["mutual_guarantee_count"], json!(4950));
    // Above the relation bound it is refused outright.
    let e = call(json!({"max_relations": 5000}), vars).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Plugin);
    assert_eq!(e.code.as_deref(), Some("input_too_large"));
    assert!(
        e.message.contains("9900 relations, the limit is 5000"),
        "{}",
        e.message
    );
}

#[test]
fn bad_network_data_is_a_plugin_error_naming_the_pointer() {
    let mut vars = park();
    vars["guarantee_network"]["relations"][2]["amount"] = json!(-10);
    let e = call(corporate(), vars).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("invalid_input"));
    assert!(
        e.message.contains("/guarantee_network/relations/2/amount"),
        "{}",
        e.message
    );
}

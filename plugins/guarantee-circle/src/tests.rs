//! Whole-plugin tests: realistic networks, risk flags, bounds against hostile input,
//! the SDK entry points, error codes, schemas and determinism.

use super::*;
use crate::schema::check::validate;
use plugin_sdk::{Input, Output, TextPlugin};
use serde_json::{Value, json};

const CORPORATE: &str = include_str!("../../../workflows/rules/guarantee-circle-corporate-v1.json");
const POST_LOAN: &str = include_str!("../../../workflows/rules/guarantee-circle-post-loan-v1.json");

fn input(config: Value, vars: Value) -> Input {
    Input {
        case_id: "case-7".into(),
        node_id: "guarantees".into(),
        config,
        vars,
        business_date: "2024-06-30".into(),
    }
}

/// The plugin through the SDK's text entry point (what the component runs), its result
/// parsed back.
fn run(input: Input) -> Result<Output, plugin_sdk::Error> {
    input
        .with_text(<GuaranteeCircle as TextPlugin>::prepare_and_run)
        .map(|o| o.into_output().expect("a result is JSON"))
}

fn corporate() -> Value {
    serde_json::from_str(CORPORATE).unwrap()
}

/// Six firms of one industrial park. A (the applicant) and B guarantee each other, B
/// guarantees C, C guarantees A; C also guarantees D, D guarantees E (no way back);
/// F guarantees A but nobody in A's circle guarantees F.
fn park() -> Value {
    json!({
        "applicant": {"name": "A Textiles", "credit_code": "A"},
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
                {"id": "A", "outstanding": 10000000, "status": "normal"},
                {"id": "B", "outstanding": 20000000, "status": "normal"},
                {"id": "C", "outstanding": 15000000, "status": "Default"},
                {"id": "D", "outstanding": 5000000, "status": "default"}
            ]
        }
    })
}

#[test]
fn the_industrial_park() {
    let out = run(input(corporate(), park())).unwrap();
    let r = &out.result;
    assert_eq!(out.outcome.as_deref(), Some("high"));
    assert_eq!(r["in_circle"], json!(true));
    assert_eq!(r["shortest_circle_length"], json!(2));
    assert_eq!(
        r["network"],
        json!({"size": 3, "members": ["A", "B", "C"], "members_truncated": false})
    );
    assert_eq!(
        r["mutual_guarantees"],
        json!([{"a": "A", "b": "B", "a_guarantees_b": 5000000.0, "b_guarantees_a": 8000000.0, "involves_applicant": true}])
    );
    assert_eq!(r["circles"][0]["members"], json!(["A", "B"]));
    assert_eq!(
        r["circles"][0]["exposure"],
        json!({"guaranteed": 13000000.0, "outstanding": 30000000.0})
    );
    assert_eq!(r["circles"][1]["members"], json!(["A", "B", "C"]));
    assert_eq!(r["circles"][1]["length"], json!(3));
    assert_eq!(
        r["circles"][1]["edges"][2],
        json!({"guarantor": "C", "borrower": "A", "amount": 6000000.0})
    );
    assert_eq!(
        r["circles"][1]["exposure"],
        json!({"guaranteed": 21000000.0, "outstanding": 45000000.0})
    );
    assert_eq!(r["circles"][1]["distressed_members"], json!(["C"]));
    assert_eq!(r["circles"].as_array().unwrap().len(), 2);
    // Inside the network: A→B 5M, B→A 8M, B→C 10M, C→A 6M. D's default is outside it.
    assert_eq!(
        r["total_exposure"],
        json!({"guaranteed": 29000000.0, "outstanding": 45000000.0, "members_without_outstanding": 0})
    );
    assert_eq!(
        r["distressed_members"],
        json!([{"id": "C", "status": "Default"}])
    );
    assert_eq!(
        r["reason_codes"],
        json!(["GC_IN_CIRCLE", "GC_MUTUAL_GUARANTEE", "GC_MEMBER_DISTRESS"])
    );
    assert_eq!(
        out.reasons.iter().map(|r| r.weight).collect::<Vec<_>>(),
        [0.5, 1.0, 1.0]
    );
    assert_eq!(r["stats"]["parties"], json!(6));
    validate(&schema::output_schema(), r).unwrap();
}

#[test]
fn a_circle_without_aggravation_is_watch() {
    let mut vars = park();
    vars["guarantee_network"]["parties"] = json!([]);
    let out = run(input(Value::Null, vars)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("watch"));
    assert_eq!(
        out.result["reason_codes"],
        json!(["GC_IN_CIRCLE", "GC_MUTUAL_GUARANTEE"])
    );
    assert_eq!(
        out.result["total_exposure"]["members_without_outstanding"],
        json!(3)
    );
}

#[test]
fn guaranteeing_others_without_a_way_back_is_no_circle() {
    for applicant in ["D", "F", "Z"] {
        let mut vars = park();
        vars["applicant"]["credit_code"] = json!(applicant);
        let out = run(input(corporate(), vars)).unwrap();
        let r = &out.result;
        assert_eq!(out.outcome.as_deref(), Some("none"), "{applicant}");
        assert_eq!(r["in_circle"], json!(false));
        assert_eq!(r["network"]["size"], json!(1));
        assert_eq!(r["circles"], json!([]));
        assert_eq!(r["shortest_circle_length"], Value::Null);
        assert_eq!(
            r["distressed_members"],
            json!([]),
            "D's own default is not a member's default"
        );
        assert!(out.reasons.is_empty());
        validate(&schema::output_schema(), r).unwrap();
    }
}

#[test]
fn a_released_guarantee_breaks_the_circle() {
    let mut vars = park();
    vars["guarantee_network"]["relations"][1]["active"] = json!(false); // B → A
    vars["guarantee_network"]["relations"][3]["active"] = json!(false); // C → A
    let out = run(input(corporate(), vars)).unwrap();
    assert_eq!(out.result["in_circle"], json!(false));
    assert_eq!(out.result["stats"]["inactive_relations"], json!(2));
}

#[test]
fn ids_match_across_spellings_and_parallel_guarantees_add_up() {
    let vars = json!({
        "applicant": {"credit_code": "９１３５０１００Ｍ０００１００Ｙ４３"},
        "guarantee_network": {"relations": [
            {"guarantor": "91350100M000100Y43", "borrower": "91310000ma1fl0xx2f", "amount": "1000000.10"},
            {"guarantor": "91350100-M000100Y43", "borrower": "91310000MA1FL0XX2F", "amount": 0.2},
            {"guarantor": "91310000 MA1FL0XX2F", "borrower": "91350100m000100y43", "amount": 300000}
        ]}
    });
    let out = run(input(corporate(), vars)).unwrap();
    let r = &out.result;
    assert_eq!(r["applicant"], json!("91350100M000100Y43"));
    assert_eq!(r["mutual_guarantees"][0]["a"], json!("91310000MA1FL0XX2F"));
    assert_eq!(
        r["mutual_guarantees"][0]["b_guarantees_a"],
        json!(1000000.3)
    );
    assert_eq!(r["circles"][0]["exposure"]["guaranteed"], json!(1300000.3));
}

#[test]
fn exposure_thresholds_are_inclusive() {
    let mut vars = park();
    vars["guarantee_network"]["parties"] = json!([]);
    let config = |limit: f64| json!({"risk": {"high_guaranteed_exposure": limit}});
    let at = run(input(config(29_000_000.0), vars.clone())).unwrap();
    assert_eq!(at.outcome.as_deref(), Some("high"));
    assert!(
        at.result["reason_codes"]
            .as_array()
            .unwrap()
            .contains(&json!("GC_HIGH_GUARANTEED_EXPOSURE"))
    );
    let above = run(input(config(29_000_000.01), vars)).unwrap();
    assert_eq!(above.outcome.as_deref(), Some("watch"));
}

#[test]
fn config_relations_join_the_case_network() {
    // The case knows only A → B; a registry snapshot in config knows B → A.
    let config =
        json!({"relations": [{"guarantor": "B", "borrower": "A", "amount": 1}], "network": "/net"});
    let vars = json!({"applicant": {"credit_code": "A"}, "net": {"relations": [{"guarantor": "A", "borrower": "B", "amount": 1}]}});
    assert_eq!(
        run(input(config.clone(), vars)).unwrap().result["in_circle"],
        json!(true)
    );
    // With config relations the case network may be absent.
    let out = run(input(config, json!({"applicant": {"credit_code": "A"}}))).unwrap();
    assert_eq!(out.result["in_circle"], json!(false));
}

/// A complete guarantee graph: every one of `n` firms guarantees every other.
fn complete(n: usize) -> Value {
    let ids: Vec<String> = (0..n).map(|i| format!("F{i:03}")).collect();
    let relations: Vec<Value> = ids
        .iter()
        .flat_map(|a| {
            ids.iter()
                .filter(move |b| *b != a)
                .map(move |b| json!({"guarantor": a, "borrower": b, "amount": 1000}))
        })
        .collect();
    json!({"applicant": {"credit_code": "F000"}, "guarantee_network": {"relations": relations}})
}

#[test]
fn a_hostile_network_is_refused_or_bounded() {
    // 150 firms: 22,350 relations, above the default bound of 20,000.
    let e = run(input(Value::Null, complete(150))).unwrap_err();
    assert_eq!(e.code, "input_too_large");
    assert!(
        e.message
            .contains("/guarantee_network/relations: 22350 relations, the limit is 20000"),
        "{}",
        e.message
    );
    // Within the relation bound, the enumeration stops at its own bounds.
    let out = run(input(
        json!({"max_relations": 30000, "max_cycle_length": 12}),
        complete(150),
    ))
    .unwrap();
    let r = &out.result;
    assert_eq!(r["circles_truncated"], json!(true));
    assert_eq!(r["circles"].as_array().unwrap().len(), 50);
    assert_eq!(r["network"]["size"], json!(150));
    assert_eq!(r["network"]["members"].as_array().unwrap().len(), 150);
    assert_eq!(r["mutual_guarantee_count"], json!(150 * 149 / 2));
    assert_eq!(r["mutual_guarantees"].as_array().unwrap().len(), 200);
    assert_eq!(r["mutual_guarantees_truncated"], json!(true));
    assert!(
        r["reason_codes"]
            .as_array()
            .unwrap()
            .contains(&json!("GC_CIRCLES_TRUNCATED"))
    );
    // The step budget bounds the work when the count bound alone would not.
    let out = run(input(
        json!({"max_relations": 30000, "max_cycles": 1000, "max_search_steps": 5000}),
        complete(150),
    ))
    .unwrap();
    assert!(out.result["stats"]["search_steps"].as_u64().unwrap() <= 5000);
    assert_eq!(out.result["circles_truncated"], json!(true));
    // Too many distinct parties.
    let e = run(input(
        json!({"max_parties": 100, "max_relations": 30000}),
        complete(150),
    ))
    .unwrap_err();
    assert!(
        e.message.contains("150 distinct parties, the limit is 100"),
        "{}",
        e.message
    );
}

#[test]
fn errors_carry_a_code_and_the_pointer() {
    let e = run(input(corporate(), json!({"guarantee_network": {}}))).unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "missing_input",
            "missing input: case variable /applicant/credit_code is required"
        )
    );
    let mut vars = park();
    vars["guarantee_network"]["relations"][4]["amount"] = json!("3,000,000");
    let e = run(input(corporate(), vars)).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    assert!(
        e.message.contains("/guarantee_network/relations/4/amount"),
        "{}",
        e.message
    );
    let e = run(input(json!({"max_cycles": -1}), park())).unwrap_err();
    assert_eq!(e.code, "invalid_config");
    assert!(e.message.contains("/max_cycles"), "{}", e.message);
}

#[test]
fn shipped_configs_parse_and_match_the_published_schema() {
    let schema = schema::config_schema();
    for text in [CORPORATE, POST_LOAN] {
        let c: Value = serde_json::from_str(text).unwrap();
        Config::parse(&c).unwrap();
        validate(&schema, &c).unwrap();
    }
    validate(&schema, &Value::Null).unwrap();
    assert!(validate(&schema, &json!({"max_cycle_length": 13})).is_err());
    assert!(validate(&schema, &json!({"risk": {"high": 1}})).is_err());
}

#[test]
fn results_are_deterministic_whatever_the_relation_order() {
    let a = run(input(corporate(), park())).unwrap().result;
    let mut shuffled = park();
    shuffled["guarantee_network"]["relations"]
        .as_array_mut()
        .unwrap()
        .reverse();
    shuffled["guarantee_network"]["parties"]
        .as_array_mut()
        .unwrap()
        .reverse();
    let b = run(input(corporate(), shuffled)).unwrap().result;
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn describe_publishes_name_version_and_schemas() {
    let info = GuaranteeCircle::describe();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("guarantee-circle", "1.0.0")
    );
    assert_eq!(
        info.config_schema["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    assert_eq!(
        info.output_schema["properties"]["risk_flag"]["enum"],
        json!(["none", "watch", "high"])
    );
}

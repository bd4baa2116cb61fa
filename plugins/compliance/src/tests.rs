//! Whole-plugin tests: the shipped rule sets over realistic cases, the SDK entry points,
//! error codes, schemas and determinism.

use super::*;
use crate::schema::check::validate;
use plugin_sdk::{Input, Output, TextPlugin};
use serde_json::{Value, json};

/// The plugin through the SDK's text entry point on a `Value` input, its result parsed back.
fn run(input: Input) -> Result<Output, plugin_sdk::Error> {
    input
        .with_text(<Compliance as TextPlugin>::prepare_and_run)
        .map(|o| o.into_output().expect("a result is JSON"))
}

const RETAIL: &str = include_str!("../../../workflows/rules/retail-v1.json");
const SMALL_BUSINESS: &str = include_str!("../../../workflows/rules/small-business-v1.json");
const CORPORATE: &str = include_str!("../../../workflows/rules/corporate-v1.json");

fn cfg(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn input(config: Value, vars: Value) -> Input {
    Input {
        case_id: "case-1".into(),
        node_id: "compliance".into(),
        config,
        vars,
        business_date: "2024-06-30".into(),
    }
}

fn good_retail() -> Value {
    json!({
        "applicant": {
            "name": "李娜", "id_number": "110101199003074514", "birth_date": "1990-03-07",
            "monthly_income": 30000, "monthly_debt_payments": 2000
        },
        "amount": 200000, "term_months": 36, "product": "personal-loan",
        "credit_report": {"queries": [
            {"institution": "Bank A", "date": "2024-06-01", "reason": "loan_approval"},
            {"institution": "Docket Demo Bank", "date": "2024-06-29", "reason": "loan_approval"}
        ]}
    })
}

#[test]
fn shipped_rule_sets_parse_and_match_the_published_schema() {
    let schema = schema::config_schema();
    for (name, text) in [
        ("retail", RETAIL),
        ("small-business", SMALL_BUSINESS),
        ("corporate", CORPORATE),
    ] {
        let c = cfg(text);
        config::parse(&c).unwrap_or_else(|e| panic!("{name}: {e}"));
        validate(&schema, &c).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn the_schema_checker_catches_what_the_parser_rejects() {
    let schema = schema::config_schema();
    let bad = [
        json!({"rules": []}),
        json!({"rules": [{"id": "A", "kind": "age_band", "severity": "reject"}]}),
        json!({"rules": [{"id": "A", "kind": "age_band", "severity": "reject", "max_age_at_maturity": 65, "typo": 1}]}),
        json!({"rules": [{"id": "A", "kind": "nope", "severity": "reject"}]}),
        json!({"rules": [{"id": "A", "kind": "dti_ceiling", "severity": "maybe", "max_ratio": 0.5, "annual_rate": 0.1}]}),
    ];
    for b in bad {
        assert!(validate(&schema, &b).is_err(), "schema accepted {b}");
        assert!(config::parse(&b).is_err(), "parser accepted {b}");
    }
}

#[test]
fn a_sound_retail_applicant_passes() {
    let out = run(input(cfg(RETAIL), good_retail())).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("pass"));
    assert!(out.reasons.is_empty());
    let r = &out.result;
    assert_eq!(r["passed"], json!(true));
    assert_eq!(r["rule_set"], json!("retail-v1"));
    assert_eq!(r["checks"]["AGE"]["values"]["age_at_maturity"], json!(37));
    assert_eq!(r["checks"]["DTI"]["status"], json!("passed"));
    // Own bank's query is excluded.
    assert_eq!(
        r["checks"]["MULTI_LENDING"]["values"]["distinct_institutions"],
        json!(1)
    );
    let ids: Vec<&String> = r["checks"].as_object().unwrap().keys().collect();
    // Results are canonical JSON, members sorted by key (the history stores them so anyway).
    assert_eq!(
        ids,
        ["AGE", "AMOUNT", "DTI", "MULTI_LENDING", "WATCHLIST"],
        "every rule, by id"
    );
    validate(&schema::output_schema(), r).unwrap();
}

#[test]
fn several_violations_are_all_reported_and_reject_wins() {
    let mut vars = good_retail();
    vars["applicant"]["monthly_income"] = json!(8000);
    vars["applicant"]["name"] = json!("ZHOU  FENG");
    vars["amount"] = json!(600000);
    let out = run(input(cfg(RETAIL), vars)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    let r = &out.result;
    assert_eq!(r["passed"], json!(false));
    assert_eq!(
        r["reason_codes"],
        json!([
            "AMOUNT_OUTSIDE_PRODUCT_LIMITS",
            "DTI_ABOVE_CEILING",
            "WATCHLIST_HIT"
        ])
    );
    let severities: Vec<&Value> = r["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| &v["severity"])
        .collect();
    assert_eq!(
        severities,
        [&json!("reject"), &json!("reject"), &json!("refer")],
        "the name-only hit refers"
    );
    assert_eq!(out.reasons.len(), 3);
    assert_eq!(out.reasons[2].weight, 0.5);
    assert_eq!(r["violations"][0]["values"]["amount"], json!(600000.0));
    validate(&schema::output_schema(), r).unwrap();
}

#[test]
fn refer_only_violations_refer() {
    let mut vars = good_retail();
    vars["applicant"]["name"] = json!("Zhou Feng");
    let out = run(input(cfg(RETAIL), vars)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("refer"));
    assert_eq!(out.result["passed"], json!(false));
}

#[test]
fn multi_lending_rejects_retail() {
    let mut vars = good_retail();
    let queries: Vec<Value> = [
        "Bank A",
        "Bank B",
        "Bank C",
        "Consumer Finance D",
        "Micro Lender E",
    ]
    .iter()
    .map(|b| json!({"institution": b, "date": "2024-05-15", "reason": "loan_approval"}))
    .collect();
    vars["credit_report"]["queries"] = json!(queries);
    let out = run(input(cfg(RETAIL), vars)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    assert_eq!(out.result["reason_codes"], json!(["MULTI_LENDING"]));
}

#[test]
fn small_business_and_corporate_sets_run_on_their_cases() {
    let sme = json!({
        "applicant": {"name": "杭州小微科技有限公司", "credit_code": "91330100MA2B00003E", "industry_code": "C3011"},
        "owner": {"name": "王芳", "id_number": "320102197208150011",
                  "credit_report": {"queries": [{"institution": "Bank A", "date": "2024-06-20", "reason": "loan_approval"}]}},
        "amount": 800000, "term_months": 24, "product": "sme-working-capital"
    });
    let out = run(input(cfg(SMALL_BUSINESS), sme)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    assert_eq!(out.result["reason_codes"], json!(["RESTRICTED_INDUSTRY"]));
    assert_eq!(
        out.result["checks"]["OWNER_AGE"]["values"]["birth_date_source"],
        json!("id_number")
    );

    let corp = json!({
        "applicant": {"name": "上海示例制造股份有限公司", "credit_code": "91310000MA1FL0XX2F", "industry_code": "C3120",
                      "legal_representative": {"name": "赵强", "id_number": "51010719880101002X"}},
        "guarantors": [{"name": "Shady Holdings Ltd.", "id": "91350100M000100Y43"}],
        "amount": 20000000, "term_months": 36, "product": "corporate-working-capital",
        "credit_report": {"queries": []}
    });
    let out = run(input(cfg(CORPORATE), corp.clone())).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    assert_eq!(
        out.result["reason_codes"],
        json!(["WATCHLIST_HIT", "OVERCAPACITY_INDUSTRY"])
    );
    assert_eq!(
        out.result["checks"]["WATCHLIST"]["values"]["hits"][0]["role"],
        json!("guarantor")
    );
    let mut clean = corp;
    clean.as_object_mut().unwrap().remove("guarantors");
    clean["applicant"]["industry_code"] = json!("C3912");
    let out = run(input(cfg(CORPORATE), clean)).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("pass"), "{}", out.result);
}

#[test]
fn disabled_and_skipped_rules_are_recorded() {
    let config = json!({"rules": [
        {"id": "AGE", "kind": "age_band", "severity": "reject", "max_age_at_maturity": 65, "enabled": false},
        {"id": "INDUSTRY", "kind": "restricted_industry", "severity": "reject", "on_missing": "skip", "restricted": [{"prefix": "B06"}]},
        {"id": "DTI", "kind": "dti_ceiling", "severity": "refer", "on_missing": "violate", "max_ratio": 0.5, "annual_rate": 0.05}
    ]});
    let out = run(input(config, json!({}))).unwrap();
    let r = &out.result;
    assert_eq!(r["checks"]["AGE"]["status"], json!("disabled"));
    assert_eq!(r["checks"]["INDUSTRY"]["status"], json!("skipped"));
    assert_eq!(
        r["checks"]["INDUSTRY"]["values"]["missing"],
        json!("/applicant/industry_code")
    );
    assert_eq!(r["checks"]["DTI"]["status"], json!("violated"));
    assert_eq!(out.outcome.as_deref(), Some("refer"));
    assert!(
        out.reasons[0]
            .message
            .contains("/applicant/monthly_income is missing")
    );
    validate(&schema::output_schema(), r).unwrap();
}

#[test]
fn errors_carry_a_code_and_the_pointer() {
    let mut no_income = good_retail();
    no_income["applicant"]
        .as_object_mut()
        .unwrap()
        .remove("monthly_income");
    let e = run(input(cfg(RETAIL), no_income)).unwrap_err();
    assert_eq!(e.code, "missing_input");
    assert_eq!(
        e.message,
        "missing input: case variable /applicant/monthly_income is required by rule DTI"
    );

    let mut bad_date = good_retail();
    bad_date["credit_report"]["queries"][1]["date"] = json!("29/06/2024");
    let e = run(input(cfg(RETAIL), bad_date)).unwrap_err();
    assert_eq!(e.code, "invalid_input");
    assert!(
        e.message.contains("/credit_report/queries/1/date"),
        "{}",
        e.message
    );

    let e = run(input(json!({"rules": [{"id": "X"}]}), good_retail())).unwrap_err();
    assert_eq!(e.code, "invalid_config");
    assert!(e.message.contains("/rules/0"), "{}", e.message);

    let mut i = input(cfg(RETAIL), good_retail());
    i.business_date = "2024-02-30".into();
    assert_eq!(run(i).unwrap_err().code, "invalid_business_date");
}

#[test]
fn the_business_date_is_today() {
    // Same applicant, later business date: 18 years to the day later they become eligible.
    let config = json!({"rules": [{"id": "AGE", "kind": "age_band", "severity": "reject", "max_age_at_maturity": 65}]});
    let vars = json!({"applicant": {"birth_date": "2006-07-01"}, "term_months": 12});
    let mut i = input(config, vars);
    assert_eq!(run(i.clone()).unwrap().outcome.as_deref(), Some("reject"));
    i.business_date = "2024-07-01".into();
    assert_eq!(run(i).unwrap().outcome.as_deref(), Some("pass"));
}

#[test]
fn results_are_deterministic_to_the_byte() {
    let mut vars = good_retail();
    vars["watchlist"] =
        json!([{"name": "李娜", "list": "pep"}, {"name": "li na", "list": "pep-2"}]);
    let a = serde_json::to_string(&run(input(cfg(RETAIL), vars.clone())).unwrap().result).unwrap();
    let b = serde_json::to_string(&run(input(cfg(RETAIL), vars)).unwrap().result).unwrap();
    assert_eq!(a, b);
}

#[test]
fn describe_publishes_name_version_and_schemas() {
    let info = Compliance::describe();
    assert_eq!(info.name, "compliance");
    assert_eq!(info.version, "1.0.0");
    assert_eq!(
        info.config_schema["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    let kinds: Vec<&Value> = info.config_schema["definitions"]["rule"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| &k["$ref"])
        .collect();
    assert_eq!(kinds.len(), rules::Check::KINDS.len());
    assert_eq!(
        info.output_schema["properties"]["outcome"]["enum"],
        json!(["pass", "refer", "reject"])
    );
}

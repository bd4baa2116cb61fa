//! The bundled `compliance` component called through the engine's plugin port: the
//! shipped rule sets give, from inside the sandbox, the answers the host-side unit
//! tests expect.

use model::plugin::{PluginRef, Plugins, StepError, StepErrorKind, StepInput, StepOutput};
use plugin_host::Registry;
use serde_json::{Value, json};
use std::sync::OnceLock;

const RETAIL: &str = include_str!("../../../../workflows/rules/retail-v1.json");
const CORPORATE: &str = include_str!("../../../../workflows/rules/corporate-v1.json");

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::bundled().expect("bundled plugins load"))
}

fn rules(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn call(config: Value, vars: Value) -> Result<StepOutput, StepError> {
    let input = StepInput::new(
        "case-compliance",
        "compliance",
        &config,
        &vars,
        "2024-06-30",
    );
    let report = registry()
        .call(
            &PluginRef::parse("compliance@1").unwrap(),
            &input,
            &super::answer_limits(),
        )
        .expect("compliance is bundled");
    assert_eq!(report.build.name, "compliance");
    assert_eq!(report.build.version, "1.0.0");
    report.output
}

fn retail_case() -> Value {
    json!({
        "applicant": {"name": "李娜", "id_number": "110101199003074514", "birth_date": "1990-03-07",
                      "monthly_income": 30000, "monthly_debt_payments": 2000},
        "amount": 200000, "term_months": 36, "product": "personal-loan",
        "credit_report": {"queries": [
            {"institution": "Bank A", "date": "2024-06-01", "reason": "loan_approval"},
            {"institution": "Docket Demo Bank", "date": "2024-06-29", "reason": "loan_approval"}
        ]}
    })
}

#[test]
fn describe_names_version_and_rule_kinds() {
    let info = registry()
        .describe(&PluginRef::parse("compliance@1").unwrap())
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("compliance", "1.0.0")
    );
    assert_eq!(
        info.config_schema["definitions"]["rule"]["oneOf"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        info.output_schema["properties"]["outcome"]["enum"],
        json!(["pass", "refer", "reject"])
    );
}

#[test]
fn a_sound_retail_case_passes_in_the_sandbox() {
    let out = call(rules(RETAIL), retail_case()).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("pass"));
    assert_eq!(out.reasons, vec![]);
    assert_eq!(out.result["passed"], json!(true));
    assert_eq!(
        out.result["checks"]["DTI"]["values"]["new_loan_payment"],
        json!(6084.39)
    );
    assert_eq!(
        out.result["checks"]["AGE"]["values"]["maturity_date"],
        json!("2027-06-30")
    );
}

#[test]
fn dti_and_full_width_watchlist_hit_reject() {
    let mut vars = retail_case();
    vars["applicant"]["monthly_income"] = json!(12000);
    vars["applicant"]["id_number"] = json!("１１０１０５１９４９１２３１００２ｘ");
    vars["applicant"]["birth_date"] = json!("1949-12-31");
    vars["term_months"] = json!(12);
    vars["amount"] = json!(20000);
    let out = call(rules(RETAIL), vars).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    assert_eq!(
        out.result["reason_codes"],
        json!(["AGE_OUTSIDE_BAND", "WATCHLIST_HIT"])
    );
    assert_eq!(
        out.result["violations"][1]["values"]["hits"][0]["matched_on"],
        json!("id")
    );
    let codes: Vec<(&str, f64)> = out
        .reasons
        .iter()
        .map(|r| (r.code.as_str(), r.weight))
        .collect();
    assert_eq!(codes, [("AGE_OUTSIDE_BAND", 1.0), ("WATCHLIST_HIT", 1.0)]);
}

#[test]
fn multi_lending_and_corporate_refer() {
    let mut vars = retail_case();
    vars["credit_report"]["queries"] = json!(["A", "B", "C", "D", "E"]
        .iter()
        .map(|b| json!({"institution": format!("Bank {b}"), "date": "2024-05-15", "reason": "loan_approval"}))
        .collect::<Vec<_>>());
    let out = call(rules(RETAIL), vars).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("reject"));
    assert_eq!(
        out.result["checks"]["MULTI_LENDING"]["values"]["distinct_institutions"],
        json!(5)
    );

    let corp = json!({
        "applicant": {"name": "上海示例制造股份有限公司", "credit_code": "91310000MA1FL0XX2F", "industry_code": "C3011",
                      "legal_representative": {"name": "赵强", "id_number": "51010719880101002X"}},
        "amount": 20000000, "term_months": 36, "product": "corporate-working-capital",
        "credit_report": {"queries": []}
    });
    let out = call(rules(CORPORATE), corp).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("refer"));
    assert_eq!(out.result["reason_codes"], json!(["OVERCAPACITY_INDUSTRY"]));
}

#[test]
fn missing_input_and_bad_config_are_plugin_errors_naming_the_pointer() {
    let mut vars = retail_case();
    vars["applicant"]
        .as_object_mut()
        .unwrap()
        .remove("monthly_income");
    let e = call(rules(RETAIL), vars).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Plugin);
    assert_eq!(e.code.as_deref(), Some("missing_input"));
    assert_eq!(
        e.message,
        "missing input: case variable /applicant/monthly_income is required by rule DTI"
    );

    let e = call(json!({"rules": [{"id": "DTI", "kind": "dti_ceiling", "severity": "reject", "max_ratio": 0.5}]}), retail_case())
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("invalid_config"));
    assert!(
        e.message.contains("/rules/0") && e.message.contains("annual_rate"),
        "{}",
        e.message
    );
}

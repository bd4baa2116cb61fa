//! The bundled `scorecard` component called through the engine's plugin port with the
//! shipped retail and small-business cards.

use model::plugin::{PluginRef, Plugins, StepErrorKind, StepInput, StepOutput};
use model::schema::Schema;
use plugin_host::Registry;
use serde_json::{Value, json};
use std::sync::OnceLock;

const RETAIL: &str = include_str!("../../../../workflows/scorecards/retail-v1.json");
const SMALL_BUSINESS: &str =
    include_str!("../../../../workflows/scorecards/small-business-v1.json");

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::bundled().expect("bundled plugins load"))
}

fn call(card: &str, vars: Value) -> Result<StepOutput, model::plugin::StepError> {
    let config: serde_json::Value = serde_json::from_str(card).unwrap();
    let input = StepInput::new("case-score", "score", &config, &vars, "2025-06-30");
    let report = registry()
        .call(
            &PluginRef::parse("scorecard@1").unwrap(),
            &input,
            &super::answer_limits(),
        )
        .expect("scorecard is bundled");
    assert_eq!(report.build.name, "scorecard");
    report.output
}

fn low_risk() -> Value {
    json!({
        "applicant": {"monthly_income": 15000, "employment_months": 48, "age": 38,
                      "monthly_debt_payments": 3750, "relationship_months": 24, "housing": "own_mortgage"},
        "bureau": {"revolving_utilisation": 0.2, "delinquencies_24m": 0, "history_months": 60}
    })
}

#[test]
fn retail_low_risk_is_approved() {
    let out = call(RETAIL, low_risk()).unwrap();
    assert_eq!(out.score, Some(770.0));
    assert_eq!(out.outcome.as_deref(), Some("approve"));
    assert_eq!(out.result["score"], json!(770));
    assert_eq!(out.result["grade"], json!("B"));
    // ln/exp come from libm, so the wasm build prints the host's figure.
    assert_eq!(out.result["probability_of_default"], json!(0.002621));
    assert_eq!(
        out.result["reason_codes"],
        json!(["RC06", "RC01", "RC02", "RC03"])
    );
    assert_eq!(out.reasons[0].weight, 15.0);
}

#[test]
fn retail_grey_zone_and_reject() {
    let grey = json!({
        "applicant": {"monthly_income": 8000, "employment_months": 18, "age": 29,
                      "monthly_debt_payments": 3200, "relationship_months": 6, "housing": "rent"},
        "bureau": {"revolving_utilisation": 0.55, "delinquencies_24m": 1, "history_months": 30}
    });
    let out = call(RETAIL, grey).unwrap();
    assert_eq!(
        (out.score, out.outcome.as_deref()),
        (Some(550.0), Some("refer"))
    );
    assert_eq!(
        out.result["reason_codes"],
        json!(["RC03", "RC04", "RC06", "RC01"])
    );

    let reject = json!({
        "applicant": {"monthly_income": 4000, "employment_months": 4, "age": 23,
                      "monthly_debt_payments": 2600, "relationship_months": 0, "housing": "rent"},
        "bureau": {"revolving_utilisation": 0.95, "delinquencies_24m": 3, "history_months": 8}
    });
    let out = call(RETAIL, reject).unwrap();
    assert_eq!(
        (out.score, out.outcome.as_deref()),
        (Some(355.0), Some("decline"))
    );
}

#[test]
fn small_business_woe_card() {
    let vars = json!({
        "amount": 1000000,
        "business": {"years_in_business": 12, "annual_revenue": 8000000, "prior_year_revenue": 6900000,
                     "tax_credit_rating": "A", "relationship_months": 40},
        "owner": {"bureau_score": 760},
        "loan": {"collateral_value": 1200000}
    });
    let out = call(SMALL_BUSINESS, vars).unwrap();
    assert_eq!(
        (out.score, out.outcome.as_deref()),
        (Some(739.0), Some("approve"))
    );
    assert_eq!(out.result["characteristics"][3]["points"], json!(126));
    assert_eq!(out.result["characteristics"][3]["woe"], json!(0.8));
}

/// The schemas go through the same checker the flow validator uses on node configs:
/// the shipped cards fit the config schema and real results fit the output schema.
#[test]
fn shipped_cards_and_results_fit_the_published_schemas() {
    let info = registry()
        .describe(&PluginRef::parse("scorecard@1").unwrap())
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("scorecard", "1.0.0")
    );
    let config =
        Schema::compile_object(&info.config_schema).expect("config schema in Docket's subset");
    let output = Schema::compile(&info.output_schema).expect("output schema in Docket's subset");
    for text in [RETAIL, SMALL_BUSINESS] {
        let v: Value = serde_json::from_str(text).unwrap();
        config.check(&v).unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert!(
        config
            .check(&json!({"card": "x", "characteristics": [], "grades": []}))
            .is_err()
    );
    let thin_file = json!({"applicant": {"monthly_income": 9000}, "bureau": {}});
    for vars in [low_risk(), thin_file] {
        let result = call(RETAIL, vars).unwrap().result;
        output
            .check(&result)
            .unwrap_or_else(|e| panic!("{e:?}\n{result:#}"));
    }
}

#[test]
fn missing_value_without_points_is_a_plugin_error() {
    let mut card: Value = serde_json::from_str(RETAIL).unwrap();
    card["characteristics"][0]
        .as_object_mut()
        .unwrap()
        .remove("missing_points");
    let mut vars = low_risk();
    vars["applicant"]
        .as_object_mut()
        .unwrap()
        .remove("monthly_income");
    let e = call(&card.to_string(), vars).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Plugin);
    assert_eq!(e.code.as_deref(), Some("invalid_input"));
    assert!(
        e.message
            .contains("vars at /applicant/monthly_income: missing"),
        "{}",
        e.message
    );
}

//! Whole-call tests of `scorecard` on the host: the shipped cards
//! (workflows/scorecards/*.json) on realistic applicants, the WoE scaling arithmetic,
//! missing and unmatched values, and config validation.

use super::*;
use plugin_sdk::{Input, Output, Value, json};
use std::collections::BTreeSet;

/// The plugin's logic on a `Value` input, its result parsed back.
fn run(input: &Input) -> Result<Output, Error> {
    input
        .with_text(super::run)
        .map(|o| o.into_output().expect("a result is JSON"))
}

const RETAIL: &str = include_str!("../../../workflows/scorecards/retail-v1.json");
const SMALL_BUSINESS: &str = include_str!("../../../workflows/scorecards/small-business-v1.json");

fn input(config: &Value, vars: Value) -> Input {
    Input {
        case_id: "case-1".into(),
        node_id: "score".into(),
        config: config.clone(),
        vars,
        business_date: "2025-06-30".into(),
    }
}

fn card(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

fn retail(vars: Value) -> Value {
    run(&input(&card(RETAIL), vars)).unwrap().result
}

/// A typical low-risk applicant: 65+45+70+100+55+55+35+45+40 = 510 points + 260 base.
fn low_risk() -> Value {
    json!({
        "applicant": {
            "monthly_income": 15000, "employment_months": 48, "age": 38,
            "monthly_debt_payments": 3750, "relationship_months": 24, "housing": "own_mortgage"
        },
        "bureau": {"revolving_utilisation": 0.2, "delinquencies_24m": 0, "history_months": 60},
        "amount": 150000
    })
}

/// 30+5+0+0+20+0+10+10+20 = 95 points + 260 base.
fn clear_reject() -> Value {
    json!({
        "applicant": {
            "monthly_income": 4000, "employment_months": 4, "age": 23,
            "monthly_debt_payments": 2600, "relationship_months": 0, "housing": "rent"
        },
        "bureau": {"revolving_utilisation": 0.95, "delinquencies_24m": 3, "history_months": 8}
    })
}

/// 50+30+25+45+40+30+20+30+20 = 290 points + 260 base: exactly the refer floor.
fn grey_zone() -> Value {
    json!({
        "applicant": {
            "monthly_income": 8000, "employment_months": 18, "age": 29,
            "monthly_debt_payments": 3200, "relationship_months": 6, "housing": "rent"
        },
        "bureau": {"revolving_utilisation": 0.55, "delinquencies_24m": 1, "history_months": 30}
    })
}

fn set(vars: &mut Value, pointer: &str, v: Value) {
    *vars
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = v;
}

fn remove(vars: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    vars.pointer_mut(parent)
        .unwrap()
        .as_object_mut()
        .unwrap()
        .remove(key)
        .unwrap();
}

fn points_of(result: &Value, name: &str) -> Value {
    let c = result["characteristics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == json!(name))
        .unwrap();
    c["points"].clone()
}

#[test]
fn low_risk_applicant_is_auto_approved() {
    let out = run(&input(&card(RETAIL), low_risk())).unwrap();
    assert_eq!(out.score, Some(770.0));
    assert_eq!(out.outcome.as_deref(), Some("approve"));
    let r = &out.result;
    assert_eq!(r["score"], json!(770), "a whole score is a JSON integer");
    assert_eq!(r["grade"], json!("B"));
    assert_eq!(r["card"], json!("retail-v1"));
    assert_eq!(r["probability_of_default"], json!(0.002621));
    assert_eq!(r["missing"], json!([]));
    assert_eq!(
        r["characteristics"][5],
        json!({"name": "debt_to_income", "value": 0.25, "bin": "[0.2, 0.35)", "points": 55, "max_points": 70})
    );
    // Even a good applicant hears what cost the most: DTI 15, then 10-point losses in card order.
    assert_eq!(r["reason_codes"], json!(["RC06", "RC01", "RC02", "RC03"]));
    assert_eq!(out.reasons[0].weight, 15.0);
    assert_eq!(
        out.reasons[0].message,
        "Debt too high relative to income: 55 of 70 points (0.25 in [0.2, 0.35))"
    );
}

#[test]
fn best_applicant_scores_grade_a_with_no_reasons() {
    let vars = json!({
        "applicant": {
            "monthly_income": 25000, "employment_months": 72, "age": 42,
            "monthly_debt_payments": 2500, "relationship_months": 48, "housing": "own_outright"
        },
        "bureau": {"revolving_utilisation": 0.05, "delinquencies_24m": 0, "history_months": 100}
    });
    let out = run(&input(&card(RETAIL), vars)).unwrap();
    assert_eq!(
        (out.score, out.result["grade"].clone()),
        (Some(840.0), json!("A"))
    );
    assert_eq!(out.reasons, vec![]);
    assert_eq!(out.result["reasons"], json!([]));
}

#[test]
fn clear_reject_is_declined_with_reasons_in_order() {
    let r = retail(clear_reject());
    assert_eq!(r["score"], json!(355));
    assert_eq!(
        (r["grade"].clone(), r["decision"].clone()),
        (json!("E"), json!("decline"))
    );
    // Losses: delinquencies 100, utilisation 80, DTI 70, employment 50, ...
    assert_eq!(r["reason_codes"], json!(["RC04", "RC03", "RC06", "RC02"]));
    assert_eq!(r["reasons"][0]["points_lost"], json!(100));
    assert_eq!(r["probability_of_default"], json!(0.777264));
}

#[test]
fn grey_zone_sits_on_the_refer_floor() {
    let r = retail(grey_zone());
    assert_eq!(r["score"], json!(550));
    assert_eq!(
        (r["grade"].clone(), r["decision"].clone()),
        (json!("D"), json!("refer"))
    );
    // 55, 55 (card order breaks the tie), 40, then the first of five 25-point losses.
    assert_eq!(r["reason_codes"], json!(["RC03", "RC04", "RC06", "RC01"]));
    let mut one_less = grey_zone();
    set(&mut one_less, "/applicant/monthly_income", json!(5999.99));
    set(
        &mut one_less,
        "/applicant/monthly_debt_payments",
        json!(2400),
    );
    let r = retail(one_less);
    assert_eq!(
        (r["score"].clone(), r["grade"].clone()),
        (json!(530), json!("E"))
    );
}

#[test]
fn bins_are_min_inclusive_max_exclusive() {
    let at = |income: f64| {
        let mut v = low_risk();
        set(&mut v, "/applicant/monthly_income", json!(income));
        points_of(&retail(v), "monthly_income")
    };
    assert_eq!(at(2999.999), json!(10));
    assert_eq!(at(3000.0), json!(30));
    assert_eq!(at(9999.0), json!(50));
    assert_eq!(at(10000.0), json!(65));
    assert_eq!(at(1e12), json!(75));
    assert_eq!(at(-5.0), json!(10), "the first bin is open below");
}

#[test]
fn thin_file_uses_missing_points_and_one_reason_code() {
    let mut vars = low_risk();
    vars["bureau"] = json!({"revolving_utilisation": null});
    let r = retail(vars);
    // 770 - (70-40) - (100-30) - (45-10)
    assert_eq!(r["score"], json!(635));
    assert_eq!(r["grade"], json!("D"));
    assert_eq!(
        r["missing"],
        json!(["credit_utilisation", "delinquencies", "credit_history"])
    );
    assert_eq!(points_of(&r, "delinquencies"), json!(30));
    // Three characteristics are missing for one reason (RC91, no bureau file): said once.
    assert_eq!(r["reason_codes"], json!(["RC91", "RC06", "RC01", "RC02"]));
    let c = &r["characteristics"][3];
    assert_eq!(
        (c["bin"].clone(), c["value"].clone()),
        (json!("missing"), Value::Null)
    );
}

#[test]
fn ratio_with_zero_or_missing_denominator_is_missing() {
    let mut vars = low_risk();
    set(&mut vars, "/applicant/monthly_income", json!(0));
    let r = retail(vars);
    assert_eq!(points_of(&r, "debt_to_income"), json!(20));
    assert!(
        r["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("debt_to_income"))
    );
    let mut vars = low_risk();
    remove(&mut vars, "/applicant/monthly_debt_payments");
    assert_eq!(points_of(&retail(vars), "debt_to_income"), json!(20));
}

#[test]
fn categories_and_other_points() {
    let at = |housing: Value| {
        let mut v = low_risk();
        set(&mut v, "/applicant/housing", housing);
        points_of(&retail(v), "housing")
    };
    assert_eq!(at(json!("family")), json!(25));
    assert_eq!(at(json!("employer_provided")), json!(25));
    assert_eq!(
        at(json!("houseboat")),
        json!(15),
        "unknown category: other_points"
    );
    assert_eq!(at(json!("Rent")), json!(15), "categories match exactly");
    assert_eq!(at(Value::Null), json!(15), "missing");
    assert_eq!(at(json!(7)), json!(15), "a number is a category too");
    // Under 18 falls in no age bin: the card's other_points.
    let mut v = low_risk();
    set(&mut v, "/applicant/age", json!(17));
    let r = retail(v);
    assert_eq!(points_of(&r, "age"), json!(0));
    assert_eq!(r["characteristics"][4]["bin"], json!("other"));
    // Text values read plainly in reason messages.
    let mut v = clear_reject();
    v["bureau"]["delinquencies_24m"] = json!(0);
    v["bureau"]["revolving_utilisation"] = json!(0.05);
    v["applicant"]["monthly_debt_payments"] = json!(0);
    v["applicant"]["employment_months"] = json!(60);
    v["applicant"]["monthly_income"] = json!(20000);
    v["bureau"]["history_months"] = json!(84);
    v["applicant"]["age"] = json!(40);
    let r = retail(v);
    let housing = r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["code"] == json!("RC09"))
        .unwrap();
    assert_eq!(
        housing["message"],
        json!("Housing status: 20 of 45 points (rent in rent)")
    );
}

#[test]
fn input_errors_name_the_pointer() {
    let err = |vars: Value| {
        let e: plugin_sdk::Error = run(&input(&card(RETAIL), vars)).unwrap_err().into();
        (e.code, e.message)
    };
    let mut v = low_risk();
    set(&mut v, "/bureau/delinquencies_24m", json!(-1));
    assert_eq!(
        err(v),
        (
            "invalid_input".into(),
            "vars at /bureau/delinquencies_24m: value -1 falls in no bin of characteristic `delinquencies` and the card gives no other_points".into()
        )
    );
    let mut v = low_risk();
    set(&mut v, "/applicant/monthly_income", json!("15000"));
    assert_eq!(
        err(v).1,
        "vars at /applicant/monthly_income: characteristic `monthly_income` needs a number here, got \"15000\""
    );
    let mut v = low_risk();
    set(&mut v, "/applicant/housing", json!(["rent"]));
    assert_eq!(
        err(v).1,
        "vars at /applicant/housing: characteristic `housing` needs a string, number or boolean here"
    );
    // A card without missing points for a characteristic fails the step on a missing value.
    let mut strict = card(RETAIL);
    strict["characteristics"][0]
        .as_object_mut()
        .unwrap()
        .remove("missing_points");
    let mut v = low_risk();
    remove(&mut v, "/applicant/monthly_income");
    let e = run(&input(&strict, v)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "vars at /applicant/monthly_income: missing: characteristic `monthly_income` needs it and the card gives no points for a missing value"
    );
}

/// A two-characteristic WoE card: log-odds = intercept + 1.0·woe_a + 2.0·woe_b.
fn woe_card(intercept: f64, round: bool) -> Value {
    json!({
        "card": "woe-test",
        "model": "woe",
        "scaling": {"base_score": 600, "base_odds": 50, "pdo": 20},
        "intercept": intercept,
        "round_points": round,
        "characteristics": [
            {"name": "a", "variable": "a", "reason_code": "A", "coefficient": 1.0,
             "bins": [{"max": 0, "woe": 0.5}, {"min": 0, "woe": 0.0}], "missing_woe": -1.0},
            {"name": "b", "variable": "b", "reason_code": "B", "coefficient": 2.0,
             "bins": [{"values": ["x"], "woe": -0.25}, {"values": ["y"], "woe": 0.0}]}
        ],
        "grades": [{"grade": "good", "min_score": 600}, {"grade": "bad"}]
    })
}

#[test]
fn woe_model_maps_log_odds_through_the_scaling() {
    let score = |config: &Value, vars: Value| run(&input(config, vars)).unwrap().score.unwrap();
    // With every WoE at 0 and the intercept at ln(base odds) the score is the base score…
    let at_base = woe_card(50f64.ln(), false);
    let s = score(&at_base, json!({"a": 1, "b": "y"}));
    assert!((s - 600.0).abs() < 1e-9, "{s}");
    // …and one more ln 2 of log-odds is one PDO more.
    let s = score(&woe_card(100f64.ln(), false), json!({"a": 1, "b": "y"}));
    assert!((s - 620.0).abs() < 1e-9, "{s}");
    // log-odds 1 + 0.5 - 0.5 = 1: offset + factor = 600 - 20·log2(50) + 20/ln 2.
    let s = score(&woe_card(1.0, false), json!({"a": -3, "b": "x"}));
    assert!((s - 515.976_777_022_284_8).abs() < 1e-9, "{s}");
    // Rounded per characteristic, the points are whole and still sum to the score.
    let out = run(&input(&woe_card(1.0, true), json!({"a": -3, "b": "x"}))).unwrap();
    let r = &out.result;
    let sum: i64 = r["characteristics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["points"].as_i64().unwrap())
        .sum();
    assert_eq!(r["score"], json!(sum));
    assert_eq!(r["score"], json!(516));
    assert_eq!(r["characteristics"][0]["woe"], json!(0.5));
    // A missing value takes the missing WoE; b has none, so a missing b fails.
    let s = score(&woe_card(50f64.ln(), false), json!({"b": "y"}));
    assert!(
        (s - (600.0 - 20.0 / std::f64::consts::LN_2)).abs() < 1e-9,
        "{s}"
    );
    assert!(run(&input(&woe_card(1.0, true), json!({"a": 1}))).is_err());
}

#[test]
fn small_business_card() {
    let sb = card(SMALL_BUSINESS);
    let good = json!({
        "amount": 1000000,
        "business": {"years_in_business": 12, "annual_revenue": 8000000, "prior_year_revenue": 6900000,
                     "tax_credit_rating": "A", "relationship_months": 40},
        "owner": {"bureau_score": 760},
        "loan": {"collateral_value": 1200000}
    });
    let out = run(&input(&sb, good)).unwrap();
    // 119 + 94 + 99 + 126 + 104 + 98 + 99 (points from the WoE, intercept 2.9, 600 @ 20:1, PDO 40)
    assert_eq!(out.score, Some(739.0));
    assert_eq!(
        (out.result["grade"].clone(), out.outcome.as_deref()),
        (json!("A"), Some("approve"))
    );
    assert_eq!(out.result["probability_of_default"], json!(0.004477));
    let weak = json!({
        "amount": 500000,
        "business": {"years_in_business": 1.5, "annual_revenue": 800000, "prior_year_revenue": 1000000,
                     "tax_credit_rating": "C", "relationship_months": 0},
        "owner": {"bureau_score": 600},
        "loan": {"collateral_value": 0}
    });
    let out = run(&input(&sb, weak)).unwrap();
    assert_eq!(out.score, Some(474.0));
    assert_eq!(
        (out.result["grade"].clone(), out.outcome.as_deref()),
        (json!("E"), Some("decline"))
    );
    // Tax C costs 126-49 = 77, owner 117-68 = 49, years 119-68 = 51, revenue 102-68 = 34 …
    assert_eq!(
        out.result["reason_codes"],
        json!(["SB04", "SB01", "SB05", "SB02"])
    );
}

#[test]
fn config_errors_name_the_pointer() {
    let err = |mutate: &dyn Fn(&mut Value)| {
        let mut c = card(RETAIL);
        mutate(&mut c);
        let e = run(&input(&c, low_risk())).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        e.to_string()
    };
    assert_eq!(
        err(&|c| c["characteristics"][0]["bins"][1]["min"] = json!(2500)),
        "config at /characteristics/0/bins/1: overlaps bin 0"
    );
    assert_eq!(
        err(&|c| c["characteristics"][0]["bins"][1] =
            json!({"min": 3000, "max": 3000, "points": 1})),
        "config at /characteristics/0/bins/1: min 3000 must be below max 3000"
    );
    assert_eq!(
        err(&|c| c["characteristics"][8]["bins"][1] = json!({"min": 1, "points": 1})),
        "config at /characteristics/8/bins/1: all bins of a characteristic are numeric (`min`/`max`) or all categorical (`values`)"
    );
    assert_eq!(
        err(&|c| c["characteristics"][8]["bins"][1]["values"] = json!(["rent"])),
        "config at /characteristics/8/bins/3/values/0: `rent` is already in another bin"
    );
    assert_eq!(
        err(&|c| c["characteristics"][1]["name"] = json!("monthly_income")),
        "config at /characteristics/1/name: `monthly_income` is used by an earlier characteristic"
    );
    assert_eq!(
        err(&|c| c["characteristics"][0]["ratio"] = json!({"numerator": "a", "denominator": "b"})),
        "config at /characteristics/0: give exactly one of `variable` and `ratio`"
    );
    assert_eq!(
        err(&|c| c["characteristics"][2]["bins"][0]["woe"] = json!(0.1)),
        "config at /characteristics/2/bins/0: the `points` model takes `points` for a bin, not `woe`"
    );
    assert_eq!(
        err(&|c| c["characteristics"][2]["bins"][0]
            .as_object_mut()
            .unwrap()
            .clear()),
        "config at /characteristics/2/bins/0: a bin needs its `points`"
    );
    assert_eq!(
        err(&|c| c["characteristics"][3]["variable"] = json!("bureau..x")),
        "config at /characteristics/3/variable: `bureau..x` is not a dot path like `applicant.monthly_income`"
    );
    assert_eq!(
        err(&|c| c["grades"][2]["min_score"] = json!(730)),
        "config at /grades/2/min_score: bands go from best to worst: min_score must fall from one band to the next"
    );
    assert_eq!(
        err(&|c| c["grades"][4]["min_score"] = json!(0)),
        "config at /grades/4/min_score: the last (worst) band catches every score below the others: leave out its min_score"
    );
    assert_eq!(
        err(&|c| {
            c["grades"][1].as_object_mut().unwrap().remove("min_score");
        }),
        "config at /grades/1/min_score: every band but the last needs its min_score"
    );
    assert_eq!(
        err(&|c| c["scaling"]["pdo"] = json!(0)),
        "config at /scaling/pdo: must be positive, got 0"
    );
    let e = err(&|c| c["characteristics"][0]["bins"][0]["pionts"] = json!(1));
    assert!(
        e.starts_with("config at /characteristics/0/bins/0/pionts:")
            && e.contains("unknown field `pionts`"),
        "{e}"
    );
    let e = err(&|c| c["model"] = json!("woe"));
    assert_eq!(
        e,
        "config at /intercept: the `woe` model needs the log-odds intercept"
    );
    let e = err(&|c| {
        c["model"] = json!("woe");
        c["intercept"] = json!(1.0);
        c.as_object_mut().unwrap().remove("base_points");
    });
    assert_eq!(
        e,
        "config at /characteristics/0/missing_points: the `woe` model takes `missing_woe`"
    );
    let e = err(&|c| c["characteristics"] = json!([]));
    assert_eq!(
        e,
        "config at /characteristics: a card needs at least one characteristic"
    );
}

#[test]
fn same_input_same_output() {
    let a = serde_json::to_string(&retail(grey_zone())).unwrap();
    let b = serde_json::to_string(&retail(grey_zone())).unwrap();
    assert_eq!(a, b);
    // Key order of the variables does not matter.
    let v = grey_zone();
    let reversed: serde_json::Map<String, Value> = v["applicant"]
        .as_object()
        .unwrap()
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut w = v.clone();
    w["applicant"] = Value::Object(reversed);
    assert_eq!(a, serde_json::to_string(&retail(w)).unwrap());
}

#[test]
fn describe_publishes_schemas() {
    let info = Scorecard::describe();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("scorecard", "1.0.0")
    );
    assert_eq!(
        info.config_schema["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    // Every top-level key of the shipped cards is in the config schema.
    let props = info.config_schema["properties"].as_object().unwrap();
    for text in [RETAIL, SMALL_BUSINESS] {
        for key in card(text).as_object().unwrap().keys() {
            assert!(props.contains_key(key), "{key}");
        }
    }
    // The result has exactly the schema's keys, all required.
    let r = retail(low_risk());
    let out_props = info.output_schema["properties"].as_object().unwrap();
    assert_eq!(
        r.as_object().unwrap().keys().collect::<BTreeSet<_>>(),
        out_props.keys().collect::<BTreeSet<_>>()
    );
    assert_eq!(
        info.output_schema["required"].as_array().unwrap().len(),
        out_props.len()
    );
}

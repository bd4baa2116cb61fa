//! Whole-call tests of `ocr-check` on the host: realistic cases with the shipped configs
//! (workflows/documents/*.json) and adversarial ones.

use super::*;
use plugin_sdk::{Input, Output, Value, json};
use std::collections::BTreeSet;

/// The plugin's logic on a `Value` input, its result parsed back.
fn run(input: &Input) -> Result<Output, Error> {
    input
        .with_text(super::run)
        .map(|o| o.into_output().expect("a result is JSON"))
}

const RETAIL: &str = include_str!("../../../workflows/documents/retail-v1.json");
const SMALL_BUSINESS: &str = include_str!("../../../workflows/documents/small-business-v1.json");
const CORPORATE: &str = include_str!("../../../workflows/documents/corporate-v1.json");

const TODAY: &str = "2025-06-30";
/// 张伟, male, born 1990-03-07 in Dongcheng, Beijing.
const ZHANG_ID: &str = "110105199003071239";
const ZHANG_CARD: &str = "6222021234567890128";
/// 李娜, female, born 1978-06-15 in Futian, Shenzhen.
const LI_ID: &str = "440305197806150027";
const XINGHE_CODE: &str = "91440300MA5DC4RG2G";

fn field(value: &str, confidence: f64) -> Value {
    json!({"value": value, "confidence": confidence})
}

fn retail_vars() -> Value {
    json!({
        "applicant": {"type": "individual", "name": "张伟", "id_number": ZHANG_ID, "card_number": ZHANG_CARD},
        "amount": 150000,
        "documents": [
            {"type": "id_card", "fields": {
                "name": field("张伟", 0.99),
                "id_number": field(ZHANG_ID, 0.98),
                "birth_date": field("1990年3月7日", 0.97),
                "expiry_date": field("2016.05.10-2036.05.10", 0.96),
                "address": field("北京市东城区景山前街4号", 0.88)
            }},
            {"type": "bank_card", "fields": {"card_number": field("6222 0212 3456 7890 128", 0.99)}},
            {"type": "payslip", "fields": {
                "name": field("张 伟", 0.95),
                "employer": field("北京某某科技有限公司", 0.93),
                "monthly_income": field("18500", 0.97)
            }}
        ]
    })
}

fn company_vars() -> Value {
    json!({
        "applicant": {
            "type": "company",
            "name": "深圳市星河科技有限公司",
            "credit_code": XINGHE_CODE,
            "legal_representative": {"name": "李娜", "id_number": LI_ID}
        },
        "documents": [
            {"type": "business_license", "fields": {
                "name": field("深圳市星河科技有限公司", 0.97),
                "credit_code": field(XINGHE_CODE, 0.99),
                "legal_representative": field("李娜", 0.98),
                "expiry_date": field("2016-09-01至长期", 0.95)
            }},
            {"type": "legal_rep_id_card", "fields": {
                "name": field("李娜", 0.99),
                "id_number": field(LI_ID, 0.99),
                "expiry_date": field("20180101-20380101", 0.97)
            }},
            {"type": "tax_return", "fields": {
                "name": field("深圳市星河科技有限公司", 0.96),
                "credit_code": field(XINGHE_CODE, 0.97),
                "period": field("2024", 0.99)
            }},
            {"type": "bank_statement", "fields": {
                "account_name": field("深圳市星河科技有限公司", 0.95),
                "period": field("2024-07..2025-06", 0.99)
            }}
        ]
    })
}

fn input(config: &str, vars: Value) -> Input {
    Input {
        case_id: "case-1".into(),
        node_id: "documents".into(),
        config: serde_json::from_str(config).unwrap(),
        vars,
        business_date: TODAY.into(),
    }
}

fn report(config: &str, vars: Value) -> Value {
    run(&input(config, vars)).unwrap().result
}

/// `(code, severity, document, field)` of each finding, in order.
fn findings(result: &Value) -> Vec<(String, String, String, String)> {
    result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap_or("-").to_string();
            (s("code"), s("severity"), s("document"), s("field"))
        })
        .collect()
}

fn finding(
    code: &str,
    severity: &str,
    document: &str,
    field: &str,
) -> (String, String, String, String) {
    (code.into(), severity.into(), document.into(), field.into())
}

fn set(vars: &mut Value, pointer: &str, v: Value) {
    *vars
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = v;
}

#[test]
fn clean_retail_case_passes() {
    let out = run(&input(RETAIL, retail_vars())).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("pass"));
    assert_eq!(out.reasons, vec![]);
    assert_eq!(out.score, None);
    assert_eq!(
        out.result,
        json!({
            "ok": true,
            "outcome": "pass",
            "applicant_type": "individual",
            "documents_checked": 3,
            "errors": 0,
            "warnings": 0,
            "findings": [],
            "reason_codes": [],
            "applicant_id": {"birth_date": "1990-03-07", "age": 35, "sex": "male", "region_code": "110105"}
        })
    );
}

#[test]
fn clean_company_case_passes() {
    let r = report(SMALL_BUSINESS, company_vars());
    assert_eq!(findings(&r), vec![]);
    assert_eq!(r["ok"], json!(true));
    // The applicant identity is the legal representative's: she is the one compared.
    assert_eq!(r["applicant_id"]["sex"], json!("female"));
    assert_eq!(r["applicant_id"]["age"], json!(47));
}

#[test]
fn forged_id_number_fails_with_checksum_on_document_and_mismatch() {
    let mut vars = retail_vars();
    // One digit of the sequence changed on the card: the check character no longer fits.
    set(
        &mut vars,
        "/documents/0/fields/id_number/value",
        json!("110105199003071339"),
    );
    let r = report(RETAIL, vars);
    assert_eq!(
        findings(&r),
        vec![
            finding("ID_NUMBER_CHECKSUM", "error", "id_card", "id_number"),
            finding("FIELD_MISMATCH", "error", "id_card", "id_number"),
        ]
    );
    assert_eq!(r["outcome"], json!("fail"));
    assert_eq!(
        r["reason_codes"],
        json!(["ID_NUMBER_CHECKSUM", "FIELD_MISMATCH"])
    );
    let f = &r["findings"][0];
    assert_eq!(f["pointer"], json!("/documents/0/fields/id_number/value"));
    assert_eq!(f["document_index"], json!(0));
    assert_eq!(
        f["message"],
        json!(
            "id_card (document 0) field `id_number`: identity number check character is `9` but the first 17 digits require `5` (ISO 7064 MOD 11-2)"
        )
    );
    // The birth date cross-check is skipped: the number it would come from is invalid.
}

#[test]
fn applicant_typed_an_invalid_id_number() {
    let mut vars = retail_vars();
    set(
        &mut vars,
        "/applicant/id_number",
        json!("990105199003071239"),
    );
    let r = report(RETAIL, vars);
    assert_eq!(
        findings(&r),
        vec![
            finding("ID_NUMBER_REGION", "error", "application", "id_number"),
            finding("FIELD_MISMATCH", "error", "id_card", "id_number"),
        ]
    );
    assert_eq!(r["findings"][0]["pointer"], json!("/applicant/id_number"));
    assert_eq!(r["findings"][0]["document_index"], Value::Null);
    assert_eq!(r["applicant_id"], Value::Null);
}

#[test]
fn lower_case_x_and_full_width_digits_are_the_same_number() {
    let id = "11010519491231002X";
    let mut vars = retail_vars();
    set(&mut vars, "/applicant/id_number", json!(id));
    set(
        &mut vars,
        "/documents/0/fields/id_number/value",
        json!("１１０１０５１９４９１２３１００２x"),
    );
    set(
        &mut vars,
        "/documents/0/fields/birth_date/value",
        json!("1949.12.31"),
    );
    let r = report(RETAIL, vars);
    assert_eq!(findings(&r), vec![]);
    assert_eq!(r["applicant_id"]["age"], json!(75));
}

#[test]
fn printed_birth_date_must_match_the_id_number() {
    let mut vars = retail_vars();
    set(
        &mut vars,
        "/documents/0/fields/birth_date/value",
        json!("1990-03-08"),
    );
    let r = report(RETAIL, vars);
    assert_eq!(
        findings(&r),
        vec![finding("FIELD_MISMATCH", "error", "id_card", "birth_date")]
    );
    assert!(
        r["findings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1990-03-07")
    );
}

#[test]
fn name_mismatch_and_low_confidence() {
    let mut vars = retail_vars();
    set(&mut vars, "/documents/2/fields/name", field("张玮", 0.62));
    let out = run(&input(RETAIL, vars)).unwrap();
    assert_eq!(
        findings(&out.result),
        vec![
            finding("LOW_CONFIDENCE", "warning", "payslip", "name"),
            finding("FIELD_MISMATCH", "error", "payslip", "name"),
        ]
    );
    assert_eq!(
        out.result["findings"][0]["pointer"],
        json!("/documents/2/fields/name/confidence")
    );
    assert_eq!(
        out.result["findings"][0]["message"],
        json!("payslip (document 2) field `name`: OCR confidence 0.62 is below the threshold 0.9")
    );
    // Errors first in the reason codes even though the warning came first.
    assert_eq!(
        out.result["reason_codes"],
        json!(["FIELD_MISMATCH", "LOW_CONFIDENCE"])
    );
    assert_eq!(
        out.reasons
            .iter()
            .map(|r| r.code.as_str())
            .collect::<Vec<_>>(),
        ["FIELD_MISMATCH", "LOW_CONFIDENCE"]
    );
}

#[test]
fn confidence_thresholds_are_inclusive_and_most_specific_wins() {
    let config = r#"{"min_confidence": 0.8, "field_min_confidence": {"name": 0.9, "payslip.name": 0.5}, "consistency": []}"#;
    let vars = |doc_type: &str, c: f64| json!({"documents": [{"type": doc_type, "fields": {"name": field("张伟", c), "employer": field("x", c)}}]});
    let low = |r: Value| findings(&r).into_iter().map(|f| f.3).collect::<Vec<_>>();
    assert_eq!(
        low(report(config, vars("id_card", 0.9))),
        Vec::<String>::new(),
        "0.9 meets 0.9"
    );
    assert_eq!(low(report(config, vars("id_card", 0.85))), ["name"]);
    assert_eq!(
        low(report(config, vars("id_card", 0.79))),
        ["employer", "name"]
    );
    assert_eq!(low(report(config, vars("payslip", 0.5))), ["employer"]);
    let r = report(config, vars("id_card", 0.85));
    assert_eq!(
        (r["ok"].clone(), r["outcome"].clone()),
        (json!(true), json!("review"))
    );
}

#[test]
fn missing_documents_and_fields() {
    let mut vars = retail_vars();
    let docs = vars["documents"].as_array_mut().unwrap();
    docs.remove(2); // the payslip
    docs.remove(1); // the bank card
    docs[0]["fields"]["expiry_date"] = json!({"value": null});
    let r = report(RETAIL, vars);
    assert_eq!(
        findings(&r),
        vec![
            finding("FIELD_MISSING", "error", "id_card", "expiry_date"),
            finding("DOC_MISSING", "error", "bank_card", "-"),
            finding(
                "DOC_MISSING",
                "error",
                "income_proof|payslip|tax_certificate",
                "-"
            ),
        ]
    );
    assert_eq!(
        r["findings"][2]["message"],
        json!(
            "required one of the documents income_proof, payslip, tax_certificate is missing (applicant type `individual`)"
        )
    );
    assert_eq!(
        r["findings"][0]["pointer"],
        json!("/documents/0/fields/expiry_date")
    );
    assert_eq!(r["findings"][1]["pointer"], Value::Null);
}

#[test]
fn any_one_alternative_satisfies_a_requirement() {
    let mut vars = retail_vars();
    vars["documents"][2] = json!({"type": "tax_certificate", "fields": {
        "name": field("张伟", 0.99), "id_number": field(ZHANG_ID, 0.99), "annual_income": field("240000", 0.99)
    }});
    assert_eq!(findings(&report(RETAIL, vars)), vec![]);
}

#[test]
fn expiry_boundaries() {
    let with_expiry = |expiry: &str| {
        let mut vars = retail_vars();
        set(
            &mut vars,
            "/documents/0/fields/expiry_date/value",
            json!(expiry),
        );
        findings(&report(RETAIL, vars))
            .into_iter()
            .map(|f| f.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        with_expiry("2025-06-29"),
        ["DOC_EXPIRED"],
        "the day before the business date"
    );
    assert_eq!(
        with_expiry("2025-06-30"),
        ["DOC_EXPIRING_SOON"],
        "valid through its last day"
    );
    assert_eq!(
        with_expiry("2025-07-29"),
        ["DOC_EXPIRING_SOON"],
        "29 days left"
    );
    assert_eq!(
        with_expiry("2025-07-30"),
        Vec::<String>::new(),
        "30 days left is outside the window"
    );
    assert_eq!(with_expiry("2005.06.01-2025.06.01"), ["DOC_EXPIRED"]);
    assert_eq!(with_expiry("2005.06.01-长期"), Vec::<String>::new());
    assert_eq!(with_expiry("2025-02-30"), ["DATE_INVALID"]);
    assert_eq!(with_expiry("see back"), ["DATE_INVALID"]);
}

#[test]
fn future_dates_are_caught() {
    let mut vars = retail_vars();
    // A birth date in the future inside the ID number (with a fitting check character).
    let future = "110105202507011234";
    let fixed = {
        let b: &[u8; 17] = future.as_bytes()[..17].try_into().unwrap();
        format!("{}{}", &future[..17], checks::id_check_char(b))
    };
    set(
        &mut vars,
        "/documents/0/fields/id_number/value",
        json!(fixed),
    );
    set(
        &mut vars,
        "/documents/0/fields/birth_date/value",
        json!("2025-07-01"),
    );
    let r = report(r#"{"consistency": []}"#, vars);
    assert_eq!(
        findings(&r),
        vec![
            finding("DATE_IN_FUTURE", "error", "id_card", "birth_date"),
            finding("ID_NUMBER_BIRTH_DATE", "error", "id_card", "id_number"),
        ]
    );
}

#[test]
fn company_documents_with_bad_codes_and_wrong_people() {
    let mut vars = company_vars();
    set(
        &mut vars,
        "/documents/0/fields/credit_code/value",
        json!("91440300MA5DC4RG2O"),
    );
    set(&mut vars, "/documents/1/fields/name/value", json!("王芳"));
    set(
        &mut vars,
        "/documents/2/fields/credit_code/value",
        json!("91440300MA5DC4RG2H"),
    );
    let r = report(SMALL_BUSINESS, vars);
    assert_eq!(
        findings(&r),
        vec![
            finding(
                "CREDIT_CODE_FORMAT",
                "error",
                "business_license",
                "credit_code"
            ),
            finding("FIELD_MISMATCH", "error", "business_license", "credit_code"),
            finding("FIELD_MISMATCH", "error", "legal_rep_id_card", "name"),
            finding("CREDIT_CODE_CHECKSUM", "error", "tax_return", "credit_code"),
            finding("FIELD_MISMATCH", "error", "tax_return", "credit_code"),
        ]
    );
    assert_eq!(
        r["findings"][2]["message"],
        json!(
            "legal_rep_id_card (document 1) field `name`: `王芳` differs from the application's `李娜` (applicant.legal_representative.name)"
        )
    );
}

#[test]
fn company_without_legal_rep_id_card() {
    let mut vars = company_vars();
    vars["documents"].as_array_mut().unwrap().remove(1);
    let r = report(CORPORATE, vars);
    let codes: Vec<_> = findings(&r).into_iter().map(|f| (f.0, f.2)).collect();
    assert_eq!(
        codes,
        vec![
            ("DOC_MISSING".into(), "legal_rep_id_card".into()),
            ("DOC_MISSING".into(), "financial_statement".into()),
            ("DOC_MISSING".into(), "articles_of_association".into()),
            ("DOC_MISSING".into(), "board_resolution".into()),
        ]
    );
}

#[test]
fn card_number_checks() {
    let mut vars = retail_vars();
    set(
        &mut vars,
        "/documents/1/fields/card_number/value",
        json!("6222 0212 3456 7890 127"),
    );
    let codes = |r: Value| findings(&r).into_iter().map(|f| f.0).collect::<Vec<_>>();
    assert_eq!(
        codes(report(RETAIL, vars.clone())),
        ["CARD_NUMBER_CHECKSUM", "FIELD_MISMATCH"]
    );
    set(
        &mut vars,
        "/documents/1/fields/card_number/value",
        json!("6222 0212 34"),
    );
    assert_eq!(
        codes(report(RETAIL, vars.clone())),
        ["CARD_NUMBER_FORMAT", "FIELD_MISMATCH"]
    );
    // A number read as a JSON number still counts.
    set(
        &mut vars,
        "/documents/1/fields/card_number/value",
        json!(6222021234567890128u64),
    );
    assert_eq!(codes(report(RETAIL, vars)), Vec::<String>::new());
}

#[test]
fn severities_can_be_tuned_or_ignored() {
    let mut vars = retail_vars();
    set(
        &mut vars,
        "/documents/0/fields/expiry_date/value",
        json!("2025-07-01"),
    );
    set(
        &mut vars,
        "/documents/2/fields/employer/confidence",
        json!(0.5),
    );
    let config = r#"{"severities": {"DOC_EXPIRING_SOON": "ignore", "LOW_CONFIDENCE": "info"}}"#;
    let r = report(config, vars);
    assert_eq!(
        findings(&r),
        vec![finding("LOW_CONFIDENCE", "info", "payslip", "employer")]
    );
    assert_eq!(
        (r["outcome"].clone(), r["reason_codes"].clone()),
        (json!("pass"), json!([]))
    );
}

#[test]
fn same_input_same_output() {
    let mut vars = retail_vars();
    set(&mut vars, "/documents/2/fields/name", field("张玮", 0.62));
    set(
        &mut vars,
        "/documents/0/fields/expiry_date/value",
        json!("2025-07-01"),
    );
    let a = serde_json::to_string(&report(RETAIL, vars.clone())).unwrap();
    // Reordering the fields of a document does not change the output.
    let payslip = vars["documents"][2]["fields"].as_object().unwrap();
    let reversed: serde_json::Map<String, Value> = payslip
        .iter()
        .rev()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    vars["documents"][2]["fields"] = Value::Object(reversed);
    let b = serde_json::to_string(&report(RETAIL, vars)).unwrap();
    assert_eq!(a, b);
}

#[test]
fn errors_have_codes_and_pointers() {
    let e = run(&Input {
        business_date: "30/06/2025".into(),
        ..input(RETAIL, retail_vars())
    })
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "business date `30/06/2025` is not a YYYY-MM-DD calendar date"
    );
    let e: plugin_sdk::Error = run(&input(r#"{"min_confidence": 2}"#, retail_vars()))
        .unwrap_err()
        .into();
    assert_eq!(e.code, "invalid_config");
    assert_eq!(
        e.message,
        "config at /min_confidence: a confidence threshold is between 0 and 1, got 2"
    );
    let mut vars = retail_vars();
    vars["applicant"].as_object_mut().unwrap().remove("type");
    let e: plugin_sdk::Error = run(&input(RETAIL, vars)).unwrap_err().into();
    assert_eq!(e.code, "invalid_input");
    assert!(
        e.message.starts_with("vars at /applicant/type: missing"),
        "{}",
        e.message
    );
}

#[test]
fn describe_publishes_schemas() {
    let info = OcrCheck::describe();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("ocr-check", "1.0.0")
    );
    assert_eq!(
        info.config_schema["$schema"],
        json!("http://json-schema.org/draft-07/schema#")
    );
    // Every config key the parser accepts is in the schema, and no other.
    let schema_keys: Vec<&String> = info.config_schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    let defaults = serde_json::to_value(config::Config::default()).unwrap();
    let config_keys: Vec<&String> = defaults.as_object().unwrap().keys().collect();
    assert_eq!(schema_keys, config_keys);
    // Every key of a real result is in the output schema, and every required key is there.
    let result = report(RETAIL, retail_vars());
    let props = info.output_schema["properties"].as_object().unwrap();
    let result_keys: BTreeSet<&String> = result.as_object().unwrap().keys().collect();
    assert_eq!(result_keys, props.keys().collect::<BTreeSet<_>>());
    assert_eq!(
        info.output_schema["required"].as_array().unwrap().len(),
        props.len()
    );
}

#[test]
fn shipped_configs_parse() {
    for (name, text) in [
        ("retail", RETAIL),
        ("small-business", SMALL_BUSINESS),
        ("corporate", CORPORATE),
    ] {
        let v: Value = serde_json::from_str(text).unwrap();
        Config::parse(&v).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

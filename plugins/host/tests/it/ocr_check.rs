//! The bundled `ocr-check` component called through the engine's plugin port: the same
//! answers as its host-side unit tests, now from inside the sandbox.

use model::plugin::{PluginRef, Plugins, StepErrorKind, StepInput, StepOutput};
use model::schema::Schema;
use plugin_host::Registry;
use serde_json::{Value, json};
use std::sync::OnceLock;

const RETAIL: &str = include_str!("../../../../workflows/documents/retail-v1.json");
const SMALL_BUSINESS: &str = include_str!("../../../../workflows/documents/small-business-v1.json");
const CORPORATE: &str = include_str!("../../../../workflows/documents/corporate-v1.json");

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| Registry::bundled().expect("bundled plugins load"))
}

fn field(value: &str, confidence: f64) -> Value {
    json!({"value": value, "confidence": confidence})
}

fn retail_vars() -> Value {
    json!({
        "applicant": {"type": "individual", "name": "张伟", "id_number": "110105199003071239",
                      "card_number": "6222021234567890128"},
        "documents": [
            {"type": "id_card", "fields": {
                "name": field("张伟", 0.99),
                "id_number": field("110105199003071239", 0.98),
                "birth_date": field("1990年3月7日", 0.97),
                "expiry_date": field("2016.05.10-2036.05.10", 0.96)
            }},
            {"type": "bank_card", "fields": {"card_number": field("6222 0212 3456 7890 128", 0.99)}},
            {"type": "payslip", "fields": {
                "name": field("张伟", 0.95),
                "employer": field("北京某某科技有限公司", 0.93),
                "monthly_income": field("18500", 0.97)
            }}
        ]
    })
}

fn call(config: Value, vars: Value) -> Result<StepOutput, model::plugin::StepError> {
    let input = StepInput::new("case-ocr", "documents", &config, &vars, "2025-06-30");
    let report = registry()
        .call(
            &PluginRef::parse("ocr-check@1").unwrap(),
            &input,
            &super::answer_limits(),
        )
        .expect("ocr-check is bundled");
    assert_eq!(report.build.name, "ocr-check");
    assert_eq!(report.build.sha256.len(), 64);
    report.output
}

fn retail_config() -> Value {
    serde_json::from_str(RETAIL).unwrap()
}

#[test]
fn describe_names_version_and_schemas() {
    let info = registry()
        .describe(&PluginRef::parse("ocr-check@1").unwrap())
        .unwrap();
    assert_eq!(
        (info.name.as_str(), info.version.as_str()),
        ("ocr-check", "1.0.0")
    );
    assert_eq!(
        info.config_schema["properties"]["min_confidence"]["default"],
        json!(0.85)
    );
    assert_eq!(
        info.output_schema["properties"]["outcome"]["enum"],
        json!(["pass", "review", "fail"])
    );
}

/// The schemas go through the same checker the flow validator uses on node configs:
/// the shipped configs fit the config schema and real results fit the output schema.
#[test]
fn shipped_configs_and_results_fit_the_published_schemas() {
    let info = registry()
        .describe(&PluginRef::parse("ocr-check@1").unwrap())
        .unwrap();
    let config =
        Schema::compile_object(&info.config_schema).expect("config schema in Docket's subset");
    let output = Schema::compile(&info.output_schema).expect("output schema in Docket's subset");
    for text in [RETAIL, SMALL_BUSINESS, CORPORATE] {
        let v: Value = serde_json::from_str(text).unwrap();
        config.check(&v).unwrap_or_else(|e| panic!("{e:?}"));
    }
    assert!(config.check(&json!({"min_confidence": 2})).is_err());
    assert!(config.check(&json!({"min_confidance": 0.9})).is_err());
    let mut bad = retail_vars();
    bad["documents"][0]["fields"]["id_number"]["value"] = json!("110105199003071339");
    bad["documents"][2]["fields"]["name"]["confidence"] = json!(0.5);
    for vars in [retail_vars(), bad] {
        let result = call(retail_config(), vars).unwrap().result;
        output
            .check(&result)
            .unwrap_or_else(|e| panic!("{e:?}\n{result:#}"));
    }
}

#[test]
fn clean_case_passes_in_the_sandbox() {
    let out = call(retail_config(), retail_vars()).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("pass"));
    assert_eq!(out.reasons, vec![]);
    assert_eq!(out.result["ok"], json!(true));
    assert_eq!(out.result["findings"], json!([]));
    assert_eq!(
        out.result["applicant_id"],
        json!({"birth_date": "1990-03-07", "age": 35, "sex": "male", "region_code": "110105"})
    );
}

#[test]
fn forged_and_missing_documents_fail_with_reasons() {
    let mut vars = retail_vars();
    vars["documents"][0]["fields"]["id_number"]["value"] = json!("110105199003071339");
    vars["documents"].as_array_mut().unwrap().remove(1);
    let out = call(retail_config(), vars).unwrap();
    assert_eq!(out.outcome.as_deref(), Some("fail"));
    assert_eq!(
        out.result["reason_codes"],
        json!(["ID_NUMBER_CHECKSUM", "FIELD_MISMATCH", "DOC_MISSING"])
    );
    let codes: Vec<&str> = out.reasons.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(
        codes,
        ["ID_NUMBER_CHECKSUM", "FIELD_MISMATCH", "DOC_MISSING"]
    );
    assert_eq!(
        out.result["findings"][0]["message"],
        json!(
            "id_card (document 0) field `id_number`: identity number check character is `9` but the first 17 digits require `5` (ISO 7064 MOD 11-2)"
        )
    );
    // The same input gives the same output from a fresh instance.
    let mut again = retail_vars();
    again["documents"][0]["fields"]["id_number"]["value"] = json!("110105199003071339");
    again["documents"].as_array_mut().unwrap().remove(1);
    assert_eq!(call(retail_config(), again).unwrap(), out);
}

#[test]
fn bad_config_and_input_are_plugin_errors_naming_the_pointer() {
    let e = call(json!({"min_confidence": 1.5}), retail_vars()).unwrap_err();
    assert_eq!(e.kind, StepErrorKind::Plugin);
    assert_eq!(e.code.as_deref(), Some("invalid_config"));
    assert!(
        e.message.contains("config at /min_confidence"),
        "{}",
        e.message
    );

    let mut vars = retail_vars();
    vars["documents"][2]["fields"]["name"] = json!({"value": "张伟"});
    let e = call(retail_config(), vars).unwrap_err();
    assert_eq!(e.code.as_deref(), Some("invalid_input"));
    assert!(
        e.message
            .contains("vars at /documents/2/fields/name/confidence"),
        "{}",
        e.message
    );
}

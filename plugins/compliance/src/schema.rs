//! JSON Schemas (draft-07) of the config the plugin accepts and the result it returns,
//! as `describe()` reports them for editors and `docket plugin` tooling.

use crate::rules::Check;
use serde_json::{Map, Value, json};

const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

/// A rule kind's schema: the keys every rule has plus the kind's own.
fn rule(kind: &str, description: &str, required: &[&str], own: Value) -> Value {
    let mut properties = Map::new();
    properties.insert("id".into(), json!({"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$", "description": "Unique in the rule set; also the default reason code."}));
    properties.insert("kind".into(), json!({"const": kind}));
    properties.insert(
        "enabled".into(),
        json!({"type": "boolean", "default": true}),
    );
    properties.insert("severity".into(), json!({"$ref": "#/definitions/severity"}));
    properties.insert(
        "reason_code".into(),
        json!({"type": "string", "minLength": 1}),
    );
    properties.insert("description".into(), json!({"type": "string"}));
    properties.insert(
        "on_missing".into(),
        json!({"enum": ["error", "violate", "skip"], "default": "error", "description": "What a missing case variable does: fail the step, count as a violation, or skip the rule."}),
    );
    properties.extend(own.as_object().cloned().unwrap_or_default());
    let mut req = vec!["id", "kind", "severity"];
    req.extend_from_slice(required);
    json!({"type": "object", "description": description, "required": req, "additionalProperties": false, "properties": properties})
}

fn path(default: &str) -> Value {
    json!({"$ref": "#/definitions/var_path", "default": default})
}

pub(crate) fn config_schema() -> Value {
    let kinds: Vec<Value> = Check::KINDS
        .iter()
        .map(|k| json!({"$ref": format!("#/definitions/{k}")}))
        .collect();
    json!({
        "$schema": DRAFT_07,
        "title": "compliance config",
        "description": "A rule set: every enabled rule runs; any reject violation → reject, else any refer violation → refer, else pass.",
        "type": "object",
        "required": ["rules"],
        "additionalProperties": false,
        "properties": {
            "rule_set": {"type": ["string", "null"], "description": "Name and version of the rule set, echoed in the result."},
            "description": {"type": "string"},
            "rules": {"type": "array", "minItems": 1, "maxItems": crate::config::MAX_RULES, "items": {"$ref": "#/definitions/rule"}}
        },
        "definitions": {
            "var_path": {"type": "string", "minLength": 1, "description": "JSON pointer (/applicant/income) or dotted path (applicant.income) into the case variables."},
            "severity": {"enum": ["reject", "refer"]},
            "limits": {
                "type": "object", "required": ["min", "max"], "additionalProperties": false,
                "properties": {"min": {"type": "number", "minimum": 0}, "max": {"type": "number", "minimum": 0}}
            },
            "rule": {"oneOf": kinds},
            "dti_ceiling": rule("dti_ceiling", "(existing monthly debt payments + new loan's monthly payment) / monthly income <= max_ratio.", &["max_ratio", "annual_rate"], json!({
                "max_ratio": {"type": "number", "exclusiveMinimum": 0, "maximum": 10},
                "annual_rate": {"type": "number", "minimum": 0, "maximum": 1, "description": "Nominal annual rate for the annuity estimate of the new payment."},
                "monthly_income": path("/applicant/monthly_income"),
                "monthly_debt_payments": path("/applicant/monthly_debt_payments"),
                "amount": path("/amount"),
                "term_months": path("/term_months"),
                "new_payment": {"type": ["string", "null"], "minLength": 1, "description": "Where the case holds the new loan's monthly payment, if it does."}
            })),
            "age_band": rule("age_band", "min_age <= age at the business date, and age at maturity (business date + term) <= max_age_at_maturity.", &["max_age_at_maturity"], json!({
                "min_age": {"type": "integer", "minimum": 0, "maximum": 150, "default": 18},
                "max_age_at_maturity": {"type": "integer", "minimum": 0, "maximum": 150},
                "birth_date": path("/applicant/birth_date"),
                "id_number": {"type": ["string", "null"], "minLength": 1, "default": "/applicant/id_number", "description": "Fallback source of the birth date (PRC resident ID); null turns it off."},
                "term_months": path("/term_months")
            })),
            "amount_limits": rule("amount_limits", "min <= amount <= max of the case's product.", &[], json!({
                "products": {"type": "object", "additionalProperties": {"$ref": "#/definitions/limits"}},
                "default_limits": {"oneOf": [{"$ref": "#/definitions/limits"}, {"type": "null"}]},
                "amount": path("/amount"),
                "product": path("/product")
            })),
            "watchlist": rule("watchlist", "Subjects' names and ID numbers against listed ones, on normalised keys.", &[], json!({
                "entries": {"type": "array", "items": {"$ref": "#/definitions/watchlist_entry"}},
                "vars_entries": {"type": ["string", "null"], "minLength": 1, "default": "/watchlist"},
                "subjects": {"type": "array", "minItems": 1, "items": {"$ref": "#/definitions/subject"}},
                "name_only_severity": {"enum": ["reject", "refer", null]}
            })),
            "watchlist_entry": {
                "type": "object", "additionalProperties": false,
                "anyOf": [{"required": ["name"]}, {"required": ["id_number"]}],
                "properties": {
                    "name": {"type": ["string", "null"]}, "id_number": {"type": ["string", "null"]},
                    "list": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}
                }
            },
            "subject": {
                "type": "object", "required": ["role", "path"], "additionalProperties": false,
                "properties": {
                    "role": {"type": "string", "minLength": 1},
                    "path": {"$ref": "#/definitions/var_path"},
                    "name_field": {"type": "string", "default": "name"},
                    "id_field": {"type": "string", "default": "id_number"},
                    "optional": {"type": "boolean", "default": false}
                }
            },
            "multi_lending": rule("multi_lending", "Distinct institutions that queried the credit report in the last window_days days > max_institutions is a violation.", &["window_days", "max_institutions"], json!({
                "window_days": {"type": "integer", "minimum": 1, "maximum": 3650},
                "max_institutions": {"type": "integer", "minimum": 0},
                "queries": path("/credit_report/queries"),
                "institution_field": {"type": "string", "default": "institution"},
                "date_field": {"type": "string", "default": "date"},
                "reason_field": {"type": "string", "default": "reason"},
                "count_reasons": {"type": ["array", "null"], "minItems": 1, "items": {"type": "string"}},
                "exclude_institutions": {"type": "array", "items": {"type": "string"}}
            })),
            "restricted_industry": rule("restricted_industry", "Industry code under a restricted prefix (the longest matching prefix or exception decides).", &["restricted"], json!({
                "restricted": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["prefix"], "additionalProperties": false,
                    "properties": {"prefix": {"type": "string", "minLength": 1}, "label": {"type": ["string", "null"]}}
                }},
                "exceptions": {"type": "array", "items": {"type": "string", "minLength": 1}},
                "industry_code": path("/applicant/industry_code")
            }))
        }
    })
}

pub(crate) fn output_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "title": "compliance result",
        "type": "object",
        "required": ["rule_set", "passed", "outcome", "violations", "reason_codes", "checks"],
        "additionalProperties": false,
        "properties": {
            "rule_set": {"type": ["string", "null"]},
            "passed": {"type": "boolean", "description": "No rule violated."},
            "outcome": {"enum": ["pass", "refer", "reject"]},
            "violations": {"type": "array", "items": {
                "type": "object",
                "required": ["rule", "kind", "severity", "reason_code", "message", "values"],
                "additionalProperties": false,
                "properties": {
                    "rule": {"type": "string"},
                    "kind": {"enum": Check::KINDS},
                    "severity": {"enum": ["reject", "refer"]},
                    "reason_code": {"type": "string"},
                    "message": {"type": "string"},
                    "values": {"type": "object"}
                }
            }},
            "reason_codes": {"type": "array", "items": {"type": "string"}},
            "checks": {"type": "object", "description": "Every rule by id.", "additionalProperties": {
                "type": "object",
                "required": ["kind", "status", "severity", "values"],
                "additionalProperties": false,
                "properties": {
                    "kind": {"enum": Check::KINDS},
                    "status": {"enum": ["passed", "violated", "skipped", "disabled"]},
                    "severity": {"enum": ["reject", "refer"]},
                    "values": {"type": "object"},
                    "message": {"type": "string"}
                }
            }}
        }
    })
}

/// Test-only checker of the draft-07 subset used here (shared with `guarantee-circle`).
#[cfg(test)]
#[path = "schema_check.rs"]
pub(crate) mod check;

//! JSON Schemas (draft-07) of the node config and of the result document, as
//! `describe()` publishes them.

use crate::config::Code;
use serde_json::{Value, json};

pub fn config_schema() -> Value {
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    let fraction = json!({"type": "number", "minimum": 0, "maximum": 1});
    let dot_path = json!({"type": "string", "pattern": "^[^.]+(\\.[^.]+)*$"});
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ocr-check config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "min_confidence": {
                "description": "Lowest acceptable OCR confidence of any field (default 0.85).",
                "allOf": [fraction], "default": 0.85
            },
            "field_min_confidence": {
                "description": "Thresholds by `field` or `document_type.field`; the more specific wins.",
                "type": "object", "additionalProperties": fraction
            },
            "required_documents": {
                "description": "Applicant type → required document types; an array entry means any one of them.",
                "type": "object",
                "additionalProperties": {
                    "type": "array",
                    "items": {"oneOf": [
                        {"type": "string", "minLength": 1},
                        {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}}
                    ]}
                }
            },
            "required_fields": {
                "description": "Document type → fields that must have a value.",
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}}
            },
            "field_kinds": {
                "description": "Field name → how it is checked, on top of the defaults (id_number: prc_id, credit_code: credit_code, card_number: bank_card, expiry_date: expiry_date, birth_date and issue_date: past_date).",
                "type": "object",
                "additionalProperties": {"enum": ["prc_id", "credit_code", "bank_card", "expiry_date", "past_date", "text"]}
            },
            "consistency": {
                "description": "Document fields that must equal an applicant value (default: name, id_number, credit_code, card_number on every document).",
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["field", "applicant"],
                    "properties": {
                        "field": {"type": "string", "minLength": 1},
                        "applicant": dot_path,
                        "documents": {"type": "array", "items": {"type": "string"}}
                    }
                }
            },
            "expiry_warning_days": {
                "description": "Flag DOC_EXPIRING_SOON within this many days of the business date; 0 turns it off (default 30).",
                "type": "integer", "minimum": 0, "default": 30
            },
            "severities": {
                "description": "Finding code → severity override.",
                "type": "object",
                "propertyNames": {"enum": codes},
                "additionalProperties": {"enum": ["error", "warning", "info", "ignore"]}
            },
            "documents_path": {"description": "Dot path of the documents array in the case variables (default `documents`).", "allOf": [dot_path]},
            "applicant_path": {"description": "Dot path of the applicant object (default `applicant`).", "allOf": [dot_path]},
            "applicant_type": {"description": "Fixed applicant type instead of `<applicant_path>.type`.", "type": "string"}
        }
    })
}

pub fn output_schema() -> Value {
    let codes: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ocr-check result",
        "type": "object",
        "additionalProperties": false,
        "required": ["ok", "outcome", "applicant_type", "documents_checked", "errors", "warnings", "findings", "reason_codes", "applicant_id"],
        "properties": {
            "ok": {"type": "boolean", "description": "No finding of severity error."},
            "outcome": {"enum": ["pass", "review", "fail"]},
            "applicant_type": {"type": ["string", "null"]},
            "documents_checked": {"type": "integer", "minimum": 0},
            "errors": {"type": "integer", "minimum": 0},
            "warnings": {"type": "integer", "minimum": 0},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["code", "severity", "document", "document_index", "field", "pointer", "message"],
                    "properties": {
                        "code": {"enum": codes},
                        "severity": {"enum": ["error", "warning", "info"]},
                        "document": {"type": "string"},
                        "document_index": {"type": ["integer", "null"], "minimum": 0},
                        "field": {"type": ["string", "null"]},
                        "pointer": {"type": ["string", "null"]},
                        "message": {"type": "string"}
                    }
                }
            },
            "reason_codes": {"type": "array", "items": {"enum": codes}},
            "applicant_id": {
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "additionalProperties": false,
                        "required": ["birth_date", "age", "sex", "region_code"],
                        "properties": {
                            "birth_date": {"type": "string", "format": "date"},
                            "age": {"type": "integer"},
                            "sex": {"enum": ["male", "female"]},
                            "region_code": {"type": "string", "pattern": "^[0-9]{6}$"}
                        }
                    }
                ]
            }
        }
    })
}

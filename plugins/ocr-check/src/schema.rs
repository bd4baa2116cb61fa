//! JSON Schemas (draft-07) of the node config and of the result document, as
//! `describe()` publishes them.
//!
//! They keep to the subset Docket's flow validator checks configs with (type,
//! properties, required, boolean additionalProperties, items, enum, bounds, lengths,
//! pattern, format; no combinators or `$ref`): a keyword outside it would make every
//! flow using the plugin fail validation. Maps keyed by user names (thresholds,
//! severities) are therefore plain objects here; the plugin itself checks their values.

use crate::config::Code;
use serde_json::{Value, json};

const DOT_PATH: &str = "^[^.]+(\\.[^.]+)*$";

pub fn config_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "ocr-check config",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "min_confidence": {
                "description": "Lowest acceptable OCR confidence of any field.",
                "type": "number", "minimum": 0, "maximum": 1, "default": 0.85
            },
            "field_min_confidence": {
                "description": "Thresholds (0 to 1) by `field` or `document_type.field`; the more specific wins.",
                "type": "object"
            },
            "required_documents": {
                "description": "Applicant type → array of required document types; an entry that is an array means any one of them.",
                "type": "object"
            },
            "required_fields": {
                "description": "Document type → array of fields that must have a value.",
                "type": "object"
            },
            "field_kinds": {
                "description": "Field name → prc_id, credit_code, bank_card, expiry_date, past_date or text, on top of the defaults (id_number: prc_id, credit_code: credit_code, card_number: bank_card, expiry_date: expiry_date, birth_date and issue_date: past_date).",
                "type": "object"
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
                        "applicant": {"type": "string", "pattern": DOT_PATH, "description": "Dot path inside the applicant object."},
                        "documents": {"type": "array", "items": {"type": "string"}}
                    }
                }
            },
            "expiry_warning_days": {
                "description": "Flag DOC_EXPIRING_SOON within this many days of the business date; 0 turns it off.",
                "type": "integer", "minimum": 0, "default": 30
            },
            "severities": {
                "description": format!("Finding code ({}) → error, warning, info or ignore.", Code::ALL.map(Code::as_str).join(", ")),
                "type": "object"
            },
            "documents_path": {"description": "Dot path of the documents array in the case variables.", "type": "string", "pattern": DOT_PATH, "default": "documents"},
            "applicant_path": {"description": "Dot path of the applicant object.", "type": "string", "pattern": DOT_PATH, "default": "applicant"},
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
            "outcome": {"type": "string", "enum": ["pass", "review", "fail"]},
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
                        "code": {"type": "string", "enum": codes},
                        "severity": {"type": "string", "enum": ["error", "warning", "info"]},
                        "document": {"type": "string"},
                        "document_index": {"type": ["integer", "null"], "minimum": 0},
                        "field": {"type": ["string", "null"]},
                        "pointer": {"type": ["string", "null"]},
                        "message": {"type": "string"}
                    }
                }
            },
            "reason_codes": {"type": "array", "items": {"type": "string", "enum": codes}},
            "applicant_id": {
                "description": "What the applicant's valid identity number says; null without one.",
                "type": ["object", "null"],
                "additionalProperties": false,
                "required": ["birth_date", "age", "sex", "region_code"],
                "properties": {
                    "birth_date": {"type": "string", "format": "date"},
                    "age": {"type": "integer"},
                    "sex": {"type": "string", "enum": ["male", "female"]},
                    "region_code": {"type": "string", "pattern": "^[0-9]{6}$"}
                }
            }
        }
    })
}

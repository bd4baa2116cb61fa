//! JSON Schemas (draft-07) of the scorecard config and of the result document, as
//! `describe()` publishes them.
//!
//! They keep to the subset Docket's flow validator checks configs with (type,
//! properties, required, boolean additionalProperties, items, enum, bounds, lengths,
//! pattern, format; no combinators or `$ref`): a keyword outside it would make every
//! flow using the plugin fail validation. What the subset cannot say (exactly one of
//! `variable`/`ratio`, bins all numeric or all categorical, non-overlapping bins) the
//! plugin checks itself, naming the JSON pointer.

use crate::card::{MAX_BINS, MAX_CHARACTERISTICS};
use serde_json::{Value, json};

const DOT_PATH: &str = "^[^.]+(\\.[^.]+)*$";

fn characteristic_schema() -> Value {
    let dot_path = json!({"type": "string", "pattern": DOT_PATH});
    let bin = json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Numeric [min, max) with either end left open, or categorical `values`.",
        "properties": {
            "min": {"type": "number", "description": "inclusive"},
            "max": {"type": "number", "description": "exclusive"},
            "values": {"type": "array", "minItems": 1, "items": {"type": ["string", "number", "boolean"]}},
            "points": {"type": "number"},
            "woe": {"type": "number"},
            "label": {"type": "string"}
        }
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "description": "Give exactly one of `variable` and `ratio`.",
        "required": ["name", "reason_code", "bins"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "description": {"type": "string"},
            "variable": dot_path,
            "ratio": {
                "type": "object",
                "additionalProperties": false,
                "required": ["numerator", "denominator"],
                "properties": {"numerator": dot_path, "denominator": dot_path}
            },
            "reason_code": {"type": "string", "minLength": 1},
            "reason": {"type": "string"},
            "missing_reason_code": {"type": "string", "minLength": 1},
            "coefficient": {"type": "number"},
            "bins": {"type": "array", "minItems": 1, "maxItems": MAX_BINS, "items": bin},
            "missing_points": {"type": "number"},
            "missing_woe": {"type": "number"},
            "other_points": {"type": "number"},
            "other_woe": {"type": "number"}
        }
    })
}

pub fn config_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "scorecard config (one card)",
        "type": "object",
        "additionalProperties": false,
        "required": ["card", "characteristics", "grades"],
        "properties": {
            "card": {"type": "string", "minLength": 1, "description": "Card id and version, echoed in the result."},
            "title": {"type": "string"},
            "model": {"type": "string", "enum": ["points", "woe"], "default": "points"},
            "scaling": {
                "description": "base_score points at odds base_odds (good:bad); every pdo points double the odds.",
                "type": "object",
                "additionalProperties": false,
                "required": ["base_score", "base_odds", "pdo"],
                "properties": {
                    "base_score": {"type": "number"},
                    "base_odds": {"type": "number", "exclusiveMinimum": 0},
                    "pdo": {"type": "number", "exclusiveMinimum": 0}
                }
            },
            "base_points": {"type": "number", "description": "points model: added to the sum of points."},
            "intercept": {"type": "number", "description": "woe model: log-odds (good:bad) intercept."},
            "round_points": {"type": "boolean", "default": true},
            "characteristics": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_CHARACTERISTICS,
                "items": characteristic_schema()
            },
            "grades": {
                "description": "Best band first; the last band has no min_score.",
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["grade"],
                    "properties": {
                        "grade": {"type": "string", "minLength": 1},
                        "min_score": {"type": "number"},
                        "decision": {"type": "string"}
                    }
                }
            },
            "max_reasons": {"type": "integer", "minimum": 0, "default": 4}
        }
    })
}

pub fn output_schema() -> Value {
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "scorecard result",
        "type": "object",
        "additionalProperties": false,
        "required": ["card", "score", "grade", "decision", "probability_of_default", "reason_codes", "reasons", "characteristics", "missing"],
        "properties": {
            "card": {"type": "string"},
            "score": {"type": "number"},
            "grade": {"type": "string"},
            "decision": {"type": ["string", "null"]},
            "probability_of_default": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "reason_codes": {"type": "array", "items": {"type": "string"}},
            "reasons": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["code", "characteristic", "points", "max_points", "points_lost", "message"],
                    "properties": {
                        "code": {"type": "string"},
                        "characteristic": {"type": "string"},
                        "points": {"type": "number"},
                        "max_points": {"type": "number"},
                        "points_lost": {"type": "number", "exclusiveMinimum": 0},
                        "message": {"type": "string"}
                    }
                }
            },
            "characteristics": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["name", "value", "bin", "points", "max_points"],
                    "properties": {
                        "name": {"type": "string"},
                        "value": {"type": ["string", "number", "boolean", "null"]},
                        "bin": {"type": "string"},
                        "points": {"type": "number"},
                        "max_points": {"type": "number"},
                        "woe": {"type": "number"}
                    }
                }
            },
            "missing": {"type": "array", "items": {"type": "string"}}
        }
    })
}

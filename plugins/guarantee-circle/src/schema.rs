//! JSON Schemas (draft-07) of the config the plugin accepts and the result it returns,
//! as `describe()` reports them.

use crate::input::{
    CEILING_CYCLE_LENGTH, CEILING_CYCLES, CEILING_LISTED, CEILING_PARTIES, CEILING_RELATIONS,
    CEILING_SEARCH_STEPS,
};
use serde_json::{Value, json};

const DRAFT_07: &str = "http://json-schema.org/draft-07/schema#";

pub(crate) fn config_schema() -> Value {
    json!({
        "$schema": DRAFT_07,
        "title": "guarantee-circle config",
        "description": "Where the applicant and the guarantee network are in the case, bounds on the search, and when the risk is high.",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "applicant": {"$ref": "#/definitions/var_path", "default": "/applicant/credit_code", "description": "The applicant's party id."},
            "network": {"type": ["string", "null"], "minLength": 1, "default": "/guarantee_network", "description": "The case's network {relations, parties}; null = config relations only."},
            "relations": {"type": "array", "items": {"$ref": "#/definitions/relation"}},
            "parties": {"type": "array", "items": {"$ref": "#/definitions/party"}},
            "max_cycle_length": {"type": "integer", "minimum": 2, "maximum": CEILING_CYCLE_LENGTH, "default": 6},
            "max_cycles": {"type": "integer", "minimum": 1, "maximum": CEILING_CYCLES, "default": 50},
            "max_search_steps": {"type": "integer", "minimum": 1, "maximum": CEILING_SEARCH_STEPS, "default": 200000},
            "max_relations": {"type": "integer", "minimum": 1, "maximum": CEILING_RELATIONS, "default": 20000},
            "max_parties": {"type": "integer", "minimum": 2, "maximum": CEILING_PARTIES, "default": 10000},
            "max_listed": {"type": "integer", "minimum": 1, "maximum": CEILING_LISTED, "default": 200},
            "risk": {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "high_guaranteed_exposure": {"type": ["number", "null"], "exclusiveMinimum": 0},
                    "high_outstanding_exposure": {"type": ["number", "null"], "exclusiveMinimum": 0},
                    "high_on_distressed_member": {"type": "boolean", "default": true},
                    "high_on_mutual_guarantee": {"type": "boolean", "default": false},
                    "distress_statuses": {"type": "array", "items": {"type": "string"}, "default": ["default", "written_off"]}
                }
            }
        },
        "definitions": {
            "var_path": {"type": "string", "minLength": 1, "description": "JSON pointer (/a/b) or dotted path (a.b) into the case variables."},
            "amount": {"type": ["number", "string"], "minimum": 0, "description": "Non-negative; a string must hold a plain decimal."},
            "party_id": {"type": ["string", "integer"], "description": "Compared after NFKC, upper-casing and dropping all but letters and digits."},
            "relation": {
                "type": "object", "required": ["guarantor", "borrower", "amount"],
                "properties": {
                    "guarantor": {"$ref": "#/definitions/party_id"},
                    "borrower": {"$ref": "#/definitions/party_id"},
                    "amount": {"$ref": "#/definitions/amount"},
                    "active": {"type": "boolean", "default": true}
                }
            },
            "party": {
                "type": "object", "required": ["id"],
                "properties": {
                    "id": {"$ref": "#/definitions/party_id"},
                    "name": {"type": ["string", "null"]},
                    "outstanding": {"oneOf": [{"$ref": "#/definitions/amount"}, {"type": "null"}]},
                    "status": {"type": ["string", "null"]}
                }
            }
        }
    })
}

pub(crate) fn output_schema() -> Value {
    let money = json!({"type": "number", "minimum": 0});
    let ids = json!({"type": "array", "items": {"type": "string"}});
    json!({
        "$schema": DRAFT_07,
        "title": "guarantee-circle result",
        "type": "object",
        "additionalProperties": false,
        "required": ["applicant", "in_circle", "risk_flag", "reason_codes", "shortest_circle_length", "network", "mutual_guarantees",
                     "mutual_guarantee_count", "mutual_guarantees_truncated", "circles", "circles_truncated", "total_exposure",
                     "distressed_members", "stats"],
        "properties": {
            "applicant": {"type": "string"},
            "in_circle": {"type": "boolean"},
            "risk_flag": {"enum": ["none", "watch", "high"]},
            "reason_codes": ids,
            "shortest_circle_length": {"type": ["integer", "null"], "minimum": 2},
            "network": {
                "type": "object", "additionalProperties": false, "required": ["size", "members", "members_truncated"],
                "properties": {"size": {"type": "integer", "minimum": 1}, "members": ids, "members_truncated": {"type": "boolean"}}
            },
            "mutual_guarantees": {"type": "array", "items": {
                "type": "object", "additionalProperties": false,
                "required": ["a", "b", "a_guarantees_b", "b_guarantees_a", "involves_applicant"],
                "properties": {"a": {"type": "string"}, "b": {"type": "string"}, "a_guarantees_b": money, "b_guarantees_a": money, "involves_applicant": {"type": "boolean"}}
            }},
            "mutual_guarantee_count": {"type": "integer", "minimum": 0},
            "mutual_guarantees_truncated": {"type": "boolean"},
            "circles": {"type": "array", "items": {
                "type": "object", "additionalProperties": false,
                "required": ["members", "length", "edges", "exposure", "distressed_members"],
                "properties": {
                    "members": ids,
                    "length": {"type": "integer", "minimum": 2},
                    "edges": {"type": "array", "items": {
                        "type": "object", "additionalProperties": false, "required": ["guarantor", "borrower", "amount"],
                        "properties": {"guarantor": {"type": "string"}, "borrower": {"type": "string"}, "amount": money}
                    }},
                    "exposure": {
                        "type": "object", "additionalProperties": false, "required": ["guaranteed", "outstanding"],
                        "properties": {"guaranteed": money, "outstanding": money}
                    },
                    "distressed_members": ids
                }
            }},
            "circles_truncated": {"type": "boolean"},
            "total_exposure": {
                "type": "object", "additionalProperties": false, "required": ["guaranteed", "outstanding", "members_without_outstanding"],
                "properties": {"guaranteed": money, "outstanding": money, "members_without_outstanding": {"type": "integer", "minimum": 0}}
            },
            "distressed_members": {"type": "array", "items": {
                "type": "object", "additionalProperties": false, "required": ["id", "status"],
                "properties": {"id": {"type": "string"}, "status": {"type": "string"}}
            }},
            "stats": {
                "type": "object", "additionalProperties": false,
                "required": ["parties", "guarantee_pairs", "inactive_relations", "self_guarantees_ignored", "search_steps", "max_cycle_length", "max_cycles"],
                "properties": {
                    "parties": {"type": "integer", "minimum": 1}, "guarantee_pairs": {"type": "integer", "minimum": 0},
                    "inactive_relations": {"type": "integer", "minimum": 0}, "self_guarantees_ignored": {"type": "integer", "minimum": 0},
                    "search_steps": {"type": "integer", "minimum": 0}, "max_cycle_length": {"type": "integer"}, "max_cycles": {"type": "integer"}
                }
            }
        }
    })
}

/// Test-only checker of the draft-07 subset used here, shared with `compliance`.
#[cfg(test)]
#[path = "../../compliance/src/schema_check.rs"]
pub(crate) mod check;

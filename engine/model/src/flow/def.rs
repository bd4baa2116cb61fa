//! The flow format as plain serde types: the source of `docket schema` (the JSON Schema
//! editors complete with) and the model property tests round-trip through YAML.
//!
//! `load` does not deserialize into these types: it checks a spanned tree so it can
//! report every problem at once with positions. Tests keep the two in step: every valid
//! fixture deserializes into [`FlowDef`], and every generated `FlowDef` passes `load`.

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A Docket flow: an approval process as a graph of nodes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Docket flow")]
pub struct FlowDef {
    /// The flow id: lowercase letters, digits, `-` and `_`, e.g. `retail-loan`.
    #[schemars(regex(pattern = r"^[a-z_][a-z0-9_-]*$"))]
    pub flow: String,
    /// A title for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON Schema (subset) of the case input, checked when a case starts. Its top-level
    /// `properties` are the variables expressions read; mark personal data `pii: true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "input_schema")]
    pub input: Option<serde_json::Value>,
    /// The id of the first node.
    pub start: String,
    /// Cron (5 fields, UTC) for periodic flows, e.g. `0 6 1 * *`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// The nodes by id (letters, digits, `_`, `-`).
    #[schemars(with = "BTreeMap<String, NodeDef>")]
    pub nodes: IndexMap<String, NodeDef>,
}

/// One node; `kind` says which.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeDef {
    /// Automatic: runs a plugin.
    Task(TaskDef),
    /// Automatic: the first route whose `when` holds, else `otherwise`.
    Decision(DecisionDef),
    /// Human: waits for approvers' actions.
    Approval(ApprovalDef),
    /// Automatic: runs every branch at once, until they meet at a `join`.
    Parallel(ParallelDef),
    /// Automatic: waits for every branch of its parallel.
    Join(JoinDef),
    /// Waits for a duration (`after`) or until a date (`until`).
    Timer(TimerDef),
    /// Ends the case.
    End(EndDef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `name@major`, e.g. `scorecard@1`.
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]*@[0-9]+$"))]
    pub plugin: String,
    /// The plugin's configuration, checked against its config schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    /// The variable the plugin's result lands in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryDef>,
    /// Per-call time limit, e.g. `2s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Option<String>,
    pub next: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryDef {
    /// Total tries including the first (default 3, at most 100).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub attempts: Option<u32>,
    /// Delay before the second try, doubling after each failure (default `1s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub backoff: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Routes tried in order; the last one is `- otherwise: <node>`.
    pub routes: Vec<RouteDef>,
}

/// A route: `when` + `to`, or the final `otherwise`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RouteDef {
    When(WhenDef),
    Otherwise(OtherwiseDef),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhenDef {
    /// A CEL condition over case variables, e.g. `amount <= 200000 && docs.ok`.
    #[schemars(schema_with = "expression_schema")]
    pub when: String,
    pub to: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherwiseDef {
    /// Where cases go when no condition holds.
    pub otherwise: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub assign: AssignDef,
    /// The case's initiator, and anyone who acted on an earlier approval of the case,
    /// may not act.
    #[serde(default, skip_serializing_if = "is_false")]
    pub four_eyes: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quorum: Option<QuorumDef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<SlaDef>,
    /// Action → next node: `approve`, `reject`, `return`, `request_info` or your own.
    #[schemars(with = "BTreeMap<String, String>")]
    pub actions: IndexMap<String, String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignDef {
    /// The role whose members may act.
    pub role: String,
    /// A CEL number the approver's authority limit must cover, e.g. `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "expression_schema")]
    pub authority: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuorumDef {
    /// Approvers asked.
    #[schemars(range(min = 1))]
    pub of: u32,
    /// Approvals needed (1 to `of`).
    #[schemars(range(min = 1))]
    pub needed: u32,
    /// Roles whose reject ends the vote at once.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub veto: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaDef {
    #[schemars(schema_with = "duration_schema")]
    pub within: String,
    pub escalate_to: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParallelDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The first node of each branch (at least two).
    #[schemars(length(min = 2))]
    pub branches: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub next: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimerDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Wait this long, e.g. `30d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "duration_schema")]
    pub after: Option<String>,
    /// Wait until this date: a CEL expression giving RFC 3339 or `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "expression_schema")]
    pub until: Option<String>,
    pub next: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndDef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How the case ends, e.g. `approved`.
    pub outcome: String,
}

fn duration_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "string",
        "description": "A duration: whole numbers with units d, h, m, s, ms, largest first, e.g. `500ms`, `2s`, `4h`, `1d`, `1h30m`.",
        "pattern": "^([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?$"
    })
}

fn expression_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": ["string", "number", "boolean"],
        "description": "A CEL expression over case variables (input fields and task results)."
    })
}

fn input_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "$ref": "#/definitions/InputSchema"
    })
}

/// The JSON Schema of the format (draft-07), as `docket schema` prints it.
pub fn json_schema() -> serde_json::Value {
    let generator = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut schema = generator.into_root_schema_for::<FlowDef>();
    // The input schema subset, recursive, under `definitions`.
    let subset = json_schema!({
        "type": "object",
        "description": "JSON Schema subset: type, properties, required, additionalProperties (boolean), items, enum, const, minimum, maximum, exclusiveMinimum, exclusiveMaximum, minLength, maxLength, pattern, minItems, maxItems, format, and pii.",
        "additionalProperties": false,
        "properties": {
            "type": {
                "anyOf": [
                    { "$ref": "#/definitions/InputType" },
                    { "type": "array", "items": { "$ref": "#/definitions/InputType" } }
                ]
            },
            "properties": { "type": "object", "additionalProperties": { "$ref": "#/definitions/InputSchema" } },
            "required": { "type": "array", "items": { "type": "string" } },
            "additionalProperties": { "type": "boolean" },
            "items": { "$ref": "#/definitions/InputSchema" },
            "enum": { "type": "array" },
            "const": {},
            "minimum": { "type": "number" },
            "maximum": { "type": "number" },
            "exclusiveMinimum": { "type": "number" },
            "exclusiveMaximum": { "type": "number" },
            "minLength": { "type": "integer", "minimum": 0 },
            "maxLength": { "type": "integer", "minimum": 0 },
            "pattern": { "type": "string", "format": "regex" },
            "minItems": { "type": "integer", "minimum": 0 },
            "maxItems": { "type": "integer", "minimum": 0 },
            "format": { "type": "string" },
            "pii": { "type": "boolean", "description": "Personal data: masked in logs and exports." },
            "title": { "type": "string" },
            "description": { "type": "string" },
            "default": {},
            "examples": { "type": "array" },
            "$schema": { "type": "string" },
            "$id": { "type": "string" },
            "$comment": { "type": "string" }
        }
    });
    let types = json_schema!({
        "enum": ["object", "array", "string", "number", "integer", "boolean", "null"]
    });
    if let Some(defs) = schema
        .ensure_object()
        .entry("definitions")
        .or_insert_with(|| serde_json::Value::Object(Default::default()))
        .as_object_mut()
    {
        defs.insert("InputSchema".into(), subset.to_value());
        defs.insert("InputType".into(), types.to_value());
    }
    schema.to_value()
}

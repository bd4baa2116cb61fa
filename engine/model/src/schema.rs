//! A JSON Schema subset: flow `input` schemas and plugin `config` schemas.
//!
//! Supported keywords: `type` (one name or a list), `properties`, `required`,
//! `additionalProperties` (a boolean or a schema), `items`, `enum`, `const`, `minimum`, `maximum`,
//! `exclusiveMinimum`, `exclusiveMaximum` (numbers, draft-06+ form), `minLength`,
//! `maxLength`, `pattern`, `minItems`, `maxItems`, `format` (`date`, `date-time`, `email`
//! are checked; others are accepted and ignored), `anyOf`, `oneOf`, `allOf`, `not`,
//! local `$ref`s into `definitions` / `$defs` (or `#`, the root), and Docket's own
//! `pii: true`, which marks a field as personal data (outside `definitions`). Annotations (`title`, `description`, `default`, `examples`,
//! `$schema`, `$id`, `$comment`) are accepted and ignored. Any other keyword is an error
//! when the schema is compiled, so a typo never silently disables a check.

use indexmap::IndexMap;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;

/// `$ref` hops followed while checking one value: a limit, so a schema whose reference
/// only leads to itself fails cleanly instead of looping.
const MAX_REF_DEPTH: usize = 64;

/// One problem, at a JSON pointer (into the checked document, or into the schema when
/// compiling one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {message}", if pointer.is_empty() { "(root)" } else { pointer.as_str() })]
pub struct SchemaError {
    pub pointer: String,
    pub message: String,
}

/// A compiled schema. Build it with [`Schema::compile`].
#[derive(Clone, Debug)]
pub struct Schema {
    root: Node,
    /// Compiled `definitions` / `$defs` entries and the root, by `$ref` string.
    defs: HashMap<String, Node>,
    source: Value,
    pii: Vec<String>,
}

/// JSON types as JSON Schema names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Type {
    Object,
    Array,
    String,
    Number,
    Integer,
    Boolean,
    Null,
}

impl Type {
    fn parse(s: &str) -> Option<Type> {
        Some(match s {
            "object" => Type::Object,
            "array" => Type::Array,
            "string" => Type::String,
            "number" => Type::Number,
            "integer" => Type::Integer,
            "boolean" => Type::Boolean,
            "null" => Type::Null,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Type::Object => "object",
            Type::Array => "array",
            Type::String => "string",
            Type::Number => "number",
            Type::Integer => "integer",
            Type::Boolean => "boolean",
            Type::Null => "null",
        }
    }

    fn matches(self, v: &Value) -> bool {
        match self {
            Type::Object => v.is_object(),
            Type::Array => v.is_array(),
            Type::String => v.is_string(),
            Type::Number => v.is_number(),
            Type::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            Type::Boolean => v.is_boolean(),
            Type::Null => v.is_null(),
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Date,
    DateTime,
    Email,
}

#[derive(Clone, Debug, Default)]
struct Node {
    types: Option<Vec<Type>>,
    properties: IndexMap<String, Node>,
    required: Vec<String>,
    additional: bool,
    /// `additionalProperties` as a schema: what every other property must match.
    additional_schema: Option<Box<Node>>,
    items: Option<Box<Node>>,
    enumeration: Option<Vec<Value>>,
    constant: Option<Value>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    exclusive_minimum: Option<f64>,
    exclusive_maximum: Option<f64>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<regex::Regex>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    format: Option<Format>,
    pii: bool,
    reference: Option<String>,
    any_of: Vec<Node>,
    one_of: Vec<Node>,
    all_of: Vec<Node>,
    not: Option<Box<Node>>,
}

/// Keywords of the subset, for did-you-mean hints on unknown ones.
pub const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "format",
    "pii",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "$ref",
    "definitions",
    "$defs",
    "title",
    "description",
    "default",
    "examples",
    "$schema",
    "$id",
    "$comment",
];

/// Escapes one JSON pointer segment (RFC 6901).
pub fn pointer_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

impl Schema {
    /// A schema that accepts any JSON object.
    pub fn any_object() -> Schema {
        Schema {
            root: Node {
                types: Some(vec![Type::Object]),
                additional: true,
                ..Node::default()
            },
            defs: HashMap::new(),
            source: serde_json::json!({"type": "object"}),
            pii: Vec::new(),
        }
    }

    /// Compiles a schema document. Reports every problem, each at its pointer in `doc`.
    pub fn compile(doc: &Value) -> Result<Schema, Vec<SchemaError>> {
        let mut cx = Cx::default();
        let root = compile_node(doc, "", Some(""), &mut cx);
        cx.defs.insert("#".into(), root.clone());
        for (at, r) in std::mem::take(&mut cx.refs) {
            if !cx.defs.contains_key(&r) {
                err(
                    &mut cx.errors,
                    &at,
                    format!(
                        "`$ref` `{r}` points at nothing; use `#/definitions/<name>`, `#/$defs/<name>` or `#`"
                    ),
                );
            }
        }
        if cx.errors.is_empty() {
            Ok(Schema {
                root,
                defs: cx.defs,
                source: doc.clone(),
                pii: cx.pii,
            })
        } else {
            Err(cx.errors)
        }
    }

    /// Like [`Schema::compile`], but a root without `type` is an object: a case input and
    /// a node config are always objects.
    pub fn compile_object(doc: &Value) -> Result<Schema, Vec<SchemaError>> {
        let mut s = Schema::compile(doc)?;
        if s.root.types.is_none() {
            s.root.types = Some(vec![Type::Object]);
        }
        Ok(s)
    }

    /// The schema as written.
    pub fn as_json(&self) -> &Value {
        &self.source
    }

    /// JSON pointers (into a checked document) of the fields marked `pii: true`. Array
    /// items appear as `/-` segments, e.g. `/applicants/-/name`.
    pub fn pii(&self) -> &[String] {
        &self.pii
    }

    /// Top-level property names, in schema order.
    pub fn properties(&self) -> impl Iterator<Item = &str> {
        self.root.properties.keys().map(String::as_str)
    }

    /// Declared types at a dotted path (`applicant.income`), `None` when the path is not
    /// declared or declares no type.
    pub fn types_at(&self, path: &[&str]) -> Option<&[Type]> {
        let mut node = self.resolve(&self.root);
        for seg in path {
            node = self.resolve(node.properties.get(*seg)?);
        }
        node.types.as_deref()
    }

    /// Whether a dotted path is declared in `properties` (all the way down).
    pub fn declares(&self, path: &[&str]) -> bool {
        let mut node = self.resolve(&self.root);
        for seg in path {
            match node.properties.get(*seg) {
                Some(n) => node = self.resolve(n),
                None => return false,
            }
        }
        true
    }

    /// Follows `$ref`s (a bounded number of hops).
    fn resolve<'s>(&'s self, mut node: &'s Node) -> &'s Node {
        for _ in 0..MAX_REF_DEPTH {
            match node.reference.as_ref().and_then(|r| self.defs.get(r)) {
                Some(target) => node = target,
                None => break,
            }
        }
        node
    }

    /// Checks a document; reports every violation.
    pub fn check(&self, v: &Value) -> Result<(), Vec<SchemaError>> {
        let mut errors = Vec::new();
        self.check_node(&self.root, v, &At::Root, &mut errors, 0);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Where a checked value sits in the document: written out as a JSON pointer only when an
/// error names it (checking a valid document builds no pointer strings).
enum At<'a> {
    Root,
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn pointer(&self) -> String {
        match self {
            At::Root => String::new(),
            At::Key(parent, key) => format!("{}/{}", parent.pointer(), pointer_segment(key)),
            At::Index(parent, i) => format!("{}/{i}", parent.pointer()),
        }
    }
}

fn err(errors: &mut Vec<SchemaError>, pointer: &str, message: impl Into<String>) {
    errors.push(SchemaError {
        pointer: pointer.to_string(),
        message: message.into(),
    });
}

#[derive(Default)]
struct Cx {
    errors: Vec<SchemaError>,
    pii: Vec<String>,
    defs: HashMap<String, Node>,
    /// (pointer of a `$ref`, its target), checked once everything is compiled.
    refs: Vec<(String, String)>,
}

/// `data_ptr` is where the values this node checks sit in a document (for `pii`); `None`
/// inside definitions, which any place may reference.
fn compile_node(doc: &Value, ptr: &str, data_ptr: Option<&str>, cx: &mut Cx) -> Node {
    let mut node = Node {
        additional: true,
        ..Node::default()
    };
    let obj = match doc {
        Value::Object(o) => o,
        Value::Bool(true) => return node,
        _ => {
            err(&mut cx.errors, ptr, "a schema must be an object");
            return node;
        }
    };
    for (key, value) in obj {
        let kp = format!("{ptr}/{}", pointer_segment(key));
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(a) => a.iter().collect(),
                    v => vec![v],
                };
                let mut types = Vec::new();
                for n in names {
                    match n.as_str().and_then(Type::parse) {
                        Some(t) => types.push(t),
                        None => err(
                            &mut cx.errors,
                            &kp,
                            format!(
                                "unknown type {n}; expected object, array, string, number, integer, boolean or null"
                            ),
                        ),
                    }
                }
                node.types = Some(types);
            }
            "properties" => match value {
                Value::Object(props) => {
                    for (name, sub) in props {
                        let sp = format!("{kp}/{}", pointer_segment(name));
                        let dp = data_ptr.map(|d| format!("{d}/{}", pointer_segment(name)));
                        let child = compile_node(sub, &sp, dp.as_deref(), cx);
                        node.properties.insert(name.clone(), child);
                    }
                }
                _ => err(&mut cx.errors, &kp, "`properties` must be a map of schemas"),
            },
            "required" => match value {
                Value::Array(a) if a.iter().all(Value::is_string) => {
                    node.required = a
                        .iter()
                        .filter_map(|s| s.as_str().map(String::from))
                        .collect();
                }
                _ => err(
                    &mut cx.errors,
                    &kp,
                    "`required` must be a list of property names",
                ),
            },
            "additionalProperties" => match value {
                Value::Bool(b) => node.additional = *b,
                Value::Object(_) => {
                    let dp = data_ptr.map(|d| format!("{d}/*"));
                    node.additional_schema =
                        Some(Box::new(compile_node(value, &kp, dp.as_deref(), cx)));
                }
                _ => err(
                    &mut cx.errors,
                    &kp,
                    "`additionalProperties` must be true, false or a schema",
                ),
            },
            "items" => {
                let dp = data_ptr.map(|d| format!("{d}/-"));
                node.items = Some(Box::new(compile_node(value, &kp, dp.as_deref(), cx)));
            }
            "enum" => match value {
                Value::Array(a) => node.enumeration = Some(a.clone()),
                _ => err(&mut cx.errors, &kp, "`enum` must be a list of values"),
            },
            "const" => node.constant = Some(value.clone()),
            "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                match value.as_f64() {
                    Some(n) => {
                        let slot = match key.as_str() {
                            "minimum" => &mut node.minimum,
                            "maximum" => &mut node.maximum,
                            "exclusiveMinimum" => &mut node.exclusive_minimum,
                            _ => &mut node.exclusive_maximum,
                        };
                        *slot = Some(n);
                    }
                    None => err(&mut cx.errors, &kp, format!("`{key}` must be a number")),
                }
            }
            "minLength" | "maxLength" | "minItems" | "maxItems" => match value.as_u64() {
                Some(n) => {
                    let slot = match key.as_str() {
                        "minLength" => &mut node.min_length,
                        "maxLength" => &mut node.max_length,
                        "minItems" => &mut node.min_items,
                        _ => &mut node.max_items,
                    };
                    *slot = Some(n);
                }
                None => err(
                    &mut cx.errors,
                    &kp,
                    format!("`{key}` must be a whole number"),
                ),
            },
            "pattern" => match value.as_str().map(regex::Regex::new) {
                Some(Ok(r)) => node.pattern = Some(r),
                Some(Err(e)) => err(&mut cx.errors, &kp, format!("invalid `pattern`: {e}")),
                None => err(&mut cx.errors, &kp, "`pattern` must be a string"),
            },
            "format" => match value.as_str() {
                Some("date") => node.format = Some(Format::Date),
                Some("date-time") => node.format = Some(Format::DateTime),
                Some("email") => node.format = Some(Format::Email),
                Some(_) => {}
                None => err(&mut cx.errors, &kp, "`format` must be a string"),
            },
            "pii" => match value {
                Value::Bool(b) => {
                    node.pii = *b;
                    if *b && let Some(d) = data_ptr {
                        cx.pii.push(d.to_string());
                    }
                }
                _ => err(&mut cx.errors, &kp, "`pii` must be true or false"),
            },
            "anyOf" | "oneOf" | "allOf" => match value {
                Value::Array(alternatives) if !alternatives.is_empty() => {
                    let compiled: Vec<Node> = alternatives
                        .iter()
                        .enumerate()
                        .map(|(i, a)| compile_node(a, &format!("{kp}/{i}"), data_ptr, cx))
                        .collect();
                    match key.as_str() {
                        "anyOf" => node.any_of = compiled,
                        "oneOf" => node.one_of = compiled,
                        _ => node.all_of = compiled,
                    }
                }
                _ => err(
                    &mut cx.errors,
                    &kp,
                    format!("`{key}` must be a non-empty list of schemas"),
                ),
            },
            "not" => node.not = Some(Box::new(compile_node(value, &kp, None, cx))),
            "$ref" => match value.as_str() {
                Some(r) => {
                    node.reference = Some(r.to_string());
                    cx.refs.push((kp.clone(), r.to_string()));
                }
                None => err(&mut cx.errors, &kp, "`$ref` must be a string"),
            },
            "definitions" | "$defs" => match value {
                Value::Object(defs) => {
                    for (name, sub) in defs {
                        let sp = format!("{kp}/{}", pointer_segment(name));
                        let compiled = compile_node(sub, &sp, None, cx);
                        cx.defs.insert(format!("#{sp}"), compiled);
                    }
                }
                _ => err(
                    &mut cx.errors,
                    &kp,
                    format!("`{key}` must be a map of schemas"),
                ),
            },
            "title" | "description" | "default" | "examples" | "$schema" | "$id" | "$comment" => {}
            other => {
                let hint = crate::flow::did_you_mean(other, KEYWORDS.iter().copied())
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                err(
                    &mut cx.errors,
                    &kp,
                    format!("unsupported schema keyword `{other}`{hint}"),
                );
            }
        }
    }
    for r in &node.required {
        if !node.properties.is_empty() && !node.properties.contains_key(r) && !node.additional {
            err(
                &mut cx.errors,
                &format!("{ptr}/required"),
                format!(
                    "`{r}` is required but not in `properties`, and additionalProperties is false"
                ),
            );
        }
    }
    node
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Schema {
    fn check_node(
        &self,
        node: &Node,
        v: &Value,
        ptr: &At<'_>,
        errors: &mut Vec<SchemaError>,
        depth: usize,
    ) {
        if let Some(r) = &node.reference {
            match self.defs.get(r) {
                Some(target) if depth < MAX_REF_DEPTH => {
                    self.check_node(target, v, ptr, errors, depth + 1)
                }
                _ => err(
                    errors,
                    &ptr.pointer(),
                    format!("`$ref` `{r}` goes too deep or nowhere"),
                ),
            }
        }
        for sub in &node.all_of {
            self.check_node(sub, v, ptr, errors, depth + 1);
        }
        if !node.any_of.is_empty() || !node.one_of.is_empty() {
            let alternatives = if node.any_of.is_empty() {
                &node.one_of
            } else {
                &node.any_of
            };
            let results: Vec<Vec<SchemaError>> = alternatives
                .iter()
                .map(|a| {
                    let mut e = Vec::new();
                    self.check_node(a, v, ptr, &mut e, depth + 1);
                    e
                })
                .collect();
            let matching = results.iter().filter(|e| e.is_empty()).count();
            let keyword = if node.any_of.is_empty() {
                "oneOf"
            } else {
                "anyOf"
            };
            if matching == 0 {
                // The closest alternative's problems say most about what was meant.
                let closest = results
                    .iter()
                    .min_by_key(|e| e.len())
                    .and_then(|e| e.first());
                let why = closest
                    .map(|e| format!(" (closest: {e})"))
                    .unwrap_or_default();
                err(
                    errors,
                    &ptr.pointer(),
                    format!(
                        "matches none of the {} `{keyword}` alternatives{why}",
                        alternatives.len()
                    ),
                );
            } else if keyword == "oneOf" && matching > 1 {
                err(
                    errors,
                    &ptr.pointer(),
                    format!("matches {matching} `oneOf` alternatives; exactly one must match"),
                );
            }
        }
        if let Some(n) = &node.not {
            let mut e = Vec::new();
            self.check_node(n, v, ptr, &mut e, depth + 1);
            if e.is_empty() {
                err(
                    errors,
                    &ptr.pointer(),
                    "matches a schema it must not (`not`)",
                );
            }
        }
        if let Some(types) = &node.types
            && !types.iter().any(|t| t.matches(v))
        {
            let names: Vec<&str> = types.iter().map(|t| t.name()).collect();
            err(
                errors,
                &ptr.pointer(),
                format!("expected {}, found {}", names.join(" or "), describe(v)),
            );
            return;
        }
        if let Some(values) = &node.enumeration
            && !values.contains(v)
        {
            let list: Vec<String> = values.iter().map(Value::to_string).collect();
            err(
                errors,
                &ptr.pointer(),
                format!("{v} is not one of {}", list.join(", ")),
            );
        }
        if let Some(c) = &node.constant
            && c != v
        {
            err(errors, &ptr.pointer(), format!("must be {c}, found {v}"));
        }
        match v {
            Value::Number(n) => {
                let x = n.as_f64().unwrap_or(f64::NAN);
                if let Some(m) = node.minimum
                    && x < m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("{n} is less than the minimum {m}"),
                    );
                }
                if let Some(m) = node.maximum
                    && x > m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("{n} is more than the maximum {m}"),
                    );
                }
                if let Some(m) = node.exclusive_minimum
                    && x <= m
                {
                    err(errors, &ptr.pointer(), format!("{n} must be more than {m}"));
                }
                if let Some(m) = node.exclusive_maximum
                    && x >= m
                {
                    err(errors, &ptr.pointer(), format!("{n} must be less than {m}"));
                }
            }
            Value::String(s) => {
                let len = s.chars().count() as u64;
                if let Some(m) = node.min_length
                    && len < m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("must be at least {m} characters, is {len}"),
                    );
                }
                if let Some(m) = node.max_length
                    && len > m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("must be at most {m} characters, is {len}"),
                    );
                }
                if let Some(p) = &node.pattern
                    && !p.is_match(s)
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("{v} does not match the pattern `{}`", p.as_str()),
                    );
                }
                match node.format {
                    Some(Format::Date)
                        if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_err() =>
                    {
                        err(
                            errors,
                            &ptr.pointer(),
                            format!("{v} is not a date (YYYY-MM-DD)"),
                        );
                    }
                    Some(Format::DateTime) if chrono::DateTime::parse_from_rfc3339(s).is_err() => {
                        err(
                            errors,
                            &ptr.pointer(),
                            format!("{v} is not an RFC 3339 date-time"),
                        );
                    }
                    Some(Format::Email)
                        if !s
                            .split_once('@')
                            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.')) =>
                    {
                        err(
                            errors,
                            &ptr.pointer(),
                            format!("{v} is not an e-mail address"),
                        );
                    }
                    _ => {}
                }
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if let Some(m) = node.min_items
                    && n < m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("must have at least {m} items, has {n}"),
                    );
                }
                if let Some(m) = node.max_items
                    && n > m
                {
                    err(
                        errors,
                        &ptr.pointer(),
                        format!("must have at most {m} items, has {n}"),
                    );
                }
                if let Some(item) = &node.items {
                    for (i, x) in items.iter().enumerate() {
                        self.check_node(item, x, &At::Index(ptr, i), errors, depth);
                    }
                }
            }
            Value::Object(obj) => {
                for r in &node.required {
                    if !obj.contains_key(r) {
                        err(
                            errors,
                            &ptr.pointer(),
                            format!("missing required field `{r}`"),
                        );
                    }
                }
                for (k, x) in obj {
                    let kp = At::Key(ptr, k);
                    match node.properties.get(k) {
                        Some(p) => self.check_node(p, x, &kp, errors, depth),
                        None if node.additional_schema.is_some() => {
                            if let Some(a) = &node.additional_schema {
                                self.check_node(a, x, &kp, errors, depth);
                            }
                        }
                        None if !node.additional => {
                            let hint = crate::flow::did_you_mean(
                                k,
                                node.properties.keys().map(String::as_str),
                            )
                            .map(|s| format!("; did you mean `{s}`?"))
                            .unwrap_or_default();
                            err(errors, &kp.pointer(), format!("unknown field `{k}`{hint}"));
                        }
                        None => {}
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_every_violation() {
        let s = Schema::compile_object(&json!({
            "required": ["applicant", "amount"],
            "additionalProperties": false,
            "properties": {
                "applicant": {"type": "object", "properties": {"name": {"type": "string", "pii": true}}},
                "amount": {"type": "number", "minimum": 1000, "maximum": 1000000},
                "term": {"type": "integer", "enum": [12, 24, 36]},
                "start": {"type": "string", "format": "date"}
            }
        }))
        .unwrap();
        assert_eq!(s.pii(), ["/applicant/name"]);
        assert!(
            s.check(&json!({"applicant": {"name": "A"}, "amount": 5000}))
                .is_ok()
        );
        let errs = s
            .check(&json!({"amount": 10, "term": 13, "start": "2024-02-30", "amuont": 1}))
            .unwrap_err();
        let ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            ["", "/amount", "/term", "/start", "/amuont"],
            "{errs:?}"
        );
        assert!(
            errs[4].message.contains("did you mean `amount`"),
            "{}",
            errs[4]
        );
        assert!(s.check(&json!([])).is_err());
    }

    #[test]
    fn unknown_keyword_is_a_compile_error() {
        let errs = Schema::compile(&json!({"properties": {"a": {"maxlength": 3}}})).unwrap_err();
        assert_eq!(errs[0].pointer, "/properties/a/maxlength");
        assert!(errs[0].message.contains("maxLength"), "{}", errs[0].message);
    }

    #[test]
    fn refs_and_alternatives() {
        let s = Schema::compile(&json!({
            "type": "object",
            "definitions": {
                "rule": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
                "tree": {"type": "object", "properties": {"child": {"$ref": "#/definitions/tree"}, "v": {"type": "integer"}}}
            },
            "properties": {
                "rules": {"type": "array", "items": {"$ref": "#/definitions/rule"}},
                "tree": {"$ref": "#/definitions/tree"},
                "limit": {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["none"]}]},
                "mode": {"anyOf": [{"const": "a"}, {"const": "b"}]},
                "limits": {"type": "object", "additionalProperties": {"type": "number"}},
                "x": {"not": {"type": "null"}}
            }
        }))
        .unwrap();
        assert!(s.check(&json!({"rules": [{"id": "r1"}], "tree": {"child": {"v": 1}}, "limit": 3, "mode": "a", "limits": {"a": 1}})).is_ok());
        let errs = s
            .check(&json!({"rules": [{}], "tree": {"child": {"v": "x"}}, "limit": "some", "mode": "c", "x": null, "limits": {"b": "x"}}))
            .unwrap_err();
        let ptrs: Vec<&str> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            ptrs,
            [
                "/rules/0",
                "/tree/child/v",
                "/limit",
                "/mode",
                "/x",
                "/limits/b"
            ],
            "{errs:?}"
        );
        assert!(s.declares(&["tree", "child", "child", "v"]));
        let bad = Schema::compile(&json!({"properties": {"a": {"$ref": "#/definitions/missing"}}}))
            .unwrap_err();
        assert_eq!(bad[0].pointer, "/properties/a/$ref");
    }

    #[test]
    fn types_at_paths() {
        let s = Schema::compile(
            &json!({"properties": {"a": {"properties": {"b": {"type": "string"}}}}}),
        )
        .unwrap();
        assert_eq!(s.types_at(&["a", "b"]), Some(&[Type::String][..]));
        assert!(s.declares(&["a"]));
        assert!(!s.declares(&["c"]));
    }
}

//! A JSON Schema checker for the draft-07 subset the plugins' published schemas use, so
//! tests can hold shipped configs and real results against what `describe()` says.
//! Unknown keywords fail loudly rather than pass silently; `pattern` is not checked.

use serde_json::Value;

pub(crate) fn validate(root: &Value, instance: &Value) -> Result<(), String> {
    at(root, root, instance, "")
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        other => panic!("schema uses unsupported type {other}"),
    }
}

fn at(root: &Value, schema: &Value, v: &Value, p: &str) -> Result<(), String> {
    let s = schema
        .as_object()
        .ok_or_else(|| format!("{p}: schema is not an object"))?;
    for key in s.keys() {
        let known = [
            "$schema",
            "title",
            "description",
            "default",
            "$ref",
            "type",
            "enum",
            "const",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "oneOf",
            "anyOf",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "minItems",
            "maxItems",
            "minLength",
            "pattern",
            "definitions",
        ];
        assert!(
            known.contains(&key.as_str()),
            "schema keyword {key} is not supported by this checker"
        );
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let target = root
            .pointer(r.trim_start_matches('#'))
            .ok_or_else(|| format!("dangling $ref {r}"))?;
        at(root, target, v, p)?;
    }
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)),
            _ => false,
        };
        if !ok {
            return Err(format!("{p}: {v} is not of type {t}"));
        }
    }
    if let Some(e) = s.get("enum").and_then(Value::as_array)
        && !e.contains(v)
    {
        return Err(format!("{p}: {v} not in {e:?}"));
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return Err(format!("{p}: {v} is not {c}"));
    }
    if let Some(n) = v.as_f64()
        && (s
            .get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
            || s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
            || s.get("exclusiveMinimum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n <= m))
    {
        return Err(format!("{p}: {n} out of range"));
    }
    if let Some(text) = v.as_str()
        && s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| (text.chars().count() as u64) < m)
    {
        return Err(format!("{p}: too short"));
    }
    if let Some(a) = v.as_array() {
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| (a.len() as u64) < m)
            || s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| (a.len() as u64) > m)
        {
            return Err(format!("{p}: wrong number of items"));
        }
        if let Some(items) = s.get("items") {
            for (i, x) in a.iter().enumerate() {
                at(root, items, x, &format!("{p}/{i}"))?;
            }
        }
    }
    if let Some(o) = v.as_object() {
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !o.contains_key(r.as_str().unwrap()) {
                return Err(format!("{p}: missing {r}"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, x) in o {
            match props.and_then(|ps| ps.get(k)) {
                Some(ps) => at(root, ps, x, &format!("{p}/{k}"))?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Err(format!("{p}: unexpected key {k}")),
                    Some(extra @ Value::Object(_)) => at(root, extra, x, &format!("{p}/{k}"))?,
                    _ => {}
                },
            }
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(|a| at(root, a, v, p).is_ok())
    {
        return Err(format!("{p}: matches none of anyOf"));
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let errors: Vec<String> = one.iter().filter_map(|a| at(root, a, v, p).err()).collect();
        if one.len() - errors.len() != 1 {
            return Err(format!(
                "{p}: matches {} of oneOf ({errors:?})",
                one.len() - errors.len()
            ));
        }
    }
    Ok(())
}

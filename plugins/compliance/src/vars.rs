//! Reading case variables: where a value lives (`VarPath`) and typed look-ups that say
//! precisely which variable is missing or malformed.

use crate::dates::Date;
use plugin_sdk::json::{Json, Kind, Vars};
use serde_json::Value;
use std::borrow::Cow;

pub use plugin_sdk::path::VarPath;

/// Why a rule could not read what it needs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Fault {
    /// Absent or `null`: the rule's `on_missing` decides what happens.
    Missing(String),
    /// Present but unusable: always an error.
    Invalid { pointer: String, message: String },
}

impl Fault {
    pub(crate) fn invalid(pointer: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            pointer: pointer.into(),
            message: message.into(),
        }
    }
}

pub(crate) fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A number, or a string holding a plain decimal number (amounts often travel as
/// strings such as `"200000.00"` so that no float rounding touches them upstream).
pub(crate) fn number_value(v: &Value, pointer: &str) -> Result<f64, Fault> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => plain_decimal(s),
        other => {
            return Err(Fault::invalid(
                pointer,
                format!("expected a number, found {}", kind_of(other)),
            ));
        }
    };
    n.filter(|x| x.is_finite())
        .ok_or_else(|| Fault::invalid(pointer, format!("expected a number, found {v}")))
}

/// A string holding a plain decimal number (digits, one `.`, a leading `-`).
fn plain_decimal(s: &str) -> Option<f64> {
    let t = s.trim();
    let plain = !t.is_empty()
        && t.bytes()
            .all(|c| c.is_ascii_digit() || c == b'.' || c == b'-')
        && t.bytes().filter(|&c| c == b'.').count() <= 1
        && !t[1..].contains('-');
    if plain { t.parse::<f64>().ok() } else { None }
}

/// The value at `path` in the text (`null` counts as absent), not parsed.
pub(crate) fn json<'a>(vars: &Vars<'a>, path: &VarPath) -> Option<Json<'a>> {
    path.find(vars)
}

/// A value of the case variables as a `Value`: only to explain a value that failed.
pub(crate) fn to_value(v: Json<'_>, pointer: &str) -> Result<Value, Fault> {
    v.value().map_err(|e| Fault::invalid(pointer, e.message))
}

pub(crate) fn number(vars: &Vars<'_>, path: &VarPath) -> Result<f64, Fault> {
    let v = json(vars, path).ok_or_else(|| Fault::Missing(path.as_str().to_string()))?;
    number_json(v, path.as_str())
}

/// [`number_value`] read from the text; a `Value` is built only to explain a failure.
pub(crate) fn number_json(v: Json<'_>, pointer: &str) -> Result<f64, Fault> {
    let n = match v.kind() {
        Kind::Number => v.as_f64(),
        Kind::String => v.as_str().and_then(|s| plain_decimal(&s)),
        _ => None,
    };
    match n.filter(|x| x.is_finite()) {
        Some(n) => Ok(n),
        None => number_value(&to_value(v, pointer)?, pointer),
    }
}

/// Text; whole numbers are accepted too (customer numbers are sometimes numeric).
pub(crate) fn text_value(v: &Value, pointer: &str) -> Result<String, Fault> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        other => Err(Fault::invalid(
            pointer,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

/// [`text_value`] read from the text, borrowed when the string has no escapes.
pub(crate) fn text_json<'a>(v: Json<'a>, pointer: &str) -> Result<Cow<'a, str>, Fault> {
    match v.as_str() {
        Some(s) => Ok(s),
        None => text_value(&to_value(v, pointer)?, pointer).map(Cow::Owned),
    }
}

pub(crate) fn text<'a>(vars: &Vars<'a>, path: &VarPath) -> Result<Cow<'a, str>, Fault> {
    let v = json(vars, path).ok_or_else(|| Fault::Missing(path.as_str().to_string()))?;
    text_json(v, path.as_str())
}

/// What a JSON value is, as messages name it (as [`kind_of`] does for a `Value`).
pub(crate) fn kind_name(v: Json<'_>) -> &'static str {
    match v.kind() {
        Kind::Null => "null",
        Kind::Bool => "a boolean",
        Kind::Number => "a number",
        Kind::String => "a string",
        Kind::Array => "an array",
        Kind::Object => "an object",
    }
}

pub(crate) fn date(vars: &Vars<'_>, path: &VarPath) -> Result<Date, Fault> {
    let s = text(vars, path)?;
    Date::parse(&s)
        .ok_or_else(|| Fault::invalid(path.as_str(), format!("`{s}` is not a date (YYYY-MM-DD)")))
}

/// A loan term in whole months, 1 to 600.
pub(crate) fn term_months(vars: &Vars<'_>, path: &VarPath) -> Result<u32, Fault> {
    let n = number(vars, path)?;
    if n.fract() != 0.0 || !(1.0..=600.0).contains(&n) {
        return Err(Fault::invalid(
            path.as_str(),
            format!("a term must be a whole number of months from 1 to 600, found {n}"),
        ));
    }
    Ok(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_become_pointers() {
        assert_eq!(
            VarPath::parse("applicant.monthly_income").unwrap().as_str(),
            "/applicant/monthly_income"
        );
        assert_eq!(VarPath::parse("a/b.c~d").unwrap().as_str(), "/a~1b/c~0d");
        assert_eq!(VarPath::parse("/x/0").unwrap().as_str(), "/x/0");
        assert!(VarPath::parse("").is_err());
        assert!(VarPath::parse("a..b").is_err());
    }

    #[test]
    fn numbers_come_from_numbers_and_plain_decimal_strings() {
        let text = json!({"a": 12.5, "b": " 200000.00 ", "c": "1e5", "d": "12-3", "e": true, "f": null, "g": "-4"}).to_string();
        let vars = Vars::parse(&text).unwrap();
        let p = |s| VarPath::parse(s).unwrap();
        assert_eq!(number(&vars, &p("a")), Ok(12.5));
        assert_eq!(number(&vars, &p("b")), Ok(200000.0));
        assert_eq!(number(&vars, &p("g")), Ok(-4.0));
        assert!(matches!(number(&vars, &p("c")), Err(Fault::Invalid { .. })));
        assert!(matches!(number(&vars, &p("d")), Err(Fault::Invalid { .. })));
        assert!(matches!(number(&vars, &p("e")), Err(Fault::Invalid { .. })));
        assert_eq!(number(&vars, &p("f")), Err(Fault::Missing("/f".into())));
        assert_eq!(number(&vars, &p("zz")), Err(Fault::Missing("/zz".into())));
    }

    #[test]
    fn terms_are_whole_months() {
        let text = json!({"t": 36, "u": 0, "v": 12.5, "w": 601}).to_string();
        let vars = Vars::parse(&text).unwrap();
        let p = |s| VarPath::parse(s).unwrap();
        assert_eq!(term_months(&vars, &p("t")), Ok(36));
        for bad in ["u", "v", "w"] {
            assert!(
                matches!(term_months(&vars, &p(bad)), Err(Fault::Invalid { .. })),
                "{bad}"
            );
        }
    }
}

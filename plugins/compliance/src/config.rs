//! The node config: a rule set, parsed and checked once per call, every problem
//! reported with the JSON pointer of the offending config value.

use crate::error::Error;
use crate::rules::{Check, OnMissing, Severity};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// Most rules in one rule set: a limit so a runaway config is an error, not a slow step.
pub const MAX_RULES: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Name and version of the rule set (e.g. `retail-v1`), echoed in every result.
    pub rule_set: Option<String>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// `[A-Za-z][A-Za-z0-9_]*`, unique in the set, so routes can read
    /// `compliance.checks.<id>` in CEL.
    pub id: String,
    pub enabled: bool,
    pub severity: Severity,
    /// The reason code a violation produces; defaults to the id.
    pub reason_code: String,
    pub description: Option<String>,
    pub on_missing: OnMissing,
    pub check: Check,
}

/// The keys every rule has; the rest belong to its kind.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    id: String,
    kind: String,
    #[serde(default = "enabled_by_default")]
    enabled: bool,
    severity: Severity,
    #[serde(default)]
    reason_code: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    on_missing: OnMissing,
}

const HEADER_KEYS: [&str; 7] = [
    "id",
    "kind",
    "enabled",
    "severity",
    "reason_code",
    "description",
    "on_missing",
];

fn enabled_by_default() -> bool {
    true
}

/// Extends `base` with the path serde was at when it failed, as a JSON pointer.
fn pointer(base: &str, path: &serde_path_to_error::Path) -> String {
    let mut out = base.to_string();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                out.push('/');
                out.push_str(&key.replace('~', "~0").replace('/', "~1"));
            }
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

fn typed<T: DeserializeOwned>(value: Value, at: &str) -> Result<T, Error> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| Error::config(pointer(at, e.path()), e.inner().to_string()))
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 64
}

fn parse_rule(value: &Value, at: &str) -> Result<Rule, Error> {
    let obj = value
        .as_object()
        .ok_or_else(|| Error::config(at, "a rule must be an object"))?;
    let (mut header, mut body) = (Map::new(), Map::new());
    for (k, v) in obj {
        if HEADER_KEYS.contains(&k.as_str()) {
            header.insert(k.clone(), v.clone())
        } else {
            body.insert(k.clone(), v.clone())
        };
    }
    let h: Header = typed(Value::Object(header), at)?;
    if !valid_id(&h.id) {
        return Err(Error::config(
            format!("{at}/id"),
            format!(
                "rule id `{}` must be a letter then letters, digits or `_` (at most 64)",
                h.id
            ),
        ));
    }
    let body = Value::Object(body);
    let check = match h.kind.as_str() {
        "dti_ceiling" => Check::DtiCeiling(typed(body, at)?),
        "age_band" => Check::AgeBand(typed(body, at)?),
        "amount_limits" => Check::AmountLimits(typed(body, at)?),
        "watchlist" => Check::Watchlist(typed(body, at)?),
        "multi_lending" => Check::MultiLending(typed(body, at)?),
        "restricted_industry" => Check::RestrictedIndustry(typed(body, at)?),
        other => {
            return Err(Error::config(
                format!("{at}/kind"),
                format!(
                    "unknown rule kind `{other}`, expected one of {}",
                    Check::KINDS.join(", ")
                ),
            ));
        }
    };
    match &check {
        Check::DtiCeiling(r) => r.validate(at)?,
        Check::AgeBand(r) => r.validate(at)?,
        Check::AmountLimits(r) => r.validate(at)?,
        Check::Watchlist(r) => r.validate(at)?,
        Check::MultiLending(r) => r.validate(at)?,
        Check::RestrictedIndustry(r) => r.validate(at)?,
    }
    let reason_code = match h.reason_code {
        Some(code) if code.trim().is_empty() => {
            return Err(Error::config(
                format!("{at}/reason_code"),
                "must not be blank",
            ));
        }
        Some(code) => code,
        None => h.id.clone(),
    };
    Ok(Rule {
        id: h.id,
        enabled: h.enabled,
        severity: h.severity,
        reason_code,
        description: h.description,
        on_missing: h.on_missing,
        check,
    })
}

/// Parses and checks a node config.
pub fn parse(config: &Value) -> Result<Config, Error> {
    let obj = config
        .as_object()
        .ok_or_else(|| Error::config("(root)", "the config must be an object with `rules`"))?;
    for key in obj.keys() {
        if !["rule_set", "description", "rules"].contains(&key.as_str()) {
            return Err(Error::config(
                format!("/{key}"),
                "unknown key, expected rule_set, description or rules",
            ));
        }
    }
    let rule_set = match obj.get("rule_set") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(Error::config("/rule_set", "must be a string")),
    };
    let rules = obj
        .get("rules")
        .ok_or_else(|| Error::config("/rules", "a rule set needs `rules`"))?;
    let rules = rules
        .as_array()
        .ok_or_else(|| Error::config("/rules", "must be an array of rules"))?;
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(Error::config(
            "/rules",
            format!("must hold 1 to {MAX_RULES} rules, found {}", rules.len()),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut parsed = Vec::with_capacity(rules.len());
    for (i, v) in rules.iter().enumerate() {
        let at = format!("/rules/{i}");
        let rule = parse_rule(v, &at)?;
        if !ids.insert(rule.id.clone()) {
            return Err(Error::config(
                format!("{at}/id"),
                format!("rule id `{}` is used twice", rule.id),
            ));
        }
        parsed.push(rule);
    }
    Ok(Config {
        rule_set,
        rules: parsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(cfg: Value) -> String {
        parse(&cfg).unwrap_err().to_string()
    }

    #[test]
    fn a_rule_set_parses_with_defaults() {
        let c = parse(&json!({
            "rule_set": "t-1",
            "rules": [{"id": "DTI", "kind": "dti_ceiling", "severity": "reject", "max_ratio": 0.5, "annual_rate": 0.05}]
        }))
        .unwrap();
        assert_eq!(c.rule_set.as_deref(), Some("t-1"));
        let r = &c.rules[0];
        assert!(r.enabled);
        assert_eq!(r.reason_code, "DTI");
        assert_eq!(r.on_missing, OnMissing::Error);
        assert_eq!(r.check.kind(), "dti_ceiling");
    }

    #[test]
    fn errors_point_at_the_offending_value() {
        let base = |rule: Value| json!({"rules": [{"id": "OK", "kind": "age_band", "severity": "refer", "max_age_at_maturity": 65}, rule]});
        assert!(err(base(json!({"id": "X", "kind": "dti_ceiling", "severity": "reject", "max_ratio": "high", "annual_rate": 0.05}))).contains("at /rules/1/max_ratio"));
        assert!(err(base(json!({"id": "X", "kind": "dti_ceiling", "severity": "reject", "max_ratio": 0.5, "annual_rat": 0.05}))).contains("unknown field `annual_rat`"));
        assert!(err(base(json!({"id": "X", "kind": "age_band", "severity": "block", "max_age_at_maturity": 65}))).contains("at /rules/1/severity"));
        assert!(
            err(base(
                json!({"id": "X", "kind": "credit_score", "severity": "reject"})
            ))
            .contains("at /rules/1/kind: unknown rule kind `credit_score`")
        );
        assert!(err(base(json!({"id": "OK", "kind": "age_band", "severity": "reject", "max_age_at_maturity": 65}))).contains("at /rules/1/id: rule id `OK` is used twice"));
        assert!(err(base(json!({"id": "has-dash", "kind": "age_band", "severity": "reject", "max_age_at_maturity": 65}))).contains("at /rules/1/id"));
        assert!(err(base(json!({"id": "A", "kind": "amount_limits", "severity": "reject", "products": {"p": {"min": 1, "max": "x"}}}))).contains("at /rules/1/products/p/max"));
        assert!(err(base(json!({"id": "W", "kind": "watchlist", "severity": "reject", "subjects": [{"role": "r", "path": ""}]}))).contains("at /rules/1/subjects/0/path"));
        assert!(err(base(json!("DTI"))).contains("at /rules/1: a rule must be an object"));
        assert!(
            err(base(
                json!({"id": "X", "kind": "age_band", "max_age_at_maturity": 65})
            ))
            .contains("missing field `severity`")
        );
    }

    #[test]
    fn the_top_level_is_checked() {
        assert!(err(json!([])).contains("(root)"));
        assert!(err(json!({"rules": []})).contains("at /rules: must hold 1 to 100 rules"));
        assert!(err(json!({"rule": []})).contains("at /rule: unknown key"));
        assert!(err(json!({"rule_set": 1, "rules": []})).contains("at /rule_set"));
        let many: Vec<Value> = (0..101).map(|i| json!({"id": format!("R{i}"), "kind": "age_band", "severity": "refer", "max_age_at_maturity": 65})).collect();
        assert!(err(json!({"rules": many})).contains("found 101"));
    }
}

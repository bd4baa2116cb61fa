//! The node config: a rule set, parsed and checked once per call, every problem
//! reported with the JSON pointer of the offending config value.

use crate::error::Error;
use crate::rules::{Check, OnMissing, Severity};
use plugin_sdk::json::{Json, Kind, parse_members};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
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

fn typed<'a, T: Deserialize<'a>>(
    members: &[(Cow<'a, str>, Json<'a>)],
    at: &str,
) -> Result<T, Error> {
    parse_members(members).map_err(|e| Error::config(format!("{at}{}", e.pointer), e.message))
}

fn valid_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && id.len() <= 64
}

fn parse_rule(value: Json<'_>, at: &str) -> Result<Rule, Error> {
    if value.kind() != Kind::Object {
        return Err(Error::config(at, "a rule must be an object"));
    }
    let (header, body): (Vec<_>, Vec<_>) = value
        .members()
        .into_iter()
        .partition(|(k, _)| HEADER_KEYS.contains(&k.as_ref()));
    let h: Header = typed(&header, at)?;
    if !valid_id(&h.id) {
        return Err(Error::config(
            format!("{at}/id"),
            format!(
                "rule id `{}` must be a letter then letters, digits or `_` (at most 64)",
                h.id
            ),
        ));
    }
    let mut check = match h.kind.as_str() {
        "dti_ceiling" => Check::DtiCeiling(typed(&body, at)?),
        "age_band" => Check::AgeBand(typed(&body, at)?),
        "amount_limits" => Check::AmountLimits(typed(&body, at)?),
        "watchlist" => Check::Watchlist(typed(&body, at)?),
        "multi_lending" => Check::MultiLending(typed(&body, at)?),
        "restricted_industry" => Check::RestrictedIndustry(typed(&body, at)?),
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
    match &mut check {
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
    let text = config.to_string();
    let json = Json::document(&text).map_err(|e| Error::config("(root)", e.message))?;
    parse_json(json)
}

/// [`parse`] straight from the config's text (no `Value` tree).
pub fn parse_json(config: Json<'_>) -> Result<Config, Error> {
    if config.kind() != Kind::Object {
        return Err(Error::config(
            "(root)",
            "the config must be an object with `rules`",
        ));
    }
    let members = config.members();
    for (key, _) in &members {
        if !["rule_set", "description", "rules"].contains(&key.as_ref()) {
            return Err(Error::config(
                format!("/{key}"),
                "unknown key, expected rule_set, description or rules",
            ));
        }
    }
    // The last of a repeated key, as `serde_json::Value` keeps it.
    let get = |name: &str| {
        members
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| *v)
    };
    let rule_set = match get("rule_set") {
        None => None,
        Some(v) => match v.kind() {
            Kind::Null => None,
            Kind::String => v.as_str().map(Cow::into_owned),
            _ => return Err(Error::config("/rule_set", "must be a string")),
        },
    };
    let rules = get("rules").ok_or_else(|| Error::config("/rules", "a rule set needs `rules`"))?;
    if rules.kind() != Kind::Array {
        return Err(Error::config("/rules", "must be an array of rules"));
    }
    let rules = rules.elements();
    if rules.is_empty() || rules.len() > MAX_RULES {
        return Err(Error::config(
            "/rules",
            format!("must hold 1 to {MAX_RULES} rules, found {}", rules.len()),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut parsed = Vec::with_capacity(rules.len());
    for (i, v) in rules.into_iter().enumerate() {
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

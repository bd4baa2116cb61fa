//! `compliance` plugin: runs a configured rule set (debt-to-income, age band, product
//! limits, watchlists, multi-lending, restricted industries) over a case's variables and
//! says pass, refer or reject, with every violated rule, its message and its figures.

pub mod config;
pub mod dates;
pub mod error;
pub mod normalize;
pub mod rules;
mod schema;
pub mod vars;

pub use config::{Config, Rule};
pub use error::Error;

use dates::Date;
use plugin_sdk::json::Vars;
use plugin_sdk::{Info, Json, Reason, TextInput, TextOutput, TextPlugin};
pub use rules::Values;
use rules::{Ctx, OnMissing, Severity};
use serde::Serialize;
use std::borrow::Cow;
use vars::Fault;

pub const NAME: &str = "compliance";
pub const VERSION: &str = "1.0.0";

/// The suggested routing outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// No rule violated.
    Pass,
    /// Only `refer` rules violated: a person decides.
    Refer,
    /// At least one `reject` rule violated.
    Reject,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Refer => "refer",
            Self::Reject => "reject",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    pub kind: &'static str,
    pub message: String,
    pub reason_code: String,
    pub rule: String,
    pub severity: Severity,
    /// The figures that triggered it.
    pub values: Values,
}

/// The result document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    /// Every rule by id (written in id order): `{kind, status, severity, values[, message]}` with
    /// status `passed`, `violated`, `skipped` (input missing and `on_missing: skip`) or
    /// `disabled`.
    pub checks: Checks,
    pub outcome: Outcome,
    /// No rule violated (a `refer` violation also makes this false).
    pub passed: bool,
    /// Reason codes of the violations, in rule order, each once.
    pub reason_codes: Vec<String>,
    pub rule_set: Option<String>,
    /// In rule order.
    pub violations: Vec<Violation>,
}

/// How one rule went, as the result's `checks` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckDoc {
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub severity: Severity,
    /// `passed`, `violated`, `skipped` or `disabled`.
    pub status: &'static str,
    pub values: Values,
}

/// Every rule's [`CheckDoc`] by rule id, in rule order (ids are unique in a rule set);
/// written as a JSON object, by id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Checks(pub Vec<(String, CheckDoc)>);

impl Serialize for Checks {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        // By id (canonical JSON's order: the SDK's writer then has nothing to sort).
        let mut sorted: Vec<&(String, CheckDoc)> = self.0.iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut map = s.serialize_map(Some(sorted.len()))?;
        for (id, check) in sorted {
            map.serialize_entry(id, check)?;
        }
        map.end()
    }
}

/// Runs every enabled rule of `config` over `vars` on business date `today`.
pub fn evaluate(config: &Config, vars: &Vars<'_>, today: Date) -> Result<Verdict, Error> {
    let ctx = Ctx { vars, today };
    let mut violations = Vec::new();
    let mut checks = Vec::with_capacity(config.rules.len());
    let doc = |kind, status, severity, values, message| CheckDoc {
        kind,
        status,
        severity,
        values,
        message,
    };
    for rule in &config.rules {
        let kind = rule.check.kind();
        if !rule.enabled {
            checks.push((
                rule.id.clone(),
                doc(kind, "disabled", rule.severity, Values::default(), None),
            ));
            continue;
        }
        let finding = match rule.check.evaluate(&ctx, rule.severity) {
            Ok(f) => f,
            Err(Fault::Invalid { pointer, message }) => {
                return Err(Error::InvalidInput { pointer, message });
            }
            Err(Fault::Missing(pointer)) => match rule.on_missing {
                OnMissing::Error => {
                    return Err(Error::MissingInput {
                        pointer,
                        rule: rule.id.clone(),
                    });
                }
                OnMissing::Skip => {
                    let message = format!("case variable {pointer} is missing");
                    checks.push((
                        rule.id.clone(),
                        doc(
                            kind,
                            "skipped",
                            rule.severity,
                            rules::values! { "missing": pointer },
                            Some(message),
                        ),
                    ));
                    continue;
                }
                OnMissing::Violate => rules::Finding::violated(
                    format!("case variable {pointer} is missing"),
                    rules::values! { "missing": pointer },
                ),
            },
        };
        match finding.violation {
            None => {
                checks.push((
                    rule.id.clone(),
                    doc(kind, "passed", rule.severity, finding.values, None),
                ));
            }
            Some(v) => {
                let severity = v.severity.unwrap_or(rule.severity);
                checks.push((
                    rule.id.clone(),
                    doc(
                        kind,
                        "violated",
                        severity,
                        finding.values.clone(),
                        Some(v.message.clone()),
                    ),
                ));
                violations.push(Violation {
                    rule: rule.id.clone(),
                    kind,
                    severity,
                    reason_code: rule.reason_code.clone(),
                    message: v.message,
                    values: finding.values,
                });
            }
        }
    }
    let outcome = match violations.iter().map(|v| v.severity).max() {
        None => Outcome::Pass,
        Some(Severity::Refer) => Outcome::Refer,
        Some(Severity::Reject) => Outcome::Reject,
    };
    let mut reason_codes: Vec<String> = Vec::new();
    for v in &violations {
        if !reason_codes.contains(&v.reason_code) {
            reason_codes.push(v.reason_code.clone());
        }
    }
    Ok(Verdict {
        rule_set: config.rule_set.clone(),
        passed: violations.is_empty(),
        outcome,
        violations,
        reason_codes,
        checks: Checks(checks),
    })
}

/// One call, from the SDK's input to its output: what the component runs.
pub fn run_input(input: &TextInput<'_>) -> Result<TextOutput, Error> {
    run_prepared(input, || config::parse_json(input.config).map(Cow::Owned))
}

/// One call with the rule set from `config` (parsed now, or prepared earlier), which is
/// asked for after the business date is checked, as [`run_input`] always did.
pub fn run_prepared<'c, E>(
    input: &TextInput<'_>,
    config: impl FnOnce() -> Result<Cow<'c, Config>, E>,
) -> Result<TextOutput, E>
where
    E: From<Error>,
{
    let today = Date::parse(input.business_date)
        .ok_or_else(|| Error::BusinessDate(input.business_date.to_string()))?;
    let config = config()?;
    let verdict = evaluate(&config, &input.vars, today)?;
    let reasons = verdict
        .violations
        .iter()
        .map(|v| Reason {
            code: v.reason_code.clone(),
            message: v.message.clone(),
            weight: v.severity.weight(),
        })
        .collect();
    let outcome = verdict.outcome.as_str().to_string();
    let result = plugin_sdk::to_json(&verdict).map_err(|e| {
        Error::config(
            "(root)",
            format!("result could not be encoded: {}", e.message),
        )
    })?;
    Ok(TextOutput {
        result,
        outcome: Some(outcome),
        score: None,
        reasons,
    })
}

pub struct Compliance;

impl TextPlugin for Compliance {
    fn describe() -> Info {
        Info {
            name: NAME.into(),
            version: VERSION.into(),
            config_schema: schema::config_schema(),
            output_schema: schema::output_schema(),
        }
    }

    /// The rule set, parsed and checked: once per config when the host prepares it.
    type Config = Config;

    fn prepare(config: Json<'_>) -> Result<Config, plugin_sdk::Error> {
        Ok(config::parse_json(config)?)
    }

    fn run(
        input: &TextInput<'_>,
        config: Result<&Config, plugin_sdk::Error>,
    ) -> Result<TextOutput, plugin_sdk::Error> {
        run_prepared(input, || config.map(Cow::Borrowed))
    }
}

#[cfg(test)]
mod tests;

plugin_sdk::export_text_plugin!(Compliance);

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
use plugin_sdk::{Info, Input, Output, Plugin, Reason};
use rules::{Ctx, OnMissing, Severity};
use serde::Serialize;
use serde_json::{Map, Value, json};
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
    pub rule: String,
    pub kind: &'static str,
    pub severity: Severity,
    pub reason_code: String,
    pub message: String,
    /// The figures that triggered it.
    pub values: Map<String, Value>,
}

/// The result document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub rule_set: Option<String>,
    /// No rule violated (a `refer` violation also makes this false).
    pub passed: bool,
    pub outcome: Outcome,
    /// In rule order.
    pub violations: Vec<Violation>,
    /// Reason codes of the violations, in rule order, each once.
    pub reason_codes: Vec<String>,
    /// Every rule by id, in rule order: `{kind, status, severity, values[, message]}` with
    /// status `passed`, `violated`, `skipped` (input missing and `on_missing: skip`) or
    /// `disabled`.
    pub checks: Map<String, Value>,
}

/// Runs every enabled rule of `config` over `vars` on business date `today`.
pub fn evaluate(config: &Config, vars: &Value, today: Date) -> Result<Verdict, Error> {
    let ctx = Ctx { vars, today };
    let mut violations = Vec::new();
    let mut checks = Map::new();
    for rule in &config.rules {
        let kind = rule.check.kind();
        if !rule.enabled {
            checks.insert(rule.id.clone(), json!({"kind": kind, "status": "disabled", "severity": rule.severity, "values": {}}));
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
                    checks.insert(
                        rule.id.clone(),
                        json!({"kind": kind, "status": "skipped", "severity": rule.severity, "values": {"missing": pointer},
                               "message": format!("case variable {pointer} is missing")}),
                    );
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
                checks.insert(rule.id.clone(), json!({"kind": kind, "status": "passed", "severity": rule.severity, "values": finding.values}));
            }
            Some(v) => {
                let severity = v.severity.unwrap_or(rule.severity);
                checks.insert(
                    rule.id.clone(),
                    json!({"kind": kind, "status": "violated", "severity": severity, "values": finding.values, "message": v.message}),
                );
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
        checks,
    })
}

/// One call, from the SDK's input to its output: what the component runs.
pub fn run_input(input: &Input) -> Result<Output, Error> {
    let today = Date::parse(&input.business_date)
        .ok_or_else(|| Error::BusinessDate(input.business_date.clone()))?;
    let config = config::parse(&input.config)?;
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
    let result = serde_json::to_value(&verdict)
        .map_err(|e| Error::config("(root)", format!("result could not be encoded: {e}")))?;
    Ok(Output {
        result,
        outcome: Some(outcome),
        score: None,
        reasons,
    })
}

pub struct Compliance;

impl Plugin for Compliance {
    fn describe() -> Info {
        Info {
            name: NAME.into(),
            version: VERSION.into(),
            config_schema: schema::config_schema(),
            output_schema: schema::output_schema(),
        }
    }

    fn run(input: Input) -> Result<Output, plugin_sdk::Error> {
        run_input(&input).map_err(Into::into)
    }
}

#[cfg(test)]
mod tests;

plugin_sdk::export_plugin!(Compliance);

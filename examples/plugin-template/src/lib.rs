//! Example Docket plugin: checks `vars.amount` against limits in the node config and
//! suggests an outcome (`approve`, `refer` or `reject`) with a reason.
//!
//! A plugin is a pure function of its input: no files, network, clock or randomness.
//! "Today" is `input.business_date`.

use plugin_sdk::{Error, Info, Input, Output, Plugin, Reason, Value, json, log};

pub struct AmountLimit;

impl Plugin for AmountLimit {
    fn describe() -> Info {
        Info {
            name: "amount-limit".into(),
            // Keep in step with Cargo.toml; flows pin the major: `amount-limit@1`.
            version: env!("CARGO_PKG_VERSION").into(),
            config_schema: json!({
                "type": "object",
                "required": ["max_amount"],
                "properties": {
                    "max_amount": { "type": "number", "exclusiveMinimum": 0 },
                    "refer_above": { "type": "number", "exclusiveMinimum": 0 }
                },
                "additionalProperties": false
            }),
            output_schema: json!({
                "type": "object",
                "required": ["amount", "within_limit"],
                "properties": {
                    "amount": { "type": "number" },
                    "within_limit": { "type": "boolean" }
                }
            }),
        }
    }

    fn run(input: Input) -> Result<Output, Error> {
        let max = number(&input.config, "max_amount")
            .ok_or_else(|| Error::new("bad_config", "config.max_amount must be a positive number"))?;
        let refer_above = number(&input.config, "refer_above").unwrap_or(max);
        let amount = number(&input.vars, "amount")
            .ok_or_else(|| Error::new("missing_amount", "vars.amount must be a positive number"))?;
        log::debug(format!("case {}: amount {amount}, limit {max}", input.case_id));

        let (outcome, reason) = if amount > max {
            ("reject", Some(("OVER_LIMIT", format!("amount {amount} is over the limit of {max}"))))
        } else if amount > refer_above {
            ("refer", Some(("REFER", format!("amount {amount} needs review above {refer_above}"))))
        } else {
            ("approve", None)
        };
        Ok(Output {
            result: json!({ "amount": amount, "within_limit": amount <= max }),
            outcome: Some(outcome.into()),
            score: None,
            reasons: reason
                .map(|(code, message)| Reason { code: code.into(), message, weight: 1.0 })
                .into_iter()
                .collect(),
        })
    }
}

fn number(document: &Value, key: &str) -> Option<f64> {
    document.get(key)?.as_f64().filter(|n| n.is_finite() && *n > 0.0)
}

// Makes this crate a Docket plugin component when built for wasm32-wasip2.
plugin_sdk::export_plugin!(AmountLimit);

#[cfg(test)]
mod tests {
    use super::*;

    fn input(amount: Value) -> Input {
        Input {
            case_id: "c-1".into(),
            node_id: "limit".into(),
            config: json!({ "max_amount": 100000, "refer_above": 50000 }),
            vars: json!({ "amount": amount }),
            business_date: "2024-06-30".into(),
        }
    }

    #[test]
    fn small_amounts_are_approved() {
        let out = AmountLimit::run(input(json!(20000))).unwrap();
        assert_eq!(out.outcome.as_deref(), Some("approve"));
        assert!(out.reasons.is_empty());
    }

    #[test]
    fn amounts_between_the_limits_are_referred() {
        let out = AmountLimit::run(input(json!(75000))).unwrap();
        assert_eq!(out.outcome.as_deref(), Some("refer"));
        assert_eq!(out.reasons[0].code, "REFER");
    }

    #[test]
    fn amounts_over_the_limit_are_rejected() {
        let out = AmountLimit::run(input(json!(150000))).unwrap();
        assert_eq!(out.outcome.as_deref(), Some("reject"));
        assert_eq!(out.result["within_limit"], false);
    }

    #[test]
    fn a_missing_amount_is_an_error() {
        let err = AmountLimit::run(input(Value::Null)).unwrap_err();
        assert_eq!(err.code, "missing_amount");
    }
}

//! Amount within product limits: each product has a minimum and maximum amount.

use super::dti::default_amount;
use super::{Ctx, Finding, values};
use crate::error::Error;
use crate::vars::{self, Fault, VarPath};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// Inclusive.
    pub min: f64,
    /// Inclusive.
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmountRule {
    /// Product code → limits. Codes are compared exactly (after trimming spaces).
    #[serde(default)]
    pub products: BTreeMap<String, Limits>,
    /// Limits for a product not listed, or for a case without a product. Without it an
    /// unlisted product is a violation ("not offered").
    #[serde(default)]
    pub default_limits: Option<Limits>,
    #[serde(default = "default_amount")]
    pub amount: VarPath,
    #[serde(default = "default_product")]
    pub product: VarPath,
}

fn default_product() -> VarPath {
    VarPath::of("/product")
}

impl Limits {
    fn validate(&self, at: &str) -> Result<(), Error> {
        if !(self.min >= 0.0 && self.min <= self.max) {
            return Err(Error::config(
                at,
                format!(
                    "limits need 0 <= min <= max, found min {} and max {}",
                    self.min, self.max
                ),
            ));
        }
        Ok(())
    }
}

/// Escapes a map key for a JSON pointer (RFC 6901).
fn pointer_key(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

impl AmountRule {
    pub(crate) fn validate(&self, at: &str) -> Result<(), Error> {
        if self.products.is_empty() && self.default_limits.is_none() {
            return Err(Error::config(
                format!("{at}/products"),
                "give at least one product's limits or default_limits",
            ));
        }
        for (code, limits) in &self.products {
            if code.trim().is_empty() {
                return Err(Error::config(
                    format!("{at}/products"),
                    "a product code must not be blank",
                ));
            }
            limits.validate(&format!("{at}/products/{}", pointer_key(code)))?;
        }
        if let Some(d) = &self.default_limits {
            d.validate(&format!("{at}/default_limits"))?;
        }
        Ok(())
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>) -> Result<Finding, Fault> {
        let amount = vars::number(ctx.vars, &self.amount)?;
        if amount <= 0.0 {
            return Err(Fault::invalid(
                self.amount.as_str(),
                format!("the loan amount must be positive, found {amount}"),
            ));
        }
        let product = match vars::text(ctx.vars, &self.product) {
            Ok(p) => Some(p.trim().to_string()),
            Err(Fault::Missing(_)) if self.default_limits.is_some() => None,
            Err(e) => return Err(e),
        };
        let limits = match &product {
            Some(p) => self.products.get(p).or(self.default_limits.as_ref()),
            None => self.default_limits.as_ref(),
        };
        let Some(limits) = limits else {
            let product = product.unwrap_or_default();
            let values = values! { "amount": amount, "product": product, "min": serde_json::Value::Null, "max": serde_json::Value::Null };
            return Ok(Finding::violated(
                format!("product `{product}` is not offered under this rule set"),
                values,
            ));
        };
        let values =
            values! { "amount": amount, "product": product, "min": limits.min, "max": limits.max };
        if amount < limits.min {
            Ok(Finding::violated(
                format!(
                    "amount {amount} is below the product minimum of {}",
                    limits.min
                ),
                values,
            ))
        } else if amount > limits.max {
            Ok(Finding::violated(
                format!(
                    "amount {amount} is above the product maximum of {}",
                    limits.max
                ),
                values,
            ))
        } else {
            Ok(Finding::passed(values))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::Date;
    use serde_json::{Value, json};

    fn rule(cfg: Value) -> AmountRule {
        serde_json::from_value(cfg).unwrap()
    }

    fn run(rule: &AmountRule, vars: Value) -> Result<Finding, Fault> {
        rule.evaluate(&Ctx {
            vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
            today: Date::parse("2024-06-30").unwrap(),
        })
    }

    fn retail() -> AmountRule {
        rule(json!({"products": {"personal-loan": {"min": 10000, "max": 500000}}}))
    }

    #[test]
    fn both_limits_are_inclusive() {
        let r = retail();
        for (amount, ok) in [
            (9999.99, false),
            (10000.0, true),
            (500000.0, true),
            (500000.01, false),
        ] {
            let f = run(&r, json!({"amount": amount, "product": "personal-loan"})).unwrap();
            assert_eq!(f.violation.is_none(), ok, "{amount}");
        }
        let f = run(&r, json!({"amount": 600000, "product": " personal-loan "})).unwrap();
        assert!(
            f.violation
                .unwrap()
                .message
                .contains("above the product maximum of 500000")
        );
    }

    #[test]
    fn an_unlisted_product_is_not_offered_unless_there_are_defaults() {
        let f = run(&retail(), json!({"amount": 50000, "product": "gold-loan"})).unwrap();
        assert!(
            f.violation
                .unwrap()
                .message
                .contains("`gold-loan` is not offered")
        );
        let with_default = rule(json!({"products": {}, "default_limits": {"min": 1, "max": 100}}));
        assert!(
            run(&with_default, json!({"amount": 50, "product": "gold-loan"}))
                .unwrap()
                .violation
                .is_none()
        );
        assert!(
            run(&with_default, json!({"amount": 500}))
                .unwrap()
                .violation
                .is_some()
        );
    }

    #[test]
    fn missing_product_without_defaults_is_missing() {
        assert_eq!(
            run(&retail(), json!({"amount": 50000})),
            Err(Fault::Missing("/product".into()))
        );
        assert!(matches!(
            run(&retail(), json!({"amount": -1, "product": "personal-loan"})),
            Err(Fault::Invalid { .. })
        ));
    }

    #[test]
    fn limits_are_validated_with_their_pointer() {
        let r = rule(json!({"products": {"a/b": {"min": 10, "max": 5}}}));
        assert!(
            r.validate("/rules/2")
                .unwrap_err()
                .to_string()
                .contains("/rules/2/products/a~1b")
        );
        assert!(rule(json!({})).validate("/rules/2").is_err());
    }
}

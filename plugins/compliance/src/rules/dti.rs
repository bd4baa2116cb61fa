//! Debt-to-income ceiling: (existing monthly debt payments + the new loan's monthly
//! payment) / monthly income must not exceed `max_ratio`.

use super::{Ctx, Finding, round, values};
use crate::error::Error;
use crate::vars::{self, Fault, VarPath};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtiRule {
    /// Highest acceptable ratio, e.g. 0.55. A ratio exactly at the ceiling passes.
    pub max_ratio: f64,
    /// Nominal annual rate used to estimate the new loan's payment (annuity, monthly
    /// compounding), e.g. 0.06. Zero means straight-line repayment.
    pub annual_rate: f64,
    #[serde(default = "default_income")]
    pub monthly_income: VarPath,
    #[serde(default = "default_debt")]
    pub monthly_debt_payments: VarPath,
    #[serde(default = "default_amount")]
    pub amount: VarPath,
    #[serde(default = "default_term")]
    pub term_months: VarPath,
    /// Where the new loan's monthly payment is, when the case already knows it (e.g. from
    /// pricing). When unset or absent from the case, the payment is estimated.
    #[serde(default)]
    pub new_payment: Option<VarPath>,
}

fn default_income() -> VarPath {
    VarPath::of("/applicant/monthly_income")
}
fn default_debt() -> VarPath {
    VarPath::of("/applicant/monthly_debt_payments")
}
pub(crate) fn default_amount() -> VarPath {
    VarPath::of("/amount")
}
pub(crate) fn default_term() -> VarPath {
    VarPath::of("/term_months")
}

/// Monthly payment of an annuity loan of `amount` over `months` at `annual_rate`
/// (nominal, compounded monthly). The power is a plain product so that the host and
/// the WebAssembly build compute bit-identical figures.
pub fn annuity_payment(amount: f64, annual_rate: f64, months: u32) -> f64 {
    let r = annual_rate / 12.0;
    if r == 0.0 {
        return amount / f64::from(months);
    }
    let mut growth = 1.0;
    for _ in 0..months {
        growth *= 1.0 + r;
    }
    amount * r * growth / (growth - 1.0)
}

impl DtiRule {
    pub(crate) fn validate(&self, at: &str) -> Result<(), Error> {
        if !(self.max_ratio > 0.0 && self.max_ratio <= 10.0) {
            return Err(Error::config(
                format!("{at}/max_ratio"),
                format!("must be above 0 and at most 10, found {}", self.max_ratio),
            ));
        }
        if !(0.0..=1.0).contains(&self.annual_rate) {
            return Err(Error::config(
                format!("{at}/annual_rate"),
                format!(
                    "must be from 0 to 1 (e.g. 0.06 for 6%), found {}",
                    self.annual_rate
                ),
            ));
        }
        Ok(())
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>) -> Result<Finding, Fault> {
        let income = vars::number(ctx.vars, &self.monthly_income)?;
        let debt = vars::number(ctx.vars, &self.monthly_debt_payments)?;
        if debt < 0.0 {
            return Err(Fault::invalid(
                self.monthly_debt_payments.as_str(),
                format!("monthly debt payments cannot be negative, found {debt}"),
            ));
        }
        let known_payment = match &self.new_payment {
            Some(path) => match vars::number(ctx.vars, path) {
                Ok(p) if p < 0.0 => {
                    return Err(Fault::invalid(
                        path.as_str(),
                        format!("a payment cannot be negative, found {p}"),
                    ));
                }
                Ok(p) => Some(p),
                Err(Fault::Missing(_)) => None,
                Err(e) => return Err(e),
            },
            None => None,
        };
        let (payment, source) = match known_payment {
            Some(p) => (p, "case"),
            None => {
                let amount = vars::number(ctx.vars, &self.amount)?;
                if amount <= 0.0 {
                    return Err(Fault::invalid(
                        self.amount.as_str(),
                        format!("the loan amount must be positive, found {amount}"),
                    ));
                }
                let term = vars::term_months(ctx.vars, &self.term_months)?;
                (annuity_payment(amount, self.annual_rate, term), "estimated")
            }
        };
        let total = debt + payment;
        if income <= 0.0 {
            let values = values! {
                "dti": serde_json::Value::Null, "max_ratio": self.max_ratio, "monthly_income": income,
                "monthly_debt_payments": debt, "new_loan_payment": round(payment, 2), "payment_source": source,
            };
            return Ok(Finding::violated(
                format!("monthly income {income} is not positive: debt-to-income cannot be met"),
                values,
            ));
        }
        let dti = total / income;
        let values = values! {
            "dti": round(dti, 6), "max_ratio": self.max_ratio, "monthly_income": income,
            "monthly_debt_payments": debt, "new_loan_payment": round(payment, 2), "payment_source": source,
        };
        if dti > self.max_ratio {
            Ok(Finding::violated(
                format!(
                    "debt-to-income {:.1}% exceeds the ceiling of {:.1}% (monthly payments {:.2} incl. new loan {:.2}, income {:.2})",
                    dti * 100.0,
                    self.max_ratio * 100.0,
                    total,
                    payment,
                    income
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

    fn rule(extra: Value) -> DtiRule {
        let mut cfg = json!({"max_ratio": 0.55, "annual_rate": 0.0});
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(cfg).unwrap()
    }

    fn run(rule: &DtiRule, vars: Value) -> Result<Finding, Fault> {
        rule.evaluate(&Ctx {
            vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
            today: Date::parse("2024-06-30").unwrap(),
        })
    }

    fn case(income: Value, debt: Value, amount: f64, term: u32) -> Value {
        json!({"applicant": {"monthly_income": income, "monthly_debt_payments": debt}, "amount": amount, "term_months": term})
    }

    #[test]
    fn annuity_matches_the_textbook_figure() {
        // 100,000 over 12 months at 12% nominal: 8,884.88 per month.
        assert_eq!(round(annuity_payment(100_000.0, 0.12, 12), 2), 8884.88);
        // 300,000 over 360 months at 4.9%: 1,592.18 per month.
        assert_eq!(round(annuity_payment(300_000.0, 0.049, 360), 2), 1592.18);
        assert_eq!(annuity_payment(12_000.0, 0.0, 12), 1000.0);
    }

    #[test]
    fn ratio_at_the_ceiling_passes_and_above_it_fails() {
        let r = rule(json!({}));
        // 4,500 existing + 1,000 new = 5,500 on 10,000 income = exactly 0.55.
        let at = run(&r, case(json!(10_000), json!(4_500), 12_000.0, 12)).unwrap();
        assert_eq!(at.violation, None);
        assert_eq!(at.values["dti"], json!(0.55));
        let above = run(&r, case(json!(10_000), json!(4_501), 12_000.0, 12)).unwrap();
        let v = above.violation.expect("violated");
        assert!(v.message.contains("55.0%"), "{}", v.message);
        assert_eq!(above.values["dti"], json!(0.5501));
    }

    #[test]
    fn the_new_loan_counts() {
        let r = rule(json!({"annual_rate": 0.06}));
        // Existing debt alone is 30%; the new 36-month loan of 200,000 adds ~6,084.
        let f = run(&r, case(json!(20_000), json!(6_000), 200_000.0, 36)).unwrap();
        assert!(f.violation.is_some());
        assert_eq!(f.values["new_loan_payment"], json!(6084.39));
        assert_eq!(f.values["payment_source"], json!("estimated"));
    }

    #[test]
    fn a_known_payment_replaces_the_estimate() {
        let r = rule(json!({"new_payment": "loan.monthly_payment"}));
        let mut vars = case(json!(10_000), json!(1_000), 1_000_000.0, 12);
        vars["loan"] = json!({"monthly_payment": "2000.00"});
        let f = run(&r, vars.clone()).unwrap();
        assert_eq!(f.values["dti"], json!(0.3));
        assert_eq!(f.values["payment_source"], json!("case"));
        // Absent in the case: estimated from amount and term (1,000,000 / 12 is far too much).
        vars["loan"] = json!({});
        assert!(run(&r, vars).unwrap().violation.is_some());
    }

    #[test]
    fn zero_or_negative_income_is_a_violation_not_a_division() {
        let r = rule(json!({}));
        for income in [json!(0), json!(-5)] {
            let f = run(&r, case(income, json!(0), 12_000.0, 12)).unwrap();
            assert!(f.violation.unwrap().message.contains("not positive"));
            assert_eq!(f.values["dti"], Value::Null);
        }
    }

    #[test]
    fn missing_and_malformed_inputs_name_the_variable() {
        let r = rule(json!({}));
        let no_income =
            json!({"applicant": {"monthly_debt_payments": 0}, "amount": 1000, "term_months": 12});
        assert_eq!(
            run(&r, no_income),
            Err(Fault::Missing("/applicant/monthly_income".into()))
        );
        let bad_debt = case(json!(10_000), json!(-1), 12_000.0, 12);
        assert!(
            matches!(run(&r, bad_debt), Err(Fault::Invalid { pointer, .. }) if pointer == "/applicant/monthly_debt_payments")
        );
        let bad_income = case(json!("lots"), json!(0), 12_000.0, 12);
        assert!(
            matches!(run(&r, bad_income), Err(Fault::Invalid { pointer, .. }) if pointer == "/applicant/monthly_income")
        );
        let zero_amount = case(json!(10_000), json!(0), 0.0, 12);
        assert!(
            matches!(run(&r, zero_amount), Err(Fault::Invalid { pointer, .. }) if pointer == "/amount")
        );
    }

    #[test]
    fn config_ranges_are_checked() {
        assert!(
            rule(json!({"max_ratio": 0.0}))
                .validate("/rules/0")
                .is_err()
        );
        assert!(
            rule(json!({"annual_rate": 6.0}))
                .validate("/rules/0")
                .unwrap_err()
                .to_string()
                .contains("/rules/0/annual_rate")
        );
        assert!(rule(json!({})).validate("/rules/0").is_ok());
    }
}

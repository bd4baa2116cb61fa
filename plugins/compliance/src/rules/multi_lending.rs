//! Multi-lending (多头借贷): how many distinct institutions queried the applicant's
//! credit report in the last `window_days` days, against a threshold.

use super::{Ctx, Finding, values};
use crate::dates::Date;
use crate::error::Error;
use crate::normalize::name_key;
use crate::vars::{self, Fault, VarPath};
use plugin_sdk::json::Kind;
use serde::Deserialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

/// Most institution names listed in a result; the count is always exact.
const MAX_LISTED: usize = 50;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MultiLendingRule {
    /// A query counts when it is at most `window_days - 1` days before the business date
    /// (90 → the business date and the 89 days before it). Queries dated after the
    /// business date are not counted (and are reported).
    pub window_days: u32,
    /// Violated when the number of distinct institutions is ABOVE this (4 → 5 or more).
    pub max_institutions: u32,
    #[serde(default = "default_queries")]
    pub queries: VarPath,
    #[serde(default = "default_institution_field")]
    pub institution_field: String,
    #[serde(default = "default_date_field")]
    pub date_field: String,
    #[serde(default = "default_reason_field")]
    pub reason_field: String,
    /// Only queries with one of these reasons count (e.g. `loan_approval`,
    /// `credit_card_approval`; post-loan management queries are not a sign of distress).
    /// Unset: every query counts.
    #[serde(default)]
    pub count_reasons: Option<Vec<String>>,
    /// Institutions never counted (typically the bank itself).
    #[serde(default)]
    pub exclude_institutions: Vec<String>,
    /// Matching keys of `count_reasons` and `exclude_institutions`: computed once by
    /// `validate`, when the config is prepared, not in every call.
    #[serde(skip)]
    keys: Keys,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Keys {
    reasons: Option<BTreeSet<String>>,
    excluded: BTreeSet<String>,
}

fn default_queries() -> VarPath {
    VarPath::of("/credit_report/queries")
}
fn default_institution_field() -> String {
    "institution".into()
}
fn default_date_field() -> String {
    "date".into()
}
fn default_reason_field() -> String {
    "reason".into()
}

impl MultiLendingRule {
    pub(crate) fn validate(&mut self, at: &str) -> Result<(), Error> {
        if !(1..=3650).contains(&self.window_days) {
            return Err(Error::config(
                format!("{at}/window_days"),
                format!("must be from 1 to 3650, found {}", self.window_days),
            ));
        }
        if let Some(reasons) = &self.count_reasons
            && reasons.iter().all(|r| name_key(r).is_empty())
        {
            return Err(Error::config(
                format!("{at}/count_reasons"),
                "list at least one reason, or leave it out to count every query",
            ));
        }
        self.keys = Keys {
            reasons: self
                .count_reasons
                .as_ref()
                .map(|r| r.iter().map(|s| name_key(s)).collect()),
            excluded: self
                .exclude_institutions
                .iter()
                .map(|s| name_key(s))
                .collect(),
        };
        Ok(())
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>) -> Result<Finding, Fault> {
        let at = self.queries.as_str();
        let list =
            vars::json(ctx.vars, &self.queries).ok_or_else(|| Fault::Missing(at.to_string()))?;
        if list.kind() != Kind::Array {
            return Err(Fault::invalid(
                at,
                format!(
                    "expected an array of queries, found {}",
                    vars::kind_name(list)
                ),
            ));
        }
        let start = ctx
            .today
            .minus_days(i64::from(self.window_days) - 1)
            .unwrap_or(Date {
                year: 1,
                month: 1,
                day: 1,
            });
        let Keys { reasons, excluded } = &self.keys;
        // Key → the spelling first seen, so the result shows names a person recognises.
        let mut institutions: BTreeMap<String, Cow<'_, str>> = BTreeMap::new();
        let (mut in_window, mut future) = (0usize, 0usize);
        for (i, q) in list.elements().into_iter().enumerate() {
            let qat = || format!("{at}/{i}");
            if q.kind() != Kind::Object {
                return Err(Fault::invalid(
                    qat(),
                    format!("expected a query object, found {}", vars::kind_name(q)),
                ));
            }
            let field = |k: &str| ctx.vars.child(q, k).filter(|v| !v.is_null());
            let institution_at = || format!("{}/{}", qat(), self.institution_field);
            let institution = field(&self.institution_field)
                .ok_or_else(|| Fault::invalid(institution_at(), "a query needs its institution"))
                .and_then(|v| vars::text_json(v, &institution_at()))?;
            let key = name_key(&institution);
            if key.is_empty() {
                return Err(Fault::invalid(
                    institution_at(),
                    format!("institution `{institution}` has no letters or digits"),
                ));
            }
            let date_at = || format!("{}/{}", qat(), self.date_field);
            let date_text = field(&self.date_field)
                .ok_or_else(|| Fault::invalid(date_at(), "a query needs its date"))
                .and_then(|v| vars::text_json(v, &date_at()))?;
            let date = Date::parse_date_or_timestamp(&date_text).ok_or_else(|| {
                Fault::invalid(
                    date_at(),
                    format!("`{date_text}` is not a date (YYYY-MM-DD or RFC 3339)"),
                )
            })?;
            if date > ctx.today {
                future += 1;
                continue;
            }
            if date < start || excluded.contains(&key) {
                continue;
            }
            if let Some(reasons) = reasons {
                let reason = match field(&self.reason_field) {
                    Some(v) => name_key(&vars::text_json(
                        v,
                        &format!("{}/{}", qat(), self.reason_field),
                    )?),
                    None => String::new(),
                };
                if !reasons.contains(&reason) {
                    continue;
                }
            }
            in_window += 1;
            institutions.entry(key).or_insert(institution);
        }
        let distinct = institutions.len();
        let names: Vec<&str> = institutions
            .values()
            .map(|n| n.as_ref())
            .take(MAX_LISTED)
            .collect();
        let values = values! {
            "distinct_institutions": distinct, "max_institutions": self.max_institutions,
            "window_days": self.window_days, "window_start": start.to_string(),
            "queries_counted": in_window, "future_dated_ignored": future, "institutions": names,
        };
        if distinct > self.max_institutions as usize {
            Ok(Finding::violated(
                format!(
                    "{distinct} distinct institutions queried the credit report in the last {} days, above the limit of {}",
                    self.window_days, self.max_institutions
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
    use serde_json::{Value, json};

    fn rule(extra: Value) -> MultiLendingRule {
        let mut cfg = json!({"window_days": 90, "max_institutions": 4});
        cfg.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let mut r: MultiLendingRule = serde_json::from_value(cfg).unwrap();
        r.validate("/rules/4").unwrap();
        r
    }

    fn run(rule: &MultiLendingRule, queries: Value) -> Result<Finding, Fault> {
        let vars = json!({"credit_report": {"queries": queries}});
        rule.evaluate(&Ctx {
            vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
            today: Date::parse("2024-06-30").unwrap(),
        })
    }

    fn q(institution: &str, date: &str) -> Value {
        json!({"institution": institution, "date": date, "reason": "loan_approval"})
    }

    #[test]
    fn five_distinct_lenders_break_a_limit_of_four() {
        let r = rule(json!({}));
        let four = json!([
            q("Bank A", "2024-06-01"),
            q("Bank B", "2024-05-01"),
            q("Bank C", "2024-04-02"),
            q("Bank D", "2024-06-30")
        ]);
        assert!(run(&r, four.clone()).unwrap().violation.is_none());
        let mut five = four.as_array().unwrap().clone();
        five.push(q("Finance Co E", "2024-04-10"));
        let f = run(&r, json!(five)).unwrap();
        assert!(
            f.violation
                .unwrap()
                .message
                .contains("5 distinct institutions")
        );
        assert_eq!(
            f.values["institutions"],
            json!(["Bank A", "Bank B", "Bank C", "Bank D", "Finance Co E"])
        );
    }

    #[test]
    fn the_window_is_the_business_date_and_the_days_before_it() {
        let r = rule(json!({"max_institutions": 0}));
        // 2024-06-30 minus 89 days = 2024-04-02: in; 2024-04-01 is 90 days back: out.
        let f = run(&r, json!([q("Bank A", "2024-04-02")])).unwrap();
        assert_eq!(f.values["window_start"], json!("2024-04-02"));
        assert_eq!(f.values["distinct_institutions"], json!(1));
        let f = run(&r, json!([q("Bank A", "2024-04-01")])).unwrap();
        assert_eq!(f.values["distinct_institutions"], json!(0));
        assert!(f.violation.is_none());
    }

    #[test]
    fn repeated_queries_by_one_lender_count_once_whatever_the_spelling() {
        let r = rule(json!({"max_institutions": 1}));
        let f = run(
            &r,
            json!([
                q("Bank A", "2024-06-01"),
                q("BANK  A", "2024-06-02"),
                q("ｂａｎｋ　ａ", "2024-06-03T10:00:00+08:00")
            ]),
        )
        .unwrap();
        assert_eq!(f.values["distinct_institutions"], json!(1));
        assert_eq!(f.values["queries_counted"], json!(3));
        assert!(f.violation.is_none());
    }

    #[test]
    fn future_queries_reasons_and_own_bank_are_not_counted() {
        let r = rule(
            json!({"max_institutions": 0, "count_reasons": ["loan_approval", "credit card approval"], "exclude_institutions": ["Our Bank"]}),
        );
        let f = run(
            &r,
            json!([
                q("Bank A", "2024-07-01"),
                q("our bank", "2024-06-01"),
                {"institution": "Bank B", "date": "2024-06-01", "reason": "post_loan_management"},
                {"institution": "Bank C", "date": "2024-06-01"},
                {"institution": "Bank D", "date": "2024-06-01", "reason": "Credit-Card Approval"}
            ]),
        )
        .unwrap();
        assert_eq!(f.values["future_dated_ignored"], json!(1));
        assert_eq!(f.values["institutions"], json!(["Bank D"]));
    }

    #[test]
    fn malformed_queries_name_the_field() {
        let r = rule(json!({}));
        assert!(
            matches!(run(&r, json!([q("A", "2024-06-01"), {"date": "2024-06-01"}])), Err(Fault::Invalid { pointer, .. }) if pointer == "/credit_report/queries/1/institution")
        );
        assert!(
            matches!(run(&r, json!([q("A", "June 1st")])), Err(Fault::Invalid { pointer, .. }) if pointer == "/credit_report/queries/0/date")
        );
        assert!(
            matches!(run(&r, json!({"n": 1})), Err(Fault::Invalid { pointer, .. }) if pointer == "/credit_report/queries")
        );
        let empty = json!({});
        assert_eq!(
            r.evaluate(&Ctx {
                vars: &plugin_sdk::json::Vars::parse(&empty.to_string()).unwrap(),
                today: Date::parse("2024-06-30").unwrap()
            }),
            Err(Fault::Missing("/credit_report/queries".into()))
        );
        assert!(run(&r, json!([])).unwrap().violation.is_none());
    }

    #[test]
    fn the_listed_names_are_bounded_but_the_count_is_exact() {
        let r = rule(json!({"max_institutions": 100}));
        let queries: Vec<Value> = (0..120)
            .map(|i| q(&format!("Lender {i:03}"), "2024-06-01"))
            .collect();
        let f = run(&r, json!(queries)).unwrap();
        assert_eq!(f.values["distinct_institutions"], json!(120));
        assert_eq!(
            f.values["institutions"].as_array().unwrap().len(),
            MAX_LISTED
        );
        assert_eq!(f.values["institutions"][0], json!("Lender 000"));
        assert!(f.violation.is_some());
    }

    #[test]
    fn window_bounds_are_validated() {
        let mut r: MultiLendingRule =
            serde_json::from_value(json!({"window_days": 0, "max_institutions": 4})).unwrap();
        assert!(
            r.validate("/rules/4")
                .unwrap_err()
                .to_string()
                .contains("/rules/4/window_days")
        );
    }
}

//! Age band: old enough at the business date, not too old at the loan's maturity
//! (business date + term, in calendar months).

use super::dti::default_term;
use super::{Ctx, Finding, values};
use crate::dates::Date;
use crate::error::Error;
use crate::vars::{self, Fault, VarPath};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRule {
    /// Youngest acceptable age in whole years at the business date.
    #[serde(default = "default_min_age")]
    pub min_age: u32,
    /// Oldest acceptable age in whole years on the maturity date (65 passes, 66 fails).
    pub max_age_at_maturity: u32,
    #[serde(default = "default_birth_date")]
    pub birth_date: VarPath,
    /// Fallback when the birth date is absent: the birth date inside a PRC resident ID
    /// number (18 characters, or the legacy 15). `null` turns the fallback off.
    #[serde(default = "default_id_number")]
    pub id_number: Option<VarPath>,
    #[serde(default = "default_term")]
    pub term_months: VarPath,
}

fn default_min_age() -> u32 {
    18
}
fn default_birth_date() -> VarPath {
    VarPath::of("/applicant/birth_date")
}
fn default_id_number() -> Option<VarPath> {
    Some(VarPath::of("/applicant/id_number"))
}

/// The birth date encoded in a PRC resident ID number: characters 7–14 (`YYYYMMDD`) of
/// the 18-character number, or 7–12 (`YYMMDD`, 1900s) of the legacy 15-digit one.
/// The check character is `ocr-check`'s business; this only reads the date.
pub fn birth_date_from_id(id: &str) -> Option<Date> {
    let id = crate::normalize::id_key(id);
    if !id.is_ascii() {
        return None;
    }
    let digits = |s: &str| s.bytes().all(|c| c.is_ascii_digit());
    let (y, m, d) = match id.len() {
        18 if digits(&id[..17]) => (id[6..10].parse().ok()?, &id[10..12], &id[12..14]),
        15 if digits(&id) => (
            1900 + id[6..8].parse::<i32>().ok()?,
            &id[8..10],
            &id[10..12],
        ),
        _ => return None,
    };
    Date::new(y, m.parse().ok()?, d.parse().ok()?)
}

impl AgeRule {
    pub(crate) fn validate(&self, at: &str) -> Result<(), Error> {
        if self.max_age_at_maturity > 150 {
            return Err(Error::config(
                format!("{at}/max_age_at_maturity"),
                format!("must be at most 150, found {}", self.max_age_at_maturity),
            ));
        }
        if self.min_age > self.max_age_at_maturity {
            return Err(Error::config(
                format!("{at}/min_age"),
                format!(
                    "min_age {} is above max_age_at_maturity {}",
                    self.min_age, self.max_age_at_maturity
                ),
            ));
        }
        Ok(())
    }

    fn birth_date(&self, ctx: &Ctx<'_, '_>) -> Result<(Date, &'static str), Fault> {
        match vars::date(ctx.vars, &self.birth_date) {
            Ok(d) => return Ok((d, "birth_date")),
            Err(Fault::Missing(_)) => {}
            Err(e) => return Err(e),
        }
        if let Some(path) = &self.id_number
            && let Some(id) = path.find(ctx.vars).and_then(|v| v.as_str())
            && let Some(d) = birth_date_from_id(&id)
        {
            return Ok((d, "id_number"));
        }
        Err(Fault::Missing(self.birth_date.as_str().to_string()))
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>) -> Result<Finding, Fault> {
        let (born, source) = self.birth_date(ctx)?;
        if born > ctx.today {
            return Err(Fault::invalid(
                if source == "birth_date" {
                    self.birth_date.as_str()
                } else {
                    self.id_number.as_ref().map_or("", |p| p.as_str())
                },
                format!("birth date {born} is after the business date {}", ctx.today),
            ));
        }
        let term = vars::term_months(ctx.vars, &self.term_months)?;
        let maturity = ctx.today.add_months(term).ok_or_else(|| {
            Fault::invalid(
                self.term_months.as_str(),
                "maturity falls after the year 9999",
            )
        })?;
        let now = born.age_on(ctx.today);
        let at_maturity = born.age_on(maturity);
        let values = values! {
            "birth_date": born.to_string(), "birth_date_source": source,
            "age_at_application": now, "maturity_date": maturity.to_string(), "age_at_maturity": at_maturity,
            "min_age": self.min_age, "max_age_at_maturity": self.max_age_at_maturity,
        };
        if now < i64::from(self.min_age) {
            Ok(Finding::violated(
                format!(
                    "applicant is {now}, below the minimum age of {}",
                    self.min_age
                ),
                values,
            ))
        } else if at_maturity > i64::from(self.max_age_at_maturity) {
            Ok(Finding::violated(
                format!(
                    "applicant would be {at_maturity} at maturity on {maturity}, above the maximum of {}",
                    self.max_age_at_maturity
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

    fn rule() -> AgeRule {
        serde_json::from_value(json!({"max_age_at_maturity": 65})).unwrap()
    }

    fn run(rule: &AgeRule, vars: Value, today: &str) -> Result<Finding, Fault> {
        rule.evaluate(&Ctx {
            vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
            today: Date::parse(today).unwrap(),
        })
    }

    #[test]
    fn eighteenth_birthday_is_the_first_eligible_day() {
        let r = rule();
        let vars = json!({"applicant": {"birth_date": "2006-06-30"}, "term_months": 12});
        assert!(
            run(&r, vars.clone(), "2024-06-29")
                .unwrap()
                .violation
                .unwrap()
                .message
                .contains("below the minimum age of 18")
        );
        let ok = run(&r, vars, "2024-06-30").unwrap();
        assert_eq!(ok.violation, None);
        assert_eq!(ok.values["age_at_application"], json!(18));
    }

    #[test]
    fn sixty_five_at_maturity_passes_sixty_six_fails() {
        let r = rule();
        // Born 1964-07-01; on 2024-06-30 aged 59. 72 months later (2030-06-30) still 65.
        let vars = |term| json!({"applicant": {"birth_date": "1964-07-01"}, "term_months": term});
        let ok = run(&r, vars(72), "2024-06-30").unwrap();
        assert_eq!(ok.values["age_at_maturity"], json!(65));
        assert_eq!(ok.values["maturity_date"], json!("2030-06-30"));
        assert_eq!(ok.violation, None);
        // 85 months: maturity 2031-07-30, aged 67.
        let bad = run(&r, vars(85), "2024-06-30").unwrap();
        assert_eq!(bad.values["age_at_maturity"], json!(67));
        assert!(bad.violation.is_some());
        // 73 months: maturity 2030-07-30, just past the 66th birthday.
        let edge = run(&r, vars(73), "2024-06-30").unwrap();
        assert_eq!(edge.values["age_at_maturity"], json!(66));
        assert!(edge.violation.is_some());
    }

    #[test]
    fn birth_date_falls_back_to_the_id_number() {
        let r = rule();
        let vars = json!({"applicant": {"id_number": "11010519491231002X"}, "term_months": 12});
        let f = run(&r, vars, "2024-06-30").unwrap();
        assert_eq!(f.values["birth_date"], json!("1949-12-31"));
        assert_eq!(f.values["birth_date_source"], json!("id_number"));
        assert!(f.violation.is_some());
        assert_eq!(
            birth_date_from_id("１１０１０５４９１２３１００２"),
            Some(Date::parse("1949-12-31").unwrap())
        );
        assert_eq!(
            birth_date_from_id("110105194902300021"),
            None,
            "30 February"
        );
        assert_eq!(
            birth_date_from_id("11010519491231002"),
            None,
            "17 characters"
        );
        assert_eq!(
            birth_date_from_id("张1010519491231002"),
            None,
            "not ASCII: byte offsets are not character offsets"
        );
    }

    #[test]
    fn no_birth_date_anywhere_is_missing_the_birth_date() {
        let r = rule();
        let vars = json!({"applicant": {"id_number": "not an id"}, "term_months": 12});
        assert_eq!(
            run(&r, vars, "2024-06-30"),
            Err(Fault::Missing("/applicant/birth_date".into()))
        );
        let no_fallback: AgeRule =
            serde_json::from_value(json!({"max_age_at_maturity": 65, "id_number": null})).unwrap();
        let vars = json!({"applicant": {"id_number": "11010519491231002X"}, "term_months": 12});
        assert_eq!(
            run(&no_fallback, vars, "2024-06-30"),
            Err(Fault::Missing("/applicant/birth_date".into()))
        );
    }

    #[test]
    fn a_future_birth_date_is_invalid() {
        let vars = json!({"applicant": {"birth_date": "2030-01-01"}, "term_months": 12});
        assert!(
            matches!(run(&rule(), vars, "2024-06-30"), Err(Fault::Invalid { pointer, .. }) if pointer == "/applicant/birth_date")
        );
    }

    #[test]
    fn min_above_max_is_a_config_error() {
        let r: AgeRule =
            serde_json::from_value(json!({"min_age": 70, "max_age_at_maturity": 65})).unwrap();
        assert!(
            r.validate("/rules/1")
                .unwrap_err()
                .to_string()
                .contains("/rules/1/min_age")
        );
    }
}

//! Restricted industries: the applicant's industry code (e.g. GB/T 4754 `C3011`) against
//! restricted code prefixes, with more specific exceptions.

use super::{Ctx, Finding, values};
use crate::error::Error;
use crate::normalize::id_key;
use crate::vars::{self, Fault, VarPath};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Restricted {
    /// Code prefix: `B06` restricts every code starting with `B06`.
    pub prefix: String,
    #[serde(default)]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndustryRule {
    pub restricted: Vec<Restricted>,
    /// Allowed prefixes inside restricted ones. The longest matching prefix decides: an
    /// exception `C3099` inside restricted `C30` allows `C30991`, a restricted `C309911`
    /// inside that exception restricts again.
    #[serde(default)]
    pub exceptions: Vec<String>,
    #[serde(default = "default_code")]
    pub industry_code: VarPath,
}

fn default_code() -> VarPath {
    VarPath::of("/applicant/industry_code")
}

impl IndustryRule {
    pub(crate) fn validate(&self, at: &str) -> Result<(), Error> {
        if self.restricted.is_empty() {
            return Err(Error::config(
                format!("{at}/restricted"),
                "list at least one restricted prefix",
            ));
        }
        for (i, r) in self.restricted.iter().enumerate() {
            if id_key(&r.prefix).is_empty() {
                return Err(Error::config(
                    format!("{at}/restricted/{i}/prefix"),
                    "a prefix needs letters or digits",
                ));
            }
        }
        for (i, e) in self.exceptions.iter().enumerate() {
            if id_key(e).is_empty() {
                return Err(Error::config(
                    format!("{at}/exceptions/{i}"),
                    "an exception needs letters or digits",
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>) -> Result<Finding, Fault> {
        let code = vars::text(ctx.vars, &self.industry_code)?;
        let key = id_key(&code);
        if key.is_empty() {
            return Err(Fault::invalid(
                self.industry_code.as_str(),
                format!("industry code `{code}` has no letters or digits"),
            ));
        }
        // First of the longest: ties keep config order, so the result is deterministic.
        let restricted = self
            .restricted
            .iter()
            .map(|r| (id_key(&r.prefix), r))
            .filter(|(p, _)| key.starts_with(p.as_str()))
            .fold(None::<(String, &Restricted)>, |best, (p, r)| match best {
                Some((bp, br)) if bp.len() >= p.len() => Some((bp, br)),
                _ => Some((p, r)),
            });
        let exception = self
            .exceptions
            .iter()
            .map(|e| id_key(e))
            .filter(|e| key.starts_with(e.as_str()))
            .max_by_key(|e| e.len());
        let blocked = match (&restricted, &exception) {
            (Some((p, _)), Some(e)) => p.len() > e.len(),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let values = values! {
            "industry_code": key,
            "matched_prefix": restricted.as_ref().map(|(p, _)| p.clone()),
            "label": restricted.as_ref().and_then(|(_, r)| r.label.clone()),
            "exception": exception,
        };
        match restricted {
            Some((p, r)) if blocked => Ok(Finding::violated(
                format!(
                    "industry {key} is restricted (prefix {p}{})",
                    r.label
                        .as_deref()
                        .map(|l| format!(": {l}"))
                        .unwrap_or_default()
                ),
                values,
            )),
            _ => Ok(Finding::passed(values)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::Date;
    use serde_json::{Value, json};

    fn rule() -> IndustryRule {
        let r: IndustryRule = serde_json::from_value(json!({
            "restricted": [{"prefix": "B06", "label": "coal mining and washing"}, {"prefix": "C30"}, {"prefix": "c 3011", "label": "cement"}],
            "exceptions": ["C3099"]
        }))
        .unwrap();
        r.validate("/rules/5").unwrap();
        r
    }

    fn run(code: Value) -> Result<Finding, Fault> {
        let vars = json!({"applicant": {"industry_code": code}});
        rule().evaluate(&Ctx {
            vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
            today: Date::parse("2024-06-30").unwrap(),
        })
    }

    #[test]
    fn a_prefix_restricts_every_code_under_it() {
        let f = run(json!("B0610")).unwrap();
        assert!(
            f.violation
                .unwrap()
                .message
                .contains("prefix B06: coal mining and washing")
        );
        assert!(run(json!("b 06")).unwrap().violation.is_some());
        assert!(run(json!("B07")).unwrap().violation.is_none());
        assert!(
            run(json!("B0")).unwrap().violation.is_none(),
            "a shorter code is not under the prefix"
        );
    }

    #[test]
    fn the_longest_prefix_decides() {
        let f = run(json!("C3011")).unwrap();
        assert_eq!(f.values["matched_prefix"], json!("C3011"));
        assert_eq!(f.values["label"], json!("cement"));
        assert!(
            run(json!("C30991")).unwrap().violation.is_none(),
            "exception inside C30"
        );
        assert!(run(json!("C3041")).unwrap().violation.is_some());
    }

    #[test]
    fn unusable_codes_are_invalid_input() {
        assert!(matches!(run(json!("--")), Err(Fault::Invalid { .. })));
        assert!(matches!(run(json!(["B06"])), Err(Fault::Invalid { .. })));
        let empty = json!({});
        assert_eq!(
            rule().evaluate(&Ctx {
                vars: &plugin_sdk::json::Vars::parse(&empty.to_string()).unwrap(),
                today: Date::parse("2024-06-30").unwrap()
            }),
            Err(Fault::Missing("/applicant/industry_code".into()))
        );
    }
}

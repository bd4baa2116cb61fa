//! What every rule shares: severity, what to do when input is missing, what a check
//! found, and the evaluation context. One file per rule kind beside this one.

pub mod age;
pub mod amount;
pub mod dti;
pub mod industry;
pub mod multi_lending;
pub mod watchlist;

use crate::dates::Date;
use crate::vars::Fault;
use plugin_sdk::json::Vars;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a violated rule means for the case. `Reject` outranks `Refer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Send the case to a person.
    Refer,
    /// Decline the case.
    Reject,
}

impl Severity {
    /// Weight of the reason code it produces.
    pub fn weight(self) -> f64 {
        match self {
            Self::Refer => 0.5,
            Self::Reject => 1.0,
        }
    }
}

/// What a rule does when a case variable it needs is absent or `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissing {
    /// Fail the step with `missing_input`: the flow is expected to always provide it.
    #[default]
    Error,
    /// Count as a violation with the rule's severity (e.g. refer when income is unknown).
    Violate,
    /// Record the rule as skipped and go on.
    Skip,
}

/// The kinds of rule, as written in config (`kind`).
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    DtiCeiling(dti::DtiRule),
    AgeBand(age::AgeRule),
    AmountLimits(amount::AmountRule),
    Watchlist(watchlist::WatchlistRule),
    MultiLending(multi_lending::MultiLendingRule),
    RestrictedIndustry(industry::IndustryRule),
}

impl Check {
    pub const KINDS: [&'static str; 6] = [
        "dti_ceiling",
        "age_band",
        "amount_limits",
        "watchlist",
        "multi_lending",
        "restricted_industry",
    ];

    pub fn kind(&self) -> &'static str {
        match self {
            Self::DtiCeiling(_) => "dti_ceiling",
            Self::AgeBand(_) => "age_band",
            Self::AmountLimits(_) => "amount_limits",
            Self::Watchlist(_) => "watchlist",
            Self::MultiLending(_) => "multi_lending",
            Self::RestrictedIndustry(_) => "restricted_industry",
        }
    }

    /// `severity` is the rule's own; a kind may report a different one in its finding.
    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>, severity: Severity) -> Result<Finding, Fault> {
        match self {
            Self::DtiCeiling(r) => r.evaluate(ctx),
            Self::AgeBand(r) => r.evaluate(ctx),
            Self::AmountLimits(r) => r.evaluate(ctx),
            Self::Watchlist(r) => r.evaluate(ctx, severity),
            Self::MultiLending(r) => r.evaluate(ctx),
            Self::RestrictedIndustry(r) => r.evaluate(ctx),
        }
    }
}

/// What one call's rules see: the case variables and the business date.
pub(crate) struct Ctx<'a, 't> {
    pub vars: &'a Vars<'t>,
    pub today: Date,
}

/// What a rule found. `values` are the figures it decided on, kept in the result so
/// that every automated decision can be explained.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub violation: Option<Violated>,
    pub values: Values,
}

/// The figures a rule decided on, by name, in the order the rule gives them. A result
/// holds a handful per rule: a list, not a hash map (which costs a hash per key and an
/// allocation per map in a fresh instance per call). Written as a JSON object.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Values(Vec<(&'static str, Value)>);

impl Values {
    /// Sets `key` (replacing an earlier value, in its place).
    pub fn insert(&mut self, key: &'static str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.0.push((key, value)),
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(k, _)| *k)
    }
}

impl std::ops::Index<&str> for Values {
    type Output = Value;

    /// Like `serde_json::Map`'s index: the key must be there.
    fn index(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("no value named `{key}`"))
    }
}

/// Members in key order (canonical JSON's: the SDK's writer then has nothing to sort).
impl Serialize for Values {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut sorted: Vec<&(&'static str, Value)> = self.0.iter().collect();
        sorted.sort_unstable_by_key(|(k, _)| *k);
        let mut doc = s.serialize_struct("Values", sorted.len())?;
        for (k, v) in sorted {
            doc.serialize_field(k, v)?;
        }
        doc.end()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violated {
    pub message: String,
    /// A severity other than the rule's own (watchlist hits on the name alone).
    pub severity: Option<Severity>,
}

impl Finding {
    pub(crate) fn passed(values: Values) -> Self {
        Self {
            violation: None,
            values,
        }
    }

    pub(crate) fn violated(message: impl Into<String>, values: Values) -> Self {
        Self {
            violation: Some(Violated {
                message: message.into(),
                severity: None,
            }),
            values,
        }
    }
}

/// Rounds for display: results carry money to cents and ratios to 6 places, while
/// every comparison is made on the unrounded figure.
pub(crate) fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// Builds a `values` map from `"key": value` pairs, in the given order.
macro_rules! values {
    ($($k:literal : $v:expr),* $(,)?) => {{
        let mut m = $crate::rules::Values::default();
        $( m.insert($k, serde_json::json!($v)); )*
        m
    }};
}
pub(crate) use values;

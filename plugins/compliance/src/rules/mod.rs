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
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    pub(crate) fn evaluate(&self, ctx: &Ctx<'_>, severity: Severity) -> Result<Finding, Fault> {
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
pub(crate) struct Ctx<'a> {
    pub vars: &'a Value,
    pub today: Date,
}

/// What a rule found. `values` are the figures it decided on, kept in the result so
/// that every automated decision can be explained.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Finding {
    pub violation: Option<Violated>,
    pub values: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Violated {
    pub message: String,
    /// A severity other than the rule's own (watchlist hits on the name alone).
    pub severity: Option<Severity>,
}

impl Finding {
    pub(crate) fn passed(values: Map<String, Value>) -> Self {
        Self {
            violation: None,
            values,
        }
    }

    pub(crate) fn violated(message: impl Into<String>, values: Map<String, Value>) -> Self {
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
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_string(), serde_json::json!($v)); )*
        m
    }};
}
pub(crate) use values;

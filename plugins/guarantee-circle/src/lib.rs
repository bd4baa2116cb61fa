//! `guarantee-circle` plugin: from guarantee relations (who guarantees whom, for how
//! much) finds the mutual guarantees and the circles (cycles) that include the
//! applicant, their members, length and exposure, and flags the risk — with every
//! search bounded so that a hostile network cannot blow up a call.

pub mod error;
pub mod graph;
pub mod input;
mod schema;

pub use error::Error;
pub use input::Config;

use graph::{Bounds, Graph, circles_through};
use input::Network;
use plugin_sdk::{Info, Input, Json, Output, Reason, TextInput, TextOutput, TextPlugin};
use serde::Serialize;
use serde_json::Value;

pub const NAME: &str = "guarantee-circle";
pub const VERSION: &str = "1.0.0";

/// Money in results is shown to the cent; every comparison uses the unrounded sum.
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RiskFlag {
    /// The applicant is in no guarantee circle.
    None,
    /// In a circle, no aggravating factor.
    Watch,
    /// In a circle with a distressed member, exposure above a threshold, or (when
    /// configured) a mutual guarantee.
    High,
}

impl RiskFlag {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Watch => "watch",
            Self::High => "high",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    pub guarantor: String,
    pub borrower: String,
    pub amount: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exposure {
    /// Sum of the guaranteed amounts on the edges.
    pub guaranteed: f64,
    /// Sum of the members' outstanding loans that are known.
    pub outstanding: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Circle {
    /// Starting with the applicant, in guarantee direction: each member guarantees the
    /// next, the last guarantees the applicant.
    pub members: Vec<String>,
    pub length: usize,
    pub edges: Vec<Edge>,
    pub exposure: Exposure,
    pub distressed_members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mutual {
    /// `a < b` in id order.
    pub a: String,
    pub b: String,
    pub a_guarantees_b: f64,
    pub b_guarantees_a: f64,
    pub involves_applicant: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CircleNetwork {
    /// Members of the applicant's strongly connected component, applicant included:
    /// every one of them is on some circle through the applicant. 1 = no circle.
    pub size: usize,
    pub members: Vec<String>,
    pub members_truncated: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TotalExposure {
    /// Guarantees between members of the circle network (every such edge is on a circle).
    pub guaranteed: f64,
    /// Outstanding loans of the network's members, where known.
    pub outstanding: f64,
    pub members_without_outstanding: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distressed {
    pub id: String,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub parties: usize,
    /// Distinct guarantor → borrower pairs after merging parallel guarantees.
    pub guarantee_pairs: usize,
    pub inactive_relations: usize,
    pub self_guarantees_ignored: usize,
    pub search_steps: u64,
    pub max_cycle_length: u32,
    pub max_cycles: u32,
}

/// The result document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub applicant: String,
    pub in_circle: bool,
    pub risk_flag: RiskFlag,
    pub reason_codes: Vec<String>,
    pub shortest_circle_length: Option<u32>,
    pub network: CircleNetwork,
    /// Mutual guarantees inside the circle network, the applicant's first.
    pub mutual_guarantees: Vec<Mutual>,
    pub mutual_guarantee_count: usize,
    pub mutual_guarantees_truncated: bool,
    /// Circles through the applicant up to `max_cycle_length`, shortest first.
    pub circles: Vec<Circle>,
    pub circles_truncated: bool,
    pub total_exposure: TotalExposure,
    /// Other members of the circle network whose status is a distress status.
    pub distressed_members: Vec<Distressed>,
    pub stats: Stats,
    #[serde(skip)]
    reasons: Vec<Reason>,
}

/// Analyses the network around `applicant` (an id key) under `config`'s bounds.
pub fn analyse(config: &Config, applicant: &str, network: &Network) -> Result<Report, Error> {
    let g = Graph::new(
        network
            .relations
            .iter()
            .map(|r| (r.guarantor.as_str(), r.borrower.as_str(), r.amount)),
        [applicant],
    );
    if g.ids.len() > config.max_parties as usize {
        return Err(Error::TooLarge {
            pointer: config
                .network
                .as_ref()
                .map_or("/relations".to_string(), |p| {
                    format!("{}/relations", p.as_str())
                }),
            what: "distinct parties",
            found: g.ids.len(),
            limit: config.max_parties as usize,
        });
    }
    let s = g
        .index_of(applicant)
        .expect("the applicant is always a node");
    let bounds = Bounds {
        max_length: config.max_cycle_length,
        max_cycles: config.max_cycles as usize,
        max_steps: config.max_search_steps,
    };
    let found = circles_through(&g, s, bounds);
    let listed = config.max_listed as usize;
    let mut in_component = vec![false; g.ids.len()];
    for &v in &found.component {
        in_component[v] = true;
    }

    let party = |v: usize| network.parties.get(&g.ids[v]);
    let distress: Vec<String> = config
        .risk
        .distress_statuses
        .iter()
        .map(|s| s.trim().to_lowercase())
        .collect();
    let distressed_status = |v: usize| {
        party(v)
            .and_then(|p| p.status.clone())
            .filter(|st| distress.contains(&st.trim().to_lowercase()))
    };

    let circles: Vec<Circle> = found
        .cycles
        .iter()
        .map(|members| {
            let edges: Vec<Edge> = (0..members.len())
                .map(|i| {
                    let (u, v) = (members[i], members[(i + 1) % members.len()]);
                    Edge {
                        guarantor: g.ids[u].clone(),
                        borrower: g.ids[v].clone(),
                        amount: cents(g.amount(u, v)),
                    }
                })
                .collect();
            let guaranteed: f64 = (0..members.len())
                .map(|i| g.amount(members[i], members[(i + 1) % members.len()]))
                .sum();
            let outstanding: f64 = members
                .iter()
                .filter_map(|&v| party(v).and_then(|p| p.outstanding))
                .sum();
            Circle {
                members: members.iter().map(|&v| g.ids[v].clone()).collect(),
                length: members.len(),
                edges,
                exposure: Exposure {
                    guaranteed: cents(guaranteed),
                    outstanding: cents(outstanding),
                },
                distressed_members: members
                    .iter()
                    .filter(|&&v| v != s && distressed_status(v).is_some())
                    .map(|&v| g.ids[v].clone())
                    .collect(),
            }
        })
        .collect();

    let mut mutual: Vec<Mutual> = g
        .amounts
        .iter()
        .filter(|&(&(u, v), _)| u < v && in_component[u] && in_component[v])
        .filter_map(|(&(u, v), &a)| {
            g.amounts.get(&(v, u)).map(|&b| Mutual {
                a: g.ids[u].clone(),
                b: g.ids[v].clone(),
                a_guarantees_b: cents(a),
                b_guarantees_a: cents(b),
                involves_applicant: u == s || v == s,
            })
        })
        .collect();
    // The applicant's own first; otherwise id order (stable sort keeps it).
    mutual.sort_by_key(|m| !m.involves_applicant);
    let mutual_count = mutual.len();
    let applicant_mutual = mutual.iter().any(|m| m.involves_applicant);
    mutual.truncate(listed);

    let guaranteed: f64 = g
        .amounts
        .iter()
        .filter(|&(&(u, v), _)| in_component[u] && in_component[v])
        .map(|(_, &a)| a)
        .sum();
    let outstanding: f64 = found
        .component
        .iter()
        .filter_map(|&v| party(v).and_then(|p| p.outstanding))
        .sum();
    let without = found
        .component
        .iter()
        .filter(|&&v| party(v).and_then(|p| p.outstanding).is_none())
        .count();
    let distressed: Vec<Distressed> = found
        .component
        .iter()
        .filter(|&&v| v != s)
        .filter_map(|&v| {
            distressed_status(v).map(|status| Distressed {
                id: g.ids[v].clone(),
                status,
            })
        })
        .collect();

    let in_circle = found.component.len() > 1;
    let mut reasons: Vec<Reason> = Vec::new();
    let mut high = false;
    let mut flag = |code: &str, message: String, is_high: bool| {
        high |= is_high;
        reasons.push(Reason {
            code: code.into(),
            message,
            weight: if is_high { 1.0 } else { 0.5 },
        });
    };
    if in_circle {
        flag(
            "GC_IN_CIRCLE",
            format!(
                "applicant is in a guarantee circle network of {} parties (shortest circle: {} parties)",
                found.component.len(),
                found.shortest.unwrap_or_default()
            ),
            false,
        );
        if applicant_mutual {
            flag(
                "GC_MUTUAL_GUARANTEE",
                "applicant and another party guarantee each other".into(),
                config.risk.high_on_mutual_guarantee,
            );
        }
        if !distressed.is_empty() {
            let ids: Vec<&str> = distressed.iter().map(|d| d.id.as_str()).collect();
            flag(
                "GC_MEMBER_DISTRESS",
                format!("circle members in distress: {}", ids.join(", ")),
                config.risk.high_on_distressed_member,
            );
        }
        if let Some(limit) = config
            .risk
            .high_guaranteed_exposure
            .filter(|&l| guaranteed >= l)
        {
            flag(
                "GC_HIGH_GUARANTEED_EXPOSURE",
                format!(
                    "guarantees inside the circle network total {:.2}, at or above {limit}",
                    cents(guaranteed)
                ),
                true,
            );
        }
        if let Some(limit) = config
            .risk
            .high_outstanding_exposure
            .filter(|&l| outstanding >= l)
        {
            flag(
                "GC_HIGH_OUTSTANDING_EXPOSURE",
                format!(
                    "outstanding loans inside the circle network total {:.2}, at or above {limit}",
                    cents(outstanding)
                ),
                true,
            );
        }
    }
    if found.truncated {
        reasons.push(Reason {
            code: "GC_CIRCLES_TRUNCATED".into(),
            message: format!(
                "more circles exist than listed (max_cycles {}, max_search_steps {})",
                config.max_cycles, config.max_search_steps
            ),
            weight: 0.1,
        });
    }
    let risk_flag = match (in_circle, high) {
        (false, _) => RiskFlag::None,
        (true, false) => RiskFlag::Watch,
        (true, true) => RiskFlag::High,
    };
    let members: Vec<String> = found
        .component
        .iter()
        .take(listed)
        .map(|&v| g.ids[v].clone())
        .collect();
    Ok(Report {
        applicant: applicant.to_string(),
        in_circle,
        risk_flag,
        reason_codes: reasons.iter().map(|r| r.code.clone()).collect(),
        shortest_circle_length: found.shortest,
        network: CircleNetwork {
            size: found.component.len(),
            members_truncated: found.component.len() > listed,
            members,
        },
        mutual_guarantees: mutual,
        mutual_guarantee_count: mutual_count,
        mutual_guarantees_truncated: mutual_count > listed,
        circles,
        circles_truncated: found.truncated,
        total_exposure: TotalExposure {
            guaranteed: cents(guaranteed),
            outstanding: cents(outstanding),
            members_without_outstanding: without,
        },
        distressed_members: distressed,
        stats: Stats {
            parties: g.ids.len(),
            guarantee_pairs: g.amounts.len(),
            inactive_relations: network.inactive,
            self_guarantees_ignored: g.self_guarantees,
            search_steps: found.steps,
            max_cycle_length: config.max_cycle_length,
            max_cycles: config.max_cycles,
        },
        reasons,
    })
}

/// One call, from the SDK's input to its output: what the component runs.
pub fn run_input(input: &Input) -> Result<Output, Error> {
    run_config(&Config::parse(&input.config)?, &input.vars)
}

/// One call with the config already parsed and checked.
pub fn run_config(config: &Config, vars: &Value) -> Result<Output, Error> {
    let (applicant, network) = input::read(config, vars)?;
    let report = analyse(config, &applicant, &network)?;
    let result: Value = serde_json::to_value(&report)
        .map_err(|e| Error::config("(root)", format!("result could not be encoded: {e}")))?;
    Ok(Output {
        result,
        outcome: Some(report.risk_flag.as_str().to_string()),
        score: None,
        reasons: report.reasons,
    })
}

pub struct GuaranteeCircle;

impl TextPlugin for GuaranteeCircle {
    /// The checked config: once per config when the host prepares it.
    type Config = Config;

    fn describe() -> Info {
        Info {
            name: NAME.into(),
            version: VERSION.into(),
            config_schema: schema::config_schema(),
            output_schema: schema::output_schema(),
        }
    }

    fn prepare(config: Json<'_>) -> Result<Config, plugin_sdk::Error> {
        // Not JSON: the SDK reports the host's mistake (`invalid_input`) instead.
        let value = config
            .value()
            .map_err(|e| Error::config("(root)", e.to_string()))?;
        Ok(Config::parse(&value)?)
    }

    /// The network is read from `Value`s (it is the whole of what the plugin reads).
    fn run(
        input: &TextInput<'_>,
        config: Result<&Config, plugin_sdk::Error>,
    ) -> Result<TextOutput, plugin_sdk::Error> {
        let config = config?;
        let vars = input.vars.value().map_err(|e| {
            plugin_sdk::Error::new(
                "invalid_input",
                format!("input field `vars` is not valid JSON: {}", e.message),
            )
        })?;
        let output = run_config(config, &vars)?;
        Ok(TextOutput {
            result: plugin_sdk::to_json(&output.result)?,
            outcome: output.outcome,
            score: output.score,
            reasons: output.reasons,
        })
    }
}

#[cfg(test)]
mod tests;

plugin_sdk::export_text_plugin!(GuaranteeCircle);

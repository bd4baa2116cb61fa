//! What one call reads: the node config (bounds, risk thresholds, static relations) and
//! the guarantee network in the case variables, every problem named by JSON pointer.

use crate::error::Error;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// Hard ceilings on the configurable bounds: config cannot lift the work past these.
pub const CEILING_CYCLE_LENGTH: u32 = 12;
pub const CEILING_CYCLES: u32 = 1_000;
pub const CEILING_SEARCH_STEPS: u64 = 10_000_000;
pub const CEILING_RELATIONS: u32 = 200_000;
pub const CEILING_PARTIES: u32 = 100_000;
pub const CEILING_LISTED: u32 = 10_000;

pub use plugin_sdk::path::VarPath;

/// Key of a party id: NFKC (full-width → half-width), upper case, letters and digits
/// only, so `９１３５ 0100-m000100y43` and `91350100M000100Y43` are one party.
pub fn party_key(s: &str) -> String {
    s.nfkc()
        .flat_map(char::to_uppercase)
        .filter(|c| c.is_alphanumeric())
        .collect()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Risk {
    /// `high` when the guarantees inside the applicant's circle network add up to this.
    #[serde(default)]
    pub high_guaranteed_exposure: Option<f64>,
    /// `high` when the members' outstanding loans add up to this.
    #[serde(default)]
    pub high_outstanding_exposure: Option<f64>,
    /// `high` when another member of the circle network is in distress.
    #[serde(default = "yes")]
    pub high_on_distressed_member: bool,
    /// `high` when the applicant is in a mutual guarantee (互保).
    #[serde(default)]
    pub high_on_mutual_guarantee: bool,
    /// Party statuses that count as distress (compared case-insensitively).
    #[serde(default = "default_distress")]
    pub distress_statuses: Vec<String>,
}

impl Default for Risk {
    fn default() -> Self {
        Self {
            high_guaranteed_exposure: None,
            high_outstanding_exposure: None,
            high_on_distressed_member: true,
            high_on_mutual_guarantee: false,
            distress_statuses: default_distress(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_distress() -> Vec<String> {
    vec!["default".into(), "written_off".into()]
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The applicant's party id in the case.
    #[serde(default = "default_applicant")]
    pub applicant: VarPath,
    /// The network in the case: `{relations: [...], parties: [...]}`. `null` → config only.
    #[serde(default = "default_network")]
    pub network: Option<VarPath>,
    /// Relations known to the flow itself (e.g. a registry snapshot), added to the case's.
    #[serde(default)]
    pub relations: Vec<Value>,
    #[serde(default)]
    pub parties: Vec<Value>,
    /// Longest circle enumerated (members = edges). Circles longer still count for
    /// `in_circle` and the network exposure, but are not listed.
    #[serde(default = "default_cycle_length")]
    pub max_cycle_length: u32,
    /// Most circles listed; more are reported as `circles_truncated`.
    #[serde(default = "default_cycles")]
    pub max_cycles: u32,
    /// Work budget of the enumeration (edge visits).
    #[serde(default = "default_steps")]
    pub max_search_steps: u64,
    /// Larger inputs are refused with `input_too_large`.
    #[serde(default = "default_relations")]
    pub max_relations: u32,
    #[serde(default = "default_parties")]
    pub max_parties: u32,
    /// Most network members and mutual guarantees listed (counts are always exact).
    #[serde(default = "default_listed")]
    pub max_listed: u32,
    #[serde(default)]
    pub risk: Risk,
}

fn default_applicant() -> VarPath {
    VarPath::of("/applicant/credit_code")
}
fn default_network() -> Option<VarPath> {
    Some(VarPath::of("/guarantee_network"))
}
fn default_cycle_length() -> u32 {
    6
}
fn default_cycles() -> u32 {
    50
}
fn default_steps() -> u64 {
    200_000
}
fn default_relations() -> u32 {
    20_000
}
fn default_parties() -> u32 {
    10_000
}
fn default_listed() -> u32 {
    200
}

/// Extends `base` with serde's failure path, as a JSON pointer.
fn pointer(base: &str, path: &serde_path_to_error::Path) -> String {
    let mut out = base.to_string();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                out.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1")))
            }
            _ => {}
        }
    }
    out
}

fn typed<T: DeserializeOwned>(value: Value, at: &str) -> Result<T, Error> {
    serde_path_to_error::deserialize(value)
        .map_err(|e| Error::config(pointer(at, e.path()), e.inner().to_string()))
}

impl Config {
    /// Parses and checks a node config; `null` means every default.
    pub fn parse(value: &Value) -> Result<Self, Error> {
        let value = if value.is_null() {
            Value::Object(Map::new())
        } else {
            value.clone()
        };
        if !value.is_object() {
            return Err(Error::config("(root)", "the config must be an object"));
        }
        let c: Config = typed(value, "")?;
        let bound = |name: &str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::config(
                    format!("/{name}"),
                    format!("must be from {lo} to {hi}, found {v}"),
                ))
            }
        };
        bound(
            "max_cycle_length",
            c.max_cycle_length.into(),
            2,
            CEILING_CYCLE_LENGTH.into(),
        )?;
        bound("max_cycles", c.max_cycles.into(), 1, CEILING_CYCLES.into())?;
        bound(
            "max_search_steps",
            c.max_search_steps,
            1,
            CEILING_SEARCH_STEPS,
        )?;
        bound(
            "max_relations",
            c.max_relations.into(),
            1,
            CEILING_RELATIONS.into(),
        )?;
        bound(
            "max_parties",
            c.max_parties.into(),
            2,
            CEILING_PARTIES.into(),
        )?;
        bound("max_listed", c.max_listed.into(), 1, CEILING_LISTED.into())?;
        for (name, v) in [
            ("high_guaranteed_exposure", c.risk.high_guaranteed_exposure),
            (
                "high_outstanding_exposure",
                c.risk.high_outstanding_exposure,
            ),
        ] {
            if v.is_some_and(|x| x <= 0.0) {
                return Err(Error::config(
                    format!("/risk/{name}"),
                    "must be a positive amount",
                ));
            }
        }
        Ok(c)
    }
}

/// One guarantee: `guarantor` guarantees `borrower`'s debt up to `amount`.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    pub guarantor: String,
    pub borrower: String,
    pub amount: f64,
}

/// What is known about a party besides its guarantees.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Party {
    pub name: Option<String>,
    pub outstanding: Option<f64>,
    pub status: Option<String>,
}

/// The network of one call, config and case together, ids normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Network {
    pub relations: Vec<Relation>,
    /// Id key → party, in id order.
    pub parties: std::collections::BTreeMap<String, Party>,
    /// Relations marked `active: false` (expired or released guarantees).
    pub inactive: usize,
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A non-negative amount: a number, or a string holding a plain decimal.
fn amount(v: &Value, at: &str) -> Result<f64, Error> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => {
            let t = s.trim();
            let plain = !t.is_empty()
                && t.bytes().all(|c| c.is_ascii_digit() || c == b'.')
                && t.bytes().filter(|&c| c == b'.').count() <= 1;
            if plain { t.parse().ok() } else { None }
        }
        _ => None,
    };
    match n {
        Some(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(Error::input(
            at,
            format!("expected a non-negative amount, found {v}"),
        )),
    }
}

/// Text: strings, or whole numbers (customer numbers are sometimes numeric).
pub(crate) fn text(v: &Value, at: &str) -> Result<String, Error> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Ok(n.to_string()),
        other => Err(Error::input(
            at,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn party_id(v: Option<&Value>, at: &str) -> Result<String, Error> {
    let v = v
        .filter(|v| !v.is_null())
        .ok_or_else(|| Error::input(at, "a party id is required"))?;
    let raw = text(v, at)?;
    let key = party_key(&raw);
    if key.is_empty() {
        return Err(Error::input(
            at,
            format!("party id `{raw}` has no letters or digits"),
        ));
    }
    Ok(key)
}

impl Network {
    /// Adds a list of relations found at `at` (`config/...` or a case pointer).
    fn add_relations(&mut self, list: &[Value], at: &str, config: bool) -> Result<(), Error> {
        for (i, r) in list.iter().enumerate() {
            let rat = format!("{at}/{i}");
            let bad = |p: String, m: String| {
                if config {
                    Error::config(p, m)
                } else {
                    Error::input(p, m)
                }
            };
            let obj = r.as_object().ok_or_else(|| {
                bad(
                    rat.clone(),
                    format!("expected a relation object, found {}", kind_of(r)),
                )
            })?;
            let field = |k: &str| obj.get(k).filter(|v| !v.is_null());
            let guarantor = party_id(field("guarantor"), &format!("{rat}/guarantor"))
                .map_err(|e| relabel(e, config))?;
            let borrower = party_id(field("borrower"), &format!("{rat}/borrower"))
                .map_err(|e| relabel(e, config))?;
            let amount = match field("amount") {
                Some(v) => amount(v, &format!("{rat}/amount")).map_err(|e| relabel(e, config))?,
                None => {
                    return Err(bad(
                        format!("{rat}/amount"),
                        "a relation needs its guaranteed amount".into(),
                    ));
                }
            };
            let active = match field("active") {
                None => true,
                Some(Value::Bool(b)) => *b,
                Some(other) => {
                    return Err(bad(
                        format!("{rat}/active"),
                        format!("expected a boolean, found {}", kind_of(other)),
                    ));
                }
            };
            if active {
                self.relations.push(Relation {
                    guarantor,
                    borrower,
                    amount,
                });
            } else {
                self.inactive += 1;
            }
        }
        Ok(())
    }

    fn add_parties(&mut self, list: &[Value], at: &str, config: bool) -> Result<(), Error> {
        for (i, p) in list.iter().enumerate() {
            let pat = format!("{at}/{i}");
            let obj = p.as_object().ok_or_else(|| {
                relabel(
                    Error::input(
                        &pat,
                        format!("expected a party object, found {}", kind_of(p)),
                    ),
                    config,
                )
            })?;
            let field = |k: &str| obj.get(k).filter(|v| !v.is_null());
            let id = party_id(field("id"), &format!("{pat}/id")).map_err(|e| relabel(e, config))?;
            let party = Party {
                name: field("name")
                    .map(|v| text(v, &format!("{pat}/name")))
                    .transpose()
                    .map_err(|e| relabel(e, config))?,
                outstanding: field("outstanding")
                    .map(|v| amount(v, &format!("{pat}/outstanding")))
                    .transpose()
                    .map_err(|e| relabel(e, config))?,
                status: field("status")
                    .map(|v| text(v, &format!("{pat}/status")))
                    .transpose()
                    .map_err(|e| relabel(e, config))?,
            };
            // One party described twice would make its exposure ambiguous.
            if self.parties.insert(id.clone(), party).is_some() {
                return Err(relabel(
                    Error::input(format!("{pat}/id"), format!("party {id} is listed twice")),
                    config,
                ));
            }
        }
        Ok(())
    }
}

/// Errors found in config-supplied data are config errors.
fn relabel(e: Error, config: bool) -> Error {
    match e {
        Error::InvalidInput { pointer, message } if config => {
            Error::InvalidConfig { pointer, message }
        }
        other => other,
    }
}

/// The applicant's party id and the whole network, bounded by the config's limits.
pub fn read(config: &Config, vars: &Value) -> Result<(String, Network), Error> {
    let applicant = match config.applicant.get(vars) {
        None => return Err(Error::MissingInput(config.applicant.as_str().to_string())),
        found => party_id(found, config.applicant.as_str())?,
    };
    let mut network = Network::default();
    let mut relations_at: Option<(String, usize)> = None;
    if let Some(path) = &config.network {
        match path.get(vars) {
            None if config.relations.is_empty() => {
                return Err(Error::MissingInput(path.as_str().to_string()));
            }
            None => {}
            Some(v) => {
                let obj = v.as_object().ok_or_else(|| {
                    Error::input(
                        path.as_str(),
                        format!("expected {{relations, parties}}, found {}", kind_of(v)),
                    )
                })?;
                let list = |key: &str| -> Result<&[Value], Error> {
                    match obj.get(key) {
                        None | Some(Value::Null) => Ok(&[]),
                        Some(Value::Array(a)) => Ok(a.as_slice()),
                        Some(other) => Err(Error::input(
                            format!("{}/{key}", path.as_str()),
                            format!("expected an array, found {}", kind_of(other)),
                        )),
                    }
                };
                let (relations, parties) = (list("relations")?, list("parties")?);
                let rel_at = format!("{}/relations", path.as_str());
                let limit = config.max_relations as usize;
                if relations.len() + config.relations.len() > limit {
                    return Err(Error::TooLarge {
                        pointer: rel_at,
                        what: "relations",
                        found: relations.len() + config.relations.len(),
                        limit,
                    });
                }
                if parties.len() + config.parties.len() > config.max_parties as usize {
                    return Err(Error::TooLarge {
                        pointer: format!("{}/parties", path.as_str()),
                        what: "parties",
                        found: parties.len() + config.parties.len(),
                        limit: config.max_parties as usize,
                    });
                }
                relations_at = Some((rel_at.clone(), relations.len()));
                network.add_relations(relations, &rel_at, false)?;
                network.add_parties(parties, &format!("{}/parties", path.as_str()), false)?;
            }
        }
    }
    if relations_at.is_none() && config.relations.len() > config.max_relations as usize {
        return Err(Error::TooLarge {
            pointer: "/relations".into(),
            what: "relations",
            found: config.relations.len(),
            limit: config.max_relations as usize,
        });
    }
    network.add_relations(&config.relations, "/relations", true)?;
    network.add_parties(&config.parties, "/parties", true)?;
    Ok((applicant, network))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_bounds() {
        let c = Config::parse(&Value::Null).unwrap();
        assert_eq!(c.applicant.as_str(), "/applicant/credit_code");
        assert_eq!(
            (c.max_cycle_length, c.max_cycles, c.max_search_steps),
            (6, 50, 200_000)
        );
        assert!(c.risk.high_on_distressed_member);
        let err = |v: Value| Config::parse(&v).unwrap_err().to_string();
        assert!(
            err(json!({"max_cycle_length": 13}))
                .contains("at /max_cycle_length: must be from 2 to 12")
        );
        assert!(err(json!({"max_cycle_length": 1})).contains("/max_cycle_length"));
        assert!(err(json!({"max_cycles": 0})).contains("/max_cycles"));
        assert!(
            err(json!({"risk": {"high_guaranteed_exposure": -1}}))
                .contains("/risk/high_guaranteed_exposure")
        );
        assert!(
            err(json!({"risk": {"high_exposure": 1}})).contains("unknown field `high_exposure`")
        );
        assert!(err(json!({"applicant": "a..b"})).contains("at /applicant"));
        assert!(err(json!({"max_cycles": "many"})).contains("at /max_cycles"));
        assert!(err(json!([1])).contains("(root)"));
    }

    #[test]
    fn ids_are_normalised() {
        assert_eq!(party_key("９１３５ 0100-m000100y43"), "91350100M000100Y43");
        assert_eq!(party_key("c-001"), "C001");
    }

    #[test]
    fn the_network_is_read_with_pointers() {
        let c = Config::parse(
            &json!({"relations": [{"guarantor": "X", "borrower": "Y", "amount": 5}]}),
        )
        .unwrap();
        let vars = json!({
            "applicant": {"credit_code": "a"},
            "guarantee_network": {
                "relations": [{"guarantor": "A", "borrower": "B", "amount": "1000.50", "contract": "c1"},
                              {"guarantor": "B", "borrower": "A", "amount": 10, "active": false}],
                "parties": [{"id": "b", "name": "B Co", "outstanding": 300, "status": "Default"}]
            }
        });
        let (applicant, n) = read(&c, &vars).unwrap();
        assert_eq!(applicant, "A");
        assert_eq!(n.relations.len(), 2);
        assert_eq!(
            n.relations[0],
            Relation {
                guarantor: "A".into(),
                borrower: "B".into(),
                amount: 1000.5
            }
        );
        assert_eq!(n.inactive, 1);
        assert_eq!(n.parties["B"].outstanding, Some(300.0));
    }

    #[test]
    fn bad_network_data_names_the_place() {
        let c = Config::parse(&Value::Null).unwrap();
        let run = |net: Value| {
            read(
                &c,
                &json!({"applicant": {"credit_code": "A"}, "guarantee_network": net}),
            )
            .unwrap_err()
        };
        let e = run(json!({"relations": [{"guarantor": "A", "borrower": "B", "amount": -1}]}));
        assert_eq!(e.code(), "invalid_input");
        assert!(
            e.to_string()
                .contains("/guarantee_network/relations/0/amount"),
            "{e}"
        );
        let e = run(json!({"relations": [{"guarantor": "A", "amount": 1}]}));
        assert!(
            e.to_string()
                .contains("/guarantee_network/relations/0/borrower"),
            "{e}"
        );
        let e = run(json!({"relations": [{"guarantor": "--", "borrower": "B", "amount": 1}]}));
        assert!(e.to_string().contains("no letters or digits"), "{e}");
        let e = run(json!({"relations": {}}));
        assert!(
            e.to_string()
                .contains("/guarantee_network/relations: expected an array"),
            "{e}"
        );
        let e = run(json!({"parties": [{"id": "x"}, {"id": "X "}]}));
        assert!(
            e.to_string()
                .contains("/guarantee_network/parties/1/id: party X is listed twice"),
            "{e}"
        );
        let e = read(&c, &json!({"applicant": {}, "guarantee_network": {}})).unwrap_err();
        assert_eq!(e, Error::MissingInput("/applicant/credit_code".into()));
        let e = read(&c, &json!({"applicant": {"credit_code": "A"}})).unwrap_err();
        assert_eq!(e, Error::MissingInput("/guarantee_network".into()));
        let bad_cfg =
            Config::parse(&json!({"relations": [{"guarantor": "A", "borrower": "B"}]})).unwrap();
        let e = read(&bad_cfg, &json!({"applicant": {"credit_code": "A"}})).unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        assert!(e.to_string().contains("/relations/0/amount"), "{e}");
    }

    #[test]
    fn oversized_networks_are_refused_before_any_work() {
        let c = Config::parse(&json!({"max_relations": 3, "max_parties": 2})).unwrap();
        let rel = json!({"guarantor": "A", "borrower": "B", "amount": 1});
        let e = read(&c, &json!({"applicant": {"credit_code": "A"}, "guarantee_network": {"relations": [rel, rel, rel, rel]}})).unwrap_err();
        assert_eq!(e.code(), "input_too_large");
        assert_eq!(
            e.to_string(),
            "input too large at /guarantee_network/relations: 4 relations, the limit is 3"
        );
        let p = json!({"id": "A"});
        let e = read(&c, &json!({"applicant": {"credit_code": "A"}, "guarantee_network": {"parties": [p, p, p]}})).unwrap_err();
        assert_eq!(e.code(), "input_too_large");
    }
}

//! A scorecard as written in the node config, and its validation into a [`Card`] whose
//! every bin already carries its points.

use crate::error::Error;
use crate::path::DotPath;
use plugin_sdk::json::{Json, Kind, ParseError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Bounds on a card: a broken or hostile config is an error, not a slow step.
pub const MAX_CHARACTERISTICS: usize = 100;
pub const MAX_BINS: usize = 100;
pub const MAX_CATEGORY_VALUES: usize = 1_000;

/// How bins give points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Model {
    /// Each bin states its points; score = `base_points` + Σ points.
    #[default]
    Points,
    /// Each bin states its weight of evidence; with the characteristic's `coefficient`, the
    /// card's `intercept` and `scaling`, a log-odds model (of good:bad) is mapped to points.
    Woe,
}

/// Standard scaling: `base_score` points at odds `base_odds` (good:bad); every `pdo`
/// points double the odds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scaling {
    pub base_score: f64,
    pub base_odds: f64,
    pub pdo: f64,
}

impl Scaling {
    /// `pdo / ln 2`.
    pub fn factor(&self) -> f64 {
        self.pdo / core::f64::consts::LN_2
    }

    /// `base_score - factor · ln(base_odds)`.
    pub fn offset(&self) -> f64 {
        self.base_score - self.factor() * libm::log(self.base_odds)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatioConfig {
    pub numerator: String,
    pub denominator: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinConfig {
    /// Numeric bins: `[min, max)`; either end may be left out (unbounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Categorical bins: the values that fall in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub woe: Option<f64>,
    /// Shown in the result instead of the generated `[min, max)` / `a|b` label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CharacteristicConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Dot path into the case variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variable: Option<String>,
    /// Instead of `variable`: numerator / denominator, both dot paths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ratio: Option<RatioConfig>,
    pub reason_code: String,
    /// Adverse-action text for this characteristic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Reason code when the value is missing (default: `reason_code`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_reason_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coefficient: Option<f64>,
    pub bins: Vec<BinConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_points: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing_woe: Option<f64>,
    /// For a value that falls in no bin; without it such a value fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_points: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_woe: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradeConfig {
    pub grade: String,
    /// Lowest score of the band; left out on the last (catch-all) band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
    /// Suggested routing outcome, e.g. `approve`, `refer`, `decline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
}

/// The node config: one scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CardConfig {
    /// Card id and version, echoed in the result (e.g. `retail-v1`).
    pub card: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default)]
    pub model: Model,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scaling: Option<Scaling>,
    /// Points model: constant added to the sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_points: Option<f64>,
    /// WoE model: the log-odds (good:bad) intercept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intercept: Option<f64>,
    /// Round each characteristic's points to a whole number (half away from zero).
    #[serde(default = "default_round_points")]
    pub round_points: bool,
    pub characteristics: Vec<CharacteristicConfig>,
    /// Best band first.
    pub grades: Vec<GradeConfig>,
    /// How many adverse reasons to report.
    #[serde(default = "default_max_reasons")]
    pub max_reasons: usize,
}

fn default_round_points() -> bool {
    true
}

fn default_max_reasons() -> usize {
    4
}

/// Where a characteristic's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    Variable(DotPath),
    /// Missing when either side is missing or the denominator is zero.
    Ratio {
        numerator: DotPath,
        denominator: DotPath,
    },
}

/// How a value finds its bin.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// `[min, max)` per bin, parallel to the bins; validated not to overlap.
    Numeric(Vec<(Option<f64>, Option<f64>)>),
    /// Canonical value text → bin index.
    Categorical(BTreeMap<String, usize>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub label: Label,
    /// `label` written out: once, when the card is compiled (prepared), not per call.
    pub label_text: String,
    pub points: f64,
    pub woe: Option<f64>,
}

/// A bin's name in results: the card's own `label`, or one made from the bin. Written
/// out once, when the card is compiled ([`Bin::label_text`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Label {
    Given(String),
    /// `[min, max)`, `>= min`, `< max` or `any`.
    Range(Option<f64>, Option<f64>),
    /// The bin's categories joined with `|`.
    Values(Vec<String>),
}

impl Label {
    pub fn text(&self) -> String {
        match self {
            Label::Given(label) => label.clone(),
            Label::Range(Some(lo), Some(hi)) => format!("[{}, {})", fmt_num(*lo), fmt_num(*hi)),
            Label::Range(Some(lo), None) => format!(">= {}", fmt_num(*lo)),
            Label::Range(None, Some(hi)) => format!("< {}", fmt_num(*hi)),
            Label::Range(None, None) => "any".to_string(),
            Label::Values(keys) => keys.join("|"),
        }
    }
}

/// Points for a missing or unmatched value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fallback {
    pub points: f64,
    pub woe: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Characteristic {
    pub name: String,
    pub description: Option<String>,
    pub source: Source,
    pub reason_code: String,
    pub reason: Option<String>,
    pub missing_reason_code: Option<String>,
    pub matcher: Matcher,
    pub bins: Vec<Bin>,
    pub missing: Option<Fallback>,
    pub other: Option<Fallback>,
    /// The best points any bin gives: what an adverse reason is measured against.
    pub max_points: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grade {
    pub grade: String,
    pub min_score: Option<f64>,
    pub decision: Option<String>,
}

/// A validated card, ready to score.
#[derive(Debug, Clone, PartialEq)]
pub struct Card {
    pub id: String,
    pub model: Model,
    pub scaling: Option<Scaling>,
    /// Added to the sum of characteristic points (0 in the WoE model, where the offset
    /// and intercept are spread over the characteristics).
    pub base_points: f64,
    pub characteristics: Vec<Characteristic>,
    pub grades: Vec<Grade>,
    pub max_reasons: usize,
}

/// The canonical text of a categorical value: strings as they are, numbers and booleans
/// as JSON writes them. `None` for anything else.
pub fn category_key(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn fmt_num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

impl CardConfig {
    /// Parses and validates the node config.
    pub fn parse(value: &Value) -> Result<Card, Error> {
        let text = value.to_string();
        let json = Json::document(&text).map_err(|e| Error::config("", e.message))?;
        Self::parse_json(json)
    }

    /// [`CardConfig::parse`] straight from the config's text (no `Value` tree).
    pub fn parse_json(json: Json<'_>) -> Result<Card, Error> {
        if json.kind() != Kind::Object {
            let shown = json
                .value()
                .map_or_else(|_| json.text().to_string(), |v| v.to_string());
            return Err(Error::config(
                "",
                format!("must be a scorecard object, got {shown}"),
            ));
        }
        let config: CardConfig = json
            .parse()
            .map_err(|e: ParseError| Error::config(e.pointer, e.message))?;
        config.compile()
    }

    fn compile(self) -> Result<Card, Error> {
        if self.card.trim().is_empty() {
            return Err(Error::config(
                "/card",
                "must name the card, e.g. `retail-v1`",
            ));
        }
        if let Some(s) = &self.scaling {
            if s.pdo <= 0.0 {
                return Err(Error::config(
                    "/scaling/pdo",
                    format!("must be positive, got {}", s.pdo),
                ));
            }
            if s.base_odds <= 0.0 {
                return Err(Error::config(
                    "/scaling/base_odds",
                    format!("must be positive, got {}", s.base_odds),
                ));
            }
        }
        // In the WoE model the offset and intercept are spread evenly over the
        // characteristics (Siddiqi), so each bin's points stand on their own.
        let woe_share = match self.model {
            Model::Points => {
                if self.intercept.is_some() {
                    return Err(Error::config(
                        "/intercept",
                        "only the `woe` model has an intercept",
                    ));
                }
                None
            }
            Model::Woe => {
                let scaling = self.scaling.ok_or_else(|| {
                    Error::config(
                        "/scaling",
                        "the `woe` model needs scaling {base_score, base_odds, pdo}",
                    )
                })?;
                let intercept = self.intercept.ok_or_else(|| {
                    Error::config("/intercept", "the `woe` model needs the log-odds intercept")
                })?;
                if self.base_points.is_some() {
                    return Err(Error::config(
                        "/base_points",
                        "the `woe` model has no base points: the scaling offset takes their place",
                    ));
                }
                let n = self.characteristics.len().max(1) as f64;
                Some(WoeShare {
                    factor: scaling.factor(),
                    per_characteristic: (intercept * scaling.factor() + scaling.offset()) / n,
                })
            }
        };
        if self.characteristics.is_empty() {
            return Err(Error::config(
                "/characteristics",
                "a card needs at least one characteristic",
            ));
        }
        if self.characteristics.len() > MAX_CHARACTERISTICS {
            return Err(Error::config(
                "/characteristics",
                format!(
                    "{} characteristics; at most {MAX_CHARACTERISTICS}",
                    self.characteristics.len()
                ),
            ));
        }
        let mut characteristics: Vec<Characteristic> =
            Vec::with_capacity(self.characteristics.len());
        for (i, c) in self.characteristics.into_iter().enumerate() {
            let at = At(i);
            if c.name.trim().is_empty() {
                return Err(Error::config(at.key("name"), "must not be empty"));
            }
            if characteristics.iter().any(|earlier| earlier.name == c.name) {
                return Err(Error::config(
                    at.key("name"),
                    format!("`{}` is used by an earlier characteristic", c.name),
                ));
            }
            characteristics.push(compile_characteristic(c, at, self.round_points, woe_share)?);
        }
        let grades = compile_grades(self.grades)?;
        Ok(Card {
            id: self.card,
            model: self.model,
            scaling: self.scaling,
            base_points: self.base_points.unwrap_or(0.0),
            characteristics,
            grades,
            max_reasons: self.max_reasons,
        })
    }
}

/// Where characteristic `.0` sits in the config; its JSON pointers are only written
/// out for an error.
#[derive(Debug, Clone, Copy)]
struct At(usize);

impl At {
    fn here(self) -> String {
        format!("/characteristics/{}", self.0)
    }

    fn key(self, key: &str) -> String {
        format!("/characteristics/{}/{key}", self.0)
    }

    fn bin(self, j: usize) -> String {
        format!("/characteristics/{}/bins/{j}", self.0)
    }
}

#[derive(Debug, Clone, Copy)]
struct WoeShare {
    factor: f64,
    /// `(intercept · factor + offset) / n`.
    per_characteristic: f64,
}

fn dot_path(pointer: &str, s: &str) -> Result<DotPath, Error> {
    DotPath::parse(s).ok_or_else(|| {
        Error::config(
            pointer,
            format!("`{s}` is not a dot path like `applicant.monthly_income`"),
        )
    })
}

fn compile_characteristic(
    c: CharacteristicConfig,
    at: At,
    round: bool,
    woe: Option<WoeShare>,
) -> Result<Characteristic, Error> {
    let source = match (&c.variable, &c.ratio) {
        (Some(v), None) => Source::Variable(dot_path(&at.key("variable"), v)?),
        (None, Some(r)) => Source::Ratio {
            numerator: dot_path(&at.key("ratio/numerator"), &r.numerator)?,
            denominator: dot_path(&at.key("ratio/denominator"), &r.denominator)?,
        },
        _ => {
            return Err(Error::config(
                at.here(),
                "give exactly one of `variable` and `ratio`",
            ));
        }
    };
    if c.reason_code.trim().is_empty() {
        return Err(Error::config(at.key("reason_code"), "must not be empty"));
    }
    if c.bins.is_empty() || c.bins.len() > MAX_BINS {
        return Err(Error::config(
            at.key("bins"),
            format!(
                "a characteristic has 1 to {MAX_BINS} bins, got {}",
                c.bins.len()
            ),
        ));
    }
    // The points of a bin (or fallback), whichever way the model states them.
    let coefficient = match woe {
        None => {
            for (key, set) in [
                ("coefficient", c.coefficient.is_some()),
                ("missing_woe", c.missing_woe.is_some()),
                ("other_woe", c.other_woe.is_some()),
            ] {
                if set {
                    return Err(Error::config(
                        at.key(key),
                        "only the `woe` model uses weights of evidence",
                    ));
                }
            }
            None
        }
        Some(_) => {
            for (key, set) in [
                ("missing_points", c.missing_points.is_some()),
                ("other_points", c.other_points.is_some()),
            ] {
                if set {
                    let woe_key = key.replace("points", "woe");
                    return Err(Error::config(
                        at.key(key),
                        format!("the `woe` model takes `{woe_key}`"),
                    ));
                }
            }
            Some(c.coefficient.ok_or_else(|| {
                Error::config(
                    at.here(),
                    "the `woe` model needs the characteristic's `coefficient`",
                )
            })?)
        }
    };
    let to_points = |points: Option<f64>,
                     woe_value: Option<f64>,
                     pointer: &dyn Fn() -> String,
                     what: &str|
     -> Result<(f64, Option<f64>), Error> {
        let (raw, w) = match (woe, coefficient) {
            (Some(share), Some(coef)) => {
                if points.is_some() {
                    return Err(Error::config(
                        pointer(),
                        format!("the `woe` model takes `woe` for {what}, not `points`"),
                    ));
                }
                let w = woe_value
                    .ok_or_else(|| Error::config(pointer(), format!("{what} needs its `woe`")))?;
                (share.factor * coef * w + share.per_characteristic, Some(w))
            }
            _ => {
                if woe_value.is_some() {
                    return Err(Error::config(
                        pointer(),
                        format!("the `points` model takes `points` for {what}, not `woe`"),
                    ));
                }
                (
                    points.ok_or_else(|| {
                        Error::config(pointer(), format!("{what} needs its `points`"))
                    })?,
                    None,
                )
            }
        };
        Ok((if round { raw.round() } else { raw }, w))
    };

    let categorical = c.bins[0].values.is_some();
    let mut bins = Vec::with_capacity(c.bins.len());
    let mut ranges = Vec::new();
    let mut categories = BTreeMap::new();
    for (j, b) in c.bins.into_iter().enumerate() {
        let bat = || at.bin(j);
        let (points, w) = to_points(b.points, b.woe, &bat, "a bin")?;
        let label = match (b.values, categorical) {
            (Some(values), true) => {
                if b.min.is_some() || b.max.is_some() {
                    return Err(Error::config(
                        bat(),
                        "a bin has either `values` or `min`/`max`, not both",
                    ));
                }
                if values.is_empty() || values.len() > MAX_CATEGORY_VALUES {
                    return Err(Error::config(
                        format!("{}/values", bat()),
                        format!("1 to {MAX_CATEGORY_VALUES} values"),
                    ));
                }
                let mut keys = Vec::with_capacity(values.len());
                for (k, v) in values.iter().enumerate() {
                    let key = category_key(v).ok_or_else(|| {
                        Error::config(
                            format!("{}/values/{k}", bat()),
                            "a category is a string, number or boolean",
                        )
                    })?;
                    if categories.insert(key.clone(), j).is_some() {
                        return Err(Error::config(
                            format!("{}/values/{k}", bat()),
                            format!("`{key}` is already in another bin"),
                        ));
                    }
                    keys.push(key);
                }
                Label::Values(keys)
            }
            (None, false) => {
                if let (Some(lo), Some(hi)) = (b.min, b.max)
                    && lo >= hi
                {
                    return Err(Error::config(
                        bat(),
                        format!("min {lo} must be below max {hi}"),
                    ));
                }
                ranges.push((b.min, b.max));
                Label::Range(b.min, b.max)
            }
            _ => {
                return Err(Error::config(
                    bat(),
                    "all bins of a characteristic are numeric (`min`/`max`) or all categorical (`values`)",
                ));
            }
        };
        let label = b.label.map_or(label, Label::Given);
        bins.push(Bin {
            label_text: label.text(),
            label,
            points,
            woe: w,
        });
    }
    if !categorical {
        check_no_overlap(&ranges, at)?;
    } else if c.ratio.is_some() {
        return Err(Error::config(
            at.key("ratio"),
            "a ratio is a number: give it numeric bins (`min`/`max`)",
        ));
    }
    let fallback = |points: Option<f64>,
                    woe_value: Option<f64>,
                    key: &str|
     -> Result<Option<Fallback>, Error> {
        if points.is_none() && woe_value.is_none() {
            return Ok(None);
        }
        let (points, woe) = to_points(points, woe_value, &|| at.key(key), key)?;
        Ok(Some(Fallback { points, woe }))
    };
    let missing = fallback(c.missing_points, c.missing_woe, "missing")?;
    let other = fallback(c.other_points, c.other_woe, "other")?;
    let max_points = bins
        .iter()
        .map(|b| b.points)
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(Characteristic {
        name: c.name,
        description: c.description,
        source,
        reason_code: c.reason_code,
        reason: c.reason,
        missing_reason_code: c.missing_reason_code,
        matcher: if categorical {
            Matcher::Categorical(categories)
        } else {
            Matcher::Numeric(ranges)
        },
        bins,
        missing,
        other,
        max_points,
    })
}

/// Numeric bins may leave gaps (values there use `other_points`) but never overlap.
fn check_no_overlap(ranges: &[(Option<f64>, Option<f64>)], at: At) -> Result<(), Error> {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    let lo = |i: usize| ranges[i].0.unwrap_or(f64::NEG_INFINITY);
    order.sort_by(|&a, &b| lo(a).total_cmp(&lo(b)).then(a.cmp(&b)));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let a_hi = ranges[a].1.unwrap_or(f64::INFINITY);
        if a_hi > lo(b) {
            return Err(Error::config(at.bin(b), format!("overlaps bin {a}")));
        }
    }
    Ok(())
}

fn compile_grades(grades: Vec<GradeConfig>) -> Result<Vec<Grade>, Error> {
    let Some(last) = grades.last() else {
        return Err(Error::config(
            "/grades",
            "a card needs at least one grade band",
        ));
    };
    if last.min_score.is_some() {
        return Err(Error::config(
            format!("/grades/{}/min_score", grades.len() - 1),
            "the last (worst) band catches every score below the others: leave out its min_score",
        ));
    }
    let mut names = BTreeSet::new();
    let mut previous: Option<f64> = None;
    for (i, g) in grades.iter().enumerate() {
        if g.grade.trim().is_empty() {
            return Err(Error::config(
                format!("/grades/{i}/grade"),
                "must not be empty",
            ));
        }
        if !names.insert(g.grade.as_str()) {
            return Err(Error::config(
                format!("/grades/{i}/grade"),
                format!("`{}` is used by an earlier band", g.grade),
            ));
        }
        if i + 1 < grades.len() {
            let min = g.min_score.ok_or_else(|| {
                Error::config(
                    format!("/grades/{i}/min_score"),
                    "every band but the last needs its min_score",
                )
            })?;
            if previous.is_some_and(|p| min >= p) {
                return Err(Error::config(
                    format!("/grades/{i}/min_score"),
                    "bands go from best to worst: min_score must fall from one band to the next",
                ));
            }
            previous = Some(min);
        }
    }
    Ok(grades
        .into_iter()
        .map(|g| Grade {
            grade: g.grade,
            min_score: g.min_score,
            decision: g.decision,
        })
        .collect())
}

//! Scoring a case against a validated [`Card`]: bin lookup, missing and unmatched
//! values, the score, its grade, the probability it implies and the adverse reasons.

use crate::card::{Card, Characteristic, Fallback, Matcher, Source, category_key};
use crate::error::Error;
use plugin_sdk::json::{Json, Kind, Vars};
use serde::Serialize;
use serde::ser::SerializeStruct;
use serde_json::{Value, json};

/// One characteristic's contribution.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub name: String,
    /// The value read (or the ratio computed); `Null` when missing.
    pub value: Value,
    /// The bin's label, or `missing` / `other`.
    pub bin: String,
    pub points: f64,
    pub max_points: f64,
    pub woe: Option<f64>,
    pub missing: bool,
}

/// A characteristic that cost the applicant points, as a reason code.
#[derive(Debug, Clone, PartialEq)]
pub struct AdverseReason {
    pub code: String,
    pub characteristic: String,
    pub points: f64,
    pub max_points: f64,
    pub message: String,
}

impl AdverseReason {
    pub fn points_lost(&self) -> f64 {
        self.max_points - self.points
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    pub card: String,
    pub score: f64,
    pub grade: String,
    pub decision: Option<String>,
    /// From the card's scaling: `1 / (1 + odds)`, `odds = exp((score - offset) / factor)`.
    pub probability_of_default: Option<f64>,
    pub contributions: Vec<Contribution>,
    /// Largest loss against the characteristic's best bin first; ties in card order;
    /// one entry per reason code.
    pub reasons: Vec<AdverseReason>,
}

/// What a characteristic's source yields.
enum Read {
    Missing,
    Number(f64),
    Category(String, Value),
}

/// A whole number as an integer, anything else as a float: `731`, not `731.0`.
pub fn num(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// Rounds to `digits` decimals, so host and wasm builds print the same figures.
fn round_to(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// A case variable's value as a `Value` (only small leaves are read this way).
fn value_of(v: Json<'_>, path: &crate::path::DotPath) -> Result<Value, Error> {
    v.value()
        .map_err(|e| Error::input(path.pointer(), e.message))
}

fn number_at(
    vars: &Vars<'_>,
    path: &crate::path::DotPath,
    c: &Characteristic,
) -> Result<Option<f64>, Error> {
    match path.find(vars) {
        None => Ok(None),
        Some(v) => match v.kind() {
            Kind::Null => Ok(None),
            Kind::Number => Ok(v.as_f64()),
            _ => Err(Error::input(
                path.pointer(),
                format!(
                    "characteristic `{}` needs a number here, got {}",
                    c.name,
                    value_of(v, path)?
                ),
            )),
        },
    }
}

fn read(vars: &Vars<'_>, c: &Characteristic) -> Result<Read, Error> {
    match (&c.source, &c.matcher) {
        (Source::Variable(path), Matcher::Numeric(_)) => {
            Ok(number_at(vars, path, c)?.map_or(Read::Missing, Read::Number))
        }
        (Source::Variable(path), Matcher::Categorical(_)) => match path.find(vars) {
            None => Ok(Read::Missing),
            Some(v) if v.is_null() => Ok(Read::Missing),
            Some(v) => {
                let v = value_of(v, path)?;
                let key = category_key(&v).ok_or_else(|| {
                    Error::input(
                        path.pointer(),
                        format!(
                            "characteristic `{}` needs a string, number or boolean here",
                            c.name
                        ),
                    )
                })?;
                Ok(Read::Category(key, v))
            }
        },
        (
            Source::Ratio {
                numerator,
                denominator,
            },
            _,
        ) => {
            let n = number_at(vars, numerator, c)?;
            let d = number_at(vars, denominator, c)?;
            // A zero denominator leaves the ratio undefined: the card's missing points
            // say what that is worth (e.g. debt-to-income without income).
            Ok(match (n, d) {
                (Some(n), Some(d)) if d != 0.0 => Read::Number(n / d),
                _ => Read::Missing,
            })
        }
    }
}

fn source_text(c: &Characteristic) -> String {
    match &c.source {
        Source::Variable(p) => p.pointer(),
        Source::Ratio {
            numerator,
            denominator,
        } => format!("{} / {}", numerator.pointer(), denominator.pointer()),
    }
}

fn contribution(c: &Characteristic, vars: &Vars<'_>) -> Result<Contribution, Error> {
    let value = read(vars, c)?;
    let matched = match &value {
        Read::Missing => None,
        Read::Number(x) => match &c.matcher {
            Matcher::Numeric(ranges) => ranges
                .iter()
                .position(|&(lo, hi)| lo.is_none_or(|lo| *x >= lo) && hi.is_none_or(|hi| *x < hi)),
            // The card forbids ratios with categorical bins; a number still finds its
            // category by its JSON text.
            Matcher::Categorical(map) => category_key(&num(*x)).and_then(|k| map.get(&k).copied()),
        },
        Read::Category(key, _) => match &c.matcher {
            Matcher::Categorical(map) => map.get(key).copied(),
            Matcher::Numeric(_) => None,
        },
    };
    let shown = match &value {
        Read::Missing => Value::Null,
        Read::Number(x) => num(round_to(*x, 6)),
        Read::Category(_, v) => v.clone(),
    };
    let fallback = |f: Option<Fallback>, label: &str, missing: bool| Contribution {
        name: c.name.clone(),
        value: shown.clone(),
        bin: label.to_string(),
        points: f.map_or(0.0, |f| f.points),
        max_points: c.max_points,
        woe: f.and_then(|f| f.woe),
        missing,
    };
    match (matched, &value) {
        (Some(i), _) => Ok(Contribution {
            name: c.name.clone(),
            value: shown.clone(),
            bin: c.bins[i].label_text.clone(),
            points: c.bins[i].points,
            max_points: c.max_points,
            woe: c.bins[i].woe,
            missing: false,
        }),
        (None, Read::Missing) => match c.missing {
            Some(_) => Ok(fallback(c.missing, "missing", true)),
            None => Err(Error::input(
                source_text(c),
                format!(
                    "missing: characteristic `{}` needs it and the card gives no points for a missing value",
                    c.name
                ),
            )),
        },
        (None, _) => match c.other {
            Some(_) => Ok(fallback(c.other, "other", false)),
            None => Err(Error::input(
                source_text(c),
                format!(
                    "value {shown} falls in no bin of characteristic `{}` and the card gives no other_points",
                    c.name
                ),
            )),
        },
    }
}

/// Scores the case variables `vars` with `card`.
pub fn score(card: &Card, vars: &Vars<'_>) -> Result<Scored, Error> {
    let contributions: Vec<Contribution> = card
        .characteristics
        .iter()
        .map(|c| contribution(c, vars))
        .collect::<Result<_, _>>()?;
    let score = card.base_points + contributions.iter().map(|c| c.points).sum::<f64>();
    let grade = card
        .grades
        .iter()
        .find(|g| g.min_score.is_none_or(|min| score >= min))
        .expect("the last band has no minimum");
    let probability_of_default = card.scaling.map(|s| {
        let odds = libm::exp((score - s.offset()) / s.factor());
        round_to(1.0 / (1.0 + odds), 6)
    });

    let mut ranked: Vec<(usize, &Contribution)> = contributions
        .iter()
        .enumerate()
        .filter(|(_, c)| c.max_points - c.points > 1e-9)
        .collect();
    // Stable sort: equal losses keep the card's order.
    ranked
        .sort_by(|(_, a), (_, b)| (b.max_points - b.points).total_cmp(&(a.max_points - a.points)));
    let mut reasons: Vec<AdverseReason> = Vec::new();
    for (i, contrib) in ranked {
        if reasons.len() >= card.max_reasons {
            break;
        }
        let c = &card.characteristics[i];
        let code = match (&c.missing_reason_code, contrib.missing) {
            (Some(code), true) => code.clone(),
            _ => c.reason_code.clone(),
        };
        if reasons.iter().any(|r| r.code == code) {
            continue;
        }
        let text = c
            .reason
            .as_deref()
            .or(c.description.as_deref())
            .unwrap_or(&c.name);
        let message = format!(
            "{text}: {} of {} points ({})",
            num(contrib.points),
            num(contrib.max_points),
            if contrib.missing {
                "missing".to_string()
            } else {
                match &contrib.value {
                    Value::String(text) => format!("{text} in {}", contrib.bin),
                    other => format!("{other} in {}", contrib.bin),
                }
            }
        );
        reasons.push(AdverseReason {
            code,
            characteristic: c.name.clone(),
            points: contrib.points,
            max_points: contrib.max_points,
            message,
        });
    }
    Ok(Scored {
        card: card.id.clone(),
        score,
        grade: grade.grade.clone(),
        decision: grade.decision.clone(),
        probability_of_default,
        contributions,
        reasons,
    })
}

impl Scored {
    /// The result document as canonical JSON text.
    pub fn to_json(&self) -> String {
        plugin_sdk::to_json(&ResultDoc(self)).expect("a score is plain data")
    }
}

/// A figure as `num` writes it: whole numbers as integers.
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = self.0;
        if x.fract() == 0.0 && x.abs() < 9.0e15 {
            s.serialize_i64(x as i64)
        } else {
            s.serialize_f64(x)
        }
    }
}

/// The result document, written straight to text. Members are written in key order (the
/// order of canonical JSON, so the SDK's writer never has to sort them).
struct ResultDoc<'a>(&'a Scored);

#[derive(Serialize)]
struct ReasonDoc<'a> {
    characteristic: &'a str,
    code: &'a str,
    max_points: Num,
    message: &'a str,
    points: Num,
    points_lost: Num,
}

struct CharacteristicDoc<'a>(&'a Contribution);

impl Serialize for CharacteristicDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut doc = s.serialize_struct("Characteristic", 6)?;
        doc.serialize_field("bin", &c.bin)?;
        doc.serialize_field("max_points", &Num(c.max_points))?;
        doc.serialize_field("name", &c.name)?;
        doc.serialize_field("points", &Num(c.points))?;
        doc.serialize_field("value", &c.value)?;
        if let Some(w) = c.woe {
            doc.serialize_field("woe", &w)?;
        }
        doc.end()
    }
}

impl Serialize for ResultDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut doc = s.serialize_struct("Result", 9)?;
        doc.serialize_field("card", &r.card)?;
        let characteristics: Vec<CharacteristicDoc<'_>> =
            r.contributions.iter().map(CharacteristicDoc).collect();
        doc.serialize_field("characteristics", &characteristics)?;
        doc.serialize_field("decision", &r.decision)?;
        doc.serialize_field("grade", &r.grade)?;
        let missing: Vec<&str> = r
            .contributions
            .iter()
            .filter(|c| c.missing)
            .map(|c| c.name.as_str())
            .collect();
        doc.serialize_field("missing", &missing)?;
        doc.serialize_field("probability_of_default", &r.probability_of_default)?;
        let codes: Vec<&str> = r.reasons.iter().map(|x| x.code.as_str()).collect();
        doc.serialize_field("reason_codes", &codes)?;
        let reasons: Vec<ReasonDoc<'_>> = r
            .reasons
            .iter()
            .map(|x| ReasonDoc {
                characteristic: &x.characteristic,
                code: &x.code,
                max_points: Num(x.max_points),
                message: &x.message,
                points: Num(x.points),
                points_lost: Num(x.points_lost()),
            })
            .collect();
        doc.serialize_field("reasons", &reasons)?;
        doc.serialize_field("score", &Num(r.score))?;
        doc.end()
    }
}

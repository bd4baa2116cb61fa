//! Watchlist: the applicant (and any other subjects: legal representative, guarantors…)
//! against listed names and ID numbers, compared on normalised keys.

use super::{Ctx, Finding, Severity, Violated, values};
use crate::error::Error;
use crate::normalize::{id_key, name_key};
use crate::vars::{self, Fault, VarPath};
use plugin_sdk::json::{Json, Kind};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::borrow::Cow;

/// Most hits listed in a result; the count is always exact.
const MAX_HITS_LISTED: usize = 50;

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    /// Which list it comes from (e.g. `sanctions`, `internal-blacklist`).
    #[serde(default)]
    pub list: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

/// Who is screened: the object (or every object of the array) at `path`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    pub role: String,
    pub path: VarPath,
    #[serde(default = "default_name_field")]
    pub name_field: String,
    #[serde(default = "default_id_field")]
    pub id_field: String,
    /// An absent optional subject is simply not screened (e.g. no guarantors).
    #[serde(default)]
    pub optional: bool,
}

fn default_name_field() -> String {
    "name".into()
}
fn default_id_field() -> String {
    "id_number".into()
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WatchlistRule {
    #[serde(default)]
    pub entries: Vec<Entry>,
    /// More entries from the case (`[{name, id_number, list, note}]`). `null` turns it
    /// off. When absent from the case it is required only if `entries` is empty: a
    /// screening against no list at all is a missing input, not a pass.
    #[serde(default = "default_vars_entries")]
    pub vars_entries: Option<VarPath>,
    #[serde(default = "default_subjects")]
    pub subjects: Vec<Subject>,
    /// Severity of hits on the name alone (names are not unique; IDs are). Defaults to
    /// the rule's severity.
    #[serde(default)]
    pub name_only_severity: Option<Severity>,
    /// The matching keys (name, id) of `entries`, in their order: computed once by
    /// `validate`, when the config is prepared, not in every call.
    #[serde(skip)]
    keys: Vec<Keys>,
}

fn default_vars_entries() -> Option<VarPath> {
    Some(VarPath::of("/watchlist"))
}
fn default_subjects() -> Vec<Subject> {
    vec![Subject {
        role: "applicant".into(),
        path: VarPath::of("/applicant"),
        name_field: default_name_field(),
        id_field: default_id_field(),
        optional: false,
    }]
}

/// One screened party: its role, where it is in the case, and what it is called.
struct Screened<'r, 'a> {
    subject: &'r Subject,
    /// Its index when the subject's path holds an array.
    index: Option<usize>,
    name: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
}

impl Screened<'_, '_> {
    fn pointer(&self) -> String {
        match self.index {
            Some(i) => format!("{}/{i}", self.subject.path.as_str()),
            None => self.subject.path.as_str().to_string(),
        }
    }
}

/// An entry with its matching keys.
struct Keyed<'a> {
    entry: &'a Entry,
    source: &'static str,
    name: &'a str,
    id: &'a str,
}

/// An entry's matching keys: `(name, id)`, each empty when absent.
type Keys = (String, String);

/// [`Keys`] of an entry.
fn entry_keys(e: &Entry) -> Keys {
    (
        e.name.as_deref().map(name_key).unwrap_or_default(),
        e.id_number.as_deref().map(id_key).unwrap_or_default(),
    )
}

impl WatchlistRule {
    pub(crate) fn validate(&mut self, at: &str) -> Result<(), Error> {
        let mut keys = Vec::with_capacity(self.entries.len());
        for (i, e) in self.entries.iter().enumerate() {
            let (name, id) = entry_keys(e);
            if name.is_empty() && id.is_empty() {
                return Err(Error::config(
                    format!("{at}/entries/{i}"),
                    "an entry needs a name or an id_number with letters or digits",
                ));
            }
            keys.push((name, id));
        }
        if self.subjects.is_empty() {
            return Err(Error::config(
                format!("{at}/subjects"),
                "name at least one subject to screen",
            ));
        }
        for (i, s) in self.subjects.iter().enumerate() {
            if s.role.trim().is_empty() {
                return Err(Error::config(
                    format!("{at}/subjects/{i}/role"),
                    "a subject needs a role",
                ));
            }
        }
        self.keys = keys;
        Ok(())
    }

    /// The case's own entries with their matching keys.
    fn case_entries(&self, ctx: &Ctx<'_, '_>) -> Result<Vec<(Entry, Keys)>, Fault> {
        let Some(path) = &self.vars_entries else {
            return Ok(Vec::new());
        };
        let Some(list) = vars::json(ctx.vars, path) else {
            return if self.entries.is_empty() {
                Err(Fault::Missing(path.as_str().to_string()))
            } else {
                Ok(Vec::new())
            };
        };
        if list.kind() != Kind::Array {
            return Err(Fault::invalid(
                path.as_str(),
                format!(
                    "expected an array of entries, found {}",
                    vars::kind_name(list)
                ),
            ));
        }
        let items = list.elements();
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.into_iter().enumerate() {
            if item.kind() != Kind::Object {
                return Err(Fault::invalid(
                    format!("{}/{i}", path.as_str()),
                    format!("expected an entry object, found {}", vars::kind_name(item)),
                ));
            }
            // Case data comes from outside: extra fields are tolerated, wrong types are not.
            let field = |k: &str| -> Result<Option<String>, Fault> {
                match ctx.vars.child(item, k).filter(|v| !v.is_null()) {
                    None => Ok(None),
                    Some(v) => vars::text_json(v, &format!("{}/{i}/{k}", path.as_str()))
                        .map(|t| Some(t.into_owned())),
                }
            };
            let entry = Entry {
                name: field("name")?,
                id_number: field("id_number")?,
                list: field("list")?,
                note: field("note")?,
            };
            let keys = entry_keys(&entry);
            out.push((entry, keys));
        }
        Ok(out)
    }

    /// Every subject to screen.
    fn subjects<'a>(&self, ctx: &Ctx<'_, 'a>) -> Result<Vec<Screened<'_, 'a>>, Fault> {
        let mut out = Vec::new();
        for s in &self.subjects {
            let Some(v) = vars::json(ctx.vars, &s.path) else {
                if s.optional {
                    continue;
                }
                return Err(Fault::Missing(s.path.as_str().to_string()));
            };
            let items: Vec<(Option<usize>, Json<'a>)> = match v.kind() {
                Kind::Array => v
                    .elements()
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| (Some(i), x))
                    .collect(),
                _ => vec![(None, v)],
            };
            for (index, item) in items {
                let mut screened = Screened {
                    subject: s,
                    index,
                    name: None,
                    id: None,
                };
                if item.kind() != Kind::Object {
                    return Err(Fault::invalid(
                        screened.pointer(),
                        format!("expected a subject object, found {}", vars::kind_name(item)),
                    ));
                }
                let field = |k: &str| -> Result<Option<Cow<'a, str>>, Fault> {
                    match ctx.vars.child(item, k).filter(|v| !v.is_null()) {
                        None => Ok(None),
                        Some(v) => {
                            vars::text_json(v, &format!("{}/{k}", screened.pointer())).map(Some)
                        }
                    }
                };
                let (name, id) = (field(&s.name_field)?, field(&s.id_field)?);
                if name.is_none() && id.is_none() {
                    return Err(Fault::invalid(
                        screened.pointer(),
                        format!(
                            "a {} needs `{}` or `{}` to be screened",
                            s.role, s.name_field, s.id_field
                        ),
                    ));
                }
                screened.name = name;
                screened.id = id;
                out.push(screened);
            }
        }
        Ok(out)
    }

    pub(crate) fn evaluate(&self, ctx: &Ctx<'_, '_>, severity: Severity) -> Result<Finding, Fault> {
        let from_case = self.case_entries(ctx)?;
        let keyed: Vec<Keyed<'_>> = self
            .entries
            .iter()
            .zip(&self.keys)
            .map(|(entry, keys)| (entry, "config", keys))
            .chain(from_case.iter().map(|(entry, keys)| (entry, "case", keys)))
            .map(|(entry, source, (name, id))| Keyed {
                entry,
                source,
                name,
                id,
            })
            .collect();
        let subjects = self.subjects(ctx)?;
        let mut hits = Vec::new();
        let mut worst: Option<Severity> = None;
        for screened in &subjects {
            let name_k = screened.name.as_deref().map(name_key).unwrap_or_default();
            let id_k = screened.id.as_deref().map(id_key).unwrap_or_default();
            // In entry order, each entry once.
            for k in &keyed {
                let on_name = !name_k.is_empty() && k.name == name_k;
                let on_id = !id_k.is_empty() && k.id == id_k;
                if !(on_name || on_id) {
                    continue;
                }
                let hit_severity = if on_id {
                    severity
                } else {
                    self.name_only_severity.unwrap_or(severity)
                };
                worst = worst.max(Some(hit_severity));
                hits.push(json!({
                    "role": screened.subject.role, "subject": screened.pointer(),
                    "name": screened.name, "id_number": screened.id,
                    "matched_on": match (on_name, on_id) { (true, true) => "name_and_id", (false, true) => "id", _ => "name" },
                    "severity": hit_severity, "source": k.source,
                    "entry": {"name": k.entry.name, "id_number": k.entry.id_number, "list": k.entry.list, "note": k.entry.note},
                }));
            }
        }
        let hit_count = hits.len();
        hits.truncate(MAX_HITS_LISTED);
        let values = values! {
            "subjects_screened": subjects.len(), "entries": keyed.len(),
            "hit_count": hit_count, "hits": hits,
        };
        Ok(match worst {
            None => Finding::passed(values),
            Some(s) => {
                let first = &values["hits"][0];
                let message = format!(
                    "{} watchlist hit(s); first: {} {} matched on {}{}",
                    hit_count,
                    first["role"].as_str().unwrap_or_default(),
                    first["name"]
                        .as_str()
                        .or(first["id_number"].as_str())
                        .unwrap_or_default(),
                    first["matched_on"].as_str().unwrap_or_default(),
                    first["entry"]["list"]
                        .as_str()
                        .map(|l| format!(" (list {l})"))
                        .unwrap_or_default(),
                );
                Finding {
                    violation: Some(Violated {
                        message,
                        severity: Some(s),
                    }),
                    values,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dates::Date;
    use serde_json::Value;

    fn rule(cfg: Value) -> WatchlistRule {
        let mut r: WatchlistRule = serde_json::from_value(cfg).unwrap();
        r.validate("/rules/3").unwrap();
        r
    }

    fn run(rule: &WatchlistRule, vars: Value) -> Result<Finding, Fault> {
        rule.evaluate(
            &Ctx {
                vars: &plugin_sdk::json::Vars::parse(&vars.to_string()).unwrap(),
                today: Date::parse("2024-06-30").unwrap(),
            },
            Severity::Reject,
        )
    }

    fn listed() -> WatchlistRule {
        rule(json!({
            "entries": [
                {"name": "张伟", "id_number": "11010519491231002X", "list": "internal-blacklist"},
                {"name": "ACME Trading Co., Ltd.", "list": "sanctions"},
                {"id_number": "91350100M000100Y43", "list": "fraud"}
            ],
            "name_only_severity": "refer"
        }))
    }

    #[test]
    fn id_hit_rejects_whatever_the_spelling() {
        let vars = json!({"applicant": {"name": "Someone Else", "id_number": "１１０１０５ １９４９１２３１ ００２ｘ"}});
        let f = run(&listed(), vars).unwrap();
        let v = f.violation.unwrap();
        assert_eq!(v.severity, Some(Severity::Reject));
        assert_eq!(f.values["hits"][0]["matched_on"], json!("id"));
        assert_eq!(
            f.values["hits"][0]["entry"]["list"],
            json!("internal-blacklist")
        );
    }

    #[test]
    fn name_only_hit_takes_the_name_only_severity() {
        let vars = json!({"applicant": {"name": "ａｃｍｅ  trading co ltd", "id_number": "91110000000000000X"}});
        let f = run(&listed(), vars).unwrap();
        assert_eq!(f.violation.unwrap().severity, Some(Severity::Refer));
        assert_eq!(f.values["hits"][0]["matched_on"], json!("name"));
    }

    #[test]
    fn name_and_id_on_the_same_entry_is_one_hit() {
        let vars = json!({"applicant": {"name": "张 伟", "id_number": "11010519491231002x"}});
        let f = run(&listed(), vars).unwrap();
        assert_eq!(f.values["hit_count"], json!(1));
        assert_eq!(f.values["hits"][0]["matched_on"], json!("name_and_id"));
    }

    #[test]
    fn similar_is_not_equal() {
        let vars = json!({"applicant": {"name": "张玮", "id_number": "11010519491231003X"}});
        let f = run(&listed(), vars).unwrap();
        assert_eq!(f.violation, None);
        assert_eq!(f.values["entries"], json!(3));
    }

    #[test]
    fn case_entries_and_every_subject_are_screened() {
        let r = rule(json!({
            "subjects": [
                {"role": "company", "path": "/applicant", "id_field": "uscc"},
                {"role": "guarantor", "path": "/guarantors", "optional": true}
            ]
        }));
        let vars = json!({
            "applicant": {"name": "Good Co", "uscc": "91350100M000100Y43"},
            "guarantors": [{"name": "Li Lei"}, {"name": "Han Meimei", "id_number": null}],
            "watchlist": [{"name": "HAN MEIMEI", "list": "court-enforcement", "extra": 1}]
        });
        let f = run(&r, vars.clone()).unwrap();
        assert_eq!(f.values["subjects_screened"], json!(3));
        assert_eq!(f.values["hits"][0]["subject"], json!("/guarantors/1"));
        assert_eq!(f.values["hits"][0]["source"], json!("case"));
        assert!(
            f.violation
                .unwrap()
                .message
                .contains("guarantor Han Meimei matched on name (list court-enforcement)")
        );
        // Optional subjects may be absent; the required one may not.
        let mut no_guarantors = vars.clone();
        no_guarantors.as_object_mut().unwrap().remove("guarantors");
        assert_eq!(
            run(&r, no_guarantors).unwrap().values["subjects_screened"],
            json!(1)
        );
        assert_eq!(
            run(&r, json!({"watchlist": []})),
            Err(Fault::Missing("/applicant".into()))
        );
    }

    #[test]
    fn no_list_at_all_is_missing_but_an_empty_list_is_a_list() {
        let r = rule(json!({}));
        assert_eq!(
            run(&r, json!({"applicant": {"name": "A"}})),
            Err(Fault::Missing("/watchlist".into()))
        );
        assert!(
            run(&r, json!({"applicant": {"name": "A"}, "watchlist": []}))
                .unwrap()
                .violation
                .is_none()
        );
        // With config entries the case list is optional.
        assert!(
            run(&listed(), json!({"applicant": {"name": "A"}}))
                .unwrap()
                .violation
                .is_none()
        );
    }

    #[test]
    fn malformed_case_data_names_the_place() {
        let r = rule(json!({}));
        let bad_entry =
            json!({"applicant": {"name": "A"}, "watchlist": [{"name": "B"}, {"name": ["x"]}]});
        assert!(
            matches!(run(&r, bad_entry), Err(Fault::Invalid { pointer, .. }) if pointer == "/watchlist/1/name")
        );
        let anonymous = json!({"applicant": {"email": "a@b.c"}, "watchlist": []});
        assert!(
            matches!(run(&r, anonymous), Err(Fault::Invalid { pointer, .. }) if pointer == "/applicant")
        );
    }

    #[test]
    fn entries_that_normalise_to_nothing_are_rejected() {
        let mut r: WatchlistRule =
            serde_json::from_value(json!({"entries": [{"name": "..."}]})).unwrap();
        assert!(
            r.validate("/rules/3")
                .unwrap_err()
                .to_string()
                .contains("/rules/3/entries/0")
        );
    }

    #[test]
    fn hit_lists_are_bounded_but_counted() {
        let entries: Vec<Value> = (0..80)
            .map(|i| json!({"name": "Same Name", "note": i.to_string()}))
            .collect();
        let r = rule(json!({"entries": entries}));
        let f = run(&r, json!({"applicant": {"name": "same name"}})).unwrap();
        assert_eq!(f.values["hit_count"], json!(80));
        assert_eq!(f.values["hits"].as_array().unwrap().len(), MAX_HITS_LISTED);
    }
}

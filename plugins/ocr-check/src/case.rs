//! The case input of `ocr-check`: the documents an OCR service read and the applicant's
//! own statements, taken out of the case variables with every shape error named by pointer.

use crate::config::Checked;
use crate::error::Error;
use crate::path::{DotPath, escape};
use plugin_sdk::json::{Json, Kind, Vars};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Bounds on one call's input: a hostile or broken case is an error, not a slow step.
pub const MAX_DOCUMENTS: usize = 100;
pub const MAX_FIELDS_PER_DOCUMENT: usize = 200;
pub const MAX_VALUE_CHARS: usize = 1_000;

/// One OCR-read field. `value: None` means the OCR found nothing (absent, null or blank).
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub value: Option<String>,
    /// OCR confidence in `0..=1`; 1 when the value is absent (nothing to doubt).
    pub confidence: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub doc_type: String,
    /// Sorted by field name, so findings come out in a stable order.
    pub fields: BTreeMap<String, Field>,
}

/// Everything a check needs from the case variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// Present whenever the config requires documents.
    pub applicant_type: Option<String>,
    /// The applicant's value for each consistency rule (parallel to `config.consistency`).
    pub applicant_values: Vec<Option<String>>,
    pub documents: Vec<Document>,
}

#[derive(Deserialize)]
#[serde(expecting = "a document object like {\"type\": \"id_card\", \"fields\": {...}}")]
struct DocumentIn<'a> {
    #[serde(rename = "type", borrow)]
    doc_type: Cow<'a, str>,
    #[serde(default, borrow)]
    fields: BTreeMap<Cow<'a, str>, FieldIn<'a>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a field object like {\"value\": \"...\", \"confidence\": 0.97}")]
struct FieldIn<'a> {
    /// `None` when absent or `null`.
    #[serde(default, borrow)]
    value: Option<Json<'a>>,
    #[serde(default)]
    confidence: Option<f64>,
}

/// A scalar read as text: strings (trimmed; blank → `None`) and whole numbers
/// (OCR services sometimes return digits as numbers). `None` for null.
fn scalar_text(v: Json<'_>, pointer: impl FnOnce() -> String) -> Result<Option<String>, Error> {
    let text = match v.kind() {
        Kind::Null => return Ok(None),
        Kind::String => v.as_str().unwrap_or_default().trim().to_string(),
        Kind::Number => match serde_json::from_str::<serde_json::Number>(v.text()) {
            Ok(n) if n.is_u64() || n.is_i64() => n.to_string(),
            _ => return Err(not_scalar(pointer(), "a fractional number")),
        },
        other => return Err(not_scalar(pointer(), kind_of(other))),
    };
    if text.chars().count() > MAX_VALUE_CHARS {
        return Err(Error::input(
            pointer(),
            format!("longer than {MAX_VALUE_CHARS} characters"),
        ));
    }
    Ok(if text.is_empty() { None } else { Some(text) })
}

fn not_scalar(pointer: String, kind: &str) -> Error {
    Error::input(
        pointer,
        format!("must be a string or a whole number, got {kind}"),
    )
}

fn kind_of(kind: Kind) -> &'static str {
    match kind {
        Kind::Null => "null",
        Kind::Bool => "a boolean",
        Kind::Number => "a fractional number",
        Kind::String => "a string",
        Kind::Array => "an array",
        Kind::Object => "an object",
    }
}

impl Case {
    /// Reads the case from the variables of a `Value` (tests and tools).
    pub fn from_value(vars: &Value, checked: &Checked) -> Result<Case, Error> {
        let text = vars.to_string();
        let vars = Vars::parse(&text).map_err(|e| Error::input("", e.message))?;
        Case::from_vars(&vars, checked)
    }

    /// Reads the case from the case variables' text, parsing only what it uses.
    pub fn from_vars(vars: &Vars<'_>, checked: &Checked) -> Result<Case, Error> {
        let config = &checked.config;
        let documents = read_documents(vars, &checked.documents_path)?;

        let applicant_pointer = || checked.applicant_path.pointer();
        let applicant = checked.applicant_path.find(vars);
        let needs_type = !config.required_documents.is_empty() && config.applicant_type.is_none();
        let needs_applicant = needs_type || !config.consistency.is_empty();
        let applicant = match applicant.map(|a| (a, a.kind())) {
            Some((a, Kind::Object)) => Some(a),
            None | Some((_, Kind::Null)) if !needs_applicant => None,
            None | Some((_, Kind::Null)) => {
                return Err(Error::input(
                    applicant_pointer(),
                    "missing: the applicant object is required",
                ));
            }
            Some((_, other)) => {
                return Err(Error::input(
                    applicant_pointer(),
                    format!("must be the applicant object, got {}", kind_of(other)),
                ));
            }
        };

        let applicant_type = match &config.applicant_type {
            Some(t) => Some(t.clone()),
            None => {
                let pointer = || format!("{}/type", applicant_pointer());
                let t = match applicant.and_then(|a| a.get("type")) {
                    Some(v) => scalar_text(v, pointer)?,
                    None => None,
                };
                if t.is_none() && needs_type {
                    return Err(Error::input(
                        pointer(),
                        "missing: the applicant type (e.g. `individual`, `company`) decides the required documents",
                    ));
                }
                t
            }
        };
        if let Some(t) = &applicant_type
            && !config.required_documents.is_empty()
            && !config.required_documents.contains_key(t)
        {
            let known: Vec<&str> = config
                .required_documents
                .keys()
                .map(String::as_str)
                .collect();
            let message = format!(
                "applicant type `{t}` has no entry in the config's required_documents (known: {})",
                known.join(", ")
            );
            return Err(match config.applicant_type {
                Some(_) => Error::config("/applicant_type", message),
                None => Error::input(format!("{}/type", applicant_pointer()), message),
            });
        }

        let mut applicant_values = Vec::with_capacity(checked.consistency_paths.len());
        for path in &checked.consistency_paths {
            let full = checked.applicant_path.join(path);
            applicant_values.push(match full.find(vars) {
                Some(v) => scalar_text(v, || full.pointer())?,
                None => None,
            });
        }
        Ok(Case {
            applicant_type,
            applicant_values,
            documents,
        })
    }
}

fn read_documents(vars: &Vars<'_>, path: &DotPath) -> Result<Vec<Document>, Error> {
    let pointer = || path.pointer();
    let raw = match path.find(vars) {
        Some(items) if items.kind() == Kind::Array => items.elements(),
        None => return Err(no_documents(pointer())),
        Some(v) if v.is_null() => return Err(no_documents(pointer())),
        Some(other) => {
            return Err(Error::input(
                pointer(),
                format!(
                    "must be an array of documents, got {}",
                    kind_of(other.kind())
                ),
            ));
        }
    };
    if raw.len() > MAX_DOCUMENTS {
        return Err(Error::input(
            pointer(),
            format!(
                "{} documents; at most {MAX_DOCUMENTS} are checked",
                raw.len()
            ),
        ));
    }
    let mut documents = Vec::with_capacity(raw.len());
    for (i, item) in raw.iter().enumerate() {
        let at = || format!("{}/{i}", pointer());
        let doc: DocumentIn = item
            .parse()
            .map_err(|e| Error::input(format!("{}{}", at(), e.pointer), e.message))?;
        let doc_type = doc.doc_type.trim();
        if doc_type.is_empty() {
            return Err(Error::input(format!("{}/type", at()), "must not be empty"));
        }
        if doc.fields.len() > MAX_FIELDS_PER_DOCUMENT {
            return Err(Error::input(
                format!("{}/fields", at()),
                format!(
                    "{} fields; at most {MAX_FIELDS_PER_DOCUMENT} per document",
                    doc.fields.len()
                ),
            ));
        }
        let mut fields = BTreeMap::new();
        for (name, f) in doc.fields {
            let field_at = || format!("{}/fields/{}", at(), escape(&name));
            let value = match f.value {
                Some(v) => scalar_text(v, || format!("{}/value", field_at()))?,
                None => None,
            };
            let confidence = match (f.confidence, &value) {
                (Some(c), _) if !(0.0..=1.0).contains(&c) => {
                    return Err(Error::input(
                        format!("{}/confidence", field_at()),
                        format!("must be between 0 and 1, got {c}"),
                    ));
                }
                (Some(c), _) => c,
                (None, None) => 1.0,
                (None, Some(_)) => {
                    return Err(Error::input(
                        format!("{}/confidence", field_at()),
                        "missing: every OCR-read value carries its confidence (0 to 1)",
                    ));
                }
            };
            fields.insert(name.into_owned(), Field { value, confidence });
        }
        documents.push(Document {
            doc_type: doc_type.to_string(),
            fields,
        });
    }
    Ok(documents)
}

fn no_documents(pointer: String) -> Error {
    Error::input(
        pointer,
        "missing: the array of OCR-read documents is required (use [] when there are none)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use serde_json::json;

    fn read(vars: Value, config: Value) -> Result<Case, Error> {
        Case::from_value(&vars, &Config::parse(&config).unwrap())
    }

    fn err(vars: Value, config: Value) -> String {
        read(vars, config).unwrap_err().to_string()
    }

    #[test]
    fn reads_documents_and_applicant() {
        let case = read(
            json!({
                "applicant": {"type": "individual", "name": " 张伟 ", "id_number": "11010519491231002X"},
                "documents": [{"type": "id_card", "page": 1, "fields": {
                    "name": {"value": "张伟", "confidence": 0.99, "bbox": [1, 2, 3, 4]},
                    "card_number": {"value": 6222021234567890128u64, "confidence": 0.9},
                    "address": {"value": "  ", "confidence": 0.2},
                    "issue_date": {"value": null}
                }}]
            }),
            json!({"required_documents": {"individual": ["id_card"]}}),
        )
        .unwrap();
        assert_eq!(case.applicant_type.as_deref(), Some("individual"));
        assert_eq!(
            case.applicant_values,
            vec![
                Some("张伟".into()),
                Some("11010519491231002X".into()),
                None,
                None
            ]
        );
        let fields = &case.documents[0].fields;
        assert_eq!(
            fields.keys().collect::<Vec<_>>(),
            ["address", "card_number", "issue_date", "name"]
        );
        assert_eq!(
            fields["card_number"].value.as_deref(),
            Some("6222021234567890128")
        );
        assert_eq!(
            fields["address"],
            Field {
                value: None,
                confidence: 0.2
            }
        );
        assert_eq!(
            fields["issue_date"],
            Field {
                value: None,
                confidence: 1.0
            }
        );
    }

    #[test]
    fn shape_errors_name_the_pointer() {
        let cfg = json!({});
        let applicant = json!({"name": "张伟"});
        assert_eq!(
            err(json!({"applicant": applicant}), cfg.clone()),
            "vars at /documents: missing: the array of OCR-read documents is required (use [] when there are none)"
        );
        assert_eq!(
            err(
                json!({"applicant": applicant, "documents": {}}),
                cfg.clone()
            ),
            "vars at /documents: must be an array of documents, got an object"
        );
        let e = err(
            json!({"applicant": applicant, "documents": [{"fields": {}}]}),
            cfg.clone(),
        );
        assert!(
            e.starts_with("vars at /documents/0:") && e.contains("missing field `type`"),
            "{e}"
        );
        let e = err(
            json!({"applicant": applicant, "documents": [{"type": "id_card", "fields": {"name": "张伟"}}]}),
            cfg.clone(),
        );
        assert!(
            e.starts_with("vars at /documents/0/fields/name:") && e.contains("a field object"),
            "{e}"
        );
        assert_eq!(
            err(
                json!({"applicant": applicant, "documents": [{"type": "id_card", "fields": {"name": {"value": "张伟"}}}]}),
                cfg.clone()
            ),
            "vars at /documents/0/fields/name/confidence: missing: every OCR-read value carries its confidence (0 to 1)"
        );
        assert_eq!(
            err(
                json!({"applicant": applicant, "documents": [{"type": "id_card", "fields": {"name": {"value": "张伟", "confidence": 97}}}]}),
                cfg.clone()
            ),
            "vars at /documents/0/fields/name/confidence: must be between 0 and 1, got 97"
        );
        assert_eq!(
            err(
                json!({"applicant": applicant, "documents": [{"type": "x", "fields": {"a/b": {"value": 1.5, "confidence": 1}}}]}),
                cfg.clone()
            ),
            "vars at /documents/0/fields/a~1b/value: must be a string or a whole number, got a fractional number"
        );
        assert_eq!(
            err(
                json!({"applicant": applicant, "documents": [{"type": " "}]}),
                cfg.clone()
            ),
            "vars at /documents/0/type: must not be empty"
        );
        assert_eq!(
            err(json!({"documents": []}), cfg.clone()),
            "vars at /applicant: missing: the applicant object is required"
        );
        assert_eq!(
            err(
                json!({"applicant": {"name": ["a"]}, "documents": []}),
                cfg.clone()
            ),
            "vars at /applicant/name: must be a string or a whole number, got an array"
        );
    }

    #[test]
    fn applicant_type_rules() {
        let cfg = json!({"required_documents": {"individual": ["id_card"], "company": ["business_license"]}});
        assert_eq!(
            err(
                json!({"applicant": {"name": "x"}, "documents": []}),
                cfg.clone()
            ),
            "vars at /applicant/type: missing: the applicant type (e.g. `individual`, `company`) decides the required documents"
        );
        assert_eq!(
            err(
                json!({"applicant": {"type": "trust"}, "documents": []}),
                cfg.clone()
            ),
            "vars at /applicant/type: applicant type `trust` has no entry in the config's required_documents (known: company, individual)"
        );
        let fixed = json!({"applicant_type": "trust", "required_documents": {"company": []}});
        assert!(
            err(json!({"applicant": {}, "documents": []}), fixed)
                .starts_with("config at /applicant_type:")
        );
        // No consistency rules and no required documents: no applicant needed.
        let case = read(json!({"documents": []}), json!({"consistency": []})).unwrap();
        assert_eq!(case.applicant_type, None);
        // Custom paths.
        let case = read(
            json!({"case": {"docs": [], "who": {"type": "company", "name": "甲公司"}}}),
            json!({"documents_path": "case.docs", "applicant_path": "case.who", "required_documents": {"company": []}}),
        )
        .unwrap();
        assert_eq!(case.applicant_type.as_deref(), Some("company"));
    }

    #[test]
    fn limits() {
        let many: Vec<Value> = (0..=MAX_DOCUMENTS).map(|_| json!({"type": "x"})).collect();
        let e = err(json!({"applicant": {}, "documents": many}), json!({}));
        assert_eq!(
            e,
            format!(
                "vars at /documents: {} documents; at most {MAX_DOCUMENTS} are checked",
                MAX_DOCUMENTS + 1
            )
        );
        let long = "字".repeat(MAX_VALUE_CHARS + 1);
        let e = err(
            json!({"applicant": {"name": long}, "documents": []}),
            json!({}),
        );
        assert_eq!(
            e,
            format!("vars at /applicant/name: longer than {MAX_VALUE_CHARS} characters")
        );
    }
}

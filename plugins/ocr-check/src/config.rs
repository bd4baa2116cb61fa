//! The node config of `ocr-check`: thresholds, required documents and fields, which
//! fields carry which kind of identifier, consistency rules and severities.

use crate::error::Error;
use crate::path::{DotPath, escape};
use plugin_sdk::json::{Json, Kind, ParseError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// Every finding code the plugin emits. Stable: flows and reports key on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Code {
    DocMissing,
    FieldMissing,
    LowConfidence,
    IdNumberFormat,
    IdNumberRegion,
    IdNumberBirthDate,
    IdNumberChecksum,
    CreditCodeFormat,
    CreditCodeChecksum,
    CardNumberFormat,
    CardNumberChecksum,
    DateInvalid,
    DateInFuture,
    DocExpired,
    DocExpiringSoon,
    FieldMismatch,
}

impl Code {
    pub const ALL: [Code; 16] = [
        Code::DocMissing,
        Code::FieldMissing,
        Code::LowConfidence,
        Code::IdNumberFormat,
        Code::IdNumberRegion,
        Code::IdNumberBirthDate,
        Code::IdNumberChecksum,
        Code::CreditCodeFormat,
        Code::CreditCodeChecksum,
        Code::CardNumberFormat,
        Code::CardNumberChecksum,
        Code::DateInvalid,
        Code::DateInFuture,
        Code::DocExpired,
        Code::DocExpiringSoon,
        Code::FieldMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Code::DocMissing => "DOC_MISSING",
            Code::FieldMissing => "FIELD_MISSING",
            Code::LowConfidence => "LOW_CONFIDENCE",
            Code::IdNumberFormat => "ID_NUMBER_FORMAT",
            Code::IdNumberRegion => "ID_NUMBER_REGION",
            Code::IdNumberBirthDate => "ID_NUMBER_BIRTH_DATE",
            Code::IdNumberChecksum => "ID_NUMBER_CHECKSUM",
            Code::CreditCodeFormat => "CREDIT_CODE_FORMAT",
            Code::CreditCodeChecksum => "CREDIT_CODE_CHECKSUM",
            Code::CardNumberFormat => "CARD_NUMBER_FORMAT",
            Code::CardNumberChecksum => "CARD_NUMBER_CHECKSUM",
            Code::DateInvalid => "DATE_INVALID",
            Code::DateInFuture => "DATE_IN_FUTURE",
            Code::DocExpired => "DOC_EXPIRED",
            Code::DocExpiringSoon => "DOC_EXPIRING_SOON",
            Code::FieldMismatch => "FIELD_MISMATCH",
        }
    }

    /// Severity unless the config overrides it: only a low OCR confidence and a
    /// document about to expire are merely worth a look.
    pub fn default_severity(self) -> Severity {
        match self {
            Code::LowConfidence | Code::DocExpiringSoon => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `error` makes `ok` false; `warning` asks for a person's look; `info` is only
/// reported; `ignore` drops the finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
    Ignore,
}

/// What a field holds, which decides how it is checked and compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// PRC resident identity number (GB 11643).
    PrcId,
    /// Unified social credit code (GB 32100).
    CreditCode,
    /// Bank card number (Luhn).
    BankCard,
    /// Last valid day, a validity period, or `长期`; checked against the business date.
    ExpiryDate,
    /// A date that cannot be after the business date (birth, issue).
    PastDate,
    /// Free text (names, addresses): only confidence and consistency.
    Text,
}

impl FieldKind {
    /// Identifiers compare as codes (case-folded, spaces and dashes dropped); the rest as text.
    pub fn is_code(self) -> bool {
        matches!(
            self,
            FieldKind::PrcId | FieldKind::CreditCode | FieldKind::BankCard
        )
    }
}

/// Field kinds that apply without configuration; `field_kinds` adds to or overrides them.
const DEFAULT_FIELD_KINDS: [(&str, FieldKind); 6] = [
    ("id_number", FieldKind::PrcId),
    ("credit_code", FieldKind::CreditCode),
    ("card_number", FieldKind::BankCard),
    ("expiry_date", FieldKind::ExpiryDate),
    ("birth_date", FieldKind::PastDate),
    ("issue_date", FieldKind::PastDate),
];

/// One entry of a required-document list: a type, or any one of several types.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Requirement {
    One(String),
    AnyOf(Vec<String>),
}

impl Requirement {
    pub fn types(&self) -> &[String] {
        match self {
            Requirement::One(t) => std::slice::from_ref(t),
            Requirement::AnyOf(ts) => ts,
        }
    }

    /// `id_card`, or `payslip|tax_certificate` for alternatives.
    pub fn label(&self) -> String {
        self.types().join("|")
    }
}

/// A document field that must equal a value of the application.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyRule {
    /// Field name on the documents.
    pub field: String,
    /// Dot path inside the applicant object, e.g. `legal_representative.name`.
    pub applicant: String,
    /// Document types the rule applies to; empty: every document that has the field.
    #[serde(default)]
    pub documents: Vec<String>,
}

/// The node config as written in the flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Lowest acceptable OCR confidence of any field.
    #[serde(default = "default_min_confidence")]
    pub min_confidence: f64,
    /// Overrides by `field` or `document_type.field` (the more specific wins).
    #[serde(default)]
    pub field_min_confidence: BTreeMap<String, f64>,
    /// Applicant type → documents that must be present.
    #[serde(default)]
    pub required_documents: BTreeMap<String, Vec<Requirement>>,
    /// Document type → fields that must have a value.
    #[serde(default)]
    pub required_fields: BTreeMap<String, Vec<String>>,
    /// Field name → kind, on top of the defaults.
    #[serde(default)]
    pub field_kinds: BTreeMap<String, FieldKind>,
    #[serde(default = "default_consistency")]
    pub consistency: Vec<ConsistencyRule>,
    /// A document expiring within this many days of the business date is flagged
    /// `DOC_EXPIRING_SOON`; 0 turns the check off.
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: u32,
    /// Code → severity overrides.
    #[serde(default)]
    pub severities: BTreeMap<Code, Severity>,
    /// Dot path of the documents array in the case variables.
    #[serde(default = "default_documents_path")]
    pub documents_path: String,
    /// Dot path of the applicant object in the case variables.
    #[serde(default = "default_applicant_path")]
    pub applicant_path: String,
    /// Fixed applicant type; otherwise read from `<applicant_path>.type`.
    #[serde(default)]
    pub applicant_type: Option<String>,
}

fn default_min_confidence() -> f64 {
    0.85
}

fn default_expiry_warning_days() -> u32 {
    30
}

fn default_documents_path() -> String {
    "documents".into()
}

fn default_applicant_path() -> String {
    "applicant".into()
}

fn default_consistency() -> Vec<ConsistencyRule> {
    ["name", "id_number", "credit_code", "card_number"]
        .into_iter()
        .map(|f| ConsistencyRule {
            field: f.into(),
            applicant: f.into(),
            documents: vec![],
        })
        .collect()
}

impl Default for Config {
    fn default() -> Self {
        Config::parse(&Value::Null)
            .expect("the defaults are valid")
            .config
    }
}

/// A config that passed validation, with its paths parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub config: Config,
    pub documents_path: DotPath,
    pub applicant_path: DotPath,
    /// Parallel to `config.consistency`.
    pub consistency_paths: Vec<DotPath>,
}

impl Config {
    /// Parses and validates a node config; `null` means all defaults.
    pub fn parse(value: &Value) -> Result<Checked, Error> {
        Self::parse_text(&value.to_string())
    }

    /// [`Config::parse`] of the JSON text of a config.
    pub fn parse_text(text: &str) -> Result<Checked, Error> {
        let json = Json::document(text).map_err(|e| Error::config("", e.message))?;
        Self::parse_json(json)
    }

    /// [`Config::parse`] straight from the config's text (no `Value` tree).
    pub fn parse_json(json: Json<'_>) -> Result<Checked, Error> {
        let config: Config = match json.kind() {
            Kind::Null => plugin_sdk::json::parse_str("{}"),
            Kind::Object => json.parse(),
            _ => {
                let shown = json
                    .value()
                    .map_or_else(|_| json.text().to_string(), |v| v.to_string());
                return Err(Error::config("", format!("must be an object, got {shown}")));
            }
        }
        .map_err(|e: ParseError| Error::config(e.pointer, e.message))?;
        config.validate()
    }

    fn validate(self) -> Result<Checked, Error> {
        check_fraction(|| "/min_confidence".into(), self.min_confidence)?;
        for (key, &v) in &self.field_min_confidence {
            check_fraction(|| format!("/field_min_confidence/{}", escape(key)), v)?;
        }
        for (applicant_type, list) in &self.required_documents {
            for (i, req) in list.iter().enumerate() {
                if req.types().is_empty() || req.types().iter().any(String::is_empty) {
                    return Err(Error::config(
                        format!("/required_documents/{}/{i}", escape(applicant_type)),
                        "a required document is a non-empty type or a non-empty list of alternative types",
                    ));
                }
            }
        }
        let dot_path = |pointer: &dyn Fn() -> String, s: &str| {
            DotPath::parse(s).ok_or_else(|| {
                Error::config(
                    pointer(),
                    format!("`{s}` is not a dot path like `applicant.name`"),
                )
            })
        };
        let documents_path = dot_path(&|| "/documents_path".into(), &self.documents_path)?;
        let applicant_path = dot_path(&|| "/applicant_path".into(), &self.applicant_path)?;
        let mut consistency_paths = Vec::with_capacity(self.consistency.len());
        for (i, rule) in self.consistency.iter().enumerate() {
            if rule.field.is_empty() {
                return Err(Error::config(
                    format!("/consistency/{i}/field"),
                    "must not be empty",
                ));
            }
            consistency_paths.push(dot_path(
                &|| format!("/consistency/{i}/applicant"),
                &rule.applicant,
            )?);
        }
        Ok(Checked {
            config: self,
            documents_path,
            applicant_path,
            consistency_paths,
        })
    }

    pub fn field_kind(&self, field: &str) -> FieldKind {
        self.field_kinds.get(field).copied().unwrap_or_else(|| {
            DEFAULT_FIELD_KINDS
                .iter()
                .find(|(name, _)| *name == field)
                .map_or(FieldKind::Text, |&(_, kind)| kind)
        })
    }

    pub fn min_confidence_for(&self, document_type: &str, field: &str) -> f64 {
        // `document_type.field` without building the key: this runs for every field.
        let scoped = |key: &str| {
            key.strip_prefix(document_type)
                .and_then(|rest| rest.strip_prefix('.'))
                == Some(field)
        };
        self.field_min_confidence
            .iter()
            .find(|(key, _)| scoped(key))
            .map(|(_, v)| v)
            .or_else(|| self.field_min_confidence.get(field))
            .copied()
            .unwrap_or(self.min_confidence)
    }

    pub fn severity(&self, code: Code) -> Severity {
        self.severities
            .get(&code)
            .copied()
            .unwrap_or_else(|| code.default_severity())
    }
}

fn check_fraction(pointer: impl FnOnce() -> String, v: f64) -> Result<(), Error> {
    if (0.0..=1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::config(
            pointer(),
            format!("a confidence threshold is between 0 and 1, got {v}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(config: Value) -> String {
        Config::parse(&config).unwrap_err().to_string()
    }

    #[test]
    fn defaults() {
        let c = Config::parse(&json!({})).unwrap();
        assert_eq!(c, Config::parse(&Value::Null).unwrap());
        assert_eq!(c.config.min_confidence, 0.85);
        assert_eq!(c.config.expiry_warning_days, 30);
        assert_eq!(c.documents_path.to_string(), "documents");
        assert_eq!(c.config.consistency.len(), 4);
        assert_eq!(c.config.field_kind("id_number"), FieldKind::PrcId);
        assert_eq!(c.config.field_kind("address"), FieldKind::Text);
        assert_eq!(c.config.severity(Code::LowConfidence), Severity::Warning);
        assert_eq!(c.config.severity(Code::IdNumberChecksum), Severity::Error);
    }

    #[test]
    fn overrides() {
        let c = Config::parse(&json!({
            "min_confidence": 0.8,
            "field_min_confidence": {"id_number": 0.95, "bank_card.name": 0.6},
            "field_kinds": {"legal_rep_id": "prc_id", "id_number": "text"},
            "severities": {"LOW_CONFIDENCE": "error", "DOC_EXPIRING_SOON": "ignore"},
            "required_documents": {"individual": ["id_card", ["payslip", "tax_certificate"]]}
        }))
        .unwrap()
        .config;
        assert_eq!(c.min_confidence_for("id_card", "id_number"), 0.95);
        assert_eq!(c.min_confidence_for("bank_card", "name"), 0.6);
        assert_eq!(c.min_confidence_for("id_card", "name"), 0.8);
        assert_eq!(c.field_kind("legal_rep_id"), FieldKind::PrcId);
        assert_eq!(c.field_kind("id_number"), FieldKind::Text);
        assert_eq!(c.severity(Code::LowConfidence), Severity::Error);
        assert_eq!(c.severity(Code::DocExpiringSoon), Severity::Ignore);
        assert_eq!(
            c.required_documents["individual"][1].label(),
            "payslip|tax_certificate"
        );
    }

    #[test]
    fn errors_name_the_pointer() {
        assert_eq!(
            err(json!({"min_confidence": 1.5})),
            "config at /min_confidence: a confidence threshold is between 0 and 1, got 1.5"
        );
        assert!(
            err(json!({"field_min_confidence": {"a/b": -0.1}}))
                .starts_with("config at /field_min_confidence/a~1b:")
        );
        let e = err(json!({"min_confidance": 0.9}));
        assert!(e.contains("unknown field `min_confidance`"), "{e}");
        let e = err(json!({"severities": {"LOW_CONFIDENCE": "fatal"}}));
        assert!(
            e.starts_with("config at /severities") && e.contains("unknown variant `fatal`"),
            "{e}"
        );
        let e = err(json!({"severities": {"NO_SUCH_CODE": "error"}}));
        assert!(e.starts_with("config at /severities"), "{e}");
        let e = err(json!({"required_documents": {"individual": ["id_card", []]}}));
        assert_eq!(
            e,
            "config at /required_documents/individual/1: a required document is a non-empty type or a non-empty list of alternative types"
        );
        let e = err(json!({"consistency": [{"field": "name", "applicant": "a..b"}]}));
        assert_eq!(
            e,
            "config at /consistency/0/applicant: `a..b` is not a dot path like `applicant.name`"
        );
        let e = err(json!({"consistency": [{"field": "name"}]}));
        assert!(
            e.starts_with("config at /consistency/0:") && e.contains("missing field `applicant`"),
            "{e}"
        );
        let e = err(json!([1, 2]));
        assert_eq!(
            e,
            "config (the whole document): must be an object, got [1,2]"
        );
        assert_eq!(
            Config::parse(&json!({"min_confidence": "high"}))
                .unwrap_err()
                .code(),
            "invalid_config"
        );
    }

    #[test]
    fn codes_round_trip_through_serde() {
        for code in Code::ALL {
            let v = serde_json::to_value(code).unwrap();
            assert_eq!(v, json!(code.as_str()));
            assert_eq!(serde_json::from_value::<Code>(v).unwrap(), code);
        }
    }
}

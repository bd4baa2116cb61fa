//! The checks themselves: a pure function from config, case and business date to a
//! report of findings, in a deterministic order.

use crate::case::{Case, Document};
use crate::checks::{
    CardProblem, CreditCodeProblem, IdFacts, IdProblem, check_card_number, check_credit_code,
    check_id_number, normalise_code, normalise_text,
};
use crate::config::{Checked, Code, Config, FieldKind, Severity};
use crate::date::{Date, Expiry};
use crate::path::{DotPath, escape};
use serde::Serialize;

/// The name findings about the application itself carry in `document`.
pub const APPLICATION: &str = "application";
/// The field whose date is cross-checked against a document's identity number.
const BIRTH_DATE: &str = "birth_date";

/// One problem found, pointing at the value it is about.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub code: Code,
    /// Document type, or `application` for the applicant's own statements.
    pub document: String,
    /// Position in the documents array; `null` for the application and missing documents.
    pub document_index: Option<usize>,
    pub field: Option<String>,
    pub message: String,
    /// JSON pointer into the case variables; `null` for a missing document.
    pub pointer: Option<String>,
    pub severity: Severity,
}

/// What the applicant's identity number says, when it is valid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApplicantId {
    /// Completed years on the business date.
    pub age: i32,
    pub birth_date: String,
    pub region_code: String,
    pub sex: &'static str,
}

/// `pass`: nothing to report above `info`; `review`: warnings only; `fail`: errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Pass,
    Review,
    Fail,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Review => "review",
            Outcome::Fail => "fail",
        }
    }
}

/// The result document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub applicant_id: Option<ApplicantId>,
    pub applicant_type: Option<String>,
    pub documents_checked: usize,
    pub errors: usize,
    pub findings: Vec<Finding>,
    /// No finding of severity `error`.
    pub ok: bool,
    pub outcome: Outcome,
    /// Distinct codes of errors, then of warnings, each in order of first occurrence.
    pub reason_codes: Vec<Code>,
    pub warnings: usize,
}

struct Run<'a> {
    config: &'a Config,
    today: Date,
    findings: Vec<Finding>,
}

/// Where a value sits, for findings and their messages.
struct Place<'a> {
    document: &'a str,
    index: Option<usize>,
    field: &'a str,
    pointer: Pointer<'a>,
}

/// A finding's JSON pointer, written out only when there is a finding.
enum Pointer<'a> {
    /// `<documents>/<index>/fields/<field><suffix>`.
    Field {
        documents: &'a str,
        index: usize,
        field: &'a str,
        suffix: &'a str,
    },
    /// A value of the application, by its full path.
    Applicant(DotPath),
}

impl Pointer<'_> {
    fn text(&self) -> String {
        match self {
            Pointer::Field {
                documents,
                index,
                field,
                suffix,
            } => format!("{documents}/{index}/fields/{}{suffix}", escape(field)),
            Pointer::Applicant(path) => path.pointer(),
        }
    }
}

impl Place<'_> {
    fn describe(&self) -> String {
        match self.index {
            Some(i) => format!("{} (document {i}) field `{}`", self.document, self.field),
            None => format!("{} field `{}`", self.document, self.field),
        }
    }
}

impl Run<'_> {
    fn push(&mut self, code: Code, place: &Place<'_>, problem: impl std::fmt::Display) {
        self.push_raw(
            code,
            place.document,
            place.index,
            Some(place.field),
            Some(place.pointer.text()),
            format!("{}: {problem}", place.describe()),
        );
    }

    fn push_raw(
        &mut self,
        code: Code,
        document: &str,
        index: Option<usize>,
        field: Option<&str>,
        pointer: Option<String>,
        message: String,
    ) {
        let severity = self.config.severity(code);
        if severity == Severity::Ignore {
            return;
        }
        self.findings.push(Finding {
            code,
            severity,
            document: document.to_string(),
            document_index: index,
            field: field.map(str::to_string),
            pointer,
            message,
        });
    }

    /// Checks one value by its kind; returns the identity facts of a valid ID number and
    /// the date of a valid past-date field, for the cross-checks.
    fn check_value(&mut self, kind: FieldKind, raw: &str, place: &Place<'_>) -> Checked_ {
        let (today, window) = (self.today, self.config.expiry_warning_days);
        match kind {
            FieldKind::PrcId => match check_id_number(&normalise_code(raw), today) {
                Ok(facts) => return Checked_::Id(facts),
                Err(p) => {
                    let code = match p {
                        IdProblem::Format(_) => Code::IdNumberFormat,
                        IdProblem::Region(_) => Code::IdNumberRegion,
                        IdProblem::BirthDate(_) => Code::IdNumberBirthDate,
                        IdProblem::Checksum { .. } => Code::IdNumberChecksum,
                    };
                    self.push(code, place, format_args!("identity number {p}"));
                }
            },
            FieldKind::CreditCode => {
                if let Err(p) = check_credit_code(&normalise_code(raw)) {
                    let code = match p {
                        CreditCodeProblem::Format(_) => Code::CreditCodeFormat,
                        CreditCodeProblem::Checksum { .. } => Code::CreditCodeChecksum,
                    };
                    self.push(code, place, format_args!("unified social credit code {p}"));
                }
            }
            FieldKind::BankCard => {
                if let Err(p) = check_card_number(&normalise_code(raw)) {
                    let code = match p {
                        CardProblem::Format(_) => Code::CardNumberFormat,
                        CardProblem::Checksum => Code::CardNumberChecksum,
                    };
                    self.push(code, place, format_args!("card number {p}"));
                }
            }
            FieldKind::ExpiryDate => match Expiry::parse(raw) {
                None => self.push(
                    Code::DateInvalid,
                    place,
                    format_args!("`{raw}` is not a date or validity period"),
                ),
                Some(Expiry::Never) => {}
                Some(Expiry::On(end)) => {
                    let days_left = today.days_until(end);
                    if days_left < 0 {
                        self.push(
                            Code::DocExpired,
                            place,
                            format_args!("expired on {end}, before the business date {today}"),
                        );
                    } else if days_left < i64::from(window) {
                        self.push(
                            Code::DocExpiringSoon,
                            place,
                            format_args!(
                                "expires on {end}, {days_left} days after the business date (warning window {window} days)"
                            ),
                        );
                    }
                }
            },
            FieldKind::PastDate => match Date::parse_document(raw) {
                None => self.push(
                    Code::DateInvalid,
                    place,
                    format_args!("`{raw}` is not a date"),
                ),
                Some(d) if d > today => self.push(
                    Code::DateInFuture,
                    place,
                    format_args!("{d} is after the business date {today}"),
                ),
                Some(d) => return Checked_::Date(d),
            },
            FieldKind::Text => {}
        }
        Checked_::Nothing
    }
}

/// What a value check leaves for the cross-checks.
enum Checked_ {
    Id(IdFacts),
    Date(Date),
    Nothing,
}

/// Runs every check. Findings come out in this order: the application's own values,
/// then each document in input order (its fields by name, then its cross-checks), then
/// missing documents in the order the config lists them.
pub fn check(checked: &Checked, case: &Case, today: Date) -> Report {
    let config = &checked.config;
    let mut run = Run {
        config,
        today,
        findings: Vec::new(),
    };
    let applicant_id = check_application(&mut run, checked, case);
    let documents_pointer = checked.documents_path.pointer();
    for (i, doc) in case.documents.iter().enumerate() {
        check_document(&mut run, checked, case, i, doc, &documents_pointer);
    }
    if let Some(required) = case
        .applicant_type
        .as_ref()
        .and_then(|t| config.required_documents.get(t))
    {
        for req in required {
            let present = case
                .documents
                .iter()
                .any(|d| req.types().contains(&d.doc_type));
            if !present {
                let label = req.label();
                let what = match req.types() {
                    [one] => format!("document `{one}`"),
                    many => format!("one of the documents {}", many.join(", ")),
                };
                run.push_raw(
                    Code::DocMissing,
                    &label,
                    None,
                    None,
                    None,
                    format!(
                        "required {what} is missing (applicant type `{}`)",
                        case.applicant_type.as_deref().unwrap_or_default()
                    ),
                );
            }
        }
    }
    let findings = run.findings;
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings) = (count(Severity::Error), count(Severity::Warning));
    let mut reason_codes = Vec::new();
    for severity in [Severity::Error, Severity::Warning] {
        for f in findings.iter().filter(|f| f.severity == severity) {
            if !reason_codes.contains(&f.code) {
                reason_codes.push(f.code);
            }
        }
    }
    let outcome = match (errors, warnings) {
        (0, 0) => Outcome::Pass,
        (0, _) => Outcome::Review,
        _ => Outcome::Fail,
    };
    Report {
        ok: errors == 0,
        outcome,
        applicant_type: case.applicant_type.clone(),
        documents_checked: case.documents.len(),
        errors,
        warnings,
        findings,
        reason_codes,
        applicant_id,
    }
}

/// Validates the identifiers the applicant typed in (each applicant path once, checked
/// as the kind of the document field it is compared with).
fn check_application(run: &mut Run<'_>, checked: &Checked, case: &Case) -> Option<ApplicantId> {
    let mut seen = Vec::new();
    let mut applicant_id = None;
    for (i, rule) in checked.config.consistency.iter().enumerate() {
        let path = &checked.consistency_paths[i];
        if seen.contains(&path) {
            continue;
        }
        seen.push(path);
        let Some(value) = &case.applicant_values[i] else {
            continue;
        };
        let kind = checked.config.field_kind(&rule.field);
        if !kind.is_code() {
            continue;
        }
        let field = path.to_string();
        let place = Place {
            document: APPLICATION,
            index: None,
            field: &field,
            pointer: Pointer::Applicant(checked.applicant_path.join(path)),
        };
        if let Checked_::Id(facts) = run.check_value(kind, value, &place) {
            applicant_id.get_or_insert_with(|| ApplicantId {
                birth_date: facts.birth_date.to_string(),
                age: facts.birth_date.age_on(run.today),
                sex: facts.sex.as_str(),
                region_code: facts.region_code,
            });
        }
    }
    applicant_id
}

/// The place of a document's field; `suffix` picks the part (`/value`, `/confidence`, or
/// `` for the field as a whole).
fn doc_place<'a>(
    doc: &'a Document,
    index: usize,
    documents_pointer: &'a str,
    field: &'a str,
    suffix: &'a str,
) -> Place<'a> {
    Place {
        document: &doc.doc_type,
        index: Some(index),
        field,
        pointer: Pointer::Field {
            documents: documents_pointer,
            index,
            field,
            suffix,
        },
    }
}

fn check_document(
    run: &mut Run<'_>,
    checked: &Checked,
    case: &Case,
    index: usize,
    doc: &Document,
    documents_pointer: &str,
) {
    let config = &checked.config;
    let place = |field, suffix| doc_place(doc, index, documents_pointer, field, suffix);

    if let Some(required) = config.required_fields.get(&doc.doc_type) {
        for field in required {
            if doc
                .fields
                .get(field)
                .and_then(|f| f.value.as_ref())
                .is_none()
            {
                run.push(
                    Code::FieldMissing,
                    &place(field, ""),
                    "required field has no value",
                );
            }
        }
    }

    let mut id_facts: Option<IdFacts> = None;
    let mut birth_date: Option<Date> = None;
    for (name, field) in &doc.fields {
        let Some(value) = &field.value else { continue };
        let threshold = config.min_confidence_for(&doc.doc_type, name);
        if field.confidence < threshold {
            run.push(
                Code::LowConfidence,
                &place(name, "/confidence"),
                format_args!(
                    "OCR confidence {} is below the threshold {threshold}",
                    field.confidence
                ),
            );
        }
        match run.check_value(config.field_kind(name), value, &place(name, "/value")) {
            Checked_::Id(facts) => {
                id_facts.get_or_insert(facts);
            }
            Checked_::Date(d) if name == BIRTH_DATE => birth_date = Some(d),
            _ => {}
        }
    }

    // A birth date printed beside an ID number must be the one encoded in it: forged or
    // mixed-up documents often get one of the two wrong.
    if let (Some(facts), Some(date)) = (&id_facts, birth_date)
        && facts.birth_date != date
    {
        run.push(
                Code::FieldMismatch,
                &place(BIRTH_DATE, "/value"),
                format_args!(
                    "birth date {date} differs from the birth date {} in the document's identity number",
                    facts.birth_date
                ),
            );
    }

    for (i, rule) in config.consistency.iter().enumerate() {
        if !rule.documents.is_empty() && !rule.documents.contains(&doc.doc_type) {
            continue;
        }
        let (Some(field), Some(expected)) =
            (doc.fields.get(&rule.field), &case.applicant_values[i])
        else {
            continue;
        };
        let Some(found) = &field.value else { continue };
        let normalise = if config.field_kind(&rule.field).is_code() {
            normalise_code
        } else {
            normalise_text
        };
        if normalise(found) != normalise(expected) {
            run.push(
                Code::FieldMismatch,
                &place(&rule.field, "/value"),
                format_args!(
                    "`{found}` differs from the application's `{expected}` ({})",
                    checked.applicant_path.join(&checked.consistency_paths[i])
                ),
            );
        }
    }
}

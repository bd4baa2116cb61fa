//! `ocr-check`: checks the fields an OCR service read off an applicant's documents —
//! identity numbers, credit codes and card numbers by their check characters, OCR
//! confidence, agreement with the application, expiry, and the required document set.
//!
//! The logic is plain functions over typed config and input ([`check::check`]); the
//! [`OcrCheck`] plugin only parses, calls it and shapes the output. See README.md for
//! the config, the case variables it reads and the result it writes.

pub mod case;
pub mod check;
pub mod checks;
pub mod config;
pub mod date;
pub mod error;
pub use plugin_sdk::path;
pub mod schema;

use crate::case::Case;
use crate::check::Report;
use crate::config::{Checked, Config};
use crate::date::Date;
pub use crate::error::Error;
use plugin_sdk::{Info, Json, Reason, TextInput, TextOutput, TextPlugin};

pub const NAME: &str = "ocr-check";
pub const VERSION: &str = "1.0.0";

/// The plugin.
pub struct OcrCheck;

impl TextPlugin for OcrCheck {
    fn describe() -> Info {
        Info {
            name: NAME.into(),
            version: VERSION.into(),
            config_schema: schema::config_schema(),
            output_schema: schema::output_schema(),
        }
    }

    /// The validated config with its paths parsed: once per config when the host
    /// prepares it.
    type Config = Checked;

    fn prepare(config: Json<'_>) -> Result<Checked, plugin_sdk::Error> {
        Ok(Config::parse_json(config)?)
    }

    fn run(
        input: &TextInput<'_>,
        checked: Result<&Checked, plugin_sdk::Error>,
    ) -> Result<TextOutput, plugin_sdk::Error> {
        Ok(run_checked(input, checked?)?)
    }
}

/// One call: parse, check, shape the output.
pub fn run(input: &TextInput<'_>) -> Result<TextOutput, Error> {
    run_checked(input, &Config::parse_json(input.config)?)
}

/// One call with the config already parsed and validated (what the component runs).
pub fn run_checked(input: &TextInput<'_>, checked: &Checked) -> Result<TextOutput, Error> {
    let today = Date::parse_iso(input.business_date)
        .ok_or_else(|| Error::BusinessDate(input.business_date.to_string()))?;
    let case = Case::from_vars(&input.vars, checked)?;
    let report = check::check(checked, &case, today);
    Ok(output(&report))
}

fn output(report: &Report) -> TextOutput {
    let reasons = report
        .reason_codes
        .iter()
        .map(|&code| {
            let of_code: Vec<_> = report.findings.iter().filter(|f| f.code == code).collect();
            let message = match of_code.len() {
                1 => of_code[0].message.clone(),
                n => format!("{} (and {} more)", of_code[0].message, n - 1),
            };
            Reason {
                code: code.as_str().into(),
                message,
                weight: of_code.len() as f64,
            }
        })
        .collect();
    TextOutput {
        result: plugin_sdk::to_json(report).expect("a report is plain data"),
        outcome: Some(report.outcome.as_str().into()),
        score: None,
        reasons,
    }
}

#[cfg(test)]
mod tests;

plugin_sdk::export_text_plugin!(OcrCheck);

//! `docket schema`: the JSON Schema (draft-07) of the flow format, for editors.

use anyhow::Result;
use std::process::ExitCode;

pub(crate) fn run() -> Result<ExitCode> {
    println!(
        "{}",
        serde_json::to_string_pretty(&engine::flow::def::json_schema())?
    );
    Ok(ExitCode::SUCCESS)
}

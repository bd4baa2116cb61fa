//! `docket validate FILE...`: checks flow files, rustc-style or as JSON for CI.

use anyhow::Result;
use clap::ValueEnum;
use engine::flow::{Diagnostic, Severity};
use engine::plugin::Plugins;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub(crate) enum Format {
    /// Diagnostics with a source snippet, like rustc.
    Human,
    /// One JSON array of {file, line, column, severity, code, message, help}.
    Json,
}

#[derive(clap::Args)]
pub(crate) struct ValidateArgs {
    /// Flow files (YAML).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Do not check plugin references and node configs against the bundled plugins.
    #[arg(long)]
    no_plugins: bool,
}

/// Diagnostic code for a file that cannot be read.
const READ_ERROR: &str = "E0000";

pub(crate) fn run(args: ValidateArgs) -> Result<ExitCode> {
    let registry = if args.no_plugins {
        None
    } else {
        match plugin_host::Registry::bundled() {
            Ok(r) => Some(r),
            Err(e) => {
                eprintln!(
                    "warning: plugin references are not checked: the bundled plugins did not load: {e}"
                );
                None
            }
        }
    };
    let plugins: Option<&dyn Plugins> = registry.as_ref().map(|r| r as &dyn Plugins);
    let mut all: Vec<Diagnostic> = Vec::new();
    let mut failed = false;
    for path in &args.files {
        let name = path.display().to_string();
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                failed = true;
                let d = Diagnostic {
                    file: name.clone(),
                    line: 0,
                    column: 0,
                    severity: Severity::Error,
                    code: READ_ERROR,
                    message: format!("cannot read {name}: {e}"),
                    help: Some("check the path".into()),
                };
                if let Format::Human = args.format {
                    println!("error[{READ_ERROR}]: {}\n", d.message);
                }
                all.push(d);
                continue;
            }
        };
        let (summary, diags) = match engine::flow::load(&name, &src, plugins) {
            Ok((flow, warnings)) => (
                format!(
                    "{name}: ok — flow `{}`, {} nodes{}",
                    flow.id(),
                    flow.nodes().count(),
                    match warnings.len() {
                        0 => String::new(),
                        1 => ", 1 warning".into(),
                        n => format!(", {n} warnings"),
                    }
                ),
                warnings,
            ),
            Err(diags) => {
                failed = true;
                let errors = diags.iter().filter(|d| d.is_error()).count();
                let warnings = diags.len() - errors;
                let mut s = format!(
                    "{name}: {errors} error{}",
                    if errors == 1 { "" } else { "s" }
                );
                if warnings > 0 {
                    s.push_str(&format!(
                        ", {warnings} warning{}",
                        if warnings == 1 { "" } else { "s" }
                    ));
                }
                (s, diags)
            }
        };
        if let Format::Human = args.format {
            for d in &diags {
                println!("{}", d.render(&src));
            }
            println!("{summary}");
        }
        all.extend(diags);
    }
    if let Format::Json = args.format {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

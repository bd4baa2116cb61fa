//! `docket plugin test` and `docket plugin list`: the plugin author's tools.
//!
//! `plugin test PLUGIN.wasm --input FILE [--config FILE]` runs one call in the same
//! sandbox the engine uses and prints the output as JSON on stdout (exit 0), or the
//! error as JSON on stdout plus a line naming its kind on stderr (exit 1). Log lines
//! go to stderr.
//!
//! The input file is JSON, one of:
//! - `{"vars": {...}, "config": {...}, "case_id": "...", "node_id": "...",
//!   "business_date": "YYYY-MM-DD"}`: everything but `vars` is optional;
//! - any other object: the case variables themselves.
//!
//! `--config FILE` (JSON) overrides the input's `config`; without either the config is
//! `{}`. Defaults: case `plugin-test`, node `plugin-test`, business date today (UTC).

use anyhow::{Context, bail};
use engine::plugin::{CallLimits, StepError, StepErrorKind, StepInput};
use plugin_host::{Host, HostConfig, LoadedPlugin, LogLevel, Registry};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Subcommand)]
pub(crate) enum PluginCommand {
    /// Run one call of a plugin component on sample input; print its output as JSON.
    Test(TestArgs),
    /// List plugins (name, version, hash, config summary); the bundled ones without DIR.
    List(ListArgs),
}

#[derive(clap::Args)]
pub(crate) struct TestArgs {
    /// The component (`.wasm`, built for wasm32-wasip2).
    plugin: PathBuf,
    /// JSON input: `{"vars": {...}, "config"?, "case_id"?, "node_id"?, "business_date"?}`,
    /// or just the vars object.
    #[arg(long)]
    input: PathBuf,
    /// JSON node config; overrides the input file's `config`.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Wall-time limit of the call, in milliseconds.
    #[arg(long, default_value_t = 500)]
    timeout_ms: u64,
    /// Linear-memory limit of the call, in MiB.
    #[arg(long, default_value_t = 64)]
    memory_mib: usize,
    /// Output-size limit of the call, in KiB.
    #[arg(long, default_value_t = 1024)]
    output_kib: usize,
}

#[derive(clap::Args)]
pub(crate) struct ListArgs {
    /// A plugin directory (`*.wasm`); the bundled plugins when omitted.
    dir: Option<PathBuf>,
    /// Print JSON (with full schemas) instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Test(args) => test(args),
        PluginCommand::List(args) => list(args),
    }
}

fn test(args: TestArgs) -> anyhow::Result<ExitCode> {
    let input = read_input(&args.input, args.config.as_deref())?;
    let limits = CallLimits {
        timeout: Duration::from_millis(args.timeout_ms),
        memory_bytes: args.memory_mib << 20,
        output_bytes: args.output_kib << 10,
    };
    let host = Host::new(HostConfig::default())?;
    let plugin = match host.load_file(&args.plugin) {
        Ok(plugin) => plugin,
        Err(e) => {
            let error = StepError {
                kind: StepErrorKind::Load,
                plugin: args.plugin.display().to_string(),
                sha256: None,
                code: None,
                message: e.to_string(),
            };
            return Ok(report_error(&error));
        }
    };
    let call = plugin.call(&input, &limits);
    for line in &call.logs {
        eprintln!(
            "[{} {}] {}",
            level_name(line.level),
            line.source,
            line.message
        );
    }
    if call.logs_dropped > 0 {
        eprintln!(
            "[warn host] {} more log lines/bytes dropped (per-call budget)",
            call.logs_dropped
        );
    }
    eprintln!(
        "{} sha256:{} ran in {:.2} ms",
        plugin.id(),
        plugin.build().sha256,
        call.report.duration.as_secs_f64() * 1e3
    );
    match call.report.output {
        Ok(output) => {
            println!("{}", serde_json::to_string_pretty(&output)?);
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => Ok(report_error(&error)),
    }
}

fn report_error(error: &StepError) -> ExitCode {
    let kind = serde_json::to_value(&error.kind).unwrap_or(Value::Null);
    let kind = kind.as_str().unwrap_or("unknown");
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({ "error": error })).unwrap_or_default()
    );
    if error.message.starts_with(&error.plugin) {
        eprintln!("error ({kind}): {}", error.message);
    } else {
        eprintln!("error ({kind}): {}: {}", error.plugin, error.message);
    }
    ExitCode::FAILURE
}

fn level_name(level: LogLevel) -> &'static str {
    match level {
        LogLevel::Trace => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
    }
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

fn read_input(path: &Path, config: Option<&Path>) -> anyhow::Result<StepInput> {
    let document = read_json(path)?;
    let Value::Object(mut fields) = document else {
        bail!("{}: the input must be a JSON object", path.display());
    };
    let structured = fields.contains_key("vars");
    let text =
        |fields: &mut serde_json::Map<String, Value>, key: &str, default: String| match fields
            .remove(key)
        {
            None => Ok(default),
            Some(Value::String(s)) => Ok(s),
            Some(other) => bail!("{}: `{key}` must be a string, got {other}", path.display()),
        };
    let (vars, config_in_input, case_id, node_id, business_date) = if structured {
        let vars = fields.remove("vars").unwrap_or_else(|| json!({}));
        if !vars.is_object() {
            bail!("{}: `vars` must be an object", path.display());
        }
        let config = fields.remove("config");
        let case_id = text(&mut fields, "case_id", "plugin-test".into())?;
        let node_id = text(&mut fields, "node_id", "plugin-test".into())?;
        let business_date = text(&mut fields, "business_date", today_utc())?;
        if let Some(unknown) = fields.keys().next() {
            bail!(
                "{}: unknown field `{unknown}` (expected vars, config, case_id, node_id, business_date)",
                path.display()
            );
        }
        (vars, config, case_id, node_id, business_date)
    } else {
        let vars = Value::Object(fields);
        (
            vars,
            None,
            "plugin-test".into(),
            "plugin-test".into(),
            today_utc(),
        )
    };
    if !is_date(&business_date) {
        bail!(
            "{}: business_date `{business_date}` must be YYYY-MM-DD",
            path.display()
        );
    }
    let config = match config {
        Some(config_path) => read_json(config_path)?,
        None => config_in_input.unwrap_or_else(|| json!({})),
    };
    Ok(StepInput::new(
        case_id,
        node_id,
        &config,
        &vars,
        business_date,
    ))
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn today_utc() -> String {
    chrono::Utc::now().format("%Y-%m-%d").to_string()
}

fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let registry = match &args.dir {
        Some(dir) => Registry::from_dir(dir)?,
        None => Registry::bundled()?,
    };
    let plugins: Vec<&Arc<LoadedPlugin>> = registry.plugins().collect();
    if args.json {
        let listed: Vec<Value> = plugins
            .iter()
            .map(|p| {
                json!({
                    "name": p.info().name,
                    "version": p.info().version,
                    "sha256": p.build().sha256,
                    "source": p.source().to_string(),
                    "config_schema": p.info().config_schema,
                    "output_schema": p.info().output_schema,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&listed)?);
    } else {
        let rows: Vec<[String; 5]> = plugins
            .iter()
            .map(|p| {
                [
                    p.info().name.clone(),
                    p.info().version.clone(),
                    p.build().sha256[..12].to_string(),
                    p.source().to_string(),
                    schema_summary(&p.info().config_schema),
                ]
            })
            .collect();
        print_table(["NAME", "VERSION", "SHA256", "SOURCE", "CONFIG"], &rows);
        if plugins.is_empty() {
            eprintln!("no plugins found");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `required: a, b; optional: c` from a JSON Schema's `properties` and `required`.
fn schema_summary(schema: &Value) -> String {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let optional: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| {
            p.keys()
                .map(String::as_str)
                .filter(|k| !required.contains(k))
                .collect()
        })
        .unwrap_or_default();
    let mut parts = Vec::new();
    if !required.is_empty() {
        parts.push(format!("required: {}", required.join(", ")));
    }
    if !optional.is_empty() {
        parts.push(format!("optional: {}", optional.join(", ")));
    }
    if parts.is_empty() {
        "(any)".to_string()
    } else {
        parts.join("; ")
    }
}

fn print_table<const N: usize>(header: [&str; N], rows: &[[String; N]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i + 1 == N {
                    cell.to_string()
                } else {
                    format!("{cell:w$}")
                }
            })
            .collect();
        println!("{}", padded.join("  "));
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_file_without_vars_is_the_vars() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "in.json", r#"{"amount": 5}"#);
        let input = read_input(&path, None).unwrap();
        assert_eq!(input.vars, r#"{"amount":5}"#);
        assert_eq!(&*input.config, "{}");
        assert_eq!(input.case_id, "plugin-test");
        assert!(is_date(&input.business_date), "{}", input.business_date);
    }

    #[test]
    fn the_structured_form_and_config_override() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "in.json",
            r#"{"vars": {"a": 1}, "config": {"card": "x"}, "case_id": "c-9", "business_date": "2024-02-29"}"#,
        );
        let input = read_input(&path, None).unwrap();
        assert_eq!(&*input.config, r#"{"card":"x"}"#);
        assert_eq!(input.case_id, "c-9");
        assert_eq!(input.node_id, "plugin-test");
        assert_eq!(input.business_date, "2024-02-29");
        let config = write(&dir, "config.json", r#"{"card": "y"}"#);
        assert_eq!(
            &*read_input(&path, Some(&config)).unwrap().config,
            r#"{"card":"y"}"#
        );
    }

    #[test]
    fn bad_inputs_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (r#"[1]"#, "must be a JSON object"),
            (r#"{"vars": 3}"#, "`vars` must be an object"),
            (
                r#"{"vars": {}, "business_date": "31/12/2024"}"#,
                "must be YYYY-MM-DD",
            ),
            (r#"{"vars": {}, "case": "x"}"#, "unknown field `case`"),
            (
                r#"{"vars": {}, "case_id": 7}"#,
                "`case_id` must be a string",
            ),
            (r#"{"#, "not valid JSON"),
        ];
        for (text, expected) in cases {
            let path = write(&dir, "in.json", text);
            let error = format!("{:#}", read_input(&path, None).unwrap_err());
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn schema_summaries_split_required_and_optional() {
        let schema = json!({
            "type": "object",
            "required": ["card"],
            "properties": { "card": {}, "min_score": {}, "debug": {} }
        });
        assert_eq!(
            schema_summary(&schema),
            "required: card; optional: min_score, debug"
        );
        assert_eq!(schema_summary(&json!({})), "(any)");
    }
}

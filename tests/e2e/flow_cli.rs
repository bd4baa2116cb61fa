//! `docket validate`, `docket graph` and `docket schema` on the built binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn docket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(args)
        .output()
        .expect("run docket")
}

fn fixture(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("engine/tests/fixtures")
        .join(path)
        .display()
        .to_string()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn validate_accepts_a_valid_flow() {
    let out = docket(&[
        "validate",
        "--no-plugins",
        &fixture("valid/retail-loan.yaml"),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("ok — flow `retail-loan`, 6 nodes"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn validate_reports_every_file_rustc_style_and_fails() {
    let bad = fixture("invalid/unknown-target.yaml");
    let out = docket(&[
        "validate",
        "--no-plugins",
        &fixture("valid/retail-loan.yaml"),
        &bad,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("error[E0101]: no node `aproved` in this flow"),
        "{text}"
    );
    assert!(text.contains(&format!("--> {bad}:18:13")), "{text}");
    assert!(text.contains("= help: did you mean `approved`?"), "{text}");
    // The snippet shows the line with a caret under the column.
    assert!(
        text.contains("18 |         to: aproved\n   |             ^"),
        "{text}"
    );
    assert!(text.contains("ok — flow `retail-loan`"), "{text}");
}

#[test]
fn validate_json_lists_diagnostics_for_ci() {
    let bad = fixture("invalid/cel-syntax.yaml");
    let missing = "no/such/flow.yaml";
    let out = docket(&[
        "validate",
        "--no-plugins",
        "--format",
        "json",
        &bad,
        missing,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let diags: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let diags = diags.as_array().expect("an array");
    assert_eq!(diags.len(), 2, "{diags:?}");
    assert_eq!(diags[0]["file"], bad.as_str());
    assert_eq!(diags[0]["line"], 17);
    assert_eq!(diags[0]["column"], 32);
    assert_eq!(diags[0]["severity"], "error");
    assert_eq!(diags[0]["code"], "E0201");
    assert!(diags[0]["help"].is_string());
    assert_eq!(diags[1]["file"], missing);
    assert_eq!(diags[1]["code"], "E0000");
}

#[test]
fn validate_warnings_do_not_fail() {
    let out = docket(&[
        "validate",
        "--no-plugins",
        &fixture("valid/undefined-variable-warning.yaml"),
    ]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(
        text.contains("warning[W0203]: variable `risk_flag` is not defined"),
        "{text}"
    );
    assert!(text.contains("1 warning"), "{text}");
}

#[test]
fn validate_checks_plugins_against_the_bundled_registry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path: PathBuf = dir.path().join("flow.yaml");
    std::fs::write(
        &path,
        "flow: p\nstart: a\nnodes:\n  a:\n    kind: task\n    plugin: no-such-plugin@1\n    next: b\n  b: { kind: end, outcome: done }\n",
    )
    .expect("write flow");
    let p = path.display().to_string();
    let out = docket(&["validate", &p]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).contains("error[E0304]: no plugin `no-such-plugin@1` in the registry"),
        "{}",
        stdout(&out)
    );
    let out = docket(&["validate", "--no-plugins", &p]);
    assert!(out.status.success(), "{}", stdout(&out));
    // A bundled plugin with a config its schema refuses, at the config's position.
    std::fs::write(
        &path,
        "flow: p\nstart: a\nnodes:\n  a:\n    kind: task\n    plugin: scorecard@1\n    config: { card: retail-v2 }\n    next: b\n  b: { kind: end, outcome: done }\n",
    )
    .expect("write flow");
    let out = docket(&["validate", &p]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("error[E0305]: config for `scorecard@1`: missing required field"),
        "{text}"
    );
    assert!(text.contains(&format!("--> {p}:7:13")), "{text}");
}

#[test]
fn graph_draws_mermaid_and_dot() {
    let flow = fixture("valid/retail-loan.yaml");
    let out = docket(&["graph", &flow]);
    assert!(out.status.success());
    let m = stdout(&out);
    assert!(m.contains("flowchart TD"), "{m}");
    assert!(m.contains("-->|\"otherwise\"|"), "{m}");
    assert!(m.contains("-->|\"return\"|"), "{m}");
    let out = docket(&["graph", &flow, "--format", "dot"]);
    assert!(out.status.success());
    let d = stdout(&out);
    assert!(
        d.contains("\"route\" -> \"review\" [label=\"otherwise\"];"),
        "{d}"
    );
    assert!(
        d.contains("\"review\" -> \"documents\" [label=\"return\"];"),
        "{d}"
    );
    let out = docket(&["graph", &fixture("invalid/self-loop.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("E0104"));
}

#[test]
fn schema_prints_the_published_json_schema() {
    let out = docket(&["schema"]);
    assert!(out.status.success());
    let published = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/docket-flow.schema.json"),
    )
    .expect("published schema");
    assert_eq!(stdout(&out), published);
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
}

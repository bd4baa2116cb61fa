//! `docket plugin test` and `docket plugin list` on the built binary, and the plugin
//! template in examples/ built and run as its README says.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn docket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docket"))
        .args(args)
        .env("DOCKET_PLUGIN_CACHE", cache_dir())
        .output()
        .expect("run docket")
}

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("e2e-plugin-cache")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_stdout(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn write(dir: &Path, name: &str, contents: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

const MISBEHAVE: &str = plugin_host::test_components::MISBEHAVE;

#[test]
fn plugin_test_prints_the_output_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.json",
        r#"{"vars": {"amount": 3}, "case_id": "c-7", "business_date": "2024-01-02"}"#,
    );
    let config = write(dir.path(), "config.json", r#"{"mode": "echo"}"#);
    let out = docket(&[
        "plugin", "test", MISBEHAVE, "--input", &input, "--config", &config,
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let output = json_stdout(&out);
    assert_eq!(output["result"]["vars"], serde_json::json!({ "amount": 3 }));
    assert_eq!(output["result"]["case_id"], "c-7");
    assert_eq!(output["result"]["business_date"], "2024-01-02");
    assert_eq!(output["outcome"], "echoed");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("[info log] echo for case c-7"), "{stderr}");
    assert!(
        stderr.contains("hostile-misbehave@0.1.0 sha256:"),
        "{stderr}"
    );
}

#[test]
fn plugin_test_reports_failures_with_their_kind_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    // The whole file is the vars when it has no `vars` key; config from the flag.
    let input = write(dir.path(), "vars.json", r#"{"amount": 3}"#);
    // Only the loop runs under a short time limit: on a loaded machine the memory bomb
    // could otherwise hit the clock before it hits its memory limit.
    let cases = [
        (r#"{"mode": "panic"}"#, "trap", "row 7 has no bin", "5000"),
        (r#"{"mode": "loop"}"#, "timeout", "100 ms time limit", "100"),
        (
            r#"{"mode": "memory-bomb"}"#,
            "memory_limit",
            "linear memory limit of 64 MiB",
            "5000",
        ),
        (
            r#"{"mode": "error"}"#,
            "plugin",
            "vars.applicant is required",
            "5000",
        ),
    ];
    for (config, kind, message, timeout_ms) in cases {
        let config = write(dir.path(), "config.json", config);
        let out = docket(&[
            "plugin",
            "test",
            MISBEHAVE,
            "--input",
            &input,
            "--config",
            &config,
            "--timeout-ms",
            timeout_ms,
        ]);
        assert_eq!(out.status.code(), Some(1), "{kind}: {}", text(&out.stderr));
        let error = &json_stdout(&out)["error"];
        assert_eq!(error["kind"], kind, "{error}");
        assert!(
            error["message"].as_str().unwrap().contains(message),
            "{error}"
        );
        assert_eq!(error["sha256"].as_str().map(str::len), Some(64));
        assert!(
            text(&out.stderr).contains(&format!("error ({kind})")),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn plugin_test_refuses_a_plugin_with_forbidden_imports() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.json", "{}");
    let out = docket(&[
        "plugin",
        "test",
        plugin_host::test_components::NET,
        "--input",
        &input,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let error = &json_stdout(&out)["error"];
    assert_eq!(error["kind"], "load");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("`wasi:sockets/"),
        "{error}"
    );
}

#[test]
fn plugin_list_shows_the_bundled_plugins_and_directories() {
    let out = docket(&["plugin", "list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("NAME"), "{table}");
    for name in ["ocr-check", "scorecard", "compliance", "guarantee-circle"] {
        assert!(
            table.lines().any(|l| l.starts_with(name)),
            "{name} missing:\n{table}"
        );
    }
    assert!(table.contains("bundled:scorecard"), "{table}");

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(MISBEHAVE, dir.path().join("misbehave.wasm")).unwrap();
    let out = docket(&[
        "plugin",
        "list",
        &dir.path().display().to_string(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed = json_stdout(&out);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["name"], "hostile-misbehave");
    assert_eq!(listed[0]["version"], "0.1.0");
    assert_eq!(
        listed[0]["config_schema"]["required"],
        serde_json::json!(["mode"])
    );
}

/// examples/plugin-template, built for wasm32-wasip2 exactly as its README says, then
/// run with `docket plugin test` on its sample files.
#[test]
fn the_plugin_template_builds_and_runs() {
    let template = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/plugin-template");
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("plugin-template-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&template)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--target-dir",
        ])
        .arg(&target_dir);
    for var in [
        "CARGO_TARGET_DIR",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
    ] {
        build.env_remove(var);
    }
    let built = build.output().expect("run cargo");
    assert!(
        built.status.success(),
        "template build failed:\n{}",
        text(&built.stderr)
    );

    let component = target_dir.join("wasm32-wasip2/release/amount_limit.wasm");
    let sample = |name: &str| template.join(name).display().to_string();
    let out = docket(&[
        "plugin",
        "test",
        &component.display().to_string(),
        "--input",
        &sample("sample-input.json"),
        "--config",
        &sample("sample-config.json"),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let output = json_stdout(&out);
    assert_eq!(output["outcome"], "refer");
    assert_eq!(output["result"]["within_limit"], true);
    assert_eq!(output["reasons"][0]["code"], "REFER");
    assert!(
        text(&out.stderr).contains("amount-limit@1.0.0"),
        "{}",
        text(&out.stderr)
    );
}

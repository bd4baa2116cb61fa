//! Flow fixtures: every invalid flow reports exactly the diagnostics its header lists;
//! every valid flow loads.
//!
//! Header lines: `# expect: E0101 12:11` (code, line:column), one per diagnostic.
//! Valid fixtures may list expected warnings the same way.

use std::path::{Path, PathBuf};

fn fixtures(dir: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    files
}

fn expected(src: &str) -> Vec<(String, usize, usize)> {
    let mut out: Vec<(String, usize, usize)> = src
        .lines()
        .filter_map(|l| l.strip_prefix("# expect: "))
        .map(|rest| {
            let (code, at) = rest
                .trim()
                .split_once(' ')
                .expect("`# expect: CODE line:col`");
            let (line, col) = at.split_once(':').expect("line:col");
            (
                code.to_string(),
                line.parse().expect("line"),
                col.parse().expect("col"),
            )
        })
        .collect();
    out.sort();
    out
}

fn actual(diags: &[engine::flow::Diagnostic]) -> Vec<(String, usize, usize)> {
    let mut out: Vec<(String, usize, usize)> = diags
        .iter()
        .map(|d| (d.code.to_string(), d.line, d.column))
        .collect();
    out.sort();
    out
}

fn show(diags: &[engine::flow::Diagnostic], src: &str) -> String {
    diags
        .iter()
        .map(|d| d.render(src))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn invalid_flows_report_exactly_their_expected_diagnostics() {
    let files = fixtures("invalid");
    assert!(files.len() >= 30, "only {} invalid fixtures", files.len());
    let mut failures = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).expect("read fixture");
        let want = expected(&src);
        assert!(
            !want.is_empty(),
            "{}: no `# expect:` header",
            path.display()
        );
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        match engine::flow::load(&name, &src, None) {
            Ok(_) => failures.push(format!("{name}: loaded, expected {want:?}")),
            Err(diags) => {
                let got = actual(&diags);
                if got != want {
                    failures.push(format!(
                        "{name}: expected {want:?}, got {got:?}\n{}",
                        show(&diags, &src)
                    ));
                }
                for d in &diags {
                    assert!(
                        d.help.is_some() || d.code == "E0001",
                        "{name}: {d} has no help"
                    );
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn valid_flows_load() {
    let files = fixtures("valid");
    let mut kinds = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for path in files {
        let src = std::fs::read_to_string(&path).expect("read fixture");
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        match engine::flow::load(&name, &src, None) {
            Ok((flow, warnings)) => {
                let got = actual(&warnings);
                let want = expected(&src);
                if got != want {
                    failures.push(format!(
                        "{name}: warnings {got:?}, expected {want:?}\n{}",
                        show(&warnings, &src)
                    ));
                }
                for n in flow.nodes() {
                    kinds.insert(n.kind.name());
                }
            }
            Err(diags) => failures.push(format!("{name}:\n{}", show(&diags, &src))),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let all: std::collections::BTreeSet<&str> = [
        "task", "decision", "approval", "parallel", "join", "timer", "end",
    ]
    .into();
    assert_eq!(kinds, all, "valid fixtures must cover every node kind");
}

/// The typed model (`FlowDef`, the source of the JSON Schema) reads every valid flow:
/// the validator and the published schema describe the same format.
#[test]
fn valid_flows_deserialize_into_the_typed_model() {
    for path in fixtures("valid") {
        let src = std::fs::read_to_string(&path).expect("read fixture");
        let def: Result<engine::flow::def::FlowDef, _> = serde_saphyr::from_str(&src);
        if let Err(e) = def {
            panic!("{}: {e}", path.display());
        }
    }
}

/// workflows/docket-flow.schema.json is what `docket schema` prints; regenerate it with
/// `cargo run -- schema > workflows/docket-flow.schema.json` when the format changes.
#[test]
fn published_json_schema_is_in_sync() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows/docket-flow.schema.json");
    let published =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let generated = serde_json::to_string_pretty(&engine::flow::def::json_schema())
        .expect("schema is JSON")
        + "\n";
    assert!(
        published == generated,
        "{} is stale: run `cargo run -- schema > workflows/docket-flow.schema.json`",
        path.display()
    );
}

/// Every diagnostic code is documented in docs/FLOW-FORMAT.md and shown by a fixture
/// (the registry codes by `flow_plugins`).
#[test]
fn every_code_is_documented_and_has_a_fixture() {
    let docs_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/FLOW-FORMAT.md");
    let docs = std::fs::read_to_string(&docs_path)
        .unwrap_or_else(|e| panic!("{}: {e}", docs_path.display()));
    let mut shown = std::collections::BTreeSet::new();
    for dir in ["invalid", "valid"] {
        for path in fixtures(dir) {
            let src = std::fs::read_to_string(&path).expect("read fixture");
            shown.extend(expected(&src).into_iter().map(|(code, _, _)| code));
        }
    }
    for (code, _) in engine::flow::codes::ALL {
        assert!(
            docs.contains(&format!("| {code} |")),
            "{code} is not in docs/FLOW-FORMAT.md"
        );
        // Shown by `flow_plugins` (a registry) and `a_too_large_file_is_refused` below.
        let by_registry = [
            engine::flow::codes::UNKNOWN_PLUGIN,
            engine::flow::codes::CONFIG_MISMATCH,
            engine::flow::codes::TOO_LARGE,
        ];
        assert!(
            shown.contains(*code) || by_registry.contains(code),
            "no fixture shows {code}"
        );
    }
}

#[test]
fn a_too_large_file_is_refused() {
    let mut src = String::from("flow: big\n");
    while src.len() <= engine::flow::MAX_SOURCE_BYTES {
        src.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let diags = engine::flow::load("big.yaml", &src, None).unwrap_err();
    assert_eq!(actual(&diags), [("E0009".to_string(), 1, 1)]);
}

//! The bundled flows in workflows/ on the built binary: each validates against the bundled
//! plugins, embeds the shared plugin configs unchanged, every sample case ends where
//! workflows/samples/expected.json says, and the human steps (authority, four-eyes,
//! committee quorum and veto) behave as workflows/README.md describes.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FLOWS: [&str; 4] = [
    "retail-loan",
    "corporate-credit",
    "small-business",
    "post-loan-monitoring",
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `docket` from the repository root (so `workflows/directory/approvers.yaml` is the directory).
fn docket(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_docket"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run docket")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "{}", text(o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(o)))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn flow_file(flow: &str) -> PathBuf {
    root().join("workflows").join(format!("{flow}.yaml"))
}

#[test]
fn bundled_flows_validate_against_the_bundled_plugins() {
    let mut files: Vec<String> = FLOWS
        .iter()
        .map(|f| flow_file(f).display().to_string())
        .collect();
    files.push(
        root()
            .join("examples/designer/credit-limit-increase.yaml")
            .display()
            .to_string(),
    );
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let out = docket(&args);
    assert!(out.status.success(), "{}", text(&out));
}

/// Which task node embeds which shared config file. Every `embedded (keep in sync)` marker
/// in a flow must be listed here, so a new embedding cannot escape the check.
const EMBEDDED: &[(&str, &str, &str)] = &[
    ("retail-loan", "documents", "documents/retail-v1.json"),
    ("retail-loan", "score", "scorecards/retail-v1.json"),
    ("retail-loan", "compliance", "rules/retail-v1.json"),
    (
        "corporate-credit",
        "documents",
        "documents/corporate-v1.json",
    ),
    (
        "corporate-credit",
        "guarantee_network",
        "rules/guarantee-circle-corporate-v1.json",
    ),
    ("corporate-credit", "compliance", "rules/corporate-v1.json"),
    (
        "small-business",
        "documents",
        "documents/small-business-v1.json",
    ),
    (
        "small-business",
        "light_score",
        "scorecards/small-business-v1.json",
    ),
    (
        "small-business",
        "light_compliance",
        "rules/small-business-v1.json",
    ),
    (
        "small-business",
        "dd_compliance",
        "rules/small-business-v1.json",
    ),
    (
        "small-business",
        "dd_guarantees",
        "rules/guarantee-circle-corporate-v1.json",
    ),
    (
        "small-business",
        "dd_score",
        "scorecards/small-business-v1.json",
    ),
    (
        "post-loan-monitoring",
        "guarantee_network",
        "rules/guarantee-circle-post-loan-v1.json",
    ),
];

fn task_config(flow: &engine::flow::Flow, node: &str) -> Value {
    match &flow.node(&engine::flow::NodeId::new(node)).kind {
        engine::flow::NodeKind::Task(t) => t.config.clone(),
        _ => panic!("{}: node `{node}` is not a task", flow.id()),
    }
}

fn compiled(flow: &str) -> engine::flow::Flow {
    let path = flow_file(flow);
    let yaml = read(&path);
    match engine::flow::load(&path.display().to_string(), &yaml, None) {
        Ok((flow, _warnings)) => flow,
        Err(diagnostics) => panic!("{flow}: {diagnostics:?}"),
    }
}

#[test]
fn embedded_configs_equal_the_shared_config_files() {
    for flow_id in FLOWS {
        let markers = read(&flow_file(flow_id))
            .lines()
            .filter(|l| {
                l.trim_start().starts_with("# workflows/") && l.ends_with("embedded (keep in sync)")
            })
            .count();
        let listed = EMBEDDED.iter().filter(|(f, _, _)| *f == flow_id).count();
        assert_eq!(
            markers, listed,
            "{flow_id}: embedded configs not all listed in EMBEDDED"
        );
    }
    for &(flow_id, node, file) in EMBEDDED {
        let flow = compiled(flow_id);
        let shared: Value = serde_json::from_str(&read(&root().join("workflows").join(file)))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            task_config(&flow, node),
            shared,
            "{flow_id}.yaml node `{node}` no longer embeds workflows/{file}: copy the file's object into the node's config"
        );
    }
    // The post-loan rule set lives only in its flow; both nodes that run it must agree.
    let post_loan = compiled("post-loan-monitoring");
    assert_eq!(
        task_config(&post_loan, "light_check"),
        task_config(&post_loan, "warning_rules")
    );
}

/// The open tasks of one case as (node, role).
fn open_tasks(db: &str, case_id: &str) -> Vec<(String, String)> {
    let tasks = json_of(&docket(&["tasks", "--db", db, "--json"]));
    tasks
        .as_array()
        .expect("tasks --json is an array")
        .iter()
        .filter(|t| t["case_id"] == case_id)
        .map(|t| {
            (
                t["node"].as_str().unwrap().to_string(),
                t["role"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn task_id(db: &str, case_id: &str, node: &str) -> String {
    let tasks = json_of(&docket(&["tasks", "--db", db, "--json"]));
    tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["case_id"] == case_id && t["node"] == node)
        .unwrap_or_else(|| panic!("case {case_id} has no open task at `{node}`: {tasks}"))["task_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn case_json(db: &str, case_id: &str) -> Value {
    let cases = json_of(&docket(&["cases", "--db", db, "--json"]));
    cases
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == case_id)
        .cloned()
        .unwrap_or_else(|| panic!("no case {case_id}"))
}

fn run(db: &str, flow: &str, sample: &Path) -> Value {
    let flow_path = flow_file(flow).display().to_string();
    let sample = sample.display().to_string();
    json_of(&docket(&[
        "run", &flow_path, "--input", &sample, "--db", db, "--json",
    ]))
}

#[test]
fn every_sample_ends_where_expected_json_says() {
    let expected: Value =
        serde_json::from_str(&read(&root().join("workflows/samples/expected.json"))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("samples.db").display().to_string();
    let mut checked = 0;
    for flow in FLOWS {
        let samples_dir = root().join("workflows/samples").join(flow);
        let mut samples: Vec<String> = std::fs::read_dir(&samples_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        samples.sort();
        let mut listed: Vec<String> = expected[flow]
            .as_object()
            .unwrap_or_else(|| panic!("expected.json has no `{flow}`"))
            .keys()
            .cloned()
            .collect();
        listed.sort();
        assert_eq!(
            samples, listed,
            "{flow}: sample files and expected.json disagree"
        );

        for sample in samples {
            let want = &expected[flow][&sample];
            let got = run(&db, flow, &samples_dir.join(format!("{sample}.json")));
            let case_id = got["case_id"].as_str().unwrap();
            let at = format!("{flow}/{sample}");
            assert_eq!(got["status"], want["status"], "{at}: {got:#}");
            match want["status"].as_str() {
                Some("completed") => {
                    assert_eq!(got["outcome"], want["outcome"], "{at}");
                    assert_eq!(open_tasks(&db, case_id), vec![], "{at}");
                }
                Some("waiting") => {
                    let node = want["waiting_at"].as_str().unwrap().to_string();
                    let role = want["role"].as_str().unwrap().to_string();
                    assert_eq!(open_tasks(&db, case_id), vec![(node, role)], "{at}");
                }
                other => panic!("{at}: unknown expected status {other:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} samples checked");
}

fn act(db: &str, task: &str, action: &str, user: &str) -> Output {
    docket(&[
        "task", "complete", task, "--action", action, "--as", user, "--db", db,
    ])
}

#[test]
fn retail_grey_zone_needs_an_officer_whose_limit_covers_the_amount() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("retail.db").display().to_string();
    let sample = root().join("workflows/samples/retail-loan/grey-zone.json");
    let case = run(&db, "retail-loan", &sample);
    let case_id = case["case_id"].as_str().unwrap();
    let task = task_id(&db, case_id, "credit_review");

    // officer.chen's limit (50,000) does not cover 60,000: refused, nothing changes.
    let refused = act(&db, &task, "approve", "officer.chen");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert_eq!(case_json(&db, case_id)["status"], "waiting");

    let ok = act(&db, &task, "approve", "officer.li");
    assert!(ok.status.success(), "{}", text(&ok));
    let done = case_json(&db, case_id);
    assert_eq!(
        (done["status"].as_str(), done["outcome"].as_str()),
        (Some("completed"), Some("approved"))
    );
}

#[test]
fn corporate_committee_countersign_with_four_eyes_and_the_chairs_veto() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("corporate.db").display().to_string();
    let sample = root().join("workflows/samples/corporate-credit/committee-tier.json");

    // Approved: officer recommends, senior recommends, two committee members approve.
    let case = run(&db, "corporate-credit", &sample);
    let approved = case["case_id"].as_str().unwrap().to_string();
    for (node, user) in [
        ("officer_review", "officer.wang"),
        ("senior_review", "senior.liu"),
        ("committee", "committee.xu"),
        ("committee", "committee.ma"),
    ] {
        let out = act(&db, &task_id(&db, &approved, node), "approve", user);
        assert!(out.status.success(), "{node} by {user}: {}", text(&out));
    }
    assert_eq!(case_json(&db, &approved)["outcome"], "approved");

    // Vetoed: senior.yang recommends as officer and may not act again at the senior level;
    // one member approves, the chair rejects and the case ends at once.
    let case = run(&db, "corporate-credit", &sample);
    let vetoed = case["case_id"].as_str().unwrap().to_string();
    let out = act(
        &db,
        &task_id(&db, &vetoed, "officer_review"),
        "approve",
        "senior.yang",
    );
    assert!(out.status.success(), "{}", text(&out));
    let senior = task_id(&db, &vetoed, "senior_review");
    let refused = act(&db, &senior, "approve", "senior.yang");
    assert_eq!(
        refused.status.code(),
        Some(1),
        "four-eyes must refuse: {}",
        text(&refused)
    );
    assert_eq!(
        open_tasks(&db, &vetoed),
        vec![("senior_review".into(), "senior_officer".into())]
    );
    assert!(act(&db, &senior, "approve", "senior.liu").status.success());
    let committee = task_id(&db, &vetoed, "committee");
    assert!(
        act(&db, &committee, "approve", "committee.xu")
            .status
            .success()
    );
    assert_eq!(case_json(&db, &vetoed)["status"], "waiting");
    assert!(
        act(&db, &committee, "reject", "committee.hu")
            .status
            .success()
    );
    let done = case_json(&db, &vetoed);
    assert_eq!(
        (done["status"].as_str(), done["outcome"].as_str()),
        (Some("completed"), Some("rejected"))
    );
}

//! The core CLI end to end: `run`, `start` + `worker`, `cases`, `history`, `explain`,
//! `tasks`, `task complete` (four-eyes and authority rejections, recorded as refusals
//! beside the case: `audit refusals`), `audit verify` catching edited and deleted history
//! rows, `fsck` catching a broken invariant, and `bench` at a small scale.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn docket() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_docket"));
    cmd.current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.env_remove("DOCKET_DB");
    cmd
}

pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub(crate) fn run_ok(args: &[&str]) -> Output {
    let out = docket()
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("spawning docket: {e}"));
    assert!(
        out.status.success(),
        "docket {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write_json(dir: &Path, name: &str, value: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    path.display().to_string()
}

fn input(n: u64, amount: u64, tier: &str) -> Value {
    json!({
        "n": n,
        "amount": amount,
        "tier": tier,
        "applicant": {"type": "individual", "name": "张伟"},
        "documents": []
    })
}

/// Runs raw SQL against a test database (the "attacker" editing rows by hand).
pub(crate) fn sql(db: &str, statement: &str) -> u64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("opening {db}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"))
            .rows_affected()
    })
}

#[test]
fn run_drives_a_case_to_its_end_and_explains_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("run.db").display().to_string();
    let flow = fixture("crash-flow.yaml").display().to_string();
    let fast = write_json(dir.path(), "fast.json", &input(1, 120_000, "fast"));

    let text = stdout(&run_ok(&["run", &flow, "--input", &fast, "--db", &db]));
    assert!(text.contains("status: completed"), "{text}");
    assert!(text.contains("outcome: approved"), "{text}");
    assert!(text.contains("(newly deployed)"), "{text}");
    // The route with its expression and the value it read; the plugin build and digests.
    assert!(
        text.contains("route 2 `tier == 'fast'` read {tier=\"fast\"} → approved"),
        "{text}"
    );
    assert!(text.contains("intake: ocr-check@1."), "{text}");
    assert!(text.contains("input sha256 "), "{text}");

    // Same flow again: no new version; JSON output.
    let out = run_ok(&["run", &flow, "--input", &fast, "--db", &db, "--json"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v["status"], "completed");
    assert_eq!(v["outcome"], "approved");
    assert_eq!(v["flow_version"], 1);
    let kinds: Vec<&str> = v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"case_started"));
    assert_eq!(kinds.last(), Some(&"case_completed"));
    assert_eq!(kinds.iter().filter(|k| **k == "step_completed").count(), 3);

    // An edited flow is a new version; the history command shows the same events.
    let edited = dir.path().join("edited.yaml");
    let yaml = std::fs::read_to_string(&flow)
        .unwrap_or_default()
        .replace("after: 1s", "after: 2s");
    std::fs::write(&edited, yaml).unwrap_or_else(|e| panic!("{e}"));
    let out = run_ok(&[
        "run",
        &edited.display().to_string(),
        "--input",
        &fast,
        "--db",
        &db,
        "--json",
    ]);
    let v2: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v2["flow_version"], 2);
    let case = v["case_id"].as_str().unwrap_or_default();
    let history = stdout(&run_ok(&["history", case, "--db", &db]));
    assert!(
        history.contains("case_completed   outcome: approved"),
        "{history}"
    );
    // The explanation: the same facts, decisions only.
    let explained = stdout(&run_ok(&["explain", case, "--db", &db]));
    assert!(
        explained.contains("route 2 `tier == 'fast'` read {tier=\"fast\"} → approved"),
        "{explained}"
    );
    assert!(explained.contains("intake: ocr-check@1."), "{explained}");
    let out = run_ok(&["explain", case, "--db", &db, "--json"]);
    let e: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let decisions = e["decisions"].as_array().cloned().unwrap_or_default();
    let steps: Vec<&Value> = decisions.iter().filter(|d| d["kind"] == "step").collect();
    assert_eq!(steps.len(), 3, "{e}");
    assert!(
        steps
            .iter()
            .all(|s| s["sha256"].as_str().map(str::len) == Some(64)
                && s["input_digest"].as_str().map(str::len) == Some(64)),
        "{e}"
    );
    let route = decisions
        .iter()
        .find(|d| d["kind"] == "route")
        .unwrap_or_else(|| panic!("no route in {e}"));
    assert_eq!(
        (
            &route["route_index"],
            &route["values"]["tier"],
            &route["to"]
        ),
        (&json!(1), &json!("fast"), &json!("approved"))
    );
    let listed = stdout(&run_ok(&["cases", "--db", &db, "--status", "completed"]));
    assert!(listed.contains("3 case(s)"), "{listed}");
    // A rejected input changes nothing and says why.
    let before = stdout(&run_ok(&["cases", "--db", &db]));
    let bad = write_json(dir.path(), "bad.json", &json!({"n": 1}));
    let out = docket()
        .args(["run", &flow, "--input", &bad, "--db", &db])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // Said once: the refusal is not repeated as its own cause.
    assert_eq!(
        err.matches("does not match the flow's input schema")
            .count(),
        1,
        "{err}"
    );
    assert_eq!(stdout(&run_ok(&["cases", "--db", &db])), before);
}

#[test]
fn tasks_are_acted_on_with_four_eyes_and_authority() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("tasks.db").display().to_string();
    let flow = fixture("approval-flow.yaml").display().to_string();
    let big = write_json(dir.path(), "big.json", &input(7, 120_000, "slow"));

    let text = stdout(&run_ok(&[
        "run",
        &flow,
        "--input",
        &big,
        "--db",
        &db,
        "--as",
        "officer.li",
    ]));
    assert!(text.contains("status: waiting"), "{text}");
    // A worker finds nothing to do now, and says what the case waits for.
    let out = run_ok(&["worker", "--db", &db, "--until-idle"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("left: 1 open task(s)") && err.contains("next work due"),
        "{err}"
    );
    let out = run_ok(&["tasks", "--db", &db, "--json"]);
    let tasks: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(tasks.as_array().map(Vec::len), Some(1), "{tasks}");
    let task = tasks[0]["task_id"].as_str().unwrap_or_default().to_string();
    assert_eq!(tasks[0]["role"], "credit_officer");
    let case = tasks[0]["case_id"].as_str().unwrap_or_default().to_string();
    let history_json = || -> Value {
        let out = run_ok(&["history", &case, "--db", &db, "--json"]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    };
    let before = history_json();
    assert_eq!(
        before["case"]["waits_for"]["tasks"][0]["task_id"],
        json!(task)
    );

    let act = |user: &str, action: &str| {
        docket()
            .args([
                "task", "complete", &task, "--action", action, "--as", user, "--db", &db,
            ])
            .args(["--comment", "checked the payslips"])
            .output()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    // The initiator may not approve their own case.
    let out = act("officer.li", "approve");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("four-eyes") && err.contains("nothing was changed"),
        "{err}"
    );
    // A limit below the amount.
    let out = act("officer.chen", "approve");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("authority limit"), "{err}");
    // Not in the directory at all.
    let out = act("mallory", "approve");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not in the approver directory"));
    // Rejections left no trace in the case: same events, same case view...
    let after = history_json();
    assert_eq!(after["events"], before["events"]);
    assert_eq!(after["case"], before["case"]);
    // ...and the refused attempts are on record beside it, naming the rule (the unknown
    // user never reached the case).
    let rules: Vec<(&str, &str)> = after["refusals"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["user"].as_str().unwrap_or("?"),
                r["rule"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        rules,
        [
            ("officer.li", "four_eyes"),
            ("officer.chen", "authority_limit")
        ]
    );
    let text = stdout(&run_ok(&["history", &case, "--db", &db]));
    assert!(
        text.contains("refused attempts")
            && text.contains("officer.li tried `approve`")
            && text.contains("refused by four_eyes"),
        "{text}"
    );
    let listed = stdout(&run_ok(&[
        "audit", "refusals", "--db", &db, "--case", &case,
    ]));
    assert!(listed.contains("2 refused attempt(s)"), "{listed}");

    // A new version of the flow lands while the case waits: the case finishes on its own.
    let v2 = dir.path().join("approval-v2.yaml");
    let yaml = std::fs::read_to_string(&flow).unwrap_or_default().replace(
        "approved: { kind: end, outcome: approved }",
        "approved: { kind: end, outcome: approved_v2 }",
    );
    std::fs::write(&v2, yaml).unwrap_or_else(|e| panic!("{e}"));
    let small = write_json(dir.path(), "small.json", &input(8, 500, "fast"));
    let out = run_ok(&[
        "run",
        &v2.display().to_string(),
        "--input",
        &small,
        "--db",
        &db,
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (v["flow_version"].as_i64(), v["outcome"].as_str()),
        (Some(2), Some("approved_v2"))
    );

    let out = act("officer.wang", "approve");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = stdout(&out);
    assert!(text.contains("is completed (approved)"), "{text}");
    let history = stdout(&run_ok(&["history", &case, "--db", &db]));
    assert!(
        history.contains("by officer.wang") && history.contains("checked the payslips"),
        "{history}"
    );
    // The action names the directory that granted the authority: the file's SHA-256.
    let directory = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("workflows/directory/approvers.yaml"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&directory))
    };
    let events = history_json()["events"].clone();
    let acted = events
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["type"] == "task_acted")
        .unwrap_or_else(|| panic!("no task_acted in {events}"));
    assert_eq!(acted["event"]["actor"]["directory"], json!(digest));
    assert!(stdout(&run_ok(&["tasks", "--db", &db])).contains("0 open task(s)"));
    // Acting on a closed task is refused precisely.
    let out = act("officer.wang", "approve");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("closed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run_ok(&["audit", "verify", "--db", &db]);
    run_ok(&["fsck", "--db", &db]);
}

#[test]
fn audit_verify_catches_edited_and_deleted_history_rows() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("audit.db").display().to_string();
    let flow = fixture("crash-flow.yaml").display().to_string();
    let inputs = write_json(
        dir.path(),
        "in.json",
        &json!([input(1, 10, "fast"), input(2, 900_000, "slow")]),
    );
    run_ok(&[
        "start", &flow, "--input", &inputs, "--count", "4", "--db", &db,
    ]);
    let out = run_ok(&["worker", "--db", &db, "--until-idle"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("left: 0 open task(s)") && err.contains("no timer or job pending"),
        "{err}"
    );
    let text = stdout(&run_ok(&["audit", "verify", "--db", &db]));
    assert!(
        text.contains("4 case(s)") && text.contains("all chains intact"),
        "{text}"
    );
    run_ok(&["fsck", "--db", &db]);

    let out = run_ok(&["cases", "--db", &db, "--json"]);
    let cases: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<String> = cases
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["id"].as_str().map(String::from))
        .collect();
    assert_eq!(ids.len(), 4);

    // Edit one event's payload (a different plugin result), keep everything else.
    let edited = sql(
        &db,
        &format!(
            "UPDATE events SET payload = replace(payload, '\"ok\":true', '\"ok\":false') WHERE case_id = '{}' AND seq = 3",
            ids[0]
        ),
    );
    assert_eq!(edited, 1);
    let out = docket()
        .args(["audit", "verify", "--db", &db])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("BROKEN case {} at event 3", ids[0])),
        "{text}"
    );
    assert!(text.contains("1 broken"), "{text}");

    // Delete one event of another case: named too, at the missing seq.
    assert_eq!(
        sql(
            &db,
            &format!(
                "DELETE FROM events WHERE case_id = '{}' AND seq = 5",
                ids[1]
            )
        ),
        1
    );
    let out = docket()
        .args(["audit", "verify", "--db", &db])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("BROKEN case {} at event 5", ids[1])),
        "{text}"
    );
    assert!(text.contains("2 broken"), "{text}");
    // fsck sees the gap.
    let out = docket()
        .args(["fsck", "--db", &db])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains(&format!("event-gap: case {}", ids[1])),
        "{}",
        stdout(&out)
    );
    // An event edited so that it no longer reads as its type: `history` and `explain`
    // name the case and the event instead of skipping it.
    assert_eq!(
        sql(
            &db,
            &format!(
                "UPDATE events SET payload = '{{\"node\":1}}' WHERE case_id = '{}' AND seq = 2",
                ids[2]
            ),
        ),
        1
    );
    for command in ["history", "explain"] {
        let out = docket()
            .args([command, &ids[2], "--db", &db])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            err.contains(&format!(
                "case {}: event 2 (`node_entered`) does not decode",
                ids[2]
            )),
            "{command}: {err}"
        );
    }
}

#[test]
fn fsck_names_a_running_case_without_a_job() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("fsck.db").display().to_string();
    let flow = fixture("crash-flow.yaml").display().to_string();
    let one = write_json(dir.path(), "one.json", &input(1, 10, "fast"));
    run_ok(&["start", &flow, "--input", &one, "--db", &db]);
    let text = stdout(&run_ok(&["cases", "--db", &db, "--status", "running"]));
    assert!(text.contains("1 case(s)"), "{text}");
    run_ok(&["fsck", "--db", &db]);
    assert_eq!(sql(&db, "DELETE FROM jobs"), 1);
    let out = docket()
        .args(["audit", "fsck", "--db", &db])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).contains("running-without-job"),
        "{}",
        stdout(&out)
    );
}

/// `--business-date` is the "today" plugins judge by: the auto-approve sample's ID card
/// expires on 2041-03-15, so the same case on a later business date fails its documents.
#[test]
fn business_date_decides_what_the_plugins_see() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("date.db").display().to_string();
    let sample = "workflows/samples/retail-loan/auto-approve.json";
    let outcome = |date: &str| -> Value {
        let out = run_ok(&[
            "run",
            "workflows/retail-loan.yaml",
            "--input",
            sample,
            "--db",
            &db,
            "--business-date",
            date,
            "--json",
        ]);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"))
    };
    let before = outcome("2030-06-01");
    assert_eq!(before["outcome"], "approved", "{before}");
    assert_eq!(
        before["events"][0]["event"]["business_date"], "2030-06-01",
        "{before}"
    );
    let after = outcome("2042-01-01");
    assert_eq!(after["outcome"], "incomplete", "{after}");

    let out = docket()
        .args(["run", "workflows/retail-loan.yaml", "--input", sample])
        .args(["--db", &db, "--business-date", "2042-13-01"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!out.status.success());
}

#[test]
fn bench_runs_the_retail_loan_path_durably_and_reports_its_figures() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("bench.db").display().to_string();
    let out = stdout(&run_ok(&[
        "bench", "--cases", "40", "--window", "8", "--db", &db,
    ]));
    for figure in [
        "40 cases of retail-loan v1",
        "8 in flight",
        "cases/s",
        "transitions/s  ",
        "case latency   p50",
        "fsync'd transactions, mean",
        // The four bundled automatic samples, one approval and three rejections, in turn.
        "completed (approved): 10, completed (rejected): 30",
    ] {
        assert!(out.contains(figure), "missing `{figure}` in:\n{out}");
    }
    // The warm-up case and the 40 measured ones are in the database, every chain intact.
    let listed = stdout(&run_ok(&["cases", "--db", &db, "--status", "completed"]));
    assert!(listed.contains("41 case(s)"), "{listed}");
    run_ok(&["audit", "verify", "--db", &db]);

    // Another flow's cases need their own input: refused before the database is touched.
    let untouched = dir.path().join("untouched.db");
    let out = docket()
        .args([
            "bench",
            "--flow",
            "post-loan-monitoring",
            "--cases",
            "5",
            "--db",
        ])
        .arg(&untouched)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs --input"), "{err}");
    assert!(
        !untouched.exists(),
        "a refused bench created {}",
        untouched.display()
    );
}

#[test]
fn commands_that_need_a_database_refuse_a_missing_one_and_bundled_flows_run_anywhere() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("typo.db").display().to_string();
    // `docket ARGS --db MISSING` fails saying `says` and leaves no database behind.
    let refused_without_writing = |args: &[&str], says: &str| {
        let out = docket()
            .args(args)
            .args(["--db", &missing])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!Path::new(&missing).exists(), "{args:?} created {missing}");
    };
    let some_case = "01936a5e-0000-7000-8000-000000000000";
    for args in [
        vec!["cases"],
        vec!["history", some_case],
        vec!["tasks"],
        vec![
            "task",
            "complete",
            "t",
            "--action",
            "approve",
            "--as",
            "officer.li",
        ],
        vec!["audit", "verify"],
        vec!["fsck"],
        vec!["worker", "--until-idle"],
    ] {
        refused_without_writing(&args, &format!("no database at {missing}"));
    }
    // A refused `run` or `start` (invalid flow, input the flow refuses) writes nothing,
    // not even the database it would have created.
    let flow = fixture("approval-flow.yaml").display().to_string();
    let good = write_json(dir.path(), "good.json", &input(1, 500, "fast"));
    let bad = write_json(dir.path(), "bad.json", &json!({"n": 1}));
    let mixed = write_json(
        dir.path(),
        "mixed.json",
        &json!([input(1, 500, "fast"), {"n": 2}]),
    );
    let unknown_plugin = dir.path().join("unknown-plugin.yaml");
    let yaml = std::fs::read_to_string(&flow)
        .unwrap_or_default()
        .replace("ocr-check@1", "no-such-plugin@1");
    std::fs::write(&unknown_plugin, yaml).unwrap_or_else(|e| panic!("{e}"));
    let unknown_plugin = unknown_plugin.display().to_string();
    for (args, says) in [
        (
            vec!["run", &flow, "--input", &bad],
            "bad.json: the case input does not match",
        ),
        (
            vec!["start", &flow, "--input", &mixed, "--count", "4"],
            "mixed.json, element 1: the case input does not match",
        ),
        (vec!["run", &unknown_plugin, "--input", &good], "E0304"),
    ] {
        refused_without_writing(&args, says);
    }

    // A database that cannot be created is said once, not once per layer of the driver.
    let nowhere = dir.path().join("no/such/dir/x.db").display().to_string();
    let out = docket()
        .args([
            "start",
            "retail-loan",
            "--input",
            "workflows/samples/retail-loan/auto-approve.json",
        ])
        .args(["--count", "1", "--db", &nowhere])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("unable to open database file").count(),
        1,
        "{err}"
    );

    // Outside a checkout: the bundled flow, and the bundled approver directory.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("workflows/samples/retail-loan/grey-zone.json")
        .display()
        .to_string();
    let elsewhere = |args: &[&str]| {
        let out = docket()
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.status.success(),
            "docket {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let text = stdout(&elsewhere(&[
        "run",
        "retail-loan",
        "--input",
        &sample,
        "--db",
        "here.db",
    ]));
    assert!(text.contains("status: waiting"), "{text}");
    let out = elsewhere(&["tasks", "--db", "here.db", "--json"]);
    let tasks: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    let task = tasks[0]["task_id"].as_str().unwrap_or_default().to_string();
    let case = tasks[0]["case_id"].as_str().unwrap_or_default().to_string();
    elsewhere(&[
        "task",
        "complete",
        &task,
        "--action",
        "approve",
        "--as",
        "officer.li",
        "--db",
        "here.db",
    ]);
    let history = stdout(&elsewhere(&["history", &case, "--db", "here.db", "--json"]));
    assert!(history.contains("officer.li"), "{history}");
    // A user the directory does not know is refused, naming the directory used.
    let out = docket()
        .current_dir(dir.path())
        .args([
            "task", "complete", &task, "--action", "approve", "--as", "nobody",
        ])
        .args(["--db", "here.db"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains(
            "`nobody` is not in the approver directory workflows/directory/approvers.yaml (bundled)"
        ),
        "{err}"
    );
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let mut child = docket()
        .arg("schema")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // The reader is gone before the command writes a byte (`docket schema | true`).
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn one_live_worker_per_identity_and_a_killed_one_frees_it() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("workers.db").display().to_string();
    let flow = fixture("crash-flow.yaml").display().to_string();
    let inputs = write_json(dir.path(), "in.json", &json!([input(1, 10, "fast")]));
    run_ok(&[
        "start", &flow, "--input", &inputs, "--count", "3", "--db", &db,
    ]);
    let mut first = docket()
        .args(["worker", "--db", &db, "--worker-id", "w1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Once the first worker has run the cases, it holds its identity.
    for _ in 0..200 {
        let listed = stdout(&run_ok(&["cases", "--db", &db, "--status", "completed"]));
        if listed.contains("3 case(s)") {
            break;
        }
        assert!(
            first.try_wait().ok().flatten().is_none(),
            "the worker stopped"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Another worker under the same identity is refused while the first lives (it would
    // take over the first one's leases).
    let out = docket()
        .args(["worker", "--db", &db, "--worker-id", "w1", "--until-idle"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "{refused}");
    assert!(
        refused.contains("a worker with identity `w1` is already running")
            && refused.contains(&format!("pid {}", first.id())),
        "{refused}"
    );
    // Under its own identity a second worker runs beside it.
    run_ok(&["worker", "--db", &db, "--worker-id", "w2", "--until-idle"]);
    // A killed worker's identity is free at once.
    first.kill().unwrap_or_else(|e| panic!("{e}"));
    first.wait().unwrap_or_else(|e| panic!("{e}"));
    run_ok(&["worker", "--db", &db, "--worker-id", "w1", "--until-idle"]);
}

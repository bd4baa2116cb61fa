//! The runtime over a real SQLite store with in-process test plugins: automatic steps fold
//! into the transition before them (one commit, no jobs), the fold stops where the case
//! waits (a retry's backoff, a person) or at `chain_steps`, and what is left runs as jobs.

use engine::case::Event;
use engine::plugin::{
    CallLimits, CallReport, PluginBuild, PluginInfo, PluginRef, Plugins, StepError, StepErrorKind,
    StepInput, StepOutput,
};
use engine::runtime::{Config, Runtime, SystemClock};
use engine::store::{CaseStatus, SqliteStore, Store};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `count@1` returns how often it ran for this case and node; a node whose config says
/// `fail_first: true` times out on its first run in each case (the one retryable failure),
/// and one that says `sleep_ms: n` takes that long.
#[derive(Default)]
pub(crate) struct Counting {
    pub(crate) runs: Mutex<HashMap<(String, String), u32>>,
}

impl Plugins for Counting {
    fn describe(&self, plugin: &PluginRef) -> Option<PluginInfo> {
        (plugin.name == "count" && plugin.major == 1).then(|| PluginInfo {
            name: "count".into(),
            version: "1.0.0".into(),
            config_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
        })
    }

    fn call(
        &self,
        plugin: &PluginRef,
        input: &StepInput,
        _: &CallLimits,
    ) -> Result<CallReport, StepError> {
        let n = {
            let mut runs = self.runs.lock().unwrap();
            let n = runs
                .entry((input.case_id.clone(), input.node_id.clone()))
                .or_default();
            *n += 1;
            *n
        };
        let config: serde_json::Value = serde_json::from_str(&input.config).unwrap();
        if let Some(ms) = config["sleep_ms"].as_u64() {
            std::thread::sleep(Duration::from_millis(ms));
        }
        let build = PluginBuild {
            name: plugin.name.clone(),
            version: "1.0.0".into(),
            sha256: "0".repeat(64),
        };
        let output = if config["fail_first"] == json!(true) && n == 1 {
            Err(StepError {
                kind: StepErrorKind::Timeout,
                plugin: plugin.to_string(),
                sha256: Some(build.sha256.clone()),
                code: None,
                message: "ran longer than its time limit".into(),
            })
        } else {
            Ok(StepOutput {
                result: json!({ "runs": n }).into(),
                outcome: None,
                score: None,
                reasons: Vec::new(),
            })
        };
        Ok(CallReport {
            build,
            duration: Duration::from_micros(5),
            output,
        })
    }
}

const THREE_STEPS: &str = "flow: three
start: a
nodes:
  a: { kind: task, plugin: count@1, result: a, next: b }
  b: { kind: task, plugin: count@1, result: b, next: c }
  c: { kind: task, plugin: count@1, result: c, next: route }
  route:
    kind: decision
    routes:
      - when: c.runs == 1
        to: done
      - otherwise: odd
  done: { kind: end, outcome: done }
  odd: { kind: end, outcome: odd }
";

async fn runtime(dir: &tempfile::TempDir, cfg: Config) -> (Runtime<SqliteStore>, Arc<Counting>) {
    let store = SqliteStore::open(&dir.path().join("rt.db").display().to_string())
        .await
        .unwrap();
    let plugins = Arc::new(Counting::default());
    let rt = Runtime::new(store, plugins.clone(), Arc::new(SystemClock), cfg);
    (rt, plugins)
}

/// Deploys `yaml` and starts one case run in this process; the outcome and the store's
/// commit count before the start.
async fn start_here(
    rt: &Runtime<SqliteStore>,
    file: &str,
    yaml: &str,
) -> (engine::runtime::Outcome, u64) {
    let version = rt.deploy(file, yaml).await.unwrap().version.id;
    let before = rt.store().commit_stats().transitions;
    let out = rt
        .start_case(version, json!({}), "test", None, true)
        .await
        .unwrap();
    (out, before)
}

fn events_of(stored: &[engine::store::StoredEvent]) -> Vec<String> {
    stored.iter().map(|e| e.kind.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_path_is_one_commit_without_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, plugins) = runtime(&dir, Config::default()).await;
    let (out, before) = start_here(&rt, "three.yaml", THREE_STEPS).await;
    assert_eq!(out.status, CaseStatus::Completed);
    assert_eq!(out.outcome.as_deref(), Some("done"));
    // Start and three step results: four state-machine transitions, one store commit.
    assert_eq!(rt.store().commit_stats().transitions - before, 1);
    assert_eq!(rt.stats().transitions, 4);
    assert_eq!(plugins.runs.lock().unwrap().len(), 3);
    assert_eq!(
        rt.store().next_due().await.unwrap(),
        None,
        "no job rows left"
    );

    let history = rt.store().events(out.case_id, 0).await.unwrap();
    let steps = history
        .iter()
        .filter(|e| e.kind == "step_completed")
        .count();
    assert_eq!(steps, 3, "{:?}", events_of(&history));
    assert!(history.windows(2).all(|w| w[1].seq == w[0].seq + 1));
    assert_eq!(history.first().unwrap().kind, "case_started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fold_stops_at_a_backoff_and_the_rest_runs_as_a_job() {
    let flaky = THREE_STEPS.replace(
        "b: { kind: task, plugin: count@1, result: b, next: c }",
        "b: { kind: task, plugin: count@1, config: { fail_first: true }, retry: { attempts: 2, backoff: 1500ms }, result: b, next: c }",
    );
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = runtime(&dir, Config::default()).await;
    let (out, before) = start_here(&rt, "flaky.yaml", &flaky).await;
    // a ran, b failed and waits out its backoff: committed at once, nothing after b yet.
    assert_eq!(out.status, CaseStatus::Running);
    assert_eq!(rt.store().commit_stats().transitions - before, 1);
    let history = rt.store().events(out.case_id, 0).await.unwrap();
    let kinds = events_of(&history);
    assert_eq!(
        kinds.iter().filter(|k| *k == "step_completed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "step_failed").count(),
        1,
        "{kinds:?}"
    );
    assert!(
        rt.store().next_due().await.unwrap().is_some(),
        "the retry is a job"
    );

    // The retry (held in memory, due after the backoff) folds b's second run and c.
    rt.wait_idle().await;
    let case = rt.case_state(out.case_id).await.unwrap();
    assert_eq!(case.status(), CaseStatus::Completed);
    assert_eq!(case.outcome(), Some("done"));
    assert_eq!(rt.store().commit_stats().transitions - before, 2);
    assert_eq!(rt.store().next_due().await.unwrap(), None);
}

/// Starts a case of `yaml` (steps a, b, c, then the end `done`) under `cfg`, where only a
/// is to run before the first commit: b's job then runs with c folded in (a job's own
/// run does not count against the chain's bounds). Two commits, each step run once.
async fn a_alone_then_jobs(cfg: Config, file: &str, yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (rt, plugins) = runtime(&dir, cfg).await;
    let (out, before) = start_here(&rt, file, yaml).await;
    assert_eq!(
        out.status,
        CaseStatus::Running,
        "only a ran before the commit"
    );
    rt.wait_idle().await;
    let case = rt.case_state(out.case_id).await.unwrap();
    assert_eq!(case.outcome(), Some("done"));
    assert_eq!(rt.store().commit_stats().transitions - before, 2);
    let history = rt.store().events(out.case_id, 0).await.unwrap();
    let completed = history
        .iter()
        .filter(|e| e.kind == "step_completed")
        .count();
    assert_eq!(completed, 3);
    assert_eq!(plugins.runs.lock().unwrap().len(), 3, "each step ran once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_steps_bounds_the_fold_and_jobs_finish_the_case() {
    let cfg = Config {
        chain_steps: 1,
        ..Config::default()
    };
    a_alone_then_jobs(cfg, "three.yaml", THREE_STEPS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueued_cases_fold_in_the_worker_and_record_what_each_plugin_read() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = runtime(&dir, Config::default()).await;
    let version = rt
        .deploy("three.yaml", THREE_STEPS)
        .await
        .unwrap()
        .version
        .id;
    let out = rt
        .start_case(
            version,
            json!({"zeta": 1, "amount": 5}),
            "test",
            None,
            false,
        )
        .await
        .unwrap();
    assert_eq!(out.status, CaseStatus::Running);
    let before = rt.store().commit_stats().transitions;
    rt.run_worker(true, std::future::pending()).await.unwrap();
    let case = rt.case_state(out.case_id).await.unwrap();
    assert_eq!(case.outcome(), Some("done"));
    // The claimed job's step and the two after it: one commit.
    assert_eq!(rt.store().commit_stats().transitions - before, 1);

    // Each step event's digest is the digest of the input rebuilt from the history.
    let flow = rt.flow(version).await.unwrap();
    let history = rt.store().events(out.case_id, 0).await.unwrap();
    let mut events = Vec::new();
    for stored in &history {
        let mut payload: serde_json::Value = serde_json::from_str(&stored.payload).unwrap();
        payload["type"] = json!(stored.kind);
        events.push(serde_json::from_value::<Event>(payload).unwrap());
    }
    let mut checked = 0;
    for i in 0..events.len() {
        if let Event::StepCompleted {
            node, input_digest, ..
        } = &events[i]
        {
            let before = engine::case::replay(&flow, &events[..i]).unwrap();
            let input = engine::case::step_input(&flow, &before, node).unwrap();
            assert_eq!(&input.digest(), input_digest, "{node}");
            checked += 1;
        }
    }
    assert_eq!(checked, 3);
}

/// A case that waits for a person keeps a snapshot (it will be loaded again); one that
/// ended keeps none, and inspecting it replays its history to the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_cases_are_snapshotted_and_ended_ones_are_not() {
    const PARKS: &str = "flow: parks
start: a
nodes:
  a: { kind: task, plugin: count@1, result: a, next: review }
  review:
    kind: approval
    assign: { role: officer }
    actions: { approve: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().unwrap();
    let (rt, _) = runtime(&dir, Config::default()).await;
    let (ended, _) = start_here(&rt, "three.yaml", THREE_STEPS).await;
    assert_eq!(ended.status, CaseStatus::Completed);
    let record = rt.store().load_case(ended.case_id).await.unwrap();
    assert_eq!(record.snapshot, None, "an ended case needs no snapshot");
    let state = rt.case_state(ended.case_id).await.unwrap();
    assert_eq!(state.outcome(), Some("done"));
    assert_eq!(state.seq() as i64, record.head.seq);

    let (waiting, _) = start_here(&rt, "parks.yaml", PARKS).await;
    assert_eq!(waiting.status, CaseStatus::Waiting);
    let record = rt.store().load_case(waiting.case_id).await.unwrap();
    let snapshot = record.snapshot.expect("a waiting case is snapshotted");
    assert_eq!(record.snapshot_seq, record.head.seq);
    let snapshot: engine::case::CaseState = serde_json::from_value(snapshot).unwrap();
    assert_eq!(snapshot, rt.case_state(waiting.case_id).await.unwrap());
}

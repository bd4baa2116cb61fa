//! Several runtimes on one database, as several processes would be: leases are renewed
//! while a step runs, timers are claimed under leases, a restarted worker takes its
//! identity back at once, a job that keeps losing its holder becomes an incident, a
//! stopping worker gives its work back, and racing approvals get clean refusals.

use super::runtime::Counting;
use engine::case::RejectionClass;
use engine::directory::YamlDirectory;
use engine::runtime::{Config, Error, Runtime, SystemClock};
use engine::store::{CaseFilter, CaseStatus, Claim, SqliteStore, Store};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// One plugin step, then the end.
const ONE: &str = "flow: one
start: a
nodes:
  a: { kind: task, plugin: count@1, result: a, next: done }
  done: { kind: end, outcome: done }
";

/// A runtime of its own (own store handle, own writer, own identity) on the database at
/// `db`: what another process on the same file would be.
async fn node(db: &Path, owner: &str, plugins: Arc<Counting>, cfg: Config) -> Runtime<SqliteStore> {
    let store = SqliteStore::open(&db.display().to_string())
        .await
        .expect("opening the store");
    Runtime::new(
        store,
        plugins,
        Arc::new(SystemClock),
        Config {
            owner: owner.into(),
            ..cfg
        },
    )
}

/// Deploys `yaml` and enqueues `n` cases for workers (nothing runs in this process).
async fn enqueue(rt: &Runtime<SqliteStore>, yaml: &str, n: usize) -> Vec<Uuid> {
    let version = rt
        .deploy("flow.yaml", yaml)
        .await
        .expect("deploy")
        .version
        .id;
    let mut ids = Vec::new();
    for i in 0..n {
        let out = rt
            .start_case(version, json!({ "n": i }), "starter", None, false)
            .await
            .expect("start");
        ids.push(out.case_id);
    }
    ids
}

async fn kinds(rt: &Runtime<SqliteStore>, case: Uuid) -> Vec<String> {
    rt.store()
        .events(case, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

/// Runs `until_idle` workers side by side; fails (instead of hanging) if they do not
/// finish within a minute.
async fn run_all(workers: &[&Runtime<SqliteStore>]) {
    let handles: Vec<_> = workers
        .iter()
        .map(|rt| {
            let rt = (*rt).clone();
            tokio::spawn(async move { rt.run_worker(true, std::future::pending()).await })
        })
        .collect();
    for h in handles {
        tokio::time::timeout(Duration::from_secs(60), h)
            .await
            .expect("a worker did not go idle within a minute")
            .expect("join")
            .expect("worker");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_three_leases_long_runs_exactly_once_with_two_workers() {
    // The step takes 900 ms, three times the 300 ms lease: without renewal the other
    // worker would claim it again after 300 ms and run it a second time.
    const LONG: &str = "flow: long
start: a
nodes:
  a: { kind: task, plugin: count@1, config: { sleep_ms: 900 }, timeout: 3s, result: a, next: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("leases.db");
    let plugins = Arc::new(Counting::default());
    let cfg = Config {
        lease: Duration::from_millis(300),
        idle_ceiling: Duration::from_millis(50),
        ..Config::default()
    };
    let a = node(&db, "a", plugins.clone(), cfg.clone()).await;
    let b = node(&db, "b", plugins.clone(), cfg).await;
    let cases = enqueue(&a, LONG, 2).await;
    run_all(&[&a, &b]).await;
    for case in &cases {
        let kinds = kinds(&a, *case).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "step_completed").count(),
            1,
            "{kinds:?}"
        );
        assert_eq!(kinds.last().map(String::as_str), Some("case_completed"));
    }
    let runs = plugins.runs.lock().expect("runs");
    assert_eq!(runs.len(), 2);
    assert!(runs.values().all(|n| *n == 1), "a step ran twice: {runs:?}");
    let (sa, sb) = (a.stats(), b.stats());
    assert_eq!(sa.leases_lost + sb.leases_lost, 0, "{sa:?} {sb:?}");
    assert_eq!(sa.stale + sb.stale, 0, "{sa:?} {sb:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_fire_each_due_timer_exactly_once() {
    const WAITS: &str = "flow: waits
start: pause
nodes:
  pause: { kind: timer, after: 1s, next: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("timers.db");
    let plugins = Arc::new(Counting::default());
    let cfg = Config {
        idle_ceiling: Duration::from_millis(20),
        ..Config::default()
    };
    let a = node(&db, "a", plugins.clone(), cfg.clone()).await;
    let b = node(&db, "b", plugins, cfg).await;
    let cases = enqueue(&a, WAITS, 40).await;
    run_all(&[&a, &b]).await;
    for case in &cases {
        let kinds = kinds(&a, *case).await;
        assert_eq!(
            kinds.iter().filter(|k| *k == "timer_fired").count(),
            1,
            "{kinds:?}"
        );
    }
    let (sa, sb) = (a.stats(), b.stats());
    // Every timer was run by one worker only: no run found its timer already fired.
    assert_eq!(sa.timers + sb.timers, cases.len() as u64, "{sa:?} {sb:?}");
    assert_eq!(
        sa.stale + sb.stale + sa.conflicts + sb.conflicts,
        0,
        "{sa:?} {sb:?}"
    );
    assert_eq!(sa.commit.rejected + sb.commit.rejected, 0, "{sa:?} {sb:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_worker_takes_its_identity_back_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("takeover.db");
    let plugins = Arc::new(Counting::default());
    let first = node(&db, "w", plugins.clone(), Config::default()).await;
    let cases = enqueue(&first, ONE, 5).await;
    // A worker `w` claimed everything for an hour, then died.
    let claimed = first
        .store()
        .claim(Claim {
            owner: "w".into(),
            now: chrono::Utc::now(),
            lease_for: Duration::from_secs(3600),
            limit: 100,
        })
        .await
        .expect("claim");
    assert_eq!(claimed.jobs.len(), 5);
    drop(first);

    let restarted = node(&db, "w", plugins.clone(), Config::default()).await;
    assert_eq!(restarted.take_over_identity().await.expect("take over"), 5);
    // Without the take-over, `until_idle` would wait an hour for the leases.
    run_all(&[&restarted]).await;
    let done = restarted
        .store()
        .list_cases(&CaseFilter {
            status: Some(CaseStatus::Completed),
            ..CaseFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(done.len(), cases.len());
    // The dead holder's epoch no longer completes anything: each job ran once.
    assert!(plugins.runs.lock().expect("runs").values().all(|n| *n == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_losing_its_holder_becomes_an_incident() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("poison.db");
    let plugins = Arc::new(Counting::default());
    let cfg = Config {
        max_claims: 2,
        ..Config::default()
    };
    let rt = node(&db, "survivor", plugins.clone(), cfg).await;
    let case = enqueue(&rt, ONE, 1).await[0];
    // Two processes claimed the run and died before finishing it.
    for ghost in ["ghost-1", "ghost-2"] {
        let claimed = rt
            .store()
            .claim(Claim {
                owner: ghost.into(),
                now: chrono::Utc::now(),
                lease_for: Duration::from_millis(1),
                limit: 10,
            })
            .await
            .expect("claim");
        assert_eq!(claimed.jobs.len(), 1);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    run_all(&[&rt]).await;
    let record = rt.store().load_case(case).await.expect("load");
    assert_eq!(record.status, CaseStatus::Incident);
    let events = rt.store().events(case, 0).await.expect("events");
    let failed = events
        .iter()
        .find(|e| e.kind == "step_failed")
        .expect("a step_failed event");
    let payload: serde_json::Value = serde_json::from_str(&failed.payload).expect("json");
    assert_eq!(payload["error"]["kind"], json!("abandoned"), "{payload}");
    assert!(events.iter().any(|e| e.kind == "incident_raised"));
    assert!(
        plugins.runs.lock().expect("runs").is_empty(),
        "the plugin never ran"
    );
    assert_eq!(rt.stats().abandoned, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_running_steps_and_gives_back_the_rest() {
    // A step that runs while the stop comes, then a timer held in memory for later.
    const SLOW_THEN_WAIT: &str = "flow: slow
start: a
nodes:
  a: { kind: task, plugin: count@1, config: { sleep_ms: 400 }, result: a, next: pause }
  pause: { kind: timer, after: 2s, next: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("stop.db");
    let plugins = Arc::new(Counting::default());
    let rt = node(&db, "stopping", plugins.clone(), Config::default()).await;
    let case = enqueue(&rt, SLOW_THEN_WAIT, 1).await[0];
    let stop = tokio::time::sleep(Duration::from_millis(100));
    tokio::time::timeout(Duration::from_secs(30), rt.run_worker(false, stop))
        .await
        .expect("the worker stopped")
        .expect("worker");
    // The running step committed; the timer it armed was not waited for.
    let kinds = kinds(&rt, case).await;
    assert!(kinds.iter().any(|k| k == "step_completed"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "timer_armed"), "{kinds:?}");
    assert!(!kinds.iter().any(|k| k == "timer_fired"), "{kinds:?}");
    assert_eq!(rt.in_flight(), 0);
    assert_eq!(
        rt.store()
            .live_leases(chrono::Utc::now())
            .await
            .expect("leases"),
        0,
        "every lease was given back"
    );
    // Another worker takes the timer when it is due, without waiting for a lease.
    let other = node(&db, "other", plugins, Config::default()).await;
    run_all(&[&other]).await;
    let record = other.store().load_case(case).await.expect("load");
    assert_eq!(record.status, CaseStatus::Completed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_racing_approvals_one_succeeds_and_the_rest_are_refused_cleanly() {
    const PARKS: &str = "flow: parks
start: review
nodes:
  review:
    kind: approval
    assign: { role: officer }
    actions: { approve: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("race.db");
    let plugins = Arc::new(Counting::default());
    let first = node(&db, "starter", plugins.clone(), Config::default()).await;
    let case = enqueue(&first, PARKS, 1).await[0];
    let task = first
        .store()
        .open_tasks(None)
        .await
        .expect("tasks")
        .into_iter()
        .find(|t| t.case_id == case)
        .expect("an open task")
        .task_id;
    // Fifty approvers, each through a runtime and store handle of their own (as fifty
    // processes would be), all at once.
    let mut racers = Vec::new();
    for i in 0..50 {
        racers.push(
            node(
                &db,
                &format!("racer-{i}"),
                plugins.clone(),
                Config::default(),
            )
            .await,
        );
    }
    let mut people = String::from("approvers:\n");
    for i in 0..50 {
        people.push_str(&format!("  officer-{i}:\n    roles: [officer]\n"));
    }
    let directory = Arc::new(YamlDirectory::parse("officers.yaml", &people).expect("directory"));
    let mut handles = Vec::new();
    for (i, rt) in racers.iter().enumerate() {
        let rt = rt.clone();
        let task = task.clone();
        let directory = directory.clone();
        handles.push(tokio::spawn(async move {
            let user = format!("officer-{i}");
            rt.act(&task, "approve", &user, directory.as_ref(), None, false)
                .await
        }));
    }
    let mut won = 0;
    let mut refusals = Vec::new();
    for h in handles {
        match h.await.expect("join") {
            Ok(out) => {
                won += 1;
                assert_eq!(out.status, CaseStatus::Completed);
            }
            Err(e) => refusals.push(e),
        }
    }
    assert_eq!(won, 1, "{refusals:?}");
    assert_eq!(refusals.len(), 49);
    for e in &refusals {
        let text = e.to_string();
        assert!(
            matches!(e, Error::Rejected(r) if r.class() == RejectionClass::Conflict),
            "not a clean refusal: {text}"
        );
        assert!(
            !text.contains("seq") && !text.contains("rebuil") && !text.contains("head"),
            "{text}"
        );
    }
    let events = kinds(&first, case).await;
    assert_eq!(
        events.iter().filter(|k| *k == "task_acted").count(),
        1,
        "{events:?}"
    );
}

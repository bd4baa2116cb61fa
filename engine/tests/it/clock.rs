//! Timers and SLA escalation through the runtime and a real store under a controlled
//! clock: the test moves the runtime's `Clock` forward by hours, and the worker finds
//! what fell due at its next poll, so hours of flow time pass in milliseconds.

use super::runtime::Counting;
use chrono::{DateTime, TimeZone, Utc};
use engine::runtime::{Clock, Config, Runtime};
use engine::store::{CaseStatus, SqliteStore, Store};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Flow time, moved on by the test.
struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().expect("clock");
        *now += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock")
    }
}

async fn runtime_at(dir: &tempfile::TempDir, clock: Arc<TestClock>) -> Runtime<SqliteStore> {
    let store = SqliteStore::open(&dir.path().join("clock.db").display().to_string())
        .await
        .expect("store");
    let cfg = Config {
        owner: "clock".into(),
        idle_ceiling: Duration::from_millis(20),
        ..Config::default()
    };
    Runtime::new(store, Arc::new(Counting::default()), clock, cfg)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_four_hour_sla_escalates_and_a_timer_fires_under_a_controlled_clock() {
    const SLA: &str = "flow: sla
start: review
nodes:
  review:
    kind: approval
    assign: { role: officer }
    sla: { within: 4h, escalate_to: senior_officer }
    actions: { approve: cooling }
  cooling: { kind: timer, after: 6h, next: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid date");
    let clock = Arc::new(TestClock(Mutex::new(start)));
    let rt = runtime_at(&dir, clock.clone()).await;
    let version = rt.deploy("sla.yaml", SLA).await.expect("deploy").version.id;
    let case = rt
        .start_case(version, json!({}), "starter", None, true)
        .await
        .expect("start")
        .case_id;
    // Three hours on, nothing is due: the worker goes idle at once.
    clock.advance(chrono::Duration::hours(3));
    rt.run_worker(true, std::future::pending())
        .await
        .expect("worker");
    assert!(
        rt.store()
            .open_tasks(Some("senior_officer"))
            .await
            .expect("tasks")
            .is_empty(),
        "not escalated before its SLA"
    );

    // Five hours in, the SLA timer (due after four) fires in the worker.
    clock.advance(chrono::Duration::hours(2));
    rt.run_worker(true, std::future::pending())
        .await
        .expect("worker");
    let escalated = rt
        .store()
        .open_tasks(Some("senior_officer"))
        .await
        .expect("tasks");
    assert_eq!(
        escalated.len(),
        1,
        "the task shows in the escalation role's inbox"
    );
    assert_eq!(escalated[0].case_id, case);
    let kinds: Vec<String> = rt
        .store()
        .events(case, 0)
        .await
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.iter().any(|k| k == "timer_fired"), "{kinds:?}");

    // Approved; the six-hour cooling-off timer then fires and the case ends.
    let task = escalated[0].task_id.clone();
    let directory = engine::directory::YamlDirectory::parse(
        "officers.yaml",
        "approvers:\n  olga:\n    roles: [officer]\n",
    )
    .expect("directory");
    rt.act(&task, "approve", "olga", &directory, None, true)
        .await
        .expect("approve");
    clock.advance(chrono::Duration::hours(5));
    rt.run_worker(true, std::future::pending())
        .await
        .expect("worker");
    assert_eq!(
        rt.store().load_case(case).await.expect("load").status,
        CaseStatus::Waiting,
        "the cooling-off timer is not due after five of its six hours"
    );
    clock.advance(chrono::Duration::hours(1));
    rt.run_worker(true, std::future::pending())
        .await
        .expect("worker");
    let record = rt.store().load_case(case).await.expect("load");
    assert_eq!(record.status, CaseStatus::Completed);
    assert_eq!(record.outcome.as_deref(), Some("done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_timer_the_clock_calls_early_is_waited_for_again() {
    const SHORT: &str = "flow: short
start: pause
nodes:
  pause: { kind: timer, after: 1s, next: done }
  done: { kind: end, outcome: done }
";
    let dir = tempfile::tempdir().expect("tempdir");
    let start = Utc
        .with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .expect("a valid date");
    let clock = Arc::new(TestClock(Mutex::new(start)));
    let rt = runtime_at(&dir, clock.clone()).await;
    let version = rt
        .deploy("short.yaml", SHORT)
        .await
        .expect("deploy")
        .version
        .id;
    // The timer is armed within the horizon: held in memory, leased to this process.
    let case = rt
        .start_case(version, json!({}), "starter", None, true)
        .await
        .expect("start")
        .case_id;
    // A second of real time passes, but the runtime's clock stands still: when the held
    // timer wakes, its clock says it is not due.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    assert_eq!(rt.in_flight(), 1, "the held timer is still waited for");
    clock.advance(chrono::Duration::seconds(1));
    tokio::time::timeout(Duration::from_secs(10), rt.wait_idle())
        .await
        .expect("the timer fired");
    let record = rt.store().load_case(case).await.expect("load");
    assert_eq!(record.status, CaseStatus::Completed);
}

//! Store write speed: transitions committed through `SqliteStore` (WAL, synchronous=FULL,
//! group commit) on a temporary file, many in flight at once, as the runtime submits them.
//!
//! Each case is two transitions shaped like the retail-loan automatic path: the first
//! creates the case with six events (start, node entries, two plugin results), the second
//! appends five (a plugin result, the route, the end) and completes it with a snapshot.
//! Payloads are a real history (`docket run workflows/retail-loan.yaml --input
//! workflows/samples/retail-loan/auto-approve.json --json`).
//!
//! Run: `cargo bench -p engine --bench store` (`STORE_BENCH_CASES`, `STORE_BENCH_IN_FLIGHT`
//! change the size; `STORE_BENCH_DIR` keeps the database files in that folder). Prints figures; asserts nothing. CPU is the whole process's (user +
//! system, from /proc/self/stat), so it includes building the transitions as a caller would.

use chrono::{TimeZone, Utc};
use engine::store::{
    CaseStatus, ChainHead, NewCase, NewEvent, SqliteStore, Store, Time, Transition,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// `[type, payload]` of every event of one automatic retail-loan case.
const HISTORY: &str = r#"[
  ["case_started", {"at":"2026-11-23T15:20:59.948531846Z","business_date":"2026-11-23","case_id":"01a208ff-032c-7307-8011-36241901b0ed","flow_hash":"e561729ad97cfc57781022a248f37b27a0e430e5e49d2273d067fc6a3d886bda","flow_id":"retail-loan","initiator":"cli","input":{"amount":80000,"applicant":{"age":38,"birth_date":"1988-04-12","card_number":"6222021000123450","employment_months":74,"housing":"own_mortgage","id_number":"110105198804121238","monthly_debt_payments":1500,"monthly_income":22000,"name":"张伟","relationship_months":50,"type":"individual"},"application_id":"RL-2026-0001","bureau":{"delinquencies_24m":0,"history_months":96,"revolving_utilisation":0.12},"credit_report":{"queries":[{"date":"2024-02-10","institution":"招商银行","reason":"credit_card_approval"},{"date":"2024-03-01","institution":"Docket Demo Bank","reason":"loan_approval"}]},"description":"Low risk: salaried 38-year-old, clean bureau, 80k over 3 years. Score 825 (A), documents and compliance pass, amount within the 200k auto limit -> approved.","documents":[{"fields":{"birth_date":{"confidence":0.97,"value":"1988.04.12"},"expiry_date":{"confidence":0.96,"value":"2021.03.15-2041.03.15"},"id_number":{"confidence":0.99,"value":"110105198804121238"},"name":{"confidence":0.99,"value":"张伟"}},"type":"id_card"},{"fields":{"card_number":{"confidence":0.99,"value":"6222021000123450"}},"type":"bank_card"},{"fields":{"employer":{"confidence":0.93,"value":"北京某某科技有限公司"},"monthly_income":{"confidence":0.97,"value":"22000"},"name":{"confidence":0.95,"value":"张伟"}},"type":"payslip"}],"product":"personal-loan","term_months":36}}],
  ["node_entered", {"at":"2026-11-23T15:20:59.948531846Z","node":"documents","token":0}],
  ["step_completed", {"at":"2026-11-23T15:20:59.953339153Z","attempt":1,"duration_us":446,"input_digest":"fe78a84462fcaeb3e0566a5f065540604e3ca510916e6ec51a2798ac7eb4f120","node":"documents","output":{"outcome":"pass","reasons":[],"result":{"applicant_id":{"age":38,"birth_date":"1988-04-12","region_code":"110105","sex":"male"},"applicant_type":"individual","documents_checked":3,"errors":0,"findings":[],"ok":true,"outcome":"pass","reason_codes":[],"warnings":0},"score":null},"plugin":{"name":"ocr-check","sha256":"0c43a96df0ca4937aca5dd2def9b1c0b9bc3f72229d76c88627e5476c9c5a7ca","version":"1.0.0"},"result_var":"docs","token":0}],
  ["node_entered", {"at":"2026-11-23T15:20:59.953339153Z","node":"score","token":0}],
  ["step_completed", {"at":"2026-11-23T15:20:59.957609284Z","attempt":1,"duration_us":717,"input_digest":"ee4c0eaf396e03631d42cbebdec85890639dd22eb7f4b51db4ffb6b35b9f30ee","node":"score","output":{"outcome":"approve","reasons":[{"code":"RC03","message":"Revolving credit utilisation too high: 70 of 80 points (0.12 in [0.1, 0.3))","weight":10.0},{"code":"RC09","message":"Housing status: 40 of 45 points (own_mortgage in own_mortgage)","weight":5.0}],"result":{"card":"retail-v1","characteristics":[{"bin":">= 20000","max_points":75,"name":"monthly_income","points":75,"value":22000},{"bin":">= 60","max_points":55,"name":"employment_tenure","points":55,"value":74},{"bin":"[0.1, 0.3)","max_points":80,"name":"credit_utilisation","points":70,"value":0.12},{"bin":"[0, 1)","max_points":100,"name":"delinquencies","points":100,"value":0},{"bin":"[35, 50)","max_points":55,"name":"age","points":55,"value":38},{"bin":"< 0.2","max_points":70,"name":"debt_to_income","points":70,"value":0.068182},{"bin":">= 36","max_points":45,"name":"relationship","points":45,"value":50},{"bin":">= 84","max_points":55,"name":"credit_history","points":55,"value":96},{"bin":"own_mortgage","max_points":45,"name":"housing","points":40,"value":"own_mortgage"}],"decision":"approve","grade":"A","missing":[],"probability_of_default":0.001012,"reason_codes":["RC03","RC09"],"reasons":[{"characteristic":"credit_utilisation","code":"RC03","max_points":80,"message":"Revolving credit utilisation too high: 70 of 80 points (0.12 in [0.1, 0.3))","points":70,"points_lost":10},{"characteristic":"housing","code":"RC09","max_points":45,"message":"Housing status: 40 of 45 points (own_mortgage in own_mortgage)","points":40,"points_lost":5}],"score":825},"score":825.0},"plugin":{"name":"scorecard","sha256":"5a606bdeeb36fb6e436a6ea70652140eb077319000613c9d1ccd9933cb55a394","version":"1.0.0"},"result_var":"scoring","token":0}],
  ["node_entered", {"at":"2026-11-23T15:20:59.957609284Z","node":"compliance","token":0}],
  ["step_completed", {"at":"2026-11-23T15:20:59.960149573Z","attempt":1,"duration_us":726,"input_digest":"c13b2a57f4e6decc04d7392c6a82b724ba1347bc55869dd58ff96772f637e438","node":"compliance","output":{"outcome":"pass","reasons":[],"result":{"checks":{"AGE":{"kind":"age_band","severity":"reject","status":"passed","values":{"age_at_application":38,"age_at_maturity":41,"birth_date":"1988-04-12","birth_date_source":"birth_date","maturity_date":"2029-11-23","max_age_at_maturity":65,"min_age":18}},"AMOUNT":{"kind":"amount_limits","severity":"reject","status":"passed","values":{"amount":80000.0,"max":500000.0,"min":10000.0,"product":"personal-loan"}},"DTI":{"kind":"dti_ceiling","severity":"reject","status":"passed","values":{"dti":0.178807,"max_ratio":0.55,"monthly_debt_payments":1500.0,"monthly_income":22000.0,"new_loan_payment":2433.75,"payment_source":"estimated"}},"MULTI_LENDING":{"kind":"multi_lending","severity":"reject","status":"passed","values":{"distinct_institutions":0,"future_dated_ignored":0,"institutions":[],"max_institutions":4,"queries_counted":0,"window_days":90,"window_start":"2026-08-26"}},"WATCHLIST":{"kind":"watchlist","severity":"reject","status":"passed","values":{"entries":3,"hit_count":0,"hits":[],"subjects_screened":1}}},"outcome":"pass","passed":true,"reason_codes":[],"rule_set":"retail-v1","violations":[]},"score":null},"plugin":{"name":"compliance","sha256":"937752e7a19355c0a5165cda9d0e218e2b5f4f9b006707138c689a87839e342b","version":"1.0.0"},"result_var":"checks","token":0}],
  ["node_entered", {"at":"2026-11-23T15:20:59.960149573Z","node":"route","token":0}],
  ["route_taken", {"at":"2026-11-23T15:20:59.960149573Z","expression":"docs.outcome == 'pass' && checks.outcome == 'pass' && scoring.score >= 720 && amount <= 200000","node":"route","route_index":3,"to":"approved","token":0,"values":{"amount":80000,"checks.outcome":"pass","docs.outcome":"pass","scoring.score":825}}],
  ["node_entered", {"at":"2026-11-23T15:20:59.960149573Z","node":"approved","token":0}],
  ["case_completed", {"at":"2026-11-23T15:20:59.960149573Z","outcome":"approved"}]
]"#;

/// Events of the first transition; the rest go in the second.
const FIRST: usize = 6;

struct Fixture {
    events: Vec<(String, Value)>,
    snapshot: Value,
}

fn fixture() -> Fixture {
    let history: Vec<(String, Value)> =
        serde_json::from_str(HISTORY).unwrap_or_else(|e| panic!("bench history: {e}"));
    // A stand-in for the final case state: its variables (the input and every plugin
    // result) and where each node stands, about the size of the real snapshot.
    let mut vars = history[0].1["input"].clone();
    let mut nodes = serde_json::Map::new();
    for (kind, payload) in &history {
        if kind == "step_completed"
            && let (Some(var), Some(map)) = (payload["result_var"].as_str(), vars.as_object_mut())
        {
            map.insert(var.to_string(), payload["output"]["result"].clone());
        }
        if let Some(node) = payload["node"].as_str() {
            nodes.insert(
                node.to_string(),
                json!({"status": "done", "at": payload["at"]}),
            );
        }
    }
    let snapshot = json!({
        "case_id": history[0].1["case_id"],
        "flow_id": "retail-loan",
        "status": "completed",
        "outcome": "approved",
        "seq": history.len(),
        "business_date": "2026-11-23",
        "vars": vars,
        "nodes": nodes,
    });
    Fixture {
        events: history,
        snapshot,
    }
}

/// The event as the runtime hands it to the store (canonical JSON text).
fn new_event(kind: &str, payload: &Value, at: Time) -> NewEvent {
    NewEvent {
        kind: kind.to_string(),
        payload: canonical_json::canonical_json(payload),
        at,
    }
}

fn snapshot_of(state: &Value) -> String {
    serde_json::to_string(state).unwrap_or_default()
}

fn now() -> Time {
    Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

/// User + system CPU ticks (1/100 s) in a `/proc/.../stat` line.
fn stat_ticks(stat: &str) -> (String, u64) {
    // The command name is in parentheses and may hold spaces.
    let name = stat
        .split_once('(')
        .and_then(|(_, r)| r.rsplit_once(')'))
        .map(|(n, _)| n.to_string())
        .unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let ticks = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    (name, ticks)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Linux reports clock ticks of 1/100 s in this file.
    Duration::from_millis(stat_ticks(&stat).1 * 10)
}

/// CPU ticks of every thread of this process, by thread id: (name, ticks).
fn thread_ticks() -> HashMap<String, (String, u64)> {
    let mut out = HashMap::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
        for entry in dir.flatten() {
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            out.insert(
                entry.file_name().to_string_lossy().into_owned(),
                stat_ticks(&stat),
            );
        }
    }
    out
}

/// Where the CPU went between two [`thread_ticks`]: µs per transition for each thread that
/// used any, busiest first (SQLite's connection threads are all `sqlx-sqlite-wor`: the
/// writer's is the busiest, the checkpointer's the next).
fn thread_split(
    before: &HashMap<String, (String, u64)>,
    after: &HashMap<String, (String, u64)>,
    transitions: u64,
) -> String {
    let mut used: Vec<(String, u64)> = after
        .iter()
        .map(|(tid, (name, ticks))| {
            let was = before.get(tid).map(|(_, t)| *t).unwrap_or(0);
            (name.clone(), ticks.saturating_sub(was))
        })
        .filter(|(_, ticks)| *ticks > 0)
        .collect();
    used.sort_by_key(|(_, ticks)| std::cmp::Reverse(*ticks));
    used.iter()
        .map(|(name, ticks)| {
            format!(
                "{name} {:.1}",
                (*ticks * 10_000) as f64 / transitions.max(1) as f64
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

async fn run_case(store: &SqliteStore, fx: &Fixture, version: Uuid) -> usize {
    let id = Uuid::now_v7();
    let at = now();
    let mut t = Transition::new(id, ChainHead::genesis(), CaseStatus::Running, at);
    t.create = Some(NewCase {
        flow_version: version,
    });
    for (kind, payload) in &fx.events[..FIRST] {
        t.events.push(new_event(kind, payload, at));
    }
    let head = match store.commit(t).await {
        Ok(c) => c.head,
        Err(e) => panic!("first transition: {e}"),
    };
    let mut t = Transition::new(id, head, CaseStatus::Completed, at);
    for (kind, payload) in &fx.events[FIRST..] {
        t.events.push(new_event(kind, payload, at));
    }
    t.outcome = Some("approved".into());
    t.snapshot = Some(snapshot_of(&fx.snapshot));
    if let Err(e) = store.commit(t).await {
        panic!("second transition: {e}");
    }
    fx.events.len()
}

/// What a caller spends per case before the store sees it: canonical JSON of every event
/// and the snapshot text, single-threaded.
fn caller_cost() {
    let fx = fixture();
    let rounds = 2_000u32;
    let start = Instant::now();
    let mut events = 0;
    for _ in 0..rounds {
        for (_, payload) in &fx.events {
            events += std::hint::black_box(canonical_json::canonical_json(payload)).len();
        }
    }
    let canonical = start.elapsed() / rounds;
    let start = Instant::now();
    let mut snapshot = 0;
    for _ in 0..rounds {
        snapshot += std::hint::black_box(snapshot_of(&fx.snapshot)).len();
    }
    let snapshot_time = start.elapsed() / rounds;
    println!(
        "caller, per case: canonical JSON of {} events ({} bytes) {:.1} µs, snapshot text ({} bytes) {:.1} µs",
        fx.events.len(),
        events / rounds as usize,
        canonical.as_secs_f64() * 1e6,
        snapshot / rounds as usize,
        snapshot_time.as_secs_f64() * 1e6,
    );
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn round(store: &SqliteStore, version: Uuid, label: &str, cases: usize, in_flight: usize) {
    let fx = Arc::new(fixture());
    let before = store.commit_stats();
    let cpu0 = cpu_time();
    let threads0 = thread_ticks();
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(in_flight);
    for w in 0..in_flight {
        let (store, fx) = (store.clone(), fx.clone());
        let mine = cases / in_flight + usize::from(w < cases % in_flight);
        tasks.push(tokio::spawn(async move {
            let mut events = 0;
            for _ in 0..mine {
                events += run_case(&store, &fx, version).await;
            }
            events
        }));
    }
    let mut events = 0;
    for task in tasks {
        events += task.await.unwrap_or_else(|e| panic!("task: {e}"));
    }
    let wall = start.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    let threads = thread_ticks();
    let after = store.commit_stats();
    let transitions = after.transitions - before.transitions;
    let transactions = after.transactions - before.transactions;
    let secs = wall.as_secs_f64();
    println!(
        "{label}: {cases} cases, {transitions} transitions, {events} events in {:.2} s, {in_flight} in flight",
        secs
    );
    println!(
        "  {:.0} transitions/s, {:.0} events/s, {:.0} cases/s",
        transitions as f64 / secs,
        events as f64 / secs,
        cases as f64 / secs
    );
    println!(
        "  CPU {:.1} µs per transition ({:.2} s CPU, {:.0}% of the wall clock)",
        cpu.as_secs_f64() * 1e6 / transitions.max(1) as f64,
        cpu.as_secs_f64(),
        100.0 * cpu.as_secs_f64() / secs
    );
    println!(
        "  CPU µs per transition by thread: {}",
        thread_split(&threads0, &threads, transitions)
    );
    println!(
        "  {transactions} transactions (fsyncs), mean batch {:.1}, largest {}",
        transitions as f64 / transactions.max(1) as f64,
        after.max_batch,
    );
}

fn main() {
    let cases = env_usize("STORE_BENCH_CASES", 20_000);
    let in_flight = env_usize("STORE_BENCH_IN_FLIGHT", 2_000).max(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    caller_cost();
    runtime.block_on(async {
        // STORE_BENCH_DIR puts the database there (kept afterwards, to inspect it).
        let dir = match std::env::var("STORE_BENCH_DIR") {
            Ok(parent) => tempfile::Builder::new()
                .prefix("store-bench")
                .disable_cleanup(true)
                .tempdir_in(parent),
            Err(_) => tempfile::tempdir(),
        }
        .unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("bench.db");
        let store = SqliteStore::open(&path.to_string_lossy())
            .await
            .unwrap_or_else(|e| panic!("open: {e}"));
        let version = store
            .deploy_flow(
                "retail-loan",
                "h",
                "flow: retail-loan\n",
                Uuid::now_v7(),
                now(),
            )
            .await
            .unwrap_or_else(|e| panic!("deploy: {e}"))
            .version
            .id;
        // The warm-up also fills the database a little, so the WAL is past its first growth.
        round(&store, version, "warm-up", cases / 5, in_flight).await;
        round(&store, version, "store", cases, in_flight).await;
        let size = |name: &str| {
            std::fs::metadata(dir.path().join(name))
                .map(|m| m.len())
                .unwrap_or(0)
        };
        println!(
            "  database {:.1} MB, WAL {:.1} MB",
            size("bench.db") as f64 / 1e6,
            size("bench.db-wal") as f64 / 1e6
        );
    });
}

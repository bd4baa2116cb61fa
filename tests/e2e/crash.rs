//! Crash test: a real `docket worker` process runs 5,000 cases and is killed with SIGKILL
//! at 20+ random moments; restarted each time. Afterwards every case must have reached the
//! outcome its input implies (computed here, independently), with gap-free, duplicate-free
//! event sequences, no transition recorded twice, and `audit verify` and `fsck` clean.

use super::core_cli::{docket, fixture, run_ok};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const CASES: usize = 5_000;
const KILLS: usize = 22;

/// The outcome the crash-test flow must reach for an input (see tests/fixtures/crash-flow.yaml):
/// amounts over 500,000 are declined; the `fast` tier is approved at once; the rest are
/// approved after a one-second cooling-off timer.
fn expected_outcome(amount: f64, tier: &str) -> &'static str {
    if amount > 500_000.0 {
        "declined"
    } else if tier == "fast" {
        "approved"
    } else {
        "approved_after_wait"
    }
}

fn input(i: usize) -> Value {
    json!({
        "n": i,
        "amount": (i * 7_919) % 1_000_000 + 1,
        "tier": if i.is_multiple_of(3) { "fast" } else { "slow" },
        "applicant": {"type": "individual", "name": "王芳"},
        "documents": []
    })
}

/// xorshift64*: a few random kill delays without a dependency; the seed is printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Rows of a query whose columns are all text (cast in SQL).
fn rows(db: &str, statement: &str) -> Vec<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    runtime.block_on(async {
        use sqlx::{ConnectOptions, Row};
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(db)
            .read_only(true)
            .connect()
            .await
            .unwrap_or_else(|e| panic!("opening {db}: {e}"));
        let rows = sqlx::query(sqlx::AssertSqlSafe(statement.to_string()))
            .fetch_all(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
        rows.iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| {
                        row.try_get::<Option<String>, _>(i)
                            .unwrap_or_else(|e| panic!("{statement}: column {i}: {e}"))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    })
}

fn count(db: &str, statement: &str) -> usize {
    rows(db, statement)
        .first()
        .and_then(|r| r.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Starts `n` cases of the crash-test flow in `db`, left for workers.
fn start_cases(dir: &std::path::Path, db: &str, n: usize) {
    let flow = fixture("crash-flow.yaml").display().to_string();
    let inputs_path = dir.join("inputs.json");
    let inputs: Vec<Value> = (0..n).map(input).collect();
    std::fs::write(&inputs_path, Value::Array(inputs).to_string())
        .unwrap_or_else(|e| panic!("{e}"));
    run_ok(&[
        "start",
        &flow,
        "--input",
        &inputs_path.display().to_string(),
        "--count",
        &n.to_string(),
        "--db",
        db,
    ]);
}

#[test]
fn sigkilled_worker_resumes_and_every_case_ends_as_its_input_implies() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("crash.db").display().to_string();
    start_cases(dir.path(), &db, CASES);
    assert_eq!(
        count(
            &db,
            "SELECT CAST(COUNT(*) AS TEXT) FROM cases WHERE status = 'running'"
        ),
        CASES
    );

    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1;
    eprintln!("crash test seed {seed}");
    let mut rng = Rng(seed);
    let began = Instant::now();
    let finished =
        "SELECT CAST(COUNT(*) AS TEXT) FROM cases WHERE status IN ('completed', 'cancelled')";
    for kill in 0..KILLS {
        let mut child = docket()
            .args(["worker", "--db", &db])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning the worker: {e}"));
        std::thread::sleep(Duration::from_millis(rng.between(150, 900)));
        // Child::kill is SIGKILL on Unix: no chance to flush or clean up.
        child
            .kill()
            .unwrap_or_else(|e| panic!("killing the worker: {e}"));
        let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !status.success(),
            "the worker exited by itself before kill {kill}"
        );
        eprintln!(
            "kill {kill}: {} of {CASES} cases finished",
            count(&db, finished)
        );
    }
    // One restarted worker finishes everything: it takes the dead workers' identity back
    // at once and does not exit while anything is leased or due within its horizon.
    let left = CASES - count(&db, finished);
    let recovery = Instant::now();
    let out = run_ok(&["worker", "--db", &db, "--until-idle"]);
    let recovery = recovery.elapsed();
    assert_eq!(
        count(&db, finished),
        CASES,
        "the restarted worker exited with cases unfinished: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!(
        "crash test: {KILLS} kills; the restarted worker finished the {left} cases left in {:.2}s \
         (whole test {:.1}s)",
        recovery.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );

    // Every case reached the outcome its own input implies.
    let cases = rows(
        &db,
        "SELECT c.id, c.status, COALESCE(c.outcome, ''), CAST(c.last_seq AS TEXT), e.payload
         FROM cases c JOIN events e ON e.case_id = c.id AND e.seq = 1",
    );
    assert_eq!(cases.len(), CASES);
    let mut by_outcome: BTreeMap<String, usize> = BTreeMap::new();
    for row in &cases {
        let started: Value = serde_json::from_str(&row[4]).unwrap_or_else(|e| panic!("{e}"));
        let input = &started["input"];
        let want = expected_outcome(
            input["amount"]
                .as_f64()
                .unwrap_or_else(|| panic!("amount in {input}")),
            input["tier"]
                .as_str()
                .unwrap_or_else(|| panic!("tier in {input}")),
        );
        assert_eq!(
            (row[1].as_str(), row[2].as_str()),
            ("completed", want),
            "case {} input {input}",
            row[0]
        );
        *by_outcome.entry(row[2].clone()).or_default() += 1;
    }
    eprintln!("outcomes: {by_outcome:?}");
    assert_eq!(by_outcome.len(), 3, "all three routes were exercised");
    // The mix a run without crashes reaches.
    let mut crash_free: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..CASES {
        let input = input(i);
        let want = expected_outcome(
            input["amount"].as_f64().unwrap_or_else(|| panic!("amount")),
            input["tier"].as_str().unwrap_or_else(|| panic!("tier")),
        );
        *crash_free.entry(want.to_string()).or_default() += 1;
    }
    assert_eq!(by_outcome, crash_free);

    // Sequences: 1..=last_seq, each once (the primary key forbids duplicates; count = max
    // and min = 1 forbid gaps).
    let bad_seq = rows(
        &db,
        "SELECT c.id FROM cases c JOIN (SELECT case_id, COUNT(*) n, MIN(seq) lo, MAX(seq) hi FROM events GROUP BY case_id) e
           ON e.case_id = c.id WHERE e.n != c.last_seq OR e.lo != 1 OR e.hi != c.last_seq",
    );
    assert!(bad_seq.is_empty(), "cases with gaps: {bad_seq:?}");

    // No transition recorded twice: each task node completed once, each timer fired once,
    // one route and one completion per case.
    let twice = rows(
        &db,
        "SELECT case_id, type, COALESCE(json_extract(payload, '$.node'), json_extract(payload, '$.timer'), ''), CAST(COUNT(*) AS TEXT)
         FROM events WHERE type IN ('step_completed', 'timer_fired', 'route_taken', 'case_completed', 'case_started', 'branch_forked')
         GROUP BY 1, 2, 3 HAVING COUNT(*) > 1",
    );
    assert!(
        twice.is_empty(),
        "transitions recorded twice: {:?}",
        &twice[..twice.len().min(5)]
    );
    let kinds: HashMap<String, usize> = rows(
        &db,
        "SELECT type, CAST(COUNT(*) AS TEXT) FROM events GROUP BY type",
    )
    .into_iter()
    .map(|r| {
        (
            r[0].clone(),
            r[1].parse().unwrap_or_else(|e| panic!("{r:?}: {e}")),
        )
    })
    .collect();
    assert_eq!(kinds.get("step_completed"), Some(&(3 * CASES)), "{kinds:?}");
    assert_eq!(kinds.get("case_completed"), Some(&CASES));
    assert_eq!(
        kinds.get("timer_fired"),
        by_outcome.get("approved_after_wait")
    );
    // Nothing left behind.
    assert_eq!(count(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM jobs"), 0);
    assert_eq!(count(&db, "SELECT CAST(COUNT(*) AS TEXT) FROM timers"), 0);

    let text =
        String::from_utf8_lossy(&run_ok(&["audit", "verify", "--db", &db]).stdout).to_string();
    assert!(text.contains("all chains intact"), "{text}");
    run_ok(&["fsck", "--db", &db]);
}

#[test]
fn sigterm_stops_a_worker_cleanly_and_gives_its_leases_back() {
    const N: usize = 1_500;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = dir.path().join("term.db").display().to_string();
    start_cases(dir.path(), &db, N);
    let child = docket()
        .args(["worker", "--db", &db, "--worker-id", "terminated"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning the worker: {e}"));
    std::thread::sleep(Duration::from_millis(600));
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("kill -TERM: {e}"));
    assert!(term.success());
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for the worker: {e}"));
    assert!(
        out.status.success(),
        "SIGTERM: the worker exited with {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // Nothing is left leased: another worker (another identity) needs no lease to expire.
    let leased = count(
        &db,
        "SELECT CAST((SELECT COUNT(*) FROM jobs WHERE lease_owner IS NOT NULL)
                   + (SELECT COUNT(*) FROM timers WHERE lease_owner IS NOT NULL) AS TEXT)",
    );
    assert_eq!(leased, 0, "leases left behind by a graceful stop");
    run_ok(&["worker", "--db", &db, "--until-idle", "--worker-id", "next"]);
    let finished = count(
        &db,
        "SELECT CAST(COUNT(*) AS TEXT) FROM cases WHERE status = 'completed'",
    );
    assert_eq!(finished, N);
    run_ok(&["fsck", "--db", &db]);
}

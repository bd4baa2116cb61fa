//! Runs the store conformance suite against SQLite, plus SQLite-specific checks
//! (tampering with rows by hand, group-commit counters).

use super::super::{
    CaseStatus, ChainHead, Claim, NewCase, NewEvent, Store, Transition, audit, conformance,
};
use super::SqliteStore;
use serde_json::json;
use sqlx::ConnectOptions;
use uuid::Uuid;

/// A fresh store in its own temporary directory (kept alive as long as the store).
async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let path = dir.path().join("docket.db");
    let store = SqliteStore::open(&path.to_string_lossy())
        .await
        .unwrap_or_else(|e| panic!("open: {e}"));
    (store, dir)
}

crate::store_conformance!(fresh);

/// Commits `cases` cases of `events` events each and returns their ids.
async fn seed(store: &SqliteStore, cases: usize, events: i64) -> Vec<Uuid> {
    let version = store
        .deploy_flow("f", "h", "src", Uuid::now_v7(), conformance::t0())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .version
        .id;
    let mut ids = Vec::new();
    for _ in 0..cases {
        let id = Uuid::now_v7();
        let mut t = Transition::new(
            id,
            ChainHead::genesis(),
            CaseStatus::Completed,
            conformance::t0(),
        );
        t.create = Some(NewCase {
            flow_version: version,
        });
        for n in 0..events {
            t.events.push(NewEvent {
                kind: "e".into(),
                payload: canonical_json::canonical_json(&json!({"n": n})),
                at: conformance::t0(),
            });
        }
        store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
        ids.push(id);
    }
    ids
}

async fn raw(dir: &tempfile::TempDir, sql: &'static str, case: Uuid, seq: i64) {
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(dir.path().join("docket.db"))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let n = sqlx::query(sql)
        .bind(case.to_string())
        .bind(seq)
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .rows_affected();
    assert_eq!(n, 1, "{sql}");
}

#[tokio::test]
async fn audit_names_the_first_broken_event_of_each_case() {
    let (store, dir) = fresh().await;
    let ids = seed(&store, 5, 4).await;
    assert!(audit::verify(&store).await.expect("audit").is_ok());

    raw(
        &dir,
        "UPDATE events SET payload = '{\"n\":99}' WHERE case_id = ?1 AND seq = ?2",
        ids[0],
        2,
    )
    .await;
    raw(
        &dir,
        "DELETE FROM events WHERE case_id = ?1 AND seq = ?2",
        ids[1],
        3,
    )
    .await;
    raw(
        &dir,
        "DELETE FROM events WHERE case_id = ?1 AND seq = ?2",
        ids[2],
        4,
    )
    .await;
    raw(
        &dir,
        "UPDATE events SET at = '2026-03-01T09:00:00.000001Z' WHERE case_id = ?1 AND seq = ?2",
        ids[3],
        1,
    )
    .await;

    let report = audit::verify(&store)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let broken: Vec<(Uuid, i64)> = report.broken.iter().map(|b| (b.case_id, b.seq)).collect();
    let mut expected = vec![(ids[0], 2), (ids[1], 3), (ids[2], 4), (ids[3], 1)];
    expected.sort();
    let mut broken_sorted = broken.clone();
    broken_sorted.sort();
    assert_eq!(broken_sorted, expected, "{report:#?}");
    assert_eq!(report.cases, 5);
    // fsck sees the gaps too.
    let violations = store.fsck().await.expect("fsck");
    assert!(
        violations
            .iter()
            .any(|v| v.rule == "event-gap" && v.case_id == Some(ids[1])),
        "{violations:?}"
    );
}

#[tokio::test]
async fn audit_pages_through_many_cases() {
    let (store, _dir) = fresh().await;
    // More events than one audit page (10,000) so the walk crosses page boundaries.
    let ids = seed(&store, 101, 100).await;
    let report = audit::verify(&store)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_ok(), "{:?}", report.broken.first());
    assert_eq!((report.cases, report.events), (ids.len() as u64, 10_100));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions() {
    let (store, _dir) = fresh().await;
    let version = store
        .deploy_flow("f", "h", "src", Uuid::now_v7(), conformance::t0())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .version
        .id;
    let before = store.commit_stats();
    let mut handles = Vec::new();
    for _ in 0..400 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut t = Transition::new(
                Uuid::now_v7(),
                ChainHead::genesis(),
                CaseStatus::Completed,
                conformance::t0(),
            );
            t.create = Some(NewCase {
                flow_version: version,
            });
            t.events.push(NewEvent {
                kind: "e".into(),
                payload: "{}".into(),
                at: conformance::t0(),
            });
            store.commit(t).await
        }));
    }
    for h in handles {
        let committed = h.await.expect("task");
        assert!(committed.is_ok(), "{committed:?}");
    }
    let after = store.commit_stats();
    assert_eq!(after.transitions - before.transitions, 400);
    // Grouped: far fewer fsyncs than transitions.
    assert!(after.transactions - before.transactions < 200, "{after:?}");
    assert!(after.mean_batch() > 1.0);
    // A transaction holding no transition (a claim) is not a group commit.
    store
        .claim(Claim {
            owner: "w".into(),
            now: conformance::t0(),
            lease_for: std::time::Duration::from_secs(10),
            limit: 10,
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.commit_stats(), after);
}

/// Stale transitions mixed into concurrent batches: the batch's statements end the whole
/// transaction on the first conflict (`OR ROLLBACK`), and the batch is re-run one
/// savepoint per transition, so exactly the stale ones fail and every other one commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_transitions_in_a_batch_fail_alone() {
    let (store, _dir) = fresh().await;
    let ids = seed_running(&store, 60).await;
    let before = store.commit_stats();
    let mut handles = Vec::new();
    for (i, (id, head)) in ids.iter().enumerate() {
        let (id, head) = (*id, head.clone());
        let fresh_store = store.clone();
        handles.push(tokio::spawn(async move {
            let store = fresh_store;
            let mut t = Transition::new(id, head, CaseStatus::Running, conformance::t0());
            t.events.push(NewEvent {
                kind: "e".into(),
                payload: format!("{{\"n\":{i}}}"),
                at: conformance::t0(),
            });
            (true, store.commit(t).await)
        }));
        if i % 10 == 0 {
            // Decided against the genesis head: its seq 1 is taken.
            let store = store.clone();
            handles.push(tokio::spawn(async move {
                let mut t = Transition::new(
                    id,
                    ChainHead::genesis(),
                    CaseStatus::Running,
                    conformance::t0(),
                );
                t.events.push(NewEvent {
                    kind: "e".into(),
                    payload: "{}".into(),
                    at: conformance::t0(),
                });
                (false, store.commit(t).await)
            }));
        }
    }
    for h in handles {
        let (good, result) = h.await.unwrap_or_else(|e| panic!("{e}"));
        if good {
            assert!(result.is_ok(), "{result:?}");
        } else {
            assert!(
                matches!(result, Err(crate::store::Error::Conflict { .. })),
                "{result:?}"
            );
        }
    }
    let after = store.commit_stats();
    assert_eq!(after.transitions - before.transitions, 60);
    assert_eq!(after.rejected - before.rejected, 6);
    for (id, _) in &ids {
        let case = store.load_case(*id).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(case.head.seq, 2);
    }
    assert!(audit::verify(&store).await.expect("audit").is_ok());
}

/// Starts `cases` running cases with one event each, concurrently; returns ids and heads.
async fn seed_running(store: &SqliteStore, cases: usize) -> Vec<(Uuid, ChainHead)> {
    let version = store
        .deploy_flow("f", "h", "src", Uuid::now_v7(), conformance::t0())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .version
        .id;
    let mut handles = Vec::new();
    for _ in 0..cases {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let id = Uuid::now_v7();
            let mut t = Transition::new(
                id,
                ChainHead::genesis(),
                CaseStatus::Running,
                conformance::t0(),
            );
            t.create = Some(NewCase {
                flow_version: version,
            });
            t.events.push(NewEvent {
                kind: "e".into(),
                payload: "{}".into(),
                at: conformance::t0(),
            });
            let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;
            (id, head)
        }));
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap_or_else(|e| panic!("{e}")));
    }
    out
}

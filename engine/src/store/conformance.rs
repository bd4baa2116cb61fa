//! Store conformance tests: one body per behaviour, each taking a fresh store, so every
//! adapter runs the same suite. An adapter's tests run it all with
//! [`store_conformance!`](crate::store_conformance) and a factory of fresh stores.

use super::{
    CaseStatus, ChainHead, Claim, Error, Held, NewCase, NewEvent, NewJob, NewTask, NewTimer,
    Refusal, RefusalFilter, Store, Time, Transition, audit,
};
use chrono::{Duration, TimeZone, Utc};
use serde_json::json;
use std::time::Duration as StdDuration;
use uuid::Uuid;

pub fn t0() -> Time {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
        .single()
        .expect("2026-03-01 09:00 UTC is one instant")
}

fn event(kind: &str, n: i64, at: Time) -> NewEvent {
    // Keys deliberately unsorted and non-ASCII text: the caller's canonical form sorts them.
    NewEvent {
        kind: kind.into(),
        payload: canonical_json::canonical_json(&json!({"z": n, "a": "é", "at": at.to_rfc3339()})),
        at,
    }
}

async fn deploy<S: Store>(store: &S, hash: &str) -> Uuid {
    store
        .deploy_flow("test-flow", hash, "flow: test-flow\n", Uuid::now_v7(), t0())
        .await
        .map(|d| d.version.id)
        .unwrap_or_else(|e| panic!("deploy: {e}"))
}

/// Creates a running case with one event and returns its id and head.
async fn start_case<S: Store>(store: &S, version: Uuid) -> (Uuid, ChainHead) {
    let id = Uuid::now_v7();
    let mut t = Transition::new(id, ChainHead::genesis(), CaseStatus::Running, t0());
    t.create = Some(NewCase {
        flow_version: version,
    });
    t.events.push(event("case_started", 1, t0()));
    t.snapshot = Some(json!({"state": 1}).to_string());
    let head = store
        .commit(t)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"))
        .head;
    (id, head)
}

/// A claim by `owner` at `now`: ten-second leases, up to ten jobs and ten timers.
fn claim(owner: &str, now: Time) -> Claim {
    Claim {
        owner: owner.into(),
        now,
        lease_for: StdDuration::from_secs(10),
        limit: 10,
    }
}

fn step(id: Uuid, prev: &ChainHead, n: i64, now: Time) -> Transition {
    let mut t = Transition::new(id, prev.clone(), CaseStatus::Running, now);
    t.events.push(event("step", n, now));
    t
}

pub async fn append_and_chain<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    assert_eq!(head.seq, 1);

    let mut t = step(id, &head, 2, t0() + Duration::seconds(1));
    t.events.push(event("step", 3, t0() + Duration::seconds(1)));
    t.status = CaseStatus::Completed;
    t.outcome = Some("approved".into());
    t.snapshot = Some(json!({"state": 3}).to_string());
    let head = store
        .commit(t)
        .await
        .unwrap_or_else(|e| panic!("append: {e}"))
        .head;
    assert_eq!(head.seq, 3);

    let events = store.events(id, 0).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(events[0].prev_hash, ChainHead::genesis().hash);
    assert_eq!(events[1].prev_hash, events[0].hash);
    assert_eq!(events[2].prev_hash, events[1].hash);
    assert_eq!(events[2].hash, head.hash);
    // Stored canonically: sorted keys.
    assert!(
        events[1].payload.starts_with(r#"{"a":"é","at":"#),
        "{}",
        events[1].payload
    );
    assert_eq!(store.events(id, 2).await.expect("events").len(), 1);

    let case = store.load_case(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(case.status, CaseStatus::Completed);
    assert_eq!(case.outcome.as_deref(), Some("approved"));
    assert_eq!(case.head, head);
    assert_eq!(case.snapshot, Some(json!({"state": 3})));
    assert_eq!(case.snapshot_seq, 3);
    assert_eq!(case.flow_version, version);

    let report = audit::verify(&store)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(report.is_ok(), "{report:?}");
    assert_eq!((report.cases, report.events), (1, 3));
    assert!(store.fsck().await.expect("fsck").is_empty());
}

/// A transition that keeps its old snapshot: the row remembers which seq it reflects.
pub async fn snapshot_is_kept_when_not_given<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let mut t = step(id, &head, 2, t0());
    t.jobs.push(NewJob {
        id: Uuid::now_v7(),
        kind: "k".into(),
        payload: json!({}),
        due: t0(),
        lease_to: None,
    });
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    let case = store.load_case(id).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((case.head.seq, case.snapshot_seq), (2, 1));
    assert_eq!(case.snapshot, Some(json!({"state": 1})));
}

/// Three transitions land in one batch; the middle one is stale. It alone fails.
pub async fn seq_conflict_fails_alone<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (a, ha) = start_case(&store, version).await;
    let (b, hb) = start_case(&store, version).await;
    let (c, hc) = start_case(&store, version).await;
    // Move b on, then send a transition decided against its old head.
    let hb2 = store
        .commit(step(b, &hb, 2, t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .head;

    let (ra, rb, rc) = tokio::join!(
        store.commit(step(a, &ha, 2, t0())),
        store.commit(step(b, &hb, 2, t0())),
        store.commit(step(c, &hc, 2, t0())),
    );
    assert!(ra.is_ok(), "{ra:?}");
    assert!(
        matches!(rb, Err(Error::Conflict { case_id, .. }) if case_id == b),
        "{rb:?}"
    );
    assert!(rc.is_ok(), "{rc:?}");
    assert_eq!(store.load_case(a).await.expect("load_case").head.seq, 2);
    assert_eq!(store.load_case(c).await.expect("load_case").head.seq, 2);
    let b_now = store.load_case(b).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(b_now.head, hb2, "the rejected transition changed nothing");
    assert_eq!(store.events(b, 0).await.expect("events").len(), 2);

    // Two racing transitions of one case decided against the same head: exactly one wins.
    let (r1, r2) = tokio::join!(
        store.commit(step(
            a,
            &ra.as_ref()
                .map(|c| c.head.clone())
                .unwrap_or_else(|_| ChainHead::genesis()),
            3,
            t0()
        )),
        store.commit(step(
            a,
            &ra.as_ref()
                .map(|c| c.head.clone())
                .unwrap_or_else(|_| ChainHead::genesis()),
            3,
            t0()
        )),
    );
    assert!(r1.is_ok() != r2.is_ok(), "{r1:?} {r2:?}");
    assert!(audit::verify(&store).await.expect("audit").is_ok());

    // A second start of an existing case id is a conflict too.
    let mut dup = Transition::new(a, ChainHead::genesis(), CaseStatus::Running, t0());
    dup.create = Some(NewCase {
        flow_version: version,
    });
    dup.events.push(event("case_started", 1, t0()));
    assert!(matches!(
        store.commit(dup).await,
        Err(Error::Conflict { .. })
    ));
}

pub async fn lease_claim_expiry_and_epoch<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let job = Uuid::now_v7();
    let later = Uuid::now_v7();
    let mut t = step(id, &head, 2, t0());
    t.jobs.push(NewJob {
        id: job,
        kind: "run".into(),
        payload: json!({"node": "n"}),
        due: t0(),
        lease_to: None,
    });
    t.jobs.push(NewJob {
        id: later,
        kind: "run".into(),
        payload: json!({"node": "m"}),
        due: t0() + Duration::seconds(60),
        lease_to: None,
    });
    let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;

    let a = store
        .claim(claim("a", t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .jobs;
    assert_eq!(a.len(), 1, "only the due job");
    assert_eq!(
        (a[0].lease.job_id, a[0].lease.epoch, a[0].claims),
        (job, 1, 1)
    );
    assert_eq!(a[0].payload, json!({"node": "n"}));
    assert!(
        store
            .claim(claim("b", t0() + Duration::seconds(5)))
            .await
            .expect("claim")
            .jobs
            .is_empty()
    );
    // a renews its lease to t0+10s at least: still a's at t0+9s.
    let held = vec![Held::Job {
        id: job,
        epoch: a[0].lease.epoch,
    }];
    let lost = store
        .renew_leases("a", held.clone(), t0() + Duration::seconds(9))
        .await
        .expect("renew_leases");
    assert!(lost.is_empty(), "{lost:?}");
    assert_eq!(
        store
            .live_leases(t0() + Duration::seconds(9))
            .await
            .expect("live_leases"),
        1
    );
    assert_eq!(
        store
            .live_leases(t0() + Duration::seconds(10))
            .await
            .expect("live_leases"),
        0,
        "a renewal never shortens a lease"
    );

    // The lease expires; b takes it with a higher epoch.
    let b = store
        .claim(claim("b", t0() + Duration::seconds(11)))
        .await
        .expect("claim")
        .jobs;
    assert_eq!(b.len(), 1);
    assert_eq!(
        (b[0].lease.job_id, b[0].lease.epoch, b[0].claims),
        (job, 2, 2)
    );

    // a's completion and renewal are refused, and nothing of a's transition lands.
    let mut stale = step(id, &head, 3, t0() + Duration::seconds(12));
    stale.complete_job = Some(a[0].lease.clone());
    assert!(
        matches!(store.commit(stale).await, Err(Error::LeaseLost { job_id, .. }) if job_id == job)
    );
    assert_eq!(store.load_case(id).await.expect("load_case").head, head);
    let lost = store
        .renew_leases("a", held.clone(), t0() + Duration::seconds(30))
        .await
        .expect("renew_leases");
    assert_eq!(lost, held);

    // b gives back what it holds; a claims it again (epoch 3), and completes it.
    assert_eq!(
        store
            .release_owned("b", t0() + Duration::seconds(12))
            .await
            .expect("release_owned"),
        1
    );
    assert_eq!(
        store
            .release_owned("b", t0() + Duration::seconds(12))
            .await
            .expect("release_owned"),
        0
    );
    let a2 = store
        .claim(claim("a", t0() + Duration::seconds(12)))
        .await
        .expect("claim")
        .jobs;
    assert_eq!(a2.len(), 1);
    assert_eq!(a2[0].lease.epoch, 3);
    let mut done = step(id, &head, 3, t0() + Duration::seconds(13));
    done.complete_job = Some(a2[0].lease.clone());
    store.commit(done).await.unwrap_or_else(|e| panic!("{e}"));
    // A completed job is not a lost lease.
    let completed = vec![Held::Job { id: job, epoch: 3 }];
    let lost = store
        .renew_leases("a", completed, t0() + Duration::seconds(30))
        .await
        .expect("renew_leases");
    assert!(lost.is_empty(), "{lost:?}");
    // Gone: only the later job is left, claimable once due.
    let rest = store
        .claim(claim("a", t0() + Duration::seconds(61)))
        .await
        .expect("claim")
        .jobs;
    assert_eq!(
        rest.iter().map(|j| j.lease.job_id).collect::<Vec<_>>(),
        vec![later]
    );

    // A job born leased to its creator is not claimable by others until that lease expires,
    // or until its creator's identity is taken over (and its leases given back).
    let (id2, head2) = start_case(&store, version).await;
    let born = Uuid::now_v7();
    let mut t = step(id2, &head2, 2, t0());
    t.jobs.push(NewJob {
        id: born,
        kind: "run".into(),
        payload: json!({}),
        due: t0(),
        lease_to: Some(("c".into(), t0() + Duration::seconds(30))),
    });
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .claim(claim("b", t0() + Duration::seconds(20)))
            .await
            .expect("claim")
            .jobs
            .is_empty()
    );
    assert_eq!(
        store
            .release_owned("c", t0() + Duration::seconds(20))
            .await
            .expect("release_owned"),
        1
    );
    let mine = store
        .claim(claim("c", t0() + Duration::seconds(20)))
        .await
        .expect("claim")
        .jobs;
    assert_eq!(
        mine.iter()
            .map(|j| (j.lease.job_id, j.lease.epoch))
            .collect::<Vec<_>>(),
        vec![(born, 2)]
    );
}

pub async fn cancelled_jobs_are_gone<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let job = Uuid::now_v7();
    let mut t = step(id, &head, 2, t0());
    t.jobs.push(NewJob {
        id: job,
        kind: "run".into(),
        payload: json!({}),
        due: t0(),
        lease_to: None,
    });
    let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;
    let mut t = step(id, &head, 3, t0());
    t.status = CaseStatus::Waiting;
    t.cancel_jobs.push(job);
    t.arm_timers.push(NewTimer {
        timer_id: "t".into(),
        node: "n".into(),
        due: t0(),
        lease_to: None,
    });
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    let claimed = store.claim(claim("a", t0())).await.expect("claim");
    assert!(claimed.jobs.is_empty(), "{claimed:?}");
    assert_eq!(claimed.timers.len(), 1, "the timer armed in its place");
}

pub async fn timer_fires_once<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let due = t0() + Duration::seconds(5);
    let mut t = step(id, &head, 2, t0());
    t.status = CaseStatus::Waiting;
    t.arm_timers.push(NewTimer {
        timer_id: "wait#1".into(),
        node: "wait".into(),
        due,
        lease_to: None,
    });
    let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;
    assert!(
        store
            .claim(claim("a", t0()))
            .await
            .expect("claim")
            .timers
            .is_empty()
    );
    assert_eq!(store.next_due().await.expect("next_due"), Some(due));

    // Not due yet: refused.
    let mut early = step(id, &head, 3, t0() + Duration::seconds(1));
    early.fire_timer = Some("wait#1".into());
    assert!(matches!(
        store.commit(early).await,
        Err(Error::TimerGone { .. })
    ));

    let later = t0() + Duration::seconds(6);
    let due_now = store.claim(claim("a", later)).await.expect("claim").timers;
    assert_eq!(due_now.len(), 1);
    assert_eq!(due_now[0].epoch, 1);
    // Claimed: no one else runs it while a's lease lasts; after it, b may.
    assert!(
        store
            .claim(claim("b", later + Duration::seconds(9)))
            .await
            .expect("claim")
            .timers
            .is_empty()
    );
    assert_eq!(
        store
            .live_leases(later + Duration::seconds(9))
            .await
            .expect("live_leases"),
        1
    );
    let again = store
        .claim(claim("b", later + Duration::seconds(10)))
        .await
        .expect("claim")
        .timers;
    assert_eq!(
        again
            .iter()
            .map(|t| (t.timer_id.as_str(), t.epoch))
            .collect::<Vec<_>>(),
        vec![("wait#1", 2)]
    );
    assert_eq!(
        (
            due_now[0].case_id,
            due_now[0].timer_id.as_str(),
            due_now[0].due
        ),
        (id, "wait#1", due)
    );

    // Two firings decided against the same head in one batch: one wins.
    let fire = |n| {
        let mut t = step(id, &head, n, later);
        t.fire_timer = Some("wait#1".into());
        t
    };
    let (r1, r2) = tokio::join!(store.commit(fire(3)), store.commit(fire(3)));
    assert!(r1.is_ok() != r2.is_ok(), "{r1:?} {r2:?}");
    let head = r1.or(r2).map(|c| c.head).unwrap_or_else(|e| panic!("{e}"));
    // Fired: gone, and firing it again from the new head is refused.
    assert!(
        store
            .claim(claim("c", later + Duration::seconds(60)))
            .await
            .expect("claim")
            .timers
            .is_empty()
    );
    let mut again = step(id, &head, 4, later);
    again.fire_timer = Some("wait#1".into());
    assert!(matches!(
        store.commit(again).await,
        Err(Error::TimerGone { .. })
    ));
    assert_eq!(store.load_case(id).await.expect("load_case").head.seq, 3);
}

pub async fn timer_leases_renew_and_take_over<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let mut t = step(id, &head, 2, t0());
    t.status = CaseStatus::Waiting;
    // Born leased to `c`, the process that armed it and holds it in memory.
    t.arm_timers.push(NewTimer {
        timer_id: "wait#1".into(),
        node: "wait".into(),
        due: t0(),
        lease_to: Some(("c".into(), t0() + Duration::seconds(30))),
    });
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        store
            .claim(claim("b", t0() + Duration::seconds(1)))
            .await
            .expect("claim")
            .timers
            .is_empty(),
        "held by its creator"
    );
    // `c` renews while it holds the timer.
    let held = vec![Held::Timer {
        case_id: id,
        timer_id: "wait#1".into(),
        epoch: 1,
    }];
    let lost = store
        .renew_leases("c", held.clone(), t0() + Duration::seconds(60))
        .await
        .expect("renew_leases");
    assert!(lost.is_empty(), "{lost:?}");
    assert!(
        store
            .claim(claim("b", t0() + Duration::seconds(45)))
            .await
            .expect("claim")
            .timers
            .is_empty(),
        "renewed past its first expiry"
    );
    // `c` is taken over: its timer is claimable at once, with a new epoch.
    assert_eq!(
        store
            .release_owned("c", t0() + Duration::seconds(45))
            .await
            .expect("release_owned"),
        1
    );
    assert_eq!(
        store
            .live_leases(t0() + Duration::seconds(45))
            .await
            .expect("live_leases"),
        0
    );
    let taken = store
        .claim(claim("b", t0() + Duration::seconds(45)))
        .await
        .expect("claim")
        .timers;
    assert_eq!(
        taken
            .iter()
            .map(|t| (t.case_id, t.timer_id.as_str(), t.epoch))
            .collect::<Vec<_>>(),
        vec![(id, "wait#1", 2)]
    );
    // The old holder's renewal is refused.
    let lost = store
        .renew_leases("c", held.clone(), t0() + Duration::seconds(90))
        .await
        .expect("renew_leases");
    assert_eq!(lost, held);
}

pub async fn a_loaded_case_carries_the_events_after_its_snapshot<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    // Snapshot at seq 1 (start), then two transitions without one.
    let (id, head) = start_case(&store, version).await;
    let head = store
        .commit(step(id, &head, 2, t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .head;
    store
        .commit(step(id, &head, 3, t0()))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let record = store.load_case(id).await.expect("load_case");
    assert_eq!(record.snapshot_seq, 1);
    assert_eq!(
        record.tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![2, 3]
    );
    assert_eq!(record.head.seq, 3);
    assert_eq!(
        record.tail.last().map(|e| e.hash.clone()),
        Some(record.head.hash.clone())
    );
    // Without a snapshot, the tail is the whole history.
    let bare = Uuid::now_v7();
    let mut t = Transition::new(bare, ChainHead::genesis(), CaseStatus::Running, t0());
    t.create = Some(NewCase {
        flow_version: version,
    });
    t.events.push(event("case_started", 1, t0()));
    t.events.push(event("step", 2, t0()));
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    let record = store.load_case(bare).await.expect("load_case");
    assert_eq!(record.snapshot, None);
    assert_eq!(
        record.tail.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2]
    );
}

pub async fn refusals_are_kept_apart_from_the_case<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (a, head_a) = start_case(&store, version).await;
    let (b, _) = start_case(&store, version).await;
    let refusal = |case_id: Uuid, user: &str, seconds: i64| Refusal {
        case_id,
        task_id: format!("{case_id}/review"),
        action: "approve".into(),
        user: user.into(),
        rule: "authority_limit".into(),
        message: format!("`{user}`'s authority limit does not cover it"),
        directory: Some("d".repeat(64)),
        at: t0() + Duration::seconds(seconds),
    };
    for (case, user, at) in [(a, "ann", 1), (b, "bob", 2), (a, "cyd", 3)] {
        store
            .record_refusal(refusal(case, user, at))
            .await
            .expect("record_refusal");
    }
    // Nothing of the case changed: same head, same history.
    let record = store.load_case(a).await.expect("load_case");
    assert_eq!(record.head, head_a);
    assert_eq!(store.events(a, 0).await.expect("events").len(), 1);
    // Newest first, per case or all, limited.
    let of_a = store
        .refusals(&RefusalFilter {
            case_id: Some(a),
            limit: None,
        })
        .await
        .expect("refusals");
    assert_eq!(of_a, vec![refusal(a, "cyd", 3), refusal(a, "ann", 1)]);
    let newest = store
        .refusals(&RefusalFilter {
            case_id: None,
            limit: Some(2),
        })
        .await
        .expect("refusals");
    assert_eq!(
        newest.iter().map(|r| r.user.as_str()).collect::<Vec<_>>(),
        vec!["cyd", "bob"]
    );
}

pub async fn flow_versions_dedupe<S: Store>(store: S) {
    let first = store
        .deploy_flow("loan", "aaa", "v1", Uuid::now_v7(), t0())
        .await;
    let first = first.unwrap_or_else(|e| panic!("{e}"));
    assert!(first.created);
    assert_eq!(first.version.version, 1);
    let again = store
        .deploy_flow("loan", "aaa", "v1", Uuid::now_v7(), t0())
        .await;
    let again = again.unwrap_or_else(|e| panic!("{e}"));
    assert!(!again.created);
    assert_eq!(again.version, first.version);
    let second = store
        .deploy_flow("loan", "bbb", "v2", Uuid::now_v7(), t0())
        .await;
    let second = second.unwrap_or_else(|e| panic!("{e}"));
    assert!(second.created);
    assert_eq!(second.version.version, 2);
    // Another flow numbers its own versions.
    let other = store
        .deploy_flow("other", "aaa", "v1", Uuid::now_v7(), t0())
        .await;
    assert_eq!(other.expect("deploy_flow").version.version, 1);
    let latest = store
        .latest_flow_version("loan")
        .await
        .expect("latest_flow_version");
    assert_eq!(latest.map(|v| v.hash), Some("bbb".into()));
    let by_id = store
        .flow_version(first.version.id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(by_id.source, "v1");
    assert!(matches!(
        store.flow_version(Uuid::now_v7()).await,
        Err(Error::FlowVersionNotFound(_))
    ));
    assert!(
        store
            .latest_flow_version("nope")
            .await
            .expect("latest_flow_version")
            .is_none()
    );
}

async fn no_timer_due_within_a_day<S: Store>(store: &S) -> bool {
    store
        .claim(claim("checker", t0() + Duration::days(1)))
        .await
        .expect("claim")
        .timers
        .is_empty()
}

pub async fn tasks_and_finished_cases<S: Store>(store: S) {
    let version = deploy(&store, "h1").await;
    let (id, head) = start_case(&store, version).await;
    let mut t = step(id, &head, 2, t0());
    t.status = CaseStatus::Waiting;
    t.open_tasks.push(NewTask {
        task_id: format!("{id}/review/2"),
        node: "review".into(),
        role: "credit_officer".into(),
        authority: Some(150_000.0),
        due: Some(t0() + Duration::hours(4)),
    });
    t.arm_timers.push(NewTimer {
        timer_id: "sla".into(),
        node: "review".into(),
        due: t0() + Duration::hours(4),
        lease_to: None,
    });
    let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;
    let open = store.open_tasks(None).await.expect("open_tasks");
    assert_eq!(open.len(), 1);
    assert_eq!(
        (
            open[0].role.as_str(),
            open[0].authority,
            open[0].flow_id.as_str()
        ),
        ("credit_officer", Some(150_000.0), "test-flow")
    );
    assert!(
        store
            .open_tasks(Some("senior_officer"))
            .await
            .expect("open_tasks")
            .is_empty()
    );
    assert!(store.fsck().await.expect("fsck").is_empty());

    let mut t = step(id, &head, 3, t0());
    t.status = CaseStatus::Waiting;
    t.escalate_tasks
        .push((format!("{id}/review/2"), "senior_officer".into()));
    let head = store.commit(t).await.unwrap_or_else(|e| panic!("{e}")).head;
    // Escalated: in both inboxes.
    let senior = store
        .open_tasks(Some("senior_officer"))
        .await
        .expect("open_tasks");
    assert_eq!(senior.len(), 1);
    assert_eq!(senior[0].escalated_to.as_deref(), Some("senior_officer"));
    assert_eq!(
        store
            .open_tasks(Some("credit_officer"))
            .await
            .expect("open_tasks")
            .len(),
        1
    );

    // Completing the case closes its task and drops its timer, even unasked.
    let mut t = step(id, &head, 4, t0());
    t.status = CaseStatus::Completed;
    t.outcome = Some("approved".into());
    store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(store.open_tasks(None).await.expect("open_tasks").is_empty());
    let task = store.task(&format!("{id}/review/2")).await.expect("task");
    assert_eq!(task.map(|t| t.open), Some(false));
    assert!(no_timer_due_within_a_day(&store).await);
    assert!(store.fsck().await.expect("fsck").is_empty());

    // A case born finished owns no work either, not even what its one transition asked
    // for; one born finished with nothing to clear is just written.
    for arm in [true, false] {
        let mut t = Transition::new(
            Uuid::now_v7(),
            ChainHead::genesis(),
            CaseStatus::Completed,
            t0(),
        );
        t.create = Some(NewCase {
            flow_version: version,
        });
        t.outcome = Some("approved".into());
        t.events.push(event("case_started", 1, t0()));
        if arm {
            t.arm_timers.push(NewTimer {
                timer_id: "late".into(),
                node: "review".into(),
                due: t0() + Duration::hours(1),
                lease_to: None,
            });
        }
        store.commit(t).await.unwrap_or_else(|e| panic!("{e}"));
        assert!(no_timer_due_within_a_day(&store).await);
    }
    assert!(store.fsck().await.expect("fsck").is_empty());

    // fsck names a running case that waits for nothing.
    let (stuck, _) = start_case(&store, version).await;
    let violations = store.fsck().await.expect("fsck");
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(
        (violations[0].rule, violations[0].case_id),
        ("running-without-job", Some(stuck))
    );
}

/// Runs every conformance test against one adapter: one `#[tokio::test]` per behaviour,
/// each on a fresh store. `$fresh` is an async function returning `(store, guard)`; the
/// guard (a temporary directory, a database to drop) lives until the test ends.
///
/// ```text
/// async fn fresh() -> (SqliteStore, tempfile::TempDir) { ... }
/// engine::store_conformance!(fresh);
/// ```
#[macro_export]
macro_rules! store_conformance {
    ($fresh:path) => {
        $crate::store_conformance!(@each $fresh;
            append_and_chain,
            snapshot_is_kept_when_not_given,
            seq_conflict_fails_alone,
            lease_claim_expiry_and_epoch,
            timer_fires_once,
            timer_leases_renew_and_take_over,
            a_loaded_case_carries_the_events_after_its_snapshot,
            refusals_are_kept_apart_from_the_case,
            cancelled_jobs_are_gone,
            flow_versions_dedupe,
            tasks_and_finished_cases,
            list_cases_filters_orders_and_limits,
            scan_events_pages_in_case_and_seq_order,
            chain_heads_follow_commits,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $name() {
            let (store, _guard) = $fresh().await;
            $crate::store::conformance::$name(store).await;
        }
    )*};
}

/// Starts a case with `id` at `at` in `status`, with `events` events; returns its head.
async fn create<S: Store>(
    store: &S,
    id: Uuid,
    version: Uuid,
    status: CaseStatus,
    at: Time,
    events: i64,
) -> ChainHead {
    let mut t = Transition::new(id, ChainHead::genesis(), status, at);
    t.create = Some(NewCase {
        flow_version: version,
    });
    if status == CaseStatus::Completed {
        t.outcome = Some("approved".into());
    }
    for n in 1..=events {
        t.events.push(event("step", n, at));
    }
    store.commit(t).await.expect("commit").head
}

/// `n` fresh case ids, in increasing order.
fn sorted_ids(n: usize) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
    ids.sort();
    ids
}

/// Listings filter by status and by flow, list oldest first (ties by id), and stop at
/// the limit, filters applied first.
pub async fn list_cases_filters_orders_and_limits<S: Store>(store: S) {
    use CaseStatus::{Completed, Running, Waiting};
    let all = |status, flow_id: Option<&str>, limit| super::CaseFilter {
        status,
        flow_id: flow_id.map(Into::into),
        limit,
    };
    let listed = |cases: Vec<super::CaseSummary>| cases.iter().map(|c| c.id).collect::<Vec<_>>();
    assert!(
        store
            .list_cases(&all(None, None, None))
            .await
            .expect("list_cases")
            .is_empty()
    );

    let loan = deploy(&store, "h1").await;
    let other = store
        .deploy_flow(
            "other-flow",
            "h2",
            "flow: other-flow\n",
            Uuid::now_v7(),
            t0(),
        )
        .await
        .expect("deploy_flow")
        .version
        .id;
    // Created in an order unlike both their ids and their creation times; `ids[3]` and
    // `ids[4]` are created at the same instant, the larger id first.
    let ids = sorted_ids(5);
    let at = |s| t0() + Duration::seconds(s);
    let cases = [
        (ids[4], loan, Running, at(2)),
        (ids[0], other, Completed, at(3)),
        (ids[2], loan, Completed, at(0)),
        (ids[3], loan, Waiting, at(2)),
        (ids[1], other, Running, at(1)),
    ];
    for (n, (id, version, status, at)) in cases.into_iter().enumerate() {
        create(&store, id, version, status, at, n as i64 + 1).await;
    }
    // Oldest first; equal times by id.
    let everything = store
        .list_cases(&all(None, None, None))
        .await
        .expect("list_cases");
    assert_eq!(
        listed(everything.clone()),
        vec![ids[2], ids[1], ids[3], ids[4], ids[0]]
    );
    let first = &everything[0];
    assert_eq!(
        (
            first.flow_id.as_str(),
            first.flow_version,
            first.status,
            first.outcome.as_deref(),
            first.last_seq,
            first.created_at,
            first.updated_at,
        ),
        ("test-flow", 1, Completed, Some("approved"), 3, at(0), at(0))
    );
    let second = &everything[1];
    assert_eq!(
        (
            second.flow_id.as_str(),
            second.status,
            second.outcome.as_deref(),
            second.last_seq
        ),
        ("other-flow", Running, None, 5)
    );

    let list = |filter| {
        let store = store.clone();
        async move { listed(store.list_cases(&filter).await.expect("list_cases")) }
    };
    assert_eq!(
        list(all(Some(Completed), None, None)).await,
        vec![ids[2], ids[0]]
    );
    assert_eq!(list(all(Some(Waiting), None, None)).await, vec![ids[3]]);
    assert_eq!(
        list(all(None, Some("test-flow"), None)).await,
        vec![ids[2], ids[3], ids[4]]
    );
    assert_eq!(
        list(all(Some(Running), Some("other-flow"), None)).await,
        vec![ids[1]]
    );
    assert_eq!(
        list(all(Some(Waiting), Some("other-flow"), None)).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(
        list(all(None, Some("no-such-flow"), None)).await,
        Vec::<Uuid>::new()
    );
    assert_eq!(list(all(None, None, Some(2))).await, vec![ids[2], ids[1]]);
    assert_eq!(
        list(all(None, Some("test-flow"), Some(2))).await,
        vec![ids[2], ids[3]]
    );
    assert_eq!(list(all(Some(Running), None, Some(1))).await, vec![ids[1]]);
    assert_eq!(list(all(None, None, Some(10))).await.len(), 5);

    // A later transition moves a case between status filters and updates its row.
    let head = store.load_case(ids[3]).await.expect("load_case").head;
    let mut t = step(ids[3], &head, 5, at(9));
    t.status = Completed;
    t.outcome = Some("declined".into());
    store.commit(t).await.expect("commit");
    let done = store
        .list_cases(&all(Some(Completed), None, None))
        .await
        .expect("list_cases");
    assert_eq!(listed(done.clone()), vec![ids[2], ids[3], ids[0]]);
    assert_eq!(
        (
            done[1].outcome.as_deref(),
            done[1].last_seq,
            done[1].created_at,
            done[1].updated_at
        ),
        (Some("declined"), 5, at(2), at(9))
    );
}

/// The audit walk: every event of every case in `(case_id, seq)` order whatever order
/// they were committed in, strictly after the cursor, at most `limit` at a time; paging
/// on from each page's last event visits each event once.
pub async fn scan_events_pages_in_case_and_seq_order<S: Store>(store: S) {
    assert!(
        store
            .scan_events(None, 10)
            .await
            .expect("scan_events")
            .is_empty()
    );
    let version = deploy(&store, "h1").await;
    // Created largest id first, and their events appended interleaved.
    let ids = sorted_ids(3);
    let mut heads = Vec::new();
    for &id in ids.iter().rev() {
        heads.push((
            id,
            create(&store, id, version, CaseStatus::Running, t0(), 1).await,
        ));
    }
    for round in 2..=3 {
        for (n, (id, head)) in heads.iter_mut().enumerate() {
            // ids[2] ends with 3 events, ids[1] with 2, ids[0] with 3.
            if n == 1 && round == 3 {
                continue;
            }
            *head = store
                .commit(step(*id, head, round, t0()))
                .await
                .expect("commit")
                .head;
        }
    }
    let key = |e: &super::StoredEvent| (e.case_id, e.seq);
    let keys = |events: Vec<super::StoredEvent>| events.iter().map(key).collect::<Vec<_>>();
    let expected = vec![
        (ids[0], 1),
        (ids[0], 2),
        (ids[0], 3),
        (ids[1], 1),
        (ids[1], 2),
        (ids[2], 1),
        (ids[2], 2),
        (ids[2], 3),
    ];

    let all = store.scan_events(None, 100).await.expect("scan_events");
    assert_eq!(keys(all.clone()), expected);
    // The stored events themselves, exactly as each case's own read gives them.
    let mut per_case = Vec::new();
    for id in &ids {
        per_case.extend(store.events(*id, 0).await.expect("events"));
    }
    assert_eq!(all, per_case);

    let scan = |from, limit| {
        let store = store.clone();
        async move { keys(store.scan_events(from, limit).await.expect("scan_events")) }
    };
    assert_eq!(scan(None, 3).await, expected[..3]);
    // Strictly after the cursor: mid-case, at a case's last event, before a case's first.
    assert_eq!(scan(Some((ids[0], 1)), 100).await, expected[1..]);
    assert_eq!(scan(Some((ids[0], 3)), 2).await, expected[3..5]);
    assert_eq!(scan(Some((ids[1], 0)), 100).await, expected[3..]);
    assert_eq!(scan(Some((ids[1], 2)), 1).await, expected[5..6]);
    // A cursor need not name an event that exists.
    assert_eq!(scan(Some((ids[1], 7)), 100).await, expected[5..]);
    assert_eq!(
        scan(Some((ids[2], 3)), 100).await,
        Vec::<(Uuid, i64)>::new()
    );

    // Paging from each page's last event, in pages of every size, visits each event once.
    for limit in 1..=4 {
        let mut seen = Vec::new();
        let mut from = None;
        loop {
            let page = scan(from, limit).await;
            assert!(page.len() <= limit as usize, "{page:?}");
            let Some(&last) = page.last() else { break };
            seen.extend(page);
            from = Some(last);
        }
        assert_eq!(seen, expected, "pages of {limit}");
    }
}

/// Every case's chain head, ordered by case id, as its last commit left it.
pub async fn chain_heads_follow_commits<S: Store>(store: S) {
    assert!(store.chain_heads().await.expect("chain_heads").is_empty());
    let version = deploy(&store, "h1").await;
    let ids = sorted_ids(3);
    let mut heads = Vec::new();
    for (id, events) in [(ids[2], 2), (ids[0], 1), (ids[1], 3)] {
        heads.push((
            id,
            create(&store, id, version, CaseStatus::Running, t0(), events).await,
        ));
    }
    heads.sort_by_key(|(id, _)| *id);
    assert_eq!(store.chain_heads().await.expect("chain_heads"), heads);
    assert_eq!(
        heads.iter().map(|(_, h)| h.seq).collect::<Vec<_>>(),
        vec![1, 3, 2]
    );

    // A commit moves its case's head, and only its.
    let moved = store
        .commit(step(ids[0], &heads[0].1, 2, t0()))
        .await
        .expect("commit")
        .head;
    assert_ne!(moved, heads[0].1);
    heads[0].1 = moved;
    assert_eq!(store.chain_heads().await.expect("chain_heads"), heads);
    // The heads are those the events themselves end with.
    for (id, head) in &heads {
        let events = store.events(*id, 0).await.expect("events");
        let last = events.last().expect("a started case has events");
        assert_eq!((last.seq, &last.hash), (head.seq, &head.hash));
        assert_eq!(store.load_case(*id).await.expect("load_case").head, *head);
    }
}

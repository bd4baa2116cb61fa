//! People acting on tasks through the runtime, as the approver directory knows them: a
//! successful action records the directory's digest in its event; a refused one changes
//! nothing in the case (head, row, chain) and is recorded beside it, naming the rule. The
//! case views (`engine::views`) read all of it back from the typed history.

use engine::case::Event;
use engine::directory::{Directory, YamlDirectory};
use engine::plugin::{
    CallLimits, CallReport, PluginBuild, PluginInfo, PluginRef, Plugins, StepError, StepInput,
    StepOutput,
};
use engine::runtime::{Config, Error, Runtime, SystemClock};
use engine::store::{CaseStatus, RefusalFilter, SqliteStore, Store, audit};
use engine::views::{self, Decision};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// `score@1` answers `{"score": 700}` with outcome `ok`.
struct Score;

impl Plugins for Score {
    fn describe(&self, plugin: &PluginRef) -> Option<PluginInfo> {
        (plugin.name == "score" && plugin.major == 1).then(|| PluginInfo {
            name: "score".into(),
            version: "1.2.0".into(),
            config_schema: json!({"type": "object"}),
            output_schema: json!({"type": "object"}),
        })
    }

    fn call(&self, _: &PluginRef, _: &StepInput, _: &CallLimits) -> Result<CallReport, StepError> {
        Ok(CallReport {
            build: PluginBuild {
                name: "score".into(),
                version: "1.2.0".into(),
                sha256: "b".repeat(64),
            },
            duration: Duration::from_micros(40),
            output: Ok(StepOutput {
                result: json!({"score": 700}).into(),
                outcome: Some("ok".into()),
                score: Some(700.0),
                reasons: Vec::new(),
            }),
        })
    }
}

const FLOW: &str = "flow: acting
input:
  required: [amount]
  properties:
    amount: { type: number }
start: score
nodes:
  score: { kind: task, plugin: score@1, result: scoring, next: triage }
  triage:
    kind: decision
    routes:
      - when: scoring.score >= 800
        to: approved
      - otherwise: review
  review:
    kind: approval
    assign: { role: credit_officer, authority: amount }
    four_eyes: true
    actions: { approve: approved, reject: rejected }
  approved: { kind: end, outcome: approved }
  rejected: { kind: end, outcome: rejected }
";

const DIRECTORY: &str = "approvers:
  maker:
    roles: [credit_officer]
    authority_limit: 1000000
  small:
    roles: [credit_officer]
    authority_limit: 100
  teller:
    roles: [teller]
    authority_limit: 1000000
  boss:
    roles: [credit_officer]
    authority_limit: 1000000
    clearances: [pii]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_leave_the_case_alone_and_actions_name_their_directory() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("acting.db").display().to_string())
        .await
        .unwrap();
    let rt = Runtime::new(
        store.clone(),
        Arc::new(Score),
        Arc::new(SystemClock),
        Config::default(),
    );
    let directory = YamlDirectory::parse("approvers.yaml", DIRECTORY).unwrap();
    let version = rt.deploy("acting.yaml", FLOW).await.unwrap().version.id;
    let started = rt
        .start_case(version, json!({"amount": 5000}), "maker", None, true)
        .await
        .unwrap();
    assert_eq!(started.status, CaseStatus::Waiting);
    let case_id = started.case_id;
    let task = store.open_tasks(None).await.unwrap()[0].task_id.clone();

    let before_row = store.load_case(case_id).await.unwrap();
    let before_events = store.events(case_id, 0).await.unwrap();
    // Role, authority limit and four-eyes each refuse someone.
    for (user, rule) in [
        ("teller", "role"),
        ("small", "authority_limit"),
        ("maker", "four_eyes"),
    ] {
        let err = rt
            .act(&task, "approve", user, &directory, None, true)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Rejected(_)), "{user}: {err}");
        assert_eq!(
            engine::runtime::refusal_rule(match &err {
                Error::Rejected(r) => r,
                _ => unreachable!(),
            }),
            Some(rule)
        );
    }
    // An unknown user is refused before anything is looked up; nothing to record.
    let err = rt
        .act(&task, "approve", "mallory", &directory, None, true)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`mallory` is not in the approver directory approvers.yaml"
    );

    // The case did not change: same row, same head, same chain.
    assert_eq!(store.load_case(case_id).await.unwrap(), before_row);
    assert_eq!(store.events(case_id, 0).await.unwrap(), before_events);
    assert!(audit::verify(&store).await.unwrap().is_ok());
    // The refusals are on record, newest first, naming the rule and the directory.
    let refusals = store
        .refusals(&RefusalFilter {
            case_id: Some(case_id),
            limit: None,
        })
        .await
        .unwrap();
    let rules: Vec<(&str, &str)> = refusals
        .iter()
        .map(|r| (r.user.as_str(), r.rule.as_str()))
        .collect();
    assert_eq!(
        rules,
        [
            ("maker", "four_eyes"),
            ("small", "authority_limit"),
            ("teller", "role")
        ]
    );
    for r in &refusals {
        assert_eq!(r.task_id, task);
        assert_eq!(r.action, "approve");
        assert_eq!(r.directory.as_deref(), Some(directory.digest()));
    }
    assert!(refusals[1].message.contains("authority limit (100)"));
    let newest = store
        .refusals(&RefusalFilter {
            case_id: None,
            limit: Some(1),
        })
        .await
        .unwrap();
    assert_eq!(newest, refusals[..1]);

    // The one who may act does; the event names the directory that granted it.
    let done = rt
        .act(
            &task,
            "approve",
            "boss",
            &directory,
            Some("fine".into()),
            true,
        )
        .await
        .unwrap();
    assert_eq!(done.outcome.as_deref(), Some("approved"));
    let events = store.events(case_id, 0).await.unwrap();
    let acted = events
        .iter()
        .find(|e| e.kind == "task_acted")
        .expect("a task_acted event");
    let Event::TaskActed { actor, .. } = Event::decode(&acted.kind, &acted.payload).unwrap() else {
        unreachable!()
    };
    assert_eq!(actor.user, "boss");
    assert_eq!(actor.directory.as_deref(), Some(directory.digest()));

    // The views read it all back from the typed history.
    let file = views::load(&store, case_id).await.unwrap();
    assert_eq!(file.case.status, CaseStatus::Completed);
    assert_eq!(file.case.event_format, engine::case::EVENT_FORMAT);
    assert!(file.case.waits_for.is_empty());
    assert_eq!(file.history.len(), events.len());
    let explanation = file.explain();
    let kinds: Vec<&str> = explanation
        .decisions
        .iter()
        .map(|d| d.decision.kind())
        .collect();
    assert_eq!(kinds, ["step", "route", "human"]);
    match &explanation.decisions[0].decision {
        Decision::Step {
            plugin,
            version,
            sha256,
            duration_us,
            input_digest,
            output,
            ..
        } => {
            assert_eq!((plugin.as_str(), version.as_str()), ("score", "1.2.0"));
            assert_eq!(sha256, &"b".repeat(64));
            assert_eq!(*duration_us, 40);
            assert_eq!(input_digest.len(), 64);
            assert_eq!(output.score, Some(700.0));
        }
        other => panic!("{other:?}"),
    }
    match &explanation.decisions[1].decision {
        Decision::Route {
            label, values, to, ..
        } => {
            assert_eq!(label, "otherwise");
            assert_eq!(values["scoring.score"], 700);
            assert_eq!(to, "review");
        }
        other => panic!("{other:?}"),
    }
    match &explanation.decisions[2].decision {
        Decision::Human {
            user, directory: d, ..
        } => {
            assert_eq!(user, "boss");
            assert_eq!(d.as_deref(), Some(directory.digest()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_case_view_says_what_it_waits_for_and_a_bad_event_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("view.db").display().to_string();
    let store = SqliteStore::open(&path).await.unwrap();
    let rt = Runtime::new(
        store.clone(),
        Arc::new(Score),
        Arc::new(SystemClock),
        Config::default(),
    );
    let version = rt.deploy("acting.yaml", FLOW).await.unwrap().version.id;
    let started = rt
        .start_case(version, json!({"amount": 5000}), "maker", None, true)
        .await
        .unwrap();
    let file = views::load(&store, started.case_id).await.unwrap();
    let case = &file.case;
    assert_eq!(case.status, CaseStatus::Waiting);
    assert_eq!((case.flow_id.as_str(), case.flow_version), ("acting", 1));
    assert_eq!(case.initiator, "maker");
    let tasks = &case.waits_for.tasks;
    assert_eq!(tasks.len(), 1);
    assert_eq!(
        (
            tasks[0].node.as_str(),
            tasks[0].role.as_str(),
            tasks[0].authority
        ),
        ("review", "credit_officer", Some(5000.0))
    );
    // The inbox row says the same (it was opened when the transition committed, a moment
    // after the event's time).
    let row = engine::views::TaskView::from(store.task(&tasks[0].task_id).await.unwrap().unwrap());
    assert_eq!(
        engine::views::TaskView {
            opened_at: tasks[0].opened_at,
            ..row
        },
        tasks[0]
    );

    // A stored event that no longer decodes is an error naming the case and seq.
    drop(rt);
    drop(store);
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}"))
        .await
        .unwrap();
    sqlx::query("UPDATE events SET payload = '{\"node\":1}' WHERE case_id = ?1 AND seq = 3")
        .bind(started.case_id.to_string())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    let err = views::load(&store, started.case_id).await.unwrap_err();
    assert!(
        matches!(err, views::Error::Undecodable { case_id, seq: 3, .. } if case_id == started.case_id),
        "{err}"
    );
    assert!(
        err.to_string()
            .starts_with(&format!("case {}: event 3", started.case_id)),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_vote_is_refused_and_recorded() {
    const COMMITTEE: &str = "flow: committee
start: vote
nodes:
  vote:
    kind: approval
    assign: { role: committee_member }
    quorum: { of: 3, needed: 2 }
    actions: { approve: approved, reject: rejected }
  approved: { kind: end, outcome: approved }
  rejected: { kind: end, outcome: rejected }
";
    const MEMBERS: &str = "approvers:
  ann: { roles: [committee_member] }
  ben: { roles: [committee_member] }
";
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("vote.db").display().to_string())
        .await
        .unwrap();
    let rt = Runtime::new(
        store.clone(),
        Arc::new(Score),
        Arc::new(SystemClock),
        Config::default(),
    );
    let members = YamlDirectory::parse("members.yaml", MEMBERS).unwrap();
    let version = rt
        .deploy("committee.yaml", COMMITTEE)
        .await
        .unwrap()
        .version
        .id;
    let case_id = rt
        .start_case(version, json!({}), "maker", None, true)
        .await
        .unwrap()
        .case_id;
    let task = store.open_tasks(None).await.unwrap()[0].task_id.clone();
    rt.act(&task, "approve", "ann", &members, None, true)
        .await
        .unwrap();
    let row = store.load_case(case_id).await.unwrap();
    let err = rt
        .act(&task, "approve", "ann", &members, None, true)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already voted"), "{err}");
    assert_eq!(store.load_case(case_id).await.unwrap(), row);
    let refusals = store.refusals(&RefusalFilter::default()).await.unwrap();
    assert_eq!(refusals.len(), 1);
    assert_eq!(
        (refusals[0].user.as_str(), refusals[0].rule.as_str()),
        ("ann", "already_voted")
    );
    // A rejection that says nothing about the person (an unknown action) is not recorded.
    let err = rt
        .act(&task, "abstain", "ben", &members, None, true)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected(_)), "{err}");
    assert_eq!(
        store
            .refusals(&RefusalFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );
    let done = rt
        .act(&task, "approve", "ben", &members, None, true)
        .await
        .unwrap();
    assert_eq!(done.outcome.as_deref(), Some("approved"));
}

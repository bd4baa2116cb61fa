//! Task nodes: results, retries with exponential backoff, incidents, stale results.

use super::*;

fn two_steps(attempts: u32) -> Flow {
    flow(vec![
        ("docs", task("ocr-check@1", "docs", "score")),
        (
            "score",
            task_retry("scorecard@1", "done", attempts, Duration::from_secs(2)),
        ),
        ("done", end("scored")),
    ])
}

#[test]
fn a_result_lands_in_its_variable_and_is_recorded_for_audit() {
    let (mut case, _) = Case::start(two_steps(3), json!({"amount": 5}));
    case.advance(Duration::from_secs(1));
    let d = case.succeed("docs", json!({"ok": true}));
    assert_eq!(kinds(&d), ["step_completed", "node_entered"]);
    let Event::StepCompleted {
        node,
        attempt,
        plugin,
        duration_us,
        input_digest,
        output,
        result_var,
        ..
    } = &d.events[0]
    else {
        panic!()
    };
    assert_eq!(node.as_str(), "docs");
    assert_eq!(*attempt, 1);
    assert_eq!(plugin, &build("scorecard@1"));
    assert_eq!(*duration_us, 1500);
    assert_eq!(input_digest, &"d".repeat(64));
    assert_eq!(*output.result, json!({"ok": true}));
    assert_eq!(result_var.as_deref(), Some("docs"));
    assert_eq!(case.state.vars()["docs"], json!({"ok": true}));
    assert_eq!(
        d.effects,
        [Effect::RunPlugin {
            node: "score".into(),
            attempt: 1,
            plugin: PluginRef::parse("scorecard@1").unwrap(),
            due: case.now,
            timeout: Some(Duration::from_millis(250)),
        }]
    );
}

#[test]
fn retryable_failures_back_off_doubling_then_raise_an_incident() {
    let (mut case, _) = Case::start(two_steps(3), json!({}));
    case.succeed("docs", json!({}));
    let now = case.now;

    let d = case.fail("score", StepErrorKind::Timeout);
    let due2 = now + chrono::TimeDelta::seconds(2);
    assert_eq!(kinds(&d), ["step_failed"]);
    assert!(
        matches!(&d.events[0], Event::StepFailed { attempt: 1, retry_at: Some(t), .. } if *t == due2)
    );
    assert!(matches!(&d.effects[..], [Effect::RunPlugin { attempt: 2, due, .. }] if *due == due2));
    assert_eq!(case.state.status(), CaseStatus::Running);

    case.advance(Duration::from_secs(2));
    let d = case.fail("score", StepErrorKind::Timeout);
    let due3 = case.now + chrono::TimeDelta::seconds(4);
    assert!(matches!(&d.effects[..], [Effect::RunPlugin { attempt: 3, due, .. }] if *due == due3));

    case.advance(Duration::from_secs(4));
    let d = case.fail("score", StepErrorKind::Timeout);
    assert_eq!(kinds(&d), ["step_failed", "incident_raised"]);
    assert!(d.effects.is_empty());
    let Event::IncidentRaised {
        node,
        cause,
        attempts,
        ..
    } = &d.events[1]
    else {
        panic!()
    };
    assert_eq!(node.as_str(), "score");
    assert_eq!(*attempts, 3);
    assert_eq!(cause.plugin(), Some("scorecard@1"));
    assert_eq!(case.state.status(), CaseStatus::Incident);
    assert_eq!(case.state.incidents().count(), 1);
}

#[test]
fn a_failure_that_no_retry_can_fix_goes_straight_to_an_incident() {
    let (mut case, _) = Case::start(two_steps(5), json!({}));
    case.succeed("docs", json!({}));
    let d = case.fail("score", StepErrorKind::Trap);
    assert_eq!(kinds(&d), ["step_failed", "incident_raised"]);
    assert!(matches!(
        &d.events[1],
        Event::IncidentRaised { attempts: 1, .. }
    ));
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn a_report_carrying_an_error_counts_as_a_failure_with_its_build() {
    let (mut case, _) = Case::start(two_steps(3), json!({}));
    let d = case
        .cmd(Command::StepSucceeded {
            node: "docs".into(),
            attempt: 1,
            report: CallReport {
                build: build("ocr-check@1"),
                duration: Duration::from_millis(3),
                output: Err(error(StepErrorKind::Plugin)),
            },
            input_digest: "d".repeat(64),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["step_failed", "incident_raised"]);
    assert!(
        matches!(&d.events[0], Event::StepFailed { build: Some(b), .. } if b.name == "ocr-check")
    );
}

#[test]
fn retrying_an_incident_reruns_the_node_with_a_fresh_budget() {
    let (mut case, _) = Case::start(two_steps(2), json!({}));
    case.succeed("docs", json!({}));
    case.fail("score", StepErrorKind::Timeout);
    case.fail("score", StepErrorKind::Timeout);
    assert_eq!(case.state.status(), CaseStatus::Incident);

    let d = case
        .cmd(Command::RetryIncident {
            actor: "supervisor".into(),
            comment: Some("plugin fixed".into()),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["incident_resolved"]);
    assert!(matches!(
        &d.effects[..],
        [Effect::RunPlugin { attempt: 3, .. }]
    ));
    assert_eq!(case.state.status(), CaseStatus::Running);

    // A fresh budget: the next timeout is retried again.
    let d = case.fail("score", StepErrorKind::Timeout);
    assert!(matches!(
        &d.effects[..],
        [Effect::RunPlugin { attempt: 4, .. }]
    ));
    case.succeed("score", json!({"score": 700}));
    assert_eq!(case.state.status(), CaseStatus::Completed);

    let err = case
        .cmd(Command::RetryIncident {
            actor: "supervisor".into(),
            comment: None,
        })
        .unwrap_err();
    assert!(matches!(err, Rejected::CaseClosed { .. }));
}

#[test]
fn retry_without_an_incident_is_rejected() {
    let (mut case, _) = Case::start(two_steps(2), json!({}));
    let err = case
        .cmd(Command::RetryIncident {
            actor: "supervisor".into(),
            comment: None,
        })
        .unwrap_err();
    assert_eq!(err, Rejected::NoIncident);
}

#[test]
fn stale_and_duplicate_results_are_rejected_precisely() {
    let (mut case, _) = Case::start(two_steps(3), json!({}));
    case.succeed("docs", json!({}));
    case.fail("score", StepErrorKind::Timeout);

    // The first attempt's result arrives late: attempt 2 is the one running.
    let late = Command::StepSucceeded {
        node: "score".into(),
        attempt: 1,
        report: CallReport {
            build: build("scorecard@1"),
            duration: Duration::from_millis(1),
            output: Ok(output(json!({}))),
        },
        input_digest: "d".repeat(64),
    };
    assert_eq!(
        case.cmd(late.clone()).unwrap_err(),
        Rejected::Stale {
            node: "score".into(),
            attempt: 1,
            running: Some(2)
        }
    );

    // A redelivered result for a node the case has left.
    let again = Command::StepSucceeded {
        node: "docs".into(),
        attempt: 1,
        report: CallReport {
            build: build("ocr-check@1"),
            duration: Duration::from_millis(1),
            output: Ok(output(json!({}))),
        },
        input_digest: "d".repeat(64),
    };
    assert_eq!(
        case.cmd(again).unwrap_err(),
        Rejected::Stale {
            node: "docs".into(),
            attempt: 1,
            running: None
        }
    );
    // A node the flow does not even have.
    let unknown = Command::StepFailed {
        node: "nope".into(),
        attempt: 1,
        error: error(StepErrorKind::Trap),
        build: None,
    };
    assert!(matches!(
        case.cmd(unknown).unwrap_err(),
        Rejected::Stale { .. }
    ));
    assert_eq!(
        case.cmd(late).unwrap_err().class(),
        RejectionClass::Conflict
    );
}

#[test]
fn backoff_doubles_and_is_capped() {
    let first = Duration::from_secs(1);
    assert_eq!(step::backoff(first, 1), Duration::from_secs(1));
    assert_eq!(step::backoff(first, 2), Duration::from_secs(2));
    assert_eq!(step::backoff(first, 4), Duration::from_secs(8));
    assert_eq!(step::backoff(first, 40), MAX_BACKOFF);
    assert_eq!(
        step::backoff(Duration::from_secs(u64::MAX / 2), 3),
        MAX_BACKOFF
    );
}

#[test]
fn a_return_loop_runs_a_task_again_under_a_new_attempt_number() {
    let flow = flow(vec![
        ("docs", task("ocr-check@1", "docs", "review")),
        (
            "review",
            NodeKind::Approval(approval(
                "officer",
                &[("approve", "ok"), ("return", "docs")],
            )),
        ),
        ("ok", end("approved")),
    ]);
    let (mut case, _) = Case::start(flow, json!({}));
    case.succeed("docs", json!({"ok": false}));
    let first_task = case.task("review");
    let d = case
        .act("review", "return", actor("olga", &["officer"], None))
        .unwrap();
    assert_eq!(kinds(&d), ["task_acted", "task_closed", "node_entered"]);
    assert!(matches!(
        &d.effects[..],
        [
            Effect::CloseTask { .. },
            Effect::RunPlugin { attempt: 2, .. }
        ]
    ));
    // The first run's result, redelivered, is stale now.
    let stale = Command::StepSucceeded {
        node: "docs".into(),
        attempt: 1,
        report: CallReport {
            build: build("ocr-check@1"),
            duration: Duration::from_millis(1),
            output: Ok(output(json!({}))),
        },
        input_digest: "d".repeat(64),
    };
    assert!(matches!(
        case.cmd(stale),
        Err(Rejected::Stale {
            running: Some(2),
            ..
        })
    ));
    case.succeed("docs", json!({"ok": true}));
    assert_ne!(case.task("review"), first_task);
    case.act("review", "approve", actor("olga", &["officer"], None))
        .unwrap();
    assert_eq!(case.state.outcome(), Some("approved"));
}

//! Approval nodes: roles, authority, four-eyes, quorum with veto, SLA escalation,
//! return and request-info.

use super::*;

fn review_flow(node: ApprovalNode) -> Flow {
    flow(vec![
        ("review", NodeKind::Approval(node)),
        ("approved", end("approved")),
        ("rejected", end("rejected")),
        (
            "more_docs",
            timer_after(Duration::from_secs(3600), "review"),
        ),
    ])
}

fn actions() -> [(&'static str, &'static str); 4] {
    [
        ("approve", "approved"),
        ("reject", "rejected"),
        ("request_info", "more_docs"),
        ("escalate_to_committee", "rejected"),
    ]
}

fn officer(user: &str, limit: f64) -> Actor {
    actor(user, &["credit_officer"], Some(limit))
}

#[test]
fn an_approval_opens_a_task_and_the_action_moves_the_case_on() {
    let (mut case, d) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    let task = case.task("review");
    assert_eq!(
        d.effects,
        [Effect::OpenTask {
            task: task.clone(),
            node: "review".into(),
            role: "credit_officer".into(),
            authority: None,
            due: None,
        }]
    );
    assert_eq!(case.state.status(), CaseStatus::Waiting);
    let d = case.act("review", "approve", officer("olga", 1.0)).unwrap();
    assert_eq!(
        kinds(&d),
        [
            "task_acted",
            "task_closed",
            "node_entered",
            "case_completed"
        ]
    );
    assert!(matches!(&d.events[1], Event::TaskClosed { action: Some(a), .. } if a == "approve"));
    assert_eq!(
        d.effects,
        [
            Effect::CloseTask { task: task.clone() },
            Effect::CompleteCase {
                outcome: "approved".into()
            }
        ]
    );
    // The same action again: the task is closed.
    let again = case.cmd(Command::HumanAction {
        task: task.clone(),
        action: "approve".into(),
        actor: officer("olga", 1.0),
        comment: None,
    });
    assert_eq!(again.unwrap_err(), Rejected::TaskClosed { task });
}

#[test]
fn unknown_tasks_and_actions_are_rejected() {
    let (mut case, _) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    let err = case
        .act("review", "approve_all", officer("olga", 1.0))
        .unwrap_err();
    assert!(
        matches!(&err, Rejected::UnknownAction { allowed, .. } if allowed.len() == 4),
        "{err}"
    );
    let err = case
        .cmd(Command::HumanAction {
            task: TaskId::new("someone-else:review:3"),
            action: "approve".into(),
            actor: officer("olga", 1.0),
            comment: None,
        })
        .unwrap_err();
    assert_eq!(err.class(), RejectionClass::NotFound);
}

#[test]
fn the_actor_needs_the_role() {
    let (mut case, _) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    let err = case
        .act("review", "approve", actor("bob", &["teller"], Some(1e9)))
        .unwrap_err();
    assert!(matches!(err, Rejected::Role { .. }), "{err}");
    assert_eq!(err.class(), RejectionClass::Forbidden);
}

#[test]
fn authority_is_evaluated_at_opening_and_must_be_covered() {
    let node = with_authority(approval("credit_officer", &actions()), "amount");
    let (mut case, d) = Case::start(review_flow(node), json!({"amount": 800000}));
    assert!(
        matches!(&d.effects[..], [Effect::OpenTask { authority: Some(a), .. }] if *a == 800000.0)
    );
    assert!(matches!(&d.events[2], Event::TaskOpened { authority: Some(a), .. } if *a == 800000.0));

    let err = case
        .act("review", "approve", officer("olga", 500000.0))
        .unwrap_err();
    assert_eq!(
        err,
        Rejected::Authority {
            task: case.task("review"),
            user: "olga".into(),
            limit: Some(500000.0),
            required: 800000.0
        }
    );
    let err = case
        .act(
            "review",
            "approve",
            actor("nolimit", &["credit_officer"], None),
        )
        .unwrap_err();
    assert!(matches!(err, Rejected::Authority { limit: None, .. }));
    case.act("review", "approve", officer("sam", 3000000.0))
        .unwrap();
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn an_authority_that_is_not_a_number_is_an_incident() {
    let node = with_authority(approval("credit_officer", &actions()), "applicant");
    let (case, d) = Case::start(review_flow(node), json!({"applicant": "A. Chen"}));
    assert_eq!(kinds(&d).last(), Some(&"incident_raised"));
    assert!(case.state.tasks().next().is_none());
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn four_eyes_bars_the_initiator() {
    let node = four_eyes(approval("credit_officer", &actions()));
    let (mut case, _) = Case::start(review_flow(node), json!({}));
    let err = case
        .act("review", "approve", officer("maker", 1.0))
        .unwrap_err();
    assert!(matches!(
        err,
        Rejected::FourEyes {
            reason: FourEyes::Initiator,
            ..
        }
    ));
    // Without four-eyes the initiator may act.
    let (mut case, _) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    case.act("review", "approve", officer("maker", 1.0))
        .unwrap();
}

#[test]
fn four_eyes_bars_acting_on_two_levels_of_one_case() {
    let level1 = approval(
        "credit_officer",
        &[("approve", "level2"), ("reject", "rejected")],
    );
    let level2 = four_eyes(approval(
        "credit_officer",
        &[("approve", "approved"), ("return", "level1")],
    ));
    let flow = flow(vec![
        ("level1", NodeKind::Approval(level1)),
        ("level2", NodeKind::Approval(level2)),
        ("approved", end("approved")),
        ("rejected", end("rejected")),
    ]);
    let (mut case, _) = Case::start(flow, json!({}));
    case.act("level1", "approve", officer("olga", 1.0)).unwrap();
    let err = case
        .act("level2", "approve", officer("olga", 1.0))
        .unwrap_err();
    assert_eq!(
        err,
        Rejected::FourEyes {
            task: case.task("level2"),
            user: "olga".into(),
            reason: FourEyes::OtherLevel {
                node: "level1".into()
            }
        }
    );
    // Someone else returns it; olga may act on level 1 again (the same level).
    case.act("level2", "return", officer("sam", 1.0)).unwrap();
    case.act("level1", "approve", officer("olga", 1.0)).unwrap();
    case.act("level2", "approve", officer("sam", 1.0)).unwrap();
    assert_eq!(case.state.outcome(), Some("approved"));
}

fn committee() -> ApprovalNode {
    with_quorum(
        approval("committee", &actions()),
        3,
        2,
        &["committee_chair", "risk"],
    )
}

fn member(user: &str) -> Actor {
    actor(user, &["committee"], None)
}

#[test]
fn a_quorum_collects_votes_until_enough_approve() {
    let (mut case, _) = Case::start(review_flow(committee()), json!({}));
    let d = case.act("review", "approve", member("ann")).unwrap();
    assert_eq!(kinds(&d), ["task_acted"]);
    assert!(d.effects.is_empty());
    assert_eq!(case.state.status(), CaseStatus::Waiting);

    let err = case.act("review", "approve", member("ann")).unwrap_err();
    assert!(matches!(err, Rejected::AlreadyVoted { .. }));

    let d = case.act("review", "reject", member("ben")).unwrap();
    assert_eq!(
        kinds(&d),
        ["task_acted"],
        "one reject of 3 with 2 needed leaves the vote open"
    );
    let d = case.act("review", "approve", member("cai")).unwrap();
    assert_eq!(kinds(&d)[..2], ["task_acted", "task_closed"]);
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn a_quorum_rejects_once_approval_cannot_be_reached() {
    let (mut case, _) = Case::start(review_flow(committee()), json!({}));
    case.act("review", "reject", member("ann")).unwrap();
    let d = case.act("review", "reject", member("ben")).unwrap();
    assert!(matches!(&d.events[1], Event::TaskClosed { action: Some(a), .. } if a == "reject"));
    assert_eq!(case.state.outcome(), Some("rejected"));
}

#[test]
fn a_veto_rejects_at_once() {
    let (mut case, _) = Case::start(review_flow(committee()), json!({}));
    case.act("review", "approve", member("ann")).unwrap();
    let d = case
        .act(
            "review",
            "reject",
            actor("chair", &["committee", "committee_chair"], None),
        )
        .unwrap();
    assert_eq!(kinds(&d)[..2], ["task_acted", "task_closed"]);
    assert_eq!(case.state.outcome(), Some("rejected"));
}

#[test]
fn non_vote_actions_act_at_once_even_in_a_quorum() {
    let (mut case, _) = Case::start(review_flow(committee()), json!({}));
    case.act("review", "approve", member("ann")).unwrap();
    let d = case.act("review", "request_info", member("ben")).unwrap();
    assert_eq!(
        kinds(&d),
        ["task_acted", "task_closed", "node_entered", "timer_armed"]
    );
    assert_eq!(case.positions(), ["more_docs"]);
    // When the documents are in, a new vote starts from zero.
    case.advance(Duration::from_secs(3600));
    let timer = case.state.timers().next().unwrap().id.clone();
    case.cmd(Command::TimerFired { timer }).unwrap();
    assert_eq!(case.state.task(&case.task("review")).unwrap().acts.len(), 0);
    case.act("review", "approve", member("ann")).unwrap();
    assert_eq!(case.state.status(), CaseStatus::Waiting);
}

#[test]
fn sla_deadline_escalates_and_the_task_stays_open() {
    let node = with_sla(
        approval("credit_officer", &actions()),
        Duration::from_secs(4 * 3600),
        "senior_officer",
    );
    let (mut case, d) = Case::start(review_flow(node), json!({}));
    let task = case.task("review");
    let due = t0() + chrono::TimeDelta::hours(4);
    let timer = TimerId::new(format!("{task}:sla"));
    assert_eq!(
        d.effects,
        [
            Effect::OpenTask {
                task: task.clone(),
                node: "review".into(),
                role: "credit_officer".into(),
                authority: None,
                due: Some(due),
            },
            Effect::ArmTimer {
                timer: timer.clone(),
                due
            }
        ]
    );

    case.advance(Duration::from_secs(3600));
    let early = case.cmd(Command::TimerFired {
        timer: timer.clone(),
    });
    assert_eq!(
        early.unwrap_err(),
        Rejected::TimerNotDue {
            timer: timer.clone(),
            due
        }
    );

    // Before escalation, a senior officer without the officer role may not act.
    let senior = actor("sue", &["senior_officer"], None);
    assert!(matches!(
        case.act("review", "approve", senior.clone()),
        Err(Rejected::Role {
            escalated_to: None,
            ..
        })
    ));

    case.advance(Duration::from_secs(3 * 3600));
    let d = case
        .cmd(Command::TimerFired {
            timer: timer.clone(),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["timer_fired", "task_escalated"]);
    assert_eq!(
        d.effects,
        [Effect::EscalateTask {
            task: task.clone(),
            to_role: "senior_officer".into()
        }]
    );
    assert_eq!(case.state.status(), CaseStatus::Waiting);
    assert_eq!(
        case.state.task(&task).unwrap().escalated_to.as_deref(),
        Some("senior_officer")
    );
    assert_eq!(
        case.cmd(Command::TimerFired { timer }).unwrap_err().class(),
        RejectionClass::NotFound
    );
    let d = case.act("review", "approve", senior).unwrap();
    // The SLA timer already fired: nothing to cancel.
    assert!(
        !d.effects
            .iter()
            .any(|e| matches!(e, Effect::CancelTimer { .. }))
    );
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn closing_a_task_cancels_its_sla_timer() {
    let node = with_sla(
        approval("credit_officer", &actions()),
        Duration::from_secs(3600),
        "senior_officer",
    );
    let (mut case, _) = Case::start(review_flow(node), json!({}));
    let task = case.task("review");
    let d = case.act("review", "reject", officer("olga", 1.0)).unwrap();
    assert_eq!(
        d.effects,
        [
            Effect::CloseTask { task: task.clone() },
            Effect::CancelTimer {
                timer: TimerId::new(format!("{task}:sla"))
            },
            Effect::CompleteCase {
                outcome: "rejected".into()
            }
        ]
    );
    assert_eq!(case.state.timers().count(), 0);
}

#[test]
fn task_ids_are_deterministic() {
    let (a, _) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    let (b, _) = Case::start(
        review_flow(approval("credit_officer", &actions())),
        json!({}),
    );
    assert_eq!(a.task("review"), b.task("review"));
    assert_eq!(a.task("review").as_str(), format!("{}:review:3", case_id()));
}

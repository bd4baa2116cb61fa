//! Parallel and join: each branch a token, the join waits for all of them, then once.

use super::*;

fn checks() -> Flow {
    flow(vec![
        ("checks", parallel(&["ocr", "sign_off"], "joined")),
        ("ocr", task("ocr-check@1", "docs", "joined")),
        (
            "sign_off",
            NodeKind::Approval(approval(
                "officer",
                &[("approve", "joined"), ("veto", "vetoed")],
            )),
        ),
        ("joined", join("checks", "score")),
        ("score", task("scorecard@1", "scoring", "done")),
        ("done", end("approved")),
        ("vetoed", end("vetoed")),
    ])
}

#[test]
fn a_fork_starts_every_branch_and_the_join_continues_once() {
    let (mut case, d) = Case::start(checks(), json!({}));
    assert_eq!(
        kinds(&d),
        [
            "case_started",
            "node_entered",
            "branch_forked",
            "node_entered",
            "node_entered",
            "task_opened"
        ]
    );
    let Event::BranchForked {
        token, branches, ..
    } = &d.events[2]
    else {
        panic!()
    };
    assert_eq!(*token, TokenId(0));
    assert_eq!(
        branches,
        &[
            Branch {
                token: TokenId(1),
                node: "ocr".into()
            },
            Branch {
                token: TokenId(2),
                node: "sign_off".into()
            }
        ]
    );
    assert!(matches!(
        &d.effects[..],
        [Effect::RunPlugin { .. }, Effect::OpenTask { .. }]
    ));
    assert_eq!(case.positions(), ["checks", "ocr", "sign_off"]);
    assert_eq!(case.state.status(), CaseStatus::Running);

    let d = case.succeed("ocr", json!({"ok": true}));
    assert_eq!(
        kinds(&d),
        ["step_completed", "node_entered", "branch_joined"]
    );
    assert!(matches!(
        &d.events[2],
        Event::BranchJoined {
            remaining: 1,
            parent: TokenId(0),
            ..
        }
    ));
    assert!(d.effects.is_empty());
    assert_eq!(case.state.status(), CaseStatus::Waiting);

    let d = case
        .act("sign_off", "approve", actor("olga", &["officer"], None))
        .unwrap();
    assert_eq!(
        kinds(&d),
        [
            "task_acted",
            "task_closed",
            "node_entered",
            "branch_joined",
            "node_entered"
        ]
    );
    assert!(
        matches!(&d.events[4], Event::NodeEntered { token: TokenId(0), node, .. } if node.as_str() == "score")
    );
    assert_eq!(case.positions(), ["score"]);
    case.succeed("score", json!({}));
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn a_branch_that_ends_the_case_closes_the_others() {
    let (mut case, _) = Case::start(checks(), json!({}));
    let task = case.task("sign_off");
    let attempt = case.attempt("ocr");
    let d = case
        .act("sign_off", "veto", actor("olga", &["officer"], None))
        .unwrap();
    assert_eq!(
        d.effects,
        [
            Effect::CloseTask { task },
            Effect::CancelStep {
                node: "ocr".into(),
                attempt
            },
            Effect::CompleteCase {
                outcome: "vetoed".into()
            }
        ]
    );
    assert_eq!(case.state.status(), CaseStatus::Completed);
    assert_eq!(case.positions(), Vec::<String>::new());
}

#[test]
fn nested_parallels_join_inner_first() {
    let flow = flow(vec![
        ("outer", parallel(&["inner", "c"], "outer_join")),
        ("inner", parallel(&["a", "b"], "inner_join")),
        ("a", task("ocr-check@1", "a", "inner_join")),
        ("b", task("scorecard@1", "b", "inner_join")),
        ("inner_join", join("inner", "outer_join")),
        ("c", task("compliance@1", "c", "outer_join")),
        ("outer_join", join("outer", "done")),
        ("done", end("ok")),
    ]);
    let (mut case, _) = Case::start(flow, json!({}));
    assert_eq!(case.positions(), ["a", "b", "c", "inner", "outer"]);
    case.succeed("c", json!(1));
    case.succeed("a", json!(2));
    assert_eq!(case.positions(), ["b", "inner", "outer"]);
    let d = case.succeed("b", json!(3));
    assert_eq!(
        kinds(&d),
        [
            "step_completed",
            "node_entered", // b's token at inner_join
            "branch_joined",
            "node_entered", // the inner parallel's token goes on to outer_join
            "branch_joined",
            "node_entered", // the outer token goes on to done
            "case_completed"
        ]
    );
    assert_eq!(case.state.vars()["a"], json!(2));
    assert_eq!(case.state.outcome(), Some("ok"));
}

#[test]
fn a_token_at_a_join_it_does_not_belong_to_is_an_incident() {
    // `stray` routes into the join without a fork: a graph the validator should refuse.
    let flow = flow(vec![
        ("stray", decision(&[], "joined")),
        ("fork", parallel(&["joined"], "joined")),
        ("joined", join("fork", "done")),
        ("done", end("ok")),
    ]);
    let (case, d) = Case::start(flow, json!({}));
    assert_eq!(kinds(&d).last(), Some(&"incident_raised"));
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn a_case_sent_back_before_the_parallel_forks_again() {
    // Corporate rework: after the join, a person resubmits into the parallel checks.
    let flow = flow(vec![
        ("checks", parallel(&["ocr", "circle"], "joined")),
        ("ocr", task("ocr-check@1", "docs", "joined")),
        ("circle", task("guarantee-circle@1", "circle", "joined")),
        ("joined", join("checks", "rework")),
        (
            "rework",
            NodeKind::Approval(approval(
                "relationship_manager",
                &[("resubmit", "checks"), ("withdraw", "withdrawn")],
            )),
        ),
        ("withdrawn", end("withdrawn")),
    ]);
    let (mut case, _) = Case::start(flow, json!({}));
    case.succeed("ocr", json!({}));
    case.succeed("circle", json!({}));
    let rm = actor("rm", &["relationship_manager"], None);
    let d = case.act("rework", "resubmit", rm.clone()).unwrap();
    assert!(matches!(
        &d.events[3],
        Event::BranchForked { token: TokenId(0), branches, .. }
            if branches.iter().map(|b| b.token).collect::<Vec<_>>() == [TokenId(3), TokenId(4)]
    ));
    assert!(matches!(
        &d.effects[..],
        [
            Effect::CloseTask { .. },
            Effect::RunPlugin { attempt: 2, .. },
            Effect::RunPlugin { attempt: 2, .. }
        ]
    ));
    assert_eq!(case.positions(), ["checks", "circle", "ocr"]);
    case.succeed("circle", json!({}));
    case.succeed("ocr", json!({}));
    case.act("rework", "withdraw", rm).unwrap();
    assert_eq!(case.state.outcome(), Some("withdrawn"));
}

/// Regression (found by the property test): one branch ends the case while a sibling
/// branch's task token is still queued in the same transition — its run was never
/// asked for, so there is nothing to cancel.
#[test]
fn an_end_reached_before_a_sibling_task_is_scheduled_cancels_nothing_unasked() {
    let flow = flow(vec![
        ("outer", parallel(&["left", "right"], "outer_join")),
        ("left", parallel(&["early"], "left_join")),
        ("early", end("early")),
        ("left_join", join("left", "outer_join")),
        ("right", parallel(&["work"], "right_join")),
        ("work", task("scorecard@1", "work", "right_join")),
        ("right_join", join("right", "outer_join")),
        ("outer_join", join("outer", "done")),
        ("done", end("done")),
    ]);
    let (case, d) = Case::start(flow, json!({}));
    assert_eq!(
        d.effects,
        [Effect::CompleteCase {
            outcome: "early".into()
        }]
    );
    assert_eq!(case.state.outcome(), Some("early"));
}

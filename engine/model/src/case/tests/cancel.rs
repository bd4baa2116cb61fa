//! Cancelling a case: tasks close, timers and pending runs are dropped, nothing more
//! happens to it.

use super::*;

fn flow_with_everything() -> Flow {
    flow(vec![
        ("fork", parallel(&["review", "score"], "joined")),
        (
            "review",
            NodeKind::Approval(with_sla(
                approval("officer", &[("approve", "joined")]),
                Duration::from_secs(60),
                "senior",
            )),
        ),
        ("score", task("scorecard@1", "scoring", "joined")),
        ("joined", join("fork", "done")),
        ("done", end("approved")),
    ])
}

#[test]
fn cancel_closes_tasks_and_drops_timers_and_runs() {
    let (mut case, _) = Case::start(flow_with_everything(), json!({}));
    let task = case.task("review");
    let attempt = case.attempt("score");
    let d = case
        .cmd(Command::Cancel {
            actor: "supervisor".into(),
            reason: "customer withdrew".into(),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["task_closed", "case_cancelled"]);
    assert_eq!(
        d.effects,
        [
            Effect::CloseTask { task: task.clone() },
            Effect::CancelTimer {
                timer: TimerId::new(format!("{task}:sla"))
            },
            Effect::CancelStep {
                node: "score".into(),
                attempt
            },
            Effect::CancelCase {
                reason: "customer withdrew".into()
            }
        ]
    );
    assert_eq!(case.state.status(), CaseStatus::Cancelled);
    assert_eq!(case.state.tasks().count(), 0);
    assert_eq!(case.state.timers().count(), 0);

    // Everything afterwards is refused, precisely.
    assert_eq!(
        case.act_on(&task, "approve").unwrap_err(),
        Rejected::TaskClosed { task }
    );
    let late = Command::StepFailed {
        node: "score".into(),
        attempt,
        error: error(StepErrorKind::Timeout),
        build: None,
    };
    assert_eq!(
        case.cmd(late).unwrap_err(),
        Rejected::CaseClosed {
            status: CaseStatus::Cancelled
        }
    );
    let again = Command::Cancel {
        actor: "supervisor".into(),
        reason: "twice".into(),
    };
    assert!(matches!(case.cmd(again), Err(Rejected::CaseClosed { .. })));
}

#[test]
fn a_case_at_an_incident_can_be_cancelled() {
    let flow = flow(vec![
        (
            "score",
            task_retry("scorecard@1", "done", 1, Duration::from_secs(1)),
        ),
        ("done", end("ok")),
    ]);
    let (mut case, _) = Case::start(flow, json!({}));
    case.fail("score", StepErrorKind::Trap);
    assert_eq!(case.state.status(), CaseStatus::Incident);
    let d = case
        .cmd(Command::Cancel {
            actor: "supervisor".into(),
            reason: "bad data".into(),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["case_cancelled"]);
    assert_eq!(case.state.status(), CaseStatus::Cancelled);
}

impl Case {
    fn act_on(&mut self, task: &TaskId, action: &str) -> Result<Decision, Rejected> {
        self.cmd(Command::HumanAction {
            task: task.clone(),
            action: action.to_string(),
            actor: actor("olga", &["officer"], None),
            comment: None,
        })
    }
}

//! The stored form of events. The store hashes events' canonical JSON into each case's
//! chain, so a field, once shipped, keeps its name and meaning: this snapshot shows every
//! change to the form in review.

use super::*;

/// JSON with object keys sorted, as the store writes it.
fn canonical(v: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(keys.into_iter().map(|k| (k.clone(), sort(&m[k]))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_string(&sort(v)).unwrap()
}

#[test]
fn the_stored_form_of_a_history() {
    let flow = flow(vec![
        ("score", task("scorecard@1", "scoring", "route")),
        (
            "route",
            decision(&[("scoring.score >= 720", "approved")], "review"),
        ),
        (
            "review",
            NodeKind::Approval(with_sla(
                with_quorum(
                    with_authority(
                        approval("committee", &[("approve", "wait"), ("reject", "rejected")]),
                        "amount",
                    ),
                    2,
                    2,
                    &["chair"],
                ),
                Duration::from_secs(3600),
                "chair",
            )),
        ),
        ("wait", timer_after(Duration::from_secs(60), "checks")),
        ("checks", parallel(&["a", "b"], "joined")),
        (
            "a",
            task_retry("ocr-check@1", "joined", 2, Duration::from_secs(1)),
        ),
        ("b", task("compliance@1", "b", "joined")),
        ("joined", join("checks", "approved")),
        ("approved", end("approved")),
        ("rejected", end("rejected")),
    ]);
    let (mut case, _) = Case::start(flow, json!({"amount": 250000}));
    case.succeed("score", json!({"score": 700}));
    case.advance(Duration::from_secs(3600));
    let sla = case.state.timers().next().unwrap().id.clone();
    case.cmd(Command::TimerFired { timer: sla }).unwrap();
    let member = |u: &str| actor(u, &["committee"], Some(1e6));
    case.act("review", "approve", member("ann")).unwrap();
    case.act("review", "approve", member("ben")).unwrap();
    case.advance(Duration::from_secs(60));
    let wait = case.state.timers().next().unwrap().id.clone();
    case.cmd(Command::TimerFired { timer: wait }).unwrap();
    case.fail("a", StepErrorKind::Trap);
    case.cmd(Command::RetryIncident {
        actor: "supervisor".into(),
        comment: Some("redeployed".into()),
    })
    .unwrap();
    case.succeed("a", json!({"ok": true}));
    case.succeed("b", json!({"passed": true}));
    assert_eq!(case.state.outcome(), Some("approved"));
    let text: Vec<String> = case
        .history
        .iter()
        .map(|e| canonical(&serde_json::to_value(e).unwrap()))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
}

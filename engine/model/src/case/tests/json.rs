//! The stored form of events. The store hashes events' canonical JSON into each case's
//! chain, so a field, once shipped, keeps its name and meaning: this snapshot shows every
//! change to the form in review, and histories written in older formats must still decode
//! (see `case::event`).

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
    let member = |u: &str| Actor {
        directory: Some("c".repeat(64)),
        ..actor(u, &["committee"], Some(1e6))
    };
    case.act("review", "approve", member("ann")).unwrap();
    // An actor no directory vouched for (as in format 1) writes no `directory`.
    case.act("review", "approve", actor("ben", &["committee"], Some(1e6)))
        .unwrap();
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

/// Events as format 1 wrote them (no `format` in `case_started`, no `directory` in an
/// actor), byte for byte.
const FORMAT_1: &[(&str, &str)] = &[
    (
        "case_started",
        r#"{"at":"2026-01-05T09:00:00Z","business_date":"2026-01-05","case_id":"01900000-0000-7000-8000-000000000001","flow_hash":"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff","flow_id":"test-flow","initiator":"maker","input":{"amount":250000}}"#,
    ),
    (
        "task_acted",
        r#"{"action":"approve","actor":{"authority_limit":1000000.0,"roles":["committee"],"user":"ann"},"at":"2026-01-05T10:00:00Z","comment":"ok","task":"01900000-0000-7000-8000-000000000001:review:7"}"#,
    ),
    (
        "route_taken",
        r#"{"at":"2026-01-05T09:00:00Z","expression":null,"node":"route","route_index":null,"to":"review","token":0,"values":{"scoring.score":700}}"#,
    ),
];

#[test]
fn format_1_histories_still_decode_and_keep_their_bytes() {
    for (kind, payload) in FORMAT_1 {
        let event = Event::decode(kind, payload).unwrap();
        assert_eq!(event.kind(), *kind);
        match &event {
            Event::CaseStarted { format, .. } => assert_eq!(*format, 1),
            Event::TaskActed { actor, .. } => assert_eq!(actor.directory, None),
            _ => {}
        }
        let again = canonical_json::to_canonical_json(&event, Some("type")).unwrap();
        if *kind == "case_started" {
            // Read as format 1; written again, it says so.
            let mut v: Value = serde_json::from_str(payload).unwrap();
            v["format"] = json!(1);
            assert_eq!(again, canonical(&v));
        } else {
            assert_eq!(&again, payload, "{kind}");
        }
    }
}

#[test]
fn a_history_from_a_newer_format_is_refused_not_misread() {
    let newer = FORMAT_1[0]
        .1
        .replacen('{', &format!(r#"{{"format":{},"#, EVENT_FORMAT + 1), 1);
    assert_eq!(
        Event::decode("case_started", &newer),
        Err(DecodeError::NewerFormat {
            format: EVENT_FORMAT + 1
        })
    );
    let err = Event::decode("node_entered", r#"{"node":"a"}"#).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Invalid { kind, .. } if kind == "node_entered"),
        "{err}"
    );
    assert!(Event::decode("no_such_event", "{}").is_err());
}

//! Decision nodes: first true route wins, otherwise, recorded values, evaluation errors.

use super::*;
use std::collections::BTreeMap;

fn routing() -> Flow {
    flow(vec![
        (
            "route",
            decision(
                &[
                    ("docs.ok && score >= 720 && amount <= 200000", "approved"),
                    ("!docs.ok || score < 550", "rejected"),
                ],
                "review",
            ),
        ),
        ("approved", end("approved")),
        ("rejected", end("rejected")),
        (
            "review",
            NodeKind::Approval(approval("officer", &[("approve", "approved")])),
        ),
    ])
}

#[test]
fn the_first_true_route_wins_and_records_what_it_read() {
    let (case, d) = Case::start(
        routing(),
        json!({"docs": {"ok": true, "pages": 3}, "score": 750, "amount": 1000}),
    );
    let Event::RouteTaken {
        node,
        route_index,
        expression,
        values,
        to,
        ..
    } = &d.events[2]
    else {
        panic!("{:?}", d.events)
    };
    assert_eq!(node.as_str(), "route");
    assert_eq!(*route_index, Some(0));
    assert_eq!(
        expression.as_deref(),
        Some("docs.ok && score >= 720 && amount <= 200000")
    );
    let expected: BTreeMap<String, Value> = [
        ("amount".to_string(), json!(1000)),
        ("docs.ok".to_string(), json!(true)),
        ("score".to_string(), json!(750)),
    ]
    .into();
    assert_eq!(values, &expected);
    assert_eq!(to.as_str(), "approved");
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn later_routes_are_tried_in_order() {
    let (case, d) = Case::start(
        routing(),
        json!({"docs": {"ok": true}, "score": 500, "amount": 1000}),
    );
    assert!(matches!(
        &d.events[2],
        Event::RouteTaken {
            route_index: Some(1),
            ..
        }
    ));
    assert_eq!(case.state.outcome(), Some("rejected"));
}

#[test]
fn otherwise_records_every_value_the_routes_read() {
    let (case, d) = Case::start(
        routing(),
        json!({"docs": {"ok": true}, "score": 600, "amount": 1000}),
    );
    let Event::RouteTaken {
        route_index,
        expression,
        values,
        to,
        ..
    } = &d.events[2]
    else {
        panic!()
    };
    assert_eq!(*route_index, None);
    assert_eq!(*expression, None);
    assert_eq!(values.len(), 3);
    assert_eq!(values["score"], json!(600));
    assert_eq!(to.as_str(), "review");
    assert_eq!(case.state.status(), CaseStatus::Waiting);
    assert!(matches!(&d.effects[..], [Effect::OpenTask { role, .. }] if role == "officer"));
}

#[test]
fn an_evaluation_error_is_an_incident_at_the_decision() {
    // `score` is missing: the first route cannot be evaluated.
    let (mut case, d) = Case::start(routing(), json!({"docs": {"ok": true}, "amount": 1}));
    assert_eq!(
        kinds(&d),
        ["case_started", "node_entered", "incident_raised"]
    );
    let Event::IncidentRaised { node, cause, .. } = &d.events[2] else {
        panic!()
    };
    assert_eq!(node.as_str(), "route");
    assert!(
        matches!(cause, IncidentCause::Expression { expression, .. } if expression.starts_with("docs.ok")),
        "{cause:?}"
    );
    assert_eq!(case.state.status(), CaseStatus::Incident);
    assert!(d.effects.is_empty());

    // A retry evaluates again; the variables have not changed, so it stops again.
    let d = case
        .cmd(Command::RetryIncident {
            actor: "supervisor".into(),
            comment: None,
        })
        .unwrap();
    assert_eq!(kinds(&d), ["incident_resolved", "incident_raised"]);
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn a_route_that_is_not_boolean_is_an_incident_not_a_silent_false() {
    let flow = flow(vec![
        ("route", decision(&[("amount", "a")], "b")),
        ("a", end("a")),
        ("b", end("b")),
    ]);
    let (case, d) = Case::start(flow, json!({"amount": 5}));
    assert_eq!(kinds(&d).last(), Some(&"incident_raised"));
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn an_automatic_loop_stops_at_an_incident_instead_of_hanging() {
    let flow = flow(vec![
        ("ping", decision(&[("true", "pong")], "done")),
        ("pong", decision(&[("true", "ping")], "done")),
        ("done", end("never")),
    ]);
    let (case, d) = Case::start(flow, json!({}));
    assert_eq!(kinds(&d).last(), Some(&"incident_raised"));
    let Some(Event::IncidentRaised { cause, .. }) = d.events.last() else {
        panic!()
    };
    assert!(matches!(cause, IncidentCause::Flow { message } if message.contains("loops")));
    assert_eq!(case.state.status(), CaseStatus::Incident);
    assert_eq!(
        d.events
            .iter()
            .filter(|e| e.kind() == "node_entered")
            .count(),
        MAX_NODES_PER_TRANSITION + 1
    );
}

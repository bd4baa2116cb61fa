//! The bundled flows (`workflows/*.yaml`), loaded by the validator and driven through the
//! state machine: scripted scenarios, and the simulated world of the property tests.

use super::prop::{Results, drive};
use super::*;
use proptest::prelude::*;

const BUNDLED: [(&str, &str); 4] = [
    (
        "retail-loan",
        include_str!("../../../../../workflows/retail-loan.yaml"),
    ),
    (
        "small-business",
        include_str!("../../../../../workflows/small-business.yaml"),
    ),
    (
        "corporate-credit",
        include_str!("../../../../../workflows/corporate-credit.yaml"),
    ),
    (
        "post-loan-monitoring",
        include_str!("../../../../../workflows/post-loan-monitoring.yaml"),
    ),
];

/// The bundled flow as the validator compiles it, with its input check relaxed to "any
/// object": these tests drive the graph; the input schemas belong to the flows' authors
/// and are checked by their own sample cases.
fn load(name: &str) -> Flow {
    let (_, yaml) = BUNDLED.iter().find(|(n, _)| *n == name).unwrap();
    match crate::flow::load(&format!("workflows/{name}.yaml"), yaml, None) {
        Ok((mut flow, _warnings)) => {
            flow.input = Schema::any_object();
            flow
        }
        Err(diags) => panic!("{name} does not load: {diags:#?}"),
    }
}

/// An input with the fields each bundled flow's routes read; `k` varies amounts and flags.
fn input(name: &str, k: u32) -> Value {
    match name {
        "retail-loan" => json!({
            "application_id": "R-1",
            "product": "personal-loan",
            "amount": 1000 + k * 5000,
            "term_months": 36,
            "applicant": {
                "type": "individual",
                "name": "Chen Li",
                "id_number": "11010519491231002X",
                "birth_date": "1990-04-01",
                "monthly_income": 25000
            },
            "documents": [{"kind": "id_card"}]
        }),
        "small-business" => json!({
            "application_id": "S-1", "amount": 10000 + k * 40000, "term_months": 24,
            "company": {}, "documents": [],
            "customer": {"existing": k.is_multiple_of(2), "months_with_bank": k % 48, "overdue_count_12m": k % 3}
        }),
        "corporate-credit" => json!({
            "application_id": "C-1", "amount": 100000 + k * 60000, "term_months": 36,
            "company": {}, "documents": [], "guarantees": []
        }),
        "post-loan-monitoring" => json!({
            "loan": {"risk_grade": (["A", "B", "C", "D", "E"][k as usize % 5])},
            "borrower": {},
            "monitoring": {"overdue_days": ([0, 0, 15, 45, 120][k as usize % 5]),
                           "new_lawsuits": k % 3 / 2, "turnover_last_3m": 800 + k,
                           "turnover_prior_3m": 1000}
        }),
        _ => unreachable!(),
    }
}

fn officer(user: &str, limit: f64) -> Actor {
    actor(user, &["credit_officer"], Some(limit))
}

#[test]
fn retail_grey_zone_goes_to_an_officer_who_can_cover_it() {
    let (mut case, _) = Case::start(load("retail-loan"), input("retail-loan", 60));
    // 1000 + 60 * 5000 = 301,000: too much for the automatic approval.
    case.succeed("documents", json!({"ok": true, "outcome": "pass"}));
    case.succeed("score", json!({"score": 690, "grade": "C"}));
    let d = case.succeed("compliance", json!({"passed": true, "outcome": "pass"}));
    let Some(Event::RouteTaken {
        route_index: None,
        values,
        to,
        ..
    }) = d.events.iter().find(|e| e.kind() == "route_taken")
    else {
        panic!("{:?}", d.events)
    };
    assert_eq!(to.as_str(), "credit_review");
    assert_eq!(values["scoring.score"], json!(690));
    assert_eq!(values["amount"], json!(301000));
    assert!(matches!(
        &d.effects[..],
        [Effect::OpenTask { authority: Some(a), role, .. }, Effect::ArmTimer { .. }]
            if *a == 301000.0 && role == "credit_officer"
    ));

    // The maker may not approve; a junior officer's limit does not cover the amount.
    assert!(matches!(
        case.act("credit_review", "approve", officer("maker", 1e9)),
        Err(Rejected::FourEyes { .. })
    ));
    assert!(matches!(
        case.act("credit_review", "approve", officer("olga", 200000.0)),
        Err(Rejected::Authority { .. })
    ));

    // Four hours pass: the task escalates to senior officers.
    case.advance(Duration::from_secs(4 * 3600));
    let timer = case.state.timers().next().unwrap().id.clone();
    case.cmd(Command::TimerFired { timer }).unwrap();
    case.act(
        "credit_review",
        "approve",
        actor("sue", &["senior_officer"], Some(3e6)),
    )
    .unwrap();
    assert_eq!(case.state.outcome(), Some("approved"));
}

#[test]
fn retail_low_risk_is_approved_without_a_person() {
    let (mut case, _) = Case::start(load("retail-loan"), input("retail-loan", 10));
    case.succeed("documents", json!({"ok": true, "outcome": "pass"}));
    case.succeed("score", json!({"score": 780, "grade": "A"}));
    let d = case.succeed("compliance", json!({"passed": true, "outcome": "pass"}));
    assert!(d.events.iter().any(|e| matches!(
        e,
        Event::RouteTaken {
            route_index: Some(3),
            ..
        }
    )));
    assert_eq!(case.state.outcome(), Some("approved"));
    assert!(case.history.iter().all(|e| e.kind() != "task_opened"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn bundled_cases_end_or_wait_and_replay(
        which in 0usize..4,
        k in 0u32..100,
        tape in proptest::collection::vec(any::<u32>(), 0..600),
    ) {
        let name = BUNDLED[which].0;
        drive(load(name), input(name, k), &tape, Results::Credit);
    }
}

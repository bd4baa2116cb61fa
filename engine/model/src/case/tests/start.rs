//! Starting a case: input checked against the schema, variables, business date.

use super::*;
use chrono::NaiveDate;

fn scoring_flow(input: Schema) -> Flow {
    flow_with_input(
        input,
        vec![
            ("score", task("scorecard@1", "scoring", "done")),
            ("done", end("approved")),
        ],
    )
}

#[test]
fn input_that_breaks_the_schema_is_rejected_with_pointers() {
    let schema = Schema::compile(&json!({
        "type": "object",
        "required": ["applicant", "amount"],
        "properties": {"amount": {"type": "number", "minimum": 1}}
    }))
    .unwrap();
    let flow = scoring_flow(schema);
    let cmd = Start {
        case_id: case_id(),
        input: json!({"amount": -5}),
        initiator: "maker".into(),
        business_date: None,
    };
    let Err(Rejected::InvalidInput { errors }) = start(&flow, cmd, t0()) else {
        panic!("expected InvalidInput");
    };
    let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
    assert!(pointers.contains(&"/amount"), "{errors:?}");
    assert!(
        errors.iter().any(|e| e.message.contains("applicant")),
        "{errors:?}"
    );
}

#[test]
fn input_must_be_an_object() {
    let flow = scoring_flow(Schema::any_object());
    let cmd = Start {
        case_id: case_id(),
        input: json!([1, 2]),
        initiator: "maker".into(),
        business_date: None,
    };
    let err = start(&flow, cmd, t0()).unwrap_err();
    assert_eq!(err.class(), RejectionClass::Invalid);
}

#[test]
fn start_makes_input_fields_variables_and_runs_the_first_task() {
    let flow = scoring_flow(Schema::any_object());
    let (case, d) = Case::start(flow, json!({"applicant": "A. Chen", "amount": 120000}));
    assert_eq!(kinds(&d), ["case_started", "node_entered"]);
    assert_eq!(
        d.effects,
        [Effect::RunPlugin {
            node: "score".into(),
            attempt: 1,
            plugin: PluginRef::parse("scorecard@1").unwrap(),
            due: t0(),
            timeout: None,
        }]
    );
    assert_eq!(case.state.status(), CaseStatus::Running);
    assert_eq!(case.state.vars()["amount"], json!(120000));
    assert_eq!(
        case.state.business_date(),
        NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
    );
    assert_eq!(case.state.initiator(), "maker");

    let input = step_input(&case.flow, &case.state, &"score".into()).unwrap();
    assert_eq!(input.case_id, case_id().to_string());
    assert_eq!(input.node_id, "score");
    assert_eq!(&*input.config, r#"{"card":"v1"}"#);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&input.vars).unwrap(),
        json!({"applicant": "A. Chen", "amount": 120000})
    );
    assert_eq!(input.business_date, "2026-01-05");
    assert_eq!(step_input(&case.flow, &case.state, &"done".into()), None);
}

#[test]
fn a_given_business_date_wins_over_now() {
    let flow = scoring_flow(Schema::any_object());
    let date = NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let cmd = Start {
        case_id: case_id(),
        input: json!({}),
        initiator: "cron".into(),
        business_date: Some(date),
    };
    let (state, _) = start(&flow, cmd, t0()).unwrap();
    assert_eq!(state.business_date(), date);
}

#[test]
fn a_case_that_reaches_an_end_at_once_completes_in_its_first_transition() {
    let flow = flow(vec![
        ("route", decision(&[("amount < 1000", "small")], "big")),
        ("small", end("auto_approved")),
        ("big", end("declined")),
    ]);
    let (case, d) = Case::start(flow, json!({"amount": 10}));
    assert_eq!(
        kinds(&d),
        [
            "case_started",
            "node_entered",
            "route_taken",
            "node_entered",
            "case_completed"
        ]
    );
    assert_eq!(
        d.effects,
        [Effect::CompleteCase {
            outcome: "auto_approved".into()
        }]
    );
    assert_eq!(case.state.status(), CaseStatus::Completed);
    assert_eq!(case.state.outcome(), Some("auto_approved"));
}

#[test]
fn commands_for_another_flow_version_are_rejected() {
    let flow_a = scoring_flow(Schema::any_object());
    let (case, _) = Case::start(flow_a, json!({}));
    let mut other = case.flow.clone();
    other.hash = "0".repeat(64);
    let err = decide(
        &other,
        &case.state,
        Command::Cancel {
            actor: "sup".into(),
            reason: "x".into(),
        },
        t0(),
    )
    .unwrap_err();
    assert!(matches!(err, Rejected::FlowMismatch { .. }));
    assert!(matches!(
        replay(&other, &case.history),
        Err(ReplayError::FlowMismatch { .. })
    ));
    assert!(matches!(
        replay(&case.flow, &case.history[1..]),
        Err(ReplayError::NotStarted { .. })
    ));
}

#[test]
fn a_business_date_is_written_as_yyyy_mm_dd_for_every_year() {
    for (y, m, d) in [
        (2026, 1, 5),
        (1, 12, 31),
        (999, 3, 4),
        (9999, 12, 31),
        (12345, 6, 7),
        (-44, 3, 15),
    ] {
        let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(
            date.to_string(),
            date.format("%Y-%m-%d").to_string(),
            "{y}-{m}-{d}"
        );
    }
}

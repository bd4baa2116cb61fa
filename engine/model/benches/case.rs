//! Case state machine speed: the pure cost of transitions, without store or plugins.
//!
//! Run: `cargo bench -p model --bench case`.

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use model::case::{self, Actor, CaseId, Command, Start};
use model::flow::Flow;
use model::plugin::{CallReport, PluginBuild, StepOutput};
use serde_json::{Value, json};
use std::hint::black_box;
use std::time::Duration;

const FLOW: &str = r#"
flow: bench-loan
input:
  required: [amount]
  properties:
    amount: { type: number }
start: documents
nodes:
  documents: { kind: task, plugin: ocr-check@1, result: docs, next: score }
  score: { kind: task, plugin: scorecard@1, result: scoring, next: compliance }
  compliance: { kind: task, plugin: compliance@1, result: checks, next: route }
  route:
    kind: decision
    routes:
      - when: "!docs.ok"
        to: rejected
      - when: checks.passed && scoring.score >= 720 && amount <= 200000
        to: approved
      - otherwise: committee
  committee:
    kind: approval
    assign: { role: committee_member, authority: amount }
    four_eyes: true
    quorum: { of: 3, needed: 2, veto: [committee_chair] }
    sla: { within: 1d, escalate_to: committee_chair }
    actions: { approve: approved, reject: rejected, return: documents }
  approved: { kind: end, outcome: approved }
  rejected: { kind: end, outcome: rejected }
"#;

fn flow() -> Flow {
    match model::flow::load("bench.yaml", FLOW, None) {
        Ok((flow, _)) => flow,
        Err(diags) => panic!("bench flow: {diags:?}"),
    }
}

fn result(node: &str, attempt: u32, doc: Value) -> Command {
    Command::StepSucceeded {
        node: node.into(),
        attempt,
        report: CallReport {
            build: PluginBuild {
                name: node.into(),
                version: "1.0.0".into(),
                sha256: "a".repeat(64),
            },
            duration: Duration::from_micros(40),
            output: Ok(StepOutput {
                result: doc.into(),
                outcome: None,
                score: None,
                reasons: Vec::new(),
            }),
        },
        input_digest: "d".repeat(64),
    }
}

/// A whole automatic case: start, three plugin results, the decision, the end.
fn automatic_case(flow: &Flow, n: u128, amount: u32) -> case::CaseState {
    let now = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let start = Start {
        case_id: CaseId::new(uuid::Uuid::from_u128(n)),
        input: json!({"amount": amount, "applicant": {"name": "Chen Li"}}),
        initiator: "maker".into(),
        business_date: None,
    };
    let (mut state, _) = case::start(flow, start, now).unwrap();
    for (node, doc) in [
        ("documents", json!({"ok": true, "pages": 4})),
        ("score", json!({"score": 760, "grade": "A"})),
        ("compliance", json!({"passed": true, "outcome": "pass"})),
    ] {
        let (next, _) = case::transition(flow, &state, result(node, 1, doc), now).unwrap();
        state = next;
    }
    state
}

fn bench(c: &mut Criterion) {
    let flow = flow();
    let mut group = c.benchmark_group("case");
    group.bench_function(
        "automatic case: start + 3 step results + route + end",
        |b| {
            let mut n = 0u128;
            b.iter(|| {
                n += 1;
                let state = automatic_case(&flow, n, black_box(150_000));
                assert_eq!(state.outcome(), Some("approved"));
                state
            })
        },
    );

    // A case waiting at the committee: one vote (not deciding).
    let waiting = automatic_case(&flow, 1, 900_000);
    let task = waiting.tasks().next().unwrap().id.clone();
    let now = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    group.bench_function("committee vote", |b| {
        b.iter(|| {
            let vote = Command::HumanAction {
                task: task.clone(),
                action: "approve".into(),
                actor: Actor {
                    user: "ann".into(),
                    roles: vec!["committee_member".into()],
                    authority_limit: Some(5e6),
                    directory: None,
                },
                comment: None,
            };
            case::decide(&flow, black_box(&waiting), vote, now).unwrap()
        })
    });

    // Replaying a history through JSON, as an audit does.
    let mut history = Vec::new();
    let start = Start {
        case_id: CaseId::new(uuid::Uuid::from_u128(7)),
        input: json!({"amount": 900_000}),
        initiator: "maker".into(),
        business_date: None,
    };
    let t = Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap();
    let (mut state, d) = case::start(&flow, start, t).unwrap();
    history.extend(d.events);
    for round in 1..=5u32 {
        for (node, doc) in [
            ("documents", json!({"ok": true})),
            ("score", json!({"score": 700})),
            ("compliance", json!({"passed": true})),
        ] {
            let (next, d) = case::transition(&flow, &state, result(node, round, doc), t).unwrap();
            state = next;
            history.extend(d.events);
        }
        let task = state.tasks().next().unwrap().id.clone();
        let back = Command::HumanAction {
            task,
            action: "return".into(),
            actor: Actor {
                user: format!("member{round}"),
                roles: vec!["committee_member".into()],
                authority_limit: Some(5e6),
                directory: None,
            },
            comment: Some("more documents".into()),
        };
        let (next, d) = case::transition(&flow, &state, back, t).unwrap();
        state = next;
        history.extend(d.events);
    }
    let stored: Vec<String> = history
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    group.bench_function(format!("replay {} events from JSON", stored.len()), |b| {
        b.iter(|| {
            let events: Vec<case::Event> = stored
                .iter()
                .map(|s| serde_json::from_str(s).unwrap())
                .collect();
            case::replay(&flow, &events).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! Generators of valid flows, for property tests here and in other modules (the case
//! state machine drives generated flows), and for the validation benchmark.
//!
//! A flow is built from a [`Plan`]: a chain of segments from `start` to the `approved`
//! end. Every node kind appears: tasks, decisions (routing on input fields), approvals
//! (with four eyes, SLA, quorum, and a `return` action looping back to an earlier
//! segment — a loop through a human step, which is allowed), timers (`after` and
//! `until`), parallels whose branches meet at their join, and ends. Conditions read
//! only input fields, which [`INPUT`] declares required, so every expression can be
//! evaluated on any valid case input.

use super::def::*;
use indexmap::IndexMap;
use proptest::prelude::*;

/// Plugins generated tasks use (name@major).
pub const PLUGINS: &[&str] = &["echo@1", "score@1", "check@2"];

/// The input schema of generated flows (YAML).
pub const INPUT: &str = r#"{
  "required": ["amount", "name", "flag", "due_date"],
  "properties": {
    "amount": {"type": "number"},
    "name": {"type": "string", "pii": true},
    "flag": {"type": "boolean"},
    "due_date": {"type": "string", "format": "date"}
  }
}"#;

/// A sample input that [`INPUT`] accepts.
pub fn sample_input() -> serde_json::Value {
    serde_json::json!({"amount": 1500, "name": "Ada", "flag": true, "due_date": "2030-01-31"})
}

/// A condition over the input fields.
#[derive(Clone, Debug)]
pub enum Cond {
    AmountAbove(i64),
    AmountAtMost(i64),
    NameIs(String),
    Flag,
    NotFlag,
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

impl Cond {
    pub fn cel(&self) -> String {
        match self {
            Cond::AmountAbove(n) => format!("amount > {n}"),
            Cond::AmountAtMost(n) => format!("amount <= {n}"),
            Cond::NameIs(s) => format!("name == '{s}'"),
            Cond::Flag => "flag".into(),
            Cond::NotFlag => "!flag".into(),
            Cond::And(a, b) => format!("({}) && ({})", a.cel(), b.cel()),
            Cond::Or(a, b) => format!("({}) || ({})", a.cel(), b.cel()),
        }
    }
}

/// One step inside a parallel branch: it must stay inside the branch.
#[derive(Clone, Debug)]
pub enum BranchStep {
    Task { plugin: usize, retry: bool },
    Approval { four_eyes: bool },
    Timer { seconds: u32 },
    Decision { cond: Cond },
}

/// One top-level segment of the chain.
#[derive(Clone, Debug)]
pub enum Segment {
    Task {
        plugin: usize,
        result: bool,
        retry: Option<(u32, u32)>,
        timeout_ms: Option<u32>,
    },
    /// Routes to the next segment, or to the `rejected` end.
    Decision {
        routes: Vec<(Cond, bool)>,
        otherwise_rejects: bool,
    },
    /// `return_to` (an index of an earlier segment, modulo) loops back through this approval.
    Approval {
        four_eyes: bool,
        authority: bool,
        sla_minutes: Option<u32>,
        quorum: Option<(u32, u32)>,
        return_to: Option<usize>,
        request_info: bool,
    },
    TimerAfter {
        minutes: u32,
    },
    TimerUntil,
    Parallel {
        branches: Vec<Vec<BranchStep>>,
    },
}

/// What a generated flow is made of.
#[derive(Clone, Debug)]
pub struct Plan {
    pub schedule: Option<String>,
    pub segments: Vec<Segment>,
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        (0i64..100_000).prop_map(Cond::AmountAbove),
        (0i64..100_000).prop_map(Cond::AmountAtMost),
        "[a-z]{1,6}".prop_map(Cond::NameIs),
        Just(Cond::Flag),
        Just(Cond::NotFlag),
    ];
    leaf.prop_recursive(2, 6, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn branch_step() -> impl Strategy<Value = BranchStep> {
    prop_oneof![
        3 => (0..PLUGINS.len(), any::<bool>()).prop_map(|(plugin, retry)| BranchStep::Task { plugin, retry }),
        1 => any::<bool>().prop_map(|four_eyes| BranchStep::Approval { four_eyes }),
        1 => (1u32..3600).prop_map(|seconds| BranchStep::Timer { seconds }),
        1 => cond().prop_map(|cond| BranchStep::Decision { cond }),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        4 => (
            0..PLUGINS.len(),
            any::<bool>(),
            proptest::option::of((1u32..6, 1u32..5000)),
            proptest::option::of(1u32..10_000),
        )
            .prop_map(|(plugin, result, retry, timeout_ms)| Segment::Task { plugin, result, retry, timeout_ms }),
        3 => (proptest::collection::vec((cond(), any::<bool>()), 1..4), any::<bool>())
            .prop_map(|(routes, otherwise_rejects)| Segment::Decision { routes, otherwise_rejects }),
        3 => (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(1u32..10_000),
            proptest::option::of((1u32..5).prop_flat_map(|of| (Just(of), 1..=of))),
            proptest::option::of(any::<usize>()),
            any::<bool>(),
        )
            .prop_map(|(four_eyes, authority, sla_minutes, quorum, return_to, request_info)| Segment::Approval {
                four_eyes,
                authority,
                sla_minutes,
                quorum,
                return_to,
                request_info,
            }),
        1 => (1u32..100_000).prop_map(|minutes| Segment::TimerAfter { minutes }),
        1 => Just(Segment::TimerUntil),
        2 => proptest::collection::vec(proptest::collection::vec(branch_step(), 1..4), 2..4)
            .prop_map(|branches| Segment::Parallel { branches }),
    ]
}

/// Plans of 1 to `max_segments` segments.
pub fn plan(max_segments: usize) -> impl Strategy<Value = Plan> {
    (
        proptest::option::of(prop_oneof![
            Just("0 6 1 * *".to_string()),
            Just("*/15 * * * *".to_string()),
            Just("30 2 * * MON-FRI".to_string()),
        ]),
        proptest::collection::vec(segment(), 1..=max_segments.max(1)),
    )
        .prop_map(|(schedule, segments)| Plan { schedule, segments })
}

/// Valid flows of up to `max_segments` segments.
pub fn flow_def(max_segments: usize) -> impl Strategy<Value = FlowDef> {
    plan(max_segments).prop_map(|p| build(&p))
}

fn task(plugin: usize, result: Option<String>, next: String) -> NodeDef {
    NodeDef::Task(TaskDef {
        description: None,
        plugin: PLUGINS[plugin % PLUGINS.len()].to_string(),
        config: None,
        result,
        retry: None,
        timeout: None,
        next,
    })
}

/// Builds the flow a plan describes.
pub fn build(plan: &Plan) -> FlowDef {
    const APPROVED: &str = "approved";
    const REJECTED: &str = "rejected";
    let mut nodes: IndexMap<String, NodeDef> = IndexMap::new();
    let n = plan.segments.len();
    // The first node id of each segment, known up front so segments can point forward.
    let heads: Vec<String> = plan
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| match s {
            Segment::Task { .. } => format!("s{i}_task"),
            Segment::Decision { .. } => format!("s{i}_decision"),
            Segment::Approval { .. } => format!("s{i}_approval"),
            Segment::TimerAfter { .. } | Segment::TimerUntil => format!("s{i}_timer"),
            Segment::Parallel { .. } => format!("s{i}_parallel"),
        })
        .collect();
    for (i, seg) in plan.segments.iter().enumerate() {
        let head = heads[i].clone();
        let next = if i + 1 < n {
            heads[i + 1].clone()
        } else {
            APPROVED.to_string()
        };
        match seg {
            Segment::Task {
                plugin,
                result,
                retry,
                timeout_ms,
            } => {
                let mut t = TaskDef {
                    description: None,
                    plugin: PLUGINS[plugin % PLUGINS.len()].to_string(),
                    config: Some(
                        serde_json::json!({"step": i, "label": format!("segment {i}")})
                            .as_object()
                            .cloned()
                            .unwrap_or_default(),
                    ),
                    result: result.then(|| format!("r{i}")),
                    retry: retry.map(|(attempts, ms)| RetryDef {
                        attempts: Some(attempts),
                        backoff: Some(format!("{ms}ms")),
                    }),
                    timeout: timeout_ms.map(|ms| format!("{ms}ms")),
                    next,
                };
                if t.config.as_ref().is_some_and(|c| c.is_empty()) {
                    t.config = None;
                }
                nodes.insert(head, NodeDef::Task(t));
            }
            Segment::Decision {
                routes,
                otherwise_rejects,
            } => {
                let mut out: Vec<RouteDef> = routes
                    .iter()
                    .map(|(c, reject)| {
                        RouteDef::When(WhenDef {
                            when: c.cel(),
                            to: if *reject {
                                REJECTED.into()
                            } else {
                                next.clone()
                            },
                        })
                    })
                    .collect();
                // Something must go on to the next segment, or it would be unreachable.
                let all_reject = routes.iter().all(|(_, reject)| *reject);
                out.push(RouteDef::Otherwise(OtherwiseDef {
                    otherwise: if *otherwise_rejects && !all_reject {
                        REJECTED.into()
                    } else {
                        next.clone()
                    },
                }));
                nodes.insert(
                    head,
                    NodeDef::Decision(DecisionDef {
                        description: None,
                        routes: out,
                    }),
                );
            }
            Segment::Approval {
                four_eyes,
                authority,
                sla_minutes,
                quorum,
                return_to,
                request_info,
            } => {
                let mut actions = IndexMap::new();
                actions.insert("approve".to_string(), next);
                actions.insert("reject".to_string(), REJECTED.to_string());
                if let Some(r) = return_to {
                    actions.insert("return".to_string(), heads[r % (i + 1)].clone());
                }
                if *request_info {
                    actions.insert("request_info".to_string(), head.clone());
                }
                nodes.insert(
                    head,
                    NodeDef::Approval(ApprovalDef {
                        description: None,
                        assign: AssignDef {
                            role: "officer".into(),
                            authority: authority.then(|| "amount".to_string()),
                        },
                        four_eyes: *four_eyes,
                        quorum: quorum.map(|(of, needed)| QuorumDef {
                            of,
                            needed,
                            veto: if of > 2 {
                                vec!["chief".into()]
                            } else {
                                Vec::new()
                            },
                        }),
                        sla: sla_minutes.map(|m| SlaDef {
                            within: format!("{m}m"),
                            escalate_to: "senior_officer".into(),
                        }),
                        actions,
                    }),
                );
            }
            Segment::TimerAfter { minutes } => {
                nodes.insert(
                    head,
                    NodeDef::Timer(TimerDef {
                        description: None,
                        after: Some(format!("{minutes}m")),
                        until: None,
                        next,
                    }),
                );
            }
            Segment::TimerUntil => {
                nodes.insert(
                    head,
                    NodeDef::Timer(TimerDef {
                        description: None,
                        after: None,
                        until: Some("due_date".into()),
                        next,
                    }),
                );
            }
            Segment::Parallel { branches } => {
                let join = format!("s{i}_join");
                let mut firsts = Vec::new();
                for (b, steps) in branches.iter().enumerate() {
                    let ids: Vec<String> =
                        (0..steps.len()).map(|k| format!("s{i}_b{b}_{k}")).collect();
                    firsts.push(ids[0].clone());
                    for (k, step) in steps.iter().enumerate() {
                        let to = ids.get(k + 1).cloned().unwrap_or_else(|| join.clone());
                        let node = match step {
                            BranchStep::Task { plugin, retry } => {
                                let mut t = task(*plugin, Some(format!("r{i}_{b}_{k}")), to);
                                if *retry && let NodeDef::Task(t) = &mut t {
                                    t.retry = Some(RetryDef {
                                        attempts: Some(2),
                                        backoff: None,
                                    });
                                }
                                t
                            }
                            BranchStep::Approval { four_eyes } => {
                                let mut actions = IndexMap::new();
                                actions.insert("approve".to_string(), to.clone());
                                actions.insert("request_info".to_string(), ids[k].clone());
                                NodeDef::Approval(ApprovalDef {
                                    description: None,
                                    assign: AssignDef {
                                        role: "reviewer".into(),
                                        authority: None,
                                    },
                                    four_eyes: *four_eyes,
                                    quorum: None,
                                    sla: None,
                                    actions,
                                })
                            }
                            BranchStep::Timer { seconds } => NodeDef::Timer(TimerDef {
                                description: None,
                                after: Some(format!("{seconds}s")),
                                until: None,
                                next: to,
                            }),
                            BranchStep::Decision { cond } => NodeDef::Decision(DecisionDef {
                                description: None,
                                routes: vec![
                                    RouteDef::When(WhenDef {
                                        when: cond.cel(),
                                        to: to.clone(),
                                    }),
                                    RouteDef::Otherwise(OtherwiseDef { otherwise: to }),
                                ],
                            }),
                        };
                        nodes.insert(ids[k].clone(), node);
                    }
                }
                nodes.insert(
                    head,
                    NodeDef::Parallel(ParallelDef {
                        description: None,
                        branches: firsts,
                    }),
                );
                nodes.insert(
                    join,
                    NodeDef::Join(JoinDef {
                        description: None,
                        next,
                    }),
                );
            }
        }
    }
    nodes.insert(
        APPROVED.into(),
        NodeDef::End(EndDef {
            description: None,
            outcome: APPROVED.into(),
        }),
    );
    nodes.insert(
        REJECTED.into(),
        NodeDef::End(EndDef {
            description: None,
            outcome: REJECTED.into(),
        }),
    );
    // `rejected` must be reachable: without a decision or approval pointing at it, let
    // the first segment's approval-free chain still reach it through a final decision.
    let rejected_used = nodes.values().any(|n| match n {
        NodeDef::Decision(d) => d.routes.iter().any(|r| match r {
            RouteDef::When(w) => w.to == REJECTED,
            RouteDef::Otherwise(o) => o.otherwise == REJECTED,
        }),
        NodeDef::Approval(a) => a.actions.values().any(|t| t == REJECTED),
        _ => false,
    });
    if !rejected_used {
        nodes.shift_remove(REJECTED);
    }
    FlowDef {
        flow: "generated".into(),
        title: Some(format!("Generated flow of {} segments", n)),
        description: None,
        input: serde_json::from_str(INPUT).ok(),
        start: heads
            .first()
            .cloned()
            .unwrap_or_else(|| APPROVED.to_string()),
        schedule: plan.schedule.clone(),
        nodes,
    }
}

/// A deterministic flow of about `target_nodes` nodes cycling through every segment
/// kind (for benchmarks).
pub fn sized_flow(target_nodes: usize) -> FlowDef {
    let cycle = |i: usize| -> Segment {
        match i % 6 {
            0 => Segment::Task {
                plugin: i,
                result: true,
                retry: Some((3, 200)),
                timeout_ms: Some(900),
            },
            1 => Segment::Decision {
                routes: vec![
                    (
                        Cond::And(Box::new(Cond::AmountAbove(i as i64)), Box::new(Cond::Flag)),
                        false,
                    ),
                    (Cond::NameIs("x".into()), true),
                ],
                otherwise_rejects: false,
            },
            2 => Segment::Approval {
                four_eyes: true,
                authority: true,
                sla_minutes: Some(240),
                quorum: (i % 12 == 2).then_some((3, 2)),
                return_to: Some(i.saturating_sub(2)),
                request_info: true,
            },
            3 => Segment::Parallel {
                branches: vec![
                    vec![
                        BranchStep::Task {
                            plugin: 0,
                            retry: false,
                        },
                        BranchStep::Decision { cond: Cond::Flag },
                    ],
                    vec![BranchStep::Approval { four_eyes: false }],
                    vec![
                        BranchStep::Timer { seconds: 30 },
                        BranchStep::Task {
                            plugin: 1,
                            retry: true,
                        },
                    ],
                ],
            },
            4 => Segment::TimerAfter { minutes: 60 },
            _ => Segment::TimerUntil,
        }
    };
    // A cycle of six segments makes 12 nodes.
    let segments = (0..target_nodes.div_ceil(12) * 6).map(cycle).collect();
    build(&Plan {
        schedule: Some("0 6 1 * *".into()),
        segments,
    })
}

/// The flow as YAML text.
pub fn to_yaml(def: &FlowDef) -> String {
    serde_saphyr::to_string(def).unwrap_or_else(|e| panic!("a FlowDef always serializes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::{NodeKind, load};

    fn kinds(def: &FlowDef) -> std::collections::BTreeSet<&'static str> {
        def.nodes
            .values()
            .map(|n| match n {
                NodeDef::Task(_) => "task",
                NodeDef::Decision(_) => "decision",
                NodeDef::Approval(_) => "approval",
                NodeDef::Parallel(_) => "parallel",
                NodeDef::Join(_) => "join",
                NodeDef::Timer(_) => "timer",
                NodeDef::End(_) => "end",
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// YAML → model → YAML → model, and every generated flow validates cleanly.
        #[test]
        fn generated_flows_validate_and_round_trip(def in flow_def(8)) {
            let yaml = to_yaml(&def);
            let (flow, warnings) = match load("generated.yaml", &yaml, None) {
                Ok(x) => x,
                Err(diags) => {
                    let shown: Vec<String> = diags.iter().map(|d| d.render(&yaml)).collect();
                    return Err(TestCaseError::fail(format!("{}\n{yaml}", shown.join("\n"))));
                }
            };
            prop_assert!(warnings.is_empty(), "{warnings:?}");
            prop_assert_eq!(flow.nodes().count(), def.nodes.len());
            let back: FlowDef = serde_saphyr::from_str(&yaml).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(&back, &def);
            prop_assert_eq!(to_yaml(&back), yaml);
            // Every parallel got the join its branches meet at.
            for n in flow.nodes() {
                if let NodeKind::Parallel(p) = &n.kind {
                    let join = flow.node(&p.join);
                    let NodeKind::Join(j) = &join.kind else {
                        return Err(TestCaseError::fail(format!("{} is not a join", p.join)));
                    };
                    prop_assert_eq!(&j.parallel, &n.id);
                }
            }
        }
    }

    #[test]
    fn the_sized_flow_has_every_kind_and_validates() {
        let def = sized_flow(2000);
        assert!(def.nodes.len() >= 2000, "{}", def.nodes.len());
        assert_eq!(kinds(&def).len(), 7, "{:?}", kinds(&def));
        let yaml = to_yaml(&def);
        if let Err(diags) = load("sized.yaml", &yaml, None) {
            panic!(
                "{}",
                diags.iter().map(|d| d.render(&yaml)).collect::<String>()
            );
        }
    }
}

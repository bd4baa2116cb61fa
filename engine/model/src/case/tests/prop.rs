//! Property tests: generated flows driven by a simulated world (plugin results and
//! failures, timers firing, people acting, supervisors retrying, redeliveries).
//!
//! For every generated case: no panic; after every transition the case is either over
//! or waits for something the runtime was told about (a plugin run, a timer, a task or an
//! incident); the effects, applied to a model of the runtime's rows, match the state;
//! redelivered commands are rejected without changing anything; and replaying the
//! history (through JSON) rebuilds the state.

use super::*;
use proptest::prelude::*;
use std::collections::BTreeSet;

/// The shape of a generated flow: series-parallel blocks, so every generated flow is one
/// the validator accepts (every node reaches an end, joins close their parallels).
#[derive(Clone, Debug)]
enum Shape {
    Task {
        attempts: u32,
    },
    Timer {
        secs: u32,
    },
    Decision {
        routes: Vec<(String, Vec<Shape>)>,
        otherwise: Vec<Shape>,
    },
    Approval {
        quorum: Option<(u32, u32)>,
        four_eyes: bool,
        sla: bool,
        authority: bool,
    },
    Parallel {
        branches: Vec<Vec<Shape>>,
    },
    End,
}

fn condition() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (0u32..100).prop_map(|k| format!("x > {k}")),
        1 => Just("x % 2 == 0".to_string()),
        // May read a result that is not there yet: an incident, which the world handles.
        2 => (0u32..8, 0u32..100).prop_map(|(i, k)| format!("n{i}.n > {k}")),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    let quorum = (1u32..4).prop_flat_map(|of| (Just(of), 1..=of));
    let leaf = prop_oneof![
        4 => (1u32..4).prop_map(|attempts| Shape::Task { attempts }),
        1 => (1u32..7200).prop_map(|secs| Shape::Timer { secs }),
        3 => (
            proptest::option::of(quorum),
            any::<bool>(),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(quorum, four_eyes, sla, authority)| Shape::Approval {
                quorum,
                four_eyes,
                sla,
                authority
            }),
        1 => Just(Shape::End),
    ];
    leaf.prop_recursive(3, 24, 3, |inner| {
        let seq = proptest::collection::vec(inner.clone(), 0..3);
        prop_oneof![
            (
                proptest::collection::vec((condition(), seq.clone()), 1..3),
                seq
            )
                .prop_map(|(routes, otherwise)| Shape::Decision { routes, otherwise }),
            proptest::collection::vec(proptest::collection::vec(inner, 1..3), 1..4)
                .prop_map(|branches| Shape::Parallel { branches }),
        ]
    })
}

#[derive(Default)]
struct Gen {
    nodes: Vec<(String, NodeKind)>,
    n: usize,
}

impl Gen {
    fn fresh(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("{prefix}{}", self.n)
    }

    fn push(&mut self, id: &str, kind: NodeKind) {
        self.nodes.push((id.to_string(), kind));
    }

    fn seq(&mut self, shapes: &[Shape], cont: &str) -> String {
        let mut cont = cont.to_string();
        for s in shapes.iter().rev() {
            cont = self.one(s, &cont);
        }
        cont
    }

    fn one(&mut self, s: &Shape, cont: &str) -> String {
        match s {
            Shape::Task { attempts } => {
                let id = self.fresh("n");
                let NodeKind::Task(mut t) =
                    task_retry("scorecard@1", cont, *attempts, Duration::from_secs(1))
                else {
                    unreachable!()
                };
                t.result = Some(id.clone());
                self.push(&id, NodeKind::Task(t));
                id
            }
            Shape::Timer { secs } => {
                let id = self.fresh("wait");
                self.push(
                    &id,
                    timer_after(Duration::from_secs(u64::from(*secs)), cont),
                );
                id
            }
            Shape::Decision { routes, otherwise } => {
                let id = self.fresh("route");
                let targets: Vec<(String, String)> = routes
                    .iter()
                    .map(|(when, shapes)| (when.clone(), self.seq(shapes, cont)))
                    .collect();
                let ow = self.seq(otherwise, cont);
                let refs: Vec<(&str, &str)> = targets
                    .iter()
                    .map(|(w, t)| (w.as_str(), t.as_str()))
                    .collect();
                self.push(&id, decision(&refs, &ow));
                id
            }
            Shape::Approval {
                quorum,
                four_eyes: fe,
                sla,
                authority,
            } => {
                let id = self.fresh("review");
                let fix = self.fresh("fix");
                let info = self.fresh("info");
                let rejected = self.fresh("rejected");
                self.push(&fix, task("ocr-check@1", &fix, &id));
                self.push(&info, timer_after(Duration::from_secs(3600), &id));
                self.push(&rejected, end("rejected"));
                let mut a = approval(
                    "officer",
                    &[
                        ("approve", cont),
                        ("reject", &rejected),
                        ("return", &fix),
                        ("request_info", &info),
                    ],
                );
                if let Some((of, needed)) = quorum {
                    a = with_quorum(a, *of, *needed, &["chair"]);
                }
                if *fe {
                    a = four_eyes(a);
                }
                if *sla {
                    a = with_sla(a, Duration::from_secs(1800), "senior");
                }
                if *authority {
                    a = with_authority(a, "x");
                }
                self.push(&id, NodeKind::Approval(a));
                id
            }
            Shape::Parallel { branches } => {
                let p = self.fresh("fork");
                let j = self.fresh("join");
                self.push(&j, join(&p, cont));
                let entries: Vec<String> = branches.iter().map(|b| self.seq(b, &j)).collect();
                let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
                self.push(&p, parallel(&refs, &j));
                p
            }
            Shape::End => {
                let id = self.fresh("early");
                self.push(&id, end("early"));
                id
            }
        }
    }
}

fn build_flow(shapes: &[Shape]) -> Flow {
    let mut g = Gen::default();
    g.push("done", end("done"));
    let start = g.seq(shapes, "done");
    let pos = g.nodes.iter().position(|(id, _)| *id == start).unwrap();
    let first = g.nodes.remove(pos);
    g.nodes.insert(0, first);
    flow(
        g.nodes
            .iter()
            .map(|(id, k)| (id.as_str(), k.clone()))
            .collect(),
    )
}

/// The runtime's rows, as the effects describe them.
#[derive(Default, Debug, PartialEq)]
pub(super) struct Rows {
    jobs: BTreeSet<(NodeId, u32)>,
    timers: BTreeSet<TimerId>,
    tasks: BTreeSet<TaskId>,
    closed: bool,
}

impl Rows {
    fn apply(&mut self, effects: &[Effect]) {
        for e in effects {
            assert!(!self.closed, "effect after the case closed: {e:?}");
            match e {
                Effect::RunPlugin { node, attempt, .. } => {
                    assert!(
                        self.jobs.insert((node.clone(), *attempt)),
                        "job twice: {e:?}"
                    );
                }
                Effect::CancelStep { node, attempt } => {
                    assert!(
                        self.jobs.remove(&(node.clone(), *attempt)),
                        "no such job: {e:?}"
                    );
                }
                Effect::ArmTimer { timer, .. } => assert!(self.timers.insert(timer.clone())),
                Effect::CancelTimer { timer } => assert!(self.timers.remove(timer)),
                Effect::OpenTask { task, .. } => assert!(self.tasks.insert(task.clone())),
                Effect::CloseTask { task } => assert!(self.tasks.remove(task)),
                Effect::EscalateTask { task, .. } => assert!(self.tasks.contains(task)),
                Effect::CompleteCase { .. } | Effect::CancelCase { .. } => self.closed = true,
            }
        }
    }

    /// What the state says the runtime should hold.
    fn of(state: &CaseState) -> Rows {
        Rows {
            jobs: state
                .pending_steps()
                .map(|(n, a, _)| (n.clone(), a))
                .collect(),
            timers: state.timers().map(|t| t.id.clone()).collect(),
            tasks: state.tasks().map(|t| t.id.clone()).collect(),
            closed: state.status().is_final(),
        }
    }
}

/// How the simulated plugins answer.
#[derive(Clone, Copy, Debug)]
pub(super) enum Results {
    /// `{"n": 0..100}`: what the generated flows' routes read.
    Counter,
    /// A document with the fields the bundled flows' routes read (`ok`, `passed`,
    /// `outcome`, `score`, `grade`, `in_circle`, `member_default`).
    Credit,
}

/// The outside world of one case: the runtime's rows, plugins, the clock, people and
/// supervisors, all steered by a tape of random numbers.
pub(super) struct World<'t> {
    case: Case,
    rows: Rows,
    tape: &'t [u32],
    at: usize,
    accepted: Vec<Command>,
    roles: Vec<String>,
    results: Results,
}

impl World<'_> {
    fn draw(&mut self, n: usize) -> usize {
        let v = self.tape.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v as usize % n.max(1)
    }

    fn actor(&mut self) -> Actor {
        let users = ["maker", "ann", "ben", "cai", "dee"];
        let user = users[self.draw(users.len())];
        let mut roles: Vec<String> = Vec::new();
        for i in 0..self.roles.len() {
            if self.draw(3) == 0 {
                roles.push(self.roles[i].clone());
            }
        }
        let limit = match self.draw(3) {
            0 => None,
            _ => Some(self.draw(150) as f64 * [1.0, 1e5][self.draw(2)]),
        };
        Actor {
            user: user.to_string(),
            roles,
            authority_limit: limit,
            directory: None,
        }
    }

    fn result(&mut self) -> Value {
        match self.results {
            Results::Counter => json!({"n": self.draw(100)}),
            Results::Credit => json!({
                "ok": self.draw(5) > 0,
                "passed": self.draw(3) > 0,
                "outcome": (["pass", "refer", "reject", "fail"][self.draw(4)]),
                "score": 300 + self.draw(550),
                "grade": (["A", "B", "C", "D", "E"][self.draw(5)]),
                "in_circle": self.draw(3) == 0,
                "member_default": self.draw(5) == 0,
            }),
        }
    }

    /// One stimulus from the outside world, chosen by the tape.
    fn stimulus(&mut self) -> Option<Command> {
        let state = &self.case.state;
        let steps: Vec<(NodeId, u32)> = self.rows.jobs.iter().cloned().collect();
        let timers: Vec<Timer> = state.timers().cloned().collect();
        let tasks: Vec<Task> = state.tasks().cloned().collect();
        let incident = state.incidents().next().is_some();
        let mut kinds = vec![];
        if !steps.is_empty() {
            kinds.extend([0, 0, 0]);
        }
        if !timers.is_empty() {
            kinds.push(1);
        }
        if !tasks.is_empty() {
            kinds.extend([2, 2, 2]);
        }
        if incident {
            kinds.extend([3, 3, 3, 4]);
        }
        if !self.accepted.is_empty() {
            kinds.push(5);
        }
        if kinds.is_empty() {
            return None;
        }
        Some(match kinds[self.draw(kinds.len())] {
            0 => {
                let (node, attempt) = steps[self.draw(steps.len())].clone();
                if self.draw(10) < 7 {
                    let result = self.result();
                    Command::StepSucceeded {
                        node,
                        attempt,
                        report: CallReport {
                            build: build("scorecard@1"),
                            duration: Duration::from_micros(self.draw(5000) as u64),
                            output: Ok(output(result)),
                        },
                        input_digest: "d".repeat(64),
                    }
                } else {
                    let kind = [
                        StepErrorKind::Timeout,
                        StepErrorKind::Trap,
                        StepErrorKind::Plugin,
                    ][self.draw(3)]
                    .clone();
                    Command::StepFailed {
                        node,
                        attempt,
                        error: error(kind),
                        build: None,
                    }
                }
            }
            1 => {
                let t = &timers[self.draw(timers.len())];
                if self.case.now < t.due {
                    self.case.now = t.due;
                }
                Command::TimerFired {
                    timer: t.id.clone(),
                }
            }
            2 => {
                let task = tasks[self.draw(tasks.len())].clone();
                let NodeKind::Approval(a) = &self.case.flow.node(&task.node).kind else {
                    panic!("task `{}` at a node that is not an approval", task.id)
                };
                let mut actions: Vec<String> = a.actions.keys().cloned().collect();
                actions.push("bogus".into());
                let action = actions[self.draw(actions.len())].clone();
                Command::HumanAction {
                    task: task.id.clone(),
                    action,
                    actor: self.actor(),
                    comment: None,
                }
            }
            3 => Command::RetryIncident {
                actor: "supervisor".into(),
                comment: None,
            },
            4 => Command::Cancel {
                actor: "supervisor".into(),
                reason: "stuck".into(),
            },
            _ => {
                // A redelivery of something already applied.
                let i = self.draw(self.accepted.len());
                self.accepted[i].clone()
            }
        })
    }

    fn step(&mut self) -> bool {
        let Some(cmd) = self.stimulus() else {
            return false;
        };
        let pause = 1 + self.draw(1000) as i64;
        self.case.now += chrono::TimeDelta::milliseconds(pause);
        let before = self.case.state.clone();
        match transition(
            &self.case.flow,
            &self.case.state,
            cmd.clone(),
            self.case.now,
        ) {
            Ok((state, d)) => {
                assert!(
                    !self.accepted.contains(&cmd) || matches!(cmd, Command::RetryIncident { .. }),
                    "a redelivered command was applied twice: {cmd:?}"
                );
                // The runtime consumes the job or timer that produced this command.
                match &cmd {
                    Command::StepSucceeded { node, attempt, .. }
                    | Command::StepFailed { node, attempt, .. } => {
                        assert!(self.rows.jobs.remove(&(node.clone(), *attempt)));
                    }
                    Command::TimerFired { timer } => {
                        assert!(self.rows.timers.remove(timer));
                    }
                    _ => {}
                }
                self.rows.apply(&d.effects);
                assert!(!d.events.is_empty(), "an accepted command leaves a trace");
                self.case.state = state;
                self.case.history.extend(d.events);
                self.accepted.push(cmd);
            }
            Err(_) => assert_eq!(self.case.state, before),
        }
        let state = &self.case.state;
        assert_quiescent(state);
        assert_eq!(Rows::of(state), self.rows, "effects and state disagree");
        assert!(
            state.status().is_final()
                || !self.rows.jobs.is_empty()
                || !self.rows.timers.is_empty()
                || !self.rows.tasks.is_empty()
                || state.incidents().next().is_some(),
            "the case waits for nothing: {state:?}"
        );
        assert_eq!(
            state.status() == CaseStatus::Incident,
            state.incidents().next().is_some()
        );
        true
    }
}

/// Every role a flow assigns, escalates to or lets veto.
fn roles(flow: &Flow) -> Vec<String> {
    let mut roles = BTreeSet::new();
    for n in flow.nodes() {
        if let NodeKind::Approval(a) = &n.kind {
            roles.insert(a.assign.role.clone());
            if let Some(sla) = &a.sla {
                roles.insert(sla.escalate_to.clone());
            }
            if let Some(q) = &a.quorum {
                roles.extend(q.veto.iter().cloned());
            }
        }
    }
    roles.into_iter().collect()
}

/// Starts a case of `flow` and lets the world act on it as the tape says, checking the
/// properties after every transition; then cancels whatever is left. Returns the case.
pub(super) fn drive(flow: Flow, input: Value, tape: &[u32], results: Results) -> Case {
    let roles = roles(&flow);
    let (case, d) = Case::start(flow, input);
    let mut rows = Rows::default();
    rows.apply(&d.effects);
    assert_eq!(Rows::of(&case.state), rows);
    let mut world = World {
        case,
        rows,
        tape,
        at: 0,
        accepted: Vec::new(),
        roles,
        results,
    };
    let mut n = 0;
    while world.at < tape.len() && !world.case.state.status().is_final() {
        if !world.step() {
            break;
        }
        n += 1;
        if n % 40 == 0 {
            assert_replays(&world.case.flow, &world.case.history, &world.case.state);
        }
    }
    assert_replays(&world.case.flow, &world.case.history, &world.case.state);
    let mut case = world.case;

    // Whatever is left, a cancel winds it all down.
    if !case.state.status().is_final() {
        let (state, d) = transition(
            &case.flow,
            &case.state,
            Command::Cancel {
                actor: "supervisor".into(),
                reason: "end of test".into(),
            },
            case.now,
        )
        .unwrap();
        world.rows.apply(&d.effects);
        case.history.extend(d.events);
        case.state = state;
    }
    assert!(case.state.status().is_final());
    assert_eq!(Rows::of(&case.state), world.rows);
    assert!(
        world.rows.jobs.is_empty() && world.rows.timers.is_empty() && world.rows.tasks.is_empty()
    );
    assert_replays(&case.flow, &case.history, &case.state);
    case
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_cases_end_or_wait_and_replay(
        shapes in proptest::collection::vec(shape(), 1..5),
        x in 0i64..100,
        tape in proptest::collection::vec(any::<u32>(), 0..600),
    ) {
        drive(build_flow(&shapes), json!({"x": x}), &tape, Results::Counter);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// The flow module's generator (`flow::testing`), through YAML and the validator.
    #[test]
    fn validated_generated_flows_end_or_wait_and_replay(
        def in crate::flow::testing::flow_def(6),
        amount in 0i64..100_000,
        flag in any::<bool>(),
        tape in proptest::collection::vec(any::<u32>(), 0..600),
    ) {
        let yaml = crate::flow::testing::to_yaml(&def);
        let flow = match crate::flow::load("generated.yaml", &yaml, None) {
            Ok((flow, _)) => flow,
            Err(diags) => panic!("a generated flow does not load:\n{yaml}\n{diags:#?}"),
        };
        let mut input = crate::flow::testing::sample_input();
        input["amount"] = json!(amount);
        input["flag"] = json!(flag);
        drive(flow, input, &tape, Results::Counter);
    }
}

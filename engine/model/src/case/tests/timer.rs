//! Timer nodes: `after` a duration, `until` a computed date; firing them.

use super::*;

fn waiting(wait: NodeKind) -> Flow {
    flow(vec![("wait", wait), ("done", end("woke"))])
}

#[test]
fn after_arms_a_timer_and_firing_it_moves_on() {
    let (mut case, d) = Case::start(
        waiting(timer_after(Duration::from_secs(3600), "done")),
        json!({}),
    );
    let due = t0() + chrono::TimeDelta::hours(1);
    let timer = TimerId::new(format!("{}:wait:3", case_id()));
    assert_eq!(
        d.effects,
        [Effect::ArmTimer {
            timer: timer.clone(),
            due
        }]
    );
    assert_eq!(case.state.status(), CaseStatus::Waiting);

    case.advance(Duration::from_secs(3599));
    assert!(matches!(
        case.cmd(Command::TimerFired {
            timer: timer.clone()
        }),
        Err(Rejected::TimerNotDue { .. })
    ));
    case.advance(Duration::from_secs(1));
    let d = case
        .cmd(Command::TimerFired {
            timer: timer.clone(),
        })
        .unwrap();
    assert_eq!(kinds(&d), ["timer_fired", "node_entered", "case_completed"]);
    assert_eq!(case.state.outcome(), Some("woke"));
    // Redelivered after the case ended.
    assert!(matches!(
        case.cmd(Command::TimerFired { timer }),
        Err(Rejected::CaseClosed { .. })
    ));
}

#[test]
fn until_accepts_a_date_or_a_timestamp() {
    let (case, d) = Case::start(
        waiting(timer_until("review_on", "done")),
        json!({"review_on": "2026-02-01"}),
    );
    let midnight = Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).unwrap();
    assert!(matches!(&d.effects[..], [Effect::ArmTimer { due, .. }] if *due == midnight));
    assert_eq!(case.state.timers().next().unwrap().due, midnight);

    let (_, d) = Case::start(
        waiting(timer_until("review_at", "done")),
        json!({"review_at": "2026-02-01T10:30:00+08:00"}),
    );
    let t = Utc.with_ymd_and_hms(2026, 2, 1, 2, 30, 0).unwrap();
    assert!(matches!(&d.effects[..], [Effect::ArmTimer { due, .. }] if *due == t));
}

#[test]
fn an_until_that_is_not_a_date_is_an_incident() {
    let (case, d) = Case::start(
        waiting(timer_until("review_on", "done")),
        json!({"review_on": 5}),
    );
    let Some(Event::IncidentRaised { cause, .. }) = d.events.last() else {
        panic!("{:?}", d.events)
    };
    assert!(
        matches!(cause, IncidentCause::Expression { message, .. } if message.contains("YYYY-MM-DD"))
    );
    assert_eq!(case.state.status(), CaseStatus::Incident);
    let (case, _) = Case::start(waiting(timer_until("missing", "done")), json!({}));
    assert_eq!(case.state.status(), CaseStatus::Incident);
}

#[test]
fn unknown_timers_are_rejected() {
    let (mut case, _) = Case::start(
        waiting(timer_after(Duration::from_secs(1), "done")),
        json!({}),
    );
    let err = case
        .cmd(Command::TimerFired {
            timer: TimerId::new("nope"),
        })
        .unwrap_err();
    assert_eq!(
        err,
        Rejected::UnknownTimer {
            timer: TimerId::new("nope")
        }
    );
}

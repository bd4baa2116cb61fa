//! Timer nodes (`after` a duration, `until` a date computed from the case) and timer
//! firings, including SLA deadlines of tasks.

use super::approval;
use super::effect::Effect;
use super::event::{Event, IncidentCause};
use super::ids::{TimerId, TokenId};
use super::machine::Tx;
use super::reject::Rejected;
use crate::flow::{NodeId, NodeKind, TimerNode, TimerWait};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

pub(super) fn arm(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, t: &TimerNode) {
    let due = match &t.wait {
        TimerWait::After(d) => super::later(tx.now, *d).ok_or_else(|| IncidentCause::Flow {
            message: format!(
                "timer `{node}`: waiting {d:?} from {} overflows the calendar",
                tx.now
            ),
        }),
        TimerWait::Until(expr) => match expr.eval(tx.state().vars()) {
            Ok(v) => parse_due(&v).ok_or_else(|| IncidentCause::Expression {
                expression: expr.source().to_string(),
                message: format!("must give an RFC 3339 timestamp or a YYYY-MM-DD date, gave {v}"),
            }),
            Err(e) => Err(IncidentCause::Expression {
                expression: expr.source().to_string(),
                message: e.to_string(),
            }),
        },
    };
    let due = match due {
        Ok(due) => due,
        Err(cause) => {
            tx.incident(token, node.clone(), cause, 0);
            return;
        }
    };
    let state = tx.state();
    let timer = TimerId::for_node(state.case_id(), node.as_str(), state.seq() + 1);
    tx.emit(Event::TimerArmed {
        timer: timer.clone(),
        node: node.clone(),
        token,
        task: None,
        due,
        at: tx.now,
    });
    tx.effect(Effect::ArmTimer { timer, due });
}

/// `YYYY-MM-DD` is midnight UTC of that day.
fn parse_due(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?;
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc())
}

pub(super) fn fired(tx: &mut Tx<'_>, timer: TimerId) -> Result<(), Rejected> {
    let Some(armed) = tx.state().timers().find(|t| t.id == timer).cloned() else {
        return Err(Rejected::UnknownTimer { timer });
    };
    if tx.now < armed.due {
        return Err(Rejected::TimerNotDue {
            timer,
            due: armed.due,
        });
    }
    tx.emit(Event::TimerFired { timer, at: tx.now });
    match armed.task {
        Some(task) => approval::escalate(tx, task, &armed.node),
        None => {
            if let Some(NodeKind::Timer(t)) = tx.flow.get(armed.node.as_str()).map(|n| &n.kind) {
                tx.enter(armed.token, t.next.clone());
            }
        }
    }
    Ok(())
}

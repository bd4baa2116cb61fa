//! Decision nodes: routes tried in order, first true wins, else `otherwise`. Each choice is
//! recorded with the expression and the values it read, so it can be explained later.

use super::event::{Event, IncidentCause};
use super::ids::TokenId;
use super::machine::Tx;
use super::vars::Vars;
use crate::expr::Expr;
use crate::flow::{DecisionNode, NodeId};
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn route(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, d: &DecisionNode) {
    let vars = tx.state().vars();
    let mut chosen = None;
    for (i, r) in d.routes.iter().enumerate() {
        match r.when.eval_bool(vars) {
            Ok(true) => {
                chosen = Some(i);
                break;
            }
            Ok(false) => {}
            Err(e) => {
                let cause = IncidentCause::Expression {
                    expression: r.when.source().to_string(),
                    message: e.to_string(),
                };
                tx.incident(token, node.clone(), cause, 0);
                return;
            }
        }
    }
    let (expression, values, to) = match chosen {
        Some(i) => {
            let r = &d.routes[i];
            let values = read_values([&r.when], vars);
            (Some(r.when.source().to_string()), values, r.to.clone())
        }
        None => {
            let values = read_values(d.routes.iter().map(|r| &r.when), vars);
            (None, values, d.otherwise.clone())
        }
    };
    tx.emit(Event::RouteTaken {
        node: node.clone(),
        token,
        route_index: chosen,
        expression,
        values,
        to: to.clone(),
        at: tx.now,
    });
    tx.enter(token, to);
}

/// The values of the variable paths the expressions read (`null` where absent).
pub(super) fn read_values<'e>(
    exprs: impl IntoIterator<Item = &'e Expr>,
    vars: &Vars,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for e in exprs {
        for path in e.paths() {
            out.entry(path.clone())
                .or_insert_with(|| lookup(vars, path).cloned().unwrap_or(Value::Null));
        }
    }
    out
}

fn lookup<'v>(vars: &'v Vars, path: &str) -> Option<&'v Value> {
    let mut segs = path.split('.');
    let first = vars.get(segs.next()?)?;
    segs.try_fold(first, |v, seg| v.get(seg))
}

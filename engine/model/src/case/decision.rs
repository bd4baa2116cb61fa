//! Decision nodes: routes tried in order, first true wins, else `otherwise`. Each choice is
//! recorded with the expression and the values it read, so it can be explained later.

use super::event::{Event, IncidentCause};
use super::ids::TokenId;
use super::machine::Tx;
use super::vars::Vars;
use crate::doc::JsonRef;
use crate::expr::Expr;
use crate::flow::{DecisionNode, NodeId};
use canonical_json as canonical;
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
                .or_insert_with(|| lookup(vars, path).unwrap_or(Value::Null));
        }
    }
    out
}

/// The value at a dotted path; a step result kept as canonical text is read there, without
/// parsing the rest of it.
fn lookup(vars: &Vars, path: &str) -> Option<Value> {
    let mut segs = path.split('.');
    let text = match vars.get_json(segs.next()?)? {
        JsonRef::Value(first) => return segs.try_fold(first, |v, seg| v.get(seg)).cloned(),
        JsonRef::Kept(doc) => match segs.next() {
            Some(seg) => doc.member(seg)?,
            None => doc.canonical(),
        },
    };
    let text = segs.try_fold(text, |t, seg| canonical::member(t, seg))?;
    Some(serde_json::from_str(text).expect("canonical text parses"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use serde_json::json;

    #[test]
    fn values_read_are_the_same_from_a_result_kept_as_text() {
        let result = json!({"outcome": "pass", "detail": {"n": 2.5, "list": [1]}});
        let routes = [
            Expr::compile("docs.outcome == 'pass' && docs.detail.n > 1").unwrap(),
            Expr::compile("docs.detail.list == [1] && docs.gone == 1 && docs.outcome.x == 1")
                .unwrap(),
            Expr::compile("amount > 3").unwrap(),
        ];
        let read = |doc: Doc| {
            let mut vars = Vars::from_input(Doc::new(json!({"amount": 5})));
            vars.insert("docs".into(), doc);
            read_values(&routes, &vars)
        };
        let text = canonical::canonical_json(&result);
        let from_text = read(Doc::parse(text).unwrap());
        assert_eq!(from_text, read(Doc::new(result)));
        assert_eq!(from_text["docs.detail.n"], json!(2.5));
        assert_eq!(from_text["docs.detail.list"], json!([1]));
        assert_eq!(from_text["docs.gone"], Value::Null);
        assert_eq!(from_text["docs.outcome.x"], Value::Null);
        assert_eq!(from_text["amount"], json!(5));
    }
}

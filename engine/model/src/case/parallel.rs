//! Parallel and join nodes: a parallel parks its token and starts one child token per
//! branch; the join lets the parked token go on once every child has arrived.

use super::event::{Branch, Event, IncidentCause};
use super::ids::TokenId;
use super::machine::Tx;
use super::state::Wait;
use crate::flow::{JoinNode, NodeId, NodeKind, ParallelNode};

pub(super) fn fork(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, p: &ParallelNode) {
    let first = tx.state().next_token;
    let branches: Vec<Branch> = p
        .branches
        .iter()
        .enumerate()
        .map(|(i, b)| Branch {
            token: TokenId(first + i as u32),
            node: b.clone(),
        })
        .collect();
    tx.emit(Event::BranchForked {
        node: node.clone(),
        token,
        branches: branches.clone(),
        at: tx.now,
    });
    if branches.is_empty() {
        // Nothing to wait for: go on from the join at once.
        if let Some(NodeKind::Join(j)) = tx.flow.get(p.join.as_str()).map(|n| &n.kind) {
            tx.enter(token, j.next.clone());
        }
        return;
    }
    for b in branches {
        tx.enter(b.token, b.node);
    }
}

pub(super) fn join(tx: &mut Tx<'_>, token: TokenId, node: &NodeId, j: &JoinNode) {
    let state = tx.state();
    let parent = state
        .token(token)
        .and_then(|t| t.parent)
        .and_then(|p| state.token(p));
    let pending = match parent {
        Some(p) if p.node == j.parallel => match p.wait {
            Wait::Branches { pending } if pending > 0 => Some((p.id, pending)),
            _ => None,
        },
        _ => None,
    };
    let Some((parent, pending)) = pending else {
        let message = format!(
            "{token} reached join `{node}` but was not started by its parallel `{}`",
            j.parallel
        );
        tx.incident(token, node.clone(), IncidentCause::Flow { message }, 0);
        return;
    };
    let remaining = pending - 1;
    tx.emit(Event::BranchJoined {
        node: node.clone(),
        token,
        parent,
        remaining,
        at: tx.now,
    });
    if remaining == 0 {
        tx.enter(parent, j.next.clone());
    }
}

//! Audit: walks every case's hash chain over the stored bytes and names the first broken
//! event of each broken case. Generic over the store, so every adapter is audited alike.

use super::{ChainHead, Result, Store, StoredEvent, chain};
use serde::Serialize;
use uuid::Uuid;

/// Why a case's chain does not verify, at which `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenChain {
    pub case_id: Uuid,
    /// The first event that fails (for a missing tail: the first missing `seq`).
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub cases: u64,
    pub events: u64,
    pub broken: Vec<BrokenChain>,
}

impl AuditReport {
    pub fn is_ok(&self) -> bool {
        self.broken.is_empty()
    }
}

/// State of the walk through one case's events.
struct Walk {
    case_id: Uuid,
    expected_seq: i64,
    prev_hash: String,
    broken: bool,
}

impl Walk {
    fn new(case_id: Uuid) -> Self {
        Walk {
            case_id,
            expected_seq: 1,
            prev_hash: chain::GENESIS.to_string(),
            broken: false,
        }
    }

    fn step(&mut self, event: &StoredEvent) -> Option<BrokenChain> {
        if self.broken {
            return None;
        }
        let fail = |seq: i64, reason: String| BrokenChain {
            case_id: event.case_id,
            seq,
            reason,
        };
        let verdict = if event.seq != self.expected_seq {
            Some(fail(
                self.expected_seq,
                format!(
                    "event {} is missing (next stored event is {})",
                    self.expected_seq, event.seq
                ),
            ))
        } else if event.prev_hash != self.prev_hash {
            Some(fail(
                event.seq,
                "prev_hash does not match the previous event's hash".into(),
            ))
        } else {
            let computed = chain::event_hash(
                &event.prev_hash,
                &event.case_id,
                event.seq,
                &event.kind,
                &event.payload,
                &event.at,
            );
            if computed != event.hash {
                Some(fail(
                    event.seq,
                    "content does not match its hash (edited)".into(),
                ))
            } else {
                None
            }
        };
        if verdict.is_some() {
            self.broken = true;
        }
        self.expected_seq = event.seq + 1;
        self.prev_hash = event.hash.clone();
        verdict
    }

    /// Checks the walk's end against the case row's head (catches a deleted last event).
    fn finish(&self, head: &ChainHead) -> Option<BrokenChain> {
        if self.broken {
            return None;
        }
        let last = self.expected_seq - 1;
        if head.seq != last {
            let seq = last.min(head.seq) + 1;
            return Some(BrokenChain {
                case_id: self.case_id,
                seq,
                reason: format!(
                    "case head is at seq {} but the stored events end at {last}",
                    head.seq
                ),
            });
        }
        if head.hash != self.prev_hash {
            return Some(BrokenChain {
                case_id: self.case_id,
                seq: last,
                reason: "case head hash does not match the last event's hash".into(),
            });
        }
        None
    }
}

/// Verifies every chain in the store, page by page.
pub async fn verify<S: Store>(store: &S) -> Result<AuditReport> {
    const PAGE: u32 = 10_000;
    let heads = store.chain_heads().await?;
    let mut report = AuditReport {
        cases: heads.len() as u64,
        ..AuditReport::default()
    };
    let mut heads = heads.into_iter().peekable();
    let mut walk: Option<Walk> = None;
    let mut cursor = None;

    // Closes the current walk and every head-only case ordered before `until`.
    let close = |walk: Option<Walk>,
                 until: Option<Uuid>,
                 heads: &mut std::iter::Peekable<std::vec::IntoIter<(Uuid, ChainHead)>>,
                 report: &mut AuditReport| {
        if let Some(walk) = walk {
            // Advance to this case's head.
            while let Some((id, _)) = heads.peek() {
                if *id < walk.case_id {
                    let (id, head) = heads.next().unwrap_or_else(|| unreachable!());
                    if let Some(b) = Walk::new(id).finish(&head) {
                        report.broken.push(b);
                    }
                } else {
                    break;
                }
            }
            match heads.peek() {
                Some((id, _)) if *id == walk.case_id => {
                    let (_, head) = heads.next().unwrap_or_else(|| unreachable!());
                    if let Some(b) = walk.finish(&head) {
                        report.broken.push(b);
                    }
                }
                _ => report.broken.push(BrokenChain {
                    case_id: walk.case_id,
                    seq: 1,
                    reason: "events exist for a case that has no case row".into(),
                }),
            }
        }
        while let Some((id, _)) = heads.peek() {
            if until.is_some_and(|u| *id >= u) {
                break;
            }
            let (id, head) = heads.next().unwrap_or_else(|| unreachable!());
            if let Some(b) = Walk::new(id).finish(&head) {
                report.broken.push(b);
            }
        }
    };

    loop {
        let page = store.scan_events(cursor, PAGE).await?;
        let done = page.len() < PAGE as usize;
        for event in &page {
            report.events += 1;
            if walk.as_ref().is_none_or(|w| w.case_id != event.case_id) {
                close(walk.take(), Some(event.case_id), &mut heads, &mut report);
                walk = Some(Walk::new(event.case_id));
            }
            if let Some(b) = walk.as_mut().and_then(|w| w.step(event)) {
                report.broken.push(b);
            }
        }
        cursor = page.last().map(|e| (e.case_id, e.seq));
        if done {
            break;
        }
    }
    close(walk.take(), None, &mut heads, &mut report);
    Ok(report)
}

//! The bounded in-memory cache of in-flight cases (least recently used goes first).
//!
//! Each case has one slot with an async lock: the runtime decides and commits a case's
//! transitions one at a time while plugin runs of its parallel branches overlap. A slot
//! in use (someone holds a clone of it) is never evicted, so a case never has two slots.

use crate::case::CaseState;
use crate::flow::Flow;
use crate::store::ChainHead;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use uuid::Uuid;

/// A case as the runtime holds it between transitions.
pub(super) struct Live {
    pub(super) state: CaseState,
    pub(super) head: ChainHead,
    pub(super) snapshot_seq: i64,
    pub(super) flow: Arc<Flow>,
}

/// `None` until loaded from the store (or after a failed commit made it suspect).
pub(super) type Slot = tokio::sync::Mutex<Option<Live>>;

pub(super) struct CaseCache {
    capacity: usize,
    tick: u64,
    slots: HashMap<Uuid, (Arc<Slot>, u64)>,
    order: BTreeMap<u64, Uuid>,
}

impl CaseCache {
    pub(super) fn new(capacity: usize) -> Self {
        CaseCache {
            capacity: capacity.max(1),
            tick: 0,
            slots: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    /// The case's slot, created empty if absent; marks it most recently used.
    pub(super) fn slot(&mut self, id: Uuid) -> Arc<Slot> {
        self.tick += 1;
        let tick = self.tick;
        let slot = match self.slots.get_mut(&id) {
            Some((slot, used)) => {
                self.order.remove(used);
                *used = tick;
                slot.clone()
            }
            None => {
                let slot = Arc::new(tokio::sync::Mutex::new(None));
                self.slots.insert(id, (slot.clone(), tick));
                slot
            }
        };
        self.order.insert(tick, id);
        self.evict();
        slot
    }

    /// Puts a freshly started case in (it is not in the cache yet).
    pub(super) fn insert(&mut self, id: Uuid, live: Live) {
        let slot = self.slot(id);
        // Nobody else can know the case yet, so the lock is free.
        if let Ok(mut guard) = slot.try_lock() {
            *guard = Some(live);
        }
    }

    /// Drops a case that needs no more work (finished).
    pub(super) fn remove(&mut self, id: Uuid) {
        if let Some((_, used)) = self.slots.remove(&id) {
            self.order.remove(&used);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }

    /// Evicts least recently used slots nobody holds until within capacity.
    fn evict(&mut self) {
        if self.slots.len() <= self.capacity {
            return;
        }
        let mut victims = Vec::new();
        let excess = self.slots.len() - self.capacity;
        for (&tick, id) in &self.order {
            if victims.len() >= excess {
                break;
            }
            if let Some((slot, _)) = self.slots.get(id)
                && Arc::strong_count(slot) == 1
            {
                victims.push((tick, *id));
            }
        }
        for (tick, id) in victims {
            self.order.remove(&tick);
            self.slots.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_idle_slots_only() {
        let mut cache = CaseCache::new(2);
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let held = cache.slot(a);
        cache.slot(b);
        cache.slot(c);
        // a is the oldest but held: b goes instead.
        assert_eq!(cache.len(), 2);
        assert!(cache.slots.contains_key(&a));
        assert!(!cache.slots.contains_key(&b));
        drop(held);
        cache.slot(b);
        assert_eq!(cache.len(), 2);
        assert!(!cache.slots.contains_key(&a));
        cache.remove(c);
        assert_eq!(cache.len(), 1);
    }
}

//! The queue of member updates waiting to be gossiped.
//!
//! At most one entry per member (a newer update replaces the older one and
//! starts its count afresh). Entries come out fewest-transmissions first,
//! newest first among equals (memberlist's transmit-limited queue), and
//! leave once sent their retransmit limit. Every operation is logarithmic
//! and counting a transmission allocates nothing, so a burst of a thousand
//! joins costs no more per update than one.

use super::table::{FixedHashMap, Id};
use alloc::collections::{BTreeMap, BTreeSet};
use core::cmp::Reverse;

#[derive(Debug, Default)]
pub(crate) struct UpdateQueue {
    /// `(transmissions, newest first)`: the sending order.
    order: BTreeSet<(u32, Reverse<u64>)>,
    /// update id -> member.
    names: BTreeMap<u64, Id>,
    /// member -> `(transmissions, update id)`. Only looked up, never
    /// iterated.
    by_name: FixedHashMap<Id, (u32, u64)>,
    next_id: u64,
}

impl UpdateQueue {
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.names.clear();
        self.by_name.clear();
    }

    /// Whether some update has not been sent even once.
    pub(crate) fn has_fresh(&self) -> bool {
        self.order.first().is_some_and(|(sent, _)| *sent == 0)
    }

    /// Queues (or re-queues, with a fresh count) an update about member
    /// `name`.
    pub(crate) fn push(&mut self, name: Id) {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(slot) = self.by_name.get_mut(&name) {
            let (sent, old) = *slot;
            *slot = (0, id);
            self.order.remove(&(sent, Reverse(old)));
            self.names.remove(&old);
        } else {
            self.by_name.insert(name, (0, id));
        }
        self.names.insert(id, name);
        self.order.insert((0, Reverse(id)));
    }

    /// Drops the update about member `name`; returns whether there was one.
    pub(crate) fn remove(&mut self, name: Id) -> bool {
        match self.by_name.remove(&name) {
            Some((sent, id)) => {
                self.order.remove(&(sent, Reverse(id)));
                self.names.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Members with an update, in sending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Id> + '_ {
        self.order.iter().filter_map(|(_, Reverse(id))| self.names.get(id).copied())
    }

    /// Counts one transmission of the update about member `name`; drops it once it
    /// reached `limit`. Returns whether it was dropped.
    pub(crate) fn sent(&mut self, name: Id, limit: u32) -> bool {
        let Some(slot) = self.by_name.get_mut(&name) else { return false };
        let (sent, id) = *slot;
        self.order.remove(&(sent, Reverse(id)));
        if sent + 1 >= limit {
            self.by_name.remove(&name);
            self.names.remove(&id);
            return true;
        }
        *slot = (sent + 1, id);
        self.order.insert((sent + 1, Reverse(id)));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn order(q: &UpdateQueue) -> Vec<Id> {
        q.iter().collect()
    }

    #[test]
    fn fewest_transmissions_then_newest_first() {
        let mut q = UpdateQueue::default();
        q.push(10);
        q.push(11);
        q.push(12);
        assert_eq!(order(&q), [12, 11, 10]);
        assert!(q.has_fresh());
        q.sent(12, 4);
        assert_eq!(order(&q), [11, 10, 12]);
        q.push(12);
        assert_eq!(order(&q)[0], 12, "a newer update starts afresh");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn retires_at_the_limit() {
        let mut q = UpdateQueue::default();
        q.push(10);
        assert!(q.has_fresh());
        assert!(!q.sent(10, 2));
        assert!(!q.has_fresh(), "sent once already");
        assert!(q.sent(10, 2));
        assert!(q.is_empty());
        assert!(!q.remove(10));
    }
}

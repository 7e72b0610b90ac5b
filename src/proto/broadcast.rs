//! The queue of member updates waiting to be gossiped.
//!
//! At most one entry per member (a newer update replaces the older one and
//! starts its count afresh). Entries come out fewest-transmissions first,
//! newest first among equals (memberlist's transmit-limited queue), and
//! leave once sent their retransmit limit. Every operation is logarithmic,
//! so a burst of a thousand joins costs no more per update than one.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Reverse;

#[derive(Debug, Default)]
pub(crate) struct TransmitQueue {
    /// `(transmissions, newest first, member)`.
    order: BTreeSet<(u32, Reverse<u64>, String)>,
    /// member -> `(transmissions, id)`, to find its place in `order`.
    by_name: BTreeMap<String, (u32, u64)>,
    next_id: u64,
}

impl TransmitQueue {
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.by_name.clear();
    }

    /// Queues (or re-queues, with a fresh count) an update about `name`.
    pub(crate) fn push(&mut self, name: &str) {
        self.remove(name);
        self.next_id += 1;
        self.by_name.insert(String::from(name), (0, self.next_id));
        self.order.insert((0, Reverse(self.next_id), String::from(name)));
    }

    /// Drops the update about `name`; returns whether there was one.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        match self.by_name.remove(name) {
            Some((sent, id)) => {
                self.order.remove(&(sent, Reverse(id), String::from(name)));
                true
            }
            None => false,
        }
    }

    /// Up to `max` members with an update, in sending order.
    pub(crate) fn next(&self, max: usize) -> Vec<String> {
        self.order.iter().take(max).map(|(_, _, n)| n.clone()).collect()
    }

    /// Counts one transmission of the update about `name`; drops it once it
    /// reached `limit`. Returns whether it was dropped.
    pub(crate) fn sent(&mut self, name: &str, limit: u32) -> bool {
        let Some(&(sent, id)) = self.by_name.get(name) else { return false };
        self.order.remove(&(sent, Reverse(id), String::from(name)));
        if sent + 1 >= limit {
            self.by_name.remove(name);
            return true;
        }
        self.by_name.insert(String::from(name), (sent + 1, id));
        self.order.insert((sent + 1, Reverse(id), String::from(name)));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewest_transmissions_then_newest_first() {
        let mut q = TransmitQueue::default();
        q.push("a");
        q.push("b");
        q.push("c");
        assert_eq!(q.next(10), ["c", "b", "a"]);
        q.sent("c", 4);
        assert_eq!(q.next(10), ["b", "a", "c"]);
        q.push("c");
        assert_eq!(q.next(1), ["c"], "a newer update starts afresh");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn retires_at_the_limit() {
        let mut q = TransmitQueue::default();
        q.push("a");
        assert!(!q.sent("a", 2));
        assert!(q.sent("a", 2));
        assert!(q.is_empty());
        assert!(!q.remove("a"));
    }
}

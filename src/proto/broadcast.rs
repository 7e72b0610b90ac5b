//! The queue of member updates waiting to be gossiped.
//!
//! At most one entry per member (a newer update replaces the older one and
//! starts its count afresh). Entries come out fewest-transmissions first,
//! newest first among equals (memberlist's transmit-limited queue), and
//! leave once sent their retransmit limit. Every operation is logarithmic
//! and counting a transmission allocates nothing, so a burst of a thousand
//! joins costs no more per update than one.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use core::cmp::Reverse;

/// A hash map with fixed keys: lookups only, so its order never matters.
type FixedHashMap<K, V> =
    std::collections::HashMap<K, V, core::hash::BuildHasherDefault<std::hash::DefaultHasher>>;

#[derive(Debug, Default)]
pub(crate) struct TransmitQueue {
    /// `(transmissions, newest first)`: the sending order.
    order: BTreeSet<(u32, Reverse<u64>)>,
    /// id -> member.
    names: BTreeMap<u64, String>,
    /// member -> `(transmissions, id)`. Only looked up, never iterated.
    by_name: FixedHashMap<String, (u32, u64)>,
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
        self.names.clear();
        self.by_name.clear();
    }

    /// Queues (or re-queues, with a fresh count) an update about `name`.
    pub(crate) fn push(&mut self, name: &str) {
        self.next_id += 1;
        let id = self.next_id;
        if let Some(slot) = self.by_name.get_mut(name) {
            let (sent, old) = *slot;
            *slot = (0, id);
            self.order.remove(&(sent, Reverse(old)));
            if let Some(n) = self.names.remove(&old) {
                self.names.insert(id, n);
            }
        } else {
            self.by_name.insert(String::from(name), (0, id));
            self.names.insert(id, String::from(name));
        }
        self.order.insert((0, Reverse(id)));
    }

    /// Drops the update about `name`; returns whether there was one.
    pub(crate) fn remove(&mut self, name: &str) -> bool {
        match self.by_name.remove(name) {
            Some((sent, id)) => {
                self.order.remove(&(sent, Reverse(id)));
                self.names.remove(&id);
                true
            }
            None => false,
        }
    }

    /// Members with an update, in sending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.order.iter().filter_map(|(_, Reverse(id))| self.names.get(id).map(String::as_str))
    }

    /// Counts one transmission of the update about `name`; drops it once it
    /// reached `limit`. Returns whether it was dropped.
    pub(crate) fn sent(&mut self, name: &str, limit: u32) -> bool {
        let Some(slot) = self.by_name.get_mut(name) else { return false };
        let (sent, id) = *slot;
        self.order.remove(&(sent, Reverse(id)));
        if sent + 1 >= limit {
            self.by_name.remove(name);
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

    fn order(q: &TransmitQueue) -> Vec<&str> {
        q.iter().collect()
    }

    #[test]
    fn fewest_transmissions_then_newest_first() {
        let mut q = TransmitQueue::default();
        q.push("a");
        q.push("b");
        q.push("c");
        assert_eq!(order(&q), ["c", "b", "a"]);
        q.sent("c", 4);
        assert_eq!(order(&q), ["b", "a", "c"]);
        q.push("c");
        assert_eq!(order(&q)[0], "c", "a newer update starts afresh");
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

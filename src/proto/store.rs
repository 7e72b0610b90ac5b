//! Replicated per-member state and user rumors, kept as Scuttlebutt keeps
//! them: each member owns a stream of items (`Set`, `Delete`, `Rumor`,
//! `Clear`) numbered by its own version counter, and every member holds,
//! for every other, the items of its stream that still matter.
//!
//! A stream's `watermark` is a promise: every item up to that version that
//! is still current is here. Items of a lower version may be missing only
//! because they were superseded (a later `Set` of the same key) or
//! collected (tombstones and delivered rumors, after `state_gc_grace`), so
//! anti-entropy only ever needs to send what lies above a peer's watermark.
//! A peer whose watermark is below what we collected cannot tell whether
//! it missed a tombstone: it is reset, i.e. sent the whole current stream.

use crate::codec::{Item, Value};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

/// An item as held: what it says and when this node got it (for
/// collection).
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) item: Item,
    pub(crate) at: Duration,
}

/// What applying one item changed, for the events the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `key` now holds `value` (`None`: deleted), as of item `version`.
    Key { key: String, value: Option<Value>, version: u64 },
    /// A rumor to deliver.
    Rumor { version: u64, payload: Vec<u8> },
}

/// One member's stream as this node holds it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Stream {
    /// Every current item up to this version is in `items`.
    pub(crate) watermark: u64,
    /// Items up to this version may have been collected here.
    pub(crate) collected: u64,
    /// Held items by version: current `Set`s, tombstones, rumors and
    /// `Clear` markers not collected yet, and items above the watermark
    /// that arrived out of order.
    pub(crate) items: BTreeMap<u64, Held>,
    /// The version of the item that last wrote each key (`Set` or
    /// `Delete`).
    pub(crate) keys: BTreeMap<String, u64>,
}

impl Stream {
    /// Whether item `version` is already known (held, superseded or
    /// collected).
    pub(crate) fn knows(&self, version: u64) -> bool {
        version <= self.watermark || self.items.contains_key(&version)
    }

    /// Applies item `version`, received at `now`; returns what changed
    /// (nothing if it was known or superseded). Advances the watermark
    /// over any run of consecutive versions now held.
    pub(crate) fn apply(&mut self, version: u64, item: Item, now: Duration, out: &mut Vec<Change>) {
        if version == 0 || self.knows(version) {
            return;
        }
        match &item {
            Item::Set { key, .. } | Item::Delete { key } => {
                match self.keys.get(key) {
                    Some(&v) if v > version => {
                        // Superseded: only a placeholder-free "seen". The
                        // watermark moves past it once anti-entropy vouches.
                        return;
                    }
                    Some(&v) => {
                        self.items.remove(&v);
                    }
                    None => {}
                }
                let had = self.keys.insert(key.clone(), version).is_some();
                match &item {
                    Item::Set { key, value } => out.push(Change::Key {
                        key: key.clone(),
                        value: Some(value.clone()),
                        version,
                    }),
                    Item::Delete { key } if had => {
                        out.push(Change::Key { key: key.clone(), value: None, version })
                    }
                    _ => {}
                }
            }
            Item::Rumor { payload } => {
                out.push(Change::Rumor { version, payload: payload.clone() });
            }
            Item::Clear => {
                // A new life of the member: everything older is gone.
                let old: Vec<u64> = self.items.range(..version).map(|(v, _)| *v).collect();
                for v in old {
                    if let Some(Held { item: Item::Set { key, .. }, .. }) = self.items.remove(&v) {
                        self.keys.remove(&key);
                        out.push(Change::Key { key, value: None, version });
                    } else {
                        self.keys.retain(|_, kv| *kv != v);
                    }
                }
                self.watermark = self.watermark.max(version - 1);
                self.collected = self.collected.max(version - 1);
            }
        }
        self.items.insert(version, Held { item, at: now });
        self.advance();
    }

    /// Moves the watermark over held consecutive versions.
    fn advance(&mut self) {
        while self.items.contains_key(&(self.watermark + 1)) {
            self.watermark += 1;
        }
    }

    /// A delta covering `(from, through]` arrived and was applied: if it
    /// started at or below our watermark, everything up to `through` is
    /// now vouched for.
    pub(crate) fn covered(&mut self, from: u64, through: u64) {
        if from <= self.watermark && through > self.watermark {
            self.watermark = through;
            self.advance();
        }
    }

    /// Drops everything (a reset), reporting the keys that disappear.
    pub(crate) fn reset(&mut self, collected: u64, out: &mut Vec<Change>) {
        for (key, v) in core::mem::take(&mut self.keys) {
            if matches!(self.items.get(&v), Some(Held { item: Item::Set { .. }, .. })) {
                out.push(Change::Key { key, value: None, version: collected });
            }
        }
        self.items.clear();
        self.watermark = 0;
        self.collected = collected;
    }

    /// Collects tombstones, rumors and `Clear` markers at or below the
    /// watermark that arrived before `horizon`.
    pub(crate) fn collect(&mut self, horizon: Duration) {
        let old: Vec<u64> = self
            .items
            .range(..=self.watermark)
            .filter(|(_, h)| h.at < horizon && !matches!(h.item, Item::Set { .. }))
            .map(|(v, _)| *v)
            .collect();
        for v in old {
            if let Some(Held { item: Item::Delete { key }, .. }) = self.items.remove(&v) {
                if self.keys.get(&key) == Some(&v) {
                    self.keys.remove(&key);
                }
            }
            self.collected = self.collected.max(v);
        }
    }

    /// The current value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        let v = self.keys.get(key)?;
        match &self.items.get(v)?.item {
            Item::Set { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Every key with a value, in key order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.keys.iter().filter_map(|(k, v)| match &self.items.get(v)?.item {
            Item::Set { value, .. } => Some((k.as_str(), value)),
            _ => None,
        })
    }
}

/// Items this node is spreading (rumor mongering), with how often each was
/// pushed and how many pushes found the receiver already knowing it.
#[derive(Debug, Default)]
pub(crate) struct Pushes {
    /// `(pushes, newest first)` -> item: the sending order.
    order: BTreeMap<(u32, core::cmp::Reverse<u64>), (u32, u64)>,
    /// item `(origin id, version)` -> `(pushes, order id, feedback)`.
    index: BTreeMap<(u32, u64), (u32, u64, u32)>,
    next: u64,
}

impl Pushes {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Starts spreading an item.
    pub(crate) fn start(&mut self, origin: u32, version: u64) {
        if self.index.contains_key(&(origin, version)) {
            return;
        }
        self.next += 1;
        self.index.insert((origin, version), (0, self.next, 0));
        self.order.insert((0, core::cmp::Reverse(self.next)), (origin, version));
    }

    /// Items in sending order: fewest pushes first, newest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.order.values().copied()
    }

    /// Stops spreading an item.
    pub(crate) fn stop(&mut self, origin: u32, version: u64) {
        if let Some((pushes, id, _)) = self.index.remove(&(origin, version)) {
            self.order.remove(&(pushes, core::cmp::Reverse(id)));
        }
    }

    /// Counts one push; returns the pushes so far.
    pub(crate) fn pushed(&mut self, origin: u32, version: u64) -> u32 {
        let Some(slot) = self.index.get_mut(&(origin, version)) else { return 0 };
        let (pushes, id, _) = *slot;
        self.order.remove(&(pushes, core::cmp::Reverse(id)));
        slot.0 = pushes + 1;
        self.order.insert((pushes + 1, core::cmp::Reverse(id)), (origin, version));
        pushes + 1
    }

    /// Counts one push that found the receiver knowing the item; returns
    /// how many did so far.
    pub(crate) fn known(&mut self, origin: u32, version: u64) -> u32 {
        match self.index.get_mut(&(origin, version)) {
            Some(slot) => {
                slot.2 += 1;
                slot.2
            }
            None => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, value: &str) -> Item {
        Item::Set { key: key.into(), value: Value::Text(value.into()) }
    }

    fn at(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn newer_writes_win_and_the_watermark_follows_contiguous_versions() {
        let mut s = Stream::default();
        let mut out = Vec::new();
        s.apply(2, set("a", "2"), at(0), &mut out);
        assert_eq!(s.watermark, 0, "version 1 is still missing");
        s.apply(1, set("a", "1"), at(0), &mut out);
        assert_eq!(s.get("a"), Some(&Value::Text("2".into())), "the older write lost");
        assert_eq!(s.watermark, 0, "1 was superseded, not held: only a delta vouches for it");
        s.covered(0, 2);
        assert_eq!(s.watermark, 2);
        s.apply(3, Item::Delete { key: "a".into() }, at(0), &mut out);
        assert_eq!(s.get("a"), None);
        assert_eq!(s.watermark, 3);
        assert_eq!(
            out,
            [
                Change::Key { key: "a".into(), value: Some(Value::Text("2".into())), version: 2 },
                Change::Key { key: "a".into(), value: None, version: 3 },
            ]
        );
    }

    #[test]
    fn rumors_are_delivered_once() {
        let mut s = Stream::default();
        let mut out = Vec::new();
        let r = Item::Rumor { payload: b"hi".to_vec() };
        s.apply(1, r.clone(), at(0), &mut out);
        s.apply(1, r.clone(), at(0), &mut out);
        s.collect(at(100));
        assert!(s.items.is_empty() && s.collected == 1);
        s.apply(1, r, at(0), &mut out);
        assert_eq!(out.len(), 1, "neither a duplicate nor a collected rumor is delivered again");
    }

    #[test]
    fn tombstones_are_collected_after_the_grace_and_sets_never() {
        let mut s = Stream::default();
        let mut out = Vec::new();
        s.apply(1, set("a", "x"), at(0), &mut out);
        s.apply(2, set("b", "y"), at(0), &mut out);
        s.apply(3, Item::Delete { key: "b".into() }, at(5), &mut out);
        s.collect(at(5));
        assert_eq!(s.items.len(), 2, "the tombstone is younger than the horizon");
        s.collect(at(6));
        assert_eq!((s.items.len(), s.collected), (1, 3));
        assert_eq!(s.entries().collect::<Vec<_>>(), [("a", &Value::Text("x".into()))]);
    }

    #[test]
    fn clear_drops_an_earlier_life() {
        let mut s = Stream::default();
        let mut out = Vec::new();
        s.apply(1, set("a", "x"), at(0), &mut out);
        out.clear();
        s.apply(5, Item::Clear, at(0), &mut out);
        assert_eq!(out, [Change::Key { key: "a".into(), value: None, version: 5 }]);
        assert_eq!((s.watermark, s.collected), (5, 4));
        s.apply(3, set("late", "old life"), at(0), &mut out);
        assert_eq!(s.get("late"), None, "an item of the earlier life is ignored");
    }

    #[test]
    fn pushes_come_out_fewest_first() {
        let mut p = Pushes::default();
        p.start(1, 1);
        p.start(1, 2);
        assert_eq!(p.iter().collect::<Vec<_>>(), [(1, 2), (1, 1)]);
        assert_eq!(p.pushed(1, 2), 1);
        assert_eq!(p.iter().collect::<Vec<_>>(), [(1, 1), (1, 2)]);
        assert_eq!(p.known(1, 1), 1);
        p.stop(1, 1);
        assert_eq!(p.len(), 1);
    }
}

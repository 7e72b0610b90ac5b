//! Replicated per-member state and user rumors, kept as Scuttlebutt keeps
//! them: each member owns a log of items (`Set`, `Delete`, `Rumor`)
//! numbered by its own version counter, and every member holds, for every
//! other, the items of its log that still matter.
//!
//! A log belongs to one life of its member, its `generation` (a number
//! that grows each time the member starts): items of an earlier life are
//! ignored, and news of a later life replaces the log.
//!
//! A log's `watermark` is a promise: every item up to that version that
//! is still current is here. Items of a lower version may be missing only
//! because they were superseded (a later `Set` of the same key) or
//! collected (tombstones and delivered rumors, after `state_gc_grace`), so
//! anti-entropy only ever needs to send what lies above a peer's watermark.
//! A peer whose watermark is below what we collected cannot tell whether
//! it missed a tombstone: it is sent the whole current log, and drops
//! whatever it holds in the range that log covers but does not list.

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

/// What applying items changed, for the events the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    /// `key` now holds `value` (`None`: deleted), as of item `version`.
    Key { key: String, value: Option<Value>, version: u64 },
    /// A rumor to deliver.
    Rumor { version: u64, payload: Vec<u8> },
}

/// One member's log as this node holds it.
#[derive(Debug, Default, Clone)]
pub(crate) struct ItemLog {
    /// The life of the member this log is from.
    pub(crate) generation: u64,
    /// Every current item up to this version is in `items`.
    pub(crate) watermark: u64,
    /// Items up to this version may have been collected here.
    pub(crate) collected: u64,
    /// Held items by version: current `Set`s, tombstones and rumors not
    /// collected yet, and items above the watermark that arrived out of
    /// order.
    pub(crate) items: BTreeMap<u64, Held>,
    /// The version of the item that last wrote each key (`Set` or
    /// `Delete`).
    pub(crate) keys: BTreeMap<String, u64>,
}

impl ItemLog {
    /// Whether item `version` is already known (held, superseded or
    /// collected).
    pub(crate) fn knows(&self, version: u64) -> bool {
        version <= self.watermark || self.items.contains_key(&version)
    }

    /// Applies item `version`, received at `now`; reports what changed
    /// (nothing if it was known or superseded). Advances the watermark
    /// over any run of consecutive versions now held.
    pub(crate) fn apply(&mut self, version: u64, item: Item, now: Duration, out: &mut Vec<Change>) {
        if version == 0 || self.knows(version) {
            return;
        }
        match &item {
            Item::Set { key, .. } | Item::Delete { key } => {
                let mut had_value = false;
                match self.keys.get(key) {
                    // Superseded. The watermark moves past it once a delta
                    // vouches for the range.
                    Some(&v) if v > version => return,
                    Some(&v) => {
                        had_value = matches!(
                            self.items.remove(&v),
                            Some(Held { item: Item::Set { .. }, .. })
                        );
                    }
                    None => {}
                }
                self.keys.insert(key.clone(), version);
                match &item {
                    Item::Set { key, value } => out.push(Change::Key {
                        key: key.clone(),
                        value: Some(value.clone()),
                        version,
                    }),
                    Item::Delete { key } if had_value => {
                        out.push(Change::Key { key: key.clone(), value: None, version })
                    }
                    _ => {}
                }
            }
            Item::Rumor { payload } => {
                out.push(Change::Rumor { version, payload: payload.clone() });
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

    /// A delta whose items were `present` (sorted) arrived and was applied:
    /// it vouches for `(from, through]`, the sender's current items in that
    /// range. If it joins up with our watermark, whatever we hold in the
    /// range and it did not list is no longer current (superseded, or a
    /// tombstone or rumor the sender collected): dropped, a key reported
    /// deleted. A delta from 0 (we were behind what the sender collected)
    /// also acknowledges the sender's `collected`, as far as it reached, so
    /// the next sync goes on from our watermark instead of starting over.
    pub(crate) fn covered(
        &mut self,
        from: u64,
        through: u64,
        collected: u64,
        present: &[u64],
        out: &mut Vec<Change>,
    ) {
        if from > self.watermark {
            return;
        }
        let stale: Vec<u64> = self
            .items
            .range(from + 1..=through)
            .map(|(v, _)| *v)
            .filter(|v| present.binary_search(v).is_err())
            .collect();
        for v in stale {
            let Some(held) = self.items.remove(&v) else { continue };
            let was_set = matches!(held.item, Item::Set { .. });
            if let Item::Set { key, .. } | Item::Delete { key } = held.item {
                if self.keys.get(&key) == Some(&v) {
                    self.keys.remove(&key);
                    if was_set {
                        out.push(Change::Key { key, value: None, version: through });
                    }
                }
            }
        }
        if from == 0 {
            // Clean up to `through` against the sender's log: a later
            // sync may go on from there only if that covers its horizon.
            self.collected = self.collected.max(collected.min(through));
        }
        if through > self.watermark {
            self.watermark = through;
            self.advance();
        }
    }

    /// Whether an item is held above the watermark: one below it is
    /// missing (or was superseded, until a delta vouches for the range).
    pub(crate) fn has_hole(&self) -> bool {
        self.items.range(self.watermark + 1..).next().is_some()
    }

    /// The items held above version `after` and above the watermark
    /// (arrived out of order: a version below them is still missing here),
    /// in runs of consecutive versions, `(first, last)` each.
    ///
    /// The watermark alone does not tell a peer about them, yet a peer may
    /// lack exactly these: anti-entropy sends each run as a delta of its
    /// own, which vouches for exactly the versions it lists. O(items held
    /// above the watermark): none once a log has caught up, a few hundred
    /// at most while a burst is in flight.
    pub(crate) fn runs_above(&self, after: u64) -> Vec<(u64, u64)> {
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for &v in self.items.range(after.max(self.watermark) + 1..).map(|(v, _)| v) {
            match runs.last_mut() {
                Some((_, last)) if *last + 1 == v => *last = v,
                _ => runs.push((v, v)),
            }
        }
        runs
    }

    /// Empties the log for life `generation` of its member, reporting
    /// the keys that disappear.
    pub(crate) fn restart(&mut self, generation: u64, out: &mut Vec<Change>) {
        for (key, v) in core::mem::take(&mut self.keys) {
            if matches!(self.items.get(&v), Some(Held { item: Item::Set { .. }, .. })) {
                out.push(Change::Key { key, value: None, version: 0 });
            }
        }
        *self = ItemLog { generation, ..ItemLog::default() };
    }

    /// Collects tombstones and rumors at or below the watermark that
    /// arrived before `horizon`.
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
        let mut s = ItemLog::default();
        let mut out = Vec::new();
        s.apply(2, set("a", "2"), at(0), &mut out);
        assert_eq!(s.watermark, 0, "version 1 is still missing");
        s.apply(1, set("a", "1"), at(0), &mut out);
        assert_eq!(s.get("a"), Some(&Value::Text("2".into())), "the older write lost");
        assert_eq!(s.watermark, 0, "1 was superseded, not held: only a delta vouches for it");
        s.covered(0, 2, 0, &[2], &mut out);
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
        let mut s = ItemLog::default();
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
        let mut s = ItemLog::default();
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
    fn deleting_twice_reports_one_deletion() {
        let mut s = ItemLog::default();
        let mut out = Vec::new();
        s.apply(1, set("a", "x"), at(0), &mut out);
        s.apply(2, Item::Delete { key: "a".into() }, at(0), &mut out);
        s.apply(3, Item::Delete { key: "a".into() }, at(0), &mut out);
        assert_eq!(out.iter().filter(|c| matches!(c, Change::Key { value: None, .. })).count(), 1);
    }

    #[test]
    fn a_whole_log_delta_drops_what_it_does_not_list() {
        let mut s = ItemLog::default();
        let mut out = Vec::new();
        s.apply(1, set("gone", "x"), at(0), &mut out);
        s.apply(2, set("kept", "y"), at(0), &mut out);
        s.apply(3, Item::Rumor { payload: vec![1] }, at(0), &mut out);
        out.clear();
        // The sender deleted "gone" at 4 and collected that tombstone and
        // the rumor; its whole log is "kept"@2 and "new"@5.
        s.apply(5, set("new", "z"), at(1), &mut out);
        s.covered(0, 5, 4, &[2, 5], &mut out);
        assert_eq!(s.get("gone"), None);
        assert_eq!(s.get("kept"), Some(&Value::Text("y".into())));
        assert_eq!((s.watermark, s.collected), (5, 4));
        let deleted: Vec<&Change> =
            out.iter().filter(|c| matches!(c, Change::Key { value: None, .. })).collect();
        assert_eq!(deleted.len(), 1, "only the deleted key is reported: {out:?}");
        s.apply(3, Item::Rumor { payload: vec![1] }, at(0), &mut out);
        assert!(!out.iter().any(|c| matches!(c, Change::Rumor { .. })), "never delivered again");
    }

    #[test]
    fn items_held_above_the_watermark_come_in_runs() {
        let mut s = ItemLog::default();
        let mut out = Vec::new();
        for v in [1, 2, 4, 5, 6, 9] {
            s.apply(v, Item::Rumor { payload: vec![1] }, at(0), &mut out);
        }
        assert_eq!(s.watermark, 2);
        assert_eq!(s.runs_above(0), [(4, 6), (9, 9)]);
        assert_eq!(s.runs_above(4), [(5, 6), (9, 9)], "only above the peer's watermark");
        assert_eq!(s.runs_above(9), []);
    }

    #[test]
    fn a_new_life_empties_the_log() {
        let mut s = ItemLog { generation: 1, ..ItemLog::default() };
        let mut out = Vec::new();
        s.apply(1, set("a", "x"), at(0), &mut out);
        out.clear();
        s.restart(2, &mut out);
        assert_eq!(out, [Change::Key { key: "a".into(), value: None, version: 0 }]);
        assert_eq!((s.generation, s.watermark, s.items.len()), (2, 0, 0));
    }
}

//! The member table: every member a node knows, by dense id.
//!
//! Ids are handed out in the order members are learned and never reused, so
//! walking the ids is a deterministic order and random picks are O(1).
//!
//! A table can start from a [`Snapshot`] shared by many engines (a cluster
//! that starts out converged, in the simulator). Its entries are read
//! through the `Arc` and copied into the table only when they change here,
//! so a thousand engines holding the same view of a thousand members keep
//! one copy of it, not a thousand.

use super::member::Member;
#[cfg(doc)]
use super::member::MemberState;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

/// Index of a member in a [`Table`].
pub(crate) type Id = u32;

/// A hash map with fixed keys (SipHash with zero keys): lookups never depend
/// on a random seed, so runs are reproducible.
pub(crate) type FixedHashMap<K, V> =
    std::collections::HashMap<K, V, core::hash::BuildHasherDefault<std::hash::DefaultHasher>>;

/// A member table entry: the member plus bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) member: Member,
    /// Who raised the suspicion or declared the death we hold.
    pub(crate) accuser: String,
}

/// A membership view shared, read-only, by the engines built on it with
/// [`Engine::with_snapshot`](super::Engine::with_snapshot): each starts out
/// knowing these members without a join, and stores only what changes in
/// its own view afterwards.
#[derive(Debug, Default)]
pub struct Snapshot {
    entries: Vec<Entry>,
    index: FixedHashMap<Box<str>, Id>,
    /// Members by state, indexed like [`MemberState`].
    counts: [usize; 4],
    /// Ids in name order.
    sorted: Vec<Id>,
}

impl Snapshot {
    /// A view holding `members`. A name given twice keeps its first entry.
    pub fn new(members: impl IntoIterator<Item = Member>) -> Arc<Snapshot> {
        let mut s = Snapshot::default();
        for member in members {
            if s.index.contains_key(member.name.as_str()) {
                continue;
            }
            s.index.insert(member.name.as_str().into(), s.entries.len() as Id);
            s.counts[member.state as usize] += 1;
            s.entries.push(Entry { member, accuser: String::new() });
        }
        let mut sorted: Vec<Id> = (0..s.entries.len() as Id).collect();
        sorted.sort_unstable_by(|&a, &b| {
            s.entries[a as usize].member.name.cmp(&s.entries[b as usize].member.name)
        });
        s.sorted = sorted;
        Arc::new(s)
    }

    /// Number of members in the view.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the view is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// One member by name.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.index.get(name).map(|&id| &self.entries[id as usize].member)
    }
}

/// Every member one engine knows. Ids below `base.len()` are the snapshot's;
/// the others were learned here.
#[derive(Debug, Default)]
pub(crate) struct Table {
    base: Arc<Snapshot>,
    /// Snapshot entries that changed here.
    changed: FixedHashMap<Id, Entry>,
    /// Entries of the members learned here, from id `base.len()` on.
    own: Vec<Entry>,
    /// Names of the members learned here.
    index: FixedHashMap<Box<str>, Id>,
    /// Members removed from the table (reaped): their ids stay allocated,
    /// but no name leads to them and iteration skips them.
    reaped: alloc::collections::BTreeSet<Id>,
    /// The ids of `own` in name order (the snapshot keeps its own).
    own_sorted: Vec<Id>,
}

impl Table {
    pub(crate) fn with_base(base: Arc<Snapshot>) -> Table {
        Table { base, ..Table::default() }
    }

    /// Members of the snapshot by state, indexed like [`MemberState`].
    pub(crate) fn base_counts(&self) -> [usize; 4] {
        self.base.counts
    }

    /// Number of members, this node included.
    pub(crate) fn len(&self) -> usize {
        self.base.entries.len() + self.own.len()
    }

    pub(crate) fn id(&self, name: &str) -> Option<Id> {
        let live = |id: &&Id| !self.reaped.contains(*id);
        self.base
            .index
            .get(name)
            .filter(live)
            .or_else(|| self.index.get(name).filter(live))
            .copied()
    }

    /// Removes member `id`: its name is free again (a member coming back
    /// under it gets a new id) and iteration no longer shows it.
    pub(crate) fn reap(&mut self, id: Id) {
        if let Some(e) = self.get(id) {
            let name = e.member.name.clone();
            if self.index.get(name.as_str()) == Some(&id) {
                self.index.remove(name.as_str());
            }
        }
        self.reaped.insert(id);
    }

    /// Whether member `id` was reaped.
    pub(crate) fn is_reaped(&self, id: Id) -> bool {
        !self.reaped.is_empty() && self.reaped.contains(&id)
    }

    pub(crate) fn get(&self, id: Id) -> Option<&Entry> {
        let i = id as usize;
        let b = self.base.entries.len();
        if i < b {
            if !self.changed.is_empty() {
                if let Some(e) = self.changed.get(&id) {
                    return Some(e);
                }
            }
            Some(&self.base.entries[i])
        } else {
            self.own.get(i - b)
        }
    }

    /// The entry of `id` for writing; a snapshot entry is copied first.
    /// Read with [`Table::get`] unless a change is certain.
    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut Entry> {
        let i = id as usize;
        let b = self.base.entries.len();
        if i < b {
            let base = &self.base;
            Some(self.changed.entry(id).or_insert_with(|| base.entries[i].clone()))
        } else {
            self.own.get_mut(i - b)
        }
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&Entry> {
        self.get(self.id(name)?)
    }

    /// Adds a member not in the table; returns its id.
    pub(crate) fn insert(&mut self, entry: Entry) -> Id {
        let id = self.len() as Id;
        let at = self.own_sorted.partition_point(|&o| self.name_of(o) < entry.member.name.as_str());
        self.index.insert(entry.member.name.as_str().into(), id);
        self.own.push(entry);
        self.own_sorted.insert(at, id);
        id
    }

    fn name_of(&self, id: Id) -> &str {
        self.get(id).map_or("", |e| e.member.name.as_str())
    }

    /// The ids (not reaped) whose names are in `(after, upto]`, in name
    /// order; no bound means an open end. Costs a binary search plus the
    /// ids returned, not a scan of the table.
    pub(crate) fn names_in(&self, after: Option<&str>, upto: Option<&str>) -> Vec<Id> {
        let range = |ids: &[Id]| -> (usize, usize) {
            let lo = after.map_or(0, |a| ids.partition_point(|&i| self.name_of(i) <= a));
            let hi = upto.map_or(ids.len(), |u| ids.partition_point(|&i| self.name_of(i) <= u));
            (lo, hi.max(lo))
        };
        let (blo, bhi) = range(&self.base.sorted);
        let (olo, ohi) = range(&self.own_sorted);
        let (mut a, mut b) = (
            self.base.sorted[blo..bhi].iter().peekable(),
            self.own_sorted[olo..ohi].iter().peekable(),
        );
        let mut out = Vec::with_capacity((bhi - blo) + (ohi - olo));
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(&&x), Some(&&y)) => {
                    if self.name_of(x) <= self.name_of(y) {
                        a.next();
                        x
                    } else {
                        b.next();
                        y
                    }
                }
                (Some(&&x), None) => {
                    a.next();
                    x
                }
                (None, Some(&&y)) => {
                    b.next();
                    y
                }
                (None, None) => break,
            };
            if !self.is_reaped(next) {
                out.push(next);
            }
        }
        out
    }

    /// Every entry not reaped, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Id, &Entry)> {
        (0..self.len() as Id)
            .filter(move |&id| !self.is_reaped(id))
            .filter_map(move |id| self.get(id).map(|e| (id, e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str) -> Member {
        Member::new(name, "127.0.0.1:1".parse().unwrap())
    }

    #[test]
    fn names_in_merges_snapshot_and_own_members_in_name_order() {
        let base = Snapshot::new(["d", "b", "f"].map(member));
        let mut t = Table::with_base(base);
        for n in ["e", "a", "c"] {
            t.insert(Entry { member: member(n), accuser: String::new() });
        }
        fn names(t: &Table, after: Option<&str>, upto: Option<&str>) -> Vec<String> {
            let ids = t.names_in(after, upto);
            ids.iter().map(|&i| t.get(i).unwrap().member.name.clone()).collect()
        }
        assert_eq!(names(&t, None, None), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(names(&t, Some("b"), Some("e")), ["c", "d", "e"]);
        assert_eq!(names(&t, Some("f"), None), Vec::<String>::new());
        assert_eq!(names(&t, None, Some("")), Vec::<String>::new());
        let d = t.id("d").unwrap();
        t.reap(d);
        assert_eq!(names(&t, Some("b"), Some("e")), ["c", "e"]);
    }
}

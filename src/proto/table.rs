//! The member table: every member a node knows, by dense id.
//!
//! Ids are handed out in the order members are learned. A reaped member's
//! id goes to a free list and is handed out again to the next member
//! learned, so churn through new names keeps the table as large as the
//! most members known at once, not every member ever known. Walking the
//! ids is a deterministic order and random picks are O(1). Whoever keys
//! state by [`Id`] clears it when the member is reaped (see
//! `Engine::reap`), since the id may name another member next.
//!
//! An entry is compact (see [`Entry`]): what is the same in every view of a
//! member (name, address, metadata) is an [`Ident`] interned in [`Names`],
//! which the engines of one process (the simulator, a process hosting many
//! nodes) can share, so they pay for it once.
//!
//! A table can start from a [`Snapshot`] shared by many engines (a cluster
//! that starts out converged, in the simulator). Its entries are read
//! through the `Arc` and copied into the table only when they change here,
//! so a thousand engines holding the same view of a thousand members keep
//! one copy of it, not a thousand.

use super::member::{Member, MemberState};
use crate::codec::{fmix64, fnv1a, FNV_OFFSET};
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use smol_str::SmolStr;

/// Index of a member in a [`Table`].
pub(crate) type Id = u32;

/// A hash map with fixed keys (SipHash with zero keys): lookups never depend
/// on a random seed, so runs are reproducible.
pub(crate) type FixedHashMap<K, V> =
    std::collections::HashMap<K, V, core::hash::BuildHasherDefault<std::hash::DefaultHasher>>;

/// The hasher of [`Names`]' map: FNV-1a 64 finished with MurmurHash3's
/// `fmix64`, so every byte of the name reaches the low bits that pick its
/// bucket. Fixed like [`FixedHashMap`]'s SipHash with zero
/// keys (and, like it, no defence against names chosen to collide), and
/// several times cheaper for a short name: every member a view learns is
/// looked up here (10⁸ lookups in a 10,000-member mass join). Nothing
/// iterates the map in an order anyone sees, so the hash never shows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> Self {
        NameHasher(FNV_OFFSET)
    }
}

impl core::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = fnv1a(self.0, bytes);
    }

    fn finish(&self) -> u64 {
        fmix64(self.0)
    }
}

/// A map keyed by names, hashed with [`NameHasher`].
type NameMap<V> = std::collections::HashMap<SmolStr, V, core::hash::BuildHasherDefault<NameHasher>>;

/// A name's number in its [`Names`]: dense, so a table finds a member's id
/// at `ids[number]`, and reused once no engine holds the name any more.
pub(crate) type NameNo = u32;

/// What every view of one life of a member agrees on: its name, address and
/// metadata. Interned in [`Names`], so the entries of all the engines
/// sharing one point at the same copy.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ident {
    pub(crate) name: SmolStr,
    pub(crate) addr: SocketAddr,
    pub(crate) meta: Box<[u8]>,
    /// The name's part of its summary hash term
    /// ([`crate::codec::summary_name_prefix`]), worked out once here rather
    /// than in every table walk.
    pub(crate) summary_prefix: u64,
    /// The name's [`name_key`], worked out once here: sorting a table's
    /// members by name reads it, not the name's bytes (one cache miss
    /// less per member, 10⁸ of them after a 10,000-node simulated join).
    order_key: u64,
    /// The name's number: the same for every ident of one name, and kept
    /// while any ident of it is held.
    pub(crate) num: NameNo,
}

/// Names, addresses and metadata interned once for every engine that shares
/// this: pass one to [`Engine::with_names`](super::Engine::with_names) (the
/// simulator shares one between all its engines; a process hosting many
/// nodes may too). Sharing never changes what an engine does, only where
/// the bytes live. Safe to share between threads: it is locked briefly
/// when an engine looks a name up.
///
/// Each name held has a number, so a member table finds a member at
/// `ids[number]` rather than in a hash index of its own: the one hash
/// lookup per claim received is here, for a whole datagram at once, and a
/// table spends 4 bytes per name instead of a 16-byte hash slot.
#[derive(Debug, Default)]
pub struct Names {
    inner: std::sync::Mutex<Interned>,
}

#[derive(Debug, Default)]
struct Interned {
    /// Each name's number.
    by_name: NameMap<NameNo>,
    /// What is held under each number (a free number's has no name).
    held: Vec<Held>,
    /// Numbers free for the next new name (last freed first).
    free: Vec<NameNo>,
    /// Idents held, and the count at which unused ones are swept next.
    idents: usize,
    sweep_at: usize,
    /// The numbers of the names held, in name order, sorted when first
    /// asked for since a number was last handed out ([`Names::order`]).
    order: Option<Arc<[NameNo]>>,
}

/// What [`Names`] holds under one number.
#[derive(Debug, Default)]
struct Held {
    /// The name (`None`: the number is free).
    name: Option<SmolStr>,
    /// Its idents: usually one; more while members change address or
    /// metadata.
    idents: Vec<Arc<Ident>>,
    /// The name as tables hold an accuser: one thin pointer (8 bytes, not
    /// the 24 of the name itself), shared.
    accuser: Option<Accuser>,
}

/// An interned name held as an accuser: a thin pointer to the shared name,
/// so an [`Entry`] spends 8 bytes on it rather than the name's 24.
pub(crate) type Accuser = Arc<SmolStr>;

impl Names {
    /// An empty interner, to share between engines.
    pub fn new() -> Arc<Names> {
        Arc::default()
    }

    /// Number of names held (a gauge for tests and benchmarks).
    pub fn len(&self) -> usize {
        self.lock().by_name.len()
    }

    /// Whether no name is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Interned> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The number of `name`, if it is held.
    pub(crate) fn number(&self, name: &str) -> Option<NameNo> {
        self.lock().by_name.get(name).copied()
    }

    /// The numbers of `names` (`None`: not held), in order, appended to
    /// `out`, under one lock. Reading each name's first ident brings into
    /// the cache what [`Names::ident_numbered`] reads next: done for a
    /// whole datagram's claims at once, the cache misses overlap instead of
    /// following one another (see [`Table::prefetch`]).
    pub(crate) fn numbers<'a>(
        &self,
        names: impl Iterator<Item = &'a str>,
        out: &mut Vec<Option<NameNo>>,
    ) {
        let i = self.lock();
        out.extend(names.map(|name| {
            let num = *i.by_name.get(name)?;
            let held = &i.held[num as usize];
            core::hint::black_box(held.idents.first().map(|d| d.addr));
            Some(num)
        }));
    }

    /// The numbers of every name held, in name order (as [`name_key`] and
    /// then the names' bytes order them). Sorted once per batch of new
    /// names and shared: a table that holds most of these names puts its
    /// members in name order by walking this, in O(names) and with no
    /// name read, instead of sorting them itself (a mass join of 10,000
    /// simulated members sorted the same 10,000 names 10,000 times: a
    /// third of its CPU in the second after it). A number freed since is
    /// in it harmlessly (no table maps it); a number handed out since is
    /// not, so handing one out drops it.
    pub(crate) fn order(&self) -> Arc<[NameNo]> {
        let mut i = self.lock();
        let i = &mut *i;
        let held = &i.held;
        i.order
            .get_or_insert_with(|| {
                let mut keyed: Vec<(u64, NameNo)> = held
                    .iter()
                    .enumerate()
                    .filter_map(|(num, h)| {
                        let name = h.name.as_deref()?;
                        Some((name_key(name), num as NameNo))
                    })
                    .collect();
                let name = |num: NameNo| held[num as usize].name.as_deref().unwrap_or("");
                keyed
                    .sort_unstable_by(|&(ka, a), &(kb, b)| by_name(ka, || name(a), kb, || name(b)));
                keyed.into_iter().map(|(_, num)| num).collect()
            })
            .clone()
    }

    /// The shared copy of `name`, as entries hold an accuser.
    pub(crate) fn accuser(&self, name: &str) -> Accuser {
        let mut i = self.lock();
        let num = i.number_of(name);
        let held = &mut i.held[num as usize];
        let key = held.name.as_ref().expect("a held number has its name");
        held.accuser.get_or_insert_with(|| Arc::new(key.clone())).clone()
    }

    /// The shared ident of `name` at `addr` with `meta`.
    pub(crate) fn ident(&self, name: &str, addr: SocketAddr, meta: &[u8]) -> Arc<Ident> {
        let mut i = self.lock();
        let num = i.number_of(name);
        i.ident_at(num, addr, meta)
    }

    /// [`Names::ident`], given the name's number if [`Table::find`] just
    /// gave one (saves looking the name up again).
    pub(crate) fn interned(
        &self,
        num: Option<NameNo>,
        name: &str,
        addr: SocketAddr,
        meta: &[u8],
    ) -> Arc<Ident> {
        match num {
            Some(num) => self.ident_numbered(num, name, addr, meta),
            None => self.ident(name, addr, meta),
        }
    }

    /// [`Names::ident`] for a name looked up as `num` a moment ago
    /// ([`Names::number`]): no second hash lookup, unless the number was
    /// freed since (nothing held the name) and maybe given to another.
    fn ident_numbered(&self, num: NameNo, name: &str, addr: SocketAddr, meta: &[u8]) -> Arc<Ident> {
        let mut i = self.lock();
        let same = i.held.get(num as usize).and_then(|h| h.name.as_deref()) == Some(name);
        let num = if same { num } else { i.number_of(name) };
        i.ident_at(num, addr, meta)
    }
}

impl Interned {
    /// The number of `name`, given one if it has none.
    fn number_of(&mut self, name: &str) -> NameNo {
        if let Some(&num) = self.by_name.get(name) {
            return num;
        }
        self.sweep();
        let key = SmolStr::new(name);
        let num = match self.free.pop() {
            Some(num) => num,
            None => {
                self.held.push(Held::default());
                NameNo::try_from(self.held.len() - 1).expect("fewer than 2³² names held")
            }
        };
        self.held[num as usize].name = Some(key.clone());
        self.by_name.insert(key, num);
        self.order = None;
        num
    }

    /// The ident of number `num` (held) at `addr` with `meta`.
    fn ident_at(&mut self, num: NameNo, addr: SocketAddr, meta: &[u8]) -> Arc<Ident> {
        let held = &mut self.held[num as usize];
        // Metadata is most often empty: its length is checked first.
        let same = |d: &&Arc<Ident>| {
            d.addr == addr && d.meta.len() == meta.len() && (meta.is_empty() || *d.meta == *meta)
        };
        if let Some(id) = held.idents.iter().find(same) {
            return id.clone();
        }
        let name = held.name.clone().expect("a held number has its name");
        let summary_prefix = crate::codec::summary_name_prefix(&name);
        let order_key = name_key(&name);
        let ident =
            Arc::new(Ident { name, addr, meta: meta.into(), summary_prefix, order_key, num });
        held.idents.push(ident.clone());
        self.idents += 1;
        if self.idents >= self.sweep_at {
            self.sweep();
        }
        ident
    }

    /// Drops what no engine holds any more, once the table has doubled
    /// since the last sweep: amortized O(1) per name interned, and names
    /// churned through do not pile up. A name's number is freed with it:
    /// no table maps it then, since every table entry holds its ident.
    /// Order does not matter here.
    fn sweep(&mut self) {
        if self.idents + self.by_name.len() < self.sweep_at {
            return;
        }
        let mut idents = 0;
        let (held, free) = (&mut self.held, &mut self.free);
        self.by_name.retain(|_, &mut num| {
            let h = &mut held[num as usize];
            // Held only here: no engine's entry holds it any more.
            h.idents.retain(|d| Arc::strong_count(d) > 1);
            if h.accuser.as_ref().is_some_and(|a| Arc::strong_count(a) == 1) {
                h.accuser = None;
            }
            idents += h.idents.len();
            let keep = !h.idents.is_empty() || h.accuser.is_some();
            if !keep {
                *h = Held::default();
                free.push(num);
            }
            keep
        });
        self.idents = idents;
        self.sweep_at = 2 * (idents + self.by_name.len()).max(512);
    }
}

/// A member table entry: 24 bytes on 64-bit targets (checked by a test),
/// with the name, address and metadata behind one shared pointer. Who
/// accused a suspect or dead member is kept beside, in the table
/// ([`Table::accuser`]): few entries have one, and 8 bytes more in each
/// were 0.8 GB of the 10⁸ entries of 10,000 simulated views. Read the
/// public [`Member`] with [`Entry::to_member`].
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) ident: Arc<Ident>,
    pub(crate) incarnation: u64,
    /// Local time of the last state change in nanoseconds (the low 61
    /// bits: 73 years, saturating), the state (2 bits, [`MemberState`]
    /// order) and whether the entry was reaped (the top bit), in one word:
    /// a separate state byte and reaped flag would pad the entry by 8
    /// bytes, 0.8 GB of the 10⁸ entries of 10,000 simulated views.
    packed: u64,
}

/// Where [`Entry::packed`] keeps the state: bits 61 and 62.
const STATE_SHIFT: u32 = 61;
/// [`Entry::packed`]'s reaped bit.
const REAPED: u64 = 1 << 63;
/// [`Entry::packed`]'s time bits.
const SINCE_MASK: u64 = (1 << STATE_SHIFT) - 1;

impl Entry {
    /// An entry for `member`, interned in `names`.
    pub(crate) fn new(names: &Names, member: &Member) -> Entry {
        let ident = names.ident(&member.name, member.addr, &member.meta);
        let mut e = Entry::alive(ident, member.incarnation, member.since);
        e.set_state(member.state);
        e
    }

    /// An entry for a member alive at `incarnation` since `now`, named,
    /// placed and described by `ident`: what an Alive claim about a member
    /// not known yet becomes, without building a [`Member`] first (a mass
    /// join learns 10⁸ of them).
    pub(crate) fn alive(ident: Arc<Ident>, incarnation: u64, now: Duration) -> Entry {
        let mut e = Entry { ident, incarnation, packed: 0 };
        e.set_since(now);
        e.set_state(MemberState::Alive);
        e
    }

    pub(crate) fn name(&self) -> &str {
        &self.ident.name
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.ident.addr
    }

    pub(crate) fn meta(&self) -> &[u8] {
        &self.ident.meta
    }

    /// The member's state as held.
    pub(crate) fn state(&self) -> MemberState {
        MemberState::ALL[(self.packed >> STATE_SHIFT & 3) as usize]
    }

    pub(crate) fn set_state(&mut self, state: MemberState) {
        self.packed = self.packed & !(3 << STATE_SHIFT) | (state as u64) << STATE_SHIFT;
    }

    /// Reaped: the id is free (or given to another member since).
    fn reaped(&self) -> bool {
        self.packed & REAPED != 0
    }

    /// Local time of the last state change.
    pub(crate) fn since(&self) -> Duration {
        Duration::from_nanos(self.packed & SINCE_MASK)
    }

    pub(crate) fn set_since(&mut self, now: Duration) {
        self.packed = self.packed & !SINCE_MASK | nanos(now).min(SINCE_MASK);
    }

    /// The member as users see it (owned: built at the API boundary).
    pub(crate) fn to_member(&self) -> Member {
        Member {
            name: self.name().into(),
            addr: self.addr(),
            incarnation: self.incarnation,
            state: self.state(),
            meta: self.meta().to_vec(),
            since: self.since(),
        }
    }
}

/// The entry of `id` in a table's parts (a free function, so that it can
/// be read while other parts of the table change).
fn entry_of<'a>(
    base: &'a Snapshot,
    changed: &'a FixedHashMap<Id, Entry>,
    own: &'a Chunked<Entry>,
    id: Id,
) -> Option<&'a Entry> {
    let i = id as usize;
    let b = base.entries.len();
    if i < b {
        if !changed.is_empty() {
            if let Some(e) = changed.get(&id) {
                return Some(e);
            }
        }
        Some(&base.entries[i])
    } else {
        own.get(i - b)
    }
}

/// Entries of a table in chunks of [`CHUNK`]: a push moves at most the
/// first chunk. A `Vec` grown as members are learned copied the whole
/// table at each growth (by an eighth: 8× the final size copied, each copy
/// onto freshly faulted pages); that was a fifth of a 10,000-member mass
/// join's time. Here only the first chunk grows (doubling, so a small view
/// pays for what it holds), the others are allocated full size at once, so
/// slack is at most one chunk (6 KiB) per table, under 1 byte per member
/// entry at 10,000. Reading an entry costs one more load (the chunk
/// pointers: a few hundred bytes, in cache).
#[derive(Debug, Clone)]
pub(crate) struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

/// Entries per [`Chunked`] chunk (a power of two: 6 KiB of 24-byte entries).
const CHUNK: usize = 256;

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked { chunks: Vec::new(), len: 0 }
    }
}

impl<T> Chunked<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    pub(crate) fn push(&mut self, value: T) {
        if self.chunks.len() * CHUNK == self.len {
            // The first chunk starts small; later ones at full size.
            let cap = if self.chunks.is_empty() { 8 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(cap));
        }
        let last = self.chunks.last_mut().expect("a chunk with room");
        if last.len() == last.capacity() {
            last.reserve_exact(last.len().min(CHUNK - last.len()));
        }
        last.push(value);
        self.len += 1;
    }
}

/// The first 8 bytes of `name`, zero-padded, read big-endian: where two
/// keys differ, they order as the names do (a name that ends early is a
/// prefix of the other up to there, and its zero padding sorts first), so
/// only equal keys need the names compared.
fn name_key(name: &str) -> u64 {
    let mut key = [0u8; 8];
    let n = name.len().min(8);
    key[..n].copy_from_slice(&name.as_bytes()[..n]);
    u64::from_be_bytes(key)
}

/// The name order of two names given with their [`name_key`]s: by key,
/// then by the names' bytes, read only when the keys are equal. The one
/// rule for both ways a table gets its name order (its own sort and the
/// interner's shared order), which must agree exactly.
fn by_name<'a>(
    ka: u64,
    a: impl FnOnce() -> &'a str,
    kb: u64,
    b: impl FnOnce() -> &'a str,
) -> core::cmp::Ordering {
    ka.cmp(&kb).then_with(|| a().cmp(b()))
}

/// Nanoseconds, saturating (584 years).
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A membership view shared, read-only, by the engines built on it with
/// [`Engine::with_snapshot`](super::Engine::with_snapshot): each starts out
/// knowing these members without a join, and stores only what changes in
/// its own view afterwards. It carries the [`Names`] its engines share.
#[derive(Debug, Default)]
pub struct Snapshot {
    entries: Vec<Entry>,
    /// Ids by name number ([`Ident::num`]), [`EMPTY`] where none.
    ids: Vec<Id>,
    /// Members by state, indexed like [`MemberState`].
    counts: [usize; 4],
    /// Ids in name order.
    sorted: Vec<Id>,
    names: Arc<Names>,
}

impl Snapshot {
    /// A view holding `members`. A name given twice keeps its first entry.
    pub fn new(members: impl IntoIterator<Item = Member>) -> Arc<Snapshot> {
        Snapshot::with_names(Names::new(), members)
    }

    /// A view holding `members`, interned in `names`, which the engines
    /// built on it share.
    pub fn with_names(
        names: Arc<Names>,
        members: impl IntoIterator<Item = Member>,
    ) -> Arc<Snapshot> {
        let mut s = Snapshot { names, ..Snapshot::default() };
        for member in members {
            let entry = Entry::new(&s.names, &member);
            let num = entry.ident.num as usize;
            if s.ids.get(num).is_some_and(|&id| id != EMPTY) {
                continue;
            }
            let id = s.entries.len() as Id;
            s.entries.push(entry);
            s.counts[member.state as usize] += 1;
            place(&mut s.ids, num, id);
        }
        let mut sorted: Vec<Id> = (0..s.entries.len() as Id).collect();
        sorted.sort_unstable_by(|&a, &b| {
            s.entries[a as usize].name().cmp(s.entries[b as usize].name())
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
    pub fn member(&self, name: &str) -> Option<Member> {
        let id = *self.ids.get(self.names.number(name)? as usize)?;
        Some(self.entries.get(id as usize)?.to_member())
    }

    /// The interner the engines built on this view share.
    pub fn names(&self) -> &Arc<Names> {
        &self.names
    }
}

/// Every member one engine knows. Ids below `base.len()` are the snapshot's;
/// the others were learned here. Reaped ids of either kind are reused.
#[derive(Debug, Default)]
pub(crate) struct Table {
    base: Arc<Snapshot>,
    /// Snapshot slots that changed here (or were reaped, or reused).
    changed: FixedHashMap<Id, Entry>,
    /// Who raised the suspicion or declared the death held of a member
    /// (only those that have one: most entries do not).
    accusers: FixedHashMap<Id, Accuser>,
    /// Entries of the members learned here, from id `base.len()` on.
    own: Chunked<Entry>,
    /// Ids of the members learned here (and of reused snapshot slots) by
    /// name number ([`Ident::num`]), [`EMPTY`] where none: 4 bytes per
    /// name number up to the highest this table holds: about the names it
    /// holds when its engine has the interner to itself or shares it with
    /// engines of the same cluster (issue 16: a hash index of its own cost
    /// 16 bytes per member, and a cache miss per claim received on top of
    /// the interner's lookup).
    ids: Vec<Id>,
    /// Snapshot ids reaped here at least once: the snapshot's `ids` and
    /// name order no longer speak for them (if reused, `ids` and
    /// `own_sorted` do).
    base_gone: FixedHashMap<Id, ()>,
    /// Reaped ids, handed out again by [`Table::insert`] (last reaped
    /// first: deterministic).
    free: Vec<Id>,
    /// The ids in `ids`, in name order (the snapshot keeps its own),
    /// but for those in `own_pending`.
    own_sorted: Vec<Id>,
    /// Ids in `ids` learned since `own_sorted` was last merged, in no
    /// order: inserting each into `own_sorted` at once moved half of it
    /// per member learned, O(n²) per view for a mass join (issue 16: 10⁴
    /// members learning 10⁴ each). Merged by [`Table::order_names`]: before
    /// a sync lists the view by name, and by the engine's gossip round once
    /// they are twice as many as the sorted ones ([`Table::order_due`]) and
    /// no join link lives, so a member learned costs O(1) amortized. A
    /// merge reads the name of every id already sorted (a miss or three
    /// each): merged as they came in, a mass join's view read 1.5 names
    /// per member learned and sorted it in pieces, a tenth of the
    /// 10,000-node join's time; merged once after it, one. `names_in`
    /// sorts the pending ones it returns.
    own_pending: Vec<Id>,
    /// What entries held before they changed (see [`Journal`]): for the
    /// summary hash, kept up to date by anti_entropy.rs.
    journal: Journal<Was>,
}

impl Table {
    pub(crate) fn with_base(base: Arc<Snapshot>) -> Table {
        Table { base, ..Table::default() }
    }

    /// The interner this table's entries come from.
    pub(crate) fn names(&self) -> &Names {
        &self.base.names
    }

    /// Members of the snapshot by state, indexed like [`MemberState`].
    pub(crate) fn base_counts(&self) -> [usize; 4] {
        self.base.counts
    }

    /// Number of ids in use or free: every id is below it.
    pub(crate) fn len(&self) -> usize {
        self.base.entries.len() + self.own.len()
    }

    /// Number of reaped ids waiting to be reused.
    #[cfg(test)]
    pub(crate) fn free_ids(&self) -> usize {
        self.free.len()
    }

    /// The id of member `name`.
    pub(crate) fn id(&self, name: &str) -> Option<Id> {
        self.find(name).ok()
    }

    /// The id of member `name`, or else the name's number if it is
    /// interned (for [`Names::interned`]): one lookup in the interner per
    /// claim received, whether the member is known or not.
    pub(crate) fn find(&self, name: &str) -> Result<Id, Option<NameNo>> {
        if self.base.ids.is_empty() && self.ids.is_empty() {
            return Err(None); // nothing to find: the interner is not asked
        }
        let num = self.names().number(name).ok_or(None)?;
        self.id_numbered(num).ok_or(Some(num))
    }

    /// [`Table::find`] given the number `num` that [`Names::numbers`] gave
    /// `name` a moment ago. Should the number have been freed since and
    /// given to another name, the entry found under it says so, and the
    /// name is looked up afresh.
    pub(crate) fn find_numbered(&self, name: &str, num: NameNo) -> Result<Id, Option<NameNo>> {
        match self.id_numbered(num) {
            Some(id) if self.get(id).is_some_and(|e| e.name() == name) => Ok(id),
            Some(_) => self.find(name),
            None => Err(Some(num)),
        }
    }

    /// Reads, and so brings into the cache, where [`Table::find_numbered`]
    /// will look for number `num`: a plain read whose value nothing waits
    /// for (the crate forbids the `unsafe` of a prefetch intrinsic), so the
    /// processor goes on with the next while it loads. A table too large
    /// for the cache costs a miss per claim received (a mass join's 10⁸);
    /// read for a whole datagram first, they overlap.
    pub(crate) fn prefetch(&self, num: NameNo) {
        let n = num as usize;
        core::hint::black_box((self.base.ids.get(n).copied(), self.ids.get(n).copied()));
    }

    /// Reads, and so brings into the cache, entry `id`'s name (see
    /// [`Table::prefetch`]): a walk in id order meets each member's shared
    /// ident somewhere else in memory.
    pub(crate) fn read_ahead(&self, id: Id) {
        if let Some(e) = self.get(id) {
            core::hint::black_box(e.name().as_bytes().first().copied());
        }
    }

    /// The id of the member whose name has number `num`.
    pub(crate) fn id_numbered(&self, num: NameNo) -> Option<Id> {
        let n = num as usize;
        if let Some(&id) = self.base.ids.get(n).filter(|&&id| id != EMPTY) {
            if self.base_gone.is_empty() || !self.base_gone.contains_key(&id) {
                return Some(id);
            }
        }
        self.ids.get(n).copied().filter(|&id| id != EMPTY)
    }

    /// Removes member `id`: its name is free again (a member coming back
    /// under it gets an id anew), iteration no longer shows it, and its id
    /// goes to the free list. Whatever else is keyed by `id` must be
    /// cleared by the caller.
    pub(crate) fn reap(&mut self, id: Id) {
        if self.is_reaped(id) {
            return;
        }
        let Some(e) = self.get_mut(id) else { return };
        e.packed |= REAPED;
        let num = e.ident.num as usize;
        self.set_accuser(id, None);
        if (id as usize) < self.base.entries.len() {
            self.base_gone.insert(id, ());
        }
        if self.ids.get(num) == Some(&id) {
            self.ids[num] = EMPTY;
            // O(members) per reap, not per message: reaps are rare.
            if let Some(at) = self.own_sorted.iter().position(|&o| o == id) {
                self.own_sorted.remove(at);
            } else if let Some(at) = self.own_pending.iter().position(|&o| o == id) {
                self.own_pending.swap_remove(at);
            }
        }
        self.free.push(id);
    }

    /// The name of whoever accused member `id` (of the suspicion or death
    /// held), empty if none.
    pub(crate) fn accuser(&self, id: Id) -> &str {
        if self.accusers.is_empty() {
            return "";
        }
        self.accusers.get(&id).map_or("", |a| a)
    }

    /// Sets (or, with `None`, drops) who accused member `id`.
    pub(crate) fn set_accuser(&mut self, id: Id, accuser: Option<Accuser>) {
        match accuser {
            Some(a) => {
                self.accusers.insert(id, a);
            }
            None => {
                if self.accusers.is_empty() || self.accusers.remove(&id).is_none() {
                    return;
                }
                // Room given back once a storm of accusations is over:
                // at a quarter full, to half (amortized O(1)).
                let (len, cap) = (self.accusers.len(), self.accusers.capacity());
                if cap > 64 && len * 4 <= cap {
                    self.accusers.shrink_to(len * 2);
                }
            }
        }
    }

    /// The journal of changes to entries, for the summary hash.
    pub(crate) fn journal(&mut self) -> &mut Journal<Was> {
        &mut self.journal
    }

    /// Whether member `id` was reaped (and its id not reused yet).
    pub(crate) fn is_reaped(&self, id: Id) -> bool {
        self.get(id).is_none_or(Entry::reaped)
    }

    pub(crate) fn get(&self, id: Id) -> Option<&Entry> {
        entry_of(&self.base, &self.changed, &self.own, id)
    }

    /// The entry of `id` for writing; a snapshot entry is copied first.
    /// Read with [`Table::get`] unless a change is certain.
    pub(crate) fn get_mut(&mut self, id: Id) -> Option<&mut Entry> {
        if self.journal.wants(id) {
            let was = self.get(id).and_then(Entry::was);
            self.journal.note(id, || was);
        }
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

    /// Adds a member not in the table, in a reaped slot if there is one;
    /// returns its id.
    pub(crate) fn insert(&mut self, member: &Member) -> Id {
        self.insert_entry(Entry::new(&self.base.names, member))
    }

    /// [`Table::insert`] of an entry interned in [`Table::names`].
    pub(crate) fn insert_entry(&mut self, entry: Entry) -> Id {
        debug_assert!(self.id(entry.name()).is_none(), "inserted twice: {}", entry.name());
        let num = entry.ident.num as usize;
        let id = match self.free.pop() {
            Some(id) => {
                // A reaped slot: no member, as far as the summary goes.
                self.journal.note(id, || None);
                if (id as usize) < self.base.entries.len() {
                    self.changed.insert(id, entry);
                } else {
                    let at = id as usize - self.base.entries.len();
                    *self.own.get_mut(at).expect("a freed own id") = entry;
                }
                id
            }
            None => {
                self.journal.note(self.len() as Id, || None);
                self.own.push(entry);
                (self.len() - 1) as Id
            }
        };
        place(&mut self.ids, num, id);
        self.own_pending.push(id);
        id
    }

    /// Whether enough members were learned since the last merge of the
    /// name order that merging them costs O(1) per member: twice as many
    /// as were sorted.
    pub(crate) fn order_due(&self) -> bool {
        self.own_pending.len() > 32 + 2 * self.own_sorted.len()
    }

    /// Merges the members learned since into the name order (see
    /// `own_pending`).
    pub(crate) fn order_names(&mut self) {
        if !self.own_pending.is_empty() {
            self.merge_pending();
        }
    }

    /// Sorts the pending ids into `own_sorted`: by the interner's shared
    /// order ([`Names::order`]) in O(names held there) when this table
    /// holds a quarter of them or more, else O(p log p + n). The
    /// comparisons go by [`name_key`] first, so most of them read no name
    /// (each a walk from id to entry to ident to name, cache misses all:
    /// this merge was a tenth of a mass join's time).
    fn merge_pending(&mut self) {
        // Holding a good part of the interner's names (a cluster's
        // engines sharing one, or one engine with its own): the shared
        // order, filtered by `ids`, is the table's.
        let held = self.own_sorted.len() + self.own_pending.len();
        if self.names().len() <= 4 * held {
            let order = self.names().order();
            let ids = &self.ids;
            // Exactly the room it needs (collected, up to twice: 0.24 GiB
            // over the 10,000 views of a simulated mass join).
            let mut sorted = Vec::with_capacity(held);
            sorted.extend(
                order
                    .iter()
                    .filter_map(|&num| ids.get(num as usize).copied().filter(|&id| id != EMPTY)),
            );
            self.own_sorted = sorted;
            // Its room goes too: a view's worth after a mass join, 0.6 GiB
            // over 10,000 views.
            self.own_pending = Vec::new();
            debug_assert_eq!(self.own_sorted.len(), held, "ids and the name order disagree");
            return;
        }
        let pending = core::mem::take(&mut self.own_pending);
        let mut keyed: Vec<(u64, Id)> = pending.iter().map(|&i| (self.key_of(i), i)).collect();
        keyed.sort_unstable_by(|&x, &y| self.name_order(x, y));
        let sorted = core::mem::take(&mut self.own_sorted);
        let mut merged = Vec::with_capacity(sorted.len() + keyed.len());
        let mut late = keyed.iter().peekable();
        for &x in &sorted {
            let x = (self.key_of(x), x);
            while let Some(&&y) = late.peek() {
                if self.name_order(y, x) != core::cmp::Ordering::Less {
                    break;
                }
                merged.push(y.1);
                late.next();
            }
            merged.push(x.1);
        }
        merged.extend(late.map(|&(_, y)| y));
        self.own_sorted = merged;
    }

    /// The name order of two ids given with their [`name_key`]s.
    fn name_order(&self, (ka, a): (u64, Id), (kb, b): (u64, Id)) -> core::cmp::Ordering {
        by_name(ka, || self.name_of(a), kb, || self.name_of(b))
    }

    /// The [`name_key`] of member `id`'s name (0 if none).
    fn key_of(&self, id: Id) -> u64 {
        self.get(id).map_or(0, |e| e.ident.order_key)
    }

    fn name_of(&self, id: Id) -> &str {
        self.get(id).map_or("", |e| e.name())
    }

    /// The ids (not reaped) whose names are in `(after, upto]`, in name
    /// order; no bound means an open end. Costs a binary search plus the
    /// ids returned, and a sort of the members learned since the last
    /// merge: few, but the whole view while a join link brings it in bulk
    /// (see `own_pending`).
    pub(crate) fn names_in(&self, after: Option<&str>, upto: Option<&str>) -> Vec<Id> {
        let base = &self.base.entries;
        fn range<'a>(
            ids: &[Id],
            after: Option<&str>,
            upto: Option<&str>,
            name: impl Fn(Id) -> &'a str,
        ) -> (usize, usize) {
            let lo = after.map_or(0, |a| ids.partition_point(|&i| name(i) <= a));
            let hi = upto.map_or(ids.len(), |u| ids.partition_point(|&i| name(i) <= u));
            (lo, hi.max(lo))
        }
        // The snapshot's order is by the snapshot's names.
        let (blo, bhi) = range(&self.base.sorted, after, upto, |i| base[i as usize].name());
        let (olo, ohi) = range(&self.own_sorted, after, upto, |i| self.name_of(i));
        let gone = |id: &Id| self.base_gone.is_empty() || !self.base_gone.contains_key(id);
        let (mut a, mut b) = (
            self.base.sorted[blo..bhi].iter().filter(|i| gone(i)).peekable(),
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
        if self.own_pending.is_empty() {
            return out;
        }
        // Those learned since the last merge (at most two thirds of the
        // table, but for a view arriving in bulk along join links), sorted
        // here and merged in.
        let inside = |n: &str| after.is_none_or(|a| n > a) && upto.is_none_or(|u| n <= u);
        let mut late: Vec<Id> = self
            .own_pending
            .iter()
            .copied()
            .filter(|&i| !self.is_reaped(i) && inside(self.name_of(i)))
            .collect();
        if late.is_empty() {
            return out;
        }
        late.sort_unstable_by(|&x, &y| self.name_of(x).cmp(self.name_of(y)));
        let mut all = Vec::with_capacity(out.len() + late.len());
        let (mut i, mut j) = (0, 0);
        while i < out.len() || j < late.len() {
            if j == late.len() || (i < out.len() && self.name_of(out[i]) <= self.name_of(late[j])) {
                all.push(out[i]);
                i += 1;
            } else {
                all.push(late[j]);
                j += 1;
            }
        }
        all
    }

    /// Every entry not reaped, in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Id, &Entry)> {
        (0..self.len() as Id)
            .filter_map(move |id| self.get(id).map(|e| (id, e)))
            .filter(|(_, e)| !e.reaped())
    }
}

/// The id of a name number with no member: never an entry's (ids count up
/// from 0).
const EMPTY: Id = Id::MAX;

/// What entries held before they changed, since the journal was last
/// read: lets a sum over every entry (the summary hash, anti_entropy.rs)
/// be kept up to date by its changes instead of a walk of the table, which
/// was an O(n) walk for every check, sync and summary answered (10⁸ terms
/// each time the 10,000 members of a simulated cluster took one).
///
/// Ids from `from` on (the table's length when the journal was last read)
/// held nothing then: they are not noted, so a mass join learning every
/// member notes nothing. Of the others it notes at most one per
/// [`JOURNAL_SHARE`] members (and 64 more) between two reads, 32 bytes
/// each; past that it stops, lets go of what it holds, and its reader
/// walks the table instead.
#[derive(Debug)]
pub(crate) struct Journal<T> {
    on: bool,
    from: Id,
    /// The value each changed id held first since the last read, then any
    /// later ones (the reader keeps the first).
    was: Vec<(Id, T)>,
}

/// See [`Journal`]: at this share a full journal costs its reader about
/// an eighth of a walk (two terms per change against one per member).
pub(crate) const JOURNAL_SHARE: usize = 16;

impl<T> Default for Journal<T> {
    fn default() -> Self {
        Journal { on: false, from: 0, was: Vec::new() }
    }
}

impl<T> Journal<T> {
    /// Whether changes to ids below `from` are being noted.
    #[cfg(test)]
    pub(crate) fn is_on(&self) -> bool {
        self.on
    }

    /// Whether a change to `id` would be noted: worth working out its old
    /// value for (not during a mass join, whose ids are all new).
    pub(crate) fn wants(&self, id: Id) -> bool {
        self.on && id < self.from
    }

    /// Notes that `id` is about to change from `was` (worked out only
    /// when noted).
    pub(crate) fn note(&mut self, id: Id, was: impl FnOnce() -> T) {
        if !self.on || id >= self.from {
            return;
        }
        if self.was.len() >= self.from as usize / JOURNAL_SHARE + 64 {
            self.on = false;
            self.was = Vec::new();
            return;
        }
        self.was.push((id, was()));
    }

    /// Starts noting changes afresh, for a table `len` ids long.
    pub(crate) fn start(&mut self, len: Id) {
        self.on = true;
        self.from = len;
        self.was.clear();
    }

    /// What changed since the last read (or start), the first value each
    /// id held coming first among its own, and where the ids that held
    /// nothing then start; `None` if the journal is off or stopped. Goes
    /// on noting afresh, for a table now `len` ids long.
    pub(crate) fn take(&mut self, len: Id) -> Option<(Vec<(Id, T)>, Id)> {
        if !self.on {
            return None;
        }
        let from = core::mem::replace(&mut self.from, len);
        Some((core::mem::take(&mut self.was), from))
    }
}

/// What a member's term of the summary hash depended on before a change
/// ([`Table::journal`]): `None` for an id with no member (new or reaped).
pub(crate) type Was = Option<(u64, u64, MemberState)>;

impl Entry {
    /// This entry's part of [`Was`]: its name's summary prefix,
    /// incarnation and state.
    pub(crate) fn was(&self) -> Was {
        (!self.reaped()).then(|| (self.ident.summary_prefix, self.incarnation, self.state()))
    }
}

/// Sets `ids[num]` to `id`, growing `ids` (amortized doubling; its length
/// is the highest number placed plus one, so untouched room costs no
/// pages).
fn place(ids: &mut Vec<Id>, num: usize, id: Id) {
    if ids.len() <= num {
        ids.resize(num + 1, EMPTY);
    }
    ids[num] = id;
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn member(name: &str) -> Member {
        Member::new(name, "127.0.0.1:1".parse().unwrap())
    }

    #[test]
    fn names_in_merges_snapshot_and_own_members_in_name_order() {
        let base = Snapshot::new(["d", "b", "f"].map(member));
        let mut t = Table::with_base(base);
        for n in ["e", "a", "c"] {
            t.insert(&member(n));
        }
        fn names(t: &Table, after: Option<&str>, upto: Option<&str>) -> Vec<String> {
            let ids = t.names_in(after, upto);
            ids.iter().map(|&i| t.get(i).unwrap().name().into()).collect()
        }
        assert_eq!(names(&t, None, None), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(names(&t, Some("b"), Some("e")), ["c", "d", "e"]);
        assert_eq!(names(&t, Some("f"), None), Vec::<String>::new());
        assert_eq!(names(&t, None, Some("")), Vec::<String>::new());
        let d = t.id("d").unwrap();
        t.reap(d);
        assert_eq!(names(&t, Some("b"), Some("e")), ["c", "e"]);
        // The snapshot's slot goes to the next member learned, in its
        // own place in name order; the old name leads nowhere.
        assert_eq!(t.insert(&member("bb")), d);
        assert_eq!(names(&t, None, None), ["a", "b", "bb", "c", "e", "f"]);
        assert_eq!((t.id("d"), t.id("bb")), (None, Some(d)));
        let a = t.id("a").unwrap();
        t.reap(a);
        assert_eq!(t.insert(&member("d")), a, "a name back after its reap gets a free id");
        assert_eq!(names(&t, None, None), ["b", "bb", "c", "d", "e", "f"]);
        assert_eq!((t.len(), t.iter().count(), t.free_ids()), (6, 6, 0));
    }

    /// Members learned in bulk (a mass join) keep name order whether
    /// merged or still pending, merged in batches or all at once, through
    /// reaps (of merged and of pending ids), reused ids and ranges alike.
    #[test]
    fn names_in_keeps_name_order_across_batched_merges() {
        for crowded in [false, true] {
            names_in_keeps_name_order_across_batched_merges_in(crowded);
        }
    }

    /// A table on an interner of its own, or (`crowded`) on one that also
    /// holds 20 times as many other names, so that merges sort rather
    /// than walk the interner's order; and what it holds back (the other
    /// names' idents) to keep them there.
    fn table_on(crowded: bool) -> (Table, Vec<Arc<Ident>>) {
        let names = Names::new();
        let addr = "127.0.0.1:2".parse().unwrap();
        let others = if crowded {
            (0..20_000).map(|i| names.ident(&alloc::format!("m{i}x"), addr, b"")).collect()
        } else {
            Vec::new()
        };
        (Table::with_base(Snapshot::with_names(names, [])), others)
    }

    fn names_in_keeps_name_order_across_batched_merges_in(crowded: bool) {
        let names = |t: &Table, after, upto| -> Vec<String> {
            t.names_in(after, upto).iter().map(|&i| t.get(i).unwrap().name().into()).collect()
        };
        let (mut t, _others) = table_on(crowded);
        assert_eq!(t.names().len() > 4 * 600, crowded);
        let mut want: Vec<String> = Vec::new();
        for i in 0..500u32 {
            let n = alloc::format!("m{}", (i * 7919) % 1000);
            t.insert(&member(&n));
            want.push(n);
            if i % 150 == 149 {
                let pending = names(&t, None, None);
                t.order_names();
                assert_eq!(names(&t, None, None), pending, "merged after {i}");
            }
        }
        // One merged id and one pending id reaped, then a name learned
        // into a reused id: all before and after another merge.
        for gone in ["m919", "m993"] {
            let id = t.id(gone).unwrap();
            t.reap(id);
            want.retain(|n| n != gone);
        }
        assert!(t.insert(&member("m0001")) < 500, "a reaped id reused");
        want.push("m0001".into());
        want.sort();
        let expect: Vec<String> =
            want.iter().filter(|n| n.as_str() > "m3" && n.as_str() <= "m5").cloned().collect();
        for merged in [false, true] {
            if merged {
                t.order_names();
            }
            assert_eq!(names(&t, None, None), want, "merged: {merged}, crowded: {crowded}");
            let range = names(&t, Some("m3"), Some("m5"));
            assert_eq!(range, expect, "merged: {merged}, crowded: {crowded}");
        }
    }

    /// The name order survives the merges' shortcut (comparing the first
    /// 8 bytes as a number): names longer than 8 bytes sharing a prefix,
    /// names that are prefixes of others, and zero bytes all keep their
    /// string order.
    #[test]
    fn merged_name_order_is_string_order_for_any_names() {
        for crowded in [false, true] {
            merged_name_order_is_string_order_for_any_names_in(crowded);
        }
    }

    fn merged_name_order_is_string_order_for_any_names_in(crowded: bool) {
        let (mut t, _others) = table_on(crowded);
        let mut want: Vec<String> = Vec::new();
        let alphabet = ["", "\0", "a", "b", "node-000", "node-0001", "zz"];
        let mut x: u64 = 7;
        for _ in 0..600 {
            let mut n = String::new();
            for _ in 0..3 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                n.push_str(alphabet[(x >> 33) as usize % alphabet.len()]);
            }
            if n.is_empty() || want.contains(&n) {
                continue;
            }
            t.insert(&member(&n));
            want.push(n);
            if want.len() == 200 {
                t.order_names(); // a merge of the first ones, then more pending
            }
        }
        want.sort();
        let names = |t: &Table| -> Vec<String> {
            t.names_in(None, None).iter().map(|&i| t.get(i).unwrap().name().into()).collect()
        };
        assert_eq!(names(&t), want, "half merged, half pending; crowded: {crowded}");
        t.order_names(); // merged by `name_key`, then by name on equal keys
        assert_eq!(names(&t), want, "all merged; crowded: {crowded}");
        assert!(name_key("ab") < name_key("ab\0\x01") && name_key("b") > name_key("abcdefghij"));
    }

    /// Chunked storage reads back what was pushed across chunk bounds, and
    /// its slack stays under one chunk.
    #[test]
    fn chunked_entries_read_back_with_little_slack() {
        let mut c = Chunked::default();
        for i in 0..3 * CHUNK + 5 {
            c.push(i);
        }
        assert_eq!(c.len(), 3 * CHUNK + 5);
        assert!((0..c.len()).all(|i| c.get(i) == Some(&i)));
        assert_eq!(c.get(c.len()), None);
        *c.get_mut(CHUNK).expect("in range") = 7;
        assert_eq!(c.get(CHUNK), Some(&7));
        let room: usize = c.chunks.iter().map(Vec::capacity).sum();
        assert!(room - c.len() < CHUNK, "slack {}", room - c.len());
        let mut small = Chunked::default();
        for i in 0..20 {
            small.push(i);
        }
        assert_eq!(small.chunks[0].capacity(), 32, "a small table holds about what it uses");
    }

    /// The budget of issue 16: ten thousand full views in 8 GiB leave
    /// about 80 bytes per member entry. The entry itself is 24 bytes; its
    /// slot by name number (4 bytes) and in name order (4 bytes) come on
    /// top; name, address and metadata are shared ([`Names`]).
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_entry_fits_the_budget() {
        assert_eq!(core::mem::size_of::<Entry>(), 24);
        assert!(core::mem::size_of::<Entry>() + 2 * core::mem::size_of::<Id>() <= 60);
    }

    /// Tables sharing one interner find each member by its name's number
    /// through reaps, reused slots, sweeps of the interner and numbers
    /// handed on to new names: a name is found exactly where a map of
    /// what each table holds says.
    #[test]
    fn tables_sharing_names_find_members_through_churn() {
        use std::collections::BTreeMap;
        let names = Names::new();
        let base_names: Vec<String> = (0..100).map(|i| alloc::format!("s{i}")).collect();
        let base = Snapshot::with_names(names.clone(), base_names.iter().map(|n| member(n)));
        let mut a = Table::with_base(base.clone());
        let mut b = Table::with_base(Snapshot::with_names(names.clone(), []));
        let mut held_a: BTreeMap<String, Id> =
            base_names.iter().map(|n| (n.clone(), a.id(n).expect("in the snapshot"))).collect();
        let mut held_b: BTreeMap<String, Id> = BTreeMap::new();
        let mut every: Vec<String> = base_names.clone();
        for round in 0..20 {
            for i in 0..300 {
                let n = alloc::format!("r{round}-{i}");
                held_a.insert(n.clone(), a.insert(&member(&n)));
                if i % 2 == 0 {
                    held_b.insert(n.clone(), b.insert(&member(&n)));
                }
                every.push(n);
            }
            let gone: Vec<String> = held_a
                .keys()
                .enumerate()
                .filter(|(k, _)| k % 3 != 0)
                .map(|(_, n)| n.clone())
                .collect();
            for n in gone {
                a.reap(held_a.remove(&n).expect("held"));
            }
            for n in held_b
                .keys()
                .filter(|n| !n.starts_with(&alloc::format!("r{round}-")))
                .cloned()
                .collect::<Vec<_>>()
            {
                b.reap(held_b.remove(&n).expect("held"));
            }
            for (t, held) in [(&a, &held_a), (&b, &held_b)] {
                for n in &every {
                    let want = held.get(n).copied();
                    assert_eq!(t.id(n), want, "round {round}: {n}");
                    if let Some(id) = want {
                        assert_eq!(t.get(id).map(Entry::name), Some(n.as_str()));
                    }
                }
            }
        }
        assert!(names.len() < every.len() / 2, "names no table holds are swept: {}", names.len());
        let numbers = names.lock().held.len();
        assert!(numbers < every.len() / 2, "their numbers go to new names: {numbers} given");
        assert!(a.len() < 1000, "reaped slots are reused: {} ids", a.len());
    }

    /// Engines sharing one interner share one copy of each ident, and
    /// idents no engine holds any more are swept as the interner grows.
    #[test]
    fn names_are_shared_and_swept() {
        let names = Names::new();
        let a = names.ident("n1", "127.0.0.1:1".parse().unwrap(), b"m");
        let b = names.ident("n1", "127.0.0.1:1".parse().unwrap(), b"m");
        assert!(Arc::ptr_eq(&a, &b));
        let c = names.ident("n1", "127.0.0.1:2".parse().unwrap(), b"m");
        assert!(!Arc::ptr_eq(&a, &c) && a.name == c.name && a.num == c.num);
        let accuser = names.accuser("n1");
        assert!(Arc::ptr_eq(&accuser, &names.accuser("n1")) && *accuser == a.name);
        // A name too long to be held inline is held once, whatever holds it.
        let long = "a-member-name-longer-than-23-bytes";
        let d = names.ident(long, "127.0.0.1:1".parse().unwrap(), b"");
        let e = names.ident(long, "127.0.0.1:2".parse().unwrap(), b"");
        assert!(d.name.is_heap_allocated() && d.name.as_ptr() == e.name.as_ptr());
        assert_eq!(names.accuser(long).as_ptr(), d.name.as_ptr());
        let kept = names.accuser("kept");
        drop((a, b, c, d, e, accuser));
        for i in 0..5000 {
            let _ = names.ident(&alloc::format!("x{i}"), "127.0.0.1:1".parse().unwrap(), b"");
        }
        assert!(names.len() < 2000, "unused names are swept: {}", names.len());
        assert!(Arc::ptr_eq(&kept, &names.accuser("kept")), "a held accuser stays");
    }
}

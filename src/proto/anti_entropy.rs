//! Anti-entropy: periodic syncs with one peer (a summary hash, then
//! digests, then deltas) that repair whatever gossip and mongering missed,
//! membership included.

use super::config::{AntiEntropyMode, SyncPeers};
use super::engine::Engine;
use super::item_log::Held;
use super::member::MemberState;
use super::outbox::Outbox;
use super::table::{Entry, Id, Was};
use super::timer::Timer;
use crate::codec::{self, DatagramBuilder, DigestEntry, Item, Message};
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// Live members per probe interval of [`Engine::check_sync_cooldown`]:
/// at 10,000 members a mismatched check starts a sync every 10 s at most.
pub(crate) const CHECK_SYNC_MEMBERS: usize = 1000;

impl Engine {
    /// State rank in digests (see [`super::detector::Detector::rank`]).
    fn rank(&self, state: MemberState) -> u8 {
        self.detector.rank(state)
    }

    /// Start of an anti-entropy period: sync with one peer.
    ///
    /// Idle cost: one Summary out, with our hash (kept up to date by the
    /// changes since the last use, see [`Engine::digest_hash`]; the peer
    /// compares it with its cached check or its own kept hash), once per
    /// `push_pull_period`, which grows with log n (180 s at 1,000 members
    /// on LAN). The cached check is not
    /// used on this side: the periodic sync is the authoritative
    /// comparison, the one that catches whatever a stale cache would hide.
    pub(crate) fn sync_tick(&mut self, now: Duration) {
        let period = self.config.push_pull_period(self.live_members());
        if self.first_sync_drawn_for.take().is_some_and(|drawn| drawn < period) {
            // The first sync's phase was drawn while this node knew only
            // itself (30 s), so a cluster joining at once all synced within
            // 30 s of starting, each sync walking n members on both sides:
            // 2·10⁸ summary terms at 10,000 members, most of a simulated
            // minute after a mass join. Drawn again within the period of
            // the view held now, the syncs spread as evenly as in a
            // cluster started converged. Once per engine; the join's own
            // settling sync (join.rs) closes a joiner's gaps meanwhile.
            let phase = self.jitter(period);
            self.timers.arm(now + phase, Timer::Sync);
            return;
        }
        self.timers.arm(now + period, Timer::Sync);
        self.sync_once();
    }

    /// Starts one sync with a peer: a Summary first.
    pub(crate) fn sync_once(&mut self) {
        if self.leaving {
            return;
        }
        let Some(addr) = self.sync_peer() else { return };
        self.out.stats.syncs += 1;
        let (want_delta, want_digest) = self.sync_wants();
        // A hash first: in a quiet cluster both sides hold the same, and a
        // digest listing every member is not worth sending.
        let hash = self.digest_hash();
        if self.wants_check() {
            // Just taken: the check is as fresh as it gets.
            self.piggyback.set_check(Some(hash));
        }
        let msg = Message::Summary(codec::Summary {
            sender: self.name.clone(),
            hash,
            want_delta,
            want_digest,
        });
        self.out.send_alone(addr, msg);
    }

    /// The summary hash ([`codec::summary_hash`]) of the digest we would
    /// send: for every sync, for the check quiet datagrams carry (cached
    /// in the piggyback), and for each Summary answered without one.
    ///
    /// Kept up to date by the changes since the last call, from the
    /// journals of the table and the store (see
    /// [`Journal`](super::table::Journal)): O(changes), members learned
    /// since included. Only the engine's start, and a call after a burst
    /// of changes to members already held (more than one per
    /// [`JOURNAL_SHARE`](super::table::JOURNAL_SHARE)), walk the table and start the journals afresh. A
    /// walk was 10⁸ terms, a second of CPU, each time the 10,000 members
    /// of a simulated cluster took their checks after a mass join: a tenth
    /// of that join's time.
    pub(crate) fn digest_hash(&mut self) -> u64 {
        let len = self.view.table().len() as Id;
        let taken = (self.view.journal().take(len), self.store.journal().take(len));
        let hash = match (self.summary, taken) {
            (Some(sum), (Some((members, from)), Some((logs, _)))) => {
                sum.wrapping_add(self.summary_change(members, logs, from))
            }
            _ => {
                self.view.journal().start(len);
                self.store.journal().start(len);
                self.walk_hash()
            }
        };
        self.summary = Some(hash);
        debug_assert_eq!(hash, self.walk_hash(), "the summary hash kept by changes drifted");
        hash
    }

    /// What the summary hash gained from the changes noted: for each id
    /// changed, its term now less its term before the first change, and
    /// the terms of the ids from `from` on, which held no member before.
    fn summary_change(
        &self,
        mut members: Vec<(Id, Was)>,
        mut logs: Vec<(Id, (u64, u64))>,
        from: Id,
    ) -> u64 {
        let table = self.view.table();
        let term_now =
            |id| self.summary_term(table.get(id).and_then(Entry::was), self.store.marks(id));
        let mut change =
            (from..table.len() as Id).fold(0u64, |sum, id| sum.wrapping_add(term_now(id)));
        // Stable sorts: each id's first (oldest) value stays first and
        // `dedup` keeps it.
        members.sort_by_key(|&(id, _)| id);
        members.dedup_by_key(|&mut (id, _)| id);
        logs.sort_by_key(|&(id, _)| id);
        logs.dedup_by_key(|&mut (id, _)| id);
        let (mut m, mut l) = (members.iter().peekable(), logs.iter().peekable());
        loop {
            let id = match (m.peek(), l.peek()) {
                (Some(&&(a, _)), Some(&&(b, _))) => a.min(b),
                (Some(&&(a, _)), None) => a,
                (None, Some(&&(b, _))) => b,
                (None, None) => return change,
            };
            let was = m.next_if(|&&(a, _)| a == id).map(|&(_, w)| w);
            let marks = l.next_if(|&&(b, _)| b == id).map(|&(_, k)| k);
            let was = was.unwrap_or_else(|| table.get(id).and_then(Entry::was));
            let marks = marks.unwrap_or_else(|| self.store.marks(id));
            change = change.wrapping_add(term_now(id)).wrapping_sub(self.summary_term(was, marks));
        }
    }

    /// One member's term of the summary hash, 0 for no member.
    fn summary_term(&self, was: Was, (generation, watermark): (u64, u64)) -> u64 {
        was.map_or(0, |(prefix, incarnation, state)| {
            codec::summary_term_after(prefix, incarnation, self.rank(state), generation, watermark)
        })
    }

    /// The summary hash by a walk of the whole table.
    pub(crate) fn walk_hash(&self) -> u64 {
        // No lookup per member when no member holds a log (membership only).
        let logs = !self.store.is_empty();
        self.view.table().iter().fold(0u64, |sum, (id, e)| {
            let log = if logs { self.store.log(id) } else { None };
            let (generation, watermark) = log.map_or((0, 0), |l| (l.generation, l.watermark));
            let term = codec::summary_term_after(
                e.ident.summary_prefix,
                e.incarnation,
                self.rank(e.state()),
                generation,
                watermark,
            );
            sum.wrapping_add(term)
        })
    }

    /// Merges the members learned since into the name order before a
    /// sync lists the view by name, once they are enough that merging
    /// costs O(1) each ([`Table::order_due`](super::table::Table::order_due)):
    /// a few are sorted on the spot by `names_in`, where a merge would
    /// read every name (a digest's chunks each list a range).
    fn order_names_if_due(&mut self) {
        if self.view.table().order_due() {
            self.view.order_names();
        }
    }

    /// Our summary hash for answering a Summary: the cached check while we
    /// keep one (every change to the view, every item taken in, every
    /// delta drops it, see [`Engine::wants_check`]), else
    /// [`Engine::digest_hash`]. The member that started the sync took its
    /// hash afresh (`sync_once`), so one side of the comparison is always
    /// fresh.
    fn current_hash(&mut self) -> u64 {
        match self.piggyback.check().filter(|_| self.wants_check()) {
            Some(hash) => hash,
            None => self.digest_hash(),
        }
    }

    /// A Summary arrived: if our hash differs, answer with our digest,
    /// asking for what the sender offered and offering what it asked for.
    pub(crate) fn handle_summary(
        &mut self,
        now: Duration,
        from: SocketAddr,
        summary: codec::Summary,
    ) {
        let codec::Summary { sender, hash, want_delta, want_digest } = summary;
        if !want_delta && !want_digest {
            // A check riding a quiet datagram's gossip section.
            self.handle_check(now, from, &sender, hash);
            return;
        }
        let known = self.view.live_member_at(&sender, from);
        if known.is_none() {
            self.out.stats.syncs_refused += 1;
            return;
        }
        if hash == self.current_hash() {
            self.out.stats.syncs_in_sync += 1;
            return;
        }
        if want_delta || want_digest {
            self.send_digest(from, want_digest, want_delta);
        }
    }

    /// A check arrived: the summary hash of a member whose membership is
    /// quiet (see piggyback.rs). If we are settled (nothing of ours still
    /// being spread) and our hash differs, one of us missed something that
    /// gossip no longer carries: start a sync with the sender, as
    /// [`Engine::sync_once`] would, but skipping the Summary round trip,
    /// which the check just made. When we are quiet too, the sender gets
    /// our check as well (a Ping and its Ack carry one each way), so only
    /// the side with the lower hash starts it. Equal hashes, the common
    /// case, cost a comparison with the cached hash.
    ///
    /// A difference costs our hash taken afresh and maybe a digest of the
    /// whole view each way: at most one sync per
    /// [`Engine::check_sync_cooldown`], so a member far behind is not
    /// flooded with digests, nor a cluster whose views still differ
    /// everywhere (the end of a mass join) with syncs. (Before the hash
    /// was kept by changes, each recomputation was also an O(n) walk of
    /// the table, once per mismatched check on every datagram.)
    ///
    /// While we are spreading something ourselves, hashes differ anyway
    /// and gossip is still carrying the difference: no sync then. Nor
    /// while a join link lives: the view still arrives in bulk along it
    /// (links.rs), and a digest would repeat what the next pulls bring.
    fn handle_check(&mut self, now: Duration, from: SocketAddr, sender: &str, hash: u64) {
        if !self.settled()
            || self.leaving
            || self.config.anti_entropy != AntiEntropyMode::PushPull
            || self.links.is_linked()
        {
            return;
        }
        let Some(cached) = self.piggyback.check() else { return };
        if hash == cached {
            return;
        }
        // Only from a live member at its address: a stranger must not
        // make us take our hash, let alone send it a digest.
        if self.view.live_member_at(sender, from).is_none() {
            return;
        }
        let cooldown = self.check_sync_cooldown();
        if !self.piggyback.may_check_sync(now, cooldown) {
            return;
        }
        // The cached hash may be a few rounds old: recompute it before
        // acting on a difference (once per cooldown at most).
        let mine = self.digest_hash();
        self.piggyback.set_check(Some(mine));
        if hash == mine || (self.quiet() && mine > hash) {
            return;
        }
        self.out.stats.syncs += 1;
        self.send_digest(from, true, true);
    }

    /// How long after a mismatched check's sync the next may
    /// come: a probe interval per [`CHECK_SYNC_MEMBERS`] live members, at
    /// least one. A check's sync sends a digest of the whole view each way
    /// (about n / 70 datagrams) and compares it entry by entry, so this
    /// keeps its cost per member per second constant as the cluster
    /// grows, as `push_pull_period` does for the periodic sync. Up to
    /// 1,999 members, one per probe interval, as before.
    fn check_sync_cooldown(&self) -> Duration {
        let scale = (self.live_members() / CHECK_SYNC_MEMBERS).max(1);
        self.config.probe_interval * scale as u32
    }

    /// What a sync this member starts asks for, by `anti_entropy` mode:
    /// `(the peer's deltas, the peer's digest)`.
    pub(crate) fn sync_wants(&self) -> (bool, bool) {
        match self.config.anti_entropy {
            AntiEntropyMode::Pull => (true, false),
            AntiEntropyMode::PushPull => (true, true),
            AntiEntropyMode::Push => (false, true),
        }
    }

    fn sync_peer(&mut self) -> Option<SocketAddr> {
        match self.config.sync_peers {
            SyncPeers::Random => self.random_live_members(1, &[]).first().map(|(_, a)| *a),
            SyncPeers::Ring => {
                // Our successor among the live members sorted by name.
                let me = self.name.as_str();
                let mut best: Option<(&str, SocketAddr)> = None;
                let mut first: Option<(&str, SocketAddr)> = None;
                for (id, e) in self.view.table().iter() {
                    if id == self.view.me || !e.state().is_live() {
                        continue;
                    }
                    let n = e.name();
                    if first.is_none_or(|(f, _)| n < f) {
                        first = Some((n, e.addr()));
                    }
                    if n > me && best.is_none_or(|(b, _)| n < b) {
                        best = Some((n, e.addr()));
                    }
                }
                best.or(first).map(|(_, a)| a)
            }
        }
    }

    /// Our digest, in chunks that each fit a datagram, sorted by name.
    fn send_digest(&mut self, to: SocketAddr, want_delta: bool, want_digest: bool) {
        self.order_names_if_due();
        let all: Vec<DigestEntry> = self
            .view
            .table()
            .names_in(None, None)
            .into_iter()
            .map(|id| {
                let e = self.entry(id);
                let s = self.store.log(id);
                DigestEntry {
                    name: e.name().into(),
                    incarnation: e.incarnation,
                    state: self.rank(e.state()),
                    generation: s.map_or(0, |s| s.generation),
                    watermark: s.map_or(0, |s| s.watermark),
                    collected: s.map_or(0, |s| s.collected),
                }
            })
            .collect();
        // Room for the header, the flags and two bounds of the longest name.
        let budget = self.out.packet_budget().saturating_sub(
            codec::HEADER_LEN + 3 * (codec::MAX_NAME_LEN + 2) + 16 + self.name.len(),
        );
        let mut after: Option<String> = None;
        let mut chunk: Vec<DigestEntry> = Vec::new();
        let mut size = 0;
        let mut first = true;
        let total = all.len();
        for (i, entry) in all.into_iter().enumerate() {
            size += codec::encoded_len(&entry);
            chunk.push(entry);
            let last = i + 1 == total;
            if size >= budget.saturating_sub(64) || last {
                let upto = if last { None } else { chunk.last().map(|e| e.name.clone()) };
                let next_after = upto.clone();
                let msg = Message::Digest(codec::Digest {
                    sender: self.name.clone(),
                    after: after.take(),
                    upto,
                    entries: core::mem::take(&mut chunk),
                    want_delta,
                    want_digest: want_digest && first,
                });
                self.out.send_alone(to, msg);
                first = false;
                after = next_after;
                size = 0;
            }
        }
    }

    /// A Digest arrived from `from`.
    pub(crate) fn handle_digest(&mut self, from: SocketAddr, digest: codec::Digest) {
        let codec::Digest { sender, after, upto, entries, want_delta, want_digest } = digest;
        // Only members we know, at their address: a forged digest must not
        // turn a small datagram into our whole state sent elsewhere.
        let Some(requester) = self.view.live_member_at(&sender, from) else {
            self.out.stats.syncs_refused += 1;
            return;
        };
        if let Some(mine) = entries.iter().find(|e| e.name == self.name) {
            if mine.generation > self.store.generation {
                // A peer holds a later life of ours than this one: our boot
                // clock went back. Move past it, as a refutation moves past
                // an incarnation, so our state is not ignored.
                self.set_generation(mine.generation + 1);
                self.piggyback.set_check(None);
                self.out.stats.state_restarts += 1;
            }
        }
        if want_delta {
            self.send_delta(from, requester, after.as_deref(), upto.as_deref(), &entries);
        }
        if want_digest {
            self.send_digest(from, true, false);
        }
    }

    /// Answers a digest covering names in `(after, upto]`: membership
    /// claims newer than the peer's, and the items it lacks, within
    /// `sync_max_datagrams` datagrams.
    fn send_delta(
        &mut self,
        to: SocketAddr,
        requester: Id,
        after: Option<&str>,
        upto: Option<&str>,
        entries: &[DigestEntry],
    ) {
        let theirs: alloc::collections::BTreeMap<&str, &DigestEntry> =
            entries.iter().map(|e| (e.name.as_str(), e)).collect();
        self.order_names_if_due();
        let ours = self.view.table().names_in(after, upto);
        let mut answer = SyncAnswer::new(
            self.out.packet_budget(),
            self.config.sync_max_datagrams,
            self.out.stream_budget(),
        );
        for id in ours {
            let e = self.entry(id);
            let name: String = e.name().into();
            let peer = theirs.get(name.as_str());
            let newer = match peer {
                None => true,
                Some(p) => (e.incarnation, self.rank(e.state())) > (p.incarnation, p.state),
            };
            if newer {
                if let Some(msg) = self.view.state_message(id) {
                    if !answer.push(&mut self.out, msg) {
                        break;
                    }
                }
            }
            // The requester's own log is its to tell.
            let Some(log) = self.store.log(id).filter(|_| id != requester) else { continue };
            let (pg, pw, pc) = peer.map_or((0, 0, 0), |p| (p.generation, p.watermark, p.collected));
            let from = if log.generation < pg {
                continue; // the peer knows a later life
            } else if log.generation > pg || (pw < log.collected && pc < log.collected) {
                0 // a later life, or we collected what it lacks: the whole log
            } else {
                pw
            };
            // What we hold up to our watermark and the peer lacks, then
            // what we hold above both watermarks (arrived out of order),
            // each run of it vouched for alone. Without the runs, a member
            // whose watermark had stopped below a hole answered a peer
            // with a higher watermark nothing, though it held items above
            // that the peer lacked, and the peer waited for another sync
            // (seconds) for what the one it had just run could have given.
            let mut ranges = alloc::vec![(from, log.watermark)];
            ranges.extend(log.runs_above(from).into_iter().map(|(first, last)| (first - 1, last)));
            let (generation, collected) = (log.generation, log.collected);
            let mut full = false;
            for (after, through) in ranges {
                if through <= after {
                    continue;
                }
                let items: Vec<(u64, Item)> = self.store.log(id).map_or(Vec::new(), |log| {
                    log.items
                        .range(after + 1..=through)
                        .map(|(v, Held { item, .. })| (*v, item.clone()))
                        .collect()
                });
                let range = (generation, after, through, collected);
                if !self.push_delta(&mut answer, name.clone(), range, items) {
                    full = true;
                    break;
                }
            }
            if full {
                break;
            }
        }
        let (datagrams, stream) = answer.finish();
        for b in datagrams {
            self.out.transmit(to, b);
        }
        if let Some(b) = stream {
            self.out.transmit_stream(to, b);
        }
    }

    /// Adds Delta messages for `member` covering `(from, watermark]`,
    /// split so each fits a datagram; returns false once the outbox is
    /// full (the rest waits for the next sync).
    fn push_delta(
        &mut self,
        answer: &mut SyncAnswer,
        member: String,
        (generation, from, watermark, collected): (u64, u64, u64, u64),
        items: Vec<(u64, Item)>,
    ) -> bool {
        let mut start = from;
        let mut chunk: Vec<(u64, Item)> = Vec::new();
        let mut size = 0;
        let room = self.out.packet_budget().saturating_sub(codec::HEADER_LEN + 64 + member.len());
        for (v, item) in items {
            let len = codec::encoded_len(&item) + 10;
            if !chunk.is_empty() && size + len > room {
                let through = chunk.last().map_or(start, |(v, _)| *v);
                let msg = Message::Delta(codec::Delta {
                    member: member.clone(),
                    generation,
                    from: start,
                    through,
                    collected,
                    items: core::mem::take(&mut chunk),
                });
                if !answer.push(&mut self.out, msg) {
                    return false;
                }
                start = through;
                size = 0;
            }
            size += len;
            chunk.push((v, item));
        }
        let msg = Message::Delta(codec::Delta {
            member,
            generation,
            from: start,
            through: watermark,
            collected,
            items: chunk,
        });
        answer.push(&mut self.out, msg)
    }

    /// A Delta arrived.
    pub(crate) fn handle_delta(
        &mut self,
        now: Duration,
        from_addr: SocketAddr,
        delta: codec::Delta,
    ) {
        let codec::Delta { member, generation, from, through, collected, items } = delta;
        let Some(id) = self.view.table().id(&member) else {
            self.out.stats.items_unknown_origin += 1;
            return;
        };
        if id == self.view.me {
            return; // our own log is ours to tell
        }
        // Deltas answer our digests: only live members send them. (A scan,
        // but deltas come a few per sync.)
        let known =
            self.view.table().iter().any(|(_, e)| e.addr() == from_addr && e.state().is_live());
        if !known {
            self.out.stats.syncs_refused += 1;
            return;
        }
        let Some(log) = self.log_for(id, generation) else { return };
        if from == 0 && !log.items.is_empty() && collected > log.watermark {
            self.out.stats.state_resets += 1;
        }
        let Some(log) = self.store.log_mut(id) else { return };
        let mut changes = Vec::new();
        let present: Vec<u64> = items.iter().map(|(v, _)| *v).collect();
        let watermark = log.watermark;
        for (version, item) in items {
            log.apply(version, item, now, &mut changes);
        }
        log.covered(from, through, collected, &present, &mut changes);
        // It brought news, yet a version is still missing here: worth
        // another sync soon (mongering.rs, `Pushes::repair_due`).
        if (log.watermark > watermark || !changes.is_empty()) && log.has_hole() {
            self.pushes.note_hole(id);
        }
        self.report(id, generation, changes);
        // Our hash may have moved: recompute the check.
        self.piggyback.set_check(None);
    }
}

/// One anti-entropy answer: at most `max` datagrams, then (if streams are
/// enabled) one stream payload for the rest and for messages too big for
/// a datagram.
struct SyncAnswer {
    done: Vec<DatagramBuilder>,
    current: DatagramBuilder,
    stream: Option<DatagramBuilder>,
    budget: usize,
    max: usize,
    stream_budget: usize,
}

impl SyncAnswer {
    fn new(budget: usize, max: usize, stream_budget: usize) -> SyncAnswer {
        SyncAnswer {
            done: Vec::new(),
            current: DatagramBuilder::new(budget),
            stream: None,
            budget,
            max,
            stream_budget,
        }
    }

    /// Adds `msg`; false once there is no room left anywhere.
    fn push(&mut self, out: &mut Outbox, msg: Message) -> bool {
        if self.stream.is_none() {
            if out.try_push(&mut self.current, &msg) {
                return true;
            }
            let fits_a_datagram = {
                let mut empty = DatagramBuilder::new(self.budget);
                empty.try_push(&msg)
            };
            if fits_a_datagram && self.done.len() + 1 < self.max {
                let full = core::mem::replace(&mut self.current, DatagramBuilder::new(self.budget));
                self.done.push(full);
                return out.try_push(&mut self.current, &msg);
            }
            if self.stream_budget == 0 {
                if !fits_a_datagram {
                    // Too big for any datagram and no streams (a peer
                    // with a larger max_packet_size made it): skip it, so
                    // the members after it are still repaired.
                    out.stats.items_oversized += 1;
                    return true;
                }
                return false;
            }
            self.stream = Some(DatagramBuilder::new(self.stream_budget));
        }
        let Some(s) = self.stream.as_mut() else { return false };
        if out.try_push(s, &msg) {
            return true;
        }
        if s.is_empty() {
            // Too big even for a stream (a peer with a larger limit).
            out.stats.items_oversized += 1;
            return true;
        }
        false
    }

    /// The datagrams, and the stream payload if one was opened.
    fn finish(mut self) -> (Vec<DatagramBuilder>, Option<DatagramBuilder>) {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        (self.done, self.stream)
    }
}

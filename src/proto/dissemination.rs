//! Spreading the replicated state and user rumors: rumor mongering with a
//! stop policy, and anti-entropy syncs (digest, then delta) that repair
//! whatever mongering missed, membership included.

use super::config::{AntiEntropyMode, StopPolicy, SyncPeers};
use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::store::{Change, Held, Stream};
use super::table::Id;
use super::timer::Timer;
use crate::codec::{self, DatagramBuilder, DigestEntry, Item, Message, Value};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

/// Why [`Engine::broadcast`], [`Engine::set`] or [`Engine::delete`]
/// refused an item. The engine's state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// The item does not fit in one datagram.
    TooLarge {
        /// Bytes of payload or value given.
        len: usize,
        /// The most that fits.
        max: usize,
    },
    /// The key is empty or longer than [`codec::MAX_KEY_LEN`].
    BadKey {
        /// Its length in bytes.
        len: usize,
    },
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::TooLarge { len, max } => write!(
                f,
                "{len} bytes do not fit: at most {max} with this name, key and max_stream_size \
                 (max_packet_size when streams are off)"
            ),
            ItemError::BadKey { len } => {
                write!(f, "key must be 1 to {} bytes long, got {len} bytes", codec::MAX_KEY_LEN)
            }
        }
    }
}

impl std::error::Error for ItemError {}

/// An item too big for a datagram, with its Update message.
pub(crate) type BigItem = (Id, u64, Message);

impl Engine {
    /// State rank in digests: SWIM's order of claims at one incarnation.
    /// Under the quorum detector `Suspect` is only this member's own
    /// failing mark, which peers never adopt: it ranks as `Alive`, or
    /// digests would never agree.
    fn rank(&self, state: MemberState) -> u8 {
        match state {
            MemberState::Alive => 0,
            MemberState::Suspect if self.quorum_mode() => 0,
            MemberState::Suspect => 1,
            MemberState::Dead => 2,
            MemberState::Left => 3,
        }
    }

    /// Broadcasts `payload` to every member (rumor mongering, repaired by
    /// anti-entropy); this member gets it too, as an [`Event::Rumor`].
    /// Returns its sequence number, unique for this member.
    pub fn broadcast(&mut self, now: Duration, payload: Vec<u8>) -> Result<u64, ItemError> {
        let max = self.max_item_len(None);
        if payload.len() > max {
            return Err(ItemError::TooLarge { len: payload.len(), max });
        }
        Ok(self.issue(now, Item::Rumor { payload }, true))
    }

    /// Sets `key` of this member's replicated state to `value`.
    pub fn set(&mut self, now: Duration, key: &str, value: Value) -> Result<u64, ItemError> {
        check_key(key)?;
        let max = self.max_item_len(Some(key));
        if value.len() > max {
            return Err(ItemError::TooLarge { len: value.len(), max });
        }
        Ok(self.issue(now, Item::Set { key: String::from(key), value }, true))
    }

    /// Deletes `key` of this member's replicated state (a tombstone).
    pub fn delete(&mut self, now: Duration, key: &str) -> Result<u64, ItemError> {
        check_key(key)?;
        Ok(self.issue(now, Item::Delete { key: String::from(key) }, true))
    }

    /// The value of `key` in `member`'s replicated state, as known here.
    pub fn get(&self, member: &str, key: &str) -> Option<&Value> {
        self.streams.get(&self.members.id(member)?)?.get(key)
    }

    /// `member`'s replicated state as known here, in key order.
    pub fn state(&self, member: &str) -> Vec<(&str, &Value)> {
        let stream = self.members.id(member).and_then(|id| self.streams.get(&id));
        stream.map(|s| s.entries().collect()).unwrap_or_default()
    }

    /// The highest version of `member`'s stream known here with nothing
    /// missing below it (for tests and metrics).
    pub fn watermark(&self, member: &str) -> u64 {
        let stream = self.members.id(member).and_then(|id| self.streams.get(&id));
        stream.map_or(0, |s| s.watermark)
    }

    /// Items this node is still pushing (for tests and metrics).
    pub fn active_items(&self) -> usize {
        self.pushes.len()
    }

    /// The largest payload (with `key`: value) one item may carry:
    /// `max_stream_size` exactly (its frame has room for the rest), or
    /// what fits in a datagram when streams are disabled.
    pub fn max_item_len(&self, key: Option<&str>) -> usize {
        match self.config.max_stream_size {
            0 => self.item_len_within(key, self.packet_budget()),
            n => n.min(self.item_len_within(key, self.stream_budget())),
        }
    }

    /// The largest payload one item may carry in `budget` bytes, next to
    /// this member's name, as an Update or in a Delta.
    fn item_len_within(&self, key: Option<&str>, budget: usize) -> usize {
        let item = match key {
            Some(k) => Item::Set { key: String::from(k), value: Value::Bytes(Vec::new()) },
            None => Item::Rumor { payload: Vec::new() },
        };
        let big = codec::MAX_VERSION;
        let update = Message::Update {
            origin: self.name.clone(),
            generation: u64::MAX,
            version: big,
            item: item.clone(),
            feedback: true,
        };
        let delta = Message::Delta {
            member: self.name.clone(),
            generation: u64::MAX,
            from: big,
            through: big,
            collected: big,
            items: alloc::vec![(big, item)],
        };
        let len = |m: &Message| postcard::to_allocvec(m).map_or(usize::MAX, |v| v.len());
        let overhead = len(&update).max(len(&delta));
        // The empty payload's length took one byte; a large one up to five.
        budget.saturating_sub(codec::HEADER_LEN + overhead + 4)
    }

    /// Adds an item to this member's own stream, reports it here and starts
    /// spreading it; returns its version.
    fn issue(&mut self, now: Duration, item: Item, report: bool) -> u64 {
        let (me, generation) = (self.me, self.generation);
        let stream =
            self.streams.entry(me).or_insert_with(|| Stream { generation, ..Stream::default() });
        // 2^63 items: never reached.
        let version = (stream.watermark + 1).min(codec::MAX_VERSION);
        let mut changes = Vec::new();
        stream.apply(version, item, now, &mut changes);
        if report {
            self.report(me, generation, changes);
        }
        if self.pushes.start(me, version) {
            self.stats.pushes_evicted += 1;
        }
        self.push_now(now, me, version);
        version
    }

    /// The stream of member `id` for its life `generation`: a later life
    /// replaces what we held (its keys reported deleted); an earlier one
    /// gets `None`.
    fn stream_for(&mut self, id: Id, generation: u64) -> Option<&mut Stream> {
        let held = self.streams.get(&id).map(|s| s.generation);
        match held {
            Some(g) if g > generation => return None,
            Some(g) if g < generation => {
                let mut changes = Vec::new();
                if let Some(s) = self.streams.get_mut(&id) {
                    s.restart(generation, &mut changes);
                }
                self.pushes.stop_origin(id);
                self.stats.state_restarts += 1;
                self.report(id, generation, changes);
            }
            Some(_) => {}
            None => {
                self.streams.insert(id, Stream { generation, ..Stream::default() });
            }
        }
        self.streams.get_mut(&id)
    }

    /// Turns stream changes of member `id` (life `generation`) into events.
    fn report(&mut self, id: Id, generation: u64, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        let name = self.entry(id).member.name.clone();
        for change in changes {
            self.events.push_back(match change {
                Change::Key { key, value, version } => {
                    Event::Updated { member: name.clone(), generation, key, value, version }
                }
                Change::Rumor { version, payload } => {
                    Event::Rumor { origin: name.clone(), generation, version, payload }
                }
            });
        }
    }

    /// An Update arrived from `from`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_update(
        &mut self,
        now: Duration,
        from: SocketAddr,
        origin: &str,
        generation: u64,
        version: u64,
        item: Item,
        feedback: bool,
    ) {
        let Some(id) = self.members.id(origin) else {
            self.stats.items_unknown_origin += 1;
            return;
        };
        // Our own items, and those of an earlier life of theirs, are not
        // news.
        let news =
            id != self.me && self.stream_for(id, generation).is_some_and(|s| !s.knows(version));
        if !news {
            if feedback {
                let origin = String::from(origin);
                self.send_alone(from, Message::Known { origin, generation, version });
            }
            return;
        }
        let mut changes = Vec::new();
        if let Some(stream) = self.streams.get_mut(&id) {
            stream.apply(version, item, now, &mut changes);
        }
        self.report(id, generation, changes);
        // News: spread it in turn.
        if self.pushes.start(id, version) {
            self.stats.pushes_evicted += 1;
        }
        self.push_now(now, id, version);
    }

    /// With `eager_push`, pushes item `version` of `origin` to
    /// `gossip_fanout` live members at once.
    fn push_now(&mut self, _now: Duration, origin: Id, version: u64) {
        if !self.config.eager_push {
            return;
        }
        let Some(msg) = self.update_message(origin, version) else { return };
        let targets = self.random_live_members(self.config.gossip_fanout, &[origin]);
        for (_, addr) in targets {
            self.send_big(addr, &msg);
            self.pushed(&[(origin, version)]);
        }
    }

    /// A Known arrived: one of our pushes was not news.
    pub(crate) fn handle_known(&mut self, origin: &str, generation: u64, version: u64) {
        let Some(id) = self.members.id(origin) else { return };
        if self.streams.get(&id).is_none_or(|s| s.generation != generation) {
            return;
        }
        let count = self.pushes.known(id, version);
        if let StopPolicy::Counter(k) = self.config.stop_policy {
            if count >= k {
                self.pushes.stop(id, version);
            }
        }
    }

    /// The Update message for item `version` of member `origin`, if held.
    fn update_message(&self, origin: Id, version: u64) -> Option<Message> {
        let stream = self.streams.get(&origin)?;
        let held = stream.items.get(&version)?;
        Some(Message::Update {
            origin: self.entry(origin).member.name.clone(),
            generation: stream.generation,
            version,
            item: held.item.clone(),
            feedback: matches!(self.config.stop_policy, StopPolicy::Counter(_)),
        })
    }

    /// Appends the items being spread to `b`, fewest pushes first; returns
    /// those added, and those too big for any datagram (they go over a
    /// stream).
    pub(crate) fn fill_items(&mut self, b: &mut DatagramBuilder) -> (Vec<(Id, u64)>, Vec<BigItem>) {
        let mut added = Vec::new();
        let mut big = Vec::new();
        let mut gone = Vec::new();
        let mut misfits = 0;
        let room = self.packet_budget().saturating_sub(codec::HEADER_LEN);
        let active: Vec<(Id, u64)> = self.pushes.iter().collect();
        for (origin, version) in active {
            let Some(msg) = self.update_message(origin, version) else {
                gone.push((origin, version)); // superseded or collected
                continue;
            };
            if self.try_push(b, &msg) {
                added.push((origin, version));
            } else if postcard::to_allocvec(&msg).map_or(0, |v| v.len()) > room {
                big.push((origin, version, msg));
            } else if misfits < 8 && b.remaining() >= 16 {
                misfits += 1;
            }
        }
        for (origin, version) in gone {
            self.pushes.stop(origin, version);
        }
        (added, big)
    }

    /// Counts one push of each item in `sent` and applies the stop policy.
    pub(crate) fn pushed(&mut self, sent: &[(Id, u64)]) {
        let limit = self.config.retransmit_limit(self.live_members());
        for &(origin, version) in sent {
            let pushes = self.pushes.pushed(origin, version);
            let stop = match self.config.stop_policy {
                StopPolicy::RetransmitLimit => pushes >= limit,
                // Feedback stops it; the cap only matters if nobody answers
                // (every peer gone).
                StopPolicy::Counter(_) => pushes >= 10 * limit,
                StopPolicy::Coin(k) => self.random_index(k as usize) == 0,
            };
            if stop {
                self.pushes.stop(origin, version);
            }
        }
    }

    /// Start of an anti-entropy period: sync with one peer.
    pub(crate) fn sync_tick(&mut self, now: Duration) {
        let period = self.config.push_pull_period(self.live_members());
        self.timers.arm(now + period, Timer::Sync);
        self.sync_once();
    }

    /// Starts one sync with a peer: a Summary first.
    pub(crate) fn sync_once(&mut self) {
        if self.leaving {
            return;
        }
        let Some(addr) = self.sync_peer() else { return };
        self.stats.syncs += 1;
        let (want_delta, want_digest) = match self.config.anti_entropy {
            AntiEntropyMode::Pull => (true, false),
            AntiEntropyMode::PushPull => (true, true),
            AntiEntropyMode::Push => (false, true),
        };
        // A hash first: in a quiet cluster both sides hold the same, and a
        // digest listing every member is not worth sending.
        let msg = Message::Summary {
            sender: self.name.clone(),
            hash: self.digest_hash(),
            want_delta,
            want_digest,
        };
        self.send_alone(addr, msg);
    }

    /// An order-independent hash of the digest we would send (without the
    /// collection horizons, which do not say what we hold).
    fn digest_hash(&self) -> u64 {
        use core::hash::{Hash, Hasher};
        let mut sum = 0u64;
        for (id, e) in self.members.iter() {
            let mut h = std::hash::DefaultHasher::new();
            let s = self.streams.get(&id);
            e.member.name.hash(&mut h);
            e.member.incarnation.hash(&mut h);
            self.rank(e.member.state).hash(&mut h);
            s.map_or(0, |s| s.generation).hash(&mut h);
            s.map_or(0, |s| s.watermark).hash(&mut h);
            sum = sum.wrapping_add(h.finish());
        }
        sum
    }

    /// A Summary arrived: if our hash differs, answer with our digest,
    /// asking for what the sender offered and offering what it asked for.
    pub(crate) fn handle_summary(
        &mut self,
        from: SocketAddr,
        sender: &str,
        hash: u64,
        want_delta: bool,
        want_digest: bool,
    ) {
        let known = self.live_member_at(sender, from);
        if known.is_none() {
            self.stats.syncs_refused += 1;
            return;
        }
        if hash == self.digest_hash() {
            self.stats.syncs_in_sync += 1;
            return;
        }
        if want_delta || want_digest {
            self.send_digest(from, want_digest, want_delta);
        }
    }

    /// Collects tombstones and delivered rumors older than
    /// `state_gc_grace`; runs every quarter of it.
    pub(crate) fn collect_tick(&mut self, now: Duration) {
        self.timers.arm(now + self.config.state_gc_grace / 4, Timer::Collect);
        if let Some(horizon) = now.checked_sub(self.config.state_gc_grace) {
            for stream in self.streams.values_mut() {
                stream.collect(horizon);
            }
        }
        self.reap(now);
    }

    /// Removes members dead or departed for longer than `reap_timeout`.
    pub(crate) fn reap(&mut self, now: Duration) {
        let gone = self.count(MemberState::Dead) + self.count(MemberState::Left);
        if gone == 0 {
            return;
        }
        let old: Vec<(Id, MemberState)> = self
            .members
            .iter()
            .filter(|&(id, e)| {
                id != self.me
                    && !e.member.state.is_live()
                    && now.saturating_sub(e.member.since) >= self.config.reap_timeout
            })
            .map(|(id, e)| (id, e.member.state))
            .collect();
        for (id, state) in old {
            self.counts[state as usize] -= 1;
            self.streams.remove(&id);
            self.pushes.stop_origin(id);
            self.broadcasts.remove(id);
            self.suspicions.remove(&id);
            self.members.reap(id);
            self.stats.reaped += 1;
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
                for (id, e) in self.members.iter() {
                    if id == self.me || !e.member.state.is_live() {
                        continue;
                    }
                    let n = e.member.name.as_str();
                    if first.is_none_or(|(f, _)| n < f) {
                        first = Some((n, e.member.addr));
                    }
                    if n > me && best.is_none_or(|(b, _)| n < b) {
                        best = Some((n, e.member.addr));
                    }
                }
                best.or(first).map(|(_, a)| a)
            }
        }
    }

    /// Our digest, in chunks that each fit a datagram, sorted by name.
    fn send_digest(&mut self, to: SocketAddr, want_delta: bool, want_digest: bool) {
        let all: Vec<DigestEntry> = self
            .members
            .names_in(None, None)
            .into_iter()
            .map(|id| {
                let e = &self.entry(id).member;
                let s = self.streams.get(&id);
                DigestEntry {
                    name: e.name.clone(),
                    incarnation: e.incarnation,
                    state: self.rank(e.state),
                    generation: s.map_or(0, |s| s.generation),
                    watermark: s.map_or(0, |s| s.watermark),
                    collected: s.map_or(0, |s| s.collected),
                }
            })
            .collect();
        // Room for the header, the flags and two bounds of the longest name.
        let budget = self.packet_budget().saturating_sub(
            codec::HEADER_LEN + 3 * (codec::MAX_NAME_LEN + 2) + 16 + self.name.len(),
        );
        let mut after: Option<String> = None;
        let mut chunk: Vec<DigestEntry> = Vec::new();
        let mut size = 0;
        let mut first = true;
        let total = all.len();
        for (i, entry) in all.into_iter().enumerate() {
            size += postcard::to_allocvec(&entry).map_or(0, |v| v.len());
            chunk.push(entry);
            let last = i + 1 == total;
            if size >= budget.saturating_sub(64) || last {
                let upto = if last { None } else { chunk.last().map(|e| e.name.clone()) };
                let next_after = upto.clone();
                let msg = Message::Digest {
                    sender: self.name.clone(),
                    after: after.take(),
                    upto,
                    entries: core::mem::take(&mut chunk),
                    want_delta,
                    want_digest: want_digest && first,
                };
                self.send_alone(to, msg);
                first = false;
                after = next_after;
                size = 0;
            }
        }
    }

    /// A Digest arrived from `from`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_digest(
        &mut self,
        from: SocketAddr,
        sender: &str,
        after: Option<String>,
        upto: Option<String>,
        entries: Vec<DigestEntry>,
        want_delta: bool,
        want_digest: bool,
    ) {
        // Only members we know, at their address: a forged digest must not
        // turn a small datagram into our whole state sent elsewhere.
        let Some(requester) = self.live_member_at(sender, from) else {
            self.stats.syncs_refused += 1;
            return;
        };
        if let Some(mine) = entries.iter().find(|e| e.name == self.name) {
            if mine.generation > self.generation {
                // A peer holds a later life of ours than this one: our boot
                // clock went back. Move past it, as a refutation moves past
                // an incarnation, so our state is not ignored.
                self.set_generation(mine.generation + 1);
                self.stats.state_restarts += 1;
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
        let ours = self.members.names_in(after, upto);
        let mut out =
            Outbox::new(self.packet_budget(), self.config.sync_max_datagrams, self.stream_budget());
        for id in ours {
            let e = &self.entry(id).member;
            let name = e.name.clone();
            let peer = theirs.get(name.as_str());
            let newer = match peer {
                None => true,
                Some(p) => (e.incarnation, self.rank(e.state)) > (p.incarnation, p.state),
            };
            if newer {
                if let Some(msg) = self.state_message(id) {
                    if !out.push(self, msg) {
                        break;
                    }
                }
            }
            // The requester's own stream is its to tell.
            let Some(stream) = self.streams.get(&id).filter(|_| id != requester) else { continue };
            let (pg, pw, pc) = peer.map_or((0, 0, 0), |p| (p.generation, p.watermark, p.collected));
            let from = if stream.generation < pg {
                continue; // the peer knows a later life
            } else if stream.generation > pg || (pw < stream.collected && pc < stream.collected) {
                0 // a later life, or we collected what it lacks: the whole stream
            } else {
                pw
            };
            if stream.watermark <= from {
                continue;
            }
            let items: Vec<(u64, Item)> = stream
                .items
                .range(from + 1..=stream.watermark)
                .map(|(v, Held { item, .. })| (*v, item.clone()))
                .collect();
            let range = (stream.generation, from, stream.watermark, stream.collected);
            if !self.push_delta(&mut out, name, range, items) {
                break;
            }
        }
        let (datagrams, stream) = out.finish();
        for b in datagrams {
            self.transmit(to, b);
        }
        if let Some(b) = stream {
            self.transmit_stream(to, b);
        }
    }

    /// Adds Delta messages for `member` covering `(from, watermark]`,
    /// split so each fits a datagram; returns false once the outbox is
    /// full (the rest waits for the next sync).
    fn push_delta(
        &mut self,
        out: &mut Outbox,
        member: String,
        (generation, from, watermark, collected): (u64, u64, u64, u64),
        items: Vec<(u64, Item)>,
    ) -> bool {
        let mut start = from;
        let mut chunk: Vec<(u64, Item)> = Vec::new();
        let mut size = 0;
        let room = self.packet_budget().saturating_sub(codec::HEADER_LEN + 64 + member.len());
        for (v, item) in items {
            let len = postcard::to_allocvec(&item).map_or(0, |b| b.len()) + 10;
            if !chunk.is_empty() && size + len > room {
                let through = chunk.last().map_or(start, |(v, _)| *v);
                let msg = Message::Delta {
                    member: member.clone(),
                    generation,
                    from: start,
                    through,
                    collected,
                    items: core::mem::take(&mut chunk),
                };
                if !out.push(self, msg) {
                    return false;
                }
                start = through;
                size = 0;
            }
            size += len;
            chunk.push((v, item));
        }
        let msg = Message::Delta {
            member,
            generation,
            from: start,
            through: watermark,
            collected,
            items: chunk,
        };
        out.push(self, msg)
    }

    /// A Delta arrived.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn handle_delta(
        &mut self,
        now: Duration,
        from_addr: SocketAddr,
        member: &str,
        generation: u64,
        from: u64,
        through: u64,
        collected: u64,
        items: Vec<(u64, Item)>,
    ) {
        let Some(id) = self.members.id(member) else {
            self.stats.items_unknown_origin += 1;
            return;
        };
        if id == self.me {
            return; // our own stream is ours to tell
        }
        // Deltas answer our digests: only live members send them. (A scan,
        // but deltas come a few per sync.)
        let known = self
            .members
            .iter()
            .any(|(_, e)| e.member.addr == from_addr && e.member.state.is_live());
        if !known {
            self.stats.syncs_refused += 1;
            return;
        }
        let Some(stream) = self.stream_for(id, generation) else { return };
        if from == 0 && !stream.items.is_empty() && collected > stream.watermark {
            self.stats.state_resets += 1;
        }
        let Some(stream) = self.streams.get_mut(&id) else { return };
        let mut changes = Vec::new();
        let present: Vec<u64> = items.iter().map(|(v, _)| *v).collect();
        for (version, item) in items {
            stream.apply(version, item, now, &mut changes);
        }
        stream.covered(from, through, collected, &present, &mut changes);
        self.report(id, generation, changes);
    }
}

fn check_key(key: &str) -> Result<(), ItemError> {
    if key.is_empty() || key.len() > codec::MAX_KEY_LEN {
        return Err(ItemError::BadKey { len: key.len() });
    }
    Ok(())
}

/// One anti-entropy answer: at most `max` datagrams, then (if streams are
/// enabled) one stream payload for the rest and for messages too big for
/// a datagram.
struct Outbox {
    done: Vec<DatagramBuilder>,
    current: DatagramBuilder,
    stream: Option<DatagramBuilder>,
    budget: usize,
    max: usize,
    stream_budget: usize,
}

impl Outbox {
    fn new(budget: usize, max: usize, stream_budget: usize) -> Outbox {
        Outbox {
            done: Vec::new(),
            current: DatagramBuilder::new(budget),
            stream: None,
            budget,
            max,
            stream_budget,
        }
    }

    /// Adds `msg`; false once there is no room left anywhere.
    fn push(&mut self, engine: &mut Engine, msg: Message) -> bool {
        if self.stream.is_none() {
            if engine.try_push(&mut self.current, &msg) {
                return true;
            }
            let fits_a_datagram = {
                let mut empty = DatagramBuilder::new(self.budget);
                empty.try_push(&msg)
            };
            if fits_a_datagram && self.done.len() + 1 < self.max {
                let full = core::mem::replace(&mut self.current, DatagramBuilder::new(self.budget));
                self.done.push(full);
                return engine.try_push(&mut self.current, &msg);
            }
            if self.stream_budget == 0 {
                if !fits_a_datagram {
                    // Too big for any datagram and no streams (a peer
                    // with a larger max_packet_size made it): skip it, so
                    // the members after it are still repaired.
                    engine.stats.items_oversized += 1;
                    return true;
                }
                return false;
            }
            self.stream = Some(DatagramBuilder::new(self.stream_budget));
        }
        let Some(s) = self.stream.as_mut() else { return false };
        if engine.try_push(s, &msg) {
            return true;
        }
        if s.is_empty() {
            // Too big even for a stream (a peer with a larger limit).
            engine.stats.items_oversized += 1;
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

//! The coordinator: [`Engine`] holds the parts (view, detector, piggyback,
//! item store and pushes, handshakes, timers, outbox), offers the pull API
//! and the commands, and dispatches each message and timer to its part.

use super::config::{Config, ConfigError};
use super::detector::Detector;
use super::event::Event;
use super::join::Handshakes;
use super::member::{Member, MemberState};
use super::outbox::{Outbox, Transmit};
use super::stats::Stats;
use super::table::{Entry, Id, NameNo, Names, Snapshot};
use super::timer::{Timer, Timers};
use super::view::View;
use crate::codec::{self, DecodeError, Key, Keyring, KeyringError, Message};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// [`Engine::set_meta`] was given more bytes than `max_meta_size`.
/// Doesn't affect the engine's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaTooLarge {
    /// Bytes given.
    pub len: usize,
    /// The configured limit.
    pub max: usize,
}

impl fmt::Display for MetaTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "metadata is {} bytes, max_meta_size allows at most {}", self.len, self.max)
    }
}

impl std::error::Error for MetaTooLarge {}

std::thread_local! {
    /// The room a datagram's messages are decoded into, reused by every
    /// engine of the thread from datagram to datagram. A fresh one per
    /// datagram (a few KiB for a datagram of claims) was an allocation
    /// large enough for glibc to consolidate its freed small chunks each
    /// time, which made the small allocations around it (a mass join's
    /// Joined events) several times slower. One per thread, not per
    /// engine: 10,000 simulated engines would keep 10,000.
    static DECODED: core::cell::Cell<Vec<(codec::Decoded<'static>, usize)>> =
        const { core::cell::Cell::new(Vec::new()) };
    /// The name numbers of a datagram's Alive claims, reused like
    /// [`DECODED`].
    static NUMBERS: core::cell::Cell<Vec<Option<NameNo>>> =
        const { core::cell::Cell::new(Vec::new()) };
}

/// Most messages whose room [`DECODED`] keeps (about 100 KiB): a stream
/// payload of many thousands gives its room back.
const DECODED_KEPT: usize = 1024;

/// Datagrams handled at one instant that show a backlog read at once.
const BURST: u32 = 32;

/// The protocol engine of one member. See the [module docs](super).
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: Config,
    /// This member's name.
    pub(crate) name: String,
    /// Every random draw of the engine, seeded by the driver.
    pub(crate) rng: ChaCha8Rng,
    /// Every known member, this node included, and the rules that change
    /// their states.
    pub(crate) view: View,
    /// Membership updates to gossip, and the sample cursor.
    pub(crate) piggyback: super::piggyback::Piggyback,
    /// Every member's replicated state and rumors as known here (item
    /// logs), and this member's life.
    pub(crate) store: super::items::Store,
    /// Items being spread (rumor mongering).
    pub(crate) pushes: super::mongering::Pushes,
    /// Lifeguard's local health score: 0 is healthy; probing runs
    /// `health + 1` times slower.
    pub(crate) health: u32,
    /// When a datagram or stream last decoded here (Lifeguard's deafness
    /// check before declaring a death).
    pub(crate) last_heard: Duration,
    /// Load shedding: the last time this node saw that it is behind on its
    /// own work (a timer handled late, a burst of datagrams at once, an ack
    /// after its probe's timeout, a backlog the driver reported). See
    /// [`Engine::is_behind`].
    pub(crate) behind_at: Option<Duration>,
    /// Datagrams handled at one `now` so far: `(now, count)`, to see a
    /// burst read at once.
    pub(crate) burst: (Duration, u32),
    /// The failure detector in force and what it keeps.
    pub(crate) detector: Detector,
    /// Joins and handshakes in progress.
    pub(crate) handshake: Handshakes,
    /// Join links: the members a join connected us to, pulled from while
    /// a burst of joins lasts (links.rs).
    pub(crate) links: super::links::Links,
    /// The last sequence number used (pings, relays).
    pub(crate) next_seq: u64,
    /// [`Engine::leave`] was called.
    pub(crate) leaving: bool,
    /// The anti-entropy period the first sync's phase was drawn within,
    /// until that sync comes (`sync_tick`).
    pub(crate) first_sync_drawn_for: Option<Duration>,
    /// The summary hash as last worked out, kept up to date from the
    /// journals of the table and the store while both run (see
    /// `Engine::digest_hash`).
    pub(crate) summary: Option<u64>,
    /// Eager gossip rounds run in the window starting at `eager_window`
    /// (see `Engine::gossip_news`).
    pub(crate) eager_rounds: u32,
    pub(crate) eager_window: Duration,
    /// Every timer armed, in firing order.
    pub(crate) timers: Timers,
    /// Since when no other member is alive (rejoin.rs).
    pub(crate) alone: super::rejoin::Alone,
    /// Transmits, events, counters and the keyring.
    pub(crate) out: Outbox,
}

impl Engine {
    /// Creates the engine of member `name`, reachable at `addr`.
    ///
    /// `seed` seeds the engine's RNG; `now` is the driver's current time.
    /// Fails if the config is invalid.
    pub fn new(
        config: Config,
        name: impl Into<String>,
        addr: SocketAddr,
        seed: u64,
        now: Duration,
    ) -> Result<Self, ConfigError> {
        Engine::with_snapshot(config, name, addr, seed, now, Arc::default())
    }

    /// Like [`Engine::new`], but names, addresses and metadata are interned
    /// in `names`, which other engines of this process may share: each
    /// pays for them once (see [`Names`]).
    pub fn with_names(
        config: Config,
        name: impl Into<String>,
        addr: SocketAddr,
        seed: u64,
        now: Duration,
        names: Arc<Names>,
    ) -> Result<Self, ConfigError> {
        let view = Snapshot::with_names(names, []);
        Engine::with_snapshot(config, name, addr, seed, now, view)
    }

    /// Like [`Engine::new`], but the engine starts out knowing the members
    /// of `view` (as if it had joined them), without a join. Engines built
    /// on one snapshot share its memory until their views diverge, which is
    /// how the simulator starts a large converged cluster. If `name` is in
    /// the view, its entry there describes this member: its incarnation and
    /// metadata are kept, its address becomes `addr` and its state alive
    /// (other engines on the view still hold the view's claim until this
    /// member refutes it).
    pub fn with_snapshot(
        config: Config,
        name: impl Into<String>,
        addr: SocketAddr,
        seed: u64,
        now: Duration,
        view: Arc<Snapshot>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let name = name.into();
        let mut engine = Engine {
            rng: ChaCha8Rng::seed_from_u64(seed),
            view: View::new(view, name.clone(), addr, now),
            piggyback: Default::default(),
            store: Default::default(),
            pushes: Default::default(),
            health: 0,
            last_heard: now,
            behind_at: None,
            burst: (now, 0),
            detector: Detector::new(config.failure_detector),
            handshake: Handshakes::default(),
            links: Default::default(),
            next_seq: 0,
            leaving: false,
            first_sync_drawn_for: None,
            summary: None,
            eager_rounds: 0,
            eager_window: now,
            timers: Timers::default(),
            alone: Default::default(),
            out: Outbox::new(None, config.max_packet_size, config.stream_frame_limit()),
            name,
            config,
        };
        if !engine.config.keys.is_empty() {
            // Deterministic until the driver calls set_entropy (the
            // simulator relies on that).
            let mut entropy = [0u8; 32];
            engine.rng.fill_bytes(&mut entropy);
            let (keys, label) = (&engine.config.keys, engine.config.label.as_bytes());
            engine.out.keyring = Some(Keyring::new(keys, label, entropy));
        }
        // Random phases keep members from probing and gossiping in lockstep.
        let probe_phase = engine.jitter(engine.config.probe_interval);
        let gossip_phase = engine.jitter(engine.config.gossip_interval);
        engine.start_detector(now, probe_phase);
        engine.timers.arm(now + gossip_phase, Timer::Gossip);
        if !engine.config.reconnect_interval.is_zero() {
            let phase = engine.jitter(engine.config.reconnect_interval);
            engine.timers.arm(now + phase, Timer::Reconnect);
        }
        if !engine.config.push_pull_interval.is_zero() {
            let period = engine.config.push_pull_period(engine.live_members());
            let phase = engine.jitter(period);
            engine.timers.arm(now + phase, Timer::Sync);
            engine.first_sync_drawn_for = Some(period);
        }
        engine.timers.arm(now + engine.config.state_gc_grace / 4, Timer::Collect);
        // Starts the summary hash kept by changes (one walk of the table
        // it starts with), so members learned later cost it no walk.
        engine.digest_hash();
        Ok(engine)
    }

    /// Sets which life of this member the engine runs: a number that must
    /// grow each time the member starts again under the same name (drivers
    /// use the boot time; the simulator counts restarts). Peers use it to
    /// tell this life's replicated state and rumors from an earlier life's,
    /// whose versions start over. Call it before the first `set` or
    /// `broadcast`; it is 0 otherwise.
    pub fn set_generation(&mut self, generation: u64) {
        self.store.set_generation(self.view.me, generation);
    }

    /// Seeds the nonces of sealed datagrams with 32 bytes of the operating
    /// system's randomness. Drivers must call it once, before the first
    /// datagram, when the config has keys: otherwise nonces derive from the
    /// engine's seed, and two members started with one seed would repeat
    /// them. A no-op without keys.
    pub fn set_entropy(&mut self, entropy: [u8; 32]) {
        if let Some(k) = self.out.keyring.as_mut() {
            k.reseed(entropy);
        }
    }

    /// The encryption keys, the primary first (empty without encryption).
    pub fn keys(&self) -> Vec<Key> {
        self.out.keyring.as_ref().map_or_else(Vec::new, Keyring::keys)
    }

    /// Accepts `key` from now on (sealing still uses the primary): the
    /// first step of a key rotation, done on every member.
    pub fn add_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.out.keyring.as_mut().ok_or(KeyringError::Disabled)?.add(key)
    }

    /// Seals with `key`, which must have been added, from now on: the
    /// second step of a rotation, once every member holds the key.
    pub fn use_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.out.keyring.as_mut().ok_or(KeyringError::Disabled)?.use_key(key)
    }

    /// Stops accepting `key` (not the primary): the last step of a
    /// rotation, once every member seals with the new key.
    pub fn remove_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.out.keyring.as_mut().ok_or(KeyringError::Disabled)?.remove(key)
    }

    /// This life of the member (see [`Engine::set_generation`]).
    pub fn generation(&self) -> u64 {
        self.store.generation
    }

    /// Lifeguard's local health multiplier: probing runs this many times
    /// slower than configured (1 when healthy).
    pub fn health_multiplier(&self) -> u32 {
        self.health + 1
    }

    /// Tells the engine that `waiting` datagrams are queued for it unread
    /// (the socket's receive queue, a backlog the driver could not drain
    /// before handling a timer). Any at all means an ack may be waiting
    /// among them: until it has caught up, the engine holds back the
    /// suspicions its own failed probes would raise (load shedding, see
    /// [`Engine::is_behind`]). Drivers call it when they know; 0 is a no-op.
    pub fn note_backlog(&mut self, now: Duration, waiting: usize) {
        if waiting > 0 {
            self.fell_behind(now);
        }
    }

    /// Whether this node is behind on its own work (load shedding): it saw
    /// a sign of it less than a probe interval ago. Only with Lifeguard,
    /// whose local health this extends: plain SWIM is left as published.
    ///
    /// A node behind does not turn its lateness into accusations: a probe
    /// that fails then is held for a check once it has caught up instead
    /// of starting a suspicion, a suspicion that expires then waits, and
    /// eager pushes stop. A storm of late acks thus dies out by itself.
    pub fn is_behind(&self, now: Duration) -> bool {
        self.behind_at.is_some_and(|t| now.saturating_sub(t) < self.config.probe_interval)
    }

    /// A sign that this node is behind on its own work.
    pub(crate) fn fell_behind(&mut self, now: Duration) {
        if self.config.lifeguard {
            self.behind_at = Some(self.behind_at.map_or(now, |t| t.max(now)));
        }
    }

    /// Raises (positive) or lowers Lifeguard's local health score.
    pub(crate) fn adjust_health(&mut self, delta: i64) {
        if !self.config.lifeguard {
            return;
        }
        let max = i64::from(self.config.awareness_max_multiplier) - 1;
        self.health = (i64::from(self.health) + delta).clamp(0, max) as u32;
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// This member as it announces itself (a copy: the engine keeps a
    /// compact entry, see `table.rs`).
    pub fn local_member(&self) -> Member {
        self.entry(self.view.me).to_member()
    }

    /// The entry of a member known to be in the table.
    pub(crate) fn entry(&self, id: Id) -> &Entry {
        self.view.entry(id)
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every known member, this node included, in name order. Dead and
    /// departed members stay listed with their state.
    /// Copies, built on demand from the compact entries.
    pub fn members(&self) -> impl Iterator<Item = Member> + '_ {
        self.view.table().names_in(None, None).into_iter().map(|id| self.entry(id).to_member())
    }

    /// Slots in the member table: the members held plus reaped ids not
    /// reused yet. Reaped ids are reused, so under churn through new names
    /// this stays near the most members known at once.
    pub fn table_len(&self) -> usize {
        self.view.table().len()
    }

    /// One member by name (a copy).
    pub fn member(&self, name: &str) -> Option<Member> {
        self.view.table().by_name(name).map(Entry::to_member)
    }

    /// Number of members alive or suspect, this node included.
    pub fn live_members(&self) -> usize {
        self.view.live_members()
    }

    /// Number of members in `state`, this node included.
    pub fn count(&self, state: MemberState) -> usize {
        self.view.count(state)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.out.stats
    }

    /// What the engine holds right now: members by state, queue depths,
    /// local health.
    pub fn gauges(&self) -> super::Gauges {
        super::Gauges {
            members: self.view.counts(),
            update_queue: self.piggyback.len(),
            push_queue: self.pushes.len(),
            health_multiplier: self.health_multiplier(),
        }
    }

    /// Whether [`Engine::leave`] was called.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Updates pending gossip (for tests and metrics).
    pub fn pending_updates(&self) -> usize {
        self.piggyback.len()
    }

    /// Rumors and state items being pushed (rumor mongering), at most
    /// [`super::MAX_PUSHES`].
    pub fn pending_pushes(&self) -> usize {
        self.pushes.len()
    }

    /// Leaves the cluster gracefully: gossips a `Left` notice about this
    /// node, stops probing, and reports [`Event::LeaveDone`] once the notice
    /// has been sent its retransmit limit (or at once if nobody is left to
    /// tell). Members that hear it report a departure, never a failure.
    /// A later [`Engine::join`] makes this member a member again.
    pub fn leave(&mut self, now: Duration) {
        if self.leaving {
            return;
        }
        self.leaving = true;
        let t = self.view.depart(now);
        self.apply(t);
        self.enqueue_update(self.view.me);
        if self.live_members() == 0 {
            self.finish_leave();
            return;
        }
        // Tell a few members at once rather than waiting for the next round.
        self.gossip_round(now);
    }

    /// Ends a leave, done or still being spread, when this member joins
    /// again: it announces itself alive at a higher incarnation (which
    /// replaces a pending `Left` notice in the gossip queue, and overrides
    /// it wherever it got), and probes, syncs and reconnects again. A leave
    /// still being spread is abandoned: it is never reported done.
    pub(crate) fn come_back(&mut self, now: Duration) {
        if !self.leaving {
            return;
        }
        self.leaving = false;
        let t = self.view.come_back(now);
        self.apply(t);
        self.enqueue_update(self.view.me);
    }

    /// Drops our pending leave notice, if still queued, and reports the
    /// leave as done.
    pub(crate) fn finish_leave(&mut self) {
        if self.piggyback.remove(self.view.me) {
            self.out.event(Event::LeaveDone);
        }
    }

    /// Sets this node's metadata and announces it with a higher incarnation.
    pub fn set_meta(&mut self, now: Duration, meta: Vec<u8>) -> Result<(), MetaTooLarge> {
        if meta.len() > self.config.max_meta_size {
            return Err(MetaTooLarge { len: meta.len(), max: self.config.max_meta_size });
        }
        self.view.set_meta(meta);
        self.view.announce(now, 0);
        self.enqueue_update(self.view.me);
        Ok(())
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_packet(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        // A burst handled at one instant: the driver read a backlog at
        // once (a stalled runtime catching up).
        if self.burst.0 == now {
            self.burst.1 += 1;
            if self.burst.1 == BURST {
                self.fell_behind(now);
            }
        } else {
            self.burst = (now, 1);
        }
        // Accept up to the largest UDP payload whatever our own
        // max_packet_size: a member configured with a larger one must not
        // look dead to us.
        self.handle_bytes(now, from, bytes, codec::MAX_DATAGRAM);
        self.gossip_news(now);
    }

    /// Feeds a stream payload received from the member gossiping at `from`
    /// (the address its stream header gave). Refused, and counted, when
    /// streams are disabled or it exceeds [`Config::stream_frame_limit`].
    pub fn handle_stream(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
        self.out.stats.streams_received += 1;
        self.handle_bytes(now, from, bytes, self.config.stream_frame_limit());
        self.gossip_news(now);
    }

    fn handle_bytes(&mut self, now: Duration, from: SocketAddr, bytes: &[u8], limit: usize) {
        self.out.stats.bytes_received += bytes.len() as u64;
        if bytes.len() > limit {
            self.count_drop(DecodeError::Oversized);
            return;
        }
        let opened;
        let bytes = match self.out.keyring.as_ref().map(|k| k.open(bytes)) {
            None => bytes,
            Some(Ok(plain)) => {
                opened = plain;
                &opened[..]
            }
            Some(Err(codec::OpenError::Unauthenticated)) => {
                self.out.stats.dropped_unauthenticated += 1;
                return;
            }
            Some(Err(codec::OpenError::Unencrypted)) => {
                self.out.stats.dropped_unencrypted += 1;
                return;
            }
        };
        let mut messages = codec::recycle(DECODED.take());
        if let Err(e) = codec::decode_borrowed_into(bytes, limit, &mut messages) {
            DECODED.set(codec::recycle(messages));
            self.count_drop(e);
            return;
        }
        self.out.stats.packets_received += 1;
        self.last_heard = now;
        // Every Alive claim's name is looked up at once, before any is
        // handled, and where each will be found is read ahead: the cache
        // misses of a datagram's claims overlap (a mass join handles 10⁸).
        let mut numbers = NUMBERS.take();
        numbers.clear();
        let alive_names = messages.iter().filter_map(|(m, _)| match m {
            codec::Decoded::Alive(alive) => Some(alive.name),
            codec::Decoded::Message(_) => None,
        });
        if alive_names.clone().next().is_some() {
            self.view.table().names().numbers(alive_names, &mut numbers);
            for &num in numbers.iter().flatten() {
                self.view.table().prefetch(num);
            }
        }
        let mut next = numbers.iter().copied();
        for (msg, size) in messages.drain(..) {
            self.out.stats.count_received(msg.kind(), size);
            match msg {
                codec::Decoded::Alive(alive) => {
                    let num = next.next().flatten();
                    self.apply_alive_numbered(now, alive, num);
                }
                codec::Decoded::Message(msg) => self.handle_message(now, from, msg),
            }
        }
        if numbers.capacity() <= DECODED_KEPT {
            NUMBERS.set(numbers);
        }
        if messages.capacity() <= DECODED_KEPT {
            DECODED.set(codec::recycle(messages));
        }
        // A pull's answer ends with its datagram.
        self.links.bulk = false;
        self.finish_handshake(now);
        self.watch_alone(now);
    }

    #[cold]
    fn count_drop(&mut self, e: DecodeError) {
        let s = &mut self.out.stats;
        match e {
            DecodeError::Truncated => s.dropped_truncated += 1,
            DecodeError::Oversized => s.dropped_oversized += 1,
            DecodeError::BadMagic => s.dropped_bad_magic += 1,
            // Sealed, and we hold no keys.
            DecodeError::UnsupportedFlags(f) if f & codec::FLAG_SEALED != 0 => {
                s.dropped_unauthenticated += 1
            }
            DecodeError::UnknownVersion(_) | DecodeError::UnsupportedFlags(_) => {
                s.dropped_unknown_version += 1
            }
            DecodeError::Malformed => s.dropped_malformed += 1,
            DecodeError::OutOfLimits => s.dropped_out_of_limits += 1,
        }
    }

    fn handle_message(&mut self, now: Duration, from: SocketAddr, msg: Message) {
        match msg {
            Message::Meet(meet) => self.handle_meet(now, from, meet),
            Message::Pong(pong) => self.handle_pong(now, from, pong),
            Message::Ping(ping) => self.handle_ping(from, ping),
            Message::Ack(ack) => {
                if !self.name_check_ack(ack.seq) {
                    self.handle_ack(now, ack.seq)
                }
            }
            Message::PingReq(req) => self.handle_ping_req(now, from, req),
            Message::Nack(nack) => self.handle_nack(nack.seq),
            Message::Alive(alive) => self.apply_alive(now, alive.as_ref()),
            Message::Suspect(accusation) => self.handle_suspect(now, accusation),
            Message::Dead(accusation) => self.apply_dead(now, accusation, MemberState::Dead, None),
            Message::Verdict(verdict) => {
                let reason = verdict.reason();
                let codec::Verdict { name, incarnation, from, .. } = verdict;
                let accusation = codec::Accusation { name, incarnation, from };
                self.apply_dead(now, accusation, MemberState::Dead, reason)
            }
            Message::Left(left) => {
                // A departure is the member's own word: it is its accuser.
                let from = left.name.clone();
                let notice =
                    codec::Accusation { name: left.name, incarnation: left.incarnation, from };
                self.apply_dead(now, notice, MemberState::Left, None)
            }
            Message::Update(update) => self.handle_update(now, from, update),
            Message::Known(known) => self.handle_known(known),
            Message::Digest(digest) => self.handle_digest(from, digest),
            Message::Summary(summary) => self.handle_summary(now, from, summary),
            Message::Busy(busy) => self.handle_busy(now, from, busy),
            Message::Conflict(conflict) => self.handle_conflict(conflict),
            Message::Delta(delta) => self.handle_delta(now, from, delta),
            Message::Pull(pull) => self.handle_pull(from, pull),
            Message::Pulled(pulled) => self.handle_pulled(from, pulled),
        }
    }

    /// The OS reported that a datagram this node sent to `addr` found no
    /// socket there (ICMP port-unreachable; a refused TCP connect goes to
    /// [`Engine::handle_refused_connect`]): evidence that the process at `addr` is gone while its
    /// host is up. Under SWIM with `closed_port_evidence`, a report about
    /// the member being probed is checked once and, confirmed, declares it
    /// dead at once; otherwise it is only counted (`Stats::unreachables`).
    pub fn handle_unreachable(&mut self, now: Duration, addr: SocketAddr) {
        self.name_check_unreachable(now, addr);
        self.detector_unreachable(now, addr);
    }

    /// A TCP connect to `addr` (a stream to that member) was refused: the
    /// same evidence as a closed UDP port, but it may only start the check
    /// of a probe, never confirm one. A member that carries no streams
    /// (`max_stream_size` 0) has no listener and refuses every connect
    /// while alive; only the probe's own check Ping speaks for its UDP
    /// port. Counted in `Stats::unreachables` like a closed port.
    pub fn handle_refused_connect(&mut self, now: Duration, addr: SocketAddr) {
        if self.swim_check_pending(addr) {
            self.out.stats.unreachables += 1;
        } else {
            self.detector_unreachable(now, addr);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some((due, timer)) = self.timers.pop_due(now) {
            // Handled well past its deadline: the runtime was busy or
            // stopped (the simulator's timers are never late otherwise).
            if now.saturating_sub(due) > self.config.probe_timeout / 4 {
                self.fell_behind(now);
            }
            match timer {
                Timer::Probe => self.probe_tick(now),
                Timer::ProbeTimeout { seq } => self.probe_timeout(now, seq),
                Timer::Gossip => self.gossip_tick(now),
                Timer::Suspicion { id, incarnation } => {
                    self.suspicion_expired(now, id, incarnation)
                }
                Timer::Relay { seq } => self.relay_timeout(now, seq),
                Timer::JoinRetry { token } => self.join_retry(now, token),
                Timer::NameCheck { seq } => self.name_check_timeout(now, seq),
                Timer::Reconnect => {
                    self.timers.arm(now + self.config.reconnect_interval, Timer::Reconnect);
                    self.reconnect();
                }
                Timer::Rejoin { since } => self.rejoin_tick(now, since),
                Timer::Sync => self.sync_tick(now),
                // While linked, the links carry the burst's news in bulk
                // (links.rs): a digest of the whole view on top is waste.
                Timer::SettleSync if self.links.is_linked() => {}
                Timer::SettleSync => self.sync_once(),
                Timer::Collect => self.collect_tick(now),
                Timer::Quorum => self.quorum_tick(now),
                Timer::Revive { id } => self.revive(now, id),
            }
        }
        self.gossip_news(now);
        self.watch_alone(now);
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_transmit()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.out.pop_event()
    }

    /// Drops the next event if it is [`Event::Joined`], and says whether it
    /// did: for a driver that only counts those. The simulator's mass joins
    /// report 10⁸ of them, and a skipped one never has its member built.
    pub fn skip_joined_event(&mut self) -> bool {
        self.out.skip_joined()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.next()
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// A uniformly random duration in `[0, max)`.
    pub(crate) fn jitter(&mut self, max: Duration) -> Duration {
        let nanos = max.as_nanos().max(1) as u64;
        Duration::from_nanos(self.rng.next_u64() % nanos)
    }

    /// A uniformly random index below `n` (`n > 0`).
    pub(crate) fn random_index(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    /// Up to `k` distinct random live members other than this node and
    /// those in `exclude`.
    pub(crate) fn random_live_members(
        &mut self,
        k: usize,
        exclude: &[Id],
    ) -> Vec<(Id, SocketAddr)> {
        self.random_members(k, |id, e| e.state().is_live() && !exclude.contains(&id))
    }

    /// Up to `k` distinct random members other than this node for which
    /// `pick` holds. Draws random ids first, which costs O(k) when most
    /// members qualify; falls back to a full scan only when few do.
    pub(crate) fn random_members(
        &mut self,
        k: usize,
        pick: impl Fn(Id, &Entry) -> bool,
    ) -> Vec<(Id, SocketAddr)> {
        let mut out: Vec<(Id, SocketAddr)> = Vec::with_capacity(k);
        let n = self.view.table().len();
        let mut attempts = 0;
        while out.len() < k && attempts < 4 * k + 16 && n > 0 {
            attempts += 1;
            let id = self.random_index(n) as Id;
            if id == self.view.me || out.iter().any(|(o, _)| *o == id) {
                continue;
            }
            if let Some(e) = self.view.table().get(id).filter(|e| pick(id, e)) {
                out.push((id, e.addr()));
            }
        }
        if out.len() < k {
            let mut pool: Vec<(Id, SocketAddr)> = self
                .view
                .table()
                .iter()
                .filter(|&(id, e)| {
                    id != self.view.me && pick(id, e) && !out.iter().any(|(o, _)| *o == id)
                })
                .map(|(id, e)| (id, e.addr()))
                .collect();
            // Partial Fisher-Yates: only the slots we take need to be random.
            let take = (k - out.len()).min(pool.len());
            for i in 0..take {
                let j = i + self.random_index(pool.len() - i);
                pool.swap(i, j);
            }
            pool.truncate(take);
            out.extend(pool);
        }
        out
    }

    /// Sends `msg` with a gossip section filling the rest of the datagram.
    /// The member `dst_id`, when known, is left out of the sample (it knows
    /// itself).
    pub(crate) fn send_with_gossip(&mut self, dst: SocketAddr, msg: Message, dst_id: Option<Id>) {
        let mut b = self.out.datagram();
        self.out.push(&mut b, &msg);
        self.fill_gossip(&mut b, dst_id);
        self.out.transmit(dst, b);
    }
}

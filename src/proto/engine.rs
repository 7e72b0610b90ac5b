//! The engine: state, the pull API, and message dispatch.

use super::config::{Config, ConfigError};
use super::event::Event;
use super::member::{Member, MemberState};
use super::probe::ProbeOrder;
use super::stats::Stats;
use super::table::{Entry, Id, Snapshot, Table};
use super::timer::{Timer, Timers};
use crate::codec::{self, DatagramBuilder, DecodeError, Key, Keyring, KeyringError, Message};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

/// Joiners whose view is still owed, at most.
const MAX_HANDSHAKES: usize = 256;

/// Gossip intervals after a join until its extra sync. Pushed at once,
/// the news of a burst of joins is spread within milliseconds, yet about
/// e^-8 of the member pairs miss it (the seed spends each joiner's
/// retransmit budget on the few members it knows by then); one push-pull
/// sync per joiner, two rounds later, closes those gaps in well under a
/// second instead of a push-pull interval.
const SETTLE_ROUNDS: u32 = 2;

/// A datagram the driver must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// The encoded datagram (or stream payload).
    pub payload: Vec<u8>,
    /// Send it over a reliable stream (TCP) to `dst`, not as a datagram: it
    /// may be up to `max_stream_size` bytes. The receiver hands it to
    /// [`Engine::handle_stream`].
    pub stream: bool,
}

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

/// The probe in flight, if any (one per probe interval).
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) seq: u64,
    pub(crate) target: Id,
    /// When the direct Ping went out (for the round-trip histogram).
    pub(crate) sent: Duration,
    pub(crate) acked: bool,
    pub(crate) nacks: u32,
    /// Indirect probes sent: as many nacks are expected if the relays are
    /// healthy (Lifeguard).
    pub(crate) indirect: u32,
}

/// A suspicion in progress (Lifeguard): when it started and who accused.
#[derive(Debug, Clone)]
pub(crate) struct Suspicion {
    pub(crate) start: Duration,
    pub(crate) incarnation: u64,
    /// Distinct accusers, the first one first.
    pub(crate) accusers: Vec<String>,
}

/// A PingReq this node is relaying.
#[derive(Debug, Clone)]
pub(crate) struct Relay {
    pub(crate) requester: SocketAddr,
    pub(crate) seq: u64,
    /// The Nack went out already.
    pub(crate) nacked: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct JoinAttempt {
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) deadline: Duration,
}

/// The protocol engine of one member. See the [module docs](super).
#[derive(Debug)]
pub struct Engine {
    pub(crate) config: Config,
    pub(crate) name: String,
    pub(crate) rng: ChaCha8Rng,
    /// Every known member, this node included, by id.
    pub(crate) members: Table,
    /// This node's id in `members`.
    pub(crate) me: Id,
    /// The id the next gossip sample starts at.
    pub(crate) sample_cursor: usize,
    /// Members by state, indexed like [`MemberState`].
    pub(crate) counts: [usize; 4],
    /// Members with an update to gossip, and how often each was sent.
    pub(crate) broadcasts: super::broadcast::TransmitQueue,
    pub(crate) probe_order: ProbeOrder,
    /// Every member's replicated state and rumors, as known here.
    pub(crate) streams: super::table::FixedHashMap<Id, super::store::Stream>,
    /// Items being spread (rumor mongering).
    pub(crate) pushes: super::store::Pushes,
    /// This life of the member (see [`Engine::set_generation`]).
    pub(crate) generation: u64,
    /// Lifeguard's local health score: 0 is healthy; probing runs
    /// `health + 1` times slower.
    pub(crate) health: u32,
    /// Suspicions in progress, by member.
    pub(crate) suspicions: super::table::FixedHashMap<Id, Suspicion>,
    pub(crate) probe: Option<Probe>,
    /// When a datagram or stream last decoded here (Lifeguard's deafness
    /// check before declaring a death).
    pub(crate) last_heard: Duration,
    /// The quorum detector's pings and reports (empty under SWIM).
    pub(crate) quorum: super::quorum::Quorum,
    pub(crate) relays: BTreeMap<u64, Relay>,
    pub(crate) joins: BTreeMap<u64, JoinAttempt>,
    pub(crate) next_seq: u64,
    pub(crate) leaving: bool,
    /// Set while handling a Pong: where to send the handshake's Ping.
    pub(crate) handshake_ping: Option<(SocketAddr, String, u64)>,
    /// Meets answered with only part of our view: `(token, joiner)`. The
    /// rest goes out once the joiner's Ping echoes the token from that
    /// address, so a forged Meet cannot turn a few bytes into our whole view
    /// sent to someone else. Bounded: the oldest are forgotten.
    pub(crate) handshakes: VecDeque<(u64, SocketAddr)>,
    pub(crate) timers: Timers,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) stats: Stats,
    /// Seals and opens every datagram when the config has keys.
    pub(crate) keyring: Option<Keyring>,
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
            members: Table::with_base(view),
            me: 0,
            sample_cursor: 0,
            counts: [0; 4],
            broadcasts: Default::default(),
            probe_order: ProbeOrder::default(),
            streams: Default::default(),
            pushes: Default::default(),
            generation: 0,
            health: 0,
            suspicions: Default::default(),
            probe: None,
            last_heard: now,
            quorum: Default::default(),
            relays: BTreeMap::new(),
            joins: BTreeMap::new(),
            next_seq: 0,
            leaving: false,
            handshake_ping: None,
            handshakes: VecDeque::new(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            keyring: None,
            name: name.clone(),
            config,
        };
        if !engine.config.keys.is_empty() {
            // Deterministic until the driver calls set_entropy (the
            // simulator relies on that).
            let mut entropy = [0u8; 32];
            engine.rng.fill_bytes(&mut entropy);
            let (keys, label) = (&engine.config.keys, engine.config.label.as_bytes());
            engine.keyring = Some(Keyring::new(keys, label, entropy));
        }
        engine.counts = engine.members.base_counts();
        match engine.members.id(&name) {
            Some(id) => {
                engine.me = id;
                let own = engine.members.get(id).map(|e| e.member.clone());
                if let Some(own) = own.filter(|m| m.addr != addr || m.state != MemberState::Alive) {
                    engine.counts[own.state as usize] -= 1;
                    engine.counts[MemberState::Alive as usize] += 1;
                    if let Some(e) = engine.members.get_mut(id) {
                        e.member.addr = addr;
                        e.member.state = MemberState::Alive;
                    }
                }
            }
            None => {
                let me = Member {
                    name,
                    addr,
                    incarnation: 0,
                    state: MemberState::Alive,
                    meta: Vec::new(),
                    since: now,
                };
                engine.me = engine.members.len() as Id;
                engine.insert(me, String::new());
            }
        }
        // Random phases keep members from probing and gossiping in lockstep.
        let probe_phase = engine.jitter(engine.config.probe_interval);
        let gossip_phase = engine.jitter(engine.config.gossip_interval);
        if engine.quorum_mode() {
            let phase = engine.jitter(engine.config.quorum_tick());
            engine.timers.arm(now + phase, Timer::Quorum);
        } else {
            engine.timers.arm(now + probe_phase, Timer::Probe);
        }
        engine.timers.arm(now + gossip_phase, Timer::Gossip);
        if !engine.config.reconnect_interval.is_zero() {
            let phase = engine.jitter(engine.config.reconnect_interval);
            engine.timers.arm(now + phase, Timer::Reconnect);
        }
        if !engine.config.push_pull_interval.is_zero() {
            let period = engine.config.push_pull_period(engine.live_members());
            let phase = engine.jitter(period);
            engine.timers.arm(now + phase, Timer::Sync);
        }
        engine.timers.arm(now + engine.config.state_gc_grace / 4, Timer::Collect);
        Ok(engine)
    }

    /// Sets which life of this member the engine runs: a number that must
    /// grow each time the member starts again under the same name (drivers
    /// use the boot time; the simulator counts restarts). Peers use it to
    /// tell this life's replicated state and rumors from an earlier life's,
    /// whose versions start over. Call it before the first `set` or
    /// `broadcast`; it is 0 otherwise.
    pub fn set_generation(&mut self, generation: u64) {
        self.generation = generation;
        if let Some(s) = self.streams.get_mut(&self.me) {
            s.generation = generation;
        }
    }

    /// Seeds the nonces of sealed datagrams with 32 bytes of the operating
    /// system's randomness. Drivers must call it once, before the first
    /// datagram, when the config has keys: otherwise nonces derive from the
    /// engine's seed, and two members started with one seed would repeat
    /// them. A no-op without keys.
    pub fn set_entropy(&mut self, entropy: [u8; 32]) {
        if let Some(k) = self.keyring.as_mut() {
            k.reseed(entropy);
        }
    }

    /// The encryption keys, the primary first (empty without encryption).
    pub fn keys(&self) -> Vec<Key> {
        self.keyring.as_ref().map_or_else(Vec::new, Keyring::keys)
    }

    /// Accepts `key` from now on (sealing still uses the primary): the
    /// first step of a key rotation, done on every member.
    pub fn add_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.add(key)
    }

    /// Seals with `key`, which must have been added, from now on: the
    /// second step of a rotation, once every member holds the key.
    pub fn use_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.use_key(key)
    }

    /// Stops accepting `key` (not the primary): the last step of a
    /// rotation, once every member seals with the new key.
    pub fn remove_key(&mut self, key: Key) -> Result<(), KeyringError> {
        self.keyring.as_mut().ok_or(KeyringError::Disabled)?.remove(key)
    }

    /// Bytes a datagram's messages may take: `max_packet_size`, less what
    /// sealing adds.
    pub(crate) fn packet_budget(&self) -> usize {
        self.config.max_packet_size - self.seal_overhead()
    }

    /// Bytes a stream payload's messages may take (0: streams are off).
    pub(crate) fn stream_budget(&self) -> usize {
        self.config.stream_frame_limit().saturating_sub(self.seal_overhead())
    }

    fn seal_overhead(&self) -> usize {
        if self.keyring.is_some() {
            codec::SEAL_OVERHEAD
        } else {
            0
        }
    }

    /// This life of the member (see [`Engine::set_generation`]).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Lifeguard's local health multiplier: probing runs this many times
    /// slower than configured (1 when healthy).
    pub fn health_multiplier(&self) -> u32 {
        self.health + 1
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

    /// This member as it announces itself.
    pub fn local_member(&self) -> &Member {
        &self.entry(self.me).member
    }

    /// The entry of a member known to be in the table.
    pub(crate) fn entry(&self, id: Id) -> &Entry {
        self.members.get(id).expect("ids come from the table and are never removed")
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Every known member, this node included, in name order. Dead and
    /// departed members stay listed with their state.
    pub fn members(&self) -> impl Iterator<Item = &Member> {
        let mut all: Vec<&Member> = self.members.iter().map(|(_, e)| &e.member).collect();
        all.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        all.into_iter()
    }

    /// One member by name.
    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.by_name(name).map(|e| &e.member)
    }

    /// Number of members alive or suspect, this node included.
    pub fn live_members(&self) -> usize {
        self.counts[MemberState::Alive as usize] + self.counts[MemberState::Suspect as usize]
    }

    /// Number of members in `state`, this node included.
    pub fn count(&self, state: MemberState) -> usize {
        self.counts[state as usize]
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// What the engine holds right now: members by state, queue depths,
    /// local health.
    pub fn gauges(&self) -> super::Gauges {
        super::Gauges {
            members: self.counts,
            update_queue: self.broadcasts.len(),
            push_queue: self.pushes.len(),
            health_multiplier: self.health_multiplier(),
        }
    }

    /// Whether [`Engine::leave`] was called.
    pub fn is_leaving(&self) -> bool {
        self.leaving
    }

    /// Updates pending gossip (for tests and metrics).
    pub fn pending_broadcasts(&self) -> usize {
        self.broadcasts.len()
    }

    /// Rumors and state items being pushed (rumor mongering), at most
    /// [`super::MAX_PUSHES`].
    pub fn pending_pushes(&self) -> usize {
        self.pushes.len()
    }

    /// Starts joining the cluster through `seeds`: sends each a Meet and
    /// resends until one answers or `timeout` passes. Returns a token that
    /// the matching [`Event::JoinSucceeded`] or [`Event::JoinFailed`] carries.
    pub fn join(&mut self, now: Duration, seeds: &[SocketAddr], timeout: Duration) -> u64 {
        let token = self.rng.next_u64();
        let me = self.local_member().addr;
        let seeds: Vec<SocketAddr> = seeds.iter().copied().filter(|s| *s != me).collect();
        if seeds.is_empty() {
            self.events.push_back(Event::JoinFailed { token });
            return token;
        }
        self.joins.insert(token, JoinAttempt { seeds, deadline: now + timeout });
        self.send_meets(token);
        let retry = self.config.probe_timeout.min(timeout);
        self.timers.arm(now + retry, Timer::JoinRetry { token });
        token
    }

    /// Leaves the cluster gracefully: gossips a `Left` notice about this
    /// node, stops probing, and reports [`Event::LeaveDone`] once the notice
    /// has been sent its retransmit limit (or at once if nobody is left to
    /// tell). Members that hear it report a departure, never a failure.
    pub fn leave(&mut self, now: Duration) {
        if self.leaving {
            return;
        }
        self.leaving = true;
        self.set_state(self.me, MemberState::Left, now);
        self.enqueue_broadcast(self.me);
        if self.live_members() == 0 {
            self.finish_leave();
            return;
        }
        // Tell a few members at once rather than waiting for the next round.
        self.gossip_round(now);
    }

    /// Drops our pending leave notice, if still queued, and reports the
    /// leave as done.
    fn finish_leave(&mut self) {
        if self.broadcasts.remove(self.me) {
            self.events.push_back(Event::LeaveDone);
        }
    }

    /// Sets this node's metadata and announces it with a higher incarnation.
    pub fn set_meta(&mut self, now: Duration, meta: Vec<u8>) -> Result<(), MetaTooLarge> {
        if meta.len() > self.config.max_meta_size {
            return Err(MetaTooLarge { len: meta.len(), max: self.config.max_meta_size });
        }
        if let Some(e) = self.members.get_mut(self.me) {
            e.member.meta = meta;
            e.member.incarnation = (e.member.incarnation + 1).min(crate::codec::MAX_INCARNATION);
            e.member.since = now;
        }
        self.enqueue_broadcast(self.me);
        Ok(())
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_packet(&mut self, now: Duration, from: SocketAddr, bytes: &[u8]) {
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
        self.stats.streams_received += 1;
        self.handle_bytes(now, from, bytes, self.config.stream_frame_limit());
        self.gossip_news(now);
    }

    fn handle_bytes(&mut self, now: Duration, from: SocketAddr, bytes: &[u8], limit: usize) {
        self.stats.bytes_received += bytes.len() as u64;
        if bytes.len() > limit {
            self.count_drop(DecodeError::Oversized);
            return;
        }
        let opened;
        let bytes = match self.keyring.as_ref().map(|k| k.open(bytes)) {
            None => bytes,
            Some(Ok(plain)) => {
                opened = plain;
                &opened[..]
            }
            Some(Err(codec::OpenError::Unauthenticated)) => {
                self.stats.dropped_unauthenticated += 1;
                return;
            }
            Some(Err(codec::OpenError::Unencrypted)) => {
                self.stats.dropped_unencrypted += 1;
                return;
            }
        };
        let messages = match codec::decode_sized(bytes, limit) {
            Ok(m) => m,
            Err(e) => {
                self.count_drop(e);
                return;
            }
        };
        self.stats.packets_received += 1;
        self.last_heard = now;
        for (msg, size) in messages {
            self.stats.count_received(msg.kind(), size);
            self.handle_message(now, from, msg);
        }
        if let Some((addr, target, token)) = self.handshake_ping.take() {
            // A Ping carrying our gossip, so the seed learns what we know
            // too, including a refutation of its stale view of us.
            let id = self.members.id(&target);
            self.send_with_gossip(addr, Message::Ping { seq: token, target }, id);
        }
    }

    #[cold]
    fn count_drop(&mut self, e: DecodeError) {
        let s = &mut self.stats;
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
            Message::Meet { token, name, addr, incarnation, meta } => {
                if self.leaving {
                    return;
                }
                self.apply_alive(now, name, addr, incarnation, meta);
                self.answer_meet(token, from);
            }
            Message::Pong { token, name, addr, incarnation, meta } => {
                let target = name.clone();
                self.apply_alive(now, name, addr, incarnation, meta);
                if self.joins.remove(&token).is_some() {
                    self.events.push_back(Event::JoinSucceeded { token, seed: from });
                    if !self.config.push_pull_interval.is_zero() {
                        let settle = self.config.gossip_interval * SETTLE_ROUNDS;
                        self.timers.arm(now + settle, Timer::SettleSync);
                    }
                }
                // Third step of the handshake, sent once the rest of the
                // datagram (the seed's view) has been applied. Its sequence
                // number echoes the token: proof that we own our address.
                self.handshake_ping = Some((addr, target, token));
            }
            Message::Ping { seq, target } => {
                if target != self.name {
                    self.stats.misdirected_pings += 1;
                    return;
                }
                self.send_with_gossip(from, Message::Ack { seq }, None);
                if let Some(i) = self.handshakes.iter().position(|h| *h == (seq, from)) {
                    self.handshakes.remove(i);
                    self.send_view(from, None);
                }
            }
            Message::Ack { seq } => self.handle_ack(now, seq),
            Message::PingReq { seq, target, addr } => self.relay_ping(now, from, seq, target, addr),
            Message::Nack { seq } => {
                if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
                    p.nacks += 1;
                }
            }
            Message::Alive { name, addr, incarnation, meta } => {
                self.apply_alive(now, name, addr, incarnation, meta)
            }
            Message::Suspect { name, incarnation, from } => {
                self.apply_suspect(now, &name, incarnation, from)
            }
            Message::Dead { name, incarnation, from } => {
                self.apply_dead(now, &name, incarnation, from, MemberState::Dead)
            }
            Message::Left { name, incarnation } => {
                let from = name.clone();
                self.apply_dead(now, &name, incarnation, from, MemberState::Left)
            }
            Message::Update { origin, generation, version, item, feedback } => {
                self.handle_update(now, from, &origin, generation, version, item, feedback)
            }
            Message::Known { origin, generation, version } => {
                self.handle_known(&origin, generation, version)
            }
            Message::Digest { sender, after, upto, entries, want_delta, want_digest } => {
                self.handle_digest(from, &sender, after, upto, entries, want_delta, want_digest)
            }
            Message::Summary { sender, hash, want_delta, want_digest } => {
                self.handle_summary(from, &sender, hash, want_delta, want_digest)
            }
            Message::Delta { member, generation, from: from_v, through, collected, items } => {
                self.handle_delta(now, from, &member, generation, from_v, through, collected, items)
            }
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Duration) {
        while let Some(timer) = self.timers.pop_due(now) {
            match timer {
                Timer::Probe => self.probe_tick(now),
                Timer::ProbeTimeout { seq } => self.probe_timeout(now, seq),
                Timer::Gossip => {
                    let next = now + self.config.gossip_interval;
                    self.timers.arm(next, Timer::Gossip);
                    if self.leaving && self.live_members() == 0 {
                        // Everyone else left or died meanwhile: nobody is
                        // left to tell, so the leave is complete.
                        self.finish_leave();
                    }
                    if !self.broadcasts.is_empty() || !self.pushes.is_empty() {
                        self.gossip_round(now);
                    }
                }
                Timer::Suspicion { id, incarnation } => {
                    self.suspicion_expired(now, id, incarnation)
                }
                Timer::Relay { seq } => {
                    // First at 80% of the probe timeout (Lifeguard): nack,
                    // so the requester hears from us before it settles,
                    // and keep forwarding a late ack until the timeout.
                    match self.relays.get_mut(&seq) {
                        Some(r) if !r.nacked => {
                            r.nacked = true;
                            let (to, nack) = (r.requester, Message::Nack { seq: r.seq });
                            self.send_alone(to, nack);
                            let rest = self.config.probe_timeout / 5;
                            self.timers.arm(now + rest, Timer::Relay { seq });
                        }
                        Some(_) => {
                            self.relays.remove(&seq);
                        }
                        None => {}
                    }
                }
                Timer::JoinRetry { token } => self.join_retry(now, token),
                Timer::Reconnect => {
                    self.timers.arm(now + self.config.reconnect_interval, Timer::Reconnect);
                    self.reconnect();
                }
                Timer::Sync => self.sync_tick(now),
                Timer::SettleSync => self.sync_once(),
                Timer::Collect => self.collect_tick(now),
                Timer::Quorum => self.quorum_tick(now),
                Timer::Revive { id } => self.revive(now, id),
            }
        }
        self.gossip_news(now);
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Duration> {
        self.timers.next()
    }

    /// Heals partitions (Serf's reconnect): tell one random dead member
    /// that we hold it dead, then meet it. If it is in fact alive it refutes
    /// at once, answers with a Pong at its new incarnation and its view, and
    /// the two sides of the partition gossip each other back to life.
    fn reconnect(&mut self) {
        if self.leaving || self.count(MemberState::Dead) == 0 {
            return;
        }
        let dead: Vec<Id> = self
            .members
            .iter()
            .filter(|(_, e)| e.member.state == MemberState::Dead)
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return;
        }
        let id = dead[self.random_index(dead.len())];
        let Some(claim) = self.state_message(id) else { return };
        let addr = self.entry(id).member.addr;
        let me = self.local_member().clone();
        let token = self.rng.next_u64();
        self.stats.reconnects += 1;
        let meet = Message::Meet {
            token,
            name: me.name,
            addr: me.addr,
            incarnation: me.incarnation,
            meta: me.meta,
        };
        // Both in one datagram when they fit (long names and metadata in a
        // small max_packet_size may not): the claim first, so the member
        // refutes before it answers the Meet.
        let mut b = DatagramBuilder::new(self.packet_budget());
        self.push(&mut b, &claim);
        if !self.try_push(&mut b, &meet) {
            self.transmit(addr, b);
            b = DatagramBuilder::new(self.packet_budget());
            self.push(&mut b, &meet);
        }
        self.transmit(addr, b);
    }

    fn join_retry(&mut self, now: Duration, token: u64) {
        let Some(attempt) = self.joins.get(&token) else {
            return;
        };
        if now >= attempt.deadline {
            self.joins.remove(&token);
            self.events.push_back(Event::JoinFailed { token });
            return;
        }
        let deadline = attempt.deadline;
        self.send_meets(token);
        let next = (now + self.config.probe_timeout).min(deadline);
        self.timers.arm(next, Timer::JoinRetry { token });
    }

    fn send_meets(&mut self, token: u64) {
        let Some(attempt) = self.joins.get(&token) else {
            return;
        };
        let seeds = attempt.seeds.clone();
        let me = self.local_member().clone();
        for seed in seeds {
            self.send_alone(
                seed,
                Message::Meet {
                    token,
                    name: me.name.clone(),
                    addr: me.addr,
                    incarnation: me.incarnation,
                    meta: me.meta.clone(),
                },
            );
        }
    }

    /// Second step of the handshake: a Pong followed by as much of our view
    /// of the membership as fits, so the joiner knows (almost) everyone at
    /// once instead of waiting for gossip to bring each member. If the view
    /// does not fit, the rest follows the joiner's Ping (see `handshakes`).
    fn answer_meet(&mut self, token: u64, to: SocketAddr) {
        let me = self.local_member().clone();
        let pong = Message::Pong {
            token,
            name: me.name,
            addr: me.addr,
            incarnation: me.incarnation,
            meta: me.meta,
        };
        if !self.send_view(to, Some(pong)) {
            if self.handshakes.len() >= MAX_HANDSHAKES {
                self.handshakes.pop_front();
            }
            self.handshakes.push_back((token, to));
        }
    }

    /// Sends our view of every other member to `to`: with `first`, in one
    /// datagram that starts with `first` (returns whether everything fit);
    /// without, in as many datagrams as it takes (returns true).
    fn send_view(&mut self, to: SocketAddr, first: Option<Message>) -> bool {
        let one_datagram = first.is_some();
        let mut b = DatagramBuilder::new(self.packet_budget());
        if let Some(m) = first {
            self.push(&mut b, &m);
        }
        let mut complete = true;
        for id in 0..self.members.len() as Id {
            if id == self.me {
                continue;
            }
            let Some(msg) = self.state_message(id) else { continue };
            if self.try_push(&mut b, &msg) {
                continue;
            }
            if one_datagram {
                complete = false;
                break;
            }
            self.transmit(to, b);
            b = DatagramBuilder::new(self.packet_budget());
            self.push(&mut b, &msg);
        }
        self.transmit(to, b);
        complete
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
        self.random_members(k, |id, e| e.member.state.is_live() && !exclude.contains(&id))
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
        let n = self.members.len();
        let mut attempts = 0;
        while out.len() < k && attempts < 4 * k + 16 && n > 0 {
            attempts += 1;
            let id = self.random_index(n) as Id;
            if id == self.me || out.iter().any(|(o, _)| *o == id) {
                continue;
            }
            if let Some(e) = self.members.get(id).filter(|e| pick(id, e)) {
                out.push((id, e.member.addr));
            }
        }
        if out.len() < k {
            let mut pool: Vec<(Id, SocketAddr)> = self
                .members
                .iter()
                .filter(|&(id, e)| {
                    id != self.me && pick(id, e) && !out.iter().any(|(o, _)| *o == id)
                })
                .map(|(id, e)| (id, e.member.addr))
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

    pub(crate) fn push(&mut self, b: &mut DatagramBuilder, msg: &Message) {
        let before = b.bytes();
        b.push(msg);
        self.stats.count_sent(msg.kind(), b.bytes() - before);
    }

    pub(crate) fn try_push(&mut self, b: &mut DatagramBuilder, msg: &Message) -> bool {
        let before = b.bytes();
        let ok = b.try_push(msg);
        if ok {
            self.stats.count_sent(msg.kind(), b.bytes() - before);
        }
        ok
    }

    /// Sends the datagram built in `b` (no-op if empty).
    pub(crate) fn transmit(&mut self, dst: SocketAddr, b: DatagramBuilder) {
        self.queue(dst, b, false);
    }

    /// Sends a stream payload built in `b` (no-op if empty).
    pub(crate) fn transmit_stream(&mut self, dst: SocketAddr, b: DatagramBuilder) {
        self.queue(dst, b, true);
    }

    fn queue(&mut self, dst: SocketAddr, b: DatagramBuilder, stream: bool) {
        if b.is_empty() {
            return;
        }
        let mut payload = b.finish();
        if let Some(k) = self.keyring.as_mut() {
            payload = k.seal(&payload);
        }
        if stream {
            self.stats.streams_sent += 1;
        } else {
            self.stats.packets_sent += 1;
        }
        self.stats.bytes_sent += payload.len() as u64;
        self.transmits.push_back(Transmit { dst, payload, stream });
    }

    /// The id of `name` if it is a live member other than us, reachable at
    /// `addr`. Requests that make us send more than they weigh (PingReq,
    /// Digest, Summary) are answered only then, so a forged one cannot aim
    /// our traffic at someone else.
    pub(crate) fn live_member_at(&self, name: &str, addr: SocketAddr) -> Option<Id> {
        self.members.id(name).filter(|&id| {
            id != self.me
                && self
                    .members
                    .get(id)
                    .is_some_and(|e| e.member.state.is_live() && e.member.addr == addr)
        })
    }

    /// Sends one message in a datagram of its own, or over a stream if it
    /// is too big for one.
    pub(crate) fn send_big(&mut self, dst: SocketAddr, msg: &Message) {
        let mut b = DatagramBuilder::new(self.packet_budget());
        if self.try_push(&mut b, msg) {
            self.transmit(dst, b);
        } else {
            let mut b = DatagramBuilder::new(self.stream_budget());
            if self.config.max_stream_size > 0 && self.try_push(&mut b, msg) {
                self.transmit_stream(dst, b);
            } else {
                self.stats.items_oversized += 1;
            }
        }
    }

    /// Sends one message in a datagram of its own.
    pub(crate) fn send_alone(&mut self, dst: SocketAddr, msg: Message) {
        let mut b = DatagramBuilder::new(self.packet_budget());
        self.push(&mut b, &msg);
        self.transmit(dst, b);
    }

    /// Sends `msg` with a gossip section filling the rest of the datagram.
    /// The member `dst_id`, when known, is left out of the sample (it knows
    /// itself).
    pub(crate) fn send_with_gossip(&mut self, dst: SocketAddr, msg: Message, dst_id: Option<Id>) {
        let mut b = DatagramBuilder::new(self.packet_budget());
        self.push(&mut b, &msg);
        self.fill_gossip(&mut b, dst_id);
        self.transmit(dst, b);
    }
}

//! Joining: the Meet / Pong / Ping handshake (Redis Cluster bus) from
//! both sides, the retries of a join in progress, and reconnecting to dead
//! members after a partition. Owns the join attempts and the handshakes
//! owed.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::table::Id;
use super::timer::Timer;
use crate::codec::{self, Message};
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::Rng;

/// Joiners whose view is still owed, at most.
const MAX_HANDSHAKES: usize = 256;

/// Handshakes a seed serves per `gossip_interval`. Each costs a Pong, a
/// bounded piece of the view, a Joined event and news to gossip; a burst of
/// Meets beyond it is refused (a Busy naming other members, which serve as
/// well as the seed), so the work of a seed stays bounded however many join
/// at once, and the members joined so far share the rest of the burst.
const HANDSHAKES_PER_WINDOW: u32 = 128;

/// Busy refusals a seed sends per `gossip_interval`: one small datagram
/// each, no state kept. Meets beyond it are dropped (counted in
/// `Stats::meets_dropped`): a flood of Meets costs the seed a counter, and
/// the joiners' backoff brings them back later.
const REFUSALS_PER_WINDOW: u32 = 16 * HANDSHAKES_PER_WINDOW;

/// Live members a refusal names, for the joiner to meet instead.
const REFERRALS: usize = 4;

/// Datagrams of view a seed sends after a joiner's Ping, at most (on top of
/// the piece in the Pong's datagram). A larger view is handed out in part:
/// each joiner gets a different slice, and gossip, the member sample and
/// the joiner's settle sync bring it the rest. Bounds a handshake's answer
/// whatever the cluster's size.
const VIEW_DATAGRAMS: u32 = 8;

/// A joiner's backoff between Meets that got no answer doubles from
/// `probe_timeout` up to this many times it.
const MAX_BACKOFF_MULT: u32 = 8;

/// Gossip intervals after a join until its extra sync. Pushed at once,
/// the news of a burst of joins is spread within milliseconds, yet about
/// e^-8 of the member pairs miss it (the seed spends each joiner's
/// retransmit budget on the few members it knows by then); one push-pull
/// sync per joiner, two rounds later, closes those gaps in well under a
/// second instead of a push-pull interval.
const SETTLE_ROUNDS: u32 = 2;

/// Gossip intervals after a join that a seed refused at first until a
/// second sync. Refused means a burst of joins is on, lasting longer than
/// the first sync waits: members joining alongside may have spread their
/// news before we were known to anyone, and the first sync's peer may not
/// have had it yet. Matching summaries make it one small exchange.
const LATE_SETTLE_ROUNDS: u32 = 15;

/// The joins and handshakes in progress.
#[derive(Debug, Default)]
pub(crate) struct Handshakes {
    /// Our join attempts, by token.
    joins: BTreeMap<u64, JoinAttempt>,
    /// Set while handling a Pong: where to send the handshake's Ping.
    ping: Option<HandshakePing>,
    /// Meets answered with only part of our view. The rest goes out once
    /// the joiner's Ping echoes the token from that address, so a forged
    /// Meet cannot turn a few bytes into our whole view sent to someone
    /// else. Bounded: the oldest are forgotten.
    owed: VecDeque<OwedView>,
    /// Where the current window of handshake budget started.
    window: Duration,
    /// Handshakes served in the current window.
    served: u32,
    /// Busy refusals sent in the current window.
    refused: u32,
    /// Where the view handed to the next joiner starts: joiners of a large
    /// cluster get different slices of it.
    cursor: Id,
    /// Set while handling a Pong of a join in progress: the join completes
    /// once the rest of the datagram is applied, unless it told us that our
    /// name is held alive elsewhere (`own_claim`).
    pong: Option<(u64, SocketAddr, JoinAttempt)>,
    /// An Alive claim about our name at another address, `(addr,
    /// incarnation)`, met while a join of ours completes or is being
    /// checked: not refuted yet.
    own_claim: Option<(SocketAddr, u64)>,
    /// The check of our name's holder, if one runs (see [`NameCheck`]).
    check: Option<NameCheck>,
    /// Where a live member was found holding our name: claims from there
    /// are not refuted (that would take its name over) until we join
    /// again.
    conflicted: Option<SocketAddr>,
}

/// Names are identities. A seed that holds the joiner's name alive at
/// another address says so right after its Pong (and one whose own name
/// it is refuses with a [`Message::Conflict`]). Before announcing itself
/// above that claim, which would take the name over, the joiner checks
/// the address with a Ping to its own name. An Ack means a live member
/// holds it: the join fails ([`Event::JoinConflict`], naming the holder),
/// nothing was announced, and the holder is left as it was everywhere.
/// A closed port (reported twice, as crash evidence is) or no answer
/// within `probe_timeout` means the old process is gone (a restart on a
/// new port or host before anyone noticed): the joiner refutes the claim
/// from its new address and the join succeeds; the others report
/// [`Event::Restarted`]. The check runs at the joiner so that the seed
/// answers at once, as always: a seed restarted during a rollout strands
/// no join. A holder paused for longer than the check loses its name, and
/// refutes when it wakes (see `apply_alive`).
#[derive(Debug, Clone)]
pub(crate) struct NameCheck {
    /// The sequence number of the Ping to the holder.
    seq: u64,
    /// The holder's address and incarnation, as claimed.
    holder: SocketAddr,
    incarnation: u64,
    /// The join waiting on it: its token, the seed that answered, the
    /// attempt.
    token: u64,
    seed: SocketAddr,
    attempt: JoinAttempt,
    /// A closed port was reported once already.
    closed: bool,
}

impl Handshakes {
    /// Joiners that have yet to prove their address: a forged Meet must
    /// not draw gossip to its victim.
    pub(crate) fn unproven(&self) -> Vec<SocketAddr> {
        self.owed.iter().map(|h| h.joiner).collect()
    }

    /// Whether a join of ours is in progress (rejoin.rs).
    pub(crate) fn joining(&self) -> bool {
        !self.joins.is_empty() || self.check.is_some()
    }

    /// A claim that we are alive at `addr` at `incarnation`: held back if a
    /// join of ours is completing or checking our name's holder (true);
    /// left to the usual refutation otherwise (false).
    pub(crate) fn hold_own_claim(&mut self, addr: SocketAddr, incarnation: u64) -> bool {
        if let Some(c) = &self.check {
            return c.holder == addr;
        }
        if self.conflicted == Some(addr) {
            return true;
        }
        if self.pong.is_none() {
            return false;
        }
        if self.own_claim.is_none_or(|(_, i)| incarnation > i) {
            self.own_claim = Some((addr, incarnation));
        }
        true
    }
}

/// The third step of a handshake, owed once the Pong's datagram is applied.
#[derive(Debug, Clone)]
pub(crate) struct HandshakePing {
    /// The seed's address.
    pub(crate) addr: SocketAddr,
    /// The seed's name.
    pub(crate) target: String,
    /// The join token, echoed as the Ping's sequence number.
    pub(crate) token: u64,
}

/// A Meet answered with only part of our view: the rest (up to
/// `VIEW_DATAGRAMS` datagrams of it) is owed once the joiner's Ping echoes
/// `token` from `joiner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwedView {
    pub(crate) token: u64,
    pub(crate) joiner: SocketAddr,
    /// The member the rest starts at.
    pub(crate) next: Id,
    /// Members of the view not visited yet.
    pub(crate) left: u32,
}

/// A join in progress: the seeds it asks, until when.
#[derive(Debug, Clone)]
pub(crate) struct JoinAttempt {
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) deadline: Duration,
    /// Members named by the seeds that refused us: the next Meet goes to
    /// one of them rather than to the seeds.
    pub(crate) referrals: Vec<SocketAddr>,
    /// Meets sent without an answer, or refused, so far: the backoff.
    pub(crate) tries: u32,
    /// A seed refused us at least once: a burst of joins is on.
    pub(crate) refused: bool,
    /// When the next Meet is due: a retry timer firing earlier was
    /// overtaken (timers are never cancelled).
    pub(crate) next_try: Duration,
}

impl Engine {
    /// Starts joining the cluster through `seeds`: sends each a Meet and
    /// resends until one answers or `timeout` passes. Returns a token that
    /// the matching [`Event::JoinSucceeded`] or [`Event::JoinFailed`] carries.
    ///
    /// After [`Engine::leave`] (done or still being spread) this member
    /// comes back: it announces itself alive at a higher incarnation, which
    /// the others report as a join, and the leave, if still being spread,
    /// is abandoned (no [`Event::LeaveDone`] for it). It comes back as soon
    /// as the Meets go out, before any seed answers: they must carry the
    /// new incarnation, or the seeds would hold on to the `Left` notice.
    pub fn join(&mut self, now: Duration, seeds: &[SocketAddr], timeout: Duration) -> u64 {
        let token = self.rng.next_u64();
        let me = self.local_member().addr;
        let seeds: Vec<SocketAddr> = seeds.iter().copied().filter(|s| *s != me).collect();
        if seeds.is_empty() {
            self.out.event(Event::JoinFailed { token });
            return token;
        }
        self.come_back(now);
        self.handshake.conflicted = None;
        // Jittered like every retry: joiners started together (a fleet
        // restart) that a busy seed dropped must not all come back at once.
        let retry = now + self.backoff(1).min(timeout);
        let attempt = JoinAttempt {
            seeds,
            deadline: now + timeout,
            referrals: Vec::new(),
            tries: 0,
            refused: false,
            next_try: retry,
        };
        self.handshake.joins.insert(token, attempt);
        self.send_meets(token);
        self.timers.arm(retry, Timer::JoinRetry { token });
        token
    }

    /// First step of a join, at the seed: learn the joiner, answer; or, when
    /// this window's handshakes are spent, refuse cheaply (see
    /// `HANDSHAKES_PER_WINDOW`): the joiner is not learnt, so a refused Meet
    /// makes no news to gossip.
    pub(crate) fn handle_meet(&mut self, now: Duration, from: SocketAddr, meet: codec::Handshake) {
        if self.leaving {
            return;
        }
        let h = &mut self.handshake;
        if now >= h.window + self.config.gossip_interval {
            h.window = now;
            h.served = 0;
            h.refused = 0;
        }
        if h.served >= HANDSHAKES_PER_WINDOW {
            if h.refused >= REFUSALS_PER_WINDOW {
                self.out.stats.meets_dropped += 1;
                return;
            }
            h.refused += 1;
            self.out.stats.meets_refused += 1;
            self.refuse_meet(meet.token, from);
            return;
        }
        h.served += 1;
        let me = self.local_member().addr;
        if meet.name == self.name && meet.addr != me {
            // Our own name, from another process: we hold it, and live.
            self.out.stats.name_conflicts += 1;
            let (token, name) = (meet.token, meet.name);
            let conflict = codec::Conflict { token, name, holder: me };
            self.out.send_alone(from, Message::Conflict(conflict));
            return;
        }
        let codec::Handshake { token, name, addr, incarnation, meta } = meet;
        // What we hold of that name at another address goes first, so the
        // joiner checks it whatever slice of our view follows.
        let held = self.view.table().id(&name).filter(|&id| self.entry(id).addr() != addr);
        let held = held.and_then(|id| self.view.state_message(id));
        // First-hand news: gossiped even while linked (links.rs).
        self.links.first_hand = true;
        self.apply_alive(now, codec::AliveRef { name: &name, addr, incarnation, meta: &meta });
        self.links.first_hand = false;
        self.links.add(from);
        self.answer_meet(token, from, held);
    }

    /// A seed refused our join attempt: it holds our name itself, at
    /// `holder`. The join ends there (it would fail at every seed).
    pub(crate) fn handle_conflict(&mut self, conflict: codec::Conflict) {
        let codec::Conflict { token, name, holder } = conflict;
        if name != self.name || self.handshake.joins.remove(&token).is_none() {
            return;
        }
        self.handshake.conflicted = Some(holder);
        self.out.stats.joins_conflicted += 1;
        self.out.event(Event::JoinConflict { token, holder });
    }

    /// After the Pong's datagram: the join succeeds, or, if the seed told
    /// us our name is held alive elsewhere, waits on a check of the holder.
    fn complete_join(&mut self, now: Duration) {
        let Some((token, seed, attempt)) = self.handshake.pong.take() else { return };
        let Some((holder, incarnation)) = self.handshake.own_claim.take() else {
            self.join_succeeded(now, token, seed, &attempt);
            return;
        };
        self.out.stats.name_checks += 1;
        let seq = self.next_seq();
        let closed = false;
        let check = NameCheck { seq, holder, incarnation, token, seed, attempt, closed };
        self.handshake.check = Some(check);
        let target = self.name.clone();
        self.out.send_alone(holder, Message::Ping(codec::Ping { seq, target }));
        self.timers.arm(now + self.config.probe_timeout, Timer::NameCheck { seq });
    }

    /// Join attempt `token` is done: report it, and sync soon after.
    fn join_succeeded(&mut self, now: Duration, token: u64, seed: SocketAddr, a: &JoinAttempt) {
        self.out.event(Event::JoinSucceeded { token, seed });
        if !self.config.push_pull_interval.is_zero() {
            let settle = self.config.gossip_interval * SETTLE_ROUNDS;
            self.timers.arm(now + settle, Timer::SettleSync);
            if a.refused {
                let late = self.config.gossip_interval * LATE_SETTLE_ROUNDS;
                self.timers.arm(now + late, Timer::SettleSync);
            }
        }
    }

    /// An Ack: if it answers the check of our name's holder, the name is
    /// taken and the join fails. Returns whether it did.
    pub(crate) fn name_check_ack(&mut self, seq: u64) -> bool {
        if self.handshake.check.as_ref().is_none_or(|c| c.seq != seq) {
            return false;
        }
        let Some(c) = self.handshake.check.take() else { return false };
        self.handshake.conflicted = Some(c.holder);
        self.out.stats.joins_conflicted += 1;
        self.out.event(Event::JoinConflict { token: c.token, holder: c.holder });
        true
    }

    /// A closed port at `addr`: if it is our name's holder being checked,
    /// the first report sends the Ping again, the second confirms that the
    /// old process is gone.
    pub(crate) fn name_check_unreachable(&mut self, now: Duration, addr: SocketAddr) {
        if !self.config.closed_port_evidence {
            return;
        }
        let Some(c) = self.handshake.check.as_mut().filter(|c| c.holder == addr) else { return };
        if !c.closed {
            c.closed = true;
            let ping = codec::Ping { seq: c.seq, target: self.name.clone() };
            self.out.send_alone(addr, Message::Ping(ping));
            return;
        }
        self.name_check_passed(now);
    }

    /// The check of our name's holder got no answer within
    /// `probe_timeout`: gone as far as we can tell (a host down, or moved).
    pub(crate) fn name_check_timeout(&mut self, now: Duration, seq: u64) {
        if self.handshake.check.as_ref().is_some_and(|c| c.seq == seq) {
            self.name_check_passed(now);
        }
    }

    /// The old process under our name is gone: announce ourselves above
    /// its claim, from here, and the join succeeds.
    fn name_check_passed(&mut self, now: Duration) {
        let Some(c) = self.handshake.check.take() else { return };
        self.out.stats.name_checks_passed += 1;
        if !self.leaving {
            self.refute(now, c.incarnation, MemberState::Alive);
            // The seed first: our view may still hold members at addresses
            // they left (a rollout), the seed's is fresh, and its eager
            // gossip carries the news from there at once.
            let me = self.view.me;
            if let Some(claim) = self.view.state_message(me) {
                self.out.send_alone(c.seed, claim);
            }
        }
        self.join_succeeded(now, c.token, c.seed, &c.attempt);
    }

    /// Refuses the Meet of join attempt `token` from `to`, naming a few
    /// random live members it may meet instead: not joiners yet to prove
    /// their address (a forged Meet must not turn others' joins on its
    /// victim), nor the joiner itself. O(REFERRALS) draws.
    fn refuse_meet(&mut self, token: u64, to: SocketAddr) {
        let unproven = self.handshake.unproven();
        let members: Vec<SocketAddr> = self
            .random_members(REFERRALS, |_, e| {
                e.state().is_live() && e.addr() != to && !unproven.contains(&e.addr())
            })
            .into_iter()
            .map(|(_, addr)| addr)
            .collect();
        self.out.send_alone(to, Message::Busy(codec::Busy { token, members }));
    }

    /// A seed refused our Meet: back off, then try again, through one of the
    /// members it named if any. Not a failure: the join's deadline still
    /// decides that.
    pub(crate) fn handle_busy(&mut self, now: Duration, from: SocketAddr, busy: codec::Busy) {
        let me = self.local_member().addr;
        let gossip_interval = self.config.gossip_interval;
        let Some(attempt) = self.handshake.joins.get_mut(&busy.token) else {
            return;
        };
        self.out.stats.joins_refused += 1;
        attempt.tries += 1;
        attempt.refused = true;
        let named: Vec<SocketAddr> = busy
            .members
            .into_iter()
            .filter(|a| *a != me && *a != from)
            .take(codec::MAX_BUSY_MEMBERS)
            .collect();
        let tries = attempt.tries;
        let deadline = attempt.deadline;
        // Try elsewhere soon (members named are unlikely to be as busy);
        // with nowhere else to go, try later, backing off.
        let wait = if named.is_empty() {
            self.backoff(tries)
        } else {
            gossip_interval / 2 + self.jitter(gossip_interval / 2)
        };
        let Some(attempt) = self.handshake.joins.get_mut(&busy.token) else {
            return;
        };
        if !named.is_empty() {
            attempt.referrals = named;
        }
        let next = (now + wait).min(deadline);
        attempt.next_try = next;
        self.timers.arm(next, Timer::JoinRetry { token: busy.token });
    }

    /// How long to wait before the next Meet after `tries` unanswered or
    /// refused: `probe_timeout` doubling up to `MAX_BACKOFF_MULT` times it,
    /// drawn uniformly from its upper half so joiners refused together
    /// come back apart.
    fn backoff(&mut self, tries: u32) -> Duration {
        let mult = 1u32 << tries.saturating_sub(1).min(MAX_BACKOFF_MULT.trailing_zeros());
        let b = self.config.probe_timeout * mult;
        b / 2 + self.jitter(b / 2)
    }

    /// Second step of a join, at the joiner: learn the seed.
    pub(crate) fn handle_pong(&mut self, now: Duration, from: SocketAddr, pong: codec::Handshake) {
        let codec::Handshake { token, name, addr, incarnation, meta } = pong;
        let target = name.clone();
        let joined = self.handshake.joins.remove(&token);
        let is_join = joined.is_some();
        if let Some(attempt) = joined {
            // Completed once the rest of the datagram is applied.
            self.handshake.pong = Some((token, from, attempt));
        }
        self.contest_pong(from, &name, incarnation);
        self.apply_alive(now, codec::AliveRef { name: &name, addr, incarnation, meta: &meta });
        if is_join {
            self.links.add(from);
            // The seed's view follows in this datagram: bulk (links.rs).
            self.handle_pulled(from, codec::Pulled { upto: 0 });
        }
        // Third step of the handshake, sent once the rest of the datagram
        // (the seed's view) has been applied. Its sequence number echoes the
        // token: proof that we own our address.
        self.handshake.ping = Some(HandshakePing { addr, target, token });
    }

    /// A probe of us (direct or relayed): ack it, and finish a handshake
    /// whose Ping this is.
    pub(crate) fn handle_ping(&mut self, from: SocketAddr, ping: codec::Ping) {
        let codec::Ping { seq, target } = ping;
        if target != self.name {
            self.out.stats.misdirected_pings += 1;
            return;
        }
        self.send_with_gossip(from, Message::Ack(codec::Ack { seq }), None);
        if let Some(i) = self.handshake.owed.iter().position(|h| h.token == seq && h.joiner == from)
        {
            let owed = self.handshake.owed.remove(i).expect("found");
            if self.send_view(from, None, None, owed.next, owed.left, VIEW_DATAGRAMS).is_some() {
                self.out.stats.views_truncated += 1;
            }
        }
    }

    /// Heals partitions (Serf's reconnect): tell one random dead member
    /// that we hold it dead, then meet it. If it is in fact alive it refutes
    /// at once, answers with a Pong at its new incarnation and its view, and
    /// the two sides of the partition gossip each other back to life.
    pub(crate) fn reconnect(&mut self) {
        if self.leaving || self.count(MemberState::Dead) == 0 {
            return;
        }
        let dead: Vec<Id> = self
            .view
            .table()
            .iter()
            .filter(|(_, e)| e.state() == MemberState::Dead)
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return;
        }
        let id = dead[self.random_index(dead.len())];
        let Some(claim) = self.view.state_message(id) else { return };
        let addr = self.entry(id).addr();
        let me = self.local_member().clone();
        let token = self.rng.next_u64();
        self.out.stats.reconnects += 1;
        let meet = Message::Meet(codec::Handshake {
            token,
            name: me.name,
            addr: me.addr,
            incarnation: me.incarnation,
            meta: me.meta,
        });
        // Both in one datagram when they fit (long names and metadata in a
        // small max_packet_size may not): the claim first, so the member
        // refutes before it answers the Meet.
        let mut b = self.out.datagram();
        self.out.push(&mut b, &claim);
        if !self.out.try_push(&mut b, &meet) {
            self.out.transmit(addr, b);
            b = self.out.datagram();
            self.out.push(&mut b, &meet);
        }
        self.out.transmit(addr, b);
    }

    /// The retry timer of join attempt `token`: give up at the deadline,
    /// else Meet again and back off (jittered exponential backoff, so
    /// joiners a seed could not answer together do not come back together).
    pub(crate) fn join_retry(&mut self, now: Duration, token: u64) {
        let Some(attempt) = self.handshake.joins.get(&token) else {
            return;
        };
        if now >= attempt.deadline {
            self.handshake.joins.remove(&token);
            self.out.event(Event::JoinFailed { token });
            return;
        }
        if now < attempt.next_try {
            // Overtaken: a refusal moved the next Meet.
            return;
        }
        let (deadline, tries) = (attempt.deadline, attempt.tries + 1);
        self.send_meets(token);
        let next = (now + self.backoff(tries)).min(deadline);
        if let Some(attempt) = self.handshake.joins.get_mut(&token) {
            attempt.tries = tries;
            attempt.next_try = next;
        }
        self.timers.arm(next, Timer::JoinRetry { token });
    }

    /// Meets for join attempt `token`: to one member a refusal named, if
    /// any is left (each is tried once), else to every seed.
    fn send_meets(&mut self, token: u64) {
        let Some(attempt) = self.handshake.joins.get(&token) else {
            return;
        };
        let seeds = if attempt.referrals.is_empty() {
            attempt.seeds.clone()
        } else {
            let i = self.random_index(attempt.referrals.len());
            let Some(attempt) = self.handshake.joins.get_mut(&token) else { return };
            alloc::vec![attempt.referrals.swap_remove(i)]
        };
        let me = self.local_member().clone();
        for seed in seeds {
            self.out.send_alone(
                seed,
                Message::Meet(codec::Handshake {
                    token,
                    name: me.name.clone(),
                    addr: me.addr,
                    incarnation: me.incarnation,
                    meta: me.meta.clone(),
                }),
            );
        }
    }

    /// Second step of the handshake: a Pong followed by as much of our view
    /// of the membership as fits, so the joiner knows (almost) everyone at
    /// once instead of waiting for gossip to bring each member. If the view
    /// does not fit, more follows the joiner's Ping (see `Handshakes::owed`),
    /// at most `VIEW_DATAGRAMS` datagrams. The piece starts where the last
    /// joiner's did not, so joiners of a large cluster learn different
    /// members from the seed and tell each other the rest.
    fn answer_meet(&mut self, token: u64, to: SocketAddr, held: Option<Message>) {
        let me = self.local_member().clone();
        let pong = Message::Pong(codec::Handshake {
            token,
            name: me.name,
            addr: me.addr,
            incarnation: me.incarnation,
            meta: me.meta,
        });
        let n = self.view.table().len() as Id;
        let start = if self.handshake.cursor < n { self.handshake.cursor } else { 0 };
        match self.send_view(to, Some(pong), held, start, n, 1) {
            None => self.handshake.cursor = 0,
            Some((next, left)) => {
                self.handshake.cursor = next;
                if self.handshake.owed.len() >= MAX_HANDSHAKES {
                    self.handshake.owed.pop_front();
                }
                self.handshake.owed.push_back(OwedView { token, joiner: to, next, left });
            }
        }
    }

    /// Sends our view of the other members to `to`, `left` of them at most
    /// starting at member `start` (wrapping around the table), in at most
    /// `datagrams` datagrams, the first starting with `first` if given.
    /// Returns where it stopped and how many members were left unvisited,
    /// or `None` if it got through them all.
    fn send_view(
        &mut self,
        to: SocketAddr,
        first: Option<Message>,
        second: Option<Message>,
        start: Id,
        left: Id,
        datagrams: u32,
    ) -> Option<(Id, Id)> {
        // Each datagram after the Pong's is headed like a pull's answer
        // (from nowhere in particular): the joiner, linked to us, takes
        // the view in bulk, not as news to gossip again (links.rs).
        let head = Message::Pulled(codec::Pulled { upto: 0 });
        let mut b = self.out.datagram();
        match first {
            Some(m) => self.out.push(&mut b, &m),
            None => self.out.push(&mut b, &head),
        }
        if let Some(m) = second {
            // The claim on the joiner's name the Pong asks it to check.
            if !self.out.try_push(&mut b, &m) {
                self.out.transmit(to, b);
                b = self.out.datagram();
                self.out.push(&mut b, &head);
                self.out.push(&mut b, &m);
            }
        }
        let n = self.view.table().len() as Id;
        let mut sent = 1;
        let mut stopped = None;
        if n > 0 {
            for i in 0..left {
                let id = (start + i) % n;
                if id == self.view.me {
                    continue;
                }
                let Some(msg) = self.view.claim(id) else { continue };
                if self.out.try_push(&mut b, &msg) {
                    continue;
                }
                if sent == datagrams {
                    stopped = Some((id, left - i));
                    break;
                }
                self.out.transmit(to, b);
                b = self.out.datagram();
                sent += 1;
                self.out.push(&mut b, &head);
                self.out.push(&mut b, &msg);
            }
        }
        self.out.transmit(to, b);
        stopped
    }

    /// After a datagram is applied: the handshake's third step, if a Pong
    /// in it asked for one.
    pub(crate) fn finish_handshake(&mut self, now: Duration) {
        self.complete_join(now);
        if let Some(HandshakePing { addr, target, token }) = self.handshake.ping.take() {
            // A Ping carrying our gossip, so the seed learns what we know
            // too, including a refutation of its stale view of us.
            let id = self.view.table().id(&target);
            self.send_with_gossip(addr, Message::Ping(codec::Ping { seq: token, target }), id);
        }
    }
}

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

/// Gossip intervals after a join until its extra sync. Pushed at once,
/// the news of a burst of joins is spread within milliseconds, yet about
/// e^-8 of the member pairs miss it (the seed spends each joiner's
/// retransmit budget on the few members it knows by then); one push-pull
/// sync per joiner, two rounds later, closes those gaps in well under a
/// second instead of a push-pull interval.
const SETTLE_ROUNDS: u32 = 2;

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
}

impl Handshakes {
    /// Joiners that have yet to prove their address: a forged Meet must
    /// not draw gossip to its victim.
    pub(crate) fn unproven(&self) -> Vec<SocketAddr> {
        self.owed.iter().map(|h| h.joiner).collect()
    }

    /// Whether a join of ours is in progress (rejoin.rs).
    pub(crate) fn joining(&self) -> bool {
        !self.joins.is_empty()
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

/// A Meet answered with only part of our view: the rest is owed once the
/// joiner's Ping echoes `token` from `joiner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OwedView {
    pub(crate) token: u64,
    pub(crate) joiner: SocketAddr,
}

/// A join in progress: the seeds it asks, until when.
#[derive(Debug, Clone)]
pub(crate) struct JoinAttempt {
    pub(crate) seeds: Vec<SocketAddr>,
    pub(crate) deadline: Duration,
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
        self.handshake.joins.insert(token, JoinAttempt { seeds, deadline: now + timeout });
        self.send_meets(token);
        let retry = self.config.probe_timeout.min(timeout);
        self.timers.arm(now + retry, Timer::JoinRetry { token });
        token
    }

    /// First step of a join, at the seed: learn the joiner, answer.
    pub(crate) fn handle_meet(&mut self, now: Duration, from: SocketAddr, meet: codec::Handshake) {
        if self.leaving {
            return;
        }
        let codec::Handshake { token, name, addr, incarnation, meta } = meet;
        self.apply_alive(now, codec::Alive { name, addr, incarnation, meta });
        self.answer_meet(token, from);
    }

    /// Second step of a join, at the joiner: learn the seed.
    pub(crate) fn handle_pong(&mut self, now: Duration, from: SocketAddr, pong: codec::Handshake) {
        let codec::Handshake { token, name, addr, incarnation, meta } = pong;
        let target = name.clone();
        self.contest_pong(from, &name, incarnation);
        self.apply_alive(now, codec::Alive { name, addr, incarnation, meta });
        if self.handshake.joins.remove(&token).is_some() {
            self.out.event(Event::JoinSucceeded { token, seed: from });
            if !self.config.push_pull_interval.is_zero() {
                let settle = self.config.gossip_interval * SETTLE_ROUNDS;
                self.timers.arm(now + settle, Timer::SettleSync);
            }
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
        if let Some(i) =
            self.handshake.owed.iter().position(|h| *h == OwedView { token: seq, joiner: from })
        {
            self.handshake.owed.remove(i);
            self.send_view(from, None);
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
            .filter(|(_, e)| e.member.state == MemberState::Dead)
            .map(|(id, _)| id)
            .collect();
        if dead.is_empty() {
            return;
        }
        let id = dead[self.random_index(dead.len())];
        let Some(claim) = self.view.state_message(id) else { return };
        let addr = self.entry(id).member.addr;
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

    pub(crate) fn join_retry(&mut self, now: Duration, token: u64) {
        let Some(attempt) = self.handshake.joins.get(&token) else {
            return;
        };
        if now >= attempt.deadline {
            self.handshake.joins.remove(&token);
            self.out.event(Event::JoinFailed { token });
            return;
        }
        let deadline = attempt.deadline;
        self.send_meets(token);
        let next = (now + self.config.probe_timeout).min(deadline);
        self.timers.arm(next, Timer::JoinRetry { token });
    }

    fn send_meets(&mut self, token: u64) {
        let Some(attempt) = self.handshake.joins.get(&token) else {
            return;
        };
        let seeds = attempt.seeds.clone();
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
    /// does not fit, the rest follows the joiner's Ping (see `Handshakes::owed`).
    fn answer_meet(&mut self, token: u64, to: SocketAddr) {
        let me = self.local_member().clone();
        let pong = Message::Pong(codec::Handshake {
            token,
            name: me.name,
            addr: me.addr,
            incarnation: me.incarnation,
            meta: me.meta,
        });
        if !self.send_view(to, Some(pong)) {
            if self.handshake.owed.len() >= MAX_HANDSHAKES {
                self.handshake.owed.pop_front();
            }
            self.handshake.owed.push_back(OwedView { token, joiner: to });
        }
    }

    /// Sends our view of every other member to `to`: with `first`, in one
    /// datagram that starts with `first` (returns whether everything fit);
    /// without, in as many datagrams as it takes (returns true).
    fn send_view(&mut self, to: SocketAddr, first: Option<Message>) -> bool {
        let one_datagram = first.is_some();
        let mut b = self.out.datagram();
        if let Some(m) = first {
            self.out.push(&mut b, &m);
        }
        let mut complete = true;
        for id in 0..self.view.table().len() as Id {
            if id == self.view.me {
                continue;
            }
            let Some(msg) = self.view.state_message(id) else { continue };
            if self.out.try_push(&mut b, &msg) {
                continue;
            }
            if one_datagram {
                complete = false;
                break;
            }
            self.out.transmit(to, b);
            b = self.out.datagram();
            self.out.push(&mut b, &msg);
        }
        self.out.transmit(to, b);
        complete
    }

    /// After a datagram is applied: the handshake's third step, if a Pong
    /// in it asked for one.
    pub(crate) fn finish_handshake(&mut self) {
        if let Some(HandshakePing { addr, target, token }) = self.handshake.ping.take() {
            // A Ping carrying our gossip, so the seed learns what we know
            // too, including a refutation of its stale view of us.
            let id = self.view.table().id(&target);
            self.send_with_gossip(addr, Message::Ping(codec::Ping { seq: token, target }), id);
        }
    }
}

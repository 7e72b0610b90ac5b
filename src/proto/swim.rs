//! SWIM failure detection with Lifeguard's extensions: one probe per
//! interval in shuffled round-robin order, direct then indirect through
//! relays, and suspicions whose timeout shrinks as independent accusers
//! confirm them. Owns the probe order, the probe in flight, the relays and
//! the suspicions in progress.

use super::engine::Engine;
use super::member::MemberState;
use super::probe_order::ProbeOrder;
use super::table::{FixedHashMap, Id};
use super::timer::Timer;
use crate::codec::{self, FailureReason, Message};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// What the SWIM detector keeps.
#[derive(Debug, Default)]
pub(crate) struct Swim {
    pub(crate) probe_order: ProbeOrder,
    pub(crate) probe: Option<Probe>,
    /// PingReqs this node is relaying, by the sequence of its own Ping.
    pub(crate) relays: BTreeMap<u64, Relay>,
    /// Suspicions in progress, by member.
    pub(crate) suspicions: FixedHashMap<Id, Suspicion>,
    /// Load shedding: members whose probe failed while this node was
    /// behind on its own work, oldest first, to probe again once it has
    /// caught up instead of suspecting them. At most [`MAX_HELD`]: one is
    /// added per probe interval at most, and one that does not fit is
    /// simply probed again in its turn.
    pub(crate) held: Vec<Id>,
    /// The last few probes that failed, `(seq, target)`: an ack for one of
    /// them is a late ack (the target answered; we were too slow to see it).
    pub(crate) failed: Vec<(u64, Id)>,
    /// When the Ping of a second look went out that failed with nothing
    /// heard since either: this node is cut off, not slow, and holding
    /// back more would only delay its view of the cluster. Until it hears
    /// from anyone again, its failed probes raise suspicions at once.
    pub(crate) isolated_at: Option<Duration>,
}

/// Failed probes held for a check at most (see [`Swim::held`]).
const MAX_HELD: usize = 16;

/// Failed probes remembered to recognise their late acks.
const RECENT_FAILED: usize = 4;

impl Swim {
    /// Member `id` was reaped and its id may name another member next:
    /// drop its suspicion, its place in the probe order, the probe in
    /// flight if it was the target, and what load shedding holds about it.
    pub(crate) fn forget(&mut self, id: Id) {
        self.suspicions.remove(&id);
        self.held.retain(|&h| h != id);
        self.failed.retain(|&(_, t)| t != id);
        self.probe_order.forget(id);
        if self.probe.as_ref().is_some_and(|p| p.target == id) {
            self.probe = None;
        }
    }
}

/// The probe in flight, if any (one per probe interval).
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) seq: u64,
    pub(crate) target: Id,
    /// When the direct Ping went out (for the round-trip histogram).
    pub(crate) sent: Duration,
    /// A second look at a member held back by load shedding: if it fails
    /// while this node is not behind, it is suspected.
    pub(crate) recheck: bool,
    pub(crate) acked: bool,
    pub(crate) nacks: u32,
    /// Indirect probes sent: as many nacks are expected if the relays are
    /// healthy (Lifeguard).
    pub(crate) indirect: u32,
    /// Crash evidence: the target's incarnation when a first closed-port
    /// report came back for this probe; a second one at the same address
    /// and incarnation, with no ack between, confirms it.
    pub(crate) closed: Option<u64>,
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

impl Engine {
    /// Start of a probe interval: settle the previous probe, then probe the
    /// next member in shuffled round-robin order (SWIM §4.3: every member is
    /// probed once per round, which bounds the time to first detection).
    pub(crate) fn probe_tick(&mut self, now: Duration) {
        if let Some(p) = self.detector.swim_mut().and_then(|s| s.probe.take()) {
            if p.acked {
                self.adjust_health(-1);
            } else {
                self.out.stats.probes_failed += 1;
                // Lifeguard: each relay that did not even nack hints that
                // the fault may be ours (memberlist: with no relay asked,
                // the failed probe itself counts).
                let missing = p.indirect.saturating_sub(p.nacks);
                self.adjust_health(if p.indirect > 0 { i64::from(missing) } else { 1 });
                if let Some(s) = self.detector.swim_mut() {
                    if s.failed.len() == RECENT_FAILED {
                        s.failed.remove(0);
                    }
                    s.failed.push((p.seq, p.target));
                }
                // Load shedding: behind on our own work at any time since
                // the Ping went out, the ack may be waiting unread. Check
                // again once caught up rather than accuse. So too, once,
                // when nothing at all reached us since the Ping went out,
                // not even a nack from the relays we asked: the fault is
                // likely ours (a receive loop that reads nothing).
                let behind = self.behind_at.is_some_and(|t| t >= p.sent) || self.is_behind(now);
                let unheard = self.last_heard <= p.sent;
                let swim = self.detector.swim_mut();
                let isolated = swim.as_ref().and_then(|s| s.isolated_at);
                let isolated = isolated.is_some_and(|t| self.last_heard <= t);
                if p.recheck && unheard {
                    if let Some(s) = swim {
                        s.isolated_at = Some(p.sent);
                    }
                }
                let deaf =
                    self.config.lifeguard && !p.recheck && !isolated && p.indirect > 0 && unheard;
                if behind || deaf {
                    self.hold(p.target);
                } else {
                    self.suspect(now, p.target);
                }
            }
        }
        let slower = self.health + 1;
        self.timers.arm(now + self.config.probe_interval * slower, Timer::Probe);
        if self.leaving {
            return;
        }
        let Some((target, recheck)) = self.next_probe_target(now) else {
            return;
        };
        let e = self.entry(target);
        let (addr, name): (_, String) = (e.addr(), e.name().into());
        let suspect = e.state() == MemberState::Suspect;
        let seq = self.next_seq();
        if let Some(s) = self.detector.swim_mut() {
            let (acked, nacks, indirect) = (false, 0, 0);
            let closed = None;
            s.probe =
                Some(Probe { seq, target, sent: now, recheck, acked, nacks, indirect, closed });
        }
        self.out.stats.probes += 1;
        let mut b = self.out.datagram();
        self.out.push(&mut b, &Message::Ping(codec::Ping { seq, target: name }));
        if suspect && self.config.lifeguard {
            // Tell a suspect it is suspected so it can refute at once
            // (Lifeguard's "buddy system").
            if let Some(msg) = self.view.claim(target) {
                self.out.try_push(&mut b, &msg);
            }
        }
        self.fill_gossip(&mut b, Some(target));
        self.out.transmit(addr, b);
        let timeout = self.config.probe_timeout * (self.health + 1);
        self.timers.arm(now + timeout, Timer::ProbeTimeout { seq });
    }

    /// The next member to probe, and whether it is a second look at one
    /// held back by load shedding.
    fn next_probe_target(&mut self, now: Duration) -> Option<(Id, bool)> {
        if self.live_members() <= 1 {
            return None;
        }
        let caught_up = !self.is_behind(now);
        let swim = self.detector.swim_mut()?;
        // Caught up: check a member whose probe failed while we were
        // behind, before the round goes on.
        while caught_up && !swim.held.is_empty() {
            let id = swim.held.remove(0);
            if self.view.table().get(id).is_some_and(|e| e.state().is_live()) {
                return Some((id, true));
            }
        }
        for _pass in 0..2 {
            while let Some(id) = swim.probe_order.next(&mut self.rng) {
                if id != self.view.me
                    && self.view.table().get(id).is_some_and(|e| e.state().is_live())
                {
                    return Some((id, false));
                }
            }
            // End of a round: a new one over everyone known now.
            let size = self.view.table().len();
            swim.probe_order.start_round(size, &mut self.rng);
        }
        None
    }

    /// No direct Ack within `probe_timeout`: ask `indirect_checks` other
    /// members to probe the target for us.
    pub(crate) fn probe_timeout(&mut self, _now: Duration, seq: u64) {
        let probe = self.detector.swim_mut().and_then(|s| s.probe.as_ref());
        let Some(p) = probe.filter(|p| p.seq == seq && !p.acked) else {
            return;
        };
        let target = p.target;
        let e = self.entry(target);
        let (addr, name): (_, String) = (e.addr(), e.name().into());
        let relays = self.random_live_members(self.config.indirect_checks, &[target]);
        if let Some(p) = self.detector.swim_mut().and_then(|s| s.probe.as_mut()) {
            p.indirect = relays.len() as u32;
        }
        for (_, relay) in relays {
            self.out.stats.indirect_probes += 1;
            self.out.send_alone(
                relay,
                Message::PingReq(codec::PingReq { seq, target: name.clone(), addr }),
            );
        }
    }

    /// The driver reports that a datagram to `addr` drew a closed port
    /// (ICMP port-unreachable). When `addr` is the address of the member
    /// being probed, not yet acked: the first report sends the Ping again
    /// to check; a second at the same address and incarnation declares the
    /// member dead at once (the process is gone, its host answers for it).
    /// A paused process keeps its port, so it never draws this. Anything
    /// else (an old address, a gossip datagram) is counted and ignored.
    pub(crate) fn swim_unreachable(&mut self, now: Duration, addr: SocketAddr) {
        self.out.stats.unreachables += 1;
        if !self.config.closed_port_evidence {
            return;
        }
        let probe = self.detector.swim_mut().and_then(|s| s.probe.as_ref());
        let Some(p) = probe.filter(|p| !p.acked).cloned() else { return };
        let Some(e) = self.view.table().get(p.target) else { return };
        if e.addr() != addr || !e.state().is_live() {
            return;
        }
        let incarnation = e.incarnation;
        let name: String = e.name().into();
        self.out.stats.unreachables_evidence += 1;
        match p.closed {
            Some(i) if i == incarnation => {
                if let Some(s) = self.detector.swim_mut() {
                    s.probe = None;
                }
                self.out.stats.failures_declared += 1;
                self.out.stats.failures_by_evidence += 1;
                let me = self.name.clone();
                let reason = Some(FailureReason::ClosedPort);
                self.declare(now, p.target, incarnation, me, MemberState::Dead, reason);
            }
            _ => {
                if let Some(q) = self.detector.swim_mut().and_then(|s| s.probe.as_mut()) {
                    q.closed = Some(incarnation);
                }
                // The check: the same Ping again. An ack (a process back on
                // that port) cancels; a second closed port confirms.
                let ping = Message::Ping(codec::Ping { seq: p.seq, target: name });
                self.out.send_alone(addr, ping);
            }
        }
    }

    /// Whether a closed-port check is under way for the probe in flight
    /// at `addr`: a first report came back, the check Ping went out, and
    /// no ack since.
    pub(crate) fn swim_check_pending(&mut self, addr: SocketAddr) -> bool {
        let probe = self.detector.swim_mut().and_then(|s| s.probe.as_ref());
        let Some(p) = probe.filter(|p| !p.acked && p.closed.is_some()) else { return false };
        let target = p.target;
        self.view.table().get(target).is_some_and(|e| e.addr() == addr)
    }

    /// Load shedding: member `id`'s probe failed while this node was
    /// behind; probe it again once caught up instead of suspecting it.
    fn hold(&mut self, id: Id) {
        self.out.stats.suspicions_held += 1;
        if let Some(s) = self.detector.swim_mut() {
            if !s.held.contains(&id) && s.held.len() < MAX_HELD {
                s.held.push(id);
            }
        }
    }

    /// An Ack: for our probe, direct or relayed, or for a Ping we relay.
    pub(crate) fn swim_ack(&mut self, now: Duration, seq: u64) {
        let Some(swim) = self.detector.swim_mut() else { return };
        if let Some(p) = swim.probe.as_mut().filter(|p| p.seq == seq) {
            if !p.acked {
                p.acked = true;
                // Direct or relayed, the probe's round trip as we saw it.
                let rtt = now.saturating_sub(p.sent);
                self.out.stats.time_probe(rtt);
            }
            return;
        }
        if let Some(k) = swim.failed.iter().position(|&(s, _)| s == seq) {
            // The answer to a probe we already counted failed: the target
            // is alive and we (or the path) were too slow. Drop its held
            // check, if any; a suspicion already gossiped stays for the
            // target to refute.
            let (_, target) = swim.failed.remove(k);
            swim.held.retain(|&id| id != target);
            self.out.stats.late_acks += 1;
            self.fell_behind(now);
            return;
        }
        if let Some(r) = swim.relays.remove(&seq) {
            self.out.send_alone(r.requester, Message::Ack(codec::Ack { seq: r.seq }));
        }
    }

    /// Probe `target` at `addr` on behalf of `requester`.
    pub(crate) fn relay_ping(&mut self, now: Duration, requester: SocketAddr, req: codec::PingReq) {
        let codec::PingReq { seq, target, addr } = req;
        let Some(id) = self.view.live_member_at(&target, addr) else {
            self.out.stats.ping_reqs_refused += 1;
            return;
        };
        let own = self.next_seq();
        if let Some(s) = self.detector.swim_mut() {
            s.relays.insert(own, Relay { requester, seq, nacked: false });
        }
        self.send_with_gossip(addr, Message::Ping(codec::Ping { seq: own, target }), Some(id));
        let nack_at = self.config.probe_timeout * 4 / 5;
        self.timers.arm(now + nack_at, Timer::Relay { seq: own });
    }

    /// Our own probe of member `id` failed: raise a suspicion, or confirm
    /// the one in progress.
    pub(crate) fn suspect(&mut self, now: Duration, id: Id) {
        let Some(e) = self.view.table().get(id) else { return };
        let (state, incarnation, me) = (e.state(), e.incarnation, self.name.clone());
        match state {
            MemberState::Suspect => self.confirm(now, id, incarnation, me),
            MemberState::Alive => {
                self.out.stats.suspicions += 1;
                self.start_suspicion(now, id, incarnation, me);
            }
            MemberState::Dead | MemberState::Left => {}
        }
    }

    /// Marks member `id` suspect at `incarnation` by `accuser`'s word, arms
    /// its suspicion timer and gossips it.
    pub(crate) fn start_suspicion(
        &mut self,
        now: Duration,
        id: Id,
        incarnation: u64,
        accuser: String,
    ) {
        let t = self.view.mark_suspect(id, incarnation, accuser.clone(), now);
        self.apply(t);
        let timeout = self.config.suspicion_timeout_after(self.live_members(), 0);
        let accusers = alloc::vec![accuser];
        if let Some(s) = self.detector.swim_mut() {
            s.suspicions.insert(id, Suspicion { start: now, incarnation, accusers });
        }
        self.timers.arm(now + timeout, Timer::Suspicion { id, incarnation });
        self.enqueue_update(id);
    }

    /// Another member, `from`, independently suspects `id` at the
    /// incarnation we suspect it at (Lifeguard): the suspicion shrinks
    /// toward its minimum, and we pass the confirmation on.
    pub(crate) fn confirm(&mut self, now: Duration, id: Id, incarnation: u64, from: String) {
        if !self.config.lifeguard {
            return;
        }
        let k = self.config.suspicion_mult.saturating_sub(2) as usize;
        let Some(s) = self.detector.swim_mut().and_then(|s| s.suspicions.get_mut(&id)) else {
            return;
        };
        // Past k confirmations the timeout is at its minimum: more change
        // nothing, and passing each on would flood the cluster
        // (memberlist stops counting there too).
        if s.incarnation != incarnation || s.accusers.len() > k || s.accusers.contains(&from) {
            return;
        }
        s.accusers.push(from.clone());
        let (start, confirmations) = (s.start, s.accusers.len() as u32 - 1);
        let timeout = self.config.suspicion_timeout_after(self.live_members(), confirmations);
        self.out.stats.confirmations += 1;
        // The earlier, longer timer stays armed and finds nothing to do.
        self.timers.arm((start + timeout).max(now), Timer::Suspicion { id, incarnation });
        self.view.confirm(id, from);
        self.enqueue_update(id);
    }

    /// A suspicion timer of member `id` at `incarnation` fired: unless it
    /// was refuted meanwhile, or confirmations have not shortened it this
    /// far, the member is dead.
    pub(crate) fn suspicion_expired(&mut self, now: Duration, id: Id, incarnation: u64) {
        let Some(e) = self.view.table().get(id) else {
            return;
        };
        if e.state() != MemberState::Suspect || e.incarnation != incarnation {
            return;
        }
        let suspicion = self.detector.swim_mut().and_then(|s| s.suspicions.get(&id));
        if let Some(s) = suspicion.filter(|s| s.incarnation == incarnation).cloned() {
            let n = self.live_members();
            let c = s.accusers.len().saturating_sub(1) as u32;
            let due = s.start + self.config.suspicion_timeout_after(n, c);
            if now < due {
                // The cluster grew since this timer was armed, and so did
                // the timeout: wait for the new deadline.
                self.timers.arm(due, Timer::Suspicion { id, incarnation });
                return;
            }
            // Load shedding: behind on our own work, a refutation may be
            // waiting unread. Wait until we have caught up, checked each
            // probe interval.
            if self.is_behind(now) {
                self.out.stats.declarations_deferred += 1;
                self.timers
                    .arm(now + self.config.probe_interval, Timer::Suspicion { id, incarnation });
                return;
            }
            // Deaf: nothing at all reached us for a probe interval, so a
            // refutation may be waiting unread (a blocked receive loop, a
            // cut link). Confirmations do not shorten the wait then: it
            // runs to the lone accuser's full length, checked again each
            // interval. Only with others around who could have spoken.
            let longest = s.start + self.config.suspicion_timeout_after(n, 0);
            let quiet = now.saturating_sub(self.last_heard) > self.config.probe_interval;
            if self.config.lifeguard && n > 2 && quiet && now < longest {
                self.out.stats.declarations_deferred += 1;
                let next = (now + self.config.probe_interval).min(longest);
                self.timers.arm(next, Timer::Suspicion { id, incarnation });
                return;
            }
        }
        self.out.stats.failures_declared += 1;
        self.out.stats.failures_by_timeout += 1;
        let me = self.name.clone();
        let reason = Some(FailureReason::SuspicionTimeout);
        self.declare(now, id, incarnation, me, MemberState::Dead, reason);
    }

    /// A relayed Ping's timer: first at 80% of the probe timeout
    /// (Lifeguard), nack, so the requester hears from us before it
    /// settles, and keep forwarding a late ack until the timeout.
    pub(crate) fn relay_timeout(&mut self, now: Duration, seq: u64) {
        let Some(swim) = self.detector.swim_mut() else { return };
        match swim.relays.get_mut(&seq) {
            Some(r) if !r.nacked => {
                r.nacked = true;
                let (to, nack) = (r.requester, Message::Nack(codec::Nack { seq: r.seq }));
                self.out.send_alone(to, nack);
                let rest = self.config.probe_timeout / 5;
                self.timers.arm(now + rest, Timer::Relay { seq });
            }
            Some(_) => {
                swim.relays.remove(&seq);
            }
            None => {}
        }
    }
}

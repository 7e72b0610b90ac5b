//! The quorum failure detector, after Redis Cluster's (`cluster.c`:
//! PFAIL, failure reports, FAIL).
//!
//! Each member pings every other at least every `node_timeout / 2`. One
//! that leaves a ping unanswered for `node_timeout` is *failing* here:
//! its state becomes `Suspect` locally (an [`Event::Suspected`](super::Event::Suspected)) and every
//! datagram this member sends carries a report saying so (a `Suspect`
//! message whose accuser is the sender). Reports are not passed on, and
//! the accused does not refute them: they simply expire after
//! `2 * node_timeout`. A member that finds it failing while holding
//! unexpired reports from a majority of the live members (its own view
//! counting as one) declares it `Dead` and sends that to every member
//! directly, so the whole cluster learns it within one network trip.
//!
//! Unlike Redis, pings are datagrams and may be lost: an unanswered ping is
//! resent every `node_timeout / 5`, and any answer clears the failing mark,
//! so one lost datagram does not make a member failing.
//!
//! A member declared dead that is in fact alive hears it and refutes with
//! a higher incarnation, as in SWIM; its peers hold that refutation until
//! `2 * node_timeout` after the failure (Redis's undo time), so a flapping
//! member does not flap the cluster.

use super::engine::Engine;
use super::member::MemberState;
use super::table::{FixedHashMap, Id};
use super::timer::Timer;
use crate::codec::{self, DatagramBuilder, FailureReason, Message};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// What the quorum detector keeps. Empty under SWIM.
#[derive(Debug, Default)]
pub(crate) struct Quorum {
    /// Our pings to each live member, by member.
    links: FixedHashMap<Id, Link>,
    /// Pings in flight, by sequence number.
    pings: BTreeMap<u64, PingSent>,
    /// Unexpired reports that a member is failing, by accused member.
    reports: FixedHashMap<Id, Vec<Report>>,
    /// Refutations held back until the undo time, by member.
    revivals: FixedHashMap<Id, Revival>,
    /// When a ping last carried a sample of the member table.
    last_sample: Duration,
    /// A ping was answered since the last tick: Lifeguard's health score,
    /// raised by refutations, comes down by one on that tick (as each
    /// acked probe lowers it under SWIM), so eager pushes resume.
    answered: bool,
}

impl Quorum {
    /// Member `id` was reaped and its id may name another member next:
    /// drop its link, pings, revival, the reports against it and its
    /// reports against others.
    pub(crate) fn forget(&mut self, id: Id) {
        self.links.remove(&id);
        self.revivals.remove(&id);
        self.reports.remove(&id);
        for reports in self.reports.values_mut() {
            reports.retain(|r| r.from != id);
        }
        self.reports.retain(|_, r| !r.is_empty());
        self.pings.retain(|_, p| p.member != id);
    }
}

/// One of our pings in flight.
#[derive(Debug, Clone, Copy)]
struct PingSent {
    member: Id,
    at: Duration,
}

/// A refutation held back: the member's new life.
#[derive(Debug, Clone)]
struct Revival {
    incarnation: u64,
    addr: SocketAddr,
    meta: Vec<u8>,
}

/// How one member has answered our pings.
#[derive(Debug, Clone, Copy)]
struct Link {
    /// When the oldest unanswered ping went out, if one is unanswered.
    waiting_since: Option<Duration>,
    /// When the latest ping went out.
    last_ping: Duration,
    /// When the member last answered (or when we learned of it).
    pong: Duration,
}

/// One member's report that another is failing.
#[derive(Debug, Clone, Copy)]
struct Report {
    from: Id,
    at: Duration,
    incarnation: u64,
}

impl Engine {
    /// The detector's periodic check: ping members not heard from in
    /// `node_timeout / 2`, resend unanswered pings, mark members failing
    /// after `node_timeout`, and forget what expired.
    pub(crate) fn quorum_tick(&mut self, now: Duration) {
        self.timers.arm(now + self.config.quorum_tick(), Timer::Quorum);
        let timeout = self.config.node_timeout;
        let validity = timeout * 2;
        let Some(quorum) = self.detector.quorum_mut() else { return };
        let answered = core::mem::take(&mut quorum.answered);
        quorum.pings.retain(|_, p| now.saturating_sub(p.at) <= validity);
        for reports in quorum.reports.values_mut() {
            reports.retain(|r| now.saturating_sub(r.at) <= validity);
        }
        quorum.reports.retain(|_, r| !r.is_empty());
        if answered {
            self.adjust_health(-1);
        }
        if self.leaving {
            return;
        }
        let live: Vec<Id> = self
            .view
            .table()
            .iter()
            .filter(|&(id, e)| id != self.view.me && e.state().is_live())
            .map(|(id, _)| id)
            .collect();
        let members = self.view.table();
        if let Some(q) = self.detector.quorum_mut() {
            q.links.retain(|id, _| members.get(*id).is_some_and(|e| e.state().is_live()));
        }
        for id in live {
            let Some(quorum) = self.detector.quorum_mut() else { return };
            let link = *quorum.links.entry(id).or_insert(Link {
                waiting_since: None,
                last_ping: now,
                pong: now,
            });
            if link.waiting_since.is_some_and(|since| now.saturating_sub(since) > timeout) {
                self.mark_failing(now, id); // no-op if it is failing already
            }
            // Keep pinging a failing member, to notice when it answers again.
            let due = match link.waiting_since {
                Some(_) => now.saturating_sub(link.last_ping) >= timeout / 5,
                None => now.saturating_sub(link.pong) >= timeout / 2,
            };
            if due {
                self.quorum_ping(now, id);
            }
        }
    }

    fn quorum_ping(&mut self, now: Duration, id: Id) {
        let e = self.entry(id);
        let (addr, name) = (e.addr(), e.name().into());
        let seq = self.next_seq();
        if let Some(quorum) = self.detector.quorum_mut() {
            quorum.pings.insert(seq, PingSent { member: id, at: now });
            if let Some(link) = quorum.links.get_mut(&id) {
                link.waiting_since.get_or_insert(now);
                link.last_ping = now;
            }
        }
        self.out.stats.probes += 1;
        self.send_light(now, addr, Message::Ping(codec::Ping { seq, target: name }), Some(id));
    }

    /// Sends `msg` with our reports and pending updates, and a sample of
    /// the member table once per gossip interval: on every ping of a
    /// detector that pings everyone, samples would multiply its traffic.
    /// (Acks keep their full gossip section: a member that pings everyone
    /// learns from the answers what everyone knows, so a newcomer fills
    /// the gaps of the view its seed gave it at once.)
    fn send_light(&mut self, now: Duration, to: SocketAddr, msg: Message, dst: Option<Id>) {
        let mut b = self.out.datagram();
        self.out.push(&mut b, &msg);
        self.fill_reports(&mut b, dst);
        self.fill_updates(&mut b, 0);
        let interval = self.config.gossip_interval;
        let sample = self.detector.quorum_mut().is_some_and(|q| {
            let due = now.saturating_sub(q.last_sample) >= interval;
            if due {
                q.last_sample = now;
            }
            due
        });
        if sample {
            self.fill_sample(&mut b, dst);
        }
        self.out.transmit(to, b);
    }

    /// An Ack for one of our quorum pings: the member answers.
    pub(crate) fn quorum_ack(&mut self, now: Duration, seq: u64) {
        let ping = self.detector.quorum_mut().and_then(|q| q.pings.remove(&seq));
        let Some(PingSent { member: id, at: sent }) = ping else {
            return;
        };
        self.out.stats.time_probe(now.saturating_sub(sent));
        if let Some(q) = self.detector.quorum_mut() {
            q.answered = true;
            if let Some(link) = q.links.get_mut(&id) {
                link.waiting_since = None;
                link.pong = now;
            }
        }
        let table = self.view.table();
        if table.get(id).is_some_and(|e| e.state() == MemberState::Suspect) {
            let t = self.view.mark_alive(id, now);
            self.apply(t);
        }
    }

    /// Member `id` left our pings unanswered for `node_timeout`.
    fn mark_failing(&mut self, now: Duration, id: Id) {
        let Some(e) = self.view.table().get(id) else { return };
        if e.state() != MemberState::Alive {
            return;
        }
        let incarnation = e.incarnation;
        let t = self.view.mark_suspect(id, incarnation, self.name.clone(), now);
        self.apply(t);
        self.out.stats.suspicions += 1;
        self.check_quorum(now, id);
    }

    /// `from` reports `name` failing at `incarnation`.
    pub(crate) fn quorum_report(
        &mut self,
        now: Duration,
        name: &str,
        incarnation: u64,
        from: &str,
    ) {
        let (Some(id), Some(by)) = (self.view.table().id(name), self.view.table().id(from)) else {
            return;
        };
        if id == self.view.me || by == self.view.me || by == id {
            return;
        }
        let live = |id| self.view.table().get(id).is_some_and(|e| e.state().is_live());
        if !live(id) || !live(by) {
            return;
        }
        self.out.stats.failure_reports += 1;
        let Some(quorum) = self.detector.quorum_mut() else { return };
        let reports = quorum.reports.entry(id).or_default();
        match reports.iter_mut().find(|r| r.from == by) {
            Some(r) => {
                r.at = now;
                r.incarnation = r.incarnation.max(incarnation);
            }
            None => reports.push(Report { from: by, at: now, incarnation }),
        }
        self.check_quorum(now, id);
    }

    /// Declares member `id` dead if we find it failing ourselves and a
    /// majority of the live members, us included, report it.
    fn check_quorum(&mut self, now: Duration, id: Id) {
        if self.leaving {
            return;
        }
        let Some(e) = self.view.table().get(id).filter(|e| e.state() == MemberState::Suspect)
        else {
            return;
        };
        let incarnation = e.incarnation;
        let validity = self.config.node_timeout * 2;
        let members = self.view.table();
        let Some(quorum) = self.detector.quorum() else { return };
        let reports = quorum.reports.get(&id).map_or(0, |rs| {
            rs.iter()
                .filter(|r| {
                    r.incarnation >= incarnation
                        && now.saturating_sub(r.at) <= validity
                        && members.get(r.from).is_some_and(|e| e.state().is_live())
                })
                .count()
        });
        let needed = self.live_members() / 2 + 1;
        if reports + 1 < needed {
            return;
        }
        self.out.stats.failures_declared += 1;
        self.out.stats.failures_by_quorum += 1;
        if let Some(quorum) = self.detector.quorum_mut() {
            quorum.reports.remove(&id);
        }
        let me = self.name.clone();
        let reason = FailureReason::Quorum;
        self.declare(now, id, incarnation, me.clone(), MemberState::Dead, Some(reason));
        // Everyone hears it at once, the failed member too: if it is alive
        // after all, it refutes.
        let name = self.entry(id).name().into();
        let fail = Message::Verdict(codec::Verdict::new(name, incarnation, me, reason));
        let to: Vec<SocketAddr> = self
            .view
            .table()
            .iter()
            .filter(|&(other, e)| other != self.view.me && (other == id || e.state().is_live()))
            .map(|(_, e)| e.addr())
            .collect();
        for addr in to {
            self.out.send_alone(addr, fail.clone());
        }
    }

    /// Our own failing marks, as reports, into a datagram being built.
    pub(crate) fn fill_reports(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        if self.leaving || self.count(MemberState::Suspect) == 0 {
            return;
        }
        let me = self.name.clone();
        let failing: Vec<Message> = self
            .view
            .table()
            .iter()
            .filter(|&(id, e)| Some(id) != dst && e.state() == MemberState::Suspect)
            .map(|(_, e)| {
                Message::Suspect(codec::Accusation {
                    name: e.name().into(),
                    incarnation: e.incarnation,
                    from: me.clone(),
                })
            })
            .collect();
        for msg in failing {
            if !self.out.try_push(b, &msg) {
                break;
            }
        }
    }

    /// A dead member refuted within the undo time: hold its new life until
    /// then. Returns whether it was held.
    pub(crate) fn hold_revival(
        &mut self,
        now: Duration,
        id: Id,
        incarnation: u64,
        addr: SocketAddr,
        meta: &[u8],
    ) -> bool {
        let Some(quorum) = self.detector.quorum_mut() else { return false };
        let Some(e) = self.view.table().get(id) else { return false };
        if e.state() != MemberState::Dead {
            return false;
        }
        let undo = e.since() + self.config.node_timeout * 2;
        if now >= undo {
            return false;
        }
        let held = quorum.revivals.get(&id).map_or(0, |r| r.incarnation);
        if incarnation > held {
            quorum.revivals.insert(id, Revival { incarnation, addr, meta: meta.to_vec() });
            self.timers.arm(undo, Timer::Revive { id });
        }
        true
    }

    /// The undo time of member `id`'s failure is over: apply the
    /// refutation held back, if any.
    pub(crate) fn revive(&mut self, now: Duration, id: Id) {
        let revival = self.detector.quorum_mut().and_then(|q| q.revivals.remove(&id));
        let Some(Revival { incarnation, addr, meta }) = revival else {
            return;
        };
        if self.view.table().is_reaped(id) {
            return; // gone meanwhile: its return will be a fresh join
        }
        let Some(name) = self.view.table().get(id).map(|e| e.ident.name.clone()) else {
            return;
        };
        self.apply_alive(now, codec::AliveRef { name: &name, addr, incarnation, meta: &meta });
    }
}

//! The failure detector, one of two chosen by the config: SWIM with
//! Lifeguard ([`Swim`], in swim.rs) or the quorum detector after Redis
//! Cluster ([`Quorum`], in quorum.rs). The rest of the engine talks to it
//! only through the methods here, so no other file asks which one runs.

use super::config::FailureDetector;
use super::engine::Engine;
use super::member::MemberState;
use super::quorum::Quorum;
use super::swim::Swim;
use super::table::Id;
use super::timer::Timer;
use crate::codec::{self, DatagramBuilder};
use core::net::SocketAddr;
use core::time::Duration;

/// The failure detector in force and what it keeps.
#[derive(Debug)]
pub(crate) enum Detector {
    /// Probes, relays and suspicions (SWIM, Lifeguard).
    Swim(Swim),
    /// Links and failure reports (Redis Cluster).
    Quorum(Quorum),
}

impl Detector {
    pub(crate) fn new(kind: FailureDetector) -> Detector {
        match kind {
            FailureDetector::Swim => Detector::Swim(Swim::default()),
            FailureDetector::Quorum => Detector::Quorum(Quorum::default()),
        }
    }

    /// What SWIM keeps, when it runs. Its timers and handlers are only
    /// ever reached under SWIM, so `None` makes them do nothing.
    pub(crate) fn swim_mut(&mut self) -> Option<&mut Swim> {
        match self {
            Detector::Swim(s) => Some(s),
            Detector::Quorum(_) => None,
        }
    }

    /// What the quorum detector keeps, when it runs.
    pub(crate) fn quorum(&self) -> Option<&Quorum> {
        match self {
            Detector::Quorum(q) => Some(q),
            Detector::Swim(_) => None,
        }
    }

    /// What the quorum detector keeps, when it runs, to change it. Its
    /// timers and handlers are only ever reached under it.
    pub(crate) fn quorum_mut(&mut self) -> Option<&mut Quorum> {
        match self {
            Detector::Quorum(q) => Some(q),
            Detector::Swim(_) => None,
        }
    }

    /// Member `id` became live (learned, or back from the dead): SWIM probes
    /// it within this round, at a random place among the members not probed
    /// yet (memberlist does the same for newcomers).
    pub(crate) fn watch(&mut self, id: Id) {
        if let Detector::Swim(s) = self {
            s.probe_order.add(id);
        }
    }

    /// Member `id` was reaped: forget everything held about it, since its
    /// id may name another member next.
    pub(crate) fn forget(&mut self, id: Id) {
        match self {
            Detector::Swim(s) => s.forget(id),
            Detector::Quorum(q) => q.forget(id),
        }
    }

    /// Member `id` is no longer suspect, or no longer known: its suspicion
    /// in progress, if any, is over.
    pub(crate) fn clear_suspicion(&mut self, id: Id) {
        if let Detector::Swim(s) = self {
            s.suspicions.remove(&id);
        }
    }

    /// Whether no failure is being worked out, so the gossip section may
    /// shrink to its quiet size: under SWIM, no suspicion in progress;
    /// under the quorum detector, never (its failure reports ride on the
    /// full member sample of every datagram, as in Redis Cluster).
    pub(crate) fn calm(&self) -> bool {
        match self {
            Detector::Swim(s) => s.suspicions.is_empty(),
            Detector::Quorum(_) => false,
        }
    }

    /// State rank in digests: SWIM's order of claims at one incarnation.
    /// Under the quorum detector `Suspect` is only this member's own
    /// failing mark, which peers never adopt: it ranks as `Alive`, or
    /// digests would never agree.
    pub(crate) fn rank(&self, state: MemberState) -> u8 {
        match (state, self) {
            (MemberState::Alive, _) => 0,
            (MemberState::Suspect, Detector::Quorum(_)) => 0,
            (MemberState::Suspect, Detector::Swim(_)) => 1,
            (MemberState::Dead, _) => 2,
            (MemberState::Left, _) => 3,
        }
    }

    /// Whether a newer Alive claim about a member in `old` state leaves its
    /// state as it is: under the quorum detector our failing mark stands
    /// until the member answers our own pings.
    pub(crate) fn keeps_mark(&self, old: MemberState) -> bool {
        old == MemberState::Suspect && matches!(self, Detector::Quorum(_))
    }
}

impl Engine {
    /// Arms the detector's first timer, `probe_phase` into the first probe
    /// interval under SWIM; the quorum detector draws its own phase.
    pub(crate) fn start_detector(&mut self, now: Duration, probe_phase: Duration) {
        match self.detector {
            Detector::Quorum(_) => {
                let phase = self.jitter(self.config.quorum_tick());
                self.timers.arm(now + phase, Timer::Quorum);
            }
            Detector::Swim(_) => self.timers.arm(now + probe_phase, Timer::Probe),
        }
    }

    /// A Suspect claim arrived: under SWIM a suspicion to adopt, confirm or
    /// refute; under the quorum detector a failure report, counted, never
    /// refuted, never passed on.
    pub(crate) fn handle_suspect(&mut self, now: Duration, accusation: codec::Accusation) {
        match self.detector {
            Detector::Swim(_) => self.apply_suspect(now, accusation),
            Detector::Quorum(_) => {
                let codec::Accusation { name, incarnation, from } = accusation;
                self.quorum_report(now, &name, incarnation, &from);
            }
        }
    }

    /// An Ack arrived: for one of our pings, or one we relay.
    pub(crate) fn handle_ack(&mut self, now: Duration, seq: u64) {
        match self.detector {
            Detector::Swim(_) => self.swim_ack(now, seq),
            Detector::Quorum(_) => self.quorum_ack(now, seq),
        }
    }

    /// A Nack arrived: a relay of our probe is alive (Lifeguard).
    pub(crate) fn handle_nack(&mut self, seq: u64) {
        let probe = self.detector.swim_mut().and_then(|s| s.probe.as_mut());
        if let Some(p) = probe.filter(|p| p.seq == seq) {
            p.nacks += 1;
        }
    }

    /// A closed port was reported for `addr`: SWIM takes it as evidence
    /// about its probe's target; the quorum detector only counts it.
    pub(crate) fn detector_unreachable(&mut self, now: Duration, addr: SocketAddr) {
        match self.detector {
            Detector::Swim(_) => self.swim_unreachable(now, addr),
            Detector::Quorum(_) => self.out.stats.unreachables += 1,
        }
    }

    /// A PingReq arrived: SWIM relays it; the quorum detector pings every
    /// member itself and relays nothing.
    pub(crate) fn handle_ping_req(&mut self, now: Duration, from: SocketAddr, req: codec::PingReq) {
        match self.detector {
            Detector::Swim(_) => self.relay_ping(now, from, req),
            Detector::Quorum(_) => self.out.stats.ping_reqs_refused += 1,
        }
    }

    /// What the detector adds to a gossip section for member `dst`: the
    /// quorum detector's own failure reports.
    pub(crate) fn fill_detector_notes(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        if let Detector::Quorum(_) = self.detector {
            self.fill_reports(b, dst);
        }
    }
}

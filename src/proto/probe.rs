//! SWIM failure detection: one probe per interval, direct then indirect.

use super::engine::{Engine, Probe, Relay};
use super::member::MemberState;
use super::timer::Timer;
use crate::codec::Message;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

impl Engine {
    /// Start of a probe interval: settle the previous probe, then probe the
    /// next member in shuffled round-robin order (SWIM §4.3: every member is
    /// probed once per round, which bounds the time to first detection).
    pub(crate) fn probe_tick(&mut self, now: Duration) {
        self.timers.arm(now + self.config.probe_interval, Timer::Probe);
        if let Some(p) = self.probe.take() {
            if !p.acked {
                self.stats.probes_failed += 1;
                self.suspect(now, &p.target);
            }
        }
        if self.leaving {
            return;
        }
        let Some(target) = self.next_probe_target() else {
            return;
        };
        let Some(e) = self.members.get(&target) else {
            return;
        };
        let addr = e.member.addr;
        let suspect = e.member.state == MemberState::Suspect;
        let seq = self.next_seq();
        self.probe = Some(Probe { seq, target: target.clone(), acked: false, nacks: 0 });
        self.stats.probes += 1;
        let mut b = crate::codec::DatagramBuilder::new(self.config.max_packet_size);
        self.push(&mut b, &Message::Ping { seq, target: target.clone() });
        if suspect {
            // Tell a suspect it is suspected so it can refute at once
            // (Lifeguard's "buddy system").
            if let Some(msg) = self.state_message(&target) {
                self.try_push(&mut b, &msg);
            }
        }
        self.fill_gossip(&mut b, Some(&target));
        self.transmit(addr, b);
        self.timers.arm(now + self.config.probe_timeout, Timer::ProbeTimeout { seq });
    }

    fn next_probe_target(&mut self) -> Option<String> {
        for _pass in 0..2 {
            while self.probe_index < self.probe_order.len() {
                let name = self.probe_order[self.probe_index].clone();
                self.probe_index += 1;
                if self.members.get(&name).is_some_and(|e| e.member.state.is_live()) {
                    return Some(name);
                }
            }
            // End of a round: reshuffle everyone still live.
            let mut order: Vec<String> = self
                .members
                .values()
                .filter(|e| e.member.state.is_live() && e.member.name != self.name)
                .map(|e| e.member.name.clone())
                .collect();
            self.shuffle(&mut order);
            self.probe_order = order;
            self.probe_index = 0;
        }
        None
    }

    /// No direct Ack within `probe_timeout`: ask `indirect_checks` other
    /// members to probe the target for us.
    pub(crate) fn probe_timeout(&mut self, _now: Duration, seq: u64) {
        let Some(p) = self.probe.as_ref().filter(|p| p.seq == seq && !p.acked) else {
            return;
        };
        let target = p.target.clone();
        let Some(addr) = self.members.get(&target).map(|e| e.member.addr) else {
            return;
        };
        let relays = self.random_live_members(self.config.indirect_checks, &[target.as_str()]);
        for (_, relay) in relays {
            self.stats.indirect_probes += 1;
            self.send_alone(relay, Message::PingReq { seq, target: target.clone(), addr });
        }
    }

    pub(crate) fn handle_ack(&mut self, seq: u64) {
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
            p.acked = true;
            return;
        }
        if let Some(r) = self.relays.remove(&seq) {
            self.send_alone(r.requester, Message::Ack { seq: r.seq });
        }
    }

    /// Probe `target` at `addr` on behalf of `requester`.
    pub(crate) fn relay_ping(
        &mut self,
        now: Duration,
        requester: SocketAddr,
        seq: u64,
        target: String,
        addr: SocketAddr,
    ) {
        let known = self
            .members
            .get(&target)
            .is_some_and(|e| e.member.state.is_live() && e.member.addr == addr);
        if !known || target == self.name {
            self.stats.ping_reqs_refused += 1;
            return;
        }
        let own = self.next_seq();
        self.relays.insert(own, Relay { requester, seq });
        let name = target.clone();
        self.send_with_gossip(addr, Message::Ping { seq: own, target }, Some(&name));
        self.timers.arm(now + self.config.probe_timeout, Timer::Relay { seq: own });
    }

    /// Our own probe of `name` failed: raise a suspicion.
    pub(crate) fn suspect(&mut self, now: Duration, name: &str) {
        let Some(e) = self.members.get_mut(name) else {
            return;
        };
        if e.member.state != MemberState::Alive {
            return;
        }
        e.accuser = self.name.clone();
        self.stats.suspicions += 1;
        self.start_suspicion(now, name, true);
    }
}

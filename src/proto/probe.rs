//! SWIM failure detection: one probe per interval, direct then indirect.

use super::engine::{Engine, Probe, Relay};
use super::member::MemberState;
use super::table::Id;
use super::timer::Timer;
use crate::codec::{self, Message};
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;
use rand_core::Rng;

/// The order members are probed in: a round visits every id known at its
/// start once, in an order that is a fresh pseudo-random permutation each
/// round (a keyed Feistel network on the ids, so the order costs the same
/// few bytes whatever the size of the cluster). Members learned or revived
/// during a round go at random places among those not yet probed.
#[derive(Debug, Default)]
pub(crate) struct ProbeOrder {
    /// Round keys of the permutation.
    keys: [u64; 4],
    /// Ids below `size` are permuted this round.
    size: u64,
    /// Half the bits of the permuted domain, `[0, 4^half)`, which is the
    /// smallest power of four at least `size`.
    half: u32,
    /// Next position in the permuted domain.
    pos: u64,
    /// Permuted ids not visited yet this round.
    left: u64,
    /// Ids added during the round, not visited yet.
    late: Vec<Id>,
}

impl ProbeOrder {
    /// Makes sure `id` is visited this round: at a random place among the
    /// ids left, unless the round's permutation is still to reach it.
    pub(crate) fn add(&mut self, id: Id) {
        let x = u64::from(id);
        if x < self.size && self.unpermute(x) >= self.pos {
            return;
        }
        if !self.late.contains(&id) {
            self.late.push(id);
        }
    }

    fn start_round(&mut self, size: usize, rng: &mut impl Rng) {
        self.size = size as u64;
        self.half = 0;
        while (1u64 << (2 * self.half)) < self.size {
            self.half += 1;
        }
        for k in &mut self.keys {
            *k = rng.next_u64();
        }
        self.pos = 0;
        self.left = self.size;
        self.late.clear();
    }

    /// The next id of the round, or `None` once the round is over.
    fn next(&mut self, rng: &mut impl Rng) -> Option<Id> {
        let total = self.left + self.late.len() as u64;
        if total == 0 {
            return None;
        }
        let draw = rng.next_u64() % total;
        if draw < self.late.len() as u64 {
            return Some(self.late.swap_remove(draw as usize));
        }
        // Cycle-walk: skip the permuted values at or above `size` (fewer
        // than three in four).
        loop {
            let x = self.permute(self.pos);
            self.pos += 1;
            if x < self.size {
                self.left -= 1;
                return Some(x as Id);
            }
        }
    }

    /// A bijection of `[0, 4^half)`: four Feistel rounds over two halves.
    fn permute(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys {
            let f = mix(r ^ k) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half) | r
    }

    /// The inverse of [`ProbeOrder::permute`]: the position of `x`.
    fn unpermute(&self, x: u64) -> u64 {
        let mask = (1u64 << self.half) - 1;
        let (mut l, mut r) = (x >> self.half, x & mask);
        for k in self.keys.iter().rev() {
            (l, r) = (r ^ (mix(l ^ k) & mask), l);
        }
        (l << self.half) | r
    }
}

/// SplitMix64's finalizer: a cheap, well-mixing 64-bit hash.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Engine {
    /// Start of a probe interval: settle the previous probe, then probe the
    /// next member in shuffled round-robin order (SWIM §4.3: every member is
    /// probed once per round, which bounds the time to first detection).
    pub(crate) fn probe_tick(&mut self, now: Duration) {
        if let Some(p) = self.probe.take() {
            if p.acked {
                self.adjust_health(-1);
            } else {
                self.out.stats.probes_failed += 1;
                // Lifeguard: each relay that did not even nack hints that
                // the fault may be ours (memberlist: with no relay asked,
                // the failed probe itself counts).
                let missing = p.indirect.saturating_sub(p.nacks);
                self.adjust_health(if p.indirect > 0 { i64::from(missing) } else { 1 });
                self.suspect(now, p.target);
            }
        }
        let slower = self.health + 1;
        self.timers.arm(now + self.config.probe_interval * slower, Timer::Probe);
        if self.leaving {
            return;
        }
        let Some(target) = self.next_probe_target() else {
            return;
        };
        let e = self.entry(target);
        let (addr, name) = (e.member.addr, e.member.name.clone());
        let suspect = e.member.state == MemberState::Suspect;
        let seq = self.next_seq();
        self.probe = Some(Probe { seq, target, sent: now, acked: false, nacks: 0, indirect: 0 });
        self.out.stats.probes += 1;
        let mut b = self.out.datagram();
        self.out.push(&mut b, &Message::Ping(codec::Ping { seq, target: name }));
        if suspect && self.config.lifeguard {
            // Tell a suspect it is suspected so it can refute at once
            // (Lifeguard's "buddy system").
            if let Some(msg) = self.state_message(target) {
                self.out.try_push(&mut b, &msg);
            }
        }
        self.fill_gossip(&mut b, Some(target));
        self.out.transmit(addr, b);
        let timeout = self.config.probe_timeout * (self.health + 1);
        self.timers.arm(now + timeout, Timer::ProbeTimeout { seq });
    }

    fn next_probe_target(&mut self) -> Option<Id> {
        if self.live_members() <= 1 {
            return None;
        }
        for _pass in 0..2 {
            while let Some(id) = self.probe_order.next(&mut self.rng) {
                if id != self.me && self.members.get(id).is_some_and(|e| e.member.state.is_live()) {
                    return Some(id);
                }
            }
            // End of a round: a new one over everyone known now.
            let size = self.members.len();
            self.probe_order.start_round(size, &mut self.rng);
        }
        None
    }

    /// No direct Ack within `probe_timeout`: ask `indirect_checks` other
    /// members to probe the target for us.
    pub(crate) fn probe_timeout(&mut self, _now: Duration, seq: u64) {
        let Some(p) = self.probe.as_ref().filter(|p| p.seq == seq && !p.acked) else {
            return;
        };
        let target = p.target;
        let e = self.entry(target);
        let (addr, name) = (e.member.addr, e.member.name.clone());
        let relays = self.random_live_members(self.config.indirect_checks, &[target]);
        if let Some(p) = self.probe.as_mut() {
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

    pub(crate) fn handle_ack(&mut self, now: Duration, seq: u64) {
        if self.quorum_ack(now, seq) {
            return;
        }
        if let Some(p) = self.probe.as_mut().filter(|p| p.seq == seq) {
            if !p.acked {
                p.acked = true;
                // Direct or relayed, the probe's round trip as we saw it.
                let rtt = now.saturating_sub(p.sent);
                self.out.stats.time_probe(rtt);
            }
            return;
        }
        if let Some(r) = self.relays.remove(&seq) {
            self.out.send_alone(r.requester, Message::Ack(codec::Ack { seq: r.seq }));
        }
    }

    /// Probe `target` at `addr` on behalf of `requester`.
    pub(crate) fn relay_ping(&mut self, now: Duration, requester: SocketAddr, req: codec::PingReq) {
        let codec::PingReq { seq, target, addr } = req;
        let Some(id) = self.live_member_at(&target, addr) else {
            self.out.stats.ping_reqs_refused += 1;
            return;
        };
        let own = self.next_seq();
        self.relays.insert(own, Relay { requester, seq, nacked: false });
        self.send_with_gossip(addr, Message::Ping(codec::Ping { seq: own, target }), Some(id));
        let nack_at = self.config.probe_timeout * 4 / 5;
        self.timers.arm(now + nack_at, Timer::Relay { seq: own });
    }

    /// Our own probe of member `id` failed: raise a suspicion, or confirm
    /// the one in progress.
    pub(crate) fn suspect(&mut self, now: Duration, id: Id) {
        let Some(e) = self.members.get(id) else { return };
        if e.member.state == MemberState::Suspect {
            let (incarnation, me) = (e.member.incarnation, self.name.clone());
            self.confirm(now, id, incarnation, me);
            return;
        }
        if e.member.state != MemberState::Alive {
            return;
        }
        let accuser = self.name.clone();
        let Some(e) = self.members.get_mut(id) else {
            return;
        };
        e.accuser = accuser;
        self.out.stats.suspicions += 1;
        self.start_suspicion(now, id, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;

    /// The ids one round visits, in order.
    fn round(order: &mut ProbeOrder, rng: &mut ChaCha8Rng) -> Vec<Id> {
        core::iter::from_fn(|| order.next(rng)).collect()
    }

    #[test]
    fn a_round_visits_every_id_once_in_a_fresh_order() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for size in [0usize, 1, 2, 3, 5, 16, 17, 64, 1000, 4097] {
            let mut order = ProbeOrder::default();
            order.start_round(size, &mut rng);
            let first = round(&mut order, &mut rng);
            let mut sorted = first.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..size as Id).collect::<Vec<_>>(), "size {size}");
            if size >= 16 {
                order.start_round(size, &mut rng);
                let second = round(&mut order, &mut rng);
                assert_ne!(first, second, "each round has its own order (size {size})");
                assert_ne!(first, sorted, "not the identity (size {size})");
            }
        }
    }

    #[test]
    fn the_permutation_inverts() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut order = ProbeOrder::default();
        order.start_round(1000, &mut rng);
        for x in 0..1024 {
            assert_eq!(order.unpermute(order.permute(x)), x);
        }
    }

    /// A member revived mid-round is visited once more in the round: by the
    /// permutation if it is still ahead, else from the late list (once,
    /// however often it is added). One passed while dead was skipped then.
    #[test]
    fn a_member_revived_mid_round_is_visited_once_more() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let revived: [Id; 4] = [3, 3, 11, 19];
        for _ in 0..100 {
            let mut order = ProbeOrder::default();
            order.start_round(20, &mut rng);
            let passed: Vec<Id> = (0..7).filter_map(|_| order.next(&mut rng)).collect();
            for id in revived {
                order.add(id);
            }
            let rest = round(&mut order, &mut rng);
            for id in 0..20 {
                let times = rest.iter().filter(|&&x| x == id).count();
                let expected = usize::from(revived.contains(&id) || !passed.contains(&id));
                assert_eq!(times, expected, "id {id}, passed {passed:?}, rest {rest:?}");
            }
        }
    }

    #[test]
    fn members_added_during_a_round_are_visited_in_it_at_random_places() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut positions = Vec::new();
        for _ in 0..200 {
            let mut order = ProbeOrder::default();
            order.start_round(10, &mut rng);
            let mut seen: Vec<Id> = (0..3).filter_map(|_| order.next(&mut rng)).collect();
            order.add(10);
            seen.extend(round(&mut order, &mut rng));
            seen.sort_unstable();
            assert_eq!(seen, (0..11).collect::<Vec<_>>());
            let mut order2 = ProbeOrder::default();
            order2.start_round(10, &mut rng);
            order2.add(10);
            let pos = round(&mut order2, &mut rng).iter().position(|&id| id == 10);
            positions.push(pos.expect("visited"));
        }
        // Uniform over 11 places: both halves of the round get some.
        assert!(positions.iter().any(|&p| p < 3) && positions.iter().any(|&p| p > 7));
    }

    /// A member that crashes is, on average, reached halfway through the
    /// round: its place in each round's order is uniform.
    #[test]
    fn every_id_is_equally_likely_at_every_place() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 8;
        let mut first_place = [0u32; 8];
        let mut order = ProbeOrder::default();
        for _ in 0..8000 {
            order.start_round(n, &mut rng);
            first_place[order.next(&mut rng).unwrap() as usize] += 1;
        }
        // Expected 1000 each; 5 standard deviations is about 150.
        assert!(first_place.iter().all(|&c| (850..1150).contains(&c)), "{first_place:?}");
    }
}

//! Gossip rounds: the gossip section a datagram carries (detector notes,
//! pending updates, the member sample) and the rounds that push pending
//! updates and items to `gossip_fanout` members.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::mongering::BigItem;
use super::table::Id;
use crate::codec::DatagramBuilder;
use core::time::Duration;

/// Eager gossip rounds a member may run per `gossip_interval`, at most
/// (see `Engine::gossip_news`).
const EAGER_ROUNDS_PER_INTERVAL: u32 = 64;

impl Engine {
    /// Appends the gossip section to `b` within its budget. The member
    /// `dst`, when known, is the receiver.
    pub(crate) fn fill_gossip(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        self.fill_detector_notes(b, dst);
        self.fill_updates(b);
        self.fill_sample(b, dst);
    }

    /// Appends pending member updates to `b`, fewest transmissions first.
    pub(crate) fn fill_updates(&mut self, b: &mut DatagramBuilder) {
        let limit = self.config.retransmit_limit(self.live_members());
        let own_done = self.piggyback.fill_updates(b, &self.view, &mut self.out, limit);
        if own_done && self.leaving {
            self.out.event(Event::LeaveDone);
        }
    }

    /// Appends the member sample to `b`, leaving out `dst`.
    pub(crate) fn fill_sample(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        self.piggyback.fill_sample(b, &self.view, &mut self.out, dst);
    }

    /// With `eager_push`, membership news (a join, a suspicion, a death, a
    /// refutation) that has not been sent even once goes out at once in a
    /// gossip round of its own, instead of waiting up to `gossip_interval`
    /// for the next one. Every hop then costs a network round trip rather
    /// than half a gossip interval, which is most of a join's convergence
    /// and of the spread of a failure. Called once per handled datagram or
    /// timer batch, so a datagram full of news costs one round, and the
    /// retransmit limit still caps how often each update is sent.
    ///
    /// In a burst of joins a seed spends each joiner's budget within
    /// milliseconds, on the few members it knows by then, and a member or
    /// two may miss a joiner; the sync each joiner runs once the burst has
    /// settled (`Timer::SettleSync`) closes those gaps.
    ///
    /// A member whose probes go unanswered (Lifeguard's health score above
    /// zero) may be the one overloaded, or on a lossy network: it leaves
    /// the news to the periodic rounds, so pushes do not add to the load
    /// that is costing it acks.
    ///
    /// At most `EAGER_ROUNDS_PER_INTERVAL` eager rounds per gossip interval
    /// (a window starting at the first):
    /// in a mass join every datagram a member receives carries news, and a
    /// round per datagram would turn each into `gossip_fanout` more at once
    /// (thousands of joiners made millions of datagrams within the first
    /// virtual second). News arriving in between waits a few milliseconds
    /// and goes out together.
    pub(crate) fn gossip_news(&mut self, now: Duration) {
        if !self.config.eager_push || self.health > 0 || !self.piggyback.has_fresh() {
            return;
        }
        if now >= self.eager_window + self.config.gossip_interval {
            self.eager_window = now;
            self.eager_rounds = 0;
        }
        if self.eager_rounds < EAGER_ROUNDS_PER_INTERVAL {
            self.eager_rounds += 1;
            self.gossip_round(now);
        }
    }

    /// Sends the pending updates to `gossip_fanout` random live members.
    pub(crate) fn gossip_round(&mut self, now: Duration) {
        // Live members, and those declared dead less than
        // gossip_to_the_dead_time ago (memberlist), so a member wrongly
        // declared dead hears it and refutes.
        // Not a joiner that has yet to prove its address (see
        // `Handshakes::owed`): a forged Meet must not draw gossip to its victim.
        let horizon = self.config.gossip_to_the_dead_time;
        let unproven = self.handshake.unproven();
        let targets = self.random_members(self.config.gossip_fanout, |_, e| {
            (e.member.state.is_live()
                || (e.member.state == MemberState::Dead
                    && now.saturating_sub(e.member.since) < horizon))
                && !unproven.contains(&e.member.addr)
        });
        for (id, addr) in targets {
            if self.piggyback.is_empty() && self.pushes.is_empty() {
                break;
            }
            let mut b = self.out.datagram();
            self.fill_updates(&mut b);
            let (items, big) = self.fill_items(&mut b);
            self.fill_sample(&mut b, Some(id));
            self.out.transmit(addr, b);
            self.pushed(&items);
            for BigItem { origin, version, update } in big {
                self.out.send_big(addr, &update);
                self.pushed(&[(origin, version)]);
            }
        }
    }
}

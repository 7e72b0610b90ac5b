//! The gossip section every Ping, Ack and gossip round carries.
//!
//! First the pending updates, fewest transmissions first, each sent at most
//! `retransmit_mult * ceil(log10(n + 1))` times (memberlist's transmit-limited
//! queue). Then a sample of other members' states, least recently sampled
//! first (round-robin over the member ids): `max(3, n/10)` entries, at most
//! `n - 2` (Redis Cluster's gossip section). The sample is what lets a member that missed an update — say a
//! join announced while it was itself joining — learn it within a few rounds
//! instead of waiting for a full sync.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::membership::state_message_of;
use super::table::Id;
use crate::codec::DatagramBuilder;
use alloc::vec::Vec;
use core::time::Duration;

impl Engine {
    /// Appends the gossip section to `b` within its budget. The member
    /// `dst`, when known, is the receiver.
    pub(crate) fn fill_gossip(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        if self.quorum_mode() {
            self.fill_reports(b, dst);
        }
        self.fill_updates(b);
        self.fill_sample(b, dst);
    }

    /// Appends pending member updates to `b`, fewest transmissions first.
    pub(crate) fn fill_updates(&mut self, b: &mut DatagramBuilder) {
        let limit = self.config.retransmit_limit(self.live_members());
        // Pending updates. A datagram holds a few dozen at most: stop after
        // several in a row that do not fit.
        let mut included: Vec<Id> = Vec::new();
        let mut misfits = 0;
        for id in self.broadcasts.iter() {
            let Some(msg) = state_message_of(&self.members, id) else {
                continue;
            };
            let before = b.bytes();
            if b.try_push(&msg) {
                self.stats.count_sent(msg.kind(), b.bytes() - before);
                included.push(id);
            } else {
                misfits += 1;
                // No entry is smaller than ~12 bytes.
                if misfits >= 8 || b.remaining() < 12 {
                    break;
                }
            }
        }
        for id in included {
            if self.broadcasts.sent(id, limit) && self.leaving && id == self.me {
                self.events.push_back(Event::LeaveDone);
            }
        }
    }

    /// The sample: up to `max(3, n/10)` members' states (at most `n - 2`),
    /// taken round-robin over the ids from where the last sample stopped,
    /// so the least recently sampled go first.
    ///
    /// An entry may repeat one of the pending section's; checking for that
    /// costs more than the few bytes it would save.
    pub(crate) fn fill_sample(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        let n = self.members.len();
        let want = (n / 10).max(3).min(n.saturating_sub(2));
        let (mut added, mut scanned) = (0, 0);
        while added < want && scanned < n {
            let id = (self.sample_cursor % n) as Id;
            if Some(id) == dst {
                self.sample_cursor = self.sample_cursor.wrapping_add(1);
                scanned += 1;
                continue;
            }
            let Some(msg) = state_message_of(&self.members, id) else {
                self.sample_cursor = self.sample_cursor.wrapping_add(1);
                scanned += 1;
                continue;
            };
            let before = b.bytes();
            if !b.try_push(&msg) {
                // Full: the next datagram's sample starts with this member.
                break;
            }
            self.stats.count_sent(msg.kind(), b.bytes() - before);
            self.sample_cursor = self.sample_cursor.wrapping_add(1);
            added += 1;
            scanned += 1;
        }
    }

    /// Sends the pending updates to `gossip_fanout` random live members.
    pub(crate) fn gossip_round(&mut self, now: Duration) {
        // Live members, and those declared dead less than
        // gossip_to_the_dead_time ago (memberlist), so a member wrongly
        // declared dead hears it and refutes.
        let horizon = self.config.gossip_to_the_dead_time;
        let targets = self.random_members(self.config.gossip_fanout, |_, e| {
            e.member.state.is_live()
                || (e.member.state == MemberState::Dead
                    && now.saturating_sub(e.member.since) < horizon)
        });
        for (id, addr) in targets {
            if self.broadcasts.is_empty() && self.pushes.is_empty() {
                break;
            }
            let mut b = DatagramBuilder::new(self.packet_budget());
            self.fill_updates(&mut b);
            let (items, big) = self.fill_items(&mut b);
            self.fill_sample(&mut b, Some(id));
            self.transmit(addr, b);
            self.pushed(&items);
            for (origin, version, msg) in big {
                self.send_big(addr, &msg);
                self.pushed(&[(origin, version)]);
            }
        }
    }
}

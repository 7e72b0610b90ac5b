//! The gossip section every Ping, Ack and gossip round carries.
//!
//! First the pending updates, fewest transmissions first, each sent at most
//! `retransmit_mult * ceil(log10(n + 1))` times (memberlist's transmit-limited
//! queue). Then a sample of other members' states, least recently gossiped
//! first: `max(3, n/10)` entries, at most `n - 2` (Redis Cluster's gossip
//! section). The sample is what lets a member that missed an update — say a
//! join announced while it was itself joining — learn it within a few rounds
//! instead of waiting for a full sync.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use crate::codec::DatagramBuilder;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

impl Engine {
    /// Appends the gossip section to `b` within its budget.
    pub(crate) fn fill_gossip(&mut self, b: &mut DatagramBuilder, dst_name: Option<&str>) {
        let limit = self.config.retransmit_limit(self.live_members());
        // A datagram holds a few dozen updates at most: look at a bounded
        // number of candidates, and stop after several that do not fit.
        let mut included: Vec<String> = Vec::new();
        let mut misfits = 0;
        for name in self.broadcasts.next(128) {
            let Some(msg) = self.state_message(&name) else {
                self.broadcasts.remove(&name);
                continue;
            };
            if !self.try_push(b, &msg) {
                misfits += 1;
                if misfits >= 8 {
                    break;
                }
                continue;
            }
            if self.broadcasts.sent(&name, limit) && self.leaving && name == self.name {
                self.events.push_back(Event::LeaveDone);
            }
            included.push(name);
        }
        self.fill_sample(b, dst_name, &included);
    }

    fn fill_sample(&mut self, b: &mut DatagramBuilder, dst_name: Option<&str>, skip: &[String]) {
        let n = self.members.len();
        let want = (n / 10).max(3).min(n.saturating_sub(2));
        let mut picked: Vec<(u64, String)> = Vec::new();
        for (key, name) in self.gossip_order.iter() {
            if picked.len() >= want {
                break;
            }
            if Some(name.as_str()) == dst_name || skip.contains(name) {
                continue;
            }
            picked.push((*key, name.clone()));
        }
        for (key, name) in picked {
            let Some(msg) = self.state_message(&name) else {
                continue;
            };
            if !self.try_push(b, &msg) {
                break;
            }
            self.gossip_clock += 1;
            self.gossip_order.remove(&(key, name.clone()));
            self.gossip_order.insert((self.gossip_clock, name.clone()));
            if let Some(e) = self.members.get_mut(&name) {
                e.gossiped = self.gossip_clock;
            }
        }
    }

    /// Sends the pending updates to `gossip_fanout` random live members.
    pub(crate) fn gossip_round(&mut self, now: Duration) {
        // Live members, and those declared dead less than
        // gossip_to_the_dead_time ago (memberlist), so a member wrongly
        // declared dead hears it and refutes.
        let horizon = self.config.gossip_to_the_dead_time;
        let targets = self.random_members(self.config.gossip_fanout, |e| {
            e.member.state.is_live()
                || (e.member.state == MemberState::Dead
                    && now.saturating_sub(e.member.since) < horizon)
        });
        for (name, addr) in targets {
            if self.broadcasts.is_empty() {
                break;
            }
            let mut b = DatagramBuilder::new(self.config.max_packet_size);
            self.fill_gossip(&mut b, Some(&name));
            self.transmit(addr, b);
        }
    }
}

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
        // Fewest transmissions first; the sort is stable so ties keep queue order.
        self.broadcasts.sort_by_key(|(_, sent)| *sent);
        let mut included: Vec<String> = Vec::new();
        let mut i = 0;
        while i < self.broadcasts.len() {
            let name = self.broadcasts[i].0.clone();
            let Some(msg) = self.state_message(&name) else {
                self.broadcasts.remove(i);
                continue;
            };
            if !self.try_push(b, &msg) {
                // Smaller updates may still fit.
                i += 1;
                continue;
            }
            self.broadcasts[i].1 += 1;
            included.push(name.clone());
            if self.broadcasts[i].1 >= limit {
                self.broadcasts.remove(i);
                if self.leaving && name == self.name {
                    self.events.push_back(Event::LeaveDone);
                }
            } else {
                i += 1;
            }
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
        let mut targets: Vec<(String, core::net::SocketAddr)> = self
            .members
            .values()
            .filter(|e| {
                e.member.name != self.name
                    && (e.member.state.is_live()
                        || (e.member.state == MemberState::Dead
                            && now.saturating_sub(e.member.since) < horizon))
            })
            .map(|e| (e.member.name.clone(), e.member.addr))
            .collect();
        let k = self.config.gossip_fanout.min(targets.len());
        for i in 0..k {
            let j = i + self.random_index(targets.len() - i);
            targets.swap(i, j);
        }
        targets.truncate(k);
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

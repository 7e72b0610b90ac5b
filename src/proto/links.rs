//! Join links: the view of a mass join in bulk.
//!
//! A join links the joiner and the member that served it (the Pong's
//! sender). While a link lives, each side sends the other a Pull every
//! gossip round: "the members you learned from table position `since` on"
//! (table ids grow in the order members are learned), answered with their
//! claims in at most `sync_max_datagrams` datagrams, each headed by a
//! `Pulled` giving where the next pull starts. The links of a burst of
//! joins form a tree over the cluster, and every member learned anywhere
//! floods it: each member hears of each other one about once (an answer
//! leaves out what the requester itself sent: see `Link::learned`; the
//! 10,000 join handled 1.35 n² Alive claims in all), instead of the `retransmit_limit` times
//! (20 at 10,000 members) that claim-by-claim gossip costs, which made a
//! mass join of n members n² × 20 claims to handle (issue 16).
//!
//! So gossip spreads only what is new: while a member of a large view
//! ([`LINKED_GOSSIP_FLOOR`]) has a link, a member
//! it learns second-hand (from gossip, a sample or a pull) is not queued
//! for gossip again (its links carry it); what it learns first-hand (a
//! joiner it serves) is, and under SWIM its gossip section carries the
//! quiet sample, not `max(3, n/10)` members (`Engine::joining_in_bulk`).
//! A quiet cluster's members have no links, so a
//! single join spreads as it always did: the seed gossips the joiner, the
//! others pass it on.
//!
//! A link dies after [`LINK_IDLE_ROUNDS`] pulls that brought nothing new
//! ([`SMALL_VIEW_LINK_IDLE_ROUNDS`] in a small view, where gossip carries
//! everything anyway), so the pulls stop soon after a burst: an idle
//! member sends none. Table
//! positions are an accelerator, not a proof: a reaped id reused below a
//! watermark is missed here and caught by gossip and syncs like any other
//! gap.

use super::engine::Engine;
use super::table::Id;
use crate::codec::{self, DatagramBuilder, Message};
use alloc::vec::Vec;
use core::net::SocketAddr;

/// How many entries ahead a pull's answer reads the one it encodes next
/// ([`Table::read_ahead`](super::table::Table::read_ahead)).
const READ_AHEAD: Id = 8;

/// Pulls in a row that brought nothing new after which a link is dropped:
/// on the LAN preset, 2 s of a quiet link.
pub const LINK_IDLE_ROUNDS: u32 = 10;

/// The same in a view under [`LINKED_GOSSIP_FLOOR`], where gossip still
/// carries every member learned: a link there only speeds the first rounds
/// of a burst, and its idle pulls were most of the datagrams in the 5 s
/// after a 64-member join (8 of 10.5 per member per second in the
/// simulator), so it goes after two that brought nothing.
pub const SMALL_VIEW_LINK_IDLE_ROUNDS: u32 = 2;

/// Links a member keeps at most: the oldest goes first. A busy seed of a
/// mass join serves `HANDSHAKES_PER_WINDOW` joiners per gossip round and
/// links each, and pulls from each every round while they live, so this
/// bounds that work per round.
pub const MAX_LINKS: usize = 1024;

/// Members in a view below which a linked member still gossips what it
/// learns second-hand: a join of 64 at once costs gossip about
/// n² × `retransmit_limit` ≈ 33 k claims, and eager gossip spreads it in
/// round trips, faster than the links' pulls (one per gossip round).
/// Above it the n² claims are what the links are for; every member of a
/// mass join still gossips the first members it learns (up to this many,
/// `retransmit_limit` times each), so it is kept small.
pub const LINKED_GOSSIP_FLOOR: usize = 128;

/// A member linked to us by a join.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    addr: SocketAddr,
    /// Where our next pull starts in its table.
    since: u64,
    /// Pulls sent since one last brought something new.
    idle: u32,
    /// Runs of our table ids `[start, end)` first learned from its pull
    /// answers, in id order: our answers to it leave them out, or each
    /// side would send the other back what it just got (twice the
    /// claims of a mass join). At most one run per datagram it sent us,
    /// merged when adjacent (a mass join's run is one or a few).
    learned: Vec<(Id, Id)>,
}

/// This member's join links.
#[derive(Debug, Default)]
pub(crate) struct Links {
    links: Vec<Link>,
    /// Set while applying the claims of a pull's answer (from a linked
    /// member): they are not news to gossip.
    pub(crate) bulk: bool,
    /// The link whose answer is being applied (an index in `links`).
    from: usize,
    /// Set while applying a joiner's own Alive claim (a Meet we serve):
    /// first-hand news, gossiped even while linked.
    pub(crate) first_hand: bool,
}

impl Links {
    /// Whether a member learned now is news for gossip to spread, in a
    /// view of `members`: always when unlinked or in a cluster under
    /// [`LINKED_GOSSIP_FLOOR`]; when linked in a larger one, only
    /// first-hand (see the module doc).
    pub(crate) fn gossip_new_member(&self, members: usize) -> bool {
        !self.bulk && (self.links.is_empty() || self.first_hand || members < LINKED_GOSSIP_FLOOR)
    }

    /// Links `addr` (again: a new join through it starts from scratch).
    pub(crate) fn add(&mut self, addr: SocketAddr) {
        self.links.retain(|l| l.addr != addr);
        if self.links.len() >= MAX_LINKS {
            self.links.remove(0);
        }
        self.links.push(Link { addr, since: 0, idle: 0, learned: Vec::new() });
    }

    /// Member `id` was first learned from the pull answer being applied.
    pub(crate) fn learned(&mut self, id: Id) {
        let Some(link) = self.links.get_mut(self.from).filter(|_| self.bulk) else { return };
        match link.learned.last_mut() {
            Some((_, end)) if *end == id => *end = id + 1,
            Some((_, end)) if *end > id => {
                // A reused id, below the runs: kept in order.
                let at = link.learned.partition_point(|&(s, _)| s < id);
                link.learned.insert(at, (id, id + 1));
            }
            _ => link.learned.push((id, id + 1)),
        }
    }

    /// Whether any link lives.
    pub(crate) fn is_linked(&self) -> bool {
        !self.links.is_empty()
    }
}

impl Engine {
    /// Every gossip round: a Pull to each linked member, dropping those
    /// idle for [`LINK_IDLE_ROUNDS`] ([`SMALL_VIEW_LINK_IDLE_ROUNDS`] in a
    /// small view). O(links) ≤ [`MAX_LINKS`] small
    /// datagrams, only while a burst of joins lasts.
    pub(crate) fn pull_tick(&mut self) {
        if self.links.links.is_empty() {
            return;
        }
        let limit = if self.view.table().len() < LINKED_GOSSIP_FLOOR {
            SMALL_VIEW_LINK_IDLE_ROUNDS
        } else {
            LINK_IDLE_ROUNDS
        };
        self.links.links.retain(|l| l.idle < limit);
        let unproven = self.handshake.unproven();
        for i in 0..self.links.links.len() {
            let (addr, since) = (self.links.links[i].addr, self.links.links[i].since);
            self.links.links[i].idle += 1;
            // A joiner yet to prove its address: no traffic to it yet.
            if unproven.contains(&addr) {
                continue;
            }
            let msg = Message::Pull(codec::Pull { sender: self.name.clone(), since });
            self.out.send_alone(addr, msg);
        }
    }

    /// A Pull: the requester's news since position `since` of our table,
    /// in at most `sync_max_datagrams` datagrams, each headed by where the
    /// next pull starts. Only for live members at their address: a forged
    /// Pull must not turn a small datagram into our view sent elsewhere.
    pub(crate) fn handle_pull(&mut self, from: SocketAddr, pull: codec::Pull) {
        let Some(requester) = self.view.live_member_at(&pull.sender, from) else {
            self.out.stats.syncs_refused += 1;
            return;
        };
        let n = self.view.table().len() as u64;
        // What we learned from the requester itself is left out.
        let skip: Vec<(Id, Id)> = self
            .links
            .links
            .iter()
            .find(|l| l.addr == from)
            .map(|l| l.learned.clone())
            .unwrap_or_default();
        let mut run = 0;
        let mut at = pull.since.min(n);
        let mut datagrams = 0;
        // The header's size: the largest position it can hold.
        let header = codec::encoded_len(&Message::Pulled(codec::Pulled { upto: u64::MAX }));
        // Each claim's kind and size, for the counters once it is sent:
        // one buffer for all the answer's datagrams.
        let mut claims = Vec::new();
        while datagrams < self.config.sync_max_datagrams && (at < n || datagrams == 0) {
            let budget = self.out.packet_budget();
            // The claims are encoded once, here, and their bytes copied
            // after the header.
            let mut probe = DatagramBuilder::new(budget.saturating_sub(header));
            claims.clear();
            while at < n {
                let id = at as Id;
                while run < skip.len() && skip[run].1 <= id {
                    run += 1;
                }
                if run < skip.len() && skip[run].0 <= id {
                    at = u64::from(skip[run].1);
                    continue;
                }
                if id == requester {
                    at += 1;
                    continue;
                }
                // Entries are read in id order, their idents all over
                // memory: read one a few ahead so its miss overlaps.
                self.view.table().read_ahead(id.saturating_add(READ_AHEAD));
                let Some(msg) = self.view.claim(id) else {
                    at += 1;
                    continue;
                };
                let before = probe.bytes();
                if !probe.try_push(&msg) {
                    break;
                }
                claims.push((msg.kind(), probe.bytes() - before));
                at += 1;
            }
            let mut b = self.out.datagram();
            self.out.push(&mut b, &Message::Pulled(codec::Pulled { upto: at }));
            b.append(&probe);
            for &(kind, size) in &claims {
                self.out.stats.count_sent(kind, size);
            }
            self.out.transmit(from, b);
            datagrams += 1;
            if claims.is_empty() {
                break;
            }
        }
    }

    /// The head of a pull's answer: the claims after it are bulk (not
    /// news to gossip) if it comes from a member we are linked to.
    pub(crate) fn handle_pulled(&mut self, from: SocketAddr, pulled: codec::Pulled) {
        let Some(i) = self.links.links.iter().position(|l| l.addr == from) else {
            return;
        };
        self.links.from = i;
        let link = &mut self.links.links[i];
        if pulled.upto > link.since {
            link.since = pulled.upto;
            link.idle = 0;
        }
        self.links.bulk = true;
    }
}

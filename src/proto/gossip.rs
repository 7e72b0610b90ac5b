//! Gossip rounds: the gossip section a datagram carries (detector notes,
//! pending updates, the member sample) and the rounds that push pending
//! updates and items to `gossip_fanout` members.
//!
//! The section's size depends on whether membership is quiet
//! ([`Engine::quiet`]): while it changes, the sample is `max(3, n/10)`
//! members; once quiet, [`QUIET_SAMPLE`] members and a check of the
//! summary hash (see piggyback.rs), so an idle member's traffic does not
//! grow with the cluster.

use super::config::AntiEntropyMode;
use super::engine::Engine;
use super::event::Event;
use super::links::LINKED_GOSSIP_FLOOR;
use super::member::MemberState;
use super::mongering::BigItem;
use super::piggyback::QUIET_SAMPLE;
use super::table::Id;
use super::timer::Timer;
use crate::codec::{self, DatagramBuilder, Message};
use alloc::collections::BTreeSet;
use core::time::Duration;

/// Eager gossip rounds a member may run per `gossip_interval`, at most
/// (see `Engine::gossip_news`).
const EAGER_ROUNDS_PER_INTERVAL: u32 = 64;

/// Datagrams of items a gossip round sends each target, at most. One holds
/// a few dozen small items; a burst of a thousand broadcasts needs a few
/// dozen datagrams, so it drains within a few rounds rather than a few
/// dozen. Bounded, so a round costs at most
/// `gossip_fanout * ITEM_DATAGRAMS_PER_TARGET` datagrams whatever the queue.
const ITEM_DATAGRAMS_PER_TARGET: usize = 8;

impl Engine {
    /// Appends the gossip section to `b` within its budget. The member
    /// `dst`, when known, is the receiver.
    pub(crate) fn fill_gossip(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        self.fill_detector_notes(b, dst);
        self.fill_updates(b, 0);
        self.fill_check(b);
        self.fill_sample(b, dst);
    }

    /// Whether membership is quiet: no update pending, none queued for
    /// [`QUIET_ROUNDS`](super::piggyback::QUIET_ROUNDS) gossip rounds, and no failure being worked out
    /// (the detector's word: under the quorum detector, never). While it
    /// is, the gossip section shrinks to a constant size.
    ///
    /// Only with push-pull anti-entropy (every preset's): a check that
    /// differs does not say which side is behind, so the sync it starts
    /// goes both ways, and the one-way modes, kept to study Demers'
    /// results, keep the seed's gossip section instead.
    pub(crate) fn quiet(&self) -> bool {
        self.config.anti_entropy == AntiEntropyMode::PushPull
            && self.piggyback.is_calm()
            && self.detector.calm()
    }

    /// Whether nothing of ours is being spread: no membership update
    /// pending, no item being pushed, no failure being worked out. A
    /// settled member compares the checks it receives with its own hash
    /// (`handle_check`); it sends checks only once quiet.
    pub(crate) fn settled(&self) -> bool {
        self.piggyback.is_empty() && self.pushes.is_empty() && self.detector.calm()
    }

    /// Whether this member keeps a check (the summary hash that quiet
    /// datagrams carry and received checks are compared with): when
    /// settled, and not while a join link lives. A linked member learns
    /// members in bulk every round (links.rs), each dropping the check:
    /// taking it again (O(members learned since)) every round of a mass
    /// join is waste, since while linked it neither sends nor acts on
    /// checks.
    pub(crate) fn wants_check(&self) -> bool {
        self.settled() && !self.links.is_linked()
    }

    /// Appends pending member updates to `b`, fewest transmissions first,
    /// leaving `keep` bytes free.
    pub(crate) fn fill_updates(&mut self, b: &mut DatagramBuilder, keep: usize) {
        let limit = self.config.retransmit_limit(self.live_members());
        let own_done = self.piggyback.fill_updates(b, &self.view, &mut self.out, limit, keep);
        if own_done && self.leaving {
            self.out.event(Event::LeaveDone);
        }
    }

    /// While membership is quiet, appends the check: our summary hash in
    /// a `Summary` that asks for nothing (cached, see
    /// [`Engine::gossip_tick`]). A quiet receiver whose hash differs
    /// starts a sync (`handle_check`); one that knows nothing of checks
    /// ignores it, as a summary asking for nothing is answered by nobody.
    /// None while a join link lives ([`Engine::wants_check`]): the view is
    /// still arriving along it, and every peer would find our hash
    /// different and send us a digest of its whole view.
    fn fill_check(&mut self, b: &mut DatagramBuilder) {
        let Some(hash) = self.piggyback.check().filter(|_| self.quiet()) else { return };
        let msg = Message::Summary(codec::Summary {
            sender: self.name.clone(),
            hash,
            want_delta: false,
            want_digest: false,
        });
        self.out.try_push(b, &msg);
    }

    /// Appends the member sample to `b`, leaving out `dst`: `max(3, n/10)`
    /// members while membership changes, [`QUIET_SAMPLE`] once it is quiet
    /// or while linked by a join in a large view (under SWIM, see
    /// [`Engine::joining_in_bulk`]).
    pub(crate) fn fill_sample(&mut self, b: &mut DatagramBuilder, dst: Option<Id>) {
        let want = if self.quiet() || self.joining_in_bulk() {
            QUIET_SAMPLE
        } else {
            // Grows with the cluster, but only while membership changes:
            // the seed's rule, which spreads a change to members that
            // missed it within a few rounds.
            (self.view.table().len() / 10).max(QUIET_SAMPLE)
        };
        self.piggyback.fill_sample(b, &self.view, &mut self.out, dst, want);
    }

    /// Whether this member sends the quiet sample because a join links it
    /// (links.rs): linked, in a view of at least [`LINKED_GOSSIP_FLOOR`]
    /// members, under SWIM. In a mass join the links bring the view in
    /// bulk, and the `max(3, n/10)` sample is mostly old news: in a
    /// simulated join of 5,000 at
    /// once, the gossip rounds' datagrams (which the sample fills to the
    /// brim) carried 6.9 M Alive claims, 93 % about members the receiver
    /// knew, a sixth of the join's claims; what the pulls did not bring
    /// yet, they bring within a round. A single join into a large cluster
    /// links the joiner and its seed too, for the link's 10 idle pulls (2
    /// s on LAN): the news of that join is gossiped as updates all the
    /// same. A mass restart reconverges 0.3 to 0.5 s later for it (600
    /// members, benches/RESULTS.md). The quorum detector keeps the full
    /// sample (its failure reports ride it).
    pub(crate) fn joining_in_bulk(&self) -> bool {
        self.links.is_linked()
            && self.view.table().len() >= LINKED_GOSSIP_FLOOR
            && self.detector.quorum().is_none()
    }

    /// The gossip timer, every `gossip_interval`: counts the round towards
    /// quiet, keeps the cached check fresh, and runs a round if there is
    /// anything to push.
    ///
    /// It fires even when idle: O(1) work then (the check is taken again
    /// after a change, and otherwise once every
    /// [`CHECK_REFRESH_ROUNDS`](super::piggyback::CHECK_REFRESH_ROUNDS)
    /// rounds per 1,000 members; taking it costs O(changes since the last
    /// time), see [`Engine::digest_hash`]), and counting the rounds is
    /// what tells quiet from changing.
    pub(crate) fn gossip_tick(&mut self, now: Duration) {
        self.timers.arm(now + self.config.gossip_interval, Timer::Gossip);
        self.piggyback.tick();
        // The name order, merged off the path of each member learned, and
        // not while a join link brings the view in bulk: once after it.
        if !self.links.is_linked() && self.view.table().order_due() {
            self.view.order_names();
        }
        if self.wants_check() {
            if self.piggyback.check_stale(self.view.table().len()) {
                let hash = self.digest_hash();
                self.piggyback.set_check(Some(hash));
            }
        } else if self.piggyback.check().is_some() {
            // Changing: a cached hash would be stale once settled again.
            self.piggyback.set_check(None);
        }
        if self.leaving && self.live_members() == 0 {
            // Everyone else left or died meanwhile: nobody is left to
            // tell, so the leave is complete.
            self.finish_leave();
        }
        if !self.piggyback.is_empty() || !self.pushes.is_empty() {
            self.gossip_round(now);
        }
        self.pull_tick();
        // Rumor mongering stops each item after a fixed number of pushes,
        // so a member or two may miss an item: in an 8-member cluster, with
        // 4 pushes per holder, about 1 % of (item, member) pairs (e^-4/..),
        // which then waited for the periodic sync, tens of seconds. When
        // this member's pushes drain (the tick after its last push), one
        // sync with a random alive member closes such gaps within a
        // second (`Engine::drain_sync`). At most one per
        // probe interval; a summary hash when nothing is missing, so O(1)
        // per drain, and a digest (O(n)) only when the views differ.
        if self.config.push_pull_interval.is_zero() {
            return;
        }
        // A drain's sync, then its repair syncs while their answers leave
        // a hole (`Pushes::repair_due`: O(1) per tick, a lookup per noted
        // log).
        if self.pushes.drained(now, self.config.probe_interval) {
            // A hole this member knows of already (items held above a
            // watermark) is worth a repair sync at the next tick, should
            // this one not fill it: its peer may lack the item too, or be
            // gone (a crashed member not yet found dead took a drain sync).
            for id in self.store.holes() {
                self.pushes.note_hole(id);
            }
            self.drain_sync();
            return;
        }
        let store = &self.store;
        if self.pushes.repair_due(|id| store.log(id).is_some_and(|l| l.has_hole())) {
            self.drain_sync();
        }
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
    /// that is costing it acks. So does a member behind on its own work
    /// (load shedding, [`Engine::is_behind`]).
    ///
    /// At most `EAGER_ROUNDS_PER_INTERVAL` eager rounds per gossip interval
    /// (a window starting at the first):
    /// in a mass join every datagram a member receives carries news, and a
    /// round per datagram would turn each into `gossip_fanout` more at once
    /// (thousands of joiners made millions of datagrams within the first
    /// virtual second). News arriving in between waits a few milliseconds
    /// and goes out together.
    pub(crate) fn gossip_news(&mut self, now: Duration) {
        if !self.config.eager_push
            || self.health > 0
            || self.is_behind(now)
            || !self.piggyback.has_fresh()
        {
            return;
        }
        if self.take_eager_round(now) {
            self.gossip_round(now);
        }
    }

    /// Spends one of the `EAGER_ROUNDS_PER_INTERVAL` eager sends of the
    /// current window (membership news and item pushes share them);
    /// returns false once they are spent, and the news then waits for the
    /// next gossip round, which packs it with the rest.
    pub(crate) fn take_eager_round(&mut self, now: Duration) -> bool {
        if now >= self.eager_window + self.config.gossip_interval {
            self.eager_window = now;
            self.eager_rounds = 0;
        }
        if self.eager_rounds < EAGER_ROUNDS_PER_INTERVAL {
            self.eager_rounds += 1;
            return true;
        }
        false
    }

    /// Sends the pending updates to `gossip_fanout` random live members.
    pub(crate) fn gossip_round(&mut self, now: Duration) {
        self.out.trim_events();
        // Live members, and those declared dead less than
        // gossip_to_the_dead_time ago (memberlist), so a member wrongly
        // declared dead hears it and refutes.
        // Not a joiner that has yet to prove its address (see
        // `Handshakes::owed`): a forged Meet must not draw gossip to its victim.
        let horizon = self.config.gossip_to_the_dead_time;
        let unproven = self.handshake.unproven();
        let targets = self.random_members(self.config.gossip_fanout, |_, e| {
            (e.state().is_live()
                || (e.state() == MemberState::Dead && now.saturating_sub(e.since()) < horizon))
                && !unproven.contains(&e.addr())
        });
        for (id, addr) in targets {
            if self.piggyback.is_empty() && self.pushes.is_empty() {
                break;
            }
            // A push counts toward an item's stop policy only when it went
            // to a member believed alive: a suspect is likely gone and a dead
            // member is told only so that it can refute, so pushes to them
            // would spend an item's budget on nobody (a broadcast right
            // after a crash then missed a survivor).
            let counts = self.view.table().get(id).is_some_and(|e| e.state() == MemberState::Alive);
            // The items this round has sent `id` already.
            let mut sent = BTreeSet::new();
            for datagram in 0..ITEM_DATAGRAMS_PER_TARGET {
                let mut b = self.out.datagram();
                let (items, big) = if datagram == 0 {
                    // User broadcasts and key-value updates keep a share:
                    // while items are pending, membership updates take at
                    // most half the datagram, so a storm of joins or
                    // suspicions (hundreds of updates) cannot crowd them out
                    // (memberlist#299). The sample comes last, in whatever
                    // room is left.
                    let keep = if self.pushes.is_empty() { 0 } else { b.remaining() / 2 };
                    self.fill_updates(&mut b, keep);
                    let filled = self.fill_items(&mut b, &sent);
                    self.fill_sample(&mut b, Some(id));
                    filled
                } else {
                    // A burst of items (a thousand broadcasts within
                    // milliseconds) is more than one datagram holds: more
                    // datagrams of items alone, so the queue drains within a
                    // round or two instead of a few dozen items per round.
                    self.fill_items(&mut b, &sent)
                };
                let more = !items.is_empty() || !big.is_empty();
                if datagram == 0 || !items.is_empty() {
                    self.out.transmit(addr, b);
                }
                sent.extend(items.iter().copied());
                if counts {
                    self.pushed(&items);
                }
                for BigItem { origin, version, update } in big {
                    sent.insert((origin, version));
                    self.out.send_big(addr, &update);
                    if counts {
                        self.pushed(&[(origin, version)]);
                    }
                }
                if !more || sent.len() >= self.pushes.len() {
                    break;
                }
            }
        }
    }
}

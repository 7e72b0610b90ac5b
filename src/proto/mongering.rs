//! Rumor mongering: the items this member is pushing (user rumors and
//! state changes), to whom, and when each stops (the stop policy).

use super::config::StopPolicy;
use super::engine::Engine;
use super::table::Id;
use crate::codec::{self, DatagramBuilder, Message};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

/// Most items one member pushes at a time (rumor mongering). Past it, the
/// item pushed most is left to anti-entropy (`Stats::pushes_evicted`).
pub const MAX_PUSHES: usize = 4096;

/// Syncs that may follow the sync after the queue drains, each at the
/// gossip tick after an answer that left this member a hole (see
/// [`Pushes::repair_due`]). Bounds the chain: at most this many more
/// syncs per drain, itself at most one per probe interval.
const REPAIR_SYNCS: u32 = 3;

/// Logs with a hole noted, at most (the rest of a chain's notes are
/// dropped; a hole in any one of these is reason enough to sync again).
const MAX_HOLES_NOTED: usize = 8;

/// Items this node is spreading (rumor mongering), with how often each was
/// pushed and how many pushes found the receiver already knowing it.
#[derive(Debug, Default)]
pub(crate) struct Pushes {
    /// `(pushes, newest first)` -> item: the sending order.
    order: BTreeMap<(u32, core::cmp::Reverse<u64>), (u32, u64)>,
    /// item `(origin id, version)` -> its counts.
    index: BTreeMap<(u32, u64), Pushing>,
    next: u64,
    /// Whether items were being pushed at the last gossip tick.
    active: bool,
    /// When the last sync after the queue drained was armed.
    drain_sync: Option<Duration>,
    /// Syncs left in the current drain's chain of repair syncs.
    repairs_left: u32,
    /// Logs that an anti-entropy answer left with a hole: items held
    /// above the watermark, so a version below them is missing here.
    holes: Vec<Id>,
}

/// One item being pushed.
#[derive(Debug, Clone, Copy)]
struct Pushing {
    /// Pushes so far.
    pushes: u32,
    /// Its place in `Pushes::order` among items pushed as often.
    order: u64,
    /// Pushes that found the receiver knowing it (feedback).
    known: u32,
}

impl Pushes {
    pub(crate) fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// Starts spreading an item. With [`MAX_PUSHES`] items in flight, the
    /// one pushed most (the oldest among equals) stops being pushed to make
    /// room; returns whether one did. It stays in the store, so
    /// anti-entropy still delivers it.
    pub(crate) fn start(&mut self, origin: u32, version: u64) -> bool {
        if self.index.contains_key(&(origin, version)) {
            return false;
        }
        let mut evicted = false;
        if self.index.len() >= MAX_PUSHES {
            if let Some((_, item)) = self.order.pop_last() {
                self.index.remove(&item);
                evicted = true;
            }
        }
        self.next += 1;
        self.index.insert((origin, version), Pushing { pushes: 0, order: self.next, known: 0 });
        self.order.insert((0, core::cmp::Reverse(self.next)), (origin, version));
        evicted
    }

    /// At a gossip tick: whether the queue has just drained and a sync may
    /// follow (at most one per `spacing`), which is then taken as armed.
    pub(crate) fn drained(&mut self, now: Duration, spacing: Duration) -> bool {
        let was = core::mem::replace(&mut self.active, !self.index.is_empty());
        if !was || self.active || self.drain_sync.is_some_and(|t| now < t + spacing) {
            return false;
        }
        self.drain_sync = Some(now);
        self.repairs_left = REPAIR_SYNCS;
        self.holes.clear();
        true
    }

    /// Notes that member `origin`'s log has a hole: found when the queue
    /// drained, or left by a delta answering a sync.
    pub(crate) fn note_hole(&mut self, origin: Id) {
        if self.holes.len() < MAX_HOLES_NOTED && !self.holes.contains(&origin) {
            self.holes.push(origin);
        }
    }

    /// At a gossip tick: whether a repair sync is due, given `open`, which
    /// tells whether a noted log still has a hole; taken as started.
    ///
    /// A member whose queue drains early in a burst runs its sync while
    /// others still hold items it lacks; the answer then leaves it holes
    /// (items above the watermark: a version below them is missing). The
    /// member knows it, so it syncs again at the next tick, with another
    /// random member, while answers leave holes, up to [`REPAIR_SYNCS`]
    /// times per drain. Traced: a survivor of a crash synced 350 ms after
    /// a burst of 1,000 broadcasts with a member that had not yet received
    /// one of them, and waited 3.5 s for a check sync.
    pub(crate) fn repair_due(&mut self, open: impl Fn(Id) -> bool) -> bool {
        if self.holes.is_empty() {
            return false;
        }
        let due = self.repairs_left > 0 && self.holes.iter().any(|&id| open(id));
        self.holes.clear();
        if due {
            self.repairs_left -= 1;
        }
        due
    }

    /// Items in sending order: fewest pushes first, newest first.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.order.values().copied()
    }

    /// Stops spreading an item.
    pub(crate) fn stop(&mut self, origin: u32, version: u64) {
        if let Some(p) = self.index.remove(&(origin, version)) {
            self.order.remove(&(p.pushes, core::cmp::Reverse(p.order)));
        }
    }

    /// Stops spreading every item of `origin` (its log was replaced).
    pub(crate) fn stop_origin(&mut self, origin: u32) {
        let items: Vec<(u32, u64)> =
            self.index.range((origin, 0)..=(origin, u64::MAX)).map(|(k, _)| *k).collect();
        for (o, v) in items {
            self.stop(o, v);
        }
    }

    /// Counts one push; returns the pushes so far.
    pub(crate) fn pushed(&mut self, origin: u32, version: u64) -> u32 {
        let Some(slot) = self.index.get_mut(&(origin, version)) else { return 0 };
        let Pushing { pushes, order: id, .. } = *slot;
        self.order.remove(&(pushes, core::cmp::Reverse(id)));
        slot.pushes = pushes + 1;
        self.order.insert((pushes + 1, core::cmp::Reverse(id)), (origin, version));
        pushes + 1
    }

    /// Counts one push that found the receiver knowing the item; returns
    /// how many did so far.
    pub(crate) fn known(&mut self, origin: u32, version: u64) -> u32 {
        match self.index.get_mut(&(origin, version)) {
            Some(slot) => {
                slot.known += 1;
                slot.known
            }
            None => 0,
        }
    }
}

/// An item too big for a datagram, with its Update message (it goes over a
/// stream).
pub(crate) struct BigItem {
    pub(crate) origin: Id,
    pub(crate) version: u64,
    pub(crate) update: Message,
}

impl Engine {
    /// An Update arrived from `from`.
    pub(crate) fn handle_update(&mut self, now: Duration, from: SocketAddr, update: codec::Update) {
        let codec::Update { origin, generation, version, item, feedback } = update;
        let Some(id) = self.view.table().id(&origin) else {
            self.out.stats.items_unknown_origin += 1;
            return;
        };
        // Our own items, and those of an earlier life of theirs, are not
        // news.
        let news =
            id != self.view.me && self.log_for(id, generation).is_some_and(|s| !s.knows(version));
        if !news {
            if feedback {
                self.out
                    .send_alone(from, Message::Known(codec::Known { origin, generation, version }));
            }
            return;
        }
        let mut changes = Vec::new();
        if let Some(log) = self.store.log_mut(id) {
            log.apply(version, item, now, &mut changes);
        }
        self.report(id, generation, changes);
        // News: spread it in turn.
        if self.pushes.start(id, version) {
            self.out.stats.pushes_evicted += 1;
        }
        self.push_now(now, id, version);
    }

    /// With `eager_push`, pushes item `version` of `origin` to
    /// `gossip_fanout` live members at once.
    /// Only to members believed alive (a suspect is likely gone), and
    /// within the eager budget shared with membership news: in a burst
    /// (a thousand broadcasts within milliseconds) one datagram per item per
    /// target at every hop overflowed receive buffers, where the loss is
    /// counted by nobody; past the budget the items wait for the next
    /// gossip round, which packs dozens per datagram.
    pub(crate) fn push_now(&mut self, now: Duration, origin: Id, version: u64) {
        if !self.config.eager_push {
            return;
        }
        let Some(msg) = self.update_message(origin, version) else { return };
        if !self.take_eager_round(now) {
            return;
        }
        let targets = self.random_members(self.config.gossip_fanout, |id, e| {
            e.state() == super::member::MemberState::Alive && id != origin
        });
        for (_, addr) in targets {
            self.out.send_big(addr, &msg);
            self.pushed(&[(origin, version)]);
        }
    }

    /// The sync started when this member's pushes drain (see
    /// `Engine::gossip_tick`): as [`Engine::sync_once`], but with a member
    /// believed alive, not a suspect (likely gone, or across a partition).
    pub(crate) fn drain_sync(&mut self) {
        if self.leaving {
            return;
        }
        let alive = self.random_members(1, |_, e| e.state() == super::member::MemberState::Alive);
        let Some(&(_, addr)) = alive.first() else { return };
        self.out.stats.syncs += 1;
        let (want_delta, want_digest) = self.sync_wants();
        let msg = Message::Summary(codec::Summary {
            sender: self.name.clone(),
            hash: self.digest_hash(),
            want_delta,
            want_digest,
        });
        self.out.send_alone(addr, msg);
    }

    /// A Known arrived: one of our pushes was not news.
    pub(crate) fn handle_known(&mut self, known: codec::Known) {
        let codec::Known { origin, generation, version } = known;
        let Some(id) = self.view.table().id(&origin) else { return };
        if self.store.log(id).is_none_or(|s| s.generation != generation) {
            return;
        }
        let count = self.pushes.known(id, version);
        if let StopPolicy::Counter(k) = self.config.stop_policy {
            if count >= k {
                self.pushes.stop(id, version);
            }
        }
    }

    /// The Update message for item `version` of member `origin`, if held.
    fn update_message(&self, origin: Id, version: u64) -> Option<Message> {
        let log = self.store.log(origin)?;
        let held = log.items.get(&version)?;
        Some(Message::Update(codec::Update {
            origin: self.entry(origin).name().into(),
            generation: log.generation,
            version,
            item: held.item.clone(),
            feedback: matches!(self.config.stop_policy, StopPolicy::Counter(_)),
        }))
    }

    /// Appends the items being spread to `b`, fewest pushes first; returns
    /// those added, and those too big for any datagram (they go over a
    /// stream).
    /// Items in `skip` (sent to this receiver already this round) are left
    /// out.
    pub(crate) fn fill_items(
        &mut self,
        b: &mut DatagramBuilder,
        skip: &BTreeSet<(Id, u64)>,
    ) -> (Vec<(Id, u64)>, Vec<BigItem>) {
        let mut added = Vec::new();
        let mut big = Vec::new();
        let mut gone = Vec::new();
        let mut misfits = 0;
        let room = self.out.packet_budget().saturating_sub(codec::HEADER_LEN);
        let active: Vec<(Id, u64)> =
            self.pushes.iter().filter(|item| !skip.contains(item)).collect();
        for (origin, version) in active {
            let Some(msg) = self.update_message(origin, version) else {
                gone.push((origin, version)); // superseded or collected
                continue;
            };
            if self.out.try_push(b, &msg) {
                added.push((origin, version));
            } else if codec::encoded_len(&msg) > room {
                big.push(BigItem { origin, version, update: msg });
            } else {
                // A datagram holds a few dozen items at most: stop after
                // several that do not fit, or once no Update could (none is
                // smaller than ~16 bytes), as the update queue does.
                misfits += 1;
                if misfits >= 8 || b.remaining() < 16 {
                    break;
                }
            }
        }
        for (origin, version) in gone {
            self.pushes.stop(origin, version);
        }
        (added, big)
    }

    /// Counts one push of each item in `sent` and applies the stop policy.
    pub(crate) fn pushed(&mut self, sent: &[(Id, u64)]) {
        let limit = self.config.retransmit_limit(self.live_members());
        for &(origin, version) in sent {
            let pushes = self.pushes.pushed(origin, version);
            let stop = match self.config.stop_policy {
                StopPolicy::RetransmitLimit => pushes >= limit,
                // Feedback stops it; the cap only matters if nobody answers
                // (every peer gone).
                StopPolicy::Counter(_) => pushes >= 10 * limit,
                StopPolicy::Coin(k) => self.random_index(k as usize) == 0,
            };
            if stop {
                self.pushes.stop(origin, version);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_come_out_fewest_first() {
        let mut p = Pushes::default();
        p.start(1, 1);
        p.start(1, 2);
        assert_eq!(p.iter().collect::<Vec<_>>(), [(1, 2), (1, 1)]);
        assert_eq!(p.pushed(1, 2), 1);
        assert_eq!(p.iter().collect::<Vec<_>>(), [(1, 1), (1, 2)]);
        assert_eq!(p.known(1, 1), 1);
        p.stop(1, 1);
        assert_eq!(p.len(), 1);
    }
}

//! What rides on every Ping, Ack and gossip round (the gossip section):
//! the queue of membership updates and the cursor of the member sample.
//!
//! First the pending updates, fewest transmissions first, each sent at most
//! `retransmit_mult * ceil(log10(n + 1))` times (memberlist's
//! transmit-limited queue). Then a sample of other members' states, least
//! recently sampled first (round-robin over the member ids): `max(3, n/10)`
//! entries, at most `n - 2` (Redis Cluster's gossip section). The sample is
//! what lets a member that missed an update (say a join announced while it
//! was itself joining) learn it within a few rounds instead of waiting for
//! a full sync.
//!
//! That section grows with the cluster, which is what a quiet cluster must
//! not pay for (issue 16): with n members every datagram would carry n/10
//! claims, most of them news to nobody. So once membership is quiet (no
//! update pending, none queued for [`QUIET_ROUNDS`] gossip rounds, and,
//! under SWIM, no suspicion in progress: see `Engine::quiet`), the sample
//! shrinks to [`QUIET_SAMPLE`] entries and the section carries instead a
//! check: the anti-entropy summary hash of this member's view (a `Summary`
//! asking for nothing). A receiver that is quiet too and holds a different
//! hash starts a sync with the sender, so a member that missed an update
//! learns it within a round trip or two of the next datagram it exchanges,
//! rather than from a sample that would take n/3 datagrams to come round
//! to the member concerned. The quorum detector keeps the full sample
//! always: its failure reports ride on it.

use super::outbox::Outbox;
use super::table::{FixedHashMap, Id};
use super::view::View;
use crate::codec::{self, DatagramBuilder, FailureReason};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;
use core::cmp::Reverse;

/// Gossip rounds (`gossip_interval`s) without a membership update queued
/// after which membership counts as quiet: long enough for an update's
/// epidemic to have run its course (it is sent `retransmit_limit` times,
/// a dozen at 1,000 members, three per round), so the larger sample is
/// there while members that missed it can still learn it from peers. On
/// the LAN preset, 3 s.
pub const QUIET_ROUNDS: u32 = 15;

/// Gossip rounds after which the cached check is recomputed even though
/// nothing said it changed (on the LAN preset, 30 s), per
/// [`CHECK_REFRESH_MEMBERS`] members in the view. Every change to the view
/// (each transition, a reap) and every one that goes through gossip,
/// mongering or a sync's deltas drops the cache at once; this catches
/// whatever else might move the hash. Computing it walked the whole table
/// when this was set (a walk every 30 s in each of 10,000 simulated
/// members was a third of a second of CPU per virtual second); the hash is
/// now kept by changes (`Engine::digest_hash`), and the refresh costs
/// O(changes) every `150 * max(1, n / 1,000)` rounds.
pub const CHECK_REFRESH_ROUNDS: u32 = 150;

/// Members per [`CHECK_REFRESH_ROUNDS`] of the check's refresh period.
pub const CHECK_REFRESH_MEMBERS: usize = 1000;

/// Member states in the sample of a datagram while membership is quiet:
/// the sample's floor when membership changes, so small clusters (under 40
/// members) send what they always did.
pub const QUIET_SAMPLE: usize = 3;

/// The gossip section's state: updates to send and where the sample is.
#[derive(Debug, Default)]
pub(crate) struct Piggyback {
    /// Members with an update to gossip, and how often each was sent.
    updates: UpdateQueue,
    /// The id the next sample starts at.
    sample_cursor: usize,
    /// Gossip rounds since an update was last queued, counted while none
    /// is pending (saturating).
    calm_rounds: u32,
    /// The summary hash of our view that quiet datagrams carry, and the
    /// gossip rounds since it was computed (refreshed every
    /// [`CHECK_REFRESH_ROUNDS`]). `None` while membership or items are
    /// changing.
    check: Option<(u64, u32)>,
    /// Until when a mismatched check starts no further sync (one per
    /// probe interval at most).
    check_cooldown: core::time::Duration,
}

impl Piggyback {
    /// Queues an update about member `id` (a death decided for `reason`,
    /// if given: it is sent as a Verdict while queued); a newer update
    /// about the same member replaces the older one and starts its count
    /// afresh.
    pub(crate) fn push(&mut self, id: Id, reason: Option<FailureReason>) {
        self.updates.push(id, reason);
        self.calm_rounds = 0;
        self.check = None;
    }

    /// One gossip round passed: counts towards quiet when no update is
    /// pending, and ages the cached check.
    pub(crate) fn tick(&mut self) {
        if self.updates.is_empty() {
            self.calm_rounds = self.calm_rounds.saturating_add(1);
        }
        if let Some((_, age)) = self.check.as_mut() {
            *age = age.saturating_add(1);
        }
    }

    /// Whether no update is pending and none was queued for
    /// [`QUIET_ROUNDS`] gossip rounds. (The detector has its say too: see
    /// `Engine::quiet`.)
    pub(crate) fn is_calm(&self) -> bool {
        self.updates.is_empty() && self.calm_rounds >= QUIET_ROUNDS
    }

    /// The cached check hash, if any.
    pub(crate) fn check(&self) -> Option<u64> {
        self.check.map(|(h, _)| h)
    }

    /// Whether the cached check is missing or older than its refresh
    /// period in a view of `members` (see [`CHECK_REFRESH_ROUNDS`]).
    pub(crate) fn check_stale(&self, members: usize) -> bool {
        let per = (members / CHECK_REFRESH_MEMBERS).max(1) as u32;
        let rounds = CHECK_REFRESH_ROUNDS.saturating_mul(per);
        self.check.is_none_or(|(_, age)| age >= rounds)
    }

    /// Caches `hash` as the check (`None`: quiet datagrams carry none).
    pub(crate) fn set_check(&mut self, hash: Option<u64>) {
        self.check = hash.map(|h| (h, 0));
    }

    /// Whether a mismatched check may start a sync at `now`; if so, none
    /// may until `now + cooldown`.
    pub(crate) fn may_check_sync(
        &mut self,
        now: core::time::Duration,
        cooldown: core::time::Duration,
    ) -> bool {
        if now < self.check_cooldown {
            return false;
        }
        self.check_cooldown = now + cooldown;
        true
    }

    /// Drops the update about member `id`; returns whether there was one.
    pub(crate) fn remove(&mut self, id: Id) -> bool {
        self.updates.remove(id)
    }

    /// Updates pending.
    pub(crate) fn len(&self) -> usize {
        self.updates.len()
    }

    /// Whether no update is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.updates.is_empty()
    }

    /// Whether some update has not been sent even once.
    pub(crate) fn has_fresh(&self) -> bool {
        self.updates.has_fresh()
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.updates.clear();
    }

    /// Appends pending member updates to `b`, fewest transmissions first;
    /// each is dropped once sent `limit` times; `keep` bytes of the budget
    /// are left free (for items). Returns whether this member's own update
    /// was sent, which completes a leave.
    pub(crate) fn fill_updates(
        &mut self,
        b: &mut DatagramBuilder,
        view: &View,
        out: &mut Outbox,
        limit: u32,
        keep: usize,
    ) -> bool {
        // A datagram holds a few dozen at most: stop after several in a row
        // that do not fit.
        let mut included: Vec<Id> = Vec::new();
        let mut misfits = 0;
        for id in self.updates.iter() {
            let Some(msg) = view.claim(id) else {
                continue;
            };
            let msg = match (msg, self.updates.reason(id)) {
                (codec::Claim::Dead(codec::AccusationRef { name, incarnation, from }), Some(r)) => {
                    let reason = r.as_u8();
                    codec::Claim::Verdict(codec::VerdictRef { name, incarnation, from, reason })
                }
                (msg, _) => msg,
            };
            let leaves_room = keep == 0 || b.remaining() >= keep + codec::encoded_len(&msg);
            if leaves_room && out.try_push(b, &msg) {
                included.push(id);
            } else {
                misfits += 1;
                // No entry is smaller than ~12 bytes.
                if misfits >= 8 || b.remaining() < 12 {
                    break;
                }
            }
        }
        let mut own_done = false;
        for id in included {
            if self.updates.sent(id, limit) && id == view.me {
                own_done = true;
            }
        }
        own_done
    }

    /// The sample: up to `want` members' states (at most `n - 2`),
    /// taken round-robin over the ids from where the last sample stopped,
    /// so the least recently sampled go first. The member `dst`, when
    /// known, is left out (it knows itself).
    ///
    /// An entry may repeat one of the pending section's; checking for that
    /// costs more than the few bytes it would save.
    pub(crate) fn fill_sample(
        &mut self,
        b: &mut DatagramBuilder,
        view: &View,
        out: &mut Outbox,
        dst: Option<Id>,
        want: usize,
    ) {
        let n = view.table().len();
        let want = want.min(n.saturating_sub(2));
        let (mut added, mut scanned) = (0, 0);
        while added < want && scanned < n {
            let id = (self.sample_cursor % n) as Id;
            if Some(id) == dst {
                self.sample_cursor = self.sample_cursor.wrapping_add(1);
                scanned += 1;
                continue;
            }
            let Some(msg) = view.claim(id) else {
                self.sample_cursor = self.sample_cursor.wrapping_add(1);
                scanned += 1;
                continue;
            };
            if !out.try_push(b, &msg) {
                // Full: the next datagram's sample starts with this member.
                break;
            }
            self.sample_cursor = self.sample_cursor.wrapping_add(1);
            added += 1;
            scanned += 1;
        }
    }
}

/// Room below which a queue is never shrunk: small bursts reuse theirs.
pub(crate) const MIN_ROOM: usize = 16;

/// The queue of member updates waiting to be gossiped.
///
/// At most one entry per member (a newer update replaces the older one and
/// starts its count afresh). Entries come out fewest-transmissions first,
/// newest first among equals (memberlist's transmit-limited queue), and
/// leave once sent their retransmit limit. Every operation is logarithmic
/// and counting a transmission allocates nothing, so a burst of a thousand
/// joins costs no more per update than one.
#[derive(Debug, Default)]
pub(crate) struct UpdateQueue {
    /// `(transmissions, newest first)`: the sending order.
    order: BTreeSet<(u32, Reverse<u64>)>,
    /// update id -> member.
    names: BTreeMap<u64, Id>,
    /// member -> `(transmissions, update id)`. Only looked up, never
    /// iterated.
    by_name: FixedHashMap<Id, (u32, u64)>,
    /// member -> why it was declared dead, for the queued deaths that came
    /// with a reason. A side map rather than a field of every entry: few
    /// updates are deaths. An entry lives exactly as long as the member's
    /// update, so it is bounded by the queue.
    reasons: BTreeMap<Id, FailureReason>,
    next_id: u64,
}

impl UpdateQueue {
    pub(crate) fn len(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn clear(&mut self) {
        self.order.clear();
        self.names.clear();
        self.by_name.clear();
        self.reasons.clear();
    }

    /// Whether some update has not been sent even once.
    pub(crate) fn has_fresh(&self) -> bool {
        self.order.first().is_some_and(|(sent, _)| *sent == 0)
    }

    /// Queues (or re-queues, with a fresh count) an update about member
    /// `name`, a death decided for `reason` if given.
    pub(crate) fn push(&mut self, name: Id, reason: Option<FailureReason>) {
        match reason {
            Some(r) => self.reasons.insert(name, r),
            None => self.reasons.remove(&name),
        };
        self.next_id += 1;
        let id = self.next_id;
        if let Some(slot) = self.by_name.get_mut(&name) {
            let (sent, old) = *slot;
            *slot = (0, id);
            self.order.remove(&(sent, Reverse(old)));
            self.names.remove(&old);
        } else {
            self.by_name.insert(name, (0, id));
        }
        self.names.insert(id, name);
        self.order.insert((0, Reverse(id)));
    }

    /// Drops the update about member `name`; returns whether there was one.
    pub(crate) fn remove(&mut self, name: Id) -> bool {
        self.reasons.remove(&name);
        match self.by_name.remove(&name) {
            Some((sent, id)) => {
                self.order.remove(&(sent, Reverse(id)));
                self.names.remove(&id);
                self.shrink();
                true
            }
            None => false,
        }
    }

    /// Gives back the member map's room once a burst drained: a thousand
    /// joins leave room for a thousand updates (about 30 bytes per member
    /// entry) long after the queue is empty. The B-trees free their nodes
    /// as they go. Only when a quarter full or less, to half full, so a
    /// shrink, O(len), comes after at least as many removals: amortized
    /// O(1), never a shrink per operation. The map is never iterated, so
    /// its layout changes nothing.
    fn shrink(&mut self) {
        let (len, cap) = (self.by_name.len(), self.by_name.capacity());
        if cap > MIN_ROOM && len * 4 <= cap {
            self.by_name.shrink_to(len * 2);
        }
    }

    /// Why member `name`'s queued death was decided, if it came with a
    /// reason.
    pub(crate) fn reason(&self, name: Id) -> Option<FailureReason> {
        self.reasons.get(&name).copied()
    }

    /// Members with an update, in sending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Id> + '_ {
        self.order.iter().filter_map(|(_, Reverse(id))| self.names.get(id).copied())
    }

    /// Counts one transmission of the update about member `name`; drops it once it
    /// reached `limit`. Returns whether it was dropped.
    pub(crate) fn sent(&mut self, name: Id, limit: u32) -> bool {
        let Some(slot) = self.by_name.get_mut(&name) else { return false };
        let (sent, id) = *slot;
        self.order.remove(&(sent, Reverse(id)));
        if sent + 1 >= limit {
            self.by_name.remove(&name);
            self.reasons.remove(&name);
            self.names.remove(&id);
            self.shrink();
            return true;
        }
        *slot = (sent + 1, id);
        self.order.insert((sent + 1, Reverse(id)));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn order(q: &UpdateQueue) -> Vec<Id> {
        q.iter().collect()
    }

    #[test]
    fn fewest_transmissions_then_newest_first() {
        let mut q = UpdateQueue::default();
        q.push(10, None);
        q.push(11, None);
        q.push(12, None);
        assert_eq!(order(&q), [12, 11, 10]);
        assert!(q.has_fresh());
        q.sent(12, 4);
        assert_eq!(order(&q), [11, 10, 12]);
        q.push(12, None);
        assert_eq!(order(&q)[0], 12, "a newer update starts afresh");
        assert_eq!(q.len(), 3);
    }

    #[test]
    fn retires_at_the_limit() {
        let mut q = UpdateQueue::default();
        q.push(10, None);
        assert!(q.has_fresh());
        assert!(!q.sent(10, 2));
        assert!(!q.has_fresh(), "sent once already");
        assert!(q.sent(10, 2));
        assert!(q.is_empty());
        assert!(!q.remove(10));
    }

    /// A death's reason lives exactly as long as the member's update: a
    /// newer update without one, retirement and removal all drop it, so
    /// the side map stays bounded by the queue.
    #[test]
    fn a_reason_lives_as_long_as_its_update() {
        let mut q = UpdateQueue::default();
        q.push(10, Some(FailureReason::ClosedPort));
        q.push(11, Some(FailureReason::Quorum));
        assert_eq!(q.reason(10), Some(FailureReason::ClosedPort));
        q.push(10, None); // say, its refutation
        assert_eq!(q.reason(10), None);
        assert!(q.sent(11, 1));
        assert_eq!(q.reason(11), None, "retired");
        q.push(12, Some(FailureReason::SuspicionTimeout));
        assert!(q.remove(12));
        assert_eq!(q.reason(12), None, "removed (reaped)");
        assert!(q.reasons.is_empty());
    }

    /// A drained burst gives its room back (issue 16: bytes per member
    /// entry), through sends and removals alike.
    #[test]
    fn gives_back_room_once_drained() {
        let mut q = UpdateQueue::default();
        for id in 0..2000 {
            q.push(id, None);
        }
        assert!(q.by_name.capacity() >= 2000);
        for id in 0..1000 {
            assert!(q.sent(id, 1));
        }
        for id in 1000..2000 {
            assert!(q.remove(id));
        }
        assert!(q.is_empty());
        assert!(q.by_name.capacity() <= MIN_ROOM, "room left: {}", q.by_name.capacity());
        q.push(7, None);
        assert_eq!(order(&q), [7], "still works after shrinking");
    }
}

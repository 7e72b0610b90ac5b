//! The engine's timer wheel: a min-heap of deadlines.
//!
//! Timers are never cancelled. A timer that fires after the thing it was
//! armed for has changed (a probe answered, a suspicion refuted) finds its
//! precondition false and does nothing (foca's approach), so cancelling is
//! free and the heap needs no lookup by key.

use super::table::Id;
use alloc::collections::BinaryHeap;
use core::cmp::{Ordering, Reverse};
use core::time::Duration;

/// What a timer is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Start the next probe of the failure detector.
    Probe,
    /// The direct Ping of probe `seq` got no Ack in time: go indirect.
    ProbeTimeout { seq: u64 },
    /// Send a round of pending gossip.
    Gossip,
    /// The suspicion of member `id` at `incarnation` expires.
    Suspicion { id: Id, incarnation: u64 },
    /// A relayed Ping (`seq`, for a PingReq) got no Ack in time.
    Relay { seq: u64 },
    /// Resend the Meets of join attempt `token`, or give up.
    JoinRetry { token: u64 },
    /// The name check whose Ping is `seq` got no answer in time
    /// (join.rs `NameCheck`).
    NameCheck { seq: u64 },
    /// Try to reach a dead member, in case a partition has healed.
    Reconnect,
    /// No member has been alive here since `since`: ask to rejoin.
    Rejoin { since: Duration },
    /// Start an anti-entropy sync.
    Sync,
    /// One extra sync, shortly after a join, once the news of the
    /// members joining alongside has settled.
    SettleSync,
    /// Collect old tombstones and rumors.
    Collect,
    /// The quorum detector's periodic check.
    Quorum,
    /// The undo time of member `id`'s failure is over (quorum detector).
    Revive { id: Id },
}

#[derive(Debug, PartialEq, Eq)]
struct Scheduled {
    at: Duration,
    order: u64,
    timer: Timer,
}

impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Deadlines in firing order; ties fire in the order they were armed, which
/// keeps runs deterministic.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Scheduled>>,
    armed: u64,
}

impl Timers {
    pub(crate) fn arm(&mut self, at: Duration, timer: Timer) {
        self.armed += 1;
        self.heap.push(Reverse(Scheduled { at, order: self.armed, timer }));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse(s)| s.at)
    }

    /// Removes and returns the earliest timer due at or before `now`, with
    /// the deadline it was armed for (how late it fires tells the engine
    /// whether it is behind on its own work).
    pub(crate) fn pop_due(&mut self, now: Duration) -> Option<(Duration, Timer)> {
        if self.next()? <= now {
            self.heap.pop().map(|Reverse(s)| (s.at, s.timer))
        } else {
            None
        }
    }
}

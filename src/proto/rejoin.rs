//! Rejoining through the seeds when no other member is left alive.
//!
//! Reconnects (join.rs) reach dead members this node still lists; once
//! every member has restarted (new lives, maybe new addresses) or they
//! were reaped, nobody is left to try, and a cluster whose members all
//! restarted stays split in singletons (memberlist#222, weaviate#10698).
//! So a node that has joined (or tried to) and then sees no live member for
//! `rejoin_interval` asks its driver, with [`Event::RejoinDue`], to join
//! again through its seeds; the driver re-resolves their names (the engine
//! does no I/O) and calls [`Engine::join`]. The request repeats every
//! `rejoin_interval` while the node stays alone.

use super::engine::Engine;
use super::event::Event;
use super::member::MemberState;
use super::timer::Timer;
use core::net::SocketAddr;
use core::time::Duration;

/// Whether, and since when, this node has seen no live member.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Alone {
    /// This node has tried to join, or had another member alive: it is
    /// meant to be in a cluster. A node never told to join stays alone. A
    /// failed join counts: after a restart of every member the first joins
    /// go to seeds that are down (memberlist#222).
    wanted: bool,
    /// Since when no other member is alive or suspect; `None` while one is.
    since: Option<Duration>,
}

impl Engine {
    /// Notes whether another member is alive, after a datagram or a batch
    /// of timers: constant work (the view keeps its counts by state).
    pub(crate) fn watch_alone(&mut self, now: Duration) {
        let interval = self.config.rejoin_interval;
        // live_members counts this node too.
        if self.live_members() > 1 {
            self.alone = Alone { wanted: true, since: None };
            return;
        }
        self.alone.wanted |= self.handshake.joining();
        if self.alone.wanted && self.alone.since.is_none() && !interval.is_zero() {
            self.alone.since = Some(now);
            self.timers.arm(now + interval, Timer::Rejoin { since: now });
        }
    }

    /// The rejoin timer armed when this node became alone at `since`.
    pub(crate) fn rejoin_tick(&mut self, now: Duration, since: Duration) {
        if self.alone.since != Some(since) {
            return; // another member came back meanwhile
        }
        self.timers.arm(now + self.config.rejoin_interval, Timer::Rejoin { since });
        if self.leaving || self.handshake.joining() {
            // A member that left does not come back by itself; a join
            // under way is tried already.
            return;
        }
        self.out.stats.rejoins += 1;
        self.out.event(Event::RejoinDue);
    }

    /// A seed answered a join at an incarnation this node holds it dead
    /// or gone at: a rejoin's seed usually is, as is a seed that restarted
    /// (perhaps on a new address), and its own word at that incarnation
    /// does not override ours. Like a reconnect, tell it what we hold, so
    /// it refutes with a higher incarnation that everyone accepts.
    pub(crate) fn contest_pong(&mut self, from: SocketAddr, name: &str, incarnation: u64) {
        let Some(id) = self.view.table().id(name) else { return };
        let e = self.entry(id);
        if matches!(e.state(), MemberState::Dead | MemberState::Left)
            && e.incarnation >= incarnation
        {
            if let Some(claim) = self.view.state_message(id) {
                let mut b = self.out.datagram();
                self.out.push(&mut b, &claim);
                self.out.transmit(from, b);
            }
        }
    }
}

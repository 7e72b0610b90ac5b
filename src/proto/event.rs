//! What the engine reports to its driver.

use super::member::{Member, MemberState};
use crate::codec::{FailureReason, Value};
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;

/// An event produced by the engine, taken with
/// [`Engine::poll_event`](super::Engine::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A member became known, or came back after being dead or gone.
    Joined(Member),
    /// A member came back alive at a new address: a new process under its
    /// name, started after the old one stopped (a restart on another port
    /// or host). Reported right after [`Event::Joined`] when it was dead or
    /// gone, and alone when the old process had not been noticed gone (it
    /// was held live, so nothing else is reported): the member is live at
    /// `member.addr` from now on.
    Restarted {
        /// The member as it is now, at its new address.
        member: Member,
        /// The address it was known at before.
        previous: SocketAddr,
    },
    /// A member left gracefully.
    Left(Member),
    /// A member was declared dead, and why when known: the reason of the
    /// member that decided it, carried by its gossip (`None` when it came
    /// without one, from an older peer or a full sync).
    Failed {
        /// The member as it is now held, dead.
        member: Member,
        /// What its death was decided on.
        reason: Option<FailureReason>,
    },
    /// A member is suspected of having failed.
    Suspected(Member),
    /// A suspected member refuted the suspicion and is alive again.
    Alive(Member),
    /// Another member accused this node (suspect, dead or left) and this node
    /// refuted by raising its incarnation.
    Refuted {
        /// What this node was accused of.
        accusation: MemberState,
        /// The new incarnation announced.
        incarnation: u64,
    },
    /// A join attempt was answered by a seed.
    JoinSucceeded {
        /// The token returned by [`Engine::join`](super::Engine::join).
        token: u64,
        /// The seed that answered first.
        seed: SocketAddr,
    },
    /// No seed of a join attempt answered before its deadline.
    JoinFailed {
        /// The token returned by [`Engine::join`](super::Engine::join).
        token: u64,
    },
    /// A seed refused a join attempt for good: a live member holds this
    /// node's name at another address (it answered the seed's check).
    /// Names are identities: the join fails rather than take it over.
    JoinConflict {
        /// The token returned by [`Engine::join`](super::Engine::join).
        token: u64,
        /// Where the member holding the name is.
        holder: SocketAddr,
    },
    /// The leave notice has been gossiped enough; the node may close.
    LeaveDone,
    /// No other member has been alive for `rejoin_interval`: the driver
    /// should join again through this node's seeds, resolving their names
    /// anew, since the engine itself cannot (see `rejoin.rs`).
    RejoinDue,
    /// A user broadcast arrived (once per `(origin, version)`; this node's
    /// own broadcasts too).
    Rumor {
        /// The member that broadcast it.
        origin: String,
        /// Which life of the origin broadcast it.
        generation: u64,
        /// Its sequence number in the origin's item log.
        version: u64,
        /// The payload.
        payload: Vec<u8>,
    },
    /// A key of a member's replicated state changed (this node's own too).
    Updated {
        /// The member that owns the key.
        member: String,
        /// Which life of the member.
        generation: u64,
        /// The key.
        key: String,
        /// Its new value; `None` once deleted.
        value: Option<Value>,
        /// The version of the change in the member's item log.
        version: u64,
    },
}

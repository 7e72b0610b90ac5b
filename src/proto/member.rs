//! A member of the cluster as the local node sees it.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::net::SocketAddr;
use core::time::Duration;

/// Where a member stands in the local node's view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MemberState {
    /// Answering probes (or not yet suspected).
    Alive,
    /// Missed a probe; declared dead unless it refutes in time.
    Suspect,
    /// Declared failed.
    Dead,
    /// Left the cluster gracefully; never reported as a failure.
    Left,
}

impl MemberState {
    /// Every state, in declaration order.
    pub const ALL: [MemberState; 4] =
        [MemberState::Alive, MemberState::Suspect, MemberState::Dead, MemberState::Left];

    /// Lower-case name, as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberState::Alive => "alive",
            MemberState::Suspect => "suspect",
            MemberState::Dead => "dead",
            MemberState::Left => "left",
        }
    }

    /// Whether the member is still taking part (alive or suspect).
    pub fn is_live(self) -> bool {
        matches!(self, MemberState::Alive | MemberState::Suspect)
    }
}

impl fmt::Display for MemberState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One member: identity `(name, addr, incarnation)`, state and metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Unique name in the cluster.
    pub name: String,
    /// Address its gossip socket listens on.
    pub addr: SocketAddr,
    /// Logical counter bumped only by the member itself (refutation,
    /// new metadata, restart).
    pub incarnation: u64,
    /// Current state in the local view.
    pub state: MemberState,
    /// Small opaque metadata set by the member.
    pub meta: Vec<u8>,
    /// Local time of the last state change (the engine's clock).
    pub since: Duration,
}

impl Member {
    /// A member as it first starts: alive at incarnation 0, without
    /// metadata, changed at time zero (what [`Snapshot`](super::Snapshot)s
    /// of a fresh cluster hold).
    pub fn new(name: impl Into<String>, addr: SocketAddr) -> Member {
        Member {
            name: name.into(),
            addr,
            incarnation: 0,
            state: MemberState::Alive,
            meta: Vec::new(),
            since: Duration::ZERO,
        }
    }
}

//! What a simulation records: an event log and per-interval counters, both
//! compact enough to keep on for 10,000 nodes.

use core::time::Duration;

/// What happened, in a [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum RecordKind {
    /// `node` learned that `subject` joined (or came back).
    Joined,
    /// `node` learned that `subject` left gracefully.
    Left,
    /// `node` declared or learned that `subject` failed.
    Failed,
    /// `node` suspects `subject`.
    Suspected,
    /// `node` saw suspected `subject` refute.
    Alive,
    /// `node` refuted an accusation against itself.
    Refuted,
    /// `node`'s join was answered.
    JoinSucceeded,
    /// `node`'s join got no answer.
    JoinFailed,
    /// `node` finished spreading its leave.
    LeaveDone,
    /// The simulation crashed `node`.
    Killed,
    /// The simulation restarted `node` with a fresh engine.
    Restarted,
    /// The simulation paused `node`.
    Paused,
    /// `node` resumed after a pause.
    Resumed,
    /// The simulation stalled `node`'s receiving (see `Simulation::stall`).
    Stalled,
    /// `node` reads its socket again after a stall.
    Unstalled,
    /// `node` received a rumor broadcast by `subject` (version in the
    /// record's `incarnation` field).
    Rumor,
    /// `node` saw a key of `subject`'s state change.
    Updated,
    /// `node` saw `subject` come back alive at a new address
    /// ([`Event::Restarted`](crate::proto::Event::Restarted)).
    Restart,
    /// `node`'s join was refused: a live member holds its name elsewhere.
    JoinConflict,
}

impl RecordKind {
    /// Every kind, in declaration order.
    pub const ALL: [RecordKind; 19] = [
        RecordKind::Joined,
        RecordKind::Left,
        RecordKind::Failed,
        RecordKind::Suspected,
        RecordKind::Alive,
        RecordKind::Refuted,
        RecordKind::JoinSucceeded,
        RecordKind::JoinFailed,
        RecordKind::LeaveDone,
        RecordKind::Killed,
        RecordKind::Restarted,
        RecordKind::Paused,
        RecordKind::Resumed,
        RecordKind::Stalled,
        RecordKind::Unstalled,
        RecordKind::Rumor,
        RecordKind::Updated,
        RecordKind::Restart,
        RecordKind::JoinConflict,
    ];

    /// Lower-case name, as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Joined => "join",
            RecordKind::Left => "leave",
            RecordKind::Failed => "fail",
            RecordKind::Suspected => "suspect",
            RecordKind::Alive => "alive",
            RecordKind::Refuted => "refute",
            RecordKind::JoinSucceeded => "join_succeeded",
            RecordKind::JoinFailed => "join_failed",
            RecordKind::LeaveDone => "leave_done",
            RecordKind::Killed => "killed",
            RecordKind::Restarted => "restarted",
            RecordKind::Paused => "paused",
            RecordKind::Resumed => "resumed",
            RecordKind::Stalled => "stalled",
            RecordKind::Unstalled => "unstalled",
            RecordKind::Rumor => "rumor",
            RecordKind::Updated => "update",
            RecordKind::Restart => "restart",
            RecordKind::JoinConflict => "join_conflict",
        }
    }
}

/// One line of the event log: at `time`, `node` reported `kind` about
/// `subject` (node indices; `subject == node` for events about itself),
/// at `subject`'s `incarnation` as the event saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    /// Virtual time.
    pub time: Duration,
    /// The node that reported it.
    pub node: u32,
    /// What happened.
    pub kind: RecordKind,
    /// The node it is about.
    pub subject: u32,
    /// The subject's incarnation in the event (the new one for
    /// [`RecordKind::Refuted`]; the item's version for `Rumor` and
    /// `Updated`; for `JoinSucceeded`, `JoinFailed` and
    /// `LeaveDone`, the node's own at the end of the step that reported it);
    /// 0 for what the simulation did to a node.
    pub incarnation: u64,
    /// For `Rumor` and `Updated`: what it said, through
    /// [`Simulation::content`](super::Simulation::content); otherwise
    /// [`NO_DETAIL`].
    pub detail: u32,
}

/// [`Record::detail`] of a record without content.
pub const NO_DETAIL: u32 = u32::MAX;

/// Traffic and events in one interval of virtual time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Interval {
    /// Start of the interval.
    pub start: Duration,
    /// Datagrams handed to the network.
    pub datagrams_sent: u64,
    /// Bytes handed to the network.
    pub bytes_sent: u64,
    /// Datagrams delivered to a running node.
    pub datagrams_delivered: u64,
    /// Datagrams lost: by the link, a partition, or a stopped receiver.
    pub datagrams_dropped: u64,
    /// Event-log records written.
    pub records: u64,
}

//! The messages of the protocol. Several travel in one datagram.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use serde::{Deserialize, Serialize};

/// One protocol message. The variant order is part of the wire format:
/// append new variants at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Join handshake, first step (Redis Cluster bus): the sender introduces
    /// itself to a seed. `token` is echoed in the [`Message::Pong`] so the
    /// joiner can tell which join attempt succeeded.
    Meet {
        /// Echoed back in the Pong.
        token: u64,
        /// The joiner's name.
        name: String,
        /// The address the joiner is reachable at.
        addr: SocketAddr,
        /// The joiner's current incarnation.
        incarnation: u64,
        /// The joiner's metadata.
        meta: Vec<u8>,
    },
    /// Join handshake, second step: the seed introduces itself in return.
    /// It is followed by the seed's view of the membership.
    Pong {
        /// The token of the Meet this answers.
        token: u64,
        /// The seed's name.
        name: String,
        /// The seed's address.
        addr: SocketAddr,
        /// The seed's incarnation.
        incarnation: u64,
        /// The seed's metadata.
        meta: Vec<u8>,
    },
    /// SWIM direct probe. `target` is the name the sender expects to reach,
    /// so a ping that lands on a different member (after a restart on the
    /// same address) is not acknowledged.
    Ping {
        /// Sequence number echoed in the Ack.
        seq: u64,
        /// Name of the member being probed.
        target: String,
    },
    /// Answer to a Ping (or, relayed, to a PingReq).
    Ack {
        /// The sequence number of the probe this answers.
        seq: u64,
    },
    /// SWIM indirect probe: "please ping `target` at `addr` for me".
    PingReq {
        /// Sequence number the relay uses in its Ack or Nack.
        seq: u64,
        /// Name of the member to probe.
        target: String,
        /// Its address.
        addr: SocketAddr,
    },
    /// The relay of a PingReq got no answer in time (Lifeguard): tells the
    /// requester that the relay itself is healthy.
    Nack {
        /// The sequence number of the PingReq.
        seq: u64,
    },
    /// Gossip: `name` is alive at `addr` with this incarnation.
    Alive {
        /// Member name.
        name: String,
        /// Member address.
        addr: SocketAddr,
        /// Incarnation the claim is about.
        incarnation: u64,
        /// Member metadata.
        meta: Vec<u8>,
    },
    /// Gossip: `from` suspects `name` at this incarnation.
    Suspect {
        /// Suspected member.
        name: String,
        /// Incarnation the suspicion is about.
        incarnation: u64,
        /// Who raised it.
        from: String,
    },
    /// Gossip: `name` is declared dead at this incarnation.
    Dead {
        /// Failed member.
        name: String,
        /// Incarnation the declaration is about.
        incarnation: u64,
        /// Who declared it.
        from: String,
    },
    /// Gossip: `name` left the cluster gracefully.
    Left {
        /// Departed member.
        name: String,
        /// Its incarnation when leaving.
        incarnation: u64,
    },
}

/// The kind of a message, for per-kind counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MessageKind {
    /// [`Message::Meet`]
    Meet,
    /// [`Message::Pong`]
    Pong,
    /// [`Message::Ping`]
    Ping,
    /// [`Message::Ack`]
    Ack,
    /// [`Message::PingReq`]
    PingReq,
    /// [`Message::Nack`]
    Nack,
    /// [`Message::Alive`]
    Alive,
    /// [`Message::Suspect`]
    Suspect,
    /// [`Message::Dead`]
    Dead,
    /// [`Message::Left`]
    Left,
}

impl Message {
    /// Whether every name is 1 to [`MAX_NAME_LEN`](super::MAX_NAME_LEN)
    /// bytes and the incarnation at most
    /// [`MAX_INCARNATION`](super::MAX_INCARNATION) (strictly below it for an
    /// accusation).
    pub fn within_limits(&self) -> bool {
        use super::{MAX_INCARNATION, MAX_NAME_LEN};
        let name_ok = |n: &str| !n.is_empty() && n.len() <= MAX_NAME_LEN;
        match self {
            Message::Meet { name, incarnation, .. }
            | Message::Pong { name, incarnation, .. }
            | Message::Alive { name, incarnation, .. } => {
                name_ok(name) && *incarnation <= MAX_INCARNATION
            }
            // An accusation must stay refutable: its target answers with
            // incarnation + 1, which must itself be within the limit.
            Message::Left { name, incarnation } => name_ok(name) && *incarnation < MAX_INCARNATION,
            Message::Suspect { name, incarnation, from }
            | Message::Dead { name, incarnation, from } => {
                name_ok(name) && from.len() <= MAX_NAME_LEN && *incarnation < MAX_INCARNATION
            }
            Message::Ping { target, .. } | Message::PingReq { target, .. } => {
                target.len() <= MAX_NAME_LEN
            }
            Message::Ack { .. } | Message::Nack { .. } => true,
        }
    }

    /// The kind of this message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Meet { .. } => MessageKind::Meet,
            Message::Pong { .. } => MessageKind::Pong,
            Message::Ping { .. } => MessageKind::Ping,
            Message::Ack { .. } => MessageKind::Ack,
            Message::PingReq { .. } => MessageKind::PingReq,
            Message::Nack { .. } => MessageKind::Nack,
            Message::Alive { .. } => MessageKind::Alive,
            Message::Suspect { .. } => MessageKind::Suspect,
            Message::Dead { .. } => MessageKind::Dead,
            Message::Left { .. } => MessageKind::Left,
        }
    }
}

impl MessageKind {
    /// Every kind, in wire order.
    pub const ALL: [MessageKind; 10] = [
        MessageKind::Meet,
        MessageKind::Pong,
        MessageKind::Ping,
        MessageKind::Ack,
        MessageKind::PingReq,
        MessageKind::Nack,
        MessageKind::Alive,
        MessageKind::Suspect,
        MessageKind::Dead,
        MessageKind::Left,
    ];

    /// Lower-case name used in statistics.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Meet => "meet",
            MessageKind::Pong => "pong",
            MessageKind::Ping => "ping",
            MessageKind::Ack => "ack",
            MessageKind::PingReq => "ping_req",
            MessageKind::Nack => "nack",
            MessageKind::Alive => "alive",
            MessageKind::Suspect => "suspect",
            MessageKind::Dead => "dead",
            MessageKind::Left => "left",
        }
    }
}

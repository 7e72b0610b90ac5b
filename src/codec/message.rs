//! The messages of the protocol. Several travel in one datagram.

use alloc::string::String;
use alloc::vec::Vec;
use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use serde::{Deserialize, Serialize};

/// One protocol message. The variant order is part of the wire format:
/// append new variants at the end. Each variant wraps a named struct, so a
/// handler takes one typed argument; postcard encodes a newtype variant
/// exactly as the struct variant it replaced (index, then the fields in
/// order), so the wire bytes did not change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// Join handshake, first step (Redis Cluster bus): the sender introduces
    /// itself to a seed. The token is echoed in the [`Message::Pong`] so the
    /// joiner can tell which join attempt succeeded.
    Meet(Handshake),
    /// Join handshake, second step: the seed introduces itself in return.
    /// It is followed by the seed's view of the membership.
    Pong(Handshake),
    /// SWIM direct probe.
    Ping(Ping),
    /// Answer to a Ping (or, relayed, to a PingReq).
    Ack(Ack),
    /// SWIM indirect probe: "please ping `target` at `addr` for me".
    PingReq(PingReq),
    /// The relay of a PingReq got no answer in time (Lifeguard): tells the
    /// requester that the relay itself is healthy.
    Nack(Nack),
    /// Gossip: a member is alive at an address with this incarnation.
    Alive(Alive),
    /// Gossip: the accuser suspects the member at this incarnation.
    Suspect(Accusation),
    /// Gossip: the member is declared dead at this incarnation.
    Dead(Accusation),
    /// Gossip: the member left the cluster gracefully.
    Left(Left),
    /// Rumor mongering: one item of a member's item log.
    Update(Update),
    /// Feedback: the receiver of an [`Message::Update`] already had it.
    Known(Known),
    /// Anti-entropy, first step: what the sender holds of a range of members.
    Digest(Digest),
    /// Anti-entropy, answer: a run of one member's items.
    Delta(Delta),
    /// Anti-entropy, first step when nothing may differ: a hash of the
    /// sender's whole digest.
    Summary(Summary),
    /// Join handshake, refused: the seed serves a bounded number of Meets
    /// at a time and has none to spare now. The joiner backs off and tries
    /// again, through one of `members` if any (they can answer as well as
    /// the seed), instead of counting the join as failed.
    Busy(Busy),
    /// Join handshake, refused for good: a live member holds the joiner's
    /// name at another address (it answered the seed's check). Names are
    /// identities, so the join fails instead of taking the name over.
    Conflict(Conflict),
    /// Join links: "send me the members you learned from table position
    /// `since` on". A join links the joiner and the member that served
    /// it; while a burst of joins lasts each side pulls the other's new
    /// members every gossip round, so the view of a mass join spreads in
    /// bulk along the links instead of claim by claim through gossip.
    Pull(Pull),
    /// The answer to a [`Message::Pull`]: first in each datagram of it,
    /// followed by the member claims. `upto` is where the next pull starts.
    Pulled(Pulled),
    /// Gossip: the member is declared dead at this incarnation, and why
    /// (a [`Message::Dead`] with its reason). Sent by the member that
    /// decided the death and by those that pass it on while they still
    /// know the reason; a plain `Dead` (an older peer, or a death learned
    /// without one) stays valid.
    Verdict(Verdict),
}

/// A member introducing itself in the join handshake ([`Message::Meet`]
/// from the joiner, [`Message::Pong`] from the seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// The join attempt: chosen by the joiner, echoed in the Pong.
    pub token: u64,
    /// The sender's name.
    pub name: String,
    /// The address the sender is reachable at.
    pub addr: SocketAddr,
    /// The sender's current incarnation.
    pub incarnation: u64,
    /// The sender's metadata.
    pub meta: Vec<u8>,
}

/// A [`Message::Busy`] refusal of the Meet of join attempt `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Busy {
    /// The join attempt refused (the Meet's token).
    pub token: u64,
    /// A few live members the joiner may meet instead, at most
    /// [`MAX_BUSY_MEMBERS`](super::MAX_BUSY_MEMBERS).
    pub members: Vec<SocketAddr>,
}

/// A [`Message::Conflict`] refusal of the Meet of join attempt `token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The join attempt refused (the Meet's token).
    pub token: u64,
    /// The name asked for.
    pub name: String,
    /// The address of the live member that holds it.
    pub holder: SocketAddr,
}

/// A [`Message::Pull`]: the sender has seen the receiver's members up to
/// table position `since`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pull {
    /// The sender's name: only live members are answered.
    pub sender: String,
    /// Where the answer starts in the receiver's table.
    pub since: u64,
}

/// A [`Message::Pulled`]: the claims after it in the datagram cover the
/// sender's table up to position `upto`, exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pulled {
    /// Where the next pull starts.
    pub upto: u64,
}

/// SWIM direct probe. `target` is the name the sender expects to reach, so
/// a ping that lands on a different member (after a restart on the same
/// address) is not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping {
    /// Sequence number echoed in the Ack.
    pub seq: u64,
    /// Name of the member being probed.
    pub target: String,
}

/// Answer to a Ping (or, relayed, to a PingReq).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The sequence number of the probe this answers.
    pub seq: u64,
}

/// SWIM indirect probe: "please ping `target` at `addr` for me".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReq {
    /// Sequence number the relay uses in its Ack or Nack.
    pub seq: u64,
    /// Name of the member to probe.
    pub target: String,
    /// Its address.
    pub addr: SocketAddr,
}

/// The relay of a PingReq got no answer in time (Lifeguard).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Nack {
    /// The sequence number of the PingReq.
    pub seq: u64,
}

/// Gossip: `name` is alive at `addr` with this incarnation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alive {
    /// Member name.
    pub name: String,
    /// Member address.
    pub addr: SocketAddr,
    /// Incarnation the claim is about.
    pub incarnation: u64,
    /// Member metadata.
    pub meta: Vec<u8>,
}

/// An [`Alive`] claim borrowing its name and metadata from the datagram
/// it was decoded from ([`decode_borrowed`](super::decode_borrowed)), or
/// from the table entry it is encoded from. The same fields in the same
/// order, so it encodes and decodes byte for byte as an [`Alive`] (postcard
/// writes a `&str` as a `String` and a `&[u8]` as a `Vec<u8>`: a length,
/// then the bytes). A mass join handles about n² of these per cluster
/// (10⁸ at 10,000 members), most of them old news or a name already
/// interned, so a claim that needs no copy of its name makes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename = "Alive")]
pub struct AliveRef<'a> {
    /// Member name.
    pub name: &'a str,
    /// Member address.
    pub addr: SocketAddr,
    /// Incarnation the claim is about.
    pub incarnation: u64,
    /// Member metadata.
    pub meta: &'a [u8],
}

impl AliveRef<'_> {
    /// The owned claim.
    pub fn to_alive(&self) -> Alive {
        Alive {
            name: self.name.into(),
            addr: self.addr,
            incarnation: self.incarnation,
            meta: self.meta.to_vec(),
        }
    }

    /// Whether the name is 1 to [`MAX_NAME_LEN`](super::MAX_NAME_LEN)
    /// bytes and the incarnation at most
    /// [`MAX_INCARNATION`](super::MAX_INCARNATION): as
    /// [`Message::within_limits`] for an [`Alive`].
    pub fn within_limits(&self) -> bool {
        alive_within_limits(self.name, self.incarnation)
    }
}

/// Reads a postcard varint of at most `max` bytes (`max` ≤ 9: 63 bits)
/// written in its shortest form, as postcard writes them; `None` for
/// anything else (a longer form, too many bytes, too few), which the
/// caller leaves to postcard itself.
fn take_varint(b: &[u8], max: usize) -> Option<(u64, &[u8])> {
    // Most are one byte (lengths, incarnations, the address tag).
    if let Some((&first, rest)) = b.split_first() {
        if first < 0x80 {
            return Some((u64::from(first), rest));
        }
    }
    let mut out = 0u64;
    for (i, &byte) in b.iter().enumerate().take(max) {
        out |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return None;
            }
            return Some((out, &b[i + 1..]));
        }
    }
    None
}

/// Reads a postcard byte string (a length, then the bytes).
fn take_bytes(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, b) = take_varint(b, 9)?;
    let len = usize::try_from(len).ok()?;
    (len <= b.len()).then(|| b.split_at(len))
}

/// Reads a `u16` postcard varint in its shortest form.
fn take_port(b: &[u8]) -> Option<(u16, &[u8])> {
    let (port, b) = take_varint(b, 3)?;
    Some((u16::try_from(port).ok()?, b))
}

/// Appends `v` as a postcard varint (shortest form, as postcard writes).
fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    if v < 0x80 {
        buf.push(v as u8);
        return;
    }
    while v >= 0x80 {
        buf.push(v as u8 | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

impl<'a> AliveRef<'a> {
    /// Reads the claim's fields (after the message tag) from `b`, as
    /// postcard does, by hand: postcard's serde path (a SocketAddr is an
    /// enum of tuples of arrays to it) cost more than the rest of a
    /// claim's handling. Only the plain forms postcard writes are read
    /// here; `None` leaves anything else (longer varints, errors) to
    /// postcard, so what decodes and how is postcard's alone (checked
    /// against it by test).
    pub(crate) fn read(b: &'a [u8]) -> Option<(AliveRef<'a>, &'a [u8])> {
        let (name, b) = take_bytes(b)?;
        let name = core::str::from_utf8(name).ok()?;
        let (&tag, b) = b.split_first()?;
        let (addr, b) = match tag {
            0 => {
                let (ip, b) = b.split_first_chunk::<4>()?;
                let (port, b) = take_port(b)?;
                (SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(*ip), port)), b)
            }
            1 => {
                let (ip, b) = b.split_first_chunk::<16>()?;
                let (port, b) = take_port(b)?;
                (SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(*ip), port, 0, 0)), b)
            }
            _ => return None,
        };
        let (incarnation, b) = take_varint(b, 9)?;
        let (meta, b) = take_bytes(b)?;
        Some((AliveRef { name, addr, incarnation, meta }, b))
    }

    /// Appends the claim's fields as postcard writes them (see
    /// [`AliveRef::read`]; byte for byte the same, checked by test).
    pub(crate) fn write(&self, buf: &mut Vec<u8>) {
        // The most it takes: the varints, a v6 address, the bytes.
        buf.reserve(40 + self.name.len() + self.meta.len());
        put_varint(buf, self.name.len() as u64);
        buf.extend_from_slice(self.name.as_bytes());
        match self.addr {
            SocketAddr::V4(a) => {
                buf.push(0);
                buf.extend_from_slice(&a.ip().octets());
                put_varint(buf, u64::from(a.port()));
            }
            SocketAddr::V6(a) => {
                buf.push(1);
                buf.extend_from_slice(&a.ip().octets());
                put_varint(buf, u64::from(a.port()));
            }
        }
        put_varint(buf, self.incarnation);
        put_varint(buf, self.meta.len() as u64);
        buf.extend_from_slice(self.meta);
    }
}

impl Alive {
    /// The claim, borrowed.
    pub fn as_ref(&self) -> AliveRef<'_> {
        AliveRef {
            name: &self.name,
            addr: self.addr,
            incarnation: self.incarnation,
            meta: &self.meta,
        }
    }
}

/// A membership claim borrowed from the table entry it states: what
/// [`Message::Alive`], [`Message::Suspect`], [`Message::Dead`],
/// [`Message::Left`] or [`Message::Verdict`] would carry, encoded byte
/// for byte as that message (same variant index, same fields in the same
/// order). The engine sends about n² claims in a mass join (samples,
/// pulls, view slices); stating one this way copies no name, accuser or
/// metadata into a message first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim<'a> {
    /// As [`Message::Alive`].
    Alive(AliveRef<'a>),
    /// As [`Message::Suspect`].
    Suspect(AccusationRef<'a>),
    /// As [`Message::Dead`].
    Dead(AccusationRef<'a>),
    /// As [`Message::Left`].
    Left(LeftRef<'a>),
    /// As [`Message::Verdict`].
    Verdict(VerdictRef<'a>),
}

/// An [`Accusation`], borrowed (see [`Claim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename = "Accusation")]
pub struct AccusationRef<'a> {
    /// The accused member.
    pub name: &'a str,
    /// Incarnation the accusation is about.
    pub incarnation: u64,
    /// Who raised it.
    pub from: &'a str,
}

/// A [`Left`], borrowed (see [`Claim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename = "Left")]
pub struct LeftRef<'a> {
    /// Departed member.
    pub name: &'a str,
    /// Its incarnation when leaving.
    pub incarnation: u64,
}

/// A [`Verdict`], borrowed (see [`Claim`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename = "Verdict")]
pub struct VerdictRef<'a> {
    /// The dead member.
    pub name: &'a str,
    /// Incarnation the verdict is about.
    pub incarnation: u64,
    /// Who declared it.
    pub from: &'a str,
    /// A [`FailureReason`] as its wire value.
    pub reason: u8,
}

impl Claim<'_> {
    /// The kind of message it encodes as.
    pub fn kind(&self) -> MessageKind {
        match self {
            Claim::Alive(_) => MessageKind::Alive,
            Claim::Suspect(_) => MessageKind::Suspect,
            Claim::Dead(_) => MessageKind::Dead,
            Claim::Left(_) => MessageKind::Left,
            Claim::Verdict(_) => MessageKind::Verdict,
        }
    }

    /// The owned message.
    pub fn to_message(&self) -> Message {
        match *self {
            Claim::Alive(a) => Message::Alive(a.to_alive()),
            Claim::Suspect(AccusationRef { name, incarnation, from }) => {
                Message::Suspect(Accusation { name: name.into(), incarnation, from: from.into() })
            }
            Claim::Dead(AccusationRef { name, incarnation, from }) => {
                Message::Dead(Accusation { name: name.into(), incarnation, from: from.into() })
            }
            Claim::Left(LeftRef { name, incarnation }) => {
                Message::Left(Left { name: name.into(), incarnation })
            }
            Claim::Verdict(VerdictRef { name, incarnation, from, reason }) => {
                Message::Verdict(Verdict {
                    name: name.into(),
                    incarnation,
                    from: from.into(),
                    reason,
                })
            }
        }
    }
}

impl Serialize for Claim<'_> {
    /// As the derived `Serialize` of [`Message`] writes the variant.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let index = self.kind() as u32;
        match self {
            Claim::Alive(a) => s.serialize_newtype_variant("Message", index, "Alive", a),
            Claim::Suspect(a) => s.serialize_newtype_variant("Message", index, "Suspect", a),
            Claim::Dead(a) => s.serialize_newtype_variant("Message", index, "Dead", a),
            Claim::Left(l) => s.serialize_newtype_variant("Message", index, "Left", l),
            Claim::Verdict(v) => s.serialize_newtype_variant("Message", index, "Verdict", v),
        }
    }
}

/// What [`DatagramBuilder`](super::DatagramBuilder) and the engine's
/// outbox append: a [`Message`], or a [`Claim`] encoded as one.
pub trait Encode: Serialize {
    /// The kind of message it encodes as.
    fn kind(&self) -> MessageKind;

    /// Appends it to `buf` as postcard writes it; returns whether it did.
    fn encode_into(&self, buf: &mut Vec<u8>) -> bool {
        // postcard only fails on writer errors; a Vec writer cannot fail.
        match postcard::to_extend(self, core::mem::take(buf)) {
            Ok(b) => {
                *buf = b;
                true
            }
            Err(_) => false,
        }
    }
}

impl Encode for Message {
    fn kind(&self) -> MessageKind {
        Message::kind(self)
    }
}

impl Encode for Claim<'_> {
    fn kind(&self) -> MessageKind {
        Claim::kind(self)
    }

    /// An Alive claim (nearly every claim a mass join sends) is written by
    /// hand (`AliveRef::write`); the others through postcard.
    fn encode_into(&self, buf: &mut Vec<u8>) -> bool {
        match self {
            Claim::Alive(a) => {
                buf.push(MessageKind::Alive as u8);
                a.write(buf);
                true
            }
            _ => match postcard::to_extend(self, core::mem::take(buf)) {
                Ok(b) => {
                    *buf = b;
                    true
                }
                Err(_) => false,
            },
        }
    }
}

/// The limits of an Alive claim (and of a handshake, which introduces one).
fn alive_within_limits(name: &str, incarnation: u64) -> bool {
    !name.is_empty() && name.len() <= super::MAX_NAME_LEN && incarnation <= super::MAX_INCARNATION
}

/// Gossip: `from` holds `name` suspect ([`Message::Suspect`]) or dead
/// ([`Message::Dead`]) at this incarnation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accusation {
    /// The accused member.
    pub name: String,
    /// Incarnation the accusation is about.
    pub incarnation: u64,
    /// Who raised it.
    pub from: String,
}

/// Why a member was declared dead: what the member that decided it saw.
/// Encoded on the wire as a `u8` ([`FailureReason::as_u8`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureReason {
    /// Its port was confirmed closed (crash evidence: the process is gone
    /// while its host answers).
    ClosedPort,
    /// A SWIM suspicion of it ran out without a refutation.
    SuspicionTimeout,
    /// A majority of the live members reported it failing (quorum
    /// detector).
    Quorum,
}

impl FailureReason {
    /// Every reason, in wire order.
    pub const ALL: [FailureReason; 3] =
        [FailureReason::ClosedPort, FailureReason::SuspicionTimeout, FailureReason::Quorum];

    /// Its wire value.
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// The reason of wire value `v`, if it is one.
    pub fn from_u8(v: u8) -> Option<FailureReason> {
        Self::ALL.get(usize::from(v)).copied()
    }

    /// Lower-case name, as shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::ClosedPort => "closed_port",
            FailureReason::SuspicionTimeout => "suspicion_timeout",
            FailureReason::Quorum => "quorum",
        }
    }
}

impl core::fmt::Display for FailureReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Gossip ([`Message::Verdict`]): `from` declared `name` dead at this
/// incarnation for `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    /// The dead member.
    pub name: String,
    /// Incarnation the verdict is about.
    pub incarnation: u64,
    /// Who declared it.
    pub from: String,
    /// A [`FailureReason`] as its wire value; anything else is out of
    /// limits.
    pub reason: u8,
}

impl Verdict {
    /// A verdict of `from` on `name` at `incarnation` for `reason`.
    pub fn new(name: String, incarnation: u64, from: String, reason: FailureReason) -> Verdict {
        Verdict { name, incarnation, from, reason: reason.as_u8() }
    }

    /// The reason, if its wire value is one.
    pub fn reason(&self) -> Option<FailureReason> {
        FailureReason::from_u8(self.reason)
    }
}

/// Gossip: `name` left the cluster gracefully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Left {
    /// Departed member.
    pub name: String,
    /// Its incarnation when leaving.
    pub incarnation: u64,
}

/// Rumor mongering: item `version` of `origin`'s item log (a state change
/// or a user rumor).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The member whose item log the item belongs to.
    pub origin: String,
    /// Which life of the origin the log is from.
    pub generation: u64,
    /// Its version in that log (per-member counter).
    pub version: u64,
    /// What changed.
    pub item: Item,
    /// Whether the sender wants a [`Message::Known`] if we knew it already
    /// (Demers' counter-with-feedback stop policy).
    pub feedback: bool,
}

/// Feedback: the receiver of an [`Message::Update`] already had it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// Origin of the item.
    pub origin: String,
    /// Which life of the origin.
    pub generation: u64,
    /// Its version.
    pub version: u64,
}

/// Anti-entropy, first step: what the sender holds of the members whose
/// names are in `(after, upto]` (no bound: open end), sorted by name. A
/// member in that range but not listed is unknown to the sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The sender's name (only known members at their address get an
    /// answer).
    pub sender: String,
    /// Exclusive lower bound of the names covered.
    pub after: Option<String>,
    /// Inclusive upper bound of the names covered.
    pub upto: Option<String>,
    /// One entry per member the sender knows in that range.
    pub entries: Vec<DigestEntry>,
    /// Answer with the state and items we lack (pull).
    pub want_delta: bool,
    /// Answer with a digest of your own so we can send what you lack
    /// (push).
    pub want_digest: bool,
}

/// Anti-entropy, answer: `member`'s items with versions in `(from,
/// through]` that are current at the sender, in version order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delta {
    /// Whose item log.
    pub member: String,
    /// Which life of that member the log is from.
    pub generation: u64,
    /// Exclusive lower bound: the receiver's watermark (0 for a reset).
    pub from: u64,
    /// Inclusive upper bound the sender vouches for.
    pub through: u64,
    /// Versions up to this are collected at the sender; if the receiver is
    /// behind it, it must drop what it holds and start over (reset).
    pub collected: u64,
    /// The items, `(version, item)`, in version order.
    pub items: Vec<(u64, Item)>,
}

/// Anti-entropy, first step when nothing may differ: a hash of the sender's
/// whole digest. A receiver whose own hash differs answers with its
/// [`Message::Digest`] and the exchange goes on from there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// The sender's name.
    pub sender: String,
    /// [`summary_hash`](super::summary_hash) of every digest entry.
    pub hash: u64,
    /// As in [`Digest`]: the sender wants what it lacks.
    pub want_delta: bool,
    /// As in [`Digest`]: the sender will send what we lack.
    pub want_digest: bool,
}

/// A value of the replicated state: bytes or text, kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Value {
    /// Raw bytes.
    Bytes(Vec<u8>),
    /// UTF-8 text.
    Text(String),
}

impl Value {
    /// Size of the value in bytes.
    pub fn len(&self) -> usize {
        match self {
            Value::Bytes(b) => b.len(),
            Value::Text(s) => s.len(),
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One entry of a member's stream. The variant order is wire format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// `key` now holds `value`.
    Set {
        /// The key.
        key: String,
        /// Its new value.
        value: Value,
    },
    /// `key` was deleted (a tombstone, collected after a grace period).
    Delete {
        /// The key.
        key: String,
    },
    /// A user broadcast.
    Rumor {
        /// Its payload.
        payload: Vec<u8>,
    },
}

/// What a digest says about one member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestEntry {
    /// Member name.
    pub name: String,
    /// Its incarnation in the sender's view.
    pub incarnation: u64,
    /// Its state in the sender's view: 0 alive, 1 suspect, 2 dead, 3 left.
    pub state: u8,
    /// The life of the member whose stream the sender holds.
    pub generation: u64,
    /// The sender holds every current item of it up to this version.
    pub watermark: u64,
    /// The sender collected its items up to this version.
    pub collected: u64,
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
    /// [`Message::Update`]
    Update,
    /// [`Message::Known`]
    Known,
    /// [`Message::Digest`]
    Digest,
    /// [`Message::Delta`]
    Delta,
    /// [`Message::Summary`]
    Summary,
    /// [`Message::Busy`]
    Busy,
    /// [`Message::Conflict`]
    Conflict,
    /// [`Message::Pull`]
    Pull,
    /// [`Message::Pulled`]
    Pulled,
    /// [`Message::Verdict`]
    Verdict,
}

impl Message {
    /// Whether every name is 1 to [`MAX_NAME_LEN`](super::MAX_NAME_LEN)
    /// bytes and the incarnation at most
    /// [`MAX_INCARNATION`](super::MAX_INCARNATION) (strictly below it for an
    /// accusation).
    pub fn within_limits(&self) -> bool {
        use super::{MAX_INCARNATION, MAX_NAME_LEN, MAX_VERSION};
        let name_ok = |n: &str| !n.is_empty() && n.len() <= MAX_NAME_LEN;
        let version_ok = |v: u64| (1..=MAX_VERSION).contains(&v);
        match self {
            Message::Meet(Handshake { name, incarnation, .. })
            | Message::Pong(Handshake { name, incarnation, .. })
            | Message::Alive(Alive { name, incarnation, .. }) => {
                alive_within_limits(name, *incarnation)
            }
            // An accusation must stay refutable: its target answers with
            // incarnation + 1, which must itself be within the limit.
            Message::Left(Left { name, incarnation }) => {
                name_ok(name) && *incarnation < MAX_INCARNATION
            }
            Message::Suspect(Accusation { name, incarnation, from })
            | Message::Dead(Accusation { name, incarnation, from }) => {
                name_ok(name) && from.len() <= MAX_NAME_LEN && *incarnation < MAX_INCARNATION
            }
            Message::Verdict(v @ Verdict { name, incarnation, from, .. }) => {
                name_ok(name)
                    && from.len() <= MAX_NAME_LEN
                    && *incarnation < MAX_INCARNATION
                    && v.reason().is_some()
            }
            Message::Ping(Ping { target, .. }) | Message::PingReq(PingReq { target, .. }) => {
                target.len() <= MAX_NAME_LEN
            }
            Message::Ack(_) | Message::Nack(_) => true,
            Message::Update(Update { origin, generation, version, item, .. }) => {
                name_ok(origin)
                    && *generation <= MAX_VERSION
                    && version_ok(*version)
                    && item.within_limits()
            }
            Message::Known(Known { origin, version, .. }) => {
                name_ok(origin) && version_ok(*version)
            }
            Message::Digest(Digest { sender, after, upto, entries, .. }) => {
                name_ok(sender)
                    && after.as_ref().is_none_or(|n| n.len() <= MAX_NAME_LEN)
                    && upto.as_ref().is_none_or(|n| n.len() <= MAX_NAME_LEN)
                    && entries.iter().all(|e| {
                        name_ok(&e.name)
                            && e.incarnation <= MAX_INCARNATION
                            && e.state <= 3
                            && e.generation <= MAX_VERSION
                            && e.watermark <= MAX_VERSION
                            && e.collected <= MAX_VERSION
                    })
            }
            Message::Summary(Summary { sender, .. }) => name_ok(sender),
            Message::Busy(Busy { members, .. }) => members.len() <= super::MAX_BUSY_MEMBERS,
            Message::Conflict(Conflict { name, .. }) => name_ok(name),
            Message::Pull(Pull { sender, .. }) => name_ok(sender),
            Message::Pulled(_) => true,
            Message::Delta(Delta { member, generation, from, through, collected, items }) => {
                name_ok(member)
                    && *generation <= MAX_VERSION
                    && from <= through
                    && version_ok(*through)
                    && *collected <= MAX_VERSION
                    && items.iter().all(|(v, i)| *v > *from && *v <= *through && i.within_limits())
                    && items.windows(2).all(|w| w[0].0 < w[1].0)
            }
        }
    }

    /// The kind of this message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Message::Meet(_) => MessageKind::Meet,
            Message::Pong(_) => MessageKind::Pong,
            Message::Ping(_) => MessageKind::Ping,
            Message::Ack(_) => MessageKind::Ack,
            Message::PingReq(_) => MessageKind::PingReq,
            Message::Nack(_) => MessageKind::Nack,
            Message::Alive(_) => MessageKind::Alive,
            Message::Suspect(_) => MessageKind::Suspect,
            Message::Dead(_) => MessageKind::Dead,
            Message::Left(_) => MessageKind::Left,
            Message::Update(_) => MessageKind::Update,
            Message::Known(_) => MessageKind::Known,
            Message::Digest(_) => MessageKind::Digest,
            Message::Delta(_) => MessageKind::Delta,
            Message::Summary(_) => MessageKind::Summary,
            Message::Busy(_) => MessageKind::Busy,
            Message::Conflict(_) => MessageKind::Conflict,
            Message::Pull(_) => MessageKind::Pull,
            Message::Pulled(_) => MessageKind::Pulled,
            Message::Verdict(_) => MessageKind::Verdict,
        }
    }
}

impl Item {
    /// Whether a key is 1 to [`MAX_KEY_LEN`](super::MAX_KEY_LEN) bytes.
    pub fn within_limits(&self) -> bool {
        match self {
            Item::Set { key, .. } | Item::Delete { key } => {
                !key.is_empty() && key.len() <= super::MAX_KEY_LEN
            }
            Item::Rumor { .. } => true,
        }
    }
}

impl MessageKind {
    /// Every kind, in wire order.
    pub const ALL: [MessageKind; 20] = [
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
        MessageKind::Update,
        MessageKind::Known,
        MessageKind::Digest,
        MessageKind::Delta,
        MessageKind::Summary,
        MessageKind::Busy,
        MessageKind::Conflict,
        MessageKind::Pull,
        MessageKind::Pulled,
        MessageKind::Verdict,
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
            MessageKind::Update => "update",
            MessageKind::Known => "known",
            MessageKind::Digest => "digest",
            MessageKind::Delta => "delta",
            MessageKind::Summary => "summary",
            MessageKind::Busy => "busy",
            MessageKind::Conflict => "conflict",
            MessageKind::Pull => "pull",
            MessageKind::Pulled => "pulled",
            MessageKind::Verdict => "verdict",
        }
    }
}

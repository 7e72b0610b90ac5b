//! Wire format: the envelope every datagram starts with, the messages it
//! carries, and the encode/decode functions that pack several messages into
//! one datagram within a size budget.
//!
//! Messages are `serde` types encoded with `postcard` (a stable, documented
//! format). A datagram is `magic (2 B) | version (1 B) | flags (1 B)` followed
//! by one or more postcard-encoded [`Message`]s back to back. Anything that
//! does not decode cleanly is rejected with a [`DecodeError`]; the caller
//! drops the datagram and counts it. Decoding never panics.

mod message;
mod seal;
mod summary;

pub use message::{
    Accusation, AccusationRef, Ack, Alive, AliveRef, Busy, Claim, Conflict, Delta, Digest,
    DigestEntry, Encode, FailureReason, Handshake, Item, Known, Left, LeftRef, Message,
    MessageKind, Nack, Ping, PingReq, Pull, Pulled, Summary, Update, Value, Verdict, VerdictRef,
};
pub use seal::{
    Key, Keyring, KeyringError, OpenError, FLAG_SEALED, KEY_LEN, MAX_KEYS, MAX_LABEL_LEN,
    SEAL_OVERHEAD,
};
/// FNV-1a 64 and `fmix64`, shared with the engine's name hashes (table.rs).
pub(crate) use summary::{fmix64, fnv1a, FNV_OFFSET};
pub use summary::{summary_hash, summary_name_prefix, summary_term, summary_term_after};

use alloc::vec::Vec;
use core::fmt;

/// First two bytes of every rumor datagram: lets a node drop stray traffic
/// (another protocol on the same port) before trying to decode it.
pub const MAGIC: [u8; 2] = *b"Rm";
/// Wire protocol version. A datagram with another version is dropped.
pub const PROTOCOL_VERSION: u8 = 1;
/// Size of the envelope header in bytes.
pub const HEADER_LEN: usize = 6;
/// Largest datagram any node will accept, whatever its configured
/// `max_packet_size`: the largest UDP payload over IPv4.
pub const MAX_DATAGRAM: usize = 65_507;

/// Most members a [`Message::Busy`] refusal names.
pub const MAX_BUSY_MEMBERS: usize = 8;
/// Longest member name, in bytes.
pub const MAX_NAME_LEN: usize = 128;
/// Longest key of the replicated state, in bytes.
pub const MAX_KEY_LEN: usize = 256;
/// Highest version (or generation) a state item may carry (a member's
/// counter never gets near it): keeps `version + 1` from overflowing.
pub const MAX_VERSION: u64 = u64::MAX / 2;
/// Highest incarnation a message may carry. Members raise their incarnation
/// one step at a time, so no honest member gets near it; refusing claims
/// above it keeps `incarnation + 1` from overflowing and stops a forged
/// claim at `u64::MAX` from making a member impossible to refute.
pub const MAX_INCARNATION: u64 = u64::MAX / 2;

/// Why a datagram was rejected. Each variant is counted separately in the
/// node's statistics; none affects the node's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the envelope header.
    Truncated,
    /// Larger than the receiver accepts.
    Oversized,
    /// The magic bytes are wrong: not a rumor datagram.
    BadMagic,
    /// A rumor datagram of a protocol version this build does not speak.
    UnknownVersion(u8),
    /// Flags this build does not understand (for example encryption).
    UnsupportedFlags(u8),
    /// The body is not a valid sequence of messages.
    Malformed,
    /// The messages decode but break a protocol limit (a name longer than
    /// [`MAX_NAME_LEN`], an incarnation above [`MAX_INCARNATION`]).
    OutOfLimits,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Truncated => f.write_str("datagram shorter than the envelope header"),
            DecodeError::Oversized => f.write_str("datagram larger than the accepted maximum"),
            DecodeError::BadMagic => f.write_str("not a rumor datagram (bad magic)"),
            DecodeError::UnknownVersion(v) => write!(f, "unknown protocol version {v}"),
            DecodeError::UnsupportedFlags(v) => write!(f, "unsupported envelope flags {v:#04x}"),
            DecodeError::Malformed => f.write_str("malformed message body"),
            DecodeError::OutOfLimits => f.write_str("message outside protocol limits"),
        }
    }
}

/// Builds one datagram: header first, then messages appended while they fit.
///
/// Callers add the messages that must go (a Ping, an Ack) with
/// [`DatagramBuilder::push`] and fill the rest with gossip through
/// [`DatagramBuilder::try_push`], which refuses a message that would overflow
/// the budget.
#[derive(Debug)]
pub struct DatagramBuilder {
    buf: Vec<u8>,
    budget: usize,
    messages: usize,
}

impl DatagramBuilder {
    /// Starts a datagram that will hold at most `budget` bytes (header included).
    pub fn new(budget: usize) -> Self {
        let mut buf = Vec::with_capacity(budget.min(MAX_DATAGRAM));
        buf.extend_from_slice(&MAGIC);
        buf.push(PROTOCOL_VERSION);
        buf.push(0);
        buf.extend_from_slice(&[0, 0]);
        DatagramBuilder { buf, budget, messages: 0 }
    }

    /// Appends a message even if it exceeds the budget. Used for the one
    /// message a datagram exists to carry.
    pub fn push<M: Encode + ?Sized>(&mut self, msg: &M) {
        if self.messages == usize::from(u16::MAX) {
            return;
        }
        if msg.encode_into(&mut self.buf) {
            self.messages += 1;
        }
    }

    /// Appends a message if it fits in the remaining budget; returns whether
    /// it was added.
    pub fn try_push<M: Encode + ?Sized>(&mut self, msg: &M) -> bool {
        let before = self.buf.len();
        let count = self.messages;
        self.push(msg);
        if self.messages == count {
            return false;
        }
        if self.buf.len() > self.budget {
            self.buf.truncate(before);
            self.messages -= 1;
            return false;
        }
        true
    }

    /// Appends the messages of `other` (encoded once, copied here), even
    /// past the budget, as [`DatagramBuilder::push`] would each of them.
    pub fn append(&mut self, other: &DatagramBuilder) {
        let room = usize::from(u16::MAX) - self.messages;
        if other.messages > room {
            return;
        }
        self.buf.extend_from_slice(&other.buf[HEADER_LEN..]);
        self.messages += other.messages;
    }

    /// Bytes in the datagram so far, header included.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes left before the budget is reached.
    pub fn remaining(&self) -> usize {
        self.budget.saturating_sub(self.buf.len())
    }

    /// Number of messages added so far.
    pub fn len(&self) -> usize {
        self.messages
    }

    /// Whether no message was added yet.
    pub fn is_empty(&self) -> bool {
        self.messages == 0
    }

    /// Finishes the datagram.
    pub fn finish(mut self) -> Vec<u8> {
        let count = (self.messages as u16).to_le_bytes();
        self.buf[4..6].copy_from_slice(&count);
        self.buf
    }
}

/// Bytes `value` (a message, or a part of one) takes on the wire. The
/// engine sizes what it packs with this rather than by encoding it.
pub fn encoded_len<T: serde::Serialize + ?Sized>(value: &T) -> usize {
    // The size flavor counts bytes and cannot fail on a plain serde type.
    postcard::serialize_with_flavor(value, postcard::ser_flavors::Size::default()).unwrap_or(0)
}

/// Encodes `messages` into one datagram, ignoring any budget. For tests and
/// tools; the engine uses [`DatagramBuilder`].
pub fn encode(messages: &[Message]) -> Vec<u8> {
    let mut b = DatagramBuilder::new(usize::MAX);
    for m in messages {
        b.push(m);
    }
    b.finish()
}

/// Decodes a datagram (or a stream payload, which has the same layout) of
/// at most `max_len` bytes into its messages.
///
/// It is accepted whole or not at all: one bad message rejects it.
pub fn decode(bytes: &[u8], max_len: usize) -> Result<Vec<Message>, DecodeError> {
    decode_sized(bytes, max_len).map(|v| v.into_iter().map(|(m, _)| m).collect())
}

/// Like [`decode`], with each message's encoded size in bytes.
pub fn decode_sized(bytes: &[u8], max_len: usize) -> Result<Vec<(Message, usize)>, DecodeError> {
    let decoded = decode_borrowed(bytes, max_len)?;
    Ok(decoded.into_iter().map(|(m, size)| (m.into_message(), size)).collect())
}

/// A message decoded by [`decode_borrowed`]: an Alive claim borrows its
/// name and metadata from the datagram, any other message is owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A [`Message::Alive`], borrowed.
    Alive(AliveRef<'a>),
    /// Any other message.
    Message(Message),
}

impl Decoded<'_> {
    /// The kind of message.
    pub fn kind(&self) -> MessageKind {
        match self {
            Decoded::Alive(_) => MessageKind::Alive,
            Decoded::Message(m) => m.kind(),
        }
    }

    /// The owned message.
    pub fn into_message(self) -> Message {
        match self {
            Decoded::Alive(a) => Message::Alive(a.to_alive()),
            Decoded::Message(m) => m,
        }
    }
}

/// The first byte of an encoded [`Message::Alive`]: its variant index
/// (postcard writes it as a varint, one byte below 128).
const ALIVE_TAG: u8 = 6;

/// Like [`decode_sized`], but an Alive claim (most of what a mass join
/// carries: n² of them) borrows its name and metadata from `bytes`
/// instead of allocating two buffers, so the engine copies a name only
/// when it learns a member. Accepts and rejects exactly what
/// [`decode_sized`] does (which is built on it).
pub fn decode_borrowed(
    bytes: &[u8],
    max_len: usize,
) -> Result<Vec<(Decoded<'_>, usize)>, DecodeError> {
    let mut out = Vec::new();
    decode_borrowed_into(bytes, max_len, &mut out)?;
    Ok(out)
}

/// [`decode_borrowed`] into `out` (cleared first), so that its room can
/// be reused from datagram to datagram (see [`recycle`]). `out` is left
/// empty if the datagram is rejected.
pub fn decode_borrowed_into<'a>(
    bytes: &'a [u8],
    max_len: usize,
    out: &mut Vec<(Decoded<'a>, usize)>,
) -> Result<(), DecodeError> {
    out.clear();
    let r = decode_each(bytes, max_len, out);
    if r.is_err() {
        out.clear();
    }
    r
}

/// The room of `v`, emptied, for messages borrowing from another datagram
/// (no allocation: a `Vec` collected in place keeps its buffer).
// `filter` cannot change the lifetime, which is the point here.
#[allow(clippy::unnecessary_filter_map)]
pub fn recycle<'b>(mut v: Vec<(Decoded<'_>, usize)>) -> Vec<(Decoded<'b>, usize)> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

/// Checks a datagram's envelope header: the number of messages it
/// announces (at least one) and the bytes that follow it.
fn header(bytes: &[u8]) -> Result<(usize, &[u8]), DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated);
    }
    if bytes[..2] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if bytes[2] != PROTOCOL_VERSION {
        return Err(DecodeError::UnknownVersion(bytes[2]));
    }
    if bytes[3] != 0 {
        return Err(DecodeError::UnsupportedFlags(bytes[3]));
    }
    let count = usize::from(u16::from_le_bytes([bytes[4], bytes[5]]));
    if count == 0 {
        return Err(DecodeError::Malformed);
    }
    Ok((count, &bytes[HEADER_LEN..]))
}

fn decode_each<'a>(
    bytes: &'a [u8],
    max_len: usize,
    out: &mut Vec<(Decoded<'a>, usize)>,
) -> Result<(), DecodeError> {
    if bytes.len() > max_len {
        return Err(DecodeError::Oversized);
    }
    let (count, mut rest) = header(bytes)?;
    // Every message takes at least two bytes, which bounds the allocation.
    out.reserve(count.min(rest.len() / 2));
    for _ in 0..count {
        // An Alive claim's fields follow its one-byte tag, as `AliveRef`'s
        // do. (A tag written in a longer varint form goes the owned way,
        // which reads it the same.)
        let (msg, tail) = if rest.first() == Some(&ALIVE_TAG) {
            // Read by hand in the plain case, else by postcard.
            let (alive, tail) = match AliveRef::read(&rest[1..]) {
                Some(read) => read,
                None => postcard::take_from_bytes::<AliveRef<'_>>(&rest[1..])
                    .map_err(|_| DecodeError::Malformed)?,
            };
            if !alive.within_limits() {
                return Err(DecodeError::OutOfLimits);
            }
            (Decoded::Alive(alive), tail)
        } else {
            let (msg, tail) =
                postcard::take_from_bytes::<Message>(rest).map_err(|_| DecodeError::Malformed)?;
            if !msg.within_limits() {
                return Err(DecodeError::OutOfLimits);
            }
            (Decoded::Message(msg), tail)
        };
        out.push((msg, rest.len() - tail.len()));
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(DecodeError::Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec;
    use core::net::SocketAddr;

    fn addr() -> SocketAddr {
        "127.0.0.1:7946".parse().unwrap()
    }

    #[test]
    fn round_trip_several_messages() {
        let msgs = vec![
            Message::Ping(Ping { seq: 7, target: String::from("b") }),
            Message::Alive(Alive {
                name: String::from("c"),
                addr: addr(),
                incarnation: 3,
                meta: vec![1, 2, 3],
            }),
            Message::Dead(Accusation {
                name: String::from("d"),
                incarnation: 9,
                from: String::from("a"),
            }),
        ];
        let bytes = encode(&msgs);
        assert_eq!(&bytes[..2], &MAGIC);
        assert_eq!(decode(&bytes, 1400).unwrap(), msgs);
    }

    /// A death's reason travels as one byte after the accusation's fields,
    /// in a variant appended after the others (older variants keep their
    /// bytes); a byte that is no reason gets the datagram refused.
    #[test]
    fn verdicts_round_trip_and_unknown_reasons_are_refused() {
        for reason in FailureReason::ALL {
            let v = Verdict::new(String::from("d"), 9, String::from("a"), reason);
            let msgs = vec![Message::Verdict(v.clone())];
            let bytes = encode(&msgs);
            assert_eq!(decode(&bytes, 1400).unwrap(), msgs);
            assert_eq!(v.reason(), Some(reason));
            assert_eq!(FailureReason::from_u8(reason.as_u8()), Some(reason));
            let dead = encode(&[Message::Dead(Accusation {
                name: String::from("d"),
                incarnation: 9,
                from: String::from("a"),
            })]);
            // Same fields, one more byte: the reason.
            assert_eq!(bytes.len(), dead.len() + 1);
            assert_eq!(bytes[bytes.len() - 1], reason.as_u8());
        }
        assert_eq!(MessageKind::ALL.last(), Some(&MessageKind::Verdict));
        assert_eq!(MessageKind::Verdict.as_str(), "verdict");
        let bad = Message::Verdict(Verdict {
            name: String::from("d"),
            incarnation: 9,
            from: String::from("a"),
            reason: 3,
        });
        assert!(!bad.within_limits());
        assert_eq!(decode(&encode(&[bad]), 1400), Err(DecodeError::OutOfLimits));
    }

    #[test]
    fn rejects_bad_envelopes() {
        let good = encode(&[Message::Ack(Ack { seq: 1 })]);
        assert_eq!(decode(&good[..3], 1400), Err(DecodeError::Truncated));
        assert_eq!(decode(&good[..6], 1400), Err(DecodeError::Malformed));
        assert_eq!(decode(&good[..5], 1400), Err(DecodeError::Truncated));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad, 1400), Err(DecodeError::BadMagic));
        let mut bad = good.clone();
        bad[2] = 99;
        assert_eq!(decode(&bad, 1400), Err(DecodeError::UnknownVersion(99)));
        let mut bad = good.clone();
        bad[3] = 1;
        assert_eq!(decode(&bad, 1400), Err(DecodeError::UnsupportedFlags(1)));
        let mut bad = good.clone();
        bad.push(0xff);
        assert_eq!(decode(&bad, 1400), Err(DecodeError::Malformed));
        assert_eq!(decode(&vec![0u8; 2000], 1400), Err(DecodeError::Oversized));
    }

    #[test]
    fn every_truncation_is_rejected_without_panic() {
        let bytes = encode(&[
            Message::Ping(Ping { seq: 1, target: String::from("node-with-a-long-name") }),
            Message::Suspect(Accusation {
                name: String::from("x"),
                incarnation: 1,
                from: String::from("y"),
            }),
        ]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], 1400).is_err(), "cut at {cut} decoded");
        }
    }

    #[test]
    fn pseudo_random_garbage_never_panics() {
        // A small xorshift keeps this test deterministic without an RNG crate.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for len in 0..2000usize {
            let mut buf = vec![0u8; len % 300];
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            if buf.len() >= 6 {
                buf[..4].copy_from_slice(&[MAGIC[0], MAGIC[1], PROTOCOL_VERSION, 0]);
            }
            let _ = decode(&buf, 1400);
        }
    }

    #[test]
    fn out_of_limit_messages_are_rejected() {
        let huge = Message::Suspect(Accusation {
            name: String::from("a"),
            incarnation: u64::MAX,
            from: String::from("b"),
        });
        assert_eq!(decode(&encode(&[huge]), 1400), Err(DecodeError::OutOfLimits));
        let long = Message::Left(Left { name: "x".repeat(MAX_NAME_LEN + 1), incarnation: 1 });
        assert_eq!(decode(&encode(&[long]), 1400), Err(DecodeError::OutOfLimits));
        let empty = Message::Left(Left { name: String::new(), incarnation: 1 });
        assert_eq!(decode(&encode(&[empty]), 1400), Err(DecodeError::OutOfLimits));
        let ok = Message::Left(Left {
            name: "x".repeat(MAX_NAME_LEN),
            incarnation: MAX_INCARNATION - 1,
        });
        assert!(decode(&encode(&[ok]), 1400).is_ok());
        let unrefutable =
            Message::Left(Left { name: String::from("x"), incarnation: MAX_INCARNATION });
        assert_eq!(decode(&encode(&[unrefutable]), 1400), Err(DecodeError::OutOfLimits));
    }

    #[test]
    fn state_messages_with_out_of_range_versions_are_rejected() {
        let rumor = |version| {
            Message::Update(Update {
                origin: String::from("a"),
                generation: 1,
                version,
                item: Item::Rumor { payload: vec![1] },
                feedback: false,
            })
        };
        assert!(decode(&encode(&[rumor(MAX_VERSION)]), 1400).is_ok());
        for bad in [0, MAX_VERSION + 1, u64::MAX] {
            assert_eq!(decode(&encode(&[rumor(bad)]), 1400), Err(DecodeError::OutOfLimits));
        }
        let delta = |from, through, items: Vec<(u64, Item)>| {
            Message::Delta(Delta {
                member: String::from("a"),
                generation: 1,
                from,
                through,
                collected: 0,
                items,
            })
        };
        let set = |k: &str| Item::Set { key: String::from(k), value: Value::Text(String::new()) };
        let ok = delta(2, 9, vec![(3, set("k")), (9, set("j"))]);
        assert!(decode(&encode(&[ok]), 1400).is_ok());
        for bad in [
            delta(5, 4, vec![]),                             // from > through
            delta(2, u64::MAX, vec![]),                      // through out of range
            delta(2, 9, vec![(2, set("k"))]),                // item at from
            delta(2, 9, vec![(10, set("k"))]),               // item past through
            delta(2, 9, vec![(5, set("k")), (4, set("j"))]), // unsorted
            delta(2, 9, vec![(5, set(""))]),                 // empty key
        ] {
            assert_eq!(decode(&encode(&[bad]), 1400), Err(DecodeError::OutOfLimits));
        }
    }

    /// The decoding [`decode_borrowed`] replaced: every message owned.
    fn decode_owned(bytes: &[u8]) -> Result<Vec<(Message, usize)>, DecodeError> {
        let (count, mut rest) = header(bytes)?;
        let mut out = Vec::new();
        for _ in 0..count {
            let (msg, tail) =
                postcard::take_from_bytes::<Message>(rest).map_err(|_| DecodeError::Malformed)?;
            if !msg.within_limits() {
                return Err(DecodeError::OutOfLimits);
            }
            out.push((msg, rest.len() - tail.len()));
            rest = tail;
        }
        if !rest.is_empty() {
            return Err(DecodeError::Malformed);
        }
        Ok(out)
    }

    /// Borrowed Alive claims decode to what the owned decoding gave, and
    /// every corruption of them is rejected (or accepted) alike: every
    /// byte of a datagram of claims set to several values, and every cut.
    #[test]
    fn borrowed_decoding_agrees_with_owned_decoding() {
        let v6: SocketAddr = "[2001:db8::7]:65535".parse().unwrap();
        let msgs = vec![
            Message::Alive(Alive {
                name: String::from("n-1"),
                addr: addr(),
                incarnation: 300,
                meta: vec![],
            }),
            Message::Ack(Ack { seq: 1 }),
            Message::Alive(Alive {
                name: String::from("nœud-ü"),
                addr: v6,
                incarnation: 0,
                meta: vec![0, 255, 128, 7],
            }),
            Message::Alive(Alive {
                name: "x".repeat(MAX_NAME_LEN),
                addr: addr(),
                incarnation: MAX_INCARNATION,
                meta: vec![6; 200],
            }),
        ];
        let bytes = encode(&msgs);
        assert_eq!(decode_sized(&bytes, usize::MAX), decode_owned(&bytes));
        assert_eq!(decode(&bytes, usize::MAX).unwrap(), msgs);
        let borrowed = decode_borrowed(&bytes, usize::MAX).unwrap();
        assert!(matches!(borrowed[0].0, Decoded::Alive(AliveRef { name: "n-1", .. })));
        for cut in 0..bytes.len() {
            assert_eq!(decode_sized(&bytes[..cut], usize::MAX), decode_owned(&bytes[..cut]));
        }
        for i in 0..bytes.len() {
            for v in [0u8, 1, 6, 0x7f, 0x80, 0xc3, 0xff, bytes[i] ^ 1, bytes[i].wrapping_add(1)] {
                let mut bad = bytes.clone();
                bad[i] = v;
                assert_eq!(decode_sized(&bad, usize::MAX), decode_owned(&bad), "byte {i} = {v}");
            }
        }
        // A name or incarnation out of limits, in the borrowed form.
        for bad in [
            Alive { name: String::new(), addr: addr(), incarnation: 1, meta: vec![] },
            Alive {
                name: "x".repeat(MAX_NAME_LEN + 1),
                addr: addr(),
                incarnation: 1,
                meta: vec![],
            },
            Alive {
                name: String::from("a"),
                addr: addr(),
                incarnation: MAX_INCARNATION + 1,
                meta: vec![],
            },
        ] {
            let bytes = encode(&[Message::Alive(bad)]);
            assert_eq!(decode_sized(&bytes, usize::MAX), Err(DecodeError::OutOfLimits));
            assert_eq!(decode_owned(&bytes), Err(DecodeError::OutOfLimits));
        }
    }

    /// Alive claims written and read by hand agree with postcard across
    /// the varint boundaries of every field, and every corruption of a
    /// datagram of them (random bytes set at random places, longer varint
    /// forms) decodes or fails as postcard alone did.
    #[test]
    fn hand_written_alive_claims_agree_with_postcard() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let ports = [0u16, 1, 127, 128, 16_383, 16_384, 65_535];
        let incs = [0u64, 1, 127, 128, 1 << 14, 1 << 35, MAX_INCARNATION, u64::MAX];
        let lens = [0usize, 1, 127, 128, 300, 20_000];
        let mut claims = Vec::new();
        for (i, &port) in ports.iter().enumerate() {
            for (j, &incarnation) in incs.iter().enumerate() {
                for (k, &len) in lens.iter().enumerate() {
                    let addr: SocketAddr = if (i + j + k) % 2 == 0 {
                        (core::net::Ipv4Addr::from(next() as u32), port).into()
                    } else {
                        (core::net::Ipv6Addr::from(u128::from(next()) << 64 | 7), port).into()
                    };
                    let name = "é".repeat(lens[(j + k) % 4] / 2 + 1);
                    let meta: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                    claims.push(Alive { name, addr, incarnation, meta });
                }
            }
        }
        for alive in &claims {
            let msg = Message::Alive(alive.clone());
            let by_postcard = postcard::to_allocvec(&msg).unwrap();
            let mut by_hand = Vec::new();
            assert!(Claim::Alive(alive.as_ref()).encode_into(&mut by_hand));
            assert_eq!(by_hand, by_postcard);
            // Incarnations of 64 bits (out of limits anyway) are left to
            // postcard.
            match AliveRef::read(&by_hand[1..]) {
                Some((read, rest)) => assert_eq!((read, rest.len()), (alive.as_ref(), 0)),
                None => assert!(alive.incarnation >= 1 << 63),
            }
        }
        // Longer varint forms than needed: postcard reads them, so the
        // hand reader leaves them to it.
        let alive = Alive { name: String::from("a"), addr: addr(), incarnation: 5, meta: vec![] };
        let plain = encode(&[Message::Alive(alive.clone())]);
        let long_forms = [
            [&plain[..7], &[0x81, 0x00], &plain[8..]].concat(), // name length
            [&plain[..plain.len() - 2], &[0x85, 0x80, 0x00, 0x00]].concat(), // incarnation, meta
        ];
        for bytes in long_forms {
            assert_eq!(decode(&bytes, usize::MAX).unwrap(), vec![Message::Alive(alive.clone())]);
            assert_eq!(decode_sized(&bytes, usize::MAX), decode_owned(&bytes));
        }
        let some: Vec<Message> = claims
            .iter()
            .filter(|a| a.meta.len() < 200)
            .map(|a| Message::Alive(a.clone()))
            .collect();
        for chunk in some.chunks(7) {
            let bytes = encode(chunk);
            assert_eq!(decode_sized(&bytes, usize::MAX), decode_owned(&bytes));
            for _ in 0..300 {
                let mut bad = bytes.clone();
                for _ in 0..1 + next() % 3 {
                    let at = HEADER_LEN + (next() as usize) % (bad.len() - HEADER_LEN);
                    bad[at] = next() as u8;
                }
                let cut = bad.len() - (next() as usize % 4);
                assert_eq!(decode_sized(&bad[..cut], usize::MAX), decode_owned(&bad[..cut]));
            }
        }
    }

    /// Recycling keeps the buffer (the point of it), and decoding into a
    /// recycled one gives what a fresh one does; a rejected datagram
    /// leaves it empty.
    #[test]
    fn recycled_decode_buffers_keep_their_room() {
        let bytes = encode(&[Message::Ack(Ack { seq: 1 }), Message::Nack(Nack { seq: 2 })]);
        let mut v = decode_borrowed(&bytes, 1400).unwrap();
        v.reserve(100);
        let (room, at) = (v.capacity(), v.as_ptr() as usize);
        let mut w = recycle(v);
        assert_eq!((w.len(), w.capacity(), w.as_ptr() as usize), (0, room, at));
        decode_borrowed_into(&bytes, 1400, &mut w).unwrap();
        assert_eq!(w, decode_borrowed(&bytes, 1400).unwrap());
        assert_eq!(decode_borrowed_into(&bytes[..7], 1400, &mut w), Err(DecodeError::Malformed));
        assert!(w.is_empty());
    }

    /// A claim borrowed from a table entry encodes byte for byte as the
    /// message it stands for, and appending a builder copies its messages.
    #[test]
    fn claims_encode_as_their_messages() {
        let v6: SocketAddr = "[2001:db8::7]:65535".parse().unwrap();
        let (name, from) = ("nœud-1", "n-2");
        let claims = [
            Claim::Alive(AliveRef { name, addr: addr(), incarnation: 300, meta: &[] }),
            Claim::Alive(AliveRef { name, addr: v6, incarnation: 0, meta: &[1, 200, 3] }),
            Claim::Suspect(AccusationRef { name, incarnation: 1 << 40, from }),
            Claim::Dead(AccusationRef { name, incarnation: 7, from: "" }),
            Claim::Left(LeftRef { name, incarnation: 127 }),
            Claim::Verdict(VerdictRef { name, incarnation: 128, from, reason: 2 }),
        ];
        let mut all = DatagramBuilder::new(usize::MAX);
        let mut messages = Vec::new();
        for claim in claims {
            let msg = claim.to_message();
            assert_eq!(claim.kind(), msg.kind());
            assert_eq!(encode(core::slice::from_ref(&msg)), {
                let mut b = DatagramBuilder::new(usize::MAX);
                b.push(&claim);
                b.finish()
            });
            assert_eq!(encoded_len(&claim), encoded_len(&msg));
            all.push(&claim);
            messages.push(msg);
        }
        let mut b = DatagramBuilder::new(usize::MAX);
        b.push(&Message::Ack(Ack { seq: 3 }));
        b.append(&all);
        messages.insert(0, Message::Ack(Ack { seq: 3 }));
        assert_eq!(b.len(), messages.len());
        assert_eq!(b.finish(), encode(&messages));
    }

    #[test]
    fn builder_respects_budget() {
        let mut b = DatagramBuilder::new(100);
        b.push(&Message::Ack(Ack { seq: 1 }));
        let mut added = 0;
        for i in 0..50u64 {
            if b.try_push(&Message::Alive(Alive {
                name: alloc::format!("member-{i}"),
                addr: addr(),
                incarnation: i,
                meta: Vec::new(),
            })) {
                added += 1;
            }
        }
        let bytes = b.finish();
        assert!(bytes.len() <= 100);
        assert!(added > 0 && added < 50);
        assert_eq!(decode(&bytes, 1400).unwrap().len(), added + 1);
    }
}

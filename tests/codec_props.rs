//! Property tests of the wire format: every message round-trips, a message
//! outside the protocol's limits is refused, arbitrary bytes never panic,
//! and sealing round-trips while any tampering is caught.

use proptest::collection::vec;
use proptest::prelude::*;
use rumor::codec::{self, DecodeError, DigestEntry, Item, Key, Keyring, Message, Value};
use std::net::SocketAddr;

fn name() -> impl Strategy<Value = String> {
    // Mostly valid names, sometimes empty or too long (over 128 bytes).
    prop_oneof![
        8 => "[a-z0-9.-]{1,24}",
        1 => Just(String::new()),
        1 => "[a-z]{129,140}",
    ]
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u16; 8]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

fn big() -> impl Strategy<Value = u64> {
    // Small values, and values around the limits.
    prop_oneof![0..1000u64, any::<u64>(), (u64::MAX / 2 - 2)..=(u64::MAX / 2 + 2)]
}

fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..64)
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        (name(), bytes()).prop_map(|(key, b)| Item::Set { key, value: Value::Bytes(b) }),
        (name(), ".{0,20}").prop_map(|(key, t)| Item::Set { key, value: Value::Text(t) }),
        name().prop_map(|key| Item::Delete { key }),
        bytes().prop_map(|payload| Item::Rumor { payload }),
    ]
}

fn entry() -> impl Strategy<Value = DigestEntry> {
    (name(), big(), 0..6u8, big(), big(), big()).prop_map(
        |(name, incarnation, state, generation, watermark, collected)| DigestEntry {
            name,
            incarnation,
            state,
            generation,
            watermark,
            collected,
        },
    )
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (big(), name(), addr(), big(), bytes()).prop_map(
            |(token, name, addr, incarnation, meta)| {
                Message::Meet(codec::Handshake { token, name, addr, incarnation, meta })
            }
        ),
        (big(), name(), addr(), big(), bytes()).prop_map(
            |(token, name, addr, incarnation, meta)| {
                Message::Pong(codec::Handshake { token, name, addr, incarnation, meta })
            }
        ),
        (big(), name()).prop_map(|(seq, target)| Message::Ping(codec::Ping { seq, target })),
        big().prop_map(|seq| Message::Ack(codec::Ack { seq })),
        (big(), name(), addr()).prop_map(|(seq, target, addr)| Message::PingReq(codec::PingReq {
            seq,
            target,
            addr
        })),
        big().prop_map(|seq| Message::Nack(codec::Nack { seq })),
        (name(), addr(), big(), bytes()).prop_map(|(name, addr, incarnation, meta)| {
            Message::Alive(codec::Alive { name, addr, incarnation, meta })
        }),
        (name(), big(), name()).prop_map(|(name, incarnation, from)| Message::Suspect(
            codec::Accusation { name, incarnation, from }
        )),
        (name(), big(), name()).prop_map(|(name, incarnation, from)| Message::Dead(
            codec::Accusation { name, incarnation, from }
        )),
        (name(), big())
            .prop_map(|(name, incarnation)| Message::Left(codec::Left { name, incarnation })),
        (name(), big(), big(), item(), any::<bool>()).prop_map(
            |(origin, generation, version, item, feedback)| Message::Update(codec::Update {
                origin,
                generation,
                version,
                item,
                feedback,
            })
        ),
        (name(), big(), big()).prop_map(|(origin, generation, version)| Message::Known(
            codec::Known { origin, generation, version }
        )),
        (
            name(),
            proptest::option::of(name()),
            proptest::option::of(name()),
            vec(entry(), 0..4),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(sender, after, upto, entries, want_delta, want_digest)| {
                Message::Digest(codec::Digest {
                    sender,
                    after,
                    upto,
                    entries,
                    want_delta,
                    want_digest,
                })
            }),
        (name(), big(), big(), big(), big(), vec((big(), item()), 0..4)).prop_map(
            |(member, generation, from, through, collected, items)| Message::Delta(codec::Delta {
                member,
                generation,
                from,
                through,
                collected,
                items,
            })
        ),
        (name(), any::<u64>(), any::<bool>(), any::<bool>()).prop_map(
            |(sender, hash, want_delta, want_digest)| Message::Summary(codec::Summary {
                sender,
                hash,
                want_delta,
                want_digest
            })
        ),
        (big(), vec(addr(), 0..10))
            .prop_map(|(token, members)| Message::Busy(codec::Busy { token, members })),
        (big(), name(), addr()).prop_map(|(token, name, holder)| Message::Conflict(
            codec::Conflict { token, name, holder }
        )),
        // Reasons 0 to 2 are valid, the rest out of limits.
        (name(), big(), name(), 0u8..6).prop_map(|(name, incarnation, from, reason)| {
            Message::Verdict(codec::Verdict { name, incarnation, from, reason })
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// A datagram of messages within the limits decodes to exactly those
    /// messages; one message outside them gets the whole datagram refused.
    #[test]
    fn messages_round_trip_or_are_refused(msgs in vec(message(), 1..6)) {
        let bytes = codec::encode(&msgs);
        let decoded = codec::decode(&bytes, usize::MAX);
        if msgs.iter().all(Message::within_limits) {
            prop_assert_eq!(decoded, Ok(msgs));
        } else {
            prop_assert_eq!(decoded, Err(DecodeError::OutOfLimits));
        }
    }

    /// Arbitrary bytes, and arbitrary bodies behind a valid header, never
    /// panic, and whatever decodes re-encodes to the same messages.
    #[test]
    fn arbitrary_bytes_never_panic(body in vec(any::<u8>(), 0..300), count in 0u16..8) {
        rumor::fuzzing::decode(&body);
        let mut framed = b"Rm\x01\x00".to_vec();
        framed.extend_from_slice(&count.to_le_bytes());
        framed.extend_from_slice(&body);
        rumor::fuzzing::decode(&framed);
    }

    /// Sealing round-trips under any label, and flipping any bit past the
    /// magic and version makes the datagram fail to open.
    #[test]
    fn sealing_round_trips_and_catches_tampering(
        msgs in vec(message(), 1..4),
        label in ".{0,16}",
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let plain = codec::encode(&msgs);
        let mut ring = Keyring::new(&[Key([5; 32])], label.as_bytes(), [9; 32]);
        let sealed = ring.seal(&plain);
        prop_assert_eq!(ring.open(&sealed), Ok(plain));
        let mut bad = sealed.clone();
        let i = 3 + flip.index(sealed.len() - 3);
        bad[i] ^= 1 << bit;
        prop_assert!(ring.open(&bad).is_err(), "byte {} bit {} flipped and opened", i, bit);
    }
}

//! Entry points shared by the fuzz targets (`fuzz/`, cargo-fuzz on
//! nightly) and by the stable test that replays their corpus
//! (`tests/fuzz_corpus.rs`), so both check exactly the same properties.
//! Each takes arbitrary bytes and panics only on a bug.

use crate::codec::{self, Key, Keyring, Message};
use crate::proto::{Config, Engine, Member, Snapshot};
use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

/// Decoding never panics, and whatever decodes encodes back to a datagram
/// that decodes to the same messages.
pub fn decode(data: &[u8]) {
    if let Ok(messages) = codec::decode(data, codec::MAX_DATAGRAM) {
        let again = codec::encode(&messages);
        let round: Vec<Message> =
            codec::decode(&again, usize::MAX).expect("a re-encoded datagram decodes");
        assert_eq!(round, messages);
    }
}

/// Opening arbitrary bytes never panics, and only a datagram sealed under
/// the keyring's key opens.
pub fn open(data: &[u8]) {
    let ring = Keyring::new(&[Key([3; 32])], b"fuzz", [1; 32]);
    if let Ok(plain) = ring.open(data) {
        // Either not a rumor datagram at all (passed through for decode to
        // reject), or one that authenticated: impossible to forge here.
        let ours = data.len() >= 4 && data[..2] == codec::MAGIC && data[2] == 1;
        assert!(!ours, "a forged datagram opened");
        assert_eq!(plain, data);
    }
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, 0, 1 + i % 8), 7946))
}

/// One engine, which knows eight members, fed a script decoded from
/// `data`: packets and streams from those members' addresses, time
/// passing, broadcasts and state changes. It never panics, and no datagram
/// it sends exceeds `max_packet_size` (nor a stream its frame limit).
pub fn engine(data: &[u8]) {
    run_engine(data, false);
}

/// [`engine`] with encryption on: besides, everything it sends is sealed,
/// and sealing never pushes a datagram over `max_packet_size`.
pub fn engine_sealed(data: &[u8]) {
    run_engine(data, true);
}

fn run_engine(data: &[u8], sealed: bool) {
    let members: Vec<Member> =
        (0..8u8).map(|i| Member::new(alloc::format!("n{i}"), addr(i))).collect();
    let mut config = Config::lan();
    if sealed {
        config.keys = alloc::vec![Key([3; 32])];
        config.label = "fuzz".into();
    }
    let view = Snapshot::new(members);
    let mut e = Engine::with_snapshot(config.clone(), "n0", addr(0), 1, Duration::ZERO, view)
        .expect("valid config");
    let mut now = Duration::ZERO;
    let mut rest = data;
    while rest.len() >= 3 {
        let op = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]]));
        let take = len.min(rest.len() - 3);
        let body = &rest[3..3 + take];
        rest = &rest[3 + take..];
        let from = addr(op >> 2);
        match op & 3 {
            0 => e.handle_packet(now, from, body),
            1 => e.handle_stream(now, from, body),
            2 => {
                now += Duration::from_millis(len as u64 % 5000);
                e.handle_timeout(now);
            }
            _ => {
                if body.first().is_some_and(|b| b & 1 == 0) {
                    let _ = e.broadcast(now, body.to_vec());
                } else {
                    let key = alloc::string::String::from_utf8_lossy(&body[..body.len().min(8)]);
                    let _ = e.set(now, &key, codec::Value::Bytes(body.to_vec()));
                }
            }
        }
        while let Some(t) = e.poll_transmit() {
            let max = if t.stream { config.stream_frame_limit() } else { config.max_packet_size };
            assert!(t.payload.len() <= max, "sent {} bytes, over {max}", t.payload.len());
            assert_eq!(t.payload[3] & codec::FLAG_SEALED != 0, sealed, "sealed iff keys are set");
        }
        while e.poll_event().is_some() {}
    }
}

//! `max_stream_size` is the payload limit users are told: a broadcast or
//! value of exactly that many bytes is accepted and delivered, one more
//! byte is refused, and the framing around it never counts against it.

mod script;

use rumor::codec::{Key, Value, MAX_KEY_LEN, MAX_NAME_LEN};
use rumor::proto::{Config, Engine, ItemError, STREAM_FRAME_OVERHEAD};
use script::{play_joined, Check, Op};
use std::time::Duration;

const MIB4: usize = 4 << 20;

#[test]
fn a_payload_of_exactly_max_stream_size_is_accepted_and_delivered() {
    let config = Config::lan();
    assert_eq!(config.max_stream_size, MIB4, "the README's 4 MiB");
    let payload: Vec<u8> = (0..MIB4).map(|i| i as u8).collect();
    let value = Value::Bytes(payload.clone());
    let p = play_joined(
        config,
        3,
        5,
        &[
            Op::Run(1.0),
            Op::Broadcast(1, payload),
            Op::Set(2, "blob".into(), value.clone()),
            Op::WaitUntil(
                Check::All(vec![
                    Check::Reached(0, 3),
                    Check::AllHold(2, "blob".into(), Some(value)),
                ]),
                10.0,
            ),
            Op::Assert(Check::Once(0)),
        ],
    );
    let mut sim = p.sim;
    let err = sim.broadcast(1, vec![0; MIB4 + 1]).unwrap_err();
    assert_eq!(err, ItemError::TooLarge { len: MIB4 + 1, max: MIB4 });
}

#[test]
fn the_limit_holds_for_the_longest_name_and_key_and_with_a_seal() {
    let sealed = Config { keys: vec![Key([7; 32])], ..Config::lan() };
    for config in [Config::lan(), sealed] {
        let name = "n".repeat(MAX_NAME_LEN);
        let addr = "127.0.0.1:7946".parse().unwrap();
        let e = Engine::new(config.clone(), name, addr, 1, Duration::ZERO).unwrap();
        assert_eq!(e.max_item_len(None), config.max_stream_size);
        assert_eq!(e.max_item_len(Some(&"k".repeat(MAX_KEY_LEN))), config.max_stream_size);
        assert_eq!(config.stream_frame_limit(), config.max_stream_size + STREAM_FRAME_OVERHEAD);
    }
    let no_streams = Config { max_stream_size: 0, ..Config::lan() };
    assert_eq!(no_streams.stream_frame_limit(), 0);
}

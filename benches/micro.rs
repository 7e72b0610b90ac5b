//! Micro-benchmarks (criterion) of the three hot paths a busy node runs,
//! so a change to the codec or the engine shows up as a number:
//!
//! - `codec/encode`, `codec/decode`: one full datagram, a Ping whose gossip
//!   section fills the LAN preset's `max_packet_size` (1400 B) with Alive
//!   claims, the datagram every probe and every gossip round sends. Encoding
//!   goes through [`DatagramBuilder`] as the engine does (push the Ping,
//!   `try_push` claims until one does not fit); decoding through
//!   [`codec::decode_sized`], as `Engine::handle_packet` does. Throughput is
//!   in datagram bytes.
//! - `engine/ping_steady`, `engine/ping_news`: `Engine::handle_packet` on
//!   that datagram, by an engine that knows 1,000 members: decode, answer
//!   with an Ack carrying a gossip section of its own, apply every claim.
//!   `steady` carries claims the engine already holds (a quiet cluster, the
//!   common case); `news` carries claims at a higher incarnation each time
//!   (churn), so each is applied and queued for retransmission, and the
//!   fresh news also goes out at once to `gossip_fanout` members
//!   (`eager_push`): four datagrams out per Ping instead of one.
//! - `anti_entropy/digest`, `anti_entropy/delta`: the Scuttlebutt sync over a
//!   replicated state of 10,000 keys (1,000 members with 10 keys each).
//!   `digest`: a peer's Summary does not match, and the engine hashes its
//!   view and sends its digest (one entry per member, in datagram-sized
//!   chunks). `delta`: a stale peer (5 of each member's 10 keys) sends its
//!   digest, as its own engine cut it into datagrams, and the engine
//!   computes and encodes everything the peer lacks (5,000 items).
//!
//! Everything goes through the public API, on engines built from a
//! [`Snapshot`] (how the simulator starts a converged cluster) and fed
//! datagrams and streams; every output is drained and passed through
//! `black_box`, so the work cannot be optimized away.
//!
//!     cargo bench --bench micro [-- FILTER]
//!     cargo bench --bench micro -- --test    # each once: a smoke test
//!
//! Each benchmark warms up for 1 s and measures for 3 s: the whole run takes
//! under a minute. The console shows criterion's slope or mean estimate;
//! the median is in `target/criterion/GROUP/NAME/new/estimates.json`.
//! Machines here are 2 cores and noisy (DESIGN.md §7): compare medians of
//! runs made side by side, not across days.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use rumor::codec::{self, DatagramBuilder, Item, Message, Value};
use rumor::proto::{Config, Engine, Member, MemberState, Snapshot, Transmit};
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Members every engine here knows.
const MEMBERS: usize = 1_000;
/// Keys each member holds in the replicated state: 10,000 in all.
const KEYS_PER_MEMBER: u64 = 10;
/// Keys per member the stale peer of the delta benchmark holds.
const STALE_KEYS: u64 = 5;

fn name(i: usize) -> String {
    format!("node-{i:04}")
}

/// Loopback addresses: nothing is sent anywhere (the engine is sans-I/O),
/// but each member needs an address of its own.
fn addr(i: usize) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::new(127, 0, (i / 250) as u8, (i % 250) as u8 + 1), 7946))
}

/// A converged view of `MEMBERS` alive members, `node-0000` to `node-0999`.
fn view() -> Arc<Snapshot> {
    Snapshot::new((0..MEMBERS).map(|i| Member {
        name: name(i),
        addr: addr(i),
        incarnation: 1,
        state: MemberState::Alive,
        meta: Vec::new(),
        since: Duration::ZERO,
    }))
}

/// The engine of member `i`, knowing every member of `view`.
fn engine(i: usize, view: &Arc<Snapshot>) -> Engine {
    let mut e = Engine::with_snapshot(
        Config::lan(),
        name(i),
        addr(i),
        i as u64,
        Duration::ZERO,
        Arc::clone(view),
    )
    .expect("the LAN preset is valid");
    e.set_generation(1);
    e
}

/// Empties both output queues, returning the datagrams (and streams)
/// and the bytes sent.
fn drain(e: &mut Engine) -> (usize, usize) {
    while e.poll_event().is_some() {}
    let (mut sent, mut bytes) = (0, 0);
    while let Some(Transmit { payload, .. }) = e.poll_transmit() {
        sent += 1;
        bytes += black_box(payload).len();
    }
    (sent, bytes)
}

/// Alive claims about members `from..`, skipping `skip` (the receiver:
/// a sender never gossips the receiver to itself), at `incarnation`.
fn claims(from: usize, skip: usize, incarnation: u64) -> impl Iterator<Item = Message> {
    (from..from + MEMBERS).map(|i| i % MEMBERS).filter(move |&i| i != skip).map(move |i| {
        Message::Alive(codec::Alive { name: name(i), addr: addr(i), incarnation, meta: Vec::new() })
    })
}

/// A Ping to `target` whose gossip section fills a LAN-preset datagram,
/// built as the engine builds one: the Ping, then claims while they fit.
fn full_ping(target: usize, claims: impl Iterator<Item = Message>) -> Vec<u8> {
    let mut b = DatagramBuilder::new(Config::lan().max_packet_size);
    b.push(&Message::Ping(codec::Ping { seq: 7, target: name(target) }));
    for claim in claims {
        if !b.try_push(&claim) {
            break;
        }
    }
    b.finish()
}

/// Positions of the member list each `ping_news` datagram may cover (more
/// than fit, so it is always full).
const NEWS_WINDOW: usize = 80;

/// A full Ping to `target` with claims from position `next` on: member
/// `p % MEMBERS` at incarnation `200 + p / MEMBERS` for each position `p`,
/// so every visit to a member raises its incarnation (which stays a
/// two-byte varint for the whole run: the datagram's size does not drift).
fn news_ping(target: usize, next: usize) -> Vec<u8> {
    let claims = (next..next + NEWS_WINDOW).filter(|p| p % MEMBERS != target).map(|p| {
        let i = p % MEMBERS;
        let incarnation = 200 + (p / MEMBERS) as u64;
        Message::Alive(codec::Alive { name: name(i), addr: addr(i), incarnation, meta: Vec::new() })
    });
    full_ping(target, claims)
}

fn codec_benches(c: &mut Criterion) {
    let ping = Message::Ping(codec::Ping { seq: 7, target: name(0) });
    // Enough claims to overflow one datagram: the last one is refused, as
    // in the engine.
    let gossip: Vec<Message> = claims(2, 0, 1).take(200).collect();
    let max = Config::lan().max_packet_size;
    let datagram = full_ping(0, gossip.iter().cloned());
    let messages = codec::decode(&datagram, max).expect("it decodes").len();
    assert!(datagram.len() > max - 32 && datagram.len() <= max, "{} bytes", datagram.len());
    eprintln!("codec: a full Ping datagram is {} B, {messages} messages", datagram.len());

    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(datagram.len() as u64));
    g.bench_function("encode", |b| {
        b.iter(|| {
            let mut d = DatagramBuilder::new(black_box(max));
            d.push(black_box(&ping));
            for claim in black_box(&gossip) {
                if !d.try_push(claim) {
                    break;
                }
            }
            d.finish()
        })
    });
    g.bench_function("decode", |b| {
        b.iter(|| codec::decode_sized(black_box(&datagram), codec::MAX_DATAGRAM))
    });
    g.finish();
}

fn engine_benches(c: &mut Criterion) {
    let view = view();
    let (me, peer) = (0, 1);
    let from = addr(peer);
    let now = Duration::from_secs(1);
    let mut g = c.benchmark_group("engine");

    // Claims the engine holds already: applying them changes nothing, so
    // every iteration does the same work.
    let mut e = engine(me, &view);
    let datagram = full_ping(me, claims(2, me, 1));
    g.throughput(Throughput::Bytes(datagram.len() as u64));
    e.handle_packet(now, from, &datagram);
    let (sent, bytes) = drain(&mut e);
    assert!(bytes > 1300, "the Ack carries a full gossip section: {bytes} B");
    eprintln!("engine/ping_steady: each Ping draws {sent} datagram(s), {bytes} B");
    g.bench_function("ping_steady", |b| {
        b.iter(|| {
            e.handle_packet(now, from, black_box(&datagram));
            drain(&mut e)
        })
    });

    // Claims at an incarnation above what the engine holds, a new window
    // of members each time.
    let mut e = engine(me, &view);
    let mut next = 0usize;
    let first = news_ping(me, next);
    g.throughput(Throughput::Bytes(first.len() as u64));
    e.handle_packet(now, from, &first);
    assert!(e.pending_updates() > 60, "the news is queued for gossip");
    let (sent, bytes) = drain(&mut e);
    // With eager_push, fresh news also goes out at once in a gossip round.
    eprintln!("engine/ping_news: each Ping draws {sent} datagram(s), {bytes} B");
    g.bench_function("ping_news", |b| {
        b.iter_batched(
            || {
                next += NEWS_WINDOW;
                news_ping(me, next)
            },
            |datagram| {
                e.handle_packet(now, from, &datagram);
                drain(&mut e)
            },
            criterion::BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// The replicated state of member `i`: `count` keys, versions 1 to `count`.
fn delta(i: usize, count: u64) -> Message {
    let items =
        (1..=count).map(|v| (v, Item::Set { key: format!("key-{v:02}"), value: value(i, v) }));
    Message::Delta(codec::Delta {
        member: name(i),
        generation: 1,
        from: 0,
        through: count,
        collected: 0,
        items: items.collect(),
    })
}

fn value(i: usize, v: u64) -> Value {
    Value::Text(format!("{}:{v}/role=db,zone=a", name(i)))
}

/// An engine holding `keys` keys of every member's state (its own
/// included), learned over one stream from `source`.
fn engine_with_state(i: usize, view: &Arc<Snapshot>, keys: u64, source: usize) -> Engine {
    let mut e = engine(i, view);
    for v in 1..=keys {
        e.set(Duration::ZERO, &format!("key-{v:02}"), value(i, v)).expect("fits");
    }
    let others: Vec<Message> = (0..MEMBERS).filter(|&m| m != i).map(|m| delta(m, keys)).collect();
    e.handle_stream(Duration::ZERO, addr(source), &codec::encode(&others));
    drain(&mut e);
    for m in [0, MEMBERS / 2, MEMBERS - 1] {
        assert_eq!(e.watermark(&name(m)), keys, "{} holds {keys} keys of {}", name(i), name(m));
    }
    e
}

fn anti_entropy_benches(c: &mut Criterion) {
    let view = view();
    let (me, peer) = (0, 1);
    let now = Duration::from_secs(1);
    let mut up_to_date = engine_with_state(me, &view, KEYS_PER_MEMBER, peer);
    let mut stale = engine_with_state(peer, &view, STALE_KEYS, me);

    // The stale peer's digest, cut into datagrams by its own engine: what
    // it sends in a push sync, asking for a delta.
    let summary = |sender: usize| {
        codec::encode(&[Message::Summary(codec::Summary {
            sender: name(sender),
            hash: 0, // matches no real view: the receiver answers
            want_delta: false,
            want_digest: true,
        })])
    };
    stale.handle_packet(now, addr(me), &summary(me));
    let digest: Vec<Vec<u8>> = std::iter::from_fn(|| stale.poll_transmit())
        .inspect(|t| assert!(!t.stream && t.dst == addr(me)))
        .map(|t| t.payload)
        .collect();
    let digest_bytes: usize = digest.iter().map(Vec::len).sum();

    let mut g = c.benchmark_group("anti_entropy");
    g.sampling_mode(SamplingMode::Flat);

    let request = summary(peer);
    up_to_date.handle_packet(now, addr(peer), &request);
    let (sent, bytes) = drain(&mut up_to_date);
    assert!(bytes > 10_000, "a digest of {MEMBERS} members takes many datagrams: {bytes} B");
    eprintln!("anti_entropy/digest: {MEMBERS} entries in {sent} datagrams, {bytes} B");
    g.throughput(Throughput::Elements(MEMBERS as u64));
    g.bench_function("digest", |b| {
        b.iter(|| {
            up_to_date.handle_packet(now, addr(peer), black_box(&request));
            drain(&mut up_to_date)
        })
    });

    let missing = (KEYS_PER_MEMBER - STALE_KEYS) * MEMBERS as u64;
    let answer = |e: &mut Engine| {
        for d in &digest {
            e.handle_packet(now, addr(peer), black_box(d));
        }
    };
    // The answer repairs the stale peer completely.
    answer(&mut up_to_date);
    let delta: Vec<Transmit> = std::iter::from_fn(|| up_to_date.poll_transmit()).collect();
    let bytes: usize = delta.iter().map(|t| t.payload.len()).sum();
    let (sent, streams) = (delta.len(), delta.iter().filter(|t| t.stream).count());
    for t in delta {
        if t.stream {
            stale.handle_stream(now, addr(me), &t.payload);
        } else {
            stale.handle_packet(now, addr(me), &t.payload);
        }
    }
    for m in [0, 2, MEMBERS / 2, MEMBERS - 1] {
        assert_eq!(stale.watermark(&name(m)), KEYS_PER_MEMBER, "{} repaired", name(m));
    }
    eprintln!(
        "anti_entropy/delta: answers a {} datagram, {digest_bytes} B digest with {missing} \
         items in {sent} datagrams ({streams} streams), {bytes} B",
        digest.len()
    );
    g.throughput(Throughput::Elements(missing));
    g.bench_function("delta", |b| {
        b.iter(|| {
            answer(&mut up_to_date);
            drain(&mut up_to_date)
        })
    });
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(50)
}

criterion_group! {
    name = micro;
    config = config();
    targets = codec_benches, engine_benches, anti_entropy_benches
}
criterion_main!(micro);

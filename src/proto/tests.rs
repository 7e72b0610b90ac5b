//! Engine transitions, driven by hand: packets are handed from one engine to
//! another explicitly and timers fire only when a test says so.

use super::*;
use crate::codec::{self, Message};
use crate::proto::table::Id;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::SocketAddr;
use core::time::Duration;

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, i], 7946))
}

fn engine(i: u8) -> Engine {
    Engine::new(Config::lan(), alloc::format!("n{i}"), addr(i), i as u64, Duration::ZERO).unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn transmits(e: &mut Engine) -> Vec<Transmit> {
    core::iter::from_fn(|| e.poll_transmit()).collect()
}

fn events(e: &mut Engine) -> Vec<Event> {
    core::iter::from_fn(|| e.poll_event()).collect()
}

fn decode(t: &Transmit) -> Vec<Message> {
    codec::decode(&t.payload, 65_000).unwrap()
}

/// Delivers every datagram (and stream payload) `from` has queued to the engines in `to`
/// (matched by address); returns how many were delivered.
fn deliver(now: Duration, from: &mut Engine, to: &mut [&mut Engine]) -> usize {
    let src = from.local_member().addr;
    let mut n = 0;
    for t in transmits(from) {
        if let Some(dst) = to.iter_mut().find(|e| e.local_member().addr == t.dst) {
            if t.stream {
                dst.handle_stream(now, src, &t.payload);
            } else {
                dst.handle_packet(now, src, &t.payload);
            }
            n += 1;
        }
    }
    n
}

/// Runs join handshakes until every engine in `all` knows every other.
fn mesh(all: &mut [Engine]) {
    let seed = all[0].local_member().addr;
    for e in all.iter_mut().skip(1) {
        e.join(ms(0), &[seed], Duration::from_secs(5));
    }
    // Exchange everything queued until quiet (a few rounds suffice).
    for _ in 0..10 {
        let mut moved = 0;
        for i in 0..all.len() {
            let (left, rest) = all.split_at_mut(i);
            let (me, right) = rest.split_first_mut().unwrap();
            let mut others: Vec<&mut Engine> = left.iter_mut().chain(right.iter_mut()).collect();
            moved += deliver(ms(0), me, &mut others);
        }
        if moved == 0 {
            break;
        }
    }
    for e in all.iter_mut() {
        events(e);
    }
}

/// An Alive claim about `name` at `addr`, without metadata.
fn alive_claim(name: &str, addr: SocketAddr, incarnation: u64) -> Message {
    Message::Alive(codec::Alive { name: name.into(), addr, incarnation, meta: Vec::new() })
}

/// `from`'s accusation of `name` (a Suspect or Dead claim).
fn accusation(name: &str, incarnation: u64, from: &str) -> codec::Accusation {
    codec::Accusation { name: name.into(), incarnation, from: from.into() }
}

/// n1 and n2, each knowing the other.
fn meshed_pair() -> [Engine; 2] {
    let mut all: Vec<Engine> = (1..=2).map(engine).collect();
    mesh(&mut all);
    all.try_into().expect("two engines")
}

/// Advances both engines to the earlier wake-up and lets them talk;
/// returns that time.
fn step_pair(a: &mut Engine, b: &mut Engine) -> Duration {
    let now = a.poll_timeout().unwrap().min(b.poll_timeout().unwrap());
    a.handle_timeout(now);
    b.handle_timeout(now);
    for _ in 0..3 {
        deliver(now, a, &mut [&mut *b]);
        deliver(now, b, &mut [&mut *a]);
    }
    now
}

fn state_of(e: &Engine, name: &str) -> Option<MemberState> {
    e.member(name).map(|m| m.state)
}

#[test]
fn join_handshake_is_meet_pong_ping() {
    let mut a = engine(1);
    let mut b = engine(2);
    let token = a.join(ms(0), &[addr(2)], Duration::from_secs(5));

    let out = transmits(&mut a);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].dst, addr(2));
    assert!(
        matches!(decode(&out[0])[..], [Message::Meet(codec::Handshake { token: t, .. })] if t == token)
    );
    b.handle_packet(ms(1), addr(1), &out[0].payload);
    assert!(matches!(&events(&mut b)[..], [Event::Joined(m)] if m.name == "n1"));

    let out = transmits(&mut b);
    assert!(
        matches!(decode(&out[0])[0], Message::Pong(codec::Handshake { token: t, .. }) if t == token)
    );
    a.handle_packet(ms(2), addr(2), &out[0].payload);
    let evs = events(&mut a);
    assert!(evs.iter().any(|e| matches!(e, Event::Joined(m) if m.name == "n2")));
    assert!(evs.contains(&Event::JoinSucceeded { token, seed: addr(2) }));

    // Third step: A pings B.
    let out = transmits(&mut a);
    assert!(out.iter().any(|t| t.dst == addr(2)
        && matches!(&decode(t)[0], Message::Ping(codec::Ping { target, .. }) if target == "n2")));
}

#[test]
fn join_without_answer_fails_at_its_deadline() {
    let mut a = engine(1);
    let token = a.join(ms(0), &[addr(9)], Duration::from_secs(2));
    let mut meets = transmits(&mut a).len();
    let mut now = ms(0);
    let mut failed = false;
    while now < Duration::from_secs(3) && !failed {
        now = a.poll_timeout().unwrap();
        a.handle_timeout(now);
        meets +=
            transmits(&mut a).iter().filter(|t| matches!(decode(t)[0], Message::Meet(_))).count();
        failed = events(&mut a).contains(&Event::JoinFailed { token });
    }
    assert!(failed);
    assert!(now >= Duration::from_secs(2) && now < Duration::from_secs(3), "failed at {now:?}");
    assert!(meets >= 3, "the Meet is resent while waiting ({meets} sent)");
}

#[test]
fn a_seed_tells_the_joiner_about_everyone() {
    let mut all: Vec<Engine> = (1..=5).map(engine).collect();
    mesh(&mut all);
    for e in &all {
        assert_eq!(
            e.live_members(),
            5,
            "{} knows {:?}",
            e.name(),
            e.members().map(|m| m.name).collect::<Vec<_>>()
        );
    }
}

/// Fires `e`'s timers up to `until`, returning every datagram it sent.
fn run_timers(e: &mut Engine, until: Duration) -> Vec<Transmit> {
    let mut out = Vec::new();
    while let Some(t) = e.poll_timeout() {
        if t > until {
            break;
        }
        e.handle_timeout(t);
        out.extend(transmits(e));
    }
    out
}

#[test]
fn silent_member_goes_probe_indirect_suspect_dead() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let mut a = all.remove(0);
    // n3 and n2 never answer: n1 probes, asks for indirect probes, suspects,
    // and finally declares both dead. Hearing nothing at all, not even a
    // relay's nack, n1 first takes the fault for its own and looks once
    // more (load shedding), then suspects.
    let sent = run_timers(&mut a, Duration::from_secs(5));
    let kinds: Vec<Message> = sent.iter().flat_map(decode).collect();
    assert!(kinds.iter().any(|m| matches!(m, Message::Ping(_))));
    assert!(kinds.iter().any(|m| matches!(m, Message::PingReq(_))), "indirect probe sent");
    let evs = events(&mut a);
    let suspected: Vec<&str> = evs
        .iter()
        .filter_map(|e| if let Event::Suspected(m) = e { Some(m.name.as_str()) } else { None })
        .collect();
    assert!(!suspected.is_empty(), "a silent member is suspected: {evs:?}");
    assert_eq!(state_of(&a, suspected[0]), Some(MemberState::Suspect));

    // Suspicion timeout for n = 3: 4 * max(1, log10 3) * 1 s = 4 s. Too
    // few members could confirm it, so Lifeguard does not stretch it.
    run_timers(&mut a, Duration::from_secs(16));
    let evs = events(&mut a);
    let timed_out = Some(crate::codec::FailureReason::SuspicionTimeout);
    assert!(
        evs.iter().any(
            |e| matches!(e, Event::Failed { member: m, reason } if m.name == suspected[0] && *reason == timed_out)
        ),
        "{evs:?}"
    );
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Dead));
    assert_eq!(state_of(&a, "n3"), Some(MemberState::Dead));
    assert!(a.stats().failures_declared >= 2);
}

#[test]
fn answered_probe_raises_no_suspicion() {
    let [mut a, mut b] = meshed_pair();
    let (a, b) = (&mut a, &mut b);
    let mut now = ms(0);
    while now < Duration::from_secs(10) {
        now = step_pair(a, b);
    }
    assert!(a.stats().probes >= 8);
    assert_eq!(a.stats().probes_failed, 0);
    assert!(!events(a).iter().any(|e| matches!(e, Event::Suspected(_) | Event::Failed { .. })));
}

#[test]
fn indirect_probe_relays_the_ack() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let mut c = all.pop().unwrap();
    let mut b = all.pop().unwrap();
    b.handle_packet(
        ms(10),
        addr(1),
        &codec::encode(&[Message::PingReq(codec::PingReq {
            seq: 77,
            target: String::from("n3"),
            addr: addr(3),
        })]),
    );
    let out = transmits(&mut b);
    assert_eq!(out[0].dst, addr(3));
    c.handle_packet(ms(11), addr(2), &out[0].payload);
    let ack = transmits(&mut c);
    b.handle_packet(ms(12), addr(3), &ack[0].payload);
    let relayed = transmits(&mut b);
    assert_eq!(relayed[0].dst, addr(1));
    assert!(matches!(decode(&relayed[0])[0], Message::Ack(codec::Ack { seq: 77 })));
}

#[test]
fn relay_sends_nack_when_target_is_silent() {
    let mut b = engine(2);
    let alive = alive_claim("n3", addr(3), 0);
    b.handle_packet(ms(0), addr(3), &codec::encode(&[alive]));
    transmits(&mut b);
    b.handle_packet(
        ms(0),
        addr(1),
        &codec::encode(&[Message::PingReq(codec::PingReq {
            seq: 5,
            target: String::from("n3"),
            addr: addr(3),
        })]),
    );
    assert!(transmits(&mut b).iter().any(|t| t.dst == addr(3)), "relayed ping sent");
    let out = run_timers(&mut b, ms(600));
    assert!(
        out.iter()
            .any(|t| t.dst == addr(1)
                && matches!(decode(t)[0], Message::Nack(codec::Nack { seq: 5 })))
    );
}

#[test]
fn ping_req_for_a_stranger_or_another_address_is_refused() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let b = &mut all[1];
    for (target, at) in [("n9", addr(9)), ("n3", addr(77)), ("n2", addr(2))] {
        let req =
            Message::PingReq(codec::PingReq { seq: 1, target: String::from(target), addr: at });
        b.handle_packet(ms(0), addr(1), &codec::encode(&[req]));
        assert!(transmits(b).is_empty(), "{target} at {at} relayed");
    }
    assert_eq!(b.stats().ping_reqs_refused, 3);
}

#[test]
fn forged_extreme_incarnation_is_dropped_and_counted() {
    let mut a = engine(1);
    let forged = Message::Suspect(accusation("n1", u64::MAX, "mallory"));
    a.handle_packet(ms(0), addr(6), &codec::encode(&[forged]));
    assert_eq!(a.stats().dropped_out_of_limits, 1);
    assert_eq!(a.local_member().incarnation, 0, "no refutation to an impossible claim");
    // The highest claim the codec lets through is still refutable.
    let highest = Message::Dead(accusation("n1", codec::MAX_INCARNATION - 1, "mallory"));
    a.handle_packet(ms(0), addr(6), &codec::encode(&[highest]));
    assert_eq!(a.local_member().incarnation, codec::MAX_INCARNATION);
    // ...and the refutation itself passes every peer's limits.
    let out = run_timers(&mut a, Duration::from_secs(1));
    assert!(out.is_empty() || out.iter().all(|t| codec::decode(&t.payload, 65_000).is_ok()));
    let mut b = engine(2);
    let alive = a.view.state_message(a.view.me).unwrap();
    b.handle_packet(ms(0), addr(1), &codec::encode(&[alive]));
    assert_eq!(b.stats().dropped_total(), 0);
    assert_eq!(b.member("n1").unwrap().incarnation, codec::MAX_INCARNATION);
}

#[test]
fn datagrams_larger_than_our_own_budget_are_accepted() {
    // A member configured with max_packet_size 9000 must not look dead to
    // one using the default 1400.
    let mut a = engine(1);
    let mut msgs = alloc::vec![Message::Ping(codec::Ping { seq: 3, target: String::from("n1") })];
    for i in 0..100 {
        let at = SocketAddr::from(([127, 0, 2, i as u8], 9000));
        msgs.push(alive_claim(&alloc::format!("member-{i:03}"), at, 0));
    }
    let big = codec::encode(&msgs);
    assert!(big.len() > 1400);
    a.handle_packet(ms(0), addr(2), &big);
    assert_eq!(a.stats().dropped_total(), 0);
    assert_eq!(a.members().count(), 101);
    assert!(matches!(decode(&transmits(&mut a)[0])[0], Message::Ack(codec::Ack { seq: 3 })));
}

#[test]
fn a_forged_meet_gets_one_datagram_and_the_rest_needs_the_token() {
    let mut seed = engine_knowing(200);
    let meet = |token| {
        Message::Meet(codec::Handshake {
            token,
            name: String::from("joiner"),
            addr: addr(50),
            incarnation: 0,
            meta: Vec::new(),
        })
    };
    seed.handle_packet(ms(0), addr(50), &codec::encode(&[meet(99)]));
    // The news of the joiner goes to other members at once, never to it.
    let first: Vec<Transmit> =
        transmits(&mut seed).into_iter().filter(|t| t.dst == addr(50)).collect();
    assert_eq!(first.len(), 1, "one datagram before the joiner proves its address");
    assert!(matches!(decode(&first[0])[0], Message::Pong(codec::Handshake { token: 99, .. })));
    // A Ping with a wrong token, or from elsewhere, releases nothing more.
    for (seq, from) in [(98, addr(50)), (99, addr(51))] {
        let ping = Message::Ping(codec::Ping { seq, target: String::from("n1") });
        seed.handle_packet(ms(1), from, &codec::encode(&[ping]));
        assert_eq!(transmits(&mut seed).len(), 1, "only the Ack");
    }
    // The real joiner's Ping echoes the token: the rest of the view follows.
    let ping = Message::Ping(codec::Ping { seq: 99, target: String::from("n1") });
    seed.handle_packet(ms(2), addr(50), &codec::encode(&[ping]));
    let rest = transmits(&mut seed);
    assert!(rest.len() > 2);
    // The rest of it: with what the Pong's datagram carried, the whole view.
    let names: alloc::collections::BTreeSet<String> = rest
        .iter()
        .chain(&first)
        .flat_map(decode)
        .filter_map(|m| {
            if let Message::Alive(codec::Alive { name, .. }) = m {
                Some(name)
            } else {
                None
            }
        })
        .collect();
    assert!(names.len() >= 199, "the whole view arrived: {}", names.len());
}

#[test]
fn suspected_member_refutes_with_higher_incarnation() {
    let mut a = engine(1);
    let suspect = codec::encode(&[Message::Suspect(accusation("n1", 0, "n2"))]);
    a.handle_packet(ms(5), addr(2), &suspect);
    assert_eq!(a.local_member().incarnation, 1);
    assert_eq!(a.local_member().state, MemberState::Alive);
    assert!(events(&mut a)
        .contains(&Event::Refuted { accusation: MemberState::Suspect, incarnation: 1 }));
    assert_eq!(a.stats().refutations, 1);
    // An accusation about an older incarnation needs no answer.
    a.handle_packet(ms(6), addr(2), &suspect);
    assert_eq!(a.local_member().incarnation, 1);
}

#[test]
fn refutation_clears_the_suspicion_everywhere() {
    let [mut a, mut b] = meshed_pair();
    let (a, b) = (&mut a, &mut b);
    // a suspects b; b hears of it on the next message and refutes.
    a.handle_packet(ms(1), addr(3), &codec::encode(&[Message::Suspect(accusation("n2", 0, "n3"))]));
    assert_eq!(state_of(a, "n2"), Some(MemberState::Suspect));
    assert!(events(a).iter().any(|e| matches!(e, Event::Suspected(m) if m.name == "n2")));
    let mut now = ms(1);
    while state_of(a, "n2") != Some(MemberState::Alive) && now < Duration::from_secs(3) {
        now = step_pair(a, b);
    }
    assert_eq!(state_of(a, "n2"), Some(MemberState::Alive), "refuted by {now:?}");
    assert_eq!(a.member("n2").unwrap().incarnation, 1);
    assert!(events(a).iter().any(|e| matches!(e, Event::Alive(m) if m.name == "n2")));
}

#[test]
fn leave_is_reported_as_left_not_failed() {
    let [mut a, mut b] = meshed_pair();
    let (a, b) = (&mut a, &mut b);
    b.leave(ms(100));
    assert!(b.is_leaving());
    deliver(ms(100), b, &mut [&mut *a]);
    assert_eq!(state_of(a, "n2"), Some(MemberState::Left));
    let evs = events(a);
    assert!(evs.iter().any(|e| matches!(e, Event::Left(m) if m.name == "n2")));
    assert!(!evs.iter().any(|e| matches!(e, Event::Failed { .. })));
    // b stops probing and finishes its leave after enough retransmissions.
    let mut done = false;
    let mut now = ms(100);
    while !done && now < Duration::from_secs(10) {
        now = b.poll_timeout().unwrap();
        b.handle_timeout(now);
        transmits(b);
        done = events(b).contains(&Event::LeaveDone);
    }
    assert!(done, "LeaveDone reported");
    let probes = b.stats().probes;
    run_timers(b, now + Duration::from_secs(5));
    assert_eq!(b.stats().probes, probes, "a departed node no longer probes");
}

#[test]
fn leave_completes_when_everyone_else_left_first() {
    let [mut a, mut b] = meshed_pair();
    let (a, b) = (&mut a, &mut b);
    // Both leave at once; a's notice to b is lost, then a hears b left.
    a.leave(ms(0));
    transmits(a);
    b.leave(ms(0));
    deliver(ms(1), b, &mut [&mut *a]);
    assert_eq!(state_of(a, "n2"), Some(MemberState::Left));
    run_timers(a, Duration::from_secs(1));
    assert!(events(a).contains(&Event::LeaveDone), "nobody is left to tell: the leave is done");
}

/// A join while the leave notice is still being spread cancels the leave:
/// the member announces itself alive at a higher incarnation, which
/// overrides its Left notice wherever that got, and the leave is never
/// reported done.
#[test]
fn join_while_leaving_cancels_the_leave_and_comes_back_alive() {
    let [mut a, mut b] = meshed_pair();
    let (a, b) = (&mut a, &mut b);
    b.leave(ms(100));
    deliver(ms(100), b, &mut [&mut *a]);
    assert_eq!(state_of(a, "n2"), Some(MemberState::Left));
    events(a);
    b.join(ms(200), &[addr(1)], Duration::from_secs(5));
    assert!(!b.is_leaving());
    let me = b.local_member();
    assert_eq!((me.state, me.incarnation), (MemberState::Alive, 1));
    for _ in 0..4 {
        deliver(ms(200), b, &mut [&mut *a]);
        deliver(ms(200), a, &mut [&mut *b]);
    }
    assert_eq!(state_of(a, "n2"), Some(MemberState::Alive));
    assert_eq!(a.member("n2").unwrap().incarnation, 1);
    let evs = events(a);
    assert!(evs.iter().any(|e| matches!(e, Event::Joined(m) if m.name == "n2")), "{evs:?}");
    let probes = b.stats().probes;
    run_pair(a, b, ms(200), Duration::from_secs(10));
    assert!(!events(b).contains(&Event::LeaveDone), "the cancelled leave is not done");
    assert!(b.stats().probes > probes, "a member again probes again");
    assert_eq!(state_of(a, "n2"), Some(MemberState::Alive));
    assert_eq!(state_of(b, "n2"), Some(MemberState::Alive));
}

#[test]
fn leave_alone_is_done_at_once() {
    let mut a = engine(1);
    a.leave(ms(0));
    assert_eq!(events(&mut a), [Event::LeaveDone]);
}

#[test]
fn restarted_member_comes_back_with_higher_incarnation() {
    let mut all: Vec<Engine> = (1..=2).map(engine).collect();
    mesh(&mut all);
    let mut a = all.remove(0);
    // a declares n2 dead at incarnation 3 (as if n2 had refuted before).
    a.handle_packet(ms(1), addr(2), &codec::encode(&[alive_claim("n2", addr(2), 3)]));
    a.handle_packet(ms(2), addr(3), &codec::encode(&[Message::Dead(accusation("n2", 3, "n3"))]));
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Dead));
    events(&mut a);

    // n2 restarts with a fresh engine (incarnation 0) and joins through a.
    let mut b = engine(2);
    b.join(ms(10), &[addr(1)], Duration::from_secs(5));
    for _ in 0..4 {
        deliver(ms(10), &mut b, &mut [&mut a]);
        deliver(ms(10), &mut a, &mut [&mut b]);
    }
    assert!(b.local_member().incarnation > 3, "refuted its old death");
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Alive));
    assert_eq!(a.member("n2").unwrap().incarnation, b.local_member().incarnation);
    assert!(events(&mut a).iter().any(|e| matches!(e, Event::Joined(m) if m.name == "n2")));
}

/// A member that declared another dead (its port found closed, say)
/// before hearing that it left takes the Left notice of that life when it
/// comes: it reports the leave and holds it left, as its peers do, instead
/// of every sync between them finding their views different (Left ranks
/// above Dead in digests). A later death claim does not undo it.
#[test]
fn a_leave_heard_after_a_death_of_the_same_life_turns_it_into_a_leave() {
    let mut all: Vec<Engine> = (1..=2).map(engine).collect();
    mesh(&mut all);
    let mut a = all.remove(0);
    a.handle_packet(ms(1), addr(3), &codec::encode(&[Message::Dead(accusation("n2", 0, "n3"))]));
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Dead));
    assert!(events(&mut a)
        .iter()
        .any(|e| matches!(e, Event::Failed { member, .. } if member.name == "n2")));
    a.handle_packet(
        ms(2),
        addr(2),
        &codec::encode(&[Message::Left(codec::Left { name: "n2".into(), incarnation: 0 })]),
    );
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Left));
    assert!(matches!(&events(&mut a)[..], [Event::Left(m)] if m.name == "n2"));
    a.handle_packet(ms(3), addr(3), &codec::encode(&[Message::Dead(accusation("n2", 0, "n3"))]));
    assert_eq!(state_of(&a, "n2"), Some(MemberState::Left), "a death does not undo a leave");
    assert!(events(&mut a).is_empty());
}

#[test]
fn stale_claims_do_not_override_newer_ones() {
    let mut a = engine(1);
    let alive = |inc| alive_claim("x", addr(9), inc);
    a.handle_packet(ms(0), addr(9), &codec::encode(&[alive(5)]));
    a.handle_packet(ms(0), addr(9), &codec::encode(&[Message::Suspect(accusation("x", 4, "y"))]));
    assert_eq!(state_of(&a, "x"), Some(MemberState::Alive));
    a.handle_packet(ms(0), addr(9), &codec::encode(&[Message::Dead(accusation("x", 5, "y"))]));
    assert_eq!(state_of(&a, "x"), Some(MemberState::Dead));
    a.handle_packet(ms(0), addr(9), &codec::encode(&[alive(5)]));
    assert_eq!(state_of(&a, "x"), Some(MemberState::Dead), "same incarnation cannot resurrect");
    a.handle_packet(ms(0), addr(9), &codec::encode(&[alive(6)]));
    assert_eq!(state_of(&a, "x"), Some(MemberState::Alive));
}

#[test]
fn misdirected_ping_is_not_acknowledged() {
    let mut a = engine(1);
    a.handle_packet(
        ms(0),
        addr(2),
        &codec::encode(&[Message::Ping(codec::Ping {
            seq: 1,
            target: String::from("someone-else"),
        })]),
    );
    assert!(transmits(&mut a).is_empty());
    assert_eq!(a.stats().misdirected_pings, 1);
    a.handle_packet(
        ms(0),
        addr(2),
        &codec::encode(&[Message::Ping(codec::Ping { seq: 2, target: String::from("n1") })]),
    );
    let out = transmits(&mut a);
    assert!(matches!(decode(&out[0])[0], Message::Ack(codec::Ack { seq: 2 })));
}

#[test]
fn garbage_is_counted_and_changes_nothing() {
    let mut a = engine(1);
    a.handle_packet(ms(0), addr(2), b"");
    a.handle_packet(ms(0), addr(2), b"hello world");
    a.handle_packet(ms(0), addr(2), &[b'R', b'm', 1, 0, 1, 0, 0xff, 0xff]);
    a.handle_packet(ms(0), addr(2), &[b'R', b'm', 42, 0, 1, 0, 0]);
    a.handle_packet(ms(0), addr(2), &alloc::vec![0u8; 70_000]);
    let s = a.stats();
    assert_eq!(s.dropped_truncated, 1);
    assert_eq!(s.dropped_bad_magic, 1);
    assert_eq!(s.dropped_malformed, 1);
    assert_eq!(s.dropped_unknown_version, 1);
    assert_eq!(s.dropped_oversized, 1);
    assert_eq!(s.packets_received, 0);
    assert_eq!(a.members().count(), 1);
    assert!(transmits(&mut a).is_empty());
}

/// An engine knowing `n` members (itself included) through gossip, with
/// nothing pending.
fn engine_knowing(n: usize) -> Engine {
    let mut a = engine(1);
    for i in 2..=n {
        let at = SocketAddr::from(([127, 0, 1, (i % 250) as u8], 8000 + i as u16));
        let m = alive_claim(&alloc::format!("m{i}"), at, 0);
        a.handle_packet(ms(0), addr(9), &codec::encode(&[m]));
    }
    a.piggyback.clear();
    a.eager_rounds = 0; // as if the news had come before this window
    events(&mut a);
    transmits(&mut a); // the news of each, pushed as it came
    a
}

fn gossip_entries(t: &Transmit) -> usize {
    decode(t)
        .iter()
        .filter(|m| {
            matches!(
                m,
                Message::Alive(_) | Message::Suspect(_) | Message::Dead(_) | Message::Left(_)
            )
        })
        .count()
}

#[test]
fn gossip_sample_is_max_3_or_n_over_10() {
    for (n, want) in [(3, 1), (4, 2), (10, 3), (50, 5), (200, 20)] {
        let mut a = engine_knowing(n);
        a.handle_packet(
            ms(0),
            addr(2),
            &codec::encode(&[Message::Ping(codec::Ping { seq: 1, target: String::from("n1") })]),
        );
        let out = transmits(&mut a);
        assert_eq!(gossip_entries(&out[0]), want, "n = {n}");
    }
}

#[test]
fn sample_rotates_least_recently_gossiped_first() {
    let n = 30;
    let mut a = engine_knowing(n);
    let mut seen = alloc::collections::BTreeSet::new();
    // 3 entries per Ack: 10 Acks cover all 30 members exactly once.
    for seq in 0..10 {
        a.handle_packet(
            ms(0),
            addr(2),
            &codec::encode(&[Message::Ping(codec::Ping { seq, target: String::from("n1") })]),
        );
        for m in transmits(&mut a).iter().flat_map(decode) {
            if let Message::Alive(codec::Alive { name, .. }) = m {
                assert!(seen.insert(name.clone()), "{name} gossiped twice before others");
            }
        }
    }
    assert_eq!(seen.len(), n);
}

#[test]
fn updates_stop_after_the_retransmit_limit() {
    let mut a = engine_knowing(20);
    let limit = a.config().retransmit_limit(20) as usize; // 4 * ceil(log10 21) = 8
    assert_eq!(limit, 8);
    a.handle_packet(ms(0), addr(9), &codec::encode(&[alive_claim("new", addr(50), 0)]));
    let carries = |t: &Transmit| {
        decode(t)
            .iter()
            .any(|m| matches!(m, Message::Alive(codec::Alive { name, .. }) if name == "new"))
    };
    // Pushed at once to gossip_fanout members, then carried by Acks.
    let mut carried = transmits(&mut a).iter().filter(|t| carries(t)).count();
    assert_eq!(carried, a.config().gossip_fanout, "pushed at once");
    let mut seq = 0;
    while a.pending_updates() > 0 {
        seq += 1;
        assert!(seq < 100, "the update never leaves the queue");
        a.handle_packet(
            ms(0),
            addr(2),
            &codec::encode(&[Message::Ping(codec::Ping { seq, target: String::from("n1") })]),
        );
        carried += transmits(&mut a).iter().filter(|t| carries(t)).count();
    }
    assert_eq!(carried, limit);
    assert_eq!(a.pending_updates(), 0);
}

#[test]
fn datagrams_respect_max_packet_size() {
    let mut a = engine_knowing(300);
    // Make every member pending so the gossip section wants far more room.
    for id in 0..a.view.table().len() as Id {
        a.enqueue_update(id);
    }
    a.handle_packet(
        ms(0),
        addr(2),
        &codec::encode(&[Message::Ping(codec::Ping { seq: 1, target: String::from("n1") })]),
    );
    let out = transmits(&mut a);
    assert!(out[0].payload.len() <= 1400);
    assert!(gossip_entries(&out[0]) > 10);
}

#[test]
fn same_seed_same_transmissions() {
    let run = || {
        let mut all: Vec<Engine> = (1..=4).map(engine).collect();
        mesh(&mut all);
        run_timers(&mut all[0], Duration::from_secs(20))
    };
    assert_eq!(run(), run());
}

#[test]
fn engines_on_one_snapshot_start_joined_and_diverge_independently() {
    let view = Snapshot::new((1..=5).map(|i| Member::new(alloc::format!("n{i}"), addr(i))));
    let on_view = |i: u8| {
        Engine::with_snapshot(
            Config::lan(),
            alloc::format!("n{i}"),
            addr(i),
            i as u64,
            Duration::ZERO,
            view.clone(),
        )
        .unwrap()
    };
    let (mut a, b, mut c) = (on_view(1), on_view(2), on_view(9));
    assert_eq!((a.members().count(), a.live_members()), (5, 5));
    assert_eq!(a.local_member().name, "n1");
    assert!(events(&mut a).is_empty(), "a snapshot is not news: no Joined events");
    assert_eq!((c.members().count(), c.live_members()), (6, 6), "a newcomer adds itself");

    let suspect = Message::Suspect(accusation("n3", 0, "n4"));
    let about_a = Message::Suspect(accusation("n1", 0, "n4"));
    a.handle_packet(ms(10), addr(4), &codec::encode(&[suspect, about_a]));
    assert_eq!(a.member("n3").unwrap().state, MemberState::Suspect);
    assert_eq!(a.count(MemberState::Suspect), 1);
    assert_eq!(a.local_member().incarnation, 1, "a refuted");
    assert_eq!(b.member("n3").unwrap().state, MemberState::Alive, "b's view is its own");
    assert_eq!(b.member("n1").unwrap().incarnation, 0);
    assert_eq!(view.member("n3").unwrap().state, MemberState::Alive, "the snapshot is untouched");

    // The probe order covers the snapshot's members: within a round of
    // probes, c pings each of the five once.
    let mut pinged = Vec::new();
    for k in 0..5 {
        let now = Duration::from_secs(k + 1);
        c.handle_timeout(now);
        for t in transmits(&mut c) {
            if let Message::Ping(codec::Ping { target, .. }) = &decode(&t)[0] {
                pinged.push(target.clone());
                // Answer, so nobody is suspected.
                let Message::Ping(codec::Ping { seq, .. }) = decode(&t)[0] else { unreachable!() };
                c.handle_packet(now, t.dst, &codec::encode(&[Message::Ack(codec::Ack { seq })]));
            }
        }
    }
    pinged.sort();
    assert_eq!(pinged, ["n1", "n2", "n3", "n4", "n5"]);
}

/// Every timer due up to `until` on both engines, delivering each one's
/// datagrams (streams too) to the other, in time order, 100 ms at a time.
fn run_pair(a: &mut Engine, b: &mut Engine, from: Duration, until: Duration) {
    let mut now = from;
    while now < until {
        now += ms(100);
        for _ in 0..4 {
            a.handle_timeout(now);
            b.handle_timeout(now);
            deliver(now, a, &mut [&mut *b]);
            deliver(now, b, &mut [&mut *a]);
        }
    }
}

#[test]
fn a_member_whose_boot_clock_went_back_moves_past_its_earlier_life() {
    let config = Config { push_pull_interval: Duration::from_secs(1), ..Config::lan() };
    let make = |i: u8| {
        Engine::new(config.clone(), alloc::format!("n{i}"), addr(i), i as u64, Duration::ZERO)
            .unwrap()
    };
    let mut all = alloc::vec![make(1), make(2)];
    mesh(&mut all);
    let (left, right) = all.split_at_mut(1);
    let (a, b) = (&mut left[0], &mut right[0]);
    a.set_generation(100);
    // b still holds a's state from an earlier life whose clock was ahead.
    let old = Message::Update(codec::Update {
        origin: String::from("n1"),
        generation: 500,
        version: 1,
        item: codec::Item::Set {
            key: String::from("k"),
            value: codec::Value::Text(String::from("old")),
        },
        feedback: false,
    });
    b.handle_packet(ms(0), addr(9), &codec::encode(&[old]));
    assert_eq!(b.get("n1", "k"), Some(&codec::Value::Text(String::from("old"))));
    a.set(ms(0), "k", codec::Value::Text(String::from("new"))).unwrap();
    run_pair(a, b, ms(0), Duration::from_secs(10));
    assert!(a.generation() > 500, "a moved past the later life: {}", a.generation());
    assert_eq!(b.get("n1", "k"), Some(&codec::Value::Text(String::from("new"))));
}

#[test]
fn news_is_pushed_at_once_only_by_a_healthy_member() {
    let alive = |name: &str| codec::encode(&[alive_claim(name, addr(50), 0)]);
    let mut a = engine_knowing(20);
    a.handle_packet(ms(0), addr(9), &alive("new"));
    assert_eq!(transmits(&mut a).len(), a.config().gossip_fanout, "pushed to the fanout at once");
    // Probes going unanswered: maybe this member is the overloaded one, so
    // the news waits for the next periodic round instead.
    let mut b = engine_knowing(20);
    b.adjust_health(1);
    b.handle_packet(ms(0), addr(9), &alive("new"));
    assert!(transmits(&mut b).is_empty());
    assert_eq!(b.pending_updates(), 1);
}

/// A gossip round stops looking for items to fill its datagram after
/// several that do not fit, as the update queue does, so its cost is
/// bounded however many items are being pushed: an item further down the
/// queue waits for a later round.
#[test]
fn filling_items_stops_after_several_misfits() {
    let config = Config { eager_push: false, ..Config::lan() };
    let mut a = Engine::new(config, "n1", addr(1), 1, Duration::ZERO).unwrap();
    a.broadcast(ms(0), vec![0; 5000]).unwrap(); // too big for a datagram
    for _ in 0..20 {
        a.broadcast(ms(0), vec![0; 1000]).unwrap(); // one per datagram
    }
    let mut b = a.out.datagram();
    let (added, big) = a.fill_items(&mut b, &Default::default());
    assert_eq!(added.len(), 1);
    assert!(big.is_empty(), "the big item, oldest and so last in line, is not reached");
}

/// A burst of Meets: the seed serves its share of handshakes for this
/// gossip interval, refuses the rest with a small Busy naming live members
/// (without learning the joiner), drops Meets once its refusals are spent
/// too, and counts all of it; a new interval brings a new share.
#[test]
fn a_seed_serves_a_bounded_share_of_a_burst_of_meets_and_refuses_the_rest() {
    let mut seed = engine_knowing(20);
    let meet = |i: u32| {
        let at = SocketAddr::from(([127, 1, (i >> 8) as u8, i as u8], 9000));
        let m = Message::Meet(codec::Handshake {
            token: u64::from(i),
            name: alloc::format!("j{i}"),
            addr: at,
            incarnation: 0,
            meta: Vec::new(),
        });
        (at, codec::encode(&[m]))
    };
    let (mut pongs, mut busy) = (0, 0);
    for i in 0..3000 {
        let (at, bytes) = meet(i);
        seed.handle_packet(ms(0), at, &bytes);
        for t in transmits(&mut seed).iter().filter(|t| t.dst == at) {
            match &decode(t)[0] {
                Message::Pong(_) => pongs += 1,
                Message::Busy(b) => {
                    busy += 1;
                    assert!(!b.members.is_empty() && b.members.len() <= 4);
                    assert!(!b.members.contains(&at));
                }
                Message::Meet(_) | Message::Ping(_) | Message::Ack(_) => {
                    panic!("unexpected answer {:?}", decode(t))
                }
                _ => {} // gossip: the news of those served
            }
        }
    }
    let s = seed.stats();
    assert_eq!(pongs, 128, "handshakes served in one gossip interval");
    assert_eq!(busy, 16 * 128);
    assert_eq!((s.meets_refused, s.meets_dropped), (16 * 128, 3000 - 17 * 128));
    assert_eq!(seed.live_members(), 20 + 128, "refused joiners are not learnt");
    // The next gossip interval: served again.
    let (at, bytes) = meet(5000);
    seed.handle_packet(ms(200), at, &bytes);
    let answer = transmits(&mut seed);
    assert!(answer.iter().any(|t| t.dst == at && matches!(decode(t)[0], Message::Pong(_))));
}

/// A refused join is not a failure: the joiner backs off, then meets a
/// member the refusal named instead of the seed, and joins through it.
#[test]
fn a_refused_joiner_backs_off_and_joins_through_a_member_named() {
    let mut joiner = engine(1);
    let token = joiner.join(ms(0), &[addr(2)], Duration::from_secs(10));
    transmits(&mut joiner);
    let busy = Message::Busy(codec::Busy { token, members: alloc::vec![addr(3)] });
    joiner.handle_packet(ms(1), addr(2), &codec::encode(&[busy]));
    assert_eq!(joiner.stats().joins_refused, 1);
    assert!(events(&mut joiner).is_empty(), "no JoinFailed");
    assert!(transmits(&mut joiner).iter().all(|t| !matches!(decode(t)[0], Message::Meet(_))));
    // Within a gossip interval, one Meet, to the member named.
    let mut meets = Vec::new();
    let mut now = ms(1);
    while now <= ms(201) {
        joiner.handle_timeout(now);
        for t in transmits(&mut joiner) {
            if matches!(decode(&t)[0], Message::Meet(_)) {
                meets.push(t.dst);
            }
        }
        now += ms(10);
    }
    assert_eq!(meets, [addr(3)]);
    let mut other = engine(3);
    let meet = codec::Handshake {
        token,
        name: String::from("n1"),
        addr: addr(1),
        incarnation: 0,
        meta: Vec::new(),
    };
    other.handle_packet(now, addr(1), &codec::encode(&[Message::Meet(meet)]));
    let mut all = [&mut joiner];
    deliver(now, &mut other, &mut all);
    assert!(events(&mut joiner).contains(&Event::JoinSucceeded { token, seed: addr(3) }));
}

/// Fires `a`'s timers until it sends a probe; returns the time and the
/// probed member's address (the other engines stay silent).
fn first_probe(a: &mut Engine) -> (Duration, SocketAddr) {
    loop {
        let now = a.poll_timeout().unwrap();
        a.handle_timeout(now);
        for t in transmits(a) {
            if decode(&t).iter().any(|m| matches!(m, Message::Ping(_))) {
                return (now, t.dst);
            }
        }
    }
}

fn name_at(e: &Engine, at: SocketAddr) -> String {
    e.members().find(|m| m.addr == at).unwrap().name.clone()
}

#[test]
fn a_closed_port_checked_twice_is_a_death_at_once() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let a = &mut all[0];
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    // Another address's closed port is no evidence about the probe.
    a.handle_unreachable(now, addr(99));
    a.handle_unreachable(now + ms(1), target);
    let again = transmits(a);
    assert!(
        again.iter().any(|t| t.dst == target && matches!(decode(t)[0], Message::Ping(_))),
        "the first report is checked with a second Ping"
    );
    assert_eq!(state_of(a, &name), Some(MemberState::Alive), "not yet: one report");
    a.handle_unreachable(now + ms(2), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Dead), "confirmed: dead at once");
    let closed = Some(crate::codec::FailureReason::ClosedPort);
    assert!(events(a).iter().any(
        |e| matches!(e, Event::Failed { member: m, reason } if m.name == name && *reason == closed)
    ));
    let s = a.stats();
    assert_eq!((s.failures_by_evidence, s.failures_by_timeout, s.failures_declared), (1, 0, 1));
    assert_eq!((s.unreachables, s.unreachables_evidence), (3, 2));
}

/// The death is gossiped with its reason (issue 17): the third member
/// hears a Verdict, reports the reason, and passes it on as it got it.
#[test]
fn a_death_from_evidence_is_gossiped_with_its_reason() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let (a, rest) = all.split_first_mut().unwrap();
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    a.handle_unreachable(now + ms(1), target);
    a.handle_unreachable(now + ms(2), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Dead));
    let c = rest.iter_mut().find(|e| e.local_member().addr != target).unwrap();
    let closed = Some(crate::codec::FailureReason::ClosedPort);
    let verdict =
        |m: &Message| matches!(m, Message::Verdict(v) if v.name == name && v.reason() == closed);
    // Until c has heard of it: a's next gossip rounds carry it.
    let mut t = now + ms(2);
    let mut sent_verdict = false;
    while state_of(c, &name) != Some(MemberState::Dead) && t < now + Duration::from_secs(5) {
        let due = a.poll_timeout().unwrap_or(t + ms(10)).max(t);
        t = due;
        a.handle_timeout(t);
        for tr in transmits(a) {
            let msgs = decode(&tr);
            sent_verdict |= msgs.iter().any(verdict);
            if tr.dst == c.local_member().addr {
                c.handle_packet(t, a.local_member().addr, &tr.payload);
            }
        }
    }
    assert!(sent_verdict, "the decider gossips a Verdict, not a plain Dead");
    assert_eq!(state_of(c, &name), Some(MemberState::Dead));
    assert!(
        events(c).iter().any(|e| matches!(e, Event::Failed { member: m, reason } if m.name == name && *reason == closed)),
        "the receiver's Failed event names the reason"
    );
    // c forwards the reason with its own gossip of the death.
    let mut forwarded = false;
    for _ in 0..20 {
        let Some(due) = c.poll_timeout() else { break };
        c.handle_timeout(due.max(t));
        forwarded |= transmits(c).iter().any(|tr| decode(tr).iter().any(verdict));
        if forwarded {
            break;
        }
    }
    assert!(forwarded, "the reason is forwarded");
}

#[test]
fn an_ack_between_two_closed_port_reports_cancels_the_evidence() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let (a, rest) = all.split_first_mut().unwrap();
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    a.handle_unreachable(now + ms(1), target);
    // The check Ping reaches a process on that port, which acks.
    let b = rest.iter_mut().find(|e| e.local_member().addr == target).unwrap();
    deliver(now + ms(1), a, &mut [&mut *b]);
    deliver(now + ms(2), b, &mut [&mut *a]);
    a.handle_unreachable(now + ms(3), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Alive));
    assert_eq!(a.stats().failures_by_evidence, 0);
}

#[test]
fn closed_port_evidence_is_tied_to_the_incarnation_it_was_gathered_at() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let a = &mut all[0];
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    a.handle_unreachable(now + ms(1), target);
    // A new life on the same address announces itself meanwhile.
    let claim = alive_claim(&name, target, 5);
    a.handle_packet(now + ms(2), target, &codec::encode(&[claim]));
    a.handle_unreachable(now + ms(3), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Alive), "a report about the old life");
    assert_eq!(a.stats().failures_by_evidence, 0);
}

#[test]
fn without_the_switch_closed_ports_are_only_counted() {
    let config = Config { closed_port_evidence: false, ..Config::lan() };
    let mut all: Vec<Engine> = (1..=3)
        .map(|i| Engine::new(config.clone(), alloc::format!("n{i}"), addr(i), i as u64, ms(0)))
        .collect::<Result<_, _>>()
        .unwrap();
    mesh(&mut all);
    let a = &mut all[0];
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    a.handle_unreachable(now + ms(1), target);
    a.handle_unreachable(now + ms(2), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Alive));
    assert_eq!((a.stats().unreachables, a.stats().unreachables_evidence), (2, 0));
}

#[test]
fn a_refused_connect_starts_the_check_of_a_probe_but_never_confirms_it() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let a = &mut all[0];
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    // A stream to the probed member: its TCP connect is refused.
    a.handle_refused_connect(now + ms(1), target);
    let again = transmits(a);
    assert!(
        again.iter().any(|t| t.dst == target && matches!(decode(t)[0], Message::Ping(_))),
        "a refused connect is checked with a second Ping"
    );
    // More refused connects (a member without a stream listener refuses
    // them all while alive) never decide.
    a.handle_refused_connect(now + ms(2), target);
    a.handle_refused_connect(now + ms(3), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Alive), "never dead on refused connects");
    // The check Ping drawing port-unreachable confirms.
    a.handle_unreachable(now + ms(4), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Dead), "the probe path confirmed it");
    let s = a.stats();
    assert_eq!((s.failures_by_evidence, s.unreachables, s.unreachables_evidence), (1, 4, 2));
}

#[test]
fn a_refused_connect_does_not_confirm_a_closed_port_report() {
    let mut all: Vec<Engine> = (1..=3).map(engine).collect();
    mesh(&mut all);
    let a = &mut all[0];
    let (now, target) = first_probe(a);
    let name = name_at(a, target);
    a.handle_unreachable(now + ms(1), target);
    a.handle_refused_connect(now + ms(2), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Alive), "only the check Ping confirms");
    a.handle_unreachable(now + ms(3), target);
    assert_eq!(state_of(a, &name), Some(MemberState::Dead));
}

/// A join links the joiner and its seed; a Pull is answered with the
/// members learned since the position it names, each datagram headed by
/// where the next pull starts, and only for a live member at its address:
/// a stranger's Pull gets nothing and is counted.
#[test]
fn a_pull_is_answered_for_linked_members_only() {
    let mut all: Vec<Engine> = (1..=4).map(engine).collect();
    mesh(&mut all);
    let (seed, rest) = all.split_first_mut().expect("four engines");
    assert!(seed.links.is_linked(), "the seed is linked to the joiners it served");
    assert!(rest[0].links.is_linked(), "a joiner is linked to its seed");
    transmits(seed);
    // A member it knows: the view from position 0, headed by a Pulled.
    let from = rest[0].local_member().addr;
    let pull = Message::Pull(codec::Pull { sender: "n2".into(), since: 0 });
    seed.handle_packet(ms(10), from, &codec::encode(&[pull]));
    let answer = transmits(seed);
    assert_eq!(answer.len(), 1);
    let msgs = decode(&answer[0]);
    assert_eq!(msgs[0], Message::Pulled(codec::Pulled { upto: 4 }));
    assert!(msgs.iter().any(|m| matches!(m, Message::Alive(a) if a.name == "n3")));
    // A stranger (or a forged sender): nothing, counted.
    let refused = seed.stats().syncs_refused;
    let forged = Message::Pull(codec::Pull { sender: "n2".into(), since: 0 });
    seed.handle_packet(ms(20), addr(99), &codec::encode(&[forged]));
    assert!(transmits(seed).is_empty(), "a forged Pull drew an answer");
    assert_eq!(seed.stats().syncs_refused, refused + 1);
}

/// The summary hash is kept up to date from the changes the table's and
/// the store's journals note (anti_entropy.rs), not by a walk of the table
/// per use: through joins, items, deaths, leaves, reaps, reused ids and
/// restarts it must equal a walk, and in a cluster this small the
/// journals never stop, so every use after the engine's first is the kept
/// one.
#[test]
fn the_summary_hash_kept_by_changes_equals_a_walk_through_churn() {
    use crate::sim::Simulation;
    let config = Config {
        gossip_to_the_dead_time: ms(2000),
        reap_timeout: ms(3000),
        state_gc_grace: ms(2000),
        ..Config::local()
    };
    let mut sim = Simulation::new(config, 6, 11).unwrap();
    sim.join_all(0);
    let check = |sim: &mut Simulation, at: &str| {
        for i in 0..sim.len() as u32 {
            sim.with_engine(i, |e, _| {
                let kept =
                    e.summary.is_some() && e.view.journal().is_on() && e.store.journal().is_on();
                assert!(kept, "{at}: n{i} walks its table");
                assert_eq!(e.digest_hash(), e.walk_hash(), "{at}: n{i}");
            });
        }
    };
    let text = |s: &str| codec::Value::Text(String::from(s));
    for round in 0..12u32 {
        let at = alloc::format!("round {round}");
        let old = round % 6;
        let n = sim.add_node();
        sim.join(n, &[old]);
        sim.run_for(ms(300)); // mid-join: members still arriving
        check(&mut sim, &at);
        sim.run_for(ms(1500));
        sim.set(n, "k", text("new")).unwrap();
        sim.set(old, "k", text(&at)).unwrap();
        sim.delete(old, "gone").unwrap();
        sim.run_for(ms(700));
        check(&mut sim, &at);
        match round % 3 {
            0 => sim.kill(n),
            1 => sim.leave(n),
            _ => sim.restart(old),
        }
        sim.run_for(ms(2000));
        check(&mut sim, &at);
        sim.run_for(ms(4000)); // reaped: the next round's member reuses its id
        check(&mut sim, &at);
    }
}

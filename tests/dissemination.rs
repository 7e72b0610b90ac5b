//! Rumor mongering, anti-entropy and the replicated state, in the simulator:
//! each test a script of operations, deterministic by seed.

mod script;

use rumor::codec::{MessageKind, Value};
use rumor::proto::{AntiEntropyMode, Config, StopPolicy, SyncPeers, MAX_PUSHES};
use rumor::sim::Simulation;
use script::{play, play_joined, secs, Check, Op};
use std::time::Duration;

/// LAN timings without anti-entropy and without eager pushes: rumor
/// mongering alone, in gossip rounds.
fn mongering_only() -> Config {
    Config { push_pull_interval: Duration::ZERO, eager_push: false, ..Config::lan() }
}

#[test]
fn a_broadcast_reaches_every_member_exactly_once_by_mongering_alone() {
    let p = play_joined(
        mongering_only(),
        1000,
        1,
        &[
            Op::Run(1.0),
            Op::Broadcast(17, b"deploy v42".to_vec()),
            Op::WaitUntil(Check::Reached(0, 1000), 30.0),
            Op::Run(30.0),
            Op::Assert(Check::Delivered(0, 1000)),
            Op::Assert(Check::MongeringStopped),
        ],
    );
    let rounds = p.waits[0].as_secs_f64() / p.sim.config().gossip_interval.as_secs_f64();
    // Push with fanout 3 needs about log4(n) + ln(n)/3 rounds; log2 n + ln n
    // (about 17 for n = 1000) bounds fanout 1.
    assert!(rounds < 17.0, "{rounds} rounds");
}

#[test]
fn state_set_anywhere_is_visible_everywhere_and_deletes_too() {
    let blob = Value::Bytes(vec![1, 2, 3]);
    play_joined(
        Config::lan(),
        50,
        2,
        &[
            Op::set_text(3, "role", "db"),
            Op::Set(4, "blob".into(), blob.clone()),
            Op::PollEvery(0.05),
            Op::WaitUntil(Check::all_hold(3, "role", Some("db")), 10.0),
            Op::Delete(3, "role".into()),
            Op::set_text(3, "role2", "cache"),
            Op::WaitUntil(
                Check::All(vec![
                    Check::all_hold(3, "role", None),
                    Check::all_hold(3, "role2", Some("cache")),
                ]),
                10.0,
            ),
            Op::Assert(Check::AllHold(4, "blob".into(), Some(blob))),
        ],
    );
}

#[test]
fn with_twenty_percent_loss_anti_entropy_delivers_every_rumor_and_update() {
    let config = Config {
        push_pull_interval: secs(2.0),
        stop_policy: StopPolicy::Coin(2), // a policy that leaves a residue
        ..Config::lan()
    };
    let n = 100;
    let mut ops = vec![Op::Loss(0.2)];
    let mut updates = Vec::new();
    for k in 0..20u32 {
        let origin = (k * 7) % n;
        ops.extend([
            Op::Broadcast(origin, format!("r{k}").into_bytes()),
            Op::set_text(origin, &format!("k{k}"), &format!("v{k}")),
            Op::Run(0.3),
        ]);
        updates.push(Check::all_hold(origin, &format!("k{k}"), Some(&format!("v{k}"))));
    }
    updates.push(Check::EveryRumorEverywhere);
    ops.extend([Op::PollEvery(0.5), Op::WaitUntil(Check::All(updates), 120.0)]);
    play_joined(config, n as usize, 3, &ops);
}

/// Syncs only, no mongering, one node with news: how many sync intervals
/// pass until every node has it, failing after `limit`.
fn sync_intervals_to_spread(mode: AntiEntropyMode, peers: SyncPeers, n: usize, limit: u32) -> u64 {
    let config = Config {
        push_pull_interval: secs(1.0),
        anti_entropy: mode,
        sync_peers: peers,
        // Intervals as in the theory, whatever the cluster size.
        push_pull_scale: false,
        // Mongering stops after its first push, which the cut below eats.
        stop_policy: StopPolicy::Coin(1),
        eager_push: false,
        ..Config::lan()
    };
    let p = play_joined(
        config,
        n,
        4,
        &[
            Op::set_text(0, "news", "x"),
            // Drop the single mongering push by cutting node 0 off for a moment.
            Op::Partition(vec![vec![0]]),
            Op::Run(0.3),
            Op::Heal,
            Op::PollEvery(1.0),
            Op::WaitUntil(Check::all_hold(0, "news", Some("x")), f64::from(limit)),
        ],
    );
    p.waits[0].as_secs()
}

#[test]
fn pull_and_push_pull_beat_push_and_ring_is_bounded() {
    let n = 64;
    let push = sync_intervals_to_spread(AntiEntropyMode::Push, SyncPeers::Random, n, 11);
    let pull = sync_intervals_to_spread(AntiEntropyMode::Pull, SyncPeers::Random, n, 11);
    let both = sync_intervals_to_spread(AntiEntropyMode::PushPull, SyncPeers::Random, n, 11);
    assert!(pull <= push, "pull {pull} push {push}");
    assert!(both <= push, "push_pull {both} push {push}");
    let ring = sync_intervals_to_spread(AntiEntropyMode::Push, SyncPeers::Ring, 16, 19);
    assert!(ring <= 16, "ring push reaches all 16 within 16 intervals: {ring}");
}

#[test]
fn a_restarted_member_replaces_the_state_of_its_earlier_life() {
    let config = Config { push_pull_interval: secs(2.0), ..Config::lan() };
    let text = |s: &str| Value::Text(s.into());
    let p = play(
        config,
        10,
        5,
        &[
            Op::JoinAll(0),
            Op::Run(2.0),
            Op::set_text(4, "old", "first life"),
            Op::set_text(4, "kept", "1"),
            Op::Broadcast(4, b"first".to_vec()),
            Op::PollEvery(0.1),
            Op::WaitUntil(Check::all_hold(4, "kept", Some("1")), 10.0),
            Op::Kill(4),
            Op::Run(1.0),
            Op::Restart(4),
            // The new life's versions start over at 1, over the old life's:
            // three writes and a rumor before it has heard from anyone.
            Op::set_text(4, "a", "x"),
            Op::set_text(4, "b", "y"),
            Op::set_text(4, "kept", "2"),
            Op::Broadcast(4, b"second".to_vec()),
            Op::PollEvery(0.5),
            Op::WaitUntil(
                Check::AllHoldExactly(
                    4,
                    vec![
                        ("a".into(), text("x")),
                        ("b".into(), text("y")),
                        ("kept".into(), text("2")),
                    ],
                ),
                60.0,
            ),
            // Delivered by every member, the first life's n4 aside (it is gone).
            Op::Assert(Check::Reached(1, 10)),
        ],
    );
    assert_eq!((p.rumor(0), p.rumor(1)), ((4, 3), (4, 4)), "versions the old life used too");
}

#[test]
fn a_member_cut_off_past_the_tombstone_grace_is_reset_and_forgets_deleted_keys() {
    let config = Config {
        push_pull_interval: secs(1.0),
        state_gc_grace: secs(5.0),
        // Keep the isolated member listed as alive-ish: long suspicion.
        suspicion_mult: 100,
        ..Config::lan()
    };
    let p = play_joined(
        config,
        6,
        7,
        &[
            Op::set_text(1, "doomed", "x"),
            Op::set_text(1, "kept", "y"),
            Op::PollEvery(0.1),
            Op::WaitUntil(Check::all_hold(1, "doomed", Some("x")), 10.0),
            Op::Partition(vec![vec![5]]),
            Op::Delete(1, "doomed".into()),
            Op::set_text(1, "later", "z"),
            // Long enough for everyone else to collect the tombstone.
            Op::Run(20.0),
            // The cut-off member still holds it.
            Op::Assert(Check::holds_text(5, 1, "doomed", Some("x"))),
        ],
    );
    let resets_before = p.sim.engine_stats(5).state_resets;
    let p = p.then(&[
        Op::Heal,
        // It forgot the deleted key and kept the others.
        Op::WaitUntil(
            Check::All(vec![
                Check::holds_text(5, 1, "doomed", None),
                Check::holds_text(5, 1, "kept", Some("y")),
                Check::holds_text(5, 1, "later", Some("z")),
            ]),
            30.0,
        ),
    ]);
    assert!(p.sim.engine_stats(5).state_resets > resets_before, "through a reset");
}

#[test]
fn eager_pushes_carry_a_broadcast_to_most_members_within_milliseconds() {
    let config = Config { push_pull_interval: Duration::ZERO, ..Config::lan() };
    assert!(config.eager_push, "the default");
    let p = play_joined(
        config,
        1000,
        8,
        &[
            Op::Run(1.0),
            Op::Broadcast(3, b"fast".to_vec()),
            Op::PollEvery(0.001),
            Op::WaitUntil(Check::Reached(0, 900), 5.0),
            // The gossip rounds reach the rest.
            Op::PollEvery(0.01),
            Op::WaitUntil(Check::Reached(0, 1000), 5.0),
            Op::Assert(Check::Once(0)),
        ],
    );
    // Each hop is one LAN latency (0.2 to 2 ms); a gossip interval is 200 ms.
    assert!(p.waits[0] < secs(0.05), "{:?}", p.waits[0]);
}

#[test]
fn payloads_too_big_for_a_datagram_travel_over_streams() {
    let blob = Value::Bytes(vec![1; 50_000]);
    let mut p = play_joined(
        Config::lan(),
        20,
        9,
        &[
            Op::Broadcast(2, vec![7u8; 100_000]),
            Op::Set(3, "blob".into(), blob.clone()),
            Op::PollEvery(0.05),
            Op::WaitUntil(
                Check::All(vec![
                    Check::Reached(0, 20),
                    Check::AllHold(3, "blob".into(), Some(blob)),
                ]),
                10.0,
            ),
            Op::Assert(Check::Once(0)),
        ],
    );
    assert!(p.sim.engine_stats(2).streams_sent > 0);
    let limit = p.sim.engine(2).unwrap().max_item_len(None);
    assert!(limit > 4_000_000, "{limit}");
    let err = p.sim.broadcast(2, vec![0; limit + 1]).unwrap_err();
    assert_eq!(err, rumor::proto::ItemError::TooLarge { len: limit + 1, max: limit });

    let no_streams = Config { max_stream_size: 0, ..Config::lan() };
    let mut p = play_joined(no_streams, 3, 9, &[]);
    let limit = p.sim.engine(0).unwrap().max_item_len(None);
    assert!((1_000..1_400).contains(&limit), "{limit}");
    assert!(p.sim.broadcast(0, vec![0; limit + 1]).is_err());
}

/// Streams sent by every node so far.
fn streams_sent(sim: &Simulation) -> u64 {
    (0..sim.len() as u32).map(|i| sim.engine_stats(i).streams_sent).sum()
}

#[test]
fn an_anti_entropy_answer_too_big_for_its_datagrams_goes_over_a_stream() {
    let config = Config {
        push_pull_interval: secs(1.0),
        sync_max_datagrams: 4,
        // Mongering stops at once, and its pushes are cut off below.
        stop_policy: StopPolicy::Coin(1),
        eager_push: false,
        ..Config::lan()
    };
    let keys: Vec<(String, Value)> =
        (0..300).map(|k| (format!("key-{k:03}"), Value::Bytes(vec![k as u8; 200]))).collect();
    let mut ops = vec![Op::Partition(vec![vec![1]])];
    ops.extend(keys.iter().map(|(key, value)| Op::Set(1, key.clone(), value.clone())));
    ops.extend([Op::Run(0.5), Op::Heal]);
    let p = play_joined(config, 5, 10, &ops);
    let streams_before = streams_sent(&p.sim);
    // 60 KB of state crossed over in syncs.
    let p = p.then(&[Op::PollEvery(0.1), Op::WaitUntil(Check::AllHoldExactly(1, keys), 20.0)]);
    let streams = streams_sent(&p.sim);
    assert!(streams > streams_before, "over streams, not only the 4 datagrams per answer");
}

/// Full digests sent by every node so far.
fn digests_sent(sim: &Simulation) -> u64 {
    (0..sim.len() as u32)
        .map(|i| sim.engine_stats(i).messages_sent[MessageKind::Digest as usize])
        .sum()
}

#[test]
fn a_quiet_cluster_syncs_with_summaries_only() {
    let config = Config { push_pull_interval: secs(1.0), ..Config::lan() };
    let p = play_joined(config, 20, 11, &[Op::set_text(3, "k", "v"), Op::Run(10.0)]);
    let before = digests_sent(&p.sim);
    let p = p.then(&[Op::Run(20.0)]);
    let in_sync: u64 = (0..20).map(|i| p.sim.engine_stats(i).syncs_in_sync).sum();
    assert!(in_sync > 100, "{in_sync} summaries matched");
    assert_eq!(digests_sent(&p.sim), before, "no full digest once everyone agrees");
    // A change makes the next summaries differ, and the full exchange
    // carries it.
    let p = p.then(&[
        Op::Partition(vec![vec![5]]),
        Op::set_text(5, "late", "x"),
        Op::Run(0.5),
        Op::Heal,
        Op::PollEvery(0.1),
        Op::WaitUntil(Check::all_hold(5, "late", Some("x")), 30.0),
    ]);
    assert!(digests_sent(&p.sim) > before);
}

/// Rumor mongering's queue is bounded: a burst of broadcasts beyond
/// `MAX_PUSHES` leaves the oldest to anti-entropy (counted), and still every
/// one of them reaches every member, once.
#[test]
fn a_burst_beyond_the_push_queue_is_delivered_by_anti_entropy() {
    let config = Config { push_pull_interval: Duration::from_secs(5), ..Config::lan() };
    let burst = MAX_PUSHES + 500;
    let mut ops = vec![Op::JoinAll(0), Op::WaitUntil(Check::Converged, 10.0)];
    ops.extend((0..burst).map(|i| Op::Broadcast(1, format!("r{i}").into_bytes())));
    let p = play(config, 4, 21, &ops);
    assert_eq!(p.sim.engine_stats(1).pushes_evicted, 500);
    p.then(&[Op::PollEvery(0.1), Op::WaitUntil(Check::EveryRumorEverywhere, 120.0)]);
}

/// A broadcast keeps its share of every gossip round while membership
/// news floods the update queue (memberlist#299: near 1,000 nodes updates
/// crowded out user broadcasts). 200 of 300 members change their metadata
/// at once, so every member holds ~200 updates, several datagrams' worth,
/// for seconds; meanwhile one member broadcasts. With mongering alone (no
/// eager push, no sync) the rumor still reaches everyone within 3 s, the
/// time it takes without the flood. Before items were given a share, the
/// updates filled every round's datagram and the rumor waited for the
/// queue to drain.
#[test]
fn membership_news_does_not_crowd_out_a_broadcast() {
    let n = 300;
    let mut sim = Simulation::new_joined(mongering_only(), n, 5).expect("config");
    sim.run_for(secs(5.0));
    for i in 100..n as u32 {
        sim.set_meta(i, vec![b'm'; 48]).expect("meta fits");
    }
    let version = sim.broadcast(0, b"deploy v43".to_vec()).expect("fits").expect("running");
    let reached = |sim: &Simulation| {
        sim.log()
            .iter()
            .filter(|r| {
                r.kind == rumor::sim::RecordKind::Rumor
                    && r.subject == 0
                    && r.incarnation == version
            })
            .count()
    };
    sim.run_for(secs(3.0));
    assert!(sim.engine(5).is_some_and(|e| e.pending_updates() > 100), "the flood is still on");
    assert_eq!(reached(&sim), n, "every member (its origin included) got the broadcast within 3 s");
}

/// How many (rumor, running member) deliveries are missing from the log.
fn rumors_missing(sim: &Simulation, running: usize) -> usize {
    let mut per: std::collections::HashMap<(u32, u64), usize> = Default::default();
    for r in sim.log().iter().filter(|r| r.kind == rumor::sim::RecordKind::Rumor) {
        *per.entry((r.subject, r.incarnation)).or_default() += 1;
    }
    per.values().map(|&c| running - c).sum()
}

/// 1,000 broadcasts from 8 members within 65 ms, some members `dead`
/// (crashed just before, not yet suspected): every one reaches every
/// running member within 1 s. Before, rumor mongering's fixed 4 pushes per
/// holder missed ~1 % of (item, member) pairs, which then waited tens of
/// seconds for the periodic sync; pushes to the crashed member counted too.
fn burst_reaches_everyone_within_a_second(dead: &[u32], seed: u64) {
    let n = 8;
    let mut sim = Simulation::new_joined(Config::lan(), n, seed).expect("config");
    sim.run_for(secs(3.0));
    for &d in dead {
        sim.kill(d);
    }
    let senders: Vec<u32> = (0..n as u32).filter(|i| !dead.contains(i)).collect();
    for i in 0..1000usize {
        let from = senders[i % senders.len()];
        sim.broadcast(from, format!("r{i}").into_bytes()).expect("fits").expect("running");
        sim.run_for(Duration::from_micros(65));
    }
    sim.run_for(secs(1.0));
    assert_eq!(
        rumors_missing(&sim, n - dead.len()),
        0,
        "every rumor everywhere within 1 s, seed {seed}"
    );
    for i in senders {
        assert_eq!(sim.engine_stats(i).pushes_evicted, 0, "nothing given up");
    }
}

#[test]
fn a_burst_of_a_thousand_broadcasts_reaches_everyone_within_a_second() {
    burst_reaches_everyone_within_a_second(&[], 3);
}

/// Over 20 seeds (before: 6 of them missed deliveries after the second).
/// Seed 18: n0's watermarks for n1 and n2 stopped at 13 while everyone
/// else's reached 143, and its sync found it "in sync" (the summary hash of
/// two logs moving in step collided): 166 deliveries were missing. Seed 15:
/// n2 lacked one item of n3's and its drain sync went to the crashed n5,
/// not yet found dead.
#[test]
fn broadcasts_right_after_a_crash_reach_every_survivor_within_a_second() {
    for seed in 0..20 {
        burst_reaches_everyone_within_a_second(&[5], seed);
    }
}

/// A single broadcast right after a crash, in a 64-member cluster (the
/// `benches/cluster.py` case): every survivor has it within 1 s, over
/// several seeds.
#[test]
fn a_broadcast_right_after_a_crash_reaches_every_survivor() {
    for seed in 0..6 {
        let n = 64;
        let mut sim = Simulation::new_joined(Config::lan(), n, seed).expect("config");
        sim.run_for(secs(3.0));
        sim.kill(7);
        sim.run_for(secs(0.3));
        sim.broadcast(0, b"after the crash".to_vec()).expect("fits").expect("running");
        sim.run_for(secs(1.0));
        assert_eq!(rumors_missing(&sim, n - 1), 0, "seed {seed}");
    }
}

/// When each of two members holds a broadcast the other lacks, one sync
/// between them gives both everything, even when the one behind holds its
/// extra above a hole (it arrived out of order). Three members: n2 misses
/// r2 but gets r3 (its watermark for n0 stops at 1, with r3 held above it),
/// n1 gets r2 but misses r3 (watermark 2); then n0 crashes, and n2's next
/// broadcast ends with the sync after its pushes drain, with n1. Before, n1
/// answered with r2 but n2 sent n1 nothing of n0's, its watermark being below
/// n1's, and n1 waited for a later sync (seconds) for r3.
#[test]
fn one_sync_repairs_both_sides_when_one_holds_items_above_a_hole() {
    use rumor::proto::MemberState;
    use rumor::sim::{Link, RecordKind};
    let cut = Link { loss: 1.0, ..Link::default() };
    let mut sim = Simulation::new_joined(Config::lan(), 3, 11).expect("config");
    sim.run_for(secs(3.0));
    let rumor = |sim: &mut Simulation, from: u32, text: &str| {
        sim.broadcast(from, text.as_bytes().to_vec()).expect("fits").expect("running")
    };
    rumor(&mut sim, 0, "r1");
    sim.run_for(secs(0.5));
    // r2 reaches n1 only, r3 n2 only.
    sim.network.set_link(0, 2, cut);
    sim.network.set_link(1, 2, cut);
    let r2 = rumor(&mut sim, 0, "r2");
    sim.run_for(secs(0.3));
    sim.network.clear_links();
    sim.network.set_link(0, 1, cut);
    sim.network.set_link(2, 1, cut);
    let r3 = rumor(&mut sim, 0, "r3");
    sim.run_for(secs(0.3));
    sim.network.clear_links();
    let name = sim.name(0).to_string();
    let watermark = |sim: &Simulation, i: u32| sim.engine(i).expect("running").watermark(&name);
    assert_eq!((watermark(&sim, 1), watermark(&sim, 2)), (2, 1), "the scenario's setup");
    sim.kill(0);
    sim.run_for(secs(2.0));
    assert_eq!(sim.state(1, 0), Some(MemberState::Dead));
    assert_eq!(sim.state(2, 0), Some(MemberState::Dead));
    rumor(&mut sim, 2, "r4");
    sim.run_for(secs(10.0));
    let got = |node: u32, version: u64| {
        sim.log()
            .iter()
            .find(|r| {
                r.kind == RecordKind::Rumor
                    && r.node == node
                    && r.subject == 0
                    && r.incarnation == version
            })
            .map(|r| r.time)
            .expect("delivered within 10 s")
    };
    let (n2_r2, n1_r3) = (got(2, r2), got(1, r3));
    assert!(
        n1_r3.abs_diff(n2_r2) < Duration::from_millis(50),
        "one sync repaired both: n2 got r2 at {n2_r2:?}, n1 got r3 at {n1_r3:?}"
    );
}

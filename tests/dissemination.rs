//! Rumor mongering, anti-entropy and the replicated state, in the simulator.

use rumor::codec::{MessageKind, Value};
use rumor::proto::{AntiEntropyMode, Config, StopPolicy, SyncPeers};
use rumor::sim::{RecordKind, Simulation};
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// LAN timings without anti-entropy and without eager pushes: rumor
/// mongering alone, in gossip rounds.
fn mongering_only() -> Config {
    Config { push_pull_interval: Duration::ZERO, eager_push: false, ..Config::lan() }
}

/// How many nodes delivered the rumor `(origin, version)`, and whether any
/// delivered it twice.
fn deliveries(sim: &Simulation, origin: u32, version: u64) -> (usize, bool) {
    let mut per_node = vec![0u32; sim.len()];
    for r in sim.log() {
        if r.kind == RecordKind::Rumor && r.subject == origin && r.incarnation == version {
            per_node[r.node as usize] += 1;
        }
    }
    (per_node.iter().filter(|&&c| c > 0).count(), per_node.iter().any(|&c| c > 1))
}

#[test]
fn a_broadcast_reaches_every_member_exactly_once_by_mongering_alone() {
    let mut sim = Simulation::new_joined(mongering_only(), 1000, 1).unwrap();
    sim.run_for(secs(1.0));
    let seq = sim.broadcast(17, b"deploy v42".to_vec()).unwrap().unwrap();
    let t0 = sim.now();
    let done = sim
        .run_until_cond(secs(30.0), secs(0.01), |s| deliveries(s, 17, seq).0 == 1000)
        .expect("every member delivered it");
    sim.run_for(secs(30.0));
    let (reached, twice) = deliveries(&sim, 17, seq);
    assert_eq!(reached, 1000);
    assert!(!twice, "delivered exactly once everywhere");
    let rounds = (done - t0).as_secs_f64() / sim.config().gossip_interval.as_secs_f64();
    // Push with fanout 3 needs about log4(n) + ln(n)/3 rounds; log2 n + ln n
    // (about 17 for n = 1000) bounds fanout 1.
    assert!(rounds < 17.0, "{rounds} rounds");
    assert!((0..1000).all(|i| sim.engine(i).unwrap().active_items() == 0), "everyone stopped");
}

#[test]
fn state_set_anywhere_is_visible_everywhere_and_deletes_too() {
    let mut sim = Simulation::new_joined(Config::lan(), 50, 2).unwrap();
    sim.set(3, "role", Value::Text("db".into())).unwrap();
    sim.set(4, "blob", Value::Bytes(vec![1, 2, 3])).unwrap();
    sim.run_until_cond(secs(10.0), secs(0.05), |s| {
        (0..50).all(|i| s.get(i, 3, "role") == Some(&Value::Text("db".into())))
    })
    .expect("set reached everyone");
    sim.delete(3, "role").unwrap();
    sim.set(3, "role2", Value::Text("cache".into())).unwrap();
    sim.run_until_cond(secs(10.0), secs(0.05), |s| {
        (0..50).all(|i| s.get(i, 3, "role").is_none() && s.get(i, 3, "role2").is_some())
    })
    .expect("the delete reached everyone");
    assert!((0..50).all(|i| sim.get(i, 4, "blob") == Some(&Value::Bytes(vec![1, 2, 3]))));
}

#[test]
fn with_twenty_percent_loss_anti_entropy_delivers_every_rumor_and_update() {
    let config = Config {
        push_pull_interval: secs(2.0),
        stop_policy: StopPolicy::Coin(2), // a policy that leaves a residue
        ..Config::lan()
    };
    let n = 100;
    let mut sim = Simulation::new_joined(config, n, 3).unwrap();
    sim.network.default.loss = 0.2;
    let mut sent = Vec::new();
    for k in 0..20u32 {
        let origin = (k * 7) % n as u32;
        let seq = sim.broadcast(origin, format!("r{k}").into_bytes()).unwrap().unwrap();
        sim.set(origin, &format!("k{k}"), Value::Text(format!("v{k}"))).unwrap();
        sent.push((origin, seq, k));
        sim.run_for(secs(0.3));
    }
    let all_there = |s: &Simulation| {
        sent.iter().all(|&(origin, seq, k)| {
            deliveries(s, origin, seq).0 == n
                && (0..n as u32).all(|i| {
                    s.get(i, origin, &format!("k{k}")) == Some(&Value::Text(format!("v{k}")))
                })
        })
    };
    sim.run_until_cond(secs(120.0), secs(0.5), all_there)
        .expect("anti-entropy repaired every loss");
    for &(origin, seq, _) in &sent {
        assert!(!deliveries(&sim, origin, seq).1, "no rumor delivered twice");
    }
}

/// Syncs only, no mongering, one node with news: the fraction of nodes
/// still without it after each sync interval.
fn anti_entropy_curve(
    mode: AntiEntropyMode,
    peers: SyncPeers,
    n: usize,
    rounds: usize,
) -> Vec<f64> {
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
    let mut sim = Simulation::new_joined(config, n, 4).unwrap();
    sim.set(0, "news", Value::Text("x".into())).unwrap();
    // Drop the single mongering push by cutting node 0 off for a moment.
    sim.network.partition(&[vec![0]], false);
    sim.run_for(secs(0.3));
    sim.network.heal();
    let mut stale = Vec::new();
    for _ in 0..rounds {
        let missing = (0..n as u32).filter(|&i| sim.get(i, 0, "news").is_none()).count();
        stale.push(missing as f64 / n as f64);
        sim.run_for(secs(1.0));
    }
    stale
}

#[test]
fn pull_and_push_pull_beat_push_and_ring_is_bounded() {
    let n = 64;
    let push = anti_entropy_curve(AntiEntropyMode::Push, SyncPeers::Random, n, 12);
    let pull = anti_entropy_curve(AntiEntropyMode::Pull, SyncPeers::Random, n, 12);
    let both = anti_entropy_curve(AntiEntropyMode::PushPull, SyncPeers::Random, n, 12);
    let done = |c: &[f64]| c.iter().position(|&f| f == 0.0).unwrap_or(usize::MAX);
    assert!(done(&pull) <= done(&push), "pull {pull:?} push {push:?}");
    assert!(done(&both) <= done(&push), "push_pull {both:?} push {push:?}");
    assert!(done(&both) < 12, "{both:?}");
    let ring = anti_entropy_curve(AntiEntropyMode::Push, SyncPeers::Ring, 16, 20);
    assert!(done(&ring) <= 16, "ring push reaches all 16 within 15 intervals: {ring:?}");
}

#[test]
fn a_restarted_member_replaces_the_state_of_its_earlier_life() {
    let config = Config { push_pull_interval: secs(2.0), ..Config::lan() };
    let mut sim = Simulation::new(config, 10, 5).unwrap();
    sim.join_all(0);
    sim.run_for(secs(2.0));
    let text = |s: &str| Value::Text(s.into());
    sim.set(4, "old", text("first life")).unwrap();
    sim.set(4, "kept", text("1")).unwrap();
    let rumor = sim.broadcast(4, b"first".to_vec()).unwrap().unwrap();
    sim.run_until_cond(secs(10.0), secs(0.1), |s| (0..10).all(|i| s.get(i, 4, "kept").is_some()))
        .expect("spread");
    sim.kill(4);
    sim.run_for(secs(1.0));
    sim.restart(4);
    // The new life's versions start over at 1, over the old life's: three
    // writes and a rumor before it has heard from anyone.
    sim.set(4, "a", text("x")).unwrap();
    sim.set(4, "b", text("y")).unwrap();
    sim.set(4, "kept", text("2")).unwrap();
    let again = sim.broadcast(4, b"second".to_vec()).unwrap().unwrap();
    assert_eq!((rumor, again), (3, 4), "versions the old life used too");
    let new_state = |s: &Simulation, i: u32| {
        s.engine(i).is_some_and(|e| {
            e.key_values("n4")
                .iter()
                .map(|(k, v)| (k.to_string(), (*v).clone()))
                .collect::<Vec<_>>()
                == [("a".into(), text("x")), ("b".into(), text("y")), ("kept".into(), text("2"))]
        })
    };
    sim.run_until_cond(secs(60.0), secs(0.5), |s| (0..10).all(|i| new_state(s, i)))
        .expect("the new life's state replaced the old one everywhere");
    let second: usize = sim
        .log()
        .iter()
        .filter(|r| r.kind == RecordKind::Rumor && r.subject == 4 && r.incarnation == again)
        .count();
    // Delivered by every member, the first life's n4 aside (it is gone).
    assert!(second >= 10, "{second}");
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
    let mut sim = Simulation::new_joined(config, 6, 7).unwrap();
    sim.set(1, "doomed", Value::Text("x".into())).unwrap();
    sim.set(1, "kept", Value::Text("y".into())).unwrap();
    sim.run_until_cond(secs(10.0), secs(0.1), |s| (0..6).all(|i| s.get(i, 1, "doomed").is_some()))
        .expect("spread");
    sim.network.partition(&[vec![5]], false);
    sim.delete(1, "doomed").unwrap();
    sim.set(1, "later", Value::Text("z".into())).unwrap();
    // Long enough for everyone else to collect the tombstone.
    sim.run_for(secs(20.0));
    assert!(sim.get(5, 1, "doomed").is_some(), "the cut-off member still holds it");
    let resets_before = sim.engine_stats(5).state_resets;
    sim.network.heal();
    sim.run_until_cond(secs(30.0), secs(0.1), |s| {
        s.get(5, 1, "doomed").is_none()
            && s.get(5, 1, "kept").is_some()
            && s.get(5, 1, "later").is_some()
    })
    .expect("it forgot the deleted key and kept the others");
    assert!(sim.engine_stats(5).state_resets > resets_before, "through a reset");
}

#[test]
fn eager_pushes_carry_a_broadcast_to_most_members_within_milliseconds() {
    let config = Config { push_pull_interval: Duration::ZERO, ..Config::lan() };
    assert!(config.eager_push, "the default");
    let mut sim = Simulation::new_joined(config, 1000, 8).unwrap();
    sim.run_for(secs(1.0));
    let seq = sim.broadcast(3, b"fast".to_vec()).unwrap().unwrap();
    let t0 = sim.now();
    let most = sim
        .run_until_cond(secs(5.0), secs(0.001), |s| deliveries(s, 3, seq).0 >= 900)
        .expect("90% reached");
    // Each hop is one LAN latency (0.2 to 2 ms); a gossip interval is 200 ms.
    assert!(most - t0 < secs(0.05), "{:?}", most - t0);
    sim.run_until_cond(secs(5.0), secs(0.01), |s| deliveries(s, 3, seq).0 == 1000)
        .expect("the gossip rounds reach the rest");
    assert!(!deliveries(&sim, 3, seq).1);
}

#[test]
fn payloads_too_big_for_a_datagram_travel_over_streams() {
    let mut sim = Simulation::new_joined(Config::lan(), 20, 9).unwrap();
    let big = vec![7u8; 100_000];
    let seq = sim.broadcast(2, big).unwrap().unwrap();
    sim.set(3, "blob", Value::Bytes(vec![1; 50_000])).unwrap();
    let blob_everywhere = |s: &Simulation| {
        (0..20).all(|i| matches!(s.get(i, 3, "blob"), Some(Value::Bytes(b)) if b.len() == 50_000))
    };
    sim.run_until_cond(secs(10.0), secs(0.05), |s| {
        deliveries(s, 2, seq).0 == 20 && blob_everywhere(s)
    })
    .expect("both reached everyone");
    assert!(!deliveries(&sim, 2, seq).1, "once each");
    assert!(sim.engine_stats(2).streams_sent > 0);
    let limit = sim.engine(2).unwrap().max_item_len(None);
    assert!(limit > 4_000_000, "{limit}");
    let err = sim.broadcast(2, vec![0; limit + 1]).unwrap_err();
    assert_eq!(err, rumor::proto::ItemError::TooLarge { len: limit + 1, max: limit });

    let no_streams = Config { max_stream_size: 0, ..Config::lan() };
    let mut sim = Simulation::new_joined(no_streams, 3, 9).unwrap();
    let limit = sim.engine(0).unwrap().max_item_len(None);
    assert!((1_000..1_400).contains(&limit), "{limit}");
    assert!(sim.broadcast(0, vec![0; limit + 1]).is_err());
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
    let mut sim = Simulation::new_joined(config, 5, 10).unwrap();
    sim.network.partition(&[vec![1]], false);
    for k in 0..300 {
        sim.set(1, &format!("key-{k:03}"), Value::Bytes(vec![k as u8; 200])).unwrap();
    }
    sim.run_for(secs(0.5));
    sim.network.heal();
    let streams_before: u64 = (0..5).map(|i| sim.engine_stats(i).streams_sent).sum();
    sim.run_until_cond(secs(20.0), secs(0.1), |s| {
        (0..5).all(|i| s.engine(i).is_some_and(|e| e.key_values("n1").len() == 300))
    })
    .expect("60 KB of state crossed over in syncs");
    let streams: u64 = (0..5).map(|i| sim.engine_stats(i).streams_sent).sum();
    assert!(streams > streams_before, "over streams, not only the 4 datagrams per answer");
}

#[test]
fn a_quiet_cluster_syncs_with_summaries_only() {
    let config = Config { push_pull_interval: secs(1.0), ..Config::lan() };
    let mut sim = Simulation::new_joined(config, 20, 11).unwrap();
    sim.set(3, "k", Value::Text("v".into())).unwrap();
    sim.run_for(secs(10.0));
    let digests = |s: &Simulation| -> u64 {
        (0..20).map(|i| s.engine_stats(i).messages_sent[MessageKind::Digest as usize]).sum()
    };
    let before = digests(&sim);
    sim.run_for(secs(20.0));
    let in_sync: u64 = (0..20).map(|i| sim.engine_stats(i).syncs_in_sync).sum();
    assert!(in_sync > 100, "{in_sync} summaries matched");
    assert_eq!(digests(&sim), before, "no full digest once everyone agrees");
    // A change makes the next summaries differ, and the full exchange
    // carries it.
    sim.network.partition(&[vec![5]], false);
    sim.set(5, "late", Value::Text("x".into())).unwrap();
    sim.run_for(secs(0.5));
    sim.network.heal();
    sim.run_until_cond(secs(30.0), secs(0.1), |s| (0..20).all(|i| s.get(i, 5, "late").is_some()))
        .expect("repaired");
    assert!(digests(&sim) > before);
}

/// Rumor mongering's queue is bounded: a burst of broadcasts beyond
/// `MAX_PUSHES` leaves the oldest to anti-entropy (counted), and still every
/// one of them reaches every member, once.
#[test]
fn a_burst_beyond_the_push_queue_is_delivered_by_anti_entropy() {
    use rumor::proto::MAX_PUSHES;
    let config = Config { push_pull_interval: Duration::from_secs(5), ..Config::lan() };
    let mut sim = Simulation::new(config, 4, 21).unwrap();
    sim.join_all(0);
    sim.run_until_cond(Duration::from_secs(10), Duration::from_millis(10), Simulation::converged)
        .expect("converged");
    let burst = MAX_PUSHES + 500;
    for i in 0..burst {
        sim.broadcast(1, format!("r{i}").into_bytes()).unwrap();
    }
    assert_eq!(sim.engine_stats(1).pushes_evicted, 500);
    let everywhere = |s: &Simulation| {
        let got = s.log().iter().filter(|r| r.kind == RecordKind::Rumor).count();
        got == 4 * burst
    };
    sim.run_until_cond(Duration::from_secs(120), Duration::from_millis(100), everywhere)
        .expect("every rumor everywhere");
}

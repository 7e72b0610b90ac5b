//! Encrypted, authenticated gossip in the simulator: a sealed cluster
//! works; members without the key, or of another cluster, get nowhere; keys
//! rotate without downtime. Deterministic by seed.

use rumor::codec::Key;
use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

const K1: Key = Key([1; 32]);
const K2: Key = Key([2; 32]);

fn sealed(keys: &[Key], label: &str) -> Config {
    Config { keys: keys.to_vec(), label: label.into(), ..Config::lan() }
}

fn converged_cluster(n: usize, seed: u64) -> Simulation {
    let mut sim = Simulation::new(sealed(&[K1], "prod"), n, seed).unwrap();
    sim.join_all(0);
    sim.run_until_cond(secs(30.0), secs(0.01), Simulation::converged).expect("converged");
    sim
}

fn knows(sim: &Simulation, observer: u32, subject: u32) -> bool {
    sim.state(observer, subject).is_some()
}

#[test]
fn a_sealed_cluster_converges_gossips_and_detects() {
    let mut sim = converged_cluster(16, 1);
    sim.broadcast(3, b"hello".to_vec()).unwrap();
    sim.kill(9);
    sim.run_until_cond(secs(30.0), secs(0.01), |s| s.all_see(9, MemberState::Dead))
        .expect("detected");
    let rumors = sim.log().iter().filter(|r| r.kind == RecordKind::Rumor).count();
    assert_eq!(rumors, 15, "every live member got the broadcast once");
    for i in 0..16 {
        let s = sim.engine_stats(i);
        assert_eq!(s.dropped_unauthenticated + s.dropped_unencrypted, 0, "node {i}: {s:?}");
    }
}

#[test]
fn members_without_the_key_or_of_another_cluster_get_nowhere() {
    let mut sim = converged_cluster(12, 2);
    let wrong_key = sim.add_node_with(sealed(&[K2], "prod")).unwrap();
    let wrong_label = sim.add_node_with(sealed(&[K1], "staging")).unwrap();
    let plain = sim.add_node_with(Config::lan()).unwrap();
    for outsider in [wrong_key, wrong_label, plain] {
        sim.join(outsider, &[0]);
    }
    sim.kill(5);
    sim.run_for(secs(40.0));
    for outsider in [wrong_key, wrong_label, plain] {
        let failed =
            sim.log().iter().any(|r| r.kind == RecordKind::JoinFailed && r.node == outsider);
        assert!(failed, "node {outsider} could not join");
        for i in (0..12).filter(|&i| i != 5) {
            assert!(!knows(&sim, i, outsider), "node {i} learned of outsider {outsider}");
            assert!(!knows(&sim, outsider, i), "outsider {outsider} learned of node {i}");
        }
    }
    // The cluster kept working: it detected the crash, nobody else failed.
    for i in (0..12).filter(|&i| i != 5) {
        assert_eq!(sim.state(i, 5), Some(MemberState::Dead), "node {i}");
    }
    let failed: Vec<u32> = sim
        .log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && r.subject != 5)
        .map(|r| r.subject)
        .collect();
    assert_eq!(failed, Vec::<u32>::new());
    // What they sent was dropped and counted at the seed.
    let seed = sim.engine_stats(0);
    assert!(seed.dropped_unauthenticated >= 2, "wrong key and wrong label: {seed:?}");
    assert!(seed.dropped_unencrypted >= 1, "the plaintext node: {seed:?}");
}

#[test]
fn keys_rotate_without_downtime() {
    let n = 8;
    let mut sim = converged_cluster(n, 3);
    let all: Vec<u32> = (0..n as u32).collect();
    // 1. Install the new key everywhere, one member at a time.
    for &i in &all {
        sim.with_engine(i, |e, _| e.add_key(K2)).unwrap().unwrap();
        sim.run_for(secs(1.0));
    }
    // 2. Seal with it, one member at a time: everyone accepts both.
    for &i in &all {
        sim.with_engine(i, |e, _| e.use_key(K2)).unwrap().unwrap();
        sim.run_for(secs(1.0));
    }
    // 3. Drop the old key.
    for &i in &all {
        sim.with_engine(i, |e, _| e.remove_key(K1)).unwrap().unwrap();
        sim.run_for(secs(1.0));
    }
    sim.run_for(secs(20.0));
    assert!(sim.converged());
    let churn = sim
        .log()
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Failed | RecordKind::Suspected))
        .count();
    assert_eq!(churn, 0, "no member was even suspected during the rotation");
    assert_eq!(sim.engine(0).unwrap().keys(), vec![K2]);
    // A newcomer with the new key joins; one with only the old key cannot.
    let fresh = sim.add_node_with(sealed(&[K2], "prod")).unwrap();
    let stale = sim.add_node_with(sealed(&[K1], "prod")).unwrap();
    sim.join(fresh, &[0]);
    sim.join(stale, &[0]);
    sim.run_for(secs(15.0));
    assert!((0..n as u32).all(|i| sim.state(i, fresh) == Some(MemberState::Alive)));
    assert!((0..n as u32).all(|i| !knows(&sim, i, stale)));
}

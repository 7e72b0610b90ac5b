//! Encrypted, authenticated gossip in the simulator: a sealed cluster
//! works; members without the key, or of another cluster, get nowhere; keys
//! rotate without downtime. Each test a script of operations, deterministic
//! by seed.

mod script;

use rumor::codec::Key;
use rumor::proto::{Config, MemberState};
use script::{play, Check, Op};

const K1: Key = Key([1; 32]);
const K2: Key = Key([2; 32]);

fn sealed(keys: &[Key], label: &str) -> Config {
    Config { keys: keys.to_vec(), label: label.into(), ..Config::lan() }
}

/// The first steps of every script here: the cluster sealed with K1,
/// labelled "prod", joined and converged.
fn converge() -> Vec<Op> {
    vec![Op::JoinAll(0), Op::WaitUntil(Check::Converged, 30.0)]
}

#[test]
fn a_sealed_cluster_converges_gossips_and_detects() {
    let mut ops = converge();
    ops.extend([
        Op::Broadcast(3, b"hello".to_vec()),
        Op::Kill(9),
        Op::WaitUntil(Check::AllSee(9, MemberState::Dead), 30.0),
        // Every live member got the broadcast once.
        Op::Assert(Check::Delivered(0, 15)),
    ]);
    let p = play(sealed(&[K1], "prod"), 16, 1, &ops);
    for i in 0..16 {
        let s = p.sim.engine_stats(i);
        assert_eq!(s.dropped_unauthenticated + s.dropped_unencrypted, 0, "node {i}: {s:?}");
    }
}

#[test]
fn members_without_the_key_or_of_another_cluster_get_nowhere() {
    let (wrong_key, wrong_label, plain) = (12, 13, 14);
    let outsiders = vec![wrong_key, wrong_label, plain];
    let survivors: Vec<u32> = (0..12).filter(|&i| i != 5).collect();
    let mut ops = converge();
    ops.extend([
        Op::AddNode(sealed(&[K2], "prod")),
        Op::AddNode(sealed(&[K1], "staging")),
        Op::AddNode(Config::lan()),
        Op::Join(wrong_key, vec![0]),
        Op::Join(wrong_label, vec![0]),
        Op::Join(plain, vec![0]),
        Op::Kill(5),
        Op::Run(40.0),
        Op::Assert(Check::All(outsiders.iter().map(|&o| Check::JoinFailed(o)).collect())),
        Op::Assert(Check::Strangers(outsiders, survivors.clone())),
        // The cluster kept working: it detected the crash, nobody else failed.
        Op::Assert(Check::SeenAs(survivors, 5, MemberState::Dead)),
        Op::Assert(Check::NoFalseFailures),
    ]);
    let p = play(sealed(&[K1], "prod"), 12, 2, &ops);
    // What they sent was dropped and counted at the seed.
    let seed = p.sim.engine_stats(0);
    assert!(seed.dropped_unauthenticated >= 2, "wrong key and wrong label: {seed:?}");
    assert!(seed.dropped_unencrypted >= 1, "the plaintext node: {seed:?}");
}

#[test]
fn keys_rotate_without_downtime() {
    let n = 8;
    let all: Vec<u32> = (0..n).collect();
    let mut ops = converge();
    // 1. Install the new key everywhere, one member at a time.
    ops.extend(all.iter().flat_map(|&i| [Op::AddKey(i, K2), Op::Run(1.0)]));
    // 2. Seal with it, one member at a time: everyone accepts both.
    ops.extend(all.iter().flat_map(|&i| [Op::UseKey(i, K2), Op::Run(1.0)]));
    // 3. Drop the old key.
    ops.extend(all.iter().flat_map(|&i| [Op::RemoveKey(i, K1), Op::Run(1.0)]));
    ops.extend([Op::Run(20.0), Op::Assert(Check::Converged), Op::Assert(Check::NoSuspicions)]);
    let p = play(sealed(&[K1], "prod"), n as usize, 3, &ops);
    assert_eq!(p.sim.engine(0).unwrap().keys(), vec![K2]);
    // A newcomer with the new key joins; one with only the old key cannot.
    let (fresh, stale) = (n, n + 1);
    p.then(&[
        Op::AddNode(sealed(&[K2], "prod")),
        Op::AddNode(sealed(&[K1], "prod")),
        Op::Join(fresh, vec![0]),
        Op::Join(stale, vec![0]),
        Op::Run(15.0),
        Op::Assert(Check::SeenAs(all.clone(), fresh, MemberState::Alive)),
        Op::Assert(Check::Strangers(vec![stale], all)),
    ]);
}

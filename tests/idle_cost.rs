//! Idle cost (issue 16, item 3): in a quiet cluster under SWIM, what a
//! member sends per datagram does not grow with the cluster, and a member
//! that missed an update while quiet still learns it promptly (the summary
//! hash quiet datagrams carry starts a sync).

use rumor::codec::{MessageKind, Value};
use rumor::proto::{Config, FailureDetector, Stats};
use rumor::sim::{Link, Simulation};
use std::time::Duration;

/// Membership claims (Alive, Suspect, Dead, Left) and bytes a node sent.
fn sent(stats: &Stats) -> (u64, u64, u64) {
    let claims = [MessageKind::Alive, MessageKind::Suspect, MessageKind::Dead, MessageKind::Left]
        .iter()
        .map(|k| stats.messages_sent[*k as usize])
        .sum();
    (claims, stats.packets_sent, stats.bytes_sent)
}

/// Claims per datagram and bytes per node per second over `window` of a
/// quiet cluster of `n` members, after a warm-up.
fn idle_traffic(n: usize) -> (f64, f64) {
    idle_traffic_with(Config::lan(), n)
}

fn idle_traffic_with(config: Config, n: usize) -> (f64, f64) {
    let mut sim = Simulation::new_joined(config, n, 7).expect("config");
    sim.run_for(Duration::from_secs(10));
    let before: Vec<_> = (0..n as u32).map(|i| sent(&sim.engine_stats(i))).collect();
    let window = Duration::from_secs(10);
    sim.run_for(window);
    let (mut claims, mut packets, mut bytes) = (0, 0, 0);
    for (i, b) in before.iter().enumerate() {
        let a = sent(&sim.engine_stats(i as u32));
        claims += a.0 - b.0;
        packets += a.1 - b.1;
        bytes += a.2 - b.2;
    }
    assert!(sim.converged(), "a quiet cluster of {n} stays converged");
    (claims as f64 / packets as f64, bytes as f64 / n as f64 / window.as_secs_f64())
}

#[test]
fn idle_traffic_per_node_does_not_grow_with_the_cluster() {
    let (claims_64, bytes_64) = idle_traffic(64);
    for n in [512, 1000] {
        let (claims, bytes) = idle_traffic(n);
        eprintln!(
            "{n} members: {claims:.2} claims/datagram, {bytes:.0} B/node/s \
             (64: {claims_64:.2}, {bytes_64:.0})"
        );
        // Names grow a digit or two; the section itself must not grow.
        assert!(
            claims <= claims_64 * 1.1,
            "{n} members: {claims:.2} claims per datagram against {claims_64:.2} at 64"
        );
        assert!(
            bytes <= bytes_64 * 1.25,
            "{n} members: {bytes:.0} bytes/node/s against {bytes_64:.0} at 64"
        );
    }
}

/// The quorum detector keeps the seed's gossip section even when quiet:
/// its failure reports ride on the member sample (Redis Cluster's gossip
/// section), so its datagrams still carry about `n/10` member states.
#[test]
fn the_quorum_detector_keeps_the_full_sample() {
    let config = Config { failure_detector: FailureDetector::Quorum, ..Config::lan() };
    let (claims, _) = idle_traffic_with(config, 150);
    eprintln!("quorum, 150 members: {claims:.2} claims/datagram");
    assert!(claims > 5.0, "{claims:.2} claims per datagram, 3 when quiet");
}

/// Node `x` hears nothing for 3 s (every link into it loses everything)
/// while, in a quiet cluster of 500, node `y` changes its metadata and
/// node `z` sets a key: by the time `x` hears again, gossip and mongering
/// have stopped carrying both. It must still learn both within 15 s.
/// Without the check, the key waits for a periodic sync (every 150 s at
/// this size), so this fails.
#[test]
fn a_member_that_missed_updates_while_quiet_learns_them_promptly() {
    let n = 500;
    let (x, y, z) = (3u32, 200u32, 400u32);
    let mut sim = Simulation::new_joined(Config::lan(), n, 11).expect("config");
    sim.run_for(Duration::from_secs(10));
    let deaf = Link { loss: 1.0, ..Link::default() };
    for i in 0..n as u32 {
        if i != x {
            sim.network.set_link(i, x, deaf);
        }
    }
    sim.set_meta(y, b"v2".to_vec()).expect("meta fits");
    sim.set(z, "k", Value::Text("v".into())).expect("key fits");
    sim.run_for(Duration::from_secs(3));
    sim.network.clear_links();
    let y_name = sim.name(y).to_string();
    let healed = sim.now();
    let knows_meta = |sim: &Simulation| {
        sim.engine(x).and_then(|e| e.member(&y_name)).is_some_and(|m| m.meta == b"v2")
    };
    let knows_key = |sim: &Simulation| sim.get(x, z, "k") == Some(&Value::Text("v".into()));
    assert!(!knows_meta(&sim) && !knows_key(&sim), "x missed both while deaf");
    let (mut meta_at, mut key_at) = (None, None);
    while sim.now() < healed + Duration::from_secs(15) && (meta_at.is_none() || key_at.is_none()) {
        sim.run_for(Duration::from_millis(100));
        if meta_at.is_none() && knows_meta(&sim) {
            meta_at = Some(sim.now() - healed);
        }
        if key_at.is_none() && knows_key(&sim) {
            key_at = Some(sim.now() - healed);
        }
    }
    eprintln!("x learned the metadata after {meta_at:?}, the key after {key_at:?}");
    assert!(meta_at.is_some(), "x learns y's new metadata within 15 s");
    assert!(key_at.is_some(), "x learns z's key within 15 s");
}

/// A join links the joiner and its seed, and linked members pull from each
/// other every gossip round. In a small cluster gossip already carries
/// every member learned, so once a simultaneous join of 64 has converged
/// the links must go quiet within a few rounds: their pulls were most of
/// the datagrams in the seconds after such a join (4 Pulls per member per
/// second over the first 5 s, when the links waited 10 empty rounds).
#[test]
fn a_small_joins_links_go_quiet_soon_after_it_converges() {
    let n = 64;
    let mut sim = Simulation::new(Config::lan(), n, 1).expect("config");
    sim.join_all(0);
    while !sim.converged() {
        assert!(sim.now() < Duration::from_secs(5), "the 64 never converged");
        sim.run_for(Duration::from_millis(50));
    }
    let pulls = |sim: &Simulation| -> u64 {
        (0..n as u32).map(|i| sim.engine_stats(i).messages_sent[MessageKind::Pull as usize]).sum()
    };
    let before = pulls(&sim);
    sim.run_for(Duration::from_secs(5));
    let per_member_per_s = (pulls(&sim) - before) as f64 / n as f64 / 5.0;
    assert!(
        per_member_per_s <= 1.0,
        "{per_member_per_s:.2} Pulls per member per second in the 5 s after the join converged"
    );
    sim.run_for(Duration::from_secs(5));
    let after = pulls(&sim);
    sim.run_for(Duration::from_secs(5));
    assert_eq!(pulls(&sim), after, "links still pull 5 s after the join converged");
    assert!(sim.converged());
}

/// After a mass join, the periodic anti-entropy syncs spread over the
/// period of the view each member holds (120 s at 200 members on LAN), not
/// over the 30 s of the period drawn while it knew only itself: in a
/// 10,000-node join those early syncs, each walking the whole table on
/// both sides, were most of the simulated minute after convergence.
#[test]
fn syncs_after_a_mass_join_spread_over_the_period_of_the_view() {
    const N: usize = 200;
    let config = Config::lan();
    let period = config.push_pull_period(N);
    assert_eq!(period, Duration::from_secs(120));
    let mut sim = Simulation::new(config, N, 3).expect("config");
    sim.join_all(0);
    let syncs = |sim: &Simulation| (0..N as u32).map(|i| sim.engine_stats(i).syncs).sum::<u64>();
    sim.run_for(Duration::from_secs(5));
    assert!(sim.converged(), "the join converged");
    let settled = syncs(&sim);
    sim.run_for(Duration::from_secs(55));
    let early = syncs(&sim) - settled;
    // About N · 55 / 120 (92) expected; N (every member once) before.
    eprintln!("{early} periodic syncs in the 55 s after the join ({settled} while joining)");
    assert!(early <= (N * 3 / 4) as u64, "{early} syncs in 55 s: not spread over {period:?}");
    assert!(early >= (N / 5) as u64, "{early} syncs in 55 s: the periodic syncs stopped");
    sim.run_for(period);
    assert!(sim.converged(), "still converged");
}

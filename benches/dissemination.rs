//! Rumor mongering and anti-entropy against the theory, in the simulator.
//!
//!     cargo bench --bench dissemination -- [seeds]
//!
//! 1. Rounds (gossip intervals) until all of n members know a broadcast,
//!    mongering alone, no loss, next to log2 n + ln n (Pittel's figure for
//!    push with one peer per round).
//! 2. Residue (members that never heard) and traffic (pushes per member)
//!    of each stop policy, one peer per round, n = 1,000.
//! 3. Intervals until every member has an update, syncs alone, for push,
//!    pull, push_pull and ring, and one run's fraction of members without
//!    it after each interval (pull's should square each interval, push's
//!    shrink by about 1/e).

use rumor::codec::Value;
use rumor::proto::{AntiEntropyMode, Config, StopPolicy, SyncPeers};
use rumor::sim::{RecordKind, Simulation};
use std::time::Duration;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn heard(sim: &Simulation, origin: u32) -> usize {
    let mut seen = vec![false; sim.len()];
    for r in sim.log() {
        if r.kind == RecordKind::Rumor && r.subject == origin {
            seen[r.node as usize] = true;
        }
    }
    seen.iter().filter(|&&s| s).count()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Rounds until everyone heard, and residue and pushes per member once
/// every node stopped.
fn monger(n: usize, fanout: usize, policy: StopPolicy, seed: u64) -> (Option<f64>, f64, f64) {
    let config = Config {
        push_pull_interval: Duration::ZERO,
        gossip_fanout: fanout,
        stop_policy: policy,
        // Rounds, as in the theory: a node pushes at its gossip ticks only.
        eager_push: false,
        ..Config::lan()
    };
    let round = config.gossip_interval.as_secs_f64();
    let mut sim = Simulation::new_joined(config, n, seed).expect("config");
    sim.run_for(secs(1.0));
    let before: u64 = (0..n as u32).map(|i| pushes(&sim, i)).sum();
    sim.broadcast(0, b"news".to_vec()).expect("fits");
    let t0 = sim.now();
    let all = sim.run_until_cond(secs(60.0), secs(round / 4.0), |s| heard(s, 0) == n);
    let all = all.map(|t| (t - t0).as_secs_f64() / round);
    sim.run_until_cond(secs(120.0), secs(1.0), |s| {
        (0..n as u32).all(|i| s.engine(i).is_some_and(|e| e.active_items() == 0))
    });
    let after: u64 = (0..n as u32).map(|i| pushes(&sim, i)).sum();
    let residue = (n - heard(&sim, 0)) as f64 / n as f64;
    (all, residue, (after - before) as f64 / n as f64)
}

fn pushes(sim: &Simulation, i: u32) -> u64 {
    sim.engine_stats(i).messages_sent[rumor::codec::MessageKind::Update as usize]
}

/// Fraction of members without the update at each interval, syncs alone.
fn sync_curve(
    mode: AntiEntropyMode,
    peers: SyncPeers,
    n: usize,
    rounds: usize,
    seed: u64,
) -> Vec<f64> {
    let config = Config {
        push_pull_interval: secs(1.0),
        anti_entropy: mode,
        sync_peers: peers,
        // Intervals as in the theory, whatever the cluster size.
        push_pull_scale: false,
        stop_policy: StopPolicy::Coin(1),
        eager_push: false,
        ..Config::lan()
    };
    let mut sim = Simulation::new_joined(config, n, seed).expect("config");
    sim.run_for(secs(0.5));
    // The update's single mongering push is lost: only syncs spread it.
    sim.network.partition(&[vec![0]], false);
    sim.set(0, "news", Value::Text("x".into())).expect("fits");
    sim.run_for(secs(0.3));
    sim.network.heal();
    (0..rounds)
        .map(|_| {
            let stale = (0..n as u32).filter(|&i| sim.get(i, 0, "news").is_none()).count();
            sim.run_for(secs(1.0));
            stale as f64 / n as f64
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);

    println!("## Rounds until all know (mongering alone, no loss, median of {seeds} seeds)");
    for n in [1_000usize, 10_000] {
        let theory = (n as f64).log2() + (n as f64).ln();
        for fanout in [1, 3] {
            let rounds: Vec<f64> = (0..seeds)
                .map(|s| monger(n, fanout, StopPolicy::RetransmitLimit, s).0.unwrap_or(f64::NAN))
                .collect();
            println!(
                "n = {n:>6}, fanout {fanout}: {:.1} rounds (runs {:?}); log2 n + ln n = {theory:.1}",
                median(rounds.clone()),
                rounds.iter().map(|r| (r * 10.0).round() / 10.0).collect::<Vec<_>>()
            );
        }
    }

    println!("\n## Stop policies, n = 1000, fanout 1 (mean of {seeds} seeds)");
    let mut policies = vec![("retransmit limit".to_string(), StopPolicy::RetransmitLimit)];
    for k in 1..=5 {
        policies.push((format!("counter({k})"), StopPolicy::Counter(k)));
    }
    for k in 1..=5 {
        policies.push((format!("coin({k})"), StopPolicy::Coin(k)));
    }
    for (name, policy) in policies {
        let runs: Vec<(Option<f64>, f64, f64)> =
            (0..seeds).map(|s| monger(1000, 1, policy, 100 + s)).collect();
        let residue = runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64;
        let traffic = runs.iter().map(|r| r.2).sum::<f64>() / runs.len() as f64;
        println!("{name:<17} residue {residue:.4}  traffic {traffic:.2} pushes/member");
    }

    println!(
        "\n## Anti-entropy alone, n = 1000: intervals until every member has the update \
         (per seed), and seed 0's fraction without it after each interval"
    );
    let rounds = 20;
    for (name, mode, peers) in [
        ("push", AntiEntropyMode::Push, SyncPeers::Random),
        ("pull", AntiEntropyMode::Pull, SyncPeers::Random),
        ("push_pull", AntiEntropyMode::PushPull, SyncPeers::Random),
    ] {
        let curves: Vec<Vec<f64>> =
            (0..seeds).map(|s| sync_curve(mode, peers, 1000, rounds, 200 + s)).collect();
        let done: Vec<Option<usize>> =
            curves.iter().map(|c| c.iter().position(|&f| f == 0.0)).collect();
        println!("{name:<10} all after {done:?}");
        println!(
            "{:<10} {}",
            "",
            curves[0].iter().map(|f| format!("{f:.3}")).collect::<Vec<_>>().join(" ")
        );
    }
    for n in [16usize, 64] {
        let curve = sync_curve(AntiEntropyMode::Push, SyncPeers::Ring, n, n + 1, 300);
        let done = curve.iter().position(|&f| f == 0.0);
        println!(
            "ring push, n = {n}: all have it after {done:?} intervals (bound n - 1 = {})",
            n - 1
        );
    }
}

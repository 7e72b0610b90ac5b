//! False failures with Lifeguard and without, under loss and pauses.
//!
//!     cargo bench --bench false_failures -- [nodes] [virtual seconds] [seed] [loss]
//!
//! A converged cluster (LAN preset) runs with packet loss (10% by default)
//! on every link
//! while members are paused for 2 to 8 s at random (a Poisson stream of
//! pauses keeping about 5% of members paused at any time; the same schedule
//! for every run). A false failure is a `Failed` record about a member that
//! was running and not paused at that moment. Reports, for Lifeguard on and
//! off: false failure records, the distinct members falsely declared dead,
//! and the same run without pauses.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rumor::proto::Config;
use rumor::sim::{RecordKind, Simulation};
use std::time::{Duration, Instant};

/// `(at, node, length)` pauses in time order, never overlapping per node.
fn schedule(n: usize, seconds: f64, seed: u64) -> Vec<(f64, u32, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let unit = |r: &mut ChaCha8Rng| (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let rate = 0.05 * n as f64 / 5.0; // pauses per second: 5% paused, 5 s mean
    let mut busy_until = vec![0.0f64; n];
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        t += -unit(&mut rng).max(1e-12).ln() / rate;
        if t >= seconds {
            return out;
        }
        let node = (rng.next_u64() % n as u64) as u32;
        let length = 2.0 + 6.0 * unit(&mut rng);
        if busy_until[node as usize] <= t {
            busy_until[node as usize] = t + length;
            out.push((t, node, length));
        }
    }
}

struct Outcome {
    false_records: usize,
    false_members: usize,
    all_failed: usize,
    wall: f64,
}

fn run(
    config: Config,
    (n, seconds, seed, loss): (usize, f64, u64, f64),
    pauses: &[(f64, u32, f64)],
) -> Outcome {
    let t0 = Instant::now();
    let mut sim = Simulation::new_joined(config, n, seed).expect("config");
    sim.network.default.loss = loss;
    let mut paused: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    for &(at, node, length) in pauses {
        sim.run_until(Duration::from_secs_f64(at));
        sim.pause(node, Duration::from_secs_f64(length));
        paused[node as usize].push((at, at + length));
    }
    sim.run_until(Duration::from_secs_f64(seconds));
    let mut false_records = 0;
    let mut members = std::collections::BTreeSet::new();
    let mut all_failed = 0;
    for r in sim.log().iter().filter(|r| r.kind == RecordKind::Failed) {
        all_failed += 1;
        let t = r.time.as_secs_f64();
        let was_paused = paused[r.subject as usize].iter().any(|&(a, b)| a <= t && t <= b);
        if !was_paused {
            false_records += 1;
            members.insert(r.subject);
        }
    }
    Outcome {
        false_records,
        false_members: members.len(),
        all_failed,
        wall: t0.elapsed().as_secs_f64(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let n: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(600.0);
    let seed: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1);
    let loss: f64 = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0.1);
    let pauses = schedule(n, seconds, seed);
    println!(
        "{n} nodes, {seconds} virtual s, {:.0}% loss, {} pauses of 2-8 s (about 5% paused), seed {seed}",
        loss * 100.0,
        pauses.len()
    );
    for (name, lifeguard, with_pauses) in [
        ("lifeguard, pauses", true, true),
        ("plain SWIM, pauses", false, true),
        ("lifeguard, no pauses", true, false),
        ("plain SWIM, no pauses", false, false),
    ] {
        let config = Config { lifeguard, ..Config::lan() };
        let schedule: &[(f64, u32, f64)] = if with_pauses { &pauses } else { &[] };
        let o = run(config, (n, seconds, seed, loss), schedule);
        println!(
            "{name:<22} false failure records {:>7} | members falsely declared dead {:>5} | all Failed records {:>7} | wall {:.0} s",
            o.false_records, o.false_members, o.all_failed, o.wall
        );
    }
}

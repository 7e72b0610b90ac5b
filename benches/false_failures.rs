//! False failures with Lifeguard and without, under loss and pauses.
//!
//!     cargo bench --bench false_failures -- [nodes] [virtual seconds] [seed] [loss] \
//!         [pause|stall] [min s] [max s]
//!
//! A converged cluster (LAN preset) runs with packet loss (10% by default)
//! on every link while members are disturbed for 2 to 8 s (or `min` to
//! `max`) at random: a Poisson stream keeping about 5% of members disturbed
//! at any time, the same schedule for every run. `pause` stops the whole
//! member (`Simulation::pause`: a stopped process); `stall` stops only its
//! receiving while its timers and sends go on (`Simulation::stall`:
//! Lifeguard's slow message processing, a blocked receive loop). A false
//! failure is a `Failed` record about a member that was running and not
//! disturbed at that moment. Reports, for Lifeguard on and off: false
//! failure records, the distinct members falsely declared dead, and the
//! same run without disturbances.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rumor::proto::Config;
use rumor::sim::{RecordKind, Simulation};
use std::time::{Duration, Instant};

/// `(at, node, length)` disturbances in time order, never overlapping per
/// node, `min..max` s long.
fn schedule(n: usize, seconds: f64, seed: u64, (min, max): (f64, f64)) -> Vec<(f64, u32, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    let unit = |r: &mut ChaCha8Rng| (r.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    // Per second: 5% disturbed at a time.
    let rate = 0.05 * n as f64 / ((min + max) / 2.0);
    let mut busy_until = vec![0.0f64; n];
    let mut out = Vec::new();
    let mut t = 0.0;
    loop {
        t += -unit(&mut rng).max(1e-12).ln() / rate;
        if t >= seconds {
            return out;
        }
        let node = (rng.next_u64() % n as u64) as u32;
        let length = min + (max - min) * unit(&mut rng);
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
    stall: bool,
) -> Outcome {
    let t0 = Instant::now();
    let mut sim = Simulation::new_joined(config, n, seed).expect("config");
    sim.network.default.loss = loss;
    let mut paused: Vec<Vec<(f64, f64)>> = vec![Vec::new(); n];
    for &(at, node, length) in pauses {
        sim.run_until(Duration::from_secs_f64(at));
        if stall {
            sim.stall(node, Duration::from_secs_f64(length));
        } else {
            sim.pause(node, Duration::from_secs_f64(length));
        }
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
    let stall = args.get(5).is_some_and(|a| a == "stall");
    let what = if stall { "stalls" } else { "pauses" };
    let min: f64 = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let max: f64 = args.get(7).and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let pauses = schedule(n, seconds, seed, (min, max));
    println!(
        "{n} nodes, {seconds} virtual s, {:.0}% loss, {} {what} of {min}-{max} s (about 5% disturbed), seed {seed}",
        loss * 100.0,
        pauses.len()
    );
    for (name, lifeguard, with_pauses) in [
        (format!("lifeguard, {what}"), true, true),
        (format!("plain SWIM, {what}"), false, true),
        (format!("lifeguard, no {what}"), true, false),
        (format!("plain SWIM, no {what}"), false, false),
    ] {
        let config = Config { lifeguard, ..Config::lan() };
        let schedule: &[(f64, u32, f64)] = if with_pauses { &pauses } else { &[] };
        let o = run(config, (n, seconds, seed, loss), schedule, stall);
        println!(
            "{name:<22} false failure records {:>7} | members falsely declared dead {:>5} | all Failed records {:>7} | wall {:.0} s",
            o.false_records, o.false_members, o.all_failed, o.wall
        );
    }
}

//! First-detection time over many seeds, against SWIM's expected
//! e/(e-1) probe periods.
//!
//!     cargo bench --bench detection -- [seeds] [nodes] [plain | quorum:NODE_TIMEOUT]
//!
//! For each seed: N nodes (LAN preset) join and converge, run a few
//! seconds, then one node crashes. We record, in probe periods, the time
//! from the crash to the probe that first finds it (the suspicion is raised
//! one probe interval after that probe) and to the first suspicion, and in
//! seconds the time until every survivor marks it dead. `plain` turns
//! Lifeguard off; `quorum:1` runs the quorum detector with a 1 s
//! `node_timeout` instead of SWIM (its "suspicion" is the first member
//! marking the crashed one failing).

use rumor::proto::{Config, FailureDetector, MemberState};
use rumor::sim::{RecordKind, Simulation};
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(200);
    let nodes: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(32);
    let mode = args.get(3).map_or("", String::as_str);
    let plain = mode == "plain";
    let node_timeout: Option<f64> = mode.strip_prefix("quorum:").and_then(|t| t.parse().ok());
    let mut config = Config { lifeguard: !plain, ..Config::lan() };
    if let Some(t) = node_timeout {
        config.failure_detector = FailureDetector::Quorum;
        config.node_timeout = Duration::from_secs_f64(t);
    }
    let period = config.probe_interval.as_secs_f64();
    let (mut probe, mut suspect, mut dead) = (Vec::new(), Vec::new(), Vec::new());
    for seed in 0..seeds {
        // Up to 200 nodes join through n0; larger clusters start converged.
        let mut sim = if nodes <= 200 {
            let mut sim = Simulation::new(config.clone(), nodes, seed).expect("config");
            sim.join_all(0);
            sim.run_until_cond(
                Duration::from_secs(30),
                Duration::from_millis(10),
                Simulation::converged,
            )
            .expect("converged");
            sim
        } else {
            Simulation::new_joined(config.clone(), nodes, seed).expect("config")
        };
        // Crash at a seed-dependent phase of the probe cycle (after the
        // quorum detector's first pings).
        let quorum_settle =
            if node_timeout.is_some() { config.node_timeout * 2 } else { Duration::ZERO };
        let settle = Duration::from_secs(5).max(quorum_settle);
        sim.run_for(settle + Duration::from_millis(seed * 37 % 1000));
        let victim = (nodes / 2) as u32;
        let killed = sim.now();
        sim.kill(victim);
        let all = sim
            .run_until_cond(Duration::from_secs(120), Duration::from_millis(10), |s| {
                s.all_see(victim, MemberState::Dead)
            })
            .expect("detected");
        let first = sim
            .log()
            .iter()
            .find(|r| r.kind == RecordKind::Suspected && r.subject == victim)
            .map(|r| r.time)
            .expect("suspected");
        let s = (first - killed).as_secs_f64();
        suspect.push(s / period);
        probe.push((s - period).max(0.0) / period);
        dead.push((all - killed).as_secs_f64());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let e = std::f64::consts::E;
    if let Some(t) = node_timeout {
        println!("{seeds} seeds, {nodes} nodes, LAN preset, quorum detector, node_timeout {t} s");
        println!(
            "crash -> first member marks it failing: mean {:.2} s, median {:.2} s",
            mean(&suspect) * period,
            median(&mut suspect) * period
        );
        println!(
            "crash -> all survivors mark it dead: mean {:.2} s, median {:.2} s, max {:.2} s",
            mean(&dead),
            median(&mut dead),
            dead.last().copied().unwrap_or_default()
        );
        return;
    }
    println!(
        "{seeds} seeds, {nodes} nodes, LAN preset (probe interval {period} s), {}",
        if plain { "plain SWIM" } else { "Lifeguard" }
    );
    println!(
        "crash -> first probe of it: mean {:.3} periods (SWIM expects e/(e-1) = {:.3})",
        mean(&probe),
        e / (e - 1.0)
    );
    println!(
        "crash -> first suspicion: mean {:.3} periods, median {:.3}",
        mean(&suspect),
        median(&mut suspect)
    );
    println!(
        "crash -> all survivors mark it dead: mean {:.2} s, median {:.2} s \
         (memberlist: a probe period or so plus the minimum suspicion timeout {:.2} s)",
        mean(&dead),
        median(&mut dead),
        config.suspicion_timeout(nodes).as_secs_f64()
    );
}

//! Simulator speed and scale: wall time, memory and cost per delivered
//! datagram for large simulated clusters.
//!
//!     cargo bench --bench sim -- [nodes] [virtual seconds] [mode] [--seeds K]
//!
//! `mode` is `join` (all nodes join through n0 at t = 0, the default) or
//! `steady` (the nodes start out knowing each other:
//! [`Simulation::new_joined`]). With `--seeds K` (join mode), n1 .. n(K-1)
//! join through n0 and every other node `i` through seed `i % K`, all at
//! t = 0: a large cluster joining through several seeds.

use rumor::proto::{Config, MemberState};
use rumor::sim::Simulation;
use std::time::{Duration, Instant};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let mut args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let mut seeds: u32 = 1;
    if let Some(i) = args.iter().position(|a| a == "--seeds") {
        seeds = args.get(i + 1).and_then(|s| s.parse().ok()).expect("--seeds K");
        assert!(seeds >= 1, "--seeds K needs K >= 1");
        args.drain(i..i + 2);
    }
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let steady = args.get(3).is_some_and(|m| m == "steady");
    let base = rss_kib();
    let t0 = Instant::now();
    let mut sim = if steady {
        Simulation::new_joined(Config::lan(), nodes, 1).expect("config")
    } else {
        let mut sim = Simulation::new(Config::lan(), nodes, 1).expect("config");
        if seeds == 1 {
            sim.join_all(0);
        } else {
            for i in 1..nodes as u32 {
                sim.join(i, &[if i < seeds { 0 } else { i % seeds }]);
            }
        }
        sim
    };
    let setup = t0.elapsed();
    let mut converged_at = None;
    // Time spent checking convergence, left out of the simulator's wall
    // time.
    let mut checking = Duration::ZERO;
    let end = Duration::from_secs_f64(seconds);
    while sim.now() < end {
        sim.run_for(Duration::from_secs(1));
        if converged_at.is_none() {
            let c0 = Instant::now();
            if sim.converged() {
                converged_at = Some(sim.now());
            }
            checking += c0.elapsed();
        }
        // Until converged: how many nodes still see fewer than all alive,
        // and the fewest any sees.
        let behind = if converged_at.is_none() {
            let alive: Vec<usize> = (0..nodes as u32)
                .filter_map(|i| sim.engine(i).map(|e| e.count(MemberState::Alive)))
                .collect();
            let lagging = alive.iter().filter(|&&a| a < nodes).count();
            format!(", {lagging} nodes behind, fewest alive {}", alive.iter().min().unwrap_or(&0))
        } else {
            String::new()
        };
        eprint!(
            "\r{:>5.0} s virtual, {:>6.1} s wall{behind}",
            sim.now().as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
    }
    eprintln!();
    let wall = t0.elapsed() - checking;
    let delivered: u64 = (0..nodes as u32).map(|i| sim.node_stats(i).datagrams_received).sum();
    let rss = rss_kib().saturating_sub(base);
    let mut by_kind = [0u64; rumor::codec::MessageKind::ALL.len()];
    for i in 0..nodes as u32 {
        if let Some(e) = sim.engine(i) {
            for (k, v) in e.stats().messages_received.iter().enumerate() {
                by_kind[k] += v;
            }
        }
    }
    let messages: u64 = by_kind.iter().sum();
    println!("messages received: {messages} ({by_kind:?})");
    println!(
        "nodes {nodes} | virtual {seconds} s | wall {:.2} s (setup {:.2} s) | converged at {} | delivered {delivered} datagrams | {:.0} ns/datagram | {:.0} ns/message | RSS {:.1} MiB ({:.1} KiB/node)",
        wall.as_secs_f64(),
        setup.as_secs_f64(),
        converged_at.map_or("never".to_string(), |t| format!("{:.2} s", t.as_secs_f64())),
        wall.as_nanos() as f64 / delivered.max(1) as f64,
        wall.as_nanos() as f64 / messages.max(1) as f64,
        rss as f64 / 1024.0,
        rss as f64 / nodes as f64,
    );
}

//! Simulator speed and scale: wall time, memory and cost per delivered
//! datagram for large simulated clusters.
//!
//!     cargo bench --bench sim -- [nodes] [virtual seconds] [mode] [--seeds K]
//!
//! `mode` is `join` (all nodes join through n0 at t = 0, the default),
//! `steady` (the nodes start out knowing each other:
//! [`Simulation::new_joined`]), `restart` (a steady cluster whose members
//! all stop at t = 5 s and start again at once, on the same addresses;
//! then `virtual seconds` more) or `restart_new_port` (the same, each on a
//! new port). With `--seeds K` (join mode), n1 .. n(K-1) join through n0
//! and every other node `i` through seed `i % K`, all at t = 0: a large
//! cluster joining through several seeds. `--per-second` prints each
//! virtual second's wall time and Digest messages sent. The restart modes report the time to reconverge after the
//! restart and the suspicions and failures reported after it.
//!
//! Besides wall time and memory it reports the traffic per node: bytes sent
//! per node per virtual second over the whole run, and the membership
//! claims (Alive, Suspect, Dead, Left messages) per datagram sent. In
//! `steady` mode the cluster is quiet from the start, so these are the idle
//! cost (issue 16: at 1,000 members at most twice that at 64). The same
//! figures are also given from 10 virtual seconds on, past the first rounds
//! (a member counts membership as quiet only after 15 gossip rounds without
//! news).

use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The system allocator, counting the bytes live: the heap a simulation
/// holds, without the allocator's fragmentation that RSS also counts
/// (the peak of the first instant of a mass join stays in RSS).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to `System`, only counting.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

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

/// Bytes, datagrams and membership claims (Alive, Suspect, Dead, Left
/// messages) sent so far by all nodes.
fn traffic(sim: &Simulation, nodes: usize) -> (u64, u64, u64) {
    use rumor::codec::MessageKind as K;
    let (mut bytes, mut packets, mut claims) = (0, 0, 0);
    for i in 0..nodes as u32 {
        let s = sim.engine_stats(i);
        bytes += s.bytes_sent;
        packets += s.packets_sent;
        claims += [K::Alive, K::Suspect, K::Dead, K::Left]
            .iter()
            .map(|k| s.messages_sent[*k as usize])
            .sum::<u64>();
    }
    (bytes, packets, claims)
}

fn main() {
    let mut args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let mut seeds: u32 = 1;
    // `--per-second`: a line per virtual second step with its wall time and
    // the Digest messages sent in it (where a run's time goes).
    let per_second = args.iter().any(|a| a == "--per-second");
    args.retain(|a| a != "--per-second");
    if let Some(i) = args.iter().position(|a| a == "--seeds") {
        seeds = args.get(i + 1).and_then(|s| s.parse().ok()).expect("--seeds K");
        assert!(seeds >= 1, "--seeds K needs K >= 1");
        args.drain(i..i + 2);
    }
    let nodes: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let seconds: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(60.0);
    let mode = args.get(3).map_or("join", String::as_str);
    let restart = mode.starts_with("restart");
    let steady = mode == "steady" || restart;
    let base = rss_kib();
    let heap_base = LIVE.load(Ordering::Relaxed);
    let t0 = Instant::now();
    // From 5,000 nodes on, the log keeps no Joined records (counted, not
    // stored): a mass join writes n² of them, 10⁸ (4 GB) at 10,000, which
    // this benchmark never reads.
    let quiet_log = |sim: &mut Simulation| {
        if nodes >= 5000 {
            let kinds: Vec<RecordKind> =
                RecordKind::ALL.into_iter().filter(|&k| k != RecordKind::Joined).collect();
            sim.keep_records(&kinds);
        }
    };
    let mut sim = if steady {
        let mut sim = Simulation::new_joined(Config::lan(), nodes, 1).expect("config");
        quiet_log(&mut sim);
        sim
    } else {
        let mut sim = Simulation::new(Config::lan(), nodes, 1).expect("config");
        quiet_log(&mut sim);
        if seeds == 1 {
            sim.join_all(0);
        } else {
            for i in 1..nodes as u32 {
                sim.join(i, &[if i < seeds { 0 } else { i % seeds }]);
            }
        }
        sim
    };
    let mut restarted_at = None;
    if restart {
        sim.run_for(Duration::from_secs(5));
        for i in 0..nodes as u32 {
            sim.kill(i);
        }
        for i in 0..nodes as u32 {
            if mode == "restart_new_port" {
                sim.restart_on_new_port(i);
            } else {
                sim.restart(i);
            }
        }
        restarted_at = Some(sim.now());
    }
    let setup = t0.elapsed();
    let mut converged_at = None;
    // Time spent checking convergence, left out of the simulator's wall
    // time.
    let mut checking = Duration::ZERO;
    let end = restarted_at.unwrap_or_default() + Duration::from_secs_f64(seconds);
    // After a restart, convergence is checked every tenth of a second.
    let step = Duration::from_millis(if restart { 100 } else { 1000 });
    let warm = Duration::from_secs(10);
    let mut at_warm: Option<(u64, u64, u64)> = None;
    let digests_sent = |sim: &Simulation| -> u64 {
        use rumor::codec::MessageKind as K;
        (0..nodes as u32).map(|i| sim.engine_stats(i).messages_sent[K::Digest as usize]).sum()
    };
    let mut last_digests = if per_second { digests_sent(&sim) } else { 0 };
    while sim.now() < end {
        let r0 = Instant::now();
        sim.run_for(step);
        let ran = r0.elapsed();
        if at_warm.is_none() && sim.now() >= warm {
            at_warm = Some(traffic(&sim, nodes));
        }
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
        if per_second {
            let c0 = Instant::now();
            let digests = digests_sent(&sim);
            eprintln!(
                "\r{:>5.1} s virtual: {:>7.2} s wall, {:>8} Digest messages sent",
                sim.now().as_secs_f64(),
                ran.as_secs_f64(),
                digests - last_digests
            );
            checking += c0.elapsed();
            last_digests = digests;
        }
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
    // The heap live now, and without the event log: what the engines and
    // the datagrams in flight hold. Per member entry: over n² entries.
    let heap = LIVE.load(Ordering::Relaxed).saturating_sub(heap_base);
    // At capacity: the log's slack (up to as much again as its length)
    // is the simulator's, not the engines'.
    let log = sim.log_bytes();
    let queue = sim.queue_bytes();
    let engines = heap.saturating_sub(log + queue);
    println!("messages received: {messages} ({by_kind:?})");
    println!(
        "records: {} Joined, {} in the log ({} B each)",
        sim.records_written(RecordKind::Joined),
        sim.log().len(),
        core::mem::size_of::<rumor::sim::Record>(),
    );
    if let Some(at) = restarted_at {
        let after = |kind| sim.log().iter().filter(|r| r.kind == kind && r.time >= at).count();
        println!(
            "restart ({mode}) at {:.1} s: reconverged {} after it | after it: {} Suspected, {} Failed records | converged at the end: {}",
            at.as_secs_f64(),
            converged_at.map_or("never".to_string(), |t| format!("{:.2} s", (t - at).as_secs_f64())),
            after(RecordKind::Suspected),
            after(RecordKind::Failed),
            sim.converged(),
        );
    }
    let (bytes_sent, packets_sent, claims_sent) = traffic(&sim, nodes);
    let report = |what: &str, (b, p, c): (u64, u64, u64), secs: f64| {
        println!(
            "traffic {what}: {:.0} bytes/node/s sent | {:.2} datagrams/node/s | {:.2} claims/datagram",
            b as f64 / nodes as f64 / secs,
            p as f64 / nodes as f64 / secs,
            c as f64 / p.max(1) as f64,
        );
    };
    let total = sim.now().as_secs_f64();
    report("(whole run)", (bytes_sent, packets_sent, claims_sent), total);
    if let Some((b, p, c)) = at_warm.filter(|_| total > warm.as_secs_f64()) {
        let since = (bytes_sent - b, packets_sent - p, claims_sent - c);
        report("(from 10 s)", since, total - warm.as_secs_f64());
    }
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
    println!(
        "heap live {:.1} MiB ({:.1} KiB/node) | event log {:.1} MiB | delivery queue {:.1} MiB | the rest {:.0} B per member entry",
        heap as f64 / 1048576.0,
        heap as f64 / 1024.0 / nodes as f64,
        log as f64 / 1048576.0,
        queue as f64 / 1048576.0,
        engines as f64 / (nodes * nodes) as f64,
    );
    // The process ends here: freeing 10⁸ member entries one by one (over
    // a second at 10,000 nodes) is no part of the simulation's cost.
    std::mem::forget(sim);
}

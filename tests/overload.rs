//! Overload and mass restart (issue 16, items 2 and 5), in the simulator.
//!
//! A node behind on its own work must not turn its lateness into
//! accusations (load shedding), and a cluster whose members all restart
//! at once, on the same or new addresses, must reconverge with no stale
//! incarnation keeping a live member dead or a dead one alive
//! (memberlist#311).

mod script;

use rumor::proto::{Config, MemberState};
use rumor::sim::{RecordKind, Simulation};
use script::{count, secs};
use std::time::Duration;

/// Records of `kind` logged at or after `since`.
fn count_since(sim: &Simulation, kind: RecordKind, since: Duration) -> usize {
    sim.log().iter().filter(|r| r.kind == kind && r.time >= since).count()
}

/// Every node of a converged 100-node cluster has its runtime held up for
/// 2 s at once (its receive loop stalled while its timers run, or the whole
/// process paused), then the network loses 5% of datagrams for 20 s.
/// Before load shedding the stall alone raised thousands of suspicions
/// (each node's probes timed out while the acks waited unread); now the
/// nodes see their backlog and late acks, hold their accusations, check
/// again once caught up and find everyone alive. Nobody is declared dead,
/// and the views converge.
#[test]
fn an_overload_storm_dies_out_without_a_false_failure() {
    for stall in [true, false] {
        let n = 100;
        let mut sim = Simulation::new_joined(Config::lan(), n, 21).unwrap();
        sim.run_for(secs(5.0));
        let start = sim.now();
        for i in 0..n as u32 {
            if stall {
                sim.stall(i, secs(2.0));
            } else {
                sim.pause(i, secs(2.0));
            }
        }
        sim.run_for(secs(6.0));
        let storm = count_since(&sim, RecordKind::Suspected, start);
        assert_eq!(storm, 0, "stall {stall}: suspicions raised by the overload");
        let held: u64 = (0..n as u32).map(|i| sim.engine_stats(i).suspicions_held).sum();
        if stall {
            assert!(held >= n as u64 / 2, "the stalled nodes held their failed probes: {held}");
        }
        sim.network.update_links(|l| l.loss = 0.05);
        sim.run_for(secs(20.0));
        sim.network.update_links(|l| l.loss = 0.0);
        let converged = sim.run_until_cond(secs(30.0), secs(0.5), Simulation::converged);
        assert!(converged.is_some(), "stall {stall}: the views converge");
        assert_eq!(count(&sim, RecordKind::Failed), 0, "stall {stall}: a false failure");
    }
}

/// All 300 members of a converged cluster, each at incarnation 2 (two
/// metadata changes), stop and start again at once on the same addresses:
/// the new lives start at incarnation 0, below what the old views held.
/// They reconverge within 5 virtual seconds, then run a minute without a
/// suspicion or a failure.
#[test]
fn a_mass_restart_of_300_reconverges_and_stays_quiet() {
    let n = 300;
    let mut sim = Simulation::new_joined(Config::lan(), n, 22).unwrap();
    for i in 0..n as u32 {
        sim.set_meta(i, b"v1".to_vec()).unwrap();
        sim.set_meta(i, b"v2".to_vec()).unwrap();
    }
    sim.run_for(secs(5.0));
    for i in 0..n as u32 {
        sim.kill(i);
    }
    for i in 0..n as u32 {
        sim.restart(i);
    }
    let start = sim.now();
    let at = sim.run_until_cond(secs(5.0), secs(0.25), Simulation::converged);
    assert!(at.is_some(), "reconverged within 5 s");
    sim.run_for(secs(60.0));
    assert_eq!(count_since(&sim, RecordKind::Suspected, start), 0);
    assert_eq!(count_since(&sim, RecordKind::Failed, start), 0);
    assert!(sim.converged());
}

/// A rolling restart squeezed into 3 s: each of 100 members, at
/// incarnation 2, comes back on a new port while the others still hold
/// its old address and incarnation, and 3 members stop for good at the
/// same time. Every restarted member ends up alive everywhere at its new
/// address, each stopped one live nowhere (dead, or never heard of by a
/// member that restarted after it stopped: no stale claim keeps it alive),
/// and no restarted member is ever declared failed.
#[test]
fn a_rolling_restart_onto_new_ports_keeps_no_stale_member() {
    let n = 100u32;
    let gone = [17u32, 50, 83];
    let mut sim = Simulation::new_joined(Config::lan(), n as usize, 23).unwrap();
    for i in 0..n {
        sim.set_meta(i, b"v1".to_vec()).unwrap();
        sim.set_meta(i, b"v2".to_vec()).unwrap();
    }
    sim.run_for(secs(5.0));
    for i in 0..n {
        if gone.contains(&i) {
            sim.kill(i);
        } else {
            sim.restart_on_new_port(i);
        }
        sim.run_for(secs(0.03));
    }
    let at = sim.run_until_cond(secs(60.0), secs(0.5), |s| {
        let live =
            |g| s.count_seeing(g, MemberState::Alive) + s.count_seeing(g, MemberState::Suspect);
        s.converged() && gone.iter().all(|&g| live(g) == 0)
    });
    assert!(at.is_some(), "restarted members alive everywhere, stopped ones live nowhere");
    for i in (0..n).filter(|i| !gone.contains(i)) {
        let seen = sim.engine(0).and_then(|e| e.member(sim.name(i)).map(|m| m.addr));
        if i != 0 {
            assert_eq!(seen, Some(sim.addr(i)), "n{i} known at its new address");
        }
    }
    let failed: Vec<u32> = sim
        .log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && !gone.contains(&r.subject))
        .map(|r| r.subject)
        .collect();
    assert_eq!(failed, Vec::<u32>::new(), "restarted members declared failed");
    sim.run_for(secs(30.0));
    assert!(sim.converged());
}

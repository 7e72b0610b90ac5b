//! Scenario scripts: a protocol test is a list of operations on a
//! simulation (join, cut links, pause, wait, assert), played in virtual
//! time. Deterministic by seed.

#![allow(dead_code)]

use rumor::proto::{Config, MemberState};
use rumor::sim::{Link, RecordKind, Simulation};
use std::time::Duration;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A condition on the whole simulation.
#[derive(Debug, Clone)]
pub enum Check {
    /// Every running node sees every running node alive.
    Converged,
    /// Every running node other than the subject holds it in this state.
    AllSee(u32, MemberState),
    /// Nobody declared a member failed that was never killed, paused or cut off.
    NoFalseFailures,
}

impl Check {
    pub fn holds(&self, sim: &Simulation, innocent: &[bool]) -> bool {
        match self {
            Check::Converged => sim.converged(),
            Check::AllSee(n, state) => sim.all_see(*n, *state),
            Check::NoFalseFailures => false_failures(sim, innocent).is_empty(),
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone)]
pub enum Op {
    /// Every node joins through this one, all at once.
    JoinAll(u32),
    /// Let virtual time pass.
    Run(f64),
    /// Crash a node.
    Kill(u32),
    /// Restart a crashed node.
    Restart(u32),
    /// Stop a node for some seconds.
    Pause(u32, f64),
    /// A node leaves gracefully.
    Leave(u32),
    /// Split the network (two-way).
    Partition(Vec<Vec<u32>>),
    /// Split the network one way: each group cannot send to later ones.
    PartitionOneWay(Vec<Vec<u32>>),
    /// Remove partitions.
    Heal,
    /// Set the loss rate of every link.
    Loss(f64),
    /// Cut every link from and to a node.
    Isolate(u32),
    /// Run until the check holds, failing the test after `limit` seconds.
    WaitUntil(Check, f64),
    /// The check must hold now.
    Assert(Check),
}

/// The outcome of a script: the simulation, and when each `WaitUntil` was met.
pub struct Played {
    pub sim: Simulation,
    pub waits: Vec<Duration>,
}

/// Plays `ops` on `nodes` nodes running `config`, seeded with `seed`.
pub fn play(config: Config, nodes: usize, seed: u64, ops: &[Op]) -> Played {
    let mut sim = Simulation::new(config, nodes, seed).expect("valid config");
    // Nodes that were never killed, paused or cut off: a failure reported
    // about one of them is a false failure.
    let mut innocent = vec![true; nodes];
    let mut waits = Vec::new();
    for (k, op) in ops.iter().enumerate() {
        match op {
            Op::JoinAll(seed) => sim.join_all(*seed),
            Op::Run(s) => sim.run_for(secs(*s)),
            Op::Kill(n) => {
                innocent[*n as usize] = false;
                sim.kill(*n)
            }
            Op::Restart(n) => sim.restart(*n),
            Op::Pause(n, s) => {
                innocent[*n as usize] = false;
                sim.pause(*n, secs(*s))
            }
            Op::Leave(n) => {
                innocent[*n as usize] = false;
                sim.leave(*n)
            }
            Op::Partition(groups) => {
                // The nodes in no group are cut off too: nobody is innocent.
                innocent.iter_mut().for_each(|i| *i = false);
                sim.network.partition(groups, false)
            }
            Op::PartitionOneWay(groups) => {
                innocent.iter_mut().for_each(|i| *i = false);
                sim.network.partition(groups, true)
            }
            Op::Heal => sim.network.heal(),
            Op::Loss(p) => sim.network.default.loss = *p,
            Op::Isolate(n) => {
                innocent[*n as usize] = false;
                for j in 0..nodes as u32 {
                    if j != *n {
                        sim.network.set_link(*n, j, Link { loss: 1.0, ..Link::default() });
                        sim.network.set_link(j, *n, Link { loss: 1.0, ..Link::default() });
                    }
                }
            }
            Op::WaitUntil(check, limit) => {
                let start = sim.now();
                let t = sim
                    .run_until_cond(secs(*limit), secs(0.01), |s| check.holds(s, &innocent))
                    .unwrap_or_else(|| {
                        panic!("step {k}: {check:?} not met within {limit} s (seed {seed})")
                    });
                waits.push(t - start);
            }
            Op::Assert(check) => {
                assert!(
                    check.holds(&sim, &innocent),
                    "step {k}: {check:?} does not hold (seed {seed})"
                )
            }
        }
    }
    Played { sim, waits }
}

/// `(time, observer, subject)` of every failure reported about a node that
/// `innocent` says did nothing to deserve it.
pub fn false_failures(sim: &Simulation, innocent: &[bool]) -> Vec<(Duration, u32, u32)> {
    sim.log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && innocent.get(r.subject as usize) == Some(&true))
        .map(|r| (r.time, r.node, r.subject))
        .collect()
}

//! Scenario scripts: a protocol test is a list of operations on a
//! simulation (join, cut links, pause, broadcast, set a key, wait, assert),
//! played in virtual time. Deterministic by seed.
//!
//! Also the helpers every scenario test shares ([`secs`], [`records`]), so
//! each is written once.

#![allow(dead_code)]

use rumor::codec::{Key, Value};
use rumor::proto::{Config, Engine, FailureReason, MemberState};
use rumor::sim::{Content, Link, RecordKind, Simulation};
use std::collections::HashMap;
use std::time::Duration;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// `(time, observer)` of each record of `kind` about `subject`.
pub fn records(sim: &Simulation, kind: RecordKind, subject: u32) -> Vec<(Duration, u32)> {
    sim.log()
        .iter()
        .filter(|r| r.kind == kind && r.subject == subject)
        .map(|r| (r.time, r.node))
        .collect()
}

/// Every `Failed` record about `subject`: the node that reported it and
/// the reason its event gave (`None`: the death came without one).
pub fn failure_reasons(sim: &Simulation, subject: u32) -> Vec<(u32, Option<FailureReason>)> {
    sim.log()
        .iter()
        .filter(|r| r.kind == RecordKind::Failed && r.subject == subject)
        .map(|r| {
            let reason = match sim.content(r) {
                Some(Content::Failure(reason)) => Some(*reason),
                _ => None,
            };
            (r.node, reason)
        })
        .collect()
}

/// How many records of `kind` the log holds, about anyone.
pub fn count(sim: &Simulation, kind: RecordKind) -> usize {
    sim.log().iter().filter(|r| r.kind == kind).count()
}

/// How many times each node delivered the rumor `(origin, version)`.
fn deliveries(sim: &Simulation, (origin, version): (u32, u64)) -> Vec<u32> {
    let mut per_node = vec![0u32; sim.len()];
    for r in sim.log() {
        if r.kind == RecordKind::Rumor && r.subject == origin && r.incarnation == version {
            per_node[r.node as usize] += 1;
        }
    }
    per_node
}

/// What a script has learned while playing, which checks refer to.
#[derive(Debug, Default)]
pub struct Facts {
    /// Nodes that were never killed, paused, made to leave or cut off: a
    /// failure reported about one of them is a false failure.
    pub innocent: Vec<bool>,
    /// `(origin, sequence)` of each `Op::Broadcast`, in script order.
    pub rumors: Vec<(u32, u64)>,
}

/// A condition on the whole simulation.
#[derive(Debug, Clone)]
pub enum Check {
    /// Every running node sees every running node alive.
    Converged,
    /// Every running node other than the subject holds it in this state.
    AllSee(u32, MemberState),
    /// Each of these observers holds the subject in this state.
    SeenAs(Vec<u32>, u32, MemberState),
    /// Nobody declared a member failed that was never killed, paused or cut off.
    NoFalseFailures,
    /// Nobody suspected or declared anyone failed, ever.
    NoSuspicions,
    /// The script's k-th broadcast was delivered by at least this many nodes.
    Reached(usize, usize),
    /// The script's k-th broadcast was delivered by exactly this many nodes,
    /// each once.
    Delivered(usize, usize),
    /// No node delivered the script's k-th broadcast twice.
    Once(usize),
    /// Every broadcast of the script was delivered by every running node,
    /// each once.
    EveryRumorEverywhere,
    /// No running node is still pushing a rumor: mongering stopped.
    MongeringStopped,
    /// Every running node holds this value for the subject's key (`None`:
    /// holds no such key, e.g. after a delete).
    AllHold(u32, String, Option<Value>),
    /// The observer holds this value for the subject's key.
    Holds(u32, u32, String, Option<Value>),
    /// Every running node holds exactly these keys and values for the subject.
    AllHoldExactly(u32, Vec<(String, Value)>),
    /// The node gave up joining.
    JoinFailed(u32),
    /// No node of the first group holds any of the second in its view, and
    /// none of the second holds any of the first.
    Strangers(Vec<u32>, Vec<u32>),
    /// Every one of these checks holds.
    All(Vec<Check>),
}

impl Check {
    /// `AllHold` for a text value.
    pub fn all_hold(subject: u32, key: &str, value: Option<&str>) -> Check {
        Check::AllHold(subject, key.into(), value.map(|v| Value::Text(v.into())))
    }

    /// `Holds` for a text value.
    pub fn holds_text(observer: u32, subject: u32, key: &str, value: Option<&str>) -> Check {
        Check::Holds(observer, subject, key.into(), value.map(|v| Value::Text(v.into())))
    }

    pub fn holds(&self, sim: &Simulation, facts: &Facts) -> bool {
        let running = || (0..sim.len() as u32).filter(|&i| sim.is_running(i));
        let knows = |observer: u32, subject: u32| sim.state(observer, subject).is_some();
        match self {
            Check::Converged => sim.converged(),
            Check::AllSee(n, state) => sim.all_see(*n, *state),
            Check::SeenAs(observers, n, state) => {
                observers.iter().all(|&i| sim.state(i, *n) == Some(*state))
            }
            Check::NoFalseFailures => false_failures(sim, &facts.innocent).is_empty(),
            Check::NoSuspicions => {
                count(sim, RecordKind::Failed) + count(sim, RecordKind::Suspected) == 0
            }
            Check::Reached(k, n) => {
                deliveries(sim, facts.rumors[*k]).iter().filter(|&&c| c > 0).count() >= *n
            }
            Check::Delivered(k, n) => {
                let per_node = deliveries(sim, facts.rumors[*k]);
                per_node.iter().filter(|&&c| c == 1).count() == *n
                    && per_node.iter().all(|&c| c <= 1)
            }
            Check::Once(k) => deliveries(sim, facts.rumors[*k]).iter().all(|&c| c <= 1),
            Check::EveryRumorEverywhere => {
                // One pass over the log: a burst holds thousands of rumors.
                let mut per_rumor: HashMap<(u32, u64), Vec<u32>> =
                    facts.rumors.iter().map(|&r| (r, vec![0; sim.len()])).collect();
                for r in sim.log().iter().filter(|r| r.kind == RecordKind::Rumor) {
                    if let Some(per_node) = per_rumor.get_mut(&(r.subject, r.incarnation)) {
                        per_node[r.node as usize] += 1;
                    }
                }
                per_rumor.values().all(|per_node| {
                    per_node.iter().all(|&c| c <= 1) && running().all(|i| per_node[i as usize] == 1)
                })
            }
            Check::MongeringStopped => {
                running().all(|i| sim.engine(i).is_some_and(|e| e.active_items() == 0))
            }
            Check::AllHold(subject, key, value) => {
                running().all(|i| sim.get(i, *subject, key) == value.as_ref())
            }
            Check::Holds(observer, subject, key, value) => {
                sim.get(*observer, *subject, key) == value.as_ref()
            }
            Check::AllHoldExactly(subject, entries) => running().all(|i| {
                sim.engine(i).is_some_and(|e| {
                    let held = e.key_values(sim.name(*subject));
                    held.len() == entries.len()
                        && held
                            .iter()
                            .zip(entries)
                            .all(|((k, v), (key, value))| *k == key.as_str() && *v == value)
                })
            }),
            Check::JoinFailed(n) => {
                sim.log().iter().any(|r| r.kind == RecordKind::JoinFailed && r.node == *n)
            }
            Check::Strangers(some, others) => {
                some.iter().all(|&a| others.iter().all(|&b| !knows(a, b) && !knows(b, a)))
            }
            Check::All(checks) => checks.iter().all(|c| c.holds(sim, facts)),
        }
    }
}

/// One step of a scenario.
#[derive(Debug, Clone)]
// A script is a handful of ops: an AddNode's inline Config costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum Op {
    /// Every node joins through this one, all at once.
    JoinAll(u32),
    /// A node joins through these seeds.
    Join(u32, Vec<u32>),
    /// Add a node (not joined) running this config; it gets the next index.
    AddNode(Config),
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
    /// A node broadcasts a payload; checks name it by its place among the
    /// script's broadcasts (0 for the first).
    Broadcast(u32, Vec<u8>),
    /// A node sets a key of its replicated state.
    Set(u32, String, Value),
    /// A node deletes a key of its replicated state.
    Delete(u32, String),
    /// A node adds a key to its keyring (accepted, not yet sealing).
    AddKey(u32, Key),
    /// A node seals with this key from now on.
    UseKey(u32, Key),
    /// A node drops a key from its keyring.
    RemoveKey(u32, Key),
    /// How often later `WaitUntil`s check their condition (0.01 s until set).
    PollEvery(f64),
    /// Run until the check holds, failing the test after `limit` seconds.
    WaitUntil(Check, f64),
    /// The check must hold now.
    Assert(Check),
}

impl Op {
    /// `Set` of a text value.
    pub fn set_text(node: u32, key: &str, value: &str) -> Op {
        Op::Set(node, key.into(), Value::Text(value.into()))
    }
}

/// A script being played: the simulation, and what the script has seen.
pub struct Played {
    pub sim: Simulation,
    /// When each `WaitUntil` was met, counted from its start.
    pub waits: Vec<Duration>,
    pub facts: Facts,
    seed: u64,
    steps: usize,
    poll: Duration,
}

/// Plays `ops` on `nodes` nodes running `config` that have not joined each
/// other yet, seeded with `seed`.
pub fn play(config: Config, nodes: usize, seed: u64, ops: &[Op]) -> Played {
    Played::start(Simulation::new(config, nodes, seed).expect("valid config"), seed).then(ops)
}

/// Plays `ops` on `nodes` nodes running `config` that already know each
/// other, as after a converged join (see `Simulation::new_joined`).
pub fn play_joined(config: Config, nodes: usize, seed: u64, ops: &[Op]) -> Played {
    Played::start(Simulation::new_joined(config, nodes, seed).expect("valid config"), seed)
        .then(ops)
}

impl Played {
    fn start(sim: Simulation, seed: u64) -> Played {
        let facts = Facts { innocent: vec![true; sim.len()], rumors: Vec::new() };
        Played { sim, waits: Vec::new(), facts, seed, steps: 0, poll: secs(0.01) }
    }

    /// Plays more operations on the same simulation (after reading a
    /// counter the rest of the script compares with, say).
    pub fn then(mut self, ops: &[Op]) -> Played {
        for op in ops {
            self.step(op);
        }
        self
    }

    /// `(origin, sequence)` of the script's k-th broadcast.
    pub fn rumor(&self, k: usize) -> (u32, u64) {
        self.facts.rumors[k]
    }

    fn step(&mut self, op: &Op) {
        let (k, seed) = (self.steps, self.seed);
        self.steps += 1;
        let sim = &mut self.sim;
        let innocent = &mut self.facts.innocent;
        match op {
            Op::JoinAll(seed) => sim.join_all(*seed),
            Op::Join(n, seeds) => sim.join(*n, seeds),
            Op::AddNode(config) => {
                sim.add_node_with(config.clone()).expect("valid config");
                innocent.push(true);
            }
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
                for j in 0..sim.len() as u32 {
                    if j != *n {
                        sim.network.set_link(*n, j, Link { loss: 1.0, ..Link::default() });
                        sim.network.set_link(j, *n, Link { loss: 1.0, ..Link::default() });
                    }
                }
            }
            Op::Broadcast(n, payload) => {
                let seq = sim
                    .broadcast(*n, payload.clone())
                    .unwrap_or_else(|e| panic!("step {k}: broadcast refused: {e:?}"))
                    .unwrap_or_else(|| panic!("step {k}: node {n} is not running"));
                self.facts.rumors.push((*n, seq));
            }
            Op::Set(n, key, value) => sim
                .set(*n, key, value.clone())
                .unwrap_or_else(|e| panic!("step {k}: set refused: {e:?}")),
            Op::Delete(n, key) => {
                sim.delete(*n, key).unwrap_or_else(|e| panic!("step {k}: delete refused: {e:?}"))
            }
            Op::AddKey(n, key) => keyring(sim, k, *n, |e| e.add_key(*key)),
            Op::UseKey(n, key) => keyring(sim, k, *n, |e| e.use_key(*key)),
            Op::RemoveKey(n, key) => keyring(sim, k, *n, |e| e.remove_key(*key)),
            Op::PollEvery(s) => self.poll = secs(*s),
            Op::WaitUntil(check, limit) => {
                let start = sim.now();
                let facts = &self.facts;
                let t = sim
                    .run_until_cond(secs(*limit), self.poll, |s| check.holds(s, facts))
                    .unwrap_or_else(|| {
                        panic!("step {k}: {check:?} not met within {limit} s (seed {seed})")
                    });
                self.waits.push(t - start);
            }
            Op::Assert(check) => {
                assert!(
                    check.holds(sim, &self.facts),
                    "step {k}: {check:?} does not hold (seed {seed})"
                )
            }
        }
    }
}

/// Runs a keyring change on node `n`, which must be running and accept it.
fn keyring<E: std::fmt::Debug>(
    sim: &mut Simulation,
    k: usize,
    n: u32,
    change: impl FnOnce(&mut Engine) -> Result<(), E>,
) {
    match sim.with_engine(n, |e, _| change(e)) {
        Some(Ok(())) => {}
        Some(Err(e)) => panic!("step {k}: node {n} refused the keyring change: {e:?}"),
        None => panic!("step {k}: node {n} is not running"),
    }
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

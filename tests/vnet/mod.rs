//! A small virtual network for protocol scenario tests: engines exchange
//! datagrams through a queue with latency and loss, in virtual time, driven
//! by one seeded RNG. Same seed, same run.

#![allow(dead_code)]

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use rumor::proto::{Config, Engine, Event, MemberState};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

pub fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

/// A datagram on its way: (delivery time, tie-break order, destination
/// index, source address, bytes).
type InFlight = (Duration, u64, usize, SocketAddr, Vec<u8>);

struct Slot {
    name: String,
    addr: SocketAddr,
    engine: Option<Engine>,
    restarts: u64,
}

pub struct Net {
    pub now: Duration,
    config: Config,
    slots: Vec<Slot>,
    by_addr: HashMap<SocketAddr, usize>,
    queue: BinaryHeap<Reverse<InFlight>>,
    order: u64,
    rng: ChaCha8Rng,
    /// Probability that a datagram is lost.
    pub loss: f64,
    /// One-way latency, uniform in `[min, max]`.
    pub latency: (Duration, Duration),
    /// Every event any engine reported: (time, node, event).
    pub trace: Vec<(Duration, String, Event)>,
    /// Partition group of each node; datagrams between groups are lost.
    group: Vec<u32>,
}

impl Net {
    pub fn new(config: Config, nodes: usize, seed: u64) -> Net {
        let mut net = Net {
            now: Duration::ZERO,
            config,
            slots: Vec::new(),
            by_addr: HashMap::new(),
            queue: BinaryHeap::new(),
            order: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            loss: 0.0,
            latency: (Duration::from_micros(200), Duration::from_millis(2)),
            trace: Vec::new(),
            group: vec![0; nodes],
        };
        for i in 0..nodes {
            let addr = SocketAddr::from(([127, 0, (i / 250) as u8, (i % 250 + 1) as u8], 7946));
            net.by_addr.insert(addr, i);
            net.slots.push(Slot { name: format!("n{i}"), addr, engine: None, restarts: 0 });
            net.boot(i);
        }
        net
    }

    fn boot(&mut self, i: usize) {
        let seed = self.rng.next_u64();
        let slot = &mut self.slots[i];
        slot.engine = Some(
            Engine::new(self.config.clone(), slot.name.clone(), slot.addr, seed, self.now).unwrap(),
        );
    }

    pub fn addr(&self, i: usize) -> SocketAddr {
        self.slots[i].addr
    }

    pub fn engine(&self, i: usize) -> &Engine {
        self.slots[i].engine.as_ref().expect("node is down")
    }

    pub fn engine_mut(&mut self, i: usize) -> &mut Engine {
        self.slots[i].engine.as_mut().expect("node is down")
    }

    pub fn is_up(&self, i: usize) -> bool {
        self.slots[i].engine.is_some()
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Every node starts joining through node `seed` at the current time.
    pub fn join_all(&mut self, seed: usize) {
        let to = self.addr(seed);
        let now = self.now;
        for i in 0..self.len() {
            if i != seed && self.is_up(i) {
                self.engine_mut(i).join(now, &[to], secs(5.0));
                self.flush(i);
            }
        }
    }

    /// Crash: the node stops at once, without a word.
    pub fn kill(&mut self, i: usize) {
        self.slots[i].engine = None;
    }

    /// A fresh engine with the same name and address (incarnation 0) joins
    /// through `seed`.
    pub fn restart(&mut self, i: usize, seed: usize) {
        self.slots[i].restarts += 1;
        self.boot(i);
        let to = self.addr(seed);
        let now = self.now;
        self.engine_mut(i).join(now, &[to], secs(5.0));
        self.flush(i);
    }

    /// Splits the network: nodes in different groups cannot reach each
    /// other; nodes in no group form one more group.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        let rest = groups.len() as u32 + 1;
        self.group = vec![rest; self.len()];
        for (g, members) in groups.iter().enumerate() {
            for &i in members.iter() {
                self.group[i] = g as u32 + 1;
            }
        }
    }

    /// Removes every partition.
    pub fn heal(&mut self) {
        self.group = vec![0; self.len()];
    }

    pub fn leave(&mut self, i: usize) {
        let now = self.now;
        self.engine_mut(i).leave(now);
        self.flush(i);
    }

    fn flush(&mut self, i: usize) {
        let name = self.slots[i].name.clone();
        let Some(engine) = self.slots[i].engine.as_mut() else { return };
        let mut out = Vec::new();
        while let Some(t) = engine.poll_transmit() {
            out.push(t);
        }
        while let Some(ev) = engine.poll_event() {
            self.trace.push((self.now, name.clone(), ev));
        }
        let src = self.slots[i].addr;
        for t in out {
            let Some(&dst) = self.by_addr.get(&t.dst) else { continue };
            if self.group[i] != self.group[dst] {
                continue;
            }
            if self.loss > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < self.loss {
                continue;
            }
            let (lo, hi) = self.latency;
            let span = (hi - lo).as_nanos() as u64;
            let delay =
                lo + Duration::from_nanos(if span == 0 { 0 } else { self.rng.next_u64() % span });
            self.order += 1;
            self.queue.push(Reverse((self.now + delay, self.order, dst, src, t.payload)));
        }
    }

    /// Runs the network until virtual time `until`.
    pub fn run_until(&mut self, until: Duration) {
        loop {
            let next_packet = self.queue.peek().map(|Reverse((t, ..))| *t);
            let next_timer = self
                .slots
                .iter()
                .filter_map(|s| s.engine.as_ref().and_then(|e| e.poll_timeout()))
                .min();
            let next = match (next_packet, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            self.now = next;
            if next_packet == Some(next) {
                let Reverse((_, _, dst, src, payload)) = self.queue.pop().unwrap();
                let now = self.now;
                if let Some(e) = self.slots[dst].engine.as_mut() {
                    e.handle_packet(now, src, &payload);
                    self.flush(dst);
                }
                continue;
            }
            for i in 0..self.slots.len() {
                let now = self.now;
                if let Some(e) = self.slots[i].engine.as_mut() {
                    if e.poll_timeout().is_some_and(|t| t <= now) {
                        e.handle_timeout(now);
                        self.flush(i);
                    }
                }
            }
        }
        self.now = self.now.max(until);
    }

    /// Runs until `cond` holds (checked every 10 ms of virtual time) or
    /// `limit` passes; returns the time it first held.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        mut cond: impl FnMut(&Net) -> bool,
    ) -> Option<Duration> {
        let end = self.now + limit;
        loop {
            if cond(self) {
                return Some(self.now);
            }
            if self.now >= end {
                return None;
            }
            let step = self.now + Duration::from_millis(10);
            self.run_until(step.min(end));
        }
    }

    /// State of `name` in node `i`'s view.
    pub fn state(&self, i: usize, name: &str) -> Option<MemberState> {
        self.engine(i).member(name).map(|m| m.state)
    }

    pub fn name(&self, i: usize) -> String {
        self.slots[i].name.clone()
    }

    /// Whether every running node sees every running node alive.
    pub fn converged(&self) -> bool {
        let up: Vec<usize> = (0..self.len()).filter(|&i| self.is_up(i)).collect();
        up.iter().all(|&i| {
            up.iter().all(|&j| self.state(i, &self.slots[j].name) == Some(MemberState::Alive))
        })
    }

    /// Whether every running node other than `i` holds `i` in `state`.
    pub fn all_see(&self, subject: usize, state: MemberState) -> bool {
        let name = self.name(subject);
        (0..self.len())
            .filter(|&j| j != subject && self.is_up(j))
            .all(|j| self.state(j, &name) == Some(state))
    }

    /// `(observer, subject)` pairs of Failed events about nodes that were
    /// running at the time of the event's report: false failures.
    pub fn failures_of(&self, subject: &str) -> Vec<(Duration, String)> {
        self.trace
            .iter()
            .filter_map(|(t, who, ev)| match ev {
                Event::Failed(m) if m.name == subject => Some((*t, who.clone())),
                _ => None,
            })
            .collect()
    }

    /// Names of every member any node declared failed.
    pub fn failed_names(&self) -> BTreeSet<String> {
        self.trace
            .iter()
            .filter_map(|(_, _, ev)| match ev {
                Event::Failed(m) => Some(m.name.clone()),
                _ => None,
            })
            .collect()
    }
}

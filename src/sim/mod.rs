//! A deterministic simulator: many real [`Engine`]s in one thread, in
//! virtual time, over a seeded model of the network.
//!
//! The clock jumps to the next delivery or timer. One ChaCha RNG, seeded by
//! the caller, decides every latency, loss and engine seed, so the same seed,
//! config and script give the same event log, byte for byte. Nodes are
//! named `n0`, `n1`, ... and addressed by index.

mod log;
mod network;

pub use log::{Interval, Record, RecordKind, NO_DETAIL};
pub use network::{Fate, Latency, Link, Network, MIN_REORDER_WINDOW};

use crate::codec::Value;
use crate::codec::{self, FailureReason, MessageKind};
use crate::proto::{
    Config, ConfigError, Engine, Event, ItemError, Member, MemberState, MetaTooLarge, Names,
    Snapshot, Stats, Transmit,
};
use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Arc;

/// Datagram and byte counts of one simulated node, kept by the simulator
/// (the engine's own counters are in [`Simulation::engine_stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Datagrams this node sent.
    pub datagrams_sent: u64,
    /// Bytes this node sent.
    pub bytes_sent: u64,
    /// Datagrams delivered to this node.
    pub datagrams_received: u64,
    /// Bytes delivered to this node.
    pub bytes_received: u64,
    /// Datagrams this node sent that the network lost (loss, partition).
    pub datagrams_dropped: u64,
    /// Bytes of the datagrams the network lost.
    pub bytes_dropped: u64,
    /// Datagrams that reached this node while it was down, or paused with
    /// a full receive buffer.
    pub datagrams_missed: u64,
    /// Bytes of those datagrams.
    pub bytes_missed: u64,
    /// Messages inside the missed datagrams, by kind.
    pub messages_missed: [u64; MessageKind::ALL.len()],
    /// Messages inside the dropped datagrams, by kind
    /// ([`MessageKind::ALL`] order).
    pub messages_dropped: [u64; MessageKind::ALL.len()],
}

struct SimNode {
    name: String,
    addr: SocketAddr,
    engine: Option<Engine>,
    paused_until: Option<Duration>,
    /// Its receiving is stalled until then (timers still run).
    stalled_until: Option<Duration>,
    /// Datagrams that reached it while paused or stalled, held as a socket's receive
    /// buffer would hold them, oldest first.
    inbox: std::collections::VecDeque<Packet>,
    /// Payload bytes in `inbox`.
    inbox_bytes: usize,
    /// The seeds its last join used, for restarts.
    seeds: Vec<u32>,
    stats: NodeStats,
    /// Engine counters of its earlier lives (before a kill or restart).
    earlier: Stats,
    /// Its own config, when it differs from the simulation's.
    config: Option<Config>,
    /// Engines booted so far: the generation of the running one.
    lives: u64,
    /// Its host is down ([`Simulation::crash_host`]): datagrams to it
    /// vanish, where a killed process's closed port answers "unreachable".
    host_down: bool,
    /// The engine deadline it has a wakeup queued for, until that wakeup
    /// is popped: a delivery that leaves the deadline where it was queues
    /// no other. Each delivery queued one, so the heap held a wakeup per
    /// datagram delivered, mostly duplicates (millions in a mass join):
    /// 5 % of a simulated join of 5,000 went to popping them.
    queued: Option<Duration>,
}

/// A datagram (or stream payload) on its way to a node.
#[derive(Debug)]
struct Packet {
    /// The sending node.
    src: u32,
    payload: Vec<u8>,
    /// A reliable stream payload (TCP), not a datagram.
    stream: bool,
    /// Not a datagram but the ICMP port-unreachable drawn by one sent to
    /// this closed address: handed to the engine as `handle_unreachable`.
    refused: Option<SocketAddr>,
}

/// A packet in flight, delivered in `(at, order)` order.
#[derive(Debug)]
struct Delivery {
    at: Duration,
    /// Tie-break among deliveries due at once: the order they were sent,
    /// unique, which keeps runs deterministic.
    order: u64,
    dst: u32,
    packet: Packet,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.order) == (other.at, other.order)
    }
}

impl Eq for Delivery {}

impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        (self.at, self.order).cmp(&(other.at, other.order))
    }
}

/// One item of one node's log: a rumor (`key` none) or a key's change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ItemKey {
    subject: u32,
    generation: u64,
    version: u64,
    key: Option<String>,
}

impl ItemKey {
    fn new(subject: u32, generation: u64, version: u64, key: Option<String>) -> ItemKey {
        ItemKey { subject, generation, version, key }
    }
}

/// The simulator. See the [module docs](self).
pub struct Simulation {
    now: Duration,
    config: Config,
    nodes: Vec<SimNode>,
    by_addr: HashMap<SocketAddr, u32>,
    by_name: HashMap<String, u32>,
    /// Old addresses of nodes moved by [`Simulation::restart_on_new_port_closed`]:
    /// the port is closed on a live host, so each datagram there draws an
    /// unreachable, as from a killed node's address. By the node whose
    /// host it is.
    closed_ports: HashMap<SocketAddr, u32>,
    deliveries: BinaryHeap<Reverse<Delivery>>,
    wakeups: BinaryHeap<Reverse<(Duration, u32)>>,
    order: u64,
    rng: ChaCha8Rng,
    /// The network model; change it at any time.
    pub network: Network,
    log: Vec<Record>,
    /// The record kinds the log keeps, a bit per kind ([`RecordKind`]
    /// order); see [`Simulation::keep_records`].
    kept: u32,
    /// Records written of each kind, kept in the log or not.
    written: [u64; RecordKind::ALL.len()],
    intervals: Vec<Interval>,
    current: Interval,
    interval: Duration,
    join_timeout: Duration,
    /// Receive buffer of a paused node, in payload bytes.
    receive_buffer: usize,
    /// What the rumors and state changes of the log said, each once.
    contents: Vec<Content>,
    /// Where each item's content is in `contents`.
    content_index: HashMap<ItemKey, u32>,
    /// The view nodes booted now start from (see [`Simulation::new_joined`]).
    snapshot: Option<Arc<Snapshot>>,
    /// Room for what [`Simulation::flush`] takes from an engine, kept
    /// between flushes.
    transmits: Vec<Transmit>,
    events: Vec<Event>,
    /// The empty view every engine started without a snapshot builds on:
    /// it carries the [`Names`] all the engines share, so each name,
    /// address and metadata is held once, not once per node.
    empty: Arc<Snapshot>,
}

/// What a [`RecordKind::Rumor`] or [`RecordKind::Updated`] record is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A rumor's payload.
    Rumor(Vec<u8>),
    /// A key's new value (`None`: deleted).
    Update(String, Option<Value>),
    /// What a `Refuted` record's node was accused of.
    Accusation(MemberState),
    /// Why a `Failed` record's member was declared dead (only when the
    /// node learned a reason).
    Failure(FailureReason),
}

/// Default receive buffer of a paused node: Linux's default socket
/// receive buffer (`net.core.rmem_default`), 208 KiB.
pub const DEFAULT_RECEIVE_BUFFER: usize = 212_992;

/// Name of node `i`.
fn node_name(i: u32) -> String {
    format!("n{i}")
}

/// Address of node `i`: 127.0.0.1, 127.0.0.2, ... port 7946.
fn node_addr(i: u32) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::from(0x7f00_0001 + i), 7946))
}

impl Simulation {
    /// A simulation of `nodes` members that have not joined each other yet.
    pub fn new(config: Config, nodes: usize, seed: u64) -> Result<Simulation, ConfigError> {
        config.validate()?;
        let mut sim = Simulation {
            now: Duration::ZERO,
            config,
            nodes: Vec::with_capacity(nodes),
            by_addr: HashMap::with_capacity(nodes),
            by_name: HashMap::with_capacity(nodes),
            closed_ports: HashMap::new(),
            deliveries: BinaryHeap::new(),
            wakeups: BinaryHeap::new(),
            order: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            network: Network::default(),
            log: Vec::new(),
            kept: u32::MAX,
            written: [0; RecordKind::ALL.len()],
            intervals: Vec::new(),
            current: Interval::default(),
            interval: Duration::from_secs(1),
            join_timeout: Duration::from_secs(10),
            receive_buffer: DEFAULT_RECEIVE_BUFFER,
            snapshot: None,
            empty: Snapshot::with_names(Names::new(), []),
            contents: Vec::new(),
            content_index: HashMap::new(),
            transmits: Vec::new(),
            events: Vec::new(),
        };
        for _ in 0..nodes {
            sim.add_node();
        }
        Ok(sim)
    }

    /// A simulation of `nodes` members that already know each other, all
    /// alive at incarnation 0, as after a join that has converged: no join
    /// traffic, and no `Joined` records. Every engine starts from one
    /// shared [`Snapshot`] and keeps only what changes in its view, so a
    /// quiet cluster of n members costs O(n) memory rather than O(n²).
    pub fn new_joined(config: Config, nodes: usize, seed: u64) -> Result<Simulation, ConfigError> {
        let mut sim = Simulation::new(config, 0, seed)?;
        let members: Vec<Member> =
            (0..nodes as u32).map(|i| Member::new(node_name(i), node_addr(i))).collect();
        sim.snapshot = Some(Snapshot::with_names(sim.empty.names().clone(), members));
        for _ in 0..nodes {
            sim.add_node();
        }
        sim.snapshot = None;
        Ok(sim)
    }

    /// Adds a node named `n{index}` (not joined); returns its index.
    pub fn add_node(&mut self) -> u32 {
        let i = self.push_node(None);
        self.boot(i);
        i
    }

    fn push_node(&mut self, config: Option<Config>) -> u32 {
        let i = self.nodes.len() as u32;
        let (name, addr) = (node_name(i), node_addr(i));
        self.by_addr.insert(addr, i);
        self.by_name.insert(name.clone(), i);
        self.nodes.push(SimNode {
            name,
            addr,
            engine: None,
            paused_until: None,
            stalled_until: None,
            queued: None,
            inbox: Default::default(),
            inbox_bytes: 0,
            seeds: Vec::new(),
            stats: NodeStats::default(),
            earlier: Stats::default(),
            config,
            lives: 0,
            host_down: false,
        });
        i
    }

    /// Adds a node that runs `config` instead of the simulation's (a
    /// member with other keys, another label, other timings), not joined;
    /// returns its index. Restarts keep its config.
    pub fn add_node_with(&mut self, config: Config) -> Result<u32, ConfigError> {
        config.validate()?;
        let i = self.push_node(Some(config));
        self.boot(i);
        Ok(i)
    }

    /// Runs `f` on node `i`'s engine (a command the simulator has no
    /// method for, such as a keyring change) at the current virtual time,
    /// then sends what it produced. `None` while the node is down or
    /// paused.
    pub fn with_engine<R>(
        &mut self,
        i: u32,
        f: impl FnOnce(&mut Engine, Duration) -> R,
    ) -> Option<R> {
        let now = self.now;
        let e = self.running_engine(i)?;
        let r = f(e, now);
        self.flush(i);
        Some(r)
    }

    fn boot(&mut self, i: u32) {
        let seed = self.rng.next_u64();
        self.drop_inbox(i);
        let node = &mut self.nodes[i as usize];
        if let Some(old) = node.engine.take() {
            node.earlier.add(old.stats());
        }
        let view = self.snapshot.clone().unwrap_or_else(|| self.empty.clone());
        let config = node.config.clone().unwrap_or_else(|| self.config.clone());
        let mut engine =
            Engine::with_snapshot(config, node.name.clone(), node.addr, seed, self.now, view)
                .expect("config validated in Simulation::new or add_node_with");
        node.lives += 1;
        engine.set_generation(node.lives);
        node.engine = Some(engine);
        node.paused_until = None;
        node.stalled_until = None;
        node.host_down = false;
        self.schedule(i);
    }

    /// Current virtual time.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// Number of nodes (running or not).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The config every node runs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Name of node `i`.
    pub fn name(&self, i: u32) -> &str {
        &self.nodes[i as usize].name
    }

    /// Index of the node called `name`.
    pub fn index(&self, name: &str) -> Option<u32> {
        // Node i is called `n{i}` unless it is an impostor: read the index
        // from the name (every event of a mass join, 10⁸ at 10,000 nodes,
        // looks its member up here), the map for the rest.
        let i = name.strip_prefix('n').and_then(|d| d.parse::<u32>().ok());
        if let Some(i) = i.filter(|&i| self.nodes.get(i as usize).is_some_and(|n| n.name == name)) {
            return Some(i);
        }
        self.by_name.get(name).copied()
    }

    /// Address of node `i` (virtual; never used on a real socket).
    pub fn addr(&self, i: u32) -> SocketAddr {
        self.nodes[i as usize].addr
    }

    /// The engine of node `i`, unless it is down.
    pub fn engine(&self, i: u32) -> Option<&Engine> {
        self.nodes[i as usize].engine.as_ref()
    }

    /// Whether node `i` is up (neither killed nor paused).
    pub fn is_running(&self, i: u32) -> bool {
        let n = &self.nodes[i as usize];
        n.engine.is_some() && n.paused_until.is_none()
    }

    /// Whether node `i` is paused.
    pub fn is_paused(&self, i: u32) -> bool {
        self.nodes[i as usize].paused_until.is_some()
    }

    /// The simulator's counters for node `i`.
    pub fn node_stats(&self, i: u32) -> &NodeStats {
        &self.nodes[i as usize].stats
    }

    /// Engine counters of node `i` summed over all its lives: what its
    /// engines did before each kill or restart, plus the running one's.
    pub fn engine_stats(&self, i: u32) -> Stats {
        let node = &self.nodes[i as usize];
        let mut total = node.earlier.clone();
        if let Some(e) = &node.engine {
            total.add(e.stats());
        }
        total
    }

    /// The event log so far: every record of the kinds it keeps (all,
    /// unless [`Simulation::keep_records`] said otherwise).
    pub fn log(&self) -> &[Record] {
        &self.log
    }

    /// From now on the log keeps only records of `kinds`; those of other
    /// kinds are still counted ([`Simulation::records_written`] and each
    /// [`Interval::records`]) but not stored. For large simulations: a
    /// mass join of n nodes writes n² `Joined` records, 10⁸ at 10,000
    /// nodes (4 GB of log), which nobody reads one by one; the counts and
    /// the views ([`Simulation::converged`]) tell the same story. Changes
    /// nothing the engines do.
    pub fn keep_records(&mut self, kinds: &[RecordKind]) {
        self.kept = kinds.iter().fold(0, |bits, &k| bits | 1 << k as u32);
    }

    /// Records of `kind` written so far, kept in the log or not (see
    /// [`Simulation::keep_records`]).
    pub fn records_written(&self, kind: RecordKind) -> u64 {
        self.written[kind as usize]
    }

    /// Completed intervals of counters (see [`Simulation::set_interval`]).
    pub fn intervals(&self) -> &[Interval] {
        &self.intervals
    }

    /// Sets the length of the counter intervals (default 1 s).
    pub fn set_interval(&mut self, d: Duration) {
        self.interval = d.max(Duration::from_millis(1));
    }

    /// Member table of node `i` (empty if it is down).
    pub fn members(&self, i: u32) -> Vec<Member> {
        self.engine(i).map(|e| e.members().collect()).unwrap_or_default()
    }

    /// State of `subject` in node `observer`'s view.
    pub fn state(&self, observer: u32, subject: u32) -> Option<MemberState> {
        let name = &self.nodes[subject as usize].name;
        self.engine(observer)?.member(name).map(|m| m.state)
    }

    /// Node `i` joins through `seeds` (giving up after 10 virtual seconds).
    pub fn join(&mut self, i: u32, seeds: &[u32]) {
        self.join_within(i, seeds, self.join_timeout);
    }

    /// Node `i` joins through `seeds`, giving up (a `JoinFailed` record)
    /// after `timeout` of virtual time.
    pub fn join_within(&mut self, i: u32, seeds: &[u32], timeout: Duration) {
        let addrs: Vec<SocketAddr> = seeds.iter().map(|&s| self.addr(s)).collect();
        self.nodes[i as usize].seeds = seeds.to_vec();
        let now = self.now;
        if let Some(e) = self.running_engine(i) {
            e.join(now, &addrs, timeout);
            self.flush(i);
        }
    }

    /// Every node but `seed` joins through `seed`, all at this instant.
    pub fn join_all(&mut self, seed: u32) {
        for i in 0..self.nodes.len() as u32 {
            if i != seed {
                self.join(i, &[seed]);
            }
        }
    }

    /// Node `i` leaves gracefully.
    pub fn leave(&mut self, i: u32) {
        let now = self.now;
        if let Some(e) = self.running_engine(i) {
            e.leave(now);
            self.flush(i);
        }
    }

    /// Node `i` sets its metadata and gossips it (see [`Engine::set_meta`]).
    /// Does nothing while it is down or paused.
    pub fn set_meta(&mut self, i: u32, meta: Vec<u8>) -> Result<(), MetaTooLarge> {
        let now = self.now;
        if let Some(e) = self.running_engine(i) {
            e.set_meta(now, meta)?;
            self.flush(i);
        }
        Ok(())
    }

    /// Node `i` broadcasts `payload` (see [`Engine::broadcast`]); returns
    /// its sequence number, or `None` while the node is down or paused.
    pub fn broadcast(&mut self, i: u32, payload: Vec<u8>) -> Result<Option<u64>, ItemError> {
        let now = self.now;
        let Some(e) = self.running_engine(i) else { return Ok(None) };
        let seq = e.broadcast(now, payload)?;
        self.flush(i);
        Ok(Some(seq))
    }

    /// Node `i` sets `key` of its replicated state (see [`Engine::set`]).
    /// Does nothing while it is down or paused.
    pub fn set(&mut self, i: u32, key: &str, value: Value) -> Result<(), ItemError> {
        let now = self.now;
        if let Some(e) = self.running_engine(i) {
            e.set(now, key, value)?;
            self.flush(i);
        }
        Ok(())
    }

    /// Node `i` deletes `key` of its replicated state.
    pub fn delete(&mut self, i: u32, key: &str) -> Result<(), ItemError> {
        let now = self.now;
        if let Some(e) = self.running_engine(i) {
            e.delete(now, key)?;
            self.flush(i);
        }
        Ok(())
    }

    /// What a `Rumor` or `Updated` record said: the content its `detail`
    /// points to.
    pub fn content(&self, record: &Record) -> Option<&Content> {
        self.contents.get(record.detail as usize)
    }

    /// Stores what a rumor or state change event said, once per item;
    /// returns its index ([`NO_DETAIL`] for other events).
    fn content_of(&mut self, ev: &Event) -> u32 {
        let (key, content) = match ev {
            Event::Rumor { origin, generation, version, payload } => match self.index(origin) {
                Some(s) => {
                    (ItemKey::new(s, *generation, *version, None), Content::Rumor(payload.clone()))
                }
                None => return NO_DETAIL,
            },
            Event::Updated { member, generation, version, key, value } => {
                match self.index(member) {
                    Some(s) => (
                        ItemKey::new(s, *generation, *version, Some(key.clone())),
                        Content::Update(key.clone(), value.clone()),
                    ),
                    None => return NO_DETAIL,
                }
            }
            Event::Failed { reason: Some(reason), .. } => {
                // One per failure seen: not shared, not indexed.
                let at = self.contents.len() as u32;
                self.contents.push(Content::Failure(*reason));
                return at;
            }
            Event::Refuted { accusation, .. } => {
                // One per refutation: not shared, not indexed.
                let at = self.contents.len() as u32;
                self.contents.push(Content::Accusation(*accusation));
                return at;
            }
            _ => return NO_DETAIL,
        };
        if let Some(&at) = self.content_index.get(&key) {
            return at;
        }
        let at = self.contents.len() as u32;
        self.contents.push(content);
        self.content_index.insert(key, at);
        at
    }

    /// `subject`'s value of `key` as node `observer` knows it.
    pub fn get(&self, observer: u32, subject: u32, key: &str) -> Option<&Value> {
        self.engine(observer)?.get(&self.nodes[subject as usize].name, key)
    }

    /// Crashes node `i`: it stops at once, without a word.
    pub fn kill(&mut self, i: u32) {
        let node = &mut self.nodes[i as usize];
        if let Some(old) = node.engine.take() {
            node.earlier.add(old.stats());
            node.paused_until = None;
            node.stalled_until = None;
            self.drop_inbox(i);
            self.record(i, RecordKind::Killed, i, 0);
        }
    }

    /// Crashes node `i`'s whole host: it stops at once, like
    /// [`Simulation::kill`], but its address stays silent (no closed-port
    /// answer), as a host powered off or cut from the network does.
    /// [`Simulation::restart`] brings it back.
    pub fn crash_host(&mut self, i: u32) {
        self.kill(i);
        self.nodes[i as usize].host_down = true;
    }

    /// Restarts node `i` as a fresh engine (same name and address,
    /// incarnation 0) that joins through its earlier seeds, or through a
    /// random running node if none of those runs. Its incarnation ends up
    /// above its earlier life's once it hears of that life.
    pub fn restart(&mut self, i: u32) {
        self.boot(i);
        self.record(i, RecordKind::Restarted, i, 0);
        let mut seeds: Vec<u32> = self.nodes[i as usize]
            .seeds
            .iter()
            .copied()
            .filter(|&s| s != i && self.is_running(s))
            .collect();
        if seeds.is_empty() {
            let running: Vec<u32> =
                (0..self.len() as u32).filter(|&s| s != i && self.is_running(s)).collect();
            if !running.is_empty() {
                seeds.push(running[self.rng.next_u64() as usize % running.len()]);
            }
        }
        if !seeds.is_empty() {
            self.join(i, &seeds);
        }
    }

    /// Restarts node `i` like [`Simulation::restart`], but listening on a
    /// new port (the next one up): a member that comes back under its name
    /// at another address, as after a redeploy. Its old address reaches
    /// nobody from then on; datagrams already on their way to it are lost.
    pub fn restart_on_new_port(&mut self, i: u32) {
        let old = self.nodes[i as usize].addr;
        let new = SocketAddr::new(old.ip(), old.port().wrapping_add(1));
        self.by_addr.remove(&old);
        self.by_addr.insert(new, i);
        self.nodes[i as usize].addr = new;
        let mut lost = Vec::new();
        self.deliveries.retain(|Reverse(d)| {
            if d.dst == i {
                lost.push(d.packet.payload.len());
            }
            d.dst != i
        });
        let stats = &mut self.nodes[i as usize].stats;
        for len in lost {
            stats.datagrams_missed += 1;
            stats.bytes_missed += len as u64;
            self.current.datagrams_dropped += 1;
        }
        self.restart(i);
    }

    /// Restarts node `i` like [`Simulation::restart_on_new_port`], but its
    /// old port stays closed on a live host: each datagram sent there draws
    /// an unreachable (the process exited; its host answers for the port),
    /// so a seed checking that address finds it gone at once.
    pub fn restart_on_new_port_closed(&mut self, i: u32) {
        let old = self.nodes[i as usize].addr;
        self.restart_on_new_port(i);
        self.closed_ports.insert(old, i);
    }

    /// Adds a node at an address of its own but under node `of`'s name: a
    /// second process started with a live member's name (a mistake the
    /// cluster must refuse). Not joined; returns its index. The log names
    /// its records' subject by name, so they count as `of`'s.
    pub fn add_impostor(&mut self, of: u32) -> u32 {
        let i = self.push_node(None);
        self.by_name.remove(&self.nodes[i as usize].name);
        self.nodes[i as usize].name = self.nodes[of as usize].name.clone();
        self.boot(i);
        i
    }

    /// Restarts node `i` as a fresh engine that joins through `seeds`,
    /// running or not, as a process started with a fixed seed list does
    /// (after a restart of the whole cluster, those may still be down);
    /// with no seeds it waits to be joined.
    pub fn restart_through(&mut self, i: u32, seeds: &[u32]) {
        self.boot(i);
        self.record(i, RecordKind::Restarted, i, 0);
        if !seeds.is_empty() {
            self.join(i, seeds);
        }
    }

    /// Sets how many payload bytes of datagrams a paused node holds for
    /// when it resumes (default [`DEFAULT_RECEIVE_BUFFER`]; 0 loses all).
    pub fn set_receive_buffer(&mut self, bytes: usize) {
        self.receive_buffer = bytes;
    }

    /// Pauses node `i` for `d`: a stopped process that neither sends,
    /// receives nor runs timers, then resumes with its state. Datagrams
    /// sent to it meanwhile wait in its receive buffer, as in a real
    /// socket's, up to [`Simulation::set_receive_buffer`] bytes (the rest
    /// are missed); on resuming it handles them, oldest first, then its
    /// overdue timers.
    pub fn pause(&mut self, i: u32, d: Duration) {
        let node = &mut self.nodes[i as usize];
        if node.engine.is_none() {
            return;
        }
        let until = self.now + d;
        let already = node.paused_until.is_some();
        node.paused_until = Some(node.paused_until.map_or(until, |u| u.max(until)));
        self.wakeups.push(Reverse((until, i)));
        if !already {
            self.record(i, RecordKind::Paused, i, 0);
        }
    }

    /// Stalls node `i`'s receiving for `d`: its timers keep firing and it
    /// keeps sending, but it reads nothing from its socket, so what reaches
    /// it waits in its receive buffer (up to
    /// [`Simulation::set_receive_buffer`] bytes; the rest is missed) and is
    /// handled, oldest first, when the stall ends. A process whose receive
    /// loop is blocked while its other threads run: Lifeguard's "slow
    /// message processing", the case that makes a healthy node accuse
    /// others (its probes time out while the acks wait unread).
    pub fn stall(&mut self, i: u32, d: Duration) {
        let node = &mut self.nodes[i as usize];
        if node.engine.is_none() {
            return;
        }
        let until = self.now + d;
        let already = node.stalled_until.is_some();
        node.stalled_until = Some(node.stalled_until.map_or(until, |u| u.max(until)));
        self.wakeups.push(Reverse((until, i)));
        if !already {
            self.record(i, RecordKind::Stalled, i, 0);
        }
    }

    /// Whether node `i`'s receiving is stalled.
    pub fn is_stalled(&self, i: u32) -> bool {
        self.nodes[i as usize].stalled_until.is_some()
    }

    fn running_engine(&mut self, i: u32) -> Option<&mut Engine> {
        let node = &mut self.nodes[i as usize];
        if node.paused_until.is_some() {
            return None;
        }
        node.engine.as_mut()
    }

    fn schedule(&mut self, i: u32) {
        let node = &mut self.nodes[i as usize];
        if let Some(t) = node.engine.as_ref().and_then(|e| e.poll_timeout()) {
            if node.queued != Some(t) {
                node.queued = Some(t);
                self.wakeups.push(Reverse((t, i)));
            }
        }
    }

    /// The wakeup `(t, i)` left the heap.
    fn popped(&mut self, t: Duration, i: u32) {
        let node = &mut self.nodes[i as usize];
        if node.queued == Some(t) {
            node.queued = None;
        }
    }

    fn record(&mut self, node: u32, kind: RecordKind, subject: u32, incarnation: u64) {
        self.record_with(node, kind, subject, incarnation, NO_DETAIL);
    }

    /// Writes a record: counted always, kept in the log if its kind is.
    fn record_with(
        &mut self,
        node: u32,
        kind: RecordKind,
        subject: u32,
        incarnation: u64,
        detail: u32,
    ) {
        self.count_record(kind);
        if self.keeps(kind) {
            self.log.push(Record { time: self.now, node, kind, subject, incarnation, detail });
        }
    }

    /// Counts a record of `kind`, kept in the log or not.
    fn count_record(&mut self, kind: RecordKind) {
        self.current.records += 1;
        self.written[kind as usize] += 1;
    }

    /// Whether records of `kind` are kept in the log.
    fn keeps(&self, kind: RecordKind) -> bool {
        self.kept & 1 << kind as u32 != 0
    }

    /// Moves what engine `i` produced into the network and the log.
    fn flush(&mut self, i: u32) {
        // A Joined record left out of the log is only counted: a mass
        // join's n² of them are never built (nor looked up, nor interned).
        let count_joined = !self.keeps(RecordKind::Joined);
        let node = &mut self.nodes[i as usize];
        let Some(engine) = node.engine.as_mut() else { return };
        // Reused from flush to flush: one per datagram handled, so fresh
        // ones cost a few allocations per datagram (a grown Vec is a
        // realloc per doubling).
        let mut transmits = core::mem::take(&mut self.transmits);
        while let Some(t) = engine.poll_transmit() {
            transmits.push(t);
        }
        let mut events = core::mem::take(&mut self.events);
        let mut joined = 0;
        loop {
            if count_joined && engine.skip_joined_event() {
                joined += 1;
                continue;
            }
            let Some(ev) = engine.poll_event() else { break };
            events.push(ev);
        }
        for _ in 0..joined {
            self.count_record(RecordKind::Joined);
        }
        let mut rejoin = false;
        // This node's own incarnation, for the events about itself: read
        // only for those (a mass join's 10⁸ Joined events need not copy
        // the local member each).
        let own = |sim: &Simulation| {
            sim.nodes[i as usize].engine.as_ref().map_or(0, |e| e.local_member().incarnation)
        };
        for ev in events.drain(..) {
            let detail = self.content_of(&ev);
            let about = |m: &Member| (self.index(&m.name), m.incarnation);
            let (kind, (subject, incarnation)) = match &ev {
                Event::Joined(m) => (RecordKind::Joined, about(m)),
                Event::Left(m) => (RecordKind::Left, about(m)),
                Event::Failed { member, .. } => (RecordKind::Failed, about(member)),
                Event::Suspected(m) => (RecordKind::Suspected, about(m)),
                Event::Alive(m) => (RecordKind::Alive, about(m)),
                Event::Restarted { member, .. } => (RecordKind::Restart, about(member)),
                Event::Refuted { incarnation, .. } => {
                    (RecordKind::Refuted, (Some(i), *incarnation))
                }
                Event::JoinSucceeded { .. } => (RecordKind::JoinSucceeded, (Some(i), own(self))),
                Event::JoinFailed { .. } => (RecordKind::JoinFailed, (Some(i), own(self))),
                Event::JoinConflict { .. } => (RecordKind::JoinConflict, (Some(i), own(self))),
                Event::LeaveDone => (RecordKind::LeaveDone, (Some(i), own(self))),
                Event::RejoinDue => {
                    // Joins again through the seeds it last joined through
                    // (the simulated network has no names to resolve
                    // again); the join's own records show it.
                    rejoin = true;
                    continue;
                }
                Event::Rumor { origin, version, .. } => {
                    (RecordKind::Rumor, (self.index(origin), *version))
                }
                Event::Updated { member, version, .. } => {
                    (RecordKind::Updated, (self.index(member), *version))
                }
            };
            self.record_with(i, kind, subject.unwrap_or(u32::MAX), incarnation, detail);
        }
        self.events = events;
        for t in transmits.drain(..) {
            let len = t.payload.len() as u64;
            let stats = &mut self.nodes[i as usize].stats;
            stats.datagrams_sent += 1;
            stats.bytes_sent += len;
            self.current.datagrams_sent += 1;
            self.current.bytes_sent += len;
            let fate = match self.by_addr.get(&t.dst) {
                Some(&dst) if t.stream => (dst, self.network.stream_fate(i, dst, &mut self.rng)),
                Some(&dst) => (dst, self.network.fate(i, dst, &mut self.rng)),
                None => {
                    if let Some(&host) = self.closed_ports.get(&t.dst).filter(|_| !t.stream) {
                        self.answer_closed(i, host, t.dst);
                    }
                    (u32::MAX, Fate::Dropped)
                }
            };
            let stream = t.stream;
            match fate {
                (dst, Fate::Delivered(delays)) => {
                    let last = delays.len() - 1;
                    let mut payload = Some(t.payload);
                    for (k, delay) in delays.into_iter().enumerate() {
                        let bytes = if k == last {
                            payload.take().unwrap_or_default()
                        } else {
                            payload.clone().unwrap_or_default()
                        };
                        self.order += 1;
                        self.deliveries.push(Reverse(Delivery {
                            at: self.now + delay,
                            order: self.order,
                            dst,
                            packet: Packet { src: i, payload: bytes, stream, refused: None },
                        }));
                    }
                }
                (_, Fate::Dropped) => {
                    self.current.datagrams_dropped += 1;
                    let stats = &mut self.nodes[i as usize].stats;
                    stats.datagrams_dropped += 1;
                    stats.bytes_dropped += t.payload.len() as u64;
                    if let Ok(msgs) = codec::decode(&t.payload, usize::MAX) {
                        for m in msgs {
                            stats.messages_dropped[m.kind() as usize] += 1;
                        }
                    }
                }
            }
        }
        self.transmits = transmits;
        self.schedule(i);
        let seeds = &self.nodes[i as usize].seeds;
        if rejoin && !seeds.is_empty() {
            let seeds = seeds.clone();
            self.join(i, &seeds);
        }
    }

    /// A datagram from `src` to the closed port `addr` on `host`'s host:
    /// the unreachable comes back after the round trip (either way lost or
    /// blocked like any datagram).
    fn answer_closed(&mut self, src: u32, host: u32, addr: SocketAddr) {
        let Fate::Delivered(there) = self.network.fate(src, host, &mut self.rng) else { return };
        let Fate::Delivered(back) = self.network.fate(host, src, &mut self.rng) else { return };
        self.order += 1;
        self.deliveries.push(Reverse(Delivery {
            at: self.now + there[0] + back[0],
            order: self.order,
            dst: src,
            packet: Packet { src: host, payload: Vec::new(), stream: false, refused: Some(addr) },
        }));
    }

    fn close_intervals(&mut self, upto: Duration) {
        while self.current.start + self.interval <= upto {
            let next = self.current.start + self.interval;
            self.intervals.push(self.current);
            self.current = Interval { start: next, ..Interval::default() };
        }
    }

    fn next_wakeup(&mut self) -> Option<Duration> {
        // Drop stale entries: the engine's deadline moved, or it is down.
        while let Some(&Reverse((t, i))) = self.wakeups.peek() {
            let node = &self.nodes[i as usize];
            let live = match (&node.engine, node.paused_until) {
                (None, _) => false,
                (Some(_), Some(until)) => until == t,
                (Some(e), None) => e.poll_timeout() == Some(t) || node.stalled_until == Some(t),
            };
            if live {
                return Some(t);
            }
            self.wakeups.pop();
            self.popped(t, i);
        }
        None
    }

    /// Performs the next action due at or before `until`: one delivery or
    /// one node's timers. Returns false if there is none.
    pub fn step(&mut self, until: Duration) -> bool {
        let next_delivery = self.deliveries.peek().map(|Reverse(d)| d.at);
        let next_wakeup = self.next_wakeup();
        let next = match (next_delivery, next_wakeup) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        if next > until {
            return false;
        }
        self.close_intervals(next);
        self.now = next;
        if next_delivery == Some(next) {
            let Some(Reverse(Delivery { dst, packet, .. })) = self.deliveries.pop() else {
                return false;
            };
            let node = &mut self.nodes[dst as usize];
            let held = node.paused_until.is_some() || node.stalled_until.is_some();
            let len = packet.payload.len();
            match (&mut node.engine, held) {
                (Some(_), false) => self.hand_over(dst, &packet),
                (Some(_), true) if node.inbox_bytes + len <= self.receive_buffer => {
                    node.inbox_bytes += len;
                    node.inbox.push_back(packet);
                }
                (None, _) if !node.host_down && !packet.stream && packet.refused.is_none() => {
                    // A killed process on a live host: its port is closed,
                    // and the host answers the sender with a port-unreachable
                    // (lost or blocked like any datagram on the way back).
                    Self::count_missed(&mut node.stats, &packet.payload);
                    self.current.datagrams_dropped += 1;
                    let addr = node.addr;
                    let src = packet.src;
                    if let Fate::Delivered(delays) = self.network.fate(dst, src, &mut self.rng) {
                        self.order += 1;
                        self.deliveries.push(Reverse(Delivery {
                            at: self.now + delays[0],
                            order: self.order,
                            dst: src,
                            packet: Packet {
                                src: dst,
                                payload: Vec::new(),
                                stream: false,
                                refused: Some(addr),
                            },
                        }));
                    }
                }
                _ => {
                    Self::count_missed(&mut node.stats, &packet.payload);
                    self.current.datagrams_dropped += 1;
                }
            }
            return true;
        }
        let Some(Reverse((t, i))) = self.wakeups.pop() else { return false };
        self.popped(t, i);
        let now = self.now;
        let node = &mut self.nodes[i as usize];
        if node.paused_until.is_some_and(|u| u <= now) {
            node.paused_until = None;
            self.record(i, RecordKind::Resumed, i, 0);
            self.read_inbox(i);
        }
        let node = &mut self.nodes[i as usize];
        if node.stalled_until.is_some_and(|u| u <= now) {
            node.stalled_until = None;
            self.record(i, RecordKind::Unstalled, i, 0);
            self.read_inbox(i);
        }
        // A stalled node's timers run while datagrams wait unread: tell
        // it how many, as a driver that checks its socket's receive queue
        // before handling a timer would (load shedding).
        let waiting = self.nodes[i as usize].inbox.len();
        if let Some(e) = self.running_engine(i) {
            e.note_backlog(now, waiting);
            e.handle_timeout(now);
            self.flush(i);
        }
        true
    }

    /// Node `i` reads what waited in its receive buffer, oldest first,
    /// unless it is still paused or stalled.
    fn read_inbox(&mut self, i: u32) {
        let node = &mut self.nodes[i as usize];
        if node.paused_until.is_some() || node.stalled_until.is_some() {
            return;
        }
        let inbox = core::mem::take(&mut node.inbox);
        node.inbox_bytes = 0;
        // The backlog it is about to read, as a driver would see it.
        let now = self.now;
        if let Some(e) = node.engine.as_mut() {
            e.note_backlog(now, inbox.len());
        }
        for packet in inbox {
            self.hand_over(i, &packet);
        }
    }

    /// Hands a datagram (or stream payload) from node `src` to node `dst`'s
    /// engine, counting it, and moves what the engine produced on.
    fn hand_over(&mut self, dst: u32, packet: &Packet) {
        let Packet { src, ref payload, stream, refused } = *packet;
        let (now, from) = (self.now, self.nodes[src as usize].addr);
        let node = &mut self.nodes[dst as usize];
        let Some(engine) = node.engine.as_mut() else { return };
        if let Some(addr) = refused {
            engine.handle_unreachable(now, addr);
            self.flush(dst);
            return;
        }
        node.stats.datagrams_received += 1;
        node.stats.bytes_received += payload.len() as u64;
        self.current.datagrams_delivered += 1;
        if stream {
            engine.handle_stream(now, from, payload);
        } else {
            engine.handle_packet(now, from, payload);
        }
        self.flush(dst);
    }

    fn count_missed(stats: &mut NodeStats, payload: &[u8]) {
        stats.datagrams_missed += 1;
        stats.bytes_missed += payload.len() as u64;
        if let Ok(msgs) = codec::decode(payload, usize::MAX) {
            for m in msgs {
                stats.messages_missed[m.kind() as usize] += 1;
            }
        }
    }

    /// Counts what waited in node `i`'s receive buffer as missed, and
    /// empties it.
    fn drop_inbox(&mut self, i: u32) {
        let node = &mut self.nodes[i as usize];
        for packet in core::mem::take(&mut node.inbox) {
            Self::count_missed(&mut node.stats, &packet.payload);
            self.current.datagrams_dropped += 1;
        }
        node.inbox_bytes = 0;
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: Duration) {
        while self.step(until) {}
        self.close_intervals(until);
        self.now = self.now.max(until);
    }

    /// Runs for `d` of virtual time.
    pub fn run_for(&mut self, d: Duration) {
        self.run_until(self.now + d);
    }

    /// Runs until `until`, or until a step writes to the event log; returns
    /// whether it stopped early for a record. Lets a caller react to each
    /// event at the virtual time it happened.
    pub fn run_until_record(&mut self, until: Duration) -> bool {
        let before = self.log.len();
        while self.step(until) {
            if self.log.len() > before {
                return true;
            }
        }
        self.close_intervals(until);
        self.now = self.now.max(until);
        false
    }

    /// Runs until `cond` holds, checking every `every` of virtual time, for
    /// at most `limit`; returns the time it first held.
    pub fn run_until_cond(
        &mut self,
        limit: Duration,
        every: Duration,
        mut cond: impl FnMut(&Simulation) -> bool,
    ) -> Option<Duration> {
        let end = self.now + limit;
        let every = every.max(Duration::from_micros(1));
        loop {
            if cond(self) {
                return Some(self.now);
            }
            if self.now >= end {
                return None;
            }
            let next = (self.now + every).min(end);
            self.run_until(next);
        }
    }

    /// Whether every running node sees every running node alive.
    ///
    /// Costs O(running × stopped) lookups, not O(n²): a node's view holds
    /// every running node alive exactly when its count of alive members,
    /// less the stopped nodes it holds alive, equals the number running.
    pub fn converged(&self) -> bool {
        let (up, down): (Vec<u32>, Vec<u32>) =
            (0..self.len() as u32).partition(|&i| self.is_running(i));
        up.iter().all(|&i| {
            let Some(e) = self.engine(i) else { return false };
            let stale = down.iter().filter(|&&j| self.state(i, j) == Some(MemberState::Alive));
            e.count(MemberState::Alive) - stale.count() == up.len()
        })
    }

    /// Bytes the queue of datagrams in flight keeps allocated (its
    /// capacity: it keeps what the busiest instant needed). The
    /// simulator's own memory, which benchmarks tell apart from the
    /// engines'.
    pub fn queue_bytes(&self) -> usize {
        self.deliveries.capacity() * core::mem::size_of::<Reverse<Delivery>>()
    }

    /// Bytes the event log's own allocations hold: records, interval
    /// counters and contents at their capacity (a `Vec` grown by doubling
    /// holds up to twice its length), the content index approximately, and
    /// not the heap of rumor payloads and values. For benchmarks that tell
    /// the engines' memory from the simulator's own.
    pub fn log_bytes(&self) -> usize {
        use core::mem::size_of;
        self.log.capacity() * size_of::<Record>()
            + self.intervals.capacity() * size_of::<Interval>()
            + self.contents.capacity() * size_of::<Content>()
            + self.content_index.capacity() * (size_of::<(ItemKey, u32)>() + 1)
    }

    /// Whether every running node other than `subject` holds it in `state`.
    pub fn all_see(&self, subject: u32, state: MemberState) -> bool {
        (0..self.len() as u32)
            .filter(|&j| j != subject && self.is_running(j))
            .all(|j| self.state(j, subject) == Some(state))
    }

    /// How many running nodes other than `subject` hold it in `state`.
    pub fn count_seeing(&self, subject: u32, state: MemberState) -> usize {
        (0..self.len() as u32)
            .filter(|&j| {
                j != subject && self.is_running(j) && self.state(j, subject) == Some(state)
            })
            .count()
    }
}

#[cfg(test)]
mod tests;

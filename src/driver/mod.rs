//! The tokio driver: real UDP sockets and real time for one engine per node.
//!
//! One process-wide multi-threaded runtime, started lazily, runs a task per
//! node. The task owns the socket; the engine sits behind a mutex that the
//! task and the [`Node`] handle take only for short, non-blocking calls, so
//! nothing on the I/O path ever waits for a caller (or for Python's GIL).

mod hub;
mod recverr;
mod runtime;
mod seeds;
mod stream;

pub use hub::EventHub;
pub use runtime::runtime;
pub use seeds::{system_resolver, Resolved, Resolver};

use crate::codec::Value;
use crate::proto::{
    Config, ConfigError, Engine, Event, Gauges, ItemError, Member, MetaTooLarge, Stats,
};
use parking_lot::{Condvar, Mutex};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::Notify;

/// Events waiting for a consumer beyond this many are dropped (and counted
/// in `events_dropped`) rather than growing without bound.
pub const EVENT_QUEUE_CAPACITY: usize = 65_536;

/// Why a node could not start or a command failed.
#[derive(Debug)]
pub enum DriverError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The socket could not be bound.
    Bind(io::Error),
    /// The address to advertise is unspecified (`0.0.0.0` / `::`), or the
    /// bind address is and the host has no routable address to use
    /// instead: other members would not know where to reach this node.
    UnspecifiedAddress(SocketAddr),
    /// Metadata larger than the configured limit.
    Meta(MetaTooLarge),
    /// A broadcast payload, key or value the engine refused.
    Item(ItemError),
    /// The node is closed.
    Closed,
    /// The operating system gave no randomness for encryption nonces.
    Entropy(String),
    /// A keyring change was refused.
    Keyring(crate::codec::KeyringError),
}

impl fmt::Display for DriverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DriverError::Config(e) => e.fmt(f),
            DriverError::Bind(e) => write!(f, "cannot bind the gossip socket: {e}"),
            DriverError::UnspecifiedAddress(a) if a.ip().is_unspecified() => write!(
                f,
                "address {a} is unspecified and this host has no routable address of its \
                 family; give `advertise` (or bind) an address other members can reach"
            ),
            DriverError::UnspecifiedAddress(a) => {
                write!(f, "address {a} cannot be advertised: other members cannot reach it")
            }
            DriverError::Meta(e) => e.fmt(f),
            DriverError::Item(e) => e.fmt(f),
            DriverError::Closed => f.write_str("the node is closed"),
            DriverError::Entropy(e) => write!(f, "no randomness from the operating system: {e}"),
            DriverError::Keyring(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for DriverError {}

/// What callers wait for, guarded by one mutex and woken by one condvar.
#[derive(Default)]
struct Waiters {
    events: VecDeque<Event>,
    events_dropped: u64,
    joins: HashMap<u64, bool>,
    /// Joins refused because a live member holds this node's name: where.
    conflicts: HashMap<u64, SocketAddr>,
    leave_done: bool,
    stopped: bool,
    /// Tokens of the joins the driver started by itself (rejoins): their
    /// outcome is nobody's to wait for. At most a few at a time.
    background: Vec<u64>,
    /// The hub this node's events are announced on, and its key there.
    hub: Option<(Arc<EventHub>, u64)>,
    /// On the hub's ready queue or being served (see [`Node::release`]).
    scheduled: bool,
}

/// An empty event queue keeps at most this many slots (about 120 bytes
/// each); a larger one is freed.
const EVENT_QUEUE_KEPT: usize = 32;

impl Waiters {
    /// Frees the event queue's slots once it is empty, if it grew: a mass
    /// join queues an event per member (1,000 at 1,000 members, 120 KiB of
    /// slots) that the queue would otherwise keep for the node's life.
    fn let_go_of_a_drained_queue(&mut self) {
        if self.events.is_empty() && self.events.capacity() > EVENT_QUEUE_KEPT {
            self.events = VecDeque::new();
        }
    }

    /// Puts this node on its hub's ready queue, unless it is there already
    /// or being served (then [`Node::release`] puts it back).
    fn schedule(&mut self) {
        if let Some((hub, key)) = &self.hub {
            if !self.scheduled {
                self.scheduled = true;
                hub.push(*key);
            }
        }
    }
}

/// How [`Node::join_names`] ended.
#[derive(Debug, Clone)]
pub enum JoinOutcome {
    /// A seed answered.
    Joined,
    /// None did in time; what the last attempt found of each seed.
    Failed(Resolved),
    /// A live member at this address holds the node's name
    /// ([`Event::JoinConflict`]): joining again would fail the same way.
    Conflict(SocketAddr),
    /// The node closed meanwhile.
    Closed,
}

/// What [`Node::release`] did with a node its consumer is done with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// No events left: off the ready queue until the next one.
    Idle,
    /// More events came meanwhile: back on the ready queue.
    Again,
    /// The node has stopped and every event was taken: nothing will come.
    Finished,
}

struct Shared {
    engine: Mutex<Engine>,
    origin: Instant,
    wake: Notify,
    shutdown: Notify,
    closed: AtomicBool,
    waiters: Mutex<Waiters>,
    changed: Condvar,
    name: String,
    /// The advertised address: what the other members use.
    addr: SocketAddr,
    /// The address the socket is bound to.
    bound: SocketAddr,
    /// The seeds of the last join, as given, for rejoins.
    seeds: Mutex<Vec<String>>,
    /// How seed names become addresses.
    resolver: Mutex<Resolver>,
    /// The engine asked to rejoin ([`Event::RejoinDue`]).
    rejoin_due: AtomicBool,
    send_errors: std::sync::atomic::AtomicU64,
    /// Incoming streams dropped: bad frame, too large, too slow.
    streams_refused: std::sync::atomic::AtomicU64,
    /// Stops the stream listener.
    shutdown_streams: Notify,
    /// The node's task panicked (a bug): the node is closed.
    panicked: AtomicBool,
}

impl Shared {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Runs `f` on the engine, then wakes the task so it sends what `f` queued.
    fn command<R>(&self, f: impl FnOnce(&mut Engine, Duration) -> R) -> Result<R, DriverError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DriverError::Closed);
        }
        let r = {
            let mut engine = self.engine.lock();
            f(&mut engine, self.now())
        };
        self.wake.notify_one();
        Ok(r)
    }

    fn wait<T>(
        &self,
        timeout: Duration,
        mut ready: impl FnMut(&mut Waiters) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut w = self.waiters.lock();
        loop {
            if let Some(v) = ready(&mut w) {
                return Some(v);
            }
            if w.stopped || self.changed.wait_until(&mut w, deadline).timed_out() {
                return ready(&mut w);
            }
        }
    }
}

/// What a driver counts and holds beside the engine's [`Stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DriverStats {
    /// Datagrams or streams the operating system refused to send.
    pub send_errors: u64,
    /// Events dropped because the application did not take them in time.
    pub events_dropped: u64,
    /// Incoming streams refused (too many at once, or too large).
    pub streams_refused: u64,
    /// Events waiting for the application.
    pub event_queue: usize,
    /// The node's task panicked; the node is stopped.
    pub panicked: bool,
}

/// A running member on a real UDP socket. Dropping the last handle closes it.
pub struct Node {
    shared: Arc<Shared>,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.shared.name)
            .field("addr", &self.shared.addr)
            .finish()
    }
}

impl Node {
    /// Binds `bind`, creates the engine and starts the node's task.
    ///
    /// `advertise` is the address other members are told to use (port 0:
    /// the bound port); without it, the bound address, or, if that is
    /// `0.0.0.0` or `[::]`, the host's routable address of that family
    /// (an error if it has none). `name` defaults to the advertised
    /// address; `seed` to a random one.
    pub fn start(
        name: Option<String>,
        bind: SocketAddr,
        advertise: Option<SocketAddr>,
        config: Config,
        meta: Vec<u8>,
        seed: Option<u64>,
    ) -> Result<Node, DriverError> {
        config.validate().map_err(DriverError::Config)?;
        if meta.len() > config.max_meta_size {
            return Err(DriverError::Meta(MetaTooLarge {
                len: meta.len(),
                max: config.max_meta_size,
            }));
        }
        if let Some(a) = advertise.filter(|a| a.ip().is_unspecified()) {
            return Err(DriverError::UnspecifiedAddress(a));
        }
        let (std_socket, std_listener) = stream::bind_pair(bind, config.max_stream_size > 0)?;
        std_socket.set_nonblocking(true).map_err(DriverError::Bind)?;
        // Closed ports (ICMP port-unreachable) reported on the error queue:
        // crash evidence for the engine. Failing that, nothing changes.
        let _ = recverr::enable(&std_socket);
        let bound = std_socket.local_addr().map_err(DriverError::Bind)?;
        let addr = seeds::advertised(bound, advertise)?;
        let (socket, listener) = {
            let _guard = runtime().enter();
            let socket = UdpSocket::from_std(std_socket).map_err(DriverError::Bind)?;
            let listener = match std_listener {
                Some(l) => {
                    l.set_nonblocking(true).map_err(DriverError::Bind)?;
                    Some(tokio::net::TcpListener::from_std(l).map_err(DriverError::Bind)?)
                }
                None => None,
            };
            (socket, listener)
        };
        let name = name.unwrap_or_else(|| addr.to_string());
        let seed = seed.unwrap_or_else(random_seed);
        let origin = Instant::now();
        // One interner for every node of the process: a process hosting a
        // thousand nodes holds each member's name, address and metadata
        // once, not once per node (issue 16, compact views). Sharing
        // changes where the bytes live, never what an engine does.
        static NAMES: std::sync::OnceLock<Arc<crate::proto::Names>> = std::sync::OnceLock::new();
        let names = NAMES.get_or_init(crate::proto::Names::new).clone();
        let mut engine =
            Engine::with_names(config, name.clone(), addr, seed, Duration::ZERO, names)
                .map_err(DriverError::Config)?;
        if !meta.is_empty() {
            engine.set_meta(Duration::ZERO, meta).map_err(DriverError::Meta)?;
        }
        // Which life of this member: the boot time, which grows from one
        // start of a process to the next. Only ever compared with this
        // member's own earlier lives.
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        engine.set_generation(boot);
        // Nonces of sealed datagrams come from the OS, never from `seed`
        // (which a user may set to the same value on every node).
        let mut entropy = [0u8; 32];
        getrandom::fill(&mut entropy).map_err(|e| DriverError::Entropy(e.to_string()))?;
        engine.set_entropy(entropy);
        let shared = Arc::new(Shared {
            engine: Mutex::new(engine),
            origin,
            wake: Notify::new(),
            shutdown: Notify::new(),
            closed: AtomicBool::new(false),
            waiters: Mutex::new(Waiters::default()),
            changed: Condvar::new(),
            name,
            addr,
            bound,
            seeds: Mutex::new(Vec::new()),
            resolver: Mutex::new(system_resolver()),
            rejoin_due: AtomicBool::new(false),
            send_errors: Default::default(),
            streams_refused: Default::default(),
            shutdown_streams: Notify::new(),
            panicked: AtomicBool::new(false),
        });
        runtime().spawn(run(shared.clone(), socket));
        if let Some(listener) = listener {
            runtime().spawn(stream::accept(shared.clone(), listener));
        }
        Ok(Node { shared })
    }

    /// This member's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The advertised address: where the other members reach this node.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The address the socket is bound to (the real port if 0 was asked).
    pub fn bound_addr(&self) -> SocketAddr {
        self.shared.bound
    }

    /// Replaces how seed names are resolved (the system's by default).
    pub fn set_resolver(&self, resolver: Resolver) {
        *self.shared.resolver.lock() = resolver;
    }

    /// Resolves `seeds` now, for one join attempt: blocks on the resolver.
    /// Joins resolve their seeds again at every attempt, so a seed whose
    /// name did not resolve yet, or moved, is found when it does.
    pub fn resolve_seeds(&self, seeds: &[String]) -> Resolved {
        let resolver = self.shared.resolver.lock().clone();
        seeds::resolve(&resolver, seeds, self.shared.addr)
    }

    /// Joins through the seed names `seeds` until one answers or
    /// `timeout`, resolving them again at every attempt of
    /// [`JOIN_ATTEMPT`], so a seed whose name resolves only later, or to a
    /// new address, is still found; they are also the seeds rejoins use
    /// ([`Event::RejoinDue`]). `wait(node, token, until)` waits for an
    /// attempt's outcome as [`Node::wait_join`] does, until `until` at most
    /// (the caller's chance to handle signals); its error ends the join.
    pub fn join_names<E>(
        &self,
        seeds: &[String],
        timeout: Duration,
        mut wait: impl FnMut(&Node, u64, Instant) -> Result<Option<bool>, E>,
    ) -> Result<JoinOutcome, E> {
        *self.shared.seeds.lock() = seeds.to_vec();
        let deadline = Instant::now() + timeout;
        loop {
            let now = Instant::now();
            let attempt_end = (now + JOIN_ATTEMPT).min(deadline);
            let found = self.resolve_seeds(seeds);
            if self.is_closed() {
                return Ok(JoinOutcome::Closed);
            }
            if found.addrs.is_empty() {
                let own = |(_, note): &(String, Option<&str>)| *note == Some(seeds::OWN);
                if found.seeds.iter().all(own) {
                    return Ok(JoinOutcome::Failed(found)); // can never change
                }
                // Nothing to send to yet: wait for the next attempt.
                wait(self, u64::MAX, attempt_end)?;
            } else {
                let Ok(token) = self.start_join(&found.addrs, attempt_end - now) else {
                    return Ok(JoinOutcome::Closed);
                };
                // The engine gives up at the attempt's end; the margin
                // only covers a stalled runtime.
                if wait(self, token, attempt_end + Duration::from_secs(1))? == Some(true) {
                    return Ok(JoinOutcome::Joined);
                }
                if let Some(holder) = self.join_conflict(token) {
                    return Ok(JoinOutcome::Conflict(holder));
                }
            }
            if self.is_closed() {
                return Ok(JoinOutcome::Closed);
            }
            if Instant::now() >= deadline {
                return Ok(JoinOutcome::Failed(found));
            }
        }
    }

    /// Whether the node's task died of a panic (a bug); such a node is
    /// closed.
    pub fn panicked(&self) -> bool {
        self.shared.panicked.load(Ordering::Acquire)
    }

    /// Whether the node is closed: [`Node::close`] was called, or its task
    /// ended.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Starts a join through `seeds` (see [`Engine::join`]); wait for the
    /// outcome with [`Node::wait_join`].
    pub fn start_join(&self, seeds: &[SocketAddr], timeout: Duration) -> Result<u64, DriverError> {
        self.shared.command(|e, now| e.join(now, seeds, timeout))
    }

    /// Waits up to `slice` for the outcome of join `token`: `Some(true)` if a
    /// seed answered, `Some(false)` if none did before the join's deadline,
    /// `None` if still pending (or the node closed).
    pub fn wait_join(&self, token: u64, slice: Duration) -> Option<bool> {
        self.shared.wait(slice, |w| w.joins.remove(&token))
    }

    /// Where the live member holding this node's name is, if join `token`
    /// failed for that ([`Event::JoinConflict`]); taken once.
    pub fn join_conflict(&self, token: u64) -> Option<SocketAddr> {
        self.shared.waiters.lock().conflicts.remove(&token)
    }

    /// Joins through `seeds`, blocking until a seed answers or `timeout`.
    /// Returns whether one answered.
    pub fn join(&self, seeds: &[SocketAddr], timeout: Duration) -> Result<bool, DriverError> {
        let token = self.start_join(seeds, timeout)?;
        loop {
            if let Some(ok) = self.wait_join(token, Duration::from_millis(100)) {
                return Ok(ok);
            }
            if self.is_closed() {
                return Err(DriverError::Closed);
            }
        }
    }

    /// Starts a graceful leave (see [`Engine::leave`]).
    pub fn start_leave(&self) -> Result<(), DriverError> {
        self.shared.command(|e, now| {
            if !e.is_leaving() {
                // A new leave (the first, or one after a rejoin): an earlier
                // leave's LeaveDone must not count for it. Under the engine
                // lock, taken before the waiters' as `drain` does, so no
                // LeaveDone of this leave can be drained in between.
                self.shared.waiters.lock().leave_done = false;
            }
            e.leave(now)
        })
    }

    /// Waits up to `slice` for the leave notice to be spread.
    pub fn wait_leave(&self, slice: Duration) -> bool {
        self.shared.wait(slice, |w| w.leave_done.then_some(())).is_some()
    }

    /// Sets this member's metadata.
    pub fn set_meta(&self, meta: Vec<u8>) -> Result<(), DriverError> {
        self.shared.command(|e, now| e.set_meta(now, meta))?.map_err(DriverError::Meta)
    }

    /// The encryption keys, the primary first (empty without encryption).
    pub fn keys(&self) -> Result<Vec<crate::codec::Key>, DriverError> {
        self.shared.command(|e, _| e.keys())
    }

    /// Accepts `key` too (see [`Engine::add_key`]).
    pub fn add_key(&self, key: crate::codec::Key) -> Result<(), DriverError> {
        self.shared.command(|e, _| e.add_key(key))?.map_err(DriverError::Keyring)
    }

    /// Seals with `key` from now on (see [`Engine::use_key`]).
    pub fn use_key(&self, key: crate::codec::Key) -> Result<(), DriverError> {
        self.shared.command(|e, _| e.use_key(key))?.map_err(DriverError::Keyring)
    }

    /// Stops accepting `key` (see [`Engine::remove_key`]).
    pub fn remove_key(&self, key: crate::codec::Key) -> Result<(), DriverError> {
        self.shared.command(|e, _| e.remove_key(key))?.map_err(DriverError::Keyring)
    }

    /// Broadcasts `payload` to every member; returns its sequence number.
    pub fn broadcast(&self, payload: Vec<u8>) -> Result<u64, DriverError> {
        self.shared.command(|e, now| e.broadcast(now, payload))?.map_err(DriverError::Item)
    }

    /// Sets `key` of this member's replicated state.
    pub fn set(&self, key: &str, value: Value) -> Result<u64, DriverError> {
        self.shared.command(|e, now| e.set(now, key, value))?.map_err(DriverError::Item)
    }

    /// Deletes `key` of this member's replicated state.
    pub fn delete(&self, key: &str) -> Result<u64, DriverError> {
        self.shared.command(|e, now| e.delete(now, key))?.map_err(DriverError::Item)
    }

    /// `member`'s value of `key`, as known here.
    pub fn get(&self, member: &str, key: &str) -> Option<Value> {
        self.shared.engine.lock().get(member, key).cloned()
    }

    /// `member`'s replicated key-value state, as known here, in key order.
    pub fn key_values(&self, member: &str) -> Vec<(String, Value)> {
        let engine = self.shared.engine.lock();
        engine.key_values(member).into_iter().map(|(k, v)| (k.to_owned(), v.clone())).collect()
    }

    /// The largest broadcast payload (with `key`: value) that fits.
    pub fn max_item_len(&self, key: Option<&str>) -> usize {
        self.shared.engine.lock().max_item_len(key)
    }

    /// One member as the engine knows it now.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.shared.engine.lock().member(name)
    }

    /// A snapshot of the member table.
    pub fn members(&self) -> Vec<Member> {
        self.shared.engine.lock().members().collect()
    }

    /// A snapshot of the engine's counters.
    pub fn stats(&self) -> Stats {
        self.shared.engine.lock().stats().clone()
    }

    /// What the driver counts and holds, beside the engine's [`Stats`].
    pub fn driver_stats(&self) -> DriverStats {
        let (events_dropped, event_queue) = {
            let w = self.shared.waiters.lock();
            (w.events_dropped, w.events.len())
        };
        DriverStats {
            send_errors: self.shared.send_errors.load(Ordering::Relaxed),
            events_dropped,
            streams_refused: self.shared.streams_refused.load(Ordering::Relaxed),
            event_queue,
            panicked: self.panicked(),
        }
    }

    /// Every datagram dropped, send failed, event lost or stream refused so
    /// far, in one number: a cheap look for whether anything went wrong
    /// since the last one (a full [`Node::stats`] copies every counter).
    pub fn trouble_total(&self) -> u64 {
        let dropped = self.shared.engine.lock().stats().dropped_total();
        let events_dropped = self.shared.waiters.lock().events_dropped;
        dropped
            + events_dropped
            + self.shared.send_errors.load(Ordering::Relaxed)
            + self.shared.streams_refused.load(Ordering::Relaxed)
    }

    /// The engine's gauges: members by state, queue depths, local health.
    pub fn gauges(&self) -> Gauges {
        self.shared.engine.lock().gauges()
    }

    /// Takes the next event (membership, rumor or state), waiting up to
    /// `timeout`. `None` on
    /// timeout, or once the node is closed and its queue drained.
    pub fn next_event(&self, timeout: Duration) -> Option<Event> {
        self.shared.wait(timeout, |w| {
            let ev = w.events.pop_front();
            w.let_go_of_a_drained_queue();
            ev
        })
    }

    /// Announces this node's events on `hub` under `key` from now on (see
    /// [`EventHub`]): instead of a thread per node waiting in
    /// [`Node::next_event`], a few consumers serve many nodes, and an idle
    /// node wakes no thread at all.
    pub fn attach_hub(&self, hub: Arc<EventHub>, key: u64) {
        let mut w = self.shared.waiters.lock();
        w.hub = Some((hub, key));
        w.scheduled = false;
        if !w.events.is_empty() || w.stopped {
            w.schedule();
        }
    }

    /// Takes up to `max` queued events without waiting (a hub consumer's
    /// batch: a bounded one, so one busy node does not starve the others).
    pub fn take_events(&self, max: usize) -> Vec<Event> {
        let mut w = self.shared.waiters.lock();
        let n = max.min(w.events.len());
        let batch = w.events.drain(..n).collect();
        w.let_go_of_a_drained_queue();
        batch
    }

    /// Hands the node back to its hub after a batch of
    /// [`Node::take_events`]: on the ready queue again if events came
    /// meanwhile, otherwise off it until the next event (or the stop).
    pub fn release(&self) -> Release {
        let mut w = self.shared.waiters.lock();
        if !w.events.is_empty() {
            if let Some((hub, key)) = &w.hub {
                hub.push(*key); // still scheduled
                return Release::Again;
            }
        }
        w.scheduled = false;
        if w.stopped && w.events.is_empty() {
            Release::Finished
        } else {
            Release::Idle
        }
    }

    /// Stops the node: its task ends and its socket closes before this
    /// returns (or after at most a second if the runtime is stuck).
    /// Idempotent.
    pub fn close(&self) {
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        self.shared.shutdown.notify_one();
        self.shared.shutdown_streams.notify_one();
        self.shared.wait(Duration::from_secs(1), |w| w.stopped.then_some(()));
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.close();
    }
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// Moves what the engine produced out of it: datagrams to `out`, events to
/// the waiters. Returns the engine's next deadline.
fn drain(
    shared: &Shared,
    engine: &mut Engine,
    out: &mut Vec<crate::proto::Transmit>,
) -> Option<Duration> {
    while let Some(t) = engine.poll_transmit() {
        out.push(t);
    }
    let mut notify = false;
    let mut w: Option<parking_lot::MutexGuard<'_, Waiters>> = None;
    while let Some(ev) = engine.poll_event() {
        let w = w.get_or_insert_with(|| shared.waiters.lock());
        notify = true;
        match ev {
            Event::JoinSucceeded { token, .. }
            | Event::JoinFailed { token }
            | Event::JoinConflict { token, .. }
                if w.background.contains(&token) =>
            {
                w.background.retain(|t| *t != token);
            }
            Event::JoinSucceeded { token, .. } => {
                w.joins.insert(token, true);
            }
            Event::JoinFailed { token } => {
                w.joins.insert(token, false);
            }
            Event::JoinConflict { token, holder } => {
                w.conflicts.insert(token, holder);
                w.joins.insert(token, false);
            }
            Event::RejoinDue => shared.rejoin_due.store(true, Ordering::Release),
            Event::LeaveDone => w.leave_done = true,
            other => {
                if w.events.len() >= EVENT_QUEUE_CAPACITY {
                    w.events_dropped += 1;
                } else {
                    w.events.push_back(other);
                }
            }
        }
    }
    if let Some(w) = w.as_mut().filter(|w| !w.events.is_empty()) {
        w.schedule();
    }
    drop(w);
    if notify {
        shared.changed.notify_all();
    }
    engine.poll_timeout()
}

/// Marks the node closed and stopped when the task ends, normally or by a
/// panic, so callers waiting on it are released instead of waiting forever.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.panicked.store(true, Ordering::Release);
        } else {
            // Events the engine produced before the close (a broadcast's own
            // report, say) still reach the application; datagrams no longer go out.
            let mut engine = self.0.engine.lock();
            drain(&self.0, &mut engine, &mut Vec::new());
        }
        self.0.closed.store(true, Ordering::Release);
        // The stream listener ends with the node, whatever ended it.
        self.0.shutdown_streams.notify_one();
        {
            let mut w = self.0.waiters.lock();
            w.stopped = true;
            // Its consumer learns that the node is finished.
            w.schedule();
        }
        self.0.changed.notify_all();
    }
}

/// The grid the timers of every node of the process fire on: a deadline
/// is put off to the next multiple of this since the runtime started.
///
/// Idle, a node's task wakes for its timers some eight times a second
/// (gossip rounds, probes, their timeouts), each at its own instant: at
/// 1,000 nodes every millisecond has a timer, and the runtime's threads
/// park and wake up a thousand times a second, each time waking the other
/// one to share the work. On a shared grid the tasks due in one slot run
/// in one batch. The lateness, below one grain, is small beside the
/// shortest protocol timer (a probe timeout of 100 ms or more), and the
/// simulator, which has no driver, is unaffected.
pub const TIMER_GRAIN: Duration = Duration::from_millis(10);

/// When the task of a node whose engine is next due at `deadline` (since
/// `origin`) should wake: on the [`TIMER_GRAIN`] grid, or in an hour
/// without a deadline.
fn wake_time(origin: Instant, deadline: Option<Duration>) -> tokio::time::Instant {
    let Some(d) = deadline else {
        return tokio::time::Instant::now() + Duration::from_secs(3600);
    };
    let at = origin + d;
    let epoch = *runtime::epoch();
    let since = at.saturating_duration_since(epoch).as_nanos();
    let grain = TIMER_GRAIN.as_nanos();
    let slots = since.div_ceil(grain);
    let on_grid = epoch + Duration::from_nanos((slots * grain) as u64);
    tokio::time::Instant::from_std(on_grid.max(at))
}

/// Datagrams read from the socket's queue at most per wake-up, so one busy
/// node cannot hold a runtime thread for long.
const READ_BATCH: usize = 64;

/// Hands the engine what is already queued on the socket, up to
/// [`READ_BATCH`] datagrams, without waiting, and then the closed ports
/// reported meanwhile (see [`read_in_order`]). A full batch means more are
/// likely waiting: the engine hears of the backlog (load shedding).
fn read_queued(socket: &UdpSocket, buf: &mut [u8], engine: &mut Engine, now: Duration) {
    let full = read_in_order(
        buf,
        |b| socket.try_recv_from(b),
        |closed| {
            recverr::closed_ports(socket, closed);
        },
        |read| match read {
            Read::Datagram(from, bytes) => engine.handle_packet(now, from, bytes),
            Read::Closed(addr) => engine.handle_unreachable(now, addr),
        },
    );
    if full {
        engine.note_backlog(now, 1);
    }
}

/// What reading a socket found, in the order the engine hears of it.
enum Read<'a> {
    Datagram(SocketAddr, &'a [u8]),
    Closed(SocketAddr),
}

/// Reads up to [`READ_BATCH`] datagrams with `recv`, then the closed ports
/// `errors` finds (the error queue), handing each to `found`; says whether
/// the batch was full.
///
/// Datagrams first: Linux reports a pending ICMP error before the
/// datagrams queued ahead of it, so a member slow to read its socket
/// handled a closed port before the news that explained it. A member that
/// left gracefully and closed was declared dead on that evidence, its
/// Left notice still waiting in the queue (on_fail instead of on_leave).
fn read_in_order(
    buf: &mut [u8],
    mut recv: impl FnMut(&mut [u8]) -> io::Result<(usize, SocketAddr)>,
    errors: impl FnOnce(&mut dyn FnMut(SocketAddr)),
    mut found: impl FnMut(Read<'_>),
) -> bool {
    let mut full = true;
    for _ in 0..READ_BATCH {
        match recv(buf) {
            Ok((n, from)) => found(Read::Datagram(from, &buf[..n])),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                full = false;
                break;
            }
            // A pending ICMP error (the socket's error queue has entries),
            // reported once: read on, and hand it over after the data.
            Err(_) => {}
        }
    }
    errors(&mut |addr| found(Read::Closed(addr)));
    full
}

/// How long one attempt of a join lasts before its seeds are resolved
/// again (a rejoin is one attempt; the engine asks again a
/// `rejoin_interval` later if it is still alone).
pub const JOIN_ATTEMPT: Duration = Duration::from_secs(2);

/// Joins again through the seeds of the last join, resolved anew (see
/// `proto/rejoin.rs`); its outcome is for nobody to wait on.
fn rejoin(shared: &Arc<Shared>) {
    let names = shared.seeds.lock().clone();
    if names.is_empty() {
        return; // joined by others only: they will rejoin this one
    }
    let resolver = shared.resolver.lock().clone();
    let found = seeds::resolve(&resolver, &names, shared.addr);
    if found.addrs.is_empty() {
        return;
    }
    let _ = shared.command(|e, now| {
        let token = e.join(now, &found.addrs, JOIN_ATTEMPT);
        shared.waiters.lock().background.push(token);
    });
}

/// The node's task: receive, fire timers, send, until closed.
async fn run(shared: Arc<Shared>, socket: UdpSocket) {
    let _guard = StopGuard(shared.clone());
    let mut buf = vec![0u8; 65_536];
    let mut out = Vec::new();
    loop {
        let deadline = {
            let mut engine = shared.engine.lock();
            drain(&shared, &mut engine, &mut out)
        };
        for t in out.drain(..) {
            if t.stream {
                tokio::spawn(stream::send(shared.clone(), t.dst, t.payload));
            } else if let Err(e) = socket.send_to(&t.payload, t.dst).await {
                // With the error queue on, a pending ICMP error fails the
                // next send once (ECONNREFUSED): read the socket (the
                // datagrams queued, then the error queue), send again.
                let refused = e.kind() == std::io::ErrorKind::ConnectionRefused;
                if refused {
                    let mut engine = shared.engine.lock();
                    read_queued(&socket, &mut buf, &mut engine, shared.now());
                }
                let again = refused && socket.send_to(&t.payload, t.dst).await.is_ok();
                if !again {
                    shared.send_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if shared.closed.load(Ordering::Acquire) {
            break;
        }
        if shared.rejoin_due.swap(false, Ordering::AcqRel) {
            // Resolving may block for seconds: off the async workers.
            let shared = shared.clone();
            tokio::task::spawn_blocking(move || rejoin(&shared));
        }
        let sleep_until = wake_time(shared.origin, deadline);
        tokio::select! {
            biased;
            _ = shared.shutdown.notified() => break,
            r = socket.recv_from(&mut buf) => {
                let mut engine = shared.engine.lock();
                let now = shared.now();
                if let Ok((n, from)) = r {
                    engine.handle_packet(now, from, &buf[..n]);
                }
                // Take whatever else is already queued on the socket under
                // the same lock (fewer wake-ups under load), then the
                // closed ports reported (an error, here: crash evidence).
                read_queued(&socket, &mut buf, &mut engine, now);
                engine.handle_timeout(now);
            }
            // An ICMP error queued on the socket (a closed port) does not
            // make it readable: wake for it, hand it over, and clear the
            // readiness (WouldBlock) so it fires again only for a new one.
            Ok(_) = socket.ready(tokio::io::Interest::ERROR) => {
                let mut engine = shared.engine.lock();
                let now = shared.now();
                let _ = socket.try_io(tokio::io::Interest::ERROR, || {
                    // The datagrams queued before it first (read_queued).
                    read_queued(&socket, &mut buf, &mut engine, now);
                    Err::<(), _>(io::ErrorKind::WouldBlock.into())
                });
                engine.handle_timeout(now);
            }
            _ = tokio::time::sleep_until(sleep_until) => {
                let mut engine = shared.engine.lock();
                let now = shared.now();
                // Read what is already waiting before a timer settles a
                // probe: an ack in the buffer is not a missing ack. And a
                // closed port reported meanwhile, after the datagrams: a
                // pending error does not always wake the receive above.
                read_queued(&socket, &mut buf, &mut engine, now);
                engine.handle_timeout(now);
            }
            _ = shared.wake.notified() => {}
        }
    }
    drop(socket);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    /// Linux reports a closed port (an ICMP error) to the next receive,
    /// ahead of a datagram queued before it: the datagram is still handed
    /// over first, so news already delivered (a Left notice) is heard
    /// before the evidence it explains.
    #[cfg(target_os = "linux")]
    #[test]
    fn datagrams_queued_before_a_closed_port_are_handed_over_first() {
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(recverr::enable(&socket), "the error queue is on");
        socket.set_nonblocking(true).unwrap();
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        peer.send_to(b"left", socket.local_addr().unwrap()).unwrap();
        let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        socket.send_to(b"ping", closed).unwrap();
        let seen = std::cell::RefCell::new(Vec::new());
        let mut buf = [0u8; 64];
        // Loopback reports at once; the deadline only bounds a broken run.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !seen.borrow().iter().any(|s: &String| s.starts_with("closed"))
            && Instant::now() < deadline
        {
            read_in_order(
                &mut buf,
                |b| {
                    let r = socket.recv_from(b);
                    if r.as_ref().is_err_and(|e| e.kind() != io::ErrorKind::WouldBlock) {
                        seen.borrow_mut().push("error".to_string());
                    }
                    r
                },
                |found| {
                    recverr::closed_ports(&socket, found);
                },
                |read| {
                    seen.borrow_mut().push(match read {
                        Read::Datagram(from, bytes) => {
                            format!("datagram {from} {}", String::from_utf8_lossy(bytes))
                        }
                        Read::Closed(addr) => format!("closed {addr}"),
                    })
                },
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let from = peer.local_addr().unwrap();
        assert_eq!(
            seen.into_inner(),
            ["error".to_string(), format!("datagram {from} left"), format!("closed {closed}")],
            "the error is reported first, handed over last"
        );
    }

    /// `local` timings shortened so a failure is known within a second or two.
    fn quick() -> Config {
        Config {
            probe_interval: Duration::from_millis(200),
            probe_timeout: Duration::from_millis(100),
            gossip_interval: Duration::from_millis(50),
            rejoin_interval: Duration::from_secs(1),
            ..Config::local()
        }
    }

    fn start(name: &str) -> Node {
        let bind = "127.0.0.1:0".parse().unwrap();
        Node::start(Some(name.into()), bind, None, quick(), Vec::new(), Some(1)).unwrap()
    }

    /// Waits for an attempt's outcome, with no signals to look at.
    fn wait(n: &Node, token: u64, until: Instant) -> Result<Option<bool>, ()> {
        Ok(n.wait_join(token, until.saturating_duration_since(Instant::now())))
    }

    /// Polls `cond` every 20 ms for up to `secs` seconds.
    fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if cond() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        cond()
    }

    #[test]
    fn seed_name_that_resolves_only_later_is_joined_at_a_later_attempt() {
        let seed = start("s");
        let joiner = start("j");
        let (calls, at) = (Arc::new(AtomicUsize::new(0)), seed.addr());
        let counted = calls.clone();
        joiner.set_resolver(Arc::new(move |name: &str| {
            assert_eq!(name, "seed.test:7946");
            // Not in DNS yet at the first attempt.
            match counted.fetch_add(1, Ordering::SeqCst) {
                0 => Err(io::Error::other("no such host")),
                _ => Ok(vec![at]),
            }
        }));
        let outcome = joiner.join_names(&["seed.test:7946".into()], Duration::from_secs(10), wait);
        assert!(matches!(outcome, Ok(JoinOutcome::Joined)), "{outcome:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2, "resolved again at the second attempt");
    }

    #[test]
    fn member_left_alone_rejoins_its_seed_name_at_its_new_address() {
        let seed = start("s");
        let joiner = start("j");
        let at = Arc::new(Mutex::new(seed.addr()));
        let current = at.clone();
        joiner.set_resolver(Arc::new(move |_: &str| Ok(vec![*current.lock()])));
        let outcome = joiner.join_names(&["seed.test:7946".into()], Duration::from_secs(10), wait);
        assert!(matches!(outcome, Ok(JoinOutcome::Joined)), "{outcome:?}");
        // The seed's process restarts elsewhere; its name follows it.
        seed.close();
        let moved = start("s");
        *at.lock() = moved.addr();
        let back = || {
            joiner.member("s").is_some_and(|m| {
                m.addr == moved.addr() && m.state == crate::proto::MemberState::Alive
            })
        };
        assert!(
            eventually(20, back),
            "{:?} rejoins {} seed sees j: {:?}",
            joiner.member("s"),
            joiner.stats().rejoins,
            moved.member("j")
        );
        assert!(joiner.stats().rejoins >= 1);
        assert!(moved.member("j").is_some(), "the seed knows the joiner again");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_closed_node_is_declared_dead_from_evidence_on_loopback() {
        let nodes: Vec<Node> = ["a", "b", "c"].iter().map(|n| start(n)).collect();
        for n in &nodes[1..] {
            assert!(n.join(&[nodes[0].addr()], Duration::from_secs(5)).unwrap());
        }
        let alive = |n: &Node, m: &str| {
            n.member(m).is_some_and(|m| m.state == crate::proto::MemberState::Alive)
        };
        assert!(eventually(10, || alive(&nodes[0], "c") && alive(&nodes[1], "c")));
        // The process ends without a word: its port closes, the host
        // (loopback) answers probes to it with port-unreachable.
        nodes[2].close();
        let dead =
            |n: &Node| n.member("c").is_some_and(|m| m.state == crate::proto::MemberState::Dead);
        assert!(eventually(20, || dead(&nodes[0]) && dead(&nodes[1])), "c declared dead");
        let (a, b) = (nodes[0].stats(), nodes[1].stats());
        assert!(a.unreachables + b.unreachables > 0, "the closed port was reported");
        assert_eq!(a.failures_by_evidence + b.failures_by_evidence, 1, "{a:?} {b:?}");
        assert_eq!(a.failures_by_timeout + b.failures_by_timeout, 0, "decided by evidence");
    }

    #[test]
    fn timers_of_different_nodes_fire_on_one_grid_never_early() {
        let epoch = *runtime::epoch();
        let grain = TIMER_GRAIN.as_nanos();
        // Two nodes started at different instants, due at instants within
        // one grain of each other: both wake on the same grid point.
        let a = epoch + Duration::from_millis(3);
        let b = epoch + Duration::from_millis(7);
        let wa = wake_time(a, Some(Duration::from_millis(1_000)));
        let wb = wake_time(b, Some(Duration::from_millis(999)));
        assert_eq!(wa, wb);
        for (origin, d) in [(a, 1_000), (b, 999), (a, 0), (b, 123_456)] {
            let due = origin + Duration::from_millis(d);
            let wake = wake_time(origin, Some(Duration::from_millis(d))).into_std();
            assert!(wake >= due, "woke before the deadline");
            assert!(wake - due < TIMER_GRAIN, "late by a grain or more");
            assert_eq!(wake.duration_since(epoch).as_nanos() % grain, 0, "off the grid");
        }
    }
}

//! `NativeSim`: the Rust half of `rumor.Simulation`.
//!
//! Conversion only: node names to indices, seconds to durations, log records
//! to tuples. Every protocol and network decision is the simulator's
//! (`crate::sim`).
//!
//! Runs release the GIL in chunks of about 50 ms of wall time and check for
//! signals between them, so Ctrl-C interrupts a long run. A chunk ends
//! between two simulator steps, so an interrupted simulation is consistent
//! and can go on.

use super::args::{probability, seconds as duration};
use super::config::PyConfig;
use super::error::{bad_argument, Error, OrRaise};
use super::node::{member_tuple, value_from_py, value_to_py, MemberTuple};
use super::stats::{node_stats, probe_rtt, ProbeRtt};
use crate::codec::MessageKind;
use crate::driver::DriverStats;
use crate::proto::MemberState;
use crate::sim::{Content, Latency, Link, Record, RecordKind, Simulation};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::time::{Duration, Instant};

/// Wall time the GIL stays released before signals are checked.
const CHUNK: Duration = Duration::from_millis(50);

/// Steps between two readings of the wall clock.
const STEPS_PER_CLOCK_READ: usize = 64;

/// Most nodes a simulation may have: addresses are 127.0.0.1 + index and
/// must stay inside 127/8.
const MAX_NODES: usize = 10_000_000;

/// `(time, node, kind, subject, incarnation)`, names as Python strings.
type RecordTuple<'py> =
    (f64, Bound<'py, PyString>, Bound<'py, PyString>, Bound<'py, PyString>, u64);

/// A [`RecordTuple`] plus what a rumor or state-change record said.
type WatchedTuple<'py> = (
    f64,
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    Bound<'py, PyString>,
    u64,
    Option<Bound<'py, PyAny>>,
);

/// One interval of counters: `(start, datagrams_sent, bytes_sent,
/// datagrams_delivered, datagrams_dropped, records)`.
type IntervalTuple = (f64, u64, u64, u64, u64, u64);

/// How a chunk of a run ended.
enum Chunk {
    /// The target time was reached.
    Reached,
    /// A step wrote records someone watches (these).
    Watched(Vec<Record>),
    /// The wall-time slice ran out.
    Sliced,
}

fn record_kind(field: &str, name: &str) -> Result<RecordKind, Error> {
    RecordKind::ALL.iter().copied().find(|k| k.as_str() == name).ok_or_else(|| {
        let all: Vec<&str> = RecordKind::ALL.iter().map(|k| k.as_str()).collect();
        bad_argument(field, &format!("one of {}", all.join(", ")), format!("{name:?}"))
    })
}

fn member_state(field: &str, name: &str) -> Result<MemberState, Error> {
    MemberState::ALL.iter().copied().find(|s| s.as_str() == name).ok_or_else(|| {
        bad_argument(field, "one of alive, suspect, dead, left", format!("{name:?}"))
    })
}

/// The Rust side of `rumor.Simulation`; use that class instead. Sendable:
/// a simulation caught in a reference cycle is freed by whichever thread
/// runs Python's garbage collector (a node's dispatcher thread, say).
#[pyclass(module = "rumor._native")]
pub struct NativeSim {
    sim: Simulation,
    /// Per node, one bit per [`RecordKind`] whose records stop a run.
    watched: Vec<u16>,
    /// Number of bits set in `watched` (0: runs never stop for records).
    watching: usize,
    /// Records before this index of the log have been looked at.
    dispatched: usize,
}

impl NativeSim {
    /// Index of the node called `name`; `field` names the argument.
    fn index(&self, field: &str, name: &str) -> Result<u32, Error> {
        self.sim.index(name).ok_or_else(|| self.unknown(field, name))
    }

    #[cold]
    fn unknown(&self, field: &str, name: &str) -> Error {
        let last = self.sim.len().saturating_sub(1);
        bad_argument(field, &format!("the name of a node, n0 to n{last}"), format!("{name:?}"))
    }

    /// A seed given by name (`n3`) or by its virtual address.
    fn seed_index(&self, seed: &str) -> Result<u32, Error> {
        if let Some(i) = self.sim.index(seed) {
            return Ok(i);
        }
        if let Ok(addr) = seed.parse::<std::net::SocketAddr>() {
            if let Some(i) = (0..self.sim.len() as u32).find(|&i| self.sim.addr(i) == addr) {
                return Ok(i);
            }
        }
        Err(self.unknown("seeds", seed))
    }

    fn is_watched(&self, r: &Record) -> bool {
        self.watched.get(r.node as usize).is_some_and(|bits| bits & (1 << r.kind as u16) != 0)
    }

    /// The watched records written since the last call.
    fn take_watched(&mut self) -> Vec<Record> {
        let log = self.sim.log();
        let found = if self.watching == 0 {
            Vec::new()
        } else {
            log[self.dispatched.min(log.len())..]
                .iter()
                .filter(|r| self.is_watched(r))
                .copied()
                .collect()
        };
        self.dispatched = log.len();
        found
    }

    /// Steps toward `until` until it is reached, a step writes a watched
    /// record, or the wall clock passes `deadline`. Runs without the GIL.
    fn run_chunk(&mut self, until: Duration, deadline: Instant) -> Chunk {
        loop {
            for _ in 0..STEPS_PER_CLOCK_READ {
                if !self.sim.step(until) {
                    self.sim.run_until(until);
                    self.dispatched = self.sim.log().len();
                    return Chunk::Reached;
                }
                let found = self.take_watched();
                if !found.is_empty() {
                    return Chunk::Watched(found);
                }
            }
            if Instant::now() >= deadline {
                return Chunk::Sliced;
            }
        }
    }

    fn subject_name(&self, i: u32) -> &str {
        if (i as usize) < self.sim.len() {
            self.sim.name(i)
        } else {
            "?" // a name the simulation does not know (never expected)
        }
    }

    /// Records with their content: `None`, a rumor's payload, a failure's
    /// reason, a refutation's accusation, or a state
    /// change's `(key, value or None)`.
    fn watched_tuples<'py>(&self, py: Python<'py>, records: &[Record]) -> Vec<WatchedTuple<'py>> {
        self.tuples(py, records)
            .into_iter()
            .zip(records)
            .map(|((t, n, k, s, i), r)| {
                let content = self.sim.content(r).and_then(|c| {
                    Some(match c {
                        Content::Rumor(p) => PyBytes::new(py, p).into_any(),
                        Content::Update(key, value) => {
                            let v = value.as_ref().map(|v| value_to_py(py, v));
                            (key.as_str(), v).into_pyobject(py).ok()?.into_any()
                        }
                        Content::Accusation(state) => PyString::new(py, state.as_str()).into_any(),
                        Content::Failure(reason) => PyString::new(py, reason.as_str()).into_any(),
                    })
                });
                (t, n, k, s, i, content)
            })
            .collect()
    }

    fn tuples<'py>(&self, py: Python<'py>, records: &[Record]) -> Vec<RecordTuple<'py>> {
        // One Python string per name and kind, shared by every record.
        let mut names: Vec<Option<Bound<'py, PyString>>> = vec![None; self.sim.len() + 1];
        let kinds: Vec<Bound<'py, PyString>> =
            RecordKind::ALL.iter().map(|k| PyString::intern(py, k.as_str())).collect();
        let mut name = |i: u32| -> Bound<'py, PyString> {
            let slot = (i as usize).min(self.sim.len());
            names[slot].get_or_insert_with(|| PyString::new(py, self.subject_name(i))).clone()
        };
        records
            .iter()
            .map(|r| {
                let kind =
                    kinds[RecordKind::ALL.iter().position(|k| *k == r.kind).unwrap_or(0)].clone();
                (r.time.as_secs_f64(), name(r.node), kind, name(r.subject), r.incarnation)
            })
            .collect()
    }

    fn link_scope(
        &self,
        src: Option<&str>,
        dst: Option<&str>,
    ) -> Result<Option<(u32, u32)>, Error> {
        match (src, dst) {
            (None, None) => Ok(None),
            (Some(s), Some(d)) => Ok(Some((self.index("src", s)?, self.index("dst", d)?))),
            _ => Err(Error::Argument(
                "src and dst must be given together (one directed link) or not at all (every link)"
                    .into(),
            )),
        }
    }

    /// Applies `change` to one directed link, or to every link.
    fn change_links(&mut self, scope: Option<(u32, u32)>, change: impl Fn(&mut Link)) {
        let net = &mut self.sim.network;
        match scope {
            Some((src, dst)) => {
                let mut link = *net.link(src, dst);
                change(&mut link);
                net.set_link(src, dst, link);
            }
            None => net.update_links(change),
        }
    }

    fn set_latency(
        &mut self,
        latency: Latency,
        src: Option<&str>,
        dst: Option<&str>,
    ) -> PyResult<()> {
        let scope = self.link_scope(src, dst)?;
        self.change_links(scope, |l| l.latency = latency);
        Ok(())
    }
}

#[pymethods]
impl NativeSim {
    #[new]
    #[pyo3(signature = (config, nodes, seed, joined = false))]
    fn new(
        py: Python<'_>,
        config: PyRef<'_, PyConfig>,
        nodes: usize,
        seed: u64,
        joined: bool,
    ) -> PyResult<Self> {
        if !(1..=MAX_NODES).contains(&nodes) {
            return Err(bad_argument("nodes", &format!("between 1 and {MAX_NODES}"), nodes).into());
        }
        let cfg = config.inner.clone();
        let sim = py
            .detach(move || {
                if joined {
                    Simulation::new_joined(cfg, nodes, seed)
                } else {
                    Simulation::new(cfg, nodes, seed)
                }
            })
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(NativeSim { watched: vec![0; sim.len()], sim, watching: 0, dispatched: 0 })
    }

    /// Current virtual time, in seconds.
    #[getter]
    fn now(&self) -> f64 {
        self.sim.now().as_secs_f64()
    }

    fn __len__(&self) -> usize {
        self.sim.len()
    }

    /// Every node's name, in index order.
    fn names(&self) -> Vec<String> {
        (0..self.sim.len() as u32).map(|i| self.sim.name(i).to_owned()).collect()
    }

    fn add_node(&mut self) -> PyResult<String> {
        if self.sim.len() >= MAX_NODES {
            let n = self.sim.len() + 1;
            return Err(bad_argument("nodes", &format!("at most {MAX_NODES}"), n).into());
        }
        let i = self.sim.add_node();
        self.watched.resize(self.sim.len(), 0);
        Ok(self.sim.name(i).to_owned())
    }

    fn set_interval(&mut self, interval: f64) -> PyResult<()> {
        let d = duration("interval", interval)?;
        if d < Duration::from_millis(1) {
            return Err(bad_argument("interval", "at least 0.001 seconds", interval).into());
        }
        self.sim.set_interval(d);
        Ok(())
    }

    // -- commands ---------------------------------------------------------

    fn join_all(&mut self, seed: &str) -> PyResult<()> {
        let i = self.index("seed", seed)?;
        self.sim.join_all(i);
        Ok(())
    }

    #[pyo3(signature = (node, seeds, timeout = 10.0))]
    fn join(&mut self, node: &str, seeds: Vec<String>, timeout: f64) -> PyResult<()> {
        let timeout = duration("timeout", timeout)?;
        let i = self.index("node", node)?;
        if seeds.is_empty() {
            return Err(
                bad_argument("seeds", "at least one node (\"n0\") or address", "none").into()
            );
        }
        let seeds = seeds.iter().map(|s| self.seed_index(s)).collect::<Result<Vec<_>, _>>()?;
        self.sim.join_within(i, &seeds, timeout);
        Ok(())
    }

    fn broadcast(&mut self, node: &str, payload: Vec<u8>) -> PyResult<Option<u64>> {
        let i = self.index("node", node)?;
        self.sim.broadcast(i, payload).or_raise()
    }

    fn set(&mut self, node: &str, key: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let i = self.index("node", node)?;
        let value = value_from_py(value)?;
        self.sim.set(i, key, value).or_raise()
    }

    fn delete(&mut self, node: &str, key: &str) -> PyResult<()> {
        let i = self.index("node", node)?;
        self.sim.delete(i, key).or_raise()
    }

    fn get<'py>(
        &self,
        py: Python<'py>,
        observer: &str,
        member: &str,
        key: &str,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let i = self.index("observer", observer)?;
        let j = self.index("member", member)?;
        Ok(self.sim.get(i, j, key).map(|v| value_to_py(py, v)))
    }

    /// `member`'s key-value map as `observer` knows it.
    fn key_values<'py>(
        &self,
        py: Python<'py>,
        observer: &str,
        member: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let i = self.index("observer", observer)?;
        self.index("member", member)?;
        let d = PyDict::new(py);
        if let Some(e) = self.sim.engine(i) {
            for (k, v) in e.key_values(member) {
                d.set_item(k, value_to_py(py, v))?;
            }
        }
        Ok(d)
    }

    fn set_meta(&mut self, node: &str, meta: Vec<u8>) -> PyResult<()> {
        let i = self.index("node", node)?;
        self.sim.set_meta(i, meta).or_raise()
    }

    fn leave(&mut self, node: &str) -> PyResult<()> {
        let i = self.index("node", node)?;
        self.sim.leave(i);
        Ok(())
    }

    fn kill(&mut self, node: &str) -> PyResult<()> {
        let i = self.index("name", node)?;
        self.sim.kill(i);
        Ok(())
    }

    fn restart(&mut self, node: &str) -> PyResult<()> {
        let i = self.index("name", node)?;
        self.sim.restart(i);
        Ok(())
    }

    fn pause(&mut self, node: &str, seconds: f64) -> PyResult<()> {
        let i = self.index("name", node)?;
        let d = duration("seconds", seconds)?;
        self.sim.pause(i, d);
        Ok(())
    }

    fn stall(&mut self, node: &str, seconds: f64) -> PyResult<()> {
        let i = self.index("name", node)?;
        let d = duration("seconds", seconds)?;
        self.sim.stall(i, d);
        Ok(())
    }

    fn is_stalled(&self, node: &str) -> PyResult<bool> {
        Ok(self.sim.is_stalled(self.index("name", node)?))
    }

    fn set_receive_buffer(&mut self, size: usize) {
        self.sim.set_receive_buffer(size);
    }

    fn partition(&mut self, groups: Vec<Vec<String>>, one_way: bool) -> PyResult<()> {
        let groups = groups
            .iter()
            .map(|g| g.iter().map(|n| self.index("groups", n)).collect::<Result<Vec<_>, _>>())
            .collect::<Result<Vec<_>, _>>()?;
        self.sim.network.partition(&groups, one_way);
        Ok(())
    }

    fn heal(&mut self) {
        self.sim.network.heal();
    }

    #[pyo3(signature = (loss, src=None, dst=None))]
    fn set_loss(&mut self, loss: f64, src: Option<&str>, dst: Option<&str>) -> PyResult<()> {
        let p = probability("loss", loss)?;
        let scope = self.link_scope(src, dst)?;
        self.change_links(scope, |l| l.loss = p);
        Ok(())
    }

    #[pyo3(signature = (p, src=None, dst=None))]
    fn set_duplicate(&mut self, p: f64, src: Option<&str>, dst: Option<&str>) -> PyResult<()> {
        let p = probability("p (duplicate probability)", p)?;
        let scope = self.link_scope(src, dst)?;
        self.change_links(scope, |l| l.duplicate = p);
        Ok(())
    }

    #[pyo3(signature = (p, src=None, dst=None))]
    fn set_reorder(&mut self, p: f64, src: Option<&str>, dst: Option<&str>) -> PyResult<()> {
        let p = probability("p (reorder probability)", p)?;
        let scope = self.link_scope(src, dst)?;
        self.change_links(scope, |l| l.reorder = p);
        Ok(())
    }

    #[pyo3(signature = (latency, src=None, dst=None))]
    fn set_latency_fixed(
        &mut self,
        latency: f64,
        src: Option<&str>,
        dst: Option<&str>,
    ) -> PyResult<()> {
        let d = duration("latency", latency)?;
        self.set_latency(Latency::Fixed(d), src, dst)
    }

    #[pyo3(signature = (low, high, src=None, dst=None))]
    fn set_latency_uniform(
        &mut self,
        low: f64,
        high: f64,
        src: Option<&str>,
        dst: Option<&str>,
    ) -> PyResult<()> {
        let lo = duration("latency low bound", low)?;
        let hi = duration("latency high bound", high)?;
        if lo > hi {
            return Err(bad_argument(
                "latency",
                "a (low, high) pair of seconds with low <= high",
                format!("({low}, {high})"),
            )
            .into());
        }
        self.set_latency(Latency::Uniform(lo, hi), src, dst)
    }

    #[pyo3(signature = (mean, std, floor, src=None, dst=None))]
    fn set_latency_normal(
        &mut self,
        mean: f64,
        std: f64,
        floor: f64,
        src: Option<&str>,
        dst: Option<&str>,
    ) -> PyResult<()> {
        let mean = duration("mean", mean)?;
        let std_dev = duration("std", std)?;
        let floor = duration("floor", floor)?;
        self.set_latency(Latency::Normal { mean, std_dev, floor }, src, dst)
    }

    // -- running ----------------------------------------------------------

    /// Starts or stops (`on`) stopping runs at records of `kind` by `node`.
    fn watch(&mut self, node: &str, kind: &str, on: bool) -> PyResult<()> {
        let i = self.index("node", node)? as usize;
        let bit = 1u16 << record_kind("kind", kind)? as u16;
        let bits = &mut self.watched[i];
        if on && *bits & bit == 0 {
            *bits |= bit;
            self.watching += 1;
        } else if !on && *bits & bit != 0 {
            *bits &= !bit;
            self.watching -= 1;
        }
        Ok(())
    }

    /// Runs toward virtual time `until` for at most `budget` seconds of wall
    /// time. Returns whether `until` was reached, and the watched records
    /// of the step it stopped after (then `now` is their time), or of
    /// commands given since the last run.
    fn advance<'py>(
        &mut self,
        py: Python<'py>,
        until: f64,
        budget: f64,
    ) -> PyResult<(bool, Vec<WatchedTuple<'py>>)> {
        let until = duration("until", until)?;
        let budget = duration("budget", budget)?;
        let start = Instant::now();
        let early = self.take_watched();
        if !early.is_empty() {
            return Ok((false, self.watched_tuples(py, &early)));
        }
        loop {
            let deadline = (Instant::now() + CHUNK).min(start + budget);
            let outcome = {
                let this = &mut *self;
                py.detach(move || this.run_chunk(until, deadline))
            };
            match outcome {
                Chunk::Reached => return Ok((true, Vec::new())),
                Chunk::Watched(found) => return Ok((false, self.watched_tuples(py, &found))),
                Chunk::Sliced => {}
            }
            py.check_signals()?;
            if start.elapsed() >= budget {
                return Ok((false, Vec::new()));
            }
        }
    }

    // -- observing --------------------------------------------------------

    /// Log records from index `start`, optionally only those by `node`, of
    /// `kind`, about `subject`.
    #[pyo3(signature = (start=0, node=None, kind=None, subject=None))]
    fn records<'py>(
        &self,
        py: Python<'py>,
        start: usize,
        node: Option<&str>,
        kind: Option<&str>,
        subject: Option<&str>,
    ) -> PyResult<Vec<RecordTuple<'py>>> {
        let node = node.map(|n| self.index("node", n)).transpose()?;
        let kind = kind.map(|k| record_kind("kind", k)).transpose()?;
        let subject = subject.map(|s| self.index("subject", s)).transpose()?;
        let log = self.sim.log();
        let picked: Vec<Record> = log[start.min(log.len())..]
            .iter()
            .filter(|r| {
                node.is_none_or(|n| r.node == n)
                    && kind.is_none_or(|k| r.kind == k)
                    && subject.is_none_or(|s| r.subject == s)
            })
            .copied()
            .collect();
        Ok(self.tuples(py, &picked))
    }

    fn intervals(&self) -> Vec<IntervalTuple> {
        self.sim
            .intervals()
            .iter()
            .map(|iv| {
                (
                    iv.start.as_secs_f64(),
                    iv.datagrams_sent,
                    iv.bytes_sent,
                    iv.datagrams_delivered,
                    iv.datagrams_dropped,
                    iv.records,
                )
            })
            .collect()
    }

    /// Totals over every node of the simulator's counters.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let n = self.sim.len() as u32;
        let (mut sent, mut bytes_sent, mut received, mut bytes_received) = (0u64, 0, 0, 0);
        let (mut dropped, mut missed, mut bytes_dropped, mut bytes_missed) = (0u64, 0, 0, 0);
        let mut lost = [0u64; MessageKind::ALL.len()];
        let mut unheard = [0u64; MessageKind::ALL.len()];
        for i in 0..n {
            let s = self.sim.node_stats(i);
            sent += s.datagrams_sent;
            bytes_sent += s.bytes_sent;
            received += s.datagrams_received;
            bytes_received += s.bytes_received;
            dropped += s.datagrams_dropped;
            missed += s.datagrams_missed;
            bytes_dropped += s.bytes_dropped;
            bytes_missed += s.bytes_missed;
            for (total, k) in lost.iter_mut().zip(s.messages_dropped) {
                *total += k;
            }
            for (total, k) in unheard.iter_mut().zip(s.messages_missed) {
                *total += k;
            }
        }
        let d = PyDict::new(py);
        d.set_item("nodes", n)?;
        d.set_item("running", (0..n).filter(|&i| self.sim.is_running(i)).count())?;
        d.set_item("paused", (0..n).filter(|&i| self.sim.is_paused(i)).count())?;
        d.set_item("down", (0..n).filter(|&i| self.sim.engine(i).is_none()).count())?;
        d.set_item("records", self.sim.log().len())?;
        d.set_item("datagrams_sent", sent)?;
        d.set_item("bytes_sent", bytes_sent)?;
        d.set_item("datagrams_received", received)?;
        d.set_item("bytes_received", bytes_received)?;
        d.set_item("datagrams_dropped", dropped)?;
        d.set_item("datagrams_missed", missed)?;
        d.set_item("bytes_dropped", bytes_dropped)?;
        d.set_item("bytes_missed", bytes_missed)?;
        for (kind, k) in MessageKind::ALL.iter().zip(lost) {
            d.set_item(format!("lost_{}", kind.as_str()), k)?;
        }
        for (kind, k) in MessageKind::ALL.iter().zip(unheard) {
            d.set_item(format!("missed_{}", kind.as_str()), k)?;
        }
        Ok(d)
    }

    /// The keys of `rumor.Node.stats()` for one simulated node, plus the
    /// simulator's own counters (prefixed `sim_`).
    fn node_stats<'py>(&self, py: Python<'py>, node: &str) -> PyResult<Bound<'py, PyDict>> {
        let i = self.index("node", node)?;
        // Counters over every life of the node, like the sim_ counters
        // below; gauges of the running engine (zeros while it is down).
        let gauges = self.sim.engine(i).map(|e| e.gauges()).unwrap_or_default();
        let d = node_stats(py, &self.sim.engine_stats(i), &gauges, &DriverStats::default())?;
        let s = self.sim.node_stats(i);
        d.set_item("sim_datagrams_sent", s.datagrams_sent)?;
        d.set_item("sim_bytes_sent", s.bytes_sent)?;
        d.set_item("sim_datagrams_received", s.datagrams_received)?;
        d.set_item("sim_bytes_received", s.bytes_received)?;
        d.set_item("sim_datagrams_dropped", s.datagrams_dropped)?;
        d.set_item("sim_datagrams_missed", s.datagrams_missed)?;
        d.set_item("sim_bytes_dropped", s.bytes_dropped)?;
        d.set_item("sim_bytes_missed", s.bytes_missed)?;
        for (kind, k) in MessageKind::ALL.iter().zip(s.messages_dropped) {
            d.set_item(format!("sim_lost_{}", kind.as_str()), k)?;
        }
        for (kind, k) in MessageKind::ALL.iter().zip(s.messages_missed) {
            d.set_item(format!("sim_missed_{}", kind.as_str()), k)?;
        }
        Ok(d)
    }

    /// The probe round-trip histogram of `node`, over every life of it.
    fn probe_rtt(&self, node: &str) -> PyResult<ProbeRtt> {
        let i = self.index("node", node)?;
        Ok(probe_rtt(&self.sim.engine_stats(i)))
    }

    fn addr(&self, node: &str) -> PyResult<String> {
        Ok(self.sim.addr(self.index("name", node)?).to_string())
    }

    fn is_running(&self, node: &str) -> PyResult<bool> {
        Ok(self.sim.is_running(self.index("name", node)?))
    }

    fn is_paused(&self, node: &str) -> PyResult<bool> {
        Ok(self.sim.is_paused(self.index("name", node)?))
    }

    fn is_down(&self, node: &str) -> PyResult<bool> {
        Ok(self.sim.engine(self.index("name", node)?).is_none())
    }

    fn members<'py>(&self, py: Python<'py>, node: &str) -> PyResult<Vec<MemberTuple<'py>>> {
        let i = self.index("name", node)?;
        Ok(self.sim.members(i).iter().map(|m| member_tuple(py, m)).collect())
    }

    /// `subject` as `observer` sees it, if it knows it.
    fn member<'py>(
        &self,
        py: Python<'py>,
        observer: &str,
        subject: &str,
    ) -> PyResult<Option<MemberTuple<'py>>> {
        let i = self.index("observer", observer)?;
        Ok(self.sim.engine(i).and_then(|e| e.member(subject)).map(|m| member_tuple(py, &m)))
    }

    fn state(&self, observer: &str, subject: &str) -> PyResult<Option<&'static str>> {
        let i = self.index("observer", observer)?;
        let j = self.index("subject", subject)?;
        Ok(self.sim.state(i, j).map(MemberState::as_str))
    }

    fn converged(&self) -> bool {
        self.sim.converged()
    }

    fn all_see(&self, subject: &str, state: &str) -> PyResult<bool> {
        let j = self.index("name", subject)?;
        Ok(self.sim.all_see(j, member_state("state", state)?))
    }

    fn count_seeing(&self, subject: &str, state: &str) -> PyResult<usize> {
        let j = self.index("name", subject)?;
        Ok(self.sim.count_seeing(j, member_state("state", state)?))
    }
}

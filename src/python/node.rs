//! `NativeNode`: the Rust half of `rumor.Node`.
//!
//! Every method that waits releases the GIL and wakes every 100 ms to let
//! Python deliver signals, so Ctrl-C interrupts a long join or leave.

use super::args::seconds;
use super::config::PyConfig;
use super::error::{bad_argument, wrong_type, Error, OrRaise};
use super::stats::{probe_rtt, ProbeRtt};
use crate::codec::Value;
use crate::driver::{DriverError, JoinOutcome, Node, Release, Resolved};
use crate::proto::{Event, Member};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SLICE: Duration = Duration::from_millis(100);

pub(super) type MemberTuple<'py> = (String, String, &'static str, u64, Bound<'py, PyBytes>);

/// A replicated-state value as Python sees it: `bytes` or `str`.
pub(super) fn value_to_py<'py>(py: Python<'py>, v: &Value) -> Bound<'py, PyAny> {
    match v {
        Value::Bytes(b) => PyBytes::new(py, b).into_any(),
        Value::Text(s) => PyString::new(py, s).into_any(),
    }
}

/// A Python `str` or `bytes` as a replicated-state value (the Python
/// side has made a `bytearray` or `memoryview` `bytes` already).
pub(super) fn value_from_py(obj: &Bound<'_, PyAny>) -> Result<Value, Error> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::Text(s.to_string()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Value::Bytes(b.as_bytes().to_vec()));
    }
    Err(wrong_type("value", VALUE_TYPES, obj))
}

/// What a replicated-state value may be, as error messages say it.
pub(super) const VALUE_TYPES: &str = "str, bytes, bytearray or memoryview";

/// An event as the Python side takes it, `(kind, subject, number,
/// content)`, the shape of the simulator's watched records: a member event
/// carries the member's name, incarnation and member tuple (`fail` with
/// its failure reason appended, `None` when unknown); `rumor` the
/// origin, sequence number and payload; `update` the member, its
/// key's version and `(key, value or None)`; `refute` this node's name, the
/// incarnation announced and the state it was accused of.
pub(super) type EventTuple<'py> = (&'static str, String, u64, Bound<'py, PyAny>);

/// The [`EventTuple`] of an engine event of node `me`; `None` for events
/// Python does not see.
pub(super) fn event_tuple<'py>(
    py: Python<'py>,
    me: &str,
    ev: Event,
) -> PyResult<Option<EventTuple<'py>>> {
    let member = |kind, m: &Member| -> PyResult<Option<EventTuple<'py>>> {
        let content = member_tuple(py, m).into_pyobject(py)?.into_any();
        Ok(Some((kind, m.name.clone(), m.incarnation, content)))
    };
    match ev {
        Event::Joined(m) => member("join", &m),
        Event::Left(m) => member("leave", &m),
        Event::Failed { member: m, reason } => {
            // The member tuple with the reason appended (None: unknown).
            let (name, addr, state, incarnation, meta) = member_tuple(py, &m);
            let reason = reason.map(|r| r.as_str());
            let content = (name, addr, state, incarnation, meta, reason);
            let content = content.into_pyobject(py)?.into_any();
            Ok(Some(("fail", m.name.clone(), m.incarnation, content)))
        }
        Event::Suspected(m) => member("suspect", &m),
        Event::Alive(m) => member("alive", &m),
        Event::Restarted { member, previous } => {
            let content = (member_tuple(py, &member), previous.to_string());
            let content = content.into_pyobject(py)?.into_any();
            Ok(Some(("restart", member.name.clone(), member.incarnation, content)))
        }
        Event::Rumor { origin, version, payload, .. } => {
            Ok(Some(("rumor", origin, version, PyBytes::new(py, &payload).into_any())))
        }
        Event::Refuted { accusation, incarnation } => {
            let state = PyString::new(py, accusation.as_str()).into_any();
            Ok(Some(("refute", me.to_owned(), incarnation, state)))
        }
        Event::Updated { member, key, value, version, .. } => {
            let v = value.as_ref().map(|v| value_to_py(py, v));
            let content = (key, v).into_pyobject(py)?.into_any();
            Ok(Some(("update", member, version, content)))
        }
        _ => Ok(None),
    }
}

pub(super) fn member_tuple<'py>(py: Python<'py>, m: &Member) -> MemberTuple<'py> {
    (m.name.clone(), m.addr.to_string(), m.state.as_str(), m.incarnation, PyBytes::new(py, &m.meta))
}

/// Parses and resolves `host:port`; `field` names the argument in errors.
fn resolve(py: Python<'_>, field: &str, text: &str) -> Result<SocketAddr, Error> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let owned = text.to_owned();
    let found = py.detach(move || owned.to_socket_addrs().map(|mut it| it.next()));
    match found {
        Ok(Some(a)) => Ok(a),
        _ => Err(bad_argument(
            field,
            "a host:port that resolves, such as \"127.0.0.1:7946\"",
            format!("{text:?}"),
        )),
    }
}

/// `advertise` as given, `host` or `host:port`, resolved; port 0 when it
/// has none (the driver then uses the bound port).
fn advertised(py: Python<'_>, text: &str) -> Result<SocketAddr, Error> {
    if let Ok(ip) = text.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 0));
    }
    let has_port = text.rsplit_once(':').is_some_and(|(h, p)| {
        !h.is_empty() && p.parse::<u16>().is_ok() && (h.starts_with('[') || !h.contains(':'))
    });
    let with_port = if has_port { text.to_owned() } else { format!("{text}:0") };
    let owned = with_port.clone();
    let found = py.detach(move || owned.to_socket_addrs().map(|mut it| it.next()));
    match found {
        Ok(Some(a)) => Ok(a),
        _ => Err(bad_argument(
            "advertise",
            "a host or host:port that resolves, such as \"10.1.2.3\" or \"10.1.2.3:7946\"",
            format!("{text:?}"),
        )),
    }
}

/// The error when no seed answered within `timeout`: each seed with its
/// own reason at the last attempt.
#[cold]
fn join_failed(last: &Resolved, timeout: Duration) -> Error {
    let waited = format!("no answer within {} s", timeout.as_secs_f64());
    let each: Vec<String> = last
        .seeds
        .iter()
        .map(|(seed, note)| format!("{seed} ({})", note.unwrap_or(&waited)))
        .collect();
    let what = if last.addrs.is_empty() { "no seed to join through" } else { "no seed answered" };
    Error::Join(format!("{what}: {}", each.join(", ")))
}

/// Checks `seeds`: a seed that is not `host:port` at all is an argument
/// error (a mistake in the program); one whose host does not resolve, or
/// that is this node's own address, is one failed seed among several, so
/// the others are still tried.
fn check_seeds(seeds: &[String]) -> Result<(), Error> {
    if seeds.is_empty() {
        return Err(bad_argument("seeds", "at least one host:port", "none"));
    }
    for seed in seeds {
        if seed.parse::<SocketAddr>().is_ok() {
            continue;
        }
        let well_formed = seed
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !well_formed {
            return Err(bad_argument(
                "seeds",
                "host:port addresses, such as \"127.0.0.1:7946\"",
                format!("{seed:?}"),
            ));
        }
    }
    Ok(())
}

/// What a join came to, as Python sees it.
fn join_result(outcome: JoinOutcome, timeout: Duration) -> PyResult<usize> {
    match outcome {
        JoinOutcome::Joined => Ok(1),
        JoinOutcome::Failed(last) => Err(join_failed(&last, timeout).into()),
        JoinOutcome::Conflict(holder) => Err(Error::NameConflict(format!(
            "a live member at {holder} already holds this node's name; names are \
             identities: start this node under another name, or stop that one first"
        ))
        .into()),
        JoinOutcome::Closed => Err(Error::from(DriverError::Closed).into()),
    }
}

#[cold]
fn leave_timed_out(timeout: Duration) -> Error {
    Error::Timeout(format!("the leave notice was not spread within {} s", timeout.as_secs_f64()))
}

/// The Rust side of `rumor.Node`; use that class instead.
#[pyclass(module = "rumor._native", frozen)]
pub struct NativeNode {
    node: Arc<Node>,
}

impl NativeNode {
    /// Waits with the GIL released, in slices, checking for signals between
    /// them, until `poll` returns a value or `deadline` passes.
    fn wait_loop<T>(
        &self,
        py: Python<'_>,
        deadline: Instant,
        mut poll: impl FnMut(&Node, Duration) -> Option<T> + Send,
    ) -> PyResult<Option<T>>
    where
        T: Send,
    {
        loop {
            let now = Instant::now();
            let slice = SLICE.min(deadline.saturating_duration_since(now));
            let node = &self.node;
            if let Some(v) = py.detach(|| poll(node, slice)) {
                return Ok(Some(v));
            }
            py.check_signals()?;
            if Instant::now() >= deadline || self.node.is_closed() {
                return Ok(None);
            }
        }
    }
}

#[pymethods]
impl NativeNode {
    #[new]
    #[pyo3(signature = (name, bind, config, meta, seed, advertise=None))]
    fn new(
        py: Python<'_>,
        name: Option<String>,
        bind: &str,
        config: PyRef<'_, PyConfig>,
        meta: Vec<u8>,
        seed: Option<u64>,
        advertise: Option<&str>,
    ) -> PyResult<Self> {
        if let Some(n) = &name {
            if n.is_empty() || n.len() > 128 {
                let got = format!("{} bytes", n.len());
                return Err(bad_argument("name", "1 to 128 bytes long", got).into());
            }
        }
        let addr = resolve(py, "bind", bind)?;
        let advertise = advertise.map(|a| advertised(py, a)).transpose()?;
        let cfg = config.inner.clone();
        let node = py
            .detach(move || Node::start(name, addr, advertise, cfg, meta, seed))
            .map_err(Error::from)?;
        Ok(NativeNode { node: Arc::new(node) })
    }

    #[getter]
    fn name(&self) -> &str {
        self.node.name()
    }

    #[getter]
    fn addr(&self) -> String {
        self.node.addr().to_string()
    }

    #[getter]
    fn closed(&self) -> bool {
        self.node.is_closed()
    }

    fn join(&self, py: Python<'_>, seeds: Vec<String>, timeout: f64) -> PyResult<usize> {
        let timeout = seconds("timeout", timeout)?;
        check_seeds(&seeds)?;
        let node = &self.node;
        // Resolving blocks: the whole join runs without the GIL, taking it
        // between slices only to let Python deliver signals (Ctrl-C).
        let outcome = py.detach(|| {
            node.join_names(&seeds, timeout, |n, token, until| loop {
                let slice = SLICE.min(until.saturating_duration_since(Instant::now()));
                if let Some(ok) = n.wait_join(token, slice) {
                    return Ok::<_, PyErr>(Some(ok));
                }
                Python::attach(|py| py.check_signals())?;
                if Instant::now() >= until || n.is_closed() {
                    return Ok(None);
                }
            })
        })?;
        join_result(outcome, timeout)
    }

    fn join_async<'py>(
        &self,
        py: Python<'py>,
        seeds: Vec<String>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds("timeout", timeout)?;
        check_seeds(&seeds)?;
        if self.node.is_closed() {
            return Err(Error::from(DriverError::Closed).into());
        }
        let node = self.node.clone();
        super::asyncio::init();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            // Resolving and the waits block: keep them off the async workers.
            let outcome = tokio::task::spawn_blocking(move || {
                node.join_names(&seeds, timeout, |n, token, until| loop {
                    let slice = SLICE.min(until.saturating_duration_since(Instant::now()));
                    if let Some(ok) = n.wait_join(token, slice) {
                        return Ok::<_, ()>(Some(ok));
                    }
                    if Instant::now() >= until || n.is_closed() {
                        return Ok(None);
                    }
                })
            })
            .await;
            match outcome {
                Ok(Ok(outcome)) => join_result(outcome, timeout),
                _ => Err(Error::from(DriverError::Closed).into()),
            }
        })
    }

    fn leave_async<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds("timeout", timeout)?;
        self.node.start_leave().map_err(Error::from)?;
        let node = self.node.clone();
        super::asyncio::init();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = tokio::task::spawn_blocking(move || node.wait_leave(timeout))
                .await
                .unwrap_or(false);
            if done {
                Ok(())
            } else {
                Err(leave_timed_out(timeout).into())
            }
        })
    }

    fn leave(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        self.node.start_leave().map_err(Error::from)?;
        let deadline = Instant::now() + timeout;
        match self.wait_loop(py, deadline, |n, slice| n.wait_leave(slice).then_some(()))? {
            Some(()) => Ok(()),
            None if self.node.is_closed() => Err(Error::from(DriverError::Closed).into()),
            None => Err(leave_timed_out(timeout).into()),
        }
    }

    fn member<'py>(&self, py: Python<'py>, name: &str) -> Option<MemberTuple<'py>> {
        let member = py.detach(|| self.node.member(name));
        member.map(|m| member_tuple(py, &m))
    }

    fn members<'py>(&self, py: Python<'py>) -> Vec<MemberTuple<'py>> {
        let members = py.detach(|| self.node.members());
        members.iter().map(|m| member_tuple(py, m)).collect()
    }

    fn set_meta(&self, py: Python<'_>, meta: Vec<u8>) -> PyResult<()> {
        py.detach(|| self.node.set_meta(meta)).or_raise()
    }

    fn keys(&self, py: Python<'_>) -> PyResult<Vec<Vec<u8>>> {
        let keys = py.detach(|| self.node.keys()).or_raise()?;
        Ok(keys.into_iter().map(|k| k.0.to_vec()).collect())
    }

    fn add_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.add_key(key)).or_raise()
    }

    fn use_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.use_key(key)).or_raise()
    }

    fn remove_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.remove_key(key)).or_raise()
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py.detach(|| self.node.stats());
        let gauges = py.detach(|| self.node.gauges());
        let driver = self.node.driver_stats();
        super::stats::node_stats(py, &stats, &gauges, &driver)
    }

    /// Datagrams dropped, sends failed, events lost and streams refused so
    /// far, summed: what the drop warnings look at before reading `stats`.
    fn trouble(&self, py: Python<'_>) -> u64 {
        py.detach(|| self.node.trouble_total())
    }

    /// The probe round-trip histogram (see [`ProbeRtt`]).
    fn probe_rtt(&self, py: Python<'_>) -> ProbeRtt {
        let stats = py.detach(|| self.node.stats());
        probe_rtt(&stats)
    }

    /// Announces this node's events on `hub` under `key` (see
    /// `NativeHub`); its dispatcher then takes them with `take_events`.
    fn attach(&self, hub: PyRef<'_, super::hub::NativeHub>, key: u64) {
        self.node.attach_hub(hub.hub.clone(), key);
    }

    /// Up to `max` queued events, without waiting.
    fn take_events<'py>(&self, py: Python<'py>, max: usize) -> PyResult<Vec<EventTuple<'py>>> {
        let events = py.detach(|| self.node.take_events(max));
        let mut out = Vec::with_capacity(events.len());
        for ev in events {
            if let Some(t) = event_tuple(py, self.node.name(), ev)? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Hands the node back to the hub after a batch: 0 no events left, 1
    /// queued again (more came), 2 stopped with every event taken.
    fn release(&self) -> u8 {
        match self.node.release() {
            Release::Idle => 0,
            Release::Again => 1,
            Release::Finished => 2,
        }
    }

    fn next_event<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Option<EventTuple<'py>>> {
        let timeout = seconds("timeout", timeout)?;
        let Some(ev) = py.detach(|| self.node.next_event(timeout)) else { return Ok(None) };
        event_tuple(py, self.node.name(), ev)
    }

    fn broadcast(&self, py: Python<'_>, payload: Vec<u8>) -> PyResult<u64> {
        py.detach(|| self.node.broadcast(payload)).or_raise()
    }

    fn set(&self, py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        let value = value_from_py(value)?;
        py.detach(|| self.node.set(key, value)).or_raise()
    }

    fn delete(&self, py: Python<'_>, key: &str) -> PyResult<u64> {
        py.detach(|| self.node.delete(key)).or_raise()
    }

    fn get<'py>(&self, py: Python<'py>, member: &str, key: &str) -> Option<Bound<'py, PyAny>> {
        let value = py.detach(|| self.node.get(member, key));
        value.map(|v| value_to_py(py, &v))
    }

    /// `member`'s key-value map as this node knows it.
    fn key_values<'py>(&self, py: Python<'py>, member: &str) -> PyResult<Bound<'py, PyDict>> {
        let entries = py.detach(|| self.node.key_values(member));
        let d = PyDict::new(py);
        for (k, v) in entries {
            d.set_item(k, value_to_py(py, &v))?;
        }
        Ok(d)
    }

    #[pyo3(signature = (key=None))]
    fn max_item_len(&self, key: Option<&str>) -> usize {
        self.node.max_item_len(key)
    }

    fn close(&self, py: Python<'_>) {
        py.detach(|| self.node.close());
    }
}

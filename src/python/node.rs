//! `NativeNode`: the Rust half of `rumor.Node`.
//!
//! Every method that waits releases the GIL and wakes every 100 ms to let
//! Python deliver signals, so Ctrl-C interrupts a long join or leave.

use super::config::PyConfig;
use super::error::{driver_error, rumor_error};
use crate::codec::Value;
use crate::driver::{DriverError, Node};
use crate::proto::{Event, Member, MemberState};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString};
use std::net::{SocketAddr, ToSocketAddrs};
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

/// A Python `bytes` or `str` as a replicated-state value.
pub(super) fn value_from_py(obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_instance_of::<PyString>() {
        return Ok(Value::Text(obj.extract()?));
    }
    if obj.is_instance_of::<PyBytes>() {
        return Ok(Value::Bytes(obj.extract()?));
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "value must be bytes or str, got {}",
        obj.get_type().name()?
    )))
}

/// An engine event as `(kind, payload)` for the Python dispatchers:
/// member events carry a member tuple, `rumor` `(origin, seq, payload)`,
/// `update` `(member, key, value or None)`. Other events give `None`.
pub(super) fn event_tuple<'py>(
    py: Python<'py>,
    ev: Event,
) -> PyResult<Option<(&'static str, Bound<'py, PyAny>)>> {
    let member = |kind, m: &Member| -> PyResult<Option<(&'static str, Bound<'py, PyAny>)>> {
        Ok(Some((kind, member_tuple(py, m).into_pyobject(py)?.into_any())))
    };
    match &ev {
        Event::Joined(m) => member("join", m),
        Event::Left(m) => member("leave", m),
        Event::Failed(m) => member("fail", m),
        Event::Suspected(m) => member("suspect", m),
        Event::Alive(m) => member("alive", m),
        Event::Rumor { origin, version, payload, .. } => {
            let t = (origin.as_str(), *version, PyBytes::new(py, payload));
            Ok(Some(("rumor", t.into_pyobject(py)?.into_any())))
        }
        Event::Refuted { accusation, incarnation } => {
            let t = (accusation.as_str(), *incarnation);
            Ok(Some(("self", t.into_pyobject(py)?.into_any())))
        }
        Event::Updated { member, key, value, .. } => {
            let v = value.as_ref().map(|v| value_to_py(py, v));
            let t = (member.as_str(), key.as_str(), v);
            Ok(Some(("update", t.into_pyobject(py)?.into_any())))
        }
        _ => Ok(None),
    }
}

pub(super) fn member_tuple<'py>(py: Python<'py>, m: &Member) -> MemberTuple<'py> {
    (m.name.clone(), m.addr.to_string(), m.state.as_str(), m.incarnation, PyBytes::new(py, &m.meta))
}

/// Parses and resolves `host:port`; `field` names the argument in errors.
fn resolve(py: Python<'_>, field: &str, text: &str) -> PyResult<SocketAddr> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    let owned = text.to_owned();
    let found = py.detach(move || owned.to_socket_addrs().map(|mut it| it.next()));
    match found {
        Ok(Some(a)) => Ok(a),
        _ => Err(PyValueError::new_err(format!(
            "{field}: cannot resolve {text:?}; expected host:port such as \"127.0.0.1:7946\""
        ))),
    }
}

pub(super) fn seconds(field: &str, t: f64) -> PyResult<Duration> {
    if !t.is_finite() || !(0.0..=1e9).contains(&t) {
        return Err(PyValueError::new_err(format!(
            "{field} must be between 0 and 1e9 seconds, got {t}"
        )));
    }
    Ok(Duration::from_secs_f64(t))
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
    #[pyo3(signature = (name, bind, config, meta, seed))]
    fn new(
        py: Python<'_>,
        name: Option<String>,
        bind: &str,
        config: PyRef<'_, PyConfig>,
        meta: Vec<u8>,
        seed: Option<u64>,
    ) -> PyResult<Self> {
        if let Some(n) = &name {
            if n.is_empty() || n.len() > 128 {
                return Err(PyValueError::new_err(format!(
                    "name must be 1 to 128 bytes long, got {} bytes",
                    n.len()
                )));
            }
        }
        let addr = resolve(py, "bind", bind)?;
        let cfg = config.inner.clone();
        let node = py
            .detach(move || Node::start(name, addr, cfg, meta, seed))
            .map_err(|e| driver_error(py, e))?;
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
        if seeds.is_empty() {
            return Err(PyValueError::new_err("seeds must name at least one host:port"));
        }
        let timeout = seconds("timeout", timeout)?;
        let addrs = seeds.iter().map(|s| resolve(py, "seeds", s)).collect::<PyResult<Vec<_>>>()?;
        let token = self.node.start_join(&addrs, timeout).map_err(|e| driver_error(py, e))?;
        // The engine itself gives up at `timeout`; the margin only covers a
        // stalled runtime.
        let deadline = Instant::now() + timeout + Duration::from_secs(1);
        match self.wait_loop(py, deadline, |n, slice| n.wait_join(token, slice))? {
            Some(true) => Ok(1),
            Some(false) | None if self.node.is_closed() => {
                Err(driver_error(py, DriverError::Closed))
            }
            _ => Err(rumor_error(
                py,
                "JoinError",
                format!(
                    "no seed answered within {} s: {}",
                    timeout.as_secs_f64(),
                    seeds.join(", ")
                ),
            )),
        }
    }

    fn join_async<'py>(
        &self,
        py: Python<'py>,
        seeds: Vec<String>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyAny>> {
        if seeds.is_empty() {
            return Err(PyValueError::new_err("seeds must name at least one host:port"));
        }
        let timeout = seconds("timeout", timeout)?;
        let addrs = seeds.iter().map(|s| resolve(py, "seeds", s)).collect::<PyResult<Vec<_>>>()?;
        let token = self.node.start_join(&addrs, timeout).map_err(|e| driver_error(py, e))?;
        let node = self.node.clone();
        let label = seeds.join(", ");
        super::asyncio::init();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            // The wait is a condvar: keep it off the async workers.
            let outcome = tokio::task::spawn_blocking(move || loop {
                if let Some(ok) = node.wait_join(token, SLICE) {
                    return Some(ok);
                }
                if node.is_closed() {
                    return None;
                }
            })
            .await
            .ok()
            .flatten();
            Python::attach(|py| match outcome {
                Some(true) => Ok(1usize),
                None => Err(driver_error(py, DriverError::Closed)),
                Some(false) => Err(rumor_error(
                    py,
                    "JoinError",
                    format!("no seed answered within {} s: {label}", timeout.as_secs_f64()),
                )),
            })
        })
    }

    fn leave_async<'py>(&self, py: Python<'py>, timeout: f64) -> PyResult<Bound<'py, PyAny>> {
        let timeout = seconds("timeout", timeout)?;
        self.node.start_leave().map_err(|e| driver_error(py, e))?;
        let node = self.node.clone();
        super::asyncio::init();
        pyo3_async_runtimes::tokio::future_into_py(py, async move {
            let done = tokio::task::spawn_blocking(move || node.wait_leave(timeout))
                .await
                .unwrap_or(false);
            Python::attach(|py| {
                if done {
                    Ok(())
                } else {
                    Err(rumor_error(
                        py,
                        "TimeoutError",
                        format!(
                            "the leave notice was not spread within {} s",
                            timeout.as_secs_f64()
                        ),
                    ))
                }
            })
        })
    }

    fn leave(&self, py: Python<'_>, timeout: f64) -> PyResult<()> {
        let timeout = seconds("timeout", timeout)?;
        self.node.start_leave().map_err(|e| driver_error(py, e))?;
        let deadline = Instant::now() + timeout;
        match self.wait_loop(py, deadline, |n, slice| n.wait_leave(slice).then_some(()))? {
            Some(()) => Ok(()),
            None if self.node.is_closed() => Err(driver_error(py, DriverError::Closed)),
            None => Err(rumor_error(
                py,
                "TimeoutError",
                format!("the leave notice was not spread within {} s", timeout.as_secs_f64()),
            )),
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
        py.detach(|| self.node.set_meta(meta)).map_err(|e| driver_error(py, e))
    }

    fn keys(&self, py: Python<'_>) -> PyResult<Vec<Vec<u8>>> {
        let keys = py.detach(|| self.node.keys()).map_err(|e| driver_error(py, e))?;
        Ok(keys.into_iter().map(|k| k.0.to_vec()).collect())
    }

    fn add_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.add_key(key)).map_err(|e| driver_error(py, e))
    }

    fn use_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.use_key(key)).map_err(|e| driver_error(py, e))
    }

    fn remove_key(&self, py: Python<'_>, key: Vec<u8>) -> PyResult<()> {
        let key = super::config::key(&key, "key")?;
        py.detach(|| self.node.remove_key(key)).map_err(|e| driver_error(py, e))
    }

    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py.detach(|| self.node.stats());
        let members = py.detach(|| self.node.members());
        let driver = self.node.driver_stats();
        let gauges = py.detach(|| self.node.gauges());
        let d = PyDict::new(py);
        for (k, v) in stats.counters() {
            d.set_item(k, v)?;
        }
        d.set_item("send_errors", driver.send_errors)?;
        d.set_item("events_dropped", driver.events_dropped)?;
        d.set_item("streams_refused", driver.streams_refused)?;
        d.set_item("task_panicked", u64::from(driver.panicked))?;
        d.set_item("broadcast_queue", gauges.update_queue)?;
        d.set_item("push_queue", gauges.push_queue)?;
        d.set_item("event_queue", driver.event_queue)?;
        d.set_item("health_multiplier", gauges.health_multiplier)?;
        for state in MemberState::ALL {
            let n = members.iter().filter(|m| m.state == state).count();
            d.set_item(format!("members_{}", state.as_str()), n)?;
        }
        Ok(d)
    }

    /// The probe round-trip histogram from one snapshot: `(buckets, count,
    /// sum in µs)`, each bucket `(upper bound in seconds, answers in it)`,
    /// not cumulative; answers slower than the last bound are only in the
    /// count.
    fn probe_rtt(&self, py: Python<'_>) -> (Vec<(f64, u64)>, u64, u64) {
        let stats = py.detach(|| self.node.stats());
        let buckets = crate::proto::RTT_BUCKETS_US
            .iter()
            .zip(stats.probe_rtt_buckets)
            .map(|(&us, n)| (us as f64 / 1e6, n))
            .collect();
        (buckets, stats.probe_rtt_count, stats.probe_rtt_sum_us)
    }

    fn next_event<'py>(
        &self,
        py: Python<'py>,
        timeout: f64,
    ) -> PyResult<Option<(&'static str, Bound<'py, PyAny>)>> {
        let timeout = seconds("timeout", timeout)?;
        let Some(ev) = py.detach(|| self.node.next_event(timeout)) else { return Ok(None) };
        event_tuple(py, ev)
    }

    fn broadcast(&self, py: Python<'_>, payload: Vec<u8>) -> PyResult<u64> {
        py.detach(|| self.node.broadcast(payload)).map_err(|e| driver_error(py, e))
    }

    fn set(&self, py: Python<'_>, key: &str, value: &Bound<'_, PyAny>) -> PyResult<u64> {
        let value = value_from_py(value)?;
        py.detach(|| self.node.set(key, value)).map_err(|e| driver_error(py, e))
    }

    fn delete(&self, py: Python<'_>, key: &str) -> PyResult<u64> {
        py.detach(|| self.node.delete(key)).map_err(|e| driver_error(py, e))
    }

    fn get<'py>(&self, py: Python<'py>, member: &str, key: &str) -> Option<Bound<'py, PyAny>> {
        let value = py.detach(|| self.node.get(member, key));
        value.map(|v| value_to_py(py, &v))
    }

    fn state<'py>(&self, py: Python<'py>, member: &str) -> PyResult<Bound<'py, PyDict>> {
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

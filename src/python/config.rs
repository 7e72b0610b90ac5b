//! `rumor.Config`: the protocol settings, built from presets and keywords.

use super::error::rumor_error;
use crate::proto::Config;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::time::Duration;

/// Protocol settings, validated when built. `Config(**fields)` starts from
/// the `lan` preset; `Config.lan()`, `.local()` and `.wan()` take the same
/// keyword overrides. Durations are in seconds.
#[pyclass(name = "Config", module = "rumor", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfig {
    pub(crate) inner: Config,
}

fn config_error(py: Python<'_>, field: &str, allowed: &str, got: String) -> PyErr {
    rumor_error(py, "ConfigError", format!("{field} must be {allowed}, got {got}"))
}

fn seconds(py: Python<'_>, field: &str, v: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let s: f64 = v
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("{field} must be a number of seconds")))?;
    if !s.is_finite() || !(0.0..=1e9).contains(&s) {
        return Err(config_error(
            py,
            field,
            "a number of seconds between 0 and 1e9",
            format!("{s}"),
        ));
    }
    Ok(Duration::from_secs_f64(s))
}

fn count(py: Python<'_>, field: &str, v: &Bound<'_, PyAny>) -> PyResult<u64> {
    if v.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(format!("{field} must be an int, got bool")));
    }
    let n: i128 =
        v.extract().map_err(|_| PyTypeError::new_err(format!("{field} must be an int")))?;
    u64::try_from(n).map_err(|_| config_error(py, field, "a non-negative int", format!("{n}")))
}

/// Applies keyword overrides to `base`, then validates the result.
fn build(py: Python<'_>, mut c: Config, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<PyConfig> {
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let key: String = k.extract()?;
            let f = key.as_str();
            let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            match f {
                "probe_interval" => c.probe_interval = seconds(py, f, &v)?,
                "probe_timeout" => c.probe_timeout = seconds(py, f, &v)?,
                "gossip_interval" => c.gossip_interval = seconds(py, f, &v)?,
                "push_pull_interval" => c.push_pull_interval = seconds(py, f, &v)?,
                "gossip_to_the_dead_time" => c.gossip_to_the_dead_time = seconds(py, f, &v)?,
                "reconnect_interval" => c.reconnect_interval = seconds(py, f, &v)?,
                "gossip_fanout" => c.gossip_fanout = clamp(count(py, f, &v)?),
                "indirect_checks" => c.indirect_checks = clamp(count(py, f, &v)?),
                "max_packet_size" => c.max_packet_size = clamp(count(py, f, &v)?),
                "max_meta_size" => c.max_meta_size = clamp(count(py, f, &v)?),
                "suspicion_mult" => c.suspicion_mult = small(count(py, f, &v)?),
                "suspicion_max_timeout_mult" => {
                    c.suspicion_max_timeout_mult = small(count(py, f, &v)?)
                }
                "retransmit_mult" => c.retransmit_mult = small(count(py, f, &v)?),
                _ => {
                    return Err(PyTypeError::new_err(format!(
                        "Config got an unexpected keyword argument '{key}'"
                    )))
                }
            }
        }
    }
    c.validate().map_err(|e| rumor_error(py, "ConfigError", e.to_string()))?;
    Ok(PyConfig { inner: c })
}

#[pymethods]
impl PyConfig {
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(py, Config::lan(), kwargs)
    }

    /// memberlist's LAN defaults: a data-centre network.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn lan(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(py, Config::lan(), kwargs)
    }

    /// memberlist's local defaults: one host or a fast local network.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn local(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(py, Config::local(), kwargs)
    }

    /// memberlist's WAN defaults: members across the internet.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn wan(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(py, Config::wan(), kwargs)
    }

    /// Seconds between two probes of the failure detector.
    #[getter]
    fn probe_interval(&self) -> f64 {
        self.inner.probe_interval.as_secs_f64()
    }

    /// Seconds a direct ping waits before indirect probes start.
    #[getter]
    fn probe_timeout(&self) -> f64 {
        self.inner.probe_timeout.as_secs_f64()
    }

    /// Seconds between two gossip rounds.
    #[getter]
    fn gossip_interval(&self) -> f64 {
        self.inner.gossip_interval.as_secs_f64()
    }

    /// Members each gossip round goes to.
    #[getter]
    fn gossip_fanout(&self) -> usize {
        self.inner.gossip_fanout
    }

    /// Suspicion timeout = suspicion_mult * max(1, log10 n) * probe_interval.
    #[getter]
    fn suspicion_mult(&self) -> u32 {
        self.inner.suspicion_mult
    }

    /// Upper bound of the suspicion timeout, as a multiple of the minimum.
    #[getter]
    fn suspicion_max_timeout_mult(&self) -> u32 {
        self.inner.suspicion_max_timeout_mult
    }

    /// Each update is gossiped retransmit_mult * ceil(log10(n + 1)) times.
    #[getter]
    fn retransmit_mult(&self) -> u32 {
        self.inner.retransmit_mult
    }

    /// Members asked to probe a target that missed its direct ack.
    #[getter]
    fn indirect_checks(&self) -> usize {
        self.inner.indirect_checks
    }

    /// Seconds between full anti-entropy syncs (0 disables them).
    #[getter]
    fn push_pull_interval(&self) -> f64 {
        self.inner.push_pull_interval.as_secs_f64()
    }

    /// Seconds dead and departed members are still gossiped about.
    #[getter]
    fn gossip_to_the_dead_time(&self) -> f64 {
        self.inner.gossip_to_the_dead_time.as_secs_f64()
    }

    /// Seconds between attempts to reach a dead member, to heal partitions
    /// (0 disables them).
    #[getter]
    fn reconnect_interval(&self) -> f64 {
        self.inner.reconnect_interval.as_secs_f64()
    }

    /// Largest datagram sent, in bytes.
    #[getter]
    fn max_packet_size(&self) -> usize {
        self.inner.max_packet_size
    }

    /// Largest member metadata, in bytes.
    #[getter]
    fn max_meta_size(&self) -> usize {
        self.inner.max_meta_size
    }

    fn __repr__(&self) -> String {
        let c = &self.inner;
        format!(
            "Config(probe_interval={}, probe_timeout={}, gossip_interval={}, gossip_fanout={}, \
             suspicion_mult={}, suspicion_max_timeout_mult={}, retransmit_mult={}, \
             indirect_checks={}, push_pull_interval={}, gossip_to_the_dead_time={}, \
             reconnect_interval={}, max_packet_size={}, max_meta_size={})",
            c.probe_interval.as_secs_f64(),
            c.probe_timeout.as_secs_f64(),
            c.gossip_interval.as_secs_f64(),
            c.gossip_fanout,
            c.suspicion_mult,
            c.suspicion_max_timeout_mult,
            c.retransmit_mult,
            c.indirect_checks,
            c.push_pull_interval.as_secs_f64(),
            c.gossip_to_the_dead_time.as_secs_f64(),
            c.reconnect_interval.as_secs_f64(),
            c.max_packet_size,
            c.max_meta_size,
        )
    }
}

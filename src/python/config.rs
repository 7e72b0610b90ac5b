//! `rumor.Config`: the protocol settings, built from presets and keywords.

use super::args;
use super::error::{bad_argument, bad_setting, wrong_type, Error};
use crate::proto::{AntiEntropyMode, Config, FailureDetector, StopPolicy, SyncPeers};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyDict, PyInt, PyString, PyTuple};
use std::time::Duration;

/// Protocol settings, validated when built. `Config(**fields)` starts from
/// the `lan` preset; `Config.lan()`, `.local()` and `.wan()` take the same
/// keyword overrides. Durations are in seconds.
#[pyclass(name = "Config", module = "rumor", frozen, eq)]
#[derive(Clone, PartialEq)]
pub struct PyConfig {
    pub(crate) inner: Config,
}

/// A duration setting: the rule and message of every duration argument
/// ([`args::seconds`]), raised as a `ConfigError`.
fn seconds(field: &str, v: &Bound<'_, PyAny>) -> Result<Duration, Error> {
    args::seconds(field, args::number(field, v)?).map_err(|e| match e {
        Error::Argument(msg) => Error::Config(msg),
        other => other,
    })
}

/// A count setting: an `int` (not a `bool`) from 0 to 2**64 - 1; the
/// engine's validation then checks the field's own range.
fn count(field: &str, v: &Bound<'_, PyAny>) -> Result<u64, Error> {
    if v.is_instance_of::<PyBool>() || !v.is_instance_of::<PyInt>() {
        return Err(wrong_type(field, "an int", v));
    }
    v.extract::<u64>().map_err(|_| {
        let got = v.str().map(|s| s.to_string()).unwrap_or_default();
        bad_setting(field, "an int from 0 to 2**64 - 1", got)
    })
}

/// A 32-byte encryption key from `bytes`; an argument error naming `field`
/// otherwise.
pub(crate) fn key(bytes: &[u8], field: &str) -> Result<crate::codec::Key, Error> {
    let k: [u8; crate::codec::KEY_LEN] = bytes
        .try_into()
        .map_err(|_| bad_argument(field, "exactly 32 bytes", format!("{} bytes", bytes.len())))?;
    Ok(crate::codec::Key(k))
}

/// `keys`: a sequence of 32-byte `bytes`, the primary first.
fn keys(v: &Bound<'_, PyAny>) -> PyResult<Vec<crate::codec::Key>> {
    const EXPECTED: &str = "a list of 32-byte bytes";
    if v.is_instance_of::<PyBytes>() || v.is_instance_of::<PyString>() {
        return Err(wrong_type("keys", EXPECTED, v).into());
    }
    let mut items: Vec<Vec<u8>> = Vec::new();
    for item in v.try_iter().map_err(|_| wrong_type("keys", EXPECTED, v))? {
        let item = item?;
        if !item.is_instance_of::<PyBytes>() && !item.is_instance_of::<PyByteArray>() {
            return Err(wrong_type("keys", EXPECTED, &item).into());
        }
        items.push(item.extract()?);
    }
    let keys = items.iter().enumerate().map(|(i, b)| {
        key(b, "keys").map_err(|_| {
            bad_setting("keys", "32-byte keys", format!("{} bytes for key {i}", b.len()))
        })
    });
    Ok(keys.collect::<Result<_, _>>()?)
}

fn word(field: &str, v: &Bound<'_, PyAny>) -> Result<String, Error> {
    v.extract().map_err(|_| wrong_type(field, "a str", v))
}

/// A `bool` setting (an int is refused: `lifeguard=0` is likelier a slip).
fn flag(field: &str, v: &Bound<'_, PyAny>) -> Result<bool, Error> {
    if !v.is_instance_of::<PyBool>() {
        return Err(wrong_type(field, "a bool", v));
    }
    v.extract().map_err(|_| wrong_type(field, "a bool", v))
}

fn mode_name(m: AntiEntropyMode) -> &'static str {
    match m {
        AntiEntropyMode::Push => "push",
        AntiEntropyMode::Pull => "pull",
        AntiEntropyMode::PushPull => "push_pull",
    }
}

fn peers_name(p: SyncPeers) -> &'static str {
    match p {
        SyncPeers::Random => "random",
        SyncPeers::Ring => "ring",
    }
}

fn policy_name(p: StopPolicy) -> String {
    match p {
        StopPolicy::RetransmitLimit => "retransmit_limit".into(),
        StopPolicy::Counter(k) => format!("counter({k})"),
        StopPolicy::Coin(k) => format!("coin({k})"),
    }
}

fn detector_name(d: FailureDetector) -> &'static str {
    match d {
        FailureDetector::Swim => "swim",
        FailureDetector::Quorum => "quorum",
    }
}

fn failure_detector(s: &str) -> Result<FailureDetector, Error> {
    match s {
        "swim" => Ok(FailureDetector::Swim),
        "quorum" => Ok(FailureDetector::Quorum),
        _ => Err(bad_setting("failure_detector", "\"swim\" or \"quorum\"", format!("{s:?}"))),
    }
}

/// `field` names the setting as the user wrote it: `sync_peers`, or
/// `anti_entropy.peers` for `AntiEntropy(peers=...)`.
fn sync_peers(field: &str, s: &str) -> Result<SyncPeers, Error> {
    match s {
        "random" => Ok(SyncPeers::Random),
        "ring" => Ok(SyncPeers::Ring),
        _ => Err(bad_setting(field, "\"random\" or \"ring\"", format!("{s:?}"))),
    }
}

/// `"retransmit_limit"`, `"counter(k)"` or `"coin(k)"`.
fn stop_policy(s: &str) -> Result<StopPolicy, Error> {
    let bad = || {
        bad_setting(
            "stop_policy",
            "\"retransmit_limit\", \"counter(k)\" or \"coin(k)\" with k from 1 to 1000",
            format!("{s:?}"),
        )
    };
    if s == "retransmit_limit" {
        return Ok(StopPolicy::RetransmitLimit);
    }
    let arg = |prefix: &str| -> Option<u32> {
        s.strip_prefix(prefix)?.strip_suffix(')')?.trim().parse().ok()
    };
    let policy = if let Some(k) = arg("counter(") {
        StopPolicy::Counter(k)
    } else if let Some(k) = arg("coin(") {
        StopPolicy::Coin(k)
    } else {
        return Err(bad());
    };
    match policy {
        StopPolicy::Counter(k) | StopPolicy::Coin(k) if (1..=1000).contains(&k) => Ok(policy),
        _ => Err(bad()),
    }
}

/// `anti_entropy`: a mode name, or an object with `mode`, `interval` and
/// `peers` attributes (`rumor.AntiEntropy`), whose `interval` and `peers`
/// may be `None` (leave the setting as it is). Returns the flat settings it
/// set, as `(its parameter, the flat field)`, so `build` can refuse a
/// second spelling of the same setting.
fn anti_entropy(
    c: &mut Config,
    v: &Bound<'_, PyAny>,
) -> PyResult<Vec<(&'static str, &'static str)>> {
    let mut set = Vec::new();
    let mode: String = match v.extract::<String>() {
        Ok(s) => s,
        Err(_) => {
            let mode = v
                .getattr("mode")
                .map_err(|_| wrong_type("anti_entropy", "a mode name or a rumor.AntiEntropy", v))?;
            let interval = v.getattr("interval")?;
            if !interval.is_none() {
                c.push_pull_interval = seconds("anti_entropy.interval", &interval)?;
                set.push(("interval", "push_pull_interval"));
            }
            let peers = v.getattr("peers")?;
            if !peers.is_none() {
                let field = "anti_entropy.peers";
                c.sync_peers = sync_peers(field, &word(field, &peers)?)?;
                set.push(("peers", "sync_peers"));
            }
            word("anti_entropy.mode", &mode)?
        }
    };
    c.anti_entropy = match mode.as_str() {
        "push" => AntiEntropyMode::Push,
        "pull" => AntiEntropyMode::Pull,
        "push_pull" => AntiEntropyMode::PushPull,
        _ => {
            return Err(bad_setting(
                "anti_entropy",
                "\"push\", \"pull\" or \"push_pull\"",
                format!("{mode:?}"),
            )
            .into())
        }
    };
    Ok(set)
}

/// Applies keyword overrides to `base`, then validates the result.
fn build(mut c: Config, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<PyConfig> {
    if let Some(kwargs) = kwargs {
        // Two spellings of one setting in one call: refused, whatever the
        // order of the keywords, rather than one silently winning.
        let mut bundled = Vec::new();
        for (k, v) in kwargs.iter() {
            let key: String = k.extract()?;
            let f = key.as_str();
            let clamp = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
            let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            match f {
                "probe_interval" => c.probe_interval = seconds(f, &v)?,
                "probe_timeout" => c.probe_timeout = seconds(f, &v)?,
                "gossip_interval" => c.gossip_interval = seconds(f, &v)?,
                "push_pull_interval" => c.push_pull_interval = seconds(f, &v)?,
                "gossip_to_the_dead_time" => c.gossip_to_the_dead_time = seconds(f, &v)?,
                "reconnect_interval" => c.reconnect_interval = seconds(f, &v)?,
                "rejoin_interval" => c.rejoin_interval = seconds(f, &v)?,
                "reap_timeout" => c.reap_timeout = seconds(f, &v)?,
                "gossip_fanout" => c.gossip_fanout = clamp(count(f, &v)?),
                "indirect_checks" => c.indirect_checks = clamp(count(f, &v)?),
                "max_packet_size" => c.max_packet_size = clamp(count(f, &v)?),
                "max_meta_size" => c.max_meta_size = clamp(count(f, &v)?),
                "suspicion_mult" => c.suspicion_mult = small(count(f, &v)?),
                "suspicion_max_timeout_mult" => c.suspicion_max_timeout_mult = small(count(f, &v)?),
                "retransmit_mult" => c.retransmit_mult = small(count(f, &v)?),
                "anti_entropy" => bundled = anti_entropy(&mut c, &v)?,
                "sync_peers" => c.sync_peers = sync_peers(f, &word(f, &v)?)?,
                "stop_policy" => c.stop_policy = stop_policy(&word(f, &v)?)?,
                "state_gc_grace" => c.state_gc_grace = seconds(f, &v)?,
                "sync_max_datagrams" => c.sync_max_datagrams = clamp(count(f, &v)?),
                "max_stream_size" => c.max_stream_size = clamp(count(f, &v)?),
                "awareness_max_multiplier" => c.awareness_max_multiplier = small(count(f, &v)?),
                "failure_detector" => c.failure_detector = failure_detector(&word(f, &v)?)?,
                "node_timeout" => c.node_timeout = seconds(f, &v)?,
                "keys" => c.keys = keys(&v)?,
                "label" => c.label = word(f, &v)?,
                "push_pull_scale" => c.push_pull_scale = flag(f, &v)?,
                "lifeguard" => c.lifeguard = flag(f, &v)?,
                "closed_port_evidence" => c.closed_port_evidence = flag(f, &v)?,
                "eager_push" => c.eager_push = flag(f, &v)?,
                _ => {
                    let msg = format!("Config got an unexpected keyword argument '{key}'");
                    return Err(Error::Type(msg).into());
                }
            }
        }
        for (param, flat) in bundled {
            if kwargs.contains(flat)? {
                let msg = format!(
                    "anti_entropy=AntiEntropy({param}=...) and {flat}=... both set {flat}; \
                     give it once"
                );
                return Err(Error::Config(msg).into());
            }
        }
    }
    c.validate().map_err(|e| Error::Config(e.to_string()))?;
    Ok(PyConfig { inner: c })
}

impl PyConfig {
    /// Every setting by its keyword, in the order of the presets table:
    /// what `repr` shows and what a copy or pickle is rebuilt from.
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.inner;
        let d = PyDict::new(py);
        d.set_item("probe_interval", c.probe_interval.as_secs_f64())?;
        d.set_item("probe_timeout", c.probe_timeout.as_secs_f64())?;
        d.set_item("gossip_interval", c.gossip_interval.as_secs_f64())?;
        d.set_item("gossip_fanout", c.gossip_fanout)?;
        d.set_item("suspicion_mult", c.suspicion_mult)?;
        d.set_item("suspicion_max_timeout_mult", c.suspicion_max_timeout_mult)?;
        d.set_item("retransmit_mult", c.retransmit_mult)?;
        d.set_item("indirect_checks", c.indirect_checks)?;
        d.set_item("push_pull_interval", c.push_pull_interval.as_secs_f64())?;
        d.set_item("push_pull_scale", c.push_pull_scale)?;
        d.set_item("gossip_to_the_dead_time", c.gossip_to_the_dead_time.as_secs_f64())?;
        d.set_item("reconnect_interval", c.reconnect_interval.as_secs_f64())?;
        d.set_item("rejoin_interval", c.rejoin_interval.as_secs_f64())?;
        d.set_item("reap_timeout", c.reap_timeout.as_secs_f64())?;
        d.set_item("lifeguard", c.lifeguard)?;
        d.set_item("closed_port_evidence", c.closed_port_evidence)?;
        d.set_item("awareness_max_multiplier", c.awareness_max_multiplier)?;
        d.set_item("failure_detector", detector_name(c.failure_detector))?;
        d.set_item("node_timeout", c.node_timeout.as_secs_f64())?;
        d.set_item("max_packet_size", c.max_packet_size)?;
        d.set_item("max_meta_size", c.max_meta_size)?;
        d.set_item("anti_entropy", mode_name(c.anti_entropy))?;
        d.set_item("sync_peers", peers_name(c.sync_peers))?;
        d.set_item("stop_policy", policy_name(c.stop_policy))?;
        d.set_item("eager_push", c.eager_push)?;
        d.set_item("state_gc_grace", c.state_gc_grace.as_secs_f64())?;
        d.set_item("sync_max_datagrams", c.sync_max_datagrams)?;
        d.set_item("max_stream_size", c.max_stream_size)?;
        d.set_item("keys", self.keys(py))?;
        d.set_item("label", &c.label)?;
        Ok(d)
    }
}

#[pymethods]
impl PyConfig {
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(Config::lan(), kwargs)
    }

    /// memberlist's LAN defaults: a data-centre network.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn lan(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(Config::lan(), kwargs)
    }

    /// memberlist's local defaults: one host or a fast local network.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn local(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(Config::local(), kwargs)
    }

    /// memberlist's WAN defaults: members across the internet.
    #[staticmethod]
    #[pyo3(signature = (**kwargs))]
    fn wan(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        build(Config::wan(), kwargs)
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

    /// Seconds a member that had peers may see none alive before it joins
    /// again through its seeds, names resolved anew (0 disables it).
    #[getter]
    fn rejoin_interval(&self) -> f64 {
        self.inner.rejoin_interval.as_secs_f64()
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

    /// Anti-entropy mode: `"push"`, `"pull"` or `"push_pull"`.
    #[getter]
    fn anti_entropy(&self) -> &'static str {
        mode_name(self.inner.anti_entropy)
    }

    /// Whom a member syncs with: `"random"` or `"ring"`.
    #[getter]
    fn sync_peers(&self) -> &'static str {
        peers_name(self.inner.sync_peers)
    }

    /// When rumor mongering stops: `"retransmit_limit"`, `"counter(k)"` or
    /// `"coin(k)"`.
    #[getter]
    fn stop_policy(&self) -> String {
        policy_name(self.inner.stop_policy)
    }

    /// Seconds tombstones and delivered rumors are kept for anti-entropy.
    #[getter]
    fn state_gc_grace(&self) -> f64 {
        self.inner.state_gc_grace.as_secs_f64()
    }

    /// Whether news is pushed the moment it arrives, not only each round.
    #[getter]
    fn eager_push(&self) -> bool {
        self.inner.eager_push
    }

    /// Whether the sync period stretches as the cluster grows (memberlist).
    #[getter]
    fn push_pull_scale(&self) -> bool {
        self.inner.push_pull_scale
    }

    /// Seconds a dead or departed member stays listed before it is removed.
    #[getter]
    fn reap_timeout(&self) -> f64 {
        self.inner.reap_timeout.as_secs_f64()
    }

    /// Whether Lifeguard is on (local health, shrinking suspicions, buddy
    /// system).
    #[getter]
    fn lifeguard(&self) -> bool {
        self.inner.lifeguard
    }

    /// Whether a probe refused by a closed port (ICMP port-unreachable),
    /// once confirmed, declares the member dead at once.
    #[getter]
    fn closed_port_evidence(&self) -> bool {
        self.inner.closed_port_evidence
    }

    /// Lifeguard's cap on the local health multiplier.
    #[getter]
    fn awareness_max_multiplier(&self) -> u32 {
        self.inner.awareness_max_multiplier
    }

    /// The failure detector: `"swim"` (SWIM, with Lifeguard unless it is
    /// off) or `"quorum"` (Redis Cluster's: a majority must find a member
    /// unreachable for `node_timeout`).
    #[getter]
    fn failure_detector(&self) -> &'static str {
        detector_name(self.inner.failure_detector)
    }

    /// Seconds without an answer before the quorum detector marks a member
    /// failing here (Redis's `cluster-node-timeout`).
    #[getter]
    fn node_timeout(&self) -> f64 {
        self.inner.node_timeout.as_secs_f64()
    }

    /// Whether the config has encryption keys.
    #[getter]
    fn encrypted(&self) -> bool {
        !self.inner.keys.is_empty()
    }

    /// The encryption keys, the primary first (empty: no encryption). They
    /// are readable, as every setting is, but `repr` only counts them, so
    /// a logged config does not leak them.
    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyBytes>> {
        self.inner.keys.iter().map(|k| PyBytes::new(py, &k.0)).collect()
    }

    /// The cluster label bound into every sealed datagram.
    #[getter]
    fn label(&self) -> &str {
        &self.inner.label
    }

    /// Largest broadcast payload or value sent over a TCP stream, exactly
    /// (its frame carries up to 1 KiB more for the framing); 0: no streams.
    #[getter]
    fn max_stream_size(&self) -> usize {
        self.inner.max_stream_size
    }

    /// Datagrams one anti-entropy answer may take.
    #[getter]
    fn sync_max_datagrams(&self) -> usize {
        self.inner.sync_max_datagrams
    }

    /// `Config(**fields)`, keys counted, never shown.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let mut parts = Vec::new();
        for (k, v) in self.fields(py)?.iter() {
            let shown = if k.extract::<String>()? == "keys" {
                match self.inner.keys.len() {
                    0 => "[]".to_string(),
                    1 => "<1 key>".to_string(),
                    n => format!("<{n} keys>"),
                }
            } else {
                v.repr()?.to_string()
            };
            parts.push(format!("{k}={shown}"));
        }
        Ok(format!("Config({})", parts.join(", ")))
    }

    /// Rebuilt as `Config(**fields)` (a `Config` is immutable, so `copy`
    /// and `deepcopy` give an equal one too): `copyreg.__newobj_ex__`, the
    /// way pickle calls `cls.__new__` with keywords, works for every
    /// pickle protocol.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let newobj = py.import("copyreg")?.getattr("__newobj_ex__")?;
        let args = (slf.get_type(), PyTuple::empty(py), slf.get().fields(py)?);
        (newobj, args).into_pyobject(py)
    }
}

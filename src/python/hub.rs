//! `NativeHub`: the ready queue the Python dispatcher threads share (see
//! [`crate::driver::EventHub`] and `python/rumor/node.py`).

use super::args::seconds;
use crate::driver::EventHub;
use pyo3::prelude::*;
use std::sync::Arc;

/// The Rust side of the dispatcher pool of `rumor.Node`; internal.
#[pyclass(module = "rumor._native", frozen)]
pub struct NativeHub {
    pub(super) hub: Arc<EventHub>,
}

#[pymethods]
impl NativeHub {
    #[new]
    fn new() -> Self {
        NativeHub { hub: Arc::new(EventHub::new()) }
    }

    /// The key of the next node with events, waiting with the GIL released
    /// up to `timeout` seconds (`None`: for ever); `None` on timeout or
    /// after `shutdown`.
    #[pyo3(signature = (timeout=None))]
    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<u64>> {
        let timeout = timeout.map(|t| seconds("timeout", t)).transpose()?;
        Ok(py.detach(|| self.hub.next(timeout)))
    }

    /// Waits up to `timeout` seconds until a node has waited `threshold`
    /// seconds with no consumer free (`True`); `False` on timeout, `poke`
    /// or `shutdown`.
    fn watch(&self, py: Python<'_>, threshold: f64, timeout: f64) -> PyResult<bool> {
        let threshold = seconds("threshold", threshold)?;
        let timeout = seconds("timeout", timeout)?;
        Ok(py.detach(|| self.hub.watch(threshold, timeout)))
    }

    /// Ends a `watch` under way.
    fn poke(&self) {
        self.hub.poke();
    }

    /// Ends every `next` and `watch`, now and later.
    fn shutdown(&self) {
        self.hub.shutdown();
    }

    /// Nodes waiting for a consumer.
    fn ready(&self) -> usize {
        self.hub.ready()
    }
}

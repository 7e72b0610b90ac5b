//! The `stats()` dict of one node, live (`Node.stats()`) or simulated
//! (`SimNode.stats()`): one builder, so both have the same keys.

use crate::driver::DriverStats;
use crate::proto::{Gauges, MemberState, Stats};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The engine's counters, then the driver's, then the gauges:
/// `update_queue` (membership updates waiting to be piggybacked),
/// `push_queue`, `event_queue`, `health_multiplier`, `task_panicked` and
/// `members_<state>`. A simulated node passes `DriverStats::default()`: its
/// network never fails a send, nor loses events.
pub(crate) fn node_stats<'py>(
    py: Python<'py>,
    stats: &Stats,
    gauges: &Gauges,
    driver: &DriverStats,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in stats.counters() {
        d.set_item(k, v)?;
    }
    d.set_item("send_errors", driver.send_errors)?;
    d.set_item("events_dropped", driver.events_dropped)?;
    d.set_item("streams_refused", driver.streams_refused)?;
    d.set_item("task_panicked", u64::from(driver.panicked))?;
    d.set_item("update_queue", gauges.update_queue)?;
    d.set_item("push_queue", gauges.push_queue)?;
    d.set_item("event_queue", driver.event_queue)?;
    d.set_item("health_multiplier", gauges.health_multiplier)?;
    for state in MemberState::ALL {
        d.set_item(format!("members_{}", state.as_str()), gauges.members[state as usize])?;
    }
    Ok(d)
}

/// The probe round-trip histogram of one snapshot: `(buckets, count, sum in
/// µs)`, each bucket `(upper bound in seconds, answers in it)`, not
/// cumulative; answers slower than the last bound are only in the count.
pub(crate) type ProbeRtt = (Vec<(f64, u64)>, u64, u64);

/// The [`ProbeRtt`] of `stats`.
pub(crate) fn probe_rtt(stats: &Stats) -> ProbeRtt {
    let buckets = crate::proto::RTT_BUCKETS_US
        .iter()
        .zip(stats.probe_rtt_buckets)
        .map(|(&us, n)| (us as f64 / 1e6, n))
        .collect();
    (buckets, stats.probe_rtt_count, stats.probe_rtt_sum_us)
}

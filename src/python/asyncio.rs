//! The runtime behind the awaitables (`join_async`, ...).
//!
//! pyo3-async-runtimes completes each Python future from a thread of the
//! runtime it was given, taking the GIL to do so. Handing it the I/O runtime
//! would let a busy Python program stall every node's socket loop, so it gets
//! a runtime of its own: one worker, named `rumor-asyncio`.

use std::sync::OnceLock;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Initializes pyo3-async-runtimes with the awaitables' runtime (once).
pub(crate) fn init() {
    let rt = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rumor-asyncio")
            .enable_all()
            .build()
            .expect("cannot start the rumor asyncio runtime")
    });
    // Err means it was initialized already, with this same runtime.
    let _ = pyo3_async_runtimes::tokio::init_with_runtime(rt);
}

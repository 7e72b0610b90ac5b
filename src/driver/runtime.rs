//! The one process-wide tokio runtime, started on first use.

use std::sync::OnceLock;
use std::time::Instant;
use tokio::runtime::Runtime;

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// A fixed instant of this process, the origin of the timer grid (see
/// `TIMER_GRAIN`).
pub(super) fn epoch() -> &'static Instant {
    EPOCH.get_or_init(Instant::now)
}

/// The shared runtime every node runs on: two worker threads named
/// `rumor-io`, started lazily and kept for the life of the process (its
/// threads never touch Python, so interpreter exit cannot hang on them).
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rumor-io")
            .enable_all()
            .build()
            .expect("cannot start the rumor I/O runtime")
    })
}

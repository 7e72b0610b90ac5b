//! The sans-I/O protocol engine.
//!
//! Everything the protocol decides is decided here, and nothing else happens
//! here: no socket, thread, async runtime or clock. A driver feeds the engine
//! with [`Engine::handle_packet`] and [`Engine::handle_timeout`] (time is an
//! argument, a [`Duration`](core::time::Duration) since an origin the driver
//! picks), issues commands ([`Engine::join`], [`Engine::leave`], ...), then
//! drains [`Engine::poll_transmit`] and [`Engine::poll_event`] and sleeps
//! until [`Engine::poll_timeout`]. It must drain both queues after every
//! call that can fill them (all of the above). Randomness comes from a ChaCha
//! RNG seeded by the driver, so a run is reproducible from its seed.

mod broadcast;
mod config;
mod dissemination;
mod engine;
mod event;
mod gossip;
mod member;
mod membership;
mod probe;
mod quorum;
mod stats;
mod store;
mod table;
mod timer;

pub use config::{
    AntiEntropyMode, Config, ConfigError, FailureDetector, StopPolicy, SyncPeers,
    STREAM_FRAME_OVERHEAD,
};
pub use dissemination::ItemError;
pub use engine::{Engine, MetaTooLarge, Transmit};
pub use event::Event;
pub use member::{Member, MemberState};
pub use stats::{Gauges, Stats, RTT_BUCKETS_US};
pub use store::MAX_PUSHES;
pub use table::Snapshot;

#[cfg(test)]
mod tests;

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
//!
//! The engine coordinates parts that each own their data (quinn-proto's
//! `Connection` over its packet spaces is the model):
//!
//! - `view`: the member table, the counts and the one set of state
//!   transition rules (`membership` applies claims through them);
//! - `detector`: the failure detector, `swim` (with `probe_order`) or
//!   `quorum`, behind one interface;
//! - `piggyback`: the membership-update queue and the member sample, which
//!   `gossip` rounds carry;
//! - `items` (the `Store` of `item_log`s): every member's replicated state and
//!   rumors; `mongering` pushes new items, `anti_entropy` repairs the rest;
//! - `join`: the join handshake and reconnects;
//! - `outbox`: transmits, events, counters and the keyring, handed `&mut`
//!   to the parts.

mod anti_entropy;
mod config;
mod detector;
mod engine;
mod event;
mod gossip;
mod item_log;
mod items;
mod join;
mod links;
mod member;
mod membership;
mod mongering;
mod outbox;
mod piggyback;
mod probe_order;
mod quorum;
mod rejoin;
mod stats;
mod swim;
mod table;
mod timer;
mod view;

pub use crate::codec::FailureReason;
pub use config::{
    AntiEntropyMode, Config, ConfigError, FailureDetector, StopPolicy, SyncPeers,
    STREAM_FRAME_OVERHEAD,
};
pub use engine::{Engine, MetaTooLarge};
pub use event::Event;
pub use items::ItemError;
pub use member::{Member, MemberState};
pub use mongering::MAX_PUSHES;
pub use outbox::Transmit;
pub use stats::{Gauges, Stats, RTT_BUCKETS_US};
pub use table::{Names, Snapshot};

#[cfg(test)]
mod tests;

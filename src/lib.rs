//! rumor: a gossip protocol library.
//!
//! Layers, data flowing one way (see DESIGN.md §1):
//! - [`codec`]: the wire format;
//! - [`proto`]: the sans-I/O protocol engine (no sockets, threads or clock);
//! - [`sim`]: a deterministic simulator running many engines in virtual time;
//! - `driver` (feature `driver`, on by default): runs engines on a tokio
//!   runtime with real UDP sockets;
//! - `python` (feature `python`): the PyO3 binding.
// No unsafe code, but for the two libc calls of `driver/recverr.rs` (the
// socket error queue, which std, tokio and socket2 do not wrap).
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod codec;
#[doc(hidden)]
pub mod fuzzing;
pub mod proto;
pub mod sim;

#[cfg(feature = "driver")]
pub mod driver;

#[cfg(feature = "python")]
mod python;

//! The libzmq side that every aiozmq-rs driver shares: plumbing, no decisions.
//!
//! The decisions live in `aiozmq-core`'s `TransportState`. This crate makes
//! the libzmq calls the core asks for ([`sock`]), keeps the state and the
//! sockets behind one lock ([`Shared`]), carries out the core's outputs in a
//! driver turn ([`Shared::run_turn`]), delivers callbacks to the protocol
//! ([`Deliver`]), and defines the one `Transport`, builder and `ZmqStream`
//! types every driver crate names with its runtime filled in. A driver crate
//! adds only what depends on its runtime: how to wait for an FD, a wake-up
//! and a timer, and how to spawn the driver ([`asynch::AsyncRuntime`], or a
//! thread-based [`Runtime`]).
//!
//! Lock order, everywhere: the protocol's mutex, then the transport's. No
//! callback runs while the transport's lock is held, and no thread waits for
//! the protocol's mutex while holding the transport's.

#![warn(missing_docs)]

pub mod asynch;
mod authenticator;
mod builder;
mod context;
mod deliver;
mod handle;
mod runtime;
pub mod security;
mod setup;
mod shared;
pub mod sock;
mod stream;
mod transport;

pub use authenticator::Authenticator;
pub use builder::{connection, stream, Builder, Connection, Stream};
pub use context::{default_max_sockets, default_socket, Ctx};
pub use deliver::{lock, ProtocolCell};
pub use handle::Handle;
pub use runtime::{Async, Blocking, Runtime};
pub use setup::Setup;
pub use shared::{Deliver, Inner, Shared, Turn, Wakeup, Woke};
pub use stream::ZmqStream;
pub use transport::Transport;

/// The linked libzmq's version, `(major, minor, patch)`.
pub fn zmq_version() -> (i32, i32, i32) {
    zmq::version()
}

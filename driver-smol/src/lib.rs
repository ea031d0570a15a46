//! aiozmq-rs for smol: ZeroMQ with aiozmq's transport/protocol and stream
//! APIs, at the speed of libzmq.
//!
//! Works from `smol::block_on` or any executor: each transport has one driver
//! task (on smol's global executor unless [`set_spawner`] chose another) that
//! waits on the socket's `ZMQ_FD` through async-io and does what the sans-IO
//! core (`aiozmq_core::TransportState`) asks. `write()` sends from the
//! caller's task while nothing is buffered, so the common case costs no task hop.
//!
//! ```no_run
//! use aiozmq_smol::{create_zmq_connection, Multipart, SocketType, Transport, ZmqProtocol, ZmqTransport};
//!
//! struct Echo(Option<Transport>);
//! impl ZmqProtocol<Transport> for Echo {
//!     fn connection_made(&mut self, t: Transport) { self.0 = Some(t) }
//!     fn msg_received(&mut self, msg: Multipart) {
//!         let _ = self.0.as_ref().unwrap().write(msg); // ROUTER: [peer id, body] back
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let (server, _) = create_zmq_connection(|| Echo(None), SocketType::Router)
//!     .bind("tcp://127.0.0.1:*")
//!     .open()
//!     .await?;
//! println!("echoing on {:?}", server.bindings());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod runtime;

pub use aiozmq_core::{
    errno, event, version, version_info, zmq_errno, Bytes, Multipart, OptKind, OptValue, SockOpt,
    SocketEvent, SocketType, VersionInfo, ZmqError, ZmqProtocol, ZmqTransport, CLOSE_LINGER_MS,
    DEFAULT_EVENTS_BACKLOG, MIN_MESSAGE_COST,
};
pub use aiozmq_driver_common::security::{curve_keypair, curve_public, zmq_has, CurveKeyPair};
pub use aiozmq_driver_common::{default_max_sockets, default_socket};
pub use runtime::{set_spawner, Smol};
/// The `zmq` crate this driver is built on: its types (`zmq::Socket`,
/// `zmq::Context`) appear in this API.
pub use zmq;

use aiozmq_driver_common as common;

/// A ZeroMQ transport driven by a smol task: aiozmq's `ZmqTransport`.
pub type Transport = common::Transport<common::Async<Smol>>;
/// The builder [`create_zmq_connection`] returns.
pub type ConnectionBuilder<P, F> = common::Builder<common::Async<Smol>, common::Connection<P, F>>;
/// The builder [`create_zmq_stream`] returns.
pub type StreamBuilder = common::Builder<common::Async<Smol>, common::Stream>;
/// aiozmq's `ZmqStream`.
pub type ZmqStream = common::ZmqStream<common::Async<Smol>>;

/// Creates a ZeroMQ connection: `.bind()`, `.connect()`, `.zmq_sock()`,
/// `.context()`, `.setsockopt()`, then `.open().await` → `(Transport, Arc<Mutex<P>>)`.
pub fn create_zmq_connection<P, F>(factory: F, zmq_type: SocketType) -> ConnectionBuilder<P, F>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport>,
{
    common::connection(factory, zmq_type)
}

/// Creates a stream: the builder also takes `.read_limits()`,
/// `.write_limits()` and `.events_backlog()`; then `.open().await`.
pub fn create_zmq_stream(zmq_type: SocketType) -> StreamBuilder {
    common::stream(zmq_type)
}

/// A ZAP handler (pyzmq's `zmq.auth`): who may connect, by IP address,
/// PLAIN user and password, or CURVE client key.
pub type Authenticator = common::Authenticator<common::Async<Smol>>;

/// The linked libzmq's version, `(major, minor, patch)`.
pub fn zmq_version() -> (i32, i32, i32) {
    common::zmq_version()
}

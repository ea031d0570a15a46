//! aiozmq-rs for plain threads: ZeroMQ with aiozmq's transport/protocol and
//! stream APIs, and no async runtime.
//!
//! Each transport has its own I/O thread. It waits in `poll(2)` on the
//! socket's `ZMQ_FD` (and the monitor's) plus a wake-up pipe, does what the
//! sans-IO core (`aiozmq_core::TransportState`) asks, and calls the protocol.
//! `write()` sends from the caller's thread while nothing is buffered, so the
//! common case costs no thread hop; both threads touch the socket only under
//! the transport's lock, never at once.
//!
//! Why a thread per transport rather than one poller thread for all: no
//! transport waits behind another's callbacks, a slow protocol slows only
//! itself, and the thread is only a hop for what the caller could not send
//! itself. The cost is a thread (and its stack) per transport, fine for
//! hundreds of sockets; for thousands, use `aiozmq-tokio` or `aiozmq-smol`.
//!
//! ```no_run
//! use aiozmq_blocking::{create_zmq_stream, Bytes, Multipart, SocketType, ZmqTransport};
//! use std::time::Duration;
//!
//! let mut pull = create_zmq_stream(SocketType::Pull).bind("tcp://127.0.0.1:*").open()?;
//! let endpoint = pull.transport().bindings().into_iter().next().unwrap();
//! let push = create_zmq_stream(SocketType::Push).connect(endpoint).open()?;
//! push.write(Multipart::from_iter([Bytes::from_static(b"hello")]))?;
//! let msg = pull.read_timeout(Duration::from_secs(5))?;
//! assert_eq!(&msg[0][..], b"hello");
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

mod thread;

pub use aiozmq_core::{
    errno, event, version, version_info, zmq_errno, Bytes, Multipart, OptKind, OptValue, SockOpt,
    SocketEvent, SocketType, VersionInfo, ZmqError, ZmqProtocol, ZmqTransport, CLOSE_LINGER_MS,
    DEFAULT_EVENTS_BACKLOG, MIN_MESSAGE_COST,
};
pub use thread::IoThread;
/// The `zmq` crate this driver is built on: its types (`zmq::Socket`,
/// `zmq::Context`) appear in this API.
pub use zmq;

use aiozmq_driver_common as common;

/// A ZeroMQ transport served by its own I/O thread: aiozmq's `ZmqTransport`.
pub type Transport = common::Transport<common::Blocking<IoThread>>;
/// The builder [`create_zmq_connection`] returns.
pub type ConnectionBuilder<P, F> =
    common::Builder<common::Blocking<IoThread>, common::Connection<P, F>>;
/// The builder [`create_zmq_stream`] returns.
pub type StreamBuilder = common::Builder<common::Blocking<IoThread>, common::Stream>;
/// aiozmq's `ZmqStream`.
pub type ZmqStream = common::ZmqStream<common::Blocking<IoThread>>;

/// Creates a ZeroMQ connection: `.bind()`, `.connect()`, `.zmq_sock()`,
/// `.context()`, `.setsockopt()`, then `.open()` → `(Transport, Arc<Mutex<P>>)`.
pub fn create_zmq_connection<P, F>(factory: F, zmq_type: SocketType) -> ConnectionBuilder<P, F>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport>,
{
    common::connection(factory, zmq_type)
}

/// Creates a stream: the builder also takes `.read_limits()`,
/// `.write_limits()` and `.events_backlog()`; then `.open()`.
pub fn create_zmq_stream(zmq_type: SocketType) -> StreamBuilder {
    common::stream(zmq_type)
}
pub use aiozmq_driver_common::security::{curve_keypair, curve_public, zmq_has, CurveKeyPair};
pub use aiozmq_driver_common::{default_max_sockets, default_socket};

/// A ZAP handler (pyzmq's `zmq.auth`): who may connect, by IP address,
/// PLAIN user and password, or CURVE client key.
pub type Authenticator = common::Authenticator<common::Blocking<IoThread>>;

/// The linked libzmq's version, `(major, minor, patch)`.
pub fn zmq_version() -> (i32, i32, i32) {
    common::zmq_version()
}

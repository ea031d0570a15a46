//! Everything an async driver needs, generic over its runtime: the transport,
//! the builders, the stream and the driver loop. A driver crate implements
//! [`AsyncRuntime`] (register an FD, wait for it, spawn, yield) and re-exports
//! these types with its runtime filled in.

mod driver;
mod signal;
mod stream;
mod transport;

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;

use crate::Shared;

pub use stream::{create_zmq_stream, StreamBuilder, ZmqStream};
pub use transport::{create_zmq_connection, ConnectionBuilder, Transport};

/// A future the driver runs for the life of one transport.
pub type DriverFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What an async runtime must provide to drive transports.
pub trait AsyncRuntime: Send + Sync + 'static {
    /// A registered FD. Dropping it deregisters the FD; it must hold `owner`
    /// (an `Arc<Shared>`) so the socket cannot close while registered.
    type Fd: Send + Sync + 'static;

    /// Checks that `open()` may run here (e.g. inside a runtime), so a
    /// misuse is an error before anything is created, not a panic.
    fn check() -> io::Result<()>;

    /// Registers a libzmq signalling FD for readability.
    fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<Self::Fd>;

    /// Completes when the FD signals; consumes the signal where the runtime
    /// keeps one (the core re-reads `ZMQ_EVENTS` after, so nothing is lost).
    fn readable(fd: &Self::Fd) -> impl Future<Output = ()> + Send + '_;

    /// Lets other tasks run (the driver's work budget is spent).
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Starts the driver on the runtime.
    fn spawn(driver: DriverFuture) -> io::Result<()>;
}

//! The async flavour, generic over the runtime: a driver crate implements
//! [`AsyncRuntime`] (register an FD, wait for it, sleep, yield, spawn) and
//! gets `Transport<Async<R>>`, the builders and `ZmqStream<Async<R>>`.

mod driver;
mod signal;

use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::runtime::{Async, Runtime};
use crate::shared::{Deliver, Shared, Wakeup};

pub use signal::Signal;

/// A future the driver runs for the life of one transport.
pub type DriverFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What an async runtime must provide to drive transports.
pub trait AsyncRuntime: Send + Sync + 'static {
    /// A registered FD. Dropping it deregisters the FD.
    type Fd: Send + Sync + 'static;

    /// Checks that `open()` may run here (e.g. inside a runtime), so a
    /// misuse is an error before anything is created, not a panic.
    fn check() -> io::Result<()>;

    /// Registers a libzmq signalling FD for readability. `owner` keeps the
    /// socket's shared half alive while registered.
    fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<Self::Fd>;

    /// Completes when the FD signals; consumes the signal where the runtime
    /// keeps one (the core re-reads `ZMQ_EVENTS` after, so nothing is lost).
    /// An error means the runtime cannot wait on it: the transport fails.
    fn readable(fd: &Self::Fd) -> impl Future<Output = io::Result<()>> + Send + '_;

    /// Completes at `deadline` (the driver's one timer: the close deadline).
    fn sleep_until(deadline: Instant) -> impl Future<Output = ()> + Send;

    /// Lets other tasks run (the driver's work budget is spent).
    fn yield_now() -> impl Future<Output = ()> + Send;

    /// Starts the driver on the runtime.
    fn spawn(driver: DriverFuture) -> io::Result<()>;
}

impl<R: AsyncRuntime> Runtime for Async<R> {
    type Parker = Arc<Signal>;

    fn check() -> io::Result<()> {
        R::check()
    }

    fn parker() -> io::Result<(Box<dyn Wakeup>, Arc<Signal>)> {
        let signal = Arc::new(Signal::default());
        Ok((Box::new(signal.clone()), signal))
    }

    fn start(
        shared: Arc<Shared>,
        protocol: Option<Arc<dyn Deliver>>,
        signal: Arc<Signal>,
    ) -> io::Result<()> {
        let main = R::register(shared.fd(), &shared)?;
        R::spawn(Box::pin(driver::drive::<R>(shared, protocol, signal, main)))
    }
}

//! How tokio drives a transport: `AsyncFd` on the socket's FD, one task each.

use std::cell::Cell;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Once};
use std::time::Duration;

use aiozmq_driver_common::asynch::{AsyncRuntime, DriverFuture};
use aiozmq_driver_common::Shared;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

/// The tokio runtime, as the driver sees it: transports opened inside a tokio
/// runtime (current-thread or multi-thread) run their driver task on it.
#[derive(Debug, Clone, Copy)]
pub struct Tokio;

/// A libzmq signalling FD. libzmq owns it; holding the `Shared` keeps its
/// socket from closing while the FD is registered.
pub struct ZmqFd {
    fd: RawFd,
    _owner: Arc<Shared>,
}

impl std::fmt::Debug for ZmqFd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqFd")
            .field("fd", &self.fd)
            .finish_non_exhaustive()
    }
}

impl AsRawFd for ZmqFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("aiozmq-tokio must be used from within a tokio runtime"))
}

thread_local! {
    /// Set while [`quietly`] runs a probe on this thread.
    static PROBING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, catching a panic without printing it. tokio has no fallible
/// way to ask whether a runtime has its I/O or time driver: building an
/// `AsyncFd` or a `Sleep` without one panics. The first probe wraps the
/// process's panic hook so that panics inside probes stay silent; every
/// other panic still reaches the previous hook.
fn quietly<T>(f: impl FnOnce() -> T) -> Option<T> {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !PROBING.with(Cell::get) {
                previous(info)
            }
        }));
    });
    PROBING.with(|p| p.set(true));
    let out = panic::catch_unwind(AssertUnwindSafe(f));
    PROBING.with(|p| p.set(false));
    out.ok()
}

fn disabled(driver: &str, call: &str) -> io::Error {
    io::Error::other(format!(
        "aiozmq-tokio needs a runtime with the {driver} driver: call `{call}` (or \
         `enable_all`) on the runtime builder"
    ))
}

impl AsyncRuntime for Tokio {
    type Fd = AsyncFd<ZmqFd>;

    fn check() -> io::Result<()> {
        runtime()?;
        // The close deadline sleeps: without time, the driver would panic
        // then and drop the buffer with no connection_lost.
        quietly(|| drop(tokio::time::sleep(Duration::ZERO)))
            .ok_or_else(|| disabled("time", "enable_time"))
    }

    fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<Self::Fd> {
        let fd = ZmqFd {
            fd,
            _owner: owner.clone(),
        };
        let registered = quietly(|| {
            // SAFETY: the FD belongs to a socket of `owner`. Sockets close only
            // in `Shared::close_pending`, which the driver calls after dropping
            // every registration, or when the `Shared` drops, which the `ZmqFd`
            // itself prevents. So the FD stays open and the same while
            // registered.
            unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }
        });
        registered
            .ok_or_else(|| disabled("I/O", "enable_io"))?
            .map_err(|e| e.into())
    }

    async fn readable(fd: &Self::Fd) -> io::Result<()> {
        // Clearing cannot lose an edge: the core re-reads ZMQ_EVENTS after
        // every FD signal before it lets the driver park again.
        fd.readable().await.map(|mut guard| guard.clear_ready())
    }

    async fn sleep_until(deadline: std::time::Instant) {
        tokio::time::sleep_until(deadline.into()).await
    }

    async fn yield_now() {
        tokio::task::yield_now().await
    }

    fn spawn(driver: DriverFuture) -> io::Result<()> {
        runtime()?.spawn(driver);
        Ok(())
    }
}

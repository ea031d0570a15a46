//! How tokio drives a transport: `AsyncFd` on the socket's FD, one task each.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

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

impl AsRawFd for ZmqFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

fn runtime() -> io::Result<tokio::runtime::Handle> {
    tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("aiozmq-tokio must be used from within a tokio runtime"))
}

impl AsyncRuntime for Tokio {
    type Fd = AsyncFd<ZmqFd>;

    fn check() -> io::Result<()> {
        runtime().map(drop)
    }

    fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<Self::Fd> {
        let fd = ZmqFd {
            fd,
            _owner: owner.clone(),
        };
        // SAFETY: the FD belongs to a socket of `owner`. Sockets close only in
        // `Shared::close_pending`, which the driver calls after dropping every
        // registration, or when the `Shared` drops, which the `ZmqFd` itself
        // prevents. So the FD stays open and the same while registered.
        Ok(unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?)
    }

    async fn readable(fd: &Self::Fd) {
        match fd.readable().await {
            // Clearing cannot lose an edge: the core re-reads ZMQ_EVENTS after
            // every FD signal before it lets the driver park again.
            Ok(mut guard) => guard.clear_ready(),
            Err(e) => {
                tracing::error!("waiting on a ZMQ_FD failed: {e}");
                std::future::pending::<()>().await
            }
        }
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

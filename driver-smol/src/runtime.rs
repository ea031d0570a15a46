//! How smol drives a transport: `async_io::Async` on the socket's FD, one
//! task each on smol's global executor, or on the user's.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::{Arc, OnceLock};
use std::task::Poll;

use aiozmq_driver_common::asynch::{AsyncRuntime, DriverFuture};
use aiozmq_driver_common::Shared;
use async_io::Async;

/// The smol / async-io runtime, as the driver sees it.
///
/// Each transport's driver is one task. By default it is spawned on smol's
/// global executor (`smol::spawn`, whose thread count `SMOL_THREADS` sets);
/// call [`set_spawner`] once, before opening anything, to run drivers on an
/// executor of your own. I/O readiness always comes from async-io's reactor,
/// so transports work from `smol::block_on`, `async_io::block_on` or any
/// executor that polls futures.
#[derive(Debug, Clone, Copy)]
pub struct Smol;

static SPAWNER: OnceLock<fn(DriverFuture)> = OnceLock::new();

/// Runs every driver task through `spawner` instead of smol's global
/// executor, e.g. `|f| EXECUTOR.spawn(f).detach()`. Returns `false` if a
/// spawner was already set (the first one stays).
pub fn set_spawner(spawner: fn(DriverFuture)) -> bool {
    SPAWNER.set(spawner).is_ok()
}

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

impl AsFd for ZmqFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the FD stays open while this `ZmqFd` lives: its socket
        // closes only in `Shared::close_pending`, after the driver dropped
        // every registration, or when the `Shared` drops, which `_owner` prevents.
        unsafe { BorrowedFd::borrow_raw(self.fd) }
    }
}

impl AsRawFd for ZmqFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

impl AsyncRuntime for Smol {
    type Fd = Async<ZmqFd>;

    fn check() -> io::Result<()> {
        Ok(())
    }

    fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<Self::Fd> {
        // libzmq made the FD non-blocking already; leave its flags alone.
        Async::new_nonblocking(ZmqFd {
            fd,
            _owner: owner.clone(),
        })
    }

    async fn readable(fd: &Self::Fd) -> io::Result<()> {
        fd.readable().await
    }

    async fn sleep_until(deadline: std::time::Instant) {
        async_io::Timer::at(deadline).await;
    }

    async fn yield_now() {
        let mut yielded = false;
        poll_fn(|cx| {
            if std::mem::replace(&mut yielded, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
        .await
    }

    fn spawn(driver: DriverFuture) -> io::Result<()> {
        match SPAWNER.get() {
            Some(spawn) => spawn(driver),
            None => smol::spawn(driver).detach(),
        }
        Ok(())
    }
}

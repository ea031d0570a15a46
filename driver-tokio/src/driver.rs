//! The driver task: one per transport, waiting on the socket's FD (and the
//! monitor's) with `AsyncFd`, and on the handles' `Notify`.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;

use aiozmq_driver_common::{Deliver, Park, Shared, Wake};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

/// A libzmq signalling FD. libzmq owns it; holding the `Shared` keeps its
/// socket from being dropped while the FD is registered.
pub(crate) struct ZmqFd {
    fd: RawFd,
    _owner: Arc<Shared>,
}

impl AsRawFd for ZmqFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd
    }
}

/// Registers an FD of `owner`'s sockets for readability (ZMQ_FD only ever
/// signals "readable").
pub(crate) fn register(fd: RawFd, owner: &Arc<Shared>) -> io::Result<AsyncFd<ZmqFd>> {
    let fd = ZmqFd {
        fd,
        _owner: owner.clone(),
    };
    // SAFETY: the FD belongs to a socket of `owner`. Sockets close only in
    // `Shared::close_pending`, which the driver calls after dropping every
    // registration (`Park::Close`), or when the `Shared` drops, which the
    // `ZmqFd` itself prevents while registered. So the FD stays open and the
    // same for the registration's whole life.
    Ok(unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?)
}

/// The handles' way to wake the driver: a `Notify` keeps one permit, so a
/// wake that comes before the driver waits is not lost.
pub(crate) struct Notifier(pub(crate) Arc<Notify>);

impl Wake for Notifier {
    fn wake(&self) {
        self.0.notify_one();
    }
}

/// Waits until the FD is readable, then clears tokio's readiness. The core
/// re-reads ZMQ_EVENTS after every FD signal, so clearing cannot lose an edge.
async fn readable(fd: Option<&AsyncFd<ZmqFd>>) {
    match fd {
        Some(fd) => match fd.readable().await {
            Ok(mut guard) => guard.clear_ready(),
            Err(e) => {
                tracing::error!("waiting on a ZMQ_FD failed: {e}");
                std::future::pending::<()>().await
            }
        },
        None => std::future::pending::<()>().await,
    }
}

/// Runs the transport until `connection_lost` is delivered.
pub(crate) async fn drive(
    shared: Arc<Shared>,
    protocol: Arc<dyn Deliver>,
    notify: Arc<Notify>,
    main: AsyncFd<ZmqFd>,
) {
    let id = shared.id();
    tracing::debug!(transport = id, kind = %shared.socket_type(), "tokio driver started");
    let mut main = Some(main);
    let mut monitor: Option<(u64, AsyncFd<ZmqFd>)> = None;
    let mut batch = VecDeque::new();
    loop {
        match shared.run_turn(&*protocol, &mut batch) {
            Park::Yield => {
                tokio::task::yield_now().await;
                shared.begin_turn(false, false);
            }
            Park::Close => {
                // Deregister before libzmq closes the FDs.
                main = None;
                monitor = None;
                shared.close_pending();
            }
            Park::Done => break,
            Park::Wait => {
                let (_, monitor_fd, seq) = shared.fds();
                if monitor.as_ref().map(|m| m.0) != Some(seq) {
                    monitor = None;
                    if let Some(fd) = monitor_fd {
                        match register(fd, &shared) {
                            Ok(afd) => monitor = Some((seq, afd)),
                            Err(e) => {
                                tracing::error!(transport = id, "cannot watch the monitor: {e}")
                            }
                        }
                    }
                }
                let (main_ready, monitor_ready) = tokio::select! {
                    biased;
                    _ = notify.notified() => (false, false),
                    _ = readable(main.as_ref()) => (true, false),
                    _ = readable(monitor.as_ref().map(|m| &m.1)) => (false, true),
                };
                shared.begin_turn(main_ready, monitor_ready);
            }
        }
    }
    shared.finish();
    tracing::debug!(transport = id, "tokio driver ended");
}

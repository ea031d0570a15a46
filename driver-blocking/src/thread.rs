//! The I/O thread: one per transport, waiting in `poll(2)` (through
//! `zmq_poll` on plain FDs) on the socket's `ZMQ_FD`, the monitor's, and a
//! wake-up pipe the handles write to.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use aiozmq_driver_common::{Deliver, Park, Shared, Wake};

/// The handles' end of the wake-up pipe. A full pipe already means "wake".
pub(crate) struct Waker(UnixStream);

impl Wake for Waker {
    fn wake(&self) {
        let _ = (&self.0).write(&[1]);
    }
}

/// A wake-up pipe: the handles' end and the I/O thread's end, both non-blocking.
pub(crate) fn wake_pipe() -> io::Result<(Waker, UnixStream)> {
    let (tx, rx) = UnixStream::pair()?;
    tx.set_nonblocking(true)?;
    rx.set_nonblocking(true)?;
    Ok((Waker(tx), rx))
}

fn drain(rx: &mut UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(rx.read(&mut buf), Ok(n) if n > 0) {}
}

/// Starts the transport's I/O thread.
pub(crate) fn spawn(
    shared: Arc<Shared>,
    protocol: Arc<dyn Deliver>,
    wake_rx: UnixStream,
) -> io::Result<()> {
    std::thread::Builder::new()
        .name(format!("aiozmq-{}", shared.id()))
        .spawn(move || drive(shared, protocol, wake_rx))
        .map(drop)
}

/// Runs the transport until `connection_lost` is delivered.
fn drive(shared: Arc<Shared>, protocol: Arc<dyn Deliver>, mut wake_rx: UnixStream) {
    let id = shared.id();
    tracing::debug!(transport = id, kind = %shared.socket_type(), "I/O thread started");
    let mut batch = aiozmq_core::Deliveries::default();
    loop {
        match shared.run_turn(&*protocol, &mut batch) {
            Park::Yield => {
                std::thread::yield_now();
                shared.begin_turn(false, false);
            }
            // Nothing is registered anywhere: the FDs are only polled while open.
            Park::Close => shared.close_pending(),
            Park::Done => break,
            Park::Wait => {
                // Only this thread closes sockets, so these FDs stay valid while polled.
                let (main, monitor, _) = shared.fds();
                let mut items = [
                    zmq::PollItem::from_fd(wake_rx.as_raw_fd(), zmq::POLLIN),
                    zmq::PollItem::from_fd(main.unwrap_or(-1), zmq::POLLIN),
                    zmq::PollItem::from_fd(monitor.unwrap_or(-1), zmq::POLLIN),
                ];
                let used = if monitor.is_some() {
                    3
                } else if main.is_some() {
                    2
                } else {
                    1
                };
                if let Err(e) = zmq::poll(&mut items[..used], -1) {
                    if e != zmq::Error::EINTR {
                        tracing::error!(transport = id, "poll failed: {e}");
                    }
                }
                if items[0].is_readable() {
                    drain(&mut wake_rx);
                }
                shared.begin_turn(
                    used > 1 && items[1].is_readable(),
                    used > 2 && items[2].is_readable(),
                );
            }
        }
    }
    shared.finish();
    tracing::debug!(transport = id, "I/O thread ended");
}

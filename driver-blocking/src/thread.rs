//! The I/O thread: one per transport, waiting in `poll(2)` (through
//! `zmq_poll` on plain FDs) on the FDs the core names — the socket's
//! `ZMQ_FD`, the monitor pipe's — plus a wake-up pipe the handles write to,
//! with the core's deadline as its timeout.

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Instant;

use aiozmq_core::{Budget, Deliveries};
use aiozmq_driver_common::{Deliver, Runtime, Shared, Turn, Wakeup, Woke};

/// The plain-threads runtime: each transport's driver is a thread of its own.
#[derive(Debug, Clone, Copy)]
pub struct IoThread;

/// The handles' end of the wake-up pipe. A full pipe already means "wake".
struct Waker(UnixStream);

impl Wakeup for Waker {
    fn wake(&self) {
        let _ = (&self.0).write(&[1]);
    }
}

fn drain(rx: &mut UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(rx.read(&mut buf), Ok(n) if n > 0) {}
}

impl Runtime for IoThread {
    type Parker = UnixStream;

    fn check() -> io::Result<()> {
        Ok(())
    }

    fn parker() -> io::Result<(Box<dyn Wakeup>, UnixStream)> {
        let (tx, rx) = UnixStream::pair()?;
        tx.set_nonblocking(true)?;
        rx.set_nonblocking(true)?;
        Ok((Box::new(Waker(tx)), rx))
    }

    fn start(
        shared: Arc<Shared>,
        protocol: Option<Arc<dyn Deliver>>,
        wake_rx: UnixStream,
    ) -> io::Result<()> {
        std::thread::Builder::new()
            .name(format!("aiozmq-{}", shared.id()))
            .spawn(move || drive(shared, protocol, wake_rx))
            .map(drop)
    }
}

/// Tears the transport down if the thread ends any other way than `Done`.
struct Finish(Arc<Shared>, bool);

impl Drop for Finish {
    fn drop(&mut self) {
        if self.1 {
            self.0.finish();
        } else {
            self.0.teardown();
        }
    }
}

/// Runs the transport until it is done.
fn drive(shared: Arc<Shared>, protocol: Option<Arc<dyn Deliver>>, mut wake_rx: UnixStream) {
    let id = shared.id();
    tracing::debug!(transport = id, kind = %shared.socket_type(), "I/O thread started");
    let mut finish = Finish(shared.clone(), false);
    let mut batch = Deliveries::new();
    // This thread runs one transport and the OS schedules it: no budget.
    shared.begin_turn(Woke::default(), Budget::Unlimited);
    loop {
        match shared.run_turn(protocol.as_deref(), &mut batch) {
            // Never with an unlimited budget; were it to come, the next turn
            // simply begins (a yield_now cost a context switch per budget).
            Turn::Yield => shared.begin_turn(Woke::default(), Budget::Unlimited),
            // poll(2) holds no registration: close at once.
            Turn::Close(sock, linger) => shared.close_socket(sock, linger),
            Turn::Done => break,
            Turn::Wait(park) => {
                // Only this thread closes sockets, so these FDs stay valid while polled.
                let main = park.main.then(|| shared.fd());
                let monitor = park
                    .monitor
                    .and_then(|m| shared.pipe_fd(m).map(|fd| (m, fd)));
                let mut items = [
                    zmq::PollItem::from_fd(wake_rx.as_raw_fd(), zmq::POLLIN),
                    zmq::PollItem::from_fd(main.unwrap_or(-1), zmq::POLLIN),
                    zmq::PollItem::from_fd(monitor.map_or(-1, |m| m.1), zmq::POLLIN),
                ];
                let timeout = park.deadline.map_or(-1, |d| {
                    let left = d.saturating_duration_since(Instant::now());
                    // Round up: waking a little early would only park again.
                    left.as_millis() as i64 + i64::from(left.subsec_nanos() % 1_000_000 != 0)
                });
                match zmq::poll(&mut items, timeout) {
                    Ok(_) | Err(zmq::Error::EINTR) => {}
                    // Polling again would fail again: a busy loop. The core
                    // fails the transport instead.
                    Err(e) => {
                        shared.wait_failed(io::Error::from_raw_os_error(e.to_raw()));
                        shared.begin_turn(Woke::default(), Budget::Unlimited);
                        continue;
                    }
                }
                if items[0].is_readable() {
                    drain(&mut wake_rx);
                }
                shared.begin_turn(
                    Woke {
                        main: main.is_some() && items[1].is_readable(),
                        monitor: monitor.filter(|_| items[2].is_readable()).map(|m| m.0),
                        timer: park.deadline.is_some_and(|d| Instant::now() >= d),
                    },
                    Budget::Unlimited,
                );
            }
        }
    }
    finish.1 = true;
    drop(finish);
    tracing::debug!(transport = id, "I/O thread ended");
}

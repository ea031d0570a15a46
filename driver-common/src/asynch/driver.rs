//! The async driver: one task per transport. It carries out the core's
//! outputs, registers exactly the FDs a park names, arms the park's one
//! timer, and — if the task is dropped before the transport finished (its
//! runtime was dropped) — closes the sockets in the core's safe order.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

use aiozmq_core::{Budget, Deliveries, MonitorId, Park, Sock};

use super::signal::Signal;
use super::AsyncRuntime;
use crate::shared::{Deliver, Shared, Turn, Woke};

/// Sends and receives per turn before the task yields: the driver shares
/// its executor, so one busy socket must not starve the others.
const TURN_BUDGET: Budget = Budget::Limit(256);

/// The driver's FD registrations. Dropped before the sockets close, always:
/// on the normal path because the core's `Close` output says so, and when
/// the task is dropped because this guard tears down after deregistering.
struct Registrations<R: AsyncRuntime> {
    shared: Arc<Shared>,
    main: Option<R::Fd>,
    monitor: Option<(MonitorId, R::Fd)>,
    finished: bool,
}

impl<R: AsyncRuntime> Registrations<R> {
    fn release(&mut self, sock: Sock) {
        match sock {
            Sock::Main => self.main = None,
            Sock::Monitor(id) => {
                if self.monitor.as_ref().is_some_and(|m| m.0 == id) {
                    self.monitor = None;
                }
            }
        }
    }

    /// Registers the monitor pipe the park names; `true` when a new one was
    /// registered (its EVENTS must be read before parking).
    fn follow(&mut self, park: &Park) -> bool {
        if self.monitor.as_ref().map(|m| m.0) == park.monitor {
            return false;
        }
        self.monitor = None;
        let Some(id) = park.monitor else {
            return false;
        };
        let Some(fd) = self.shared.pipe_fd(id) else {
            return false;
        };
        match R::register(fd, &self.shared) {
            Ok(reg) => {
                self.monitor = Some((id, reg));
                self.shared.registered(Sock::Monitor(id));
                true
            }
            // Unwatched, the monitor's events would never come: the core
            // fails the transport (and the next turn closes it).
            Err(e) => {
                self.shared.wait_failed(e);
                true
            }
        }
    }
}

impl<R: AsyncRuntime> Drop for Registrations<R> {
    fn drop(&mut self) {
        self.main = None;
        self.monitor = None;
        if !self.finished {
            tracing::debug!(transport = self.shared.id(), "driver dropped: tearing down");
            self.shared.teardown();
        }
    }
}

/// Waits for the signal, either FD or the deadline, whichever comes first;
/// or for the error of an FD the runtime cannot wait on.
async fn wait_any<R: AsyncRuntime>(
    signal: &Signal,
    regs: &Registrations<R>,
    deadline: Option<Instant>,
) -> Result<Woke, io::Error> {
    let mut signalled = pin!(signal.wait());
    let mut main_ready = pin!(optional::<R>(regs.main.as_ref()));
    let mut monitor_ready = pin!(optional::<R>(regs.monitor.as_ref().map(|m| &m.1)));
    let mut timer = pin!(async {
        match deadline {
            Some(at) => R::sleep_until(at).await,
            None => std::future::pending().await,
        }
    });
    let monitor_id = regs.monitor.as_ref().map(|m| m.0);
    poll_fn(|cx| {
        let mut woke = Woke::default();
        let mut any = signalled.as_mut().poll(cx).is_ready();
        if let Poll::Ready(ready) = main_ready.as_mut().poll(cx) {
            ready?;
            woke.main = true;
            any = true;
        }
        if let Poll::Ready(ready) = monitor_ready.as_mut().poll(cx) {
            ready?;
            woke.monitor = monitor_id;
            any = true;
        }
        if timer.as_mut().poll(cx).is_ready() {
            woke.timer = true;
            any = true;
        }
        if any {
            Poll::Ready(Ok(woke))
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn optional<R: AsyncRuntime>(fd: Option<&R::Fd>) -> io::Result<()> {
    match fd {
        Some(fd) => R::readable(fd).await,
        None => std::future::pending().await,
    }
}

/// The driver's future: runs the transport until it is done. The guard is
/// made here, outside the future's body, so that a future dropped before
/// its first poll (its runtime dropped at once) still tears down.
pub(crate) fn drive<R: AsyncRuntime>(
    shared: Arc<Shared>,
    protocol: Option<Arc<dyn Deliver>>,
    signal: Arc<Signal>,
    main: R::Fd,
) -> impl Future<Output = ()> + Send + 'static {
    let regs = Registrations::<R> {
        shared: shared.clone(),
        main: Some(main),
        monitor: None,
        finished: false,
    };
    run::<R>(shared, protocol, signal, regs)
}

async fn run<R: AsyncRuntime>(
    shared: Arc<Shared>,
    protocol: Option<Arc<dyn Deliver>>,
    signal: Arc<Signal>,
    mut regs: Registrations<R>,
) {
    let id = shared.id();
    tracing::debug!(transport = id, kind = %shared.socket_type(), "driver started");
    let mut batch = Deliveries::new();
    shared.begin_turn(Woke::default(), TURN_BUDGET);
    loop {
        match shared.run_turn(protocol.as_deref(), &mut batch) {
            Turn::Yield => {
                R::yield_now().await;
                shared.begin_turn(Woke::default(), TURN_BUDGET);
            }
            Turn::Close(sock, linger) => {
                regs.release(sock);
                shared.close_socket(sock, linger);
            }
            Turn::Done => break,
            Turn::Wait(park) => {
                if regs.follow(&park) {
                    continue;
                }
                match wait_any::<R>(&signal, &regs, park.deadline).await {
                    Ok(woke) => shared.begin_turn(woke, TURN_BUDGET),
                    Err(e) => {
                        shared.wait_failed(e);
                        shared.begin_turn(Woke::default(), TURN_BUDGET);
                    }
                }
            }
        }
    }
    regs.finished = true;
    drop(regs);
    shared.finish();
    tracing::debug!(transport = id, "driver ended");
}

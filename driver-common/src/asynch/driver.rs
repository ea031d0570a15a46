//! The async driver loop: one task per transport, waiting on the socket's FD,
//! the monitor's FD and the handles' signal.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use super::signal::Signal;
use super::AsyncRuntime;
use crate::{Deliver, Park, Shared};

/// Which waits completed.
#[derive(Default)]
struct Woken {
    main: bool,
    monitor: bool,
}

/// Waits for the signal or either FD, whichever comes first.
async fn wait_any<R: AsyncRuntime>(
    signal: &Signal,
    main: Option<&R::Fd>,
    monitor: Option<&R::Fd>,
) -> Woken {
    let mut signalled = pin!(signal.wait());
    let mut main_ready = pin!(optional::<R>(main));
    let mut monitor_ready = pin!(optional::<R>(monitor));
    poll_fn(|cx| {
        let mut woken = Woken::default();
        let mut any = signalled.as_mut().poll(cx).is_ready();
        if main_ready.as_mut().poll(cx).is_ready() {
            woken.main = true;
            any = true;
        }
        if monitor_ready.as_mut().poll(cx).is_ready() {
            woken.monitor = true;
            any = true;
        }
        if any {
            Poll::Ready(woken)
        } else {
            Poll::Pending
        }
    })
    .await
}

async fn optional<R: AsyncRuntime>(fd: Option<&R::Fd>) {
    match fd {
        Some(fd) => R::readable(fd).await,
        None => std::future::pending().await,
    }
}

/// Runs the transport until `connection_lost` is delivered.
pub(crate) async fn drive<R: AsyncRuntime>(
    shared: Arc<Shared>,
    protocol: Arc<dyn Deliver>,
    signal: Arc<Signal>,
    main: R::Fd,
) {
    let id = shared.id();
    tracing::debug!(transport = id, kind = %shared.socket_type(), "driver started");
    let mut main = Some(main);
    let mut monitor: Option<(u64, R::Fd)> = None;
    let mut batch = aiozmq_core::Deliveries::default();
    loop {
        match shared.run_turn(&*protocol, &mut batch) {
            Park::Yield => {
                R::yield_now().await;
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
                        match R::register(fd, &shared) {
                            Ok(reg) => {
                                monitor = Some((seq, reg));
                                // An event may have come between the monitor's
                                // last EVENTS reading and this registration.
                                shared.begin_turn(false, true);
                                continue;
                            }
                            Err(e) => {
                                tracing::error!(transport = id, "cannot watch the monitor: {e}")
                            }
                        }
                    }
                }
                let woken =
                    wait_any::<R>(&signal, main.as_ref(), monitor.as_ref().map(|m| &m.1)).await;
                shared.begin_turn(woken.main, woken.monitor);
            }
        }
    }
    shared.finish();
    tracing::debug!(transport = id, "driver ended");
}

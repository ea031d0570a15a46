//! The one executor of the core's outputs: a turn's libzmq calls, the
//! close sequence when the driver is gone, and the deliverer's next
//! callback. Generic over [`Sockets`], so the drivers (over `zmq::Socket`)
//! and the test harness (over fake sockets) run the same code.

use std::io;
use std::time::Instant;

use crate::{
    Callback, Deliveries, Multipart, Output, Park, SendResult, Sock, TransportState, Waiter,
    WriteAction,
};

/// The libzmq calls a turn makes, on the sockets the core names. The core
/// names only sockets it has not closed; an implementation holds them all.
pub trait Sockets {
    /// Sends one whole message without blocking (`ZMQ_DONTWAIT`).
    fn send(&mut self, msg: &Multipart) -> SendResult;
    /// Receives one whole message without blocking into `into` (empty when
    /// called), or the errno (what `into` then holds is discarded).
    fn recv(&mut self, sock: Sock, into: &mut Multipart) -> Result<(), i32>;
    /// Reads `ZMQ_EVENTS`: `(POLLIN, POLLOUT)`, or the errno.
    fn events(&mut self, sock: Sock) -> Result<(bool, bool), i32>;
    /// Stops libzmq's monitor on the main socket; `true` when libzmq did.
    fn stop_monitor(&mut self) -> bool;
    /// Closes this socket with this `LINGER`; the driver already dropped
    /// any registration of its FD.
    fn close(&mut self, sock: Sock, linger: i32);
}

/// How many libzmq calls a turn may make before the driver lets others run:
/// a driver on a shared executor passes a limit, a driver with a thread of
/// its own passes [`Budget::Unlimited`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// At most this many sends and receives, then [`Output::Yield`].
    Limit(u32),
    /// Never yield: the turn runs until it parks.
    Unlimited,
}

/// Where a turn stops: what only the driver can do.
#[must_use = "the driver must act on where the turn stopped"]
#[derive(Debug)]
pub enum Stop {
    /// Wake this waiter, then go on with the turn.
    Wake(Waiter),
    /// Deliver: [`DeliveryDoor::take`](crate::DeliveryDoor::take), deliver without the
    /// lock, then go on with the turn.
    Deliver,
    /// Drop the FD registration of `sock`, then [`close`] it.
    Close {
        /// The socket to close.
        sock: Sock,
        /// Its `LINGER`.
        linger: i32,
    },
    /// The budget is spent: let others run, then begin a turn.
    Yield,
    /// Park as told.
    Wait(Park),
    /// The transport is finished.
    Done,
}

/// Acts on the state's next output: a libzmq call is made and reported
/// (`None`: poll again); anything else is where the turn stops.
#[must_use = "a stop is what only the driver can do"]
pub fn step(state: &mut TransportState, sockets: &mut impl Sockets) -> Option<Stop> {
    match state.poll_output() {
        // A batch of sends or receives runs here, not through a poll per
        // message: the core says whether the next one follows at once.
        Output::Send(first) => {
            let mut msg = first;
            loop {
                let result = sockets.send(msg);
                state.handle_send(result);
                match state.send_again() {
                    Some(next) => msg = next,
                    None => break,
                }
            }
        }
        Output::Recv(sock) => loop {
            let result = sockets.recv(sock, state.recv_slot(sock));
            state.handle_recv(sock, result);
            if !state.recv_again(sock) {
                break;
            }
        },
        Output::ReadEvents(sock) => {
            let result = sockets.events(sock);
            state.handle_events(sock, result);
        }
        Output::StopMonitor => {
            let ok = sockets.stop_monitor();
            state.handle_monitor_stopped(ok);
        }
        Output::Wake(w) => return Some(Stop::Wake(w)),
        Output::Deliver => return Some(Stop::Deliver),
        Output::Close { sock, linger } => return Some(Stop::Close { sock, linger }),
        Output::Yield => return Some(Stop::Yield),
        Output::Wait(park) => return Some(Stop::Wait(park)),
        Output::Done => return Some(Stop::Done),
    }
    None
}

/// Runs the turn until it stops.
#[must_use = "a stop is what only the driver can do"]
pub fn turn(state: &mut TransportState, sockets: &mut impl Sockets) -> Stop {
    loop {
        if let Some(stop) = step(state, sockets) {
            return stop;
        }
    }
}

/// `write(msg)` from a caller's thread, with the state locked: sends at once
/// while nothing is buffered (aiozmq's fast path), else first flushes what
/// is buffered if the socket may take it, then sends or buffers `msg` —
/// as the core decides ([`WriteAction`]). The caller then drains
/// [`TransportState::poll_wake`].
#[inline]
pub fn write(
    state: &mut TransportState,
    sockets: &mut impl Sockets,
    msg: Multipart,
) -> io::Result<()> {
    let mut action = state.writer().write(&msg)?;
    if action == WriteAction::Flush {
        while let Some(front) = state.writer().flush_front() {
            let result = sockets.send(front);
            state.writer().handle_flushed(result);
        }
        action = state.writer().after_flush()?;
    }
    if action == WriteAction::SendNow {
        action = state.writer().handle_direct_send(sockets.send(&msg))?;
    }
    if action == WriteAction::Enqueue {
        state.writer().enqueue(msg);
    }
    Ok(())
}

/// Closes a socket the core asked to close and reports it.
pub fn close(state: &mut TransportState, sockets: &mut impl Sockets, sock: Sock, linger: i32) {
    sockets.close(sock, linger);
    state.handle_closed(sock);
}

/// The driver is gone (its task dropped with its runtime, its thread
/// ended) or never started: closes every socket still open in the core's
/// order (monitor stopped, its pipes, then the socket), with nobody to
/// deliver to. Waiters go to `wake` (stream waiters must learn the end).
pub fn close_all(
    state: &mut TransportState,
    sockets: &mut impl Sockets,
    now: Instant,
    mut wake: impl FnMut(Waiter),
) {
    state.handle_driver_gone();
    // Each round closes a socket, stops the monitor or ends; the bound only
    // guards against a core defect turning teardown into a hang.
    for _ in 0..1024 {
        match turn(state, sockets) {
            Stop::Close { sock, linger } => close(state, sockets, sock, linger),
            Stop::Wake(w) => wake(w),
            Stop::Deliver => {
                let mut batch = Deliveries::new();
                state.delivery().take(&mut batch);
                batch.clear();
                while state.delivery().finish(&mut batch) {
                    batch.clear();
                }
            }
            Stop::Yield => state.begin_turn(now, Budget::Unlimited),
            Stop::Wait(_) | Stop::Done => return,
        }
    }
}

/// Where a deliverer reaches the state between callbacks: directly (the
/// harness), or by taking the transport's lock (a driver).
pub trait DeliveryState {
    /// [`DeliveryDoor::review`](crate::DeliveryDoor::review).
    fn review(&mut self, batch: &mut Deliveries);
    /// [`DeliveryDoor::finish`](crate::DeliveryDoor::finish).
    fn finish(&mut self, batch: &mut Deliveries) -> bool;
}

impl DeliveryState for TransportState {
    fn review(&mut self, batch: &mut Deliveries) {
        self.delivery().review(batch)
    }

    fn finish(&mut self, batch: &mut Deliveries) -> bool {
        self.delivery().finish(batch)
    }
}

/// The deliverer's next callback from `batch`, or `None` when the delivery
/// is over. Before each one, if the deliverer's attention was raised (a
/// flow callback owed by a write inside the last callback or from another
/// thread, `pause_reading`, `close`), the core reviews the batch; at its
/// end the delivery finishes, taking the flow callbacks owed meanwhile.
#[must_use = "a callback taken from the batch must be delivered"]
pub fn next_callback(
    batch: &mut Deliveries,
    mut attention: impl FnMut() -> bool,
    state: &mut impl DeliveryState,
) -> Option<Callback> {
    loop {
        if attention() {
            state.review(batch);
        }
        if let Some(cb) = batch.pop() {
            return Some(cb);
        }
        if !state.finish(batch) {
            return None;
        }
    }
}

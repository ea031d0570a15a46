//! What the state machine and its driver exchange: the outputs the driver acts
//! on, and the values it reports back.

use std::collections::VecDeque;
use std::io;
use std::time::Instant;

use crate::{Multipart, SocketEvent};

/// One of the sockets a transport owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sock {
    /// The transport's own ZeroMQ socket.
    Main,
    /// The PAIR socket that reads libzmq's socket-monitor events.
    Monitor(MonitorId),
}

/// Names one monitor pipe: enabling the monitor again makes a new one, so an
/// output about an old pipe can never be mistaken for the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonitorId(pub u64);

/// What the driver must do next. From [`TransportState::poll_output`](crate::TransportState::poll_output);
/// act on it, report the result with the `handle_*` method it names, and poll again.
#[must_use = "every output asks the driver to act; dropping one can hang the transport"]
#[non_exhaustive]
#[derive(Debug)]
pub enum Output<'a> {
    /// Wake this waiter.
    Wake(Waiter),
    /// Send this message without blocking, then report it with
    /// [`handle_send`](crate::TransportState::handle_send).
    Send(&'a Multipart),
    /// Receive one whole message from this socket without blocking, then report
    /// it with [`handle_recv`](crate::TransportState::handle_recv).
    Recv(Sock),
    /// Read this socket's `ZMQ_EVENTS`, then report it with
    /// [`handle_events`](crate::TransportState::handle_events).
    ReadEvents(Sock),
    /// Callbacks are owed and the driver now holds the right to deliver them:
    /// take them with [`delivery().take`](crate::DeliveryDoor::take)
    /// and deliver them without holding the lock around this state.
    Deliver,
    /// Stop libzmq's socket monitor on the main socket (`zmq_socket_monitor(s,
    /// NULL, 0)`), then report it with
    /// [`handle_monitor_stopped`](crate::TransportState::handle_monitor_stopped).
    StopMonitor,
    /// Drop any registration of this socket's FD, then close the socket with
    /// this `LINGER` (ms), then report it with
    /// [`handle_closed`](crate::TransportState::handle_closed).
    Close {
        /// The socket to close.
        sock: Sock,
        /// The linger to set before closing.
        linger: i32,
    },
    /// The turn's budget is spent: let the executor run others, then call
    /// [`begin_turn`](crate::TransportState::begin_turn). No wake-up is needed.
    Yield,
    /// Park until one of these FDs signals, a handle wakes the driver, or the
    /// deadline passes. Then [`handle_fd_readable`](crate::TransportState::handle_fd_readable)
    /// for each FD that signalled, [`handle_timeout`](crate::TransportState::handle_timeout)
    /// if the deadline passed, and [`begin_turn`](crate::TransportState::begin_turn).
    Wait(Park),
    /// The transport is finished: every socket is closed and `connection_lost`
    /// was handed out. The driver ends.
    Done,
}

/// What to wait on when parking. Register exactly these FDs: a registration
/// the park does not name is one the core no longer needs (and must be dropped
/// before its socket closes, which an [`Output::Close`] says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Park {
    /// Wait on the main socket's `ZMQ_FD` (always, while it is open).
    pub main: bool,
    /// Wait on this monitor pipe's `ZMQ_FD`.
    pub monitor: Option<MonitorId>,
    /// Wake at this time even if nothing signalled (one timer per driver).
    pub deadline: Option<Instant>,
}

/// A waiter to wake: the driver's outputs and a caller's input both name
/// them ([`Output::Wake`], [`Wake::Waiter`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiter {
    /// Whoever is delivering callbacks must look at the state again before
    /// its next callback ([`delivery().review`](crate::DeliveryDoor::review)):
    /// a flow callback is owed first, or its messages must come back.
    Deliverer,
    /// A stream reader waits and a message (or the end) is there.
    Reader,
    /// A stream event reader waits and an event (or the end) is there.
    Events,
    /// A stream `drain()` waits and writing may go on (or the stream ended).
    Drain,
}

/// What a caller other than the driver must do after its input
/// ([`poll_wake`](crate::TransportState::poll_wake)). The driver never gets
/// these first two: its outputs carry only a [`Waiter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// The parked driver has work: wake it.
    Driver,
    /// Flow callbacks are owed and nobody is delivering: the caller that made
    /// the input delivers them now ([`delivery().begin_flow`](crate::DeliveryDoor::begin_flow)),
    /// so `pause_writing` reaches the protocol before `write()` returns; if the
    /// protocol is locked elsewhere it reports
    /// [`delivery().flow_refused`](crate::DeliveryDoor::flow_refused) instead.
    FlowOwed,
    /// Wake this waiter.
    Waiter(Waiter),
}

/// A protocol callback to deliver, in order.
#[derive(Debug)]
pub enum Callback {
    /// `pause_writing()`.
    PauseWriting,
    /// `resume_writing()`.
    ResumeWriting,
    /// `msg_received(msg)`.
    MsgReceived(Multipart),
    /// `event_received(event)`.
    EventReceived(SocketEvent),
    /// `connection_lost(exc)`: the last callback.
    ConnectionLost(Option<io::Error>),
}

/// Callbacks handed to a deliverer, in delivery order: `callbacks` first, then
/// `msgs` (kept apart so a whole batch of messages changes hands in O(1)).
#[derive(Debug, Default)]
pub struct Deliveries {
    callbacks: VecDeque<Callback>,
    msgs: VecDeque<Multipart>,
    /// The monitor generation the batch's events belong to.
    pub(crate) events_epoch: u64,
}

impl Deliveries {
    /// An empty batch.
    pub fn new() -> Deliveries {
        Deliveries::default()
    }

    /// The next callback to deliver.
    pub fn pop(&mut self) -> Option<Callback> {
        match self.callbacks.pop_front() {
            Some(cb) => Some(cb),
            None => self.msgs.pop_front().map(Callback::MsgReceived),
        }
    }

    /// Nothing left to deliver.
    pub fn is_empty(&self) -> bool {
        self.callbacks.is_empty() && self.msgs.is_empty()
    }

    /// How many callbacks are left.
    pub fn len(&self) -> usize {
        self.callbacks.len() + self.msgs.len()
    }

    /// Forgets every callback left (a callback panicked: the transport failed).
    pub fn clear(&mut self) {
        self.callbacks.clear();
        self.msgs.clear();
    }

    pub(crate) fn callbacks(&mut self) -> &mut VecDeque<Callback> {
        &mut self.callbacks
    }

    pub(crate) fn msgs(&mut self) -> &mut VecDeque<Multipart> {
        &mut self.msgs
    }
}

/// How a send of one multipart message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Every frame was accepted.
    Sent,
    /// Nothing was sent: libzmq's errno (EAGAIN when the socket is full).
    Refused(i32),
    /// Some frames went out, then libzmq failed with this errno: the transport
    /// cannot be trusted any more (half a message is on its way).
    Broken(i32),
}

/// What a `write()` asks of the caller.
#[must_use = "the message is neither sent nor buffered until the caller acts"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAction {
    /// Send the message now from the caller's thread (aiozmq's fast path: the
    /// buffer is empty), then report it with
    /// [`writer().handle_direct_send`](crate::Writer::handle_direct_send).
    SendNow,
    /// Messages are buffered and the socket may have room: the writer sends
    /// them first ([`writer().flush_front`](crate::Writer::flush_front) and
    /// [`writer().handle_flushed`](crate::Writer::handle_flushed) until it
    /// says no more), then asks [`writer().after_flush`](crate::Writer::after_flush)
    /// what to do with its own message.
    Flush,
    /// Hand the message to [`writer().enqueue`](crate::Writer::enqueue): the
    /// driver sends it when the socket has room.
    Enqueue,
    /// The message went out: nothing more to do.
    Done,
}

/// The outcome of a stream read, event read or drain.
#[derive(Debug)]
pub enum Read<T> {
    /// Here it is.
    Ready(T),
    /// Not yet: the core wakes the waiter ([`Waiter::Reader`], [`Waiter::Events`],
    /// [`Waiter::Drain`]) when it is.
    Pending,
    /// The stream ended (closed or lost) and nothing queued is left.
    Closed(io::Error),
}

/// What [`monitoring().enable`](crate::Monitoring::enable) asks the caller to do.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonitorPlan {
    /// A monitor is running: stop it first (`zmq_socket_monitor(s, NULL, 0)`)
    /// and report [`handle_monitor_stopped`](crate::TransportState::handle_monitor_stopped).
    pub stop_first: bool,
    /// The new pipe's id: start libzmq's monitor on an inproc endpoint unique
    /// to this id, connect the PAIR at once, then report
    /// [`monitoring().handle_started`](crate::Monitoring::handle_started).
    pub id: MonitorId,
}

//! `TransportState`: the sans-IO state machine of one ZeroMQ transport.
//!
//! Read top to bottom: the types a driver exchanges with the state, the state
//! itself, then its methods grouped as in quinn-proto — getters, mutators
//! (calls from the application), `handle_*` (results of libzmq calls the driver
//! made), and `poll_*` (what the driver must do or deliver next).

use std::collections::{BTreeSet, VecDeque};
use std::io;

use bytes::Bytes;

use crate::error;
use crate::limits::WaterMarks;
use crate::option::{OptValue, SockOpt};
use crate::{Multipart, SocketEvent, SocketType};

/// Sends and receives a driver may do per turn before it must yield, so one
/// busy socket cannot starve the others on its executor.
pub const TURN_BUDGET: u32 = 256;

/// Received messages held for delivery before the driver stops receiving and
/// delivers them: bounds the memory of one turn and the delay of `pause_reading`.
pub const INBOX_CAPACITY: usize = 64;

/// Linger given to libzmq on `close()` when the user set none: long enough for
/// libzmq to flush to a live peer, short enough that terminating a context
/// never hangs.
pub const CLOSE_LINGER_MS: i32 = 1000;

/// What the driver must do next with the socket. From [`TransportState::poll_io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// Send [`TransportState::front`] without blocking, then report it with
    /// [`TransportState::handle_send`].
    Send,
    /// Receive one whole multipart message without blocking, then report it
    /// with [`TransportState::handle_recv`].
    Recv,
    /// Read `ZMQ_EVENTS`, then report it with [`TransportState::handle_events`].
    ReadEvents,
    /// Callbacks are waiting: take them with [`TransportState::take_callbacks`] and
    /// deliver them (without holding the lock that guards this state).
    Deliver,
    /// The turn's budget is spent: let the executor run others, then call
    /// [`TransportState::begin_turn`] and poll again. Not a park: no wake-up needed.
    Yield,
    /// Park until the socket's FD is readable ([`TransportState::handle_fd_readable`])
    /// or the handle wakes the driver ([`TransportState::begin_turn`]).
    Wait,
    /// Close the socket now with this `LINGER` (ms; `None`: keep the socket's own).
    /// `connection_lost` follows through [`TransportState::take_callbacks`].
    Close {
        /// The linger to set before closing, if any.
        linger: Option<i32>,
    },
    /// The transport is finished: `connection_lost` was taken. The driver ends.
    Done,
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

/// Callbacks taken for delivery, with the messages apart so that a whole
/// batch of them changes hands in O(1) (a `Multipart` is 136 bytes).
/// Deliver `callbacks` first, then `msgs`, in order.
#[derive(Debug, Default)]
pub struct Deliveries {
    /// Flow control, monitor events, or `connection_lost` alone.
    pub callbacks: VecDeque<Callback>,
    /// Messages for `msg_received`.
    pub msgs: VecDeque<Multipart>,
}

impl Deliveries {
    /// Nothing to deliver.
    pub fn is_empty(&self) -> bool {
        self.callbacks.is_empty() && self.msgs.is_empty()
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

/// What [`TransportState::write`] asks of the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAction {
    /// The buffer was empty: send [`TransportState::front`] now (aiozmq's fast
    /// path) and report it with [`TransportState::handle_direct_send`].
    SendNow,
    /// The message joined the buffer; the driver sends it when it can.
    Queued,
}

/// Where the transport is in its life.
#[derive(Debug)]
enum Phase {
    Open,
    /// `close()`: flush the buffer, then close the socket.
    Flushing,
    /// `abort()` or a fatal error: close the socket at once.
    Dropping {
        linger: i32,
    },
    /// The socket is closed; `connection_lost(exc)` is owed.
    Closed {
        exc: Option<io::Error>,
    },
    /// `connection_lost` was handed out.
    Done,
}

/// The sans-IO state of one transport: write buffer and water marks, reading
/// pause, the libzmq edge-trigger bookkeeping, callbacks owed to the protocol,
/// the sets of bindings, connections and subscriptions, and the life cycle.
///
/// It performs no I/O and reads no clock. See the crate docs for the driver
/// loop and the law of use: after every input, poll the outputs until there are none.
#[derive(Debug)]
pub struct TransportState {
    socket_type: SocketType,
    phase: Phase,

    // Write side.
    buffer: VecDeque<Multipart>,
    buffer_size: usize,
    limits: WaterMarks,
    writing_paused: bool,
    refused_writes: u64,

    // Read side.
    reading_paused: bool,
    inbox: VecDeque<Multipart>,

    // Callbacks owed, other than messages.
    flow: VecDeque<Callback>,
    events: VecDeque<SocketEvent>,

    // libzmq readiness. `events_stale`: a libzmq call ran since ZMQ_EVENTS was last
    // read, so the FD's edge may already be spent and parking could hang.
    events_stale: bool,
    readable: bool,
    writable: bool,
    parked: bool,
    wake: bool,
    budget: u32,
    user_linger: Option<i32>,
    pending_exc: Option<io::Error>,

    bindings: BTreeSet<String>,
    connections: BTreeSet<String>,
    subscriptions: BTreeSet<Bytes>,
}

fn frames_len(msg: &Multipart) -> usize {
    msg.iter().map(Bytes::len).sum()
}

fn check_endpoint(endpoint: &str) -> io::Result<()> {
    if endpoint.contains('\0') {
        return Err(error::invalid_input(format!(
            "endpoint {endpoint:?} contains a NUL byte"
        )));
    }
    match endpoint.split_once("://") {
        Some((scheme, addr)) if !scheme.is_empty() && !addr.is_empty() => Ok(()),
        _ => Err(error::invalid_input(format!(
            "endpoint {endpoint:?} is not of the form transport://address"
        ))),
    }
}

/// Errnos that reject one message without harming the socket: a REQ/REP sent
/// out of turn (EFSM) or a ROUTER_MANDATORY peer that is gone (EHOSTUNREACH).
fn rejects_only_the_message(errno: i32) -> bool {
    const EHOSTUNREACH: i32 = 113;
    errno == error::EFSM || errno == EHOSTUNREACH
}

impl TransportState {
    /// A new open transport for a socket of this type.
    ///
    /// `ZMQ_EVENTS` counts as unread, so the driver reads it before its first
    /// park (a bound SUB may not send its subscriptions until it is read).
    pub fn new(socket_type: SocketType) -> TransportState {
        TransportState {
            socket_type,
            phase: Phase::Open,
            buffer: VecDeque::new(),
            buffer_size: 0,
            limits: WaterMarks::default(),
            writing_paused: false,
            refused_writes: 0,
            reading_paused: false,
            inbox: VecDeque::new(),
            flow: VecDeque::new(),
            events: VecDeque::new(),
            events_stale: true,
            readable: false,
            // Optimistic, as aiozmq: the first write tries libzmq at once.
            writable: true,
            parked: false,
            wake: false,
            budget: TURN_BUDGET,
            user_linger: None,
            pending_exc: None,
            bindings: BTreeSet::new(),
            connections: BTreeSet::new(),
            subscriptions: BTreeSet::new(),
        }
    }

    // ----- getters -----

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// Bytes buffered, all frames of all messages not yet accepted by libzmq.
    pub fn write_buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Messages buffered.
    pub fn write_buffer_len(&self) -> usize {
        self.buffer.len()
    }

    /// `(low, high)` write water marks.
    pub fn write_limits(&self) -> (usize, usize) {
        self.limits.get()
    }

    /// Whether the protocol was told `pause_writing` (and not yet `resume_writing`).
    pub fn is_writing_paused(&self) -> bool {
        self.writing_paused
    }

    /// Whether `pause_reading` is in force.
    pub fn is_reading_paused(&self) -> bool {
        self.reading_paused
    }

    /// Closing, closed or lost: writes are refused.
    pub fn is_closing(&self) -> bool {
        !matches!(self.phase, Phase::Open)
    }

    /// `connection_lost` was handed out; the transport is finished.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Writes refused because the transport was closing or lost.
    pub fn refused_writes(&self) -> u64 {
        self.refused_writes
    }

    /// Whether a libzmq call ran since `ZMQ_EVENTS` was last read.
    pub fn events_stale(&self) -> bool {
        self.events_stale
    }

    /// Whether the driver is parked (it got [`Io::Wait`] and was not woken since).
    pub fn is_parked(&self) -> bool {
        self.parked
    }

    /// The message the driver or writer must send next.
    pub fn front(&self) -> Option<&Multipart> {
        self.buffer.front()
    }

    /// Endpoints bound through this transport.
    pub fn bindings(&self) -> &BTreeSet<String> {
        &self.bindings
    }

    /// Endpoints connected through this transport.
    pub fn connections(&self) -> &BTreeSet<String> {
        &self.connections
    }

    /// Filters subscribed through this transport; `Unsupported` unless SUB.
    pub fn subscriptions(&self) -> io::Result<&BTreeSet<Bytes>> {
        self.require_sub("subscriptions")?;
        Ok(&self.subscriptions)
    }

    // ----- mutators: calls from the application -----

    /// `write(msg)`: validates and buffers the message; tells the caller whether
    /// to send it at once. Refused (and counted) once closing: `NotConnected`.
    pub fn write(&mut self, msg: Multipart) -> io::Result<WriteAction> {
        if self.is_closing() {
            self.refused_writes += 1;
            return Err(error::not_connected(
                "write after the transport was closed or lost",
            ));
        }
        if !self.socket_type.can_send() {
            return Err(error::unsupported(format!(
                "a {} socket cannot send",
                self.socket_type
            )));
        }
        if msg.is_empty() {
            return Err(error::invalid_input(
                "a multipart message needs at least one frame",
            ));
        }
        // As aiozmq: an empty buffer always tries libzmq at once, whatever the
        // last EVENTS said, so a REQ writing out of turn gets EFSM every time.
        let direct = self.buffer.is_empty();
        self.buffer_size += frames_len(&msg);
        self.buffer.push_back(msg);
        if direct {
            Ok(WriteAction::SendNow)
        } else {
            self.settle_flow();
            self.maybe_wake();
            Ok(WriteAction::Queued)
        }
    }

    /// `set_write_buffer_limits(high, low)`; may owe pause or resume at once.
    pub fn set_write_limits(&mut self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.limits = WaterMarks::new(high, low)?;
        self.settle_flow();
        self.maybe_wake();
        Ok(())
    }

    /// `pause_reading()`: no `msg_received` until resumed. Twice is `InvalidInput`.
    pub fn pause_reading(&mut self) -> io::Result<()> {
        if self.reading_paused {
            return Err(error::invalid_input("reading is already paused"));
        }
        self.reading_paused = true;
        Ok(())
    }

    /// `resume_reading()`: delivery restarts from the driver, never inside this call.
    pub fn resume_reading(&mut self) -> io::Result<()> {
        if !self.reading_paused {
            return Err(error::invalid_input("reading is not paused"));
        }
        self.reading_paused = false;
        self.maybe_wake();
        Ok(())
    }

    /// `close()`: stop receiving, flush the buffer, then close with linger.
    /// Messages received and not yet delivered are dropped. Idempotent.
    pub fn close(&mut self) {
        if let Phase::Open = self.phase {
            self.phase = Phase::Flushing;
            self.inbox.clear();
            self.events.clear();
            self.maybe_wake();
        }
    }

    /// `abort()`: drop the buffer and close at once with zero linger.
    /// Returns how many messages were dropped. Idempotent.
    pub fn abort(&mut self) -> usize {
        match self.phase {
            Phase::Open | Phase::Flushing => {
                self.phase = Phase::Dropping { linger: 0 };
                self.inbox.clear();
                self.events.clear();
                self.maybe_wake();
                self.drop_buffer()
            }
            _ => 0,
        }
    }

    /// Checks an endpoint before `bind`; the driver binds and reports [`handle_bound`](Self::handle_bound).
    pub fn check_bind(&self, endpoint: &str) -> io::Result<()> {
        self.require_open()?;
        check_endpoint(endpoint)
    }

    /// Checks an endpoint before `connect`, `unbind` or `disconnect`.
    pub fn check_endpoint(&self, endpoint: &str) -> io::Result<()> {
        self.require_open()?;
        check_endpoint(endpoint)
    }

    /// `subscribe(prefix)`: `Ok(true)` when the driver must set `ZMQ_SUBSCRIBE`,
    /// `Ok(false)` when the prefix is already held (aiozmq's dedup).
    pub fn check_subscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.require_sub("subscribe")?;
        self.require_open()?;
        Ok(!self.subscriptions.contains(prefix))
    }

    /// `unsubscribe(prefix)`: `Ok(true)` when the driver must set
    /// `ZMQ_UNSUBSCRIBE`, `Ok(false)` when the prefix is not held.
    pub fn check_unsubscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.require_sub("unsubscribe")?;
        self.require_open()?;
        Ok(self.subscriptions.contains(prefix))
    }

    /// Checks `setsockopt(opt, value)` and returns the value in the option's type.
    pub fn check_setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<OptValue> {
        self.require_open()?;
        crate::option::coerce(opt, value)
    }

    /// Checks `getsockopt(opt)`.
    pub fn check_getsockopt(&self, _opt: SockOpt) -> io::Result<()> {
        self.require_open()
    }

    // ----- handle_*: results of libzmq calls -----

    /// Any libzmq call on the socket that is not a send, receive or EVENTS
    /// read (bind, setsockopt, …). It may consume the FD's edge.
    pub fn handle_zmq_call(&mut self) {
        self.events_stale = true;
        self.maybe_wake();
    }

    /// `bind` succeeded with this real endpoint.
    pub fn handle_bound(&mut self, endpoint: String) {
        self.handle_zmq_call();
        self.bindings.insert(endpoint);
    }

    /// `unbind` succeeded.
    pub fn handle_unbound(&mut self, endpoint: &str) {
        self.handle_zmq_call();
        self.bindings.remove(endpoint);
    }

    /// `connect` succeeded.
    pub fn handle_connected(&mut self, endpoint: String) {
        self.handle_zmq_call();
        self.connections.insert(endpoint);
    }

    /// `disconnect` succeeded.
    pub fn handle_disconnected(&mut self, endpoint: &str) {
        self.handle_zmq_call();
        self.connections.remove(endpoint);
    }

    /// `ZMQ_SUBSCRIBE` succeeded.
    pub fn handle_subscribed(&mut self, prefix: Bytes) {
        self.handle_zmq_call();
        self.subscriptions.insert(prefix);
    }

    /// `ZMQ_UNSUBSCRIBE` succeeded.
    pub fn handle_unsubscribed(&mut self, prefix: &[u8]) {
        self.handle_zmq_call();
        self.subscriptions.remove(prefix);
    }

    /// A `setsockopt` succeeded; a user-chosen `LINGER` is kept on close.
    pub fn handle_setsockopt(&mut self, opt: SockOpt, value: &OptValue) {
        self.handle_zmq_call();
        if opt == SockOpt::LINGER {
            if let OptValue::Int(ms) = *value {
                self.user_linger = Some(ms);
            }
        }
    }

    /// The result of the fast-path send that [`WriteAction::SendNow`] asked for.
    ///
    /// A message the socket rejects on its own (EFSM, EHOSTUNREACH) is removed
    /// and its error returned, leaving the transport usable; any other failure
    /// is fatal: the error is returned and `connection_lost(exc)` follows.
    pub fn handle_direct_send(&mut self, result: SendResult) -> io::Result<()> {
        self.events_stale = true;
        let outcome = match result {
            SendResult::Sent => {
                self.pop_front();
                Ok(())
            }
            SendResult::Refused(errno) if error::is_would_block(errno) => {
                self.writable = false;
                Ok(())
            }
            // Stays queued with the socket still writable: the driver retries.
            SendResult::Refused(errno) if error::is_interrupted(errno) => Ok(()),
            SendResult::Refused(errno) if rejects_only_the_message(errno) => {
                self.pop_front();
                Err(error::from_errno(errno))
            }
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                let err = error::from_errno(errno);
                let copy = error::duplicate(&err);
                self.fail(err);
                Err(copy)
            }
        };
        self.settle_flow();
        self.maybe_wake();
        outcome
    }

    /// The result of a driver send ([`Io::Send`]). Any failure but EAGAIN and
    /// EINTR is fatal, as in aiozmq: the buffered message cannot be handed back.
    pub fn handle_send(&mut self, result: SendResult) {
        self.events_stale = true;
        self.budget = self.budget.saturating_sub(1);
        match result {
            SendResult::Sent => self.pop_front(),
            SendResult::Refused(errno) if error::is_would_block(errno) => self.writable = false,
            SendResult::Refused(errno) if error::is_interrupted(errno) => {}
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                self.fail(error::from_errno(errno))
            }
        }
        self.settle_flow();
    }

    /// The result of a driver receive ([`Io::Recv`]): a whole message or an errno.
    /// EAGAIN, EINTR and EFSM (REQ/REP out of turn) are not errors; others are fatal.
    pub fn handle_recv(&mut self, result: Result<Multipart, i32>) {
        self.events_stale = true;
        self.budget = self.budget.saturating_sub(1);
        match result {
            Ok(msg) => {
                if !self.is_closing() {
                    self.inbox.push_back(msg);
                }
            }
            Err(errno) if error::is_interrupted(errno) => {}
            Err(errno) if error::is_would_block(errno) || errno == error::EFSM => {
                self.readable = false
            }
            Err(errno) => self.fail(error::from_errno(errno)),
        }
    }

    /// `ZMQ_EVENTS` was read: `POLLIN` and `POLLOUT`. Clears the stale mark.
    pub fn handle_events(&mut self, pollin: bool, pollout: bool) {
        self.events_stale = false;
        self.readable = pollin;
        self.writable = pollout;
    }

    /// The socket's FD signalled: something changed, so EVENTS must be read
    /// again before the next park (the signal itself says nothing more).
    pub fn handle_fd_readable(&mut self) {
        self.events_stale = true;
        self.parked = false;
    }

    /// A socket-monitor event decoded by the driver, for `event_received`.
    pub fn handle_monitor_event(&mut self, event: SocketEvent) {
        if !self.is_closing() {
            self.events.push_back(event);
            self.maybe_wake();
        }
    }

    /// A failure that ends the transport: drop everything, close at once,
    /// then `connection_lost(Some(err))`. The first cause wins: ignored once
    /// the transport is aborting, failed or closed.
    pub fn fail(&mut self, err: io::Error) {
        if let Phase::Open | Phase::Flushing = self.phase {
            self.phase = Phase::Dropping { linger: 0 };
            self.drop_buffer();
            self.inbox.clear();
            self.events.clear();
            self.pending_exc = Some(err);
            self.maybe_wake();
        }
    }

    /// The driver starts a turn: after waking from [`Io::Wait`] or [`Io::Yield`].
    pub fn begin_turn(&mut self) {
        self.parked = false;
        self.wake = false;
        self.budget = TURN_BUDGET;
    }

    // ----- poll_*: outputs -----

    /// What the driver must do next. Call it until it returns [`Io::Wait`],
    /// [`Io::Yield`] or [`Io::Done`], acting on each answer in between.
    ///
    /// It never returns `Wait` while a libzmq call has run since the last
    /// `ZMQ_EVENTS` reading: that is what makes a lost wake-up impossible.
    pub fn poll_io(&mut self) -> Io {
        match self.phase {
            Phase::Done => return Io::Done,
            Phase::Closed { .. } => return Io::Deliver,
            Phase::Flushing if self.buffer.is_empty() => {
                return self.close_now(Some(self.user_linger.unwrap_or(CLOSE_LINGER_MS)))
            }
            Phase::Dropping { linger } => return self.close_now(Some(linger)),
            Phase::Open | Phase::Flushing => {}
        }
        let spent = self.budget == 0;
        if !spent && self.writable && !self.buffer.is_empty() {
            return Io::Send;
        }
        if !spent && self.wants_recv() && self.readable && self.inbox.len() < INBOX_CAPACITY {
            return Io::Recv;
        }
        if self.has_callbacks() {
            return Io::Deliver;
        }
        if spent {
            return Io::Yield;
        }
        if self.events_stale {
            return Io::ReadEvents;
        }
        self.parked = true;
        Io::Wait
    }

    /// Moves the callbacks owed into `out`, in delivery order: flow control, then
    /// monitor events, then messages (unless reading is paused), and last, alone,
    /// `connection_lost`. The caller delivers them outside the state's lock and
    /// gives back messages it could not deliver with [`return_undelivered`](Self::return_undelivered).
    pub fn take_callbacks(&mut self, out: &mut VecDeque<Callback>) {
        out.extend(self.flow.drain(..));
        out.extend(self.events.drain(..).map(Callback::EventReceived));
        if !self.reading_paused {
            out.extend(self.inbox.drain(..).map(Callback::MsgReceived));
        }
        if out.is_empty() {
            if let Phase::Closed { exc } = &mut self.phase {
                let exc = exc.take();
                self.phase = Phase::Done;
                out.push_back(Callback::ConnectionLost(exc));
            }
        }
    }

    /// [`take_callbacks`](Self::take_callbacks) for drivers: the same order,
    /// but the received messages are handed over by swapping queues, not
    /// one by one.
    pub fn take_deliveries(&mut self, out: &mut Deliveries) {
        out.callbacks.extend(self.flow.drain(..));
        out.callbacks
            .extend(self.events.drain(..).map(Callback::EventReceived));
        if !self.reading_paused {
            if out.msgs.is_empty() {
                std::mem::swap(&mut self.inbox, &mut out.msgs);
            } else {
                out.msgs.extend(self.inbox.drain(..));
            }
        }
        if out.is_empty() {
            if let Phase::Closed { exc } = &mut self.phase {
                let exc = exc.take();
                self.phase = Phase::Done;
                out.callbacks.push_back(Callback::ConnectionLost(exc));
            }
        }
    }

    /// Moves only the flow-control callbacks owed into `out`: what `write()`
    /// delivers before it returns.
    pub fn take_flow_callbacks(&mut self, out: &mut VecDeque<Callback>) {
        out.extend(self.flow.drain(..));
    }

    /// Messages taken but not delivered because reading was paused (or the
    /// transport closed) meanwhile: they go back to the front of the queue,
    /// or are dropped if the transport is closing.
    pub fn return_undelivered(&mut self, msgs: impl DoubleEndedIterator<Item = Multipart>) {
        if self.is_closing() {
            return;
        }
        for msg in msgs.rev() {
            self.inbox.push_front(msg);
        }
    }

    /// Whether flow-control callbacks are owed.
    pub fn has_flow_callbacks(&self) -> bool {
        !self.flow.is_empty()
    }

    /// Drops monitor events not yet delivered (the monitor was disabled).
    pub fn drop_monitor_events(&mut self) {
        self.events.clear();
    }

    /// Asks for the parked driver to be woken: the handle changed something
    /// the core does not see, such as the set of FDs to wait on.
    pub fn request_wake(&mut self) {
        if self.parked {
            self.parked = false;
            self.wake = true;
        }
    }

    /// Whether the handle must wake the parked driver; clears the request.
    /// Call after every mutator or `handle_*` made outside the driver.
    pub fn take_wake(&mut self) -> bool {
        std::mem::take(&mut self.wake)
    }

    // ----- internals -----

    fn wants_recv(&self) -> bool {
        self.socket_type.can_recv() && !self.reading_paused && matches!(self.phase, Phase::Open)
    }

    fn has_callbacks(&self) -> bool {
        !self.flow.is_empty()
            || !self.events.is_empty()
            || (!self.reading_paused && !self.inbox.is_empty())
            || matches!(self.phase, Phase::Closed { .. })
    }

    /// Whether a parked driver has something to do if woken: it does as soon as
    /// EVENTS is stale and it could act on readiness, or there is work.
    fn driver_has_work(&self) -> bool {
        match self.phase {
            Phase::Open => {
                self.has_callbacks()
                    || (self.events_stale && (self.wants_recv() || !self.buffer.is_empty()))
                    || (self.writable && !self.buffer.is_empty())
                    || (self.wants_recv() && self.readable)
            }
            _ => true,
        }
    }

    fn maybe_wake(&mut self) {
        if self.parked && self.driver_has_work() {
            self.parked = false;
            self.wake = true;
        }
    }

    fn close_now(&mut self, linger: Option<i32>) -> Io {
        self.drop_buffer();
        self.phase = Phase::Closed {
            exc: self.pending_exc.take(),
        };
        Io::Close { linger }
    }

    fn pop_front(&mut self) {
        if let Some(msg) = self.buffer.pop_front() {
            self.buffer_size -= frames_len(&msg);
        }
    }

    fn drop_buffer(&mut self) -> usize {
        let n = self.buffer.len();
        self.buffer.clear();
        self.buffer_size = 0;
        n
    }

    /// Reports a water-mark crossing once: over high pauses, at or below low resumes.
    /// No new flow callbacks once closing: the protocol only awaits `connection_lost`.
    fn settle_flow(&mut self) {
        if self.is_closing() {
            return;
        }
        if !self.writing_paused && self.limits.over_high(self.buffer_size) {
            self.writing_paused = true;
            self.flow.push_back(Callback::PauseWriting);
        } else if self.writing_paused && self.limits.at_or_below_low(self.buffer_size) {
            self.writing_paused = false;
            self.flow.push_back(Callback::ResumeWriting);
        }
    }

    fn require_open(&self) -> io::Result<()> {
        if self.is_closing() {
            Err(error::not_connected("the transport is closed"))
        } else {
            Ok(())
        }
    }

    fn require_sub(&self, what: &str) -> io::Result<()> {
        if self.socket_type == SocketType::Sub {
            Ok(())
        } else {
            Err(error::unsupported(format!(
                "{what} is only for SUB sockets, not {}",
                self.socket_type
            )))
        }
    }
}

//! `TransportState`: the sans-IO state machine of one ZeroMQ transport.
//!
//! Read top to bottom: the state's fields and life cycle, then its methods
//! grouped as in quinn-proto — getters, mutators (calls from the application),
//! `handle_*` (what libzmq answered, what the clock says), the delivery of
//! callbacks, and `poll_*` (what must happen next).
//!
//! Two kinds of callers share one state behind one lock: the transport's
//! **driver** (one task or thread: it does the socket I/O, parks, closes and
//! delivers callbacks) and the **handles** (any thread: `write`, `close`,
//! `bind`, …, and stream reads). Both follow one law: after every input, drain
//! the outputs — the driver with [`poll_output`](TransportState::poll_output),
//! a handle with [`poll_wake`](TransportState::poll_wake).

use std::collections::{BTreeSet, VecDeque};
use std::io;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::edge::Edge;
use crate::error;
use crate::exec::Budget;
use crate::limits::WaterMarks;
use crate::option::{OptValue, SockOpt};
use crate::output::{
    Callback, Deliveries, MonitorId, MonitorPlan, Output, Park, Read, SendResult, Sock, Waiter,
    Wake, WriteAction,
};
use crate::sets::{remove_endpoint, Sets};
use crate::stream::{StreamConfig, StreamQueue};
use crate::write_buffer::{Crossing, WriteBuffer};
use crate::{Multipart, SocketEvent, SocketType};

/// Received messages held for delivery before the driver stops receiving and
/// delivers them: bounds the memory of one turn and the delay of `pause_reading`.
pub const INBOX_CAPACITY: usize = 64;

/// How long `close()` keeps trying to flush the buffer without progress when
/// the user set no `LINGER`; also the linger libzmq gets for what it holds.
/// Long enough for a live peer, short enough that an absent one does not hold
/// the transport (or a context's termination) for ever.
pub const CLOSE_LINGER_MS: i32 = 1000;

/// Where the transport is in its life.
#[derive(Debug)]
enum Phase {
    /// Open: sending, receiving, delivering.
    Open,
    /// `close()`: the buffer still goes out, until it is empty or no message
    /// has left for `linger` (the flush deadline).
    Flushing {
        last_progress: Instant,
        linger: Option<Duration>,
    },
    /// The sockets close now, in order: stop the monitor, close its pipes,
    /// close the main socket with this linger. `exc` is for `connection_lost`.
    Closing { exc: Option<io::Error>, linger: i32 },
    /// Every socket is closed; `connection_lost(exc)` is owed (a stream just ends).
    Lost { exc: Option<io::Error> },
    /// `connection_lost` was handed out; the driver ends.
    Done,
}

/// Who holds the right to deliver callbacks: one at a time, so callbacks
/// reach the protocol in the order the state hands them out whatever threads
/// are involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// The driver, with everything owed.
    Driver,
    /// A handle's caller, with the flow callbacks its input made owed.
    Caller,
}

/// Where received messages and monitor events go.
#[derive(Debug)]
enum Mode {
    /// To a protocol's callbacks.
    Protocol(Delivery),
    /// To a stream's reader.
    Stream(StreamQueue),
}

/// The callbacks owed to a protocol and who delivers them.
#[derive(Debug, Default)]
struct Delivery {
    claim: Option<Claim>,
    flows: VecDeque<Crossing>,
    events: VecDeque<SocketEvent>,
    inbox: VecDeque<Multipart>,
    /// [`Wake::FlowOwed`] was handed out for the flows owed (a refused
    /// offer stays offered: no caller is asked again until a new crossing).
    flow_offered: bool,
    /// That caller has not answered yet: the driver leaves the flows to it,
    /// so `pause_writing` reaches the protocol before its `write()` returns.
    caller_answering: bool,
}

/// The monitor pipes: the one running, and those retired but not yet closed.
#[derive(Debug, Default)]
struct Monitor {
    active: Option<(MonitorId, Edge)>,
    retired: Vec<MonitorId>,
    next_id: u64,
    /// Bumped whenever the running monitor stops: events of an older epoch
    /// are no longer delivered.
    epoch: u64,
    malformed: u64,
}

/// Wake-ups owed, as bits.
#[derive(Debug, Default, Clone, Copy)]
struct Wakes(u8);

impl Wakes {
    const DRIVER: u8 = 1;
    const DELIVERER: u8 = 2;
    const READER: u8 = 4;
    const EVENTS: u8 = 8;
    const DRAIN: u8 = 16;

    fn set(&mut self, bit: u8) {
        self.0 |= bit;
    }

    fn take(&mut self, bit: u8) -> bool {
        let had = self.0 & bit != 0;
        self.0 &= !bit;
        had
    }
}

/// The sans-IO state of one transport: write buffer and water marks, reading
/// pause, the libzmq edge-trigger bookkeeping of its sockets, the callbacks
/// owed and who delivers them, the stream's queue, the monitor pipes, the
/// sets of bindings, connections and subscriptions, and the life cycle with
/// its close deadline.
///
/// It performs no I/O and reads no clock. See the crate docs for the law of
/// use and the canonical driver loop.
#[derive(Debug)]
pub struct TransportState {
    socket_type: SocketType,
    phase: Phase,
    write: WriteBuffer,
    reading_paused: bool,
    mode: Mode,
    main: Edge,
    main_open: bool,
    monitor: Monitor,
    parked: bool,
    /// Sends and receives left this turn (`None`: no limit).
    budget: Option<u32>,
    /// When the current driver turn started (it stamps the flush's progress).
    turn_started: Option<Instant>,
    wakes: Wakes,
    sets: Sets,
    user_linger: Option<i32>,
    refused_writes: u64,
    /// Why the transport ended, for a stream's `drain()` and `read()`.
    loss: Option<io::Error>,
    /// The driver is gone: only the steps that close the sockets remain.
    abandoned: bool,
}

fn check_endpoint(endpoint: &str) -> io::Result<()> {
    if endpoint.contains('\0') {
        return Err(error::invalid_argument(format!(
            "endpoint {endpoint:?} contains a NUL byte"
        )));
    }
    match endpoint.split_once("://") {
        Some((scheme, addr)) if !scheme.is_empty() && !addr.is_empty() => Ok(()),
        _ => Err(error::invalid_argument(format!(
            "endpoint {endpoint:?} is not of the form transport://address"
        ))),
    }
}

fn flush_linger(user_linger: Option<i32>) -> Option<Duration> {
    match user_linger {
        None => Some(Duration::from_millis(CLOSE_LINGER_MS as u64)),
        Some(ms) if ms < 0 => None,
        Some(ms) => Some(Duration::from_millis(ms as u64)),
    }
}

impl TransportState {
    /// A new open transport for a socket of this type, delivering to a protocol.
    ///
    /// `ZMQ_EVENTS` counts as unread, so the driver reads it before its first
    /// park (a bound SUB may not send its subscriptions until it is read).
    pub fn new(socket_type: SocketType) -> TransportState {
        Self::with_mode(socket_type, Mode::Protocol(Delivery::default()))
    }

    /// A new open transport whose messages and events a stream reader pulls
    /// ([`stream_read`](Self::stream_read)) instead of a protocol receiving them.
    pub fn new_stream(socket_type: SocketType, config: StreamConfig) -> TransportState {
        Self::with_mode(socket_type, Mode::Stream(StreamQueue::new(config)))
    }

    fn with_mode(socket_type: SocketType, mode: Mode) -> TransportState {
        TransportState {
            socket_type,
            phase: Phase::Open,
            write: WriteBuffer::default(),
            reading_paused: false,
            mode,
            main: Edge::new(),
            main_open: true,
            monitor: Monitor::default(),
            parked: false,
            budget: None,
            turn_started: None,
            wakes: Wakes::default(),
            sets: Sets::default(),
            user_linger: None,
            refused_writes: 0,
            loss: None,
            abandoned: false,
        }
    }

    // ----- getters -----

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// Whether this is a stream's state (no protocol callbacks).
    pub fn is_stream(&self) -> bool {
        matches!(self.mode, Mode::Stream(_))
    }

    /// Bytes buffered, all frames of all messages not yet accepted by libzmq.
    pub fn write_buffer_size(&self) -> usize {
        self.write.bytes()
    }

    /// Messages buffered.
    pub fn write_buffer_len(&self) -> usize {
        self.write.len()
    }

    /// `(low, high)` write water marks.
    pub fn write_limits(&self) -> (usize, usize) {
        self.write.limits().get()
    }

    /// Whether writing is paused: the buffer went over high and has not come
    /// back to low. The protocol hears of it through `pause_writing`, a
    /// stream's `drain()` waits on it.
    pub fn is_writing_paused(&self) -> bool {
        self.write.is_paused()
    }

    /// Whether `pause_reading` is in force.
    pub fn is_reading_paused(&self) -> bool {
        self.reading_paused
    }

    /// Closing, closed or lost: writes are refused.
    pub fn is_closing(&self) -> bool {
        !matches!(self.phase, Phase::Open)
    }

    /// Everything is over: sockets closed, `connection_lost` handed out.
    pub fn is_done(&self) -> bool {
        matches!(self.phase, Phase::Done)
    }

    /// Writes refused because the transport was closing or lost.
    pub fn refused_writes(&self) -> u64 {
        self.refused_writes
    }

    /// Whether a libzmq call ran on the main socket since its `ZMQ_EVENTS` was read.
    pub fn events_stale(&self) -> bool {
        self.main.stale
    }

    /// Whether the driver is parked (it answered [`Output::Wait`] and has not
    /// begun a new turn).
    pub fn is_parked(&self) -> bool {
        self.parked
    }

    /// The running monitor pipe, if any.
    pub fn monitor(&self) -> Option<MonitorId> {
        self.monitor.active.map(|(id, _)| id)
    }

    /// Monitor events that could not be decoded (and were skipped).
    pub fn malformed_events(&self) -> u64 {
        self.monitor.malformed
    }

    /// Endpoints bound through this transport, as libzmq reports them.
    pub fn bindings(&self) -> &BTreeSet<String> {
        &self.sets.bindings
    }

    /// Endpoints connected through this transport.
    pub fn connections(&self) -> &BTreeSet<String> {
        &self.sets.connections
    }

    /// Filters subscribed through this transport; `Unsupported` unless SUB.
    pub fn subscriptions(&self) -> io::Result<&BTreeSet<Bytes>> {
        self.require_sub("subscriptions")?;
        Ok(&self.sets.subscriptions)
    }

    /// `(low, high)` read water marks of a stream (`None` for a protocol).
    pub fn read_limits(&self) -> Option<(usize, usize)> {
        match &self.mode {
            Mode::Stream(q) => Some(q.limits().get()),
            Mode::Protocol(_) => None,
        }
    }

    /// Messages a stream holds unread, and their bytes.
    pub fn read_queue(&self) -> (usize, usize) {
        match &self.mode {
            Mode::Stream(q) => (q.len(), q.bytes()),
            Mode::Protocol(d) => (d.inbox.len(), 0),
        }
    }

    /// aiozmq's `at_closing()`: closed or lost, and every queued message read.
    pub fn at_closing(&self) -> bool {
        self.is_closing()
            && match &self.mode {
                Mode::Stream(q) => q.is_empty(),
                Mode::Protocol(d) => d.inbox.is_empty(),
            }
    }

    // ----- mutators: calls from the application -----

    /// `write(msg)`: checks the message and says what to do with it. While
    /// nothing is buffered the caller sends it at once (aiozmq's fast path,
    /// whatever the last EVENTS said, so a REQ writing out of turn gets EFSM
    /// every time); otherwise it joins the buffer behind the others.
    ///
    /// Refused (and counted) once closing: `NotConnected`.
    pub fn write(&mut self, msg: &Multipart) -> io::Result<WriteAction> {
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
        Ok(if self.write.is_empty() {
            WriteAction::SendNow
        } else {
            WriteAction::Enqueue
        })
    }

    /// Buffers a message [`write`](Self::write) or
    /// [`handle_direct_send`](Self::handle_direct_send) said to enqueue.
    pub fn enqueue(&mut self, msg: Multipart) {
        self.write.push(msg);
        self.settle_flow();
        self.maybe_wake();
    }

    /// `set_write_buffer_limits(high, low)`; may pause or resume at once.
    pub fn set_write_limits(&mut self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.require_open()?;
        self.write.set_limits(WaterMarks::new(high, low)?);
        self.settle_flow();
        self.maybe_wake();
        Ok(())
    }

    /// A stream's `set_read_buffer_limits(high, low)`.
    pub fn set_read_limits(&mut self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        let limits = WaterMarks::new(high, low)?;
        match &mut self.mode {
            Mode::Stream(q) => q.set_limits(limits),
            Mode::Protocol(_) => {
                return Err(error::unsupported("read limits are for streams"));
            }
        }
        self.maybe_wake();
        Ok(())
    }

    /// `pause_reading()`: nothing more is delivered until resumed, not even
    /// the rest of a batch being delivered. Twice is `InvalidInput`.
    pub fn pause_reading(&mut self) -> io::Result<()> {
        self.require_open()?;
        if self.reading_paused {
            return Err(error::invalid_input("reading is already paused"));
        }
        self.reading_paused = true;
        self.interrupt_deliverer();
        Ok(())
    }

    /// `resume_reading()`: delivery restarts from the driver, never inside
    /// this call. Resuming when not paused is `InvalidInput`.
    pub fn resume_reading(&mut self) -> io::Result<()> {
        self.require_open()?;
        if !self.reading_paused {
            return Err(error::invalid_input("reading is not paused"));
        }
        self.reading_paused = false;
        self.maybe_wake();
        Ok(())
    }

    /// `close()` at `now`: stop receiving, flush the buffer, then close the
    /// sockets and report `connection_lost(None)`. The flush gives up when no
    /// message has left for the socket's `LINGER` (the user's, −1 meaning for
    /// ever; else [`CLOSE_LINGER_MS`]): then `connection_lost` carries a
    /// `TimedOut` error saying how many messages were dropped. Messages
    /// received and not yet delivered to a protocol are dropped; a stream's
    /// queue stays readable. Idempotent.
    pub fn close(&mut self, now: Instant) {
        if let Phase::Open = self.phase {
            self.phase = Phase::Flushing {
                last_progress: now,
                linger: flush_linger(self.user_linger),
            };
            self.stop_receiving();
            self.request_wake();
        }
    }

    /// `abort()`: drop the buffer and close at once with zero linger, then
    /// `connection_lost(None)`. Returns how many messages were dropped. Idempotent.
    pub fn abort(&mut self) -> usize {
        match self.phase {
            Phase::Open | Phase::Flushing { .. } => {
                self.phase = Phase::Closing {
                    exc: None,
                    linger: 0,
                };
                self.stop_receiving();
                self.request_wake();
                self.write.clear()
            }
            _ => 0,
        }
    }

    /// A failure that ends the transport: drop everything, close at once,
    /// then `connection_lost(Some(err))`. The first cause wins: ignored once
    /// the transport is aborting, failed or closed.
    pub fn fail(&mut self, err: io::Error) {
        if let Phase::Open | Phase::Flushing { .. } = self.phase {
            self.write.clear();
            self.loss = Some(error::duplicate(&err));
            self.phase = Phase::Closing {
                exc: Some(err),
                linger: 0,
            };
            self.stop_receiving();
            self.request_wake();
        }
    }

    /// Checks an endpoint before `bind`; the caller binds and reports
    /// [`handle_bound`](Self::handle_bound).
    pub fn check_bind(&self, endpoint: &str) -> io::Result<()> {
        self.require_open()?;
        check_endpoint(endpoint)
    }

    /// Checks an endpoint before `connect`, `unbind` or `disconnect`.
    pub fn check_endpoint(&self, endpoint: &str) -> io::Result<()> {
        self.require_open()?;
        check_endpoint(endpoint)
    }

    /// `subscribe(prefix)`: `Ok(true)` when the caller must set `ZMQ_SUBSCRIBE`,
    /// `Ok(false)` when the prefix is already held (aiozmq's dedup).
    pub fn check_subscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.require_sub("subscribe")?;
        self.require_open()?;
        Ok(!self.sets.subscriptions.contains(prefix))
    }

    /// `unsubscribe(prefix)`: `Ok(true)` when the caller must set
    /// `ZMQ_UNSUBSCRIBE`, `Ok(false)` when the prefix is not held.
    pub fn check_unsubscribe(&self, prefix: &[u8]) -> io::Result<bool> {
        self.require_sub("unsubscribe")?;
        self.require_open()?;
        Ok(self.sets.subscriptions.contains(prefix))
    }

    /// Checks `setsockopt(opt, value)` and returns the value in the option's type.
    pub fn check_setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<OptValue> {
        self.require_open()?;
        crate::option::coerce(opt, value)
    }

    /// Checks `getsockopt(opt)` (and any other use of the open socket).
    pub fn check_getsockopt(&self, _opt: SockOpt) -> io::Result<()> {
        self.require_open()
    }

    /// `enable_monitor()`: what the caller must do, in order. Enabling again
    /// replaces the running monitor (its pipe is retired and closed by the
    /// driver, which must stop waiting on its FD first).
    pub fn enable_monitor(&mut self) -> io::Result<MonitorPlan> {
        self.require_open()?;
        self.monitor.next_id += 1;
        Ok(MonitorPlan {
            stop_first: self.monitor.active.is_some(),
            id: MonitorId(self.monitor.next_id),
        })
    }

    /// `disable_monitor()`: `true` when a monitor runs and the caller must stop
    /// it now and report [`handle_monitor_stopped`](Self::handle_monitor_stopped).
    /// No event is delivered after that.
    pub fn disable_monitor(&mut self) -> bool {
        self.monitor.active.is_some() && self.main_open
    }

    /// A stream's `read()`: the oldest message; after close or loss, what is
    /// queued, then `ConnectionAborted`. `Pending` arms [`Waiter::Reader`].
    pub fn stream_read(&mut self) -> Read<Multipart> {
        let closing = self.is_closing();
        let Mode::Stream(q) = &mut self.mode else {
            return Read::Closed(error::unsupported("read() is for streams"));
        };
        match q.pop() {
            Some((msg, room_again)) => {
                if room_again {
                    self.maybe_wake();
                }
                Read::Ready(msg)
            }
            None if closing => Read::Closed(stream_closed()),
            None => {
                q.reader_waits = true;
                Read::Pending
            }
        }
    }

    /// A stream's `read_event()`: the oldest kept event; after close or loss,
    /// `ConnectionAborted` once none is left. `Pending` arms [`Waiter::Events`].
    pub fn stream_read_event(&mut self) -> Read<SocketEvent> {
        let closing = self.is_closing();
        let Mode::Stream(q) = &mut self.mode else {
            return Read::Closed(error::unsupported("read_event() is for streams"));
        };
        match q.pop_event() {
            Some(ev) => Read::Ready(ev),
            None if closing => Read::Closed(stream_closed()),
            None => {
                q.events_wait = true;
                Read::Pending
            }
        }
    }

    /// `drain()`: ready while writing is not paused; after close or loss, the
    /// error the transport was lost with, else `ConnectionReset`. `Pending`
    /// arms [`Waiter::Drain`].
    pub fn stream_drain(&mut self) -> Read<()> {
        if self.is_closing() {
            return Read::Closed(match &self.loss {
                Some(e) => error::duplicate(e),
                None => io::Error::new(io::ErrorKind::ConnectionReset, "connection closed"),
            });
        }
        if !self.write.is_paused() {
            return Read::Ready(());
        }
        if let Mode::Stream(q) = &mut self.mode {
            q.drain_waits = true;
        }
        Read::Pending
    }

    // ----- handle_*: what libzmq answered, what the clock says -----

    /// Any libzmq call on the main socket that is not a send, receive or
    /// EVENTS read (bind, setsockopt, …). It may consume the FD's edge.
    pub fn handle_zmq_call(&mut self) {
        self.main.stale = true;
        self.maybe_wake();
    }

    /// `bind` succeeded with this real endpoint.
    pub fn handle_bound(&mut self, endpoint: String) {
        self.handle_zmq_call();
        self.sets.bindings.insert(endpoint);
    }

    /// `unbind(endpoint)` succeeded. `spellings` are other forms libzmq may
    /// have matched it by (a tcp host resolved to its addresses); the entry
    /// libzmq removed leaves the set.
    pub fn handle_unbound(&mut self, endpoint: &str, spellings: &[String]) {
        self.handle_zmq_call();
        remove_endpoint(&mut self.sets.bindings, endpoint, spellings);
    }

    /// `connect` succeeded.
    pub fn handle_connected(&mut self, endpoint: String) {
        self.handle_zmq_call();
        self.sets.connections.insert(endpoint);
    }

    /// `disconnect(endpoint)` succeeded; `spellings` as for
    /// [`handle_unbound`](Self::handle_unbound).
    pub fn handle_disconnected(&mut self, endpoint: &str, spellings: &[String]) {
        self.handle_zmq_call();
        remove_endpoint(&mut self.sets.connections, endpoint, spellings);
    }

    /// `ZMQ_SUBSCRIBE` succeeded.
    pub fn handle_subscribed(&mut self, prefix: Bytes) {
        self.handle_zmq_call();
        self.sets.subscriptions.insert(prefix);
    }

    /// `ZMQ_UNSUBSCRIBE` succeeded.
    pub fn handle_unsubscribed(&mut self, prefix: &[u8]) {
        self.handle_zmq_call();
        self.sets.subscriptions.remove(prefix);
    }

    /// A `setsockopt` succeeded; a user-chosen `LINGER` sets the close deadline.
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
    /// `Ok(Done)`: sent. `Ok(Enqueue)`: the socket is full, buffer it. A message
    /// the socket rejects on its own (`EFSM`, `EHOSTUNREACH`) is an error for
    /// this message only, and the transport stays usable (the caller is there
    /// to be told). Any other failure is fatal: the error is returned and
    /// `connection_lost(exc)` follows.
    pub fn handle_direct_send(&mut self, result: SendResult) -> io::Result<WriteAction> {
        self.main.stale = true;
        let outcome = match result {
            SendResult::Sent => Ok(WriteAction::Done),
            SendResult::Refused(errno) if error::is_would_block(errno) => {
                self.main.writable = false;
                Ok(WriteAction::Enqueue)
            }
            // Buffered with the socket still writable: the driver retries.
            SendResult::Refused(errno) if error::is_interrupted(errno) => Ok(WriteAction::Enqueue),
            SendResult::Refused(errno) if error::rejects_only_the_message(errno) => {
                Err(error::from_errno(errno))
            }
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                let err = error::from_errno(errno);
                let copy = error::duplicate(&err);
                self.fail(err);
                Err(copy)
            }
        };
        self.maybe_wake();
        outcome
    }

    /// The result of a driver send ([`Output::Send`]). Any failure but EAGAIN
    /// and EINTR is fatal, as in aiozmq: a buffered message has no caller left
    /// to be told, so even `EFSM` ends the transport.
    pub fn handle_send(&mut self, result: SendResult) {
        self.main.stale = true;
        self.spend_budget();
        match result {
            SendResult::Sent => {
                self.write.pop();
                if let (Phase::Flushing { last_progress, .. }, Some(now)) =
                    (&mut self.phase, self.turn_started)
                {
                    *last_progress = (*last_progress).max(now);
                }
            }
            SendResult::Refused(errno) if error::is_would_block(errno) => {
                self.main.writable = false
            }
            SendResult::Refused(errno) if error::is_interrupted(errno) => {}
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                self.fail(error::from_errno(errno))
            }
        }
        self.settle_flow();
    }

    /// The result of a driver receive ([`Output::Recv`]): a whole message or
    /// an errno. On the main socket, EAGAIN, EINTR and EFSM (REQ/REP out of
    /// turn) are not errors and others are fatal. On a monitor pipe the
    /// message is decoded into an event (a malformed one is counted and
    /// skipped) and a failure retires the pipe.
    pub fn handle_recv(&mut self, sock: Sock, result: Result<Multipart, i32>) {
        self.spend_budget();
        match sock {
            Sock::Main => self.main_received(result),
            Sock::Monitor(id) => self.monitor_received(id, result),
        }
    }

    fn main_received(&mut self, result: Result<Multipart, i32>) {
        self.main.stale = true;
        match result {
            Ok(msg) if !self.is_closing() => match &mut self.mode {
                Mode::Protocol(d) => d.inbox.push_back(msg),
                Mode::Stream(q) => {
                    q.push(msg);
                    if std::mem::take(&mut q.reader_waits) {
                        self.wakes.set(Wakes::READER);
                    }
                }
            },
            Ok(_) => {}
            Err(errno) if error::is_interrupted(errno) => {}
            Err(errno) if error::is_would_block(errno) || errno == error::EFSM => {
                self.main.readable = false
            }
            Err(errno) => self.fail(error::from_errno(errno)),
        }
    }

    fn monitor_received(&mut self, id: MonitorId, result: Result<Multipart, i32>) {
        let Some((active, edge)) = self.monitor.active.as_mut() else {
            return;
        };
        if *active != id {
            return;
        }
        edge.stale = true;
        match result {
            Ok(frames) => match SocketEvent::decode(&frames) {
                Ok(event) => self.queue_event(event),
                Err(_) => self.monitor.malformed += 1,
            },
            Err(errno) if error::is_interrupted(errno) => {}
            Err(errno) if error::is_would_block(errno) => edge.readable = false,
            Err(_) => {
                // The pipe is broken; libzmq still monitors, so it stays open
                // (closing it could block libzmq's sender) but is not read.
                edge.readable = false;
                self.monitor.malformed += 1;
            }
        }
    }

    fn queue_event(&mut self, event: SocketEvent) {
        if self.is_closing() {
            return;
        }
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.events.push_back(event);
                self.maybe_wake();
            }
            Mode::Stream(q) => {
                q.push_event(event);
                if std::mem::take(&mut q.events_wait) {
                    self.wakes.set(Wakes::EVENTS);
                }
            }
        }
    }

    /// `ZMQ_EVENTS` of this socket was read: `(POLLIN, POLLOUT)`, or an errno.
    /// EINTR leaves it unread (the driver reads again); another error on the
    /// main socket is fatal, on a monitor pipe it stops reading the pipe.
    pub fn handle_events(&mut self, sock: Sock, result: Result<(bool, bool), i32>) {
        match (sock, result) {
            (_, Err(errno)) if error::is_interrupted(errno) => {}
            (Sock::Main, Ok((pollin, pollout))) => self.main.read(pollin, pollout),
            (Sock::Main, Err(errno)) => self.fail(error::from_errno(errno)),
            (Sock::Monitor(id), result) => {
                if let Some((active, edge)) = self.monitor.active.as_mut() {
                    if *active == id {
                        match result {
                            Ok((pollin, _)) => edge.read(pollin, false),
                            Err(_) => edge.read(false, false),
                        }
                    }
                }
            }
        }
    }

    /// This socket's FD signalled: something changed, so its EVENTS must be
    /// read again before the next park (the signal says nothing more).
    pub fn handle_fd_readable(&mut self, sock: Sock) {
        match sock {
            Sock::Main => self.main.stale = true,
            Sock::Monitor(id) => {
                if let Some((active, edge)) = self.monitor.active.as_mut() {
                    if *active == id {
                        edge.stale = true;
                    }
                }
            }
        }
    }

    /// The driver registered this socket's FD: whatever signalled before the
    /// registration may be missed, so its EVENTS count as unread.
    pub fn handle_registered(&mut self, sock: Sock) {
        self.handle_fd_readable(sock);
    }

    /// The time the driver was asked to wake at has come (it may be late).
    /// A flush that made no progress for its linger gives up: the rest of the
    /// buffer is dropped and `connection_lost` carries `TimedOut`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Phase::Flushing {
            last_progress,
            linger: Some(linger),
        } = self.phase
        else {
            return;
        };
        if self.write.is_empty() || now < last_progress + linger {
            return;
        }
        let dropped = self.write.clear();
        let err = error::timed_out(format!(
            "close() gave up after {} ms without progress: {dropped} buffered message{} dropped",
            linger.as_millis(),
            if dropped == 1 { "" } else { "s" },
        ));
        self.loss = Some(error::duplicate(&err));
        self.phase = Phase::Closing {
            exc: Some(err),
            linger: 0,
        };
        self.request_wake();
    }

    /// The driver could not wait on the sockets a park named (its poll or
    /// its FD registration failed): nothing would ever wake it, so the
    /// transport fails with `err`, closes at once and reports
    /// `connection_lost(Some(err))`, rather than hang or spin.
    pub fn handle_wait_failed(&mut self, err: io::Error) {
        self.fail(io::Error::new(
            err.kind(),
            format!("the driver cannot wait on the transport's sockets: {err}"),
        ));
    }

    /// `zmq_socket_monitor` for the plan's new pipe ran, and its PAIR is
    /// connected (`ok`), or something failed and libzmq monitors nothing.
    pub fn handle_monitor_started(&mut self, id: MonitorId, ok: bool) {
        self.handle_zmq_call();
        if ok && !self.is_closing() {
            self.monitor.active = Some((id, Edge::new()));
            self.request_wake();
        }
    }

    /// libzmq's monitor was stopped (`ok`): the running pipe is retired, its
    /// undelivered events dropped, and the driver closes it. If stopping
    /// failed, libzmq may still write to the pipe, so it stays open.
    pub fn handle_monitor_stopped(&mut self, ok: bool) {
        self.handle_zmq_call();
        // While closing there is no way back: libzmq refuses only when its
        // context is terminated, and then it no longer sends either.
        if !ok && !self.is_closing() {
            return;
        }
        if let Some((id, _)) = self.monitor.active.take() {
            self.monitor.retired.push(id);
            self.monitor.epoch += 1;
            match &mut self.mode {
                Mode::Protocol(d) => d.events.clear(),
                Mode::Stream(q) => q.clear_events(),
            }
            self.interrupt_deliverer();
            self.request_wake();
        }
    }

    /// The socket an [`Output::Close`] named is closed.
    pub fn handle_closed(&mut self, sock: Sock) {
        match sock {
            Sock::Monitor(id) => self.monitor.retired.retain(|r| *r != id),
            Sock::Main => {
                self.main_open = false;
                if let Phase::Closing { exc, .. } = &mut self.phase {
                    let exc = exc.take();
                    self.phase = Phase::Lost { exc };
                }
            }
        }
    }

    /// The driver is gone (its task was dropped with its runtime, its thread
    /// ended): nothing will be delivered any more. Closes everything at once:
    /// [`poll_output`](Self::poll_output) now yields only the steps that close
    /// the sockets, in their safe order, then [`Output::Done`].
    pub fn handle_driver_gone(&mut self) {
        self.abandoned = true;
        self.write.clear();
        if let Phase::Open | Phase::Flushing { .. } = self.phase {
            self.phase = Phase::Closing {
                exc: None,
                linger: 0,
            };
            self.stop_receiving();
        }
        if let Mode::Protocol(d) = &mut self.mode {
            d.flows.clear();
            d.claim = None;
        }
    }

    /// The driver starts a turn at `now`, with its `budget` of sends and
    /// receives before [`Output::Yield`]: after waking from [`Output::Wait`]
    /// or [`Output::Yield`].
    pub fn begin_turn(&mut self, now: Instant, budget: Budget) {
        self.parked = false;
        self.budget = match budget {
            Budget::Limit(n) => Some(n),
            Budget::Unlimited => None,
        };
        self.turn_started = Some(now);
    }

    fn spend_budget(&mut self) {
        if let Some(left) = &mut self.budget {
            *left = left.saturating_sub(1);
        }
    }

    // ----- delivering callbacks -----

    /// After [`Output::Deliver`]: moves the callbacks owed into `batch`, in
    /// delivery order — flow control first, then monitor events, then messages
    /// (unless reading is paused), and last, alone, `connection_lost`. The
    /// driver delivers them without holding the lock around this state,
    /// reviews the batch whenever [`Waiter::Deliverer`] arrives, and ends with
    /// [`finish_delivery`](Self::finish_delivery).
    pub fn take_deliveries(&mut self, batch: &mut Deliveries) {
        let epoch = self.monitor.epoch;
        let open = matches!(self.phase, Phase::Open);
        let paused = self.reading_paused;
        let lost = matches!(self.phase, Phase::Lost { .. });
        let Mode::Protocol(d) = &mut self.mode else {
            return;
        };
        debug_assert_eq!(d.claim, Some(Claim::Driver));
        batch.events_epoch = epoch;
        batch
            .callbacks()
            .extend(d.flows.drain(..).map(flow_callback));
        batch
            .callbacks()
            .extend(d.events.drain(..).map(Callback::EventReceived));
        if open && !paused && !d.inbox.is_empty() {
            if batch.msgs().is_empty() {
                std::mem::swap(&mut d.inbox, batch.msgs());
            } else {
                batch.msgs().extend(d.inbox.drain(..));
            }
        }
        if lost && batch.is_empty() {
            if let Phase::Lost { exc } = &mut self.phase {
                let exc = exc.take();
                self.phase = Phase::Done;
                batch.callbacks().push_back(Callback::ConnectionLost(exc));
            }
        }
    }

    /// [`Waiter::Deliverer`] came: before its next callback the deliverer lets
    /// the state reorder what it holds. Flow callbacks now owed go next (after
    /// older flow callbacks the batch still holds);
    /// events of a stopped monitor go; messages go back to the inbox if reading
    /// was paused, or are dropped if the transport is closing.
    pub fn review_deliveries(&mut self, batch: &mut Deliveries) {
        let closing = self.is_closing();
        let paused = self.reading_paused;
        let epoch = self.monitor.epoch;
        let Mode::Protocol(d) = &mut self.mode else {
            return;
        };
        // After the flow callbacks the batch already holds (they are older),
        // before its events and messages.
        let at = batch
            .callbacks()
            .iter()
            .take_while(|cb| matches!(cb, Callback::PauseWriting | Callback::ResumeWriting))
            .count();
        for (i, flow) in d.flows.drain(..).enumerate() {
            batch.callbacks().insert(at + i, flow_callback(flow));
        }
        if batch.events_epoch != epoch || closing {
            batch
                .callbacks()
                .retain(|cb| !matches!(cb, Callback::EventReceived(_)));
            batch.events_epoch = epoch;
        }
        if closing {
            batch.msgs().clear();
        } else if paused {
            while let Some(msg) = batch.msgs().pop_back() {
                d.inbox.push_front(msg);
            }
        }
    }

    /// The batch is delivered (or, after a panic, abandoned). `true`: flow
    /// callbacks became owed meanwhile and are now in `batch` — deliver them
    /// too and call again. `false`: the claim is released.
    pub fn finish_delivery(&mut self, batch: &mut Deliveries) -> bool {
        let Mode::Protocol(d) = &mut self.mode else {
            return false;
        };
        if !d.flows.is_empty() && !matches!(self.phase, Phase::Done) {
            batch
                .callbacks()
                .extend(d.flows.drain(..).map(flow_callback));
            return true;
        }
        let was = d.claim.take();
        batch.clear();
        if was == Some(Claim::Caller) {
            self.maybe_wake();
        }
        false
    }

    /// After [`Wake::FlowOwed`], with the protocol locked: claims delivery of
    /// the flow callbacks owed. `false` when someone else delivers them now
    /// (nothing to do).
    pub fn begin_flow_delivery(&mut self, batch: &mut Deliveries) -> bool {
        let Mode::Protocol(d) = &mut self.mode else {
            return false;
        };
        d.flow_offered = false;
        d.caller_answering = false;
        if d.claim.is_some() || d.flows.is_empty() {
            // The driver holds the claim: its batch takes the flows.
            if !d.flows.is_empty() {
                self.request_wake();
            }
            return false;
        }
        d.claim = Some(Claim::Caller);
        batch
            .callbacks()
            .extend(d.flows.drain(..).map(flow_callback));
        true
    }

    /// After [`Wake::FlowOwed`]: the protocol is locked elsewhere (perhaps by
    /// the caller itself), so the driver delivers the flow callbacks as soon
    /// as it can.
    pub fn handle_flow_refused(&mut self) {
        // Still "offered": no caller is asked again until a new crossing.
        if let Mode::Protocol(d) = &mut self.mode {
            d.caller_answering = false;
        }
        self.request_wake();
    }

    // ----- poll_*: outputs -----

    /// What a caller other than the driver must do after its input: wake the
    /// driver, a deliverer, or a stream waiter, or deliver flow callbacks.
    /// Call until `None`.
    #[must_use = "a dropped wake-up can leave a driver or a waiter asleep"]
    pub fn poll_wake(&mut self) -> Option<Wake> {
        if let Some(w) = self.poll_waiters() {
            return Some(Wake::Waiter(w));
        }
        if let Mode::Protocol(d) = &mut self.mode {
            if !d.flows.is_empty() && d.claim.is_none() && !d.flow_offered {
                d.flow_offered = true;
                d.caller_answering = true;
                return Some(Wake::FlowOwed);
            }
        }
        if self.wakes.take(Wakes::DRIVER) {
            return Some(Wake::Driver);
        }
        None
    }

    fn poll_waiters(&mut self) -> Option<Waiter> {
        if self.wakes.take(Wakes::DELIVERER) {
            return Some(Waiter::Deliverer);
        }
        if self.wakes.take(Wakes::READER) {
            return Some(Waiter::Reader);
        }
        if self.wakes.take(Wakes::EVENTS) {
            return Some(Waiter::Events);
        }
        if self.wakes.take(Wakes::DRAIN) {
            return Some(Waiter::Drain);
        }
        None
    }

    /// What the driver must do next. Call it until it returns [`Output::Wait`],
    /// [`Output::Yield`] or [`Output::Done`], acting on each answer in between.
    ///
    /// It never answers `Wait` while a libzmq call has run on a socket the
    /// driver waits on since that socket's `ZMQ_EVENTS` was read: that is what
    /// makes a lost wake-up impossible. Closing goes in one safe order: stop
    /// libzmq's monitor (it writes to its pipe with a blocking send), close the
    /// monitor pipes, close the main socket, then `connection_lost`.
    #[must_use = "every output asks the driver to act"]
    pub fn poll_output(&mut self) -> Output<'_> {
        if let Some(w) = self.poll_waiters() {
            return Output::Wake(w);
        }
        self.wakes.take(Wakes::DRIVER);
        if let Some(out) = self.poll_lifecycle() {
            return out;
        }
        if self.abandoned {
            self.phase = Phase::Done;
            return Output::Done;
        }
        if let Phase::Lost { .. } | Phase::Done = self.phase {
            return self.poll_end();
        }
        let spent = self.budget == Some(0);
        if !spent {
            if let Some((id, edge)) = self.monitor.active {
                if edge.readable {
                    return Output::Recv(Sock::Monitor(id));
                }
            }
            if self.main.writable && !self.write.is_empty() {
                return self.write.front().map_or(Output::Yield, Output::Send);
            }
            if self.main.readable && self.wants_recv() {
                return Output::Recv(Sock::Main);
            }
        }
        if self.claim_for_driver() {
            return Output::Deliver;
        }
        if spent {
            return Output::Yield;
        }
        if let Some((id, edge)) = self.monitor.active {
            if edge.stale {
                return Output::ReadEvents(Sock::Monitor(id));
            }
        }
        if self.main.stale {
            return Output::ReadEvents(Sock::Main);
        }
        self.park()
    }

    /// The steps of closing, in order, and the retirement of monitor pipes.
    fn poll_lifecycle(&mut self) -> Option<Output<'static>> {
        if let Phase::Flushing { .. } = self.phase {
            if self.write.is_empty() {
                self.phase = Phase::Closing {
                    exc: None,
                    linger: self.user_linger.unwrap_or(CLOSE_LINGER_MS),
                };
            }
        }
        let closing = matches!(self.phase, Phase::Closing { .. });
        if closing && self.monitor.active.is_some() && self.main_open {
            return Some(Output::StopMonitor);
        }
        if let Some(&id) = self.monitor.retired.first() {
            return Some(Output::Close {
                sock: Sock::Monitor(id),
                linger: 0,
            });
        }
        if let Phase::Closing { linger, .. } = self.phase {
            if self.main_open && self.monitor.active.is_none() {
                return Some(Output::Close {
                    sock: Sock::Main,
                    linger,
                });
            }
            if !self.main_open {
                // Only a monitor that could not be stopped is left: it stays
                // open rather than risk hanging libzmq.
                let exc = match &mut self.phase {
                    Phase::Closing { exc, .. } => exc.take(),
                    _ => None,
                };
                self.phase = Phase::Lost { exc };
            }
        }
        None
    }

    /// After the sockets closed: `connection_lost` for a protocol, the end of
    /// the stream for a reader, then `Done`.
    fn poll_end(&mut self) -> Output<'static> {
        match &mut self.mode {
            Mode::Stream(_) => {
                self.phase = Phase::Done;
                Output::Done
            }
            Mode::Protocol(d) => match d.claim {
                None if !matches!(self.phase, Phase::Done) => {
                    d.claim = Some(Claim::Driver);
                    d.flow_offered = false;
                    Output::Deliver
                }
                None => Output::Done,
                Some(_) => self.park(),
            },
        }
    }

    /// Claims delivery for the driver when callbacks are owed and nobody delivers.
    fn claim_for_driver(&mut self) -> bool {
        let deliverable = self.owes_delivery();
        let Mode::Protocol(d) = &mut self.mode else {
            return false;
        };
        if d.claim.is_none() && deliverable {
            d.claim = Some(Claim::Driver);
            d.flow_offered = false;
            true
        } else {
            false
        }
    }

    fn park(&mut self) -> Output<'static> {
        self.parked = true;
        let deadline = match self.phase {
            Phase::Flushing {
                last_progress,
                linger: Some(linger),
            } if !self.write.is_empty() => Some(last_progress + linger),
            _ => None,
        };
        Output::Wait(Park {
            main: self.main_open,
            monitor: self.monitor.active.map(|(id, _)| id),
            deadline,
        })
    }

    // ----- internals -----

    fn wants_recv(&self) -> bool {
        self.socket_type.can_recv()
            && !self.reading_paused
            && matches!(self.phase, Phase::Open)
            && match &self.mode {
                Mode::Protocol(d) => d.inbox.len() < INBOX_CAPACITY,
                Mode::Stream(q) => q.has_room(),
            }
    }

    /// Callbacks a driver could deliver now.
    fn owes_delivery(&self) -> bool {
        let Mode::Protocol(d) = &self.mode else {
            return false;
        };
        (!d.flows.is_empty() && !d.caller_answering)
            || !d.events.is_empty()
            || (!self.reading_paused && matches!(self.phase, Phase::Open) && !d.inbox.is_empty())
    }

    /// Whether a parked driver has something to do if woken: it does as soon
    /// as EVENTS is stale on a socket whose readiness it would act on, or
    /// anything is owed.
    fn driver_has_work(&self) -> bool {
        let claim_free = match &self.mode {
            Mode::Protocol(d) => d.claim.is_none(),
            Mode::Stream(_) => true,
        };
        match self.phase {
            Phase::Open | Phase::Flushing { .. } => {
                let sending = !self.write.is_empty();
                (claim_free && self.owes_delivery())
                    || !self.monitor.retired.is_empty()
                    || self
                        .monitor
                        .active
                        .is_some_and(|(_, e)| e.stale || e.readable)
                    || (self.main.stale && (self.wants_recv() || sending))
                    || (self.main.writable && sending)
                    || (self.main.readable && self.wants_recv())
                    || (matches!(self.phase, Phase::Flushing { .. }) && !sending)
            }
            Phase::Closing { .. } | Phase::Lost { .. } => claim_free,
            Phase::Done => !self.monitor.retired.is_empty(),
        }
    }

    fn maybe_wake(&mut self) {
        if self.parked && self.driver_has_work() {
            self.parked = false;
            self.wakes.set(Wakes::DRIVER);
        }
    }

    /// Wakes a parked driver whatever it has to do: the state changed in a
    /// way only a new turn sees (a deadline, a monitor pipe, closing).
    fn request_wake(&mut self) {
        if self.parked {
            self.parked = false;
            self.wakes.set(Wakes::DRIVER);
        }
    }

    /// A deliverer holding a batch must look again before its next callback.
    fn interrupt_deliverer(&mut self) {
        if let Mode::Protocol(d) = &self.mode {
            if d.claim.is_some() {
                self.wakes.set(Wakes::DELIVERER);
            }
        }
    }

    /// Closing or failing: nothing more is received or delivered but flow
    /// callbacks already owed; a stream keeps what it queued, and every
    /// stream waiter learns the news.
    fn stop_receiving(&mut self) {
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.inbox.clear();
                d.events.clear();
            }
            Mode::Stream(q) => {
                q.clear_events();
                q.reader_waits = false;
                q.events_wait = false;
                q.drain_waits = false;
                self.wakes.set(Wakes::READER | Wakes::EVENTS | Wakes::DRAIN);
            }
        }
        self.interrupt_deliverer();
    }

    /// Reports a water-mark crossing once: over high pauses, at or below low
    /// resumes. None once closing: the protocol only awaits `connection_lost`.
    fn settle_flow(&mut self) {
        if self.is_closing() {
            return;
        }
        let Some(crossing) = self.write.settle() else {
            return;
        };
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.flows.push_back(crossing);
                d.flow_offered = false;
                if d.claim.is_some() {
                    self.wakes.set(Wakes::DELIVERER);
                }
            }
            Mode::Stream(q) => {
                if crossing == Crossing::Resume && std::mem::take(&mut q.drain_waits) {
                    self.wakes.set(Wakes::DRAIN);
                }
            }
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

fn flow_callback(crossing: Crossing) -> Callback {
    match crossing {
        Crossing::Pause => Callback::PauseWriting,
        Crossing::Resume => Callback::ResumeWriting,
    }
}

fn stream_closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "stream closed")
}

//! `TransportState`: the sans-IO state machine of one ZeroMQ transport.
//!
//! Two kinds of callers share one state behind one lock: the transport's
//! **driver** (one task or thread: it does the socket I/O, parks, closes and
//! delivers callbacks) and the **handles** (any thread: `write`, `close`,
//! `bind`, …, and stream reads). Both follow one law: after every input, drain
//! the outputs — the driver with [`poll_output`](TransportState::poll_output),
//! a handle with [`poll_wake`](TransportState::poll_wake).
//!
//! The state is filed by job, one module each, read in this order:
//!
//! | module | job | callers' door |
//! |---|---|---|
//! | this one | fields, life-cycle phases, reading pause | `pause_reading`, `resume_reading` |
//! | `turn` | the driver's turn: libzmq's answers in, [`Output`]s out, parking | `begin_turn`, `handle_*`, `poll_output` |
//! | `writing` | the write buffer, the fast path and the water marks | [`Writer`] (`state.writer()`) |
//! | `delivery` | which callbacks are owed, and who delivers them | [`DeliveryDoor`] (`state.delivery()`) |
//! | `stream` | a stream reader's queue, events and `drain()` | [`StreamSide`] (`state.stream()`) |
//! | `monitor` | the monitor pipes' life cycle and their events | [`Monitoring`] (`state.monitoring()`) |
//! | `closing` | close, abort, failure, the close deadline, the order sockets close in | `close`, `abort`, `fail`, `handle_timeout` |
//! | `endpoints` | the book of bindings, connections, subscriptions; option checks | [`Endpoints`] (`state.endpoints()`) |
//! | `wakes` | who must be woken, and when a parked driver has work | `poll_wake` |
//!
//! Getters stay on [`TransportState`] (filed with their job); inputs from a
//! caller go through the job's sub-handle, as quinn-proto's `Connection`
//! hands out `streams()` and `datagrams()`.

use std::io;
use std::time::{Duration, Instant};

use crate::edge::Edge;
use crate::error;
use crate::stream::{StreamConfig, StreamQueue};
use crate::write_buffer::WriteBuffer;
use crate::SocketType;

mod closing;
mod delivery;
mod endpoints;
mod monitor;
mod stream;
mod turn;
mod wakes;
mod writing;

pub use delivery::DeliveryDoor;
pub use endpoints::Endpoints;
pub use monitor::Monitoring;
pub use stream::StreamSide;
pub use writing::{Writer, WRITER_GRACE};

use delivery::Delivery;
use endpoints::Book;
use monitor::Monitor;
use wakes::Wakes;

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

/// Where received messages and monitor events go.
#[derive(Debug)]
enum Mode {
    /// To a protocol's callbacks.
    Protocol(Delivery),
    /// To a stream's reader.
    Stream(StreamQueue),
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
    book: Book,
    user_linger: Option<i32>,
    refused_writes: u64,
    /// Why the transport ended, for a stream's `drain()` and `read()`.
    loss: Option<io::Error>,
    /// The driver is gone: only the steps that close the sockets remain.
    abandoned: bool,
    /// A write found the buffer non-empty since the driver last looked: a
    /// writer is there to flush it.
    writer_recent: bool,
    /// The driver leaves the flush to that writer until then.
    defer_until: Option<Instant>,
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
    /// ([`StreamSide::read`]) instead of a protocol receiving them.
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
            book: Book::default(),
            user_linger: None,
            refused_writes: 0,
            loss: None,
            abandoned: false,
            writer_recent: false,
            defer_until: None,
        }
    }

    // ----- the callers' doors, by job -----

    /// `write()` and the write buffer's limits.
    pub fn writer(&mut self) -> Writer<'_> {
        Writer { state: self }
    }

    /// The deliverer's side: taking, reviewing and finishing batches of callbacks.
    pub fn delivery(&mut self) -> DeliveryDoor<'_> {
        DeliveryDoor { state: self }
    }

    /// A stream reader's side: `read`, `read_event`, `drain`, read limits.
    pub fn stream(&mut self) -> StreamSide<'_> {
        StreamSide { state: self }
    }

    /// `enable_monitor` / `disable_monitor` and what libzmq answered.
    pub fn monitoring(&mut self) -> Monitoring<'_> {
        Monitoring { state: self }
    }

    /// Binds, connects, subscriptions and socket options.
    pub fn endpoints(&mut self) -> Endpoints<'_> {
        Endpoints { state: self }
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

    /// aiozmq's `at_closing()`: closed or lost, and every queued message read.
    pub fn at_closing(&self) -> bool {
        self.is_closing()
            && match &self.mode {
                Mode::Stream(q) => q.is_empty(),
                Mode::Protocol(d) => d.inbox.is_empty(),
            }
    }

    // ----- the reading pause -----

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

    // ----- shared internals -----

    /// Whether the driver should receive from the main socket now.
    fn wants_recv(&self) -> bool {
        self.socket_type.can_recv()
            && !self.reading_paused
            && matches!(self.phase, Phase::Open)
            && match &self.mode {
                Mode::Protocol(d) => d.inbox.len() < INBOX_CAPACITY,
                Mode::Stream(q) => q.has_room(),
            }
    }

    fn require_open(&self) -> io::Result<()> {
        if self.is_closing() {
            Err(error::not_connected("the transport is closed"))
        } else {
            Ok(())
        }
    }
}

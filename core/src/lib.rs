//! The sans-IO core of aiozmq-rs: ZeroMQ transports with aiozmq's
//! transport/protocol API, as a pure state machine.
//!
//! [`TransportState`] holds every decision a ZeroMQ transport makes: write
//! buffering and water marks, pause/resume, the reading pause, the order of
//! protocol callbacks and who delivers them, a stream's read queue and its
//! water marks, which FDs the driver waits on, the monitor's life cycle, the
//! order in which sockets close, the close deadline, and the sets of bindings,
//! connections and subscriptions. It has no socket, syscall, clock or runtime:
//! time comes in as an argument. The driver crates (`aiozmq-tokio`,
//! `aiozmq-smol`, `aiozmq-blocking`) only move messages between a
//! `zmq::Socket` and this state, and deliver the callbacks it hands out.
//!
//! # The law of use
//!
//! **After every input, drain the outputs until there are none.**
//!
//! - Inputs are the mutators (`write`, `close(now)`, `pause_reading`, …), the
//!   `handle_*` methods (what libzmq answered, what the clock says) and the
//!   delivery methods.
//! - The driver drains [`TransportState::poll_output`]: I/O to do, callbacks to
//!   deliver, sockets to close, and finally when and on which FDs to park
//!   ([`Output::Wait`] with a [`Park`]), or [`Output::Done`].
//! - Any other caller (a transport handle, a stream reader) drains
//!   [`TransportState::poll_wake`]: whom to wake, and whether it must deliver
//!   `pause_writing` itself before `write()` returns.
//!
//! libzmq's `ZMQ_FD` is edge-triggered, and *any* libzmq call may consume its
//! edge. The state therefore records, per socket, whether `ZMQ_EVENTS` has
//! been read since the last libzmq call, and `poll_output` never answers
//! `Wait` until it has. A driver that follows the outputs cannot lose a
//! wake-up. Yet EVENTS is read once per batch, not per message: `poll_output`
//! hands out sends and receives until libzmq says EAGAIN or the turn's
//! [`Budget`], which the driver passes in, is spent (reading EVENTS per
//! message costs 3.7× at 16 B).
//!
//! Callbacks have one deliverer at a time (the driver, or a caller delivering
//! the flow callbacks its own write made owed), so they reach the protocol in
//! the order the state hands them out, whatever threads write. A deliverer
//! told [`Waiter::Deliverer`] reviews what it holds before its next callback:
//! that is how `pause_writing` owed inside a callback comes right after it,
//! and how `pause_reading` or `close` stop a batch half-way.
//!
//! # The canonical driver loop
//!
//! [`exec`] is the one executor of the outputs, generic over the sockets:
//! drivers run it over `zmq::Socket`, the test harness over fake sockets. A
//! pretend socket stands in here; a real driver parks on the FDs the
//! [`Park`] names (and on its wake-up and timer) where this example stops.
//!
//! ```
//! use std::collections::VecDeque;
//! use std::time::Instant;
//! use aiozmq_core::exec::{self, Sockets, Stop};
//! use aiozmq_core::{error::EAGAIN, Budget, Bytes, Callback, Deliveries, Multipart, SendResult,
//!                   Sock, SocketType, TransportState};
//!
//! struct FakeSocket { inbound: VecDeque<Multipart>, room: usize }
//! impl Sockets for FakeSocket {
//!     fn send(&mut self, _msg: &Multipart) -> SendResult {
//!         if self.room == 0 { return SendResult::Refused(EAGAIN) }
//!         self.room -= 1;
//!         SendResult::Sent
//!     }
//!     fn recv(&mut self, _: Sock, into: &mut Multipart) -> Result<(), i32> {
//!         *into = self.inbound.pop_front().ok_or(EAGAIN)?;
//!         Ok(())
//!     }
//!     fn events(&mut self, _: Sock) -> Result<(bool, bool), i32> {
//!         Ok((!self.inbound.is_empty(), self.room > 0))
//!     }
//!     fn stop_monitor(&mut self) -> bool { true }
//!     fn close(&mut self, _: Sock, _linger: i32) {}
//! }
//!
//! let mut sock = FakeSocket { inbound: VecDeque::new(), room: 1 };
//! sock.inbound.push_back(Multipart::from_iter([Bytes::from_static(b"hello")]));
//! let mut state = TransportState::new(SocketType::Dealer);
//!
//! // The application writes: the fast path sends at once while nothing is
//! // buffered, from the caller's thread (`exec::write` follows the core's
//! // `WriteAction`s: send now, flush the buffer first, or buffer).
//! for text in [&b"one"[..], b"two", b"three"] {
//!     let msg = Multipart::from_iter([Bytes::copy_from_slice(text)]);
//!     exec::write(&mut state, &mut sock, msg).unwrap();
//!     while let Some(wake) = state.poll_wake() {
//!         // A handle would wake the driver, a deliverer or a reader here.
//!         let _ = wake;
//!     }
//! }
//! assert_eq!(state.write_buffer_len(), 2); // the socket took one, two wait
//!
//! // The driver's turn: the executor makes the libzmq calls and stops where
//! // only the driver can act.
//! let mut batch = Deliveries::new();
//! let mut received = Vec::new();
//! state.begin_turn(Instant::now(), Budget::Limit(256));
//! loop {
//!     match exec::turn(&mut state, &mut sock) {
//!         Stop::Deliver => {
//!             // Take the batch under the state's lock, deliver it outside.
//!             state.delivery().take(&mut batch);
//!             while let Some(cb) = exec::next_callback(&mut batch, || false, &mut state) {
//!                 if let Callback::MsgReceived(msg) = cb { received.push(msg) }
//!             }
//!         }
//!         Stop::Wake(_) => {}
//!         Stop::Yield => state.begin_turn(Instant::now(), Budget::Limit(256)),
//!         // A real driver registers exactly the FDs `park` names, waits on
//!         // them, its wake-up and `park.deadline`, then reports what happened.
//!         Stop::Wait(park) => {
//!             assert!(park.main && park.deadline.is_none());
//!             break;
//!         }
//!         Stop::Close { .. } | Stop::Done => break,
//!     }
//! }
//! assert_eq!(received.len(), 1);
//! assert_eq!(state.write_buffer_len(), 2); // still waiting for room: no busy loop
//! assert!(!state.events_stale());          // EVENTS was read before parking
//! ```

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod edge;
pub mod errno;
pub mod error;
pub mod exec;
mod limits;
mod monitor;
pub mod option;
mod output;
mod protocol;
mod sets;
mod socket_type;
mod state;
mod stream;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
mod version;
mod write_buffer;
pub mod z85;
pub mod zap;

pub use bytes::Bytes;

/// One ZeroMQ multipart message: at least one frame once it is on the wire.
pub type Multipart = smallvec::SmallVec<[Bytes; 4]>;

pub use error::{zmq_errno, ZmqError};
pub use exec::Budget;
pub use limits::{WaterMarks, MIN_MESSAGE_COST};
pub use monitor::{event, SocketEvent};
pub use option::{OptKind, OptValue, SockOpt};
pub use output::{
    Callback, Deliveries, MonitorId, MonitorPlan, Output, Park, Read, SendResult, Sock, Waiter,
    Wake, WriteAction,
};
pub use protocol::{ZmqProtocol, ZmqTransport};
pub use socket_type::SocketType;
pub use state::{
    DeliveryDoor, Endpoints, Monitoring, StreamSide, TransportState, Writer, CLOSE_LINGER_MS,
    INBOX_CAPACITY, WRITER_GRACE,
};
pub use stream::{StreamConfig, DEFAULT_EVENTS_BACKLOG};
pub use version::{version, version_info, VersionInfo};

//! The sans-IO core of aiozmq-rs: ZeroMQ transports with aiozmq's
//! transport/protocol API, as a pure state machine.
//!
//! [`TransportState`] holds every decision a ZeroMQ transport makes — write
//! buffering and water marks, pause/resume, reading pause, close/abort life
//! cycle, the sets of bindings, connections and subscriptions — and no socket,
//! syscall, clock or runtime. The driver crates (`aiozmq-tokio`, `aiozmq-smol`,
//! `aiozmq-blocking`) only move messages between a `zmq::Socket` and this state,
//! and deliver the callbacks it emits. [`StreamState`] does the same for the
//! stream API.
//!
//! # The law of use
//!
//! **After every input, drain the outputs until there are none.** Inputs are the
//! mutators (`write`, `close`, `pause_reading`, …) and the `handle_*` methods
//! (what libzmq answered). Outputs are [`TransportState::poll_io`] (what to do
//! with the socket), [`TransportState::take_callbacks`] (what to deliver to the
//! protocol) and [`TransportState::take_wake`] (whether to wake a parked driver).
//!
//! libzmq's `ZMQ_FD` is edge-triggered, and *any* libzmq call may consume its
//! edge. The state therefore records whether `ZMQ_EVENTS` has been read since
//! the last libzmq call, and `poll_io` never answers [`Io::Wait`] until it has.
//! A driver that follows the outputs cannot lose a wake-up. Yet EVENTS is read
//! once per batch, not per message: `poll_io` hands out sends and receives until
//! libzmq says EAGAIN or the turn's [`TURN_BUDGET`] is spent (reading EVENTS per
//! message costs 3.7× at 16 B).
//!
//! # The canonical driver loop
//!
//! A pretend socket stands in for `zmq::Socket`; a real driver parks on the FD
//! (and on its wake-up) where this example stops.
//!
//! ```
//! use std::collections::VecDeque;
//! use aiozmq_core::{error::EAGAIN, Bytes, Callback, Io, Multipart, SendResult, SocketType,
//!                   TransportState, WriteAction};
//!
//! struct FakeSocket { inbound: VecDeque<Multipart>, room: usize, sent: usize }
//! impl FakeSocket {
//!     fn send(&mut self, _msg: &Multipart) -> SendResult {
//!         if self.room == 0 { return SendResult::Refused(EAGAIN) }
//!         self.room -= 1; self.sent += 1; SendResult::Sent
//!     }
//!     fn recv(&mut self) -> Result<Multipart, i32> { self.inbound.pop_front().ok_or(EAGAIN) }
//!     fn events(&self) -> (bool, bool) { (!self.inbound.is_empty(), self.room > 0) }
//! }
//!
//! let mut sock = FakeSocket { inbound: VecDeque::new(), room: 1, sent: 0 };
//! sock.inbound.push_back(Multipart::from_iter([Bytes::from_static(b"hello")]));
//! let mut state = TransportState::new(SocketType::Dealer);
//!
//! // The application writes: the fast path sends at once while the buffer is empty.
//! for text in [&b"one"[..], b"two", b"three"] {
//!     let msg = Multipart::from_iter([Bytes::copy_from_slice(text)]);
//!     if state.write(msg).unwrap() == WriteAction::SendNow {
//!         let result = sock.send(state.front().unwrap());
//!         state.handle_direct_send(result).unwrap();
//!     }
//! }
//! assert_eq!(state.write_buffer_len(), 2); // the socket took one, two wait
//!
//! // The driver's turn: act on poll_io until it says Wait (park) or Yield.
//! let mut callbacks = VecDeque::new();
//! let mut received = Vec::new();
//! state.begin_turn();
//! loop {
//!     match state.poll_io() {
//!         Io::Send => {
//!             let result = sock.send(state.front().unwrap());
//!             state.handle_send(result);
//!         }
//!         Io::Recv => state.handle_recv(sock.recv()),
//!         Io::ReadEvents => {
//!             let (pollin, pollout) = sock.events();
//!             state.handle_events(pollin, pollout);
//!         }
//!         Io::Deliver => {
//!             state.take_callbacks(&mut callbacks);
//!             for cb in callbacks.drain(..) {
//!                 if let Callback::MsgReceived(msg) = cb { received.push(msg) }
//!             }
//!         }
//!         Io::Yield => state.begin_turn(),
//!         // A real driver parks on ZMQ_FD and its wake-up here, then calls
//!         // handle_fd_readable() or begin_turn() and loops again.
//!         Io::Wait => break,
//!         Io::Close { .. } | Io::Done => break,
//!     }
//! }
//! assert_eq!(received.len(), 1);
//! assert_eq!(state.write_buffer_len(), 2); // still waiting for room: no busy loop
//! assert!(!state.events_stale());          // EVENTS was read before parking
//! ```

#![warn(missing_docs)]

pub mod error;
mod limits;
mod monitor;
pub mod option;
mod protocol;
mod socket_type;
mod state;
mod stream;
mod version;
pub mod zap;

pub use bytes::Bytes;

/// One ZeroMQ multipart message: at least one frame once it is on the wire.
pub type Multipart = smallvec::SmallVec<[Bytes; 4]>;

pub use error::{zmq_errno, ZmqError};
pub use limits::WaterMarks;
pub use monitor::{event, SocketEvent};
pub use option::{OptKind, OptValue, SockOpt};
pub use protocol::{ZmqProtocol, ZmqTransport};
pub use socket_type::SocketType;
pub use state::{
    Callback, Deliveries, Io, SendResult, TransportState, WriteAction, CLOSE_LINGER_MS,
    INBOX_CAPACITY, TURN_BUDGET,
};
pub use stream::{Read, ReadFlow, StreamState, DEFAULT_EVENTS_BACKLOG};
pub use version::{version, version_info, VersionInfo};

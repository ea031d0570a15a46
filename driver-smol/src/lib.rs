//! aiozmq-rs for smol: ZeroMQ with aiozmq's transport/protocol and stream
//! APIs, at the speed of libzmq.
//!
//! Works from `smol::block_on` or any executor: each transport has one driver
//! task (on smol's global executor unless [`set_spawner`] chose another) that
//! waits on the socket's `ZMQ_FD` through async-io and does what the sans-IO
//! core (`aiozmq_core::TransportState`) asks. `write()` sends from the
//! caller's task while nothing is buffered, so the common case costs no task hop.
//!
//! ```no_run
//! use aiozmq_smol::{create_zmq_connection, Multipart, SocketType, Transport, ZmqProtocol, ZmqTransport};
//!
//! struct Echo(Option<Transport>);
//! impl ZmqProtocol<Transport> for Echo {
//!     fn connection_made(&mut self, t: Transport) { self.0 = Some(t) }
//!     fn msg_received(&mut self, msg: Multipart) {
//!         let _ = self.0.as_ref().unwrap().write(msg); // ROUTER: [peer id, body] back
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let (server, _) = create_zmq_connection(|| Echo(None), SocketType::Router)
//!     .bind("tcp://127.0.0.1:*")
//!     .open()
//!     .await?;
//! println!("echoing on {:?}", server.bindings());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod runtime;

pub use aiozmq_core::*;
pub use aiozmq_driver_common::security::{curve_keypair, curve_public, zmq_has, CurveKeyPair};
pub use runtime::{set_spawner, Smol};

aiozmq_driver_common::async_driver_api!(Smol);

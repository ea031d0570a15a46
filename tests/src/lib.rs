//! The aiozmq-rs test suite: one set of conformance scenarios run against
//! every driver, plus stress and interop tests, and tests under faults: a
//! fault-injecting TCP proxy ([`fault_proxy`]), scenarios through it
//! ([`mod@fault_scenarios`]), churn ([`mod@churn`]) and the soak ([`soak`], run by
//! `examples/soak.rs`).

// The suite's own helpers (drivers' views, logs, lives) are not a user's API.
#![allow(missing_debug_implementations)]

pub mod blocking_driver;
pub mod churn;
pub mod driver;
pub mod drops;
pub mod fault_proxy;
pub mod fault_scenarios;
pub mod leaks;
pub mod log;
pub mod process;
pub mod scenarios;
pub mod smol_driver;
pub mod soak;
pub mod stress;
pub mod tokio_driver;

use aiozmq_core::{Bytes, Multipart};

pub use driver::{Driver, Spec, StreamSpec, TestAuth, TestStream};
pub use log::{Ev, Log, TIMEOUT};

/// A message from byte strings.
pub fn msg(frames: &[&[u8]]) -> Multipart {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

/// A plain libzmq socket for the other end, in its own context, with zero
/// linger so the test never waits on it at exit.
pub fn raw(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).expect("raw socket");
    s.set_linger(0).expect("linger");
    s.set_rcvtimeo(crate::TIMEOUT.as_millis() as i32)
        .expect("rcvtimeo");
    s.set_sndtimeo(crate::TIMEOUT.as_millis() as i32)
        .expect("sndtimeo");
    s
}

/// A tcp loopback endpoint with a port the OS picks.
pub const ANY_TCP: &str = "tcp://127.0.0.1:*";

//! The suite's view of `aiozmq-smol`: async calls block in `smol::block_on`;
//! drivers run on smol's global executor.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use aiozmq_core::{Multipart, SocketEvent};
use aiozmq_smol as drv;

use crate::driver::{Driver, Spec, StreamSpec, TestStream};
use crate::log::{Log, Rec};

/// The smol driver.
pub struct Smol;

/// Runs `f` with a timeout: `TimedOut` after it.
fn block_timeout<T>(d: Duration, f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    smol::block_on(async {
        let timeout = async {
            async_io::Timer::after(d).await;
            Err(io::Error::new(io::ErrorKind::TimedOut, "timed out"))
        };
        smol::future::or(f, timeout).await
    })
}

/// A smol stream with bounded waits.
pub struct SmolStream(drv::ZmqStream);

impl TestStream for SmolStream {
    type T = drv::Transport;

    fn transport(&self) -> &drv::Transport {
        self.0.transport()
    }
    fn write(&self, msg: Multipart) -> io::Result<()> {
        self.0.write(msg)
    }
    fn read(&mut self, timeout: Duration) -> io::Result<Multipart> {
        block_timeout(timeout, self.0.read())
    }
    fn read_event(&mut self, timeout: Duration) -> io::Result<SocketEvent> {
        block_timeout(timeout, self.0.read_event())
    }
    fn drain(&self, timeout: Duration) -> io::Result<()> {
        block_timeout(timeout, self.0.drain())
    }
    fn close(&self) {
        self.0.close()
    }
    fn at_closing(&self) -> bool {
        self.0.at_closing()
    }
    fn set_read_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.0.set_read_buffer_limits(high, low)
    }
    fn get_read_buffer_limits(&self) -> (usize, usize) {
        self.0.get_read_buffer_limits()
    }
    fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        smol::block_on(self.0.transport().enable_monitor(events))
    }
}

impl Driver for Smol {
    type T = drv::Transport;
    type A = drv::Authenticator;
    type S = SmolStream;

    fn name(&self) -> &'static str {
        "smol"
    }

    fn open_into(&self, spec: Spec<drv::Transport>, log: Arc<Log>) -> io::Result<drv::Transport> {
        let on_msg = spec.on_msg;
        let on_made = spec.on_made;
        let b = drv::create_zmq_connection(move || Rec::new(log, on_msg, on_made), spec.kind);
        let b = crate::apply_spec!(b, spec);
        smol::block_on(b.open()).map(|(t, _)| t)
    }

    fn open_stream(&self, spec: StreamSpec) -> io::Result<SmolStream> {
        let b = drv::create_zmq_stream(spec.kind);
        let b = crate::apply_stream_spec!(b, spec);
        smol::block_on(b.open()).map(SmolStream)
    }

    fn enable_monitor(&self, t: &drv::Transport, events: Option<u16>) -> io::Result<()> {
        smol::block_on(t.enable_monitor(events))
    }

    fn disable_monitor(&self, t: &drv::Transport) -> io::Result<()> {
        smol::block_on(t.disable_monitor())
    }

    fn with_socket(&self, t: &drv::Transport, f: &mut dyn FnMut(&zmq::Socket)) -> io::Result<()> {
        t.with_zmq_socket(|s| f(s))
    }

    fn start_authenticator(&self, context: zmq::Context) -> io::Result<drv::Authenticator> {
        smol::block_on(drv::Authenticator::start_in(context))
    }
}

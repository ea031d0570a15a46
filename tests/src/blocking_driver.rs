//! The suite's view of `aiozmq-blocking`: everything is already blocking.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use aiozmq_blocking as drv;
use aiozmq_core::{Multipart, SocketEvent};

use crate::driver::{Driver, Spec, StreamSpec, TestStream};
use crate::log::{Log, Rec};

/// The blocking driver.
pub struct Blocking;

/// A blocking stream.
pub struct BlockingStream(drv::ZmqStream);

impl TestStream for BlockingStream {
    type T = drv::Transport;

    fn transport(&self) -> &drv::Transport {
        self.0.transport()
    }
    fn write(&self, msg: Multipart) -> io::Result<()> {
        self.0.write(msg)
    }
    fn read(&mut self, timeout: Duration) -> io::Result<Multipart> {
        self.0.read_timeout(timeout)
    }
    fn read_event(&mut self, timeout: Duration) -> io::Result<SocketEvent> {
        self.0.read_event_timeout(timeout)
    }
    fn drain(&self, timeout: Duration) -> io::Result<()> {
        self.0.drain_timeout(timeout)
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
        self.0.transport().enable_monitor(events)
    }
}

impl Driver for Blocking {
    type T = drv::Transport;
    type A = drv::Authenticator;
    type S = BlockingStream;

    fn name(&self) -> &'static str {
        "blocking"
    }

    fn open_into(&self, spec: Spec<drv::Transport>, log: Arc<Log>) -> io::Result<drv::Transport> {
        let on_msg = spec.on_msg;
        let on_made = spec.on_made;
        let b = drv::create_zmq_connection(move || Rec::new(log, on_msg, on_made), spec.kind);
        let b = crate::apply_spec!(b, spec);
        b.open().map(|(t, _)| t)
    }

    fn open_stream(&self, spec: StreamSpec) -> io::Result<BlockingStream> {
        let b = drv::create_zmq_stream(spec.kind);
        let b = crate::apply_stream_spec!(b, spec);
        b.open().map(BlockingStream)
    }

    fn enable_monitor(&self, t: &drv::Transport, events: Option<u16>) -> io::Result<()> {
        t.enable_monitor(events)
    }

    fn disable_monitor(&self, t: &drv::Transport) -> io::Result<()> {
        t.disable_monitor()
    }

    fn with_socket(&self, t: &drv::Transport, f: &mut dyn FnMut(&zmq::Socket)) -> io::Result<()> {
        t.with_zmq_socket(|s| f(s))
    }

    fn start_authenticator(&self, context: zmq::Context) -> io::Result<drv::Authenticator> {
        drv::Authenticator::start_in(context)
    }
}

//! aiozmq's stream API on plain threads: blocking `read`, `read_timeout`, `drain`.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use aiozmq_core::{Multipart, SocketEvent, SocketType, ZmqTransport, DEFAULT_EVENTS_BACKLOG};
use aiozmq_driver_common::stream::{open_stream, StreamShared};
use aiozmq_driver_common::Setup;

use crate::transport::{create_zmq_connection, Transport};

/// Creates a stream: configure with the builder's methods, then `.open()`.
pub fn create_zmq_stream(zmq_type: SocketType) -> StreamBuilder {
    StreamBuilder {
        setup: Setup::new(zmq_type),
        read_limits: (None, None),
        write_limits: (None, None),
        events_backlog: DEFAULT_EVENTS_BACKLOG,
    }
}

/// Collects what `create_zmq_stream` should do.
pub struct StreamBuilder {
    setup: Setup,
    read_limits: (Option<usize>, Option<usize>),
    write_limits: (Option<usize>, Option<usize>),
    events_backlog: usize,
}

impl StreamBuilder {
    aiozmq_driver_common::setup_methods!();
    aiozmq_driver_common::stream_methods!();

    /// Opens the stream.
    pub fn open(self) -> io::Result<ZmqStream> {
        let setup = self.setup;
        let (transport, shared) = open_stream(
            self.read_limits,
            self.write_limits,
            self.events_backlog,
            |protocol| {
                let mut builder = create_zmq_connection(move || protocol, setup.zmq_type);
                builder.setup = setup;
                builder.open().map(|(t, _)| t)
            },
        )?;
        Ok(ZmqStream { transport, shared })
    }
}

/// aiozmq's `ZmqStream`, blocking: read and write whole multipart messages.
///
/// To write from another thread while one reads, clone
/// [`transport()`](Self::transport): it writes too.
pub struct ZmqStream {
    transport: Transport,
    shared: Arc<StreamShared>,
}

impl ZmqStream {
    /// The transport underneath.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Writes a message (never blocks; see [`drain`](Self::drain)).
    pub fn write(&self, msg: impl Into<Multipart>) -> io::Result<()> {
        self.transport.write(msg)
    }

    /// Blocks while writing is paused (the write buffer is over its high-water
    /// mark). After close or loss: the loss's error, else `ConnectionReset`.
    pub fn drain(&self) -> io::Result<()> {
        self.shared.drain_blocking(None)
    }

    /// [`drain`](Self::drain), giving up with `ErrorKind::TimedOut` after `timeout`.
    pub fn drain_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.shared.drain_blocking(Some(timeout))
    }

    /// Blocks for the next message. After close or loss, the messages already
    /// queued, then `ConnectionAborted`.
    pub fn read(&mut self) -> io::Result<Multipart> {
        self.shared.read_blocking(&self.transport, None)
    }

    /// [`read`](Self::read), giving up with `ErrorKind::TimedOut` when nothing
    /// came within `timeout`; the stream stays usable.
    pub fn read_timeout(&mut self, timeout: Duration) -> io::Result<Multipart> {
        self.shared.read_blocking(&self.transport, Some(timeout))
    }

    /// Blocks for the next monitor event (see `Transport::enable_monitor`).
    pub fn read_event(&mut self) -> io::Result<SocketEvent> {
        self.shared.read_event_blocking(None)
    }

    /// [`read_event`](Self::read_event) with a timeout (`ErrorKind::TimedOut`).
    pub fn read_event_timeout(&mut self, timeout: Duration) -> io::Result<SocketEvent> {
        self.shared.read_event_blocking(Some(timeout))
    }

    /// Closes the transport: buffered writes are flushed; reads return what
    /// is queued, then `ConnectionAborted`.
    pub fn close(&self) {
        self.transport.close()
    }

    /// Sets the read water marks (same rules as the write ones).
    pub fn set_read_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<()> {
        self.shared.set_read_limits(&self.transport, high, low)
    }

    /// `(low, high)` read water marks.
    pub fn get_read_buffer_limits(&self) -> (usize, usize) {
        self.shared.read_limits()
    }

    /// Closed or lost, and every queued message has been read.
    pub fn at_closing(&self) -> bool {
        self.shared.at_closing()
    }
}

impl Iterator for ZmqStream {
    type Item = io::Result<Multipart>;

    /// Messages until the stream ends (then `None`).
    fn next(&mut self) -> Option<Self::Item> {
        match self.read() {
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => None,
            other => Some(other),
        }
    }
}

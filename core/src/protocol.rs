//! The protocol (callbacks) and transport (handle) interfaces every driver implements.

use std::collections::BTreeSet;
use std::io;

use bytes::Bytes;

use crate::{Multipart, OptValue, SockOpt, SocketEvent, SocketType};

/// Callbacks a driver makes, aiozmq's `ZmqProtocol`.
///
/// Never re-entered: no callback of one protocol starts while another of the
/// same protocol runs. A callback may call any transport method.
pub trait ZmqProtocol<T: ZmqTransport>: Send + 'static {
    /// First, exactly once, before `open()` returns.
    fn connection_made(&mut self, transport: T) {
        let _ = transport;
    }
    /// Last, exactly once: `None` after `close()`/`abort()`, the error otherwise.
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = exc;
    }
    /// The write buffer went strictly over the high-water mark.
    fn pause_writing(&mut self) {}
    /// The write buffer came back to the low-water mark or below.
    fn resume_writing(&mut self) {}
    /// One multipart message arrived.
    fn msg_received(&mut self, msg: Multipart);
    /// A socket-monitor event arrived (only while a monitor is enabled).
    fn event_received(&mut self, event: SocketEvent) {
        let _ = event;
    }
}

/// What every driver's `Transport` handle offers: aiozmq's `ZmqTransport`.
///
/// The handle is cheap to clone, `Send + Sync`, and usable from any task or thread.
pub trait ZmqTransport: Clone + Send + Sync + 'static {
    /// The socket type.
    fn zmq_type(&self) -> SocketType;
    /// Sends at once when nothing is buffered; otherwise first sends what is
    /// buffered while libzmq takes it, then this message, and buffers the
    /// rest, in order; never blocks. Empty multipart: `InvalidInput`; after
    /// close or loss: `NotConnected`.
    fn write(&self, msg: impl Into<Multipart>) -> io::Result<()>;
    /// Flushes what is buffered into libzmq, then `connection_lost(None)`;
    /// nothing more is received. Gives up after `LINGER` (default
    /// [`crate::CLOSE_LINGER_MS`]) without progress, with
    /// `connection_lost(Some(TimedOut))`. What libzmq still queues then has
    /// that `LINGER` to reach the peer.
    fn close(&self);
    /// Drops what is buffered, then `connection_lost(None)`.
    fn abort(&self);
    /// Whether `close`/`abort` was called or the connection was lost.
    fn is_closing(&self) -> bool;
    /// Reads a socket option.
    fn getsockopt(&self, opt: SockOpt) -> io::Result<OptValue>;
    /// Sets a socket option; a value of the wrong type is `InvalidInput`.
    fn setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<()>;
    /// `(low, high)` write water marks, in bytes.
    fn get_write_buffer_limits(&self) -> (usize, usize);
    /// Sets the write water marks (see [`crate::WaterMarks::new`]).
    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()>;
    /// Bytes buffered, all frames of all messages (payload only; the water
    /// marks weigh each message at least [`crate::MIN_MESSAGE_COST`]).
    fn get_write_buffer_size(&self) -> usize;
    /// Stops `msg_received` until `resume_reading`; pausing twice is `InvalidInput`.
    fn pause_reading(&self) -> io::Result<()>;
    /// Restarts delivery (from the driver, later); resuming when not paused is `InvalidInput`.
    fn resume_reading(&self) -> io::Result<()>;
    /// Binds; returns the real endpoint (wildcard port resolved).
    fn bind(&self, endpoint: &str) -> io::Result<String>;
    /// Unbinds an endpoint bound earlier.
    fn unbind(&self, endpoint: &str) -> io::Result<()>;
    /// Endpoints bound through this transport.
    fn bindings(&self) -> BTreeSet<String>;
    /// Connects; returns the endpoint.
    fn connect(&self, endpoint: &str) -> io::Result<String>;
    /// Disconnects an endpoint connected earlier.
    fn disconnect(&self, endpoint: &str) -> io::Result<()>;
    /// Endpoints connected through this transport.
    fn connections(&self) -> BTreeSet<String>;
    /// Adds a message filter (SUB only); a prefix already held does nothing.
    fn subscribe(&self, prefix: impl AsRef<[u8]>) -> io::Result<()>;
    /// Removes a message filter (SUB only).
    fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> io::Result<()>;
    /// Filters added through this transport (SUB only).
    fn subscriptions(&self) -> io::Result<BTreeSet<Bytes>>;
}

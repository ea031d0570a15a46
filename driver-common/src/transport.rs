//! `Transport<R>`: aiozmq's `ZmqTransport` for every driver, one type.

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::marker::PhantomData;

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};

use crate::asynch::AsyncRuntime;
use crate::handle::Handle;
use crate::runtime::{Async, Blocking, Runtime};

/// A ZeroMQ transport: aiozmq's `ZmqTransport` (the methods are those of
/// [`ZmqTransport`]). Cheap to clone, `Send + Sync`; every method is callable
/// from any task or thread. Dropping the last handle (other than the one the
/// protocol got in `connection_made`) closes it.
pub struct Transport<R> {
    pub(crate) handle: Handle,
    _runtime: PhantomData<fn() -> R>,
}

impl<R> Transport<R> {
    pub(crate) fn new(handle: Handle) -> Self {
        Transport {
            handle,
            _runtime: PhantomData,
        }
    }

    /// aiozmq's `get_extra_info("zmq_socket")`: runs `f` on the socket, under
    /// the transport's lock (so never concurrently with the driver). Calling
    /// this transport from `f` deadlocks. A panic in `f` reaches the caller;
    /// the transport stays usable.
    pub fn with_zmq_socket<T>(&self, f: impl FnOnce(&zmq::Socket) -> T) -> io::Result<T> {
        self.handle.with_zmq_socket(f)
    }
}

impl<R> Clone for Transport<R> {
    fn clone(&self) -> Self {
        Transport::new(self.handle.clone())
    }
}

impl<R> fmt::Debug for Transport<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.handle.shared().id())
            .field("type", &self.handle.zmq_type())
            .finish()
    }
}

impl<R: AsyncRuntime> Transport<Async<R>> {
    /// Starts the socket monitor: events (a mask of `event` values, all when
    /// `None`) reach `ZmqProtocol::event_received` (or `ZmqStream::read_event`).
    /// Enabling again replaces the mask.
    pub async fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        self.handle.enable_monitor(events)
    }

    /// Stops the socket monitor; no event is delivered after it returns.
    pub async fn disable_monitor(&self) -> io::Result<()> {
        self.handle.disable_monitor()
    }
}

impl<R: Runtime> Transport<Blocking<R>> {
    /// Starts the socket monitor: events (a mask of `event` values, all when
    /// `None`) reach `ZmqProtocol::event_received` (or `ZmqStream::read_event`).
    /// Enabling again replaces the mask.
    pub fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        self.handle.enable_monitor(events)
    }

    /// Stops the socket monitor; no event is delivered after it returns.
    pub fn disable_monitor(&self) -> io::Result<()> {
        self.handle.disable_monitor()
    }
}

impl<R: Runtime> ZmqTransport for Transport<R> {
    fn zmq_type(&self) -> SocketType {
        self.handle.zmq_type()
    }

    /// Sends at once when nothing is buffered, buffers otherwise; never blocks.
    ///
    /// Crossing the high-water mark delivers `pause_writing` before this
    /// returns, unless one of the protocol's callbacks is running at that
    /// moment (this call is inside it, or another thread's driver or writer
    /// is in one): then `pause_writing` is the next callback after the
    /// running one, and this call does not wait for it, since waiting could
    /// deadlock.
    ///
    /// Errors: an empty multipart is `InvalidInput`; after close or loss,
    /// `NotConnected`. A message libzmq rejects on its own — `EFSM` (a REQ or
    /// REP out of turn), `EHOSTUNREACH` (a ROUTER_MANDATORY peer that is not
    /// there) — is this call's error and the transport stays usable, when the
    /// message goes out at once. A buffered message has no caller left to
    /// tell: if libzmq rejects it later, the transport is lost with that error
    /// (`connection_lost(Some(e))`), as in aiozmq.
    fn write(&self, msg: impl Into<Multipart>) -> io::Result<()> {
        self.handle.write(msg.into())
    }

    fn close(&self) {
        self.handle.close()
    }

    fn abort(&self) {
        self.handle.abort()
    }

    fn is_closing(&self) -> bool {
        self.handle.is_closing()
    }

    fn getsockopt(&self, opt: SockOpt) -> io::Result<OptValue> {
        self.handle.getsockopt(opt)
    }

    fn setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<()> {
        self.handle.setsockopt(opt, value)
    }

    fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.handle.get_write_buffer_limits()
    }

    fn set_write_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.handle.set_write_buffer_limits(high, low)
    }

    fn get_write_buffer_size(&self) -> usize {
        self.handle.get_write_buffer_size()
    }

    fn pause_reading(&self) -> io::Result<()> {
        self.handle.pause_reading()
    }

    fn resume_reading(&self) -> io::Result<()> {
        self.handle.resume_reading()
    }

    fn bind(&self, endpoint: &str) -> io::Result<String> {
        self.handle.bind(endpoint)
    }

    fn unbind(&self, endpoint: &str) -> io::Result<()> {
        self.handle.unbind(endpoint)
    }

    fn bindings(&self) -> BTreeSet<String> {
        self.handle.bindings()
    }

    fn connect(&self, endpoint: &str) -> io::Result<String> {
        self.handle.connect(endpoint)
    }

    fn disconnect(&self, endpoint: &str) -> io::Result<()> {
        self.handle.disconnect(endpoint)
    }

    fn connections(&self) -> BTreeSet<String> {
        self.handle.connections()
    }

    fn subscribe(&self, prefix: impl AsRef<[u8]>) -> io::Result<()> {
        self.handle.subscribe(prefix.as_ref())
    }

    fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> io::Result<()> {
        self.handle.unsubscribe(prefix.as_ref())
    }

    fn subscriptions(&self) -> io::Result<BTreeSet<Bytes>> {
        self.handle.subscriptions()
    }
}

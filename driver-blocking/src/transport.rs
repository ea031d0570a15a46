//! The blocking `Transport` and `create_zmq_connection`.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use aiozmq_core::{SocketType, ZmqProtocol};
use aiozmq_driver_common::{lock, Deliver, Handle, ProtocolCell, Setup};

use crate::thread;

/// A ZeroMQ transport served by its own I/O thread: aiozmq's `ZmqTransport`.
/// Cheap to clone, `Send + Sync`; every method is callable from any thread.
/// Dropping the last handle (other than the protocol's own) closes it.
#[derive(Clone)]
pub struct Transport {
    pub(crate) handle: Handle,
}

aiozmq_driver_common::impl_zmq_transport!(Transport);

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.handle.shared().id())
            .field("type", &self.handle.zmq_type())
            .finish()
    }
}

impl Transport {
    /// aiozmq's `get_extra_info("zmq_socket")`: runs `f` on the socket (under
    /// the transport's lock, so never concurrently with the I/O thread).
    pub fn with_zmq_socket<R>(&self, f: impl FnOnce(&zmq::Socket) -> R) -> io::Result<R> {
        self.handle.with_zmq_socket(f)
    }

    /// Starts the socket monitor: events (a mask of `aiozmq_core::event`
    /// values, all when `None`) reach `ZmqProtocol::event_received`.
    pub fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        self.handle.enable_monitor(events)
    }

    /// Stops the socket monitor; no event is delivered after it returns.
    pub fn disable_monitor(&self) -> io::Result<()> {
        self.handle.disable_monitor()
    }
}

/// Creates a ZeroMQ connection: configure with the builder's methods, then `.open()`.
pub fn create_zmq_connection<P, F>(factory: F, zmq_type: SocketType) -> ConnectionBuilder<P, F>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport>,
{
    ConnectionBuilder {
        factory,
        setup: Setup::new(zmq_type),
        _protocol: PhantomData,
    }
}

/// Collects what `create_zmq_connection` should do; see [`ConnectionBuilder::open`].
pub struct ConnectionBuilder<P, F> {
    factory: F,
    pub(crate) setup: Setup,
    _protocol: PhantomData<fn() -> P>,
}

impl<P, F> ConnectionBuilder<P, F>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport>,
{
    aiozmq_driver_common::setup_methods!();

    /// Opens the connection: binds and connects first (on an error the socket
    /// is closed, the error returned, and the protocol sees no callback);
    /// then starts the I/O thread and runs `connection_made`, before returning.
    pub fn open(self) -> io::Result<(Transport, Arc<Mutex<P>>)> {
        let (waker, wake_rx) = thread::wake_pipe()?;
        let shared = self.setup.open(Box::new(waker))?;
        let protocol = Arc::new(Mutex::new((self.factory)()));
        let cell: Arc<dyn Deliver> = Arc::new(ProtocolCell::<P, Transport>::new(protocol.clone()));
        shared.set_protocol(cell.clone());
        // Hold the protocol while the thread starts: its first delivery waits
        // for connection_made, and a failed spawn leaves no callback behind.
        let mut guard = lock(&protocol);
        thread::spawn(shared.clone(), cell, wake_rx)?;
        guard.connection_made(Transport {
            handle: Handle::uncounted(shared.clone()),
        });
        drop(guard);
        let transport = Transport {
            handle: Handle::counted(shared),
        };
        Ok((transport, protocol))
    }
}

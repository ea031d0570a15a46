//! The async `Transport` and `create_zmq_connection`, for any [`AsyncRuntime`].

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aiozmq_core::{SocketType, ZmqProtocol};

use super::driver::drive;
use super::signal::Signal;
use super::AsyncRuntime;
use crate::{lock, Deliver, Handle, ProtocolCell, Setup};

/// A ZeroMQ transport driven by an async runtime: aiozmq's `ZmqTransport`.
/// Cheap to clone, `Send + Sync`; every method is callable from any task or
/// thread. Dropping the last handle (other than the protocol's own) closes it.
pub struct Transport<R> {
    pub(crate) handle: Handle,
    _runtime: PhantomData<fn() -> R>,
}

impl<R> Clone for Transport<R> {
    fn clone(&self) -> Self {
        Transport {
            handle: self.handle.clone(),
            _runtime: PhantomData,
        }
    }
}

impl<R> Transport<R> {
    fn new(handle: Handle) -> Self {
        Transport {
            handle,
            _runtime: PhantomData,
        }
    }
}

crate::impl_zmq_transport!(Transport<R>, R: AsyncRuntime);

impl<R> fmt::Debug for Transport<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.handle.shared().id())
            .field("type", &self.handle.zmq_type())
            .finish()
    }
}

impl<R: AsyncRuntime> Transport<R> {
    /// aiozmq's `get_extra_info("zmq_socket")`: runs `f` on the socket (under
    /// the transport's lock, so never concurrently with the driver).
    pub fn with_zmq_socket<T>(&self, f: impl FnOnce(&zmq::Socket) -> T) -> io::Result<T> {
        self.handle.with_zmq_socket(f)
    }

    /// Starts the socket monitor: events (a mask of `aiozmq_core::event`
    /// values, all when `None`) reach `ZmqProtocol::event_received`.
    pub async fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        self.handle.enable_monitor(events)
    }

    /// Stops the socket monitor; no event is delivered after it returns.
    pub async fn disable_monitor(&self) -> io::Result<()> {
        self.handle.disable_monitor()
    }
}

/// Creates a ZeroMQ connection: configure with the builder's methods, then
/// `.open().await` (or `.await` the builder).
pub fn create_zmq_connection<R, P, F>(
    factory: F,
    zmq_type: SocketType,
) -> ConnectionBuilder<R, P, F>
where
    R: AsyncRuntime,
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<R>>,
{
    ConnectionBuilder {
        factory,
        setup: Setup::new(zmq_type),
        _protocol: PhantomData,
    }
}

/// Collects what `create_zmq_connection` should do; see [`ConnectionBuilder::open`].
pub struct ConnectionBuilder<R, P, F> {
    factory: F,
    pub(crate) setup: Setup,
    _protocol: PhantomData<fn() -> (R, P)>,
}

impl<R, P, F> ConnectionBuilder<R, P, F>
where
    R: AsyncRuntime,
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<R>>,
{
    crate::setup_methods!();

    /// Opens the connection: binds and connects first (on an error the socket
    /// is closed, the error returned, and the protocol sees no callback);
    /// then `connection_made` runs, before this returns.
    pub async fn open(self) -> io::Result<(Transport<R>, Arc<Mutex<P>>)> {
        self.open_now()
    }

    pub(crate) fn open_now(self) -> io::Result<(Transport<R>, Arc<Mutex<P>>)> {
        R::check()?;
        let signal = Arc::new(Signal::default());
        let shared = self.setup.open(Box::new(signal.clone()))?;
        let main = R::register(shared.fd(), &shared)?;
        let protocol = Arc::new(Mutex::new((self.factory)()));
        let cell: Arc<dyn Deliver> =
            Arc::new(ProtocolCell::<P, Transport<R>>::new(protocol.clone()));
        shared.set_protocol(cell.clone());
        // Hold the protocol while the driver starts: its first delivery waits
        // for connection_made, and a failed spawn leaves no callback behind.
        let mut guard = lock(&protocol);
        R::spawn(Box::pin(drive::<R>(shared.clone(), cell, signal, main)))?;
        guard.connection_made(Transport::new(Handle::uncounted(shared.clone())));
        drop(guard);
        let transport = Transport::new(Handle::counted(shared));
        Ok((transport, protocol))
    }
}

impl<R, P, F> IntoFuture for ConnectionBuilder<R, P, F>
where
    R: AsyncRuntime,
    F: FnOnce() -> P + Send + 'static,
    P: ZmqProtocol<Transport<R>>,
{
    type Output = io::Result<(Transport<R>, Arc<Mutex<P>>)>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.open_now() })
    }
}

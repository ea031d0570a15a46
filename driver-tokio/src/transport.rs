//! `Transport`: the tokio driver's handle, and `create_zmq_connection`.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aiozmq_core::{SocketType, ZmqProtocol};
use aiozmq_driver_common::{lock, Deliver, Handle, ProtocolCell, Setup};
use tokio::sync::Notify;

use crate::driver::{drive, register, Notifier};

/// A ZeroMQ transport driven by tokio: aiozmq's `ZmqTransport`. Cheap to
/// clone, `Send + Sync`; every method is callable from any task or thread.
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
    /// the transport's lock, so never concurrently with the driver).
    pub fn with_zmq_socket<R>(&self, f: impl FnOnce(&zmq::Socket) -> R) -> io::Result<R> {
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
    /// Binds to `endpoint` on open (may be called more than once).
    pub fn bind(mut self, endpoint: impl Into<String>) -> Self {
        self.setup.binds.push(endpoint.into());
        self
    }

    /// Connects to `endpoint` on open (may be called more than once).
    pub fn connect(mut self, endpoint: impl Into<String>) -> Self {
        self.setup.connects.push(endpoint.into());
        self
    }

    /// Uses a pre-made socket; its type must be the one asked for.
    pub fn zmq_sock(mut self, sock: zmq::Socket) -> Self {
        self.setup.sock = Some(sock);
        self
    }

    /// Creates the socket in this context instead of the process-wide one.
    pub fn context(mut self, context: zmq::Context) -> Self {
        self.setup.context = Some(context);
        self
    }

    /// Opens the connection: binds and connects first (on an error the socket
    /// is closed, the error returned, and the protocol sees no callback);
    /// then `connection_made` runs, before this returns.
    pub async fn open(self) -> io::Result<(Transport, Arc<Mutex<P>>)> {
        self.open_now()
    }

    pub(crate) fn open_now(self) -> io::Result<(Transport, Arc<Mutex<P>>)> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            io::Error::other("aiozmq-tokio must be used from within a tokio runtime")
        })?;
        let notify = Arc::new(Notify::new());
        let shared = self.setup.open(Box::new(Notifier(notify.clone())))?;
        let main = {
            let _enter = runtime.enter();
            register(shared.fd(), &shared)?
        };
        let protocol = Arc::new(Mutex::new((self.factory)()));
        lock(&protocol).connection_made(Transport {
            handle: Handle::uncounted(shared.clone()),
        });
        let cell: Arc<dyn Deliver> = Arc::new(ProtocolCell::<P, Transport>::new(protocol.clone()));
        shared.set_protocol(cell.clone());
        let transport = Transport {
            handle: Handle::counted(shared.clone()),
        };
        runtime.spawn(drive(shared, cell, notify, main));
        Ok((transport, protocol))
    }
}

impl<P, F> IntoFuture for ConnectionBuilder<P, F>
where
    F: FnOnce() -> P + Send + 'static,
    P: ZmqProtocol<Transport>,
{
    type Output = io::Result<(Transport, Arc<Mutex<P>>)>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.open_now() })
    }
}

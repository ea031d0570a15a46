//! `create_zmq_connection` and `create_zmq_stream`: one builder type for both,
//! generic over the runtime and over what it opens.

use std::future::{Future, IntoFuture};
use std::io;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use aiozmq_core::{
    Deliveries, OptValue, SockOpt, SocketType, StreamConfig, TransportState, WaterMarks,
    ZmqProtocol, DEFAULT_EVENTS_BACKLOG,
};

use crate::asynch::AsyncRuntime;
use crate::deliver::{lock, panic_text, ProtocolCell};
use crate::handle::Handle;
use crate::runtime::{Async, Blocking, Runtime};
use crate::setup::Setup;
use crate::shared::Deliver;
use crate::stream::ZmqStream;
use crate::transport::Transport;

/// What opening a connection gives: the transport and the protocol, shared
/// with the driver.
pub(crate) type Opened<R, P> = (Transport<R>, Arc<Mutex<P>>);

/// Collects what `create_zmq_connection` or `create_zmq_stream` should do;
/// `K` is [`Connection`] or [`Stream`].
pub struct Builder<R, K> {
    setup: Setup,
    kind: K,
    _runtime: PhantomData<fn() -> R>,
}

impl<R, K: std::fmt::Debug> std::fmt::Debug for Builder<R, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("setup", &self.setup)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// What a connection builder opens: a transport with a protocol from `factory`.
pub struct Connection<P, F> {
    factory: F,
    _protocol: PhantomData<fn() -> P>,
}

impl<P, F> std::fmt::Debug for Connection<P, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").finish_non_exhaustive()
    }
}

/// What a stream builder opens: a `ZmqStream`, with its limits.
pub struct Stream {
    read_limits: (Option<usize>, Option<usize>),
    write_limits: (Option<usize>, Option<usize>),
    events_backlog: usize,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("read_limits", &self.read_limits)
            .field("write_limits", &self.write_limits)
            .field("events_backlog", &self.events_backlog)
            .finish_non_exhaustive()
    }
}

/// Starts a connection builder (each driver crate names it `create_zmq_connection`).
pub fn connection<R, P, F>(factory: F, zmq_type: SocketType) -> Builder<R, Connection<P, F>>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<R>>,
    R: Runtime,
{
    Builder {
        setup: Setup::new(zmq_type),
        kind: Connection {
            factory,
            _protocol: PhantomData,
        },
        _runtime: PhantomData,
    }
}

/// Starts a stream builder (each driver crate names it `create_zmq_stream`).
pub fn stream<R: Runtime>(zmq_type: SocketType) -> Builder<R, Stream> {
    Builder {
        setup: Setup::new(zmq_type),
        kind: Stream {
            read_limits: (None, None),
            write_limits: (None, None),
            events_backlog: DEFAULT_EVENTS_BACKLOG,
        },
        _runtime: PhantomData,
    }
}

impl<R, K> Builder<R, K> {
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

    /// Uses a pre-made socket; its type must be the one asked for. Pass the
    /// context it was made in with [`context`](Self::context): the monitor's
    /// reader must live in the same context, and `enable_monitor` refuses
    /// (`InvalidInput`) a socket from a context it was not given.
    pub fn zmq_sock(mut self, sock: zmq::Socket) -> Self {
        self.setup.sock = Some(sock);
        self
    }

    /// Creates the socket in this context instead of the process-wide one.
    pub fn context(mut self, context: zmq::Context) -> Self {
        self.setup.context = Some(context);
        self
    }

    /// Sets a socket option on open, before any bind or connect: libzmq
    /// gives connections only the options set before them (SNDHWM, …).
    /// A value of the wrong type makes `open()` fail with `InvalidInput`.
    pub fn setsockopt(mut self, opt: SockOpt, value: impl Into<OptValue>) -> Self {
        self.setup.options.push((opt, value.into()));
        self
    }
}

impl<R> Builder<R, Stream> {
    /// Read water marks: receiving pauses when the unread queue goes over
    /// high and resumes at low (defaults 64 KiB / 16 KiB).
    pub fn read_limits(mut self, high: Option<usize>, low: Option<usize>) -> Self {
        self.kind.read_limits = (high, low);
        self
    }

    /// Write water marks, as `set_write_buffer_limits`.
    pub fn write_limits(mut self, high: Option<usize>, low: Option<usize>) -> Self {
        self.kind.write_limits = (high, low);
        self
    }

    /// How many monitor events to keep unread (default 100; older ones are dropped).
    pub fn events_backlog(mut self, n: usize) -> Self {
        self.kind.events_backlog = n;
        self
    }
}

impl<R: Runtime, P, F> Builder<R, Connection<P, F>>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<R>>,
{
    /// Binds and connects first (on an error the socket is closed, the error
    /// returned, and the protocol sees no callback); then starts the driver
    /// and runs `connection_made`, before returning.
    pub(crate) fn open_now(self) -> io::Result<Opened<R, P>> {
        R::check()?;
        let (wakeup, parker) = R::parker()?;
        let state = TransportState::new(self.setup.zmq_type);
        let shared = self.setup.open(state, wakeup)?;
        let protocol = Arc::new(Mutex::new((self.kind.factory)()));
        let typed = Arc::new(ProtocolCell::<P, Transport<R>>::new(protocol.clone()));
        let cell: Arc<dyn Deliver> = typed.clone();
        shared.set_protocol(cell.clone());
        // Hold the protocol while the driver starts: its first delivery waits
        // for connection_made, and a failed start leaves no callback behind.
        let mut guard = lock(&protocol);
        if let Err(e) = R::start(shared.clone(), Some(cell), parker) {
            shared.finish();
            return Err(e);
        }
        // The user's handle counts from before connection_made: a clone made
        // and dropped in there must not be the last one.
        let user = Transport::new(Handle::counted(shared.clone()));
        let made = catch_unwind(AssertUnwindSafe(|| {
            guard.connection_made(Transport::new(Handle::uncounted(shared.clone())))
        }));
        if made.is_err() {
            typed.abandon();
        }
        drop(guard);
        match made {
            Ok(()) => Ok((user, protocol)),
            Err(panic) => {
                // Like any callback's panic, it fails the transport; the
                // protocol is never called again (open() never handed it
                // out), and the driver ends, releasing socket, port and
                // protocol.
                let what = panic_text(&*panic);
                shared.callback_panicked(what.clone(), &mut Deliveries::new());
                shared.finish();
                drop(user);
                Err(io::Error::other(format!(
                    "connection_made panicked: {what}"
                )))
            }
        }
    }
}

impl<R: Runtime> Builder<R, Stream> {
    fn open_now(self) -> io::Result<ZmqStream<R>> {
        R::check()?;
        let read_limits = WaterMarks::new(self.kind.read_limits.0, self.kind.read_limits.1)?;
        let (high, low) = self.kind.write_limits;
        let mut state = TransportState::new_stream(
            self.setup.zmq_type,
            StreamConfig {
                read_limits,
                events_backlog: self.kind.events_backlog,
            },
        );
        state.writer().set_limits(high, low)?;
        let (wakeup, parker) = R::parker()?;
        let shared = self.setup.open(state, wakeup)?;
        R::start(shared.clone(), None, parker)?;
        Ok(ZmqStream::new(Transport::new(Handle::counted(shared))))
    }
}

impl<R: AsyncRuntime, P, F> Builder<Async<R>, Connection<P, F>>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<Async<R>>>,
{
    /// Opens the connection: binds and connects first (on an error the socket
    /// is closed, the error returned, and the protocol sees no callback);
    /// then `connection_made` runs, before this returns.
    pub async fn open(self) -> io::Result<Opened<Async<R>, P>> {
        self.open_now()
    }
}

impl<R: AsyncRuntime, P, F> IntoFuture for Builder<Async<R>, Connection<P, F>>
where
    F: FnOnce() -> P + Send + 'static,
    P: ZmqProtocol<Transport<Async<R>>>,
{
    type Output = io::Result<Opened<Async<R>, P>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.open_now() })
    }
}

impl<R: AsyncRuntime> Builder<Async<R>, Stream> {
    /// Opens the stream.
    pub async fn open(self) -> io::Result<ZmqStream<Async<R>>> {
        self.open_now()
    }
}

impl<R: AsyncRuntime> IntoFuture for Builder<Async<R>, Stream> {
    type Output = io::Result<ZmqStream<Async<R>>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.open_now() })
    }
}

impl<R: Runtime, P, F> Builder<Blocking<R>, Connection<P, F>>
where
    F: FnOnce() -> P,
    P: ZmqProtocol<Transport<Blocking<R>>>,
{
    /// Opens the connection: binds and connects first (on an error the socket
    /// is closed, the error returned, and the protocol sees no callback);
    /// then starts the I/O thread and runs `connection_made`, before returning.
    pub fn open(self) -> io::Result<Opened<Blocking<R>, P>> {
        self.open_now()
    }
}

impl<R: Runtime> Builder<Blocking<R>, Stream> {
    /// Opens the stream.
    pub fn open(self) -> io::Result<ZmqStream<Blocking<R>>> {
        self.open_now()
    }
}

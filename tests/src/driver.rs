//! The one interface the conformance suite is written against, implemented
//! for each driver (and each tokio runtime flavour). Calls that are `async`
//! in a driver block here, with a bounded timeout.

use std::fmt::Debug;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use aiozmq_core::{Multipart, SocketEvent, SocketType, ZmqTransport};

use crate::log::{Log, OnMade, OnMsg};

/// How to open a recording connection.
pub struct Spec<T> {
    /// Socket type.
    pub kind: SocketType,
    /// `.bind` endpoints.
    pub binds: Vec<String>,
    /// `.connect` endpoints.
    pub connects: Vec<String>,
    /// `.zmq_sock`.
    pub sock: Option<zmq::Socket>,
    /// `.context`.
    pub context: Option<zmq::Context>,
    /// What the protocol does with each message before recording it.
    pub on_msg: Option<OnMsg<T>>,
    /// What the protocol does in `connection_made`, after recording it.
    pub on_made: Option<OnMade<T>>,
    /// `.setsockopt` on the builder.
    pub options: Vec<(aiozmq_core::SockOpt, aiozmq_core::OptValue)>,
}

impl<T> Spec<T> {
    /// A spec for this socket type.
    pub fn new(kind: SocketType) -> Self {
        Spec {
            kind,
            binds: Vec::new(),
            connects: Vec::new(),
            sock: None,
            context: None,
            on_msg: None,
            on_made: None,
            options: Vec::new(),
        }
    }

    /// Adds a bind.
    pub fn bind(mut self, ep: impl Into<String>) -> Self {
        self.binds.push(ep.into());
        self
    }

    /// Adds a connect.
    pub fn connect(mut self, ep: impl Into<String>) -> Self {
        self.connects.push(ep.into());
        self
    }

    /// Uses a pre-made socket.
    pub fn sock(mut self, sock: zmq::Socket) -> Self {
        self.sock = Some(sock);
        self
    }

    /// Uses a context.
    pub fn context(mut self, ctx: zmq::Context) -> Self {
        self.context = Some(ctx);
        self
    }

    /// Sets an option on open, before binds and connects.
    pub fn option(mut self, opt: aiozmq_core::SockOpt, value: aiozmq_core::OptValue) -> Self {
        self.options.push((opt, value));
        self
    }

    /// Runs `f` inside `connection_made`, on the transport it was given.
    pub fn on_made(mut self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        self.on_made = Some(Box::new(f));
        self
    }

    /// Runs `f` on each message (inside `msg_received`).
    pub fn on_msg(mut self, f: impl FnMut(&T, &Multipart) + Send + 'static) -> Self {
        self.on_msg = Some(Box::new(f));
        self
    }
}

/// How to open a stream.
#[derive(Clone)]
pub struct StreamSpec {
    /// Socket type.
    pub kind: SocketType,
    /// `.bind` endpoints.
    pub binds: Vec<String>,
    /// `.connect` endpoints.
    pub connects: Vec<String>,
    /// `.read_limits`.
    pub read_limits: (Option<usize>, Option<usize>),
    /// `.write_limits`.
    pub write_limits: (Option<usize>, Option<usize>),
    /// `.events_backlog`.
    pub events_backlog: Option<usize>,
}

impl StreamSpec {
    /// A spec for this socket type.
    pub fn new(kind: SocketType) -> Self {
        StreamSpec {
            kind,
            binds: Vec::new(),
            connects: Vec::new(),
            read_limits: (None, None),
            write_limits: (None, None),
            events_backlog: None,
        }
    }

    /// Adds a bind.
    pub fn bind(mut self, ep: impl Into<String>) -> Self {
        self.binds.push(ep.into());
        self
    }

    /// Adds a connect.
    pub fn connect(mut self, ep: impl Into<String>) -> Self {
        self.connects.push(ep.into());
        self
    }
}

/// A stream, with every wait bounded.
pub trait TestStream: Send {
    /// The driver's transport type.
    type T: ZmqTransport + Debug;
    /// `transport()`.
    fn transport(&self) -> &Self::T;
    /// `write()`.
    fn write(&self, msg: Multipart) -> io::Result<()>;
    /// `read()`, or `TimedOut` after `timeout`.
    fn read(&mut self, timeout: Duration) -> io::Result<Multipart>;
    /// `read_event()`, or `TimedOut` after `timeout`.
    fn read_event(&mut self, timeout: Duration) -> io::Result<SocketEvent>;
    /// `drain()`, or `TimedOut` after `timeout`.
    fn drain(&self, timeout: Duration) -> io::Result<()>;
    /// `close()`.
    fn close(&self);
    /// `at_closing()`.
    fn at_closing(&self) -> bool;
    /// `set_read_buffer_limits()`.
    fn set_read_buffer_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()>;
    /// `get_read_buffer_limits()`.
    fn get_read_buffer_limits(&self) -> (usize, usize);
    /// The transport's `enable_monitor()`.
    fn enable_monitor(&self, events: Option<u16>) -> io::Result<()>;
}

/// A driver's `Authenticator`, as the suite sees it (the same calls with
/// concrete argument types, so scenarios can name it through [`Driver`]).
pub trait TestAuth: Send {
    /// `allow()`.
    fn allow(&self, addresses: &[&str]);
    /// `deny()`.
    fn deny(&self, addresses: &[&str]);
    /// `configure_plain()`.
    fn configure_plain(&self, domain: &str, passwords: &[(&str, &str)]);
    /// `configure_curve()`.
    fn configure_curve(&self, domain: &str, allowed_public_keys: &[&str]);
    /// `configure_curve_any()`.
    fn configure_curve_any(&self, domain: &str);
    /// `stop()`.
    fn stop(&self);
}

impl<R: aiozmq_driver_common::Runtime> TestAuth for aiozmq_driver_common::Authenticator<R> {
    fn allow(&self, addresses: &[&str]) {
        aiozmq_driver_common::Authenticator::allow(self, addresses.iter().copied());
    }
    fn deny(&self, addresses: &[&str]) {
        aiozmq_driver_common::Authenticator::deny(self, addresses.iter().copied());
    }
    fn configure_plain(&self, domain: &str, passwords: &[(&str, &str)]) {
        aiozmq_driver_common::Authenticator::configure_plain(
            self,
            domain,
            passwords.iter().copied(),
        );
    }
    fn configure_curve(&self, domain: &str, allowed_public_keys: &[&str]) {
        aiozmq_driver_common::Authenticator::configure_curve(
            self,
            domain,
            allowed_public_keys.iter().copied(),
        );
    }
    fn configure_curve_any(&self, domain: &str) {
        aiozmq_driver_common::Authenticator::configure_curve_any(self, domain);
    }
    fn stop(&self) {
        aiozmq_driver_common::Authenticator::stop(self);
    }
}

/// One driver, as the suite sees it.
pub trait Driver: Send + Sync + 'static {
    /// The driver's `Transport`.
    type T: ZmqTransport + Debug;
    /// The driver's stream, wrapped.
    type S: TestStream<T = Self::T>;
    /// The driver's `Authenticator`.
    type A: TestAuth;
    /// A name for messages.
    fn name(&self) -> &'static str;
    /// `create_zmq_connection(..).open()` with a protocol recording into `log`.
    fn open_into(&self, spec: Spec<Self::T>, log: Arc<Log>) -> io::Result<Self::T>;
    /// `create_zmq_connection(..).open()` with a recording protocol.
    fn open(&self, spec: Spec<Self::T>) -> io::Result<(Self::T, Arc<Log>)> {
        let log = Arc::new(Log::default());
        self.open_into(spec, log.clone()).map(|t| (t, log))
    }
    /// `create_zmq_stream(..).open()`.
    fn open_stream(&self, spec: StreamSpec) -> io::Result<Self::S>;
    /// `Transport::enable_monitor`.
    fn enable_monitor(&self, t: &Self::T, events: Option<u16>) -> io::Result<()>;
    /// `Transport::disable_monitor`.
    fn disable_monitor(&self, t: &Self::T) -> io::Result<()>;
    /// `Transport::with_zmq_socket`.
    fn with_socket(&self, t: &Self::T, f: &mut dyn FnMut(&zmq::Socket)) -> io::Result<()>;
    /// `Authenticator::start_in(context)`: a ZAP handler for that context's
    /// sockets (each test gets its own context, so handlers never compete).
    fn start_authenticator(&self, context: zmq::Context) -> io::Result<Self::A>;
}

/// Applies a [`Spec`]'s binds, connects, socket and context to a driver's
/// connection builder (each driver has its own builder type).
#[macro_export]
macro_rules! apply_spec {
    ($b:ident, $spec:ident) => {{
        let mut b = $b;
        for (opt, value) in $spec.options {
            b = b.setsockopt(opt, value);
        }
        for ep in $spec.binds {
            b = b.bind(ep);
        }
        for ep in $spec.connects {
            b = b.connect(ep);
        }
        if let Some(s) = $spec.sock {
            b = b.zmq_sock(s);
        }
        if let Some(c) = $spec.context {
            b = b.context(c);
        }
        b
    }};
}

/// Applies a [`StreamSpec`] to a driver's stream builder.
#[macro_export]
macro_rules! apply_stream_spec {
    ($b:ident, $spec:ident) => {{
        let mut b = $b
            .read_limits($spec.read_limits.0, $spec.read_limits.1)
            .write_limits($spec.write_limits.0, $spec.write_limits.1);
        if let Some(n) = $spec.events_backlog {
            b = b.events_backlog(n);
        }
        for ep in $spec.binds {
            b = b.bind(ep);
        }
        for ep in $spec.connects {
            b = b.connect(ep);
        }
        b
    }};
}

//! The libzmq side that every aiozmq-rs driver shares.
//!
//! The decisions live in `aiozmq-core`'s `TransportState`; this crate makes the
//! libzmq calls the core allows ([`sock`]), holds the state and socket behind one
//! lock with the transport handle ([`Handle`]), runs one driver turn
//! ([`Shared::run_turn`]) and delivers callbacks ([`Deliver`]). A driver crate adds
//! only what depends on its runtime: how to wait for an FD or a wake-up, how to
//! spawn the driver, and async or blocking entry points.
//!
//! Lock order, everywhere: the protocol's mutex, then the transport's. No
//! callback runs while the transport's lock is held, and no thread waits for the
//! protocol's mutex while holding the transport's.

#![warn(missing_docs)]

pub mod asynch;
mod deliver;
mod handle;
pub mod security;
mod setup;
mod shared;
pub mod sock;
pub mod stream;

pub use deliver::{lock, Deliver, ProtocolCell};
pub use handle::Handle;
pub use setup::{default_context, Setup};
pub use shared::{Inner, Park, Shared, Wake};

/// The linked libzmq's version, `(major, minor, patch)`.
pub fn zmq_version() -> (i32, i32, i32) {
    zmq::version()
}

/// Implements `aiozmq_core::ZmqTransport` for a driver's `Transport`
/// whose field `handle` is a [`Handle`] (optionally generic: `Transport<R>, R: Bound`).
#[macro_export]
macro_rules! impl_zmq_transport {
    ($ty:ty $(, $g:ident : $bound:path)?) => {
        impl $(<$g: $bound>)? $crate::__core::ZmqTransport for $ty {
            fn zmq_type(&self) -> $crate::__core::SocketType {
                self.handle.zmq_type()
            }
            fn write(&self, msg: impl Into<$crate::__core::Multipart>) -> std::io::Result<()> {
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
            fn getsockopt(
                &self,
                opt: $crate::__core::SockOpt,
            ) -> std::io::Result<$crate::__core::OptValue> {
                self.handle.getsockopt(opt)
            }
            fn setsockopt(
                &self,
                opt: $crate::__core::SockOpt,
                value: $crate::__core::OptValue,
            ) -> std::io::Result<()> {
                self.handle.setsockopt(opt, value)
            }
            fn get_write_buffer_limits(&self) -> (usize, usize) {
                self.handle.get_write_buffer_limits()
            }
            fn set_write_buffer_limits(
                &self,
                high: Option<usize>,
                low: Option<usize>,
            ) -> std::io::Result<()> {
                self.handle.set_write_buffer_limits(high, low)
            }
            fn get_write_buffer_size(&self) -> usize {
                self.handle.get_write_buffer_size()
            }
            fn pause_reading(&self) -> std::io::Result<()> {
                self.handle.pause_reading()
            }
            fn resume_reading(&self) -> std::io::Result<()> {
                self.handle.resume_reading()
            }
            fn bind(&self, endpoint: &str) -> std::io::Result<String> {
                self.handle.bind(endpoint)
            }
            fn unbind(&self, endpoint: &str) -> std::io::Result<()> {
                self.handle.unbind(endpoint)
            }
            fn bindings(&self) -> std::collections::BTreeSet<String> {
                self.handle.bindings()
            }
            fn connect(&self, endpoint: &str) -> std::io::Result<String> {
                self.handle.connect(endpoint)
            }
            fn disconnect(&self, endpoint: &str) -> std::io::Result<()> {
                self.handle.disconnect(endpoint)
            }
            fn connections(&self) -> std::collections::BTreeSet<String> {
                self.handle.connections()
            }
            fn subscribe(&self, prefix: impl AsRef<[u8]>) -> std::io::Result<()> {
                self.handle.subscribe(prefix.as_ref())
            }
            fn unsubscribe(&self, prefix: impl AsRef<[u8]>) -> std::io::Result<()> {
                self.handle.unsubscribe(prefix.as_ref())
            }
            fn subscriptions(
                &self,
            ) -> std::io::Result<std::collections::BTreeSet<$crate::__core::Bytes>> {
                self.handle.subscriptions()
            }
        }
    };
}

/// The public API of an async driver crate, for its [`asynch::AsyncRuntime`]:
/// `Transport`, `ConnectionBuilder`, `StreamBuilder`, `ZmqStream`,
/// `create_zmq_connection`, `create_zmq_stream` and `zmq_version`.
#[macro_export]
macro_rules! async_driver_api {
    ($rt:ty) => {
        /// A ZeroMQ transport: aiozmq's `ZmqTransport` (see `ZmqTransport` for the methods).
        pub type Transport = $crate::asynch::Transport<$rt>;
        /// The builder [`create_zmq_connection`] returns.
        pub type ConnectionBuilder<P, F> = $crate::asynch::ConnectionBuilder<$rt, P, F>;
        /// The builder [`create_zmq_stream`] returns.
        pub type StreamBuilder = $crate::asynch::StreamBuilder<$rt>;
        /// aiozmq's `ZmqStream`: cancel-safe `read()`, `futures::Stream` and `Sink`.
        pub type ZmqStream = $crate::asynch::ZmqStream<$rt>;

        /// Creates a ZeroMQ connection: `.bind()`, `.connect()`, `.zmq_sock()`,
        /// `.context()`, then `.open().await` → `(Transport, Arc<Mutex<P>>)`.
        pub fn create_zmq_connection<P, F>(
            factory: F,
            zmq_type: $crate::__core::SocketType,
        ) -> ConnectionBuilder<P, F>
        where
            F: FnOnce() -> P,
            P: $crate::__core::ZmqProtocol<Transport>,
        {
            $crate::asynch::create_zmq_connection(factory, zmq_type)
        }

        /// Creates a stream: the builder also takes `.read_limits()`,
        /// `.write_limits()` and `.events_backlog()`; then `.open().await`.
        pub fn create_zmq_stream(zmq_type: $crate::__core::SocketType) -> StreamBuilder {
            $crate::asynch::create_zmq_stream(zmq_type)
        }

        /// The linked libzmq's version, `(major, minor, patch)`.
        pub fn zmq_version() -> (i32, i32, i32) {
            $crate::zmq_version()
        }
    };
}

/// The stream-only builder methods; the builder has fields `read_limits`,
/// `write_limits` and `events_backlog`.
#[macro_export]
macro_rules! stream_methods {
    () => {
        /// Read water marks: reading pauses when the unread queue goes over high
        /// and resumes at low (defaults 64 KiB / 16 KiB).
        pub fn read_limits(mut self, high: Option<usize>, low: Option<usize>) -> Self {
            self.read_limits = (high, low);
            self
        }

        /// Write water marks, as `set_write_buffer_limits`.
        pub fn write_limits(mut self, high: Option<usize>, low: Option<usize>) -> Self {
            self.write_limits = (high, low);
            self
        }

        /// How many monitor events to keep unread (default 100; older ones are dropped).
        pub fn events_backlog(mut self, n: usize) -> Self {
            self.events_backlog = n;
            self
        }
    };
}

/// The builder methods every `create_zmq_*` builder shares; the builder
/// has a field `setup: Setup`.
#[macro_export]
macro_rules! setup_methods {
    () => {
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
        pub fn zmq_sock(mut self, sock: $crate::__zmq::Socket) -> Self {
            self.setup.sock = Some(sock);
            self
        }

        /// Creates the socket in this context instead of the process-wide one.
        pub fn context(mut self, context: $crate::__zmq::Context) -> Self {
            self.setup.context = Some(context);
            self
        }

        /// Sets a socket option on open, before any bind or connect: libzmq
        /// gives connections only the options set before them (SNDHWM, …).
        /// A value of the wrong type makes `open()` fail with `InvalidInput`.
        pub fn setsockopt(
            mut self,
            opt: $crate::__core::SockOpt,
            value: impl Into<$crate::__core::OptValue>,
        ) -> Self {
            self.setup.options.push((opt, value.into()));
            self
        }
    };
}

#[doc(hidden)]
pub use aiozmq_core as __core;
#[doc(hidden)]
pub use zmq as __zmq;

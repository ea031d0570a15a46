//! aiozmq's stream API for any [`AsyncRuntime`]: `create_zmq_stream` and `ZmqStream`.

use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::stream::{open_stream, StreamShared};
use crate::Setup;
use aiozmq_core::{Multipart, SocketEvent, SocketType, ZmqTransport, DEFAULT_EVENTS_BACKLOG};

use super::transport::{create_zmq_connection, Transport};
use super::AsyncRuntime;

/// Creates a stream: configure with the builder's methods, then `.open().await`.
pub fn create_zmq_stream<R: AsyncRuntime>(zmq_type: SocketType) -> StreamBuilder<R> {
    StreamBuilder {
        setup: Setup::new(zmq_type),
        read_limits: (None, None),
        write_limits: (None, None),
        events_backlog: DEFAULT_EVENTS_BACKLOG,
        _runtime: PhantomData,
    }
}

/// Collects what `create_zmq_stream` should do.
pub struct StreamBuilder<R> {
    setup: Setup,
    read_limits: (Option<usize>, Option<usize>),
    write_limits: (Option<usize>, Option<usize>),
    events_backlog: usize,
    _runtime: PhantomData<fn() -> R>,
}

impl<R: AsyncRuntime> StreamBuilder<R> {
    crate::setup_methods!();

    crate::stream_methods!();

    /// Opens the stream.
    pub async fn open(self) -> io::Result<ZmqStream<R>> {
        self.open_now()
    }

    fn open_now(self) -> io::Result<ZmqStream<R>> {
        let setup = self.setup;
        let (transport, shared) = open_stream(
            self.read_limits,
            self.write_limits,
            self.events_backlog,
            |protocol| {
                let mut builder = create_zmq_connection(move || protocol, setup.zmq_type);
                builder.setup = setup;
                builder.open_now().map(|(t, _)| t)
            },
        )?;
        Ok(ZmqStream { transport, shared })
    }
}

impl<R: AsyncRuntime> IntoFuture for StreamBuilder<R> {
    type Output = io::Result<ZmqStream<R>>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.open_now() })
    }
}

/// aiozmq's `ZmqStream`: read and write whole multipart messages.
///
/// `read()` is cancel-safe. To write from another task while one reads, clone
/// [`transport()`](Self::transport): it writes too. Also a
/// `futures::Stream` of messages and a `futures::Sink` of them.
pub struct ZmqStream<R> {
    transport: Transport<R>,
    shared: Arc<StreamShared>,
}

impl<R: AsyncRuntime> ZmqStream<R> {
    /// The transport underneath.
    pub fn transport(&self) -> &Transport<R> {
        &self.transport
    }

    /// Writes a message (never blocks; see [`drain`](Self::drain)).
    pub fn write(&self, msg: impl Into<Multipart>) -> io::Result<()> {
        self.transport.write(msg)
    }

    /// Waits while writing is paused (the write buffer is over its high-water
    /// mark). After close or loss: the loss's error, else `ConnectionReset`.
    pub async fn drain(&self) -> io::Result<()> {
        poll_fn(|cx| self.shared.poll_drain(cx)).await
    }

    /// The next message. After close or loss, the messages already queued,
    /// then `ConnectionAborted`. Cancel-safe.
    pub async fn read(&mut self) -> io::Result<Multipart> {
        poll_fn(|cx| self.shared.poll_read(&self.transport, cx)).await
    }

    /// The next monitor event (see `Transport::enable_monitor`).
    pub async fn read_event(&mut self) -> io::Result<SocketEvent> {
        poll_fn(|cx| self.shared.poll_read_event(cx)).await
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

impl<R: AsyncRuntime> futures_core::Stream for ZmqStream<R> {
    type Item = io::Result<Multipart>;

    /// Messages until the stream ends (then `None`).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.shared.poll_read(&this.transport, cx) {
            Poll::Ready(Ok(msg)) => Poll::Ready(Some(Ok(msg))),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionAborted => {
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R: AsyncRuntime> futures_sink::Sink<Multipart> for ZmqStream<R> {
    type Error = io::Error;

    /// Ready while writing is not paused.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_drain(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Multipart) -> io::Result<()> {
        self.transport.write(item)
    }

    /// Messages are handed to the transport at once; flushing waits out a pause.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared.poll_drain(cx)
    }

    /// Closes the transport (buffered messages are still flushed).
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.close();
        Poll::Ready(Ok(()))
    }
}

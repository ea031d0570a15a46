//! aiozmq's `ZmqStream` for every driver: whole multipart messages in and
//! out, read water marks, monitor events. The core holds the queue; this
//! type only waits on it — `async` for [`Async`] runtimes, blocking (with
//! timeouts) for [`Blocking`] ones.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use aiozmq_core::{Multipart, SocketEvent, ZmqTransport};

use crate::asynch::AsyncRuntime;
use crate::runtime::{Async, Blocking, Runtime};
use crate::transport::Transport;

/// aiozmq's `ZmqStream`: read and write whole multipart messages.
///
/// To write from another task or thread while one reads, clone
/// [`transport()`](Self::transport): it writes too. After close or loss,
/// `read()` returns the messages already queued, then `ConnectionAborted`.
pub struct ZmqStream<R> {
    transport: Transport<R>,
}

impl<R> std::fmt::Debug for ZmqStream<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZmqStream")
            .field("transport", &self.transport.handle)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> ZmqStream<R> {
    pub(crate) fn new(transport: Transport<R>) -> Self {
        ZmqStream { transport }
    }

    /// The transport underneath.
    pub fn transport(&self) -> &Transport<R> {
        &self.transport
    }

    /// Writes a message (never blocks; see `drain`).
    pub fn write(&self, msg: impl Into<Multipart>) -> io::Result<()> {
        self.transport.write(msg)
    }

    /// Closes the transport: buffered writes are flushed (see `close` on the
    /// transport for the deadline); reads return what is queued, then
    /// `ConnectionAborted`.
    pub fn close(&self) {
        self.transport.close()
    }

    /// Sets the read water marks (same rules as the write ones).
    pub fn set_read_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<()> {
        self.transport.handle.set_read_limits(high, low)
    }

    /// `(low, high)` read water marks.
    pub fn get_read_buffer_limits(&self) -> (usize, usize) {
        self.transport.handle.read_limits()
    }

    /// Closed or lost, and every queued message has been read.
    pub fn at_closing(&self) -> bool {
        self.transport.handle.at_closing()
    }
}

impl<R: AsyncRuntime> ZmqStream<Async<R>> {
    /// Waits while writing is paused (the write buffer is over its high-water
    /// mark). After close or loss: the loss's error, else `ConnectionReset`.
    pub async fn drain(&self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.transport.handle.poll_drain(cx)).await
    }

    /// The next message. After close or loss, the messages already queued,
    /// then `ConnectionAborted`. Cancel-safe: a dropped read loses nothing.
    pub async fn read(&mut self) -> io::Result<Multipart> {
        std::future::poll_fn(|cx| self.transport.handle.poll_read(cx)).await
    }

    /// The next monitor event (see `Transport::enable_monitor`).
    pub async fn read_event(&mut self) -> io::Result<SocketEvent> {
        std::future::poll_fn(|cx| self.transport.handle.poll_read_event(cx)).await
    }
}

impl<R: AsyncRuntime> futures_core::Stream for ZmqStream<Async<R>> {
    type Item = io::Result<Multipart>;

    /// Messages until the stream ends (then `None`).
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.transport.handle.poll_read(cx) {
            Poll::Ready(Ok(msg)) => Poll::Ready(Some(Ok(msg))),
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::ConnectionAborted => {
                Poll::Ready(None)
            }
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R: AsyncRuntime> futures_sink::Sink<Multipart> for ZmqStream<Async<R>> {
    type Error = io::Error;

    /// Ready while writing is not paused.
    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.handle.poll_drain(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Multipart) -> io::Result<()> {
        self.transport.write(item)
    }

    /// Messages are handed to the transport at once; flushing waits out a pause.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.handle.poll_drain(cx)
    }

    /// Closes the transport (buffered messages are still flushed).
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.transport.close();
        Poll::Ready(Ok(()))
    }
}

impl<R: Runtime> ZmqStream<Blocking<R>> {
    /// Blocks while writing is paused (the write buffer is over its high-water
    /// mark). After close or loss: the loss's error, else `ConnectionReset`.
    pub fn drain(&self) -> io::Result<()> {
        self.transport.handle.drain_blocking(None)
    }

    /// [`drain`](Self::drain), giving up with `ErrorKind::TimedOut` after `timeout`.
    pub fn drain_timeout(&self, timeout: Duration) -> io::Result<()> {
        self.transport.handle.drain_blocking(Some(timeout))
    }

    /// Blocks for the next message. After close or loss, the messages already
    /// queued, then `ConnectionAborted`.
    pub fn read(&mut self) -> io::Result<Multipart> {
        self.transport.handle.read_blocking(None)
    }

    /// [`read`](Self::read), giving up with `ErrorKind::TimedOut` when nothing
    /// came within `timeout`; the stream stays usable.
    pub fn read_timeout(&mut self, timeout: Duration) -> io::Result<Multipart> {
        self.transport.handle.read_blocking(Some(timeout))
    }

    /// Blocks for the next monitor event (see `Transport::enable_monitor`).
    pub fn read_event(&mut self) -> io::Result<SocketEvent> {
        self.transport.handle.read_event_blocking(None)
    }

    /// [`read_event`](Self::read_event) with a timeout (`ErrorKind::TimedOut`).
    pub fn read_event_timeout(&mut self, timeout: Duration) -> io::Result<SocketEvent> {
        self.transport.handle.read_event_blocking(Some(timeout))
    }
}

impl<R: Runtime> Iterator for ZmqStream<Blocking<R>> {
    type Item = io::Result<Multipart>;

    /// Messages until the stream ends (then `None`).
    fn next(&mut self) -> Option<Self::Item> {
        match self.read() {
            Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => None,
            other => Some(other),
        }
    }
}

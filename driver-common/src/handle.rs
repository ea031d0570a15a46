//! `Handle`: the body of every driver's `Transport`. Each method takes the
//! lock, asks the core, makes the libzmq call the core allows, reports it,
//! and — the law of use — drains the core's wake-ups.

use std::collections::BTreeSet;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use aiozmq_core::{
    error, exec, Bytes, Multipart, OptValue, Read, SockOpt, SocketEvent, SocketType, TransportState,
};

use crate::shared::{Inner, Shared};
use crate::sock;

/// A transport handle: cheap to clone, `Send + Sync`. Dropping the last
/// counted handle closes the transport (the copy given to `connection_made`
/// does not count, so a protocol that keeps it does not keep the socket open).
pub struct Handle {
    shared: Arc<Shared>,
    counted: bool,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("transport", &self.shared.id())
            .field("counted", &self.counted)
            .finish_non_exhaustive()
    }
}

impl Clone for Handle {
    fn clone(&self) -> Self {
        self.shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle {
            shared: self.shared.clone(),
            counted: true,
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.counted && self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            tracing::debug!(transport = self.shared.id(), "last handle dropped: closing");
            self.close();
        }
    }
}

fn closed() -> io::Error {
    error::not_connected("the transport is closed")
}

fn main_socket(inner: &mut Inner) -> io::Result<&mut zmq::Socket> {
    inner.socket.as_mut().ok_or_else(closed)
}

fn store(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

impl Handle {
    /// The handle the user gets from `open()`.
    pub fn counted(shared: Arc<Shared>) -> Handle {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Handle {
            shared,
            counted: true,
        }
    }

    /// The handle given to `connection_made`.
    pub fn uncounted(shared: Arc<Shared>) -> Handle {
        Handle {
            shared,
            counted: false,
        }
    }

    /// The shared half.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The socket type.
    pub fn zmq_type(&self) -> SocketType {
        self.shared.socket_type()
    }

    /// `write()`: the core's executor sends from the caller's thread what
    /// the socket takes — the buffer first, then `msg` — and buffers the rest.
    #[inline]
    pub fn write(&self, msg: Multipart) -> io::Result<()> {
        // `Shared::with` spelled out: a closure would move the 136-byte
        // message once more on every write.
        let mut inner = self.shared.lock();
        let (state, mut sockets) = inner.split();
        let out = exec::write(state, &mut sockets, msg);
        let pending = self.shared.poll_wakes(&mut inner);
        drop(inner);
        self.shared.settle(pending);
        out
    }

    /// `close()`.
    pub fn close(&self) {
        self.shared.with(|inner| inner.state.close(Instant::now()));
    }

    /// `abort()`.
    pub fn abort(&self) {
        let dropped = self.shared.with(|inner| inner.state.abort());
        if dropped > 0 {
            tracing::debug!(
                transport = self.shared.id(),
                dropped,
                "abort dropped buffered messages"
            );
        }
    }

    /// `is_closing()`.
    pub fn is_closing(&self) -> bool {
        self.shared.lock().state.is_closing()
    }

    /// Runs a libzmq call on the open socket, then tells the core a call was made.
    fn call<R>(
        &self,
        check: impl FnOnce(&mut TransportState) -> io::Result<()>,
        f: impl FnOnce(&mut zmq::Socket) -> io::Result<R>,
    ) -> io::Result<R> {
        self.shared.with(|inner| {
            check(&mut inner.state)?;
            let out = f(main_socket(inner)?);
            inner.state.handle_zmq_call();
            out
        })
    }

    /// `getsockopt()`.
    pub fn getsockopt(&self, opt: SockOpt) -> io::Result<OptValue> {
        self.call(
            |s| s.endpoints().check_getsockopt(opt),
            |sock| sock::getsockopt(sock, opt),
        )
    }

    /// `setsockopt()`.
    pub fn setsockopt(&self, opt: SockOpt, value: OptValue) -> io::Result<()> {
        self.shared.with(|inner| {
            let value = inner.state.endpoints().check_setsockopt(opt, value)?;
            let result = sock::setsockopt(main_socket(inner)?, opt, &value);
            match &result {
                Ok(()) => inner.state.endpoints().handle_setsockopt(opt, &value),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `get_write_buffer_limits()`: `(low, high)`.
    pub fn get_write_buffer_limits(&self) -> (usize, usize) {
        self.shared.lock().state.write_limits()
    }

    /// `set_write_buffer_limits()`.
    pub fn set_write_buffer_limits(
        &self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<()> {
        self.shared
            .with(|inner| inner.state.writer().set_limits(high, low))
    }

    /// `get_write_buffer_size()`.
    pub fn get_write_buffer_size(&self) -> usize {
        self.shared.lock().state.write_buffer_size()
    }

    /// `pause_reading()`.
    pub fn pause_reading(&self) -> io::Result<()> {
        self.shared.with(|inner| inner.state.pause_reading())
    }

    /// `resume_reading()`.
    pub fn resume_reading(&self) -> io::Result<()> {
        self.shared.with(|inner| inner.state.resume_reading())
    }

    /// `bind()`: the real endpoint.
    pub fn bind(&self, endpoint: &str) -> io::Result<String> {
        self.shared.with(|inner| {
            inner.state.endpoints().check_bind(endpoint)?;
            let result = sock::bind(main_socket(inner)?, endpoint);
            match &result {
                Ok(real) => inner.state.endpoints().handle_bound(real.clone()),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `unbind()`.
    pub fn unbind(&self, endpoint: &str) -> io::Result<()> {
        self.shared.with(|inner| {
            inner.state.endpoints().check_endpoint(endpoint)?;
            let result = sock::unbind(main_socket(inner)?, endpoint);
            match &result {
                Ok(()) => inner
                    .state
                    .endpoints()
                    .handle_unbound(endpoint, &sock::spellings(endpoint)),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `bindings()`.
    pub fn bindings(&self) -> BTreeSet<String> {
        self.shared.lock().state.bindings().clone()
    }

    /// `connect()`: the endpoint.
    pub fn connect(&self, endpoint: &str) -> io::Result<String> {
        self.shared.with(|inner| {
            inner.state.endpoints().check_endpoint(endpoint)?;
            let result = sock::connect(main_socket(inner)?, endpoint);
            match &result {
                Ok(()) => inner
                    .state
                    .endpoints()
                    .handle_connected(endpoint.to_owned()),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result.map(|()| endpoint.to_owned())
        })
    }

    /// `disconnect()`.
    pub fn disconnect(&self, endpoint: &str) -> io::Result<()> {
        self.shared.with(|inner| {
            inner.state.endpoints().check_endpoint(endpoint)?;
            let result = sock::disconnect(main_socket(inner)?, endpoint);
            match &result {
                Ok(()) => inner
                    .state
                    .endpoints()
                    .handle_disconnected(endpoint, &sock::spellings(endpoint)),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `connections()`.
    pub fn connections(&self) -> BTreeSet<String> {
        self.shared.lock().state.connections().clone()
    }

    /// `subscribe()`: SUB only; a prefix already held does nothing.
    pub fn subscribe(&self, prefix: &[u8]) -> io::Result<()> {
        self.shared.with(|inner| {
            if !inner.state.endpoints().check_subscribe(prefix)? {
                return Ok(());
            }
            let value = OptValue::Bytes(Bytes::copy_from_slice(prefix));
            let result = sock::setsockopt(main_socket(inner)?, SockOpt::SUBSCRIBE, &value);
            match &result {
                Ok(()) => inner
                    .state
                    .endpoints()
                    .handle_subscribed(Bytes::copy_from_slice(prefix)),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `unsubscribe()`: SUB only.
    pub fn unsubscribe(&self, prefix: &[u8]) -> io::Result<()> {
        self.shared.with(|inner| {
            if !inner.state.endpoints().check_unsubscribe(prefix)? {
                return Ok(());
            }
            let value = OptValue::Bytes(Bytes::copy_from_slice(prefix));
            let result = sock::setsockopt(main_socket(inner)?, SockOpt::UNSUBSCRIBE, &value);
            match &result {
                Ok(()) => inner.state.endpoints().handle_unsubscribed(prefix),
                Err(_) => inner.state.handle_zmq_call(),
            }
            result
        })
    }

    /// `subscriptions()`: SUB only.
    pub fn subscriptions(&self) -> io::Result<BTreeSet<Bytes>> {
        self.shared.lock().state.subscriptions().cloned()
    }

    /// aiozmq's `get_extra_info("zmq_socket")`: runs `f` on the socket, under
    /// the transport's lock (so never concurrently with the driver).
    /// A panic in `f` reaches the caller after the lock is released and the
    /// core told that libzmq was called (its `ZMQ_FD` edge may be consumed).
    pub fn with_zmq_socket<R>(&self, f: impl FnOnce(&zmq::Socket) -> R) -> io::Result<R> {
        let ran = self.call(
            |s| s.endpoints().check_getsockopt(SockOpt::TYPE),
            |sock| Ok(catch_unwind(AssertUnwindSafe(|| f(sock)))),
        )?;
        Ok(ran.unwrap_or_else(|panic| resume_unwind(panic)))
    }

    /// `enable_monitor(events)`: events reach `event_received` (or a stream's
    /// `read_event`). Enabling again replaces the running monitor.
    pub fn enable_monitor(&self, events: Option<u16>) -> io::Result<()> {
        let mask = events.unwrap_or(aiozmq_core::event::ALL);
        let context = self.shared.context()?.clone();
        let id = self.shared.id();
        let premade = self.shared.premade_socket();
        self.shared.with(|inner| {
            let plan = inner.state.monitoring().enable()?;
            if plan.stop_first {
                let stopped = sock::stop_monitor(main_socket(inner)?);
                inner.state.handle_monitor_stopped(stopped.is_ok());
                stopped?;
            }
            let new_pair = || context.socket(aiozmq_core::SocketType::Pair);
            if premade {
                let probe = format!("inproc://aiozmq-context-probe-{id}-{}", plan.id.0);
                let same = sock::in_context(main_socket(inner)?, new_pair, &probe);
                if !matches!(same, Ok(true)) {
                    inner.state.monitoring().handle_started(plan.id, false);
                    return Err(same.err().unwrap_or_else(|| {
                        error::invalid_input(
                            "enable_monitor: the socket given to .zmq_sock() is from another \
                         zmq::Context than the transport's, and libzmq would hang \
                         delivering its events; pass that context with .context(..)",
                        )
                    }));
                }
            }
            let endpoint = format!("inproc://aiozmq-monitor-{id}-{}", plan.id.0);
            let started = sock::start_monitor(main_socket(inner)?, new_pair, &endpoint, mask)
                .and_then(|pair| Ok((sock::fd(&pair)?, pair)));
            inner
                .state
                .monitoring()
                .handle_started(plan.id, started.is_ok());
            let (fd, pair) = started?;
            inner.pipes.push((plan.id, pair, fd));
            Ok(())
        })
    }

    /// `disable_monitor()`: no events are delivered after it returns.
    pub fn disable_monitor(&self) -> io::Result<()> {
        self.shared.with(|inner| {
            if !inner.state.monitoring().disable() {
                return Ok(());
            }
            let stopped = sock::stop_monitor(main_socket(inner)?);
            inner.state.handle_monitor_stopped(stopped.is_ok());
            stopped
        })
    }

    // ----- the stream side -----

    /// Polls a stream's next message. Cancel-safe: a message leaves the
    /// queue only in the poll that returns it.
    pub fn poll_read(&self, cx: &mut Context<'_>) -> Poll<io::Result<Multipart>> {
        self.shared.with(|inner| match inner.state.stream().read() {
            Read::Ready(msg) => Poll::Ready(Ok(msg)),
            Read::Closed(e) => Poll::Ready(Err(e)),
            Read::Pending => {
                store(&mut inner.waiters.read, cx);
                Poll::Pending
            }
        })
    }

    /// Polls a stream's next monitor event.
    pub fn poll_read_event(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketEvent>> {
        self.shared
            .with(|inner| match inner.state.stream().read_event() {
                Read::Ready(ev) => Poll::Ready(Ok(ev)),
                Read::Closed(e) => Poll::Ready(Err(e)),
                Read::Pending => {
                    store(&mut inner.waiters.events, cx);
                    Poll::Pending
                }
            })
    }

    /// Polls until writing may go on, or the loss's error.
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shared
            .with(|inner| match inner.state.stream().drain() {
                Read::Ready(()) => Poll::Ready(Ok(())),
                Read::Closed(e) => Poll::Ready(Err(e)),
                Read::Pending => {
                    let drain = &mut inner.waiters.drain;
                    if !drain.iter().any(|w| w.will_wake(cx.waker())) {
                        drain.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
            })
    }

    /// Blocks for a stream's next message, up to `timeout`.
    pub fn read_blocking(&self, timeout: Option<Duration>) -> io::Result<Multipart> {
        self.block(timeout, |s| s.stream().read())
    }

    /// Blocks for a stream's next monitor event, up to `timeout`.
    pub fn read_event_blocking(&self, timeout: Option<Duration>) -> io::Result<SocketEvent> {
        self.block(timeout, |s| s.stream().read_event())
    }

    /// Blocks until writing may go on, or the loss's error.
    pub fn drain_blocking(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.block(timeout, |s| s.stream().drain())
    }

    fn block<T>(
        &self,
        timeout: Option<Duration>,
        mut attempt: impl FnMut(&mut TransportState) -> Read<T>,
    ) -> io::Result<T> {
        // A timeout past what `Instant` can hold means "no deadline".
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let shared = &*self.shared;
        let mut inner = shared.lock();
        loop {
            let result = match attempt(&mut inner.state) {
                Read::Ready(v) => Ok(v),
                Read::Closed(e) => Err(e),
                Read::Pending => {
                    let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                    if left == Some(Duration::ZERO) {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "nothing arrived before the timeout",
                        ))
                    } else {
                        inner.waiters.blocked += 1;
                        inner = match left {
                            None => shared
                                .changed
                                .wait(inner)
                                .unwrap_or_else(|p| p.into_inner()),
                            Some(left) => {
                                shared
                                    .changed
                                    .wait_timeout(inner, left)
                                    .unwrap_or_else(|p| p.into_inner())
                                    .0
                            }
                        };
                        inner.waiters.blocked -= 1;
                        continue;
                    }
                }
            };
            let pending = shared.poll_wakes(&mut inner);
            drop(inner);
            shared.settle(pending);
            return result;
        }
    }

    /// A stream's `set_read_buffer_limits()`.
    pub fn set_read_limits(&self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        self.shared
            .with(|inner| inner.state.stream().set_read_limits(high, low))
    }

    /// A stream's `(low, high)` read water marks.
    pub fn read_limits(&self) -> (usize, usize) {
        self.shared.lock().state.read_limits().unwrap_or((0, 0))
    }

    /// A stream's `at_closing()`.
    pub fn at_closing(&self) -> bool {
        self.shared.lock().state.at_closing()
    }
}

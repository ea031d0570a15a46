//! The stream API's shared half: a protocol that feeds the core's
//! `StreamState`, and the waiting for it — wakers for the async drivers, a
//! condvar for the blocking one.

use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use aiozmq_core::{
    Multipart, Read, ReadFlow, SocketEvent, StreamState, WaterMarks, ZmqProtocol, ZmqTransport,
};

/// Opens a stream's transport: checks both pairs of limits first, then
/// calls `open` (the driver's `create_zmq_connection` with this protocol)
/// and applies the write limits.
pub fn open_stream<T: ZmqTransport>(
    read_limits: (Option<usize>, Option<usize>),
    write_limits: (Option<usize>, Option<usize>),
    events_backlog: usize,
    open: impl FnOnce(StreamProtocol<T>) -> io::Result<T>,
) -> io::Result<(T, Arc<StreamShared>)> {
    let limits = WaterMarks::new(read_limits.0, read_limits.1)?;
    WaterMarks::new(write_limits.0, write_limits.1)?;
    let shared = StreamShared::new(StreamState::new(limits, events_backlog));
    let transport = open(StreamProtocol::new(shared.clone()))?;
    transport.set_write_buffer_limits(write_limits.0, write_limits.1)?;
    Ok((transport, shared))
}

struct Inner {
    state: StreamState,
    read_waker: Option<Waker>,
    event_waker: Option<Waker>,
    drain_wakers: Vec<Waker>,
    /// Threads blocked on the condvar: notifying costs a syscall, so only when > 0.
    blocked: usize,
}

/// The state one stream's reader, writer and protocol share.
pub struct StreamShared {
    inner: Mutex<Inner>,
    changed: Condvar,
}

fn wake(slot: &mut Option<Waker>) {
    if let Some(w) = slot.take() {
        w.wake();
    }
}

fn store(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

/// Pauses or resumes the transport's reading. Errors mean it already was
/// (another thread applied first, which `reconcile` then repairs) or that it
/// is closing, when it no longer matters.
fn set_reading<T: ZmqTransport>(transport: &T, flow: ReadFlow) {
    let _ = match flow {
        ReadFlow::Keep => Ok(()),
        ReadFlow::Pause => transport.pause_reading(),
        ReadFlow::Resume => transport.resume_reading(),
    };
}

impl StreamShared {
    /// Applies a read-flow decision, then re-checks it against the state
    /// until the transport is where the state wants it (see
    /// `StreamState::reconcile`): decisions from the driver and the reader
    /// can reach the transport out of order.
    fn apply<T: ZmqTransport>(&self, transport: &T, mut flow: ReadFlow) {
        while flow != ReadFlow::Keep {
            set_reading(transport, flow);
            flow = self.lock().state.reconcile(flow);
        }
    }

    /// A stream state to share.
    pub fn new(state: StreamState) -> Arc<StreamShared> {
        Arc::new(StreamShared {
            inner: Mutex::new(Inner {
                state,
                read_waker: None,
                event_waker: None,
                drain_wakers: Vec::new(),
                blocked: 0,
            }),
            changed: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on the state and wakes every waiter.
    fn update<R>(&self, f: impl FnOnce(&mut StreamState) -> R) -> R {
        let mut inner = self.lock();
        let out = f(&mut inner.state);
        wake(&mut inner.read_waker);
        wake(&mut inner.event_waker);
        for w in inner.drain_wakers.drain(..) {
            w.wake();
        }
        let blocked = inner.blocked > 0;
        drop(inner);
        if blocked {
            self.changed.notify_all();
        }
        out
    }

    /// `(low, high)` read water marks.
    pub fn read_limits(&self) -> (usize, usize) {
        self.lock().state.read_limits()
    }

    /// Sets the read water marks.
    pub fn set_read_limits<T: ZmqTransport>(
        &self,
        transport: &T,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<()> {
        let flow = self.lock().state.set_read_limits(high, low)?;
        self.apply(transport, flow);
        Ok(())
    }

    /// Closed or lost, and every queued message read.
    pub fn at_closing(&self) -> bool {
        self.lock().state.at_closing()
    }

    /// Polls for the next message. Cancel-safe: a message leaves the queue
    /// only in the poll that returns it.
    pub fn poll_read<T: ZmqTransport>(
        &self,
        transport: &T,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<Multipart>> {
        let mut inner = self.lock();
        match inner.state.read() {
            Read::Ready(msg, flow) => {
                drop(inner);
                self.apply(transport, flow);
                Poll::Ready(Ok(msg))
            }
            Read::Closed(e) => Poll::Ready(Err(e)),
            Read::Pending => {
                store(&mut inner.read_waker, cx);
                Poll::Pending
            }
        }
    }

    /// Polls for the next monitor event.
    pub fn poll_read_event(&self, cx: &mut Context<'_>) -> Poll<io::Result<SocketEvent>> {
        let mut inner = self.lock();
        match inner.state.read_event() {
            Read::Ready(ev, _) => Poll::Ready(Ok(ev)),
            Read::Closed(e) => Poll::Ready(Err(e)),
            Read::Pending => {
                store(&mut inner.event_waker, cx);
                Poll::Pending
            }
        }
    }

    /// Polls until writing may go on (`resume_writing`), or the loss's error.
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut inner = self.lock();
        match inner.state.drain() {
            Ok(true) => Poll::Ready(Ok(())),
            Err(e) => Poll::Ready(Err(e)),
            Ok(false) => {
                if !inner.drain_wakers.iter().any(|w| w.will_wake(cx.waker())) {
                    inner.drain_wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Blocks for the next message, up to `timeout`: `ErrorKind::TimedOut` then.
    pub fn read_blocking<T: ZmqTransport>(
        &self,
        transport: &T,
        timeout: Option<Duration>,
    ) -> io::Result<Multipart> {
        let msg = self.block(timeout, |state| match state.read() {
            Read::Ready(msg, flow) => Some(Ok((msg, flow))),
            Read::Closed(e) => Some(Err(e)),
            Read::Pending => None,
        })?;
        let (msg, flow) = msg;
        self.apply(transport, flow);
        Ok(msg)
    }

    /// Blocks for the next monitor event, up to `timeout`.
    pub fn read_event_blocking(&self, timeout: Option<Duration>) -> io::Result<SocketEvent> {
        self.block(timeout, |state| match state.read_event() {
            Read::Ready(ev, _) => Some(Ok(ev)),
            Read::Closed(e) => Some(Err(e)),
            Read::Pending => None,
        })
    }

    /// Blocks until writing may go on, or the loss's error.
    pub fn drain_blocking(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.block(timeout, |state| match state.drain() {
            Ok(true) => Some(Ok(())),
            Err(e) => Some(Err(e)),
            Ok(false) => None,
        })
    }

    fn block<R>(
        &self,
        timeout: Option<Duration>,
        mut attempt: impl FnMut(&mut StreamState) -> Option<io::Result<R>>,
    ) -> io::Result<R> {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut inner = self.lock();
        loop {
            if let Some(out) = attempt(&mut inner.state) {
                return out;
            }
            inner.blocked += 1;
            inner = match deadline {
                None => self.changed.wait(inner).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        inner.blocked -= 1;
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "nothing arrived before the timeout",
                        ));
                    }
                    self.changed
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
            inner.blocked -= 1;
        }
    }
}

/// The protocol behind a stream: everything goes to the [`StreamShared`].
pub struct StreamProtocol<T> {
    shared: Arc<StreamShared>,
    transport: Option<T>,
}

impl<T> StreamProtocol<T> {
    /// A protocol feeding `shared`.
    pub fn new(shared: Arc<StreamShared>) -> Self {
        StreamProtocol {
            shared,
            transport: None,
        }
    }
}

impl<T: ZmqTransport> ZmqProtocol<T> for StreamProtocol<T> {
    fn connection_made(&mut self, transport: T) {
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.shared.update(|s| s.on_connection_lost(exc));
        self.transport = None;
    }

    fn pause_writing(&mut self) {
        self.shared.update(StreamState::on_pause_writing);
    }

    fn resume_writing(&mut self) {
        self.shared.update(StreamState::on_resume_writing);
    }

    fn msg_received(&mut self, msg: Multipart) {
        let flow = self.shared.update(|s| s.on_msg(msg));
        if let Some(t) = &self.transport {
            self.shared.apply(t, flow);
        }
    }

    fn event_received(&mut self, event: SocketEvent) {
        self.shared.update(|s| s.on_event(event));
    }
}

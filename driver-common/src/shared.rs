//! What a transport's handles and its driver share: the core state and the
//! socket behind one lock, the protocol, and the driver's wake-up.

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use aiozmq_core::{
    error, Callback, Deliveries, Io, Multipart, SocketEvent, SocketType, TransportState,
};

use crate::deliver::Deliver;
use crate::sock;

/// How a handle wakes its parked driver (a tokio `Notify`, a smol event, a pipe).
pub trait Wake: Send + Sync + 'static {
    /// Wakes the driver; a wake while it is not waiting must not be lost.
    fn wake(&self);
}

/// Why `run_turn` returned: what the driver must do before its next turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Park {
    /// Wait until a registered FD is readable or the handle wakes the driver.
    Wait,
    /// The budget is spent: yield to the executor, then `begin_turn`.
    Yield,
    /// Sockets are about to close: drop every FD registration, then call
    /// [`Shared::close_pending`] (an FD must be deregistered before libzmq closes it).
    Close,
    /// `connection_lost` was delivered: the driver ends (call [`Shared::finish`]).
    Done,
}

/// The socket-monitor pipe: libzmq's monitor PAIR, read-only, with its own state.
pub(crate) struct Monitor {
    pub(crate) socket: zmq::Socket,
    pub(crate) state: TransportState,
    pub(crate) fd: RawFd,
    pub(crate) warned: bool,
}

/// Everything behind the transport's lock.
pub struct Inner {
    /// The sans-IO state: every decision.
    pub state: TransportState,
    pub(crate) socket: Option<zmq::Socket>,
    pub(crate) scratch: zmq::Message,
    pub(crate) monitor: Option<Monitor>,
    pub(crate) monitor_seq: u64,
    /// Monitor pipes replaced or disabled, closed at the driver's next
    /// [`Park::Close`] (after it dropped their FD registrations).
    pub(crate) retired: Vec<zmq::Socket>,
    pub(crate) close_main: Option<Option<i32>>,
}

/// One transport's shared half. Drivers hold an `Arc` of it.
pub struct Shared {
    inner: Mutex<Inner>,
    waker: Box<dyn Wake>,
    protocol: Mutex<Option<Arc<dyn Deliver>>>,
    pub(crate) handles: AtomicUsize,
    interrupt: AtomicBool,
    flow_owed: AtomicBool,
    id: usize,
    socket_type: SocketType,
    fd: RawFd,
    /// Taken only in `Drop`.
    context: Option<zmq::Context>,
    close_elsewhere: bool,
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Shared {
    pub(crate) fn new(
        state: TransportState,
        socket: zmq::Socket,
        fd: RawFd,
        context: zmq::Context,
        close_elsewhere: bool,
        waker: Box<dyn Wake>,
    ) -> Shared {
        Shared {
            socket_type: state.socket_type(),
            inner: Mutex::new(Inner {
                state,
                socket: Some(socket),
                scratch: zmq::Message::new(),
                monitor: None,
                monitor_seq: 0,
                retired: Vec::new(),
                close_main: None,
            }),
            waker,
            protocol: Mutex::new(None),
            handles: AtomicUsize::new(0),
            interrupt: AtomicBool::new(false),
            flow_owed: AtomicBool::new(false),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            fd,
            context: Some(context),
            close_elsewhere,
        }
    }

    /// A process-unique id, for inproc monitor names and callback tracking.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// The main socket's signalling FD (valid until [`Park::Close`]).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// Locks the state and socket. Poison is ignored: the state is never left
    /// half-updated by a panic, as no user code runs under this lock.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the protocol once `connection_made` has run.
    pub fn set_protocol(&self, protocol: Arc<dyn Deliver>) {
        *self.protocol.lock().unwrap_or_else(|p| p.into_inner()) = Some(protocol);
    }

    /// The protocol, while the transport lives.
    pub fn protocol(&self) -> Option<Arc<dyn Deliver>> {
        self.protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Wakes the driver.
    pub fn wake(&self) {
        self.waker.wake()
    }

    /// The FDs to wait on now: the main socket's (while open) and the
    /// monitor's, with a sequence number that changes when the monitor does.
    pub fn fds(&self) -> (Option<RawFd>, Option<RawFd>, u64) {
        let inner = self.lock();
        (
            inner.socket.as_ref().map(|_| self.fd),
            inner.monitor.as_ref().map(|m| m.fd),
            inner.monitor_seq,
        )
    }

    /// The driver starts a turn after waking: `main`/`monitor` say which FDs signalled.
    pub fn begin_turn(&self, main: bool, monitor: bool) {
        let mut inner = self.lock();
        if main {
            inner.state.handle_fd_readable();
        }
        inner.state.begin_turn();
        if let Some(m) = inner.monitor.as_mut() {
            if monitor {
                m.state.handle_fd_readable();
            }
            m.state.begin_turn();
        }
    }

    /// One turn of the driver: sends, receives, EVENTS reads and callback
    /// deliveries, as the core asks, until it says to park, yield, close or end.
    pub fn run_turn(&self, protocol: &dyn Deliver, batch: &mut Deliveries) -> Park {
        loop {
            let mut guard = self.lock();
            let inner = &mut *guard;
            let monitor = pump_monitor(inner);
            if monitor == Pump::Close {
                retire_monitor(inner);
            }
            if !inner.retired.is_empty() {
                return Park::Close;
            }
            match drive_main(inner) {
                Io::Deliver => {
                    inner.state.take_deliveries(batch);
                    self.interrupt.store(false, Ordering::Relaxed);
                    self.flow_owed.store(false, Ordering::Relaxed);
                    drop(guard);
                    protocol.deliver(self, batch);
                }
                Io::Close { linger } => {
                    inner.close_main = Some(linger);
                    retire_monitor(inner);
                    return Park::Close;
                }
                Io::Wait if monitor == Pump::Busy => return Park::Yield,
                Io::Wait => return Park::Wait,
                Io::Done => return Park::Done,
                _ => return Park::Yield,
            }
        }
    }

    /// Closes what [`Park::Close`] announced; the driver has dropped its FD registrations.
    pub fn close_pending(&self) {
        let mut inner = self.lock();
        let mut doomed = Vec::new();
        if let Some(linger) = inner.close_main.take() {
            if let Some(socket) = inner.socket.take() {
                if let Some(ms) = linger {
                    let _ = socket.set_linger(ms);
                }
                doomed.push(socket);
            }
        }
        // Monitor pipes close after the main socket: libzmq sends its last
        // events with a blocking send, which would hang without a reader.
        doomed.append(&mut inner.retired);
        drop(inner);
        self.drop_sockets(doomed);
    }

    /// Closing a socket of the user's context may be the last reference to it,
    /// and `zmq_ctx_term` blocks: never on an async worker, so such sockets
    /// are dropped on a short-lived thread.
    fn drop_sockets(&self, sockets: Vec<zmq::Socket>) {
        if sockets.is_empty() {
            return;
        }
        if self.close_elsewhere {
            let spawned = std::thread::Builder::new()
                .name("aiozmq-close".into())
                .spawn(move || drop(sockets));
            if let Err(e) = spawned {
                tracing::warn!("cannot spawn a closer thread ({e}); closing in place");
            }
        } else {
            drop(sockets);
        }
    }

    /// The context the transport's socket lives in.
    pub(crate) fn context(&self) -> io::Result<&zmq::Context> {
        self.context
            .as_ref()
            .ok_or_else(|| error::not_connected("the transport is gone"))
    }

    /// The driver ends: forget the protocol (breaking the cycle through the
    /// protocol's own transport handle).
    pub fn finish(&self) {
        self.protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    pub(crate) fn delivery_interrupted(&self) -> bool {
        self.interrupt.load(Ordering::Acquire)
    }

    pub(crate) fn interrupt_delivery(&self) {
        self.interrupt.store(true, Ordering::Release);
    }

    pub(crate) fn note_flow_owed(&self) {
        self.flow_owed.store(true, Ordering::Release);
    }

    /// Moves flow callbacks owed by a `write()` inside the running callback to
    /// the front of the batch.
    pub(crate) fn take_owed_flow(&self, batch: &mut VecDeque<Callback>) {
        // A plain load first: this runs after every callback, the swap rarely.
        if self.flow_owed.load(Ordering::Acquire) && self.flow_owed.swap(false, Ordering::AcqRel) {
            let mut owed = VecDeque::new();
            self.lock().state.take_flow_callbacks(&mut owed);
            while let Some(cb) = owed.pop_back() {
                batch.push_front(cb);
            }
        }
    }

    pub(crate) fn return_undelivered(&self, msgs: impl DoubleEndedIterator<Item = Multipart>) {
        self.lock().state.return_undelivered(msgs);
    }

    pub(crate) fn callback_panicked(&self, panic: Box<dyn Any + Send>) {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        tracing::error!(transport = self.id, "protocol callback panicked: {what}");
        let mut inner = self.lock();
        inner.state.fail(io::Error::other(format!(
            "a protocol callback panicked: {what}"
        )));
    }
}

/// Stops libzmq's monitor and moves the pipe, if any, to the sockets the
/// driver will close. libzmq sends monitor events with a blocking send, in
/// its I/O thread: closing the pipe while it still monitors would hang the
/// whole context, so the monitor always stops first.
pub(crate) fn retire_monitor(inner: &mut Inner) {
    if let Some(m) = inner.monitor.take() {
        if let Some(socket) = inner.socket.as_mut() {
            if let Err(e) = sock::stop_monitor(socket) {
                tracing::warn!("stopping the socket monitor failed: {e}");
            }
            inner.state.handle_zmq_call();
        }
        let _ = m.socket.set_linger(0);
        inner.retired.push(m.socket);
        inner.monitor_seq += 1;
    }
}

/// What the monitor pipe did this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pump {
    Idle,
    Busy,
    Close,
}

/// Receives every monitor event that is ready and queues it on the main state.
fn pump_monitor(inner: &mut Inner) -> Pump {
    let Some(mon) = inner.monitor.as_mut() else {
        return Pump::Idle;
    };
    loop {
        match mon.state.poll_io() {
            Io::Recv => {
                let r = sock::recv(&mon.socket, &mut inner.scratch);
                mon.state.handle_recv(r);
            }
            Io::ReadEvents => match sock::events(&mon.socket) {
                Ok((pollin, pollout)) => mon.state.handle_events(pollin, pollout),
                Err(errno) => mon.state.fail(error::from_errno(errno)),
            },
            Io::Deliver => {
                let mut frames = VecDeque::new();
                mon.state.take_callbacks(&mut frames);
                for cb in frames {
                    if let Callback::MsgReceived(msg) = cb {
                        match SocketEvent::decode(&msg) {
                            Ok(ev) => inner.state.handle_monitor_event(ev),
                            Err(e) if !mon.warned => {
                                mon.warned = true;
                                tracing::error!("socket monitor: {e}; skipping such events");
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            Io::Yield => return Pump::Busy,
            Io::Close { .. } => return Pump::Close,
            Io::Send | Io::Wait | Io::Done => return Pump::Idle,
        }
    }
}

/// Performs the main socket's sends, receives and EVENTS reads until the core
/// answers something that is not I/O.
fn drive_main(inner: &mut Inner) -> Io {
    loop {
        let io = inner.state.poll_io();
        let Some(socket) = inner.socket.as_ref() else {
            return io;
        };
        match io {
            Io::Send => {
                let result = match inner.state.front() {
                    Some(msg) => sock::send(socket, msg),
                    None => continue,
                };
                inner.state.handle_send(result);
            }
            Io::Recv => {
                let result = sock::recv(socket, &mut inner.scratch);
                inner.state.handle_recv(result);
            }
            Io::ReadEvents => match sock::events(socket) {
                Ok((pollin, pollout)) => inner.state.handle_events(pollin, pollout),
                Err(errno) => inner.state.fail(error::from_errno(errno)),
            },
            other => return other,
        }
    }
}

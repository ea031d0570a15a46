//! What a transport's handles and its driver share: the core state and the
//! sockets behind one lock, the protocol, the wake-ups, and the one place
//! that carries out the core's outputs.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::Waker;
use std::time::Instant;

use aiozmq_core::exec::{self, Stop};
use aiozmq_core::{
    error, Budget, Deliveries, MonitorId, Park, Sock, SocketType, TransportState, Waiter, Wake,
};

use crate::context::Ctx;
use crate::sock;

/// A protocol the driver can deliver to, with its type erased so the
/// transport's shared half need not be generic.
pub trait Deliver: Send + Sync {
    /// Delivers a batch the driver claimed, with the protocol locked.
    fn deliver(&self, shared: &Shared, batch: &mut Deliveries);

    /// Delivers the flow callbacks a caller's input made owed, if the
    /// protocol's lock is free; `false` when it is held elsewhere.
    fn try_deliver_flow(&self, shared: &Shared) -> bool;
}

/// How a handle wakes its parked driver (a task's signal, a pipe).
pub trait Wakeup: Send + Sync + 'static {
    /// Wakes the driver; a wake while it is not waiting must not be lost.
    fn wake(&self);
}

/// Why [`Shared::run_turn`] returned: what the driver does before its next turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// Wait as the core said: on these FDs, the wake-up and the deadline.
    Wait(Park),
    /// The budget is spent: let others run, then [`Shared::begin_turn`].
    Yield,
    /// Drop any registration of this socket's FD, then [`Shared::close_socket`].
    Close(Sock, i32),
    /// The transport is finished; call [`Shared::finish`] and end.
    Done,
}

/// What woke a parked driver.
#[derive(Debug, Default, Clone, Copy)]
pub struct Woke {
    /// The main socket's FD signalled.
    pub main: bool,
    /// This monitor pipe's FD signalled.
    pub monitor: Option<MonitorId>,
    /// The park's deadline passed.
    pub timer: bool,
}

/// Stream waiters: async wakers and threads blocked on the condvar.
#[derive(Default)]
pub(crate) struct Waiters {
    pub(crate) read: Option<Waker>,
    pub(crate) events: Option<Waker>,
    pub(crate) drain: Vec<Waker>,
    /// Threads blocked on [`Shared::changed`]: notifying costs a syscall.
    pub(crate) blocked: usize,
}

/// Everything behind the transport's lock.
pub struct Inner {
    /// The sans-IO state: every decision.
    pub state: TransportState,
    pub(crate) socket: Option<zmq::Socket>,
    pub(crate) pipes: Vec<(MonitorId, zmq::Socket, RawFd)>,
    pub(crate) recv_buf: sock::RecvBuf,
    pub(crate) waiters: Waiters,
    warned_malformed: bool,
    /// Sockets of the user's context close on another thread (its last
    /// socket may terminate the context, and that blocks).
    close_elsewhere: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// What a caller must do once the lock is released.
#[derive(Debug, Default, Clone, Copy)]
#[must_use]
pub(crate) struct Pending {
    driver: bool,
    flow: bool,
}

impl Inner {
    /// Acts on a wake-up that is done under the lock (stream waiters, the
    /// deliverer's attention); returns what must wait for the lock's release.
    fn wake(&mut self, wake: Wake, shared: &Shared, pending: &mut Pending) {
        match wake {
            Wake::Driver => pending.driver = true,
            Wake::FlowOwed => pending.flow = true,
            Wake::Waiter(w) => self.wake_waiter(w, shared),
        }
    }

    /// Wakes a waiter the core named (the driver's outputs name only these).
    fn wake_waiter(&mut self, waiter: Waiter, shared: &Shared) {
        let notify = |inner: &mut Inner| {
            if inner.waiters.blocked > 0 {
                shared.changed.notify_all();
            }
        };
        match waiter {
            Waiter::Deliverer => shared.attention.store(true, Ordering::Release),
            Waiter::Reader => {
                if let Some(w) = self.waiters.read.take() {
                    w.wake();
                }
                notify(self);
            }
            Waiter::Events => {
                if let Some(w) = self.waiters.events.take() {
                    w.wake();
                }
                notify(self);
            }
            Waiter::Drain => {
                for w in self.waiters.drain.drain(..) {
                    w.wake();
                }
                notify(self);
            }
        }
    }

    /// The state, and the sockets as the core's executor sees them.
    pub(crate) fn split(&mut self) -> (&mut TransportState, ZmqSockets<'_>) {
        let Inner {
            state,
            socket,
            pipes,
            recv_buf,
            close_elsewhere,
            ..
        } = self;
        (
            state,
            ZmqSockets {
                main: socket,
                pipes,
                recv_buf,
                close_elsewhere: *close_elsewhere,
            },
        )
    }

    /// Closes one socket as the core said; the driver already dropped its
    /// FD registration.
    fn close(&mut self, sock: Sock, linger: i32) {
        let (state, mut sockets) = self.split();
        exec::close(state, &mut sockets, sock, linger);
    }

    /// Closes whatever is still open, in the core's order, with nobody to
    /// deliver to: the driver is gone or never started.
    fn close_all(&mut self, shared: Option<&Shared>) {
        if self.socket.is_none() && self.pipes.is_empty() {
            return;
        }
        let mut wakes = Vec::new();
        let (state, mut sockets) = self.split();
        exec::close_all(state, &mut sockets, Instant::now(), |w| wakes.push(w));
        if let Some(shared) = shared {
            for w in wakes {
                self.wake_waiter(w, shared);
            }
        }
    }
}

/// A transport's libzmq sockets, for the core's executor ([`exec`]). The
/// core names only sockets it has not closed; were one gone, libzmq's own
/// answer for a closed socket (`ENOTSOCK`) is what the core hears.
pub(crate) struct ZmqSockets<'a> {
    main: &'a mut Option<zmq::Socket>,
    pipes: &'a mut Vec<(MonitorId, zmq::Socket, RawFd)>,
    recv_buf: &'a mut sock::RecvBuf,
    close_elsewhere: bool,
}

const ENOTSOCK: i32 = zmq::Error::ENOTSOCK as i32;

impl ZmqSockets<'_> {
    fn pick(&self, sock: Sock) -> Option<&zmq::Socket> {
        match sock {
            Sock::Main => self.main.as_ref(),
            Sock::Monitor(id) => self.pipes.iter().find(|p| p.0 == id).map(|p| &p.1),
        }
    }
}

impl exec::Sockets for ZmqSockets<'_> {
    fn send(&mut self, msg: &aiozmq_core::Multipart) -> aiozmq_core::SendResult {
        match self.main.as_mut() {
            Some(s) => sock::send(s, msg),
            None => aiozmq_core::SendResult::Refused(ENOTSOCK),
        }
    }

    fn recv(&mut self, sock: Sock, into: &mut aiozmq_core::Multipart) -> Result<(), i32> {
        let Some(socket) = (match sock {
            Sock::Main => self.main.as_ref(),
            Sock::Monitor(id) => self.pipes.iter().find(|p| p.0 == id).map(|p| &p.1),
        }) else {
            return Err(ENOTSOCK);
        };
        sock::recv(socket, self.recv_buf, into)
    }

    fn events(&mut self, sock: Sock) -> Result<(bool, bool), i32> {
        self.pick(sock).map_or(Err(ENOTSOCK), sock::events)
    }

    fn stop_monitor(&mut self) -> bool {
        match self.main.as_mut() {
            Some(s) => sock::stop_monitor(s)
                .inspect_err(|e| tracing::warn!("stopping the monitor: {e}"))
                .is_ok(),
            // No socket, no monitor.
            None => true,
        }
    }

    fn close(&mut self, sock: Sock, linger: i32) {
        let socket = match sock {
            Sock::Main => self.main.take(),
            Sock::Monitor(id) => self
                .pipes
                .iter()
                .position(|p| p.0 == id)
                .map(|at| self.pipes.remove(at).1),
        };
        if let Some(socket) = socket {
            let _ = socket.set_linger(linger);
            drop_socket(socket, self.close_elsewhere);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last safety net: whatever path dropped the transport, its
        // sockets close in an order that cannot hang libzmq.
        self.close_all(None);
    }
}

/// Closing a socket of the user's context may be the last reference to it,
/// and `zmq_ctx_term` blocks: never on an async worker.
fn drop_socket(socket: zmq::Socket, elsewhere: bool) {
    if !elsewhere {
        return drop(socket);
    }
    let spawned = std::thread::Builder::new()
        .name("aiozmq-close".into())
        .spawn(move || drop(socket));
    if let Err(e) = spawned {
        tracing::warn!("cannot spawn a closer thread ({e}); closing in place");
    }
}

/// One transport's shared half. Handles and the driver hold an `Arc` of it.
pub struct Shared {
    inner: Mutex<Inner>,
    /// Blocked stream readers, event readers and drainers wait here.
    pub(crate) changed: Condvar,
    wakeup: Box<dyn Wakeup>,
    /// The deliverer must review its batch before its next callback.
    pub(crate) attention: AtomicBool,
    protocol: Mutex<Option<Arc<dyn Deliver>>>,
    pub(crate) handles: AtomicUsize,
    id: usize,
    socket_type: SocketType,
    fd: RawFd,
    context: Option<Ctx>,
    close_elsewhere: bool,
    /// The user made the socket (`.zmq_sock`): its context may not be ours.
    premade_socket: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("id", &self.id)
            .field("socket_type", &self.socket_type)
            .field("handles", &self.handles)
            .finish_non_exhaustive()
    }
}

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

impl Shared {
    pub(crate) fn new(
        state: TransportState,
        socket: zmq::Socket,
        fd: RawFd,
        context: Ctx,
        close_elsewhere: bool,
        premade_socket: bool,
        wakeup: Box<dyn Wakeup>,
    ) -> Shared {
        Shared {
            socket_type: state.socket_type(),
            inner: Mutex::new(Inner {
                state,
                socket: Some(socket),
                pipes: Vec::new(),
                recv_buf: sock::RecvBuf::default(),
                waiters: Waiters::default(),
                warned_malformed: false,
                close_elsewhere,
            }),
            changed: Condvar::new(),
            wakeup,
            attention: AtomicBool::new(false),
            protocol: Mutex::new(None),
            handles: AtomicUsize::new(0),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            fd,
            context: Some(context),
            close_elsewhere,
            premade_socket,
        }
    }

    /// A process-unique id, for inproc monitor names and logs.
    pub fn id(&self) -> usize {
        self.id
    }

    /// The socket type.
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// Whether the user made the socket (see [`sock::in_context`]).
    pub(crate) fn premade_socket(&self) -> bool {
        self.premade_socket
    }

    /// The main socket's signalling FD (valid until the core closes it).
    pub fn fd(&self) -> RawFd {
        self.fd
    }

    /// A monitor pipe's signalling FD, while the pipe is open.
    pub fn pipe_fd(&self, id: MonitorId) -> Option<RawFd> {
        self.lock().pipes.iter().find(|p| p.0 == id).map(|p| p.2)
    }

    /// Locks the state and sockets. Poison is ignored: no user code runs
    /// under this lock, so the state is never left half-updated.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn context(&self) -> io::Result<&Ctx> {
        self.context
            .as_ref()
            .ok_or_else(|| error::not_connected("the transport is gone"))
    }

    /// Installs the protocol (before `connection_made`).
    pub fn set_protocol(&self, protocol: Arc<dyn Deliver>) {
        *self.protocol.lock().unwrap_or_else(|p| p.into_inner()) = Some(protocol);
    }

    /// The protocol, while the driver runs.
    pub(crate) fn protocol(&self) -> Option<Arc<dyn Deliver>> {
        self.protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Drains the wake-ups a caller's input made owed, acting on those that
    /// are done under the lock.
    pub(crate) fn poll_wakes(&self, inner: &mut Inner) -> Pending {
        let mut pending = Pending::default();
        while let Some(w) = inner.state.poll_wake() {
            inner.wake(w, self, &mut pending);
        }
        pending
    }

    /// Acts on the rest once the lock is released: wakes the driver, or
    /// delivers the flow callbacks the caller's write made owed (so
    /// `pause_writing` reaches the protocol before `write()` returns).
    pub(crate) fn settle(&self, mut pending: Pending) {
        while pending.flow {
            let delivered = self.protocol().is_some_and(|p| p.try_deliver_flow(self));
            let mut inner = self.lock();
            if !delivered {
                inner.state.delivery().flow_refused();
            }
            let more = self.poll_wakes(&mut inner);
            drop(inner);
            pending.driver |= more.driver;
            pending.flow = more.flow;
        }
        if pending.driver {
            self.wakeup.wake();
        }
    }

    /// The driver starts a turn after waking (or at its start), with its
    /// budget of libzmq calls before it must yield.
    pub fn begin_turn(&self, woke: Woke, budget: Budget) {
        let now = Instant::now();
        let mut inner = self.lock();
        if woke.main {
            inner.state.handle_fd_readable(Sock::Main);
        }
        if let Some(id) = woke.monitor {
            inner.state.handle_fd_readable(Sock::Monitor(id));
        }
        if woke.timer {
            inner.state.handle_timeout(now);
        }
        inner.state.begin_turn(now, budget);
    }

    /// The driver could not wait (see [`TransportState::handle_wait_failed`]).
    pub fn wait_failed(&self, err: io::Error) {
        tracing::error!(transport = self.id, "waiting failed: {err}");
        self.with(|inner| inner.state.handle_wait_failed(err));
    }

    /// The driver registered this socket's FD.
    pub fn registered(&self, sock: Sock) {
        self.lock().state.handle_registered(sock);
    }

    /// One turn of the driver: carries out the core's outputs — sends,
    /// receives, EVENTS readings, wake-ups, deliveries — until it says to
    /// park, yield, close a socket or end.
    pub fn run_turn(&self, protocol: Option<&dyn Deliver>, batch: &mut Deliveries) -> Turn {
        let mut guard = self.lock();
        loop {
            let inner = &mut *guard;
            let stop = {
                let (state, mut sockets) = inner.split();
                exec::turn(state, &mut sockets)
            };
            self.warn_malformed(inner);
            match stop {
                Stop::Wake(w) => inner.wake_waiter(w, self),
                Stop::Deliver => {
                    inner.state.delivery().take(batch);
                    drop(guard);
                    match protocol {
                        Some(p) => p.deliver(self, batch),
                        None => {
                            let mut inner = self.lock();
                            while inner.state.delivery().finish(batch) {}
                        }
                    }
                    guard = self.lock();
                }
                Stop::Close { sock, linger } => return Turn::Close(sock, linger),
                Stop::Yield => return Turn::Yield,
                Stop::Wait(park) => return Turn::Wait(park),
                Stop::Done => return Turn::Done,
            }
        }
    }

    fn warn_malformed(&self, inner: &mut Inner) {
        if !inner.warned_malformed && inner.state.malformed_events() > 0 {
            inner.warned_malformed = true;
            tracing::error!(
                transport = self.id,
                "socket monitor: a malformed event was skipped (and will be again)"
            );
        }
    }

    /// Closes a socket the core asked to close, after the driver dropped its
    /// FD registration.
    pub fn close_socket(&self, sock: Sock, linger: i32) {
        self.lock().close(sock, linger);
    }

    /// The driver is gone before the transport finished (its runtime was
    /// dropped, its task cancelled): close every socket now in a safe order,
    /// wake stream waiters, and break the protocol↔transport cycle.
    pub fn teardown(&self) {
        self.lock().close_all(Some(self));
        self.finish();
    }

    /// The driver ends: forget the protocol, breaking the cycle through the
    /// protocol's own transport handle.
    pub fn finish(&self) {
        let protocol = self
            .protocol
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(protocol);
    }

    /// Wakes the driver.
    pub fn wake_driver(&self) {
        self.wakeup.wake();
    }

    pub(crate) fn batch_review(&self, batch: &mut Deliveries) {
        self.lock().state.delivery().review(batch);
    }

    /// Ends a delivery; `true` when more flow callbacks came into `batch`.
    pub(crate) fn batch_finish(&self, batch: &mut Deliveries) -> bool {
        self.lock().state.delivery().finish(batch)
    }

    /// After a callback panicked: the transport fails, the batch is dropped.
    pub(crate) fn callback_panicked(&self, what: String, batch: &mut Deliveries) {
        tracing::error!(transport = self.id, "protocol callback panicked: {what}");
        let mut inner = self.lock();
        inner.state.delivery().panicked(&what, batch);
        let mut pending = self.poll_wakes(&mut inner);
        if pending.flow {
            // This thread delivers nothing more: the driver takes the flows.
            inner.state.delivery().flow_refused();
            pending = self.poll_wakes(&mut inner);
        }
        drop(inner);
        if pending.driver || pending.flow {
            self.wakeup.wake();
        }
    }

    /// Runs `f` under the lock, then drains the outputs the core owes the caller.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        let mut inner = self.lock();
        let out = f(&mut inner);
        let pending = self.poll_wakes(&mut inner);
        drop(inner);
        self.settle(pending);
        out
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // A user's context may terminate here: not on an async worker.
        if let Some(Ctx::User(context)) = self.context.take() {
            if self.close_elsewhere {
                let _ = std::thread::Builder::new()
                    .name("aiozmq-close".into())
                    .spawn(move || drop(context));
            }
        }
    }
}

//! Delivering callbacks to the user's protocol: in order, never re-entered,
//! never while the transport's own lock is held.

use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use aiozmq_core::{Callback, Deliveries, ZmqProtocol, ZmqTransport};

use crate::shared::Shared;

thread_local! {
    /// The id of the transport whose callback runs on this thread (0: none).
    static CURRENT: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread is inside a callback of the transport `id`: then a
/// `write()` defers its `pause_writing` to right after the callback returns.
pub fn in_callback(id: usize) -> bool {
    CURRENT.with(|c| c.get() == id)
}

/// Marks this thread as inside a callback of one transport, until dropped
/// (also on unwind).
struct InCallback(usize);

impl InCallback {
    fn enter(id: usize) -> InCallback {
        InCallback(CURRENT.with(|c| c.replace(id)))
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// A protocol the driver can deliver to, with its type erased so the
/// transport handle need not be generic.
pub trait Deliver: Send + Sync {
    /// Delivers `batch` (callbacks, then messages) with the protocol locked.
    fn deliver(&self, shared: &Shared, batch: &mut Deliveries);

    /// Delivers the flow callbacks the core owes, if the protocol's lock is
    /// free; `false` when it is held elsewhere (its holder delivers them).
    fn try_deliver_flow(&self, shared: &Shared) -> bool;
}

/// The user's protocol behind the `Arc<Mutex<P>>` that `open()` returns.
pub struct ProtocolCell<P, T> {
    protocol: Arc<Mutex<P>>,
    _transport: PhantomData<fn(T)>,
}

impl<P, T> ProtocolCell<P, T> {
    /// Wraps the protocol shared with the user.
    pub fn new(protocol: Arc<Mutex<P>>) -> Self {
        ProtocolCell {
            protocol,
            _transport: PhantomData,
        }
    }
}

/// Locks a protocol mutex, ignoring poison: a callback that panicked already
/// ended its transport with an error; the protocol itself stays usable.
pub fn lock<P>(m: &Mutex<P>) -> MutexGuard<'_, P> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<P, T> Deliver for ProtocolCell<P, T>
where
    P: ZmqProtocol<T>,
    T: ZmqTransport,
{
    fn deliver(&self, shared: &Shared, batch: &mut Deliveries) {
        run(shared, lock(&self.protocol), batch);
    }

    fn try_deliver_flow(&self, shared: &Shared) -> bool {
        let guard = match self.protocol.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        let mut batch = Deliveries::default();
        shared
            .lock()
            .state
            .take_flow_callbacks(&mut batch.callbacks);
        run(shared, guard, &mut batch);
        true
    }
}

/// Runs `batch` on the locked protocol, in order: callbacks, then messages.
/// A `pause_writing` owed by a write inside a callback runs right after it.
/// Messages left when `pause_reading`/`close` interrupts delivery go back to
/// the core.
fn run<P, T>(shared: &Shared, mut guard: MutexGuard<'_, P>, batch: &mut Deliveries)
where
    P: ZmqProtocol<T>,
    T: ZmqTransport,
{
    let id = shared.id();
    let _inside = InCallback::enter(id);
    let outcome = catch_unwind(AssertUnwindSafe(|| loop {
        while let Some(cb) = batch.callbacks.pop_front() {
            match cb {
                Callback::MsgReceived(msg) => guard.msg_received(msg),
                Callback::PauseWriting => {
                    tracing::debug!(transport = id, "pause_writing");
                    guard.pause_writing()
                }
                Callback::ResumeWriting => {
                    tracing::debug!(transport = id, "resume_writing");
                    guard.resume_writing()
                }
                Callback::EventReceived(ev) => guard.event_received(ev),
                Callback::ConnectionLost(exc) => {
                    match &exc {
                        None => tracing::debug!(transport = id, "connection_lost"),
                        Some(e) => tracing::warn!(transport = id, "connection_lost: {e}"),
                    }
                    guard.connection_lost(exc)
                }
            }
            shared.take_owed_flow(&mut batch.callbacks);
        }
        let Some(msg) = batch.msgs.pop_front() else {
            break;
        };
        if shared.delivery_interrupted() {
            batch.msgs.push_front(msg);
            shared.return_undelivered(batch.msgs.drain(..));
            break;
        }
        guard.msg_received(msg);
        shared.take_owed_flow(&mut batch.callbacks);
    }));
    drop(guard);
    if let Err(panic) = outcome {
        batch.callbacks.clear();
        batch.msgs.clear();
        shared.callback_panicked(panic);
    }
}

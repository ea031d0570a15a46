//! Delivering callbacks to the user's protocol: in order, never re-entered,
//! never while the transport's own lock is held.

use std::cell::Cell;
use std::collections::VecDeque;
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use aiozmq_core::{Callback, Multipart, ZmqProtocol, ZmqTransport};

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
    /// Delivers `batch` front to back with the protocol locked.
    fn deliver(&self, shared: &Shared, batch: &mut VecDeque<Callback>);

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
    fn deliver(&self, shared: &Shared, batch: &mut VecDeque<Callback>) {
        run(shared, lock(&self.protocol), batch);
    }

    fn try_deliver_flow(&self, shared: &Shared) -> bool {
        let guard = match self.protocol.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        let mut batch = VecDeque::new();
        shared.lock().state.take_flow_callbacks(&mut batch);
        run(shared, guard, &mut batch);
        true
    }
}

/// Runs the callbacks of `batch` on the locked protocol, in order. Messages
/// arriving after `pause_reading`/`close` interrupted delivery go back to the core.
fn run<P, T>(shared: &Shared, mut guard: MutexGuard<'_, P>, batch: &mut VecDeque<Callback>)
where
    P: ZmqProtocol<T>,
    T: ZmqTransport,
{
    {
        let _inside = InCallback::enter(shared.id());
        let mut undelivered: Vec<Multipart> = Vec::new();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            while let Some(cb) = batch.pop_front() {
                match cb {
                    Callback::MsgReceived(msg) if shared.delivery_interrupted() => {
                        undelivered.push(msg)
                    }
                    Callback::MsgReceived(msg) => guard.msg_received(msg),
                    Callback::PauseWriting => {
                        tracing::debug!(transport = shared.id(), "pause_writing");
                        guard.pause_writing()
                    }
                    Callback::ResumeWriting => {
                        tracing::debug!(transport = shared.id(), "resume_writing");
                        guard.resume_writing()
                    }
                    Callback::EventReceived(ev) => guard.event_received(ev),
                    Callback::ConnectionLost(exc) => {
                        match &exc {
                            None => tracing::debug!(transport = shared.id(), "connection_lost"),
                            Some(e) => {
                                tracing::warn!(transport = shared.id(), "connection_lost: {e}")
                            }
                        }
                        guard.connection_lost(exc)
                    }
                }
                // A write inside that callback owes pause_writing right now.
                shared.take_owed_flow(batch);
            }
        }));
        drop(guard);
        if let Err(panic) = outcome {
            batch.clear();
            shared.callback_panicked(panic);
        }
        if !undelivered.is_empty() {
            shared.return_undelivered(undelivered);
        }
    }
}

//! Delivering callbacks to the user's protocol: in the order the core hands
//! them out, never re-entered, never while the transport's lock is held.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use aiozmq_core::exec::{next_callback, DeliveryState};
use aiozmq_core::{Callback, Deliveries, ZmqProtocol, ZmqTransport};

use crate::shared::{Deliver, Shared};

/// The user's protocol behind the `Arc<Mutex<P>>` that `open()` returns.
pub struct ProtocolCell<P, T> {
    protocol: Arc<Mutex<P>>,
    /// Set when `connection_made` panicked: the protocol gets no callback.
    abandoned: AtomicBool,
    _transport: PhantomData<fn(T)>,
}

impl<P, T> std::fmt::Debug for ProtocolCell<P, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProtocolCell")
            .field("abandoned", &self.abandoned)
            .finish_non_exhaustive()
    }
}

impl<P, T> ProtocolCell<P, T> {
    /// Wraps the protocol shared with the user.
    pub fn new(protocol: Arc<Mutex<P>>) -> Self {
        ProtocolCell {
            protocol,
            abandoned: AtomicBool::new(false),
            _transport: PhantomData,
        }
    }

    /// From now on, deliveries end without calling the protocol.
    pub fn abandon(&self) {
        self.abandoned.store(true, Ordering::Release);
    }

    fn is_abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Acquire)
    }
}

/// Ends a batch without delivering it.
fn discard(shared: &Shared, batch: &mut Deliveries) {
    batch.clear();
    while shared.batch_finish(batch) {
        batch.clear();
    }
}

/// A panic payload as text.
pub(crate) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
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
        let guard = lock(&self.protocol);
        // Checked under the protocol's lock: `open()` abandons it while
        // holding that lock, so no delivery slips in after the panic.
        if self.is_abandoned() {
            drop(guard);
            return discard(shared, batch);
        }
        run(shared, guard, batch);
    }

    fn try_deliver_flow(&self, shared: &Shared) -> bool {
        let guard = match self.protocol.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return false,
        };
        if self.is_abandoned() {
            drop(guard);
            let mut batch = Deliveries::new();
            if shared.lock().state.delivery().begin_flow(&mut batch) {
                discard(shared, &mut batch);
            }
            return true;
        }
        let mut batch = Deliveries::new();
        let claimed = shared.lock().state.delivery().begin_flow(&mut batch);
        if claimed {
            run(shared, guard, &mut batch);
        }
        true
    }
}

/// The state between callbacks, through the transport's lock.
struct Locked<'a>(&'a Shared);

impl DeliveryState for Locked<'_> {
    fn review(&mut self, batch: &mut Deliveries) {
        self.0.batch_review(batch)
    }

    fn finish(&mut self, batch: &mut Deliveries) -> bool {
        self.0.batch_finish(batch)
    }
}

/// Runs a claimed batch on the locked protocol, in the order the core's
/// delivery step ([`next_callback`]) hands the callbacks out.
fn run<P, T>(shared: &Shared, mut guard: MutexGuard<'_, P>, batch: &mut Deliveries)
where
    P: ZmqProtocol<T>,
    T: ZmqTransport,
{
    let id = shared.id();
    // A plain load first: this runs before every callback, the swap rarely.
    let attention = || {
        shared.attention.load(Ordering::Acquire) && shared.attention.swap(false, Ordering::AcqRel)
    };
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        while let Some(cb) = next_callback(batch, attention, &mut Locked(shared)) {
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
        }
    }));
    drop(guard);
    if let Err(panic) = outcome {
        shared.callback_panicked(panic_text(&*panic), batch);
    }
}

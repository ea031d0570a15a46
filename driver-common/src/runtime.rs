//! What the generic transport, builders and stream need from a driver crate,
//! and the two flavours their methods come in: `Async<R>` (methods are
//! `async`) and `Blocking<R>` (methods block the calling thread).

use std::io;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::shared::{Deliver, Shared, Wakeup};

/// How a driver crate runs transports.
pub trait Runtime: Send + Sync + 'static {
    /// The driver's end of its wake-up (the handles hold the other end).
    type Parker: Send + 'static;

    /// Checks that `open()` may run here (e.g. inside a runtime), so misuse
    /// is an error before anything is created, not a panic.
    fn check() -> io::Result<()>;

    /// A new wake-up: the handles' end and the driver's.
    fn parker() -> io::Result<(Box<dyn Wakeup>, Self::Parker)>;

    /// Starts the transport's driver. On an error nothing runs.
    fn start(
        shared: Arc<Shared>,
        protocol: Option<Arc<dyn Deliver>>,
        parker: Self::Parker,
    ) -> io::Result<()>;
}

/// The flavour whose `open`, `read`, `drain` and monitor methods are `async`,
/// for an [`AsyncRuntime`](crate::asynch::AsyncRuntime) `R`.
pub struct Async<R>(PhantomData<fn() -> R>);

impl<R> std::fmt::Debug for Async<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Async").finish_non_exhaustive()
    }
}

/// The flavour whose `open`, `read`, `drain` and monitor methods block the
/// calling thread, for a thread-based [`Runtime`] `R`.
pub struct Blocking<R>(PhantomData<fn() -> R>);

impl<R> std::fmt::Debug for Blocking<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Blocking").finish_non_exhaustive()
    }
}

impl<R: Runtime> Runtime for Blocking<R> {
    type Parker = R::Parker;

    fn check() -> io::Result<()> {
        R::check()
    }

    fn parker() -> io::Result<(Box<dyn Wakeup>, Self::Parker)> {
        R::parker()
    }

    fn start(
        shared: Arc<Shared>,
        protocol: Option<Arc<dyn Deliver>>,
        parker: Self::Parker,
    ) -> io::Result<()> {
        R::start(shared, protocol, parker)
    }
}

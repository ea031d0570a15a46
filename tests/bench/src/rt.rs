//! The runtimes a case runs on, behind one small trait, so that each
//! workload's body is written once.
//!
//! [`Threads`] runs every spawned future on a thread of its own with a
//! parking `block_on`: the raw libzmq and blocking-driver adapters return
//! futures that are ready at once (their calls block), so a body over
//! `Threads` is the plain blocking program it reads like, and waits for
//! signals park the thread instead of spinning.

use std::future::Future;
use std::pin::{pin, Pin};
use std::time::Duration;

use futures_util::future::{select, Either};

/// A spawned task; awaiting it gives its output (a panic in it is resumed).
pub type Task<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A runtime: spawn, sleep, and run a case to completion.
pub trait Rt: Clone + Send + Sync + 'static {
    /// Runs `f` concurrently with the caller.
    fn spawn<F>(&self, f: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;

    /// Sleeps (without blocking the runtime).
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send;

    /// Runs a whole case on this runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output;
}

/// `f`, or `None` when `d` passes first.
pub async fn timeout<R: Rt, F: Future>(rt: &R, d: Duration, f: F) -> Option<F::Output> {
    let f = pin!(f);
    let s = pin!(rt.sleep(d));
    match select(f, s).await {
        Either::Left((v, _)) => Some(v),
        Either::Right(_) => None,
    }
}

/// tokio, multi-thread (as many workers as CPUs) or current-thread.
#[derive(Clone, Copy)]
pub struct Tokio {
    /// The multi-thread runtime.
    pub multi_thread: bool,
}

impl Rt for Tokio {
    fn spawn<F>(&self, f: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let h = tokio::spawn(f);
        Box::pin(async move {
            match h.await {
                Ok(v) => v,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            }
        })
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send {
        tokio::time::sleep(d)
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        let rt = if self.multi_thread {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
        } else {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
        }
        .expect("tokio runtime");
        let out = rt.block_on(f);
        // The case's process ends right after; do not wait for its tasks.
        std::mem::forget(rt);
        out
    }
}

/// smol: the case runs in `smol::block_on` on the main thread; its tasks (and
/// the smol driver's transports) on smol's global executor.
#[derive(Clone, Copy)]
pub struct Smol;

impl Rt for Smol {
    fn spawn<F>(&self, f: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Box::pin(smol::spawn(f))
    }

    async fn sleep(&self, d: Duration) {
        async_io::Timer::after(d).await;
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        smol::block_on(f)
    }
}

/// Plain threads: every task is a thread running a parking `block_on`.
#[derive(Clone, Copy)]
pub struct Threads;

impl Rt for Threads {
    fn spawn<F>(&self, f: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = tx.send(async_io::block_on(f));
        });
        Box::pin(async move { rx.await.expect("a task's thread panicked") })
    }

    async fn sleep(&self, d: Duration) {
        async_io::Timer::after(d).await;
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        async_io::block_on(f)
    }
}

//! A one-permit wake-up for the driver task, independent of any runtime.

use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use crate::shared::Wakeup;

/// A wake that comes before the driver waits is kept, not lost.
#[derive(Default)]
pub struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl std::fmt::Debug for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signal").finish_non_exhaustive()
    }
}

impl Signal {
    /// Waits for the next wake (or takes the one kept).
    pub async fn wait(&self) {
        poll_fn(|cx| {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if std::mem::take(&mut s.0) {
                Poll::Ready(())
            } else {
                match &s.1 {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.1 = Some(cx.waker().clone()),
                }
                Poll::Pending
            }
        })
        .await
    }
}

impl Wakeup for Arc<Signal> {
    fn wake(&self) {
        let waker = {
            let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
            s.0 = true;
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

//! A protocol that records every callback, and waiting on the record with a
//! bounded timeout (a hang fails the test instead of stalling CI).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aiozmq_core::{zmq_errno, Multipart, SocketEvent, ZmqProtocol, ZmqTransport};

/// How long any wait in the suite may take before it fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// One recorded callback.
#[derive(Debug, Clone, PartialEq)]
pub enum Ev {
    /// `connection_made`.
    Made,
    /// `connection_lost`: `None`, or the error's kind and errno.
    Lost(Option<(io::ErrorKind, Option<i32>)>),
    /// `pause_writing`.
    Pause,
    /// `resume_writing`.
    Resume,
    /// `msg_received`.
    Msg(Multipart),
    /// `event_received`.
    Event(SocketEvent),
    /// A callback started while another one of the same protocol ran.
    Reentered,
}

/// The record of one protocol's callbacks.
#[derive(Default)]
pub struct Log {
    events: Mutex<Vec<Ev>>,
    changed: Condvar,
    /// Messages counted instead of recorded (see [`Log::counting`]).
    counted: AtomicUsize,
    /// The count a waiter needs: the protocol notifies only on reaching it.
    wanted: AtomicUsize,
    counting: AtomicBool,
    /// Whether the last flow callback was `pause_writing` (cheap to poll).
    paused: AtomicBool,
    /// How many `pause_writing` were delivered.
    pauses: AtomicUsize,
    /// `connection_lost`'s error as text (`to_string()`), when it had one.
    lost_text: Mutex<Option<String>>,
    /// Whether `connection_lost` was delivered (cheap to poll).
    lost: AtomicBool,
    /// Whether the protocol was dropped.
    dropped: AtomicBool,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(summary(&self.lock())).finish()
    }
}

impl Log {
    /// A log that counts messages instead of recording them (for millions).
    pub fn counting() -> Arc<Log> {
        let log = Log::default();
        log.counting.store(true, Ordering::Relaxed);
        log.wanted.store(usize::MAX, Ordering::Relaxed);
        Arc::new(log)
    }

    /// Messages counted so far (counting logs only).
    pub fn counted(&self) -> usize {
        self.counted.load(Ordering::Acquire)
    }

    fn count_msg(&self) {
        let n = self.counted.fetch_add(1, Ordering::AcqRel) + 1;
        if n >= self.wanted.load(Ordering::Acquire) {
            let _guard = self.lock();
            self.changed.notify_all();
        }
    }

    /// Waits until `n` messages were counted; panics after [`TIMEOUT`].
    pub fn wait_counted(&self, n: usize) {
        self.wanted.store(n, Ordering::Release);
        let deadline = Instant::now() + TIMEOUT * 3;
        let mut events = self.lock();
        while self.counted() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out: {} of {n} messages",
                self.counted()
            );
            events = self
                .changed
                .wait_timeout(events, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn push(&self, ev: Ev) {
        self.lock().push(ev);
        self.changed.notify_all();
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Ev>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether the last flow callback delivered was `pause_writing`.
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    /// How many `pause_writing` were delivered so far (cheap to poll).
    pub fn pauses(&self) -> usize {
        self.pauses.load(Ordering::Acquire)
    }

    /// Whether the protocol recording into this log was dropped.
    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Whether `connection_lost` was delivered (cheap to poll).
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// The text (`to_string()`) of the error `connection_lost` got, if any.
    pub fn lost_text(&self) -> Option<String> {
        self.lost_text
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The flow callbacks (`Pause`, `Resume`) in the order delivered.
    pub fn flow(&self) -> Vec<Ev> {
        self.lock()
            .iter()
            .filter(|e| matches!(e, Ev::Pause | Ev::Resume))
            .cloned()
            .collect()
    }

    /// Everything recorded so far.
    pub fn all(&self) -> Vec<Ev> {
        self.lock().clone()
    }

    /// The messages received so far.
    pub fn msgs(&self) -> Vec<Multipart> {
        self.lock()
            .iter()
            .filter_map(|e| match e {
                Ev::Msg(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many recorded callbacks match.
    pub fn count(&self, f: impl Fn(&Ev) -> bool) -> usize {
        self.lock().iter().filter(|e| f(e)).count()
    }

    /// Waits until `f` returns `Some` for the record; panics after [`TIMEOUT`].
    pub fn wait<R>(&self, what: &str, mut f: impl FnMut(&[Ev]) -> Option<R>) -> R {
        let deadline = Instant::now() + TIMEOUT;
        let mut events = self.lock();
        loop {
            if let Some(r) = f(&events) {
                return r;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; recorded: {:?}",
                summary(&events)
            );
            events = self
                .changed
                .wait_timeout(events, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits up to `d` for `f` to return `Some`.
    pub fn wait_for<R>(&self, d: Duration, mut f: impl FnMut(&[Ev]) -> Option<R>) -> Option<R> {
        let deadline = Instant::now() + d;
        let mut events = self.lock();
        loop {
            if let Some(r) = f(&events) {
                return Some(r);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            events = self
                .changed
                .wait_timeout(events, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits until `n` messages have arrived; returns them.
    pub fn wait_msgs(&self, n: usize) -> Vec<Multipart> {
        self.wait(&format!("{n} messages"), |evs| {
            let msgs: Vec<_> = evs
                .iter()
                .filter_map(|e| match e {
                    Ev::Msg(m) => Some(m.clone()),
                    _ => None,
                })
                .collect();
            (msgs.len() >= n).then_some(msgs)
        })
    }

    /// Waits for `connection_lost`; returns its argument as recorded.
    pub fn wait_lost(&self) -> Option<(io::ErrorKind, Option<i32>)> {
        self.wait("connection_lost", |evs| {
            evs.iter().find_map(|e| match e {
                Ev::Lost(x) => Some(*x),
                _ => None,
            })
        })
    }

    /// Waits for a monitor event of this kind; returns it.
    pub fn wait_event(&self, event: u16) -> SocketEvent {
        self.wait(&format!("monitor event {event:#x}"), |evs| {
            evs.iter().find_map(|e| match e {
                Ev::Event(ev) if ev.event == event => Some(ev.clone()),
                _ => None,
            })
        })
    }

    /// Asserts the protocol contract on the whole record: `Made` first and
    /// once, `Lost` at most once and last, no re-entry.
    pub fn assert_contract(&self) {
        let evs = self.all();
        assert_eq!(
            evs.first(),
            Some(&Ev::Made),
            "connection_made first: {:?}",
            summary(&evs)
        );
        assert_eq!(evs.iter().filter(|e| **e == Ev::Made).count(), 1);
        assert!(!evs.contains(&Ev::Reentered), "a callback was re-entered");
        let lost: Vec<_> = evs
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e, Ev::Lost(_)))
            .collect();
        assert!(lost.len() <= 1, "connection_lost more than once");
        if let Some((i, _)) = lost.first() {
            assert_eq!(
                *i,
                evs.len() - 1,
                "a callback after connection_lost: {:?}",
                summary(&evs)
            );
        }
    }
}

fn summary(evs: &[Ev]) -> Vec<String> {
    let msgs = evs.iter().filter(|e| matches!(e, Ev::Msg(_))).count();
    let head =
        (evs.len() > 50).then(|| format!("{} events, {msgs} messages; the first:", evs.len()));
    head.into_iter()
        .chain(
            evs.iter()
                .map(|e| match e {
                    Ev::Msg(m) => format!(
                        "Msg({} frames, {} B)",
                        m.len(),
                        m.iter().map(|f| f.len()).sum::<usize>()
                    ),
                    other => format!("{other:?}"),
                })
                .take(50),
        )
        .collect()
}

/// What a recording protocol does with each message before recording it.
pub type OnMsg<T> = Box<dyn FnMut(&T, &Multipart) + Send>;

/// What a recording protocol does in `connection_made`, after recording it.
pub type OnMade<T> = Box<dyn FnOnce(&T) + Send>;

/// The recording protocol.
pub struct Rec<T> {
    log: Arc<Log>,
    transport: Option<T>,
    on_msg: Option<OnMsg<T>>,
    on_made: Option<OnMade<T>>,
    busy: AtomicBool,
}

impl<T> Rec<T> {
    /// A protocol recording into `log`, running `on_made` in
    /// `connection_made` and `on_msg` on each message.
    pub fn new(log: Arc<Log>, on_msg: Option<OnMsg<T>>, on_made: Option<OnMade<T>>) -> Self {
        Rec {
            log,
            transport: None,
            on_msg,
            on_made,
            busy: AtomicBool::new(false),
        }
    }

    fn enter(&self) {
        if self.busy.swap(true, Ordering::SeqCst) {
            self.log.push(Ev::Reentered);
        }
    }

    fn leave(&self) {
        self.busy.store(false, Ordering::SeqCst);
    }
}

impl<T> Drop for Rec<T> {
    fn drop(&mut self) {
        self.log.dropped.store(true, Ordering::Release);
        let _guard = self.log.lock();
        self.log.changed.notify_all();
    }
}

impl<T: ZmqTransport> ZmqProtocol<T> for Rec<T> {
    fn connection_made(&mut self, transport: T) {
        self.enter();
        self.log.push(Ev::Made);
        if let Some(f) = self.on_made.take() {
            // Left busy if `f` panics: nothing may be delivered after that.
            f(&transport);
        }
        self.transport = Some(transport);
        self.leave();
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.enter();
        self.transport = None;
        if let Some(e) = &exc {
            *self.log.lost_text.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        self.log.lost.store(true, Ordering::Release);
        self.log
            .push(Ev::Lost(exc.map(|e| (e.kind(), zmq_errno(&e)))));
        self.leave();
    }

    fn pause_writing(&mut self) {
        self.enter();
        self.log.paused.store(true, Ordering::Release);
        self.log.pauses.fetch_add(1, Ordering::AcqRel);
        self.log.push(Ev::Pause);
        self.leave();
    }

    fn resume_writing(&mut self) {
        self.enter();
        self.log.paused.store(false, Ordering::Release);
        self.log.push(Ev::Resume);
        self.leave();
    }

    fn msg_received(&mut self, msg: Multipart) {
        self.enter();
        if let (Some(f), Some(t)) = (self.on_msg.as_mut(), self.transport.as_ref()) {
            f(t, &msg);
        }
        if self.log.counting.load(Ordering::Relaxed) {
            self.log.count_msg();
        } else {
            self.log.push(Ev::Msg(msg));
        }
        self.leave();
    }

    fn event_received(&mut self, event: SocketEvent) {
        self.enter();
        self.log.push(Ev::Event(event));
        self.leave();
    }
}

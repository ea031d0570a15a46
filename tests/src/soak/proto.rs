//! The soak's protocol: one type for every role a transport plays on a
//! path, keeping only counters (memory stays flat however long it runs).

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use aiozmq_core::{event, Multipart, SocketEvent, ZmqProtocol, ZmqTransport};

use super::payload::{decode, ms};
use super::tracker::Disruptions;
use super::Tracker;
use crate::fault_proxy::Faults;

/// What a transport does on its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Receives the path's messages (PULL, SUB, the DEALER's echoes): each
    /// goes to the tracker. `frame` is where the payload is.
    Receiver {
        /// The payload's frame.
        frame: usize,
    },
    /// Writes each message back (ROUTER, REP); pauses reading while its
    /// own writing is paused, so backpressure reaches the sender.
    Echo,
    /// Counts the subscriptions an XPUB receives.
    Subscriptions,
    /// Receives replies for the sender thread (REQ).
    Requester,
}

/// What the sender thread waits on.
#[derive(Debug, Default)]
struct Signals {
    /// `pause_writing` in force.
    paused: bool,
    /// The last reply's sequence number (REQ).
    reply: Option<u64>,
    /// Subscriptions received (XPUB).
    subscriptions: u64,
    /// DISCONNECTED events of the connecting side's monitor.
    disconnects: u64,
}

/// Everything one path shares between its protocols, its sender thread
/// and the soak's sampler.
#[derive(Debug)]
pub struct PathState {
    /// `driver pattern`, for messages.
    pub name: String,
    /// The path's proxy, for its disruption count.
    pub faults: Faults,
    /// The receiver's accounting.
    pub tracker: Mutex<Tracker>,
    /// Messages (or requests) written.
    pub sent: AtomicU64,
    /// Messages (or replies) received: a copy of the tracker's count, cheap
    /// to sample.
    pub received: AtomicU64,
    /// Set before the soak closes the path: `connection_lost` is expected.
    pub closing: AtomicBool,
    /// Set by the soak to stop the sender thread.
    pub stop: AtomicBool,
    epoch: Instant,
    last_progress_ms: AtomicU64,
    signals: Mutex<Signals>,
    changed: Condvar,
}

impl PathState {
    /// A path named `name` through the proxy `faults` controls.
    pub fn new(name: String, faults: Faults) -> Arc<PathState> {
        Arc::new(PathState {
            name,
            faults,
            tracker: Mutex::new(Tracker::default()),
            sent: AtomicU64::new(0),
            received: AtomicU64::new(0),
            closing: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
            last_progress_ms: AtomicU64::new(0),
            signals: Mutex::new(Signals::default()),
            changed: Condvar::new(),
        })
    }

    /// The tracker, locked.
    pub fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signals(&self) -> MutexGuard<'_, Signals> {
        self.signals.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn signal(&self, f: impl FnOnce(&mut Signals)) {
        f(&mut self.signals());
        self.changed.notify_all();
    }

    /// Counts a received message as progress.
    pub fn progress(&self) {
        let ms = self.epoch.elapsed().as_millis() as u64;
        self.last_progress_ms.store(ms, Ordering::Release);
    }

    /// How long since the last progress.
    pub fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_progress_ms.load(Ordering::Acquire));
        self.epoch.elapsed().saturating_sub(last)
    }

    /// The path's disruptions now (the count first: a disruption counted
    /// between the two reads only makes its time the newer).
    pub fn disruptions_now(&self) -> Disruptions {
        let count = self.faults.disruptions();
        Disruptions {
            count,
            last_ms: self.faults.last_disruption().map(ms),
        }
    }

    /// Records a problem on the tracker.
    pub fn problem(&self, what: String) {
        self.tracker().problem(what);
    }

    /// Waits up to `d` until `f` holds of the signals (or the path is told
    /// to stop); returns whether it holds.
    fn wait_until(&self, d: Duration, f: impl Fn(&Signals) -> bool) -> bool {
        let deadline = Instant::now() + d;
        let mut s = self.signals();
        loop {
            if f(&s) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.stop.load(Ordering::Acquire) {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Waits up to `d` while writing is paused; true once it is not.
    pub fn wait_writable(&self, d: Duration) -> bool {
        self.wait_until(d, |s| !s.paused)
    }

    /// Waits up to `d` for the reply to request `seq`.
    pub fn wait_reply(&self, seq: u64, d: Duration) -> bool {
        self.wait_until(d, |s| s.reply == Some(seq))
    }

    /// Waits up to `d` for a first subscription.
    pub fn wait_subscribed(&self, d: Duration) -> bool {
        self.wait_until(d, |s| s.subscriptions > 0)
    }

    /// DISCONNECTED events so far.
    pub fn disconnects(&self) -> u64 {
        self.signals().disconnects
    }

    /// Subscriptions received so far.
    pub fn subscriptions(&self) -> u64 {
        self.signals().subscriptions
    }
}

/// The soak's protocol: counters only.
#[derive(Debug)]
pub struct SoakProto<T> {
    role: Role,
    state: Arc<PathState>,
    transport: Option<T>,
}

impl<T> SoakProto<T> {
    /// A protocol playing `role` on the path `state`.
    pub fn new(role: Role, state: Arc<PathState>) -> Self {
        SoakProto {
            role,
            state,
            transport: None,
        }
    }
}

impl<T: ZmqTransport> SoakProto<T> {
    fn receive(&mut self, msg: &Multipart, frame: usize) {
        let now = self.state.disruptions_now();
        let mut tracker = self.state.tracker();
        match msg.get(frame).and_then(|f| decode(f)) {
            Some(h) => {
                tracker.receive(h, now);
                self.state
                    .received
                    .store(tracker.received, Ordering::Release);
                drop(tracker);
                self.state.progress();
            }
            None => tracker.corrupt(format!(
                "{}: a message that is not whole or not ours ({} frames)",
                self.state.name,
                msg.len()
            )),
        }
    }
}

impl<T: ZmqTransport> ZmqProtocol<T> for SoakProto<T> {
    fn connection_made(&mut self, transport: T) {
        self.transport = Some(transport);
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        self.transport = None;
        if !self.state.closing.load(Ordering::Acquire) {
            self.state.problem(format!(
                "{}: connection_lost({exc:?}) in the middle of the soak",
                self.state.name
            ));
        }
    }

    fn pause_writing(&mut self) {
        if self.role == Role::Echo {
            if let Some(t) = &self.transport {
                let _ = t.pause_reading();
            }
        } else {
            self.state.signal(|s| s.paused = true);
        }
    }

    fn resume_writing(&mut self) {
        if self.role == Role::Echo {
            if let Some(t) = &self.transport {
                let _ = t.resume_reading();
            }
        } else {
            self.state.signal(|s| s.paused = false);
        }
    }

    fn msg_received(&mut self, msg: Multipart) {
        match self.role {
            Role::Receiver { frame } => self.receive(&msg, frame),
            Role::Echo => {
                if let Some(t) = &self.transport {
                    if let Err(e) = t.write(msg) {
                        if !self.state.closing.load(Ordering::Acquire) {
                            self.state
                                .problem(format!("{}: echo write: {e}", self.state.name));
                        }
                    }
                }
            }
            Role::Subscriptions => {
                if msg.first().and_then(|f| f.first()) == Some(&1) {
                    self.state.signal(|s| s.subscriptions += 1);
                }
            }
            Role::Requester => match msg.first().and_then(|f| decode(f)) {
                Some(h) => self.state.signal(|s| s.reply = Some(h.seq)),
                None => self
                    .state
                    .tracker()
                    .corrupt(format!("{}: a reply that is not whole", self.state.name)),
            },
        }
    }

    fn event_received(&mut self, ev: SocketEvent) {
        if ev.event == event::DISCONNECTED {
            self.state.signal(|s| s.disconnects += 1);
        }
    }
}

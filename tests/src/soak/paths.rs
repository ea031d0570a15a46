//! The soak's traffic: four paths per driver, each a bound transport and a
//! connecting one with a [`FaultProxy`] between them, and a sender thread
//! writing numbered messages at a steady rate.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aiozmq_core::{event, Bytes, Multipart, SockOpt, SocketType, ZmqTransport};

use super::payload::{encode, now_ms, size_for, Header};
use super::tracker::explains;
use super::{Open, PathState, Role, SoakDriver, SoakProto};
use crate::fault_proxy::{socket_addr, FaultProxy};

/// The four traffic patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// PUSH → PULL, under the writer's flow control.
    PushPull,
    /// DEALER → ROUTER, echoed back, at most [`WINDOW`] unanswered.
    DealerRouter,
    /// XPUB → SUB, one topic subscribed, another published and filtered.
    PubSub,
    /// REQ → REP round trips (REQ_RELAXED, REQ_CORRELATE).
    ReqRep,
}

impl Pattern {
    /// All four.
    pub const ALL: [Pattern; 4] = [
        Pattern::PushPull,
        Pattern::DealerRouter,
        Pattern::PubSub,
        Pattern::ReqRep,
    ];

    /// Messages a second the sender writes (requests a second, at most,
    /// for REQ/REP). PUB/SUB stays far below what a stall can queue
    /// (SNDHWM 1,000 messages) and below the smallest bandwidth cap, so
    /// libzmq never drops by its HWM rule and only disruptions lose.
    pub fn rate(self) -> u32 {
        match self {
            Pattern::PushPull => 1000,
            Pattern::DealerRouter => 1000,
            Pattern::PubSub => 200,
            Pattern::ReqRep => 200,
        }
    }

    /// Message sizes, bytes.
    fn sizes(self) -> (usize, usize) {
        match self {
            Pattern::PushPull => (16, 1024),
            Pattern::DealerRouter => (16, 1024),
            Pattern::PubSub => (16, 128),
            Pattern::ReqRep => (16, 256),
        }
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pattern::PushPull => "push/pull",
            Pattern::DealerRouter => "dealer/router",
            Pattern::PubSub => "pub/sub",
            Pattern::ReqRep => "req/rep",
        })
    }
}

/// Unanswered DEALER messages at most: below the ROUTER's SNDHWM (1,000),
/// so the ROUTER never drops an echo by its HWM rule.
pub const WINDOW: u64 = 200;
/// How long a REQ waits for a reply before it gives up on it, when no
/// disruption happened meanwhile (a disconnection makes it give up sooner).
pub const REQ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a REQ still waits for a reply after its connection dropped.
const REQ_AFTER_DISCONNECT: Duration = Duration::from_millis(500);
/// The pacing tick.
const TICK: Duration = Duration::from_millis(10);
/// How long a sender waits at a time (then looks at whether to stop).
const SLICE: Duration = Duration::from_millis(100);

/// One running path.
pub struct Path {
    /// What it carries.
    pub pattern: Pattern,
    /// Its counters.
    pub state: Arc<PathState>,
    /// Its proxy.
    pub proxy: FaultProxy,
    sender: Option<JoinHandle<()>>,
    close: Box<dyn Fn() + Send>,
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Path")
            .field("name", &self.state.name)
            .finish()
    }
}

impl Path {
    /// Starts `pattern` on driver `d`.
    pub fn start<D: SoakDriver>(d: &D, pattern: Pattern) -> io::Result<Path> {
        let (server_kind, client_kind) = match pattern {
            Pattern::PushPull => (SocketType::Pull, SocketType::Push),
            Pattern::DealerRouter => (SocketType::Router, SocketType::Dealer),
            Pattern::PubSub => (SocketType::XPub, SocketType::Sub),
            Pattern::ReqRep => (SocketType::Rep, SocketType::Req),
        };
        let (server_role, client_role) = match pattern {
            Pattern::PushPull => (Role::Receiver { frame: 0 }, Role::Receiver { frame: 0 }),
            Pattern::DealerRouter => (Role::Echo, Role::Receiver { frame: 0 }),
            Pattern::PubSub => (Role::Subscriptions, Role::Receiver { frame: 1 }),
            Pattern::ReqRep => (Role::Echo, Role::Requester),
        };
        // The path's state needs the proxy's handle, and the proxy the
        // server's port: start the proxy first, aim it once bound.
        let proxy = FaultProxy::start("127.0.0.1:1")?;
        let state = PathState::new(format!("{} {pattern}", d.name()), proxy.faults().clone());
        let mut server_open = Open::new(server_kind);
        server_open.bind = Some("tcp://127.0.0.1:*".into());
        let server = d.open_soak(server_open, SoakProto::new(server_role, state.clone()))?;
        let bound = server.bindings().into_iter().next().ok_or_else(|| {
            io::Error::new(io::ErrorKind::AddrNotAvailable, "the server bound nothing")
        })?;
        proxy.faults().set_target(socket_addr(&bound)?);
        let mut client_open = Open::new(client_kind);
        if pattern == Pattern::ReqRep {
            client_open = client_open
                .option(SockOpt::REQ_RELAXED, 1)
                .option(SockOpt::REQ_CORRELATE, 1);
        }
        let client = d.open_soak(client_open, SoakProto::new(client_role, state.clone()))?;
        d.enable_monitor(&client, Some(event::DISCONNECTED))?;
        if pattern == Pattern::PubSub {
            client.subscribe(b"t")?;
        }
        client.connect(&proxy.endpoint())?;
        // The writer: the client, except for PUB/SUB where the XPUB writes.
        let sender = match pattern {
            Pattern::PushPull | Pattern::DealerRouter => {
                let (t, s) = (client.clone(), state.clone());
                spawn(&state, move || send_stream(&t, &s, pattern))?
            }
            Pattern::PubSub => {
                let (t, s) = (server.clone(), state.clone());
                spawn(&state, move || send_pub(&t, &s))?
            }
            Pattern::ReqRep => {
                let (t, s) = (client.clone(), state.clone());
                spawn(&state, move || send_requests(&t, &s))?
            }
        };
        let close = Box::new(move || {
            client.close();
            server.close();
        });
        Ok(Path {
            pattern,
            state,
            proxy,
            sender: Some(sender),
            close,
        })
    }

    /// Stops the sender (bounded: it looks at the flag every 100 ms).
    pub fn stop_sending(&mut self) {
        self.state.stop.store(true, Ordering::Release);
        if let Some(t) = self.sender.take() {
            let _ = t.join();
        }
    }

    /// Waits up to `d` until every message sent is accounted for; true if
    /// it is.
    pub fn wait_settled(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let sent = self.state.sent.load(Ordering::Acquire);
            if self.state.tracker().reconciles(sent) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // Polling counters the protocols update without notifying.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes both transports (their `connection_lost` is expected now).
    pub fn close(&self) {
        self.state.closing.store(true, Ordering::Release);
        (self.close)();
    }
}

fn spawn(state: &PathState, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(format!("soak {}", state.name))
        .spawn(f)
}

fn stopped(state: &PathState) -> bool {
    state.stop.load(Ordering::Acquire)
}

/// Calls `send_one` `rate` times a second until it returns false or the
/// path stops.
fn paced(state: &PathState, rate: u32, mut send_one: impl FnMut() -> bool) {
    let per_tick = rate as f64 * TICK.as_secs_f64();
    let mut credit = 0.0;
    let mut next = Instant::now();
    while !stopped(state) {
        credit += per_tick;
        while credit >= 1.0 {
            if stopped(state) || !send_one() {
                return;
            }
            credit -= 1.0;
        }
        next += TICK;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        } else if now - next > Duration::from_secs(1) {
            // Far behind (a long pause): do not burst to catch up.
            next = now;
        }
    }
}

/// Writes message `seq` (with its stamp) as `frames`; false (and a problem
/// recorded) if the transport refused it.
fn write<T: ZmqTransport>(t: &T, state: &PathState, msg: Multipart) -> bool {
    match t.write(msg) {
        Ok(()) => true,
        Err(e) => {
            state.problem(format!("{}: write: {e}", state.name));
            false
        }
    }
}

/// PUSH or DEALER: numbered messages, waiting out `pause_writing`; the
/// DEALER also keeps at most [`WINDOW`] unanswered.
fn send_stream<T: ZmqTransport>(t: &T, state: &PathState, pattern: Pattern) {
    let (min, max) = pattern.sizes();
    // Stamps of the DEALER's unanswered messages, oldest first.
    let mut unanswered: VecDeque<Header> = VecDeque::new();
    paced(state, pattern.rate(), || {
        while !state.wait_writable(SLICE) {
            if stopped(state) {
                return false;
            }
        }
        if pattern == Pattern::DealerRouter {
            let mut full_since = None;
            loop {
                let answered = state.tracker().expected;
                while unanswered.front().is_some_and(|h| h.seq < answered) {
                    unanswered.pop_front();
                }
                if (unanswered.len() as u64) < WINDOW || stopped(state) {
                    break;
                }
                // Full: echoes lost to a disruption never come. Once one
                // happened since the oldest was written, forget them (the
                // tracker counts the gap when a later echo arrives).
                let since = *full_since.get_or_insert_with(Instant::now);
                let lost = unanswered
                    .front()
                    .is_some_and(|h| explains(state.disruptions_now(), h.stamp, h.written_ms));
                if since.elapsed() > Duration::from_secs(1) && lost {
                    unanswered.clear();
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let h = header(state);
        let body = encode(h, size_for(h.seq, min, max));
        if !write(t, state, Multipart::from_iter([body])) {
            return false;
        }
        if pattern == Pattern::DealerRouter {
            unanswered.push_back(h);
        }
        let seq = h.seq;
        state.sent.store(seq + 1, Ordering::Release);
        true
    });
}

/// XPUB: once the SUB's subscription arrived, topic `t` messages (counted)
/// and, every tenth, a topic `u` message the SUB must never see.
fn send_pub<T: ZmqTransport>(t: &T, state: &PathState) {
    while !state.wait_subscribed(SLICE) {
        if stopped(state) {
            return;
        }
    }
    let (min, max) = Pattern::PubSub.sizes();
    paced(state, Pattern::PubSub.rate(), || {
        let h = header(state);
        let seq = h.seq;
        let body = encode(h, size_for(seq, min, max));
        if seq.is_multiple_of(10) {
            let other = Multipart::from_iter([Bytes::from_static(b"u"), body.clone()]);
            if !write(t, state, other) {
                return false;
            }
        }
        if !write(
            t,
            state,
            Multipart::from_iter([Bytes::from_static(b"t"), body]),
        ) {
            return false;
        }
        state.sent.store(seq + 1, Ordering::Release);
        true
    });
}

/// The header of the next message of the path.
fn header(state: &PathState) -> Header {
    Header {
        seq: state.sent.load(Ordering::Acquire),
        stamp: state.faults.disruptions(),
        written_ms: now_ms(),
    }
}

/// REQ: one request at a time. A request is given up on (and the next one
/// sent: REQ_RELAXED) once its connection dropped and a disruption can
/// have lost it, or after [`REQ_TIMEOUT`] in any case; its loss is
/// explained if a disruption can have caused it.
fn send_requests<T: ZmqTransport>(t: &T, state: &PathState) {
    let (min, max) = Pattern::ReqRep.sizes();
    let gap = Duration::from_secs_f64(1.0 / Pattern::ReqRep.rate() as f64);
    while !stopped(state) {
        let started = Instant::now();
        let h = header(state);
        let disconnects = state.disconnects();
        let body = encode(h, size_for(h.seq, min, max));
        if !write(t, state, Multipart::from_iter([body])) {
            return;
        }
        state.sent.store(h.seq + 1, Ordering::Release);
        let mut disconnected_at = None;
        loop {
            if state.wait_reply(h.seq, SLICE) {
                let now = state.disruptions_now();
                let mut tracker = state.tracker();
                tracker.receive(h, now);
                state.received.store(tracker.received, Ordering::Release);
                drop(tracker);
                state.progress();
                break;
            }
            if stopped(state) {
                // The last request: wait_settled() waits for its reply.
                return;
            }
            if disconnected_at.is_none() && state.disconnects() > disconnects {
                disconnected_at = Some(Instant::now());
            }
            let explained = explains(state.disruptions_now(), h.stamp, h.written_ms);
            let dropped = disconnected_at.is_some_and(|at| at.elapsed() >= REQ_AFTER_DISCONNECT);
            if (dropped && explained) || started.elapsed() >= REQ_TIMEOUT {
                state.tracker().abandon(h.seq, explained);
                break;
            }
        }
        let took = started.elapsed();
        if took < gap {
            std::thread::sleep(gap - took);
        }
    }
}

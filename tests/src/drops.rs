//! Dropping a runtime at any moment: the lives of
//! monitored transport pairs ended by dropping their runtime at chosen or
//! pseudo-random points, written once for any async runtime the test can
//! drop ([`DropRt`]), and the checks that nothing was left behind.

use std::fmt::Debug;
use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, SocketType, ZmqProtocol, ZmqTransport};

use crate::leaks::{
    baseline, fresh_pair_works, serial, wait_fds_at_most, wait_freed, wait_ports_free, Rng,
};
use crate::TIMEOUT;

/// An async runtime (tokio of either flavour, a smol executor) that the
/// test creates, drives transports on, and drops when it chooses.
pub trait DropRt: Sized {
    /// The driver's transport.
    type T: ZmqTransport + Debug;
    /// A name for messages.
    fn name(&self) -> String;
    /// `create_zmq_connection(..).bind(..).connect(..).open()` on this runtime.
    fn open<P: ZmqProtocol<Self::T>>(
        &self,
        kind: SocketType,
        bind: Option<&str>,
        connect: Option<&str>,
        protocol: P,
    ) -> io::Result<(Self::T, Arc<Mutex<P>>)>;
    /// `enable_monitor(None)`.
    fn enable_monitor(&self, t: &Self::T) -> io::Result<()>;
    /// Spawns a task on the runtime that writes `numbered(0..n)` to `t`,
    /// yielding every few messages, until done or refused.
    fn spawn_writer(&self, t: Self::T, n: u64);
    /// Drops the runtime, and with it every task it holds. Must be bounded.
    fn drop_now(self);
}

/// A message numbered `i` (64 bytes).
pub fn numbered(i: u64) -> Multipart {
    let mut body = vec![0u8; 64];
    body[..8].copy_from_slice(&i.to_le_bytes());
    Multipart::from_iter([Bytes::from(body)])
}

/// The number of a [`numbered`] message.
pub fn number(m: &Multipart) -> u64 {
    u64::from_le_bytes(m[0][..8].try_into().expect("8 bytes"))
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

/// When, in one transport pair's life, the runtime is dropped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Point {
    /// Right after opening and enabling the monitors: no traffic yet.
    Opened,
    /// While traffic flows, after the PULL received `k` messages.
    Traffic,
    /// Just after `close()` of both, before the drivers could handle it.
    JustClosed,
    /// After both closes were handled (`connection_lost` delivered).
    Lost,
    /// Racing a callback: `msg_received` of message `k` signals the test,
    /// which drops the runtime at once.
    InCallback,
    /// Just after `abort()` of both.
    JustAborted,
    /// After the user dropped every handle and protocol (closing the
    /// transports), before the drivers could handle it.
    HandlesDropped,
}

/// Every [`Point`].
pub const POINTS: [Point; 7] = [
    Point::Opened,
    Point::Traffic,
    Point::JustClosed,
    Point::Lost,
    Point::InCallback,
    Point::JustAborted,
    Point::HandlesDropped,
];

/// What a [`Peer`] has seen: the highest message number, and whether
/// `connection_lost` came.
#[derive(Default)]
pub struct Seen {
    state: Mutex<(Option<u64>, bool)>,
    changed: Condvar,
}

impl Seen {
    fn wait(&self, what: &str, f: impl Fn(&(Option<u64>, bool)) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while !f(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "timed out waiting for {what}");
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn update(&self, f: impl FnOnce(&mut (Option<u64>, bool))) {
        f(&mut self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_all();
    }
}

/// The protocol of one life's pair: records into [`Seen`], tells the test
/// when message `k` is being received, and keeps its transport from
/// `connection_made` (a protocol↔transport cycle) if asked to.
pub struct Peer<T> {
    seen: Arc<Seen>,
    at_k: Option<(u64, Mutex<mpsc::Sender<()>>)>,
    keep: bool,
    transport: Option<T>,
}

impl<T: ZmqTransport> ZmqProtocol<T> for Peer<T> {
    fn connection_made(&mut self, t: T) {
        if self.keep {
            self.transport = Some(t);
        }
    }
    fn connection_lost(&mut self, _exc: Option<io::Error>) {
        self.transport = None;
        self.seen.update(|s| s.1 = true);
    }
    fn msg_received(&mut self, msg: Multipart) {
        let i = number(&msg);
        if let Some((k, tx)) = &self.at_k {
            if i == *k {
                let _ = tx.lock().unwrap_or_else(|p| p.into_inner()).send(());
            }
        }
        self.seen.update(|s| s.0 = Some(i));
    }
}

/// The README's `Echo`: keeps the transport from `connection_made`.
pub struct Echo<T>(Option<T>);

impl<T: ZmqTransport> ZmqProtocol<T> for Echo<T> {
    fn connection_made(&mut self, t: T) {
        self.0 = Some(t)
    }
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.0.as_ref().unwrap().write(msg);
    }
}

/// What one life leaves to check: its protocols (to see them freed) and
/// the port its PULL bound.
pub struct Left<T> {
    protocols: Vec<Weak<Mutex<Peer<T>>>>,
    port: u16,
}

/// One life: on the runtime `rt`, a monitored PUSH→PULL pair with traffic,
/// and the runtime dropped at `point` (`k`: a message number). With
/// `cycle`, both protocols keep their transport (as the README's Echo does).
pub fn life<R: DropRt>(rt: R, point: Point, k: u64, cycle: bool) -> Left<R::T> {
    let what = format!(
        "{}, to drop at {point:?} (k = {k}, cycle {cycle})",
        rt.name()
    );
    let (tx, rx) = mpsc::channel::<()>();
    let pull_seen = Arc::new(Seen::default());
    let push_seen = Arc::new(Seen::default());
    let pull_peer = Peer {
        seen: pull_seen.clone(),
        at_k: Some((k, Mutex::new(tx))),
        keep: cycle,
        transport: None,
    };
    let push_peer = Peer {
        seen: push_seen.clone(),
        at_k: None,
        keep: cycle,
        transport: None,
    };
    let (pull, pull_proto) = rt
        .open(SocketType::Pull, Some("tcp://127.0.0.1:*"), None, pull_peer)
        .unwrap();
    rt.enable_monitor(&pull).unwrap();
    let ep = pull.bindings().into_iter().next().unwrap();
    let (push, push_proto) = rt
        .open(SocketType::Push, None, Some(&ep), push_peer)
        .unwrap();
    rt.enable_monitor(&push).unwrap();
    let left = Left {
        protocols: vec![Arc::downgrade(&pull_proto), Arc::downgrade(&push_proto)],
        port: port_of(&ep),
    };
    drop((pull_proto, push_proto));
    if point != Point::Opened {
        rt.spawn_writer(push.clone(), 2000);
    }
    let mut handles = Some((pull, push));
    let wait_k = || {
        pull_seen.wait(&format!("message {k}: {what} (is libzmq hung?)"), |s| {
            s.0 >= Some(k)
        })
    };
    let close_both = |handles: &Option<(R::T, R::T)>, abort: bool| {
        let (pull, push) = handles.as_ref().unwrap();
        for t in [push, pull] {
            if abort {
                t.abort()
            } else {
                t.close()
            }
        }
    };
    match point {
        Point::Opened => {}
        Point::Traffic => wait_k(),
        Point::JustClosed => {
            wait_k();
            close_both(&handles, false);
        }
        Point::Lost => {
            wait_k();
            // The PUSH first, while its peer still reads: its close flushes
            // at once (with the PULL gone it could only give up, after 1 s).
            let (pull, push) = handles.as_ref().unwrap();
            push.close();
            push_seen.wait(&format!("the PUSH's connection_lost: {what}"), |s| s.1);
            pull.close();
            pull_seen.wait(&format!("the PULL's connection_lost: {what}"), |s| s.1);
        }
        Point::InCallback => {
            rx.recv_timeout(TIMEOUT)
                .unwrap_or_else(|e| panic!("msg_received({k}) never came: {what}: {e}"));
        }
        Point::JustAborted => {
            wait_k();
            close_both(&handles, true);
        }
        Point::HandlesDropped => {
            wait_k();
            handles = None;
        }
    }
    rt.drop_now();
    drop(handles);
    left
}

/// Creates what lives as long as the process and appears on first use (the
/// default context's threads, tokio's signal pipe, async-io's reactor) with
/// one orderly life, then gives the FD count to come back to.
fn warm_up<R: DropRt>(rt: R) -> usize {
    life(rt, Point::Lost, 0, false);
    baseline()
}

/// Everything the dropped runtimes may have left behind is gone: libzmq
/// still works, the protocols were freed, the ports and FDs released.
pub fn assert_nothing_left<T>(what: &str, left: &[Left<T>], fds: usize) {
    fresh_pair_works(what);
    for (i, l) in left.iter().enumerate() {
        for p in &l.protocols {
            wait_freed(p, &format!("{what}: life {i}'s protocol"));
        }
    }
    let ports: Vec<u16> = left.iter().map(|l| l.port).collect();
    wait_ports_free(&ports, what);
    wait_fds_at_most(fds, what);
}

/// A runtime dropped at each point of a monitored pair's life
/// (with traffic), `rounds` times, hangs nothing and leaks nothing. The
/// protocols keep no transport here (the cycle is the next test's).
pub fn every_point<R: DropRt>(name: &str, new_rt: impl Fn() -> R, rounds: u64) {
    let _serial = serial();
    let fds = warm_up(new_rt());
    let mut left = Vec::new();
    for round in 0..rounds {
        for point in POINTS {
            let what = format!("{name} dropped at {point:?}, round {round}");
            left.push(life(new_rt(), point, round * 7, false));
            // Check at once: the first point that hangs libzmq is named.
            fresh_pair_works(&what);
        }
    }
    assert_nothing_left(&format!("{name} dropped"), &left, fds);
}

/// The stress case: `n` lives, on runtimes `new_rt(i)` gives, each
/// dropped at a pseudo-random point after a pseudo-random number of
/// messages, half with protocol↔transport cycles; then a fresh transport on
/// the default context works and the FD count is back where it started.
pub fn stress<R: DropRt>(new_rt: impl Fn(usize) -> R, n: usize, seed: u64) {
    let _serial = serial();
    let fds = warm_up(new_rt(0));
    let mut rng = Rng::from_env(seed);
    let mut left = Vec::new();
    for i in 0..n {
        let rt = new_rt(i);
        let name = rt.name();
        let point = POINTS[rng.below(POINTS.len() as u64) as usize];
        let k = rng.below(50);
        let cycle = rng.below(2) == 0;
        left.push(life(rt, point, k, cycle));
        if (i + 1) % 100 == 0 {
            // Fail fast, and keep what is in flight bounded.
            let what = format!(
                "after {} lives (the last: {name}, {point:?}, k = {k}, cycle {cycle})",
                i + 1
            );
            assert_nothing_left(&what, &left, fds);
            left.clear();
        }
    }
    assert_nothing_left(&format!("after {n} lives"), &left, fds);
}

/// How the user lets go of the Echo server around the runtime's drop.
#[derive(Debug, Clone, Copy)]
enum LetGo {
    /// Drops the runtime while holding the handle and protocol; then them.
    RuntimeFirst,
    /// Drops the handle and protocol, then the runtime at once.
    HandlesFirst,
    /// `close()`, then the runtime at once, then the handles.
    CloseThenRuntime,
}

/// The README's Echo (a protocol↔transport cycle) on a runtime
/// that is dropped: the protocol is freed and its port released, however
/// the user lets go of it.
pub fn echo_is_freed<R: DropRt>(new_rt: impl Fn() -> R) {
    let _serial = serial();
    let fds = warm_up(new_rt());
    let mut name = String::new();
    for let_go in [
        LetGo::RuntimeFirst,
        LetGo::HandlesFirst,
        LetGo::CloseThenRuntime,
    ] {
        let rt = new_rt();
        name = rt.name();
        let what = format!("Echo on {name}, {let_go:?}");
        let (server, protocol) = rt
            .open(
                SocketType::Router,
                Some("tcp://127.0.0.1:*"),
                None,
                Echo(None),
            )
            .unwrap();
        let ep = server.bindings().into_iter().next().unwrap();
        // A peer in a context of its own: the echo works.
        let ctx = zmq::Context::new();
        let peer = crate::raw(&ctx, zmq::DEALER);
        peer.connect(&ep).unwrap();
        peer.send(&b"ping"[..], 0).unwrap();
        assert_eq!(peer.recv_bytes(0).expect("the echo"), b"ping", "{what}");
        drop(peer);
        drop(ctx);
        let weak = Arc::downgrade(&protocol);
        match let_go {
            LetGo::RuntimeFirst => {
                rt.drop_now();
                drop((server, protocol));
            }
            LetGo::HandlesFirst => {
                drop((server, protocol));
                rt.drop_now();
            }
            LetGo::CloseThenRuntime => {
                server.close();
                rt.drop_now();
                drop((server, protocol));
            }
        }
        wait_freed(&weak, &what);
        wait_ports_free(&[port_of(&ep)], &what);
        fresh_pair_works(&what);
    }
    wait_fds_at_most(fds, &format!("Echo on {name}"));
}

/// Drops `x` within 10 s, or panics (for [`DropRt::drop_now`]).
pub fn drop_bounded<X: Send + 'static>(what: &str, x: X) {
    crate::leaks::bounded(what, Duration::from_secs(10), move || drop(x));
}

//! Scenarios under faults: what a user sees through the public API when the
//! network between two peers resets, half-closes, drops a connection at a
//! byte, stalls, or when the peer process is frozen, killed and restarted.
//! Written once against [`Driver`] and run for every driver by
//! [`fault_scenarios!`](macro@crate::fault_scenarios); the network is a
//! [`FaultProxy`] on loopback.
//!
//! No scenario sleeps to synchronise: each waits on the event it is about
//! (a message, a flow callback, a monitor event, a proxy counter) with a
//! bounded timeout. Where libzmq may lose messages (those in flight when a
//! connection dies), a scenario asserts what libzmq promises instead: what
//! arrives is whole, in order and never twice, and traffic sent after the
//! reconnection all arrives.

use std::io::{BufRead, BufReader, ErrorKind};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use aiozmq_core::{
    event, Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport, CLOSE_LINGER_MS,
};

use crate::fault_proxy::{socket_addr, Dir, FaultProxy};
use crate::{Driver, Ev, Log, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

/// Generates one `#[test]` per fault scenario for a driver. The SIGKILL
/// scenario runs the `fault_peer` binary of this crate, whose path only an
/// integration test knows (`env!("CARGO_BIN_EXE_fault_peer")`), so the
/// macro is expanded there.
#[macro_export]
macro_rules! fault_scenarios {
    ($driver:expr) => {
        $crate::fault_scenarios!($driver;
            reset_dealer_router_traffic_resumes,
            reset_push_pull_traffic_resumes,
            reset_pub_sub_subscription_is_resent,
            half_close_is_a_disconnect_and_traffic_resumes,
            drop_at_a_byte_delivers_only_whole_messages,
            stall_pauses_the_writer_and_loses_nothing,
            stall_holds_stream_drain_until_it_ends,
            close_during_a_stall_ends_by_its_deadline,
            heartbeat_detects_a_stalled_peer,
        );
        #[test]
        fn peer_process_frozen_killed_and_restarted() {
            let d = $driver;
            $crate::fault_scenarios::peer_process_frozen_killed_and_restarted(
                &d,
                env!("CARGO_BIN_EXE_fault_peer"),
            );
        }
    };
    ($driver:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                let d = $driver;
                $crate::fault_scenarios::$name(&d);
            }
        )*
    };
}

/// Reconnect quickly after a fault, so scenarios take milliseconds.
const RECONNECT_MS: i32 = 20;
/// Message size in the flow scenarios.
const MSG: usize = 1024;
/// Write water marks in the flow scenarios.
const HIGH: usize = 16 * 1024;
/// The low water mark of the stream scenario.
const LOW: usize = 4 * 1024;
/// A pause that holds this long under a stall means the path is full.
const QUIET: Duration = Duration::from_millis(200);
/// How many messages a writer may put into a stalled path before it must
/// have been paused for good: the kernel's socket buffers (ours, and the
/// proxy's, which stops reading), libzmq's queue (SNDHWM 10) and our
/// buffer (HIGH) hold a few hundred KiB; 4 MiB means the buffer is not
/// bounded.
const STALL_LIMIT: usize = 4096;

/// Message `i`: 8 bytes of number, then `size - 8` bytes derived from it
/// (so a torn or mixed-up message shows).
fn numbered(i: usize, size: usize) -> Multipart {
    let size = size.max(8);
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(&(i as u64).to_le_bytes());
    body.extend((8..size).map(|k| (i.wrapping_mul(31) ^ k) as u8));
    Multipart::from_iter([Bytes::from(body)])
}

/// The number of a [`numbered`] frame, after checking all of it.
fn number_of(frame: &[u8], size: usize) -> usize {
    assert_eq!(frame.len(), size.max(8), "a message of the wrong size");
    let i = u64::from_le_bytes(frame[..8].try_into().expect("8 bytes")) as usize;
    for (k, b) in frame.iter().enumerate().skip(8) {
        assert_eq!(
            *b,
            (i.wrapping_mul(31) ^ k) as u8,
            "message {i} torn at {k}"
        );
    }
    i
}

/// The numbers of the messages received, checking each is whole.
fn numbers(log: &Log, frame: usize, size: usize) -> Vec<usize> {
    log.msgs()
        .iter()
        .map(|m| number_of(&m[frame], size))
        .collect()
}

/// Asserts `got` is strictly increasing (in order, never twice) and holds
/// every number of `must`.
fn assert_resumed(name: &str, got: &[usize], must: std::ops::Range<usize>) {
    for w in got.windows(2) {
        assert!(
            w[0] < w[1],
            "{name}: {} then {}: out of order or twice; received {got:?}",
            w[0],
            w[1]
        );
    }
    let missing: Vec<usize> = must.filter(|i| !got.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{name}: sent after the reconnection and lost: {missing:?}; received {got:?}"
    );
}

fn first_binding<T: ZmqTransport>(t: &T) -> String {
    t.bindings().into_iter().next().expect("a binding")
}

/// How many monitor events of this kind were recorded.
fn count_events(evs: &[Ev], kind: u16) -> usize {
    evs.iter()
        .filter(|e| matches!(e, Ev::Event(ev) if ev.event == kind))
        .count()
}

/// Waits until `n` monitor events of this kind were recorded.
fn wait_events(name: &str, log: &Log, kind: u16, n: usize) {
    log.wait(&format!("{name}: {n} monitor events {kind:#x}"), |evs| {
        (count_events(evs, kind) >= n).then_some(())
    });
}

/// Waits until a message whose number is `i` (in frame `frame`) arrived.
fn wait_number(name: &str, log: &Log, frame: usize, size: usize, i: usize) {
    log.wait(&format!("{name}: message {i}"), |evs| {
        evs.iter()
            .any(|e| matches!(e, Ev::Msg(m) if number_of(&m[frame], size) == i))
            .then_some(())
    });
}

/// The last flow callback recorded.
fn last_flow(evs: &[Ev]) -> Option<&Ev> {
    evs.iter()
        .rev()
        .find(|e| matches!(e, Ev::Pause | Ev::Resume))
}

/// Opens a connecting transport of `kind` with its monitor on (connected,
/// disconnected, handshake) before it connects to `ep`, so no event is
/// missed; waits for its first handshake.
fn open_monitored<D: Driver>(d: &D, spec: Spec<D::T>, ep: &str) -> (D::T, Arc<Log>) {
    let spec = spec.option(SockOpt::RECONNECT_IVL, OptValue::Int(RECONNECT_MS));
    let (t, log) = d.open(spec).unwrap();
    d.enable_monitor(
        &t,
        Some(event::CONNECTED | event::DISCONNECTED | event::HANDSHAKE_SUCCEEDED),
    )
    .unwrap();
    t.connect(ep).unwrap();
    wait_events(d.name(), &log, event::HANDSHAKE_SUCCEEDED, 1);
    (t, log)
}

/// A reset in the middle of DEALER/ROUTER traffic: the DEALER's monitor
/// reports the disconnection and a new handshake, and messages written
/// after it make the round trip; what arrives is in order, never twice.
pub fn reset_dealer_router_traffic_resumes<D: Driver>(d: &D) {
    let name = d.name();
    let (router, _rlog) = d
        .open(
            Spec::new(SocketType::Router)
                .bind(ANY_TCP)
                .on_msg(|t: &D::T, m| t.write(m.clone()).expect("echo")),
        )
        .unwrap();
    let proxy = FaultProxy::start(&first_binding(&router)).unwrap();
    let (dealer, log) = open_monitored(d, Spec::new(SocketType::Dealer), &proxy.endpoint());
    for i in 0..50 {
        dealer.write(numbered(i, 64)).unwrap();
    }
    wait_number(name, &log, 0, 64, 49);
    assert_eq!(proxy.faults().reset_all(), 1, "{name}");
    wait_events(name, &log, event::DISCONNECTED, 1);
    // Written while reconnecting: libzmq may deliver or lose these.
    for i in 50..100 {
        dealer.write(numbered(i, 64)).unwrap();
    }
    wait_events(name, &log, event::HANDSHAKE_SUCCEEDED, 2);
    for i in 100..150 {
        dealer.write(numbered(i, 64)).unwrap();
    }
    wait_number(name, &log, 0, 64, 149);
    let got = numbers(&log, 0, 64);
    assert_resumed(name, &got, 0..50);
    assert_resumed(name, &got, 100..150);
    assert_eq!(proxy.faults().stats().accepted, 2, "{name}");
    dealer.close();
    router.close();
    assert_eq!(log.wait_lost(), None, "{name}");
    log.assert_contract();
}

/// A reset between a bound PUSH and a PULL that connects through the
/// proxy: the PULL reconnects and what the PUSH writes afterwards arrives.
pub fn reset_push_pull_traffic_resumes<D: Driver>(d: &D) {
    let name = d.name();
    let (push, push_log) = d.open(Spec::new(SocketType::Push).bind(ANY_TCP)).unwrap();
    let proxy = FaultProxy::start(&first_binding(&push)).unwrap();
    let (pull, log) = open_monitored(d, Spec::new(SocketType::Pull), &proxy.endpoint());
    for i in 0..50 {
        push.write(numbered(i, 256)).unwrap();
    }
    wait_number(name, &log, 0, 256, 49);
    proxy.faults().reset_all();
    wait_events(name, &log, event::DISCONNECTED, 1);
    for i in 50..100 {
        push.write(numbered(i, 256)).unwrap();
    }
    wait_events(name, &log, event::HANDSHAKE_SUCCEEDED, 2);
    for i in 100..150 {
        push.write(numbered(i, 256)).unwrap();
    }
    wait_number(name, &log, 0, 256, 149);
    let got = numbers(&log, 0, 256);
    assert_resumed(name, &got, 0..50);
    assert_resumed(name, &got, 100..150);
    push.close();
    pull.close();
    assert_eq!(push_log.wait_lost(), None, "{name}");
    log.assert_contract();
}

/// A reset between an XPUB and a SUB: the SUB subscribes again on its new
/// connection (the XPUB receives the subscription a second time), and
/// messages on its topic arrive again; other topics never do.
pub fn reset_pub_sub_subscription_is_resent<D: Driver>(d: &D) {
    let name = d.name();
    let (xpub, xlog) = d
        .open(
            Spec::new(SocketType::XPub)
                .option(SockOpt::XPUB_VERBOSE, OptValue::Int(1))
                .bind(ANY_TCP),
        )
        .unwrap();
    let proxy = FaultProxy::start(&first_binding(&xpub)).unwrap();
    let (sub, log) = open_monitored(d, Spec::new(SocketType::Sub), &proxy.endpoint());
    sub.subscribe(b"A").unwrap();
    let subscribed = |n: usize| {
        xlog.wait(&format!("{name}: subscription {n}"), |evs| {
            let seen = evs
                .iter()
                .filter(|e| matches!(e, Ev::Msg(m) if m[0][..] == b"\x01A"[..]))
                .count();
            (seen >= n).then_some(())
        })
    };
    let publish = |from: usize, to: usize| {
        for i in from..to {
            let a = numbered(i, 32);
            xpub.write(msg2(b"A", &a[0])).unwrap();
            xpub.write(msg2(b"B", &a[0])).unwrap();
        }
    };
    subscribed(1);
    publish(0, 20);
    wait_number(name, &log, 1, 32, 19);
    proxy.faults().reset_all();
    wait_events(name, &log, event::DISCONNECTED, 1);
    // The subscription goes out again on the new connection: the XPUB
    // sees it before anything it publishes can reach the new pipe.
    subscribed(2);
    publish(20, 40);
    wait_number(name, &log, 1, 32, 39);
    let got = numbers(&log, 1, 32);
    assert_resumed(name, &got, 0..20);
    assert_resumed(name, &got, 20..40);
    assert!(
        log.msgs().iter().all(|m| m[0][..] == b"A"[..]),
        "{name}: a message of another topic arrived"
    );
    sub.close();
    xpub.close();
    assert_eq!(log.wait_lost(), None, "{name}");
}

fn msg2(a: &[u8], b: &[u8]) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)])
}

/// Half-closing a connection (a FIN one way, the other way still open) is
/// a disconnection to libzmq, whichever side gets the FIN: the DEALER
/// reconnects and round trips resume. Both directions, one after the other.
pub fn half_close_is_a_disconnect_and_traffic_resumes<D: Driver>(d: &D) {
    let name = d.name();
    let (router, _rlog) = d
        .open(
            Spec::new(SocketType::Router)
                .bind(ANY_TCP)
                .on_msg(|t: &D::T, m| t.write(m.clone()).expect("echo")),
        )
        .unwrap();
    let proxy = FaultProxy::start(&first_binding(&router)).unwrap();
    let (dealer, log) = open_monitored(d, Spec::new(SocketType::Dealer), &proxy.endpoint());
    let mut next = 0;
    for (round, dir) in [Dir::Up, Dir::Down].into_iter().enumerate() {
        for _ in 0..20 {
            dealer.write(numbered(next, 64)).unwrap();
            next += 1;
        }
        wait_number(name, &log, 0, 64, next - 1);
        assert_eq!(proxy.faults().half_close(dir), 1, "{name}: {dir:?}");
        wait_events(name, &log, event::DISCONNECTED, round + 1);
        wait_events(name, &log, event::HANDSHAKE_SUCCEEDED, round + 2);
        let from = next;
        for _ in 0..20 {
            dealer.write(numbered(next, 64)).unwrap();
            next += 1;
        }
        wait_number(name, &log, 0, 64, next - 1);
        assert_resumed(name, &numbers(&log, 0, 64), from..next);
    }
    dealer.close();
    router.close();
    assert_eq!(log.wait_lost(), None, "{name}");
}

/// A connection dropped at a chosen byte: first inside the ZMTP greeting
/// (libzmq retries and the first message still arrives), then in the middle
/// of a 4 KiB message. libzmq delivers whole messages or none: every
/// message that arrives is intact, in order, and those written after the
/// reconnection all arrive.
pub fn drop_at_a_byte_delivers_only_whole_messages<D: Driver>(d: &D) {
    const SIZE: usize = 4096;
    let name = d.name();
    let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    let proxy = FaultProxy::start(&first_binding(&pull)).unwrap();
    // In the greeting (64 bytes each way): the first connection dies there.
    proxy.faults().drop_after(Dir::Up, 20);
    let (push, push_log) = open_monitored(d, Spec::new(SocketType::Push), &proxy.endpoint());
    assert!(!proxy.faults().drop_pending(), "{name}");
    assert!(proxy.faults().stats().accepted >= 2, "{name}");
    for i in 0..10 {
        push.write(numbered(i, SIZE)).unwrap();
    }
    wait_number(name, &log, 0, SIZE, 9);
    // In the middle of the third message from now.
    let disconnected = count_events(&push_log.all(), event::DISCONNECTED);
    proxy.faults().drop_after(Dir::Up, 2 * SIZE as u64 + 1000);
    for i in 10..40 {
        push.write(numbered(i, SIZE)).unwrap();
    }
    wait_events(name, &push_log, event::DISCONNECTED, disconnected + 1);
    wait_events(name, &push_log, event::HANDSHAKE_SUCCEEDED, 2);
    for i in 40..60 {
        push.write(numbered(i, SIZE)).unwrap();
    }
    wait_number(name, &log, 0, SIZE, 59);
    // numbers() checks every byte of every message.
    let got = numbers(&log, 0, SIZE);
    assert_resumed(name, &got, 0..10);
    assert_resumed(name, &got, 40..60);
    assert_eq!(proxy.faults().stats().disruptions, 2, "{name}");
    push.close();
    pull.close();
    assert_eq!(push_log.wait_lost(), None, "{name}");
}

/// Writes message `next` the way a protocol honouring flow control does,
/// and checks the buffer stays bounded: a write that takes the buffer over
/// the high mark gets `pause_writing` — before it returns, or (the
/// documented exception) right after a callback that was running then, such
/// as the `resume_writing` just delivered — so the buffer never passes the
/// high mark by more than the one message.
fn write_checked<T: ZmqTransport>(name: &str, t: &T, log: &Log, next: usize) {
    let high = t.get_write_buffer_limits().1;
    let pauses = log.pauses();
    t.write(numbered(next, MSG)).unwrap();
    let size = t.get_write_buffer_size();
    assert!(
        size <= high + MSG,
        "{name}: {size} bytes buffered, over the high mark ({high}) by more than a message; \
         flow callbacks {:?}",
        log.flow()
    );
    if size > high {
        log.wait(&format!("{name}: pause_writing over the high mark"), |_| {
            (log.pauses() > pauses).then_some(())
        });
    }
}

/// Waits until the last flow callback is `resume_writing`, for at most `d`.
fn resumed_within(log: &Log, d: Duration) -> bool {
    log.wait_for(d, |evs| (last_flow(evs) != Some(&Ev::Pause)).then_some(()))
        .is_some()
}

/// A PUSH whose path through the proxy is full (the proxy stalled, so
/// libzmq's queue and the kernel's buffers fill): writes until
/// `pause_writing` holds, with [`write_checked`]'s bound, and at most
/// [`STALL_LIMIT`] messages in all. Returns the next message number.
fn fill_until_paused<T: ZmqTransport>(name: &str, t: &T, log: &Log, mut next: usize) -> usize {
    let start = next;
    loop {
        // The path may still take some (libzmq moves its queue into the
        // kernel): write on after each resume, until a pause holds.
        if log.is_paused() && !resumed_within(log, QUIET) {
            return next;
        }
        assert!(
            next - start < STALL_LIMIT,
            "{name}: {} messages written into a stalled path and no lasting pause_writing",
            next - start
        );
        write_checked(name, t, log, next);
        next += 1;
    }
}

/// A PULL behind a proxy, and a PUSH (small queues, small water marks)
/// connected to it through the proxy, with 10 messages through.
struct StalledPair<D: Driver> {
    proxy: FaultProxy,
    push: D::T,
    log: Arc<Log>,
    pull: D::T,
    plog: Arc<Log>,
}

impl<D: Driver> StalledPair<D> {
    /// With the PUSH's write water marks at `high` and `high / 4`.
    fn open(d: &D, high: usize) -> Self {
        let (pull, plog) = d
            .open(
                Spec::new(SocketType::Pull)
                    .option(SockOpt::RCVHWM, OptValue::Int(10))
                    .bind(ANY_TCP),
            )
            .unwrap();
        let proxy = FaultProxy::start(&first_binding(&pull)).unwrap();
        let (push, log) = d
            .open(
                Spec::new(SocketType::Push)
                    .option(SockOpt::SNDHWM, OptValue::Int(10))
                    .option(SockOpt::SNDBUF, OptValue::Int(4096))
                    .connect(proxy.endpoint()),
            )
            .unwrap();
        push.set_write_buffer_limits(Some(high), None).unwrap();
        for i in 0..10 {
            push.write(numbered(i, MSG)).unwrap();
        }
        wait_number(d.name(), &plog, 0, MSG, 9);
        StalledPair {
            proxy,
            push,
            log,
            pull,
            plog,
        }
    }
}

/// A writer (protocol API) towards a stalled peer: `pause_writing` comes
/// and holds while the stall lasts, with the buffer bounded; when the stall
/// ends `resume_writing` comes, and every message arrives, in order — a
/// stall loses nothing.
pub fn stall_pauses_the_writer_and_loses_nothing<D: Driver>(d: &D) {
    let name = d.name();
    let StalledPair {
        proxy,
        push,
        log,
        pull,
        plog,
    } = StalledPair::open(d, HIGH);
    proxy.faults().stall();
    let mut next = fill_until_paused(name, &push, &log, 10);
    // Nothing went through the stall.
    assert_eq!(plog.msgs().len(), 10, "{name}");
    assert!(log.is_paused(), "{name}");
    proxy.faults().resume();
    assert!(
        resumed_within(&log, TIMEOUT),
        "{name}: no resume_writing after the stall"
    );
    // And on, under flow control, as a protocol would.
    let end = next + 300;
    while next < end {
        if log.is_paused() {
            assert!(resumed_within(&log, TIMEOUT), "{name}: no resume_writing");
        }
        write_checked(name, &push, &log, next);
        next += 1;
    }
    wait_number(name, &plog, 0, MSG, next - 1);
    let got = numbers(&plog, 0, MSG);
    assert_eq!(
        got,
        (0..next).collect::<Vec<_>>(),
        "{name}: a stall lost or reordered"
    );
    let flow = log.flow();
    assert!(
        flow.iter()
            .enumerate()
            .all(|(i, e)| *e == if i % 2 == 0 { Ev::Pause } else { Ev::Resume }),
        "{name}: flow callbacks do not alternate: {flow:?}"
    );
    push.close();
    pull.close();
    assert_eq!(log.wait_lost(), None, "{name}");
    log.assert_contract();
}

/// A stream writing into a stalled path: `drain()` does not return while
/// the stall holds the buffer over the high mark, and returns once the
/// stall ends; every message arrives in order.
pub fn stall_holds_stream_drain_until_it_ends<D: Driver>(d: &D) {
    let name = d.name();
    let (pull, plog) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    let proxy = FaultProxy::start(&first_binding(&pull)).unwrap();
    let mut spec = StreamSpec::new(SocketType::Push);
    spec.write_limits = (Some(HIGH), Some(LOW));
    let push = d.open_stream(spec).unwrap();
    push.transport()
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(10))
        .unwrap();
    push.transport()
        .setsockopt(SockOpt::SNDBUF, OptValue::Int(4096))
        .unwrap();
    push.transport().connect(&proxy.endpoint()).unwrap();
    for i in 0..10 {
        push.write(numbered(i, MSG)).unwrap();
    }
    wait_number(name, &plog, 0, MSG, 9);
    proxy.faults().stall();
    let mut next = 10;
    loop {
        while push.transport().get_write_buffer_size() <= HIGH {
            assert!(
                next < 10 + STALL_LIMIT,
                "{name}: {next} messages written into a stalled path and drain() never waits"
            );
            push.write(numbered(next, MSG)).unwrap();
            next += 1;
        }
        match push.drain(QUIET) {
            // The path took some more: fill it again.
            Ok(()) => continue,
            Err(e) if e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("{name}: drain under a stall: {e}"),
        }
    }
    assert_eq!(
        plog.msgs().len(),
        10,
        "{name}: something went through the stall"
    );
    proxy.faults().resume();
    push.drain(TIMEOUT)
        .unwrap_or_else(|e| panic!("{name}: drain after the stall: {e}"));
    assert!(push.transport().get_write_buffer_size() <= LOW, "{name}");
    wait_number(name, &plog, 0, MSG, next - 1);
    let got = numbers(&plog, 0, MSG);
    assert_eq!(
        got,
        (0..next).collect::<Vec<_>>(),
        "{name}: a stall lost or reordered"
    );
    push.close();
    pull.close();
}

/// The high mark in the close scenario: several times what a stalled path
/// can still absorb after the pause (the PUSH's 4 KiB send buffer, the
/// proxy's fixed 16 KiB receive buffer — which a zero-window probe may
/// reopen by some KiB once the kernel collapses its queue — one 64 KiB
/// read, libzmq's 10-message queue and 8 KiB batch), so the flush can
/// never complete while the stall lasts.
const CLOSE_HIGH: usize = 512 * 1024;

/// `close()` while the peer is stalled with messages buffered: the flush
/// cannot complete, so `close()` gives up once its deadline (the socket's
/// `LINGER`, else `CLOSE_LINGER_MS`) has passed with no message leaving —
/// never before that long after the call, and not much after — with
/// `connection_lost(TimedOut)`.
pub fn close_during_a_stall_ends_by_its_deadline<D: Driver>(d: &D) {
    let name = d.name();
    for linger in [Some(300), None] {
        let StalledPair {
            proxy,
            push,
            log,
            pull,
            plog,
        } = StalledPair::open(d, CLOSE_HIGH);
        proxy.faults().stall();
        fill_until_paused(name, &push, &log, 10);
        assert!(push.get_write_buffer_size() > 0, "{name}");
        if let Some(ms) = linger {
            push.setsockopt(SockOpt::LINGER, OptValue::Int(ms)).unwrap();
        }
        let deadline = Duration::from_millis(linger.unwrap_or(CLOSE_LINGER_MS) as u64);
        let t0 = Instant::now();
        push.close();
        let lost = log.wait_lost();
        let took = t0.elapsed();
        assert_eq!(
            lost.map(|(kind, _)| kind),
            Some(ErrorKind::TimedOut),
            "{name}: linger {linger:?}: {:?}",
            log.lost_text()
        );
        assert!(
            took >= deadline,
            "{name}: gave up after {took:?}, before its deadline {deadline:?}"
        );
        // Slack for a loaded machine; a hang is what this catches.
        assert!(
            took < deadline + Duration::from_secs(3),
            "{name}: gave up only after {took:?} (deadline {deadline:?})"
        );
        log.assert_contract();
        // What the PULL got is a whole prefix.
        let got = numbers(&plog, 0, MSG);
        assert_eq!(got, (0..got.len()).collect::<Vec<_>>(), "{name}");
        pull.close();
        drop(proxy);
    }
}

/// With ZMTP heartbeats on, a peer that goes silent without closing (the
/// proxy stalls) is detected: the monitor reports the disconnection though
/// no one closed the connection; when the stall ends the DEALER's new
/// connection completes its handshake and round trips resume.
pub fn heartbeat_detects_a_stalled_peer<D: Driver>(d: &D) {
    let name = d.name();
    let (router, _rlog) = d
        .open(
            Spec::new(SocketType::Router)
                .bind(ANY_TCP)
                .on_msg(|t: &D::T, m| t.write(m.clone()).expect("echo")),
        )
        .unwrap();
    let proxy = FaultProxy::start(&first_binding(&router)).unwrap();
    let (dealer, log) = open_monitored(d, heartbeat_spec(), &proxy.endpoint());
    dealer.write(numbered(0, 64)).unwrap();
    wait_number(name, &log, 0, 64, 0);
    proxy.faults().stall();
    let t0 = Instant::now();
    wait_events(name, &log, event::DISCONNECTED, 1);
    let took = t0.elapsed();
    assert_eq!(
        proxy.faults().stats().disruptions,
        0,
        "{name}: the proxy closed nothing"
    );
    assert!(
        took >= Duration::from_millis(HEARTBEAT_TIMEOUT_MS as u64 / 2),
        "{name}: disconnected after {took:?}, before any heartbeat could time out"
    );
    proxy.faults().resume();
    wait_events(name, &log, event::HANDSHAKE_SUCCEEDED, 2);
    dealer.write(numbered(1, 64)).unwrap();
    wait_number(name, &log, 0, 64, 1);
    dealer.close();
    router.close();
    assert_eq!(log.wait_lost(), None, "{name}");
}

const HEARTBEAT_IVL_MS: i32 = 100;
const HEARTBEAT_TIMEOUT_MS: i32 = 400;

fn heartbeat_spec<T>() -> Spec<T> {
    Spec::new(SocketType::Dealer)
        .option(SockOpt::HEARTBEAT_IVL, OptValue::Int(HEARTBEAT_IVL_MS))
        .option(
            SockOpt::HEARTBEAT_TIMEOUT,
            OptValue::Int(HEARTBEAT_TIMEOUT_MS),
        )
}

/// The `fault_peer` process: killed (SIGKILL) on drop if still running.
struct PeerProcess {
    child: Child,
    endpoint: String,
}

impl PeerProcess {
    /// Starts `fault_peer` and waits (bounded) for the endpoint it bound.
    fn start(exe: &str) -> PeerProcess {
        let mut child = Command::new(exe)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {exe}: {e}"));
        let stdout = child.stdout.take().expect("its stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|_| panic!("{exe} did not say where it listens"));
        let endpoint = line
            .trim()
            .strip_prefix("ENDPOINT ")
            .unwrap_or_else(|| panic!("{exe} said {line:?}"))
            .to_string();
        PeerProcess { child, endpoint }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid, which is not yet reaped
        // (we hold its Child), so the pid cannot name another process.
        let r = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(r, 0, "kill({}, {sig})", self.child.id());
    }

    /// SIGKILL, then reap it.
    fn kill(mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.child.wait();
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The peer is another process (an echoing ROUTER, `fault_peer`), reached
/// through the proxy. Frozen with SIGSTOP it goes silent without closing:
/// the DEALER's heartbeat detects it and the monitor reports the
/// disconnection. Killed with SIGKILL, and started again (on a new port the
/// proxy is pointed at), it gets the DEALER back: a new handshake, and
/// round trips resume.
pub fn peer_process_frozen_killed_and_restarted<D: Driver>(d: &D, peer_exe: &str) {
    let name = d.name();
    let peer = PeerProcess::start(peer_exe);
    let proxy = FaultProxy::start(&peer.endpoint).unwrap();
    let (dealer, log) = open_monitored(d, heartbeat_spec(), &proxy.endpoint());
    dealer.write(numbered(0, 64)).unwrap();
    wait_number(name, &log, 0, 64, 0);

    peer.signal(libc::SIGSTOP);
    wait_events(name, &log, event::DISCONNECTED, 1);
    assert_eq!(
        proxy.faults().stats().disruptions,
        0,
        "{name}: the heartbeat found the silent peer, not the proxy"
    );
    peer.kill();
    // The DEALER keeps trying; the proxy refuses while no peer listens.
    proxy
        .faults()
        .wait_for(TIMEOUT, |s| s.connect_failures >= 1)
        .unwrap_or_else(|| panic!("{name}: the DEALER stopped reconnecting"));
    let peer = PeerProcess::start(peer_exe);
    proxy
        .faults()
        .set_target(socket_addr(&peer.endpoint).unwrap());
    wait_events(name, &log, event::HANDSHAKE_SUCCEEDED, 2);
    for i in 1..20 {
        dealer.write(numbered(i, 64)).unwrap();
    }
    wait_number(name, &log, 0, 64, 19);
    assert_resumed(name, &numbers(&log, 0, 64), 1..20);
    dealer.close();
    assert_eq!(log.wait_lost(), None, "{name}");
    drop(peer);
}

//! Scenarios for issue 9 (hangs, leaks and misreports outside the sans-IO
//! core), items 1, 4–8 and 10–12: each one written against the public API
//! and run on every driver. The items about dropping a runtime (2, 3) and
//! about signals (9) are process-wide and live in their own test binaries.

use std::io::ErrorKind;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiozmq_core::ZmqTransport;
use aiozmq_core::{error, event, zmq_errno, Bytes, Multipart, OptValue, SockOpt, SocketType};

use super::{first_binding, number, numbered};
use crate::{msg, raw, Driver, Ev, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

/// `tcp://127.0.0.1:P` where nobody listens: a port the OS just gave out
/// and took back (connections to it are refused, so libzmq keeps retrying).
pub fn absent_tcp_endpoint() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("its address").port();
    drop(listener);
    format!("tcp://127.0.0.1:{port}")
}

/// The port of a `tcp://host:port` endpoint.
pub fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint}"))
}

/// Whether `text` holds `n` as a whole number (not as a digit of another).
fn mentions_number(text: &str, n: usize) -> bool {
    text.split(|c: char| !c.is_ascii_digit())
        .any(|word| word == n.to_string())
}

// ----- item 1: the monitor toggled, the main socket's wake-ups kept -----

/// Sends `from..to` one at a time, each waited for: every message needs a
/// wake-up of its own from the PULL's socket.
fn one_by_one<D: Driver>(d: &D, push: &D::T, log: &crate::Log, from: usize, to: usize) {
    for i in from..to {
        push.write(numbered(i, 16)).unwrap();
        let got = log.wait_msgs(i + 1);
        assert_eq!(number(&got[i]), i, "{}: out of order", d.name());
    }
}

/// Item 1: after `disable_monitor()` a PULL still receives every message
/// (tokio and smol used to drop the main socket's registration with the
/// monitor's, and never heard from the socket again).
pub fn messages_still_arrive_after_disable_monitor<D: Driver>(d: &D) {
    let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    d.enable_monitor(&pull, None).unwrap();
    let (push, _) = d
        .open(Spec::new(SocketType::Push).connect(first_binding(&pull)))
        .unwrap();
    one_by_one(d, &push, &log, 0, 1);
    log.wait_event(event::HANDSHAKE_SUCCEEDED);
    d.disable_monitor(&pull).unwrap();
    one_by_one(d, &push, &log, 1, 30);
    // A burst too.
    for i in 30..1000 {
        push.write(numbered(i, 16)).unwrap();
    }
    let got = log.wait_msgs(1000);
    assert!(got.iter().enumerate().all(|(i, m)| number(m) == i));
    push.close();
    pull.close();
    log.wait_lost();
    log.assert_contract();
}

/// Item 1: after a second `enable_monitor()` a PULL still receives every
/// message, and the new monitor reports a new connection.
pub fn messages_and_events_arrive_after_second_enable_monitor<D: Driver>(d: &D) {
    let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    d.enable_monitor(&pull, Some(event::LISTENING)).unwrap();
    d.enable_monitor(&pull, None).unwrap();
    let ep = first_binding(&pull);
    let (push, _) = d.open(Spec::new(SocketType::Push).connect(&ep)).unwrap();
    one_by_one(d, &push, &log, 0, 30);
    log.wait_event(event::ACCEPTED);
    log.wait_event(event::HANDSHAKE_SUCCEEDED);
    // A second peer: events and messages both keep coming.
    let (push2, _) = d.open(Spec::new(SocketType::Push).connect(&ep)).unwrap();
    log.wait(&format!("{}: two HANDSHAKE_SUCCEEDED", d.name()), |evs| {
        (evs.iter()
            .filter(|e| matches!(e, Ev::Event(ev) if ev.event == event::HANDSHAKE_SUCCEEDED))
            .count()
            >= 2)
            .then_some(())
    });
    push2.write(numbered(30, 16)).unwrap();
    assert_eq!(number(&log.wait_msgs(31)[30]), 30);
    one_by_one(d, &push, &log, 31, 40);
    for t in [&push, &push2, &pull] {
        t.close();
    }
    log.wait_lost();
    log.assert_contract();
}

// ----- item 4: a close that can never flush ends -----

/// A PUSH with IMMEDIATE=1 connected to a port nobody listens on: libzmq
/// takes nothing, so every write stays in the transport's buffer.
fn stuck_push<D: Driver>(d: &D, linger: Option<i32>) -> (D::T, Arc<crate::Log>) {
    let mut spec = Spec::new(SocketType::Push).option(SockOpt::IMMEDIATE, OptValue::Int(1));
    if let Some(ms) = linger {
        spec = spec.option(SockOpt::LINGER, OptValue::Int(ms));
    }
    let (push, log) = d.open(spec.connect(absent_tcp_endpoint())).unwrap();
    for i in 0..3 {
        push.write(numbered(i, 100)).unwrap();
    }
    assert_eq!(
        push.get_write_buffer_size(),
        300,
        "{}: all three buffered",
        d.name()
    );
    (push, log)
}

/// Waits for the give-up of a close that could not flush: `connection_lost`
/// with `TimedOut`, saying three messages were dropped, not before `linger`.
fn assert_gave_up(d: &impl Driver, log: &crate::Log, closed_at: Instant, linger: Duration) {
    let lost = log.wait_lost();
    let elapsed = closed_at.elapsed();
    let (kind, _) = lost.unwrap_or_else(|| {
        panic!(
            "{}: connection_lost(None) after {elapsed:?}, but three messages were never sent",
            d.name()
        )
    });
    assert_eq!(kind, ErrorKind::TimedOut, "{}", d.name());
    let text = log.lost_text().expect("the error's text");
    assert!(
        mentions_number(&text, 3),
        "{}: the error does not say 3 messages were dropped: {text:?}",
        d.name()
    );
    assert!(
        elapsed >= linger,
        "{}: gave up after {elapsed:?}, before the linger of {linger:?}",
        d.name()
    );
    log.assert_contract();
}

/// Item 4: `close()` of a PUSH whose peer never comes gives up after the
/// default linger (1 s): `connection_lost(Some(TimedOut))`, 3 dropped.
pub fn close_gives_up_after_default_linger<D: Driver>(d: &D) {
    let (push, log) = stuck_push(d, None);
    let closed_at = Instant::now();
    push.close();
    assert_gave_up(d, &log, closed_at, Duration::from_secs(1));
    assert_eq!(
        push.write(msg(&[b"late"])).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

/// Item 4: with the user's `LINGER` of 100 ms, `close()` gives up after
/// 100 ms rather than the default 1 s.
pub fn close_gives_up_after_user_linger<D: Driver>(d: &D) {
    let (push, log) = stuck_push(d, None);
    push.setsockopt(SockOpt::LINGER, OptValue::Int(100))
        .unwrap();
    let closed_at = Instant::now();
    push.close();
    assert_gave_up(d, &log, closed_at, Duration::from_millis(100));
    let elapsed = closed_at.elapsed();
    assert!(
        elapsed < Duration::from_millis(900),
        "{}: waited {elapsed:?}: the default linger, not the user's 100 ms",
        d.name()
    );
}

/// Item 4: `LINGER = -1` is the user's explicit "wait for ever": no give-up
/// within 2 s; `abort()` then ends it with `connection_lost(None)`.
pub fn close_with_infinite_linger_waits_until_abort<D: Driver>(d: &D) {
    let (push, log) = stuck_push(d, Some(-1));
    push.close();
    let early = log.wait_for(Duration::from_secs(2), |evs| {
        evs.iter().find(|e| matches!(e, Ev::Lost(_))).cloned()
    });
    assert_eq!(early, None, "{}: LINGER -1 must wait for ever", d.name());
    push.abort();
    assert_eq!(log.wait_lost(), None, "{}", d.name());
    log.assert_contract();
}

/// Item 4: a slow but live peer still gets everything: the flush takes far
/// longer than LINGER (200 ms) in all, but a message leaves the buffer
/// more often than that, so close() never gives up.
pub fn close_flushes_everything_to_a_slow_peer<D: Driver>(d: &D) {
    // The peer takes a message every ~20 ms: far inside the linger (so a
    // loaded machine's hiccups do not look like an absent peer), while the
    // whole flush lasts well over it.
    const N: usize = 60;
    const SIZE: usize = 64 * 1024;
    const PACE: Duration = Duration::from_millis(20);
    let ctx = zmq::Context::new();
    let peer = raw(&ctx, zmq::PULL);
    peer.set_rcvhwm(1).unwrap();
    peer.set_rcvbuf(4096).unwrap();
    peer.bind(ANY_TCP).unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    let (push, log) = d
        .open(
            Spec::new(SocketType::Push)
                .option(SockOpt::SNDHWM, OptValue::Int(1))
                .option(SockOpt::SNDBUF, OptValue::Int(4096))
                .option(SockOpt::LINGER, OptValue::Int(500))
                .connect(ep),
        )
        .unwrap();
    push.write(numbered(0, SIZE)).unwrap();
    let first = peer.recv_bytes(0).expect("the first message");
    assert_eq!(u64::from_le_bytes(first[..8].try_into().unwrap()), 0);
    for i in 1..N {
        push.write(numbered(i, SIZE)).unwrap();
    }
    assert!(
        push.get_write_buffer_size() > 10 * SIZE,
        "{}: the test needs a backlog in the transport: {}",
        d.name(),
        push.get_write_buffer_size()
    );
    push.close();
    let closed_at = Instant::now();
    for i in 1..N {
        let m = peer
            .recv_bytes(0)
            .unwrap_or_else(|e| panic!("{}: message {i} of {N} never came: {e}", d.name()));
        assert_eq!(u64::from_le_bytes(m[..8].try_into().unwrap()) as usize, i);
        // A slow reader (pacing the peer, not synchronising the test).
        std::thread::sleep(PACE);
    }
    assert!(closed_at.elapsed() > Duration::from_millis(1000));
    assert_eq!(log.wait_lost(), None, "{}", d.name());
    log.assert_contract();
}

/// Item 4, the stream: `drain()` after a close that gave up returns the
/// error the connection was lost with (`TimedOut`, 3 dropped).
pub fn stream_drain_after_close_gave_up_is_timed_out<D: Driver>(d: &D) {
    let s = d.open_stream(StreamSpec::new(SocketType::Push)).unwrap();
    s.transport()
        .setsockopt(SockOpt::IMMEDIATE, OptValue::Int(1))
        .unwrap();
    s.transport()
        .setsockopt(SockOpt::LINGER, OptValue::Int(100))
        .unwrap();
    s.transport().connect(&absent_tcp_endpoint()).unwrap();
    for i in 0..3 {
        s.write(numbered(i, 100)).unwrap();
    }
    assert_eq!(s.transport().get_write_buffer_size(), 300);
    s.close();
    // The stream has no callback to wait on: poll drain() (bounded) until
    // it stops saying "closed" (ConnectionReset) and gives the loss itself.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let r = s.drain(Duration::from_secs(1));
        match &r {
            // The harness's own timeout says exactly "timed out".
            Err(e) if e.kind() == ErrorKind::TimedOut && e.to_string() != "timed out" => {
                assert!(
                    mentions_number(&e.to_string(), 3),
                    "{}: the error does not say 3 messages were dropped: {e}",
                    d.name()
                );
                break;
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "{}: drain() never reported the give-up; last: {r:?}",
            d.name()
        );
        // Polling: the stream offers nothing else to wait on.
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ----- item 5: flow callbacks strictly alternate -----

const FLOW_HIGH: usize = 4096;
const FLOW_LOW: usize = 1024;
const FLOW_SIZE: usize = 1024;
/// How long the transport's flow scenario writes, at most (per driver):
/// long enough for thousands of crossings on 2 busy cores.
const FLOW_TIME: Duration = Duration::from_secs(8);
/// How long the stream's flow scenario writes, at most (per driver).
const STREAM_FLOW_TIME: Duration = Duration::from_secs(4);
/// Enough crossings to see a misordering that happens a few times in 10,000.
const FLOW_TARGET: usize = 30_000;
/// The reader rests 1 ms after this many messages.
const READER_PACE: usize = 16;
/// Writer threads in the transport case (more only share the 2 cores).
const FLOW_WRITERS: usize = 2;
/// Writer threads in the stream case.
const STREAM_WRITERS: usize = 3;
/// Messages each writer writes at a time (4 cross high from low).
const FLOW_BURST: usize = 4;

/// A raw PULL that reads steadily (1 ms of rest every [`READER_PACE`]
/// messages: about 16 MB/s, slower than the writers), through the smallest
/// queues, so that the writers' buffer fills and empties all the time. It stops once
/// it has read as many messages as the returned counter says were written
/// (`usize::MAX` until then), or after [`TIMEOUT`] without any.
fn paced_reader() -> (String, Arc<AtomicUsize>, std::thread::JoinHandle<usize>) {
    let ctx = zmq::Context::new();
    let peer = raw(&ctx, zmq::PULL);
    peer.set_rcvhwm(1).unwrap();
    peer.set_rcvbuf(4096).unwrap();
    peer.set_rcvtimeo(50).unwrap();
    peer.bind(ANY_TCP).unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    let expect = Arc::new(AtomicUsize::new(usize::MAX));
    let expect2 = expect.clone();
    let reader = std::thread::spawn(move || {
        let _ctx = ctx;
        let mut n = 0;
        let mut last = Instant::now();
        while n < expect2.load(Ordering::Acquire) {
            match peer.recv_bytes(0) {
                Ok(_) => {
                    n += 1;
                    last = Instant::now();
                    if n % READER_PACE == 0 {
                        // Pacing the reader (not synchronising): the writers
                        // always outrun it, so the buffer fills every time.
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {
                    if last.elapsed() > TIMEOUT {
                        break;
                    }
                }
                Err(e) => panic!("the reader failed: {e}"),
            }
        }
        n
    });
    (ep, expect, reader)
}

/// Indexes where the sequence breaks `Pause, Resume, Pause, …`.
fn flow_violations(flow: &[Ev]) -> Vec<usize> {
    flow.iter()
        .enumerate()
        .filter(|(i, e)| **e != if i % 2 == 0 { Ev::Pause } else { Ev::Resume })
        .map(|(i, _)| i)
        .collect()
}

/// Item 5: `pause_writing`/`resume_writing` strictly alternate, starting
/// with pause, while several threads write as fast as they can (each one
/// honouring pause, but writing again as soon as the buffer is at low).
pub fn flow_callbacks_alternate_with_concurrent_writers<D: Driver>(d: &D) {
    let (ep, expect, reader) = paced_reader();
    let (push, log) = d
        .open(
            Spec::new(SocketType::Push)
                .option(SockOpt::SNDHWM, OptValue::Int(1))
                .option(SockOpt::SNDBUF, OptValue::Int(4096))
                .connect(ep),
        )
        .unwrap();
    push.set_write_buffer_limits(Some(FLOW_HIGH), Some(FLOW_LOW))
        .unwrap();
    let deadline = Instant::now() + FLOW_TIME;
    let writes = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..FLOW_WRITERS {
            let push = push.clone();
            let (log, writes) = (&log, &writes);
            s.spawn(move || {
                let body = Bytes::from(vec![7u8; FLOW_SIZE]);
                let mut n = 0usize;
                loop {
                    if n.is_multiple_of(32)
                        && (log.pauses() >= FLOW_TARGET || Instant::now() >= deadline)
                    {
                        break;
                    }
                    let size = push.get_write_buffer_size();
                    // Write while the protocol was not told to pause, and at
                    // once when the buffer is back at low, resumed or not
                    // yet; never while the buffer is over high (so the
                    // test goes on crossing should the callbacks get out of
                    // step with the buffer).
                    if !(size <= FLOW_LOW || (!log.is_paused() && size <= FLOW_HIGH)) {
                        std::hint::spin_loop();
                        std::thread::yield_now();
                        n += 1;
                        continue;
                    }
                    // A burst: enough to cross high at once from low.
                    for _ in 0..FLOW_BURST {
                        push.write(Multipart::from_iter([body.clone()])).unwrap();
                    }
                    n += 1;
                    writes.fetch_add(FLOW_BURST, Ordering::Relaxed);
                }
            });
        }
    });
    // Everything leaves; the last pause, if any, is answered.
    let drained = Instant::now() + TIMEOUT;
    while push.get_write_buffer_size() > 0 {
        assert!(
            Instant::now() < drained,
            "{}: the buffer never drained",
            d.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let flow = log.wait(&format!("{}: the last resume_writing", d.name()), |evs| {
        let flow: Vec<Ev> = evs
            .iter()
            .filter(|e| matches!(e, Ev::Pause | Ev::Resume))
            .cloned()
            .collect();
        (flow.last() != Some(&Ev::Pause)).then_some(flow)
    });
    push.close();
    log.wait_lost();
    expect.store(writes.load(Ordering::Relaxed), Ordering::Release);
    let read = reader.join().unwrap();
    let bad = flow_violations(&flow);
    eprintln!(
        "{}: {} flow callbacks, {} out of order, {} writes",
        d.name(),
        flow.len(),
        bad.len(),
        writes.load(Ordering::Relaxed)
    );
    assert!(
        bad.is_empty(),
        "{}: {} of {} flow callbacks out of order (pause/resume must alternate, pause first); \
         first at {}: {:?}",
        d.name(),
        bad.len(),
        flow.len(),
        bad[0],
        &flow[bad[0].saturating_sub(3)..(bad[0] + 3).min(flow.len())]
    );
    let crossings = flow.len() / 2;
    assert!(
        crossings >= 300,
        "{}: only {crossings} pause/resume crossings in {} writes: the test proves nothing",
        d.name(),
        writes.load(Ordering::Relaxed)
    );
    assert_eq!(read, writes.load(Ordering::Relaxed), "{}", d.name());
    log.assert_contract();
}

/// Item 5, the stream: several threads each `write(); drain();` as fast as
/// they can; right after `drain()` returns Ok the buffer is at most high,
/// give or take the one message each other writer may have added since.
pub fn stream_drain_never_returns_over_high_with_concurrent_writers<D: Driver>(d: &D)
where
    D::S: Sync,
{
    let (ep, expect, reader) = paced_reader();
    let mut spec = StreamSpec::new(SocketType::Push);
    spec.write_limits = (Some(FLOW_HIGH), Some(FLOW_LOW));
    let s = d.open_stream(spec).unwrap();
    s.transport()
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(1))
        .unwrap();
    s.transport()
        .setsockopt(SockOpt::SNDBUF, OptValue::Int(4096))
        .unwrap();
    s.transport().connect(&ep).unwrap();
    let bound = FLOW_HIGH + STREAM_WRITERS * FLOW_SIZE;
    let deadline = Instant::now() + STREAM_FLOW_TIME;
    let crossings = AtomicUsize::new(0);
    let writes = AtomicUsize::new(0);
    let worst = AtomicUsize::new(0);
    let over = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..STREAM_WRITERS {
            let (s, crossings, writes, worst, over) = (&s, &crossings, &writes, &worst, &over);
            scope.spawn(move || {
                let body = Bytes::from(vec![7u8; FLOW_SIZE]);
                let mut n = 0usize;
                while !(n.is_multiple_of(32)
                    && (crossings.load(Ordering::Relaxed) >= FLOW_TARGET
                        || Instant::now() >= deadline))
                {
                    n += 1;
                    s.write(Multipart::from_iter([body.clone()])).unwrap();
                    writes.fetch_add(1, Ordering::Relaxed);
                    if s.transport().get_write_buffer_size() > FLOW_HIGH {
                        crossings.fetch_add(1, Ordering::Relaxed);
                    }
                    s.drain(TIMEOUT).unwrap();
                    let size = s.transport().get_write_buffer_size();
                    if size > bound {
                        over.fetch_add(1, Ordering::Relaxed);
                        worst.fetch_max(size, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let drained = Instant::now() + TIMEOUT;
    while s.transport().get_write_buffer_size() > 0 {
        assert!(
            Instant::now() < drained,
            "{}: the buffer never drained",
            d.name()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    s.close();
    expect.store(writes.load(Ordering::Relaxed), Ordering::Release);
    let read = reader.join().unwrap();
    eprintln!(
        "{}: {} writes over high, {} drains returned over the bound (worst {} B)",
        d.name(),
        crossings.load(Ordering::Relaxed),
        over.load(Ordering::Relaxed),
        worst.load(Ordering::Relaxed)
    );
    assert_eq!(
        over.load(Ordering::Relaxed),
        0,
        "{}: drain() returned Ok {} times with the buffer over high ({FLOW_HIGH}) + \
         {STREAM_WRITERS} messages; worst {} bytes",
        d.name(),
        over.load(Ordering::Relaxed),
        worst.load(Ordering::Relaxed)
    );
    let crossings = crossings.load(Ordering::Relaxed);
    assert!(
        crossings >= 300,
        "{}: only {crossings} writes over high: the test proves nothing",
        d.name()
    );
    assert_eq!(read, writes.load(Ordering::Relaxed), "{}", d.name());
}

// ----- items 6 and 7: after close -----

/// Item 6: `drain()` right after `close()` is `ConnectionReset` (nothing was
/// lost yet), never Ok — also with messages still buffered for a peer that
/// is not there.
pub fn stream_drain_right_after_close_is_connection_reset<D: Driver>(d: &D) {
    // Messages buffered (no peer at all): the close cannot have ended yet.
    let s = d.open_stream(StreamSpec::new(SocketType::Push)).unwrap();
    for i in 0..3 {
        s.write(numbered(i, 100)).unwrap();
    }
    assert!(s.transport().get_write_buffer_size() > 0);
    s.close();
    let r = s.drain(Duration::from_secs(5));
    assert_eq!(
        r.as_ref().map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionReset),
        "{}: drain() right after close(): {r:?}",
        d.name()
    );
    s.transport().abort();
    // Nothing buffered.
    let s = d.open_stream(StreamSpec::new(SocketType::Dealer)).unwrap();
    s.close();
    let r = s.drain(Duration::from_secs(5));
    assert_eq!(
        r.as_ref().map_err(|e| e.kind()),
        Err(ErrorKind::ConnectionReset),
        "{}: drain() right after close() of an idle stream: {r:?}",
        d.name()
    );
}

/// Item 7: `pause_reading()`, `resume_reading()` and
/// `set_write_buffer_limits()` after `close()` (and after abort, and after
/// the loss) are `NotConnected`, like `write()`.
pub fn flow_calls_after_close_are_not_connected<D: Driver>(d: &D) {
    let check = |t: &D::T, when: &str| {
        let kind = |r: std::io::Result<()>| r.map_err(|e| e.kind());
        assert_eq!(
            kind(t.resume_reading()),
            Err(ErrorKind::NotConnected),
            "{}: resume_reading() {when}",
            d.name()
        );
        assert_eq!(
            kind(t.pause_reading()),
            Err(ErrorKind::NotConnected),
            "{}: pause_reading() {when}",
            d.name()
        );
        assert_eq!(
            kind(t.set_write_buffer_limits(Some(1000), None)),
            Err(ErrorKind::NotConnected),
            "{}: set_write_buffer_limits() {when}",
            d.name()
        );
        assert_eq!(
            kind(t.write(msg(&[b"x"]))),
            Err(ErrorKind::NotConnected),
            "{}: write() {when}",
            d.name()
        );
    };
    // Paused before close: resume_reading() after it must not be Ok.
    let (t, log) = d.open(Spec::new(SocketType::Dealer).bind(ANY_TCP)).unwrap();
    t.pause_reading().unwrap();
    t.close();
    check(&t, "after close()");
    log.wait_lost();
    check(&t, "after connection_lost");
    // Not paused before abort.
    let (t, log) = d.open(Spec::new(SocketType::Dealer)).unwrap();
    t.abort();
    check(&t, "after abort()");
    log.wait_lost();
    check(&t, "after connection_lost");
    log.assert_contract();
}

// ----- item 8: the sets say what libzmq really has -----

/// Item 8: libzmq resolves tcp addresses in unbind/disconnect, so another
/// spelling of the same address (`localhost` for `127.0.0.1`) succeeds;
/// `bindings()`/`connections()` must then no longer list the endpoint.
/// A spelling libzmq refuses leaves the sets as they were.
pub fn unbind_and_disconnect_by_another_spelling_update_sets<D: Driver>(d: &D) {
    // What libzmq itself does.
    let ctx = zmq::Context::new();
    let s = raw(&ctx, zmq::PULL);
    s.bind(ANY_TCP).unwrap();
    let p = port_of(&s.get_last_endpoint().unwrap().unwrap());
    s.unbind(&format!("tcp://localhost:{p}"))
        .expect("libzmq unbinds tcp://localhost:P bound as tcp://127.0.0.1:P");
    let c = raw(&ctx, zmq::PUSH);
    c.connect(&format!("tcp://127.0.0.1:{p}")).unwrap();
    c.disconnect(&format!("tcp://localhost:{p}"))
        .expect("libzmq disconnects tcp://localhost:P connected as tcp://127.0.0.1:P");
    drop((s, c));

    let (server, _) = d.open(Spec::new(SocketType::Pull)).unwrap();
    let kept = server.bind(ANY_TCP).unwrap();
    let real = server.bind(ANY_TCP).unwrap();
    let p = port_of(&real);
    server.unbind(&format!("tcp://localhost:{p}")).unwrap();
    assert_eq!(
        server.bindings().into_iter().collect::<Vec<_>>(),
        vec![kept.clone()],
        "{}: {real} was unbound as tcp://localhost:{p}",
        d.name()
    );
    crate::leaks::wait_ports_free(&[p], d.name());
    // A spelling libzmq refuses (another address): nothing changes.
    let e = server
        .unbind(&format!("tcp://127.0.0.2:{}", port_of(&kept)))
        .unwrap_err();
    assert_eq!(zmq_errno(&e), Some(libc::ENOENT), "{e}");
    assert_eq!(server.bindings().len(), 1);

    let (client, _) = d.open(Spec::new(SocketType::Push)).unwrap();
    let a = client.connect(&format!("tcp://127.0.0.1:{p}")).unwrap();
    let b = client.connect(&kept).unwrap();
    client.disconnect(&format!("tcp://localhost:{p}")).unwrap();
    assert_eq!(
        client.connections().into_iter().collect::<Vec<_>>(),
        vec![b.clone()],
        "{}: {a} was disconnected as tcp://localhost:{p}",
        d.name()
    );
    let e = client
        .disconnect(&format!("tcp://127.0.0.2:{}", port_of(&kept)))
        .unwrap_err();
    assert_eq!(zmq_errno(&e), Some(libc::ENOENT), "{e}");
    assert_eq!(client.connections().len(), 1);
    client.close();
    server.close();
}

// ----- items 10–12: errors -----

/// Item 10: an empty tcp address is `InvalidInput` with libzmq's EINVAL.
pub fn empty_tcp_address_is_invalid_input_with_einval<D: Driver>(d: &D) {
    let ctx = zmq::Context::new();
    let s = raw(&ctx, zmq::DEALER);
    assert_eq!(s.connect("tcp://"), Err(zmq::Error::EINVAL), "libzmq's own");
    assert_eq!(s.bind("tcp://"), Err(zmq::Error::EINVAL), "libzmq's own");
    drop(s);
    let (t, _) = d.open(Spec::new(SocketType::Dealer)).unwrap();
    for (what, r) in [
        ("connect", t.connect("tcp://").map(drop)),
        ("bind", t.bind("tcp://").map(drop)),
    ] {
        let e = r.unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::InvalidInput,
            "{}: {what}: {e}",
            d.name()
        );
        assert_eq!(
            zmq_errno(&e),
            Some(libc::EINVAL),
            "{}: {what}(\"tcp://\"): {e}",
            d.name()
        );
    }
    assert!(t.connections().is_empty() && t.bindings().is_empty());
    t.bind(ANY_TCP).unwrap();
    t.close();
}

/// Item 11, the direct send: a REQ writing out of turn gets EFSM from
/// `write()` and the transport stays usable.
pub fn efsm_on_direct_send_is_returned_and_transport_lives<D: Driver>(d: &D) {
    let (rep, rep_log) = d.open(Spec::new(SocketType::Rep).bind(ANY_TCP)).unwrap();
    let (req, req_log) = d
        .open(Spec::new(SocketType::Req).connect(first_binding(&rep)))
        .unwrap();
    req.write(msg(&[b"q1"])).unwrap();
    rep_log.wait_msgs(1);
    let e = req.write(msg(&[b"q2"])).unwrap_err();
    assert_eq!(zmq_errno(&e), Some(error::EFSM), "{}: {e}", d.name());
    assert_eq!(
        req.get_write_buffer_size(),
        0,
        "the refused message is gone"
    );
    rep.write(msg(&[b"a1"])).unwrap();
    assert_eq!(req_log.wait_msgs(1)[0], msg(&[b"a1"]));
    req.write(msg(&[b"q3"])).unwrap();
    assert_eq!(rep_log.wait_msgs(2)[1], msg(&[b"q3"]));
    assert!(!req.is_closing());
    assert_eq!(req_log.count(|e| matches!(e, Ev::Lost(_))), 0);
    req.close();
    rep.close();
    req_log.wait_lost();
    req_log.assert_contract();
}

/// Item 11, a buffered message: a REQ with no peer buffers two requests;
/// once connected, the first is sent and the second fails with EFSM, which
/// is fatal (no caller is left to tell): `connection_lost(Some(EFSM))`.
pub fn efsm_on_buffered_message_is_fatal<D: Driver>(d: &D) {
    let (rep, _) = d.open(Spec::new(SocketType::Rep).bind(ANY_TCP)).unwrap();
    let (req, req_log) = d.open(Spec::new(SocketType::Req)).unwrap();
    req.write(msg(&[b"q1"])).unwrap();
    req.write(msg(&[b"q2"])).unwrap();
    assert_eq!(
        req.get_write_buffer_size(),
        4,
        "{}: both buffered",
        d.name()
    );
    req.connect(&first_binding(&rep)).unwrap();
    // q1 goes to libzmq, q2 is refused. Whether q1 then reaches the REP is
    // a race (a fatal error closes the socket with zero linger): not asserted.
    let lost = req_log.wait_lost();
    assert_eq!(
        lost.map(|(_, errno)| errno),
        Some(Some(error::EFSM)),
        "{}: {lost:?}",
        d.name()
    );
    req_log.assert_contract();
    rep.close();
}

/// Item 12: ROUTER_MANDATORY and an unknown peer: `write()` is
/// `HostUnreachable` with EHOSTUNREACH, and the transport stays usable.
pub fn router_mandatory_unknown_peer_is_host_unreachable<D: Driver>(d: &D) {
    let (router, rlog) = d
        .open(
            Spec::new(SocketType::Router)
                .option(SockOpt::ROUTER_MANDATORY, OptValue::Int(1))
                .bind(ANY_TCP),
        )
        .unwrap();
    let e = router.write(msg(&[b"nobody", b"hello"])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable, "{}: {e}", d.name());
    assert_eq!(zmq_errno(&e), Some(libc::EHOSTUNREACH), "{}: {e}", d.name());
    assert_eq!(router.get_write_buffer_size(), 0);
    let (dealer, dlog) = d
        .open(
            Spec::new(SocketType::Dealer)
                .option(SockOpt::ROUTING_ID, OptValue::from(&b"dealer"[..]))
                .connect(first_binding(&router)),
        )
        .unwrap();
    dealer.write(msg(&[b"hi"])).unwrap();
    assert_eq!(rlog.wait_msgs(1)[0], msg(&[b"dealer", b"hi"]));
    router.write(msg(&[b"dealer", b"reply"])).unwrap();
    assert_eq!(dlog.wait_msgs(1)[0], msg(&[b"reply"]));
    // Unknown again, then known again: still fine.
    let e = router.write(msg(&[b"nobody", b"again"])).unwrap_err();
    assert_eq!(zmq_errno(&e), Some(libc::EHOSTUNREACH), "{e}");
    router.write(msg(&[b"dealer", b"reply 2"])).unwrap();
    assert_eq!(dlog.wait_msgs(2)[1], msg(&[b"reply 2"]));
    assert!(!router.is_closing());
    assert_eq!(rlog.count(|e| matches!(e, Ev::Lost(_))), 0);
    dealer.close();
    router.close();
    rlog.wait_lost();
    rlog.assert_contract();
}

//! Closing: the flush and its deadline; calls after close.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiozmq_core::ZmqTransport;
use aiozmq_core::{OptValue, SockOpt, SocketType};

use super::numbered;
use super::support::{absent_tcp_endpoint, mentions_number};
use crate::{msg, raw, Driver, Ev, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

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

/// `close()` of a PUSH whose peer never comes gives up after the
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

/// With the user's `LINGER` of 100 ms, `close()` gives up after
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

/// `LINGER = -1` is the user's explicit "wait for ever": no give-up
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

/// A slow but live peer still gets everything: the flush takes far
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

/// The stream: `drain()` after a close that gave up returns the
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

/// `drain()` right after `close()` is `ConnectionReset` (nothing was
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

/// `pause_reading()`, `resume_reading()` and
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

//! Closing: a full flush includes what libzmq still holds.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};

use crate::{raw, Driver, Spec, ANY_TCP};

fn numbered(i: usize, size: usize) -> Multipart {
    let mut body = vec![0u8; size.max(8)];
    body[..8].copy_from_slice(&(i as u64).to_le_bytes());
    Multipart::from_iter([Bytes::from(body)])
}

/// Every message went straight into libzmq's queue (our buffer stays
/// empty), and the slow peer takes them over far longer than the linger:
/// `close()` follows libzmq's queue, each message the peer takes counting
/// as progress, so all arrive and `connection_lost(None)` means it.
pub fn close_flushes_libzmqs_queue_to_a_slow_peer<D: Driver>(d: &D) {
    const N: usize = 60;
    const SIZE: usize = 64 * 1024;
    // Far inside the linger per message; the whole flush lasts well over it.
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
                .option(SockOpt::SNDBUF, OptValue::Int(4096))
                .option(SockOpt::LINGER, OptValue::Int(300))
                .connect(ep),
        )
        .unwrap();
    for i in 0..N {
        push.write(numbered(i, SIZE)).unwrap();
    }
    assert_eq!(
        push.get_write_buffer_size(),
        0,
        "{}: the test needs libzmq, not us, to hold the backlog",
        d.name()
    );
    push.close();
    let closed_at = Instant::now();
    for i in 0..N {
        let m = peer
            .recv_bytes(0)
            .unwrap_or_else(|e| panic!("{}: message {i} of {N} never came: {e}", d.name()));
        assert_eq!(u64::from_le_bytes(m[..8].try_into().unwrap()) as usize, i);
        // A slow reader (pacing the peer, not synchronising the test).
        std::thread::sleep(PACE);
    }
    assert!(closed_at.elapsed() > Duration::from_millis(600));
    assert_eq!(log.wait_lost(), None, "{}", d.name());
    log.assert_contract();
}

/// A live peer that takes nothing: libzmq holds the messages, nothing
/// moves, and `close()` gives up after the linger with `TimedOut` saying
/// libzmq's messages were dropped, instead of reporting a full flush.
pub fn close_reports_what_libzmq_could_not_deliver<D: Driver>(d: &D) {
    let ctx = zmq::Context::new();
    let peer = raw(&ctx, zmq::PULL);
    peer.set_rcvhwm(1).unwrap();
    peer.set_rcvbuf(4096).unwrap();
    peer.bind(ANY_TCP).unwrap();
    let ep = peer.get_last_endpoint().unwrap().unwrap();
    let (push, log) = d
        .open(
            Spec::new(SocketType::Push)
                .option(SockOpt::SNDBUF, OptValue::Int(4096))
                .option(SockOpt::LINGER, OptValue::Int(100))
                .connect(ep),
        )
        .unwrap();
    // The connection is up once the first message is through.
    push.write(numbered(0, 16)).unwrap();
    peer.recv_bytes(0).expect("the first message");
    for i in 1..200 {
        push.write(numbered(i, 1024)).unwrap();
    }
    assert_eq!(
        push.get_write_buffer_size(),
        0,
        "{}: libzmq took them",
        d.name()
    );
    let closed_at = Instant::now();
    push.close();
    let lost = log.wait_lost();
    let (kind, _) = lost.unwrap_or_else(|| {
        panic!(
            "{}: connection_lost(None) after {:?}, but the peer took nothing",
            d.name(),
            closed_at.elapsed()
        )
    });
    assert_eq!(kind, ErrorKind::TimedOut, "{}", d.name());
    let text = log.lost_text().unwrap_or_default();
    assert!(text.contains("libzmq"), "{}: {text}", d.name());
    assert!(
        closed_at.elapsed() >= Duration::from_millis(100),
        "{}",
        d.name()
    );
    log.assert_contract();
    drop(peer);
}

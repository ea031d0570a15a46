//! Write flow control: what the water marks count.

use std::sync::mpsc;

use aiozmq_core::{
    Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport, MIN_MESSAGE_COST,
};

use crate::{msg, Driver, Ev, Spec, ANY_TCP, TIMEOUT};

/// Messages of empty frames weigh `MIN_MESSAGE_COST` each against the write
/// marks: with no peer, a writer of them gets `pause_writing` (bounded
/// memory) while `get_write_buffer_size()` still reports payload bytes.
pub fn empty_messages_pause_writing<D: Driver>(d: &D) {
    let (push, log) = d.open(Spec::new(SocketType::Push)).unwrap();
    push.set_write_buffer_limits(Some(1024), Some(256)).unwrap();
    let empty: Multipart = [Bytes::new(), Bytes::new()].into_iter().collect();
    let mut written = 0;
    while log.pauses() == 0 {
        assert!(
            written <= 1024 / MIN_MESSAGE_COST,
            "{}: {written} empty messages buffered and no pause_writing",
            d.name()
        );
        push.write(empty.clone()).unwrap();
        written += 1;
    }
    assert_eq!(written, 1024 / MIN_MESSAGE_COST + 1, "{}", d.name());
    assert_eq!(push.get_write_buffer_size(), 0, "{}", d.name());
    assert_eq!(log.flow(), vec![Ev::Pause], "{}", d.name());
    push.abort();
}

/// The documented rule for a `write()` from another thread while one of the
/// protocol's callbacks runs: `write()` returns without waiting (waiting
/// could deadlock), and `pause_writing` is the very next callback, right
/// after the running one ends.
pub fn pause_writing_from_another_thread_comes_after_the_running_callback<D: Driver>(d: &D) {
    let (router, rlog) = d.open(Spec::new(SocketType::Router).bind(ANY_TCP)).unwrap();
    router
        .setsockopt(SockOpt::RCVHWM, OptValue::Int(1))
        .unwrap();
    router
        .setsockopt(SockOpt::RCVBUF, OptValue::Int(4096))
        .unwrap();
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (dealer, log) = d
        .open(Spec::new(SocketType::Dealer).on_msg(move |_t: &D::T, m| {
            if m[0][..] == b"block"[..] {
                entered_tx.send(()).unwrap();
                release_rx.recv_timeout(TIMEOUT).expect("released");
            }
        }))
        .unwrap();
    dealer
        .setsockopt(SockOpt::ROUTING_ID, OptValue::from(&b"dealer"[..]))
        .unwrap();
    dealer
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(1))
        .unwrap();
    dealer
        .setsockopt(SockOpt::SNDBUF, OptValue::Int(4096))
        .unwrap();
    dealer
        .set_write_buffer_limits(Some(usize::MAX), None)
        .unwrap();
    dealer
        .connect(&router.bindings().into_iter().next().unwrap())
        .unwrap();
    dealer.write(msg(&[b"hello"])).unwrap();
    rlog.wait_msgs(1);
    router.pause_reading().unwrap();
    let body = vec![0u8; 64 * 1024];
    let mut i = 0;
    while dealer.get_write_buffer_size() < 1 << 20 {
        assert!(i < 20_000, "{}: the dealer never had to buffer", d.name());
        dealer.write(msg(&[&body])).unwrap();
        i += 1;
    }
    // The dealer's protocol is now inside msg_received.
    router.write(msg(&[b"dealer", b"block"])).unwrap();
    entered.recv_timeout(TIMEOUT).expect("msg_received began");
    let size = dealer.get_write_buffer_size();
    dealer.set_write_buffer_limits(Some(size), None).unwrap();
    dealer.write(msg(&[&body])).unwrap();
    assert_eq!(
        log.pauses(),
        0,
        "{}: pause_writing ran while another callback ran",
        d.name()
    );
    release.send(()).unwrap();
    let after = log.wait("pause_writing after the running callback", |evs| {
        let at = evs.iter().position(|e| *e == Ev::Pause)?;
        Some(evs[at - 1].clone())
    });
    assert_eq!(after, Ev::Msg(msg(&[b"block"])), "{}", d.name());
    dealer.abort();
    router.close();
}

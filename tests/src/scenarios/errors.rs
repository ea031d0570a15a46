//! Errors libzmq reports for one message, and when they are fatal.

use std::io::ErrorKind;

use aiozmq_core::ZmqTransport;
use aiozmq_core::{error, zmq_errno, OptValue, SockOpt, SocketType};

use super::first_binding;
use crate::{msg, raw, Driver, Ev, Spec, ANY_TCP};

/// An empty tcp address is `InvalidInput` with libzmq's EINVAL.
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

/// The direct send: a REQ writing out of turn gets EFSM from
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

/// A buffered message: a REQ with no peer buffers two requests;
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

/// ROUTER_MANDATORY and an unknown peer: `write()` is
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

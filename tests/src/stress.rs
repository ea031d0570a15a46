//! The classic missed-wake-up hangs, as stress cases run for every driver:
//! a long REQ/REP ping-pong written from outside the driver, and a burst
//! through a tiny SNDHWM. Every message is counted and checked in order.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};

use crate::{Driver, Log, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

/// Generates the stress tests for a driver.
#[macro_export]
macro_rules! stress {
    ($driver:expr) => {
        #[test]
        fn req_rep_100k_round_trips() {
            $crate::stress::req_rep_round_trips(&$driver, $crate::stress::scaled(100_000));
        }

        #[test]
        fn stream_read_limits_200k_pause_resume_cycles() {
            $crate::stress::stream_read_limits(&$driver, $crate::stress::scaled(200_000));
        }

        #[test]
        fn dealer_router_1m_through_sndhwm_10() {
            $crate::stress::dealer_router_burst(&$driver, $crate::stress::scaled(1_000_000));
        }
    };
}

/// `n`, or `n / AIOZMQ_STRESS_DIVISOR` for quick local runs.
pub fn scaled(n: usize) -> usize {
    let div = std::env::var("AIOZMQ_STRESS_DIVISOR")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|d| *d > 0)
        .unwrap_or(1);
    n / div
}

fn numbered(i: usize) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(&(i as u64).to_le_bytes())])
}

fn number(frame: &[u8]) -> usize {
    u64::from_le_bytes(frame.try_into().expect("8 bytes")) as usize
}

/// REQ (a stream, written and read from the test thread) against a REP that
/// echoes from its callback: every write is the fast path from outside the
/// driver, the case that loses wake-ups when EVENTS is not re-read.
pub fn req_rep_round_trips<D: Driver>(d: &D, n: usize) {
    let (rep, _) = d
        .open(
            Spec::new(SocketType::Rep)
                .bind(ANY_TCP)
                .on_msg(|t: &D::T, m| t.write(m.clone()).expect("rep write")),
        )
        .unwrap();
    let ep = rep.bindings().into_iter().next().unwrap();
    let mut req = d
        .open_stream(StreamSpec::new(SocketType::Req).connect(ep))
        .unwrap();
    for i in 0..n {
        req.write(numbered(i)).unwrap();
        let reply = req
            .read(TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: round trip {i} of {n}: {e}", d.name()));
        assert_eq!(number(&reply[0]), i, "{}", d.name());
    }
    req.close();
    rep.close();
}

/// A DEALER with SNDHWM 10 writes `n` messages as fast as `drain()` lets it;
/// the ROUTER counts them and checks their order in its callback.
pub fn dealer_router_burst<D: Driver>(d: &D, n: usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let disorder = Arc::new(AtomicUsize::new(0));
    let (next2, disorder2) = (next.clone(), disorder.clone());
    let log = Log::counting();
    let router = d
        .open_into(
            Spec::new(SocketType::Router)
                .bind(ANY_TCP)
                .on_msg(move |_t: &D::T, m| {
                    let expect = next2.fetch_add(1, Ordering::Relaxed);
                    if m.len() != 2 || number(&m[1]) != expect {
                        disorder2.fetch_add(1, Ordering::Relaxed);
                    }
                }),
            log.clone(),
        )
        .unwrap();
    let ep = router.bindings().into_iter().next().unwrap();
    let dealer = d.open_stream(StreamSpec::new(SocketType::Dealer)).unwrap();
    dealer
        .transport()
        .setsockopt(SockOpt::SNDHWM, OptValue::Int(10))
        .unwrap();
    dealer.transport().connect(&ep).unwrap();
    for i in 0..n {
        dealer.write(numbered(i)).unwrap();
        if i % 64 == 0 {
            dealer
                .drain(TIMEOUT)
                .unwrap_or_else(|e| panic!("{}: drain at {i}: {e}", d.name()));
        }
    }
    log.wait_counted(n);
    assert_eq!(log.counted(), n);
    assert_eq!(
        disorder.load(Ordering::Relaxed),
        0,
        "{}: out of order",
        d.name()
    );
    dealer.close();
    router.close();
}

/// A stream reader with tiny read limits: its transport pauses and resumes
/// reading thousands of times, decided on the driver's side (pause) and the
/// reader's (resume), which can reach the transport out of order. Nothing
/// may be lost and nothing may stall.
pub fn stream_read_limits<D: Driver>(d: &D, n: usize) {
    let mut spec = StreamSpec::new(SocketType::Pull).bind(ANY_TCP);
    spec.read_limits = (Some(256), Some(64));
    let mut pull = d.open_stream(spec).unwrap();
    let ep = pull.transport().bindings().into_iter().next().unwrap();
    let push = d
        .open_stream(StreamSpec::new(SocketType::Push).connect(ep))
        .unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..n {
            push.write(numbered(i)).unwrap();
            if i % 64 == 0 {
                push.drain(TIMEOUT).unwrap();
            }
        }
        push
    });
    for i in 0..n {
        let m = pull
            .read(TIMEOUT)
            .unwrap_or_else(|e| panic!("{}: read {i} of {n}: {e}", d.name()));
        assert_eq!(number(&m[0]), i, "{}", d.name());
    }
    writer.join().unwrap().close();
    pull.close();
}

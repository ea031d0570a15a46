//! Opening a connection: what `connection_made` may do to its transport,
//! and what a panic in it leaves behind.

use std::io::ErrorKind;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiozmq_core::{SocketType, ZmqTransport};

use crate::{msg, Driver, Log, Spec, ANY_TCP, TIMEOUT};

/// A clone of the transport made and dropped inside `connection_made` is
/// not the last handle: `open()` returns a live transport that writes.
pub fn clone_dropped_in_connection_made_keeps_it_open<D: Driver>(d: &D) {
    let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    let ep = pull.bindings().into_iter().next().unwrap();
    let (push, push_log) = d
        .open(
            Spec::new(SocketType::Push)
                .connect(ep)
                .on_made(|t: &D::T| drop(t.clone())),
        )
        .unwrap();
    assert!(
        !push.is_closing(),
        "{}: open() returned a closed transport",
        d.name()
    );
    push.write(msg(&[b"alive"]))
        .unwrap_or_else(|e| panic!("{}: write after open: {e}", d.name()));
    assert_eq!(log.wait_msgs(1), vec![msg(&[b"alive"])], "{}", d.name());
    assert!(
        !push_log.is_lost(),
        "{}: connection_lost after open",
        d.name()
    );
    push.close();
    pull.close();
}

/// A panic in `connection_made` is caught: `open()` returns an error naming
/// it, the protocol gets no further callback and is dropped, and the bound
/// port is released (a new transport binds it).
pub fn panic_in_connection_made_fails_open_and_frees_all<D: Driver>(d: &D) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let ep = format!("tcp://127.0.0.1:{port}");
    let log = Arc::new(Log::default());
    let spec = Spec::new(SocketType::Pull)
        .bind(ep.clone())
        .on_made(|_| panic!("a protocol bug in connection_made"));
    let e = d.open_into(spec, log.clone()).map(|_| ()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Other, "{}: {e}", d.name());
    assert!(
        e.to_string().contains("a protocol bug in connection_made"),
        "{}: the error does not name the panic: {e}",
        d.name()
    );
    let dropped = log.wait_for(TIMEOUT, |_| log.is_dropped().then_some(()));
    assert!(
        dropped.is_some(),
        "{}: the protocol was never dropped",
        d.name()
    );
    assert_eq!(
        log.all(),
        vec![crate::Ev::Made],
        "{}: callbacks after the panic",
        d.name()
    );
    // libzmq's I/O thread closes the listener shortly after the socket closes.
    let deadline = Instant::now() + TIMEOUT;
    let again = loop {
        match d.open(Spec::new(SocketType::Pull).bind(ep.clone())) {
            Ok((t, _)) => break t,
            Err(e) if e.kind() == ErrorKind::AddrInUse && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => panic!("{}: the port stayed bound after the panic: {e}", d.name()),
        }
    };
    again.close();
}

/// A panic inside `with_zmq_socket` reaches the caller, and the transport
/// stays usable: the lock is released and messages still arrive (the
/// socket's EVENTS are read again, so no wake-up was lost to the call).
pub fn panic_in_with_zmq_socket_leaves_the_transport_usable<D: Driver>(d: &D) {
    let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
    let ep = pull.bindings().into_iter().next().unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        d.with_socket(&pull, &mut |s| {
            let _ = s.get_events();
            panic!("a bug inside with_zmq_socket")
        })
    }));
    assert!(
        panicked.is_err(),
        "{}: the panic did not reach the caller",
        d.name()
    );
    let (push, _) = d.open(Spec::new(SocketType::Push).connect(ep)).unwrap();
    push.write(msg(&[b"after the panic"])).unwrap();
    assert_eq!(
        log.wait_msgs(1),
        vec![msg(&[b"after the panic"])],
        "{}",
        d.name()
    );
    let mut kind = None;
    d.with_socket(&pull, &mut |s| kind = Some(s.get_socket_type().unwrap()))
        .unwrap();
    assert_eq!(kind, Some(zmq::PULL), "{}", d.name());
    push.close();
    pull.close();
}

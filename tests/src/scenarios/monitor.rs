//! Monitoring a socket the user made.

use std::io::ErrorKind;

use aiozmq_core::{event, SocketType, ZmqTransport};

use crate::{msg, raw, Driver, Spec, ANY_TCP};

/// A pre-made socket from another context, without `.context(..)`:
/// `enable_monitor` returns `InvalidInput` saying what to pass instead of
/// hanging libzmq, and the transport stays usable; with the socket's own
/// context passed, its events arrive.
pub fn monitor_of_a_socket_from_another_context<D: Driver>(d: &D) {
    let theirs = zmq::Context::new();
    let s = theirs.socket(zmq::PULL).unwrap();
    let (t, log) = d.open(Spec::new(SocketType::Pull).sock(s)).unwrap();
    let e = d.enable_monitor(&t, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{}: {e}", d.name());
    assert!(e.to_string().contains(".context("), "{}: {e}", d.name());
    // No monitor was left behind: binding (an event) does not hang, and
    // messages arrive.
    let ep = t.bind(ANY_TCP).unwrap();
    let push = raw(&theirs, zmq::PUSH);
    push.connect(&ep).unwrap();
    push.send("after the refusal", 0).unwrap();
    assert_eq!(
        log.wait_msgs(1),
        vec![msg(&[b"after the refusal"])],
        "{}",
        d.name()
    );
    t.close();
    assert_eq!(log.wait_lost(), None, "{}", d.name());

    let s = theirs.socket(zmq::PULL).unwrap();
    let (t, log) = d
        .open(Spec::new(SocketType::Pull).sock(s).context(theirs.clone()))
        .unwrap();
    d.enable_monitor(&t, Some(event::LISTENING)).unwrap();
    t.bind(ANY_TCP).unwrap();
    log.wait_event(event::LISTENING);
    t.close();
    assert_eq!(log.wait_lost(), None, "{}", d.name());
    drop(push);
}

//! The socket monitor: toggling it keeps the main socket's wake-ups, and a
//! socket the user made is monitored only with its own context.

use std::io::ErrorKind;

use aiozmq_core::ZmqTransport;
use aiozmq_core::{event, SocketType};

use super::{first_binding, number, numbered};
use crate::{msg, raw, Driver, Ev, Spec, ANY_TCP};

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

/// Sends `from..to` one at a time, each waited for: every message needs a
/// wake-up of its own from the PULL's socket.
fn one_by_one<D: Driver>(d: &D, push: &D::T, log: &crate::Log, from: usize, to: usize) {
    for i in from..to {
        push.write(numbered(i, 16)).unwrap();
        let got = log.wait_msgs(i + 1);
        assert_eq!(number(&got[i]), i, "{}: out of order", d.name());
    }
}

/// After `disable_monitor()` a PULL still receives every message
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

/// After a second `enable_monitor()` a PULL still receives every
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

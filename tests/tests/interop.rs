//! Transports of different drivers talk to each other in one process.

use std::time::Duration;

use aiozmq_core::{Bytes, Multipart, SocketType, ZmqTransport};
use aiozmq_tests::blocking_driver::Blocking;
use aiozmq_tests::smol_driver::Smol;
use aiozmq_tests::tokio_driver::Tokio;
use aiozmq_tests::{msg, Driver, Ev, Spec, StreamSpec, TestStream, ANY_TCP, TIMEOUT};

/// A tokio PUB fans out to a smol SUB and a blocking SUB.
#[test]
fn tokio_pub_to_smol_and_blocking_subs() {
    let tokio = Tokio::multi_thread();
    let (publ, _) = tokio
        .open(Spec::new(SocketType::Pub).bind(ANY_TCP))
        .unwrap();
    let ep = publ.bindings().into_iter().next().unwrap();
    let (smol_sub, smol_log) = Smol.open(Spec::new(SocketType::Sub).connect(&ep)).unwrap();
    let (blk_sub, blk_log) = Blocking
        .open(Spec::new(SocketType::Sub).connect(&ep))
        .unwrap();
    smol_sub.subscribe(b"news").unwrap();
    blk_sub.subscribe(b"").unwrap();
    // Subscriptions travel to the PUB asynchronously: publish until both hear.
    let mut rounds = 0;
    let heard = |log: &aiozmq_tests::Log| {
        log.count(|e| matches!(e, Ev::Msg(m) if m[0].starts_with(b"news"))) > 0
    };
    while !(heard(&smol_log) && heard(&blk_log)) {
        rounds += 1;
        assert!(rounds < 2000, "subscribers never heard the publisher");
        publ.write(msg(&[b"news: hello"])).unwrap();
        publ.write(msg(&[b"sport: ignored by smol"])).unwrap();
        smol_log.wait_for(Duration::from_millis(10), |_| None::<()>);
    }
    // Both subscriptions are in place now: "sport" reaches only the blocking SUB.
    publ.write(msg(&[b"sport: final"])).unwrap();
    publ.write(msg(&[b"news: final"])).unwrap();
    blk_log.wait("the final sport message", |evs| {
        evs.iter()
            .any(|e| matches!(e, Ev::Msg(m) if &m[0][..] == b"sport: final"))
            .then_some(())
    });
    smol_log.wait("the final news message", |evs| {
        evs.iter()
            .any(|e| matches!(e, Ev::Msg(m) if &m[0][..] == b"news: final"))
            .then_some(())
    });
    assert!(smol_log.msgs().iter().all(|m| m[0].starts_with(b"news")));
    smol_sub.close();
    blk_sub.close();
    publ.close();
    smol_log.wait_lost();
    blk_log.wait_lost();
}

/// A blocking REQ asks a tokio REP, and a tokio REQ asks a smol REP.
#[test]
fn req_rep_across_drivers() {
    let tokio = Tokio::current_thread();
    let (rep, _) =
        tokio
            .open(Spec::new(SocketType::Rep).bind(ANY_TCP).on_msg(
                |t: &aiozmq_tokio::Transport, m| {
                    let mut reply = m.clone();
                    reply.push(Bytes::from_static(b"from tokio"));
                    t.write(reply).unwrap();
                },
            ))
            .unwrap();
    let ep = rep.bindings().into_iter().next().unwrap();
    let mut req = Blocking
        .open_stream(StreamSpec::new(SocketType::Req).connect(&ep))
        .unwrap();
    for i in 0..100u8 {
        req.write(Multipart::from_iter([Bytes::copy_from_slice(&[i])]))
            .unwrap();
        let reply = req.read(TIMEOUT).unwrap();
        assert_eq!(reply, msg(&[&[i], b"from tokio"]));
    }

    let (smol_rep, _) = Smol
        .open(
            Spec::new(SocketType::Rep)
                .bind(ANY_TCP)
                .on_msg(|t: &aiozmq_smol::Transport, m| t.write(m.clone()).unwrap()),
        )
        .unwrap();
    let smol_ep = smol_rep.bindings().into_iter().next().unwrap();
    let mut treq = tokio
        .open_stream(StreamSpec::new(SocketType::Req).connect(&smol_ep))
        .unwrap();
    for i in 0..100u8 {
        treq.write(msg(&[&[i]])).unwrap();
        assert_eq!(treq.read(TIMEOUT).unwrap(), msg(&[&[i]]));
    }
    req.close();
    treq.close();
    rep.close();
    smol_rep.close();
}

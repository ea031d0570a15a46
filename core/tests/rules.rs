//! One test per rule of `TransportState`, on the deterministic harness: a fake
//! socket, a virtual clock and a driver run step by step, with handle calls
//! interleaved. The harness itself checks the standing laws after every step
//! (no lost wake-up, flow callbacks alternate, nothing after `connection_lost`,
//! the main FD is waited on while open, sockets close in a safe order).

use std::io::ErrorKind;
use std::time::Duration;

use aiozmq_core::error::{EAGAIN, EFSM, EHOSTUNREACH, EINTR, EINVAL, ETERM};
use aiozmq_core::testing::{msg, sized, Harness, Seen, Step};
use aiozmq_core::{
    event, zmq_errno, Bytes, Read, Sock, SocketType, StreamConfig, TransportState, WaterMarks,
    WriteAction, INBOX_CAPACITY, WRITER_GRACE,
};

/// A transport whose peer is there and reads everything.
fn connected(kind: SocketType) -> Harness {
    let mut h = Harness::new(kind);
    h.sock.room = 1_000_000;
    h.run();
    h
}

fn msgs_seen(h: &Harness) -> Vec<Bytes> {
    h.seen
        .iter()
        .filter_map(|s| match s {
            Seen::Msg(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn flows_seen(h: &Harness) -> Vec<Seen> {
    h.seen
        .iter()
        .filter(|s| matches!(s, Seen::Pause | Seen::Resume))
        .cloned()
        .collect()
}

// ----- writing -----

#[test]
fn a_write_on_an_empty_buffer_goes_out_from_the_callers_thread() {
    let mut h = connected(SocketType::Dealer);
    h.write(msg(b"one")).unwrap();
    assert_eq!(h.sock.sent.len(), 1, "sent before write() returned");
    assert_eq!(h.state.write_buffer_len(), 0);
    assert_eq!(h.run(), Step::Parked);
}

fn sent_tags(h: &Harness) -> Vec<u8> {
    h.sock.sent.iter().map(|m| m[0][0]).collect()
}

#[test]
fn a_full_socket_buffers_in_order_and_the_driver_sends_once_the_writer_stops() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    for i in 0..5u8 {
        h.write(msg(&[i])).unwrap();
    }
    assert_eq!(h.state.write_buffer_len(), 5);
    assert_eq!(h.state.write_buffer_size(), 5);
    h.run();
    assert!(h.sock.sent.is_empty());
    h.peer_reads(3);
    h.run();
    assert!(
        h.sock.sent.is_empty(),
        "a writer was there: it gets the grace"
    );
    let park = h.parked().expect("parked");
    assert_eq!(park.deadline, Some(h.now + WRITER_GRACE));
    h.advance(WRITER_GRACE);
    h.run();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2],
        "no write came: the driver sent"
    );
    h.peer_reads(10);
    h.run();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2, 3, 4],
        "at once: nobody wrote since"
    );
    assert_eq!(h.state.write_buffer_size(), 0);
}

#[test]
fn a_writer_that_keeps_writing_flushes_the_buffer_itself_in_order() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    for i in 0..5u8 {
        h.write(msg(&[i])).unwrap();
    }
    h.peer_reads(3);
    h.run();
    assert!(
        h.sock.sent.is_empty(),
        "the driver leaves the room to the writer"
    );
    h.write(msg(&[5])).unwrap();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2],
        "the write sent the buffer first"
    );
    assert_eq!(
        h.state.write_buffer_len(),
        3,
        "then buffered its own behind 3, 4"
    );
    h.peer_reads(10);
    h.run();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2],
        "still a writer: still its turn"
    );
    h.write(msg(&[6])).unwrap();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2, 3, 4, 5, 6],
        "flushed, then sent at once"
    );
    assert_eq!(h.state.write_buffer_len(), 0);
}

#[test]
fn a_paused_writer_gets_no_grace_the_driver_flushes_at_once() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.call(|s| s.writer().set_limits(Some(40), Some(16)))
        .unwrap();
    for i in 0..3u8 {
        h.write(msg(&[i])).unwrap();
    }
    assert!(h.state.is_writing_paused(), "3 × 16 > 40");
    h.run();
    h.peer_reads(10);
    h.run();
    assert_eq!(
        sent_tags(&h),
        vec![0, 1, 2],
        "the writer waits for resume_writing"
    );
    assert_eq!(flows_seen(&h), vec![Seen::Pause, Seen::Resume]);
}

#[test]
fn bad_writes_are_errors_that_leave_the_transport_usable() {
    let mut h = connected(SocketType::Dealer);
    let e = h.write(Default::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let mut pull = connected(SocketType::Pull);
    assert_eq!(
        pull.write(msg(b"x")).unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    h.write(msg(b"fine")).unwrap();
    assert_eq!(h.sock.sent.len(), 1);
}

#[test]
fn efsm_on_the_direct_send_is_the_callers_error_and_the_transport_lives() {
    let mut h = connected(SocketType::Req);
    h.sock.fail_send = Some(EFSM);
    let e = h.write(msg(b"out of turn")).unwrap_err();
    assert_eq!(zmq_errno(&e), Some(EFSM));
    assert!(!h.state.is_closing());
    assert_eq!(
        h.state.write_buffer_len(),
        0,
        "the rejected message is gone"
    );
    h.write(msg(b"in turn")).unwrap();
    assert_eq!(h.sock.sent.len(), 1);
}

#[test]
fn ehostunreach_on_the_direct_send_is_portable_and_not_fatal() {
    let mut h = connected(SocketType::Router);
    h.sock.fail_send = Some(EHOSTUNREACH);
    let e = h.write(msg(b"nobody")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable);
    assert_eq!(zmq_errno(&e), Some(EHOSTUNREACH));
    assert!(!h.state.is_closing());
}

#[test]
fn efsm_on_a_buffered_message_is_fatal_as_nobody_is_left_to_tell() {
    let mut h = Harness::new(SocketType::Req);
    h.run();
    h.write(msg(b"first")).unwrap();
    h.write(msg(b"second")).unwrap();
    assert_eq!(h.state.write_buffer_len(), 2);
    h.peer_reads(1);
    h.sock.fail_send = None;
    h.run();
    h.advance(WRITER_GRACE);
    h.run();
    assert_eq!(h.sock.sent.len(), 1);
    // The REQ now must receive first: libzmq answers EFSM to the second.
    h.sock.fail_send = Some(EFSM);
    h.peer_reads(1);
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.seen.last(), Some(&Seen::Lost(Some(ErrorKind::Other))));
}

#[test]
fn another_send_error_is_fatal_and_returned() {
    let mut h = connected(SocketType::Dealer);
    h.sock.fail_send = Some(ETERM);
    let e = h.write(msg(b"x")).unwrap_err();
    assert_eq!(zmq_errno(&e), Some(ETERM));
    assert!(h.state.is_closing());
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(
        h.seen,
        vec![Seen::Lost(Some(ErrorKind::NotConnected))],
        "connection_lost carries the cause"
    );
    let e = h.write(msg(b"y")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected);
    assert_eq!(h.state.refused_writes(), 1);
}

#[test]
fn eintr_on_a_send_is_retried_never_surfaced() {
    let mut h = connected(SocketType::Dealer);
    h.sock.fail_send = Some(EINTR);
    h.write(msg(b"x")).unwrap();
    assert_eq!(h.state.write_buffer_len(), 1, "kept for the driver");
    h.run();
    assert_eq!(h.sock.sent.len(), 1);
    assert!(!h.state.is_closing());
}

// ----- water marks and flow control -----

#[test]
fn pause_strictly_over_high_and_resume_at_low_once_each_before_write_returns() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.call(|s| s.writer().set_limits(Some(100), Some(40)))
        .unwrap();
    h.write(sized(0, 50)).unwrap(); // refused: buffered, 50
    h.write(sized(1, 50)).unwrap(); // 100: not over
    assert!(flows_seen(&h).is_empty());
    h.write(sized(2, 1)).unwrap(); // 1 byte weighs MIN_MESSAGE_COST: 116, over
    assert_eq!(flows_seen(&h), vec![Seen::Pause], "before write() returned");
    h.write(sized(3, 1)).unwrap();
    assert_eq!(flows_seen(&h), vec![Seen::Pause], "once per crossing");
    h.peer_reads(2); // 132 - 100 = 32: at or below low
    h.run();
    assert_eq!(flows_seen(&h), vec![Seen::Pause, Seen::Resume]);
}

#[test]
fn a_driver_turn_before_the_writer_answers_leaves_pause_writing_to_the_writer() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.call(|s| s.writer().set_limits(Some(100), Some(40)))
        .unwrap();
    h.write(sized(0, 80)).unwrap(); // refused: buffered, 80
                                    // The crossing write, offered the flow delivery; the driver runs a turn
                                    // (it watches the socket for the buffer) before the writer answers.
    assert!(h.write_unanswered(sized(1, 80)).unwrap());
    h.run();
    assert!(
        flows_seen(&h).is_empty(),
        "the driver took pause_writing from the writer: it would come after write() returned"
    );
    h.answer_flow();
    assert_eq!(flows_seen(&h), vec![Seen::Pause]);
}

#[test]
fn lowering_the_marks_pauses_at_once() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.write(sized(0, 100)).unwrap();
    h.call(|s| s.writer().set_limits(Some(50), None)).unwrap();
    assert_eq!(flows_seen(&h), vec![Seen::Pause]);
    assert_eq!(h.state.write_limits(), (12, 50));
    let e = h
        .call(|s| s.writer().set_limits(Some(1), Some(2)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(h.state.write_limits(), (12, 50), "unchanged");
}

#[test]
fn a_busy_protocol_gets_pause_from_the_driver_as_soon_as_it_is_free() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.call(|s| s.writer().set_limits(Some(1), None)).unwrap();
    h.protocol_busy = true;
    h.write(sized(0, 2)).unwrap();
    assert!(
        flows_seen(&h).is_empty(),
        "the protocol is locked elsewhere"
    );
    h.protocol_busy = false;
    h.run();
    assert_eq!(flows_seen(&h), vec![Seen::Pause]);
}

#[test]
fn pause_owed_inside_a_callback_comes_right_after_it() {
    let mut h = Harness::new(SocketType::Dealer);
    h.echo = true; // msg_received writes the message back
    h.run();
    h.call(|s| s.writer().set_limits(Some(1), None)).unwrap();
    h.peer_sends(msg(b"ab"));
    h.peer_sends(msg(b"cd"));
    h.run();
    assert_eq!(
        h.seen,
        vec![
            Seen::Msg(Bytes::from_static(b"ab")),
            Seen::Pause,
            Seen::Msg(Bytes::from_static(b"cd")),
        ]
    );
}

#[test]
fn flow_callbacks_from_another_thread_during_a_batch_keep_their_order() {
    let mut h = Harness::new(SocketType::Dealer);
    h.run();
    h.call(|s| s.writer().set_limits(Some(1), Some(0))).unwrap();
    for i in 0..5u8 {
        h.peer_sends(msg(&[i]));
    }
    // The driver takes the batch and delivers one message...
    while h.seen.is_empty() {
        h.step();
    }
    // ...then another thread writes over high, the peer reads, the driver
    // would resume: every crossing arrives in order between messages.
    h.write(sized(9, 2)).unwrap(); // buffered (no room): pause owed to the deliverer
    assert!(flows_seen(&h).is_empty(), "the deliverer delivers it");
    h.step(); // the next callback is the pause
    assert_eq!(flows_seen(&h), vec![Seen::Pause]);
    h.run();
    h.peer_reads(1);
    h.run();
    assert_eq!(flows_seen(&h), vec![Seen::Pause, Seen::Resume]);
    assert_eq!(msgs_seen(&h).len(), 5);
}

#[test]
fn a_flow_callback_owed_mid_batch_goes_after_the_older_ones_it_holds() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.call(|s| s.writer().set_limits(Some(1), Some(0))).unwrap();
    // The protocol is locked elsewhere: the pause is left to the driver...
    h.protocol_busy = true;
    h.write(sized(0, 2)).unwrap();
    h.protocol_busy = false;
    // ...which claims it and, before delivering it, hears of a resume.
    while !h.delivering() {
        h.step();
    }
    h.call(|s| s.writer().set_limits(Some(100), None)).unwrap();
    h.run();
    assert_eq!(flows_seen(&h), vec![Seen::Pause, Seen::Resume]);
}

// ----- reading -----

#[test]
fn pause_reading_stops_a_batch_half_way_and_resume_restarts_in_order() {
    let mut h = Harness::new(SocketType::Pull);
    h.run();
    for i in 0..10u8 {
        h.peer_sends(msg(&[i]));
    }
    while msgs_seen(&h).len() < 2 {
        h.step();
    }
    h.call(|s| s.pause_reading()).unwrap();
    h.run();
    assert_eq!(msgs_seen(&h).len(), 2, "nothing after pause_reading");
    let e = h.call(|s| s.pause_reading()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    h.call(|s| s.resume_reading()).unwrap();
    assert_eq!(
        msgs_seen(&h).len(),
        2,
        "resume never delivers inside the call"
    );
    h.run();
    let got: Vec<u8> = msgs_seen(&h).iter().map(|b| b[0]).collect();
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    let e = h.call(|s| s.resume_reading()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn after_close_reading_and_limit_calls_are_not_connected() {
    let mut h = connected(SocketType::Pull);
    h.close();
    for e in [
        h.call(|s| s.pause_reading()).unwrap_err(),
        h.call(|s| s.resume_reading()).unwrap_err(),
        h.call(|s| s.writer().set_limits(Some(10), None))
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::NotConnected);
    }
}

#[test]
fn the_driver_delivers_every_inbox_capacity_messages() {
    let mut h = Harness::new(SocketType::Pull);
    h.run();
    for i in 0..(3 * INBOX_CAPACITY) {
        h.peer_sends(msg(&(i as u32).to_le_bytes()));
    }
    let mut max_pending = 0;
    while h.step() != Step::Parked {
        max_pending = max_pending.max(h.state.read_queue().0);
    }
    assert!(max_pending <= INBOX_CAPACITY);
    assert_eq!(msgs_seen(&h).len(), 3 * INBOX_CAPACITY);
}

#[test]
fn a_busy_socket_yields_after_its_budget() {
    let mut h = Harness::new(SocketType::Pull);
    h.run();
    for i in 0..1000u32 {
        h.peer_sends(msg(&i.to_le_bytes()));
    }
    let mut yielded = false;
    loop {
        match h.step() {
            Step::Yielded => {
                yielded = true;
                break;
            }
            Step::Parked => break,
            _ => {}
        }
    }
    assert!(yielded, "1000 messages take more than one turn");
}

// ----- the edge trigger -----

#[test]
fn a_libzmq_call_from_a_handle_wakes_a_parked_reader_to_reread_events() {
    let mut h = connected(SocketType::Pull);
    assert!(h.parked().is_some());
    // A message arrives, but the handle's own libzmq call consumes the edge.
    h.sock.inbound.push_back(msg(b"hidden"));
    h.call(|s| s.handle_zmq_call());
    assert_eq!(h.run(), Step::Parked);
    assert_eq!(msgs_seen(&h), vec![Bytes::from_static(b"hidden")]);
}

#[test]
fn a_push_with_nothing_buffered_is_not_woken_by_its_own_sends() {
    let mut h = connected(SocketType::Push);
    h.write(msg(b"x")).unwrap();
    assert!(
        h.state.is_parked(),
        "no wake-up per message on the fast path"
    );
}

#[test]
fn eintr_while_reading_events_is_retried_never_fatal() {
    let mut h = Harness::new(SocketType::Pull);
    h.sock.events_eintr = 3;
    assert_eq!(h.run(), Step::Parked);
    assert!(!h.state.is_closing());
    h.peer_sends(msg(b"after"));
    h.run();
    assert_eq!(msgs_seen(&h).len(), 1);
}

// ----- closing and the deadline -----

#[test]
fn close_flushes_then_connection_lost_none() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    for i in 0..3u8 {
        h.write(msg(&[i])).unwrap();
    }
    h.close();
    h.run();
    assert!(h.seen.is_empty());
    h.peer_reads(10);
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.sock.sent.len(), 3);
    assert_eq!(h.seen, vec![Seen::Lost(None)]);
}

#[test]
fn close_gives_up_after_the_default_linger_without_progress() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    for i in 0..3u8 {
        h.write(msg(&[i])).unwrap();
    }
    h.close();
    h.run();
    let park = h.parked().expect("parked");
    assert_eq!(park.deadline, Some(h.now + Duration::from_millis(1000)));
    h.advance(Duration::from_millis(999));
    assert_eq!(h.run(), Step::Parked);
    h.advance(Duration::from_millis(1));
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.seen, vec![Seen::Lost(Some(ErrorKind::TimedOut))]);
    assert_eq!(h.gave_up, Some(3), "the error says how many were dropped");
}

#[test]
fn a_slow_live_peer_still_gets_everything() {
    let mut h = Harness::new(SocketType::Push);
    h.set_linger(100).unwrap();
    h.run();
    for i in 0..20u8 {
        h.write(msg(&[i])).unwrap();
    }
    h.close();
    for _ in 0..20 {
        h.advance(Duration::from_millis(90)); // slower than nothing, faster than the linger
        h.peer_reads(1);
        h.run();
    }
    assert!(h.finished(), "{:?}", h.seen);
    assert_eq!(h.sock.sent.len(), 20);
    assert_eq!(h.seen, vec![Seen::Lost(None)]);
}

#[test]
fn linger_minus_one_waits_for_ever_and_a_user_linger_sets_the_deadline() {
    let mut h = Harness::new(SocketType::Push);
    h.set_linger(-1).unwrap();
    h.run();
    h.write(msg(b"x")).unwrap();
    h.close();
    h.run();
    assert_eq!(h.parked().unwrap().deadline, None);
    h.advance(Duration::from_secs(3600));
    assert_eq!(h.run(), Step::Parked);
    h.abort();
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.seen, vec![Seen::Lost(None)]);

    let mut h = Harness::new(SocketType::Push);
    h.set_linger(100).unwrap();
    h.run();
    h.write(msg(b"x")).unwrap();
    h.close();
    h.advance(Duration::from_millis(100));
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.gave_up, Some(1));
}

#[test]
fn abort_drops_the_buffer_and_closes_with_zero_linger() {
    let mut h = Harness::new(SocketType::Push);
    h.run();
    h.write(msg(b"x")).unwrap();
    h.write(msg(b"y")).unwrap();
    h.abort();
    assert_eq!(h.aborted, 2);
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.seen, vec![Seen::Lost(None)]);
}

#[test]
fn close_during_a_batch_drops_the_rest_and_connection_lost_is_last() {
    let mut h = Harness::new(SocketType::Pull);
    h.run();
    for i in 0..10u8 {
        h.peer_sends(msg(&[i]));
    }
    while msgs_seen(&h).len() < 3 {
        h.step();
    }
    h.close();
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(msgs_seen(&h).len(), 3, "nothing delivered after close()");
    assert_eq!(h.seen.last(), Some(&Seen::Lost(None)));
}

#[test]
fn the_first_fatal_cause_wins() {
    let mut h = connected(SocketType::Dealer);
    h.call(|s| s.fail(aiozmq_core::error::from_errno(ETERM)));
    h.call(|s| s.fail(std::io::Error::other("second")));
    h.abort();
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(h.seen, vec![Seen::Lost(Some(ErrorKind::NotConnected))]);
}

// ----- the monitor -----

#[test]
fn monitor_events_come_before_messages_and_the_park_names_both_fds() {
    let mut h = connected(SocketType::Pull);
    let id = h.enable_monitor().unwrap();
    h.run();
    let park = h.parked().unwrap();
    assert!(park.main);
    assert_eq!(park.monitor, Some(id));
    h.monitor_emits(event::ACCEPTED);
    h.peer_sends(msg(b"m"));
    h.run();
    assert_eq!(
        h.seen,
        vec![
            Seen::Event(event::ACCEPTED),
            Seen::Msg(Bytes::from_static(b"m"))
        ]
    );
}

#[test]
fn disabling_or_replacing_the_monitor_keeps_waiting_on_the_main_socket() {
    let mut h = connected(SocketType::Pull);
    let first = h.enable_monitor().unwrap();
    h.run();
    h.disable_monitor();
    h.run();
    let park = h.parked().unwrap();
    assert!(park.main, "the main FD stays registered");
    assert_eq!(park.monitor, None);
    assert!(h.pipes[0].1.closed, "the pipe closed, after libzmq stopped");
    h.peer_sends(msg(b"after disable"));
    h.run();
    assert_eq!(msgs_seen(&h).len(), 1);

    let second = h.enable_monitor().unwrap();
    h.run();
    let third = h.enable_monitor().unwrap();
    h.run();
    assert!(first < second && second < third);
    let park = h.parked().unwrap();
    assert!(park.main);
    assert_eq!(park.monitor, Some(third));
    h.peer_sends(msg(b"after re-enable"));
    h.monitor_emits(event::CONNECTED);
    h.run();
    assert_eq!(msgs_seen(&h).len(), 2);
    assert!(h.seen.contains(&Seen::Event(event::CONNECTED)));
}

#[test]
fn no_event_is_delivered_after_disable_even_from_a_batch_in_hand() {
    let mut h = connected(SocketType::Pull);
    h.enable_monitor().unwrap();
    h.run();
    for _ in 0..3 {
        h.monitor_emits(event::CONNECTED);
    }
    while !h.seen.contains(&Seen::Event(event::CONNECTED)) {
        h.step();
    }
    h.disable_monitor();
    h.run();
    assert_eq!(
        h.seen
            .iter()
            .filter(|s| matches!(s, Seen::Event(_)))
            .count(),
        1
    );
}

#[test]
fn closing_stops_the_monitor_then_closes_its_pipe_then_the_socket() {
    let mut h = connected(SocketType::Pull);
    h.enable_monitor().unwrap();
    h.run();
    h.close();
    // The harness asserts the order at each Close; here, that it ends.
    assert_eq!(h.run(), Step::Finished);
    assert!(h.pipes.iter().all(|(_, p)| p.closed));
    assert_eq!(h.seen, vec![Seen::Lost(None)]);
}

#[test]
fn a_malformed_monitor_event_is_skipped() {
    let mut h = connected(SocketType::Pull);
    let id = h.enable_monitor().unwrap();
    h.run();
    h.pipes[0].1.inbound.push_back(msg(b"bad"));
    h.pipes[0].1.signalled = true;
    h.monitor_emits(event::CLOSED);
    h.run();
    assert_eq!(h.state.malformed_events(), 1);
    assert_eq!(h.seen, vec![Seen::Event(event::CLOSED)]);
    assert_eq!(h.state.monitor(), Some(id));
}

#[test]
fn when_the_driver_is_gone_the_sockets_close_in_order_and_nothing_is_delivered() {
    let mut h = connected(SocketType::Pull);
    h.enable_monitor().unwrap();
    h.run();
    h.peer_sends(msg(b"never delivered"));
    h.write(msg(b"x")).unwrap_err();
    h.driver_gone();
    assert!(h.finished());
    assert!(h.seen.is_empty());
    assert!(h.sock.closed);
    assert!(h.pipes.iter().all(|(_, p)| p.closed));
}

// ----- endpoints and subscriptions -----

#[test]
fn malformed_endpoints_are_invalid_input_with_einval() {
    let mut s = TransportState::new(SocketType::Dealer);
    for bad in ["tcp://", "tcp", "://x", "in\0proc://x"] {
        let e = s.endpoints().check_endpoint(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        assert_eq!(zmq_errno(&e), Some(EINVAL), "{bad}");
        assert!(e.to_string().contains("endpoint"), "{e}");
    }
}

#[test]
fn unbind_and_disconnect_remove_what_libzmq_removed() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.endpoints().handle_bound("tcp://127.0.0.1:5555".into());
    s.endpoints().handle_unbound(
        "tcp://localhost:5555",
        &["tcp://127.0.0.1:5555".to_string()],
    );
    assert!(s.bindings().is_empty());
    s.endpoints()
        .handle_connected("tcp://127.0.0.1:6666".into());
    s.endpoints().handle_connected("inproc://x".into());
    s.endpoints()
        .handle_disconnected("tcp://localhost:6666", &["tcp://127.0.0.1:6666".into()]);
    assert_eq!(
        s.connections().iter().collect::<Vec<_>>(),
        vec!["inproc://x"]
    );
}

#[test]
fn subscriptions_are_deduplicated_and_sub_only() {
    let mut s = TransportState::new(SocketType::Sub);
    assert!(s.endpoints().check_subscribe(b"a").unwrap());
    s.endpoints().handle_subscribed(Bytes::from_static(b"a"));
    assert!(!s.endpoints().check_subscribe(b"a").unwrap());
    assert!(s.endpoints().check_unsubscribe(b"a").unwrap());
    s.endpoints().handle_unsubscribed(b"a");
    assert!(!s.endpoints().check_unsubscribe(b"a").unwrap());
    let mut d = TransportState::new(SocketType::Dealer);
    assert_eq!(
        d.endpoints().check_subscribe(b"a").unwrap_err().kind(),
        ErrorKind::Unsupported
    );
    assert_eq!(
        d.subscriptions().unwrap_err().kind(),
        ErrorKind::Unsupported
    );
}

#[test]
fn the_write_action_names_the_fast_path() {
    let mut s = TransportState::new(SocketType::Dealer);
    assert_eq!(s.writer().write(&msg(b"a")).unwrap(), WriteAction::SendNow);
    assert_eq!(
        s.writer()
            .handle_direct_send(aiozmq_core::SendResult::Refused(EAGAIN))
            .unwrap(),
        WriteAction::Enqueue
    );
    s.writer().enqueue(msg(b"a"));
    assert_eq!(s.writer().write(&msg(b"b")).unwrap(), WriteAction::Enqueue);
}

// ----- streams -----

fn stream(kind: SocketType, high: usize, low: usize) -> Harness {
    let mut h = Harness::new_stream(
        kind,
        StreamConfig {
            read_limits: WaterMarks::new(Some(high), Some(low)).unwrap(),
            events_backlog: 2,
        },
    );
    h.run();
    h
}

#[test]
fn a_stream_stops_receiving_over_its_high_mark_and_restarts_at_low() {
    let mut h = stream(SocketType::Pull, 100, 40);
    for i in 0..6u8 {
        h.peer_sends(sized(i, 30));
    }
    h.run();
    assert_eq!(h.state.read_queue(), (4, 120), "stopped once over 100");
    assert!(matches!(h.read(), Read::Ready(_)));
    h.run();
    assert_eq!(h.state.read_queue().0, 3, "90 bytes: not yet at low");
    assert!(matches!(h.read(), Read::Ready(_)));
    assert!(matches!(h.read(), Read::Ready(_)));
    h.run();
    assert_eq!(h.state.read_queue().0, 3, "at low: the rest came");
    let mut got = Vec::new();
    while let Read::Ready(m) = h.read() {
        got.push(m[0][0]);
    }
    assert_eq!(got, vec![3, 4, 5]);
}

#[test]
fn a_stream_reader_is_woken_when_a_message_comes() {
    let mut h = stream(SocketType::Pull, 100, 10);
    assert!(matches!(h.read(), Read::Pending));
    h.peer_sends(msg(b"x"));
    h.run();
    assert!(h.stream_woken.0);
    assert!(matches!(h.read(), Read::Ready(_)));
}

#[test]
fn drain_waits_out_a_pause_and_fails_at_once_after_close() {
    let mut h = stream(SocketType::Push, 100, 10);
    h.call(|s| s.writer().set_limits(Some(4), Some(0))).unwrap();
    assert!(matches!(h.drain(), Read::Ready(())));
    h.write(sized(0, 5)).unwrap();
    assert!(matches!(h.drain(), Read::Pending));
    h.peer_reads(1);
    h.run();
    assert!(h.stream_woken.2, "the drainer was woken");
    assert!(matches!(h.drain(), Read::Ready(())));
    h.write(sized(1, 5)).unwrap();
    h.write(sized(2, 5)).unwrap();
    h.close();
    match h.drain() {
        Read::Closed(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
        other => panic!("{other:?}"),
    }
    h.advance(Duration::from_secs(1));
    h.run();
    match h.drain() {
        Read::Closed(e) => assert_eq!(e.kind(), ErrorKind::TimedOut),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stream_reads_what_was_queued_then_ends() {
    let mut h = stream(SocketType::Pull, 100, 10);
    h.peer_sends(msg(b"a"));
    h.peer_sends(msg(b"b"));
    h.run();
    h.close();
    assert!(h.stream_woken.0, "a waiting reader hears of the close");
    assert!(!h.state.at_closing());
    assert!(matches!(h.read(), Read::Ready(_)));
    assert!(matches!(h.read(), Read::Ready(_)));
    assert!(h.state.at_closing());
    match h.read() {
        Read::Closed(e) => assert_eq!(e.kind(), ErrorKind::ConnectionAborted),
        other => panic!("{other:?}"),
    }
    assert_eq!(h.run(), Step::Finished);
}

#[test]
fn a_stream_keeps_the_newest_events() {
    let mut h = stream(SocketType::Pull, 100, 10);
    h.enable_monitor().unwrap();
    h.run();
    for ev in [event::CONNECTED, event::ACCEPTED, event::CLOSED] {
        h.monitor_emits(ev);
    }
    h.run();
    let mut got = Vec::new();
    while let Read::Ready(ev) = h.call(|s| s.stream().read_event()) {
        got.push(ev.event);
    }
    assert_eq!(got, vec![event::ACCEPTED, event::CLOSED]);
    assert_eq!(h.state.monitor().map(|_| ()), Some(()));
    let _ = Sock::Main;
}

// ----- a panicking callback -----

#[test]
fn a_panicking_callback_fails_the_transport_and_drops_the_rest_of_its_batch() {
    let mut h = connected(SocketType::Dealer);
    for i in 0..5u8 {
        h.peer_sends(msg(&[i]));
    }
    h.panic_next = true;
    assert_eq!(h.run(), Step::Finished);
    assert_eq!(
        h.seen,
        vec![
            Seen::Msg(Bytes::from_static(&[0])),
            Seen::Lost(Some(ErrorKind::Other))
        ],
        "the message whose callback panicked, then nothing but connection_lost"
    );
    assert!(h.sock.closed, "the socket closed");
    assert_eq!(
        h.write(msg(b"late")).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

//! One test per rule of `TransportState`, through the public API only.
//!
//! Each test plays the part of a driver or of the application and checks what a
//! user of the transport would see: what `write` answers, which callbacks are
//! owed and in which order, what `poll_io` asks the driver to do, and when the
//! driver is woken.

use std::collections::VecDeque;
use std::io::ErrorKind;

use aiozmq_core::error::{from_errno, EAGAIN, EFSM, ETERM};
use aiozmq_core::{
    zmq_errno, Bytes, Callback, Io, Multipart, OptValue, SendResult, SockOpt, SocketType,
    TransportState, WriteAction, CLOSE_LINGER_MS, INBOX_CAPACITY, TURN_BUDGET,
};

const EINVAL: i32 = 22;

// ----- helpers -----

/// A comparable picture of one callback.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cb {
    Pause,
    Resume,
    Msg(Vec<Vec<u8>>),
    Event(u16),
    Lost(Option<(ErrorKind, Option<i32>)>),
}

fn picture(cb: Callback) -> Cb {
    match cb {
        Callback::PauseWriting => Cb::Pause,
        Callback::ResumeWriting => Cb::Resume,
        Callback::MsgReceived(m) => Cb::Msg(m.iter().map(|f| f.to_vec()).collect()),
        Callback::EventReceived(e) => Cb::Event(e.event),
        Callback::ConnectionLost(exc) => Cb::Lost(exc.map(|e| (e.kind(), zmq_errno(&e)))),
    }
}

fn msg(frames: &[&[u8]]) -> Multipart {
    frames.iter().map(|f| Bytes::copy_from_slice(f)).collect()
}

/// One frame of `n` bytes.
fn sized(n: usize) -> Multipart {
    Multipart::from_iter([Bytes::from(vec![b'x'; n])])
}

fn callbacks(s: &mut TransportState) -> Vec<Cb> {
    let mut out = VecDeque::new();
    s.take_callbacks(&mut out);
    out.into_iter().map(picture).collect()
}

fn flow(s: &mut TransportState) -> Vec<Cb> {
    let mut out = VecDeque::new();
    s.take_flow_callbacks(&mut out);
    out.into_iter().map(picture).collect()
}

fn received(frames: &[&[u8]]) -> Cb {
    Cb::Msg(frames.iter().map(|f| f.to_vec()).collect())
}

/// Writes a message and, on the fast path, reports the direct send as `result`.
fn write_with(s: &mut TransportState, m: Multipart, result: SendResult) -> WriteAction {
    let action = s.write(m).expect("write");
    if action == WriteAction::SendNow {
        s.handle_direct_send(result).expect("direct send");
    }
    action
}

/// A transport whose first write was refused with EAGAIN: that message stays
/// buffered and the socket is known to be full.
fn with_refused_first(kind: SocketType, m: Multipart) -> TransportState {
    let mut s = TransportState::new(kind);
    assert_eq!(
        write_with(&mut s, m, SendResult::Refused(EAGAIN)),
        WriteAction::SendNow
    );
    s
}

/// Runs the driver until it parks, answering EVENTS with `(pollin, pollout)`.
/// Panics on anything but EVENTS reads, deliveries and the final `Wait`.
fn park(s: &mut TransportState, pollin: bool, pollout: bool) -> Vec<Cb> {
    let mut delivered = Vec::new();
    for _ in 0..16 {
        match s.poll_io() {
            Io::ReadEvents => s.handle_events(pollin, pollout),
            Io::Deliver => delivered.extend(callbacks(s)),
            Io::Wait => {
                assert!(s.is_parked());
                return delivered;
            }
            other => panic!("unexpected {other:?} while parking"),
        }
    }
    panic!("the driver never parked");
}

/// After a libzmq call, the driver must not park before it reads EVENTS again.
/// Acts on every other answer (refusing sends and receives) until `ReadEvents`.
fn assert_reads_events_before_parking(s: &mut TransportState) {
    for _ in 0..(4 * TURN_BUDGET) {
        match s.poll_io() {
            Io::ReadEvents => return,
            Io::Wait => panic!("Io::Wait while ZMQ_EVENTS is stale: a wake-up can be lost"),
            Io::Send => s.handle_send(SendResult::Refused(EAGAIN)),
            Io::Recv => s.handle_recv(Err(EAGAIN)),
            Io::Deliver => drop(callbacks(s)),
            Io::Yield => s.begin_turn(),
            other => panic!("unexpected {other:?}"),
        }
    }
    panic!("EVENTS was never read");
}

// ----- write fast path -----

#[test]
fn first_write_on_an_empty_buffer_is_sent_now() {
    let mut s = TransportState::new(SocketType::Dealer);
    let m = msg(&[b"a", b"bc"]);
    assert_eq!(s.write(m.clone()).unwrap(), WriteAction::SendNow);
    assert_eq!(s.front(), Some(&m));
}

#[test]
fn direct_send_accepted_empties_the_buffer() {
    let mut s = TransportState::new(SocketType::Dealer);
    assert_eq!(
        write_with(&mut s, msg(&[b"abc", b"de"]), SendResult::Sent),
        WriteAction::SendNow
    );
    assert_eq!(s.write_buffer_size(), 0);
    assert_eq!(s.write_buffer_len(), 0);
    assert_eq!(s.front(), None);
    // Still writable: the next write takes the fast path again.
    assert_eq!(s.write(msg(&[b"f"])).unwrap(), WriteAction::SendNow);
}

#[test]
fn direct_send_eagain_keeps_the_message_and_later_writes_queue() {
    let first = msg(&[b"abc", b"", b"defgh"]);
    let mut s = with_refused_first(SocketType::Dealer, first.clone());
    assert_eq!(s.write_buffer_len(), 1);
    assert_eq!(s.write_buffer_size(), 3 + 5);
    assert_eq!(s.front(), Some(&first));

    assert_eq!(
        s.write(msg(&[b"12", b"3456"])).unwrap(),
        WriteAction::Queued
    );
    assert_eq!(s.write(msg(&[b"7"])).unwrap(), WriteAction::Queued);
    assert_eq!(s.write_buffer_len(), 3);
    assert_eq!(s.write_buffer_size(), 8 + 6 + 1);
    assert_eq!(
        s.front(),
        Some(&first),
        "FIFO: the refused message goes first"
    );
}

// ----- water marks -----

#[test]
fn default_water_marks_are_64k_high_16k_low() {
    let s = TransportState::new(SocketType::Dealer);
    assert_eq!(s.write_limits(), (16 * 1024, 64 * 1024));
}

#[test]
fn set_write_limits_with_only_high_sets_low_to_a_quarter() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(1000), None).unwrap();
    assert_eq!(s.write_limits(), (250, 1000));
}

#[test]
fn set_write_limits_with_only_low_sets_high_to_four_times_low() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(None, Some(300)).unwrap();
    assert_eq!(s.write_limits(), (300, 1200));
}

#[test]
fn set_write_limits_with_neither_restores_the_defaults() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(10), Some(5)).unwrap();
    s.set_write_limits(None, None).unwrap();
    assert_eq!(s.write_limits(), (16 * 1024, 64 * 1024));
}

#[test]
fn set_write_limits_with_high_below_low_is_invalid_input_and_changes_nothing() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(100), Some(40)).unwrap();
    let err = s.set_write_limits(Some(10), Some(20)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("high"),
        "message says what was wrong: {err}"
    );
    assert_eq!(s.write_limits(), (40, 100));
}

// ----- pause_writing / resume_writing -----

#[test]
fn a_buffer_equal_to_high_does_not_pause() {
    let mut s = with_refused_first(SocketType::Dealer, sized(60));
    s.set_write_limits(Some(100), Some(10)).unwrap();
    assert_eq!(
        write_with(&mut s, sized(40), SendResult::Sent),
        WriteAction::Queued
    );
    assert_eq!(s.write_buffer_size(), 100);
    assert_eq!(flow(&mut s), vec![]);
    assert!(!s.is_writing_paused());
}

#[test]
fn pause_writing_is_owed_once_when_the_buffer_goes_strictly_over_high() {
    let mut s = with_refused_first(SocketType::Dealer, sized(60));
    s.set_write_limits(Some(100), Some(10)).unwrap();
    assert_eq!(flow(&mut s), vec![]);
    s.write(sized(41)).unwrap();
    assert_eq!(s.write_buffer_size(), 101);
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
    // Further writes while paused owe nothing more.
    s.write(sized(500)).unwrap();
    s.write(sized(1)).unwrap();
    assert_eq!(flow(&mut s), vec![]);
    assert!(s.is_writing_paused());
}

#[test]
fn pause_writing_is_also_handed_out_by_take_callbacks() {
    let mut s = with_refused_first(SocketType::Dealer, sized(10));
    s.set_write_limits(Some(15), None).unwrap();
    s.write(sized(10)).unwrap();
    assert_eq!(callbacks(&mut s), vec![Cb::Pause]);
    assert_eq!(callbacks(&mut s), vec![], "owed once, handed out once");
}

#[test]
fn a_single_fast_path_write_over_high_pauses_when_libzmq_refuses_it() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(100), None).unwrap();
    assert_eq!(
        write_with(&mut s, sized(101), SendResult::Refused(EAGAIN)),
        WriteAction::SendNow
    );
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
}

#[test]
fn resume_writing_is_owed_once_when_the_buffer_comes_back_to_low() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(100), Some(50)).unwrap();
    write_with(&mut s, sized(40), SendResult::Refused(EAGAIN));
    s.write(sized(40)).unwrap();
    s.write(sized(40)).unwrap();
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
    assert_eq!(s.write_buffer_size(), 120);

    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    let mut sizes_and_flow = Vec::new();
    for _ in 0..16 {
        if s.write_buffer_len() == 0 {
            break;
        }
        assert_eq!(s.poll_io(), Io::Send);
        s.handle_send(SendResult::Sent);
        sizes_and_flow.push((s.write_buffer_size(), flow(&mut s)));
    }
    assert_eq!(
        sizes_and_flow,
        vec![(80, vec![]), (40, vec![Cb::Resume]), (0, vec![])],
        "resume exactly at the first size <= low (50), and only once"
    );
}

#[test]
fn resume_writing_is_owed_when_the_buffer_reaches_low_exactly() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(100), Some(50)).unwrap();
    write_with(&mut s, sized(50), SendResult::Refused(EAGAIN));
    s.write(sized(51)).unwrap();
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(s.write_buffer_size(), 51);
    assert_eq!(flow(&mut s), vec![]);
    // Pause again over high, then one send brings it to low exactly.
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(100), Some(50)).unwrap();
    write_with(&mut s, sized(51), SendResult::Refused(EAGAIN));
    s.write(sized(50)).unwrap();
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(s.write_buffer_size(), 50);
    assert_eq!(flow(&mut s), vec![Cb::Resume]);
}

#[test]
fn pause_and_resume_alternate_over_repeated_crossings() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(10), Some(0)).unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        write_with(&mut s, sized(6), SendResult::Refused(EAGAIN));
        s.write(sized(6)).unwrap();
        seen.extend(flow(&mut s));
        s.handle_events(false, true);
        for _ in 0..16 {
            if s.write_buffer_len() == 0 {
                break;
            }
            assert_eq!(s.poll_io(), Io::Send);
            s.handle_send(SendResult::Sent);
            seen.extend(flow(&mut s));
        }
    }
    assert_eq!(
        seen,
        vec![
            Cb::Pause,
            Cb::Resume,
            Cb::Pause,
            Cb::Resume,
            Cb::Pause,
            Cb::Resume
        ]
    );
}

#[test]
fn high_zero_pauses_as_soon_as_the_buffer_is_not_empty() {
    // Fast path refused.
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(0), None).unwrap();
    assert_eq!(s.write_limits(), (0, 0));
    write_with(&mut s, sized(1), SendResult::Refused(EAGAIN));
    assert_eq!(flow(&mut s), vec![Cb::Pause]);

    // Queued write.
    let mut s = with_refused_first(SocketType::Dealer, sized(0));
    s.set_write_limits(Some(0), None).unwrap();
    assert_eq!(flow(&mut s), vec![]);
    s.write(sized(1)).unwrap();
    assert_eq!(flow(&mut s), vec![Cb::Pause]);

    // A fast-path send that libzmq accepts leaves nothing buffered: no pause.
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(0), None).unwrap();
    write_with(&mut s, sized(1), SendResult::Sent);
    assert_eq!(flow(&mut s), vec![]);
}

#[test]
fn lowering_high_below_the_buffer_pauses_at_once() {
    let mut s = with_refused_first(SocketType::Dealer, sized(100));
    assert_eq!(flow(&mut s), vec![]);
    s.set_write_limits(Some(99), None).unwrap();
    assert_eq!(flow(&mut s), vec![Cb::Pause]);
}

#[test]
fn flow_callbacks_come_before_messages() {
    let mut s = with_refused_first(SocketType::Dealer, sized(10));
    s.handle_events(true, false);
    assert_eq!(s.poll_io(), Io::Recv);
    s.handle_recv(Ok(msg(&[b"in"])));
    s.set_write_limits(Some(5), None).unwrap();
    assert_eq!(callbacks(&mut s), vec![Cb::Pause, received(&[b"in"])]);
}

// ----- close -----

#[test]
fn write_after_close_is_not_connected_and_counted() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.close();
    assert!(s.is_closing());
    for n in 1..=3 {
        let err = s.write(msg(&[b"late"])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotConnected);
        assert_eq!(s.refused_writes(), n);
    }
    assert_eq!(s.write_buffer_len(), 0);
}

#[test]
fn write_after_abort_is_not_connected_and_counted() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.abort();
    let err = s.write(msg(&[b"late"])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotConnected);
    assert_eq!(s.refused_writes(), 1);
}

#[test]
fn close_flushes_the_buffer_then_closes_with_the_default_linger() {
    let mut s = with_refused_first(SocketType::Dealer, msg(&[b"one"]));
    s.write(msg(&[b"two"])).unwrap();
    s.write(msg(&[b"three"])).unwrap();
    s.close();
    assert!(s.is_closing());
    assert_eq!(
        s.write_buffer_len(),
        3,
        "close keeps the buffer to flush it"
    );

    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    let mut sent = Vec::new();
    for _ in 0..16 {
        if s.write_buffer_len() == 0 {
            break;
        }
        assert_eq!(s.poll_io(), Io::Send, "flushing while writable");
        sent.push(s.front().unwrap()[0].to_vec());
        s.handle_send(SendResult::Sent);
    }
    assert_eq!(
        sent,
        vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
    );
    assert_eq!(
        s.poll_io(),
        Io::Close {
            linger: Some(CLOSE_LINGER_MS)
        }
    );
}

#[test]
fn close_waits_for_room_before_closing() {
    let mut s = with_refused_first(SocketType::Push, msg(&[b"one"]));
    s.close();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, false);
    assert_eq!(
        s.poll_io(),
        Io::Wait,
        "not writable: park, do not close yet"
    );
    assert_eq!(s.write_buffer_len(), 1);
    s.handle_fd_readable();
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(
        s.poll_io(),
        Io::Close {
            linger: Some(CLOSE_LINGER_MS)
        }
    );
}

#[test]
fn after_close_connection_lost_none_comes_exactly_once_then_done() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.close();
    assert_eq!(
        s.poll_io(),
        Io::Close {
            linger: Some(CLOSE_LINGER_MS)
        }
    );
    assert!(!s.is_done());
    assert_eq!(s.poll_io(), Io::Deliver);
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
    assert!(s.is_done());
    assert_eq!(s.poll_io(), Io::Done);
    assert_eq!(callbacks(&mut s), vec![]);
    assert_eq!(s.poll_io(), Io::Done);
}

#[test]
fn connection_lost_comes_after_the_callbacks_owed_before_close() {
    let mut s = with_refused_first(SocketType::Dealer, sized(10));
    s.set_write_limits(Some(5), None).unwrap(); // owes PauseWriting
    s.abort();
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(callbacks(&mut s), vec![Cb::Pause]);
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
    assert_eq!(callbacks(&mut s), vec![]);
}

#[test]
fn nothing_is_delivered_after_close() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_events(true, true);
    assert_eq!(s.poll_io(), Io::Recv);
    s.handle_recv(Ok(msg(&[b"before close"])));
    s.close();
    // Arrives after close, e.g. from a receive already in flight.
    s.handle_recv(Ok(msg(&[b"after close"])));
    assert_eq!(
        s.poll_io(),
        Io::Close {
            linger: Some(CLOSE_LINGER_MS)
        }
    );
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
    s.handle_recv(Ok(msg(&[b"after done"])));
    s.return_undelivered([msg(&[b"returned"])].into_iter());
    assert_eq!(callbacks(&mut s), vec![]);
    assert_eq!(s.poll_io(), Io::Done);
}

// ----- abort -----

#[test]
fn abort_drops_the_buffer_and_closes_with_zero_linger() {
    let mut s = with_refused_first(SocketType::Dealer, sized(7));
    s.write(sized(8)).unwrap();
    s.write(sized(9)).unwrap();
    assert_eq!(s.abort(), 3);
    assert_eq!(s.write_buffer_size(), 0);
    assert_eq!(s.write_buffer_len(), 0);
    assert!(s.is_closing());
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
    assert_eq!(s.poll_io(), Io::Done);
    assert_eq!(s.abort(), 0, "idempotent");
}

#[test]
fn messages_received_but_not_delivered_are_dropped_by_abort_or_a_fatal_error() {
    let end: [fn(&mut TransportState); 2] = [
        |s| {
            s.abort();
        },
        |s| s.fail(from_errno(ETERM)),
    ];
    for end in end {
        let mut s = TransportState::new(SocketType::Dealer);
        s.handle_events(true, true);
        assert_eq!(s.poll_io(), Io::Recv);
        s.handle_recv(Ok(msg(&[b"never delivered"])));
        end(&mut s);
        assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
        let got = callbacks(&mut s);
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(matches!(got[0], Cb::Lost(_)), "{got:?}");
    }
}

#[test]
fn abort_during_a_close_flush_drops_the_rest() {
    let mut s = with_refused_first(SocketType::Dealer, sized(7));
    s.write(sized(8)).unwrap();
    s.close();
    assert_eq!(s.abort(), 2);
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
}

#[test]
fn abort_then_a_fatal_error_still_reports_connection_lost_none() {
    // API.md: abort() drops what is buffered, then connection_lost(None). The
    // first cause wins, as in aiozmq's _force_close (ignored once conn_lost).
    let mut s = TransportState::new(SocketType::Dealer);
    s.abort();
    s.fail(from_errno(EINVAL));
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(callbacks(&mut s), vec![Cb::Lost(None)]);
}

#[test]
fn the_first_fatal_error_is_the_one_connection_lost_reports() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.fail(from_errno(EINVAL));
    s.fail(from_errno(ETERM));
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(
        callbacks(&mut s),
        vec![Cb::Lost(Some((ErrorKind::InvalidInput, Some(EINVAL))))]
    );
}

// ----- fatal and non-fatal send errors -----

#[test]
fn a_fatal_driver_send_error_closes_at_once_and_reports_the_errno() {
    let mut s = with_refused_first(SocketType::Dealer, sized(5));
    s.write(sized(6)).unwrap();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Refused(EINVAL));
    assert!(s.is_closing());
    assert_eq!(s.write_buffer_size(), 0);
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    let mut out = VecDeque::new();
    s.take_callbacks(&mut out);
    assert_eq!(out.len(), 1);
    match out.pop_front().unwrap() {
        Callback::ConnectionLost(Some(err)) => assert_eq!(zmq_errno(&err), Some(EINVAL)),
        other => panic!("expected connection_lost(Some(EINVAL)), got {other:?}"),
    }
    assert_eq!(s.poll_io(), Io::Done);
    assert_eq!(
        s.write(sized(1)).unwrap_err().kind(),
        ErrorKind::NotConnected
    );
}

#[test]
fn a_fatal_direct_send_error_is_returned_and_ends_the_transport() {
    let mut s = TransportState::new(SocketType::Dealer);
    assert_eq!(s.write(sized(3)).unwrap(), WriteAction::SendNow);
    let err = s
        .handle_direct_send(SendResult::Refused(EINVAL))
        .unwrap_err();
    assert_eq!(zmq_errno(&err), Some(EINVAL));
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
    assert_eq!(
        callbacks(&mut s),
        vec![Cb::Lost(Some((ErrorKind::InvalidInput, Some(EINVAL))))]
    );
}

#[test]
fn a_direct_send_efsm_rejects_only_that_message() {
    let mut s = TransportState::new(SocketType::Req);
    assert_eq!(
        s.write(msg(&[b"out of turn"])).unwrap(),
        WriteAction::SendNow
    );
    let err = s.handle_direct_send(SendResult::Refused(EFSM)).unwrap_err();
    assert_eq!(zmq_errno(&err), Some(EFSM));
    assert_eq!(s.write_buffer_len(), 0, "the rejected message is removed");
    assert_eq!(s.write_buffer_size(), 0);
    assert!(!s.is_closing());
    // Still open and usable.
    assert_eq!(s.write(msg(&[b"next"])).unwrap(), WriteAction::SendNow);
    s.handle_direct_send(SendResult::Sent).unwrap();
    assert_eq!(park(&mut s, false, true), vec![], "no connection_lost");
    assert!(!s.is_closing());
}

// ----- reading pause -----

#[test]
fn pause_reading_twice_is_invalid_input() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.pause_reading().unwrap();
    let err = s.pause_reading().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert!(s.is_reading_paused());
}

#[test]
fn resume_reading_when_not_paused_is_invalid_input() {
    let mut s = TransportState::new(SocketType::Dealer);
    assert_eq!(
        s.resume_reading().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    s.pause_reading().unwrap();
    s.resume_reading().unwrap();
    assert_eq!(
        s.resume_reading().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn paused_reading_holds_messages_and_resume_hands_them_out_in_order() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_events(true, true);
    assert_eq!(s.poll_io(), Io::Recv);
    s.handle_recv(Ok(msg(&[b"1"])));
    s.pause_reading().unwrap();
    s.handle_recv(Ok(msg(&[b"2", b"two"])));
    s.handle_recv(Ok(msg(&[b"3"])));
    assert_eq!(callbacks(&mut s), vec![]);
    assert_ne!(s.poll_io(), Io::Deliver, "nothing deliverable while paused");
    s.resume_reading().unwrap();
    assert_eq!(s.poll_io(), Io::Recv, "resumed: receive again");
    s.handle_recv(Ok(msg(&[b"4"])));
    assert_eq!(
        callbacks(&mut s),
        vec![
            received(&[b"1"]),
            received(&[b"2", b"two"]),
            received(&[b"3"]),
            received(&[b"4"])
        ]
    );
}

#[test]
fn poll_io_does_not_receive_while_reading_is_paused() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.pause_reading().unwrap();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(true, false);
    assert_eq!(s.poll_io(), Io::Wait, "readable, but paused: park");
    s.handle_fd_readable();
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(true, false);
    assert_eq!(s.poll_io(), Io::Wait);
}

#[test]
fn a_full_inbox_is_delivered_before_receiving_more() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_events(true, false);
    for i in 0..INBOX_CAPACITY {
        assert_eq!(s.poll_io(), Io::Recv);
        s.handle_recv(Ok(msg(&[&i.to_le_bytes()])));
    }
    assert_eq!(s.poll_io(), Io::Deliver);
    assert_eq!(callbacks(&mut s).len(), INBOX_CAPACITY);
    assert_eq!(s.poll_io(), Io::Recv);
}

// ----- bad writes -----

#[test]
fn an_empty_multipart_write_is_invalid_input() {
    let mut s = TransportState::new(SocketType::Dealer);
    let err = s.write(Multipart::new()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(s.write_buffer_len(), 0);
    assert!(!s.is_closing());
}

#[test]
fn writing_on_sub_or_pull_is_unsupported() {
    for kind in [SocketType::Sub, SocketType::Pull] {
        let mut s = TransportState::new(kind);
        let err = s.write(msg(&[b"x"])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{kind}");
        assert_eq!(s.write_buffer_len(), 0);
    }
}

// ----- subscriptions -----

#[test]
fn subscriptions_are_unsupported_on_non_sub_sockets() {
    for kind in [
        SocketType::Dealer,
        SocketType::Pub,
        SocketType::XSub,
        SocketType::Pull,
    ] {
        let s = TransportState::new(kind);
        assert_eq!(
            s.check_subscribe(b"a").unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            s.check_unsubscribe(b"a").unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            s.subscriptions().unwrap_err().kind(),
            ErrorKind::Unsupported
        );
    }
}

#[test]
fn subscribing_to_a_held_prefix_is_a_no_op() {
    let mut s = TransportState::new(SocketType::Sub);
    assert!(s.check_subscribe(b"topic").unwrap());
    s.handle_subscribed(Bytes::from_static(b"topic"));
    assert!(!s.check_subscribe(b"topic").unwrap());
    assert!(
        s.check_subscribe(b"top").unwrap(),
        "a different prefix is new"
    );
}

#[test]
fn unsubscribing_an_unknown_prefix_is_a_no_op() {
    let mut s = TransportState::new(SocketType::Sub);
    assert!(!s.check_unsubscribe(b"nope").unwrap());
    s.handle_subscribed(Bytes::from_static(b"yes"));
    assert!(!s.check_unsubscribe(b"nope").unwrap());
    assert!(s.check_unsubscribe(b"yes").unwrap());
}

#[test]
fn subscriptions_reflect_subscribes_and_unsubscribes() {
    let mut s = TransportState::new(SocketType::Sub);
    assert!(s.subscriptions().unwrap().is_empty());
    s.handle_subscribed(Bytes::from_static(b"a"));
    s.handle_subscribed(Bytes::from_static(b""));
    s.handle_subscribed(Bytes::from_static(b"b"));
    s.handle_unsubscribed(b"a");
    let subs: Vec<&[u8]> = s.subscriptions().unwrap().iter().map(|b| &b[..]).collect();
    assert_eq!(subs, vec![&b""[..], &b"b"[..]]);
    assert!(!s.check_unsubscribe(b"a").unwrap());
}

// ----- bindings and connections -----

#[test]
fn bindings_and_connections_follow_the_handlers() {
    let mut s = TransportState::new(SocketType::Router);
    s.handle_bound("tcp://127.0.0.1:5555".into());
    s.handle_bound("inproc://a".into());
    s.handle_connected("tcp://127.0.0.1:6666".into());
    assert_eq!(
        s.bindings().iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["inproc://a", "tcp://127.0.0.1:5555"]
    );
    assert_eq!(
        s.connections()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        vec!["tcp://127.0.0.1:6666"]
    );
    s.handle_unbound("inproc://a");
    s.handle_disconnected("tcp://127.0.0.1:6666");
    assert_eq!(
        s.bindings().iter().map(String::as_str).collect::<Vec<_>>(),
        vec!["tcp://127.0.0.1:5555"]
    );
    assert!(s.connections().is_empty());
}

#[test]
fn check_bind_rejects_nul_bytes_and_missing_scheme() {
    let s = TransportState::new(SocketType::Router);
    for bad in [
        "tcp://127.0.0.1:5\0",
        "tcp://a\0b:5555",
        "127.0.0.1:5555",
        "tcp:/x",
        "://x",
        "tcp://",
        "",
    ] {
        let err = s.check_bind(bad).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{bad:?}");
    }
    s.check_bind("tcp://127.0.0.1:5555").unwrap();
    s.check_bind("inproc://name").unwrap();
}

// ----- the edge-trigger rule -----

#[test]
fn a_new_transport_reads_events_before_its_first_park() {
    for kind in SocketType::ALL {
        let mut s = TransportState::new(kind);
        assert_eq!(s.poll_io(), Io::ReadEvents, "{kind}");
        s.handle_events(false, false);
        assert_eq!(s.poll_io(), Io::Wait, "{kind}");
    }
}

#[test]
fn no_park_after_a_driver_send_until_events_are_read() {
    let mut s = with_refused_first(SocketType::Push, sized(1));
    s.write(sized(1)).unwrap();
    park(&mut s, false, false);
    s.handle_fd_readable();
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Refused(EAGAIN));
    assert_reads_events_before_parking(&mut s);
}

#[test]
fn no_park_after_a_receive_until_events_are_read() {
    let mut s = TransportState::new(SocketType::Pull);
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(true, false);
    assert_eq!(s.poll_io(), Io::Recv);
    s.handle_recv(Err(EAGAIN));
    assert_reads_events_before_parking(&mut s);
}

#[test]
fn no_park_after_a_direct_send_until_events_are_read() {
    for result in [SendResult::Sent, SendResult::Refused(EAGAIN)] {
        let mut s = TransportState::new(SocketType::Push);
        park(&mut s, false, true);
        write_with(&mut s, sized(1), result);
        assert_reads_events_before_parking(&mut s);
    }
}

#[test]
fn no_park_after_any_other_libzmq_call_until_events_are_read() {
    let calls: [fn(&mut TransportState); 5] = [
        |s| s.handle_zmq_call(),
        |s| s.handle_bound("inproc://x".into()),
        |s| s.handle_connected("inproc://y".into()),
        |s| s.handle_setsockopt(SockOpt::SNDHWM, &OptValue::Int(10)),
        |s| s.handle_unbound("inproc://x"),
    ];
    for call in calls {
        // Even on a PUSH socket with nothing to do.
        for kind in [SocketType::Dealer, SocketType::Push] {
            let mut s = TransportState::new(kind);
            park(&mut s, false, true);
            call(&mut s);
            s.begin_turn();
            assert_reads_events_before_parking(&mut s);
        }
    }
}

#[test]
fn a_spent_turn_budget_of_sends_yields_and_begin_turn_restores_it() {
    let mut s = with_refused_first(SocketType::Push, sized(1));
    for _ in 0..TURN_BUDGET + 10 {
        assert_eq!(s.write(sized(1)).unwrap(), WriteAction::Queued);
    }
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    for _ in 0..TURN_BUDGET {
        assert_eq!(s.poll_io(), Io::Send);
        s.handle_send(SendResult::Sent);
    }
    assert_eq!(s.poll_io(), Io::Yield);
    assert_eq!(s.poll_io(), Io::Yield, "never Wait, even with events stale");
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::Send);
}

#[test]
fn a_spent_turn_budget_of_receives_yields_and_begin_turn_restores_it() {
    let mut s = TransportState::new(SocketType::Pull);
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(true, false);
    let (mut recvs, mut delivered, mut yielded) = (0, 0, false);
    for _ in 0..4 * TURN_BUDGET {
        match s.poll_io() {
            Io::Recv => {
                recvs += 1;
                s.handle_recv(Ok(msg(&[b"m"])));
            }
            Io::Deliver => delivered += callbacks(&mut s).len(),
            Io::Yield => {
                yielded = true;
                break;
            }
            other => panic!("unexpected {other:?} after {recvs} receives"),
        }
    }
    assert!(yielded, "no Yield after {recvs} receives");
    assert_eq!(recvs, TURN_BUDGET as usize);
    assert_eq!(
        delivered, TURN_BUDGET as usize,
        "everything received is delivered first"
    );
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::Recv);
}

#[test]
fn the_budget_is_shared_by_sends_and_receives() {
    let mut s = with_refused_first(SocketType::Dealer, sized(1));
    for _ in 0..TURN_BUDGET {
        s.write(sized(1)).unwrap();
    }
    s.handle_events(true, true);
    let (mut ops, mut yielded) = (0, false);
    for _ in 0..4 * TURN_BUDGET {
        match s.poll_io() {
            Io::Send => {
                ops += 1;
                s.handle_send(SendResult::Sent);
                assert_eq!(s.poll_io(), Io::Send);
                ops += 1;
                s.handle_send(SendResult::Refused(EAGAIN));
            }
            Io::Recv => {
                ops += 1;
                s.handle_recv(Ok(msg(&[b"m"])));
            }
            Io::Deliver => drop(callbacks(&mut s)),
            Io::Yield => {
                yielded = true;
                break;
            }
            Io::ReadEvents => s.handle_events(true, true),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(yielded, "no Yield after {ops} sends and receives");
    assert_eq!(ops, TURN_BUDGET);
}

// ----- waking a parked driver -----

fn assert_woken_once(s: &mut TransportState) {
    assert!(s.take_wake(), "the parked driver must be woken");
    assert!(!s.take_wake(), "woken exactly once");
    assert!(!s.is_parked());
}

#[test]
fn a_queued_write_that_owes_pause_writing_wakes_the_parked_driver() {
    let mut s = with_refused_first(SocketType::Dealer, sized(10));
    s.set_write_limits(Some(15), None).unwrap();
    park(&mut s, false, false);
    assert_eq!(s.write(sized(10)).unwrap(), WriteAction::Queued);
    assert_woken_once(&mut s);
}

#[test]
fn a_write_on_an_empty_buffer_tries_libzmq_even_when_events_said_full() {
    // As aiozmq: an empty buffer always takes the fast path.
    let mut s = TransportState::new(SocketType::Push);
    park(&mut s, false, false);
    assert_eq!(s.write(sized(1)).unwrap(), WriteAction::SendNow);
    s.handle_direct_send(SendResult::Sent).unwrap();
    assert_eq!(s.write_buffer_len(), 0);
}

#[test]
fn a_queued_write_while_unwritable_is_sent_on_the_fd_signal() {
    // The socket is full and EVENTS is fresh: the FD will signal when room comes,
    // so the write needs no wake-up, and nothing is lost.
    let mut s = with_refused_first(SocketType::Dealer, sized(1));
    park(&mut s, false, false);
    assert_eq!(s.write(sized(2)).unwrap(), WriteAction::Queued);
    // A wake-up here would be harmless, so it is not asserted either way; what
    // matters is that the driver has nothing to do until the FD signals.
    let _ = s.take_wake();
    assert_eq!(s.poll_io(), Io::Wait, "nothing to do until the FD signals");
    s.handle_fd_readable();
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::ReadEvents);
    s.handle_events(false, true);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(s.poll_io(), Io::Send);
    s.handle_send(SendResult::Sent);
    assert_eq!(s.write_buffer_len(), 0);
}

#[test]
fn a_fast_path_write_refused_by_libzmq_wakes_the_parked_driver() {
    // The direct send is a libzmq call (the FD's edge may be spent) and leaves a
    // message to send: the driver must read EVENTS again.
    for pollout in [true, false] {
        let mut s = TransportState::new(SocketType::Push);
        park(&mut s, false, pollout);
        assert_eq!(
            write_with(&mut s, sized(1), SendResult::Refused(EAGAIN)),
            WriteAction::SendNow
        );
        assert_woken_once(&mut s);
        s.begin_turn();
        assert_eq!(s.poll_io(), Io::ReadEvents);
    }
}

#[test]
fn resume_reading_wakes_the_parked_driver() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.pause_reading().unwrap();
    park(&mut s, true, true);
    assert!(!s.take_wake());
    s.resume_reading().unwrap();
    assert_woken_once(&mut s);
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::Recv);
}

#[test]
fn resume_reading_with_messages_held_wakes_the_parked_driver() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_events(true, true);
    assert_eq!(s.poll_io(), Io::Recv);
    s.handle_recv(Ok(msg(&[b"held"])));
    s.pause_reading().unwrap();
    park(&mut s, false, true);
    s.resume_reading().unwrap();
    assert_woken_once(&mut s);
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::Deliver);
    assert_eq!(callbacks(&mut s), vec![received(&[b"held"])]);
}

#[test]
fn close_wakes_the_parked_driver() {
    let mut s = TransportState::new(SocketType::Dealer);
    park(&mut s, false, true);
    s.close();
    assert_woken_once(&mut s);
    s.close();
    assert!(!s.take_wake(), "a second close asks nothing more");
    s.begin_turn();
    assert_eq!(
        s.poll_io(),
        Io::Close {
            linger: Some(CLOSE_LINGER_MS)
        }
    );
}

#[test]
fn abort_wakes_the_parked_driver() {
    let mut s = with_refused_first(SocketType::Push, sized(1));
    park(&mut s, false, false);
    s.abort();
    assert_woken_once(&mut s);
    s.begin_turn();
    assert_eq!(s.poll_io(), Io::Close { linger: Some(0) });
}

#[test]
fn a_libzmq_call_wakes_a_parked_driver_that_can_receive() {
    for kind in [
        SocketType::Dealer,
        SocketType::Sub,
        SocketType::Pull,
        SocketType::Rep,
    ] {
        let mut s = TransportState::new(kind);
        park(&mut s, false, false);
        s.handle_zmq_call();
        assert_woken_once(&mut s);
        s.begin_turn();
        assert_eq!(s.poll_io(), Io::ReadEvents, "{kind}");
    }
}

#[test]
fn a_libzmq_call_on_an_idle_push_socket_does_not_wake() {
    let mut s = TransportState::new(SocketType::Push);
    park(&mut s, false, true);
    s.handle_zmq_call();
    assert!(!s.take_wake());
    assert!(s.is_parked());
}

#[test]
fn no_wake_is_requested_while_the_driver_runs() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_zmq_call();
    s.close();
    assert!(!s.take_wake(), "not parked: nobody to wake");
}

// ----- setsockopt -----

#[test]
fn check_setsockopt_rejects_a_value_of_the_wrong_type() {
    let s = TransportState::new(SocketType::Dealer);
    let err = s.check_setsockopt(SockOpt::LINGER, "x".into()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        s.check_setsockopt(SockOpt::LINGER, OptValue::Int64(5))
            .unwrap(),
        OptValue::Int(5)
    );
}

#[test]
fn a_linger_set_by_the_user_is_kept_on_close() {
    let mut s = TransportState::new(SocketType::Dealer);
    s.handle_setsockopt(SockOpt::LINGER, &OptValue::Int(5));
    s.close();
    assert_eq!(s.poll_io(), Io::Close { linger: Some(5) });
}

#[test]
fn checks_after_close_are_not_connected() {
    let mut s = TransportState::new(SocketType::Sub);
    s.close();
    assert_eq!(
        s.check_bind("tcp://a:1").unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(
        s.check_subscribe(b"a").unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    assert_eq!(
        s.check_setsockopt(SockOpt::LINGER, OptValue::Int(1))
            .unwrap_err()
            .kind(),
        ErrorKind::NotConnected
    );
}

#[test]
fn take_deliveries_hands_over_callbacks_then_messages_in_order() {
    use aiozmq_core::Deliveries;
    let mut s = TransportState::new(SocketType::Dealer);
    s.set_write_limits(Some(0), None).unwrap();
    s.handle_recv(Ok(msg(&[b"one"])));
    s.handle_recv(Ok(msg(&[b"two"])));
    // A queued write over high owes pause_writing.
    s.handle_events(false, false);
    assert_eq!(s.write(msg(&[b"w"])).unwrap(), WriteAction::SendNow);
    s.handle_direct_send(SendResult::Refused(aiozmq_core::error::EAGAIN))
        .unwrap();
    let mut out = Deliveries::default();
    s.take_deliveries(&mut out);
    assert!(matches!(
        out.callbacks.pop_front(),
        Some(Callback::PauseWriting)
    ));
    assert!(out.callbacks.is_empty());
    assert_eq!(out.msgs.len(), 2);
    assert_eq!(out.msgs[0], msg(&[b"one"]));
    assert_eq!(out.msgs[1], msg(&[b"two"]));
    // Paused reading keeps new messages back; resuming hands them over.
    out.msgs.clear();
    s.pause_reading().unwrap();
    s.handle_recv(Ok(msg(&[b"three"])));
    s.take_deliveries(&mut out);
    assert!(out.is_empty());
    s.resume_reading().unwrap();
    s.take_deliveries(&mut out);
    assert_eq!(out.msgs.len(), 1);
    // After close: nothing but connection_lost, alone and once.
    out.msgs.clear();
    s.abort();
    assert!(matches!(s.poll_io(), Io::Close { .. }));
    s.take_deliveries(&mut out);
    assert!(matches!(
        out.callbacks.pop_front(),
        Some(Callback::ConnectionLost(None))
    ));
    assert!(out.is_empty());
    s.take_deliveries(&mut out);
    assert!(out.is_empty());
}

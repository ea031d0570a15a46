//! Model tests: random sequences of application calls and driver steps are run
//! against `TransportState`, and after every single input the state is compared
//! with a simple model kept by the test itself.
//!
//! The model knows what was written (each message carries a sequence number in
//! its first frame), what libzmq answered, and what the driver was told; from
//! that alone it checks the write buffer, FIFO sending, water-mark callbacks,
//! the close/abort life cycle, delivery of received messages, and the
//! edge-trigger rule: `poll_io` never answers `Wait` while a libzmq call ran
//! since `ZMQ_EVENTS` was last read (tracked here, not read from the state).

use std::collections::VecDeque;
use std::io::ErrorKind;

use aiozmq_core::error::{from_errno, EAGAIN, ETERM};
use aiozmq_core::{
    zmq_errno, Bytes, Callback, Io, Multipart, OptValue, SendResult, SockOpt, SocketType,
    TransportState, WriteAction, CLOSE_LINGER_MS, INBOX_CAPACITY, TURN_BUDGET,
};
use proptest::prelude::*;

const EINVAL: i32 = 22;
const EINTR: i32 = 4;
const ECONNRESET: i32 = 104;
const DEFAULT_LIMITS: (usize, usize) = (16 * 1024, 64 * 1024);

// ----- inputs -----

/// How libzmq answers a driver send.
#[derive(Debug, Clone, Copy)]
enum SendAnswer {
    Sent,
    Again,
    Interrupted,
    Fatal,
}

/// What the pretend socket answers to whatever `poll_io` asks next.
#[derive(Debug, Clone, Copy)]
struct Answer {
    send: SendAnswer,
    recv_msg: bool,
    pollin: bool,
    pollout: bool,
}

#[derive(Debug, Clone)]
enum Op {
    /// `write` of frames of these lengths; a fast-path send is answered Sent or
    /// EAGAIN. `take_flow`: the flow callbacks are taken at once, as a `write`
    /// outside a callback does; otherwise the driver delivers them later.
    Write {
        frames: Vec<usize>,
        direct_sent: bool,
        take_flow: bool,
    },
    SetLimits {
        high: Option<usize>,
        low: Option<usize>,
        take_flow: bool,
    },
    PauseReading,
    ResumeReading,
    Close,
    Abort,
    Fail(i32),
    ZmqCall,
    SetLinger(i32),
    TakeCallbacks,
    /// One driver turn: starts (after a park or yield) with an optional FD
    /// signal, then acts on `poll_io` once per answer, stopping at Wait/Yield/Done.
    Drive {
        fd_signal: bool,
        answers: Vec<Answer>,
    },
}

// ----- the model -----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Flushing,
    Dropping,
    Closed,
    Done,
}

struct Model {
    s: TransportState,
    kind: SocketType,
    phase: Phase,
    /// Why the transport is being dropped: `None` for abort, the errno for a failure.
    causes: Vec<Option<i32>>,
    limits: (usize, usize),
    user_linger: Option<i32>,

    next_seq: u64,
    buffer: VecDeque<(u64, Multipart)>,
    size: usize,
    written: u64,
    sent: u64,
    last_sent: Option<u64>,
    dropped: u64,
    refused: u64,
    /// Whether the protocol was told (or is owed) pause_writing, and the
    /// pause (true) and resume (false) callbacks owed, in order.
    writing_paused: bool,
    owed_flow: VecDeque<bool>,

    reading_paused: bool,
    next_in: u64,
    inbox: VecDeque<u64>,
    last_delivered: Option<u64>,

    /// A libzmq call ran since the last EVENTS read: the model's own record.
    zmq_since_events: bool,
    fd_since_events: bool,
    readable: bool,
    writable: bool,
    budget: u32,
    parked: bool,
    needs_begin_turn: bool,
    lost_seen: bool,
}

fn seq_of(msg: &Multipart) -> u64 {
    u64::from_le_bytes(msg[0][..8].try_into().expect("8-byte sequence number"))
}

fn outgoing(seq: u64, lens: &[usize]) -> Multipart {
    lens.iter()
        .enumerate()
        .map(|(i, &n)| {
            let mut frame = Vec::with_capacity(n + 8);
            if i == 0 {
                frame.extend_from_slice(&seq.to_le_bytes());
            }
            frame.resize(frame.len() + n, seq as u8);
            Bytes::from(frame)
        })
        .collect()
}

fn incoming(seq: u64) -> Multipart {
    Multipart::from_iter([
        Bytes::copy_from_slice(&seq.to_le_bytes()),
        Bytes::from_static(b"body"),
    ])
}

fn frames_len(msg: &Multipart) -> usize {
    msg.iter().map(Bytes::len).sum()
}

/// aiozmq's limit rules: `(low, high)` or `None` when invalid.
fn expected_limits(high: Option<usize>, low: Option<usize>) -> Option<(usize, usize)> {
    match (high, low) {
        (None, None) => Some(DEFAULT_LIMITS),
        (Some(h), None) => Some((h / 4, h)),
        (None, Some(l)) => Some((l, 4 * l)),
        (Some(h), Some(l)) if h < l => None,
        (Some(h), Some(l)) => Some((l, h)),
    }
}

impl Model {
    fn new(kind: SocketType) -> Model {
        let m = Model {
            s: TransportState::new(kind),
            kind,
            phase: Phase::Open,
            causes: Vec::new(),
            limits: DEFAULT_LIMITS,
            user_linger: None,
            next_seq: 0,
            buffer: VecDeque::new(),
            size: 0,
            written: 0,
            sent: 0,
            last_sent: None,
            dropped: 0,
            refused: 0,
            writing_paused: false,
            owed_flow: VecDeque::new(),
            reading_paused: false,
            next_in: 0,
            inbox: VecDeque::new(),
            last_delivered: None,
            // A new transport has never read EVENTS.
            zmq_since_events: true,
            fd_since_events: false,
            readable: false,
            writable: true,
            budget: TURN_BUDGET,
            parked: false,
            needs_begin_turn: false,
            lost_seen: false,
        };
        m.check_invariants(false);
        m
    }

    fn can_receive_now(&self) -> bool {
        self.phase == Phase::Open && self.kind.can_recv() && !self.reading_paused
    }

    fn deliverable(&self) -> bool {
        !self.owed_flow.is_empty() || (!self.reading_paused && !self.inbox.is_empty())
    }

    // ----- model transitions -----

    fn drop_all(&mut self) -> usize {
        let n = self.buffer.len();
        self.dropped += n as u64;
        self.buffer.clear();
        self.size = 0;
        self.inbox.clear();
        n
    }

    fn model_fail(&mut self, errno: i32) {
        match self.phase {
            Phase::Open | Phase::Flushing => {
                self.phase = Phase::Dropping;
                self.causes = vec![Some(errno)];
                self.drop_all();
            }
            Phase::Dropping => self.causes.push(Some(errno)),
            Phase::Closed | Phase::Done => {}
        }
    }

    // ----- checks -----

    /// After every input: a flow callback is owed exactly when the state
    /// starts or stops being paused, and it must match a crossing at that very
    /// moment. Then every invariant is checked.
    fn after_input(&mut self, direct_send_pending: bool) {
        let paused = self.s.is_writing_paused();
        if paused != self.writing_paused {
            assert!(!self.lost_seen, "flow change after connection_lost");
            assert_eq!(self.phase, Phase::Open, "no flow callbacks once closing");
            let (low, high) = self.limits;
            if paused {
                assert!(
                    self.size > high,
                    "pause_writing at size {} <= high {high}",
                    self.size
                );
            } else {
                assert!(
                    self.size <= low,
                    "resume_writing at size {} > low {low}",
                    self.size
                );
            }
            self.writing_paused = paused;
            self.owed_flow.push_back(paused);
        }
        self.check_invariants(direct_send_pending);
    }

    /// A flow callback handed out: it must be the next one owed. Owed ones
    /// alternate by construction, starting with a pause.
    fn check_flow(&mut self, cb: &Callback) {
        assert!(!self.lost_seen, "{cb:?} after connection_lost");
        let pause = matches!(cb, Callback::PauseWriting);
        assert_eq!(
            self.owed_flow.pop_front(),
            Some(pause),
            "{cb:?} handed out, owed: {:?}",
            self.owed_flow
        );
    }

    /// `take_flow_callbacks`: everything owed, flow only.
    fn take_flow(&mut self) {
        let mut out = VecDeque::new();
        self.s.take_flow_callbacks(&mut out);
        for cb in out {
            match cb {
                Callback::PauseWriting | Callback::ResumeWriting => self.check_flow(&cb),
                other => panic!("take_flow_callbacks handed out {other:?}"),
            }
        }
        assert!(
            self.owed_flow.is_empty(),
            "flow callbacks kept back: {:?}",
            self.owed_flow
        );
    }

    fn check_invariants(&self, direct_send_pending: bool) {
        let s = &self.s;
        assert_eq!(s.write_buffer_size(), self.size, "write_buffer_size");
        assert_eq!(s.write_buffer_len(), self.buffer.len(), "write_buffer_len");
        assert_eq!(s.front(), self.buffer.front().map(|(_, m)| m), "front");
        assert_eq!(
            self.written,
            self.sent + self.dropped + self.buffer.len() as u64,
            "every written message is sent, dropped or buffered"
        );
        assert_eq!(s.write_limits(), self.limits, "write_limits");
        assert_eq!(s.is_closing(), self.phase != Phase::Open, "is_closing");
        assert_eq!(s.is_done(), self.phase == Phase::Done, "is_done");
        assert_eq!(
            s.is_reading_paused(),
            self.reading_paused,
            "is_reading_paused"
        );
        assert_eq!(
            s.is_writing_paused(),
            self.writing_paused,
            "is_writing_paused"
        );
        assert_eq!(s.refused_writes(), self.refused, "refused_writes");
        if self.phase == Phase::Open && !direct_send_pending {
            // Each crossing was reported: not paused means not over high,
            // paused means not yet back to low.
            let (low, high) = self.limits;
            if self.writing_paused {
                assert!(
                    self.size > low,
                    "still paused at size {} <= low {low}",
                    self.size
                );
            } else {
                assert!(
                    self.size <= high,
                    "not paused at size {} > high {high}",
                    self.size
                );
            }
        }
    }

    /// Whether the driver is parked: checked once any wake-up was taken.
    fn check_parked(&self) {
        assert_eq!(self.s.is_parked(), self.parked, "is_parked");
    }

    /// After an input made outside the driver: the wake-up rule. A parked
    /// driver that is not woken must have nothing to do: its next `poll_io`
    /// would say `Wait` (or `ReadEvents` when, with nothing to send and no
    /// reading allowed, no answer of EVENTS could give it work).
    fn outside_input_done(&mut self) {
        let wake = self.s.take_wake();
        assert!(!self.s.take_wake(), "a wake-up is requested once");
        if !self.parked {
            assert!(!wake, "wake-up requested while the driver is not parked");
            self.check_parked();
            return;
        }
        if wake {
            self.parked = false;
        } else {
            // Re-reading EVENTS is only harmless to put off when, whatever it
            // says, the driver would have nothing to send or receive.
            let idle = self.buffer.is_empty() && !self.can_receive_now();
            let io = self.poll();
            assert!(
                io == Io::Wait || (io == Io::ReadEvents && idle),
                "parked driver not woken but poll_io says {io:?}: a lost wake-up"
            );
        }
        self.check_invariants(false);
        self.check_parked();
    }

    /// `poll_io`, checked against what the model knows.
    fn poll(&mut self) -> Io {
        let io = self.s.poll_io();
        match self.phase {
            Phase::Done => assert_eq!(io, Io::Done, "after connection_lost"),
            Phase::Closed => assert_eq!(io, Io::Deliver, "connection_lost is owed"),
            Phase::Dropping => assert_eq!(io, Io::Close { linger: Some(0) }, "dropping"),
            Phase::Flushing if self.buffer.is_empty() => assert_eq!(
                io,
                Io::Close {
                    linger: Some(self.user_linger.unwrap_or(CLOSE_LINGER_MS))
                },
                "flushed"
            ),
            Phase::Open | Phase::Flushing => match io {
                Io::Send => {
                    assert!(self.budget > 0, "Send with the budget spent");
                    assert!(
                        self.writable && !self.buffer.is_empty(),
                        "Send with nothing to send"
                    );
                }
                Io::Recv => {
                    assert!(self.budget > 0, "Recv with the budget spent");
                    assert!(self.can_receive_now(), "Recv while it must not receive");
                    assert!(self.readable, "Recv while not readable");
                    assert!(self.inbox.len() < INBOX_CAPACITY, "Recv with a full inbox");
                }
                Io::ReadEvents => {
                    assert!(self.budget > 0, "ReadEvents with the budget spent");
                    assert!(
                        self.zmq_since_events || self.fd_since_events,
                        "ReadEvents while EVENTS is fresh"
                    );
                }
                Io::Deliver => assert!(self.deliverable(), "Deliver with nothing owed"),
                Io::Yield => assert_eq!(self.budget, 0, "Yield with budget left"),
                Io::Wait => {
                    // THE EDGE-TRIGGER PROPERTY.
                    assert!(
                        !self.zmq_since_events,
                        "Wait after a libzmq call without reading EVENTS: a lost wake-up"
                    );
                    assert!(
                        self.budget > 0,
                        "Wait instead of Yield with the budget spent"
                    );
                    assert!(
                        !self.writable || self.buffer.is_empty(),
                        "Wait while writable with messages buffered"
                    );
                    assert!(
                        !(self.can_receive_now()
                            && self.readable
                            && self.inbox.len() < INBOX_CAPACITY),
                        "Wait while readable"
                    );
                    assert!(!self.deliverable(), "Wait with messages to deliver");
                    self.parked = true;
                }
                other => panic!("{other:?} while {:?}", self.phase),
            },
        }
        if let Io::Close { .. } = io {
            self.phase = Phase::Closed;
        }
        io
    }

    fn deliver(&mut self, asked: bool) {
        let mut out = VecDeque::new();
        self.s.take_callbacks(&mut out);
        if asked {
            assert!(
                !out.is_empty(),
                "poll_io said Deliver, take_callbacks gave nothing"
            );
        }
        let batch = out.len();
        for cb in out {
            assert!(!self.lost_seen, "{cb:?} after connection_lost");
            match cb {
                Callback::PauseWriting | Callback::ResumeWriting => self.check_flow(&cb),
                Callback::MsgReceived(msg) => {
                    assert!(!self.reading_paused, "msg_received while reading is paused");
                    assert_eq!(self.phase, Phase::Open, "msg_received after close");
                    let seq = seq_of(&msg);
                    assert_eq!(self.inbox.pop_front(), Some(seq), "received out of order");
                    assert_eq!(msg, incoming(seq));
                    if let Some(last) = self.last_delivered {
                        assert!(seq > last);
                    }
                    self.last_delivered = Some(seq);
                }
                Callback::EventReceived(e) => panic!("no monitor events were fed: {e:?}"),
                Callback::ConnectionLost(exc) => {
                    assert_eq!(
                        self.phase,
                        Phase::Closed,
                        "connection_lost before Io::Close"
                    );
                    assert_eq!(batch, 1, "connection_lost is handed out alone, last");
                    assert!(
                        self.owed_flow.is_empty(),
                        "connection_lost before flow callbacks"
                    );
                    let got = exc.as_ref().map(|e| zmq_errno(e).expect("a libzmq errno"));
                    if self.causes.is_empty() {
                        assert_eq!(got, None, "close() ends with connection_lost(None)");
                    } else {
                        // The first cause is what connection_lost reports, as in aiozmq.
                        assert_eq!(
                            Some(&got),
                            self.causes.first(),
                            "connection_lost({got:?}) but the causes were {:?}",
                            self.causes
                        );
                    }
                    self.phase = Phase::Done;
                    self.lost_seen = true;
                }
            }
        }
    }

    // ----- applying inputs -----

    fn apply(&mut self, op: Op) {
        match op {
            Op::Write {
                frames,
                direct_sent,
                take_flow,
            } => self.write(&frames, direct_sent, take_flow),
            Op::SetLimits {
                high,
                low,
                take_flow,
            } => {
                let result = self.s.set_write_limits(high, low);
                match expected_limits(high, low) {
                    Some(limits) => {
                        result.expect("valid limits");
                        self.limits = limits;
                    }
                    None => {
                        let err = result.expect_err("high < low must be rejected");
                        assert_eq!(err.kind(), ErrorKind::InvalidInput);
                    }
                }
                self.after_input(false);
                if take_flow {
                    self.take_flow();
                }
                self.outside_input_done();
            }
            Op::PauseReading => {
                let result = self.s.pause_reading();
                if self.reading_paused {
                    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
                } else {
                    result.unwrap();
                    self.reading_paused = true;
                }
                self.after_input(false);
                self.outside_input_done();
            }
            Op::ResumeReading => {
                let result = self.s.resume_reading();
                if self.reading_paused {
                    result.unwrap();
                    self.reading_paused = false;
                } else {
                    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidInput);
                }
                self.after_input(false);
                self.outside_input_done();
            }
            Op::Close => self.close(),
            Op::Abort => {
                let n = self.s.abort();
                let expected = match self.phase {
                    Phase::Open | Phase::Flushing => {
                        self.phase = Phase::Dropping;
                        self.causes = vec![None];
                        self.drop_all()
                    }
                    _ => 0,
                };
                assert_eq!(n, expected, "abort() returns the messages dropped");
                self.after_input(false);
                self.outside_input_done();
            }
            Op::Fail(errno) => {
                self.s.fail(from_errno(errno));
                self.model_fail(errno);
                self.after_input(false);
                self.outside_input_done();
            }
            Op::ZmqCall => {
                if matches!(self.phase, Phase::Closed | Phase::Done) {
                    return; // the socket is gone: no more libzmq calls
                }
                self.s.handle_zmq_call();
                self.zmq_since_events = true;
                self.after_input(false);
                self.outside_input_done();
            }
            Op::SetLinger(ms) => {
                let checked = self.s.check_setsockopt(SockOpt::LINGER, OptValue::Int(ms));
                if self.phase == Phase::Open {
                    assert_eq!(checked.unwrap(), OptValue::Int(ms));
                    self.s
                        .handle_setsockopt(SockOpt::LINGER, &OptValue::Int(ms));
                    self.user_linger = Some(ms);
                    self.zmq_since_events = true;
                } else {
                    assert_eq!(checked.unwrap_err().kind(), ErrorKind::NotConnected);
                }
                self.after_input(false);
                self.outside_input_done();
            }
            Op::TakeCallbacks => {
                self.deliver(false);
                self.check_invariants(false);
            }
            Op::Drive { fd_signal, answers } => self.drive(fd_signal, &answers),
        }
        if self.phase == Phase::Done {
            assert_eq!(self.s.poll_io(), Io::Done);
            let mut out = VecDeque::new();
            self.s.take_callbacks(&mut out);
            assert!(out.is_empty(), "{out:?} after connection_lost");
        }
    }

    fn write(&mut self, lens: &[usize], direct_sent: bool, take_flow: bool) {
        let seq = self.next_seq;
        let msg = outgoing(seq, lens);
        let result = self.s.write(msg.clone());
        if self.phase != Phase::Open {
            assert_eq!(result.unwrap_err().kind(), ErrorKind::NotConnected);
            self.refused += 1;
            self.after_input(false);
            self.outside_input_done();
            return;
        }
        let action = result.expect("write on an open transport");
        // As aiozmq: an empty buffer always tries libzmq at once.
        let fast_path = self.buffer.is_empty();
        assert_eq!(
            action,
            if fast_path {
                WriteAction::SendNow
            } else {
                WriteAction::Queued
            },
            "fast path exactly when the buffer is empty"
        );
        self.next_seq += 1;
        self.written += 1;
        self.size += frames_len(&msg);
        self.buffer.push_back((seq, msg));
        if action == WriteAction::SendNow {
            self.after_input(true);
            let answer = if direct_sent {
                SendResult::Sent
            } else {
                SendResult::Refused(EAGAIN)
            };
            self.s
                .handle_direct_send(answer)
                .expect("Sent or EAGAIN is no error");
            self.zmq_since_events = true;
            if direct_sent {
                self.pop_sent();
            } else {
                self.writable = false;
            }
        }
        self.after_input(false);
        if take_flow {
            self.take_flow();
        }
        self.outside_input_done();
    }

    fn pop_sent(&mut self) {
        let (seq, msg) = self
            .buffer
            .pop_front()
            .expect("sent from an empty model buffer");
        if let Some(last) = self.last_sent {
            assert!(
                seq > last,
                "message {seq} sent after {last}: reordered or repeated"
            );
        }
        self.last_sent = Some(seq);
        self.size -= frames_len(&msg);
        self.sent += 1;
    }

    fn close(&mut self) {
        self.s.close();
        if self.phase == Phase::Open {
            self.phase = Phase::Flushing;
            self.inbox.clear();
        }
        self.after_input(false);
        self.outside_input_done();
    }

    fn drive(&mut self, fd_signal: bool, answers: &[Answer]) {
        if self.needs_begin_turn {
            if fd_signal {
                self.s.handle_fd_readable();
                self.fd_since_events = true;
            }
            self.s.begin_turn();
            self.parked = false;
            self.budget = TURN_BUDGET;
            self.needs_begin_turn = false;
            self.check_invariants(false);
        }
        for answer in answers {
            self.check_parked();
            match self.poll() {
                Io::Send => {
                    assert_eq!(self.s.front(), self.buffer.front().map(|(_, m)| m));
                    let result = match answer.send {
                        SendAnswer::Sent => SendResult::Sent,
                        SendAnswer::Again => SendResult::Refused(EAGAIN),
                        SendAnswer::Interrupted => SendResult::Refused(EINTR),
                        SendAnswer::Fatal => SendResult::Refused(EINVAL),
                    };
                    self.s.handle_send(result);
                    self.zmq_since_events = true;
                    self.budget -= 1;
                    match answer.send {
                        SendAnswer::Sent => self.pop_sent(),
                        SendAnswer::Again => self.writable = false,
                        SendAnswer::Interrupted => {}
                        SendAnswer::Fatal => self.model_fail(EINVAL),
                    }
                    self.after_input(false);
                }
                Io::Recv => {
                    if answer.recv_msg {
                        self.s.handle_recv(Ok(incoming(self.next_in)));
                        self.inbox.push_back(self.next_in);
                        self.next_in += 1;
                    } else {
                        self.s.handle_recv(Err(EAGAIN));
                        self.readable = false;
                    }
                    self.zmq_since_events = true;
                    self.budget -= 1;
                    self.after_input(false);
                }
                Io::ReadEvents => {
                    let pollin = answer.pollin && self.kind.can_recv();
                    self.s.handle_events(pollin, answer.pollout);
                    self.readable = pollin;
                    self.writable = answer.pollout;
                    self.zmq_since_events = false;
                    self.fd_since_events = false;
                    self.after_input(false);
                }
                Io::Deliver => {
                    self.deliver(true);
                    self.check_invariants(false);
                }
                Io::Close { .. } => self.after_input(false),
                Io::Yield | Io::Wait => {
                    self.check_parked();
                    self.needs_begin_turn = true;
                    return;
                }
                Io::Done => return,
            }
        }
    }

    /// Closes and drives to the end on a socket that always has room: the
    /// flush must finish, connection_lost must come, and every message must
    /// be accounted for as sent or dropped.
    fn finish(&mut self) {
        self.close();
        let answer = Answer {
            send: SendAnswer::Sent,
            recv_msg: false,
            pollin: false,
            pollout: true,
        };
        let answers = vec![answer; 64];
        for _ in 0..200 {
            if self.phase == Phase::Done {
                break;
            }
            self.drive(true, &answers);
        }
        assert_eq!(self.phase, Phase::Done, "close never completed");
        assert!(self.lost_seen);
        assert!(self.buffer.is_empty());
        assert_eq!(self.written, self.sent + self.dropped);
        assert_eq!(self.s.poll_io(), Io::Done);
    }
}

// ----- strategies -----

fn socket_kind() -> impl Strategy<Value = SocketType> {
    prop_oneof![
        Just(SocketType::Dealer),
        Just(SocketType::Pair),
        Just(SocketType::Router),
        Just(SocketType::Push),
        Just(SocketType::Pub),
        Just(SocketType::XPub),
    ]
}

/// `fatal`: weight of fatal send errors against 95 for the others;
/// `pollin`: how often EVENTS says readable; `recv`: how often a receive gets a message.
fn answer_with(fatal: u32, pollin: f64, recv: f64) -> impl Strategy<Value = Answer> {
    let send = prop_oneof![
        60 => Just(SendAnswer::Sent),
        30 => Just(SendAnswer::Again),
        5 => Just(SendAnswer::Interrupted),
        fatal => Just(SendAnswer::Fatal),
    ];
    (
        send,
        prop::bool::weighted(recv),
        prop::bool::weighted(pollin),
        any::<bool>(),
    )
        .prop_map(|(send, recv_msg, pollin, pollout)| Answer {
            send,
            recv_msg,
            pollin,
            pollout,
        })
}

fn write_op() -> impl Strategy<Value = Op> {
    (
        prop::collection::vec(0usize..300, 1..=4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(frames, direct_sent, take_flow)| Op::Write {
            frames,
            direct_sent,
            take_flow,
        })
}

fn limits_op(max: usize) -> impl Strategy<Value = Op> {
    (
        prop::option::of(0..max),
        prop::option::of(0..max / 2),
        any::<bool>(),
    )
        .prop_map(|(high, low, take_flow)| Op::SetLimits {
            high,
            low,
            take_flow,
        })
}

fn answer() -> impl Strategy<Value = Answer> {
    answer_with(1, 0.5, 0.7)
}

fn drive_op(max_answers: usize) -> impl Strategy<Value = Op> {
    drive_op_with(max_answers, answer())
}

fn drive_op_with(
    max_answers: usize,
    answer: impl Strategy<Value = Answer>,
) -> impl Strategy<Value = Op> {
    (any::<bool>(), prop::collection::vec(answer, 1..max_answers))
        .prop_map(|(fd_signal, answers)| Op::Drive { fd_signal, answers })
}

fn end_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Close),
        Just(Op::Abort),
        prop_oneof![Just(EINVAL), Just(ETERM), Just(ECONNRESET)].prop_map(Op::Fail),
    ]
}

/// Everything, with the end of life rare enough that most sequences live long.
fn any_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => write_op(),
        25 => drive_op(40),
        6 => limits_op(4000),
        3 => Just(Op::PauseReading),
        3 => Just(Op::ResumeReading),
        3 => Just(Op::ZmqCall),
        1 => (-1i32..3000).prop_map(Op::SetLinger),
        3 => Just(Op::TakeCallbacks),
        1 => end_op(),
    ]
}

/// Writes against small, often-changing limits: many water-mark crossings.
fn flow_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => write_op(),
        25 => drive_op_with(8, answer_with(0, 0.5, 0.7)),
        15 => limits_op(2000),
        3 => Just(Op::TakeCallbacks),
    ]
}

/// Inputs from outside the driver around parks: the wake-up and edge rules.
fn edge_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => drive_op(20),
        15 => write_op(),
        10 => Just(Op::ZmqCall),
        5 => (0i32..100).prop_map(Op::SetLinger),
        6 => Just(Op::PauseReading),
        6 => Just(Op::ResumeReading),
        3 => limits_op(1000),
        1 => end_op(),
    ]
}

/// The read side: receiving, pausing, delivering.
fn read_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        30 => drive_op_with(100, answer_with(1, 0.8, 0.97)),
        10 => Just(Op::PauseReading),
        10 => Just(Op::ResumeReading),
        8 => Just(Op::TakeCallbacks),
        5 => write_op(),
        1 => end_op(),
    ]
}

fn run(kind: SocketType, ops: Vec<Op>) {
    let mut m = Model::new(kind);
    for op in ops {
        m.apply(op);
    }
    m.finish();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_sequence_matches_the_model(
        kind in socket_kind(),
        ops in prop::collection::vec(any_op(), 1..150),
    ) {
        run(kind, ops);
    }

    #[test]
    fn water_marks_pause_and_resume_once_per_crossing(
        kind in socket_kind(),
        ops in prop::collection::vec(flow_op(), 1..150),
    ) {
        run(kind, ops);
    }

    #[test]
    fn no_park_while_events_are_stale_and_no_lost_wake_up(
        kind in socket_kind(),
        ops in prop::collection::vec(edge_op(), 1..150),
    ) {
        run(kind, ops);
    }

    #[test]
    fn received_messages_are_delivered_in_order_and_only_when_allowed(
        kind in prop_oneof![Just(SocketType::Dealer), Just(SocketType::Pair), Just(SocketType::Router)],
        ops in prop::collection::vec(read_op(), 1..100),
    ) {
        run(kind, ops);
    }

    #[test]
    fn a_long_busy_turn_yields_at_the_budget(
        kind in socket_kind(),
        writes in prop::collection::vec(write_op(), 0..(2 * TURN_BUDGET as usize)),
        answers in prop::collection::vec(answer(), 1..(3 * TURN_BUDGET as usize)),
    ) {
        let mut m = Model::new(kind);
        m.apply(Op::SetLimits {
            high: Some(usize::MAX / 4),
            low: None,
            take_flow: true,
        });
        for w in writes {
            m.apply(w);
        }
        m.apply(Op::Drive { fd_signal: false, answers });
        m.finish();
    }
}

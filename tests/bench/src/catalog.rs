//! The libraries and workloads of the benchmark: ids (for `--only` and the
//! child's command line), labels (for the table), message counts, limits.

use std::time::Duration;

/// Message sizes of workload A.
pub const SIZES: [usize; 3] = [16, 1024, 65536];
/// Message sizes of workload A2 (two processes).
pub const SIZES_2P: [usize; 2] = [16, 1024];
/// Subscribers in workload C.
pub const SUBS: usize = 4;

/// Which of our APIs a row uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Api {
    /// `create_zmq_connection` and a `ZmqProtocol`.
    Proto,
    /// `create_zmq_stream`.
    Stream,
}

/// Which of our drivers a row uses.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Drv {
    /// aiozmq-tokio on the multi-thread runtime (2 workers here).
    TokioMt,
    /// aiozmq-tokio on the current-thread runtime.
    TokioCt,
    /// aiozmq-smol (`smol::block_on` plus smol's global executor).
    Smol,
    /// aiozmq-blocking, plain threads.
    Blocking,
}

/// How omq-tokio's sockets are driven.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum OmqMode {
    /// `Context::current()`: socket drivers on the caller's tokio runtime.
    Current,
    /// `Context::new()`: omq's own I/O thread, as libzmq's.
    IoThread,
}

/// One row of the table.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Lib {
    /// Raw `zmq` with blocking threads: the reference of every ratio.
    Raw,
    /// One of our drivers with one of our APIs.
    Ours(Drv, Api),
    /// tmq 0.5 on tokio's multi-thread runtime.
    Tmq,
    /// async_zmq 0.4 on tokio's multi-thread runtime.
    AsyncZmq,
    /// zeromq 0.7 (pure Rust) on tokio's multi-thread runtime.
    Zeromq,
    /// omq-tokio 0.33 (pure Rust) on tokio's multi-thread runtime.
    Omq(OmqMode),
    /// rzmq 0.5 (pure Rust, io_uring off) on tokio's multi-thread runtime.
    Rzmq,
}

impl Lib {
    /// Every row, in table order.
    pub fn all() -> Vec<Lib> {
        let mut v = vec![Lib::Raw];
        for d in [Drv::TokioMt, Drv::TokioCt, Drv::Smol, Drv::Blocking] {
            v.push(Lib::Ours(d, Api::Proto));
            v.push(Lib::Ours(d, Api::Stream));
        }
        v.extend([
            Lib::Tmq,
            Lib::AsyncZmq,
            Lib::Zeromq,
            Lib::Omq(OmqMode::Current),
            Lib::Omq(OmqMode::IoThread),
            Lib::Rzmq,
        ]);
        v
    }

    /// The id on the command line.
    pub fn id(self) -> String {
        match self {
            Lib::Raw => "raw".into(),
            Lib::Ours(d, a) => format!("{}-{}", drv_id(d), api_id(a)),
            Lib::Tmq => "tmq".into(),
            Lib::AsyncZmq => "async_zmq".into(),
            Lib::Zeromq => "zeromq".into(),
            Lib::Omq(OmqMode::Current) => "omq-current".into(),
            Lib::Omq(OmqMode::IoThread) => "omq-iothread".into(),
            Lib::Rzmq => "rzmq".into(),
        }
    }

    /// The label in the table.
    pub fn label(self) -> String {
        match self {
            Lib::Raw => "raw zmq, threads".into(),
            Lib::Ours(d, a) => format!(
                "aiozmq {} {}",
                drv_id(d),
                if a == Api::Proto {
                    "protocol"
                } else {
                    "stream"
                }
            ),
            Lib::Tmq => "tmq 0.5 (tokio-mt)".into(),
            Lib::AsyncZmq => "async_zmq 0.4 (tokio-mt)".into(),
            Lib::Zeromq => "zeromq 0.7 (tokio-mt)".into(),
            Lib::Omq(OmqMode::Current) => "omq-tokio 0.33 (tokio-mt, current)".into(),
            Lib::Omq(OmqMode::IoThread) => "omq-tokio 0.33 (own I/O thread)".into(),
            Lib::Rzmq => "rzmq 0.5 (tokio-mt)".into(),
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Lib> {
        Lib::all().into_iter().find(|l| l.id() == s)
    }

    /// A peer: its failures are shown but do not fail the run.
    pub fn peer(self) -> bool {
        !matches!(self, Lib::Raw | Lib::Ours(..))
    }
}

fn drv_id(d: Drv) -> &'static str {
    match d {
        Drv::TokioMt => "tokio-mt",
        Drv::TokioCt => "tokio-ct",
        Drv::Smol => "smol",
        Drv::Blocking => "blocking",
    }
}

fn api_id(a: Api) -> &'static str {
    match a {
        Api::Proto => "proto",
        Api::Stream => "stream",
    }
}

/// A transport of workload A.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Tr {
    /// tcp loopback.
    Tcp,
    /// tcp loopback, CURVE-encrypted (the PULL is the CURVE server; no ZAP
    /// handler, so any client key is admitted: the cost of encryption alone).
    TcpCurve,
    /// ipc:// (a Unix domain socket).
    Ipc,
    /// inproc://.
    Inproc,
}

impl Tr {
    fn id(self) -> &'static str {
        match self {
            Tr::Tcp => "tcp",
            Tr::TcpCurve => "tcp-curve",
            Tr::Ipc => "ipc",
            Tr::Inproc => "inproc",
        }
    }
}

/// The scale workloads: many DEALER↔ROUTER pairs on one runtime.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Scale {
    /// 1,000 pairs over tcp, spread over contexts of 500 pairs (issue 6's case).
    Tcp1k,
    /// 5,000 pairs (10,000 sockets) over inproc, the default context.
    Inproc10k,
    /// 3,000 pairs over tcp, the default context.
    Tcp3k,
}

impl Scale {
    /// DEALER↔ROUTER pairs.
    pub fn pairs(self) -> usize {
        match self {
            Scale::Tcp1k => 1000,
            Scale::Inproc10k => 5000,
            Scale::Tcp3k => 3000,
        }
    }

    /// The transport.
    pub fn tr(self) -> Tr {
        match self {
            Scale::Inproc10k => Tr::Inproc,
            _ => Tr::Tcp,
        }
    }

    /// Pairs per libzmq context: `Some(500)` spreads the pairs over several
    /// contexts (libzmq's ZMQ_MAX_SOCKETS is 1023 per context); `None` puts
    /// them all in the default one.
    pub fn per_context(self) -> Option<usize> {
        match self {
            Scale::Tcp1k => Some(500),
            _ => None,
        }
    }
}

/// A workload.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Work {
    /// A: PUSH→PULL, one frame of `size` bytes per message.
    Push {
        /// The transport.
        tr: Tr,
        /// Payload bytes.
        size: usize,
    },
    /// A2: PUSH→PULL over tcp loopback, the sender and the receiver in two
    /// processes (as libzmq's `remote_thr` and `local_thr`).
    Push2p {
        /// Payload bytes.
        size: usize,
    },
    /// B: REQ/REP round trips of 16 B.
    ReqRep,
    /// C: PUB → 4 SUB, 16 B.
    PubSub,
    /// D: DEALER↔ROUTER pairs, each DEALER keeping a window in flight.
    Scale(Scale),
    /// D: 1 KiB messages towards a paused reader.
    Burst,
}

/// Payload sizes of the CURVE rows.
const CURVE_SIZES: [usize; 2] = [16, 1024];

/// Payload sizes of the inproc rows.
const INPROC_SIZES: [usize; 3] = SIZES;

impl Work {
    /// Every workload, in table order.
    pub fn all() -> Vec<Work> {
        let mut v: Vec<Work> = SIZES
            .iter()
            .map(|&size| Work::Push { tr: Tr::Tcp, size })
            .collect();
        v.extend(CURVE_SIZES.iter().map(|&size| Work::Push {
            tr: Tr::TcpCurve,
            size,
        }));
        v.push(Work::Push {
            tr: Tr::Ipc,
            size: 16,
        });
        v.extend(INPROC_SIZES.iter().map(|&size| Work::Push {
            tr: Tr::Inproc,
            size,
        }));
        v.extend(SIZES_2P.iter().map(|&size| Work::Push2p { size }));
        v.extend([Work::ReqRep, Work::PubSub]);
        v.extend([Scale::Tcp1k, Scale::Inproc10k, Scale::Tcp3k].map(Work::Scale));
        v.push(Work::Burst);
        v
    }

    /// The id on the command line.
    pub fn id(self) -> String {
        match self {
            Work::Push { tr, size } => format!("push-{}-{size}", tr.id()),
            Work::Push2p { size } => format!("push2p-tcp-{size}"),
            Work::ReqRep => "reqrep".into(),
            Work::PubSub => "pubsub".into(),
            Work::Scale(s) => format!("scale-{}-{}", s.tr().id(), s.pairs()),
            Work::Burst => "burst".into(),
        }
    }

    /// Parses an id.
    pub fn parse(s: &str) -> Option<Work> {
        Work::all().into_iter().find(|w| w.id() == s)
    }

    /// The label in the table.
    pub fn label(self) -> String {
        match self {
            Work::Push {
                tr: Tr::TcpCurve,
                size,
            } => format!("A push→pull tcp+CURVE {}", fmt_size(size)),
            Work::Push { tr, size } => format!("A push→pull {} {}", tr.id(), fmt_size(size)),
            Work::Push2p { size } => format!("A2 push→pull tcp {}, two processes", fmt_size(size)),
            Work::ReqRep => "B req↔rep 16 B".into(),
            Work::PubSub => format!("C pub→{SUBS} sub 16 B"),
            Work::Scale(Scale::Tcp1k) => "D 1000 dealer↔router".into(),
            Work::Scale(Scale::Inproc10k) => "D 10k sockets inproc".into(),
            Work::Scale(Scale::Tcp3k) => "D 3000 pairs tcp".into(),
            Work::Burst => "D burst 1 KiB, paused reader".into(),
        }
    }

    /// Payload bytes of one message.
    pub fn size(self) -> usize {
        match self {
            Work::Push { size, .. } | Work::Push2p { size } => size,
            Work::Burst => 1024,
            _ => 16,
        }
    }

    /// Messages per case: A, C and burst: messages sent; B: round trips;
    /// D scale: messages per pair.
    pub fn n(self, quick: bool) -> u64 {
        let (full, q) = match self {
            Work::Push { size: 16, .. } | Work::Push2p { size: 16 } => (2_000_000, 300_000),
            Work::Push { size: 1024, .. } | Work::Push2p { size: 1024 } => (500_000, 100_000),
            Work::Push { .. } | Work::Push2p { .. } => (20_000, 4_000),
            Work::ReqRep => (20_000, 3_000),
            Work::PubSub => (500_000, 100_000),
            Work::Scale(Scale::Tcp1k) => (1_000, 100),
            Work::Scale(_) => (200, 20),
            Work::Burst => (1_000_000, 200_000),
        };
        if quick {
            q
        } else {
            full
        }
    }

    /// How long the parent waits for the child before killing it.
    pub fn timeout(self, quick: bool) -> Duration {
        let s = match self {
            Work::Scale(Scale::Tcp1k) | Work::Burst => 180,
            Work::Scale(_) => 240,
            _ => 90,
        };
        Duration::from_secs(if quick { s / 2 } else { s })
    }

    /// Run as two processes (a receiver and a sender), not one.
    pub fn two_process(self) -> bool {
        matches!(self, Work::Push2p { .. })
    }

    /// The libraries run in this workload.
    pub fn libs(self) -> Vec<Lib> {
        Lib::all()
            .into_iter()
            .filter(|&l| match self {
                // inproc is a libzmq-internal transport: raw, ours, and the
                // pure-Rust peers that have their own (zeromq has none).
                Work::Push { tr: Tr::Inproc, .. } => {
                    matches!(l, Lib::Raw | Lib::Ours(..) | Lib::Omq(_) | Lib::Rzmq)
                }
                // CURVE: libzmq's (raw and ours) against omq's pure-Rust one.
                Work::Push {
                    tr: Tr::TcpCurve, ..
                } => matches!(l, Lib::Raw | Lib::Ours(..) | Lib::Omq(_)),
                // Two processes: raw, ours, and omq-tokio (its socket drivers
                // on the caller's runtime) beside us.
                Work::Push2p { .. } => {
                    matches!(l, Lib::Raw | Lib::Ours(..) | Lib::Omq(OmqMode::Current))
                }
                // async_zmq has no flow control to show beyond libzmq's.
                Work::Burst => l != Lib::AsyncZmq,
                // One runtime's worth of sockets: the blocking driver's thread
                // per transport is not made for thousands of them.
                Work::Scale(s) => {
                    let blocking = matches!(l, Lib::Ours(Drv::Blocking, _));
                    let no_inproc = s.tr() == Tr::Inproc && l == Lib::Zeromq;
                    !blocking && !no_inproc
                }
                _ => true,
            })
            .collect()
    }
}

/// "16 B", "1 KiB".
pub fn fmt_size(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_back_and_are_unique() {
        let libs = Lib::all();
        for l in &libs {
            assert_eq!(Lib::parse(&l.id()), Some(*l));
        }
        let works = Work::all();
        for w in &works {
            assert_eq!(Work::parse(&w.id()), Some(*w));
            assert!(w.libs().contains(&Lib::Raw), "{w:?} has no reference row");
        }
        let mut ids: Vec<String> = works.iter().map(|w| w.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), works.len());
    }

    #[test]
    fn two_process_workload() {
        let ids: Vec<String> = Work::all()
            .into_iter()
            .filter(|w| w.two_process())
            .map(|w| w.id())
            .collect();
        assert_eq!(ids, ["push2p-tcp-16", "push2p-tcp-1024"]);
        let w = Work::parse("push2p-tcp-16").unwrap();
        assert_eq!(w, Work::Push2p { size: 16 });
        assert_eq!(w.label(), "A2 push→pull tcp 16 B, two processes");
        assert_eq!(
            Work::Push2p { size: 1024 }.label(),
            "A2 push→pull tcp 1 KiB, two processes"
        );
        assert!(!Work::Push {
            tr: Tr::Tcp,
            size: 16
        }
        .two_process());
        // Message counts as workload A's at the same size.
        for size in SIZES_2P {
            for quick in [false, true] {
                let a = Work::Push { tr: Tr::Tcp, size };
                assert_eq!(Work::Push2p { size }.n(quick), a.n(quick));
                assert_eq!(Work::Push2p { size }.timeout(quick), a.timeout(quick));
            }
        }
        let libs = w.libs();
        assert_eq!(libs.len(), 1 + 8 + 1);
        assert!(libs.contains(&Lib::Omq(OmqMode::Current)));
        assert!(libs.contains(&Lib::Ours(Drv::Blocking, Api::Stream)));
        assert!(!libs.contains(&Lib::Omq(OmqMode::IoThread)));
        assert!(!libs.contains(&Lib::Tmq));
    }
}

//! A2: PUSH→PULL over tcp loopback with the receiver and the sender in two
//! processes, as libzmq's `local_thr` and `remote_thr`: each side has its
//! own libzmq context (and I/O thread) and its own runtime. This module is
//! one side; the parent (`crate::parent::run_pair`) starts both and adds
//! them up.
//!
//! - The receiver (`bench --child push2p-tcp-16 LIB N recv`) binds a PULL to
//!   `tcp://127.0.0.1:*`, prints `ENDPOINT <endpoint>`, waits for the 1-byte
//!   warm-up, then counts `n` messages. Its clock runs from the first data
//!   message to the last; its CPU from just after the warm-up to the last.
//!   Any loss or wrong-sized message fails the case; so does a count that
//!   has not moved for [`STALL`].
//! - The sender (`bench --child push2p-tcp-16 LIB N send ENDPOINT`) connects
//!   a PUSH, sends the warm-up and then the `n` messages at once (no wait in
//!   between), and keeps its socket open until the parent writes a line to
//!   its stdin (the receiver is done). Its CPU runs from its first data
//!   message to that line, so its I/O thread's flushing is counted.
//!
//! Each side prints its own `RESULT` line; its `secs` is the receiver's span
//! or the sender's time to hand over the `n` messages.

use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, ZmqProtocol, ZmqTransport};
use tokio::sync::oneshot;

use super::proto::{write_n, Flow, Writer};
use super::STALL;
use crate::adapters::ours::{
    one, BlockingDriver, Contexts, ProtoDriver, SmolDriver, Streams, TokioDriver,
};
use crate::adapters::{omq, raw, Ep, Kind, Opts, Sock, SockLib};
use crate::catalog::{Api, Drv, Lib, Work};
use crate::measure::{check_count, cpu_now, Clock, Ctx, Outcome};
use crate::rt::{timeout, Rt, Smol, Threads, Tokio};

/// The error of a one-process run of a two-process workload.
pub const NOT_HERE: &str = "a two-process workload: each side runs in a child of its own";

/// The receiver's line that names its endpoint.
pub const ENDPOINT: &str = "ENDPOINT ";

/// Which side of a two-process case this process is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Side {
    /// The PULL: binds, announces its endpoint, counts and times.
    Recv,
    /// The PUSH, connected to this endpoint.
    Send(String),
}

impl Side {
    /// Parses the child's arguments after `WORKLOAD LIBRARY N`:
    /// `recv` or `send ENDPOINT`.
    pub fn parse(args: &[String]) -> Option<Side> {
        match args {
            [r] if r == "recv" => Some(Side::Recv),
            [s, ep] if s == "send" && !ep.is_empty() => Some(Side::Send(ep.clone())),
            _ => None,
        }
    }

    /// The arguments [`parse`](Self::parse) reads.
    pub fn args(&self) -> Vec<String> {
        match self {
            Side::Recv => vec!["recv".into()],
            Side::Send(ep) => vec!["send".into(), ep.clone()],
        }
    }
}

/// Runs one side of a two-process case in this process.
pub fn run_side(work: Work, lib: Lib, n: u64, side: &Side) -> Result<Outcome, String> {
    let Work::Push2p { size } = work else {
        return Err(format!("{} is not a two-process workload", work.id()));
    };
    match lib {
        Lib::Raw => Threads.block_on(sock_side(Threads, raw::Raw::default(), side, size, n)),
        Lib::Ours(d, Api::Proto) => match d {
            Drv::TokioMt | Drv::TokioCt => {
                let rt = Tokio {
                    multi_thread: d == Drv::TokioMt,
                };
                let drv = TokioDriver(Contexts::default());
                rt.block_on(proto_side(rt, drv, side, size, n))
            }
            Drv::Smol => Smol.block_on(proto_side(
                Smol,
                SmolDriver(Contexts::default()),
                side,
                size,
                n,
            )),
            Drv::Blocking => Threads.block_on(proto_side(
                Threads,
                BlockingDriver(Contexts::default()),
                side,
                size,
                n,
            )),
        },
        Lib::Ours(d, Api::Stream) => match d {
            Drv::TokioMt | Drv::TokioCt => {
                let rt = Tokio {
                    multi_thread: d == Drv::TokioMt,
                };
                let lib = Streams::<TokioDriver>::new(Contexts::default());
                rt.block_on(sock_side(rt, lib, side, size, n))
            }
            Drv::Smol => Smol.block_on(sock_side(
                Smol,
                Streams::<SmolDriver>::new(Contexts::default()),
                side,
                size,
                n,
            )),
            Drv::Blocking => Threads.block_on(sock_side(
                Threads,
                Streams::<BlockingDriver>::new(Contexts::default()),
                side,
                size,
                n,
            )),
        },
        // As in the one-process cases: tokio's multi-thread runtime, the
        // context made inside it.
        Lib::Omq(mode) => {
            let rt = Tokio { multi_thread: true };
            rt.block_on(async move { sock_side(rt, omq::Omq::new(mode), side, size, n).await })
        }
        other => Err(format!("{} is not run in {}", other.label(), work.label())),
    }
}

/// Prints the receiver's endpoint for the parent.
fn announce(ep: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{ENDPOINT}{ep}")
        .and_then(|()| out.flush())
        .ctx("announce the endpoint")
}

/// A line (or the end) on stdin: the parent's word that the receiver is
/// done. Read on a thread of its own, so any runtime can await it.
fn parent_done() -> oneshot::Receiver<()> {
    let (tx, rx) = oneshot::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        let _ = tx.send(());
    });
    rx
}

/// Waits for the parent's word, at most 3 × STALL.
async fn wait_done<R: Rt>(rt: &R, done: oneshot::Receiver<()>) -> Result<(), String> {
    timeout(rt, STALL * 3, done)
        .await
        .ok_or("no word from the parent that the receiver is done")?
        .ctx("stdin")
}

/// Awaits `f`, failing once `count()` has not moved for [`STALL`]
/// (`exact`: the count is every message's, not every 1024th's).
async fn with_progress<R: Rt, F: Future + Unpin>(
    rt: &R,
    mut f: F,
    count: impl Fn() -> u64,
    exact: bool,
    n: u64,
) -> Result<F::Output, String> {
    let mut last = count();
    let mut since = Instant::now();
    loop {
        if let Some(v) = timeout(rt, Duration::from_secs(1), &mut f).await {
            return Ok(v);
        }
        let c = count();
        if c != last {
            last = c;
            since = Instant::now();
        } else if since.elapsed() >= STALL {
            return Err(format!(
                "no progress for {} s: {}{c} of {n} received",
                STALL.as_secs(),
                if exact { "" } else { "about " }
            ));
        }
    }
}

async fn sock_side<R: Rt, L: SockLib>(
    rt: R,
    lib: L,
    side: &Side,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    match side {
        Side::Recv => sock_recv(rt, lib, size, n).await,
        Side::Send(ep) => sock_send(rt, lib, ep, size, n).await,
    }
}

/// The receiver of a send/receive-style library: a reader task as in
/// workload A.
async fn sock_recv<R: Rt, L: SockLib>(
    rt: R,
    lib: L,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let (mut pull, addr) = lib.bind(Kind::Pull, &Ep::Tcp, Opts::default()).await?;
    announce(&addr)?;
    let g = timeout(&rt, STALL, pull.recv())
        .await
        .ok_or("the warm-up message never arrived")??;
    if !g.is_single(1) {
        return Err("the first message was not the warm-up".into());
    }
    let cpu0 = cpu_now();
    let counted = Arc::new(AtomicU64::new(0));
    let c2 = counted.clone();
    let reader = rt.spawn(async move {
        let g = pull
            .recv()
            .await
            .map_err(|e| format!("the first of {n}: {e}"))?;
        let first = Instant::now();
        let (mut count, mut bad) = (1u64, u64::from(!g.is_single(size)));
        while count < n {
            let g = pull
                .recv()
                .await
                .map_err(|e| format!("after {count} of {n}: {e}"))?;
            if !g.is_single(size) {
                bad += 1;
            }
            count += 1;
            if count & 1023 == 0 {
                c2.store(count, Ordering::Relaxed);
            }
        }
        Ok::<_, String>((count, bad, first, Instant::now(), pull))
    });
    let (count, bad, first, end, _pull) =
        with_progress(&rt, reader, || counted.load(Ordering::Relaxed), false, n).await??;
    let cpu = cpu_now() - cpu0;
    check_count("push2p", count, n, bad)?;
    Ok(Outcome::new(
        count,
        end.saturating_duration_since(first).as_secs_f64(),
        cpu,
    ))
}

/// The sender of a send/receive-style library: a writer task as in
/// workload A.
async fn sock_send<R: Rt, L: SockLib>(
    rt: R,
    lib: L,
    ep: &str,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let done = parent_done();
    let mut push = lib.connect(Kind::Push, ep, Opts::default()).await?;
    push.send(&lib.out(b"w")).await?;
    let data = lib.out(&vec![b'x'; size]);
    let clock = Clock::start();
    let writer = rt.spawn(async move {
        for i in 0..n {
            push.send(&data)
                .await
                .map_err(|e| format!("message {i} of {n}: {e}"))?;
        }
        Ok::<_, String>((Instant::now(), push))
    });
    let (sent, _push) = timeout(&rt, STALL * 3, writer)
        .await
        .ok_or("the writer hung")??;
    wait_done(&rt, done).await?;
    let (secs, cpu) = clock.stop(sent);
    Ok(Outcome::new(n, secs, cpu))
}

async fn proto_side<R: Rt, D: ProtoDriver>(
    rt: R,
    d: D,
    side: &Side,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    match side {
        Side::Recv => proto_recv(rt, d, size, n).await,
        Side::Send(ep) => proto_send(rt, d, ep.clone(), size, n).await,
    }
}

/// Counts messages of `size` bytes in `msg_received`, noting when the first
/// data message came; a 1-byte message first is the warm-up.
struct Counter {
    size: usize,
    target: u64,
    count: u64,
    bad: u64,
    first: Option<Instant>,
    warm: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Sender<Instant>>,
}

impl<T: ZmqTransport> ZmqProtocol<T> for Counter {
    fn msg_received(&mut self, msg: Multipart) {
        if self.warm.is_some() && msg.len() == 1 && msg[0].len() == 1 {
            let _ = self.warm.take().map(|w| w.send(()));
            return;
        }
        if self.count == 0 {
            self.first = Some(Instant::now());
        }
        if msg.len() != 1 || msg[0].len() != self.size {
            self.bad += 1;
        }
        self.count += 1;
        if self.count == self.target {
            let _ = self.done.take().map(|d| d.send(Instant::now()));
        }
    }
}

/// The receiver of our protocol API: counts in `msg_received`.
async fn proto_recv<R: Rt, D: ProtoDriver>(
    rt: R,
    d: D,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let (wt, warm) = oneshot::channel();
    let (dt, done) = oneshot::channel();
    let counter = Counter {
        size,
        target: n,
        count: 0,
        bad: 0,
        first: None,
        warm: Some(wt),
        done: Some(dt),
    };
    let (pull, counter) = d
        .open(Kind::Pull, Opts::default(), None, move || counter)
        .await?;
    let ep = pull.bind(&Ep::Tcp.zmq()).ctx("bind")?;
    announce(&ep)?;
    timeout(&rt, STALL, warm)
        .await
        .ok_or("the warm-up message never arrived")?
        .ctx("warm-up")?;
    let cpu0 = cpu_now();
    let end = with_progress(&rt, done, || counter.lock().unwrap().count, true, n)
        .await?
        .ctx("the receiving protocol went away")?;
    let cpu = cpu_now() - cpu0;
    let c = counter.lock().unwrap();
    check_count("push2p", c.count, n, c.bad)?;
    let first = c.first.ok_or("no first message")?;
    let o = Outcome::new(
        c.count,
        end.saturating_duration_since(first).as_secs_f64(),
        cpu,
    );
    drop(c);
    drop(pull);
    Ok(o)
}

/// The sender of our protocol API: `write()`, waiting for
/// `resume_writing` while paused, as in workload A.
async fn proto_send<R: Rt, D: ProtoDriver>(
    rt: R,
    d: D,
    ep: String,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let done = parent_done();
    let flow = Arc::new(Flow::default());
    let f2 = flow.clone();
    let (push, _) = d
        .open(Kind::Push, Opts::default(), Some(ep), move || Writer(f2))
        .await?;
    push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
    let data = Bytes::from(vec![b'x'; size]);
    let clock = Clock::start();
    let writer = rt.spawn(async move {
        let t = write_n(push, flow, data, n, None).await?;
        Ok::<_, String>((Instant::now(), t))
    });
    let (sent, _push) = timeout(&rt, STALL * 3, writer)
        .await
        .ok_or("the writer hung")??;
    wait_done(&rt, done).await?;
    let (secs, cpu) = clock.stop(sent);
    Ok(Outcome::new(n, secs, cpu))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn sides_parse_back() {
        assert_eq!(Side::parse(&args("recv")), Some(Side::Recv));
        let s = Side::parse(&args("send tcp://127.0.0.1:5555")).unwrap();
        assert_eq!(s, Side::Send("tcp://127.0.0.1:5555".into()));
        assert_eq!(Side::parse(&s.args()), Some(s));
        assert_eq!(Side::parse(&Side::Recv.args()), Some(Side::Recv));
        for bad in ["", "send", "recv x", "push tcp://x", "send a b"] {
            assert_eq!(Side::parse(&args(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn one_process_run_is_refused() {
        let w = Work::Push2p { size: 16 };
        assert!(run_side(w, Lib::Tmq, 1, &Side::Recv).is_err());
        let a = Work::Push {
            tr: crate::catalog::Tr::Tcp,
            size: 16,
        };
        assert!(run_side(a, Lib::Raw, 1, &Side::Recv).is_err());
    }
}

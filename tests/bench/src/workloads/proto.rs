//! Every workload once, for our protocol API (`create_zmq_connection` and a
//! `ZmqProtocol`), on any of our drivers: the receiving side counts inside
//! `msg_received`, the writer follows `pause_writing`/`resume_writing`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use aiozmq_core::{Bytes, Multipart, ZmqProtocol, ZmqTransport};
use tokio::sync::oneshot;

use super::{
    burst_outcome, echo_failed, publish, wait_stopped, Publisher, ScaleShared, SubStats, DATA_MSG,
    END_MSG, STALL, WARM_MSG, WARM_ROUND_TRIPS, WINDOW,
};
use crate::adapters::ours::{one, ProtoDriver};
use crate::adapters::{Curve, Ep, Kind, Opts};
use crate::catalog::{Scale, Tr, Work, SUBS};
use crate::measure::{
    check_count, fd_usage, raise_fd_limit, reset_peak_rss, rss_mib, Clock, Ctx, Outcome,
};
use crate::rt::{timeout, Rt};

/// Runs `work` with driver `d` on `rt`.
pub async fn run<R: Rt, D: ProtoDriver>(
    rt: R,
    d: D,
    work: Work,
    n: u64,
) -> Result<Outcome, String> {
    let d = Arc::new(d);
    match work {
        Work::Push { tr, size } => push(rt, d, tr, size, n).await,
        Work::ReqRep => reqrep(rt, d, n).await,
        Work::PubSub => pubsub(rt, d, n).await,
        Work::Scale(s) => scale(rt, d, s, n).await,
        Work::Burst => burst(rt, d, n).await,
        Work::Push2p { .. } => Err(super::two_proc::NOT_HERE.into()),
    }
}

/// Flow control as the writer's protocol sees it.
#[derive(Default)]
pub struct Flow {
    paused: AtomicBool,
    pauses: AtomicU64,
    notify: tokio::sync::Notify,
}

impl Flow {
    fn paused(&self) -> bool {
        self.paused.load(Ordering::Acquire)
    }

    async fn wait(&self) {
        while self.paused() {
            self.notify.notified().await;
        }
    }
}

/// A protocol that only writes: it follows pause_writing/resume_writing.
pub(super) struct Writer(pub(super) Arc<Flow>);

impl<T: ZmqTransport> ZmqProtocol<T> for Writer {
    fn pause_writing(&mut self) {
        self.0.paused.store(true, Ordering::Release);
        self.0.pauses.fetch_add(1, Ordering::Relaxed);
    }

    fn resume_writing(&mut self) {
        self.0.paused.store(false, Ordering::Release);
        self.0.notify.notify_one();
    }

    fn msg_received(&mut self, _msg: Multipart) {}
}

/// Writes `n` messages, waiting while paused; counts them in `written`.
pub(super) async fn write_n<T: ZmqTransport>(
    t: T,
    flow: Arc<Flow>,
    data: Bytes,
    n: u64,
    written: Option<Arc<AtomicU64>>,
) -> Result<T, String> {
    for i in 0..n {
        t.write(one(&data))
            .map_err(|e| format!("write {i} of {n}: {e}"))?;
        if let Some(w) = &written {
            w.fetch_add(1, Ordering::Release);
        }
        if flow.paused() {
            flow.wait().await;
        }
    }
    Ok(t)
}

/// A receiving protocol that counts messages of `size` bytes; a 1-byte
/// message first is the warm-up.
struct Counter {
    size: usize,
    target: u64,
    count: u64,
    bad: u64,
    warm: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Sender<Instant>>,
}

impl Counter {
    fn new(
        size: usize,
        target: u64,
    ) -> (Counter, oneshot::Receiver<()>, oneshot::Receiver<Instant>) {
        let (wt, wr) = oneshot::channel();
        let (dt, dr) = oneshot::channel();
        let c = Counter {
            size,
            target,
            count: 0,
            bad: 0,
            warm: Some(wt),
            done: Some(dt),
        };
        (c, wr, dr)
    }
}

impl<T: ZmqTransport> ZmqProtocol<T> for Counter {
    fn msg_received(&mut self, msg: Multipart) {
        if self.warm.is_some() && msg.len() == 1 && msg[0].len() == 1 {
            let _ = self.warm.take().map(|w| w.send(()));
            return;
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

/// Sends every message back (REP: to the requester; ROUTER: to the peer
/// named by the first frame).
struct Echo<T>(Option<T>);

impl<T: ZmqTransport> ZmqProtocol<T> for Echo<T> {
    fn connection_made(&mut self, transport: T) {
        self.0 = Some(transport);
    }

    fn msg_received(&mut self, msg: Multipart) {
        if let Some(t) = &self.0 {
            if let Err(e) = t.write(msg) {
                echo_failed("echo", e);
            }
        }
    }
}

/// Hands each message to a channel (the REQ side of workload B).
struct Forward(tokio::sync::mpsc::UnboundedSender<Multipart>);

impl<T: ZmqTransport> ZmqProtocol<T> for Forward {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.0.send(msg);
    }
}

/// Counts for one subscriber of workload C.
struct SubCounter(Arc<SubStats>, usize);

impl<T: ZmqTransport> ZmqProtocol<T> for SubCounter {
    fn msg_received(&mut self, msg: Multipart) {
        let first = msg.first().and_then(|f| f.first().copied()).unwrap_or(0);
        let len = msg.first().map_or(0, |f| f.len());
        self.0 .0[self.1].record(first, len);
    }
}

/// A: PUSH→PULL.
async fn push<R: Rt, D: ProtoDriver>(
    rt: R,
    d: Arc<D>,
    tr: Tr,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let (server, client) = Curve::sides(tr);
    let o = |curve| Opts {
        curve,
        ..Opts::default()
    };
    let (counter, warm, done) = Counter::new(size, n);
    let (pull, counter) = d.open(Kind::Pull, o(server), None, move || counter).await?;
    let ep = pull.bind(&Ep::fresh(tr).zmq()).ctx("bind")?;
    let flow = Arc::new(Flow::default());
    let f2 = flow.clone();
    let (push, _) = d
        .open(Kind::Push, o(client), Some(ep), move || Writer(f2))
        .await?;
    push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
    timeout(&rt, STALL, warm)
        .await
        .ok_or("the warm-up message never arrived")?
        .ctx("warm-up")?;
    let data = Bytes::from(vec![b'x'; size]);
    let clock = Clock::start();
    let writer = rt.spawn(write_n(push.clone(), flow, data, n, None));
    let end = match timeout(&rt, STALL * 3, done).await {
        Some(Ok(end)) => end,
        _ => {
            let c = counter.lock().unwrap().count;
            return Err(format!("hang or loss: {c} of {n} received"));
        }
    };
    let (secs, cpu) = clock.stop(end);
    writer.await?;
    let c = counter.lock().unwrap();
    check_count("push", c.count, n, c.bad)?;
    drop(pull);
    Ok(Outcome::new(c.count, secs, cpu))
}

/// B: REQ/REP; the REP echoes from `msg_received`.
async fn reqrep<R: Rt, D: ProtoDriver>(rt: R, d: Arc<D>, n: u64) -> Result<Outcome, String> {
    let (rep, _) = d
        .open(Kind::Rep, Opts::default(), None, || Echo(None))
        .await?;
    let ep = rep.bind(&Ep::Tcp.zmq()).ctx("bind")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (req, _) = d
        .open(Kind::Req, Opts::default(), Some(ep), move || Forward(tx))
        .await?;
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let client = rt.spawn(async move {
        let data = Bytes::from_static(&[b'x'; 16]);
        for _ in 0..WARM_ROUND_TRIPS {
            req.write(one(&data)).ctx("write")?;
            rx.recv().await.ok_or("REQ lost")?;
        }
        let mut lats = Vec::with_capacity(n as usize);
        let mut bad = 0;
        let clock = Clock::start();
        for i in 0..n {
            let t = Instant::now();
            req.write(one(&data)).ctx("write")?;
            let m = rx.recv().await.ok_or("REQ lost")?;
            lats.push(t.elapsed().as_secs_f64() * 1e6);
            if m.len() != 1 || m[0].len() != 16 {
                bad += 1;
            }
            d2.store(i + 1, Ordering::Relaxed);
        }
        let (secs, cpu) = clock.stop(Instant::now());
        check_count("reqrep", lats.len() as u64, n, bad)?;
        Ok::<_, String>(Outcome::new(n, secs, cpu).with_latencies(lats))
    });
    let o = timeout(&rt, STALL * 3, client).await.ok_or_else(|| {
        format!(
            "hang: {} of {n} round trips done",
            done.load(Ordering::Relaxed)
        )
    })??;
    drop(rep);
    Ok(o)
}

/// A PUB transport and its flow control.
struct ProtoPublisher<T> {
    t: T,
    flow: Arc<Flow>,
    marks: [Bytes; 2],
    data: Bytes,
}

impl<T: ZmqTransport> Publisher for ProtoPublisher<T> {
    async fn mark(&mut self, end: bool) -> Result<(), String> {
        self.t
            .write(one(&self.marks[usize::from(end)]))
            .ctx("write")
    }

    async fn data(&mut self) -> Result<(), String> {
        self.t.write(one(&self.data)).ctx("write")?;
        if self.flow.paused() {
            self.flow.wait().await;
        }
        Ok(())
    }
}

/// C: PUB → 4 SUB, no high-water mark; each SUB counts in `msg_received`.
async fn pubsub<R: Rt, D: ProtoDriver>(rt: R, d: Arc<D>, n: u64) -> Result<Outcome, String> {
    let o = Opts {
        unbounded: true,
        ..Opts::default()
    };
    let flow = Arc::new(Flow::default());
    let f2 = flow.clone();
    let (p, _) = d.open(Kind::Pub, o, None, move || Writer(f2)).await?;
    let ep = p.bind(&Ep::Tcp.zmq()).ctx("bind")?;
    let stats = SubStats::new();
    let mut subs = Vec::new();
    for i in 0..SUBS {
        let st = stats.clone();
        let (s, _) = d
            .open(Kind::Sub, o, None, move || SubCounter(st, i))
            .await?;
        s.subscribe(b"").ctx("subscribe")?;
        s.connect(&ep).ctx("connect")?;
        subs.push(s);
    }
    let mut p = ProtoPublisher {
        t: p,
        flow,
        marks: [Bytes::from_static(WARM_MSG), Bytes::from_static(END_MSG)],
        data: Bytes::from_static(DATA_MSG),
    };
    let (st, rt2) = (stats.clone(), rt.clone());
    let publisher = rt.spawn(async move { publish(&rt2, &st, n, &mut p).await });
    let clock = timeout(&rt, STALL * 4, publisher).await.ok_or_else(|| {
        format!(
            "hang: {} of {} delivered",
            stats.summary().0,
            n * SUBS as u64
        )
    })??;
    drop(subs);
    stats.outcome(&clock, n, false)
}

/// A DEALER of the scale cases: keeps `WINDOW` messages in flight until `m`
/// echoes have come back.
struct ScaleDealer<T> {
    t: Option<T>,
    shared: Arc<ScaleShared>,
    payload: Bytes,
    m: u64,
    sent: u64,
    received: u64,
    bad: u64,
}

impl<T: ZmqTransport> ZmqProtocol<T> for ScaleDealer<T> {
    fn connection_made(&mut self, transport: T) {
        self.t = Some(transport);
    }

    fn msg_received(&mut self, msg: Multipart) {
        let len = msg.last().map_or(0, |b| b.len());
        if len == 1 {
            self.shared.warm.fetch_add(1, Ordering::AcqRel);
            return;
        }
        if len != self.payload.len() {
            self.bad += 1;
        }
        self.received += 1;
        if self.sent < self.m {
            self.sent += 1;
            if let Some(t) = &self.t {
                if let Err(e) = t.write(one(&self.payload)) {
                    echo_failed("dealer", e);
                }
            }
        }
        if self.received == self.m {
            self.shared.echoes.fetch_add(self.m, Ordering::AcqRel);
            self.shared.finish_pair();
        }
    }
}

/// D: DEALER↔ROUTER pairs; the ROUTERs echo from `msg_received`.
async fn scale<R: Rt, D: ProtoDriver>(
    rt: R,
    d: Arc<D>,
    s: Scale,
    m: u64,
) -> Result<Outcome, String> {
    raise_fd_limit();
    let base = rss_mib();
    let pairs = s.pairs();
    let shared = ScaleShared::new(pairs);
    let data = Bytes::from_static(&[b'x'; 16]);
    let mut routers = Vec::with_capacity(pairs);
    let mut dealers = Vec::with_capacity(pairs);
    let setup = Instant::now();
    for i in 0..pairs {
        super::check_setup(setup, i, pairs)?;
        let o = Opts {
            group: i,
            ..Opts::default()
        };
        let at = |e: String| format!("pair {} of {pairs}: {e}{}", i + 1, fd_usage());
        let (r, _) = d
            .open(Kind::Router, o, None, || Echo(None))
            .await
            .map_err(at)?;
        let ep = r.bind(&Ep::fresh(s.tr()).zmq()).ctx("bind").map_err(at)?;
        let (sh, p) = (shared.clone(), data.clone());
        let (dt, dp) = d
            .open(Kind::Dealer, o, Some(ep), move || ScaleDealer {
                t: None,
                shared: sh,
                payload: p,
                m,
                sent: 0,
                received: 0,
                bad: 0,
            })
            .await
            .map_err(at)?;
        routers.push(r);
        dealers.push((dt, dp));
    }
    let w = Bytes::from_static(b"w");
    for (dt, _) in &dealers {
        dt.write(one(&w)).ctx("write")?;
    }
    shared.wait(&rt, "warm", &shared.warm).await?;
    let clock = Clock::start();
    for (dt, dp) in &dealers {
        dp.lock().unwrap().sent = WINDOW.min(m);
        for _ in 0..WINDOW.min(m) {
            dt.write(one(&data)).ctx("write")?;
        }
    }
    shared.wait(&rt, "done", &shared.done).await?;
    let bad: u64 = dealers.iter().map(|(_, dp)| dp.lock().unwrap().bad).sum();
    check_count(
        "scale",
        shared.echoes.load(Ordering::Acquire),
        m * pairs as u64,
        bad,
    )?;
    shared.outcome(&clock, base, m)
}

/// D burst: the PULL is paused (`pause_reading`) until the writer stopped on
/// `pause_writing`; then it is resumed and counts every message.
async fn burst<R: Rt, D: ProtoDriver>(rt: R, d: Arc<D>, n: u64) -> Result<Outcome, String> {
    let (counter, _warm, done) = Counter::new(1024, n);
    let (pull, counter) = d
        .open(Kind::Pull, Opts::default(), None, move || counter)
        .await?;
    pull.pause_reading().ctx("pause_reading")?;
    let ep = pull.bind(&Ep::Tcp.zmq()).ctx("bind")?;
    let flow = Arc::new(Flow::default());
    let f2 = flow.clone();
    let (push, _) = d
        .open(Kind::Push, Opts::default(), Some(ep), move || Writer(f2))
        .await?;
    let written = Arc::new(AtomicU64::new(0));
    let base = rss_mib();
    reset_peak_rss();
    let writer = rt.spawn(write_n(
        push.clone(),
        flow.clone(),
        Bytes::from(vec![b'x'; 1024]),
        n,
        Some(written.clone()),
    ));
    let stopped = wait_stopped(&rt, &written, n).await;
    let extra = format!(
        ", paused {} time(s), {} KiB buffered",
        flow.pauses.load(Ordering::Relaxed),
        push.get_write_buffer_size() / 1024
    );
    if stopped.is_some() && !flow.paused() {
        return Err(format!("the writer stopped without pause_writing{extra}"));
    }
    let go = Clock::start();
    pull.resume_reading().ctx("resume_reading")?;
    let end = match timeout(&rt, STALL * 3, done).await {
        Some(Ok(end)) => end,
        _ => {
            let c = counter.lock().unwrap().count;
            return Err(format!("hang or loss: {c} of {n} received"));
        }
    };
    timeout(&rt, STALL, writer)
        .await
        .ok_or("the writer hung")??;
    let c = counter.lock().unwrap();
    check_count("burst", c.count, n, c.bad)?;
    burst_outcome(stopped, &go, end, c.count, n, base, &extra, true)
}

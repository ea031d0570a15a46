//! Every workload once, for the send/receive-style libraries: raw libzmq (on
//! `rt::Threads`), our stream API and the peers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::{
    burst_outcome, publish, wait_stopped, Publisher, ScaleShared, SubStats, DATA_MSG, END_MSG,
    STALL, WARM_MSG, WARM_ROUND_TRIPS, WINDOW,
};
use crate::adapters::{Curve, Ep, Kind, Opts, Sock, SockLib};
use crate::catalog::{Scale, Tr, Work, SUBS};
use crate::measure::{
    check_count, fd_usage, raise_fd_limit, reset_peak_rss, rss_mib, Clock, Outcome,
};
use crate::rt::{timeout, Rt};

/// Runs `work` with `lib` on `rt`. `ours`: the writer of the burst case must
/// stop at the high-water mark.
pub async fn run<R: Rt, L: SockLib>(
    rt: R,
    lib: L,
    work: Work,
    n: u64,
    ours: bool,
) -> Result<Outcome, String> {
    let lib = Arc::new(lib);
    match work {
        Work::Push { tr, size } => push(rt, lib, tr, size, n).await,
        Work::ReqRep => reqrep(rt, lib, n).await,
        Work::PubSub => pubsub(rt, lib, n).await,
        Work::Scale(s) => scale(rt, lib, s, n).await,
        Work::Burst => burst(rt, lib, n, ours).await,
        Work::Push2p { .. } => Err(super::two_proc::NOT_HERE.into()),
    }
}

/// A: PUSH→PULL, `n` messages of `size` bytes.
async fn push<R: Rt, L: SockLib>(
    rt: R,
    lib: Arc<L>,
    tr: Tr,
    size: usize,
    n: u64,
) -> Result<Outcome, String> {
    let (server, client) = Curve::sides(tr);
    let o = |curve| Opts {
        curve,
        ..Opts::default()
    };
    let (mut pull, addr) = lib.bind(Kind::Pull, &Ep::fresh(tr), o(server)).await?;
    let mut push = lib.connect(Kind::Push, &addr, o(client)).await?;
    push.send(&lib.out(b"w")).await?;
    timeout(&rt, STALL, pull.recv())
        .await
        .ok_or("the warm-up message never arrived")??;
    let counted = Arc::new(AtomicU64::new(0));
    let c2 = counted.clone();
    let reader = rt.spawn(async move {
        let (mut count, mut bad) = (0u64, 0u64);
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
        Ok::<_, String>((count, bad, Instant::now(), pull))
    });
    let data = lib.out(&vec![b'x'; size]);
    let clock = Clock::start();
    let writer = rt.spawn(async move {
        for i in 0..n {
            push.send(&data)
                .await
                .map_err(|e| format!("message {i} of {n}: {e}"))?;
        }
        Ok::<_, String>(push)
    });
    let (count, bad, end, _pull) = timeout(&rt, STALL * 3, reader).await.ok_or_else(|| {
        format!(
            "hang or loss: about {} of {n} received",
            counted.load(Ordering::Relaxed)
        )
    })??;
    let (secs, cpu) = clock.stop(end);
    writer.await?;
    check_count("push", count, n, bad)?;
    Ok(Outcome::new(count, secs, cpu))
}

/// B: `n` timed REQ/REP round trips of 16 B; the REP side echoes.
async fn reqrep<R: Rt, L: SockLib>(rt: R, lib: Arc<L>, n: u64) -> Result<Outcome, String> {
    let o = Opts::default();
    let (mut rep, addr) = lib.bind(Kind::Rep, &Ep::Tcp, o).await?;
    let mut req = lib.connect(Kind::Req, &addr, o).await?;
    let _server = rt.spawn(async move {
        while rep.recv().await.is_ok() {
            if rep.echo().await.is_err() {
                break;
            }
        }
    });
    let done = Arc::new(AtomicU64::new(0));
    let d2 = done.clone();
    let data = lib.out(&[b'x'; 16]);
    let client = rt.spawn(async move {
        for _ in 0..WARM_ROUND_TRIPS {
            req.send(&data).await?;
            req.recv().await?;
        }
        let mut lats = Vec::with_capacity(n as usize);
        let mut bad = 0;
        let clock = Clock::start();
        for i in 0..n {
            let t = Instant::now();
            req.send(&data).await?;
            let g = req
                .recv()
                .await
                .map_err(|e| format!("round trip {i} of {n}: {e}"))?;
            lats.push(t.elapsed().as_secs_f64() * 1e6);
            if !g.is_single(16) {
                bad += 1;
            }
            d2.store(i + 1, Ordering::Relaxed);
        }
        let (secs, cpu) = clock.stop(Instant::now());
        check_count("reqrep", lats.len() as u64, n, bad)?;
        Ok::<_, String>(Outcome::new(n, secs, cpu).with_latencies(lats))
    });
    timeout(&rt, STALL * 3, client).await.ok_or_else(|| {
        format!(
            "hang: {} of {n} round trips done",
            done.load(Ordering::Relaxed)
        )
    })?
}

/// C: PUB → 4 SUB over tcp, no high-water mark.
async fn pubsub<R: Rt, L: SockLib>(rt: R, lib: Arc<L>, n: u64) -> Result<Outcome, String> {
    let o = Opts {
        unbounded: true,
        ..Opts::default()
    };
    let (publisher, addr) = lib.bind(Kind::Pub, &Ep::Tcp, o).await?;
    let stats = SubStats::new();
    let mut readers = Vec::new();
    for i in 0..SUBS {
        let mut s = lib.connect(Kind::Sub, &addr, o).await?;
        let st = stats.clone();
        readers.push(rt.spawn(async move {
            loop {
                let g = s.recv().await?;
                if st.0[i].record(g.first, g.last_len) {
                    return Ok::<_, String>(s);
                }
            }
        }));
    }
    let (st, rt2) = (stats.clone(), rt.clone());
    let mut p = SockPublisher {
        marks: [lib.out(WARM_MSG), lib.out(END_MSG)],
        data: lib.out(DATA_MSG),
        sock: publisher,
    };
    let publisher = rt.spawn(async move { publish(&rt2, &st, n, &mut p).await });
    let clock = timeout(&rt, STALL * 4, publisher).await.ok_or_else(|| {
        format!(
            "hang: {} of {} delivered",
            stats.summary().0,
            n * SUBS as u64
        )
    })??;
    for r in readers {
        timeout(&rt, STALL, r).await.ok_or("a subscriber hung")??;
    }
    stats.outcome(&clock, n, lib.lossy_pub())
}

/// A socket with its prepared messages.
struct SockPublisher<S: Sock> {
    marks: [S::Out; 2],
    data: S::Out,
    sock: S,
}

impl<S: Sock> Publisher for SockPublisher<S> {
    async fn mark(&mut self, end: bool) -> Result<(), String> {
        self.sock.send(&self.marks[usize::from(end)]).await
    }

    async fn data(&mut self) -> Result<(), String> {
        self.sock.send(&self.data).await
    }
}

/// D: DEALER↔ROUTER pairs on one runtime; each DEALER keeps a window of 16 B
/// messages in flight until `m` echoes have come back.
async fn scale<R: Rt, L: SockLib>(rt: R, lib: Arc<L>, s: Scale, m: u64) -> Result<Outcome, String> {
    raise_fd_limit();
    let base = rss_mib();
    let pairs = s.pairs();
    let shared = ScaleShared::new(pairs);
    let (go_tx, go_rx) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::with_capacity(pairs);
    let mut servers = Vec::with_capacity(pairs);
    let setup = Instant::now();
    for i in 0..pairs {
        super::check_setup(setup, i, pairs)?;
        let o = Opts {
            group: i,
            ..Opts::default()
        };
        let at = |e: String| format!("pair {} of {pairs}: {e}{}", i + 1, fd_usage());
        let (mut r, addr) = timeout(&rt, STALL, lib.bind(Kind::Router, &Ep::fresh(s.tr()), o))
            .await
            .ok_or_else(|| "bind hung".to_string())
            .and_then(|r| r)
            .map_err(at)?;
        let mut d = timeout(&rt, STALL, lib.connect(Kind::Dealer, &addr, o))
            .await
            .ok_or_else(|| "connect hung".to_string())
            .and_then(|r| r)
            .map_err(at)?;
        servers.push(rt.spawn(async move {
            while r.recv().await.is_ok() {
                if r.echo().await.is_err() {
                    break;
                }
            }
        }));
        let (sh, mut go) = (shared.clone(), go_rx.clone());
        let (w, p) = (lib.out(b"w"), lib.out(&[b'x'; 16]));
        tasks.push(rt.spawn(async move {
            d.send(&w).await?;
            d.recv().await?;
            sh.warm.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            go.wait_for(|g| *g).await.map_err(|e| format!("go: {e}"))?;
            let mut sent = WINDOW.min(m);
            for _ in 0..sent {
                d.send(&p).await?;
            }
            let mut received = 0;
            while received < m {
                let g = d.recv().await?;
                if !g.is_single(16) {
                    return Err("malformed echo".to_string());
                }
                received += 1;
                if sent < m {
                    d.send(&p).await?;
                    sent += 1;
                }
            }
            sh.echoes.fetch_add(received, Ordering::AcqRel);
            sh.finish_pair();
            Ok::<_, String>(d)
        }));
    }
    shared.wait(&rt, "warm", &shared.warm).await?;
    let clock = Clock::start();
    go_tx.send(true).map_err(|e| format!("go: {e}"))?;
    shared.wait(&rt, "done", &shared.done).await?;
    let mut ds = Vec::with_capacity(pairs);
    for t in tasks {
        ds.push(t.await?);
    }
    shared.outcome(&clock, base, m)
}

/// D burst: `n` messages of 1 KiB towards a PULL nobody reads until the
/// writer has stopped; then the reader counts them all.
async fn burst<R: Rt, L: SockLib>(
    rt: R,
    lib: Arc<L>,
    n: u64,
    ours: bool,
) -> Result<Outcome, String> {
    let o = Opts::default();
    let (mut pull, addr) = lib.bind(Kind::Pull, &Ep::Tcp, o).await?;
    let mut push = lib.connect(Kind::Push, &addr, o).await?;
    let written = Arc::new(AtomicU64::new(0));
    let w2 = written.clone();
    let base = rss_mib();
    reset_peak_rss();
    let data = lib.out(&[b'x'; 1024]);
    let writer = rt.spawn(async move {
        for i in 0..n {
            push.send(&data)
                .await
                .map_err(|e| format!("message {i} of {n}: {e}"))?;
            w2.fetch_add(1, Ordering::Release);
        }
        Ok::<_, String>(push)
    });
    let stopped = wait_stopped(&rt, &written, n).await;
    let go = Clock::start();
    let counted = Arc::new(AtomicU64::new(0));
    let c2 = counted.clone();
    let reader = rt.spawn(async move {
        let mut count = 0u64;
        while count < n {
            let g = pull
                .recv()
                .await
                .map_err(|e| format!("after {count} of {n}: {e}"))?;
            if !g.is_single(1024) {
                return Err("malformed message".to_string());
            }
            count += 1;
            if count & 1023 == 0 {
                c2.store(count, Ordering::Relaxed);
            }
        }
        Ok::<_, String>((count, Instant::now(), pull))
    });
    let (count, end, _pull) = timeout(&rt, STALL * 3, reader).await.ok_or_else(|| {
        format!(
            "hang or loss: about {} of {n} received",
            counted.load(Ordering::Relaxed)
        )
    })??;
    timeout(&rt, STALL, writer)
        .await
        .ok_or("the writer hung")??;
    burst_outcome(stopped, &go, end, count, n, base, lib.burst_note(), ours)
}

//! The workloads, each written once: `sock` for the send/receive-style
//! libraries (raw libzmq, our stream API, the peers), `proto` for our
//! protocol API, `raw_scale` for raw libzmq's poll loop over thousands of
//! sockets, and `two_proc` for one side of the two-process case. This module holds what they share and picks the body, adapter and
//! runtime of a case.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::adapters::ours::{BlockingDriver, Contexts, SmolDriver, Streams, TokioDriver};
use crate::adapters::{async_zmq, omq, raw, rzmq, tmq, zeromq, SockLib};
use crate::catalog::{Api, Drv, Lib, Work, SUBS};
use crate::measure::{check_count, peak_rss_mib, Clock, Outcome};
use crate::rt::{Rt, Smol, Threads, Tokio};

pub mod proto;
pub mod raw_scale;
pub mod sock;
pub mod two_proc;

/// Round trips before the timed ones in workload B.
pub const WARM_ROUND_TRIPS: u64 = 200;
/// A wait inside a case that makes no progress this long is a failure.
pub const STALL: Duration = Duration::from_secs(20);
/// A writer whose count has not moved this long has stopped (burst case).
pub const STOPPED_AFTER: Duration = Duration::from_millis(300);
/// Opening the pairs of a scale case may take this long in all.
pub const SETUP_LIMIT: Duration = Duration::from_secs(30);

/// Fails once a scale case's setup, started at `t0`, has taken too long.
pub fn check_setup(t0: Instant, opened: usize, pairs: usize) -> Result<(), String> {
    if t0.elapsed() > SETUP_LIMIT {
        return Err(format!(
            "setup too slow: only {opened} of {pairs} pairs opened in {} s{}",
            SETUP_LIMIT.as_secs(),
            crate::measure::fd_usage()
        ));
    }
    Ok(())
}

/// Messages a DEALER keeps in flight in the scale cases.
pub const WINDOW: u64 = 100;

/// Workload C's messages: the first byte says what they are.
pub const WARM_MSG: &[u8; 16] = b"wwwwwwwwwwwwwwww";
/// A data message.
pub const DATA_MSG: &[u8; 16] = b"dddddddddddddddd";
/// The end marker.
pub const END_MSG: &[u8; 16] = b"eeeeeeeeeeeeeeee";

/// Echo writes that failed in a protocol (a case fails if any did).
pub static ECHO_ERRORS: AtomicU64 = AtomicU64::new(0);

/// Records the first echo failure.
pub fn echo_failed(what: &str, e: impl std::fmt::Display) {
    if ECHO_ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
        eprintln!("{what}: write failed: {e}");
    }
}

/// One subscriber's counts in workload C.
#[derive(Default)]
pub struct SubStat {
    warm: AtomicBool,
    data: AtomicU64,
    bad: AtomicU64,
    ended: AtomicBool,
    end: Mutex<Option<Instant>>,
}

impl SubStat {
    /// Records a message by its first byte and length; true once the end
    /// marker has come.
    pub fn record(&self, first: u8, len: usize) -> bool {
        match first {
            b'w' => self.warm.store(true, Ordering::Release),
            b'd' => {
                if len != 16 {
                    self.bad.fetch_add(1, Ordering::Relaxed);
                }
                self.data.fetch_add(1, Ordering::Relaxed);
            }
            b'e' => {
                let mut end = self.end.lock().unwrap();
                if end.is_none() {
                    *end = Some(Instant::now());
                }
                self.ended.store(true, Ordering::Release);
                return true;
            }
            _ => {
                self.bad.fetch_add(1, Ordering::Relaxed);
            }
        }
        false
    }
}

/// Every subscriber's counts.
pub struct SubStats(pub Vec<SubStat>);

impl SubStats {
    /// Counts for [`SUBS`] subscribers.
    pub fn new() -> Arc<SubStats> {
        Arc::new(SubStats((0..SUBS).map(|_| SubStat::default()).collect()))
    }

    /// Every subscriber has had a warm-up message.
    pub fn all_warm(&self) -> bool {
        self.0.iter().all(|s| s.warm.load(Ordering::Acquire))
    }

    /// Every subscriber has had the end marker.
    pub fn all_ended(&self) -> bool {
        self.0.iter().all(|s| s.ended.load(Ordering::Acquire))
    }

    /// (data messages counted, malformed, the last end marker's arrival).
    pub fn summary(&self) -> (u64, u64, Instant) {
        let count = self.0.iter().map(|s| s.data.load(Ordering::Acquire)).sum();
        let bad = self.0.iter().map(|s| s.bad.load(Ordering::Acquire)).sum();
        let end = self
            .0
            .iter()
            .filter_map(|s| *s.end.lock().unwrap())
            .max()
            .unwrap_or_else(Instant::now);
        (count, bad, end)
    }

    /// The outcome of a publisher that sent `n` data messages; a loss fails
    /// the case unless `lossy`.
    pub fn outcome(&self, clock: &Clock, n: u64, lossy: bool) -> Result<Outcome, String> {
        let (count, bad, end) = self.summary();
        let (secs, cpu) = clock.stop(end);
        let expected = n * SUBS as u64;
        let mut o = Outcome::new(count, secs, cpu);
        if count != expected && lossy {
            o.note = format!(
                "lost {:.1}% ({} of {expected} delivered)",
                100.0 * (expected - count.min(expected)) as f64 / expected as f64,
                count
            );
            return Ok(o);
        }
        check_count("pubsub", count, expected, bad)?;
        Ok(o)
    }
}

/// A publisher, as [`publish`] drives it.
pub trait Publisher: Send {
    /// Sends a warm-up or end marker.
    fn mark(&mut self, end: bool) -> impl Future<Output = Result<(), String>> + Send;
    /// Sends a data message (waiting while the library says "full").
    fn data(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// Sends warm-ups until every subscriber has one, then `n` data messages,
/// then end markers until every subscriber has one. The clock starts after
/// the warm-up.
pub async fn publish<R: Rt, P: Publisher>(
    rt: &R,
    stats: &SubStats,
    n: u64,
    p: &mut P,
) -> Result<Clock, String> {
    let t0 = Instant::now();
    while !stats.all_warm() {
        p.mark(false).await?;
        rt.sleep(Duration::from_millis(1)).await;
        if t0.elapsed() > STALL {
            return Err("subscribers never got the warm-up".into());
        }
    }
    let clock = Clock::start();
    for i in 0..n {
        p.data()
            .await
            .map_err(|e| format!("message {i} of {n}: {e}"))?;
    }
    let t0 = Instant::now();
    while !stats.all_ended() {
        p.mark(true).await?;
        rt.sleep(Duration::from_millis(1)).await;
        if t0.elapsed() > STALL {
            return Err(format!(
                "subscribers never got the end: {} of {} delivered",
                stats.summary().0,
                n * SUBS as u64
            ));
        }
    }
    Ok(clock)
}

/// The scale cases' bookkeeping across all pairs.
pub struct ScaleShared {
    /// Pairs whose warm-up echo came back.
    pub warm: AtomicUsize,
    /// Pairs done.
    pub done: AtomicUsize,
    /// Echoes counted by all DEALERs.
    pub echoes: AtomicU64,
    pairs: usize,
    end: Mutex<Option<Instant>>,
}

impl ScaleShared {
    /// For `pairs` pairs.
    pub fn new(pairs: usize) -> Arc<ScaleShared> {
        Arc::new(ScaleShared {
            warm: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            echoes: AtomicU64::new(0),
            pairs,
            end: Mutex::new(None),
        })
    }

    /// A pair received all its echoes.
    pub fn finish_pair(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.pairs {
            *self.end.lock().unwrap() = Some(Instant::now());
        }
    }

    /// When the last pair finished.
    pub fn end(&self) -> Instant {
        self.end.lock().unwrap().unwrap_or_else(Instant::now)
    }

    /// Waits until `c` reaches every pair, failing after 3 × STALL.
    pub async fn wait<R: Rt>(&self, rt: &R, what: &str, c: &AtomicUsize) -> Result<(), String> {
        let t0 = Instant::now();
        while c.load(Ordering::Acquire) < self.pairs {
            rt.sleep(Duration::from_millis(1)).await;
            if t0.elapsed() > STALL * 3 {
                return Err(format!(
                    "hang: {} of {} pairs {what}{}",
                    c.load(Ordering::Acquire),
                    self.pairs,
                    crate::measure::fd_usage()
                ));
            }
        }
        Ok(())
    }

    /// The outcome once every pair is done.
    pub fn outcome(&self, clock: &Clock, base_rss: f64, m: u64) -> Result<Outcome, String> {
        let (secs, cpu) = clock.stop(self.end());
        let received = self.echoes.load(Ordering::Acquire);
        check_count("scale", received, m * self.pairs as u64, 0)?;
        let mut o = Outcome::new(received, secs, cpu);
        o.growth = peak_rss_mib() - base_rss;
        o.note = format!("{} pairs, {received} echoes in {secs:.2} s", self.pairs);
        Ok(o)
    }
}

/// Waits until `written` stops moving (`Some(count)`) or reaches `n` (`None`).
pub async fn wait_stopped<R: Rt>(rt: &R, written: &AtomicU64, n: u64) -> Option<u64> {
    let mut last = u64::MAX;
    let mut since = Instant::now();
    loop {
        rt.sleep(Duration::from_millis(10)).await;
        let w = written.load(Ordering::Acquire);
        if w >= n {
            return None;
        }
        if w != last {
            last = w;
            since = Instant::now();
        } else if since.elapsed() >= STOPPED_AFTER {
            return Some(w);
        }
    }
}

/// The outcome of a burst: `stopped` is where the writer stopped while the
/// reader was paused (`None`: it never did; a failure when `must_stop`).
#[allow(clippy::too_many_arguments)]
pub fn burst_outcome(
    stopped: Option<u64>,
    go: &Clock,
    end: Instant,
    count: u64,
    n: u64,
    base_rss: f64,
    extra: &str,
    must_stop: bool,
) -> Result<Outcome, String> {
    let (secs, cpu) = go.stop(end);
    check_count("burst", count, n, 0)?;
    let mut o = Outcome::new(count, secs, cpu);
    o.growth = peak_rss_mib() - base_rss;
    o.note = match stopped {
        Some(w) => format!("writer stopped at {w} msgs{extra}"),
        None => format!("writer never stopped{extra}"),
    };
    if must_stop && stopped.is_none() {
        return Err(format!("the writer never stopped: {}", o.note));
    }
    Ok(o)
}

/// Runs one case in this process (a two-process case: in two children of
/// this one, as the parent runs it).
pub fn run_case(work: Work, lib: Lib, n: u64) -> Result<Outcome, String> {
    if work.two_process() {
        return crate::parent::run_pair(work, lib, n, work.timeout(false));
    }
    match lib {
        Lib::Raw => match work {
            Work::Scale(s) => raw_scale::run(s, n),
            _ => Threads.block_on(sock::run(Threads, raw::Raw::default(), work, n, false)),
        },
        Lib::Ours(d, Api::Proto) => match d {
            Drv::TokioMt | Drv::TokioCt => {
                let rt = Tokio {
                    multi_thread: d == Drv::TokioMt,
                };
                rt.block_on(proto::run(rt, TokioDriver(contexts(work)), work, n))
            }
            Drv::Smol => Smol.block_on(proto::run(Smol, SmolDriver(contexts(work)), work, n)),
            Drv::Blocking => {
                Threads.block_on(proto::run(Threads, BlockingDriver(contexts(work)), work, n))
            }
        },
        Lib::Ours(d, Api::Stream) => match d {
            Drv::TokioMt | Drv::TokioCt => {
                let rt = Tokio {
                    multi_thread: d == Drv::TokioMt,
                };
                let lib = Streams::<TokioDriver>::new(contexts(work));
                rt.block_on(sock::run(rt, lib, work, n, true))
            }
            Drv::Smol => Smol.block_on(sock::run(
                Smol,
                Streams::<SmolDriver>::new(contexts(work)),
                work,
                n,
                true,
            )),
            Drv::Blocking => Threads.block_on(sock::run(
                Threads,
                Streams::<BlockingDriver>::new(contexts(work)),
                work,
                n,
                true,
            )),
        },
        Lib::Tmq => peer(|| Ok(tmq::Tmq::new(contexts(work))), work, n),
        Lib::AsyncZmq => peer(|| Ok(async_zmq::AsyncZmq::new(contexts(work))), work, n),
        Lib::Zeromq => peer(|| Ok(zeromq::Zeromq), work, n),
        Lib::Omq(mode) => peer(|| Ok(omq::Omq::new(mode)), work, n),
        Lib::Rzmq => peer(rzmq::Rzmq::new, work, n),
    }
}

/// A peer on tokio's multi-thread runtime; its adapter is made inside the
/// runtime (omq and rzmq bind their context to it).
fn peer<L: SockLib>(
    make: impl FnOnce() -> Result<L, String>,
    work: Work,
    n: u64,
) -> Result<Outcome, String> {
    let rt = Tokio { multi_thread: true };
    rt.block_on(async move { sock::run(rt, make()?, work, n, false).await })
}

/// The libzmq contexts our drivers and the libzmq-based peers use in this
/// workload: spread for the 1,000-pair case, else the default.
fn contexts(work: Work) -> Contexts {
    match work {
        Work::Scale(s) => Contexts::new(s.pairs(), s.per_context()),
        _ => Contexts::default(),
    }
}

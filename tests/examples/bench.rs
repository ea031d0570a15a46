//! The aiozmq-rs benchmark: raw libzmq, our drivers and the peers a user
//! would pick instead, side by side in one run (issue 6).
//!
//! ```text
//! cargo run --release -p aiozmq-tests --example bench            # full run, writes the plot
//! cargo run --release -p aiozmq-tests --example bench -- --quick # short run, no plot
//!   options: --plot (plot even with --quick), --reps N (default 3),
//!            --only TEXT (run only workloads/libraries whose id contains TEXT;
//!                         may be given more than once)
//! ```
//!
//! Workloads: (A) PUSH→PULL throughput over tcp loopback at 16 B, 1 KiB and
//! 64 KiB (and over inproc for raw libzmq and our drivers); (B) REQ/REP 16 B
//! round-trip latency; (C) PUB→4×SUB fan-out, deliveries/s; (D) 1,000
//! DEALER↔ROUTER pairs on one runtime, and a 1 KiB burst towards a reader
//! that is paused.
//!
//! Every case runs in a child process (this binary with `--child`), so its
//! CPU time (`getrusage(RUSAGE_SELF)`), its RSS and a hang are its own. A case
//! counts what it received and fails on a loss; a child that does not report
//! within its time limit is killed and counted as a hang. The table holds the
//! median of the repetitions, which run interleaved (repetition 1 of every
//! library, then repetition 2, ...) so that the noise of a shared machine
//! falls on all rows alike. The exit status is non-zero when a case of raw
//! libzmq or of our drivers failed; failures of peers are shown in the table.
//!
//! Rows: raw `zmq` with blocking threads (both ends in one context: the
//! reference of every ratio); aiozmq on tokio (multi-thread and
//! current-thread), smol and plain threads, each with the protocol and the
//! stream API; tmq, async_zmq and zeromq on tokio's multi-thread runtime. Not
//! run: the blocking driver in D scale (a thread per transport), async_zmq in
//! the burst. zeromq's PUB has no high-water mark and drops by design: its
//! loss is reported in the notes instead of failing the case.

use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqProtocol, ZmqTransport};

/// Message sizes of workload A.
const SIZES: [usize; 3] = [16, 1024, 65536];
/// Subscribers in workload C.
const SUBS: usize = 4;
/// DEALER↔ROUTER pairs in workload D.
const PAIRS: usize = 1000;
/// libzmq's default ZMQ_MAX_SOCKETS is 1023 per context and the `zmq` crate
/// cannot raise it, so workload D spreads its pairs over contexts of 500.
const PAIRS_PER_CONTEXT: usize = 500;
/// Messages a DEALER keeps in flight in workload D.
const WINDOW: u64 = 100;
/// Round trips before the timed ones in workload B.
const WARM_ROUND_TRIPS: u64 = 200;
/// A wait inside a case that makes no progress this long is a failure.
const STALL: Duration = Duration::from_secs(20);
/// A writer whose count has not moved this long has stopped (burst case).
const STOPPED_AFTER: Duration = Duration::from_millis(300);
const TCP_ANY: &str = "tcp://127.0.0.1:*";

// ---------------------------------------------------------------------------
// Libraries and workloads

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Api {
    Proto,
    Stream,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Lib {
    Raw,
    TokioMt(Api),
    TokioCt(Api),
    Smol(Api),
    Blocking(Api),
    Tmq,
    AsyncZmq,
    Zeromq,
}

impl Lib {
    fn all() -> Vec<Lib> {
        let mut v = vec![Lib::Raw];
        for api in [Api::Proto, Api::Stream] {
            v.push(Lib::TokioMt(api));
        }
        for api in [Api::Proto, Api::Stream] {
            v.push(Lib::TokioCt(api));
        }
        v.extend([Lib::Smol(Api::Proto), Lib::Smol(Api::Stream)]);
        v.extend([Lib::Blocking(Api::Proto), Lib::Blocking(Api::Stream)]);
        v.extend([Lib::Tmq, Lib::AsyncZmq, Lib::Zeromq]);
        v
    }

    fn id(self) -> String {
        let api = |a: Api| match a {
            Api::Proto => "proto",
            Api::Stream => "stream",
        };
        match self {
            Lib::Raw => "raw".into(),
            Lib::TokioMt(a) => format!("tokio-mt-{}", api(a)),
            Lib::TokioCt(a) => format!("tokio-ct-{}", api(a)),
            Lib::Smol(a) => format!("smol-{}", api(a)),
            Lib::Blocking(a) => format!("blocking-{}", api(a)),
            Lib::Tmq => "tmq".into(),
            Lib::AsyncZmq => "async_zmq".into(),
            Lib::Zeromq => "zeromq".into(),
        }
    }

    fn label(self) -> String {
        let api = |a: Api| match a {
            Api::Proto => "protocol",
            Api::Stream => "stream",
        };
        match self {
            Lib::Raw => "raw zmq, threads".into(),
            Lib::TokioMt(a) => format!("aiozmq tokio-mt {}", api(a)),
            Lib::TokioCt(a) => format!("aiozmq tokio-ct {}", api(a)),
            Lib::Smol(a) => format!("aiozmq smol {}", api(a)),
            Lib::Blocking(a) => format!("aiozmq blocking {}", api(a)),
            Lib::Tmq => "tmq 0.5 (tokio-mt)".into(),
            Lib::AsyncZmq => "async_zmq 0.4 (tokio-mt)".into(),
            Lib::Zeromq => "zeromq 0.7 (tokio-mt)".into(),
        }
    }

    fn parse(s: &str) -> Option<Lib> {
        Lib::all().into_iter().find(|l| l.id() == s)
    }

    fn ours(self) -> bool {
        matches!(
            self,
            Lib::TokioMt(_) | Lib::TokioCt(_) | Lib::Smol(_) | Lib::Blocking(_)
        )
    }

    fn peer(self) -> bool {
        matches!(self, Lib::Tmq | Lib::AsyncZmq | Lib::Zeromq)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Work {
    Push { inproc: bool, size: usize },
    ReqRep,
    PubSub,
    Scale,
    Burst,
}

fn fmt_size(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

impl Work {
    fn all() -> Vec<Work> {
        let mut v: Vec<Work> = SIZES
            .iter()
            .map(|&size| Work::Push {
                inproc: false,
                size,
            })
            .collect();
        v.extend(SIZES.iter().map(|&size| Work::Push { inproc: true, size }));
        v.extend([Work::ReqRep, Work::PubSub, Work::Scale, Work::Burst]);
        v
    }

    fn id(self) -> String {
        match self {
            Work::Push { inproc, size } => {
                format!("push-{}-{size}", if inproc { "inproc" } else { "tcp" })
            }
            Work::ReqRep => "reqrep".into(),
            Work::PubSub => "pubsub".into(),
            Work::Scale => "scale".into(),
            Work::Burst => "burst".into(),
        }
    }

    fn parse(s: &str) -> Option<Work> {
        Work::all().into_iter().find(|w| w.id() == s)
    }

    fn label(self) -> String {
        match self {
            Work::Push { inproc, size } => format!(
                "A push→pull {} {}",
                if inproc { "inproc" } else { "tcp" },
                fmt_size(size)
            ),
            Work::ReqRep => "B req↔rep 16 B".into(),
            Work::PubSub => format!("C pub→{SUBS} sub 16 B"),
            Work::Scale => format!("D {PAIRS} dealer↔router"),
            Work::Burst => "D burst 1 KiB, paused reader".into(),
        }
    }

    /// Payload bytes of one message.
    fn size(self) -> usize {
        match self {
            Work::Push { size, .. } => size,
            Work::Burst => 1024,
            _ => 16,
        }
    }

    /// Messages per case: A, C and burst: messages sent; B: round trips;
    /// D scale: messages per pair.
    fn n(self, quick: bool) -> u64 {
        match (self, quick) {
            (Work::Push { size: 16, .. }, false) => 2_000_000,
            (Work::Push { size: 16, .. }, true) => 300_000,
            (Work::Push { size: 1024, .. }, false) => 500_000,
            (Work::Push { size: 1024, .. }, true) => 100_000,
            (Work::Push { .. }, false) => 20_000,
            (Work::Push { .. }, true) => 4_000,
            (Work::ReqRep, false) => 20_000,
            (Work::ReqRep, true) => 3_000,
            (Work::PubSub, false) => 500_000,
            (Work::PubSub, true) => 100_000,
            (Work::Scale, false) => 1_000,
            (Work::Scale, true) => 100,
            (Work::Burst, false) => 1_000_000,
            (Work::Burst, true) => 200_000,
        }
    }

    fn timeout(self, quick: bool) -> Duration {
        let s = match self {
            Work::Scale | Work::Burst => 180,
            _ => 90,
        };
        Duration::from_secs(if quick { s / 2 } else { s })
    }

    fn libs(self) -> Vec<Lib> {
        Lib::all()
            .into_iter()
            .filter(|&l| match self {
                Work::Push { inproc: true, .. } => l == Lib::Raw || l.ours(),
                Work::Burst => l != Lib::AsyncZmq,
                // One tokio runtime's worth of sockets: the blocking driver's
                // thread per transport is not made for thousands of them.
                Work::Scale => !matches!(l, Lib::Blocking(_)),
                _ => true,
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------
// Measuring

/// What one case measured.
#[derive(Clone, Debug)]
struct Outcome {
    /// Messages counted by the receiving side(s).
    count: u64,
    /// Seconds from the go signal to the last message counted.
    secs: f64,
    /// User+system CPU seconds of the whole process over the same span.
    cpu: f64,
    /// Round-trip latencies, µs (workload B).
    p50: f64,
    p99: f64,
    p999: f64,
    /// Peak RSS of the case's process, MiB.
    rss: f64,
    /// Peak RSS growth over the case's baseline, MiB (workload D).
    growth: f64,
    note: String,
}

impl Outcome {
    fn new(count: u64, secs: f64, cpu: f64) -> Outcome {
        Outcome {
            count,
            secs,
            cpu,
            p50: f64::NAN,
            p99: f64::NAN,
            p999: f64::NAN,
            rss: f64::NAN,
            growth: f64::NAN,
            note: String::new(),
        }
    }

    fn with_latencies(mut self, mut lats: Vec<f64>) -> Outcome {
        lats.sort_by(f64::total_cmp);
        let pick = |p: f64| {
            let i = ((p * lats.len() as f64).ceil() as usize).clamp(1, lats.len()) - 1;
            lats[i]
        };
        if !lats.is_empty() {
            self.p50 = pick(0.50);
            self.p99 = pick(0.99);
            self.p999 = pick(0.999);
        }
        self
    }

    fn encode(&self) -> String {
        format!(
            "count={} secs={} cpu={} p50={} p99={} p999={} rss={} growth={} note={}",
            self.count,
            self.secs,
            self.cpu,
            self.p50,
            self.p99,
            self.p999,
            self.rss,
            self.growth,
            self.note.replace('\n', " ")
        )
    }

    fn decode(line: &str) -> Option<Outcome> {
        let (fields, note) = line.split_once(" note=").unwrap_or((line, ""));
        let mut o = Outcome::new(0, 0.0, 0.0);
        o.note = note.to_string();
        for kv in fields.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let f = v.parse::<f64>().ok();
            match k {
                "count" => o.count = v.parse().ok()?,
                "secs" => o.secs = f?,
                "cpu" => o.cpu = f?,
                "p50" => o.p50 = f?,
                "p99" => o.p99 = f?,
                "p999" => o.p999 = f?,
                "rss" => o.rss = f?,
                "growth" => o.growth = f?,
                _ => {}
            }
        }
        Some(o)
    }

    fn rate(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

/// User+system CPU seconds of this process, all threads.
fn cpu_now() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 * 1e-6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// A field of /proc/self/status, in MiB.
fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// Resets the peak RSS (VmHWM) to the current RSS.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Workload D opens thousands of sockets.
fn raise_fd_limit() {
    // SAFETY: plain libc calls on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Wall clock and CPU from the go signal.
struct Clock {
    t0: Instant,
    cpu0: f64,
}

impl Clock {
    fn start() -> Clock {
        Clock {
            cpu0: cpu_now(),
            t0: Instant::now(),
        }
    }

    /// (seconds until `end`, CPU seconds until now).
    fn stop(&self, end: Instant) -> (f64, f64) {
        (
            end.saturating_duration_since(self.t0).as_secs_f64(),
            cpu_now() - self.cpu0,
        )
    }
}

trait Ctx<T> {
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

fn check_count(what: &str, count: u64, expected: u64, bad: u64) -> Result<(), String> {
    if count != expected {
        return Err(format!(
            "{what}: counted {count} messages, expected {expected}"
        ));
    }
    if bad != 0 {
        return Err(format!("{what}: {bad} messages of the wrong shape"));
    }
    Ok(())
}

fn unique_inproc() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "inproc://bench-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn endpoint(inproc: bool) -> String {
    if inproc {
        unique_inproc()
    } else {
        TCP_ANY.to_string()
    }
}

fn one(b: &Bytes) -> Multipart {
    let mut m = Multipart::new();
    m.push(b.clone());
    m
}

fn payload(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

/// Waits until `written` stops moving (`Some(count)`) or reaches `n` (`None`).
async fn wait_stopped<S, F>(written: &AtomicU64, n: u64, sleep: S) -> Option<u64>
where
    S: Fn(Duration) -> F,
    F: Future<Output = ()>,
{
    let mut last = u64::MAX;
    let mut since = Instant::now();
    loop {
        sleep(Duration::from_millis(10)).await;
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

fn wait_stopped_blocking(written: &AtomicU64, n: u64) -> Option<u64> {
    futures_executor_block_on(wait_stopped(written, n, |d| {
        thread::sleep(d);
        std::future::ready(())
    }))
}

/// A minimal block_on for futures that never return Pending.
fn futures_executor_block_on<F: Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

// ---------------------------------------------------------------------------
// Shared protocol and bookkeeping types (generic over every driver)

/// Flow control as the writer's protocol sees it.
#[derive(Default)]
struct Flow {
    paused: AtomicBool,
    pauses: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
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

    fn wait_blocking(&self) {
        let mut g = self.lock.lock().unwrap();
        while self.paused() {
            g = self.cv.wait(g).unwrap();
        }
    }
}

/// A protocol that only writes: it follows pause_writing/resume_writing.
struct Writer(Arc<Flow>);

impl<T: ZmqTransport> ZmqProtocol<T> for Writer {
    fn pause_writing(&mut self) {
        self.0.paused.store(true, Ordering::Release);
        self.0.pauses.fetch_add(1, Ordering::Relaxed);
    }

    fn resume_writing(&mut self) {
        {
            let _g = self.0.lock.lock().unwrap();
            self.0.paused.store(false, Ordering::Release);
        }
        self.0.cv.notify_all();
        self.0.notify.notify_one();
    }

    fn msg_received(&mut self, _msg: Multipart) {}
}

/// A receiving protocol that counts messages of `size` bytes; a 1-byte
/// message first is the warm-up.
struct Counter {
    size: usize,
    target: u64,
    count: u64,
    bad: u64,
    warm: Option<tokio::sync::oneshot::Sender<()>>,
    done: Option<tokio::sync::oneshot::Sender<Instant>>,
}

impl Counter {
    #[allow(clippy::type_complexity)]
    fn new(
        size: usize,
        target: u64,
    ) -> (
        Counter,
        tokio::sync::oneshot::Receiver<()>,
        tokio::sync::oneshot::Receiver<Instant>,
    ) {
        let (wt, wr) = tokio::sync::oneshot::channel();
        let (dt, dr) = tokio::sync::oneshot::channel();
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

static ECHO_ERRORS: AtomicU64 = AtomicU64::new(0);

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
                if ECHO_ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("echo: write failed: {e}");
                }
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

/// One subscriber's counts in workload C. Messages are 16 bytes; the first
/// byte says what they are: `w` warm-up, `d` data, `e` end.
#[derive(Default)]
struct SubStat {
    warm: AtomicBool,
    data: AtomicU64,
    bad: AtomicU64,
    ended: AtomicBool,
    end: Mutex<Option<Instant>>,
}

impl SubStat {
    /// Records a message; true once the end marker has come.
    fn record(&self, frame: &[u8]) -> bool {
        match frame.first() {
            Some(b'w') => self.warm.store(true, Ordering::Release),
            Some(b'd') => {
                if frame.len() != 16 {
                    self.bad.fetch_add(1, Ordering::Relaxed);
                }
                self.data.fetch_add(1, Ordering::Relaxed);
            }
            Some(b'e') => {
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

struct SubStats(Vec<SubStat>);

const WARM_MSG: &[u8; 16] = b"wwwwwwwwwwwwwwww";
const DATA_MSG: &[u8; 16] = b"dddddddddddddddd";
const END_MSG: &[u8; 16] = b"eeeeeeeeeeeeeeee";

impl SubStats {
    fn new() -> Arc<SubStats> {
        Arc::new(SubStats((0..SUBS).map(|_| SubStat::default()).collect()))
    }

    fn all_warm(&self) -> bool {
        self.0.iter().all(|s| s.warm.load(Ordering::Acquire))
    }

    fn all_ended(&self) -> bool {
        self.0.iter().all(|s| s.ended.load(Ordering::Acquire))
    }

    /// (data messages counted, malformed, the last end marker's arrival).
    fn summary(&self) -> (u64, u64, Instant) {
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

    /// The outcome of a publisher that sent `n` data messages.
    fn outcome(&self, lib: &str, clock: &Clock, n: u64, lossy: bool) -> Result<Outcome, String> {
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
        check_count(lib, count, expected, bad)?;
        Ok(o)
    }
}

struct SubCounter(Arc<SubStats>, usize);

impl<T: ZmqTransport> ZmqProtocol<T> for SubCounter {
    fn msg_received(&mut self, msg: Multipart) {
        self.0 .0[self.1].record(msg.first().map_or(&[][..], |b| &b[..]));
    }
}

/// Workload D's bookkeeping across all pairs.
struct ScaleShared {
    warm: AtomicUsize,
    done: AtomicUsize,
    end: Mutex<Option<Instant>>,
}

impl ScaleShared {
    fn new() -> Arc<ScaleShared> {
        Arc::new(ScaleShared {
            warm: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
            end: Mutex::new(None),
        })
    }

    fn finish_pair(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == PAIRS {
            *self.end.lock().unwrap() = Some(Instant::now());
        }
    }

    fn end(&self) -> Instant {
        self.end.lock().unwrap().unwrap_or_else(Instant::now)
    }
}

fn scale_contexts() -> Vec<zmq::Context> {
    (0..PAIRS.div_ceil(PAIRS_PER_CONTEXT))
        .map(|_| zmq::Context::new())
        .collect()
}

/// A DEALER of workload D: keeps `WINDOW` messages in flight until `m`
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
                    if ECHO_ERRORS.fetch_add(1, Ordering::Relaxed) == 0 {
                        eprintln!("dealer: write failed: {e}");
                    }
                }
            }
        }
        if self.received == self.m {
            self.shared.finish_pair();
        }
    }
}

fn scale_outcome(
    clock: &Clock,
    shared: &ScaleShared,
    base_rss: f64,
    received: u64,
    m: u64,
) -> Result<Outcome, String> {
    let (secs, cpu) = clock.stop(shared.end());
    check_count("scale", received, m * PAIRS as u64, 0)?;
    let mut o = Outcome::new(received, secs, cpu);
    o.growth = peak_rss_mib() - base_rss;
    Ok(o)
}

/// The outcome of a burst: `stopped` is where the writer stopped while the
/// reader was paused (None: it never did).
fn burst_outcome(
    stopped: Option<u64>,
    go: &Clock,
    end: Instant,
    count: u64,
    n: u64,
    base_rss: f64,
    extra: &str,
) -> Result<Outcome, String> {
    let (secs, cpu) = go.stop(end);
    check_count("burst", count, n, 0)?;
    let mut o = Outcome::new(count, secs, cpu);
    o.growth = peak_rss_mib() - base_rss;
    o.note = match stopped {
        Some(w) => format!("writer stopped at {w} msgs{extra}"),
        None => format!("writer never stopped{extra}"),
    };
    Ok(o)
}

// ---------------------------------------------------------------------------
// Raw libzmq, blocking threads, both ends in one context

mod raw {
    use super::*;

    pub fn run(work: Work, n: u64) -> Result<Outcome, String> {
        match work {
            Work::Push { inproc, size } => push(inproc, size, n),
            Work::ReqRep => reqrep(n),
            Work::PubSub => pubsub(n),
            Work::Scale => scale(n),
            Work::Burst => burst(n),
        }
    }

    fn sock(ctx: &zmq::Context, kind: zmq::SocketType) -> Result<zmq::Socket, String> {
        let s = ctx.socket(kind).ctx("socket")?;
        s.set_linger(0).ctx("linger")?;
        Ok(s)
    }

    fn bind(s: &zmq::Socket, ep: &str) -> Result<String, String> {
        s.bind(ep).ctx("bind")?;
        match s.get_last_endpoint().ctx("last endpoint")? {
            Ok(ep) => Ok(ep),
            Err(_) => Err("endpoint is not utf-8".into()),
        }
    }

    fn join<T>(h: thread::JoinHandle<Result<T, String>>) -> Result<T, String> {
        h.join().map_err(|_| "thread panicked".to_string())?
    }

    fn push(inproc: bool, size: usize, n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let pull = sock(&ctx, zmq::PULL)?;
        pull.set_rcvtimeo(STALL.as_millis() as i32)
            .ctx("rcvtimeo")?;
        let ep = bind(&pull, &endpoint(inproc))?;
        let push = sock(&ctx, zmq::PUSH)?;
        push.connect(&ep).ctx("connect")?;
        let data = vec![b'x'; size];
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let sender = thread::spawn(move || -> Result<zmq::Socket, String> {
            push.send(&b"w"[..], 0).ctx("send")?;
            go_rx.recv().ctx("go")?;
            for _ in 0..n {
                push.send(&data[..], 0).ctx("send")?;
            }
            Ok(push)
        });
        let (warm_tx, warm_rx) = mpsc::channel::<()>();
        let receiver = thread::spawn(move || -> Result<(u64, u64, Instant), String> {
            let mut msg = zmq::Message::new();
            pull.recv(&mut msg, 0).ctx("warm-up recv")?;
            let _ = warm_tx.send(());
            let (mut count, mut bad) = (0u64, 0u64);
            while count < n {
                pull.recv(&mut msg, 0)
                    .map_err(|e| format!("recv after {count} of {n}: {e}"))?;
                if msg.len() != size {
                    bad += 1;
                }
                count += 1;
            }
            Ok((count, bad, Instant::now()))
        });
        warm_rx.recv().ctx("warm-up")?;
        let clock = Clock::start();
        let _ = go_tx.send(());
        let (count, bad, end) = join(receiver)?;
        let (secs, cpu) = clock.stop(end);
        join(sender)?;
        check_count("push", count, n, bad)?;
        Ok(Outcome::new(count, secs, cpu))
    }

    fn reqrep(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let rep = sock(&ctx, zmq::REP)?;
        rep.set_rcvtimeo(STALL.as_millis() as i32).ctx("rcvtimeo")?;
        let ep = bind(&rep, TCP_ANY)?;
        let req = sock(&ctx, zmq::REQ)?;
        req.set_rcvtimeo(STALL.as_millis() as i32).ctx("rcvtimeo")?;
        req.connect(&ep).ctx("connect")?;
        let total = n + WARM_ROUND_TRIPS;
        let server = thread::spawn(move || -> Result<(), String> {
            for _ in 0..total {
                let m = rep.recv_msg(0).ctx("REP recv")?;
                rep.send(m, 0).ctx("REP send")?;
            }
            Ok(())
        });
        let data = [b'x'; 16];
        let mut msg = zmq::Message::new();
        for _ in 0..WARM_ROUND_TRIPS {
            req.send(&data[..], 0).ctx("REQ send")?;
            req.recv(&mut msg, 0).ctx("REQ recv")?;
        }
        let mut lats = Vec::with_capacity(n as usize);
        let mut bad = 0;
        let clock = Clock::start();
        for i in 0..n {
            let t = Instant::now();
            req.send(&data[..], 0).ctx("REQ send")?;
            req.recv(&mut msg, 0)
                .map_err(|e| format!("REQ recv after {i} of {n}: {e}"))?;
            lats.push(t.elapsed().as_secs_f64() * 1e6);
            if msg.len() != 16 {
                bad += 1;
            }
        }
        let (secs, cpu) = clock.stop(Instant::now());
        join(server)?;
        check_count("reqrep", lats.len() as u64, n, bad)?;
        Ok(Outcome::new(n, secs, cpu).with_latencies(lats))
    }

    fn pubsub(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let publisher = sock(&ctx, zmq::PUB)?;
        publisher.set_sndhwm(0).ctx("sndhwm")?;
        let ep = bind(&publisher, TCP_ANY)?;
        let stats = SubStats::new();
        let mut subs = Vec::new();
        for i in 0..SUBS {
            let s = sock(&ctx, zmq::SUB)?;
            s.set_rcvhwm(0).ctx("rcvhwm")?;
            s.set_rcvtimeo(STALL.as_millis() as i32).ctx("rcvtimeo")?;
            s.set_subscribe(b"").ctx("subscribe")?;
            s.connect(&ep).ctx("connect")?;
            let stats = stats.clone();
            subs.push(thread::spawn(move || -> Result<(), String> {
                let mut msg = zmq::Message::new();
                loop {
                    s.recv(&mut msg, 0).ctx("SUB recv")?;
                    if stats.0[i].record(&msg) {
                        return Ok(());
                    }
                }
            }));
        }
        let warm_start = Instant::now();
        while !stats.all_warm() {
            publisher.send(&WARM_MSG[..], 0).ctx("PUB send")?;
            thread::sleep(Duration::from_millis(1));
            if warm_start.elapsed() > STALL {
                return Err("subscribers never got the warm-up".into());
            }
        }
        let clock = Clock::start();
        for _ in 0..n {
            publisher.send(&DATA_MSG[..], 0).ctx("PUB send")?;
        }
        let end_start = Instant::now();
        while !stats.all_ended() {
            publisher.send(&END_MSG[..], 0).ctx("PUB send")?;
            thread::sleep(Duration::from_millis(1));
            if end_start.elapsed() > STALL {
                return Err(format!(
                    "subscribers never got the end: {} of {} delivered",
                    stats.summary().0,
                    n * SUBS as u64
                ));
            }
        }
        for s in subs {
            join(s)?;
        }
        stats.outcome("pubsub", &clock, n, false)
    }

    fn scale(m: u64) -> Result<Outcome, String> {
        raise_fd_limit();
        let base = rss_mib();
        let ctxs = scale_contexts();
        let mut routers = Vec::new();
        let mut dealers = Vec::new();
        for i in 0..PAIRS {
            let ctx = &ctxs[i / PAIRS_PER_CONTEXT];
            let r = sock(ctx, zmq::ROUTER)?;
            let ep = bind(&r, TCP_ANY)?;
            let d = sock(ctx, zmq::DEALER)?;
            d.connect(&ep).ctx("connect")?;
            routers.push(r);
            dealers.push(d);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        // One thread serves every ROUTER with zmq_poll.
        let server = thread::spawn(move || -> Result<(), String> {
            let mut items: Vec<zmq::PollItem> = routers
                .iter()
                .map(|r| r.as_poll_item(zmq::POLLIN))
                .collect();
            while !stop2.load(Ordering::Acquire) {
                zmq::poll(&mut items, 10).ctx("poll")?;
                for (i, item) in items.iter().enumerate() {
                    if !item.is_readable() {
                        continue;
                    }
                    let r = &routers[i];
                    loop {
                        let id = match r.recv_msg(zmq::DONTWAIT) {
                            Ok(id) => id,
                            Err(zmq::Error::EAGAIN) => break,
                            Err(e) => return Err(format!("ROUTER recv: {e}")),
                        };
                        let body = r.recv_msg(0).ctx("ROUTER recv")?;
                        r.send(id, zmq::SNDMORE).ctx("ROUTER send")?;
                        r.send(body, 0).ctx("ROUTER send")?;
                    }
                }
            }
            Ok(())
        });
        // This thread drives every DEALER with zmq_poll.
        let mut items: Vec<zmq::PollItem> = dealers
            .iter()
            .map(|d| d.as_poll_item(zmq::POLLIN))
            .collect();
        let data = [b'x'; 16];
        let mut sent = vec![0u64; PAIRS];
        let mut received = vec![0u64; PAIRS];
        let mut warm = 0;
        let mut done = 0;
        let mut total = 0u64;
        let mut bad = 0u64;
        let mut clock: Option<Clock> = None;
        let mut end = None;
        for d in &dealers {
            d.send(&b"w"[..], 0).ctx("DEALER send")?;
        }
        let mut progress = Instant::now();
        while done < PAIRS {
            if warm == PAIRS && clock.is_none() {
                clock = Some(Clock::start());
                for (i, d) in dealers.iter().enumerate() {
                    for _ in 0..WINDOW.min(m) {
                        d.send(&data[..], 0).ctx("DEALER send")?;
                    }
                    sent[i] = WINDOW.min(m);
                }
            }
            if zmq::poll(&mut items, 10).ctx("poll")? == 0 {
                if progress.elapsed() > STALL {
                    stop.store(true, Ordering::Release);
                    return Err(format!(
                        "stalled: {warm} pairs warm, {total} of {} echoes",
                        m * PAIRS as u64
                    ));
                }
                continue;
            }
            progress = Instant::now();
            for (i, item) in items.iter().enumerate() {
                if !item.is_readable() {
                    continue;
                }
                let d = &dealers[i];
                loop {
                    let body = match d.recv_msg(zmq::DONTWAIT) {
                        Ok(b) => b,
                        Err(zmq::Error::EAGAIN) => break,
                        Err(e) => return Err(format!("DEALER recv: {e}")),
                    };
                    if body.len() == 1 {
                        warm += 1;
                        continue;
                    }
                    if body.len() != 16 {
                        bad += 1;
                    }
                    received[i] += 1;
                    total += 1;
                    if sent[i] < m {
                        d.send(&data[..], 0).ctx("DEALER send")?;
                        sent[i] += 1;
                    }
                    if received[i] == m {
                        done += 1;
                        if done == PAIRS {
                            end = Some(Instant::now());
                        }
                    }
                }
            }
        }
        let clock = clock.ok_or("never started")?;
        let (secs, cpu) = clock.stop(end.unwrap_or_else(Instant::now));
        stop.store(true, Ordering::Release);
        join(server)?;
        check_count("scale", total, m * PAIRS as u64, bad)?;
        let mut o = Outcome::new(total, secs, cpu);
        o.growth = peak_rss_mib() - base;
        Ok(o)
    }

    fn burst(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let pull = sock(&ctx, zmq::PULL)?;
        pull.set_rcvtimeo(STALL.as_millis() as i32)
            .ctx("rcvtimeo")?;
        let ep = bind(&pull, TCP_ANY)?;
        let push = sock(&ctx, zmq::PUSH)?;
        push.connect(&ep).ctx("connect")?;
        let written = Arc::new(AtomicU64::new(0));
        let w2 = written.clone();
        let base = rss_mib();
        reset_peak_rss();
        let writer = thread::spawn(move || -> Result<zmq::Socket, String> {
            let data = vec![b'x'; 1024];
            for _ in 0..n {
                push.send(&data[..], 0).ctx("send")?;
                w2.fetch_add(1, Ordering::Release);
            }
            Ok(push)
        });
        let stopped = wait_stopped_blocking(&written, n);
        let go = Clock::start();
        let mut msg = zmq::Message::new();
        let mut count = 0;
        while count < n {
            pull.recv(&mut msg, 0)
                .map_err(|e| format!("recv after {count} of {n}: {e}"))?;
            count += 1;
        }
        let end = Instant::now();
        join(writer)?;
        burst_outcome(
            stopped,
            &go,
            end,
            count,
            n,
            base,
            " (send blocks at SNDHWM)",
        )
    }
}

// ---------------------------------------------------------------------------
// Our async drivers: one body of cases, instantiated per driver crate

fn tokio_spawn<F>(f: F) -> impl Future<Output = F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let h = tokio::spawn(f);
    async move {
        match h.await {
            Ok(v) => v,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

macro_rules! async_cases {
    ($modname:ident, $drv:ident, $spawn:path, $sleep:path) => {
        mod $modname {
            use super::*;
            use $drv::{create_zmq_connection, create_zmq_stream, Transport};

            async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
                let f = std::pin::pin!(f);
                let s = std::pin::pin!($sleep(d));
                match futures_util::future::select(f, s).await {
                    futures_util::future::Either::Left((v, _)) => Some(v),
                    futures_util::future::Either::Right(_) => None,
                }
            }

            async fn sleep(d: Duration) {
                $sleep(d).await;
            }

            pub async fn run(work: Work, api: Api, n: u64) -> Result<Outcome, String> {
                match (work, api) {
                    (Work::Push { inproc, size }, Api::Proto) => push_proto(inproc, size, n).await,
                    (Work::Push { inproc, size }, Api::Stream) => {
                        push_stream(inproc, size, n).await
                    }
                    (Work::ReqRep, Api::Proto) => reqrep_proto(n).await,
                    (Work::ReqRep, Api::Stream) => reqrep_stream(n).await,
                    (Work::PubSub, Api::Proto) => pubsub_proto(n).await,
                    (Work::PubSub, Api::Stream) => pubsub_stream(n).await,
                    (Work::Scale, Api::Proto) => scale_proto(n).await,
                    (Work::Scale, Api::Stream) => scale_stream(n).await,
                    (Work::Burst, Api::Proto) => burst_proto(n).await,
                    (Work::Burst, Api::Stream) => burst_stream(n).await,
                }
            }

            async fn write_n(
                t: Transport,
                flow: Arc<Flow>,
                data: Bytes,
                n: u64,
                written: Option<Arc<AtomicU64>>,
            ) -> Result<Transport, String> {
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

            async fn push_proto(inproc: bool, size: usize, n: u64) -> Result<Outcome, String> {
                let (counter, warm, done) = Counter::new(size, n);
                let (pull, counter) = create_zmq_connection(move || counter, SocketType::Pull)
                    .open()
                    .await
                    .ctx("open PULL")?;
                let ep = pull.bind(&endpoint(inproc)).ctx("bind")?;
                let flow = Arc::new(Flow::default());
                let f2 = flow.clone();
                let (push, _) = create_zmq_connection(move || Writer(f2), SocketType::Push)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open PUSH")?;
                push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
                timeout(STALL, warm)
                    .await
                    .ok_or("the warm-up message never arrived")?
                    .ctx("warm-up")?;
                let clock = Clock::start();
                let writer = $spawn(write_n(push.clone(), flow, payload(size), n, None));
                let end = match timeout(STALL * 3, done).await {
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

            async fn push_stream(inproc: bool, size: usize, n: u64) -> Result<Outcome, String> {
                let mut pull = create_zmq_stream(SocketType::Pull)
                    .open()
                    .await
                    .ctx("open PULL")?;
                let ep = pull.transport().bind(&endpoint(inproc)).ctx("bind")?;
                let push = create_zmq_stream(SocketType::Push)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open PUSH")?;
                push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
                timeout(STALL, pull.read())
                    .await
                    .ok_or("the warm-up message never arrived")?
                    .ctx("warm-up")?;
                let counted = Arc::new(AtomicU64::new(0));
                let c2 = counted.clone();
                let reader = $spawn(async move {
                    let (mut count, mut bad) = (0u64, 0u64);
                    while count < n {
                        let m = pull.read().await.ctx("read")?;
                        if m.len() != 1 || m[0].len() != size {
                            bad += 1;
                        }
                        count += 1;
                        if count & 1023 == 0 {
                            c2.store(count, Ordering::Relaxed);
                        }
                    }
                    Ok::<_, String>((count, bad, Instant::now(), pull))
                });
                let clock = Clock::start();
                let data = payload(size);
                let writer = $spawn(async move {
                    for i in 0..n {
                        push.write(one(&data))
                            .map_err(|e| format!("write {i} of {n}: {e}"))?;
                        push.drain().await.ctx("drain")?;
                    }
                    Ok::<_, String>(push)
                });
                let (count, bad, end, _pull) = match timeout(STALL * 3, reader).await {
                    Some(r) => r?,
                    None => {
                        let c = counted.load(Ordering::Relaxed);
                        return Err(format!("hang or loss: about {c} of {n} received"));
                    }
                };
                let (secs, cpu) = clock.stop(end);
                writer.await?;
                check_count("push", count, n, bad)?;
                Ok(Outcome::new(count, secs, cpu))
            }

            async fn reqrep_proto(n: u64) -> Result<Outcome, String> {
                let (rep, _) = create_zmq_connection(|| Echo(None), SocketType::Rep)
                    .open()
                    .await
                    .ctx("open REP")?;
                let ep = rep.bind(TCP_ANY).ctx("bind")?;
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                let (req, _) = create_zmq_connection(move || Forward(tx), SocketType::Req)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open REQ")?;
                let done = Arc::new(AtomicU64::new(0));
                let d2 = done.clone();
                let client = $spawn(async move {
                    let data = payload(16);
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
                let o = timeout(STALL * 3, client).await.ok_or_else(|| {
                    format!(
                        "hang: {} of {n} round trips done",
                        done.load(Ordering::Relaxed)
                    )
                })??;
                drop(rep);
                Ok(o)
            }

            async fn reqrep_stream(n: u64) -> Result<Outcome, String> {
                let mut rep = create_zmq_stream(SocketType::Rep)
                    .open()
                    .await
                    .ctx("open REP")?;
                let ep = rep.transport().bind(TCP_ANY).ctx("bind")?;
                let mut req = create_zmq_stream(SocketType::Req)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open REQ")?;
                let _server = $spawn(async move {
                    while let Ok(m) = rep.read().await {
                        if rep.write(m).is_err() {
                            break;
                        }
                    }
                });
                let done = Arc::new(AtomicU64::new(0));
                let d2 = done.clone();
                let client = $spawn(async move {
                    let data = payload(16);
                    for _ in 0..WARM_ROUND_TRIPS {
                        req.write(one(&data)).ctx("write")?;
                        req.read().await.ctx("read")?;
                    }
                    let mut lats = Vec::with_capacity(n as usize);
                    let mut bad = 0;
                    let clock = Clock::start();
                    for i in 0..n {
                        let t = Instant::now();
                        req.write(one(&data)).ctx("write")?;
                        let m = req.read().await.ctx("read")?;
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
                timeout(STALL * 3, client).await.ok_or_else(|| {
                    format!(
                        "hang: {} of {n} round trips done",
                        done.load(Ordering::Relaxed)
                    )
                })?
            }

            /// Sends warm-ups until every subscriber has one, then `n` data
            /// messages, then end markers until every subscriber has one.
            async fn publish(
                t: Transport,
                flow: Arc<Flow>,
                stats: Arc<SubStats>,
                n: u64,
            ) -> Result<Clock, String> {
                let warm = Bytes::from_static(WARM_MSG);
                let data = Bytes::from_static(DATA_MSG);
                let end = Bytes::from_static(END_MSG);
                let t0 = Instant::now();
                while !stats.all_warm() {
                    t.write(one(&warm)).ctx("write")?;
                    sleep(Duration::from_millis(1)).await;
                    if t0.elapsed() > STALL {
                        return Err("subscribers never got the warm-up".into());
                    }
                }
                let clock = Clock::start();
                for i in 0..n {
                    t.write(one(&data))
                        .map_err(|e| format!("write {i} of {n}: {e}"))?;
                    if flow.paused() {
                        flow.wait().await;
                    }
                }
                let t0 = Instant::now();
                while !stats.all_ended() {
                    t.write(one(&end)).ctx("write")?;
                    sleep(Duration::from_millis(1)).await;
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

            async fn open_pub(flow: Arc<Flow>) -> Result<(Transport, String), String> {
                let (p, _) = create_zmq_connection(move || Writer(flow), SocketType::Pub)
                    .open()
                    .await
                    .ctx("open PUB")?;
                p.setsockopt(SockOpt::SNDHWM, OptValue::Int(0))
                    .ctx("SNDHWM")?;
                let ep = p.bind(TCP_ANY).ctx("bind")?;
                Ok((p, ep))
            }

            async fn pubsub_proto(n: u64) -> Result<Outcome, String> {
                let flow = Arc::new(Flow::default());
                let (p, ep) = open_pub(flow.clone()).await?;
                let stats = SubStats::new();
                let mut subs = Vec::new();
                for i in 0..SUBS {
                    let st = stats.clone();
                    let (s, _) = create_zmq_connection(move || SubCounter(st, i), SocketType::Sub)
                        .open()
                        .await
                        .ctx("open SUB")?;
                    s.setsockopt(SockOpt::RCVHWM, OptValue::Int(0))
                        .ctx("RCVHWM")?;
                    s.subscribe(b"").ctx("subscribe")?;
                    s.connect(&ep).ctx("connect")?;
                    subs.push(s);
                }
                let publisher = $spawn(publish(p, flow, stats.clone(), n));
                let clock = timeout(STALL * 4, publisher).await.ok_or_else(|| {
                    format!(
                        "hang: {} of {} delivered",
                        stats.summary().0,
                        n * SUBS as u64
                    )
                })??;
                drop(subs);
                stats.outcome("pubsub", &clock, n, false)
            }

            async fn pubsub_stream(n: u64) -> Result<Outcome, String> {
                let flow = Arc::new(Flow::default());
                let (p, ep) = open_pub(flow.clone()).await?;
                let stats = SubStats::new();
                let mut readers = Vec::new();
                for i in 0..SUBS {
                    let mut s = create_zmq_stream(SocketType::Sub)
                        .open()
                        .await
                        .ctx("open SUB")?;
                    s.transport()
                        .setsockopt(SockOpt::RCVHWM, OptValue::Int(0))
                        .ctx("RCVHWM")?;
                    s.transport().subscribe(b"").ctx("subscribe")?;
                    s.transport().connect(&ep).ctx("connect")?;
                    let st = stats.clone();
                    readers.push($spawn(async move {
                        loop {
                            let m = s.read().await.ctx("read")?;
                            if st.0[i].record(m.first().map_or(&[][..], |b| &b[..])) {
                                return Ok::<_, String>(s);
                            }
                        }
                    }));
                }
                let publisher = $spawn(publish(p, flow, stats.clone(), n));
                let clock = timeout(STALL * 4, publisher).await.ok_or_else(|| {
                    format!(
                        "hang: {} of {} delivered",
                        stats.summary().0,
                        n * SUBS as u64
                    )
                })??;
                for r in readers {
                    r.await?;
                }
                stats.outcome("pubsub", &clock, n, false)
            }

            async fn wait_count(what: &str, c: &AtomicUsize, target: usize) -> Result<(), String> {
                let t0 = Instant::now();
                while c.load(Ordering::Acquire) < target {
                    sleep(Duration::from_millis(1)).await;
                    if t0.elapsed() > STALL * 3 {
                        return Err(format!(
                            "hang: {} of {target} pairs {what}",
                            c.load(Ordering::Acquire)
                        ));
                    }
                }
                Ok(())
            }

            async fn scale_proto(m: u64) -> Result<Outcome, String> {
                raise_fd_limit();
                let base = rss_mib();
                let ctxs = scale_contexts();
                let shared = ScaleShared::new();
                let data = payload(16);
                let mut routers = Vec::new();
                let mut dealers = Vec::new();
                for i in 0..PAIRS {
                    let ctx = &ctxs[i / PAIRS_PER_CONTEXT];
                    let (r, _) = create_zmq_connection(|| Echo(None), SocketType::Router)
                        .context(ctx.clone())
                        .open()
                        .await
                        .ctx("open ROUTER")?;
                    let ep = r.bind(TCP_ANY).ctx("bind")?;
                    let sh = shared.clone();
                    let p = data.clone();
                    let (d, dp) = create_zmq_connection(
                        move || ScaleDealer {
                            t: None,
                            shared: sh,
                            payload: p,
                            m,
                            sent: 0,
                            received: 0,
                            bad: 0,
                        },
                        SocketType::Dealer,
                    )
                    .context(ctx.clone())
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open DEALER")?;
                    routers.push(r);
                    dealers.push((d, dp));
                }
                let w = Bytes::from_static(b"w");
                for (d, _) in &dealers {
                    d.write(one(&w)).ctx("write")?;
                }
                wait_count("warm", &shared.warm, PAIRS).await?;
                let clock = Clock::start();
                for (d, dp) in &dealers {
                    dp.lock().unwrap().sent = WINDOW.min(m);
                    for _ in 0..WINDOW.min(m) {
                        d.write(one(&data)).ctx("write")?;
                    }
                }
                let waited = wait_count("done", &shared.done, PAIRS).await;
                let (received, bad) = dealers.iter().fold((0, 0), |(r, b), (_, dp)| {
                    let p = dp.lock().unwrap();
                    (r + p.received, b + p.bad)
                });
                waited.map_err(|e| format!("{e} ({received} echoes)"))?;
                check_count("scale", received, m * PAIRS as u64, bad)?;
                scale_outcome(&clock, &shared, base, received, m)
            }

            async fn scale_stream(m: u64) -> Result<Outcome, String> {
                raise_fd_limit();
                let base = rss_mib();
                let ctxs = scale_contexts();
                let shared = ScaleShared::new();
                let data = payload(16);
                let (go_tx, go_rx) = tokio::sync::watch::channel(false);
                let total = Arc::new(AtomicU64::new(0));
                let mut tasks = Vec::new();
                let mut servers = Vec::new();
                for i in 0..PAIRS {
                    let ctx = &ctxs[i / PAIRS_PER_CONTEXT];
                    let mut r = create_zmq_stream(SocketType::Router)
                        .context(ctx.clone())
                        .open()
                        .await
                        .ctx("open ROUTER")?;
                    let ep = r.transport().bind(TCP_ANY).ctx("bind")?;
                    let mut d = create_zmq_stream(SocketType::Dealer)
                        .context(ctx.clone())
                        .connect(ep)
                        .open()
                        .await
                        .ctx("open DEALER")?;
                    servers.push($spawn(async move {
                        while let Ok(msg) = r.read().await {
                            if r.write(msg).is_err() {
                                break;
                            }
                        }
                    }));
                    let (sh, p, mut go, tot) =
                        (shared.clone(), data.clone(), go_rx.clone(), total.clone());
                    tasks.push($spawn(async move {
                        d.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
                        d.read().await.ctx("read")?;
                        sh.warm.fetch_add(1, Ordering::AcqRel);
                        go.wait_for(|g| *g).await.ctx("go")?;
                        let mut sent = WINDOW.min(m);
                        for _ in 0..sent {
                            d.write(one(&p)).ctx("write")?;
                        }
                        let mut received = 0;
                        while received < m {
                            let msg = d.read().await.ctx("read")?;
                            if msg.len() != 1 || msg[0].len() != 16 {
                                return Err("malformed echo".to_string());
                            }
                            received += 1;
                            if sent < m {
                                d.write(one(&p)).ctx("write")?;
                                sent += 1;
                            }
                        }
                        tot.fetch_add(received, Ordering::AcqRel);
                        sh.finish_pair();
                        Ok::<_, String>(d)
                    }));
                }
                wait_count("warm", &shared.warm, PAIRS).await?;
                let clock = Clock::start();
                go_tx.send(true).ctx("go")?;
                wait_count("done", &shared.done, PAIRS).await?;
                let mut ds = Vec::new();
                for t in tasks {
                    ds.push(t.await?);
                }
                scale_outcome(&clock, &shared, base, total.load(Ordering::Acquire), m)
            }

            async fn burst_proto(n: u64) -> Result<Outcome, String> {
                let (counter, _warm, done) = Counter::new(1024, n);
                let (pull, counter) = create_zmq_connection(move || counter, SocketType::Pull)
                    .open()
                    .await
                    .ctx("open PULL")?;
                pull.pause_reading().ctx("pause_reading")?;
                let ep = pull.bind(TCP_ANY).ctx("bind")?;
                let flow = Arc::new(Flow::default());
                let f2 = flow.clone();
                let (push, _) = create_zmq_connection(move || Writer(f2), SocketType::Push)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open PUSH")?;
                let written = Arc::new(AtomicU64::new(0));
                let base = rss_mib();
                reset_peak_rss();
                let writer = $spawn(write_n(
                    push.clone(),
                    flow.clone(),
                    payload(1024),
                    n,
                    Some(written.clone()),
                ));
                let stopped = wait_stopped(&written, n, sleep).await;
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
                let end = match timeout(STALL * 3, done).await {
                    Some(Ok(end)) => end,
                    _ => {
                        let c = counter.lock().unwrap().count;
                        return Err(format!("hang or loss: {c} of {n} received"));
                    }
                };
                writer.await?;
                let c = counter.lock().unwrap();
                check_count("burst", c.count, n, c.bad)?;
                let o = burst_outcome(stopped, &go, end, c.count, n, base, &extra)?;
                if stopped.is_none() {
                    return Err(format!("the writer never got pause_writing: {}", o.note));
                }
                Ok(o)
            }

            async fn burst_stream(n: u64) -> Result<Outcome, String> {
                let mut pull = create_zmq_stream(SocketType::Pull)
                    .open()
                    .await
                    .ctx("open PULL")?;
                let ep = pull.transport().bind(TCP_ANY).ctx("bind")?;
                let push = create_zmq_stream(SocketType::Push)
                    .connect(ep)
                    .open()
                    .await
                    .ctx("open PUSH")?;
                let written = Arc::new(AtomicU64::new(0));
                let w2 = written.clone();
                let base = rss_mib();
                reset_peak_rss();
                let writer = $spawn(async move {
                    let data = payload(1024);
                    for i in 0..n {
                        push.write(one(&data))
                            .map_err(|e| format!("write {i} of {n}: {e}"))?;
                        w2.fetch_add(1, Ordering::Release);
                        push.drain().await.ctx("drain")?;
                    }
                    Ok::<_, String>(push)
                });
                let stopped = wait_stopped(&written, n, sleep).await;
                let go = Clock::start();
                let counted = Arc::new(AtomicU64::new(0));
                let c2 = counted.clone();
                let reader = $spawn(async move {
                    let mut count = 0u64;
                    while count < n {
                        let m = pull.read().await.ctx("read")?;
                        if m.len() != 1 || m[0].len() != 1024 {
                            return Err("malformed message".to_string());
                        }
                        count += 1;
                        c2.store(count, Ordering::Relaxed);
                    }
                    Ok::<_, String>((count, Instant::now(), pull))
                });
                let (count, end, _pull) = timeout(STALL * 3, reader).await.ok_or_else(|| {
                    format!(
                        "hang or loss: {} of {n} received",
                        counted.load(Ordering::Relaxed)
                    )
                })??;
                writer.await?;
                let o = burst_outcome(stopped, &go, end, count, n, base, " (drain() waited)")?;
                if stopped.is_none() {
                    return Err(format!("the writer never stopped: {}", o.note));
                }
                Ok(o)
            }
        }
    };
}

async_cases!(tokio_cases, aiozmq_tokio, tokio_spawn, tokio::time::sleep);

/// smol: the case runs in `smol::block_on` on the main thread; its tasks
/// and the transports' drivers run on smol's global executor.
fn smol_spawn<F>(f: F) -> impl Future<Output = F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    smol::spawn(f)
}

async fn smol_sleep(d: Duration) {
    smol::Timer::after(d).await;
}

async_cases!(smol_cases, aiozmq_smol, smol_spawn, smol_sleep);

// ---------------------------------------------------------------------------
// Our blocking driver: plain threads, no runtime

mod blocking_cases {
    use super::*;
    use aiozmq_blocking::{create_zmq_connection, create_zmq_stream, Transport};
    use tokio::sync::oneshot;

    pub fn run(work: Work, api: Api, n: u64) -> Result<Outcome, String> {
        match (work, api) {
            (Work::Push { inproc, size }, Api::Proto) => push_proto(inproc, size, n),
            (Work::Push { inproc, size }, Api::Stream) => push_stream(inproc, size, n),
            (Work::ReqRep, Api::Proto) => reqrep_proto(n),
            (Work::ReqRep, Api::Stream) => reqrep_stream(n),
            (Work::PubSub, Api::Proto) => pubsub_proto(n),
            (Work::PubSub, Api::Stream) => pubsub_stream(n),
            (Work::Burst, Api::Proto) => burst_proto(n),
            (Work::Burst, Api::Stream) => burst_stream(n),
            (Work::Scale, _) => Err("not run: a thread per transport".into()),
        }
    }

    /// Waits for a signal from a protocol, blocked (a polling loop here would
    /// wake this thread thousands of times a second and steal a core from the
    /// two threads being measured). The timestamps that matter travel inside
    /// the signal.
    fn recv_timeout<T>(rx: &mut oneshot::Receiver<T>, d: Duration) -> Option<T> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .ok()?;
        rt.block_on(async { tokio::time::timeout(d, rx).await.ok()?.ok() })
    }

    fn join<T>(h: thread::JoinHandle<Result<T, String>>) -> Result<T, String> {
        h.join().map_err(|_| "thread panicked".to_string())?
    }

    fn write_n(
        t: &Transport,
        flow: &Flow,
        data: &Bytes,
        n: u64,
        written: Option<&AtomicU64>,
    ) -> Result<(), String> {
        for i in 0..n {
            t.write(one(data))
                .map_err(|e| format!("write {i} of {n}: {e}"))?;
            if let Some(w) = written {
                w.fetch_add(1, Ordering::Release);
            }
            if flow.paused() {
                flow.wait_blocking();
            }
        }
        Ok(())
    }

    fn push_proto(inproc: bool, size: usize, n: u64) -> Result<Outcome, String> {
        let (counter, mut warm, mut done) = Counter::new(size, n);
        let (pull, counter) = create_zmq_connection(move || counter, SocketType::Pull)
            .open()
            .ctx("open PULL")?;
        let ep = pull.bind(&endpoint(inproc)).ctx("bind")?;
        let flow = Arc::new(Flow::default());
        let f2 = flow.clone();
        let (push, _) = create_zmq_connection(move || Writer(f2), SocketType::Push)
            .connect(ep)
            .open()
            .ctx("open PUSH")?;
        push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
        recv_timeout(&mut warm, STALL).ok_or("the warm-up message never arrived")?;
        let clock = Clock::start();
        let writer = thread::spawn(move || {
            write_n(&push, &flow, &payload(size), n, None)?;
            Ok(push)
        });
        let Some(end) = recv_timeout(&mut done, STALL * 3) else {
            let c = counter.lock().unwrap().count;
            return Err(format!("hang or loss: {c} of {n} received"));
        };
        let (secs, cpu) = clock.stop(end);
        join(writer)?;
        let c = counter.lock().unwrap();
        check_count("push", c.count, n, c.bad)?;
        drop(pull);
        Ok(Outcome::new(c.count, secs, cpu))
    }

    fn push_stream(inproc: bool, size: usize, n: u64) -> Result<Outcome, String> {
        let mut pull = create_zmq_stream(SocketType::Pull)
            .open()
            .ctx("open PULL")?;
        let ep = pull.transport().bind(&endpoint(inproc)).ctx("bind")?;
        let push = create_zmq_stream(SocketType::Push)
            .connect(ep)
            .open()
            .ctx("open PUSH")?;
        push.write(one(&Bytes::from_static(b"w"))).ctx("write")?;
        pull.read_timeout(STALL).ctx("warm-up")?;
        let reader = thread::spawn(move || {
            let (mut count, mut bad) = (0u64, 0u64);
            while count < n {
                let m = pull
                    .read_timeout(STALL)
                    .map_err(|e| format!("read after {count} of {n}: {e}"))?;
                if m.len() != 1 || m[0].len() != size {
                    bad += 1;
                }
                count += 1;
            }
            Ok((count, bad, Instant::now()))
        });
        let clock = Clock::start();
        let writer = thread::spawn(move || {
            let data = payload(size);
            for i in 0..n {
                push.write(one(&data))
                    .map_err(|e| format!("write {i} of {n}: {e}"))?;
                push.drain().ctx("drain")?;
            }
            Ok(push)
        });
        let (count, bad, end) = join(reader)?;
        let (secs, cpu) = clock.stop(end);
        join(writer)?;
        check_count("push", count, n, bad)?;
        Ok(Outcome::new(count, secs, cpu))
    }

    fn reqrep_proto(n: u64) -> Result<Outcome, String> {
        let (rep, _) = create_zmq_connection(|| Echo(None), SocketType::Rep)
            .open()
            .ctx("open REP")?;
        let ep = rep.bind(TCP_ANY).ctx("bind")?;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let (req, _) = create_zmq_connection(move || Forward(tx), SocketType::Req)
            .connect(ep)
            .open()
            .ctx("open REQ")?;
        let data = payload(16);
        for _ in 0..WARM_ROUND_TRIPS {
            req.write(one(&data)).ctx("write")?;
            rx.blocking_recv().ok_or("REQ lost")?;
        }
        let mut lats = Vec::with_capacity(n as usize);
        let mut bad = 0;
        let clock = Clock::start();
        for _ in 0..n {
            let t = Instant::now();
            req.write(one(&data)).ctx("write")?;
            let m = rx.blocking_recv().ok_or("REQ lost")?;
            lats.push(t.elapsed().as_secs_f64() * 1e6);
            if m.len() != 1 || m[0].len() != 16 {
                bad += 1;
            }
        }
        let (secs, cpu) = clock.stop(Instant::now());
        check_count("reqrep", lats.len() as u64, n, bad)?;
        drop(rep);
        Ok(Outcome::new(n, secs, cpu).with_latencies(lats))
    }

    fn reqrep_stream(n: u64) -> Result<Outcome, String> {
        let mut rep = create_zmq_stream(SocketType::Rep).open().ctx("open REP")?;
        let ep = rep.transport().bind(TCP_ANY).ctx("bind")?;
        let mut req = create_zmq_stream(SocketType::Req)
            .connect(ep)
            .open()
            .ctx("open REQ")?;
        thread::spawn(move || {
            while let Ok(m) = rep.read() {
                if rep.write(m).is_err() {
                    break;
                }
            }
        });
        let data = payload(16);
        for _ in 0..WARM_ROUND_TRIPS {
            req.write(one(&data)).ctx("write")?;
            req.read_timeout(STALL).ctx("read")?;
        }
        let mut lats = Vec::with_capacity(n as usize);
        let mut bad = 0;
        let clock = Clock::start();
        for i in 0..n {
            let t = Instant::now();
            req.write(one(&data)).ctx("write")?;
            let m = req
                .read_timeout(STALL)
                .map_err(|e| format!("read after {i} of {n}: {e}"))?;
            lats.push(t.elapsed().as_secs_f64() * 1e6);
            if m.len() != 1 || m[0].len() != 16 {
                bad += 1;
            }
        }
        let (secs, cpu) = clock.stop(Instant::now());
        check_count("reqrep", lats.len() as u64, n, bad)?;
        Ok(Outcome::new(n, secs, cpu).with_latencies(lats))
    }

    fn publish(t: &Transport, flow: &Flow, stats: &SubStats, n: u64) -> Result<Clock, String> {
        let warm = Bytes::from_static(WARM_MSG);
        let data = Bytes::from_static(DATA_MSG);
        let end = Bytes::from_static(END_MSG);
        let t0 = Instant::now();
        while !stats.all_warm() {
            t.write(one(&warm)).ctx("write")?;
            thread::sleep(Duration::from_millis(1));
            if t0.elapsed() > STALL {
                return Err("subscribers never got the warm-up".into());
            }
        }
        let clock = Clock::start();
        for i in 0..n {
            t.write(one(&data))
                .map_err(|e| format!("write {i} of {n}: {e}"))?;
            if flow.paused() {
                flow.wait_blocking();
            }
        }
        let t0 = Instant::now();
        while !stats.all_ended() {
            t.write(one(&end)).ctx("write")?;
            thread::sleep(Duration::from_millis(1));
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

    fn open_pub(flow: Arc<Flow>) -> Result<(Transport, String), String> {
        let (p, _) = create_zmq_connection(move || Writer(flow), SocketType::Pub)
            .open()
            .ctx("open PUB")?;
        p.setsockopt(SockOpt::SNDHWM, OptValue::Int(0))
            .ctx("SNDHWM")?;
        let ep = p.bind(TCP_ANY).ctx("bind")?;
        Ok((p, ep))
    }

    fn pubsub_proto(n: u64) -> Result<Outcome, String> {
        let flow = Arc::new(Flow::default());
        let (p, ep) = open_pub(flow.clone())?;
        let stats = SubStats::new();
        let mut subs = Vec::new();
        for i in 0..SUBS {
            let st = stats.clone();
            let (s, _) = create_zmq_connection(move || SubCounter(st, i), SocketType::Sub)
                .open()
                .ctx("open SUB")?;
            s.setsockopt(SockOpt::RCVHWM, OptValue::Int(0))
                .ctx("RCVHWM")?;
            s.subscribe(b"").ctx("subscribe")?;
            s.connect(&ep).ctx("connect")?;
            subs.push(s);
        }
        let clock = publish(&p, &flow, &stats, n)?;
        drop(subs);
        stats.outcome("pubsub", &clock, n, false)
    }

    fn pubsub_stream(n: u64) -> Result<Outcome, String> {
        let flow = Arc::new(Flow::default());
        let (p, ep) = open_pub(flow.clone())?;
        let stats = SubStats::new();
        let mut readers = Vec::new();
        for i in 0..SUBS {
            let mut s = create_zmq_stream(SocketType::Sub).open().ctx("open SUB")?;
            s.transport()
                .setsockopt(SockOpt::RCVHWM, OptValue::Int(0))
                .ctx("RCVHWM")?;
            s.transport().subscribe(b"").ctx("subscribe")?;
            s.transport().connect(&ep).ctx("connect")?;
            let st = stats.clone();
            readers.push(thread::spawn(move || loop {
                let m = s.read_timeout(STALL).ctx("read")?;
                if st.0[i].record(m.first().map_or(&[][..], |b| &b[..])) {
                    return Ok(s);
                }
            }));
        }
        let clock = publish(&p, &flow, &stats, n)?;
        for r in readers {
            join(r)?;
        }
        stats.outcome("pubsub", &clock, n, false)
    }

    fn burst_proto(n: u64) -> Result<Outcome, String> {
        let (counter, _warm, mut done) = Counter::new(1024, n);
        let (pull, counter) = create_zmq_connection(move || counter, SocketType::Pull)
            .open()
            .ctx("open PULL")?;
        pull.pause_reading().ctx("pause_reading")?;
        let ep = pull.bind(TCP_ANY).ctx("bind")?;
        let flow = Arc::new(Flow::default());
        let f2 = flow.clone();
        let (push, _) = create_zmq_connection(move || Writer(f2), SocketType::Push)
            .connect(ep)
            .open()
            .ctx("open PUSH")?;
        let written = Arc::new(AtomicU64::new(0));
        let base = rss_mib();
        reset_peak_rss();
        let (p2, f3, w2) = (push.clone(), flow.clone(), written.clone());
        let writer = thread::spawn(move || write_n(&p2, &f3, &payload(1024), n, Some(&w2)));
        let stopped = wait_stopped_blocking(&written, n);
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
        let Some(end) = recv_timeout(&mut done, STALL * 3) else {
            let c = counter.lock().unwrap().count;
            return Err(format!("hang or loss: {c} of {n} received"));
        };
        join(writer)?;
        let c = counter.lock().unwrap();
        check_count("burst", c.count, n, c.bad)?;
        let o = burst_outcome(stopped, &go, end, c.count, n, base, &extra)?;
        if stopped.is_none() {
            return Err(format!("the writer never got pause_writing: {}", o.note));
        }
        Ok(o)
    }

    fn burst_stream(n: u64) -> Result<Outcome, String> {
        let mut pull = create_zmq_stream(SocketType::Pull)
            .open()
            .ctx("open PULL")?;
        let ep = pull.transport().bind(TCP_ANY).ctx("bind")?;
        let push = create_zmq_stream(SocketType::Push)
            .connect(ep)
            .open()
            .ctx("open PUSH")?;
        let written = Arc::new(AtomicU64::new(0));
        let w2 = written.clone();
        let base = rss_mib();
        reset_peak_rss();
        let writer = thread::spawn(move || {
            let data = payload(1024);
            for i in 0..n {
                push.write(one(&data))
                    .map_err(|e| format!("write {i} of {n}: {e}"))?;
                w2.fetch_add(1, Ordering::Release);
                push.drain().ctx("drain")?;
            }
            Ok(push)
        });
        let stopped = wait_stopped_blocking(&written, n);
        let go = Clock::start();
        let mut count = 0u64;
        while count < n {
            let m = pull
                .read_timeout(STALL)
                .map_err(|e| format!("read after {count} of {n}: {e}"))?;
            if m.len() != 1 || m[0].len() != 1024 {
                return Err("malformed message".into());
            }
            count += 1;
        }
        let end = Instant::now();
        join(writer)?;
        let o = burst_outcome(stopped, &go, end, count, n, base, " (drain() waited)")?;
        if stopped.is_none() {
            return Err(format!("the writer never stopped: {}", o.note));
        }
        Ok(o)
    }
}

fn tokio_runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    }
    .expect("tokio runtime")
}

// ---------------------------------------------------------------------------
// Peers: tmq, async_zmq, zeromq (each on the tokio multi-thread runtime)

mod tmq_cases {
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tmq::AsZmqSocket;

    pub async fn run(work: Work, n: u64) -> Result<Outcome, String> {
        match work {
            Work::Push { size, .. } => push(size, n).await,
            Work::ReqRep => reqrep(n).await,
            Work::PubSub => pubsub(n).await,
            Work::Scale => scale(n).await,
            Work::Burst => burst(n).await,
        }
    }

    fn last_endpoint(s: &zmq::Socket) -> Result<String, String> {
        s.get_last_endpoint()
            .ctx("last endpoint")?
            .map_err(|_| "endpoint is not utf-8".to_string())
    }

    async fn push(size: usize, n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let mut pull = tmq::pull(&ctx).bind(TCP_ANY).ctx("bind")?;
        let ep = last_endpoint(pull.get_socket())?;
        let mut push = tmq::push(&ctx).connect(&ep).ctx("connect")?;
        push.send(vec![&b"w"[..]]).await.ctx("send")?;
        pull.next().await.ok_or("end")?.ctx("warm-up")?;
        let reader = tokio_spawn(async move {
            let (mut count, mut bad) = (0u64, 0u64);
            while count < n {
                let m = pull.next().await.ok_or("end")?.ctx("recv")?;
                if m.len() != 1 || m[0].len() != size {
                    bad += 1;
                }
                count += 1;
            }
            Ok::<_, String>((count, bad, Instant::now()))
        });
        let clock = Clock::start();
        let writer = tokio_spawn(async move {
            let data = vec![b'x'; size];
            for _ in 0..n {
                push.send(vec![&data[..]]).await.ctx("send")?;
            }
            Ok::<_, String>(push)
        });
        let (count, bad, end) = tokio::time::timeout(STALL * 3, reader)
            .await
            .map_err(|_| "hang or loss")??;
        let (secs, cpu) = clock.stop(end);
        writer.await?;
        check_count("push", count, n, bad)?;
        Ok(Outcome::new(count, secs, cpu))
    }

    async fn reqrep(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let mut rep = tmq::reply(&ctx).bind(TCP_ANY).ctx("bind")?;
        let ep = last_endpoint(rep.get_socket())?;
        let mut req = tmq::request(&ctx).connect(&ep).ctx("connect")?;
        let _server = tokio_spawn(async move {
            loop {
                let Ok((m, tx)) = rep.recv().await else { break };
                match tx.send(m).await {
                    Ok(rx) => rep = rx,
                    Err(_) => break,
                }
            }
        });
        let client = tokio_spawn(async move {
            let data = [b'x'; 16];
            for _ in 0..WARM_ROUND_TRIPS {
                let rx = req.send(vec![&data[..]].into()).await.ctx("send")?;
                let (_, tx) = rx.recv().await.ctx("recv")?;
                req = tx;
            }
            let mut lats = Vec::with_capacity(n as usize);
            let mut bad = 0;
            let clock = Clock::start();
            for _ in 0..n {
                let t = Instant::now();
                let rx = req.send(vec![&data[..]].into()).await.ctx("send")?;
                let (m, tx) = rx.recv().await.ctx("recv")?;
                req = tx;
                lats.push(t.elapsed().as_secs_f64() * 1e6);
                if m.len() != 1 || m[0].len() != 16 {
                    bad += 1;
                }
            }
            let (secs, cpu) = clock.stop(Instant::now());
            check_count("reqrep", lats.len() as u64, n, bad)?;
            Ok::<_, String>(Outcome::new(n, secs, cpu).with_latencies(lats))
        });
        tokio::time::timeout(STALL * 3, client)
            .await
            .map_err(|_| "hang".to_string())?
    }

    async fn pubsub(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let mut publisher = tmq::publish(&ctx).set_sndhwm(0).bind(TCP_ANY).ctx("bind")?;
        let ep = last_endpoint(publisher.get_socket())?;
        let stats = SubStats::new();
        let mut readers = Vec::new();
        for i in 0..SUBS {
            let mut s = tmq::subscribe(&ctx)
                .set_rcvhwm(0)
                .connect(&ep)
                .ctx("connect")?
                .subscribe(b"")
                .ctx("subscribe")?;
            let st = stats.clone();
            readers.push(tokio_spawn(async move {
                loop {
                    let m = s.next().await.ok_or("end")?.ctx("recv")?;
                    if st.0[i].record(&m[0]) {
                        return Ok::<_, String>(());
                    }
                }
            }));
        }
        let st = stats.clone();
        let publisher = tokio_spawn(async move {
            let t0 = Instant::now();
            while !st.all_warm() {
                publisher.send(vec![&WARM_MSG[..]]).await.ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err("subscribers never got the warm-up".to_string());
                }
            }
            let clock = Clock::start();
            for _ in 0..n {
                publisher.send(vec![&DATA_MSG[..]]).await.ctx("send")?;
            }
            let t0 = Instant::now();
            while !st.all_ended() {
                publisher.send(vec![&END_MSG[..]]).await.ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err(format!(
                        "subscribers never got the end: {} delivered",
                        st.summary().0
                    ));
                }
            }
            Ok(clock)
        });
        let clock = tokio::time::timeout(STALL * 4, publisher)
            .await
            .map_err(|_| "hang")??;
        for r in readers {
            r.await?;
        }
        stats.outcome("pubsub", &clock, n, false)
    }

    async fn scale(m: u64) -> Result<Outcome, String> {
        raise_fd_limit();
        let base = rss_mib();
        let ctxs = scale_contexts();
        let shared = ScaleShared::new();
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let total = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..PAIRS {
            let ctx = &ctxs[i / PAIRS_PER_CONTEXT];
            let mut r = tmq::router(ctx).bind(TCP_ANY).ctx("bind")?;
            let ep = last_endpoint(r.get_socket())?;
            let mut d = tmq::dealer(ctx).connect(&ep).ctx("connect")?;
            tokio::spawn(async move {
                while let Some(Ok(msg)) = r.next().await {
                    if r.send(msg).await.is_err() {
                        break;
                    }
                }
            });
            let (sh, mut go, tot) = (shared.clone(), go_rx.clone(), total.clone());
            tasks.push(tokio_spawn(async move {
                let data = [b'x'; 16];
                d.send(vec![&b"w"[..]]).await.ctx("send")?;
                d.next().await.ok_or("end")?.ctx("recv")?;
                sh.warm.fetch_add(1, Ordering::AcqRel);
                go.wait_for(|g| *g).await.ctx("go")?;
                let mut sent = WINDOW.min(m);
                for _ in 0..sent {
                    d.send(vec![&data[..]]).await.ctx("send")?;
                }
                let mut received = 0;
                while received < m {
                    let msg = d.next().await.ok_or("end")?.ctx("recv")?;
                    if msg.len() != 1 || msg[0].len() != 16 {
                        return Err("malformed echo".to_string());
                    }
                    received += 1;
                    if sent < m {
                        d.send(vec![&data[..]]).await.ctx("send")?;
                        sent += 1;
                    }
                }
                tot.fetch_add(received, Ordering::AcqRel);
                sh.finish_pair();
                Ok::<_, String>(d)
            }));
        }
        wait_pairs(&shared.warm, "warm").await?;
        let clock = Clock::start();
        go_tx.send(true).ctx("go")?;
        wait_pairs(&shared.done, "done").await?;
        for t in tasks {
            t.await?;
        }
        scale_outcome(&clock, &shared, base, total.load(Ordering::Acquire), m)
    }

    async fn burst(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let mut pull = tmq::pull(&ctx).bind(TCP_ANY).ctx("bind")?;
        let ep = last_endpoint(pull.get_socket())?;
        let mut push = tmq::push(&ctx).connect(&ep).ctx("connect")?;
        let written = Arc::new(AtomicU64::new(0));
        let w2 = written.clone();
        let base = rss_mib();
        reset_peak_rss();
        let writer = tokio_spawn(async move {
            let data = vec![b'x'; 1024];
            for _ in 0..n {
                push.send(vec![&data[..]]).await.ctx("send")?;
                w2.fetch_add(1, Ordering::Release);
            }
            Ok::<_, String>(push)
        });
        let stopped = wait_stopped(&written, n, tokio::time::sleep).await;
        let go = Clock::start();
        let reader = tokio_spawn(async move {
            let mut count = 0;
            while count < n {
                pull.next().await.ok_or("end")?.ctx("recv")?;
                count += 1;
            }
            Ok::<_, String>((count, Instant::now()))
        });
        let (count, end) = tokio::time::timeout(STALL * 3, reader)
            .await
            .map_err(|_| "hang or loss")??;
        writer.await?;
        burst_outcome(
            stopped,
            &go,
            end,
            count,
            n,
            base,
            " (send() pends at SNDHWM)",
        )
    }
}

/// Waits (on tokio) until `c` reaches PAIRS.
async fn wait_pairs(c: &AtomicUsize, what: &str) -> Result<(), String> {
    let t0 = Instant::now();
    while c.load(Ordering::Acquire) < PAIRS {
        tokio::time::sleep(Duration::from_millis(1)).await;
        if t0.elapsed() > STALL * 3 {
            return Err(format!(
                "hang: {} of {PAIRS} pairs {what}",
                c.load(Ordering::Acquire)
            ));
        }
    }
    Ok(())
}

mod async_zmq_cases {
    use super::*;
    use async_zmq::{MultipartIter, SinkExt, StreamExt};

    type Iter = std::vec::IntoIter<zmq::Message>;

    pub async fn run(work: Work, n: u64) -> Result<Outcome, String> {
        match work {
            Work::Push { size, .. } => push(size, n).await,
            Work::ReqRep => reqrep(n).await,
            Work::PubSub => pubsub(n).await,
            Work::Scale => scale(n).await,
            Work::Burst => Err("not run".into()),
        }
    }

    fn last_endpoint(s: &zmq::Socket) -> Result<String, String> {
        s.get_last_endpoint()
            .ctx("last endpoint")?
            .map_err(|_| "endpoint is not utf-8".to_string())
    }

    fn msg(b: &[u8]) -> MultipartIter<Iter, zmq::Message> {
        MultipartIter(vec![zmq::Message::from(b)].into_iter())
    }

    async fn push(size: usize, n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let mut pull = async_zmq::pull(TCP_ANY)
            .ctx("pull")?
            .with_context(&ctx)
            .bind()
            .ctx("bind")?;
        let ep = last_endpoint(pull.as_raw_socket())?;
        let mut push = async_zmq::push::<Iter, zmq::Message>(&ep)
            .ctx("push")?
            .with_context(&ctx)
            .connect()
            .ctx("connect")?;
        push.send(msg(b"w")).await.ctx("send")?;
        pull.next().await.ok_or("end")?.ctx("warm-up")?;
        let reader = tokio_spawn(async move {
            let (mut count, mut bad) = (0u64, 0u64);
            while count < n {
                let m = pull.next().await.ok_or("end")?.ctx("recv")?;
                if m.len() != 1 || m[0].len() != size {
                    bad += 1;
                }
                count += 1;
            }
            Ok::<_, String>((count, bad, Instant::now()))
        });
        let clock = Clock::start();
        let writer = tokio_spawn(async move {
            let data = vec![b'x'; size];
            for _ in 0..n {
                push.send(msg(&data)).await.ctx("send")?;
            }
            Ok::<_, String>(push)
        });
        let (count, bad, end) = tokio::time::timeout(STALL * 3, reader)
            .await
            .map_err(|_| "hang or loss")??;
        let (secs, cpu) = clock.stop(end);
        writer.await?;
        check_count("push", count, n, bad)?;
        Ok(Outcome::new(count, secs, cpu))
    }

    async fn reqrep(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let rep = async_zmq::reply::<Iter, zmq::Message>(TCP_ANY)
            .ctx("reply")?
            .with_context(&ctx)
            .bind()
            .ctx("bind")?;
        let ep = last_endpoint(rep.as_raw_socket())?;
        let req = async_zmq::request::<Iter, zmq::Message>(&ep)
            .ctx("request")?
            .with_context(&ctx)
            .connect()
            .ctx("connect")?;
        // async_zmq's sockets are not Sync and its send/recv borrow them, so
        // their futures are not Send: the server runs on a thread of its own
        // (on a current-thread runtime), the client on this one.
        thread::spawn(move || {
            tokio_runtime(false).block_on(async move {
                while let Ok(m) = rep.recv().await {
                    if rep.send(m).await.is_err() {
                        break;
                    }
                }
            })
        });
        let client = async move {
            let data = [b'x'; 16];
            for _ in 0..WARM_ROUND_TRIPS {
                req.send(msg(&data)).await.ctx("send")?;
                req.recv().await.ctx("recv")?;
            }
            let mut lats = Vec::with_capacity(n as usize);
            let mut bad = 0;
            let clock = Clock::start();
            for _ in 0..n {
                let t = Instant::now();
                req.send(msg(&data)).await.ctx("send")?;
                let m = req.recv().await.ctx("recv")?;
                lats.push(t.elapsed().as_secs_f64() * 1e6);
                if m.len() != 1 || m[0].len() != 16 {
                    bad += 1;
                }
            }
            let (secs, cpu) = clock.stop(Instant::now());
            check_count("reqrep", lats.len() as u64, n, bad)?;
            Ok::<_, String>(Outcome::new(n, secs, cpu).with_latencies(lats))
        };
        tokio::time::timeout(STALL * 3, client)
            .await
            .map_err(|_| "hang".to_string())?
    }

    async fn pubsub(n: u64) -> Result<Outcome, String> {
        let ctx = zmq::Context::new();
        let ps = ctx.socket(zmq::PUB).ctx("socket")?;
        ps.set_sndhwm(0).ctx("sndhwm")?;
        ps.bind(TCP_ANY).ctx("bind")?;
        let ep = last_endpoint(&ps)?;
        let mut publisher = async_zmq::Publish::<Iter, zmq::Message>::from(ps);
        let stats = SubStats::new();
        let mut readers = Vec::new();
        for i in 0..SUBS {
            let ss = ctx.socket(zmq::SUB).ctx("socket")?;
            ss.set_rcvhwm(0).ctx("rcvhwm")?;
            ss.set_subscribe(b"").ctx("subscribe")?;
            ss.connect(&ep).ctx("connect")?;
            let mut s = async_zmq::Subscribe::from(ss);
            let st = stats.clone();
            readers.push(tokio_spawn(async move {
                loop {
                    let m = s.next().await.ok_or("end")?.ctx("recv")?;
                    if st.0[i].record(&m[0]) {
                        return Ok::<_, String>(());
                    }
                }
            }));
        }
        let st = stats.clone();
        let publisher = tokio_spawn(async move {
            let t0 = Instant::now();
            while !st.all_warm() {
                publisher.send(msg(WARM_MSG)).await.ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err("subscribers never got the warm-up".to_string());
                }
            }
            let clock = Clock::start();
            for _ in 0..n {
                publisher.send(msg(DATA_MSG)).await.ctx("send")?;
            }
            let t0 = Instant::now();
            while !st.all_ended() {
                publisher.send(msg(END_MSG)).await.ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err(format!(
                        "subscribers never got the end: {} delivered",
                        st.summary().0
                    ));
                }
            }
            Ok(clock)
        });
        let clock = tokio::time::timeout(STALL * 4, publisher)
            .await
            .map_err(|_| "hang")??;
        for r in readers {
            r.await?;
        }
        stats.outcome("pubsub", &clock, n, false)
    }

    async fn scale(m: u64) -> Result<Outcome, String> {
        raise_fd_limit();
        let base = rss_mib();
        let ctxs = scale_contexts();
        let shared = ScaleShared::new();
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let total = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for i in 0..PAIRS {
            let ctx = &ctxs[i / PAIRS_PER_CONTEXT];
            let rs = ctx.socket(zmq::ROUTER).ctx("socket")?;
            rs.bind(TCP_ANY).ctx("bind")?;
            let ep = last_endpoint(&rs)?;
            let ds = ctx.socket(zmq::DEALER).ctx("socket")?;
            ds.connect(&ep).ctx("connect")?;
            let mut r = async_zmq::Router::<Iter, zmq::Message>::from(rs);
            let mut d = async_zmq::Dealer::<Iter, zmq::Message>::from(ds);
            tokio::spawn(async move {
                while let Some(Ok(msg)) = r.next().await {
                    if r.send(MultipartIter(msg.into_iter())).await.is_err() {
                        break;
                    }
                }
            });
            let (sh, mut go, tot) = (shared.clone(), go_rx.clone(), total.clone());
            tasks.push(tokio_spawn(async move {
                let data = [b'x'; 16];
                d.send(msg(b"w")).await.ctx("send")?;
                d.next().await.ok_or("end")?.ctx("recv")?;
                sh.warm.fetch_add(1, Ordering::AcqRel);
                go.wait_for(|g| *g).await.ctx("go")?;
                let mut sent = WINDOW.min(m);
                for _ in 0..sent {
                    d.send(msg(&data)).await.ctx("send")?;
                }
                let mut received = 0;
                while received < m {
                    let reply = d.next().await.ok_or("end")?.ctx("recv")?;
                    if reply.len() != 1 || reply[0].len() != 16 {
                        return Err("malformed echo".to_string());
                    }
                    received += 1;
                    if sent < m {
                        d.send(msg(&data)).await.ctx("send")?;
                        sent += 1;
                    }
                }
                tot.fetch_add(received, Ordering::AcqRel);
                sh.finish_pair();
                Ok::<_, String>(())
            }));
        }
        wait_pairs(&shared.warm, "warm").await?;
        let clock = Clock::start();
        go_tx.send(true).ctx("go")?;
        wait_pairs(&shared.done, "done").await?;
        for t in tasks {
            t.await?;
        }
        scale_outcome(&clock, &shared, base, total.load(Ordering::Acquire), m)
    }
}

mod zeromq_cases {
    use super::*;
    use zeromq::{Socket, SocketRecv, SocketSend, ZmqMessage};

    pub async fn run(work: Work, n: u64) -> Result<Outcome, String> {
        match work {
            Work::Push { size, .. } => push(size, n).await,
            Work::ReqRep => reqrep(n).await,
            Work::PubSub => pubsub(n).await,
            Work::Scale => scale(n).await,
            Work::Burst => burst(n).await,
        }
    }

    const ANY: &str = "tcp://127.0.0.1:0";

    fn first_len(m: &ZmqMessage) -> Option<usize> {
        (m.len() == 1).then(|| m.get(0).map(|b| b.len())).flatten()
    }

    async fn push(size: usize, n: u64) -> Result<Outcome, String> {
        let mut pull = zeromq::PullSocket::new();
        let ep = pull.bind(ANY).await.ctx("bind")?.to_string();
        let mut push = zeromq::PushSocket::new();
        push.connect(&ep).await.ctx("connect")?;
        push.send(ZmqMessage::from(Bytes::from_static(b"w")))
            .await
            .ctx("send")?;
        pull.recv().await.ctx("warm-up")?;
        let reader = tokio_spawn(async move {
            let (mut count, mut bad) = (0u64, 0u64);
            while count < n {
                let m = pull.recv().await.ctx("recv")?;
                if first_len(&m) != Some(size) {
                    bad += 1;
                }
                count += 1;
            }
            Ok::<_, String>((count, bad, Instant::now()))
        });
        let clock = Clock::start();
        let writer = tokio_spawn(async move {
            let data = payload(size);
            for _ in 0..n {
                push.send(ZmqMessage::from(data.clone()))
                    .await
                    .ctx("send")?;
            }
            Ok::<_, String>(push)
        });
        let (count, bad, end) = tokio::time::timeout(STALL * 3, reader)
            .await
            .map_err(|_| "hang or loss")??;
        let (secs, cpu) = clock.stop(end);
        writer.await?;
        check_count("push", count, n, bad)?;
        Ok(Outcome::new(count, secs, cpu))
    }

    async fn reqrep(n: u64) -> Result<Outcome, String> {
        let mut rep = zeromq::RepSocket::new();
        let ep = rep.bind(ANY).await.ctx("bind")?.to_string();
        let mut req = zeromq::ReqSocket::new();
        req.connect(&ep).await.ctx("connect")?;
        let _server = tokio_spawn(async move {
            while let Ok(m) = rep.recv().await {
                if rep.send(m).await.is_err() {
                    break;
                }
            }
        });
        let client = tokio_spawn(async move {
            let data = payload(16);
            for _ in 0..WARM_ROUND_TRIPS {
                req.send(ZmqMessage::from(data.clone())).await.ctx("send")?;
                req.recv().await.ctx("recv")?;
            }
            let mut lats = Vec::with_capacity(n as usize);
            let mut bad = 0;
            let clock = Clock::start();
            for _ in 0..n {
                let t = Instant::now();
                req.send(ZmqMessage::from(data.clone())).await.ctx("send")?;
                let m = req.recv().await.ctx("recv")?;
                lats.push(t.elapsed().as_secs_f64() * 1e6);
                if first_len(&m) != Some(16) {
                    bad += 1;
                }
            }
            let (secs, cpu) = clock.stop(Instant::now());
            check_count("reqrep", lats.len() as u64, n, bad)?;
            Ok::<_, String>(Outcome::new(n, secs, cpu).with_latencies(lats))
        });
        tokio::time::timeout(STALL * 3, client)
            .await
            .map_err(|_| "hang".to_string())?
    }

    async fn pubsub(n: u64) -> Result<Outcome, String> {
        let mut publisher = zeromq::PubSocket::new();
        let ep = publisher.bind(ANY).await.ctx("bind")?.to_string();
        let stats = SubStats::new();
        let mut readers = Vec::new();
        for i in 0..SUBS {
            let mut s = zeromq::SubSocket::new();
            s.connect(&ep).await.ctx("connect")?;
            s.subscribe("").await.ctx("subscribe")?;
            let st = stats.clone();
            readers.push(tokio_spawn(async move {
                loop {
                    let m = s.recv().await.ctx("recv")?;
                    if st.0[i].record(m.get(0).map_or(&[][..], |b| &b[..])) {
                        return Ok::<_, String>(());
                    }
                }
            }));
        }
        let st = stats.clone();
        let publisher = tokio_spawn(async move {
            let t0 = Instant::now();
            while !st.all_warm() {
                publisher
                    .send(ZmqMessage::from(Bytes::from_static(WARM_MSG)))
                    .await
                    .ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err("subscribers never got the warm-up".to_string());
                }
            }
            let clock = Clock::start();
            let data = Bytes::from_static(DATA_MSG);
            for _ in 0..n {
                publisher
                    .send(ZmqMessage::from(data.clone()))
                    .await
                    .ctx("send")?;
            }
            let t0 = Instant::now();
            while !st.all_ended() {
                publisher
                    .send(ZmqMessage::from(Bytes::from_static(END_MSG)))
                    .await
                    .ctx("send")?;
                tokio::time::sleep(Duration::from_millis(1)).await;
                if t0.elapsed() > STALL {
                    return Err(format!(
                        "subscribers never got the end: {} delivered",
                        st.summary().0
                    ));
                }
            }
            Ok(clock)
        });
        let clock = tokio::time::timeout(STALL * 4, publisher)
            .await
            .map_err(|_| "hang")??;
        for r in readers {
            r.await?;
        }
        // zeromq has no high-water-mark option: its PUB drops what a slow
        // subscriber cannot take, so a loss is reported, not a failure.
        stats.outcome("pubsub", &clock, n, true)
    }

    async fn scale(m: u64) -> Result<Outcome, String> {
        raise_fd_limit();
        let base = rss_mib();
        let shared = ScaleShared::new();
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let total = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for _ in 0..PAIRS {
            let mut r = zeromq::RouterSocket::new();
            let ep = r.bind(ANY).await.ctx("bind")?.to_string();
            let mut d = zeromq::DealerSocket::new();
            d.connect(&ep).await.ctx("connect")?;
            tokio::spawn(async move {
                while let Ok(msg) = r.recv().await {
                    if r.send(msg).await.is_err() {
                        break;
                    }
                }
            });
            let (sh, mut go, tot) = (shared.clone(), go_rx.clone(), total.clone());
            tasks.push(tokio_spawn(async move {
                let data = payload(16);
                d.send(ZmqMessage::from(Bytes::from_static(b"w")))
                    .await
                    .ctx("send")?;
                d.recv().await.ctx("recv")?;
                sh.warm.fetch_add(1, Ordering::AcqRel);
                go.wait_for(|g| *g).await.ctx("go")?;
                let mut sent = WINDOW.min(m);
                for _ in 0..sent {
                    d.send(ZmqMessage::from(data.clone())).await.ctx("send")?;
                }
                let mut received = 0;
                while received < m {
                    let reply = d.recv().await.ctx("recv")?;
                    if first_len(&reply) != Some(16) {
                        return Err("malformed echo".to_string());
                    }
                    received += 1;
                    if sent < m {
                        d.send(ZmqMessage::from(data.clone())).await.ctx("send")?;
                        sent += 1;
                    }
                }
                tot.fetch_add(received, Ordering::AcqRel);
                sh.finish_pair();
                Ok::<_, String>(())
            }));
        }
        wait_pairs(&shared.warm, "warm").await?;
        let clock = Clock::start();
        go_tx.send(true).ctx("go")?;
        wait_pairs(&shared.done, "done").await?;
        for t in tasks {
            t.await?;
        }
        scale_outcome(&clock, &shared, base, total.load(Ordering::Acquire), m)
    }

    async fn burst(n: u64) -> Result<Outcome, String> {
        let mut pull = zeromq::PullSocket::new();
        let ep = pull.bind(ANY).await.ctx("bind")?.to_string();
        let mut push = zeromq::PushSocket::new();
        push.connect(&ep).await.ctx("connect")?;
        let written = Arc::new(AtomicU64::new(0));
        let w2 = written.clone();
        let base = rss_mib();
        reset_peak_rss();
        let writer = tokio_spawn(async move {
            let data = payload(1024);
            for _ in 0..n {
                push.send(ZmqMessage::from(data.clone()))
                    .await
                    .ctx("send")?;
                w2.fetch_add(1, Ordering::Release);
            }
            Ok::<_, String>(push)
        });
        let stopped = wait_stopped(&written, n, tokio::time::sleep).await;
        let go = Clock::start();
        let reader = tokio_spawn(async move {
            let mut count = 0;
            while count < n {
                pull.recv().await.ctx("recv")?;
                count += 1;
            }
            Ok::<_, String>((count, Instant::now()))
        });
        let (count, end) = tokio::time::timeout(STALL * 3, reader)
            .await
            .map_err(|_| "hang or loss")??;
        writer.await?;
        burst_outcome(stopped, &go, end, count, n, base, "")
    }
}

// ---------------------------------------------------------------------------
// The child: runs one case and prints one RESULT line

fn run_case(work: Work, lib: Lib, n: u64) -> Result<Outcome, String> {
    match lib {
        Lib::Raw => raw::run(work, n),
        Lib::TokioMt(api) => tokio_runtime(true).block_on(tokio_cases::run(work, api, n)),
        Lib::TokioCt(api) => tokio_runtime(false).block_on(tokio_cases::run(work, api, n)),
        Lib::Smol(api) => smol::block_on(smol_cases::run(work, api, n)),
        Lib::Blocking(api) => blocking_cases::run(work, api, n),
        Lib::Tmq => tokio_runtime(true).block_on(tmq_cases::run(work, n)),
        Lib::AsyncZmq => tokio_runtime(true).block_on(async_zmq_cases::run(work, n)),
        Lib::Zeromq => tokio_runtime(true).block_on(zeromq_cases::run(work, n)),
    }
}

fn child(args: &[String]) -> ! {
    let (Some(work), Some(lib), Some(n)) = (
        args.first().and_then(|s| Work::parse(s)),
        args.get(1).and_then(|s| Lib::parse(s)),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: bench --child WORKLOAD LIBRARY N");
        std::process::exit(2);
    };
    match run_case(work, lib, n) {
        Ok(mut o) => {
            if ECHO_ERRORS.load(Ordering::Relaxed) != 0 {
                eprintln!("FAIL: echo writes failed");
                std::process::exit(1);
            }
            o.rss = peak_rss_mib();
            println!("RESULT {}", o.encode());
            let _ = std::io::stdout().flush();
            // Skip the teardown (context termination, runtime shutdown): it is
            // not measured, and the process ends here.
            std::process::exit(0)
        }
        Err(e) => {
            eprintln!("FAIL: {e}");
            std::process::exit(1)
        }
    }
}

// ---------------------------------------------------------------------------
// The parent: runs every case in a child, prints the table, draws the plot

struct Opts {
    quick: bool,
    plot: bool,
    reps: usize,
    only: Vec<String>,
}

fn parse_opts(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        plot: false,
        reps: 3,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--plot" => o.plot = true,
            "--reps" => {
                o.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r >= 1)
                    .ok_or("--reps needs a number ≥ 1")?
            }
            "--only" => o
                .only
                .push(it.next().ok_or("--only needs a value")?.clone()),
            "-h" | "--help" => {
                return Err(
                    "usage: bench [--quick] [--plot] [--reps N] [--only TEXT]...".to_string(),
                )
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// Runs one case in a child process, bounded by `limit`.
fn run_child(work: Work, lib: Lib, n: u64, limit: Duration) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--child", &work.id(), &lib.id(), &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let t0 = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if t0.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("wait: {e}")),
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let last_err = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    let Some(status) = status else {
        return Err(format!(
            "HANG: no result within {} s {last_err}",
            limit.as_secs()
        ));
    };
    if !status.success() {
        if !stderr.is_empty() {
            eprint!("{stderr}");
        }
        return Err(format!("FAILED ({status}): {last_err}"));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(Outcome::decode)
        .ok_or_else(|| format!("no result line: {last_err}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// The medians of one library in one workload.
#[derive(Clone)]
struct Row {
    work: Work,
    lib: Lib,
    ok: usize,
    failures: Vec<String>,
    rate: f64,
    cpu_per_m: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    rss: f64,
    growth: f64,
    /// (max − min) / median of the headline metric over the repetitions.
    spread: f64,
    notes: Vec<String>,
}

impl Row {
    fn new(work: Work, lib: Lib, results: &[Result<Outcome, String>]) -> Row {
        let ok: Vec<&Outcome> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let med = |f: &dyn Fn(&Outcome) -> f64| median(ok.iter().map(|o| f(o)).collect());
        // The headline metric: p50 for workload B, msgs/s for the others.
        let key = |o: &Outcome| {
            if work == Work::ReqRep {
                o.p50
            } else {
                o.rate()
            }
        };
        let mid = med(&key);
        let keys: Vec<f64> = ok
            .iter()
            .map(|o| key(o))
            .filter(|k| k.is_finite())
            .collect();
        let spread = if keys.len() > 1 {
            let max = keys.iter().cloned().fold(f64::MIN, f64::max);
            let min = keys.iter().cloned().fold(f64::MAX, f64::min);
            (max - min) / mid
        } else {
            f64::NAN
        };
        // The note of the repetition nearest the median.
        let notes = ok
            .iter()
            .min_by(|a, b| (key(a) - mid).abs().total_cmp(&(key(b) - mid).abs()))
            .filter(|o| !o.note.is_empty())
            .map(|o| vec![o.note.clone()])
            .unwrap_or_default();
        Row {
            work,
            lib,
            ok: ok.len(),
            failures: results.iter().filter_map(|r| r.clone().err()).collect(),
            rate: med(&|o| o.rate()),
            cpu_per_m: med(&|o| o.cpu / (o.count as f64 / 1e6)),
            p50: med(&|o| o.p50),
            p99: med(&|o| o.p99),
            p999: med(&|o| o.p999),
            rss: med(&|o| o.rss),
            growth: med(&|o| o.growth),
            spread,
            notes,
        }
    }

    fn mb_per_s(&self) -> f64 {
        self.rate * self.work.size() as f64 / 1e6
    }
}

fn fmt_num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "—".into()
    }
}

fn fmt_rate(v: f64) -> String {
    if !v.is_finite() {
        "—".into()
    } else if v >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else {
        format!("{v:.0}")
    }
}

/// The ratio column: throughput ratio, or p50 ratio for workload B.
fn ratio(row: &Row, raw: Option<&Row>) -> (f64, String) {
    let Some(raw) = raw else {
        return (f64::NAN, "—".into());
    };
    if row.work == Work::ReqRep {
        let r = row.p50 / raw.p50;
        (r, format!("p50 {}×", fmt_num(r, 2)))
    } else {
        let r = row.rate / raw.rate;
        (r, format!("{}×", fmt_num(r, 2)))
    }
}

fn print_table(rows: &[Row]) {
    let header = [
        "workload",
        "library",
        "msgs/s",
        "MB/s",
        "p50 µs",
        "p99 µs",
        "p99.9 µs",
        "CPU s/M msgs",
        "RSS MiB",
        "× raw",
        "spread",
        "notes",
    ];
    let mut lines: Vec<Vec<String>> = Vec::new();
    for row in rows {
        let raw = rows
            .iter()
            .find(|r| r.work == row.work && r.lib == Lib::Raw && r.ok > 0);
        let lat = row.work == Work::ReqRep;
        let mb = matches!(row.work, Work::Push { .. } | Work::Burst | Work::PubSub);
        let rss = match row.work {
            Work::Burst if row.growth.is_finite() => {
                format!("+{} (growth)", fmt_num(row.growth, 1))
            }
            Work::Scale if row.rss.is_finite() => {
                format!("{} (+{})", fmt_num(row.rss, 0), fmt_num(row.growth, 0))
            }
            _ => fmt_num(row.rss, 0),
        };
        let mut notes = row.notes.clone();
        if !row.failures.is_empty() {
            notes.insert(
                0,
                format!(
                    "{} of {} reps FAILED: {}",
                    row.failures.len(),
                    row.failures.len() + row.ok,
                    row.failures[0]
                ),
            );
        }
        let (_, ratio_s) = if row.ok > 0 {
            ratio(row, raw)
        } else {
            (f64::NAN, "—".into())
        };
        lines.push(vec![
            row.work.label(),
            row.lib.label(),
            fmt_rate(row.rate),
            if mb {
                fmt_num(row.mb_per_s(), 1)
            } else {
                "—".into()
            },
            if lat {
                fmt_num(row.p50, 1)
            } else {
                "—".into()
            },
            if lat {
                fmt_num(row.p99, 1)
            } else {
                "—".into()
            },
            if lat {
                fmt_num(row.p999, 1)
            } else {
                "—".into()
            },
            fmt_num(row.cpu_per_m, 3),
            rss,
            ratio_s,
            if row.spread.is_finite() {
                format!("{:.0}%", row.spread * 100.0)
            } else {
                "—".into()
            },
            notes.join("; "),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .chain([header[i].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let fmt_line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = widths[i].saturating_sub(c.chars().count());
                if (2..=10).contains(&i) {
                    format!("{}{c}", " ".repeat(pad))
                } else {
                    format!("{c}{}", " ".repeat(pad))
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    println!(
        "{}",
        fmt_line(header.iter().map(|s| s.to_string()).collect())
    );
    println!(
        "|{}|",
        widths
            .iter()
            .enumerate()
            .map(|(i, w)| if (2..=10).contains(&i) {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            })
            .collect::<Vec<_>>()
            .join("|")
    );
    for l in lines {
        println!("{}", fmt_line(l));
    }
}

/// Issue 6's targets, checked against this run.
fn print_targets(rows: &[Row]) {
    let get = |w: Work, l: Lib| rows.iter().find(|r| r.work == w && r.lib == l && r.ok > 0);
    let rate_ratio =
        |w: Work, l: Lib| -> Option<f64> { Some(get(w, l)?.rate / get(w, Lib::Raw)?.rate) };
    let tcp = |size| Work::Push {
        inproc: false,
        size,
    };
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    let ours: Vec<Lib> = Lib::all().into_iter().filter(|l| l.ours()).collect();
    println!("\nTargets of issue 6 (ratios to raw in this run, medians):");
    let show = |name: &str, lib: Lib, w: Work, min: f64| {
        if let Some(r) = rate_ratio(w, lib) {
            println!(
                "  {name}: {} {}: {:.2}× (target ≥ {min:.2}×) {}",
                lib.label(),
                w.label(),
                r,
                verdict(r >= min)
            );
        }
    };
    for &l in &ours {
        if let Lib::TokioMt(Api::Proto) | Lib::Smol(Api::Proto) | Lib::Blocking(Api::Proto) = l {
            show("1", l, tcp(16), 0.90);
            show("1", l, tcp(1024), 0.95);
            show("1", l, tcp(65536), 0.95);
        }
    }
    for &l in &ours {
        if let Lib::TokioMt(Api::Stream) | Lib::Smol(Api::Stream) | Lib::Blocking(Api::Stream) = l {
            show("2", l, tcp(16), 0.80);
            show("2", l, tcp(1024), 0.95);
            show("2", l, tcp(65536), 0.95);
        }
    }
    show("2", Lib::TokioCt(Api::Proto), tcp(16), 0.80);
    show("2", Lib::TokioCt(Api::Stream), tcp(16), 0.80);
    if let (Some(ours), Some(raw)) = (
        get(Work::ReqRep, Lib::TokioMt(Api::Proto)),
        get(Work::ReqRep, Lib::Raw),
    ) {
        let tmq = get(Work::ReqRep, Lib::Tmq).map_or(f64::NAN, |r| r.p50);
        println!(
            "  3: tokio-mt protocol p50 {:.1} µs = {:.2}× raw (≤ 1.05×: {}), tmq p50 {:.1} µs (≤ tmq: {}); p99 {:.1} µs = {:.2}× raw (≤ 1.2×: {})",
            ours.p50,
            ours.p50 / raw.p50,
            verdict(ours.p50 <= 1.05 * raw.p50),
            tmq,
            verdict(ours.p50 <= tmq),
            ours.p99,
            ours.p99 / raw.p99,
            verdict(ours.p99 <= 1.2 * raw.p99)
        );
    }
    for &l in &ours {
        show("4", l, Work::PubSub, 0.90);
    }
    if let Some(raw) = get(tcp(16), Lib::Raw) {
        for &l in &ours {
            if let Some(r) = get(tcp(16), l) {
                let x = r.cpu_per_m / raw.cpu_per_m;
                println!(
                    "  5: {} CPU {:.3} s/M vs raw {:.3} s/M = {:.2}× (target ≤ 1.10×) {}",
                    l.label(),
                    r.cpu_per_m,
                    raw.cpu_per_m,
                    x,
                    verdict(x <= 1.10)
                );
            }
        }
    }
    for &l in &ours {
        if let Some(r) = rows.iter().find(|r| r.work == Work::Scale && r.lib == l) {
            println!(
                "  6: {} {} of {} reps completed with every message counted, {} msgs/s, peak RSS {} MiB {}",
                l.label(),
                r.ok,
                r.ok + r.failures.len(),
                fmt_rate(r.rate),
                fmt_num(r.rss, 0),
                verdict(r.failures.is_empty() && r.ok > 0)
            );
        }
    }
    for &l in &ours {
        if let Some(r) = rows.iter().find(|r| r.work == Work::Burst && r.lib == l) {
            println!(
                "  7: {} peak RSS growth {} MiB (target < 64 MiB, writer paused) {}",
                l.label(),
                fmt_num(r.growth, 1),
                verdict(r.failures.is_empty() && r.ok > 0 && r.growth < 64.0)
            );
        }
    }
    if let (Some(z), Some(raw)) = (get(tcp(1024), Lib::Zeromq), get(tcp(1024), Lib::Raw)) {
        println!(
            "  8: zeromq at 1 KiB: {:.2}× raw; tokio-mt protocol: {}",
            z.rate / raw.rate,
            rate_ratio(tcp(1024), Lib::TokioMt(Api::Proto))
                .map_or("—".into(), |r| format!("{r:.2}× raw"))
        );
    }
    if let (Some(z), Some(raw)) = (get(Work::ReqRep, Lib::Zeromq), get(Work::ReqRep, Lib::Raw)) {
        println!(
            "  8: zeromq REQ/REP p50 {:.1} µs vs raw {:.1} µs ({:.2}×)",
            z.p50,
            raw.p50,
            z.p50 / raw.p50
        );
    }
}

/// A library's (size, msgs/s, MB/s) points.
type Series = (String, Vec<(f64, f64, f64)>);

/// Throughput by message size per library (tcp), as SVG.
fn plot(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut series: Vec<Series> = Vec::new();
    for lib in Lib::all() {
        let pts: Vec<(f64, f64, f64)> = SIZES
            .iter()
            .filter_map(|&size| {
                let w = Work::Push {
                    inproc: false,
                    size,
                };
                rows.iter()
                    .find(|r| r.work == w && r.lib == lib && r.ok > 0)
                    .map(|r| (size as f64, r.rate, r.mb_per_s()))
            })
            .collect();
        if !pts.is_empty() {
            series.push((lib.label(), pts));
        }
    }
    if series.is_empty() {
        return Ok(());
    }
    let root = SVGBackend::new(path, (1400, 650)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(700);
    for (area, mb) in [(left, false), (right, true)] {
        let vals: Vec<f64> = series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|p| if mb { p.2 } else { p.1 }))
            .collect();
        let lo = vals.iter().cloned().fold(f64::INFINITY, f64::min) / 2.0;
        let hi = vals.iter().cloned().fold(0.0, f64::max) * 2.0;
        let mut chart = ChartBuilder::on(&area)
            .caption(
                if mb {
                    "PUSH→PULL tcp: MB/s by message size"
                } else {
                    "PUSH→PULL tcp: messages/s by message size"
                },
                ("sans-serif", 20),
            )
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d((10f64..100_000f64).log_scale(), (lo..hi).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("message size (bytes)")
            .y_desc(if mb { "MB/s" } else { "messages/s" })
            .x_label_formatter(&|v| {
                if *v >= 1000.0 {
                    format!("{:.0} kB", v / 1000.0)
                } else {
                    format!("{v:.0} B")
                }
            })
            .y_label_formatter(&|v| fmt_rate(*v))
            .draw()?;
        for (i, (name, pts)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let xy: Vec<(f64, f64)> = pts
                .iter()
                .map(|p| (p.0, if mb { p.2 } else { p.1 }))
                .collect();
            chart
                .draw_series(LineSeries::new(xy.clone(), color.stroke_width(2)))?
                .label(name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart.draw_series(xy.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            // Rates fall and MB/s rise with the size: keep the legend
            // where the lines are not.
            .position(if mb {
                SeriesLabelPosition::UpperLeft
            } else {
                SeriesLabelPosition::UpperRight
            })
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches(|c: char| c == ':' || c.is_whitespace()))
        .unwrap_or("unknown")
        .to_string();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("?".into(), |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let (a, b, c) = zmq::version();
    format!("{cpus} CPUs ({model}), {mem} memory, libzmq {a}.{b}.{c}")
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
    }
    let opts = match parse_opts(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let selected = |w: Work, l: Lib| {
        opts.only.is_empty()
            || opts
                .only
                .iter()
                .any(|o| w.id().contains(o.as_str()) || l.id().contains(o.as_str()))
    };
    println!(
        "aiozmq-rs benchmark{}: {}; {} repetitions, medians",
        if opts.quick { " (--quick)" } else { "" },
        machine(),
        opts.reps
    );
    let load = || {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    println!("load average at start: {}", load());
    let mut results: BTreeMap<(Work, Lib), Vec<Result<Outcome, String>>> = BTreeMap::new();
    for work in Work::all() {
        let libs: Vec<Lib> = work
            .libs()
            .into_iter()
            .filter(|&l| selected(work, l))
            .collect();
        if libs.is_empty() {
            continue;
        }
        let n = work.n(opts.quick);
        for rep in 0..opts.reps {
            for &lib in &libs {
                let r = run_child(work, lib, n, work.timeout(opts.quick));
                match &r {
                    Ok(o) => eprintln!(
                        "[{} | {} | rep {}] {} msgs/s{}{}",
                        work.label(),
                        lib.label(),
                        rep + 1,
                        fmt_rate(o.rate()),
                        if o.p50.is_finite() {
                            format!(", p50 {:.1} µs", o.p50)
                        } else {
                            String::new()
                        },
                        if o.note.is_empty() {
                            String::new()
                        } else {
                            format!(", {}", o.note)
                        }
                    ),
                    Err(e) => {
                        eprintln!("[{} | {} | rep {}] {e}", work.label(), lib.label(), rep + 1)
                    }
                }
                results.entry((work, lib)).or_default().push(r);
            }
        }
    }
    let rows: Vec<Row> = results
        .iter()
        .map(|(&(w, l), r)| Row::new(w, l, r))
        .collect();
    println!("load average at end: {}\n", load());
    print_table(&rows);
    println!(
        "\nmsgs/s: messages counted by the receiving side(s) per second from the go signal \
         (B: round trips; C: deliveries to all {SUBS} subscribers; D: echoes received by the \
         dealers; burst: from the reader's release). CPU s/M msgs: user+system CPU of the \
         case's whole process per million of those messages (getrusage). RSS: peak resident \
         set of the case's process (D: +growth over the process before its sockets; burst: \
         growth from just before the burst). × raw: msgs/s ÷ the raw row of the same workload \
         (B: p50 ÷ raw p50, lower is better). spread: (max − min) ÷ median of msgs/s (B: of \
         p50) over the repetitions."
    );
    print_targets(&rows);
    if !opts.quick || opts.plot {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(|p| p.join("BENCHMARKS-throughput.svg"))
            .unwrap_or_else(|| PathBuf::from("BENCHMARKS-throughput.svg"));
        match plot(&rows, &path) {
            Ok(()) => println!("\nplot: {}", path.display()),
            Err(e) => eprintln!("plot failed: {e}"),
        }
    }
    let failed: Vec<&Row> = rows
        .iter()
        .filter(|r| !r.failures.is_empty() && !r.lib.peer())
        .collect();
    let peer_failed = rows
        .iter()
        .filter(|r| !r.failures.is_empty() && r.lib.peer())
        .count();
    if peer_failed > 0 {
        println!("\n{peer_failed} peer row(s) had failures (see notes); they do not fail the run");
    }
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("\nFAILED: {} row(s) of raw libzmq or aiozmq:", failed.len());
        for r in failed {
            println!(
                "  {} / {}: {}",
                r.work.label(),
                r.lib.label(),
                r.failures[0]
            );
        }
        ExitCode::FAILURE
    }
}

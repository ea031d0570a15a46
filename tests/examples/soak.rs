//! The soak: mixed traffic (PUSH/PULL, DEALER/ROUTER, PUB/SUB, REQ/REP) on
//! every driver at once (tokio multi-thread and current-thread, smol,
//! blocking), each path through a fault proxy that gets a fault every
//! half second or so (latency and jitter, a bandwidth cap, a stall, a
//! reset, a drop at a random byte, a half-close). Every second it prints
//! the process's file descriptors, resident memory and threads, and the
//! messages sent and received per driver.
//!
//! ```sh
//! cargo run --release -p aiozmq-tests --example soak -- --minutes 30
//! cargo run -p aiozmq-tests --example soak -- --seconds 60      # CI
//! ```
//!
//! Options: `--seconds N` / `--minutes N` (default 60 s), `--fault-every-ms
//! N` (default 500), `--seed N` (default 1; also `AIOZMQ_SEED`).
//!
//! It exits non-zero on a lost message (a gap no disruption explains), a
//! message twice, torn, or out of order (but for a late one: see
//! `aiozmq_tests::soak::tracker`), a path with no progress for 20 s
//! (a hang), a transport lost or a write refused, a message not accounted
//! for at the end, or a leak trend (descriptors, threads or memory growing
//! from the first window after warm-up to the last). The last
//! [`CALM`] of the run has no faults, so everything sent settles.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use aiozmq_tests::blocking_driver::Blocking;
use aiozmq_tests::fault_proxy::{Dir, Faults};
use aiozmq_tests::leaks::Rng;
use aiozmq_tests::process::{mib, Sample};
use aiozmq_tests::smol_driver::Smol;
use aiozmq_tests::soak::trend::{growth, windows, Slack};
use aiozmq_tests::soak::{Path, Pattern, SoakDriver};
use aiozmq_tests::tokio_driver::Tokio;

/// The end of the run without faults, so what was sent settles.
const CALM: Duration = Duration::from_secs(5);
/// A path with no message received for this long is hung.
const HANG: Duration = Duration::from_secs(20);
/// How long the end waits for every message to be accounted for.
const SETTLE: Duration = Duration::from_secs(30);
/// Growth allowed from the first window after warm-up to the last. Faults
/// leave connections being remade at any sampled moment: each is two
/// descriptors and four threads in its proxy, and some in libzmq, so the
/// medians move by a few; a leak of one per fault (two a second) passes
/// these within seconds. The heap in use (measured: 10 MiB, moving by
/// about 1 MiB with what the proxies and queues hold at the moment) is the
/// exact measure of a leak. Resident memory also holds what glibc keeps
/// after frees in its per-thread arenas (measured: it rises by some MiB
/// over the first minutes with the heap flat), so it gets more room.
const SLACK: Slack = Slack {
    fds: 12,
    threads: 16,
    rss_bytes: 8 * 1024 * 1024,
    rss_fraction: 0.10,
    heap_bytes: 4 * 1024 * 1024,
    heap_fraction: 0.10,
};

#[derive(Debug)]
struct Args {
    duration: Duration,
    fault_every: Duration,
    seed: u64,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        duration: Duration::from_secs(60),
        fault_every: Duration::from_millis(500),
        seed: std::env::var("AIOZMQ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match flag.as_str() {
            "--seconds" => args.duration = Duration::from_secs(value("--seconds")?),
            "--minutes" => args.duration = Duration::from_secs(60 * value("--minutes")?),
            "--fault-every-ms" => {
                args.fault_every = Duration::from_millis(value("--fault-every-ms")?.max(1))
            }
            "--seed" => args.seed = value("--seed")?,
            "-h" | "--help" => {
                return Err(
                    "usage: soak [--seconds N | --minutes N] [--fault-every-ms N] [--seed N]"
                        .into(),
                )
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.duration < CALM + Duration::from_secs(5) {
        return Err(format!(
            "the run must last at least {:?}",
            CALM + Duration::from_secs(5)
        ));
    }
    Ok(args)
}

/// The kinds of fault, in the order they are reported.
const KINDS: [&str; 6] = [
    "latency",
    "bandwidth",
    "stall",
    "reset",
    "drop",
    "half-close",
];

/// Injects faults into the paths' proxies, and lifts the timed ones.
struct Injector {
    rng: Rng,
    faults: Vec<Faults>,
    /// Per proxy: when its latency and bandwidth faults end.
    lift_latency: Vec<Option<Instant>>,
    lift_bandwidth: Vec<Option<Instant>>,
    counts: BTreeMap<&'static str, u64>,
}

impl Injector {
    fn new(seed: u64, faults: Vec<Faults>) -> Injector {
        let n = faults.len();
        Injector {
            rng: Rng::from_env(seed),
            faults,
            lift_latency: vec![None; n],
            lift_bandwidth: vec![None; n],
            counts: KINDS.iter().map(|k| (*k, 0)).collect(),
        }
    }

    fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.rng.below(hi - lo + 1))
    }

    /// One random fault on one random proxy.
    fn inject(&mut self) {
        let i = self.rng.below(self.faults.len() as u64) as usize;
        let kind = KINDS[self.rng.below(KINDS.len() as u64) as usize];
        let dir = if self.rng.below(2) == 0 {
            Dir::Up
        } else {
            Dir::Down
        };
        let now = Instant::now();
        match kind {
            "latency" => {
                let (lat, jit, dur) = (self.ms(1, 20), self.ms(0, 10), self.ms(1000, 4000));
                self.faults[i].set_latency(lat, jit);
                self.lift_latency[i] = Some(now + dur);
            }
            "bandwidth" => {
                let bw = 100_000 + self.rng.below(900_000);
                let dur = self.ms(1000, 4000);
                self.faults[i].set_bandwidth(Some(bw));
                self.lift_bandwidth[i] = Some(now + dur);
            }
            "stall" => {
                let d = self.ms(50, 500);
                self.faults[i].stall_for(d);
            }
            "reset" => {
                self.faults[i].reset_all();
            }
            "drop" => {
                let at = 1 + self.rng.below(100_000);
                self.faults[i].drop_after(dir, at);
            }
            _ => {
                self.faults[i].half_close(dir);
            }
        }
        *self.counts.entry(kind).or_default() += 1;
    }

    /// Lifts the latency and bandwidth faults whose time is up.
    fn lift(&mut self, now: Instant) {
        for i in 0..self.faults.len() {
            if self.lift_latency[i].is_some_and(|t| t <= now) {
                self.faults[i].set_latency(Duration::ZERO, Duration::ZERO);
                self.lift_latency[i] = None;
            }
            if self.lift_bandwidth[i].is_some_and(|t| t <= now) {
                self.faults[i].set_bandwidth(None);
                self.lift_bandwidth[i] = None;
            }
        }
    }

    /// Every fault off (an armed drop too).
    fn clear_all(&mut self) {
        for f in &self.faults {
            f.clear();
        }
        self.lift_latency.iter_mut().for_each(|t| *t = None);
        self.lift_bandwidth.iter_mut().for_each(|t| *t = None);
    }

    fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

fn start_paths<D: SoakDriver>(d: &D, paths: &mut Vec<Path>) -> Result<(), String> {
    for p in Pattern::ALL {
        paths.push(Path::start(d, p).map_err(|e| format!("{} {p}: {e}", d.name()))?);
    }
    Ok(())
}

/// `12345` as `12.3k`, for the per-second line.
fn short(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=9_999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn driver_of(path: &Path) -> &str {
    path.state.name.split(' ').next().unwrap_or("?")
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let tokio_mt = Tokio::multi_thread();
    let tokio_ct = Tokio::current_thread();
    let mut paths = Vec::new();
    let started = start_paths(&tokio_mt, &mut paths)
        .and_then(|()| start_paths(&tokio_ct, &mut paths))
        .and_then(|()| start_paths(&Smol, &mut paths))
        .and_then(|()| start_paths(&Blocking, &mut paths));
    if let Err(e) = started {
        eprintln!("soak: could not start: {e}");
        return ExitCode::FAILURE;
    }
    let drivers: Vec<String> = {
        let mut v: Vec<String> = paths.iter().map(|p| driver_of(p).to_string()).collect();
        v.dedup();
        v
    };
    println!(
        "soak: {} paths ({} drivers × {} patterns), {:?}, a fault every {:?}, the last {:?} calm",
        paths.len(),
        drivers.len(),
        Pattern::ALL.len(),
        args.duration,
        args.fault_every,
        CALM
    );
    let mut injector = Injector::new(
        args.seed,
        paths.iter().map(|p| p.proxy.faults().clone()).collect(),
    );
    let t0 = Instant::now();
    let calm_at = t0 + args.duration - CALM;
    let end_at = t0 + args.duration;
    let mut samples: Vec<Sample> = Vec::new();
    let mut next_fault = t0 + args.fault_every;
    let mut next_sample = t0 + Duration::from_secs(1);
    let mut calm = false;
    let mut failures: Vec<String> = Vec::new();
    while Instant::now() < end_at && failures.is_empty() {
        let now = Instant::now();
        if !calm && now >= calm_at {
            injector.clear_all();
            calm = true;
        }
        if !calm {
            while next_fault <= now {
                injector.inject();
                next_fault += args.fault_every;
            }
            injector.lift(now);
        }
        if now >= next_sample {
            next_sample += Duration::from_secs(1);
            let s = Sample::now();
            samples.push(s);
            let mut line = format!(
                "[{:>5}s] fds {:>4} rss {:>6.1} MiB heap {:>5.1} MiB threads {:>4} |",
                t0.elapsed().as_secs(),
                s.fds,
                mib(s.rss),
                mib(s.heap),
                s.threads
            );
            for d in &drivers {
                let (sent, received) =
                    paths
                        .iter()
                        .filter(|p| driver_of(p) == d)
                        .fold((0, 0), |(a, b), p| {
                            (
                                a + p.state.sent.load(Ordering::Acquire),
                                b + p.state.received.load(Ordering::Acquire),
                            )
                        });
                line += &format!(" {d} {}/{}", short(sent), short(received));
            }
            let disruptions: u64 = paths.iter().map(|p| p.proxy.faults().disruptions()).sum();
            line += &format!(
                " | faults {} (disruptions {disruptions}){}",
                injector.total(),
                if calm { " calm" } else { "" }
            );
            println!("{line}");
            for p in &paths {
                let t = p.state.tracker();
                if !t.clean() || !t.problems.is_empty() {
                    failures.push(format!("{}: {:?}", p.state.name, t.problems));
                }
                drop(t);
                if p.state.idle() > HANG {
                    failures.push(format!(
                        "{}: nothing received for {:?} (hung): sent {}, {:?}",
                        p.state.name,
                        p.state.idle(),
                        p.state.sent.load(Ordering::Acquire),
                        p.state.tracker()
                    ));
                }
            }
        }
        let wake = next_sample.min(if calm { end_at } else { next_fault });
        std::thread::sleep(
            wake.saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50)),
        );
    }
    injector.clear_all();

    // Stop the senders, then wait for every message sent to be accounted for.
    for p in &mut paths {
        p.stop_sending();
    }
    let mut totals = (0u64, 0u64, 0u64, 0u64);
    println!(
        "\n{:<24} {:>9} {:>9} {:>6} {:>5} {:>6} {:>7} {:>8}",
        "path", "sent", "received", "lost*", "late", "conns", "disrupt", "disconn"
    );
    for p in &paths {
        let settled = p.wait_settled(SETTLE);
        let sent = p.state.sent.load(Ordering::Acquire);
        let t = p.state.tracker().clone();
        let stats = p.proxy.faults().stats();
        println!(
            "{:<24} {:>9} {:>9} {:>6} {:>5} {:>6} {:>7} {:>8}",
            p.state.name,
            sent,
            t.received,
            t.lost_explained,
            t.late,
            stats.accepted,
            stats.disruptions,
            p.state.disconnects()
        );
        totals.0 += sent;
        totals.1 += t.received;
        totals.2 += t.lost_explained;
        totals.3 += t.late;
        if !settled {
            failures.push(format!(
                "{}: not accounted for after {SETTLE:?}: sent {sent}, {t:?}",
                p.state.name
            ));
        } else if !t.clean() || !t.problems.is_empty() {
            failures.push(format!("{}: {:?}", p.state.name, t.problems));
        }
        if p.pattern == Pattern::PubSub && p.state.subscriptions() == 0 {
            failures.push(format!(
                "{}: the XPUB never saw a subscription",
                p.state.name
            ));
        }
    }
    println!(
        "* lost: in flight when the proxy reset, dropped or half-closed the connection \
         (libzmq's rules); every other message arrived once, whole, and in order \
         but for the late: written on a connection the writer had already seen \
         die, they came after some written on the next one (libzmq orders per \
         connection)."
    );
    println!(
        "totals: sent {} received {} lost in flight {} (late {}); faults {} ({})",
        totals.0,
        totals.1,
        totals.2,
        totals.3,
        injector.total(),
        injector
            .counts
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        println!(
            "process: start fds {} threads {} rss {:.1} MiB heap {:.1} MiB; \
             end fds {} threads {} rss {:.1} MiB heap {:.1} MiB",
            first.fds,
            first.threads,
            mib(first.rss),
            mib(first.heap),
            last.fds,
            last.threads,
            mib(last.rss),
            mib(last.heap)
        );
    }
    match windows(&samples) {
        Some(w) => {
            println!(
                "trend (medians of {} s windows): fds {} -> {}, threads {} -> {}, \
                 rss {:.1} -> {:.1} MiB, heap {:.1} -> {:.1} MiB",
                w.len,
                w.first.fds,
                w.last.fds,
                w.first.threads,
                w.last.threads,
                mib(w.first.rss),
                mib(w.last.rss),
                mib(w.first.heap),
                mib(w.last.heap)
            );
            failures.extend(growth(&w, &SLACK));
        }
        None => println!("trend: the run is too short to judge"),
    }
    for p in &paths {
        p.close();
    }
    if failures.is_empty() {
        println!("soak: PASS");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            println!("FAIL: {f}");
        }
        println!("soak: FAIL");
        // Exit without waiting on what may be stuck.
        std::process::exit(1);
    }
}

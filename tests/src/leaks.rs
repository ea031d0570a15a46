//! Looking for what a dropped runtime may leave behind: file descriptors,
//! listening ports, a hung libzmq I/O thread, a protocol never freed. Every
//! wait is bounded; a hang fails the test instead of stalling it.
//!
//! These look at the whole process (`/proc/self`): a test binary that uses
//! them runs its tests one at a time ([`serial`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use aiozmq_core::{SocketType, ZmqTransport};

use crate::{msg, Driver, Spec, ANY_TCP, TIMEOUT};

/// One test at a time in a binary that counts the process's FDs.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs `f` on its own thread and panics if it has not finished within `d`
/// (the thread is left behind: it is stuck, which is the failure).
pub fn bounded<R: Send + 'static>(
    what: &str,
    d: Duration,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name(format!("bounded: {what}"))
        .spawn(move || {
            let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
        })
        .expect("a thread");
    match rx.recv_timeout(d) {
        Ok(Ok(r)) => r,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what}: still running after {d:?} (hung)"),
    }
}

/// The process's open file descriptors: `/proc/self/fd` → what each is.
pub fn fds() -> Vec<(i32, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Ok(entry) = entry else { continue };
        let Some(fd) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // (The listing's own directory FD is counted too, every time.)
        if let Ok(target) = std::fs::read_link(entry.path()) {
            out.push((fd, target.to_string_lossy().into_owned()));
        }
    }
    out
}

/// How many FDs the process has open.
pub fn fd_count() -> usize {
    fds().len()
}

/// Waits (bounded) until the process has at most `baseline` FDs open:
/// libzmq closes its sockets asynchronously, in its reaper thread.
pub fn wait_fds_at_most(baseline: usize, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = fds();
        if now.len() <= baseline {
            return;
        }
        if Instant::now() >= deadline {
            let mut kinds = std::collections::BTreeMap::<String, usize>::new();
            for (_, target) in &now {
                let kind = target.split(':').next().unwrap_or("?").to_string();
                *kinds.entry(kind).or_default() += 1;
            }
            panic!(
                "{what}: {} FDs open after {TIMEOUT:?}, {baseline} at the start; by kind: {kinds:?}",
                now.len()
            );
        }
        // Polling /proc: there is no event to wait on.
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The TCP ports this process listens on (its sockets in `/proc/net/tcp*`
/// in state LISTEN).
pub fn our_listening_ports() -> BTreeSet<u16> {
    let inodes: BTreeSet<u64> = fds()
        .into_iter()
        .filter_map(|(_, t)| {
            t.strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse().ok())
        })
        .collect();
    let mut ports = BTreeSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 10 || cols[3] != "0A" {
                continue;
            }
            let port = cols[1]
                .rsplit(':')
                .next()
                .and_then(|p| u16::from_str_radix(p, 16).ok());
            let inode = cols[9].parse::<u64>().ok();
            if let (Some(port), Some(inode)) = (port, inode) {
                if inodes.contains(&inode) {
                    ports.insert(port);
                }
            }
        }
    }
    ports
}

/// Waits (bounded) until each port can be bound again by a plain TCP
/// listener. A port another process took meanwhile (the OS hands out
/// ephemeral ports to anyone) does not count: only one this process still
/// listens on does.
pub fn wait_ports_free(ports: &[u16], what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let ours = our_listening_ports();
        let stuck: Vec<u16> = ports
            .iter()
            .copied()
            .filter(|&p| {
                std::net::TcpListener::bind(("127.0.0.1", p)).is_err() && ours.contains(&p)
            })
            .collect();
        if stuck.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: {} of {} ports still listened on after {TIMEOUT:?}: {:?}",
            stuck.len(),
            ports.len(),
            &stuck[..stuck.len().min(20)]
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Waits (bounded) until nothing holds the value behind `weak` any more.
pub fn wait_freed<T: ?Sized>(weak: &Weak<T>, what: &str) {
    let deadline = Instant::now() + TIMEOUT;
    while weak.strong_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "{what}: still held ({} strong references) after {TIMEOUT:?}",
            weak.strong_count()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A fresh PUSH/PULL pair on the default context (blocking driver)
/// exchanges a message, and closes, within 10 s: libzmq's I/O threads are
/// alive. Panics otherwise.
pub fn fresh_pair_works(what: &str) {
    let what = what.to_string();
    let what2 = what.clone();
    bounded(
        &format!("{what}: a fresh transport pair on the default context"),
        Duration::from_secs(10),
        move || {
            let d = crate::blocking_driver::Blocking;
            let (pull, log) = d.open(Spec::new(SocketType::Pull).bind(ANY_TCP)).unwrap();
            let ep = pull.bindings().into_iter().next().unwrap();
            let (push, push_log) = d.open(Spec::new(SocketType::Push).connect(ep)).unwrap();
            push.write(msg(&[b"alive?"])).unwrap();
            let got = log.wait_for(Duration::from_secs(8), |evs| {
                evs.iter()
                    .any(|e| matches!(e, crate::Ev::Msg(_)))
                    .then_some(())
            });
            assert!(
                got.is_some(),
                "{what2}: a fresh transport pair on the default context exchanged nothing \
                 (libzmq's I/O thread is hung?)"
            );
            push.close();
            pull.close();
            push_log.wait_lost();
            log.wait_lost();
        },
    );
}

/// Warms up what lives for the whole process (the default context's I/O
/// and reaper threads, the blocking driver), then gives the FD count to
/// come back to.
pub fn baseline() -> usize {
    fresh_pair_works("warm-up");
    // Let the warm-up's sockets go: the count only falls.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut last = fd_count();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        let now = fd_count();
        if now == last {
            break;
        }
        last = now;
    }
    last
}

/// A small deterministic PRNG (xorshift64*), seeded, for random drop points.
pub struct Rng(u64);

impl Rng {
    /// Seeded from `AIOZMQ_SEED` if set, else `default`; prints the seed.
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("AIOZMQ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("seed {seed} (set AIOZMQ_SEED to replay)");
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}

/// An `Arc` the test keeps only to watch it: dropped, leaving the `Weak`.
pub fn watch<T: ?Sized>(arc: Arc<T>) -> Weak<T> {
    Arc::downgrade(&arc)
}

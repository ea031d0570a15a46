//! EINTR is never returned and never kills a transport.
//!
//! libzmq returns EINTR from bind, connect, getsockopt(ZMQ_EVENTS), send and
//! receive when a signal interrupts the `poll` on its command mailbox (even a
//! zero-timeout one). Here a no-op SIGUSR1 handler is installed without
//! SA_RESTART and every thread of the process is bombarded with SIGUSR1
//! while a transport pair binds, connects, reads and sets options and
//! exchanges messages: no call may return EINTR, and neither transport may
//! be lost. Signals are process-wide, hence this binary of its own; its
//! tests run one at a time. The harness's own waits (condvars, sleeps,
//! tokio and smol parking) retry on EINTR.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use aiozmq_core::{zmq_errno, Bytes, Multipart, OptValue, SockOpt, SocketType, ZmqTransport};
use aiozmq_tests::{leaks, Driver, Ev, Spec, ANY_TCP};

/// How long each driver is bombarded.
const RUN: Duration = Duration::from_secs(3);
/// Messages written at most, over the run.
const MAX_MESSAGES: u64 = 40_000;

extern "C" fn ignore(_signal: libc::c_int) {}

/// A no-op SIGUSR1 handler, without SA_RESTART: interrupted system calls
/// fail with EINTR instead of restarting.
fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a plain sigaction call with a zeroed, then filled, struct;
        // the handler does nothing, so it is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = ignore as extern "C" fn(libc::c_int) as libc::sighandler_t;
            sa.sa_flags = 0;
            libc::sigemptyset(&mut sa.sa_mask);
            assert_eq!(
                libc::sigaction(libc::SIGUSR1, &sa, std::ptr::null_mut()),
                0,
                "sigaction"
            );
        }
    });
}

/// A thread sending SIGUSR1 to every other thread of the process, over and
/// over, until dropped.
struct Bombard {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bombard {
    fn start() -> Bombard {
        install_handler();
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            // SAFETY: getpid and gettid have no preconditions.
            let (pid, me) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as i32) };
            while !stop2.load(Ordering::Relaxed) {
                let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
                    continue;
                };
                for task in tasks.flatten() {
                    let Some(tid) = task
                        .file_name()
                        .to_str()
                        .and_then(|s| s.parse::<i32>().ok())
                    else {
                        continue;
                    };
                    if tid != me {
                        // SAFETY: tgkill with a signal whose handler is a no-op;
                        // a thread that has exited just makes it fail (ESRCH).
                        unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGUSR1) };
                        sent2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        });
        Bombard {
            stop,
            sent,
            thread: Some(thread),
        }
    }
}

impl Drop for Bombard {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One driver's pair of transports under signals, and the checks.
struct Under<'a> {
    name: &'static str,
    push_log: &'a aiozmq_tests::Log,
    pull_log: &'a aiozmq_tests::Log,
}

impl Under<'_> {
    /// Neither transport was lost.
    fn assert_alive(&self) {
        for (who, log) in [("PUSH", self.push_log), ("PULL", self.pull_log)] {
            if log.is_lost() {
                panic!(
                    "{}: the {who} was lost under signals: {:?} ({:?})",
                    self.name,
                    log.wait_lost(),
                    log.lost_text()
                );
            }
        }
    }

    /// The result of one call: EINTR (or any error) fails the test, naming the call.
    fn ok<R>(&self, what: &str, r: io::Result<R>) -> R {
        match r {
            Ok(r) => r,
            Err(e)
                if zmq_errno(&e) == Some(libc::EINTR) || e.kind() == io::ErrorKind::Interrupted =>
            {
                panic!("{}: {what} returned EINTR: {e}", self.name)
            }
            Err(e) => {
                if e.kind() == io::ErrorKind::NotConnected {
                    // Lost: connection_lost says why (bounded wait).
                    for log in [self.push_log, self.pull_log] {
                        log.wait_for(Duration::from_secs(5), |_| log.is_lost().then_some(()));
                    }
                }
                self.assert_alive();
                panic!(
                    "{}: {what} failed: {e} (errno {:?})",
                    self.name,
                    zmq_errno(&e)
                )
            }
        }
    }
}

fn numbered(i: u64) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(&i.to_le_bytes())])
}

fn open_or_fail<D: Driver>(d: &D, what: &str, spec: Spec<D::T>) -> (D::T, Arc<aiozmq_tests::Log>) {
    match d.open(spec) {
        Ok(x) => x,
        Err(e) => panic!(
            "{}: {what} failed: {e} (errno {:?}; EINTR is {})",
            d.name(),
            zmq_errno(&e),
            libc::EINTR
        ),
    }
}

fn under_signals<D: Driver>(d: &D) {
    let _serial = leaks::serial();
    let name = d.name();
    let bombard = Bombard::start();
    let (pull, pull_log) =
        open_or_fail(d, "open (bind)", Spec::new(SocketType::Pull).bind(ANY_TCP));
    let ep = pull.bindings().into_iter().next().unwrap();
    let (push, push_log) = open_or_fail(
        d,
        "open (connect)",
        Spec::new(SocketType::Push).connect(&ep),
    );
    let (spare, _) = open_or_fail(d, "open (spare)", Spec::new(SocketType::Dealer));
    let u = Under {
        name,
        push_log: &push_log,
        pull_log: &pull_log,
    };
    let deadline = Instant::now() + RUN;
    let mut sent = 0u64;
    let mut rounds = 0u64;
    while Instant::now() < deadline {
        rounds += 1;
        let extra = u.ok("bind", pull.bind(ANY_TCP));
        u.ok("unbind", pull.unbind(&extra));
        // Connect and disconnect on a socket that carries no traffic:
        // libzmq disconnects asynchronously, and messages a PUSH hands to a
        // pipe that is going away are dropped by design.
        let other = u.ok("connect", spare.connect(&extra));
        u.ok("disconnect", spare.disconnect(&other));
        u.ok("getsockopt(SNDHWM)", push.getsockopt(SockOpt::SNDHWM));
        // Options that leave the live pipes alone: changing SNDHWM/RCVHWM
        // on connected sockets over and over stalls libzmq 4.3.4's pipe
        // accounting by itself (both ends report no readiness for good),
        // signals or not.
        u.ok(
            "setsockopt(SNDTIMEO)",
            push.setsockopt(SockOpt::SNDTIMEO, OptValue::Int(1000 + (rounds % 7) as i32)),
        );
        u.ok("getsockopt(EVENTS)", pull.getsockopt(SockOpt::EVENTS));
        u.ok(
            "setsockopt(RECONNECT_IVL)",
            pull.setsockopt(SockOpt::RECONNECT_IVL, OptValue::Int(100)),
        );
        // Enough messages to cross every path, not so many that recording
        // them all outlasts the wait below.
        if sent >= MAX_MESSAGES {
            u.assert_alive();
            continue;
        }
        for _ in 0..20 {
            u.ok("write", push.write(numbered(sent)));
            sent += 1;
        }
        u.assert_alive();
    }
    // Everything arrives, in order, with the signals still coming (or the
    // PULL is lost, which fails below).
    let n = sent as usize;
    pull_log.wait(&format!("{name}: {n} messages"), |evs| {
        (evs.iter().filter(|e| matches!(e, Ev::Msg(_))).count() >= n || pull_log.is_lost())
            .then_some(())
    });
    u.assert_alive();
    for (i, m) in pull_log.msgs().iter().enumerate() {
        assert_eq!(m[0][..], (i as u64).to_le_bytes(), "{name}: out of order");
    }
    let signals = bombard.sent.load(Ordering::Relaxed);
    drop(bombard);
    eprintln!("{name}: {rounds} rounds, {sent} messages, {signals} signals sent");
    assert!(
        signals > 1000,
        "{name}: only {signals} signals: proves nothing"
    );
    push.close();
    pull.close();
    assert_eq!(push_log.wait_lost(), None, "{name}");
    assert_eq!(pull_log.wait_lost(), None, "{name}");
}

#[test]
fn no_eintr_tokio_multi_thread() {
    under_signals(&aiozmq_tests::tokio_driver::Tokio::multi_thread());
}

#[test]
fn no_eintr_tokio_current_thread() {
    under_signals(&aiozmq_tests::tokio_driver::Tokio::current_thread());
}

#[test]
fn no_eintr_smol() {
    under_signals(&aiozmq_tests::smol_driver::Smol);
}

#[test]
fn no_eintr_blocking() {
    under_signals(&aiozmq_tests::blocking_driver::Blocking);
}

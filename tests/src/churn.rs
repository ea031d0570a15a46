//! Churn: a thousand connections made and ended, and the process's file
//! descriptors, threads and resident memory back near where they were.
//!
//! Each cycle opens a fresh DEALER connected to an echoing ROUTER, makes a
//! round trip and closes it (waiting for `connection_lost`), then connects
//! a long-lived DEALER to the same ROUTER, makes a round trip and
//! disconnects it. These count the whole process: a binary that runs them
//! runs them one at a time ([`serial`](crate::leaks::serial)).

use std::time::{Duration, Instant};

use aiozmq_core::{Bytes, Multipart, SocketType, ZmqTransport};

use crate::leaks::wait_fds_at_most;
use crate::process::{mib, Sample};
use crate::{Driver, Log, Spec, ANY_TCP, TIMEOUT};

/// Generates the churn test for a driver.
#[macro_export]
macro_rules! churn {
    ($driver:expr) => {
        #[test]
        fn connect_disconnect_1000_cycles() {
            let _serial = $crate::leaks::serial();
            $crate::churn::cycles(&$driver, $crate::churn::cycles_wanted());
        }
    };
}

/// Cycles per driver.
pub const CYCLES: usize = 1000;

/// [`CYCLES`], or `AIOZMQ_CHURN_CYCLES` if set, to look at a trend (with
/// `AIOZMQ_CHURN_TRACE` set, RSS and heap are printed every 10,000 cycles).
pub fn cycles_wanted() -> usize {
    std::env::var("AIOZMQ_CHURN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CYCLES)
}

/// Cycles before the baseline is taken: the first connections allocate
/// what lives on (libzmq's I/O thread tables, the allocator's arenas, the
/// driver's thread pools).
pub const WARM_UP: usize = 100;
/// File descriptors allowed over the baseline once everything closed:
/// none. libzmq closes a socket's descriptors in its reaper thread, a
/// moment after `connection_lost`, so the check waits (bounded) for them.
pub const FD_SLACK: usize = 0;
/// Threads allowed over the baseline: none (the blocking driver's I/O
/// thread ends with its transport; the runtimes' pools are warmed up).
pub const THREAD_SLACK: usize = 0;
/// Heap in use allowed over the baseline (see
/// [`heap_in_use`](crate::process::heap_in_use)): the exact measure of a
/// leak. 256 KiB catches 256 bytes a cycle; measured, 1,000 cycles leave
/// it 10–25 KiB over the baseline, and 60,000 cycles 20–55 KiB (caches
/// that reach their size, no trend).
pub const HEAP_SLACK: u64 = 256 * 1024;
/// Resident memory allowed over the baseline. Measured, 1,000 cycles
/// usually move RSS by under 0.1 MiB, but a step of up to 3.3 MiB shows
/// now and then on the multi-thread runtime (glibc gives a contended
/// thread a new arena) with the heap in use unchanged; 8 MiB still catches
/// a leak of 8 KiB a cycle.
pub const RSS_SLACK: u64 = 8 * 1024 * 1024;

fn numbered(i: usize) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(&(i as u64).to_le_bytes())])
}

/// Runs `n` cycles (after [`WARM_UP`]) and checks the process came back to
/// its baseline: file descriptors and threads exactly (waiting, bounded,
/// for libzmq's reaper), the heap in use within [`HEAP_SLACK`], resident
/// memory within [`RSS_SLACK`].
pub fn cycles<D: Driver>(d: &D, n: usize) {
    let name = d.name();
    // Counting logs: a recording one would keep every message (and grow).
    let server = d
        .open_into(
            Spec::new(SocketType::Router)
                .bind(ANY_TCP)
                .on_msg(|t: &D::T, m| t.write(m.clone()).expect("echo")),
            Log::counting(),
        )
        .unwrap();
    let ep = server.bindings().into_iter().next().expect("a binding");
    let long_log = Log::counting();
    let long = d
        .open_into(Spec::new(SocketType::Dealer), long_log.clone())
        .unwrap();
    let cycle = |i: usize| {
        let (t, log) = d
            .open(Spec::new(SocketType::Dealer).connect(&ep))
            .unwrap_or_else(|e| panic!("{name}: cycle {i}: open: {e}"));
        t.write(numbered(i)).unwrap();
        log.wait_msgs(1);
        t.close();
        assert_eq!(log.wait_lost(), None, "{name}: cycle {i}");
        drop(t);
        long.connect(&ep).unwrap();
        long.write(numbered(i)).unwrap();
        long_log.wait_counted(i + 1);
        long.disconnect(&ep).unwrap();
    };
    for i in 0..WARM_UP {
        cycle(i);
    }
    let base = settled(Sample::now().fds);
    let t0 = Instant::now();
    for i in WARM_UP..WARM_UP + n {
        cycle(i);
        if std::env::var_os("AIOZMQ_CHURN_TRACE").is_some() && (i - WARM_UP).is_multiple_of(10_000)
        {
            let s = Sample::now();
            eprintln!(
                "{name}: {} cycles RSS {:.2} MiB heap {:.1} KiB",
                i - WARM_UP,
                mib(s.rss),
                s.heap as f64 / 1024.0
            );
        }
    }
    let took = t0.elapsed();
    wait_fds_at_most(base.fds + FD_SLACK, &format!("{name}: after {n} cycles"));
    // Threads end, and the runtimes free what the last transports held, a
    // moment after `connection_lost`: poll (bounded) until they are back.
    let deadline = Instant::now() + TIMEOUT;
    while (crate::process::threads() > base.threads + THREAD_SLACK
        || crate::process::heap_in_use() > base.heap + HEAP_SLACK)
        && Instant::now() < deadline
    {
        // Polling /proc and the allocator: no event to wait on.
        std::thread::sleep(Duration::from_millis(5));
    }
    let end = Sample::now();
    eprintln!(
        "{name}: {n} cycles in {took:.2?}; fds {} -> {}, threads {} -> {}, \
         RSS {:.2} -> {:.2} MiB, heap in use {:.1} -> {:.1} KiB",
        base.fds,
        end.fds,
        base.threads,
        end.threads,
        mib(base.rss),
        mib(end.rss),
        base.heap as f64 / 1024.0,
        end.heap as f64 / 1024.0
    );
    assert!(
        end.heap <= base.heap + HEAP_SLACK,
        "{name}: heap in use {:.1} KiB after {n} cycles, {:.1} KiB before",
        end.heap as f64 / 1024.0,
        base.heap as f64 / 1024.0
    );
    assert!(
        end.threads <= base.threads + THREAD_SLACK,
        "{name}: {} threads after {n} cycles, {} before: {:?}",
        end.threads,
        base.threads,
        crate::process::thread_names()
    );
    assert!(
        end.rss <= base.rss + RSS_SLACK,
        "{name}: RSS {:.2} MiB after {n} cycles, {:.2} MiB before",
        mib(end.rss),
        mib(base.rss)
    );
    long.close();
    server.close();
    long_log.wait_lost();
}

/// A sample taken once the process's descriptors stopped falling (libzmq
/// closes the warm-up's sockets in its reaper thread), at most 2 s on.
fn settled(mut fds: usize) -> Sample {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let now = Sample::now();
        if now.fds >= fds || Instant::now() >= deadline {
            return now;
        }
        fds = now.fds;
    }
}

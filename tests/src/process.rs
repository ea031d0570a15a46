//! What the process holds right now, read from `/proc/self`: open file
//! descriptors, resident memory, threads; and from the allocator, the heap
//! in use. For the churn tests and the soak, which watch these come back
//! to (or stay at) a baseline.
//!
//! Resident memory also counts what the allocator keeps after a free, and
//! glibc gives a thread that meets contention an arena of its own (up to
//! eight per core), so RSS can step by some MiB with nothing leaked. The
//! heap in use (`mallinfo2`: bytes allocated and not freed, in every arena)
//! does not move that way: it is the exact measure of a leak.

/// Open file descriptors (the entries of `/proc/self/fd`).
pub fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Resident set size in bytes (`/proc/self/statm`, second field, times the
/// page size).
pub fn rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .unwrap_or(0);
    pages * page_size()
}

fn page_size() -> u64 {
    // SAFETY: sysconf only reads a constant of the system; no memory is
    // shared with the caller.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// Threads of the process (`Threads:` in `/proc/self/status`).
pub fn threads() -> usize {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// The names of the process's threads (`/proc/self/task/*/comm`).
pub fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Bytes the allocator has handed out and not taken back, in every arena
/// (glibc's `mallinfo2`: `uordblks + hblkhd`); 0 where unknown.
pub fn heap_in_use() -> u64 {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallinfo2 takes no argument and returns a plain struct by
        // value; glibc locks each arena while it reads it.
        let info = unsafe { libc::mallinfo2() };
        (info.uordblks + info.hblkhd) as u64
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        0
    }
}

/// One sample of [`fds`], [`rss_bytes`], [`threads`] and [`heap_in_use`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Open file descriptors.
    pub fds: usize,
    /// Resident memory, bytes.
    pub rss: u64,
    /// Threads.
    pub threads: usize,
    /// Heap in use, bytes.
    pub heap: u64,
}

impl Sample {
    /// Reads the four now.
    pub fn now() -> Sample {
        Sample {
            fds: fds(),
            rss: rss_bytes(),
            threads: threads(),
            heap: heap_in_use(),
        }
    }
}

/// Bytes as MiB, for printing.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

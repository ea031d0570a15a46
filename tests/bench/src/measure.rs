//! What a case measures and how it reports it to the parent: the clock, CPU
//! time, RSS, and the one-line `RESULT` encoding of an [`Outcome`].

use std::fmt::Display;
use std::time::Instant;

use crate::stats::percentile;

/// What one case measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Messages counted by the receiving side(s).
    pub count: u64,
    /// Seconds from the go signal to the last message counted.
    pub secs: f64,
    /// User+system CPU seconds of the whole process over the same span.
    pub cpu: f64,
    /// Round-trip latency percentiles, µs (workload B).
    pub p50: f64,
    /// 99th percentile, µs.
    pub p99: f64,
    /// 99.9th percentile, µs.
    pub p999: f64,
    /// Peak RSS of the case's process, MiB.
    pub rss: f64,
    /// Peak RSS growth over the case's baseline, MiB (workload D).
    pub growth: f64,
    /// Free text for the table.
    pub note: String,
}

impl Outcome {
    /// An outcome with no latencies and no RSS yet.
    pub fn new(count: u64, secs: f64, cpu: f64) -> Outcome {
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

    /// Adds the percentiles of these latencies (µs).
    pub fn with_latencies(mut self, mut lats: Vec<f64>) -> Outcome {
        lats.sort_by(f64::total_cmp);
        self.p50 = percentile(&lats, 0.50);
        self.p99 = percentile(&lats, 0.99);
        self.p999 = percentile(&lats, 0.999);
        self
    }

    /// The `RESULT` line's payload.
    pub fn encode(&self) -> String {
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

    /// Parses [`encode`](Self::encode)'s output.
    pub fn decode(line: &str) -> Option<Outcome> {
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

    /// Messages per second.
    pub fn rate(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

/// User+system CPU seconds of this process, all threads.
pub fn cpu_now() -> f64 {
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

/// Current RSS, MiB.
pub fn rss_mib() -> f64 {
    status_mib("VmRSS")
}

/// Peak RSS, MiB.
pub fn peak_rss_mib() -> f64 {
    status_mib("VmHWM")
}

/// Resets the peak RSS (VmHWM) to the current RSS.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Raises RLIMIT_NOFILE's soft limit to the hard limit (the scale cases open
/// thousands of sockets). Returns the new soft limit.
pub fn raise_fd_limit() -> u64 {
    // SAFETY: plain libc calls on a struct we own.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
            return lim.rlim_cur as u64;
        }
    }
    0
}

/// " (N fds open, limit L)", for the errors of the scale cases.
pub fn fd_usage() -> String {
    // With every fd in use, even the listing cannot be opened.
    let open = std::fs::read_dir("/proc/self/fd")
        .map_or_else(|e| format!("? ({e})"), |d| d.count().to_string());
    // SAFETY: getrlimit only writes the struct it is given.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    format!(" ({open} fds open, limit {})", lim.rlim_cur)
}

/// Wall clock and CPU from the go signal.
pub struct Clock {
    t0: Instant,
    cpu0: f64,
}

impl Clock {
    /// Starts now.
    pub fn start() -> Clock {
        Clock {
            cpu0: cpu_now(),
            t0: Instant::now(),
        }
    }

    /// (seconds until `end`, CPU seconds until now).
    pub fn stop(&self, end: Instant) -> (f64, f64) {
        (
            end.saturating_duration_since(self.t0).as_secs_f64(),
            cpu_now() - self.cpu0,
        )
    }
}

/// Turns any error into the case's error text, with what was being done.
pub trait Ctx<T> {
    /// `what: error`.
    fn ctx(self, what: &str) -> Result<T, String>;
}

impl<T, E: Display> Ctx<T> for Result<T, E> {
    fn ctx(self, what: &str) -> Result<T, String> {
        self.map_err(|e| format!("{what}: {e}"))
    }
}

/// Fails unless exactly `expected` well-formed messages were counted.
pub fn check_count(what: &str, count: u64, expected: u64, bad: u64) -> Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_round_trips_through_its_line() {
        let mut o = Outcome::new(42, 0.5, 0.25).with_latencies(vec![3.0, 1.0, 2.0]);
        o.note = "lost 1% (x of y)".into();
        let d = Outcome::decode(&o.encode()).unwrap();
        assert_eq!(d.count, 42);
        assert_eq!(d.rate(), 84.0);
        assert_eq!((d.p50, d.p99), (2.0, 3.0));
        assert!(d.rss.is_nan());
        assert_eq!(d.note, o.note);
        assert!(Outcome::decode("count=x").is_none());
    }
}

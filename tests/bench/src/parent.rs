//! The parent: runs every case in a child process (this binary with
//! `--child`), repetitions interleaved, and reduces them to rows of medians.

use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::adapters::ipc_dir;
use crate::catalog::{Lib, Work};
use crate::measure::Outcome;
use crate::stats::{median, spread};

/// Runs one case in a child process, killing it after `limit`.
pub fn run_child(work: Work, lib: Lib, n: u64, limit: Duration) -> Result<Outcome, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(["--child", &work.id(), &lib.id(), &n.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn: {e}"))?;
    let pid = child.id();
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
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("wait: {e}"));
            }
        }
    };
    let _ = std::fs::remove_dir_all(ipc_dir(pid));
    // The pipes close when the child (and anything it started) is gone; a
    // grandchild holding them would block these joins, and there is none.
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
            "HANG: killed after {} s without a result {last_err}",
            limit.as_secs()
        ));
    };
    if !status.success() {
        return Err(format!("FAILED ({status}): {last_err}"));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .and_then(Outcome::decode)
        .ok_or_else(|| format!("no result line: {last_err}"))
}

/// The medians of one library in one workload.
#[derive(Clone)]
pub struct Row {
    /// The workload.
    pub work: Work,
    /// The library.
    pub lib: Lib,
    /// Repetitions that succeeded.
    pub ok: usize,
    /// The errors of the others.
    pub failures: Vec<String>,
    /// Messages per second.
    pub rate: f64,
    /// Seconds from go to the last message.
    pub secs: f64,
    /// CPU seconds per million messages.
    pub cpu_per_m: f64,
    /// Round-trip percentiles, µs.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Peak RSS, MiB.
    pub rss: f64,
    /// RSS growth, MiB.
    pub growth: f64,
    /// (max − min) / median of the headline metric over the repetitions.
    pub spread: f64,
    /// The note of the repetition nearest the median.
    pub notes: Vec<String>,
}

impl Row {
    /// Reduces a case's repetitions.
    pub fn new(work: Work, lib: Lib, results: &[Result<Outcome, String>]) -> Row {
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
        let keys: Vec<f64> = ok.iter().map(|o| key(o)).collect();
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
            secs: med(&|o| o.secs),
            cpu_per_m: med(&|o| o.cpu / (o.count as f64 / 1e6)),
            p50: med(&|o| o.p50),
            p99: med(&|o| o.p99),
            p999: med(&|o| o.p999),
            rss: med(&|o| o.rss),
            growth: med(&|o| o.growth),
            spread: spread(&keys),
            notes,
        }
    }

    /// Payload MB/s.
    pub fn mb_per_s(&self) -> f64 {
        self.rate * self.work.size() as f64 / 1e6
    }

    /// Every repetition succeeded.
    pub fn clean(&self) -> bool {
        self.ok > 0 && self.failures.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_take_medians_and_keep_failures() {
        let o = |count: u64, secs: f64| Ok(Outcome::new(count, secs, secs / 2.0));
        let results = vec![
            o(100, 1.0),
            Err("FAILED: boom".to_string()),
            o(100, 0.5),
            o(100, 0.25),
        ];
        let r = Row::new(Work::PubSub, Lib::Raw, &results);
        assert_eq!(r.ok, 3);
        assert_eq!(r.failures, ["FAILED: boom"]);
        assert_eq!(r.rate, 200.0);
        assert_eq!(r.secs, 0.5);
        assert_eq!(r.cpu_per_m, 2500.0);
        assert!((r.spread - 1.5).abs() < 1e-12);
        assert!(!r.clean());
    }
}

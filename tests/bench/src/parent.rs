//! The parent: runs every case in a child process (this binary with
//! `--child`; a two-process case in two), repetitions interleaved, and
//! reduces them to rows of medians.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::adapters::ipc_dir;
use crate::catalog::{Lib, Work};
use crate::measure::Outcome;
use crate::stats::{median, spread};
use crate::workloads::two_proc::{Side, ENDPOINT};

/// Sockets in TIME_WAIT past which a case waits before it starts.
const TIME_WAIT_MAX: usize = 8_000;
/// The longest such wait (the kernel keeps TIME_WAIT for 60 s).
const TIME_WAIT_PATIENCE: Duration = Duration::from_secs(75);

/// Tcp connections in TIME_WAIT on this machine (`/proc/net/tcp{,6}`, state 06).
fn time_wait() -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| {
            t.lines()
                .skip(1)
                .filter(|l| l.split_whitespace().nth(3) == Some("06"))
                .count()
        })
        .sum()
}

/// On a quiet machine the scale rows (thousands of connections a case, each
/// leaving a TIME_WAIT for 60 s) use up the ephemeral ports, and the next
/// case's `bind` to port 0 fails with EADDRINUSE: wait, bounded, until the
/// kernel has freed most of them. Polls `/proc`: there is no event to wait on.
fn wait_for_ports() {
    let t0 = Instant::now();
    let mut told = false;
    while time_wait() > TIME_WAIT_MAX && t0.elapsed() < TIME_WAIT_PATIENCE {
        if !told {
            eprintln!("(waiting for TIME_WAIT sockets to expire: {})", time_wait());
            told = true;
        }
        thread::sleep(Duration::from_millis(500));
    }
}

/// Runs one case in a child process (a two-process case in two, see
/// [`run_pair`]), killing it after `limit`.
pub fn run_child(work: Work, lib: Lib, n: u64, limit: Duration) -> Result<Outcome, String> {
    wait_for_ports();
    if work.two_process() {
        return run_pair(work, lib, n, limit);
    }
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
    let last_err = last_line(&err_t.join().unwrap_or_default());
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

/// The last non-empty line of a child's stderr.
fn last_line(stderr: &str) -> String {
    stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// One side of a two-process case: its stdout arrives line by line, its
/// stderr is collected.
struct Proc {
    what: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    err: Option<thread::JoinHandle<String>>,
    status: Option<ExitStatus>,
}

/// What a wait for a line of a [`Proc`] ended with.
enum Got {
    /// The rest of the first line with the prefix.
    Line(String),
    /// The process closed its stdout (ended) without one: the failure.
    Ended(String),
    /// Nothing yet.
    Timeout,
}

impl Proc {
    fn spawn(what: &'static str, args: &[String], stdin: bool) -> Result<Proc, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let mut child = Command::new(exe)
            .args(args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn the {what}: {e}"))?;
        let out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for l in BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        let err = thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        Ok(Proc {
            what,
            child,
            lines,
            err: Some(err),
            status: None,
        })
    }

    /// Waits up to `d` for a line starting with `prefix` (other lines are
    /// skipped).
    fn line(&mut self, prefix: &str, d: Duration) -> Got {
        let until = Instant::now() + d;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    if let Some(rest) = l.strip_prefix(prefix) {
                        return Got::Line(rest.to_string());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => return Got::Timeout,
                // Its stdout closed: it ended (there are no grandchildren).
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Got::Ended(match self.child.wait() {
                        Ok(s) => {
                            self.status = Some(s);
                            self.failure(s)
                        }
                        Err(e) => {
                            self.kill();
                            format!("{} wait: {e}", self.what)
                        }
                    });
                }
            }
        }
    }

    /// Waits for a line starting with `prefix` until `deadline`.
    fn line_until(&mut self, prefix: &str, deadline: Instant) -> Got {
        self.line(prefix, deadline.saturating_duration_since(Instant::now()))
    }

    /// Whether it has ended (without waiting).
    fn ended(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Kills it if it still runs, and reaps it.
    fn kill(&mut self) {
        if self.ended().is_none() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    /// "the receiver: <its last stderr line>", once it has ended.
    fn last_err(&mut self) -> String {
        let err = self
            .err
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        match last_line(&err) {
            l if l.is_empty() => format!("{}: no error output", self.what),
            l => format!("{}: {l}", self.what),
        }
    }

    /// The failure of a process that ended without its line.
    fn failure(&mut self, status: ExitStatus) -> String {
        if status.success() {
            format!("no result line from the {}", self.last_err())
        } else {
            format!("FAILED ({status}) {}", self.last_err())
        }
    }
}

/// Runs a two-process case: a receiver child (binds, prints its endpoint,
/// counts and times) and a sender child (connects, sends), killing both after
/// `limit`. The result is the receiver's count and span; CPU is both
/// processes' (each over its own span), RSS the larger peak.
pub fn run_pair(work: Work, lib: Lib, n: u64, limit: Duration) -> Result<Outcome, String> {
    let deadline = Instant::now() + limit;
    let args = |side: Side| {
        let mut a = vec!["--child".to_string(), work.id(), lib.id(), n.to_string()];
        a.extend(side.args());
        a
    };
    let hang = |procs: &mut [&mut Proc]| {
        let errs: Vec<String> = procs
            .iter_mut()
            .map(|p| {
                p.kill();
                p.last_err()
            })
            .collect();
        format!(
            "HANG: killed after {} s without a result ({})",
            limit.as_secs(),
            errs.join("; ")
        )
    };
    let mut recv = Proc::spawn("receiver", &args(Side::Recv), false)?;
    let ep = match recv.line_until(ENDPOINT, deadline) {
        Got::Line(ep) => ep,
        Got::Ended(e) => return Err(e),
        Got::Timeout => return Err(hang(&mut [&mut recv])),
    };
    let mut send = match Proc::spawn("sender", &args(Side::Send(ep)), true) {
        Ok(p) => p,
        Err(e) => {
            recv.kill();
            return Err(e);
        }
    };
    // The receiver's result, watching the sender (which ends only on an
    // error before it is told the receiver is done).
    let got = loop {
        match recv.line("RESULT ", Duration::from_millis(20)) {
            Got::Line(l) => break Ok(l),
            Got::Ended(e) => break Err(e),
            Got::Timeout => {}
        }
        if let Some(s) = send.ended() {
            let e = send.failure(s);
            recv.kill();
            return Err(format!("{e} (before the receiver was done)"));
        }
        if Instant::now() > deadline {
            return Err(hang(&mut [&mut recv, &mut send]));
        }
    };
    let got = got.and_then(|l| Outcome::decode(&l).ok_or(format!("receiver: bad result {l:?}")));
    let recv_out = match got {
        Ok(o) => o,
        Err(e) => {
            send.kill();
            recv.kill();
            return Err(e);
        }
    };
    // Tell the sender; its stdin closes with it.
    if let Some(mut stdin) = send.child.stdin.take() {
        let _ = stdin.write_all(b"done\n");
    }
    let send_out = match send.line_until("RESULT ", deadline) {
        Got::Line(l) => Outcome::decode(&l).ok_or(format!("sender: bad result {l:?}")),
        Got::Ended(e) => Err(e),
        Got::Timeout => Err(hang(&mut [&mut send])),
    };
    // The receiver ends right after its result.
    while recv.ended().is_none() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(5));
    }
    send.kill();
    recv.kill();
    let send_out = send_out?;
    if send_out.count != n {
        return Err(format!("sender: sent {} of {n}", send_out.count));
    }
    Ok(combine(recv_out, &send_out))
}

/// A two-process case's outcome: the receiver's count and span, both sides'
/// CPU, the larger peak RSS; the note has each side's share.
pub fn combine(recv: Outcome, send: &Outcome) -> Outcome {
    let per_m = |cpu: f64| cpu / (recv.count as f64 / 1e6);
    let mut o = recv.clone();
    o.cpu = recv.cpu + send.cpu;
    o.rss = recv.rss.max(send.rss);
    o.note = format!(
        "CPU s/M receiver {:.3} + sender {:.3}; RSS MiB receiver {:.0}, sender {:.0}",
        per_m(recv.cpu),
        per_m(send.cpu),
        recv.rss,
        send.rss
    );
    o
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
        assert_eq!(r.cpu_per_m, 2500.0);
        assert!((r.spread - 1.5).abs() < 1e-12);
        assert!(!r.clean());
    }

    #[test]
    fn two_sides_add_up() {
        let mut recv = Outcome::new(2_000_000, 2.0, 1.5);
        recv.rss = 9.0;
        let mut send = Outcome::new(2_000_000, 1.8, 0.5);
        send.rss = 12.0;
        let o = combine(recv, &send);
        assert_eq!((o.count, o.secs, o.cpu, o.rss), (2_000_000, 2.0, 2.0, 12.0));
        assert_eq!(
            o.note,
            "CPU s/M receiver 0.750 + sender 0.250; RSS MiB receiver 9, sender 12"
        );
        let d = Outcome::decode(&o.encode()).unwrap();
        assert_eq!(d.note, o.note);
        let r = Row::new(Work::Push2p { size: 16 }, Lib::Raw, &[Ok(d)]);
        assert_eq!((r.rate, r.cpu_per_m), (1e6, 1.0));
    }

    #[test]
    fn stderr_tail() {
        assert_eq!(last_line("a\nFAIL: x \n\n"), "FAIL: x");
        assert_eq!(last_line(""), "");
    }
}

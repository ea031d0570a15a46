//! The aiozmq-rs benchmark: raw libzmq, our drivers and the Rust ZeroMQ
//! libraries a user would pick instead, side by side in one run (issues 6
//! and 11).
//!
//! ```text
//! cargo run --release --manifest-path tests/bench/Cargo.toml   # full run, writes BENCHMARKS-throughput.svg
//! cargo run --release --manifest-path tests/bench/Cargo.toml -- --quick   # short run, no plot
//!   options: --plot (plot even with --quick), --reps N (default 3),
//!            --only TEXT (only workloads/libraries whose id contains TEXT;
//!                         may be given more than once),
//!            --lib TEXT (of those, only libraries whose id contains TEXT;
//!                        may be given more than once)
//! ```
//!
//! Layout: `catalog` names the libraries and workloads; `adapters` has one
//! small adapter per library (send/receive-style libraries implement
//! `SockLib`, our protocol API `ProtoDriver`); `workloads` has each
//! workload's body once per style (`sock`, `proto`, and raw libzmq's poll loop
//! for thousands of sockets); `rt` puts tokio, smol and plain threads behind
//! one trait. `parent` runs every case in a child process (this binary with
//! `--child`), so its CPU time, RSS and a hang are its own, with repetitions
//! interleaved; `report` prints the medians, the ratios to the raw row of the
//! same run, the check of the targets, and draws the plot.
//!
//! Workload A2 runs each case as two processes (a receiver and a sender,
//! `workloads::two_proc`), which `parent::run_pair` starts and adds up.
//!
//! The exit status is non-zero when a case of raw libzmq or of our drivers
//! failed, lost a message or hung; failures of peers are shown in the table.

mod adapters;
mod catalog;
mod cli;
mod measure;
mod parent;
mod report;
mod rt;
mod stats;
mod workloads;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use catalog::{Lib, Work};
use measure::{peak_rss_mib, Outcome};
use parent::{run_child, Row};
use report::fmt_rate;

/// The child: runs one case (or one side of a two-process case) and prints
/// one `RESULT` line.
fn child(args: &[String]) -> ! {
    let (Some(work), Some(lib), Some(n)) = (
        args.first().and_then(|s| Work::parse(s)),
        args.get(1).and_then(|s| Lib::parse(s)),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("{}", cli::USAGE);
        std::process::exit(2);
    };
    let r = match args.get(3..).filter(|rest| !rest.is_empty()) {
        None => workloads::run_case(work, lib, n),
        Some(rest) => match workloads::two_proc::Side::parse(rest) {
            Some(side) => workloads::two_proc::run_side(work, lib, n, &side),
            None => {
                eprintln!("{}", cli::USAGE);
                std::process::exit(2);
            }
        },
    };
    match r {
        Ok(mut o) => {
            if workloads::ECHO_ERRORS.load(Ordering::Relaxed) != 0 {
                eprintln!("FAIL: echo writes failed");
                std::process::exit(1);
            }
            // A two-process case run from here has its sides' peak already.
            if o.rss.is_nan() {
                o.rss = peak_rss_mib();
            }
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
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let (a, b, c) = zmq::version();
    format!("{cpus} CPUs ({model}), {mem} memory, libzmq {a}.{b}.{c}")
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn progress(work: Work, lib: Lib, rep: usize, r: &Result<Outcome, String>) {
    let head = format!("[{} | {} | rep {}]", work.label(), lib.label(), rep + 1);
    match r {
        Ok(o) => {
            let p50 = if o.p50.is_finite() {
                format!(", p50 {:.1} µs", o.p50)
            } else {
                String::new()
            };
            let note = if o.note.is_empty() {
                String::new()
            } else {
                format!(", {}", o.note)
            };
            eprintln!("{head} {} msgs/s{p50}{note}", fmt_rate(o.rate()));
        }
        Err(e) => eprintln!("{head} {e}"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1..]);
    }
    let opts = match cli::parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "aiozmq-rs benchmark{}: {}; {} repetitions, medians",
        if opts.quick { " (--quick)" } else { "" },
        machine(),
        opts.reps
    );
    println!("load average at start: {}", load());
    let mut results: BTreeMap<(Work, Lib), Vec<Result<Outcome, String>>> = BTreeMap::new();
    for work in Work::all() {
        let libs: Vec<Lib> = work
            .libs()
            .into_iter()
            .filter(|&l| opts.selects(&work.id(), &l.id()))
            .collect();
        if libs.is_empty() {
            continue;
        }
        let n = work.n(opts.quick);
        // Interleaved: repetition 1 of every library, then 2, ...
        for rep in 0..opts.reps {
            for &lib in &libs {
                // A peer that failed is not run again (its failure is in the
                // table; rzmq's scale setup alone takes its whole limit).
                let failed = |r: &Result<Outcome, String>| r.is_err();
                if lib.peer()
                    && results
                        .get(&(work, lib))
                        .is_some_and(|v| v.iter().any(failed))
                {
                    continue;
                }
                let r = run_child(work, lib, n, work.timeout(opts.quick));
                progress(work, lib, rep, &r);
                results.entry((work, lib)).or_default().push(r);
            }
        }
    }
    let rows: Vec<Row> = results
        .iter()
        .map(|(&(w, l), r)| Row::new(w, l, r))
        .collect();
    println!("load average at end: {}\n", load());
    report::print_table(&rows);
    report::print_legend();
    report::print_targets(&rows);
    if !opts.quick || opts.plot {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../BENCHMARKS-throughput.svg")
            .components()
            .collect::<PathBuf>();
        match report::plot(&rows, &path) {
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
        return ExitCode::SUCCESS;
    }
    println!(
        "\nFAILED: {} row(s) of raw libzmq or aiozmq failed, lost messages or hung:",
        failed.len()
    );
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

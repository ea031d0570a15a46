//! What the parent prints: the table, the check of issue 11's targets, and
//! the plot.

use crate::catalog::{fmt_size, Api, Drv, Lib, Scale, Tr, Work, SIZES, SUBS};
use crate::parent::Row;
use crate::stats::ratio;

/// "1.23 M", "456.7 k".
pub fn fmt_rate(v: f64) -> String {
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

fn fmt_num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "—".into()
    }
}

fn raw_of(rows: &[Row], work: Work) -> Option<&Row> {
    rows.iter()
        .find(|r| r.work == work && r.lib == Lib::Raw && r.ok > 0)
}

/// The ratio column: throughput ratio, or p50 ratio for workload B.
fn ratio_cell(row: &Row, raw: Option<&Row>) -> String {
    let Some(raw) = raw.filter(|_| row.ok > 0) else {
        return "—".into();
    };
    if row.work == Work::ReqRep {
        format!("p50 {}×", fmt_num(ratio(row.p50, raw.p50), 2))
    } else {
        format!("{}×", fmt_num(ratio(row.rate, raw.rate), 2))
    }
}

/// The table, in Markdown.
pub fn print_table(rows: &[Row]) {
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
        let lat = row.work == Work::ReqRep;
        let mb = matches!(
            row.work,
            Work::Push { .. } | Work::Push2p { .. } | Work::Burst | Work::PubSub
        );
        let rss = match row.work {
            Work::Burst if row.growth.is_finite() => {
                format!("+{} (growth)", fmt_num(row.growth, 1))
            }
            Work::Scale(_) if row.rss.is_finite() => {
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
        let opt = |on: bool, v: f64, d: usize| {
            if on {
                fmt_num(v, d)
            } else {
                "—".into()
            }
        };
        lines.push(vec![
            row.work.label(),
            row.lib.label(),
            fmt_rate(row.rate),
            opt(mb, row.mb_per_s(), 1),
            opt(lat, row.p50, 1),
            opt(lat, row.p99, 1),
            opt(lat, row.p999, 1),
            fmt_num(row.cpu_per_m, 3),
            rss,
            ratio_cell(row, raw_of(rows, row.work)),
            if row.spread.is_finite() {
                format!("{:.0}%", row.spread * 100.0)
            } else {
                "—".into()
            },
            notes.join("; ").replace('|', "/"),
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
    let numeric = |i: usize| (2..=10).contains(&i);
    let fmt_line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = " ".repeat(widths[i].saturating_sub(c.chars().count()));
                if numeric(i) {
                    format!("{pad}{c}")
                } else {
                    format!("{c}{pad}")
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    println!(
        "{}",
        fmt_line(header.iter().map(|s| s.to_string()).collect())
    );
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if numeric(i) {
                format!("{}:", "-".repeat(w + 1))
            } else {
                "-".repeat(w + 2)
            }
        })
        .collect();
    println!("|{}|", rule.join("|"));
    for l in lines {
        println!("{}", fmt_line(l));
    }
}

/// The legend under the table.
pub fn print_legend() {
    println!(
        "\nmsgs/s: messages counted by the receiving side(s) per second from the go signal \
         (B: round trips; C: deliveries to all {SUBS} subscribers; D: echoes received by the \
         dealers; burst: from the reader's release). CPU s/M msgs: user+system CPU of the \
         case's whole process per million of those messages (getrusage). RSS: peak resident \
         set of the case's process (D: +growth over the process before its sockets; burst: \
         growth from just before the burst). A2 (two processes): msgs/s from the receiver's \
         first data message to its last; CPU of both processes (the receiver's from the \
         warm-up to its last message, the sender's from its first data message until the \
         receiver was done), RSS the larger of the two peaks (each side's in the notes). \
         × raw: msgs/s ÷ the raw row of the same workload in this run (B: p50 ÷ raw p50, \
         lower is better). spread: (max − min) ÷ median of msgs/s (B: of p50) over the \
         repetitions."
    );
}

/// One checked line of a target.
struct Line {
    met: Option<bool>,
    text: String,
}

fn verdict(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "met",
        Some(false) => "NOT met",
        None => "not run",
    }
}

/// Issue 11's targets 1–8, checked against this run; the peers beside us
/// (target 9) for information. Returns whether every target was met.
pub fn print_targets(rows: &[Row]) -> bool {
    let get = |w: Work, l: Lib| rows.iter().find(|r| r.work == w && r.lib == l);
    let tcp = |size| Work::Push { tr: Tr::Tcp, size };
    let drivers = [Drv::TokioMt, Drv::TokioCt, Drv::Smol, Drv::Blocking];
    let ours = |api: Api| drivers.map(|d| Lib::Ours(d, api));
    let all_ours: Vec<Lib> = [ours(Api::Proto), ours(Api::Stream)].concat();
    // A throughput ratio against a minimum.
    let at_least = |w: Work, l: Lib, min: f64| -> Line {
        let (Some(r), Some(raw)) = (get(w, l), get(w, Lib::Raw)) else {
            return Line {
                met: None,
                text: format!("{} {}: not run", l.label(), w.label()),
            };
        };
        if !r.clean() || !raw.clean() {
            let why = r.failures.first().or(raw.failures.first());
            return Line {
                met: Some(false),
                text: format!(
                    "{} {}: failed ({})",
                    l.label(),
                    w.label(),
                    why.map_or("no result", |s| s.as_str())
                ),
            };
        }
        let x = ratio(r.rate, raw.rate);
        Line {
            met: Some(x >= min),
            text: format!(
                "{} {}: {} vs raw {} msgs/s = {:.2}× (≥ {min:.2}×)",
                l.label(),
                w.label(),
                fmt_rate(r.rate),
                fmt_rate(raw.rate),
                x
            ),
        }
    };
    let mut targets: Vec<(String, Vec<Line>)> = Vec::new();

    let t1 = drivers
        .map(|d| {
            let min = if d == Drv::Blocking { 0.90 } else { 0.95 };
            at_least(tcp(16), Lib::Ours(d, Api::Proto), min)
        })
        .into();
    targets.push((
        "protocol API, tcp 16 B: ≥ 0.95× raw (tokio-mt, tokio-ct, smol), ≥ 0.90× (blocking)".into(),
        t1,
    ));
    let t2 = drivers
        .map(|d| {
            let min = if d == Drv::Blocking { 0.80 } else { 0.90 };
            at_least(tcp(16), Lib::Ours(d, Api::Stream), min)
        })
        .into();
    targets.push((
        "stream API, tcp 16 B: ≥ 0.90× raw (tokio, smol), ≥ 0.80× (blocking)".into(),
        t2,
    ));
    let inproc16 = Work::Push {
        tr: Tr::Inproc,
        size: 16,
    };
    targets.push((
        "protocol API, inproc 16 B: ≥ 0.90× raw on every driver".into(),
        ours(Api::Proto).map(|l| at_least(inproc16, l, 0.90)).into(),
    ));
    let mut t4: Vec<Line> = Vec::new();
    for size in [1024, 65536] {
        for &l in &all_ours {
            t4.push(at_least(tcp(size), l, 1.0));
        }
    }
    for &l in &all_ours {
        t4.push(cpu_line(
            get(tcp(65536), l),
            get(tcp(65536), Lib::Raw),
            l,
            1.0,
            true,
        ));
    }
    targets.push((
        "tcp 1 KiB and 64 KiB: ≥ 1.0× raw on every driver and API; 64 KiB CPU per message below raw's".into(),
        t4,
    ));
    targets.push((
        "REQ/REP 16 B: p50 ≤ 1.05× raw, p99 ≤ 1.2× raw on every driver and API".into(),
        all_ours
            .iter()
            .map(|&l| latency_line(get(Work::ReqRep, l), get(Work::ReqRep, Lib::Raw), l))
            .collect(),
    ));
    targets.push((
        "PUB→4 SUB: ≥ 0.95× raw (protocol), ≥ 0.90× (stream), nothing lost".into(),
        all_ours
            .iter()
            .map(|&l| {
                let min = if matches!(l, Lib::Ours(_, Api::Proto)) {
                    0.95
                } else {
                    0.90
                };
                at_least(Work::PubSub, l, min)
            })
            .collect(),
    ));
    let mut t7: Vec<Line> = Vec::new();
    let scale_libs: Vec<Lib> = all_ours
        .iter()
        .copied()
        .filter(|l| !matches!(l, Lib::Ours(Drv::Blocking, _)))
        .collect();
    for &l in &scale_libs {
        t7.push(at_least(Work::Scale(Scale::Tcp1k), l, 0.90));
    }
    for s in [Scale::Inproc10k, Scale::Tcp3k] {
        for &l in &scale_libs {
            t7.push(complete_line(get(Work::Scale(s), l), Work::Scale(s), l));
        }
    }
    targets.push((
        "1,000 pairs ≥ 0.90× raw; 10,000 inproc sockets and 3,000 tcp pairs complete with every message counted, RSS reported".into(),
        t7,
    ));
    targets.push((
        "CPU per 16 B message (tcp) ≤ 1.10× raw for every protocol-API row".into(),
        ours(Api::Proto)
            .map(|l| cpu_line(get(tcp(16), l), get(tcp(16), Lib::Raw), l, 1.10, false))
            .into(),
    ));

    println!("\nTargets of issue 11 (ratios to raw in this run, medians):");
    let mut all_met = true;
    for (i, (name, lines)) in targets.iter().enumerate() {
        let met = if lines.iter().any(|l| l.met.is_none()) {
            None
        } else {
            Some(lines.iter().all(|l| l.met == Some(true)))
        };
        all_met &= met == Some(true);
        println!("{}. {name}: {}", i + 1, verdict(met).to_uppercase());
        for l in lines {
            println!("     {} {}", verdict(l.met), l.text);
        }
    }

    println!("\n9. (information) the peers beside raw and tokio-mt protocol (ratios to raw):");
    let peers = [
        Lib::Ours(Drv::TokioMt, Api::Proto),
        Lib::Zeromq,
        Lib::Omq(crate::catalog::OmqMode::Current),
        Lib::Omq(crate::catalog::OmqMode::IoThread),
        Lib::Rzmq,
    ];
    for l in peers {
        let mut cells = Vec::new();
        for size in SIZES {
            let r = get(tcp(size), l).filter(|r| r.ok > 0);
            let raw = get(tcp(size), Lib::Raw).filter(|r| r.ok > 0);
            let x = match (r, raw) {
                (Some(r), Some(raw)) => format!("{:.2}×", ratio(r.rate, raw.rate)),
                _ => "—".into(),
            };
            cells.push(format!("tcp {} {x}", fmt_size(size)));
        }
        if let (Some(r), Some(raw)) = (
            get(Work::ReqRep, l).filter(|r| r.ok > 0),
            get(Work::ReqRep, Lib::Raw).filter(|r| r.ok > 0),
        ) {
            cells.push(format!(
                "REQ/REP p50 {:.1} µs ({:.2}×)",
                r.p50,
                ratio(r.p50, raw.p50)
            ));
        }
        println!("     {}: {}", l.label(), cells.join(", "));
    }
    all_met
}

fn latency_line(r: Option<&Row>, raw: Option<&Row>, l: Lib) -> Line {
    let (Some(r), Some(raw)) = (r, raw) else {
        return Line {
            met: None,
            text: format!("{}: not run", l.label()),
        };
    };
    if !r.clean() || !raw.clean() {
        return Line {
            met: Some(false),
            text: format!("{}: failed", l.label()),
        };
    }
    let (x50, x99) = (ratio(r.p50, raw.p50), ratio(r.p99, raw.p99));
    Line {
        met: Some(x50 <= 1.05 && x99 <= 1.2),
        text: format!(
            "{}: p50 {:.1} µs = {:.2}× raw {:.1} µs (≤ 1.05×), p99 {:.1} µs = {:.2}× raw {:.1} µs (≤ 1.2×)",
            l.label(),
            r.p50,
            x50,
            raw.p50,
            r.p99,
            x99,
            raw.p99
        ),
    }
}

fn cpu_line(r: Option<&Row>, raw: Option<&Row>, l: Lib, max: f64, strictly_below: bool) -> Line {
    let (Some(r), Some(raw)) = (r, raw) else {
        return Line {
            met: None,
            text: format!("{} CPU: not run", l.label()),
        };
    };
    let x = ratio(r.cpu_per_m, raw.cpu_per_m);
    let met = if strictly_below { x < max } else { x <= max };
    Line {
        met: Some(r.clean() && raw.clean() && met),
        text: format!(
            "{} {} CPU {:.3} s/M vs raw {:.3} s/M = {:.2}× ({} {max:.2}×)",
            l.label(),
            r.work.label(),
            r.cpu_per_m,
            raw.cpu_per_m,
            x,
            if strictly_below { "<" } else { "≤" }
        ),
    }
}

fn complete_line(r: Option<&Row>, w: Work, l: Lib) -> Line {
    let Some(r) = r else {
        return Line {
            met: None,
            text: format!("{} {}: not run", l.label(), w.label()),
        };
    };
    let reps = r.ok + r.failures.len();
    let text = if r.clean() {
        format!(
            "{} {}: {} of {reps} reps completed, every message counted, {:.2} s, peak RSS {} MiB (+{})",
            l.label(),
            w.label(),
            r.ok,
            r.secs,
            fmt_num(r.rss, 0),
            fmt_num(r.growth, 0)
        )
    } else {
        format!(
            "{} {}: {} of {reps} reps failed: {}",
            l.label(),
            w.label(),
            r.failures.len(),
            r.failures.first().map_or("no result", |s| s.as_str())
        )
    };
    Line {
        met: Some(r.clean()),
        text,
    }
}

/// A library's (size, msgs/s, MB/s) points.
type Series = (String, Vec<(f64, f64, f64)>);

/// Throughput by message size per library (tcp), as SVG.
pub fn plot(rows: &[Row], path: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use plotters::prelude::*;
    let mut series: Vec<Series> = Vec::new();
    for lib in Lib::all() {
        let pts: Vec<(f64, f64, f64)> = SIZES
            .iter()
            .filter_map(|&size| {
                let w = Work::Push { tr: Tr::Tcp, size };
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
    let root = SVGBackend::new(path, (1400, 700)).into_drawing_area();
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

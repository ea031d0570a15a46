//! What the parent prints: the table, the check of the targets, and the
//! plot.

use crate::catalog::{fmt_size, Api, Drv, Lib, OmqMode, Tr, Work, SIZES, SIZES_2P, SUBS};
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
#[derive(Debug)]
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

/// A target: its checked lines, and lines shown beside them for
/// information.
#[derive(Debug)]
struct Target {
    name: String,
    lines: Vec<Line>,
    info: Vec<String>,
}

impl Target {
    fn new(name: &str, lines: Vec<Line>) -> Target {
        Target {
            name: name.into(),
            lines,
            info: Vec::new(),
        }
    }

    /// Met when every line is; not run when any line was not run.
    fn met(&self) -> Option<bool> {
        if self.lines.iter().any(|l| l.met.is_none()) {
            None
        } else {
            Some(self.lines.iter().all(|l| l.met == Some(true)))
        }
    }
}

fn get(rows: &[Row], w: Work, l: Lib) -> Option<&Row> {
    rows.iter().find(|r| r.work == w && r.lib == l)
}

/// A throughput ratio against a minimum.
fn at_least(rows: &[Row], w: Work, l: Lib, min: f64) -> Line {
    let (Some(r), Some(raw)) = (get(rows, w, l), get(rows, w, Lib::Raw)) else {
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
}

/// "omq-tokio … A2 …: 1.23 M msgs/s = 0.95× raw", for information.
fn beside(rows: &[Row], w: Work, l: Lib) -> Option<String> {
    let r = get(rows, w, l)?;
    let raw = get(rows, w, Lib::Raw).filter(|r| r.ok > 0);
    let x = raw.map_or("—".into(), |raw| {
        format!("{}×", fmt_num(ratio(r.rate, raw.rate), 2))
    });
    let failed = if r.failures.is_empty() {
        String::new()
    } else {
        format!(
            " ({} of {} reps failed: {})",
            r.failures.len(),
            r.failures.len() + r.ok,
            r.failures[0]
        )
    };
    Some(format!(
        "{} {}: {} msgs/s = {x} raw{failed}",
        l.label(),
        w.label(),
        fmt_rate(r.rate)
    ))
}

/// The targets, checked against this run's rows (ratios to raw in the same
/// run, medians).
fn targets(rows: &[Row]) -> Vec<Target> {
    let tcp = |size| Work::Push { tr: Tr::Tcp, size };
    let drivers = [Drv::TokioMt, Drv::TokioCt, Drv::Smol, Drv::Blocking];
    let ours = |api: Api| drivers.map(|d| Lib::Ours(d, api));
    let all_ours: Vec<Lib> = [ours(Api::Proto), ours(Api::Stream)].concat();
    let mut t: Vec<Target> = Vec::new();

    t.push(Target::new(
        "tcp 16 B, protocol API: ≥ 0.95× raw (tokio-mt, tokio-ct, smol), ≥ 0.90× (blocking)",
        drivers
            .map(|d| {
                let min = if d == Drv::Blocking { 0.90 } else { 0.95 };
                at_least(rows, tcp(16), Lib::Ours(d, Api::Proto), min)
            })
            .into(),
    ));
    t.push(Target::new(
        "tcp 16 B, stream API: ≥ 0.90× raw (tokio-mt, tokio-ct, smol), ≥ 0.80× (blocking)",
        drivers
            .map(|d| {
                let min = if d == Drv::Blocking { 0.80 } else { 0.90 };
                at_least(rows, tcp(16), Lib::Ours(d, Api::Stream), min)
            })
            .into(),
    ));
    let inproc16 = Work::Push {
        tr: Tr::Inproc,
        size: 16,
    };
    t.push(Target::new(
        "inproc 16 B, protocol API: ≥ 0.90× raw on every driver",
        ours(Api::Proto)
            .map(|l| at_least(rows, inproc16, l, 0.90))
            .into(),
    ));
    t.push(Target::new(
        "tcp 1 KiB (and 64 KiB): ≥ 1.0× raw on every driver and API",
        [1024, 65536]
            .iter()
            .flat_map(|&size| all_ours.iter().map(move |&l| (size, l)))
            .map(|(size, l)| at_least(rows, tcp(size), l, 1.0))
            .collect(),
    ));
    t.push(Target::new(
        "REQ/REP 16 B: p50 ≤ 1.05× raw, p99 ≤ 1.2× raw on every driver and API",
        all_ours
            .iter()
            .map(|&l| {
                latency_line(
                    get(rows, Work::ReqRep, l),
                    get(rows, Work::ReqRep, Lib::Raw),
                    l,
                )
            })
            .collect(),
    ));
    t.push(Target::new(
        "CPU per 16 B message (tcp) ≤ 1.10× raw on every protocol-API row",
        ours(Api::Proto)
            .map(|l| cpu_line(get(rows, tcp(16), l), get(rows, tcp(16), Lib::Raw), l, 1.10))
            .into(),
    ));
    let two = SIZES_2P.map(|size| Work::Push2p { size });
    let mut t7 = Target::new(
        "two processes, tcp 16 B and 1 KiB, protocol API: ≥ 0.95× raw on every driver",
        two.iter()
            .flat_map(|&w| ours(Api::Proto).map(|l| at_least(rows, w, l, 0.95)))
            .collect(),
    );
    t7.info = two
        .iter()
        .flat_map(|&w| {
            [Lib::Omq(OmqMode::Current)]
                .into_iter()
                .chain(ours(Api::Stream))
                .filter_map(move |l| beside(rows, w, l))
        })
        .collect();
    t.push(t7);
    t
}

/// The targets, checked against this run; the peers beside us for
/// information. Returns whether every target was met.
pub fn print_targets(rows: &[Row]) -> bool {
    let get = |w: Work, l: Lib| get(rows, w, l);
    let tcp = |size| Work::Push { tr: Tr::Tcp, size };
    let ts = targets(rows);
    println!("\nTargets (ratios to raw in this run, medians):");
    let mut all_met = true;
    for (i, t) in ts.iter().enumerate() {
        let met = t.met();
        all_met &= met == Some(true);
        println!("{}. {}: {}", i + 1, t.name, verdict(met).to_uppercase());
        for l in &t.lines {
            println!("     {} {}", verdict(l.met), l.text);
        }
        for info in &t.info {
            println!("     (information) {info}");
        }
    }
    println!(
        "{}. the cold test time: measured outside the bench (not checked here)",
        ts.len() + 1
    );

    println!("\n(information) the peers beside raw and tokio-mt protocol (ratios to raw):");
    let peers = [
        Lib::Ours(Drv::TokioMt, Api::Proto),
        Lib::Zeromq,
        Lib::Omq(OmqMode::Current),
        Lib::Omq(OmqMode::IoThread),
        Lib::Rzmq,
    ];
    let works: Vec<Work> = SIZES
        .iter()
        .map(|&size| tcp(size))
        .chain(SIZES_2P.iter().map(|&size| Work::Push2p { size }))
        .collect();
    for l in peers {
        let mut cells = Vec::new();
        for &w in &works {
            let r = get(w, l).filter(|r| r.ok > 0);
            let raw = get(w, Lib::Raw).filter(|r| r.ok > 0);
            let x = match (r, raw) {
                (Some(r), Some(raw)) => format!("{:.2}×", ratio(r.rate, raw.rate)),
                // Not run here (omq's own I/O thread in two processes): left out.
                _ if w.two_process() && !w.libs().contains(&l) => continue,
                _ => "—".into(),
            };
            let name = match w {
                Work::Push2p { size } => format!("two processes {}", fmt_size(size)),
                _ => format!("tcp {}", fmt_size(w.size())),
            };
            cells.push(format!("{name} {x}"));
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

fn cpu_line(r: Option<&Row>, raw: Option<&Row>, l: Lib, max: f64) -> Line {
    let (Some(r), Some(raw)) = (r, raw) else {
        return Line {
            met: None,
            text: format!("{} CPU: not run", l.label()),
        };
    };
    let x = ratio(r.cpu_per_m, raw.cpu_per_m);
    Line {
        met: Some(r.clean() && raw.clean() && x <= max),
        text: format!(
            "{} {} CPU {:.3} s/M vs raw {:.3} s/M = {:.2}× (≤ {max:.2}×)",
            l.label(),
            r.work.label(),
            r.cpu_per_m,
            raw.cpu_per_m,
            x
        ),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::Outcome;

    /// A clean row of `count` messages in one second.
    fn row(w: Work, l: Lib, count: u64) -> Row {
        Row::new(w, l, &[Ok(Outcome::new(count, 1.0, 0.5))])
    }

    #[test]
    fn the_two_process_target() {
        let w16 = Work::Push2p { size: 16 };
        let w1k = Work::Push2p { size: 1024 };
        let mut rows = vec![row(w16, Lib::Raw, 1000), row(w1k, Lib::Raw, 1000)];
        for (d, count) in [
            (Drv::TokioMt, 960),
            (Drv::TokioCt, 900),
            (Drv::Smol, 1000),
            (Drv::Blocking, 950),
        ] {
            rows.push(row(w16, Lib::Ours(d, Api::Proto), count));
            rows.push(row(w1k, Lib::Ours(d, Api::Proto), 1100));
        }
        rows.push(row(w16, Lib::Omq(OmqMode::Current), 500));
        rows.push(Row::new(
            w1k,
            Lib::Omq(OmqMode::Current),
            &[Err("HANG: killed".into())],
        ));
        let ts = targets(&rows);
        assert_eq!(ts.len(), 7);
        let t7 = &ts[6];
        assert!(t7.name.starts_with("two processes"));
        let met: Vec<Option<bool>> = t7.lines.iter().map(|l| l.met).collect();
        assert_eq!(met[..4], [Some(true), Some(false), Some(true), Some(true)]);
        assert!(met[4..].iter().all(|&m| m == Some(true)));
        assert_eq!(t7.met(), Some(false));
        assert!(
            t7.lines[1].text.contains("0.90× (≥ 0.95×)"),
            "{:?}",
            t7.lines[1]
        );
        // omq beside us, not checked; the stream rows were not run.
        assert_eq!(t7.info.len(), 2, "{:?}", t7.info);
        assert!(t7.info[0].contains("500 msgs/s = 0.50× raw"));
        assert!(t7.info[1].contains("1 of 1 reps failed: HANG"));
        // The other targets were not run at all.
        assert!(ts[..6].iter().all(|t| t.met().is_none()));
    }

    #[test]
    fn a_failed_raw_row_fails_the_line() {
        let w = Work::Push2p { size: 16 };
        let rows = vec![
            Row::new(w, Lib::Raw, &[Err("FAILED: lost".into())]),
            row(w, Lib::Ours(Drv::Smol, Api::Proto), 1000),
        ];
        let l = at_least(&rows, w, Lib::Ours(Drv::Smol, Api::Proto), 0.95);
        assert_eq!(l.met, Some(false));
        assert!(l.text.contains("failed (FAILED: lost)"));
        let l = at_least(&rows, w, Lib::Ours(Drv::TokioCt, Api::Proto), 0.95);
        assert_eq!(l.met, None);
    }
}

//! Whether a series of samples (one a second) grows: the median of a
//! window near the end against the median of a window after warm-up. A
//! median ignores the moments a fault leaves connections half made; a leak
//! moves it.

use crate::process::Sample;

/// How much growth is allowed between the two windows.
#[derive(Debug, Clone, Copy)]
pub struct Slack {
    /// File descriptors.
    pub fds: usize,
    /// Threads.
    pub threads: usize,
    /// Resident memory: bytes, plus a fraction of the first window's.
    pub rss_bytes: u64,
    /// The fraction (0.10: 10 %).
    pub rss_fraction: f64,
    /// Heap in use: bytes, plus a fraction of the first window's.
    pub heap_bytes: u64,
    /// The fraction.
    pub heap_fraction: f64,
}

/// The two windows' medians.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// After warm-up.
    pub first: Sample,
    /// At the end.
    pub last: Sample,
    /// Samples per window.
    pub len: usize,
}

/// The windows for `samples`: warm-up and window each a tenth of the run,
/// at least 10 samples; `None` if the run is too short for both.
pub fn windows(samples: &[Sample]) -> Option<Windows> {
    let n = samples.len();
    let len = (n / 10).max(10);
    let warm = len;
    if n < warm + 2 * len {
        return None;
    }
    Some(Windows {
        first: median(&samples[warm..warm + len]),
        last: median(&samples[n - len..]),
        len,
    })
}

fn median(s: &[Sample]) -> Sample {
    fn mid<T: Ord + Copy>(mut v: Vec<T>) -> T {
        v.sort_unstable();
        v[v.len() / 2]
    }
    Sample {
        fds: mid(s.iter().map(|x| x.fds).collect()),
        rss: mid(s.iter().map(|x| x.rss).collect()),
        threads: mid(s.iter().map(|x| x.threads).collect()),
        heap: mid(s.iter().map(|x| x.heap).collect()),
    }
}

/// What grew past its slack between the windows, in words (empty: flat).
pub fn growth(w: &Windows, slack: &Slack) -> Vec<String> {
    let mut out = Vec::new();
    if w.last.fds > w.first.fds + slack.fds {
        out.push(format!(
            "file descriptors grew from {} to {} (slack {})",
            w.first.fds, w.last.fds, slack.fds
        ));
    }
    if w.last.threads > w.first.threads + slack.threads {
        out.push(format!(
            "threads grew from {} to {} (slack {})",
            w.first.threads, w.last.threads, slack.threads
        ));
    }
    let rss_limit =
        w.first.rss + slack.rss_bytes + (w.first.rss as f64 * slack.rss_fraction) as u64;
    if w.last.rss > rss_limit {
        out.push(format!(
            "resident memory grew from {:.1} MiB to {:.1} MiB (limit {:.1} MiB)",
            crate::process::mib(w.first.rss),
            crate::process::mib(w.last.rss),
            crate::process::mib(rss_limit)
        ));
    }
    let heap_limit =
        w.first.heap + slack.heap_bytes + (w.first.heap as f64 * slack.heap_fraction) as u64;
    if w.last.heap > heap_limit {
        out.push(format!(
            "heap in use grew from {:.1} MiB to {:.1} MiB (limit {:.1} MiB)",
            crate::process::mib(w.first.heap),
            crate::process::mib(w.last.heap),
            crate::process::mib(heap_limit)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(fds: usize, rss: u64, threads: usize) -> Sample {
        Sample {
            fds,
            rss,
            threads,
            heap: rss / 2,
        }
    }

    const SLACK: Slack = Slack {
        fds: 4,
        threads: 4,
        rss_bytes: 1000,
        rss_fraction: 0.1,
        heap_bytes: 1000,
        heap_fraction: 0.1,
    };

    #[test]
    fn flat_with_spikes_is_flat() {
        let samples: Vec<Sample> = (0..100)
            .map(|i| {
                if i % 7 == 0 {
                    s(90, 50_000, 40)
                } else {
                    s(50, 10_000, 20)
                }
            })
            .collect();
        let w = windows(&samples).unwrap();
        assert_eq!(w.first, s(50, 10_000, 20));
        assert!(growth(&w, &SLACK).is_empty());
    }

    #[test]
    fn a_steady_climb_is_growth() {
        let samples: Vec<Sample> = (0..100)
            .map(|i| s(50 + i, 10_000 + 100 * i as u64, 20))
            .collect();
        let w = windows(&samples).unwrap();
        let g = growth(&w, &SLACK);
        assert_eq!(g.len(), 3, "{g:?}");
    }

    #[test]
    fn too_short_to_judge() {
        assert!(windows(&vec![s(1, 1, 1); 29]).is_none());
        assert!(windows(&vec![s(1, 1, 1); 30]).is_some());
    }
}

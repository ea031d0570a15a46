//! The command line.

/// What the parent run was asked to do.
#[derive(Debug, PartialEq)]
pub struct Opts {
    /// Fewer messages per case.
    pub quick: bool,
    /// Draw the plot even with `--quick`.
    pub plot: bool,
    /// Repetitions of every case.
    pub reps: usize,
    /// Run only the cases whose workload or library id contains one of these.
    pub only: Vec<String>,
    /// Of those, only the libraries whose id contains one of these.
    pub libs: Vec<String>,
}

/// The usage line.
pub const USAGE: &str =
    "usage: bench [--quick] [--plot] [--reps N] [--only TEXT]... [--lib TEXT]...\n       \
     bench --child WORKLOAD LIBRARY N   (one case; used by the parent)\n       \
     bench --child WORKLOAD LIBRARY N (recv | send ENDPOINT)   (one side of a two-process case)";

/// Parses the parent's arguments (without the program name).
pub fn parse(args: &[String]) -> Result<Opts, String> {
    let mut o = Opts {
        quick: false,
        plot: false,
        reps: 3,
        only: Vec::new(),
        libs: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--plot" => o.plot = true,
            "--reps" => {
                o.reps = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&r| r >= 1)
                    .ok_or("--reps needs a number ≥ 1")?
            }
            "--only" => o
                .only
                .push(it.next().ok_or("--only needs a value")?.clone()),
            "--lib" => o.libs.push(it.next().ok_or("--lib needs a value")?.clone()),
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    Ok(o)
}

impl Opts {
    /// Whether a case is selected by `--only`.
    pub fn selects(&self, work_id: &str, lib_id: &str) -> bool {
        let only = self.only.is_empty()
            || self
                .only
                .iter()
                .any(|o| work_id.contains(o.as_str()) || lib_id.contains(o.as_str()));
        let lib = self.libs.is_empty() || self.libs.iter().any(|l| lib_id.contains(l.as_str()));
        only && lib
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_options() {
        let o = parse(&[]).unwrap();
        assert_eq!((o.quick, o.plot, o.reps), (false, false, 3));
        let o = parse(&args("--quick --reps 5 --only tmq --only reqrep --plot")).unwrap();
        assert!(o.quick && o.plot);
        assert_eq!(o.reps, 5);
        assert_eq!(o.only, ["tmq", "reqrep"]);
        assert!(o.selects("reqrep", "raw"));
        assert!(o.selects("push-tcp-16", "tmq"));
        assert!(!o.selects("push-tcp-16", "raw"));
        let o = parse(&args("--only push-tcp-curve --lib raw --lib tokio-mt")).unwrap();
        assert!(o.selects("push-tcp-curve-16", "raw"));
        assert!(o.selects("push-tcp-curve-1024", "tokio-mt-proto"));
        assert!(!o.selects("push-tcp-curve-16", "smol-proto"));
        assert!(!o.selects("push-tcp-16", "raw"));
        // The two-process rows have ids of their own.
        let o = parse(&args("--quick --only push2p")).unwrap();
        assert!(o.selects("push2p-tcp-16", "raw"));
        assert!(o.selects("push2p-tcp-1024", "omq-current"));
        assert!(!o.selects("push-tcp-16", "raw"));
        let o = parse(&args("--only push-tcp")).unwrap();
        assert!(!o.selects("push2p-tcp-16", "raw"));
    }

    #[test]
    fn bad_arguments() {
        assert!(parse(&args("--reps 0")).is_err());
        assert!(parse(&args("--reps")).is_err());
        assert!(parse(&args("--only")).is_err());
        assert!(parse(&args("--lib")).is_err());
        assert!(parse(&args("--fast")).is_err());
    }
}

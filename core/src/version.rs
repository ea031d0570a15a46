//! This library's version, in aiozmq's `version` / `version_info` shape.

/// aiozmq's `version_info` named tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VersionInfo {
    /// Major version.
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Patch version.
    pub micro: u32,
    /// `"alpha"`, `"beta"`, `"candidate"` or `"final"`, as in Python's `sys.version_info`.
    pub releaselevel: &'static str,
    /// Serial of a pre-release, 0 otherwise.
    pub serial: u32,
}

/// This library's version, e.g. `"0.1.0"` (aiozmq's `version`).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

fn parse(part: &str) -> u32 {
    part.parse().unwrap_or(0)
}

/// This library's version as numbers, for comparisons (aiozmq's `version_info`).
pub fn version_info() -> VersionInfo {
    let pre = env!("CARGO_PKG_VERSION_PRE");
    let (releaselevel, serial) = match pre.split_once('.') {
        _ if pre.is_empty() => ("final", 0),
        Some((level, n)) => (level_name(level), parse(n)),
        None => (level_name(pre), 0),
    };
    VersionInfo {
        major: parse(env!("CARGO_PKG_VERSION_MAJOR")),
        minor: parse(env!("CARGO_PKG_VERSION_MINOR")),
        micro: parse(env!("CARGO_PKG_VERSION_PATCH")),
        releaselevel,
        serial,
    }
}

fn level_name(pre: &str) -> &'static str {
    match pre {
        "alpha" => "alpha",
        "beta" => "beta",
        "rc" => "candidate",
        _ => "alpha",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_matches_text() {
        let v = version_info();
        let text = format!("{}.{}.{}", v.major, v.minor, v.micro);
        assert!(version().starts_with(&text), "{} vs {text}", version());
        assert!(["alpha", "beta", "candidate", "final"].contains(&v.releaselevel));
    }
}

// aiozmq-rs: a copy of zmq-sys 0.12.0's build script with one change: libzmq
// is built WITH libsodium, so CURVE works (`zmq::has("curve") == Some(true)`).
// Upstream passes `with_libsodium(None)`, which leaves CURVE out entirely.
// libsodium comes from our `libsodium-sys-stable` dependency, which compiles
// its bundled source and, through its `links = "sodium"` metadata
// (`cargo:include=` / `cargo:lib=`), tells this script where the headers and
// the static library are: DEP_SODIUM_INCLUDE and DEP_SODIUM_LIB.
// Two smaller changes, marked "aiozmq-rs:" below: libzmq's compiler warnings
// are silenced, and Linux builds signal through eventfd.

use std::env;

pub fn configure() {
    println!("cargo:rerun-if-changed=build/main.rs");
    println!("cargo:rerun-if-env-changed=PROFILE");

    // aiozmq-rs: where libsodium-sys-stable put libsodium (see the top).
    let dep = |name: &str| {
        env::var_os(name).unwrap_or_else(|| {
            panic!(
                "{} is not set: libsodium-sys-stable did not report where libsodium is \
                 (it does when it builds libsodium from source or finds it with pkg-config; \
                 SODIUM_LIB_DIR alone gives no include dir)",
                name
            )
        })
    };
    let libsodium = zeromq_src::LibLocation::new(dep("DEP_SODIUM_LIB"), dep("DEP_SODIUM_INCLUDE"));

    // Note that by default `libzmq` builds without `libsodium` by instead
    // relying on `tweetnacl`. However since this `tweetnacl` [has never been
    // audited nor is ready for production](https://github.com/zeromq/libzmq/issues/3006),
    // we link against `libsodium` to enable `ZMQ_CURVE`.
    // aiozmq-rs: libzmq's own compiler warnings are not ours to act on, and
    // cargo shows a path dependency's warnings on every build: silence them.
    // aiozmq-rs: on Linux, a socket's mailbox signals through one eventfd
    // instead of a socketpair (two fds), as libzmq's own CMake build does:
    // zeromq-src defines no ZMQ_HAVE_EVENTFD, which halves the sockets a
    // process can hold before RLIMIT_NOFILE.
    let linux = env::var("CARGO_CFG_TARGET_OS").map_or(false, |os| os == "linux");
    let extra = if linux {
        " -DZMQ_HAVE_EVENTFD=1 -DZMQ_HAVE_EVENTFD_CLOEXEC=1"
    } else {
        ""
    };
    for var in ["CFLAGS", "CXXFLAGS"] {
        let flags = env::var(var).unwrap_or_default();
        env::set_var(var, format!("{} -w{}", flags, extra));
    }

    zeromq_src::Build::new()
        .with_libsodium(Some(libsodium))
        .build();
}

fn main() {
    configure()
}

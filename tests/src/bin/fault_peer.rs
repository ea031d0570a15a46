//! A ZeroMQ peer in a process of its own, for tests that kill it
//! (SIGKILL) or freeze it (SIGSTOP) and start it again.
//!
//! `fault_peer [ENDPOINT]`: a ROUTER bound to ENDPOINT (default
//! `tcp://127.0.0.1:*`) that echoes every message back to its sender. It
//! prints `ENDPOINT <the bound endpoint>` on stdout once it listens, and
//! exits when its stdin closes, so it never outlives the test that runs it.

use std::io::{BufRead, Write};

fn main() {
    let endpoint = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "tcp://127.0.0.1:*".to_string());
    let ctx = zmq::Context::new();
    let router = ctx.socket(zmq::ROUTER).expect("a ROUTER socket");
    router.set_linger(0).expect("linger");
    router.bind(&endpoint).expect("bind");
    let bound = router
        .get_last_endpoint()
        .expect("last endpoint")
        .expect("utf-8 endpoint");
    // The test that started us holds our stdin: when it goes, we go.
    std::thread::spawn(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            if line.is_err() {
                break;
            }
        }
        std::process::exit(0);
    });
    let mut out = std::io::stdout();
    writeln!(out, "ENDPOINT {bound}").expect("stdout");
    out.flush().expect("stdout");
    loop {
        let Ok(msg) = router.recv_multipart(0) else {
            continue;
        };
        let _ = router.send_multipart(msg, 0);
    }
}

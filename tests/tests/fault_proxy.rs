//! The fault proxy itself, on plain TCP (no ZeroMQ): each fault does what
//! it says, and dropping the proxy leaves nothing behind. One test at a
//! time, so timings are not skewed by the others.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use aiozmq_tests::fault_proxy::{Dir, FaultProxy};
use aiozmq_tests::leaks::{our_listening_ports, serial};
use aiozmq_tests::TIMEOUT;

/// A TCP server that echoes every connection on its own thread, until
/// the connection ends. Returns its address.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 65536];
                loop {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => {
                            let _ = s.shutdown(Shutdown::Write);
                            return;
                        }
                        Ok(n) => {
                            if s.write_all(&buf[..n]).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    addr.to_string()
}

fn client(proxy: &FaultProxy) -> TcpStream {
    let c = TcpStream::connect(proxy.addr()).unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

fn round_trip(c: &mut TcpStream, data: &[u8]) {
    c.write_all(data).unwrap();
    let mut back = vec![0u8; data.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .map(|n| n.trim().to_string())
        .collect()
}

#[test]
fn relays_both_ways_and_counts() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"hello through the proxy");
    // Bytes are counted just after they are written.
    let stats = proxy
        .faults()
        .wait_for(TIMEOUT, |s| s.bytes_down == 23)
        .expect("23 bytes down");
    assert_eq!(stats.accepted, 1);
    assert_eq!(stats.active, 1);
    assert_eq!(stats.bytes_up, 23);
    assert_eq!(stats.bytes_down, 23);
}

#[test]
fn latency_delays_each_round_trip() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    proxy
        .faults()
        .set_latency(Duration::from_millis(40), Duration::from_millis(10));
    let t = Instant::now();
    round_trip(&mut c, b"slow");
    // Once up, once down.
    assert!(
        t.elapsed() >= Duration::from_millis(80),
        "{:?}",
        t.elapsed()
    );
    proxy.faults().clear();
    // Order is kept under jitter: many small writes come back in order.
    proxy
        .faults()
        .set_latency(Duration::from_millis(1), Duration::from_millis(5));
    let data: Vec<u8> = (0..2000u32).map(|i| i as u8).collect();
    for chunk in data.chunks(10) {
        c.write_all(chunk).unwrap();
    }
    let mut back = vec![0u8; data.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn bandwidth_cap_paces_bytes() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    proxy.faults().set_bandwidth(Some(200_000));
    let t = Instant::now();
    round_trip(&mut c, &[7u8; 40_000]);
    // 40 kB at 200 kB/s is 0.2 s each way, pipelined: at least ~0.2 s.
    assert!(
        t.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn stall_holds_bytes_until_resumed() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    proxy.faults().stall();
    c.write_all(b"held").unwrap();
    c.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 4];
    let e = c.read(&mut buf).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{e}"
    );
    proxy.faults().resume();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"held");
    // A stall with a duration ends by itself.
    proxy.faults().stall_for(Duration::from_millis(50));
    let t = Instant::now();
    round_trip(&mut c, b"later");
    assert!(
        t.elapsed() >= Duration::from_millis(40),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn reset_sends_rst_to_the_client() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    assert_eq!(proxy.faults().reset_all(), 1);
    let mut buf = [0u8; 4];
    let e = c.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    let stats = proxy
        .faults()
        .wait_for(TIMEOUT, |s| s.active == 0)
        .expect("the connection ends");
    assert_eq!(stats.disruptions, 1);
    assert_eq!(stats.ended, 1);
    // New connections are relayed as before.
    let mut c2 = client(&proxy);
    round_trip(&mut c2, b"again");
}

#[test]
fn half_close_down_sends_fin_to_the_client() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    assert_eq!(proxy.faults().half_close(Dir::Down), 1);
    let mut buf = [0u8; 4];
    assert_eq!(c.read(&mut buf).unwrap(), 0, "a FIN: end of stream");
    // The client closes its side too: the connection ends.
    c.shutdown(Shutdown::Write).unwrap();
    proxy
        .faults()
        .wait_for(TIMEOUT, |s| s.active == 0 && s.ended == 1)
        .expect("the connection ends");
}

#[test]
fn drop_after_forwards_exactly_n_bytes_then_resets() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let mut c = client(&proxy);
    round_trip(&mut c, b"warm");
    proxy.faults().drop_after(Dir::Up, 1000);
    let data = vec![1u8; 5000];
    // The write may fail once the RST comes back.
    let _ = c.write_all(&data);
    let mut got = 0;
    let mut buf = [0u8; 8192];
    let err = loop {
        match c.read(&mut buf) {
            Ok(0) => panic!("a FIN, not a RST"),
            Ok(n) => got += n,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
    // The echo server got exactly 1000 bytes; the RST may cut its echo short.
    assert!(got <= 1000, "{got}");
    let stats = proxy.faults().wait_for(TIMEOUT, |s| s.active == 0).unwrap();
    assert_eq!(stats.bytes_up, 4 + 1000);
    assert_eq!(stats.disruptions, 1);
    assert!(!proxy.faults().drop_pending());
    // One-shot: the next connection is not dropped.
    let mut c2 = client(&proxy);
    round_trip(&mut c2, &[2u8; 5000]);
}

#[test]
fn a_dead_target_refuses_with_rst_and_set_target_moves_on() {
    let _serial = serial();
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_addr = dead.local_addr().unwrap().to_string();
    drop(dead);
    let proxy = FaultProxy::start(&dead_addr).unwrap();
    let mut c = client(&proxy);
    let mut buf = [0u8; 4];
    match c.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("{n} bytes from nowhere"),
        Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}"),
    }
    assert_eq!(proxy.faults().stats().connect_failures, 1);
    let live = echo_server();
    proxy
        .faults()
        .set_target(aiozmq_tests::fault_proxy::socket_addr(&live).unwrap());
    let mut c2 = client(&proxy);
    round_trip(&mut c2, b"alive");
}

#[test]
fn dropping_the_proxy_ends_its_threads_and_listener() {
    let _serial = serial();
    let proxy = FaultProxy::start(&echo_server()).unwrap();
    let port = proxy.addr().port();
    let ours = move || {
        thread_names()
            .into_iter()
            .filter(|n| n.starts_with(&format!("fp{port}")))
            .count()
    };
    let mut clients: Vec<TcpStream> = (0..5).map(|_| client(&proxy)).collect();
    for c in &mut clients {
        round_trip(c, b"x");
    }
    assert_eq!(ours(), 1 + 5 * 4, "{:?}", thread_names());
    proxy.faults().stall();
    assert!(our_listening_ports().contains(&port));
    let t = Instant::now();
    drop(proxy);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert!(!our_listening_ports().contains(&port));
    // Its threads were joined; its clients were reset.
    assert_eq!(ours(), 0, "{:?}", thread_names());
    let mut buf = [0u8; 1];
    for c in &mut clients {
        let e = c.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionReset, "{e}");
    }
}

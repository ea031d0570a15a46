//! CURVE and ZAP with raw libzmq sockets: the libzmq this workspace builds
//! (our `vendor/zmq-sys`, with libsodium) encrypts, and a ZAP handler that
//! answers with `aiozmq_core::zap::ZapPolicy` decides who gets in.
//!
//! Every wait is bounded: receives have RCVTIMEO, monitor events are awaited
//! with a deadline, and "never delivered" is checked after the handshake has
//! been seen to fail.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aiozmq_core::event;
use aiozmq_core::zap::{ZapPolicy, ZAP_ENDPOINT};
use aiozmq_driver_common::security::{curve_keypair, zmq_has, CurveKeyPair};

/// The longest any single step may take before the test fails.
const STEP: Duration = Duration::from_secs(10);

fn socket(ctx: &zmq::Context, kind: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(kind).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(STEP.as_millis() as i32).unwrap();
    s.set_sndtimeo(STEP.as_millis() as i32).unwrap();
    s
}

fn bind_tcp(s: &zmq::Socket) -> String {
    s.bind("tcp://127.0.0.1:*").unwrap();
    s.get_last_endpoint().unwrap().unwrap()
}

fn curve_server(s: &zmq::Socket, keys: &CurveKeyPair) {
    s.set_curve_server(true).unwrap();
    s.set_curve_secretkey(keys.secret.as_bytes()).unwrap();
}

fn curve_client(s: &zmq::Socket, server_public: &str, keys: &CurveKeyPair) {
    s.set_curve_serverkey(server_public.as_bytes()).unwrap();
    s.set_curve_publickey(keys.public.as_bytes()).unwrap();
    s.set_curve_secretkey(keys.secret.as_bytes()).unwrap();
}

/// The PAIR end of a socket monitor. Call [`stop_monitor`] on the monitored
/// socket before this is dropped.
struct Monitor {
    pair: zmq::Socket,
}

impl Monitor {
    fn new(ctx: &zmq::Context, s: &zmq::Socket, name: &str) -> Monitor {
        let endpoint = format!("inproc://monitor-{name}");
        s.monitor(&endpoint, i32::from(event::ALL)).unwrap();
        let pair = socket(ctx, zmq::PAIR);
        pair.connect(&endpoint).unwrap();
        Monitor { pair }
    }

    /// Waits (bounded) for an event of the wanted kind; returns its value.
    fn wait_for(&self, wanted: u16) -> u32 {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no event {wanted:#x} within {STEP:?}");
            self.pair.set_rcvtimeo(left.as_millis() as i32).unwrap();
            let frames = self.pair.recv_multipart(0).unwrap();
            let head = &frames[0];
            let kind = u16::from_ne_bytes([head[0], head[1]]);
            let value = u32::from_ne_bytes([head[2], head[3], head[4], head[5]]);
            if kind == wanted {
                return value;
            }
        }
    }
}

/// Stops monitoring `s` before its PAIR goes away: libzmq sends monitor events
/// with a blocking send, so an unread or closed PAIR could stall its I/O thread.
fn stop_monitor(s: &mut zmq::Socket) {
    // SAFETY: a null endpoint is libzmq's documented way to stop a monitor;
    // `s` is a live socket we hold exclusively.
    let rc = unsafe { zmq_sys::zmq_socket_monitor(s.as_mut_ptr(), std::ptr::null(), 0) };
    assert_eq!(rc, 0);
}

/// A ZAP handler on a raw REP socket that answers with the core's policy,
/// until dropped.
struct ZapHandler {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    thread: Option<JoinHandle<()>>,
}

impl ZapHandler {
    fn start(ctx: &zmq::Context, policy: ZapPolicy) -> ZapHandler {
        let rep = socket(ctx, zmq::REP);
        // Wake up now and then to see whether the test is over.
        rep.set_rcvtimeo(50).unwrap();
        rep.bind(ZAP_ENDPOINT).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::spawn({
            let (stop, requests) = (stop.clone(), requests.clone());
            move || {
                while !stop.load(Ordering::Relaxed) {
                    let frames = match rep.recv_multipart(0) {
                        Ok(frames) => frames,
                        Err(zmq::Error::EAGAIN) => continue,
                        Err(e) => panic!("ZAP handler: {e}"),
                    };
                    // Counted before the reply goes out, so a test that saw the
                    // handshake's outcome sees the count too.
                    requests.fetch_add(1, Ordering::SeqCst);
                    let reply = policy.handle(&frames).to_frames();
                    let reply: Vec<&[u8]> = reply.iter().map(|f| &f[..]).collect();
                    rep.send_multipart(reply, 0).unwrap();
                }
            }
        });
        ZapHandler {
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for ZapHandler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let done = t.join();
            if !std::thread::panicking() {
                done.unwrap();
            }
        }
    }
}

#[test]
fn libzmq_is_built_with_curve() {
    assert_eq!(zmq::has("curve"), Some(true));
    assert!(zmq_has("curve"));
}

#[test]
fn curve_req_rep_round_trip() {
    let ctx = zmq::Context::new();
    let server_keys = curve_keypair().unwrap();
    let client_keys = curve_keypair().unwrap();

    let server = socket(&ctx, zmq::REP);
    curve_server(&server, &server_keys);
    let endpoint = bind_tcp(&server);

    let client = socket(&ctx, zmq::REQ);
    curve_client(&client, &server_keys.public, &client_keys);
    client.connect(&endpoint).unwrap();

    client.send("hello", 0).unwrap();
    let mut msg = zmq::Message::new();
    server.recv(&mut msg, 0).unwrap();
    assert_eq!(&msg[..], b"hello");
    assert_eq!(server.get_mechanism().unwrap(), zmq::Mechanism::ZMQ_CURVE);
    server.send("world", 0).unwrap();
    assert_eq!(client.recv_bytes(0).unwrap(), b"world");
}

#[test]
fn curve_client_with_the_wrong_server_key_never_delivers() {
    let ctx = zmq::Context::new();
    let server_keys = curve_keypair().unwrap();
    let impostor = curve_keypair().unwrap();

    let mut server = socket(&ctx, zmq::PULL);
    curve_server(&server, &server_keys);
    let endpoint = bind_tcp(&server);
    let monitor = Monitor::new(&ctx, &server, "wrong-key");

    let client = socket(&ctx, zmq::PUSH);
    curve_client(&client, &impostor.public, &curve_keypair().unwrap());
    client.connect(&endpoint).unwrap();
    client.send("secret", 0).unwrap(); // queued: PUSH pipes exist before the handshake

    // The server cannot open the client's HELLO box: a cryptographic error.
    monitor.wait_for(event::HANDSHAKE_FAILED_PROTOCOL);
    server.set_rcvtimeo(200).unwrap();
    assert_eq!(server.recv_bytes(0), Err(zmq::Error::EAGAIN));

    stop_monitor(&mut server);
}

#[test]
fn zap_handler_with_core_policy_admits_only_the_right_plain_password() {
    let ctx = zmq::Context::new();
    let mut policy = ZapPolicy::new();
    policy.configure_plain("test", [("admin", "secret")]);
    let zap = ZapHandler::start(&ctx, policy);

    let mut server = socket(&ctx, zmq::PULL);
    server.set_plain_server(true).unwrap();
    server.set_zap_domain("test").unwrap();
    let endpoint = bind_tcp(&server);
    let monitor = Monitor::new(&ctx, &server, "plain");

    // Wrong password: refused by the handler (status 400), nothing delivered.
    let intruder = socket(&ctx, zmq::PUSH);
    intruder.set_plain_username(Some("admin")).unwrap();
    intruder.set_plain_password(Some("guess")).unwrap();
    intruder.connect(&endpoint).unwrap();
    intruder.send("let me in", 0).unwrap();
    assert_eq!(monitor.wait_for(event::HANDSHAKE_FAILED_AUTH), 400);
    assert!(zap.requests() >= 1, "the handler was asked");
    server.set_rcvtimeo(200).unwrap();
    assert_eq!(server.recv_bytes(0), Err(zmq::Error::EAGAIN));
    drop(intruder);

    // Right password: delivered, with the user id the handler gave.
    let client = socket(&ctx, zmq::PUSH);
    client.set_plain_username(Some("admin")).unwrap();
    client.set_plain_password(Some("secret")).unwrap();
    client.connect(&endpoint).unwrap();
    client.send("hello", 0).unwrap();
    monitor.wait_for(event::HANDSHAKE_SUCCEEDED);
    server.set_rcvtimeo(STEP.as_millis() as i32).unwrap();
    let mut msg = zmq::Message::new();
    server.recv(&mut msg, 0).unwrap();
    assert_eq!(&msg[..], b"hello");
    assert_eq!(msg.gets("User-Id"), Some("admin"));

    stop_monitor(&mut server);
}

#[test]
fn zap_handler_with_core_policy_checks_curve_client_keys() {
    let ctx = zmq::Context::new();
    let server_keys = curve_keypair().unwrap();
    let friend = curve_keypair().unwrap();
    let stranger = curve_keypair().unwrap();
    let mut policy = ZapPolicy::new();
    policy.configure_curve("*", [friend.public.clone()]);
    let _zap = ZapHandler::start(&ctx, policy);

    let mut server = socket(&ctx, zmq::PULL);
    curve_server(&server, &server_keys);
    let endpoint = bind_tcp(&server);
    let monitor = Monitor::new(&ctx, &server, "curve-zap");

    let outsider = socket(&ctx, zmq::PUSH);
    curve_client(&outsider, &server_keys.public, &stranger);
    outsider.connect(&endpoint).unwrap();
    outsider.send("from a stranger", 0).unwrap();
    assert_eq!(monitor.wait_for(event::HANDSHAKE_FAILED_AUTH), 400);
    server.set_rcvtimeo(200).unwrap();
    assert_eq!(server.recv_bytes(0), Err(zmq::Error::EAGAIN));
    drop(outsider);

    let client = socket(&ctx, zmq::PUSH);
    curve_client(&client, &server_keys.public, &friend);
    client.connect(&endpoint).unwrap();
    client.send("from a friend", 0).unwrap();
    server.set_rcvtimeo(STEP.as_millis() as i32).unwrap();
    let mut msg = zmq::Message::new();
    server.recv(&mut msg, 0).unwrap();
    assert_eq!(&msg[..], b"from a friend");
    // pyzmq's convention: a CURVE peer's user id is its key in Z85.
    assert_eq!(msg.gets("User-Id"), Some(friend.public.as_str()));

    stop_monitor(&mut server);
}

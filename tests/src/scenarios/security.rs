//! CURVE encryption and ZAP authentication, on every driver.
//!
//! Each scenario has a `zmq::Context` of its own with its own
//! `Authenticator` (a context has one ZAP endpoint, so tests running in
//! parallel would otherwise compete for it), and a server of its own per
//! case, so a monitor event always belongs to the case that waits for it.
//!
//! "Refused" is shown twice over: the server's monitor reports the failed
//! handshake (awaited, bounded), and after that nothing is delivered within
//! [`NOTHING_WAIT`]. A refused client keeps retrying every 100 ms, so that
//! window sees several refused attempts, not one.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aiozmq_core::{event, OptValue, SockOpt, SocketType, ZmqTransport};
use aiozmq_driver_common::security::{curve_keypair, zmq_has, CurveKeyPair};

use crate::driver::TestAuth;
use crate::{msg, Driver, Ev, Log, Spec, ANY_TCP};

/// How long "delivers nothing" is watched, after the refusal was seen.
pub const NOTHING_WAIT: Duration = Duration::from_millis(400);

/// The handshake outcomes a server's monitor is asked for.
const HANDSHAKE_EVENTS: u16 = event::HANDSHAKE_SUCCEEDED
    | event::HANDSHAKE_FAILED_AUTH
    | event::HANDSHAKE_FAILED_PROTOCOL
    | event::HANDSHAKE_FAILED_NO_DETAIL;

/// ZAP status for "refused" (RFC 27), the value of `HANDSHAKE_FAILED_AUTH`.
const ZAP_REFUSED: u32 = 400;

type Opts = Vec<(SockOpt, OptValue)>;

fn curve_server_opts(keys: &CurveKeyPair, domain: &str) -> Opts {
    vec![
        (SockOpt::CURVE_SERVER, OptValue::Int(1)),
        (SockOpt::CURVE_SECRETKEY, keys.secret.as_str().into()),
        (SockOpt::ZAP_DOMAIN, domain.into()),
    ]
}

fn curve_client_opts(server_public: &str, keys: &CurveKeyPair) -> Opts {
    vec![
        (SockOpt::CURVE_SERVERKEY, server_public.into()),
        (SockOpt::CURVE_PUBLICKEY, keys.public.as_str().into()),
        (SockOpt::CURVE_SECRETKEY, keys.secret.as_str().into()),
    ]
}

fn plain_client_opts(user: &str, password: &str) -> Opts {
    vec![
        (SockOpt::PLAIN_USERNAME, user.into()),
        (SockOpt::PLAIN_PASSWORD, password.into()),
    ]
}

fn keys() -> CurveKeyPair {
    assert!(zmq_has("curve"), "libzmq built without CURVE");
    curve_keypair().expect("a CURVE key pair")
}

/// One test's context and the authenticator that guards it.
struct Secured<D: Driver> {
    ctx: zmq::Context,
    auth: D::A,
}

impl<D: Driver> Secured<D> {
    fn new(d: &D) -> Self {
        let ctx = zmq::Context::new();
        let auth = d
            .start_authenticator(ctx.clone())
            .unwrap_or_else(|e| panic!("{}: Authenticator::start_in: {e}", d.name()));
        Secured { ctx, auth }
    }

    /// A PULL server in this context with these options, its handshakes
    /// monitored, bound to a fresh loopback port.
    fn server(&self, d: &D, opts: Opts) -> (D::T, Arc<Log>, String) {
        let mut spec = Spec::new(SocketType::Pull).context(self.ctx.clone());
        for (opt, value) in opts {
            spec = spec.option(opt, value);
        }
        let (t, log) = d.open(spec).unwrap();
        // Before the bind: no handshake can happen unobserved.
        d.enable_monitor(&t, Some(HANDSHAKE_EVENTS)).unwrap();
        let ep = t.bind(ANY_TCP).unwrap();
        (t, log, ep)
    }

    /// A PUSH client in this context with these options, connected to `ep`.
    fn client(&self, d: &D, ep: &str, opts: Opts) -> D::T {
        let mut spec = Spec::new(SocketType::Push).context(self.ctx.clone());
        for (opt, value) in opts {
            spec = spec.option(opt, value);
        }
        d.open(spec.connect(ep)).unwrap().0
    }

    /// A client with `client_opts` sends to a fresh server with
    /// `server_opts`, and is refused: the server's monitor reports
    /// `refusal` (its value is returned), and nothing is delivered.
    fn assert_refused(
        &self,
        d: &D,
        server_opts: Opts,
        client_opts: Opts,
        refusal: u16,
        what: &str,
    ) -> u32 {
        let (server, log, ep) = self.server(d, server_opts);
        let client = self.client(d, &ep, client_opts);
        client.write(msg(&[b"let me in"])).unwrap();
        let ev = log.wait_event(refusal);
        assert_nothing_delivered(d, &log, what);
        assert_eq!(
            log.count(|e| matches!(e, Ev::Event(ev) if ev.event == event::HANDSHAKE_SUCCEEDED)),
            0,
            "{}: {what}: a handshake succeeded",
            d.name()
        );
        client.abort();
        server.close();
        ev.value
    }

    /// A client with `client_opts` sends to a fresh server with
    /// `server_opts`, and is admitted: the message arrives.
    fn assert_admitted(&self, d: &D, server_opts: Opts, client_opts: Opts, what: &str) {
        let (server, log, ep) = self.server(d, server_opts);
        let client = self.client(d, &ep, client_opts);
        let body = format!("admitted: {what}");
        client.write(msg(&[body.as_bytes()])).unwrap();
        assert_eq!(log.wait_msgs(1), vec![msg(&[body.as_bytes()])], "{what}");
        log.wait_event(event::HANDSHAKE_SUCCEEDED);
        client.close();
        server.close();
    }
}

fn assert_nothing_delivered(d: &impl Driver, log: &Log, what: &str) {
    let got = log.wait_for(NOTHING_WAIT, |evs| {
        evs.iter().find(|e| matches!(e, Ev::Msg(_))).cloned()
    });
    assert_eq!(got, None, "{}: {what}: a refused peer delivered", d.name());
}

/// PLAIN: the right user and password deliver; a wrong password or an
/// unknown user deliver nothing and the server's monitor reports
/// `HANDSHAKE_FAILED_AUTH` with ZAP status 400.
pub fn plain_admits_right_password_refuses_others<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("plain-{}", d.name());
    s.auth.configure_plain(&domain, &[("admin", "secret")]);
    let server_opts = || {
        vec![
            (SockOpt::PLAIN_SERVER, OptValue::Int(1)),
            (SockOpt::ZAP_DOMAIN, domain.as_str().into()),
        ]
    };
    let status = s.assert_refused(
        d,
        server_opts(),
        plain_client_opts("admin", "guess"),
        event::HANDSHAKE_FAILED_AUTH,
        "wrong password",
    );
    assert_eq!(status, ZAP_REFUSED);
    let status = s.assert_refused(
        d,
        server_opts(),
        plain_client_opts("mallory", "secret"),
        event::HANDSHAKE_FAILED_AUTH,
        "unknown user",
    );
    assert_eq!(status, ZAP_REFUSED);
    s.assert_admitted(
        d,
        server_opts(),
        plain_client_opts("admin", "secret"),
        "right password",
    );
}

/// CURVE: a client whose key is allowed delivers, and what crosses the wire
/// is not the plaintext (a relay in front of the server records it; the
/// same relay sees the plaintext of a NULL run, so it does record).
pub fn curve_allowed_key_delivers_encrypted<D: Driver>(d: &D) {
    const MARKER: &[u8] = b"the plaintext marker, 0123456789 0123456789";
    let s = Secured::new(d);
    let domain = format!("curve-wire-{}", d.name());
    let (server_keys, friend) = (keys(), keys());
    s.auth.configure_curve(&domain, &[friend.public.as_str()]);

    for encrypted in [true, false] {
        let server_opts = if encrypted {
            curve_server_opts(&server_keys, &domain)
        } else {
            Vec::new()
        };
        let client_opts = if encrypted {
            curve_client_opts(&server_keys.public, &friend)
        } else {
            Vec::new()
        };
        let (server, log, ep) = s.server(d, server_opts);
        let tap = WireTap::start(&ep);
        let client = s.client(d, &tap.endpoint(), client_opts);
        client.write(msg(&[b"head", MARKER])).unwrap();
        assert_eq!(log.wait_msgs(1), vec![msg(&[b"head", MARKER])]);
        // The relay records what it read before forwarding it: the message
        // arrived, so its bytes are recorded.
        let wire = tap.seen();
        let mechanism: &[u8] = if encrypted { b"CURVE" } else { b"NULL" };
        assert!(
            contains(&wire, mechanism),
            "{}: the relay did not see the {} greeting",
            d.name(),
            String::from_utf8_lossy(mechanism)
        );
        assert_eq!(
            contains(&wire, MARKER),
            !encrypted,
            "{}: plaintext on the wire with encrypted={encrypted} ({} bytes seen)",
            d.name(),
            wire.len()
        );
        client.close();
        server.close();
    }
}

/// CURVE: a client key the authenticator does not allow is refused.
pub fn curve_key_not_allowed_is_refused<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("curve-refuse-{}", d.name());
    let (server_keys, friend, stranger) = (keys(), keys(), keys());
    s.auth.configure_curve(&domain, &[friend.public.as_str()]);
    let status = s.assert_refused(
        d,
        curve_server_opts(&server_keys, &domain),
        curve_client_opts(&server_keys.public, &stranger),
        event::HANDSHAKE_FAILED_AUTH,
        "CURVE key not allowed",
    );
    assert_eq!(status, ZAP_REFUSED);
    s.assert_admitted(
        d,
        curve_server_opts(&server_keys, &domain),
        curve_client_opts(&server_keys.public, &friend),
        "CURVE key allowed",
    );
}

/// CURVE: `configure_curve_any` admits clients with any key.
pub fn curve_any_admits_any_key<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("curve-any-{}", d.name());
    let server_keys = keys();
    s.auth.configure_curve_any(&domain);
    for i in 0..2 {
        s.assert_admitted(
            d,
            curve_server_opts(&server_keys, &domain),
            curve_client_opts(&server_keys.public, &keys()),
            &format!("random key {i}"),
        );
    }
    s.auth.stop();
}

/// CURVE: a client that has the wrong server key never connects: the server
/// cannot open its HELLO (a protocol failure, before ZAP is even asked), and
/// nothing is delivered.
pub fn curve_wrong_server_key_never_connects<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("curve-wrong-server-{}", d.name());
    let (server_keys, impostor) = (keys(), keys());
    s.auth.configure_curve_any(&domain);
    s.assert_refused(
        d,
        curve_server_opts(&server_keys, &domain),
        curve_client_opts(&impostor.public, &keys()),
        event::HANDSHAKE_FAILED_PROTOCOL,
        "wrong server key",
    );
}

fn null_server_opts(domain: &str) -> Opts {
    // With a ZAP domain set, libzmq asks the handler about NULL peers too.
    vec![(SockOpt::ZAP_DOMAIN, domain.into())]
}

/// NULL with `ZAP_DOMAIN` set: `deny` of 127.0.0.1 refuses the client.
pub fn null_zap_deny_refuses<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("null-deny-{}", d.name());
    s.auth.deny(&["127.0.0.1"]);
    let status = s.assert_refused(
        d,
        null_server_opts(&domain),
        Vec::new(),
        event::HANDSHAKE_FAILED_AUTH,
        "denied address",
    );
    assert_eq!(status, ZAP_REFUSED);
}

/// NULL with `ZAP_DOMAIN` set: `allow` of 127.0.0.1 admits the client; an
/// allow list without it refuses it.
pub fn null_zap_allow_admits<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("null-allow-{}", d.name());
    s.auth.allow(&["127.0.0.1"]);
    s.assert_admitted(d, null_server_opts(&domain), Vec::new(), "allowed address");

    let other = Secured::new(d);
    other.auth.allow(&["192.0.2.1"]);
    let status = other.assert_refused(
        d,
        null_server_opts(&domain),
        Vec::new(),
        event::HANDSHAKE_FAILED_AUTH,
        "address not on the allow list",
    );
    assert_eq!(status, ZAP_REFUSED);
}

/// `stop()` unbinds the handler: libzmq's own rules apply again, and for a
/// NULL server with a ZAP domain but no handler that is "admit".
pub fn authenticator_stop_restores_libzmq_rules<D: Driver>(d: &D) {
    let s = Secured::new(d);
    let domain = format!("null-stop-{}", d.name());
    s.auth.deny(&["127.0.0.1"]);
    s.assert_refused(
        d,
        null_server_opts(&domain),
        Vec::new(),
        event::HANDSHAKE_FAILED_AUTH,
        "denied address",
    );
    s.auth.stop();
    s.auth.stop(); // idempotent
    s.assert_admitted(
        d,
        null_server_opts(&domain),
        Vec::new(),
        "no handler after stop",
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A TCP relay in front of a server that records every byte its clients
/// send: what an eavesdropper on the path would see.
pub struct WireTap {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    accepter: Option<JoinHandle<()>>,
}

impl WireTap {
    /// Relays connections to `server` (`tcp://host:port`) from a fresh
    /// loopback port.
    pub fn start(server: &str) -> WireTap {
        let target = server.trim_start_matches("tcp://").to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("relay listener");
        let addr = listener.local_addr().expect("relay address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let accepter = std::thread::spawn({
            let (seen, stop) = (seen.clone(), stop.clone());
            move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(down) = conn else { continue };
                    let Ok(up) = TcpStream::connect(&target) else {
                        continue;
                    };
                    let (Ok(down2), Ok(up2)) = (down.try_clone(), up.try_clone()) else {
                        continue;
                    };
                    let seen = seen.clone();
                    std::thread::spawn(move || relay(down, up, Some(seen)));
                    std::thread::spawn(move || relay(up2, down2, None));
                }
            }
        });
        WireTap {
            addr,
            seen,
            stop,
            accepter: Some(accepter),
        }
    }

    /// Where clients connect instead of the server.
    pub fn endpoint(&self) -> String {
        format!("tcp://{}", self.addr)
    }

    /// Every byte clients sent so far, all connections in one.
    pub fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Copies `from` to `to` until either side closes, recording into `seen`.
fn relay(mut from: TcpStream, mut to: TcpStream, seen: Option<Arc<Mutex<Vec<u8>>>>) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(seen) = &seen {
                    seen.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .extend_from_slice(&buf[..n]);
                }
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

impl Drop for WireTap {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees `stop`. Relays end on their own
        // when the sockets at either end close.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.accepter.take() {
            let _ = t.join();
        }
    }
}

/// The three CURVE keys read back as the 40 Z85 characters that were set
/// (libzmq refuses any buffer but 32 or 41 bytes), and a key read back can
/// be set again as is.
pub fn curve_keys_read_back_as_z85<D: Driver>(d: &D) {
    let server = keys();
    let client = keys();
    let mut spec = Spec::new(SocketType::Dealer);
    for (opt, value) in curve_client_opts(&server.public, &client) {
        spec = spec.option(opt, value);
    }
    let (t, _log) = d
        .open(spec)
        .unwrap_or_else(|e| panic!("{}: open: {e}", d.name()));
    for (opt, want) in [
        (SockOpt::CURVE_PUBLICKEY, &client.public),
        (SockOpt::CURVE_SECRETKEY, &client.secret),
        (SockOpt::CURVE_SERVERKEY, &server.public),
    ] {
        let got = t
            .getsockopt(opt)
            .unwrap_or_else(|e| panic!("{}: getsockopt({opt}): {e}", d.name()));
        assert_eq!(
            got,
            OptValue::Bytes(want.as_bytes().to_vec().into()),
            "{}: {opt}",
            d.name()
        );
        t.setsockopt(opt, got).unwrap_or_else(|e| {
            panic!("{}: setsockopt({opt}) of the read-back key: {e}", d.name())
        });
    }
    t.close();
}

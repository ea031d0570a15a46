//! CURVE and PLAIN across implementations: our tokio driver (libzmq) against
//! the pure-Rust `omq-tokio` (its `curve` and `plain` features), both ways.
//! omq as the client meets our server guarded by our `Authenticator`; our
//! client meets omq's server, which checks credentials itself.
//!
//! Each test has its own `zmq::Context` and authenticator, and every wait is
//! bounded.

use std::future::Future;
use std::time::Duration;

use aiozmq_tokio::{
    create_zmq_stream, curve_keypair, event, Authenticator, CurveKeyPair, Multipart, OptValue,
    SockOpt, SocketType, ZmqStream, ZmqTransport,
};
use omq_tokio::{CurveKeypair, CurvePublicKey, Message, Options, Socket};

/// The longest any single step may take.
const STEP: Duration = Duration::from_secs(10);
/// How long "nothing is delivered" is watched after a refusal was seen.
const NOTHING_WAIT: Duration = Duration::from_millis(400);

async fn within<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(STEP, f)
        .await
        .unwrap_or_else(|_| panic!("{what}: not within {STEP:?}"))
}

fn frames(m: &Multipart) -> Vec<Vec<u8>> {
    m.iter().map(|f| f.to_vec()).collect()
}

/// Our PULL server in `ctx` with these options, monitoring its handshakes,
/// bound to a fresh loopback port.
async fn our_server(ctx: &zmq::Context, opts: Vec<(SockOpt, OptValue)>) -> (ZmqStream, String) {
    let mut b = create_zmq_stream(SocketType::Pull).context(ctx.clone());
    for (opt, value) in opts {
        b = b.setsockopt(opt, value);
    }
    let server = b.open().await.unwrap();
    server
        .transport()
        .enable_monitor(Some(
            event::HANDSHAKE_SUCCEEDED
                | event::HANDSHAKE_FAILED_AUTH
                | event::HANDSHAKE_FAILED_PROTOCOL,
        ))
        .await
        .unwrap();
    let ep = server.transport().bind("tcp://127.0.0.1:*").unwrap();
    (server, ep)
}

/// Waits for the next handshake outcome on `server`'s monitor.
async fn handshake_outcome(server: &mut ZmqStream) -> (u16, u32) {
    let ev = within("a handshake outcome", server.read_event())
        .await
        .unwrap();
    (ev.event, ev.value)
}

/// An omq PUSH client with these options sends one message to `ep`.
async fn omq_client_sends(opts: Options, ep: &str, body: &str) -> Socket {
    let client = Socket::new(omq_tokio::SocketType::Push, opts.linger(Duration::ZERO));
    within("omq connect", client.connect(ep)).await.unwrap();
    within("omq send", client.send(Message::single(body.to_owned())))
        .await
        .unwrap();
    client
}

/// An omq PUSH client with these options that will be refused: it tries to
/// send one message to `ep` in a task of its own. The send is not awaited
/// here: once the handshake has failed, omq's PUSH has no peer and its send
/// waits for one (whether it returns first depends on timing). Abort the
/// task to drop the client.
async fn omq_client_tries(opts: Options, ep: &str, body: &str) -> tokio::task::JoinHandle<()> {
    let client = Socket::new(omq_tokio::SocketType::Push, opts.linger(Duration::ZERO));
    within("omq connect", client.connect(ep)).await.unwrap();
    let body = body.to_owned();
    tokio::spawn(async move {
        let _ = client.send(Message::single(body)).await;
        // Keep the client (and its connection attempts) until aborted.
        std::future::pending::<()>().await
    })
}

async fn assert_refused(server: &mut ZmqStream) {
    assert_eq!(
        handshake_outcome(server).await,
        (event::HANDSHAKE_FAILED_AUTH, 400)
    );
    let got = tokio::time::timeout(NOTHING_WAIT, server.read()).await;
    assert!(got.is_err(), "a refused omq client delivered: {got:?}");
}

fn curve_server_opts(keys: &CurveKeyPair, domain: &str) -> Vec<(SockOpt, OptValue)> {
    vec![
        (SockOpt::CURVE_SERVER, OptValue::Int(1)),
        (SockOpt::CURVE_SECRETKEY, keys.secret.as_str().into()),
        (SockOpt::ZAP_DOMAIN, domain.into()),
    ]
}

fn plain_server_opts(domain: &str) -> Vec<(SockOpt, OptValue)> {
    vec![
        (SockOpt::PLAIN_SERVER, OptValue::Int(1)),
        (SockOpt::ZAP_DOMAIN, domain.into()),
    ]
}

/// omq CURVE clients → our CURVE server with an `Authenticator`: the allowed
/// key delivers, another key is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omq_curve_client_to_our_server() {
    let ctx = zmq::Context::new();
    let auth = Authenticator::start_in(ctx.clone()).await.unwrap();
    let server_keys = curve_keypair().unwrap();
    let server_public = CurvePublicKey::from_z85(&server_keys.public).unwrap();
    let (friend, stranger) = (CurveKeypair::generate(), CurveKeypair::generate());
    auth.configure_curve("omq-curve", [friend.public.to_z85()]);

    let (mut server, ep) = our_server(&ctx, curve_server_opts(&server_keys, "omq-curve")).await;
    let outsider = omq_client_tries(
        Options::default().curve_client(stranger, server_public),
        &ep,
        "from a stranger",
    )
    .await;
    assert_refused(&mut server).await;
    outsider.abort();
    server.close();

    let (mut server, ep) = our_server(&ctx, curve_server_opts(&server_keys, "omq-curve")).await;
    let _client = omq_client_sends(
        Options::default().curve_client(friend, server_public),
        &ep,
        "from omq, encrypted",
    )
    .await;
    let got = within("the omq message", server.read()).await.unwrap();
    assert_eq!(frames(&got), vec![b"from omq, encrypted".to_vec()]);
    assert_eq!(
        handshake_outcome(&mut server).await.0,
        event::HANDSHAKE_SUCCEEDED
    );
    server.close();
    auth.stop();
}

/// omq PLAIN clients → our PLAIN server with an `Authenticator`: the right
/// password delivers, a wrong one is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn omq_plain_client_to_our_server() {
    let ctx = zmq::Context::new();
    let auth = Authenticator::start_in(ctx.clone()).await.unwrap();
    auth.configure_plain("omq-plain", [("admin", "secret")]);

    let (mut server, ep) = our_server(&ctx, plain_server_opts("omq-plain")).await;
    let intruder = omq_client_tries(
        Options::default().plain_client("admin", "guess"),
        &ep,
        "wrong password",
    )
    .await;
    assert_refused(&mut server).await;
    intruder.abort();
    server.close();

    let (mut server, ep) = our_server(&ctx, plain_server_opts("omq-plain")).await;
    let _client = omq_client_sends(
        Options::default().plain_client("admin", "secret"),
        &ep,
        "from omq, with a password",
    )
    .await;
    let got = within("the omq message", server.read()).await.unwrap();
    assert_eq!(frames(&got), vec![b"from omq, with a password".to_vec()]);
    server.close();
}

/// An omq PULL server with these options, bound to a fresh loopback port.
async fn omq_server(opts: Options) -> (Socket, String) {
    let server = Socket::new(omq_tokio::SocketType::Pull, opts.linger(Duration::ZERO));
    let ep = within("omq bind", server.bind("tcp://127.0.0.1:0"))
        .await
        .unwrap()
        .to_string();
    (server, ep)
}

/// Our PUSH client with these options sends one message to `ep`.
async fn our_client_sends(opts: Vec<(SockOpt, OptValue)>, ep: &str, body: &str) -> ZmqStream {
    let mut b = create_zmq_stream(SocketType::Push).connect(ep);
    for (opt, value) in opts {
        b = b.setsockopt(opt, value);
    }
    let client = b.open().await.unwrap();
    client
        .write(Multipart::from_iter([body.as_bytes().to_vec().into()]))
        .unwrap();
    client
}

/// Our CURVE client → omq's CURVE server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_curve_client_to_omq_server() {
    let server_keys = CurveKeypair::generate();
    let server_public = server_keys.public.to_z85();
    let (server, ep) = omq_server(Options::default().curve_server(server_keys)).await;
    let keys = curve_keypair().unwrap();
    let client = our_client_sends(
        vec![
            (SockOpt::CURVE_SERVERKEY, server_public.as_str().into()),
            (SockOpt::CURVE_PUBLICKEY, keys.public.as_str().into()),
            (SockOpt::CURVE_SECRETKEY, keys.secret.as_str().into()),
        ],
        &ep,
        "from libzmq, encrypted",
    )
    .await;
    let got = within("our message at omq", server.recv()).await.unwrap();
    assert_eq!(got, Message::single("from libzmq, encrypted"));
    client.close();
}

/// Our PLAIN client → omq's PLAIN server (omq checks the credentials).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_plain_client_to_omq_server() {
    let (server, ep) =
        omq_server(Options::default().plain_server_credentials([("admin", "secret")])).await;
    let client = our_client_sends(
        vec![
            (SockOpt::PLAIN_USERNAME, "admin".into()),
            (SockOpt::PLAIN_PASSWORD, "secret".into()),
        ],
        &ep,
        "from libzmq, with a password",
    )
    .await;
    let got = within("our message at omq", server.recv()).await.unwrap();
    assert_eq!(got, Message::single("from libzmq, with a password"));
    client.close();
}

//! CURVE-encrypted PUB/SUB with an `Authenticator` that admits one client
//! key and refuses another.
//!
//! The publisher owns a CURVE key pair and declares itself the CURVE server.
//! Two subscribers know its public key; each has a key pair of its own. The
//! authenticator (a ZAP handler for the default context) allows client A's
//! public key only. A completes the handshake and hears the publisher; B is
//! refused during the handshake — the publisher's monitor reports
//! `HANDSHAKE_FAILED_AUTH` with ZAP status 400 — and hears nothing.
//!
//! Every wait is bounded; the example exits non-zero if anything goes
//! otherwise.
//!
//! `cargo run --release -p aiozmq-tokio --example curve`

use std::io;
use std::time::Duration;

use aiozmq_tokio::{
    create_zmq_stream, curve_keypair, event, zmq_has, Authenticator, CurveKeyPair, Multipart,
    SockOpt, SocketType, ZmqStream, ZmqTransport,
};

/// Messages published once client A is known to hear.
const N: usize = 5;
/// The longest wait for any step.
const TIMEOUT: Duration = Duration::from_secs(5);
/// How long client B is watched for a message it must not get.
const QUIET: Duration = Duration::from_millis(300);

fn fail(what: impl Into<String>) -> io::Error {
    io::Error::other(what.into())
}

async fn bounded<T>(
    what: &str,
    f: impl std::future::Future<Output = io::Result<T>>,
) -> io::Result<T> {
    tokio::time::timeout(TIMEOUT, f)
        .await
        .map_err(|_| fail(format!("{what}: nothing within {TIMEOUT:?}")))?
}

/// A subscriber to everything, with its own key pair and the server's key.
/// The options go on the builder, so they are set before the connect.
async fn subscriber(
    endpoint: &str,
    server_public: &str,
    keys: &CurveKeyPair,
) -> io::Result<ZmqStream> {
    let sub = create_zmq_stream(SocketType::Sub)
        .setsockopt(SockOpt::CURVE_SERVERKEY, server_public)
        .setsockopt(SockOpt::CURVE_PUBLICKEY, keys.public.as_str())
        .setsockopt(SockOpt::CURVE_SECRETKEY, keys.secret.as_str())
        .connect(endpoint)
        .open()
        .await?;
    sub.transport().subscribe(b"")?;
    Ok(sub)
}

/// Waits for the next handshake outcome the publisher's monitor reports.
async fn next_handshake(publisher: &mut ZmqStream) -> io::Result<(u16, u32)> {
    let ev = bounded("a handshake", publisher.read_event()).await?;
    Ok((ev.event, ev.value))
}

#[tokio::main]
async fn main() -> io::Result<()> {
    if !zmq_has("curve") {
        return Err(fail(
            "this libzmq has no CURVE (see the README's Security section)",
        ));
    }
    let server_keys = curve_keypair()?;
    let (a_keys, b_keys) = (curve_keypair()?, curve_keypair()?);

    // Before any secured socket binds or connects: who may connect.
    let auth = Authenticator::start().await?;
    auth.configure_curve("*", [a_keys.public.clone()]);

    let mut publisher = create_zmq_stream(SocketType::Pub)
        .setsockopt(SockOpt::CURVE_SERVER, 1)
        .setsockopt(SockOpt::CURVE_SECRETKEY, server_keys.secret.as_str())
        .open()
        .await?;
    publisher
        .transport()
        .enable_monitor(Some(
            event::HANDSHAKE_SUCCEEDED | event::HANDSHAKE_FAILED_AUTH,
        ))
        .await?;
    let endpoint = publisher.transport().bind("tcp://127.0.0.1:*")?;
    println!(
        "publisher: CURVE server on {endpoint}, key {}",
        server_keys.public
    );

    // Client A: its key is allowed.
    let mut a = subscriber(&endpoint, &server_keys.public, &a_keys).await?;
    match next_handshake(&mut publisher).await? {
        (event::HANDSHAKE_SUCCEEDED, _) => println!("client A ({}): admitted", a_keys.public),
        other => {
            return Err(fail(format!(
                "client A: unexpected handshake outcome {other:?}"
            )))
        }
    }

    // Client B: its key is not.
    let mut b = subscriber(&endpoint, &server_keys.public, &b_keys).await?;
    match next_handshake(&mut publisher).await? {
        (event::HANDSHAKE_FAILED_AUTH, status) => {
            println!(
                "client B ({}): refused: HANDSHAKE_FAILED_AUTH, ZAP status {status}",
                b_keys.public
            )
        }
        other => {
            return Err(fail(format!(
                "client B: unexpected handshake outcome {other:?}"
            )))
        }
    }

    // A's subscription reaches the publisher after the handshake: publish
    // warm-up ticks until A hears one (bounded), then the real messages.
    let warm_up = async {
        loop {
            publisher.write(Multipart::from_iter([b"tick".to_vec().into()]))?;
            if let Ok(got) = tokio::time::timeout(Duration::from_millis(10), a.read()).await {
                return got;
            }
        }
    };
    bounded("client A's first message", warm_up).await?;
    for i in 0..N {
        publisher.write(Multipart::from_iter([format!("secret {i}")
            .into_bytes()
            .into()]))?;
    }
    let mut received = 0;
    while received < N {
        let msg = bounded("client A's messages", a.read()).await?;
        if msg[0].starts_with(b"secret") {
            received += 1;
        }
    }
    println!("client A received {received} encrypted messages");

    match tokio::time::timeout(QUIET, b.read()).await {
        Err(_) => println!("client B received nothing in {QUIET:?}"),
        Ok(got) => return Err(fail(format!("client B, refused, received {got:?}"))),
    }

    for s in [&a, &b, &publisher] {
        s.close();
    }
    auth.stop();
    Ok(())
}

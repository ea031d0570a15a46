//! CURVE on plain threads: a PULL server with an `Authenticator` that admits
//! one client key; an admitted client's message arrives encrypted, another
//! key's is refused (`HANDSHAKE_FAILED_AUTH`) and never arrives.
//!
//! `cargo run --release -p aiozmq-blocking --example blocking_curve`

use std::io;
use std::time::Duration;

use aiozmq_blocking::{
    create_zmq_stream, curve_keypair, event, Authenticator, CurveKeyPair, Multipart, SockOpt,
    SocketType, ZmqStream, ZmqTransport,
};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A PUSH client with its own keys and the server's public key, sending `text`.
fn client(
    endpoint: &str,
    server_public: &str,
    keys: &CurveKeyPair,
    text: &str,
) -> io::Result<ZmqStream> {
    let push = create_zmq_stream(SocketType::Push)
        .setsockopt(SockOpt::CURVE_SERVERKEY, server_public)
        .setsockopt(SockOpt::CURVE_PUBLICKEY, keys.public.as_str())
        .setsockopt(SockOpt::CURVE_SECRETKEY, keys.secret.as_str())
        .connect(endpoint)
        .open()?;
    push.write(Multipart::from_iter([text.as_bytes().to_vec().into()]))?;
    Ok(push)
}

fn main() -> io::Result<()> {
    let server_keys = curve_keypair()?;
    let (friend, stranger) = (curve_keypair()?, curve_keypair()?);
    let auth = Authenticator::start()?;
    auth.configure_curve("*", [friend.public.clone()]);

    let mut server = create_zmq_stream(SocketType::Pull)
        .setsockopt(SockOpt::CURVE_SERVER, 1)
        .setsockopt(SockOpt::CURVE_SECRETKEY, server_keys.secret.as_str())
        .open()?;
    server
        .transport()
        .enable_monitor(Some(event::HANDSHAKE_FAILED_AUTH))?;
    let endpoint = server.transport().bind("tcp://127.0.0.1:*")?;

    let refused = client(
        &endpoint,
        &server_keys.public,
        &stranger,
        "from the stranger",
    )?;
    // The monitor only reports HANDSHAKE_FAILED_AUTH.
    let ev = server.read_event_timeout(TIMEOUT)?;
    println!(
        "stranger refused: HANDSHAKE_FAILED_AUTH, ZAP status {}",
        ev.value
    );

    let admitted = client(&endpoint, &server_keys.public, &friend, "from the friend")?;
    let msg = server.read_timeout(TIMEOUT)?;
    println!(
        "received {:?}, encrypted on the wire",
        String::from_utf8_lossy(&msg[0])
    );
    if &msg[0][..] != b"from the friend" {
        return Err(io::Error::other("the refused client's message arrived"));
    }
    for s in [&refused, &admitted, &server] {
        s.close();
    }
    Ok(())
}

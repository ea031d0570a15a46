//! DEALER/ROUTER echo with the protocol API on smol, over tcp loopback.
//!
//! A ROUTER server echoes every message back to the DEALER that sent it; the
//! client sends N pings one at a time, waits (at most 5 s) for each echo,
//! checks it, and prints the mean round-trip time. Both sides then close and
//! the example waits for each `connection_lost`. Exits non-zero on a wrong,
//! missing or late echo.
//!
//! `cargo run --release -p aiozmq-smol --example smol_echo`

use std::future::Future;
use std::io;
use std::time::{Duration, Instant};

use aiozmq_smol::{
    create_zmq_connection, Bytes, Multipart, SocketType, Transport, ZmqProtocol, ZmqTransport,
};
use smol::channel::{self, Receiver, Sender};
use smol::Timer;

/// Round trips to make.
const N: usize = 10_000;
/// The longest wait for any one event; past it the example fails instead of hanging.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The server echoes every message back to the peer it came from.
struct EchoServer {
    transport: Option<Transport>,
    lost: Sender<Option<io::Error>>,
}

impl ZmqProtocol<Transport> for EchoServer {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }

    fn msg_received(&mut self, msg: Multipart) {
        // ROUTER: [peer routing id, body...] goes back to that peer.
        if let Some(t) = &self.transport {
            if let Err(e) = t.write(msg) {
                eprintln!("server: write failed: {e}");
            }
        }
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = self.lost.try_send(exc);
    }
}

/// The client forwards replies, and its end, to the main task.
struct Client {
    replies: Sender<Multipart>,
    lost: Sender<Option<io::Error>>,
}

impl ZmqProtocol<Transport> for Client {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.replies.try_send(msg);
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = self.lost.try_send(exc);
    }
}

/// Runs `fut` for at most [`TIMEOUT`]; `TimedOut` (naming `what`) past it.
async fn within<T>(what: &str, fut: impl Future<Output = T>) -> io::Result<T> {
    smol::future::or(async { Ok(fut.await) }, async {
        Timer::after(TIMEOUT).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{what}: nothing within {TIMEOUT:?}"),
        ))
    })
    .await
}

/// The next item of `rx` within [`TIMEOUT`].
async fn recv<T>(what: &str, rx: &Receiver<T>) -> io::Result<T> {
    within(what, rx.recv())
        .await?
        .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, format!("{what}: channel closed")))
}

/// Waits for `connection_lost` and reports how it went.
async fn await_lost(who: &str, lost: &Receiver<Option<io::Error>>) -> io::Result<()> {
    match recv(&format!("{who} connection_lost"), lost).await? {
        None => {
            println!("{who}: connection lost (clean close)");
            Ok(())
        }
        Some(e) => Err(io::Error::new(e.kind(), format!("{who} lost: {e}"))),
    }
}

fn main() -> io::Result<()> {
    smol::block_on(run())
}

async fn run() -> io::Result<()> {
    let (server_lost_tx, server_lost) = channel::unbounded();
    let (server, _) = create_zmq_connection(
        || EchoServer {
            transport: None,
            lost: server_lost_tx,
        },
        SocketType::Router,
    )
    .bind("tcp://127.0.0.1:*")
    .open()
    .await?;
    let endpoint = server
        .bindings()
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::other("the server has no binding"))?;
    println!("server: ROUTER bound to {endpoint}");

    let (replies_tx, replies) = channel::unbounded();
    let (client_lost_tx, client_lost) = channel::unbounded();
    let (client, _) = create_zmq_connection(
        || Client {
            replies: replies_tx,
            lost: client_lost_tx,
        },
        SocketType::Dealer,
    )
    .connect(&endpoint)
    .open()
    .await?;
    println!("client: DEALER connected to {endpoint}");

    let start = Instant::now();
    for i in 0..N {
        let ping = format!("ping {i}");
        client.write(Multipart::from_iter([Bytes::from(ping.clone())]))?;
        let reply = recv(&format!("echo of {ping:?}"), &replies).await?;
        if reply.len() != 1 || reply[0] != ping.as_bytes() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("sent {ping:?}, got back {reply:?}"),
            ));
        }
    }
    let took = start.elapsed();
    println!(
        "echoed {N} messages in {:.1} ms: {:.1} µs per round trip",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / N as f64
    );

    client.close();
    await_lost("client", &client_lost).await?;
    server.close();
    await_lost("server", &server_lost).await?;
    Ok(())
}

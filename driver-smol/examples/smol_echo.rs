//! DEALER/ROUTER echo with the protocol API on smol, over tcp loopback.
//!
//! A ROUTER server echoes every message back from `msg_received`; a DEALER
//! client sends pings one at a time and waits (at most 5 s) for each echo,
//! then both close and report `connection_lost`. Exits non-zero if an echo
//! is wrong or does not come.
//!
//! `cargo run --release -p aiozmq-smol --example smol_echo`

use std::io;
use std::time::{Duration, Instant};

use aiozmq_smol::{
    create_zmq_connection, Bytes, Multipart, SocketType, Transport, ZmqProtocol, ZmqTransport,
};
use smol::channel::{unbounded, Receiver, Sender};

const N: usize = 10_000;
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

/// The next item of `rx`, or an error naming `what` after [`TIMEOUT`].
async fn recv<T>(rx: &Receiver<T>, what: &str) -> io::Result<T> {
    let timeout = async {
        smol::Timer::after(TIMEOUT).await;
        Err(smol::channel::RecvError)
    };
    smol::future::or(rx.recv(), timeout)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("no {what} within 5 s")))
}

fn main() -> io::Result<()> {
    smol::block_on(async {
        let (server_lost_tx, server_lost) = unbounded();
        let server = EchoServer {
            transport: None,
            lost: server_lost_tx,
        };
        let (server, _) = create_zmq_connection(|| server, SocketType::Router)
            .bind("tcp://127.0.0.1:*")
            .open()
            .await?;
        let endpoint = server.bindings().into_iter().next().expect("bound");
        println!("server: ROUTER bound to {endpoint}");

        let (replies_tx, replies) = unbounded();
        let (client_lost_tx, client_lost) = unbounded();
        let client = Client {
            replies: replies_tx,
            lost: client_lost_tx,
        };
        let (client, _) = create_zmq_connection(|| client, SocketType::Dealer)
            .connect(&endpoint)
            .open()
            .await?;
        println!("client: DEALER connected to {endpoint}");

        let start = Instant::now();
        for i in 0..N {
            let ping = format!("ping {i}");
            client.write(Multipart::from_iter([Bytes::from(ping.clone())]))?;
            let reply = recv(&replies, "echo").await?;
            if reply[..] != [ping.as_bytes()] {
                return Err(io::Error::other(format!("sent {ping:?}, got {reply:?}")));
            }
        }
        let per_round_trip = start.elapsed() / N as u32;
        println!("echoed {N} messages, {per_round_trip:?} per round trip");

        // close() flushes, then connection_lost(None) ends each protocol.
        client.close();
        server.close();
        for (who, lost) in [("client", &client_lost), ("server", &server_lost)] {
            match recv(lost, "connection_lost").await? {
                None => println!("{who}: closed cleanly"),
                Some(e) => return Err(io::Error::other(format!("{who} lost: {e}"))),
            }
        }
        Ok(())
    })
}

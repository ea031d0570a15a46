//! DEALER/ROUTER echo with the protocol API, over tcp loopback.
//!
//! `cargo run --release -p aiozmq-tokio --example echo`

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiozmq_tokio::{
    create_zmq_connection, Bytes, Multipart, SocketType, Transport, ZmqProtocol, ZmqTransport,
};
use tokio::sync::mpsc;

/// The server echoes every message back to the peer it came from.
struct EchoServer {
    transport: Option<Transport>,
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
}

/// The client forwards replies to the main task.
struct Client {
    replies: mpsc::UnboundedSender<Multipart>,
}

impl ZmqProtocol<Transport> for Client {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.replies.send(msg);
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        println!("client: connection lost ({exc:?})");
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let (server, _) = create_zmq_connection(|| EchoServer { transport: None }, SocketType::Router)
        .bind("tcp://127.0.0.1:*")
        .open()
        .await?;
    let endpoint = server.bindings().into_iter().next().expect("bound");
    println!("server: ROUTER bound to {endpoint}");

    let (tx, mut rx) = mpsc::unbounded_channel();
    let (client, _): (Transport, Arc<Mutex<Client>>) =
        create_zmq_connection(|| Client { replies: tx }, SocketType::Dealer)
            .connect(&endpoint)
            .open()
            .await?;
    println!("client: DEALER connected to {endpoint}");

    let n = 10_000;
    let start = Instant::now();
    for i in 0..n {
        client.write(Multipart::from_iter([Bytes::from(format!("ping {i}"))]))?;
        let reply = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo within 5 s"))?
            .expect("client alive");
        assert_eq!(reply[0], format!("ping {i}").as_bytes());
    }
    let took = start.elapsed();
    println!(
        "echoed {n} messages in {:.1} ms: {:.1} µs per round trip",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / n as f64
    );
    client.close();
    server.close();
    Ok(())
}

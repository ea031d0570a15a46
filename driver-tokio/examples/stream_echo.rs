//! DEALER/ROUTER echo with the stream API, over tcp loopback.
//!
//! `cargo run --release -p aiozmq-tokio --example stream_echo`

use std::io;
use std::time::{Duration, Instant};

use aiozmq_tokio::{create_zmq_stream, Bytes, Multipart, SocketType, ZmqTransport};

const TIMEOUT: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut server = create_zmq_stream(SocketType::Router)
        .bind("tcp://127.0.0.1:*")
        .await?;
    let endpoint = server
        .transport()
        .bindings()
        .into_iter()
        .next()
        .unwrap_or_default();
    println!("server: ROUTER stream bound to {endpoint}");

    // The server task reads [peer id, body] and writes it straight back.
    let echo = tokio::spawn(async move {
        let mut echoed = 0usize;
        while let Ok(msg) = server.read().await {
            server.write(msg)?;
            echoed += 1;
        }
        Ok::<usize, io::Error>(echoed)
    });

    let mut client = create_zmq_stream(SocketType::Dealer)
        .connect(&endpoint)
        .await?;
    let n = 10_000u32;
    let start = Instant::now();
    for i in 0..n {
        let body = Bytes::from(format!("ping {i}"));
        client.write(Multipart::from_iter([body.clone()]))?;
        let reply = tokio::time::timeout(TIMEOUT, client.read())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no echo"))??;
        if reply[0] != body {
            return Err(io::Error::other(format!("reply {i} was {reply:?}")));
        }
    }
    let took = start.elapsed();
    println!(
        "client: {n} round trips, {:.1} µs each",
        took.as_secs_f64() * 1e6 / f64::from(n)
    );
    client.close();
    // Closing the client does not end the server's stream; abort the server.
    echo.abort();
    Ok(())
}

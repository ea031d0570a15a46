//! PUB/SUB: one publisher, two subscribers with different prefixes.
//!
//! `cargo run --release -p aiozmq-tokio --example pubsub`

use std::io;
use std::time::Duration;

use aiozmq_tokio::{create_zmq_stream, Bytes, Multipart, SocketType, ZmqStream, ZmqTransport};

fn text(s: &'static str) -> Multipart {
    Multipart::from_iter([Bytes::from_static(s.as_bytes())])
}

/// Reads what has arrived within `wait`.
async fn drain(sub: &mut ZmqStream, wait: Duration) -> io::Result<Vec<String>> {
    let mut got = Vec::new();
    while let Ok(msg) = tokio::time::timeout(wait, sub.read()).await {
        got.push(String::from_utf8_lossy(&msg?[0]).into_owned());
    }
    Ok(got)
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let publ = create_zmq_stream(SocketType::Pub)
        .bind("tcp://127.0.0.1:*")
        .await?;
    let endpoint = publ
        .transport()
        .bindings()
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut weather = create_zmq_stream(SocketType::Sub)
        .connect(&endpoint)
        .await?;
    let mut sports = create_zmq_stream(SocketType::Sub)
        .connect(&endpoint)
        .await?;
    weather.transport().subscribe(b"weather")?;
    sports.transport().subscribe(b"sports")?;

    // Subscriptions reach the publisher asynchronously: publish a probe until
    // both subscribers hear it (bounded), then the real messages.
    for round in 0.. {
        if round == 500 {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "subscribers never heard",
            ));
        }
        publ.write(text("weather: probe"))?;
        publ.write(text("sports: probe"))?;
        let w = tokio::time::timeout(Duration::from_millis(10), weather.read()).await;
        let s = tokio::time::timeout(Duration::from_millis(10), sports.read()).await;
        if w.is_ok() && s.is_ok() {
            break;
        }
    }
    drain(&mut weather, Duration::from_millis(20)).await?;
    drain(&mut sports, Duration::from_millis(20)).await?;

    for msg in [
        "weather: sunny",
        "sports: 2-1",
        "news: unheard",
        "weather: rain",
    ] {
        publ.write(text(msg))?;
    }
    println!(
        "weather subscriber got {:?}",
        drain(&mut weather, Duration::from_millis(200)).await?
    );
    println!(
        "sports subscriber got  {:?}",
        drain(&mut sports, Duration::from_millis(200)).await?
    );
    weather.transport().unsubscribe(b"weather")?;
    println!(
        "weather subscriptions now {:?}",
        weather.transport().subscriptions()?
    );
    Ok(())
}

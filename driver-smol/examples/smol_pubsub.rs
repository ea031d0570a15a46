//! PUB/SUB on smol: one publisher, two subscribers with different prefixes.
//!
//! The PUB publishes messages like `weather: sunny`. Subscriber A (protocol
//! API) subscribes to the prefix `weather`, subscriber B (stream API) to
//! `sports`; nobody hears `news`. Then A unsubscribes `weather` and subscribes
//! `news`. Exits non-zero if a subscriber does not hear its topic within 5 s.
//!
//! `cargo run --release -p aiozmq-smol --example smol_pubsub`

use std::{io, time::Duration};

use aiozmq_smol::{
    create_zmq_connection, create_zmq_stream, Bytes, Multipart, SocketType, Transport, ZmqProtocol,
    ZmqStream, ZmqTransport,
};
use smol::channel::{unbounded, Sender};

const TIMEOUT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(10);

/// Subscriber A hands what it hears to the main task.
struct Subscriber(Sender<Multipart>);

impl ZmqProtocol<Transport> for Subscriber {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.0.try_send(msg);
    }
}

/// A one-frame message; SUB filters match a prefix of the first frame.
fn text(s: &str) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(s.as_bytes())])
}

/// `fut`'s output, or `TimedOut` if it takes longer than `wait`.
async fn within<T>(wait: Duration, fut: impl std::future::Future<Output = T>) -> io::Result<T> {
    let timer = async {
        smol::Timer::after(wait).await;
        Err(io::Error::new(io::ErrorKind::TimedOut, "nothing heard"))
    };
    smol::future::or(async { Ok(fut.await) }, timer).await
}

/// Subscriptions reach the PUB asynchronously: publish warm-up messages on
/// `topic` until `heard()` (which waits briefly) says they arrive, or give up.
async fn warm_up(
    publ: &ZmqStream,
    topic: &str,
    mut heard: impl AsyncFnMut() -> bool,
) -> io::Result<()> {
    for _ in 0..500 {
        publ.write(text(&format!("{topic}: warm-up")))?;
        if heard().await {
            return Ok(());
        }
    }
    Err(io::Error::other(format!("{topic}: never heard")))
}

/// Prints what `next` reads, warm-ups left out, up to the message `last`.
async fn hear(
    who: &str,
    mut next: impl AsyncFnMut() -> io::Result<Multipart>,
    last: &str,
) -> io::Result<()> {
    loop {
        let msg = String::from_utf8_lossy(&next().await?[0]).into_owned();
        if !msg.ends_with("warm-up") {
            println!("{who} heard {msg:?}");
        }
        if msg == last {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    smol::block_on(async {
        let publ = create_zmq_stream(SocketType::Pub).open().await?;
        let endpoint = publ.transport().bind("tcp://127.0.0.1:*")?;

        // A: the protocol API; what it hears comes through a channel.
        let (tx, a_rx) = unbounded();
        let (a, _) = create_zmq_connection(|| Subscriber(tx), SocketType::Sub)
            .connect(&endpoint)
            .open()
            .await?;
        a.subscribe("weather")?;
        let a_next = async |wait| within(wait, a_rx.recv()).await?.map_err(io::Error::other);
        // B: the stream API; read() is cancel-safe, so a timeout loses nothing.
        let mut b = create_zmq_stream(SocketType::Sub).open().await?;
        b.transport().connect(&endpoint)?;
        b.transport().subscribe("sports")?;
        let mut b_next = async |wait| within(wait, b.read()).await?;

        warm_up(&publ, "weather", async || a_next(SHORT).await.is_ok()).await?;
        warm_up(&publ, "sports", async || b_next(SHORT).await.is_ok()).await?;
        publ.write(text("weather: sunny"))?;
        publ.write(text("sports: 2-1"))?;
        publ.write(text("news: nobody subscribed"))?;
        publ.write(text("weather: rain"))?;
        publ.write(text("sports: full time"))?;
        hear("A", async || a_next(TIMEOUT).await, "weather: rain").await?;
        hear("B", async || b_next(TIMEOUT).await, "sports: full time").await?;

        // A swaps weather for news; the change reaches the PUB asynchronously too.
        a.unsubscribe("weather")?;
        a.subscribe("news")?;
        println!("A now subscribes to {:?}", a.subscriptions()?);
        warm_up(&publ, "news", async || a_next(SHORT).await.is_ok()).await?;
        publ.write(text("weather: storm"))?;
        publ.write(text("news: election"))?;
        hear("A", async || a_next(TIMEOUT).await, "news: election").await?;

        a.close();
        b.close();
        publ.close();
        Ok(())
    })
}

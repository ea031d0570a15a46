//! PUB/SUB on plain threads: one publisher, two subscribers with different
//! prefixes.
//!
//! The PUB publishes messages like `weather: sunny`. Subscriber A (protocol
//! API) subscribes to the prefix `weather`, subscriber B (stream API, read
//! with `read_timeout`) to `sports`; nobody hears `news`. Then A unsubscribes
//! `weather` and subscribes `news`. Exits non-zero if a subscriber does not
//! hear its topic within 5 s.
//!
//! `cargo run --release -p aiozmq-blocking --example blocking_pubsub`

use std::sync::mpsc::{channel, Sender};
use std::{io, time::Duration};

use aiozmq_blocking::{
    create_zmq_connection, create_zmq_stream, Bytes, Multipart, SocketType, Transport, ZmqProtocol,
    ZmqStream, ZmqTransport,
};

const TIMEOUT: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(10);

/// Subscriber A hands what it hears to the main thread.
struct Subscriber(Sender<Multipart>);

impl ZmqProtocol<Transport> for Subscriber {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.0.send(msg);
    }
}

/// A one-frame message; SUB filters match a prefix of the first frame.
fn text(s: &str) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(s.as_bytes())])
}

/// Subscriptions reach the PUB asynchronously: publish warm-up messages on
/// `topic` until `heard()` (which waits briefly) says they arrive, or give up.
fn warm_up(publ: &ZmqStream, topic: &str, mut heard: impl FnMut() -> bool) -> io::Result<()> {
    for _ in 0..500 {
        publ.write(text(&format!("{topic}: warm-up")))?;
        if heard() {
            return Ok(());
        }
    }
    Err(io::Error::other(format!("{topic}: never heard")))
}

/// Prints what `next` reads, warm-ups left out, up to the message `last`.
fn hear(who: &str, mut next: impl FnMut() -> io::Result<Multipart>, last: &str) -> io::Result<()> {
    loop {
        let msg = String::from_utf8_lossy(&next()?[0]).into_owned();
        if !msg.ends_with("warm-up") {
            println!("{who} heard {msg:?}");
        }
        if msg == last {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    let publ = create_zmq_stream(SocketType::Pub).open()?;
    let endpoint = publ.transport().bind("tcp://127.0.0.1:*")?;

    // A: the protocol API; what it hears comes through a channel.
    let (tx, a_rx) = channel();
    let (a, _) = create_zmq_connection(|| Subscriber(tx), SocketType::Sub)
        .connect(&endpoint)
        .open()?;
    a.subscribe("weather")?;
    let a_next = |wait| {
        a_rx.recv_timeout(wait)
            .map_err(|_| io::Error::other("A heard nothing"))
    };
    // B: the stream API; read_timeout() bounds each wait.
    let mut b = create_zmq_stream(SocketType::Sub).open()?;
    b.transport().connect(&endpoint)?;
    b.transport().subscribe("sports")?;

    warm_up(&publ, "weather", || a_next(SHORT).is_ok())?;
    warm_up(&publ, "sports", || b.read_timeout(SHORT).is_ok())?;
    publ.write(text("weather: sunny"))?;
    publ.write(text("sports: 2-1"))?;
    publ.write(text("news: nobody subscribed"))?;
    publ.write(text("weather: rain"))?;
    publ.write(text("sports: full time"))?;
    hear("A", || a_next(TIMEOUT), "weather: rain")?;
    hear("B", || b.read_timeout(TIMEOUT), "sports: full time")?;

    // A swaps weather for news; the change reaches the PUB asynchronously too.
    a.unsubscribe("weather")?;
    a.subscribe("news")?;
    println!("A now subscribes to {:?}", a.subscriptions()?);
    warm_up(&publ, "news", || a_next(SHORT).is_ok())?;
    publ.write(text("weather: storm"))?;
    publ.write(text("news: election"))?;
    hear("A", || a_next(TIMEOUT), "news: election")?;

    a.close();
    b.close();
    publ.close();
    Ok(())
}

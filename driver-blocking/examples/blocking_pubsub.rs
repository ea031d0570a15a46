//! PUB/SUB on plain threads: one publisher, two subscribers with different
//! prefixes, subscribe and unsubscribe, and filtering that holds.
//!
//! The PUB (protocol API) binds on tcp loopback and publishes two-frame
//! messages `[topic, body]` on the topics `weather`, `sports` and `news`.
//! Subscriber A (protocol API) subscribes to `weather`; subscriber B (stream
//! API, `create_zmq_stream`, read with `read_timeout`) to `sports`. Later A
//! unsubscribes from `weather` and subscribes to `news`.
//!
//! Subscriptions travel to the publisher asynchronously, so each phase first
//! publishes warm-up rounds until every subscriber has heard one (a bounded
//! number of rounds, each waiting briefly for a message; no sleep decides
//! anything). Then it publishes a batch of [`N`] per topic and checks that
//! each subscriber got exactly its topics, all [`N`] of them, in order.
//! Exits non-zero on a lost, misfiltered or late message.
//!
//! `cargo run --release -p aiozmq-blocking --example blocking_pubsub`

use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use aiozmq_blocking::{
    create_zmq_connection, create_zmq_stream, Bytes, Multipart, OptValue, SockOpt, SocketType,
    Transport, ZmqProtocol, ZmqStream, ZmqTransport,
};

/// Messages per topic in each checked batch.
const N: usize = 1_000;
/// The most warm-up rounds per phase before giving up.
const MAX_ROUNDS: usize = 500;
/// How long a warm-up round waits for a subscriber to hear something.
const ROUND_WAIT: Duration = Duration::from_millis(10);
/// The longest wait for any message of a batch, or a `connection_lost`.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The publisher only sends; it reports its end.
struct Publisher {
    lost: Sender<Option<io::Error>>,
}

impl ZmqProtocol<Transport> for Publisher {
    fn msg_received(&mut self, _msg: Multipart) {}

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = self.lost.send(exc);
    }
}

/// Subscriber A forwards what it hears, and its end, to the main thread.
struct Subscriber {
    heard: Sender<Multipart>,
    lost: Sender<Option<io::Error>>,
}

impl ZmqProtocol<Transport> for Subscriber {
    fn msg_received(&mut self, msg: Multipart) {
        let _ = self.heard.send(msg);
    }

    fn connection_lost(&mut self, exc: Option<io::Error>) {
        let _ = self.lost.send(exc);
    }
}

/// Where a subscriber's messages come from: a channel (protocol API) or a stream.
enum Source {
    Channel(Receiver<Multipart>),
    Stream(ZmqStream),
}

impl Source {
    /// The next message within `wait`, `Ok(None)` if none came.
    fn next_within(&mut self, wait: Duration) -> io::Result<Option<Multipart>> {
        match self {
            Source::Channel(rx) => match rx.recv_timeout(wait) {
                Ok(msg) => Ok(Some(msg)),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "subscriber channel closed",
                )),
            },
            Source::Stream(stream) => match stream.read_timeout(wait) {
                Ok(msg) => Ok(Some(msg)),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => Ok(None),
                Err(e) => Err(e),
            },
        }
    }
}

/// One subscriber under test: its name, its messages, the topics it may hear now.
struct Sub {
    name: &'static str,
    source: Source,
    allowed: Vec<&'static str>,
}

impl Sub {
    /// The next message within `wait`, after checking it passed the filter.
    fn next(&mut self, wait: Duration) -> io::Result<Option<(String, String)>> {
        let Some(msg) = self.source.next_within(wait)? else {
            return Ok(None);
        };
        let (topic, body) = match &msg[..] {
            [topic, body] => (
                String::from_utf8_lossy(topic).into_owned(),
                String::from_utf8_lossy(body).into_owned(),
            ),
            _ => return Err(bad(format!("{}: malformed message {msg:?}", self.name))),
        };
        if !self.allowed.contains(&topic.as_str()) {
            return Err(bad(format!(
                "{}: heard {topic:?} ({body}) but may only hear {:?}",
                self.name, self.allowed
            )));
        }
        Ok(Some((topic, body)))
    }

    /// Reads until `topic` arrives tagged `phase`, waiting at most `wait`;
    /// earlier messages of allowed topics are skipped. Whether it arrived.
    fn heard(&mut self, topic: &str, phase: &str, wait: Duration) -> io::Result<bool> {
        while let Some((t, body)) = self.next(wait)? {
            if t == topic && body.starts_with(phase) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Reads the batch `phase` of `topic`: messages #0..N in order, skipping
    /// warm-up leftovers. Any topic outside `allowed` is an error.
    fn expect_batch(&mut self, topic: &str, phase: &str) -> io::Result<()> {
        let mut next = 0;
        while next < N {
            let Some((t, body)) = self.next(TIMEOUT)? else {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{}: got {next} of {N} {topic:?} in {phase}", self.name),
                ));
            };
            let Some(index) = body.strip_prefix(phase).and_then(|s| s.strip_prefix(" #")) else {
                continue; // a warm-up message published before the batch
            };
            if t != topic || index != next.to_string() {
                return Err(bad(format!(
                    "{}: expected {topic:?} {phase} #{next}, got {t:?} {body}",
                    self.name
                )));
            }
            next += 1;
        }
        println!("{}: got all {N} {topic:?} of {phase}, in order", self.name);
        Ok(())
    }
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Publishes `[topic, body]`.
fn publish(publisher: &Transport, topic: &str, body: String) -> io::Result<()> {
    publisher.write(Multipart::from_iter([
        Bytes::copy_from_slice(topic.as_bytes()),
        Bytes::from(body),
    ]))
}

/// Publishes warm-up rounds of `topics` until each `(sub, topic)` in `wait_for`
/// has heard its topic, at most [`MAX_ROUNDS`]. Returns the rounds it took.
fn warm_up(
    publisher: &Transport,
    phase: &str,
    topics: &[&str],
    wait_for: &mut [(&mut Sub, &str)],
) -> io::Result<usize> {
    let mut done = vec![false; wait_for.len()];
    for round in 1..=MAX_ROUNDS {
        for topic in topics {
            publish(publisher, topic, format!("{phase} warm-up round {round}"))?;
        }
        for ((sub, topic), done) in wait_for.iter_mut().zip(&mut done) {
            if !*done {
                *done = sub.heard(topic, phase, ROUND_WAIT)?;
            }
        }
        if done.iter().all(|d| *d) {
            return Ok(round);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{phase}: subscriptions not in effect after {MAX_ROUNDS} rounds"),
    ))
}

/// Waits for a protocol's `connection_lost` and checks it was clean.
fn await_lost(who: &str, lost: &Receiver<Option<io::Error>>) -> io::Result<()> {
    match lost.recv_timeout(TIMEOUT) {
        Ok(None) => {
            println!("{who}: connection lost (clean close)");
            Ok(())
        }
        Ok(Some(e)) => Err(io::Error::new(e.kind(), format!("{who} lost: {e}"))),
        Err(RecvTimeoutError::Timeout) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("{who}: no connection_lost within {TIMEOUT:?}"),
        )),
        Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            format!("{who}: gone without connection_lost"),
        )),
    }
}

fn main() -> io::Result<()> {
    let (pub_lost_tx, pub_lost) = mpsc::channel();
    let (publisher, _) =
        create_zmq_connection(|| Publisher { lost: pub_lost_tx }, SocketType::Pub).open()?;
    // A PUB drops what a subscriber's queue (SNDHWM, default 1000) cannot
    // hold, and each batch is published before it is read: make room. libzmq
    // gives a listener's connections the options set before `bind`, so set
    // it first and bind through the transport afterwards.
    publisher.setsockopt(SockOpt::SNDHWM, OptValue::Int(4 * N as i32))?;
    let endpoint = publisher.bind("tcp://127.0.0.1:*")?;
    println!("PUB bound to {endpoint}");

    // Subscriber A: protocol API.
    let (heard_tx, heard) = mpsc::channel();
    let (a_lost_tx, a_lost) = mpsc::channel();
    let (sub_a, _) = create_zmq_connection(
        || Subscriber {
            heard: heard_tx,
            lost: a_lost_tx,
        },
        SocketType::Sub,
    )
    .connect(&endpoint)
    .open()?;
    sub_a.subscribe("weather")?;
    println!(
        "A (protocol API) subscriptions: {:?}",
        sub_a.subscriptions()?
    );

    // Subscriber B: stream API.
    let stream = create_zmq_stream(SocketType::Sub)
        .connect(&endpoint)
        .open()?;
    stream.transport().subscribe("sports")?;
    println!(
        "B (stream API)   subscriptions: {:?}",
        stream.transport().subscriptions()?
    );

    let mut a = Sub {
        name: "A",
        source: Source::Channel(heard),
        allowed: vec!["weather"],
    };
    let mut b = Sub {
        name: "B",
        source: Source::Stream(stream),
        allowed: vec!["sports"],
    };
    let all = ["weather", "sports", "news"];

    // Phase 1: A hears weather, B hears sports, nobody hears news.
    let rounds = warm_up(
        &publisher,
        "phase1",
        &all,
        &mut [(&mut a, "weather"), (&mut b, "sports")],
    )?;
    println!("phase1: subscriptions in effect after {rounds} warm-up round(s)");
    for i in 0..N {
        for topic in all {
            publish(&publisher, topic, format!("phase1 #{i}"))?;
        }
    }
    a.expect_batch("weather", "phase1")?;
    b.expect_batch("sports", "phase1")?;

    // Phase 2: A swaps weather for news. Until the change reaches the PUB, A
    // may still hear weather; from its first news on, never again.
    sub_a.unsubscribe("weather")?;
    sub_a.subscribe("news")?;
    println!(
        "A unsubscribed weather, subscribed news: {:?}",
        sub_a.subscriptions()?
    );
    a.allowed = vec!["weather", "news"];
    let rounds = warm_up(&publisher, "phase2", &all, &mut [(&mut a, "news")])?;
    a.allowed = vec!["news"];
    println!("phase2: A's change in effect after {rounds} warm-up round(s)");
    for i in 0..N {
        for topic in all {
            publish(&publisher, topic, format!("phase2 #{i}"))?;
        }
    }
    a.expect_batch("news", "phase2")?;
    b.expect_batch("sports", "phase2")?;
    println!("filtering held: A never heard sports, B never heard weather or news");

    // Close everything and wait for each end.
    sub_a.close();
    await_lost("A", &a_lost)?;
    if let Source::Stream(stream) = &mut b.source {
        stream.close();
        // After close, read() gives what was queued, then ConnectionAborted.
        loop {
            match stream.read_timeout(TIMEOUT) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => break,
                Err(e) => return Err(e),
            }
        }
        println!("B: stream closed (at_closing = {})", stream.at_closing());
    }
    publisher.close();
    await_lost("PUB", &pub_lost)?;
    Ok(())
}

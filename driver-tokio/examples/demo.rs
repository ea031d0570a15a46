//! A tour of aiozmq-rs on tokio, against itself over tcp loopback: the
//! README's demo.
//!
//! `cargo run --release --example demo`
//!
//! 1. A ROUTER echo server with the protocol API, watched by a socket monitor.
//! 2. A DEALER client with the stream API: round trips and latency.
//! 3. Flow control: a writer whose peer does not read gets `pause_writing`,
//!    then `resume_writing` once the peer reads.
//! 4. PUB/SUB with a prefix subscription.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aiozmq_tokio::{
    create_zmq_connection, create_zmq_stream, event, Bytes, Multipart, SocketEvent, SocketType,
    Transport, ZmqProtocol, ZmqTransport,
};

const TIMEOUT: Duration = Duration::from_secs(5);

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("{what}: no answer within {TIMEOUT:?}"),
    )
}

fn event_name(ev: u16) -> &'static str {
    match ev {
        event::LISTENING => "LISTENING",
        event::ACCEPTED => "ACCEPTED",
        event::CONNECTED => "CONNECTED",
        event::HANDSHAKE_SUCCEEDED => "HANDSHAKE_SUCCEEDED",
        event::DISCONNECTED => "DISCONNECTED",
        event::CLOSED => "CLOSED",
        event::MONITOR_STOPPED => "MONITOR_STOPPED",
        _ => "other",
    }
}

/// Echoes every message back to the peer it came from, and prints monitor events.
struct EchoServer {
    transport: Option<Transport>,
    echoed: usize,
    lost: Option<tokio::sync::oneshot::Sender<()>>,
}

impl ZmqProtocol<Transport> for EchoServer {
    fn connection_made(&mut self, transport: Transport) {
        self.transport = Some(transport);
    }
    fn msg_received(&mut self, msg: Multipart) {
        if let Some(t) = &self.transport {
            // ROUTER: [peer id, body...] goes back to that peer.
            if t.write(msg).is_ok() {
                self.echoed += 1;
            }
        }
    }
    fn event_received(&mut self, ev: SocketEvent) {
        println!("  monitor: {:<20} {}", event_name(ev.event), ev.endpoint);
    }
    fn connection_lost(&mut self, exc: Option<io::Error>) {
        println!(
            "  server: connection_lost({exc:?}) after echoing {} messages",
            self.echoed
        );
        if let Some(lost) = self.lost.take() {
            let _ = lost.send(());
        }
    }
}

/// Counts flow-control callbacks.
#[derive(Default)]
struct Writer {
    pauses: usize,
    resumes: usize,
}

impl ZmqProtocol<Transport> for Writer {
    fn pause_writing(&mut self) {
        self.pauses += 1;
    }
    fn resume_writing(&mut self) {
        self.resumes += 1;
    }
    fn msg_received(&mut self, _msg: Multipart) {}
}

#[tokio::main]
async fn main() -> io::Result<()> {
    println!(
        "aiozmq-rs {} on libzmq {:?}",
        aiozmq_tokio::version(),
        aiozmq_tokio::zmq_version()
    );

    println!("\n1. ROUTER echo server (protocol API) with a socket monitor");
    let (lost_tx, lost_rx) = tokio::sync::oneshot::channel();
    let server_proto = move || EchoServer {
        transport: None,
        echoed: 0,
        lost: Some(lost_tx),
    };
    let (server, _) = create_zmq_connection(server_proto, SocketType::Router)
        .open()
        .await?;
    server.enable_monitor(None).await?;
    let endpoint = server.bind("tcp://127.0.0.1:*")?;
    println!(
        "  bound to {endpoint}; bindings() = {:?}",
        server.bindings()
    );

    println!("\n2. DEALER client (stream API): 10,000 round trips");
    let mut client = create_zmq_stream(SocketType::Dealer)
        .connect(&endpoint)
        .await?;
    let n = 10_000;
    let start = Instant::now();
    for i in 0..n {
        client.write(Multipart::from_iter([Bytes::from(format!("ping {i}"))]))?;
        let reply = tokio::time::timeout(TIMEOUT, client.read())
            .await
            .map_err(|_| timed_out("echo"))??;
        if reply[0] != format!("ping {i}").as_bytes() {
            return Err(io::Error::other(format!("reply {i} was {reply:?}")));
        }
    }
    let took = start.elapsed();
    println!(
        "  {n} echoes in {:.0} ms: {:.1} µs per round trip",
        took.as_secs_f64() * 1e3,
        took.as_secs_f64() * 1e6 / f64::from(n)
    );
    client.close();

    println!("\n3. Flow control: a PUSH whose PULL peer is paused");
    let mut pull = create_zmq_stream(SocketType::Pull)
        .bind("tcp://127.0.0.1:*")
        .await?;
    pull.transport().pause_reading()?;
    let pull_ep = pull
        .transport()
        .bindings()
        .into_iter()
        .next()
        .unwrap_or_default();
    let (push, writer): (Transport, Arc<Mutex<Writer>>) =
        create_zmq_connection(Writer::default, SocketType::Push)
            .open()
            .await?;
    push.set_write_buffer_limits(Some(256 * 1024), None)?;
    push.connect(&pull_ep)?;
    let mut written = 0usize;
    let chunk = Bytes::from(vec![0u8; 16 * 1024]);
    while writer.lock().map(|w| w.pauses).unwrap_or(1) == 0 && written < 100_000 {
        push.write(Multipart::from_iter([chunk.clone()]))?;
        written += 1;
    }
    println!(
        "  pause_writing after {written} x 16 KiB; buffered {} KiB (limits (low, high) = {:?})",
        push.get_write_buffer_size() / 1024,
        push.get_write_buffer_limits()
    );
    pull.transport().resume_reading()?;
    for _ in 0..written {
        tokio::time::timeout(TIMEOUT, pull.read())
            .await
            .map_err(|_| timed_out("reading the backlog"))??;
    }
    let (pauses, resumes) = writer
        .lock()
        .map(|w| (w.pauses, w.resumes))
        .unwrap_or_default();
    println!("  the peer read all {written}: pause_writing x{pauses}, resume_writing x{resumes}");
    push.close();

    println!("\n4. PUB/SUB with the prefix \"weather\"");
    let (publ, _) = create_zmq_connection(Writer::default, SocketType::Pub)
        .bind("tcp://127.0.0.1:*")
        .open()
        .await?;
    let pub_ep = publ.bindings().into_iter().next().unwrap_or_default();
    let mut sub = create_zmq_stream(SocketType::Sub).connect(&pub_ep).await?;
    sub.transport().subscribe(b"weather")?;
    // Subscriptions reach the publisher asynchronously: publish until heard.
    let first = loop {
        publ.write(Multipart::from_iter([Bytes::from_static(
            b"sports: ignored",
        )]))?;
        publ.write(Multipart::from_iter([Bytes::from_static(
            b"weather: sunny",
        )]))?;
        if let Ok(msg) = tokio::time::timeout(Duration::from_millis(20), sub.read()).await {
            break msg?;
        }
    };
    println!(
        "  subscriptions() = {:?}; received {:?}",
        sub.transport().subscriptions()?,
        String::from_utf8_lossy(&first[0])
    );

    println!("\nClosing");
    server.close();
    tokio::time::timeout(TIMEOUT, lost_rx)
        .await
        .map_err(|_| timed_out("close"))?
        .map_err(|_| io::Error::other("the server's protocol was dropped"))?;
    println!("done");
    Ok(())
}

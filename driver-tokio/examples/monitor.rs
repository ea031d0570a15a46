//! Socket monitor events: what libzmq reports while a client connects,
//! talks and disconnects.
//!
//! `cargo run --release -p aiozmq-tokio --example monitor`

use std::io;
use std::time::Duration;

use aiozmq_tokio::{create_zmq_stream, event, Bytes, Multipart, SocketType, ZmqTransport};

const TIMEOUT: Duration = Duration::from_secs(5);

fn name(ev: u16) -> &'static str {
    match ev {
        event::LISTENING => "LISTENING",
        event::ACCEPTED => "ACCEPTED",
        event::CONNECTED => "CONNECTED",
        event::CONNECT_DELAYED => "CONNECT_DELAYED",
        event::HANDSHAKE_SUCCEEDED => "HANDSHAKE_SUCCEEDED",
        event::DISCONNECTED => "DISCONNECTED",
        event::CLOSED => "CLOSED",
        _ => "other",
    }
}

#[tokio::main]
async fn main() -> io::Result<()> {
    let mut server = create_zmq_stream(SocketType::Router).await?;
    server.transport().enable_monitor(None).await?;
    let endpoint = server.transport().bind("tcp://127.0.0.1:*")?;

    let client = create_zmq_stream(SocketType::Dealer)
        .connect(&endpoint)
        .await?;
    client.write(Multipart::from_iter([Bytes::from_static(b"hello")]))?;
    let msg = tokio::time::timeout(TIMEOUT, server.read())
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no message"))??;
    println!("server got {:?} from peer {:?}", msg[1], msg[0]);
    client.close();

    // Events arrive in order; stop once the client's disconnect is seen.
    loop {
        let ev = tokio::time::timeout(TIMEOUT, server.read_event())
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no DISCONNECTED event"))??;
        println!(
            "event {:<20} value {:<4} {}",
            name(ev.event),
            ev.value,
            ev.endpoint
        );
        if ev.event == event::DISCONNECTED {
            break;
        }
    }
    server.transport().disable_monitor().await?;
    server.close();
    Ok(())
}

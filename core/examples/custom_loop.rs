//! The sans-IO core driven by a hand-written poll loop: no async runtime, no
//! driver crate, one thread.
//!
//! A PUSH and a PULL `zmq::Socket` talk over tcp loopback, each wrapped in an
//! [`aiozmq_core::TransportState`]. One loop follows the core's law of use
//! (after every input, drain the outputs until there are none):
//!
//! - the application writes through `state.writer().write()`, sending at once when it
//!   answers `WriteAction::SendNow` (reported with `handle_direct_send`), and
//!   sending what is buffered first when it answers `WriteAction::Flush`,
//!   drains `poll_wake()` after each call (delivering `pause_writing` itself
//!   when told `Wake::FlowOwed`), and stops writing on `pause_writing` until
//!   `resume_writing`;
//! - each socket's turn acts on `poll_output()` — `Send`, `Recv`,
//!   `ReadEvents`, `Deliver`, `Close`, `Yield` — until it says `Wait` (park)
//!   or `Done`;
//! - when both are parked, the loop waits in `zmq::poll` on the sockets'
//!   `ZMQ_FD`s (bounded by the parks' deadlines), and each FD that signalled
//!   gets `handle_fd_readable()`, each deadline passed `handle_timeout(now)`,
//!   then `begin_turn(now, budget)`.
//!
//! A small libzmq send queue and small write water marks make the state's
//! buffer, and pause/resume writing, actually happen. The PULL side checks
//! that every message arrives once, in order; then the PUSH is closed (its
//! buffer is flushed first) and the loop runs until `Output::Close` and
//! `connection_lost`, then the same for the PULL. Exits non-zero on a lost, reordered or late
//! message, or an unclean close.
//!
//! `cargo run --release -p aiozmq-core --example custom_loop`

use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use aiozmq_core::{
    Budget, Bytes, Callback, Deliveries, Multipart, Output, SendResult, Sock, SocketType,
    TransportState, Wake, WriteAction,
};

/// Messages to send.
const N: u64 = 10_000;
/// Sends and receives per turn before yielding to the other socket.
const BUDGET: Budget = Budget::Limit(256);
/// Each message: an 8-byte sequence number, then this many bytes of payload.
const PAYLOAD: usize = 56;
/// Write water marks (bytes): pause over 4 KiB, resume at 1 KiB.
const WRITE_HIGH: usize = 4 * 1024;
const WRITE_LOW: usize = 1024;
/// The PUSH's libzmq queue (SNDHWM), kept tiny so that libzmq soon says EAGAIN
/// and the state's own buffer fills up. (The PULL keeps the default RCVHWM:
/// with a tiny one too, delivery sometimes stalled ~200 ms inside loopback TCP.)
const SNDHWM: i32 = 16;
/// How long one park in `zmq::poll` may last before the loop looks around.
const POLL_MS: i64 = 100;
/// With nothing happening for this long, the example fails instead of hanging.
const STALL: Duration = Duration::from_secs(5);

/// One libzmq socket and its sans-IO state: what a driver holds per transport.
struct Peer {
    name: &'static str,
    /// `None` once `Output::Close` closed it.
    socket: Option<zmq::Socket>,
    /// `ZMQ_FD`, read once while the socket is open.
    fd: RawFd,
    state: TransportState,
    batch: Deliveries,
    scratch: zmq::Message,
    /// The last park's deadline: wake then even if the FD says nothing.
    deadline: Option<Instant>,
}

/// How a socket's turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Turn {
    /// `Output::Wait`: nothing to do until its FD signals (or the application acts).
    Park,
    /// `Output::Yield`: budget spent, more to do; `begin_turn` was called.
    Yield,
    /// `Output::Done`: `connection_lost` was delivered.
    Done,
}

impl Peer {
    fn new(name: &'static str, socket: zmq::Socket, kind: SocketType) -> io::Result<Peer> {
        Ok(Peer {
            name,
            fd: socket.get_fd()?,
            socket: Some(socket),
            state: TransportState::new(kind),
            batch: Deliveries::new(),
            scratch: zmq::Message::new(),
            deadline: None,
        })
    }

    fn socket(&self) -> io::Result<&zmq::Socket> {
        self.socket
            .as_ref()
            .ok_or_else(|| io::Error::other(format!("{}: socket used after it closed", self.name)))
    }

    /// One turn: act on `poll_output()` until it says park, yield or done,
    /// handing each callback to `deliver`.
    fn turn(&mut self, mut deliver: impl FnMut(Callback) -> io::Result<()>) -> io::Result<Turn> {
        loop {
            let socket = self.socket.as_ref();
            match self.state.poll_output() {
                Output::Send(msg) => {
                    let socket = socket.ok_or_else(|| io::Error::other("send after close"))?;
                    let result = send(socket, msg);
                    self.state.handle_send(result);
                }
                Output::Recv(sock) => {
                    let socket = socket.ok_or_else(|| io::Error::other("recv after close"))?;
                    // libzmq's frames go straight into the state's slot.
                    let result = recv(socket, &mut self.scratch, self.state.recv_slot(sock));
                    self.state.handle_recv(sock, result);
                }
                Output::ReadEvents(sock) => {
                    let socket = socket.ok_or_else(|| io::Error::other("EVENTS after close"))?;
                    let events = socket
                        .get_events()
                        .map(|ev| (ev.contains(zmq::POLLIN), ev.contains(zmq::POLLOUT)))
                        .map_err(zmq::Error::to_raw);
                    self.state.handle_events(sock, events);
                }
                Output::Deliver => {
                    // A threaded driver takes the batch under its lock and
                    // delivers it outside; here there is one thread.
                    self.state.delivery().take(&mut self.batch);
                    loop {
                        while let Some(cb) = self.batch.pop() {
                            deliver(cb)?;
                        }
                        if !self.state.delivery().finish(&mut self.batch) {
                            break;
                        }
                    }
                }
                Output::Close { sock, linger } => {
                    if sock == Sock::Main {
                        if let Some(socket) = self.socket.take() {
                            socket.set_linger(linger)?;
                            // zmq_close: libzmq keeps flushing in the background
                            // for up to `linger` ms.
                            drop(socket);
                        }
                    }
                    self.state.handle_closed(sock);
                }
                Output::Yield => {
                    self.state.begin_turn(Instant::now(), BUDGET);
                    return Ok(Turn::Yield);
                }
                Output::Wait(park) => {
                    self.deadline = park.deadline;
                    return Ok(Turn::Park);
                }
                Output::Done => return Ok(Turn::Done),
                // No monitor and no stream here: nothing else comes.
                other => return Err(io::Error::other(format!("unexpected {other:?}"))),
            }
        }
    }

    /// After an application call (a mutator): acts on the wake-ups it made
    /// owed — a parked driver starts a new turn; flow callbacks are
    /// delivered now, before the call returns.
    fn after_call(
        &mut self,
        mut deliver: impl FnMut(Callback) -> io::Result<()>,
    ) -> io::Result<()> {
        while let Some(wake) = self.state.poll_wake() {
            match wake {
                Wake::Driver => self.state.begin_turn(Instant::now(), BUDGET),
                Wake::FlowOwed => {
                    let mut flow = Deliveries::new();
                    if self.state.delivery().begin_flow(&mut flow) {
                        loop {
                            while let Some(cb) = flow.pop() {
                                deliver(cb)?;
                            }
                            if !self.state.delivery().finish(&mut flow) {
                                break;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Sends every frame of `msg` with `DONTWAIT`, `SNDMORE` on all but the last.
fn send(socket: &zmq::Socket, msg: &Multipart) -> SendResult {
    let last = msg.len().saturating_sub(1);
    for (i, frame) in msg.iter().enumerate() {
        let flags = zmq::DONTWAIT | if i < last { zmq::SNDMORE } else { 0 };
        if let Err(e) = socket.send(&frame[..], flags) {
            return if i == 0 {
                SendResult::Refused(e.to_raw())
            } else {
                SendResult::Broken(e.to_raw())
            };
        }
    }
    SendResult::Sent
}

/// Receives one whole multipart message with `DONTWAIT` into `msg`, or
/// libzmq's errno.
fn recv(socket: &zmq::Socket, scratch: &mut zmq::Message, msg: &mut Multipart) -> Result<(), i32> {
    loop {
        if let Err(e) = socket.recv(scratch, zmq::DONTWAIT) {
            // libzmq delivers multipart messages whole, so failing between
            // frames cannot happen; if it did, report it as fatal.
            return Err(if msg.is_empty() {
                e.to_raw()
            } else {
                zmq::Error::EPROTO.to_raw()
            });
        }
        msg.push(Bytes::copy_from_slice(scratch));
        if !scratch.get_more() {
            return Ok(());
        }
    }
}

/// The application on the PUSH side: writes `N` numbered messages, honouring
/// flow control, then closes.
#[derive(Default)]
struct Producer {
    written: u64,
    sent_directly: u64,
    paused: bool,
    pauses: u32,
    resumes: u32,
    peak_buffer: usize,
    closed: bool,
    lost: Option<Option<io::Error>>,
}

impl Producer {
    /// The PUSH's protocol callbacks.
    fn on_callback(&mut self, cb: Callback) -> io::Result<()> {
        match cb {
            Callback::PauseWriting => {
                self.paused = true;
                self.pauses += 1;
            }
            Callback::ResumeWriting => {
                self.paused = false;
                self.resumes += 1;
            }
            Callback::ConnectionLost(exc) => self.lost = Some(exc),
            other => {
                return Err(io::Error::other(format!(
                    "PUSH: unexpected callback {other:?}"
                )))
            }
        }
        Ok(())
    }

    /// Whether the application has a write it can make now.
    fn can_write(&self) -> bool {
        !self.paused && self.written < N
    }

    /// Writes until paused or done; closes the PUSH after the last message.
    fn write_some(&mut self, push: &mut Peer) -> io::Result<()> {
        while self.can_write() {
            let mut msg = Multipart::new();
            msg.push(Bytes::copy_from_slice(&self.written.to_be_bytes()));
            msg.push(Bytes::from(vec![b'x'; PAYLOAD]));
            let mut action = push.state.writer().write(&msg)?;
            if action == WriteAction::Flush {
                // Messages wait in the buffer and the socket may take them:
                // they go first, in order.
                let socket = push
                    .socket
                    .as_ref()
                    .ok_or_else(|| io::Error::other("closed"))?;
                while let Some(front) = push.state.writer().flush_front() {
                    let result = send(socket, front);
                    push.state.writer().handle_flushed(result);
                }
                action = push.state.writer().after_flush()?;
            }
            if action == WriteAction::SendNow {
                // aiozmq's fast path: the buffer was empty, try libzmq at once.
                let result = send(push.socket()?, &msg);
                action = push.state.writer().handle_direct_send(result)?;
                if action == WriteAction::Done {
                    self.sent_directly += 1;
                }
            }
            if action == WriteAction::Enqueue {
                push.state.writer().enqueue(msg);
            }
            self.written += 1;
            self.peak_buffer = self.peak_buffer.max(push.state.write_buffer_size());
            // As a driver's write(): pause_writing is delivered before it returns.
            push.after_call(|cb| self.on_callback(cb))?;
        }
        if self.written == N && !self.closed {
            // close() flushes what is still buffered, then Output::Close.
            push.state.close(Instant::now());
            push.after_call(|cb| self.on_callback(cb))?;
            self.closed = true;
        }
        Ok(())
    }
}

/// The application on the PULL side: checks the sequence numbers.
#[derive(Default)]
struct Consumer {
    received: u64,
    lost: Option<Option<io::Error>>,
}

impl Consumer {
    /// The PULL's protocol callbacks.
    fn on_callback(&mut self, cb: Callback) -> io::Result<()> {
        match cb {
            Callback::MsgReceived(msg) => {
                let seq = match &msg[..] {
                    [seq, payload] if payload.len() == PAYLOAD => {
                        <[u8; 8]>::try_from(&seq[..]).map(u64::from_be_bytes).ok()
                    }
                    _ => None,
                };
                if seq != Some(self.received) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("PULL: expected message {}, got {msg:?}", self.received),
                    ));
                }
                self.received += 1;
            }
            Callback::ConnectionLost(exc) => self.lost = Some(exc),
            other => {
                return Err(io::Error::other(format!(
                    "PULL: unexpected callback {other:?}"
                )))
            }
        }
        Ok(())
    }
}

/// Waits in `zmq::poll` (at most [`POLL_MS`], and not past a park's
/// deadline) on the FDs of the parked peers; each one that signalled, or
/// whose deadline passed, starts a new turn. Whether any did.
fn park(peers: &mut [&mut Peer]) -> io::Result<bool> {
    let mut waiting: Vec<&mut Peer> = peers
        .iter_mut()
        .filter(|p| p.socket.is_some() && p.state.is_parked())
        .map(|p| &mut **p)
        .collect();
    let mut items: Vec<zmq::PollItem> = waiting
        .iter()
        .map(|p| zmq::PollItem::from_fd(p.fd, zmq::POLLIN))
        .collect();
    let now = Instant::now();
    let timeout = waiting
        .iter()
        .filter_map(|p| p.deadline)
        .map(|d| d.saturating_duration_since(now).as_millis() as i64 + 1)
        .fold(POLL_MS, i64::min);
    match zmq::poll(&mut items, timeout) {
        Ok(_) => {}
        Err(zmq::Error::EINTR) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let mut any = false;
    let now = Instant::now();
    for (peer, item) in waiting.iter_mut().zip(&items) {
        let due = peer.deadline.is_some_and(|d| now >= d);
        if item.is_readable() {
            peer.state.handle_fd_readable(Sock::Main);
        }
        if due {
            peer.state.handle_timeout(now);
        }
        if item.is_readable() || due {
            peer.state.begin_turn(now, BUDGET);
            any = true;
        }
    }
    Ok(any)
}

fn main() -> io::Result<()> {
    let context = zmq::Context::new();

    let pull_socket = context.socket(zmq::PULL)?;
    pull_socket.bind("tcp://127.0.0.1:*")?;
    let endpoint = pull_socket
        .get_last_endpoint()?
        .map_err(|_| io::Error::other("endpoint is not UTF-8"))?;
    let push_socket = context.socket(zmq::PUSH)?;
    push_socket.set_sndhwm(SNDHWM)?;
    push_socket.connect(&endpoint)?;
    println!("PULL bound to {endpoint}, PUSH connected (SNDHWM {SNDHWM})");

    let mut push = Peer::new("PUSH", push_socket, SocketType::Push)?;
    let mut pull = Peer::new("PULL", pull_socket, SocketType::Pull)?;
    push.state
        .writer()
        .set_limits(Some(WRITE_HIGH), Some(WRITE_LOW))?;
    push.state.begin_turn(Instant::now(), BUDGET);
    pull.state.begin_turn(Instant::now(), BUDGET);
    let (low, high) = push.state.write_limits();
    println!("PUSH write limits: low {low} B, high {high} B");

    let mut producer = Producer::default();
    let mut consumer = Consumer::default();
    let (mut parks, mut wakeups) = (0u64, 0u64);
    let start = Instant::now();
    let mut last_progress = (Instant::now(), 0, 0);

    loop {
        producer.write_some(&mut push)?;
        let p = push.turn(|cb| producer.on_callback(cb))?;
        let q = pull.turn(|cb| consumer.on_callback(cb))?;

        if consumer.received == N && !pull.state.is_closing() {
            println!(
                "PULL: all {N} messages in order after {:.1} ms",
                start.elapsed().as_secs_f64() * 1e3
            );
            pull.state.close(Instant::now());
            pull.after_call(|cb| consumer.on_callback(cb))?;
            continue;
        }
        if p == Turn::Done && q == Turn::Done {
            break;
        }

        // Anything moved? If not for STALL, something is lost: fail.
        let progress = (producer.written, consumer.received);
        if progress != (last_progress.1, last_progress.2) {
            last_progress = (Instant::now(), progress.0, progress.1);
        } else if last_progress.0.elapsed() > STALL {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "stalled: {} written, {} received, PUSH buffer {} B, turns {p:?}/{q:?}",
                    producer.written,
                    consumer.received,
                    push.state.write_buffer_size()
                ),
            ));
        }

        // Work ready without waiting: go round again instead of parking.
        if p == Turn::Yield || q == Turn::Yield || producer.can_write() {
            continue;
        }
        parks += 1;
        if park(&mut [&mut push, &mut pull])? {
            wakeups += 1;
        }
    }

    println!(
        "PUSH: wrote {} messages ({} sent by write() at once, {} queued, then sent by a later write or the loop)",
        producer.written,
        producer.sent_directly,
        producer.written - producer.sent_directly
    );
    println!(
        "PUSH: pause_writing {} times, resume_writing {} times, peak buffer {} B",
        producer.pauses, producer.resumes, producer.peak_buffer
    );
    println!("loop: parked in zmq::poll {parks} times, woken by a ZMQ_FD {wakeups} times");

    for (name, lost) in [("PUSH", producer.lost), ("PULL", consumer.lost)] {
        match lost {
            Some(None) => println!("{name}: connection lost (clean close)"),
            Some(Some(e)) => return Err(io::Error::new(e.kind(), format!("{name} lost: {e}"))),
            None => return Err(io::Error::other(format!("{name}: no connection_lost"))),
        }
    }
    if consumer.received != N {
        return Err(io::Error::other(format!(
            "PULL received {} of {N}",
            consumer.received
        )));
    }
    // Every pause is followed by a resume, except one still in force when
    // close() began (no flow callbacks are delivered once closing).
    if producer.pauses != producer.resumes && producer.pauses != producer.resumes + 1 {
        return Err(io::Error::other("pause/resume out of step"));
    }
    Ok(())
}

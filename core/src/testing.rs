//! A deterministic harness: a fake socket, a virtual clock and a driver that
//! runs whole turns of a [`TransportState`] without libzmq, step by step, like
//! quinn-proto's test `Pair`. Tests interleave handle calls from "other
//! threads" with the driver's steps at any point, and the harness checks the
//! laws a driver relies on after every step.
//!
//! Enabled by the `testing` feature (and in the core's own tests).

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use crate::error::EAGAIN;
use crate::exec::{self, Budget, Sockets, Stop};
use crate::{
    Bytes, Callback, Deliveries, MonitorId, Multipart, Park, Read, SendResult, Sock, SocketEvent,
    SocketType, StreamConfig, TransportState, Waiter, Wake,
};

/// A pretend libzmq socket with edge-triggered signalling: the FD signals
/// when something changes from outside, and any call on the socket consumes
/// the signal — the pessimistic reading of libzmq's `ZMQ_FD`.
#[derive(Debug, Default)]
pub struct FakeSocket {
    /// Messages waiting to be received.
    pub inbound: VecDeque<Multipart>,
    /// How many more messages a send accepts before EAGAIN.
    pub room: usize,
    /// Every message sent, in order.
    pub sent: Vec<Multipart>,
    /// The FD has signalled and nothing consumed it yet.
    pub signalled: bool,
    /// The next send fails with this errno (once).
    pub fail_send: Option<i32>,
    /// The next receive fails with this errno (once).
    pub fail_recv: Option<i32>,
    /// The next EVENTS readings fail with EINTR (this many times).
    pub events_eintr: u32,
    /// The socket was closed.
    pub closed: bool,
}

impl FakeSocket {
    fn call(&mut self) {
        self.signalled = false;
    }

    fn send(&mut self, msg: &Multipart) -> SendResult {
        self.call();
        if let Some(errno) = self.fail_send.take() {
            return SendResult::Refused(errno);
        }
        if self.room == 0 {
            return SendResult::Refused(EAGAIN);
        }
        self.room -= 1;
        self.sent.push(msg.clone());
        SendResult::Sent
    }

    fn recv(&mut self, into: &mut Multipart) -> Result<(), i32> {
        self.call();
        if let Some(errno) = self.fail_recv.take() {
            return Err(errno);
        }
        *into = self.inbound.pop_front().ok_or(EAGAIN)?;
        Ok(())
    }

    fn events(&mut self) -> Result<(bool, bool), i32> {
        self.call();
        if self.events_eintr > 0 {
            self.events_eintr -= 1;
            return Err(crate::error::EINTR);
        }
        Ok((!self.inbound.is_empty(), self.room > 0))
    }
}

/// The harness's sockets as the executor sees them: the main socket and
/// the monitor pipes, each call checked against what the core may name.
struct FakeSockets<'a> {
    main: &'a mut FakeSocket,
    pipes: &'a mut Vec<(MonitorId, FakeSocket)>,
    monitored: Option<MonitorId>,
}

impl FakeSockets<'_> {
    fn pick(&mut self, sock: Sock) -> &mut FakeSocket {
        let socket = match sock {
            Sock::Main => &mut *self.main,
            Sock::Monitor(id) => self
                .pipes
                .iter_mut()
                .find(|(p, _)| *p == id)
                .map(|(_, pipe)| pipe)
                .expect("an output named a pipe that does not exist"),
        };
        assert!(!socket.closed, "{sock:?} used after it closed");
        socket
    }
}

impl Sockets for FakeSockets<'_> {
    fn send(&mut self, msg: &Multipart) -> SendResult {
        self.pick(Sock::Main).send(msg)
    }

    fn recv(&mut self, sock: Sock, into: &mut Multipart) -> Result<(), i32> {
        self.pick(sock).recv(into)
    }

    fn events(&mut self, sock: Sock) -> Result<(bool, bool), i32> {
        self.pick(sock).events()
    }

    fn stop_monitor(&mut self) -> bool {
        self.pick(Sock::Main).call();
        self.monitored = None;
        true
    }

    fn close(&mut self, sock: Sock, _linger: i32) {
        match sock {
            Sock::Main => assert!(
                self.monitored.is_none(),
                "the main socket closed while libzmq still monitors it"
            ),
            Sock::Monitor(id) => assert_ne!(
                self.monitored,
                Some(id),
                "a pipe closed while libzmq still writes to it"
            ),
        }
        self.pick(sock).closed = true;
    }
}

/// A callback as the recording protocol saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// `pause_writing`.
    Pause,
    /// `resume_writing`.
    Resume,
    /// `msg_received`, by the message's first frame.
    Msg(Bytes),
    /// `event_received`, by event number.
    Event(u16),
    /// `connection_lost`: `None`, or the error's kind.
    Lost(Option<io::ErrorKind>),
}

/// Where the pretend driver is.
#[derive(Debug)]
enum DriverAt {
    /// In a turn: the next step polls the state.
    Running,
    /// Delivering a batch: the next step delivers one callback.
    Delivering,
    /// Parked on these FDs until something wakes it.
    Parked(Park),
    /// `Output::Done`: the driver ended.
    Finished,
}

/// What one driver step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It acted on an output or delivered a callback.
    Acted,
    /// It parked (or stays parked: nothing woke it).
    Parked,
    /// It yielded to the executor (budget spent).
    Yielded,
    /// The driver ended.
    Finished,
}

/// One transport, its sockets, a recording protocol, a clock and a driver.
#[derive(Debug)]
pub struct Harness {
    /// The state under test.
    pub state: TransportState,
    /// The main socket.
    pub sock: FakeSocket,
    /// The monitor pipes by id (a retired one stays until closed).
    pub pipes: Vec<(MonitorId, FakeSocket)>,
    /// The virtual clock.
    pub now: Instant,
    /// Every callback delivered, in order.
    pub seen: Vec<Seen>,
    /// The recording protocol writes this back from inside `msg_received`.
    pub echo: bool,
    /// The protocol's lock is held elsewhere: a caller cannot deliver flow callbacks.
    pub protocol_busy: bool,
    /// The protocol's next callback panics (once).
    pub panic_next: bool,
    /// A stream waiter was woken: (reader, events, drain).
    pub stream_woken: (bool, bool, bool),
    driver: DriverAt,
    woken: bool,
    attention: bool,
    batch: Deliveries,
    /// Messages a write accepted (sent, buffered or later dropped).
    pub written: usize,
    /// Messages dropped by abort (the close deadline's are in `connection_lost`).
    pub aborted: usize,
    /// The flush deadline gave up with this many messages.
    pub gave_up: Option<usize>,
    /// The budget each turn begins with (a shared executor's, by default).
    pub budget: Budget,
    flushing_since: Option<Instant>,
    last_send: Option<Instant>,
    linger: Option<Duration>,
}

impl Harness {
    /// A protocol transport of this type, its driver about to start.
    pub fn new(kind: SocketType) -> Harness {
        Self::with_state(TransportState::new(kind))
    }

    /// A stream transport of this type.
    pub fn new_stream(kind: SocketType, config: StreamConfig) -> Harness {
        Self::with_state(TransportState::new_stream(kind, config))
    }

    fn with_state(state: TransportState) -> Harness {
        let now = Instant::now();
        let mut h = Harness {
            state,
            sock: FakeSocket::default(),
            pipes: Vec::new(),
            now,
            seen: Vec::new(),
            echo: false,
            protocol_busy: false,
            panic_next: false,
            stream_woken: (false, false, false),
            driver: DriverAt::Running,
            woken: false,
            attention: false,
            batch: Deliveries::new(),
            written: 0,
            aborted: 0,
            gave_up: None,
            budget: Budget::Limit(256),
            flushing_since: None,
            last_send: None,
            linger: Some(Duration::from_millis(crate::CLOSE_LINGER_MS as u64)),
        };
        h.state.begin_turn(now, h.budget);
        h
    }

    // ----- the outside world -----

    /// The peer sends a message: it waits in the socket and the FD signals.
    pub fn peer_sends(&mut self, msg: Multipart) {
        self.sock.inbound.push_back(msg);
        self.sock.signalled = true;
    }

    /// The peer makes room for `n` more messages and the FD signals.
    pub fn peer_reads(&mut self, n: usize) {
        self.sock.room += n;
        self.sock.signalled = true;
    }

    /// libzmq emits a monitor event into the running pipe.
    pub fn monitor_emits(&mut self, event: u16) {
        let Some(id) = self.state.monitor() else {
            return;
        };
        let frames = SocketEvent {
            event,
            value: 0,
            endpoint: "tcp://127.0.0.1:1".into(),
        }
        .encode();
        if let Some((_, pipe)) = self.pipes.iter_mut().find(|(p, _)| *p == id) {
            pipe.inbound
                .push_back(frames.into_iter().map(Bytes::from).collect());
            pipe.signalled = true;
        }
    }

    /// Time passes.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
    }

    // ----- handle calls, from "another thread" (or from inside a callback) -----

    /// `write(msg)`, as a transport handle does it.
    pub fn write(&mut self, msg: Multipart) -> io::Result<()> {
        let result = self.try_write(msg);
        self.drain_wakes();
        result
    }

    fn try_write(&mut self, msg: Multipart) -> io::Result<()> {
        let monitored = self.state.monitor();
        let mut sockets = FakeSockets {
            main: &mut self.sock,
            pipes: &mut self.pipes,
            monitored,
        };
        exec::write(&mut self.state, &mut sockets, msg)?;
        self.written += 1;
        Ok(())
    }

    /// `write(msg)` from another thread, up to the moment it released the
    /// lock: its wake-ups are taken, but a flow delivery it was offered
    /// ([`Wake::FlowOwed`]) waits for [`answer_flow`](Self::answer_flow), so
    /// the driver can run in between. Returns whether one was offered.
    pub fn write_unanswered(&mut self, msg: Multipart) -> io::Result<bool> {
        self.try_write(msg)?;
        let mut offered = false;
        while let Some(wake) = self.state.poll_wake() {
            match wake {
                Wake::Driver => self.woken = true,
                Wake::FlowOwed => offered = true,
                Wake::Waiter(w) => self.wake_waiter(w),
            }
        }
        Ok(offered)
    }

    /// The writer of [`write_unanswered`](Self::write_unanswered) delivers
    /// the flow callbacks it was offered.
    pub fn answer_flow(&mut self) {
        self.deliver_flow_as_caller();
        self.drain_wakes();
    }

    /// `close()` now.
    pub fn close(&mut self) {
        if !self.state.is_closing() {
            self.flushing_since = Some(self.now);
        }
        self.state.close(self.now);
        self.drain_wakes();
    }

    /// `abort()`.
    pub fn abort(&mut self) {
        self.aborted += self.state.abort();
        self.drain_wakes();
    }

    /// `setsockopt(LINGER, ms)` as the user sets it.
    pub fn set_linger(&mut self, ms: i32) -> io::Result<()> {
        let value = self
            .state
            .endpoints()
            .check_setsockopt(crate::SockOpt::LINGER, crate::OptValue::Int(ms))?;
        self.state
            .endpoints()
            .handle_setsockopt(crate::SockOpt::LINGER, &value);
        self.linger = (ms >= 0).then(|| Duration::from_millis(ms as u64));
        self.drain_wakes();
        Ok(())
    }

    /// Runs a handle's mutator, then drains its wake-ups.
    pub fn call<R>(&mut self, f: impl FnOnce(&mut TransportState) -> R) -> R {
        let out = f(&mut self.state);
        self.drain_wakes();
        out
    }

    /// `enable_monitor()`: stops a running one first, then starts a new pipe.
    pub fn enable_monitor(&mut self) -> io::Result<MonitorId> {
        let plan = self.state.monitoring().enable()?;
        if plan.stop_first {
            self.state.handle_monitor_stopped(true);
        }
        self.pipes.push((plan.id, FakeSocket::default()));
        self.state.monitoring().handle_started(plan.id, true);
        self.drain_wakes();
        Ok(plan.id)
    }

    /// `disable_monitor()`.
    pub fn disable_monitor(&mut self) {
        if self.state.monitoring().disable() {
            self.state.handle_monitor_stopped(true);
        }
        self.drain_wakes();
    }

    /// A stream's `read()`.
    pub fn read(&mut self) -> Read<Multipart> {
        let r = self.state.stream().read();
        self.drain_wakes();
        r
    }

    /// A stream's `drain()`; checks that it never completes above the high mark.
    pub fn drain(&mut self) -> Read<()> {
        let r = self.state.stream().drain();
        if let Read::Ready(()) = r {
            let (_, high) = self.state.write_limits();
            assert!(
                self.state.write_buffer_size() <= high,
                "drain() completed with {} bytes buffered, over the high mark {high}",
                self.state.write_buffer_size()
            );
        }
        self.drain_wakes();
        r
    }

    /// Acts on every wake-up owed after a handle's input.
    fn drain_wakes(&mut self) {
        while let Some(wake) = self.state.poll_wake() {
            match wake {
                Wake::Driver => self.woken = true,
                Wake::FlowOwed => self.deliver_flow_as_caller(),
                Wake::Waiter(w) => self.wake_waiter(w),
            }
        }
    }

    /// The caller delivers the flow callbacks its input made owed, before
    /// returning — unless the protocol is locked elsewhere.
    fn deliver_flow_as_caller(&mut self) {
        if self.protocol_busy {
            self.state.delivery().flow_refused();
            return;
        }
        let mut batch = Deliveries::new();
        if !self.state.delivery().begin_flow(&mut batch) {
            return;
        }
        loop {
            while let Some(cb) = batch.pop() {
                self.record(cb);
            }
            if !self.state.delivery().finish(&mut batch) {
                break;
            }
        }
    }

    /// The driver vanishes (its task was dropped with its runtime): the
    /// state closes the sockets at once, as a driver's teardown guard does.
    pub fn driver_gone(&mut self) {
        let now = self.now;
        let monitored = self.state.monitor();
        let mut sockets = FakeSockets {
            main: &mut self.sock,
            pipes: &mut self.pipes,
            monitored,
        };
        exec::close_all(&mut self.state, &mut sockets, now, |_| {});
        assert!(
            self.state.is_done(),
            "closing after the driver was gone never ended"
        );
        self.driver = DriverAt::Finished;
    }

    // ----- the driver -----

    /// One step of the driver: one output acted on, or one callback delivered.
    pub fn step(&mut self) -> Step {
        match &self.driver {
            DriverAt::Finished => Step::Finished,
            DriverAt::Parked(park) => {
                let park = *park;
                if !self.wake_if_due(park) {
                    self.check_no_lost_wakeup(park);
                    return Step::Parked;
                }
                Step::Acted
            }
            DriverAt::Delivering => {
                self.deliver_one();
                Step::Acted
            }
            DriverAt::Running => self.poll_once(),
        }
    }

    /// Steps until the driver parks, yields or ends; panics on a livelock.
    pub fn run(&mut self) -> Step {
        let mut parked_once = false;
        for _ in 0..1_000_000 {
            match self.step() {
                Step::Acted => parked_once = false,
                Step::Yielded => {
                    self.state.begin_turn(self.now, self.budget);
                    self.driver = DriverAt::Running;
                }
                // A park whose deadline already passed wakes at once.
                Step::Parked if !parked_once => parked_once = true,
                other => return other,
            }
        }
        panic!("the driver never parked: livelock");
    }

    /// Whether the driver holds a batch of callbacks it is delivering.
    pub fn delivering(&self) -> bool {
        matches!(self.driver, DriverAt::Delivering)
    }

    /// Whether the driver ended.
    pub fn finished(&self) -> bool {
        matches!(self.driver, DriverAt::Finished)
    }

    /// The park the driver sleeps in, if parked.
    pub fn parked(&self) -> Option<Park> {
        match self.driver {
            DriverAt::Parked(p) => Some(p),
            _ => None,
        }
    }

    fn wake_if_due(&mut self, park: Park) -> bool {
        let main = park.main && self.sock.signalled;
        let monitor = park
            .monitor
            .filter(|id| self.pipes.iter().any(|(p, pipe)| p == id && pipe.signalled));
        let timer = park.deadline.is_some_and(|d| self.now >= d);
        if !(self.woken || main || monitor.is_some() || timer) {
            return false;
        }
        self.woken = false;
        if main {
            self.state.handle_fd_readable(Sock::Main);
        }
        if let Some(id) = monitor {
            self.state.handle_fd_readable(Sock::Monitor(id));
        }
        if timer {
            self.state.handle_timeout(self.now);
        }
        self.state.begin_turn(self.now, self.budget);
        self.driver = DriverAt::Running;
        true
    }

    fn wake_waiter(&mut self, w: Waiter) {
        match w {
            Waiter::Deliverer => self.attention = true,
            Waiter::Reader => self.stream_woken.0 = true,
            Waiter::Events => self.stream_woken.1 = true,
            Waiter::Drain => self.stream_woken.2 = true,
        }
    }

    /// One step of the shipped executor ([`exec::step`]) on the fake
    /// sockets; where it stops, the harness plays the driver.
    fn poll_once(&mut self) -> Step {
        let sent_before = self.sock.sent.len();
        let monitored = self.state.monitor();
        let mut sockets = FakeSockets {
            main: &mut self.sock,
            pipes: &mut self.pipes,
            monitored,
        };
        let stop = exec::step(&mut self.state, &mut sockets);
        if self.sock.sent.len() > sent_before && self.flushing_since.is_some() {
            self.last_send = Some(self.now);
        }
        let Some(stop) = stop else {
            return Step::Acted;
        };
        match stop {
            Stop::Wake(w) => self.wake_waiter(w),
            Stop::Deliver => {
                self.state.delivery().take(&mut self.batch);
                self.driver = DriverAt::Delivering;
            }
            Stop::Close { sock, linger } => {
                let monitored = self.state.monitor();
                let mut sockets = FakeSockets {
                    main: &mut self.sock,
                    pipes: &mut self.pipes,
                    monitored,
                };
                exec::close(&mut self.state, &mut sockets, sock, linger);
            }
            Stop::Yield => return Step::Yielded,
            Stop::Wait(park) => {
                assert_eq!(
                    park.main, !self.sock.closed,
                    "a park must wait on the main socket exactly while it is open"
                );
                self.check_deadline(park);
                self.driver = DriverAt::Parked(park);
                return Step::Parked;
            }
            Stop::Done => {
                assert!(self.sock.closed, "done with the main socket open");
                assert!(
                    self.pipes
                        .iter()
                        .all(|(id, p)| p.closed || self.state.monitor() == Some(*id)),
                    "done with a retired pipe open"
                );
                self.driver = DriverAt::Finished;
                return Step::Finished;
            }
        }
        Step::Acted
    }

    /// One callback of the batch, picked by the shipped delivery step
    /// ([`exec::next_callback`]).
    fn deliver_one(&mut self) {
        let mut attention = std::mem::take(&mut self.attention);
        let cb = exec::next_callback(
            &mut self.batch,
            || std::mem::take(&mut attention),
            &mut self.state,
        );
        let Some(cb) = cb else {
            self.driver = DriverAt::Running;
            return;
        };
        let echo = match &cb {
            Callback::MsgReceived(m) if self.echo => Some(m.clone()),
            _ => None,
        };
        self.record(cb);
        if std::mem::take(&mut self.panic_next) {
            // The callback ran and panicked; as a driver catches the unwind:
            // the core's rule, then the wake-ups, nothing more from this
            // deliverer (an echo it would have written is not written).
            self.state
                .delivery()
                .panicked("the protocol panicked", &mut self.batch);
            while let Some(wake) = self.state.poll_wake() {
                match wake {
                    Wake::Driver => self.woken = true,
                    Wake::FlowOwed => self.state.delivery().flow_refused(),
                    Wake::Waiter(w) => self.wake_waiter(w),
                }
            }
            self.driver = DriverAt::Running;
            return;
        }
        if let Some(m) = echo {
            // A write from inside the callback.
            let _ = self.write(m);
        }
    }

    fn record(&mut self, cb: Callback) {
        assert!(
            !matches!(self.seen.last(), Some(Seen::Lost(_))),
            "a callback after connection_lost: {cb:?}"
        );
        let seen = match cb {
            Callback::PauseWriting => Seen::Pause,
            Callback::ResumeWriting => Seen::Resume,
            Callback::MsgReceived(m) => Seen::Msg(m[0].clone()),
            Callback::EventReceived(e) => Seen::Event(e.event),
            Callback::ConnectionLost(exc) => {
                if let Some(e) = &exc {
                    if e.kind() == io::ErrorKind::TimedOut {
                        let n = e
                            .to_string()
                            .split(": ")
                            .nth(1)
                            .and_then(|s| s.split(' ').next())
                            .and_then(|n| n.parse().ok());
                        self.gave_up = n;
                    }
                }
                Seen::Lost(exc.map(|e| e.kind()))
            }
        };
        let flows: Vec<&Seen> = self
            .seen
            .iter()
            .filter(|s| matches!(s, Seen::Pause | Seen::Resume))
            .collect();
        match (&seen, flows.last()) {
            (Seen::Pause, None | Some(Seen::Resume)) | (Seen::Resume, Some(Seen::Pause)) => {}
            (Seen::Pause | Seen::Resume, last) => {
                panic!("flow callbacks out of turn: {seen:?} after {last:?}")
            }
            _ => {}
        }
        self.seen.push(seen);
    }

    /// The flush gives up on time: a parked driver always has a deadline
    /// while messages wait to be flushed with a finite linger.
    fn check_deadline(&self, park: Park) {
        if let (Some(since), Some(linger)) = (self.flushing_since, self.linger) {
            if self.state.is_closing() && !self.state.is_done() && self.state.write_buffer_len() > 0
            {
                let progress = self.last_send.unwrap_or(since).max(since);
                let deadline = park.deadline.expect("flushing with no deadline");
                assert!(
                    deadline <= progress + linger,
                    "the close deadline {deadline:?} is later than the last progress plus linger"
                );
            }
        }
    }

    /// A parked driver that nothing wakes must have nothing to do: a spurious
    /// wake-up now would only read EVENTS and park again.
    fn check_no_lost_wakeup(&mut self, park: Park) {
        let main_pending = self.sock.inbound.len() + self.sock.room;
        if main_pending == 0 && self.pipes.iter().all(|(_, p)| p.inbound.is_empty()) {
            return;
        }
        self.state.begin_turn(self.now, self.budget);
        loop {
            let monitored = self.state.monitor();
            let mut sockets = FakeSockets {
                main: &mut self.sock,
                pipes: &mut self.pipes,
                monitored,
            };
            let mut probe = Probe(&mut sockets);
            match exec::step(&mut self.state, &mut probe) {
                None => {}
                Some(Stop::Wait(again)) => {
                    assert_eq!(again.main, park.main);
                    self.driver = DriverAt::Parked(again);
                    return;
                }
                Some(Stop::Wake(w)) => self.wake_waiter(w),
                Some(other) => panic!("{LOST_WAKEUP}: {other:?}"),
            }
        }
    }
}

const LOST_WAKEUP: &str =
    "lost wake-up: the driver sleeps (nothing signalled, nobody woke it) yet has work";

/// Sockets for a spurious wake-up: only reading EVENTS is allowed; anything
/// else means the parked driver had work nothing would have woken it for.
struct Probe<'a, 'b>(&'a mut FakeSockets<'b>);

impl Sockets for Probe<'_, '_> {
    fn send(&mut self, _: &Multipart) -> SendResult {
        panic!("{LOST_WAKEUP}: a send")
    }
    fn recv(&mut self, sock: Sock, _: &mut Multipart) -> Result<(), i32> {
        panic!("{LOST_WAKEUP}: a receive on {sock:?}")
    }
    fn events(&mut self, sock: Sock) -> Result<(bool, bool), i32> {
        self.0.events(sock)
    }
    fn stop_monitor(&mut self) -> bool {
        panic!("{LOST_WAKEUP}: stopping the monitor")
    }
    fn close(&mut self, sock: Sock, _: i32) {
        panic!("{LOST_WAKEUP}: closing {sock:?}")
    }
}

/// A one-frame message.
pub fn msg(body: &[u8]) -> Multipart {
    Multipart::from_iter([Bytes::copy_from_slice(body)])
}

/// A one-frame message of `n` bytes whose first byte says `tag`.
pub fn sized(tag: u8, n: usize) -> Multipart {
    let mut body = vec![0u8; n.max(1)];
    body[0] = tag;
    Multipart::from_iter([Bytes::from(body)])
}

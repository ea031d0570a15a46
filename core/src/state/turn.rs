//! The driver's turn: it begins with what woke the driver, carries out the
//! core's outputs one by one — sends, receives, `ZMQ_EVENTS` readings,
//! wake-ups, deliveries, the steps of closing — reports each answer with a
//! `handle_*`, and ends in a park, a yield or the end.
//!
//! libzmq's `ZMQ_FD` is edge-triggered and any libzmq call may consume its
//! edge, so [`poll_output`](TransportState::poll_output) never parks while a
//! call ran on a watched socket since its `ZMQ_EVENTS` was read.

use std::io;
use std::time::Instant;

use super::{Mode, Phase, TransportState, Wakes};
use crate::error;
use crate::exec::Budget;
use crate::output::{Output, Park, SendResult, Sock};
use crate::Multipart;

impl TransportState {
    /// Whether a libzmq call ran on the main socket since its `ZMQ_EVENTS` was read.
    pub fn events_stale(&self) -> bool {
        self.main.stale
    }

    /// Whether the driver is parked (it answered [`Output::Wait`] and has not
    /// begun a new turn).
    pub fn is_parked(&self) -> bool {
        self.parked
    }

    /// The driver starts a turn at `now`, with its `budget` of sends and
    /// receives before [`Output::Yield`]: after waking from [`Output::Wait`]
    /// or [`Output::Yield`].
    pub fn begin_turn(&mut self, now: Instant, budget: Budget) {
        self.parked = false;
        self.budget = match budget {
            Budget::Limit(n) => Some(n),
            Budget::Unlimited => None,
        };
        self.turn_started = Some(now);
    }

    /// Any libzmq call on the main socket that is not a send, receive or
    /// EVENTS read (bind, setsockopt, …). It may consume the FD's edge.
    pub fn handle_zmq_call(&mut self) {
        self.main.stale = true;
        self.maybe_wake();
    }

    /// The result of a driver send ([`Output::Send`]). Any failure but EAGAIN
    /// and EINTR is fatal, as in aiozmq: a buffered message has no caller left
    /// to be told, so even `EFSM` ends the transport.
    pub fn handle_send(&mut self, result: SendResult) {
        self.spend_budget();
        self.sent_from_buffer(result);
    }

    /// Where the message of an [`Output::Recv`] goes: libzmq fills it in
    /// place (a message is never moved after it is received), then the
    /// executor reports [`handle_recv`](Self::handle_recv).
    pub fn recv_slot(&mut self, sock: Sock) -> &mut Multipart {
        match (sock, &mut self.mode) {
            (Sock::Main, Mode::Protocol(d)) => {
                d.inbox.push_back(Multipart::new());
                d.inbox.back_mut().expect("just pushed")
            }
            (Sock::Main, Mode::Stream(q)) => q.slot(),
            (Sock::Monitor(_), _) => self.monitor.scratch(),
        }
    }

    /// The result of a driver receive ([`Output::Recv`]) into its
    /// [`recv_slot`](Self::recv_slot): `Ok` when the slot holds a whole
    /// message, else libzmq's errno. On the main socket, EAGAIN, EINTR and
    /// EFSM (REQ/REP out of turn) are not errors and others are fatal. On a
    /// monitor pipe the message is decoded into an event (a malformed one is
    /// counted and skipped) and a failure retires the pipe.
    pub fn handle_recv(&mut self, sock: Sock, result: Result<(), i32>) {
        self.spend_budget();
        match sock {
            Sock::Main => self.main_received(result),
            Sock::Monitor(id) => self.monitor_received(id, result),
        }
    }

    fn main_received(&mut self, result: Result<(), i32>) {
        self.main.stale = true;
        let keep = result.is_ok() && !self.is_closing();
        match &mut self.mode {
            Mode::Protocol(d) if !keep => drop(d.inbox.pop_back()),
            Mode::Protocol(_) => {}
            Mode::Stream(q) if !keep => q.unslot(),
            Mode::Stream(q) => {
                q.commit();
                if std::mem::take(&mut q.reader_waits) {
                    self.wakes.set(Wakes::READER);
                }
            }
        }
        match result {
            Ok(()) => {}
            Err(errno) if error::is_interrupted(errno) => {}
            Err(errno) if error::is_would_block(errno) || errno == error::EFSM => {
                self.main.readable = false
            }
            Err(errno) => self.fail(error::from_errno(errno)),
        }
    }

    /// After a receive: whether the executor receives again from `sock` at
    /// once — what [`poll_output`](Self::poll_output) would answer, without
    /// asking it for every message of a batch.
    pub fn recv_again(&self, sock: Sock) -> bool {
        sock == Sock::Main
            && self.wakes.is_empty()
            && self.budget != Some(0)
            && self.main.readable
            && !self.monitor_readable()
            && self.wants_recv()
    }

    /// After a send: the next message to send at once, if
    /// [`poll_output`](Self::poll_output) would answer [`Output::Send`] now.
    pub fn send_again(&mut self) -> Option<&Multipart> {
        if self.wakes.is_empty()
            && self.budget != Some(0)
            && self.main.writable
            && !self.monitor_readable()
            && !self.defers_to_writer()
        {
            self.write.front()
        } else {
            None
        }
    }

    /// `ZMQ_EVENTS` of this socket was read: `(POLLIN, POLLOUT)`, or an errno.
    /// EINTR leaves it unread (the driver reads again); another error on the
    /// main socket is fatal, on a monitor pipe it stops reading the pipe.
    pub fn handle_events(&mut self, sock: Sock, result: Result<(bool, bool), i32>) {
        match (sock, result) {
            (_, Err(errno)) if error::is_interrupted(errno) => {}
            (Sock::Main, Ok((pollin, pollout))) => {
                self.main.read(pollin, pollout);
                if !pollout {
                    self.defer_until = None;
                }
            }
            (Sock::Main, Err(errno)) => self.fail(error::from_errno(errno)),
            (Sock::Monitor(id), result) => self.monitor_events(id, result),
        }
    }

    /// This socket's FD signalled: something changed, so its EVENTS must be
    /// read again before the next park (the signal says nothing more).
    pub fn handle_fd_readable(&mut self, sock: Sock) {
        match sock {
            Sock::Main => self.main.stale = true,
            Sock::Monitor(id) => self.monitor_signalled(id),
        }
    }

    /// The driver registered this socket's FD: whatever signalled before the
    /// registration may be missed, so its EVENTS count as unread.
    pub fn handle_registered(&mut self, sock: Sock) {
        self.handle_fd_readable(sock);
    }

    /// The driver could not wait on the sockets a park named (its poll or
    /// its FD registration failed): nothing would ever wake it, so the
    /// transport fails with `err`, closes at once and reports
    /// `connection_lost(Some(err))`, rather than hang or spin.
    pub fn handle_wait_failed(&mut self, err: io::Error) {
        self.fail(io::Error::new(
            err.kind(),
            format!("the driver cannot wait on the transport's sockets: {err}"),
        ));
    }

    /// What the driver must do next. Call it until it returns [`Output::Wait`],
    /// [`Output::Yield`] or [`Output::Done`], acting on each answer in between.
    ///
    /// It never answers `Wait` while a libzmq call has run on a socket the
    /// driver waits on since that socket's `ZMQ_EVENTS` was read: that is what
    /// makes a lost wake-up impossible. Closing goes in one safe order: stop
    /// libzmq's monitor (it writes to its pipe with a blocking send), close the
    /// monitor pipes, close the main socket, then `connection_lost`.
    #[must_use = "every output asks the driver to act"]
    pub fn poll_output(&mut self) -> Output<'_> {
        if let Some(w) = self.poll_waiters() {
            return Output::Wake(w);
        }
        self.wakes.take(Wakes::DRIVER);
        if let Some(out) = self.poll_lifecycle() {
            return out;
        }
        if self.abandoned {
            self.phase = Phase::Done;
            return Output::Done;
        }
        if let Phase::Lost { .. } | Phase::Done = self.phase {
            return self.poll_end();
        }
        let spent = self.budget == Some(0);
        if !spent {
            if let Some((id, edge)) = self.monitor.active {
                if edge.readable {
                    return Output::Recv(Sock::Monitor(id));
                }
            }
            if self.main.writable && !self.write.is_empty() && !self.defers_to_writer() {
                return self.write.front().map_or(Output::Yield, Output::Send);
            }
            if self.main.readable && self.wants_recv() {
                return Output::Recv(Sock::Main);
            }
        }
        if self.claim_for_driver() {
            return Output::Deliver;
        }
        if spent {
            return Output::Yield;
        }
        if let Some((id, edge)) = self.monitor.active {
            if edge.stale {
                return Output::ReadEvents(Sock::Monitor(id));
            }
        }
        if self.main.stale {
            return Output::ReadEvents(Sock::Main);
        }
        self.park()
    }

    pub(super) fn park(&mut self) -> Output<'static> {
        self.parked = true;
        let deadline = match (self.flush_deadline(), self.writer_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Output::Wait(Park {
            main: self.main_open,
            monitor: self.monitor.active.map(|(id, _)| id),
            deadline,
        })
    }

    fn monitor_readable(&self) -> bool {
        self.monitor.active.is_some_and(|(_, e)| e.readable)
    }

    fn spend_budget(&mut self) {
        if let Some(left) = &mut self.budget {
            *left = left.saturating_sub(1);
        }
    }
}

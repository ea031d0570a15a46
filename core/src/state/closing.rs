//! Closing: `close()` flushes with a deadline, `abort()` and failures close
//! at once, and the sockets close in the one order that cannot hang libzmq
//! (stop the monitor, close its pipes, close the main socket), before
//! `connection_lost` — exactly once, last.

use std::io;
use std::time::{Duration, Instant};

use super::delivery::Claim;
use super::{Mode, Phase, TransportState, Wakes, CLOSE_LINGER_MS};
use crate::error;
use crate::output::{Output, Sock};

impl TransportState {
    /// `close()` at `now`: stop receiving, flush the buffer, then close the
    /// sockets and report `connection_lost(None)`. The flush gives up when no
    /// message has left for the socket's `LINGER` (the user's, −1 meaning for
    /// ever; else [`CLOSE_LINGER_MS`]): then `connection_lost` carries a
    /// `TimedOut` error saying how many messages were dropped. Messages
    /// received and not yet delivered to a protocol are dropped; a stream's
    /// queue stays readable. Idempotent.
    pub fn close(&mut self, now: Instant) {
        if let Phase::Open = self.phase {
            self.phase = Phase::Flushing {
                last_progress: now,
                linger: flush_linger(self.user_linger),
            };
            self.stop_receiving();
            self.request_wake();
        }
    }

    /// `abort()`: drop the buffer and close at once with zero linger, then
    /// `connection_lost(None)`. Returns how many messages were dropped. Idempotent.
    pub fn abort(&mut self) -> usize {
        match self.phase {
            Phase::Open | Phase::Flushing { .. } => {
                self.phase = Phase::Closing {
                    exc: None,
                    linger: 0,
                };
                self.stop_receiving();
                self.request_wake();
                self.write.clear()
            }
            _ => 0,
        }
    }

    /// A failure that ends the transport: drop everything, close at once,
    /// then `connection_lost(Some(err))`. The first cause wins: ignored once
    /// the transport is aborting, failed or closed.
    pub fn fail(&mut self, err: io::Error) {
        if let Phase::Open | Phase::Flushing { .. } = self.phase {
            self.write.clear();
            self.loss = Some(error::duplicate(&err));
            self.phase = Phase::Closing {
                exc: Some(err),
                linger: 0,
            };
            self.stop_receiving();
            self.request_wake();
        }
    }

    /// The time the driver was asked to wake at has come (it may be late).
    /// A flush that made no progress for its linger gives up: the rest of the
    /// buffer is dropped and `connection_lost` carries `TimedOut`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.writer_timeout(now);
        let Phase::Flushing {
            last_progress,
            linger: Some(linger),
        } = self.phase
        else {
            return;
        };
        if self.write.is_empty() || now < last_progress + linger {
            return;
        }
        let dropped = self.write.clear();
        let err = error::timed_out(format!(
            "close() gave up after {} ms without progress: {dropped} buffered message{} dropped",
            linger.as_millis(),
            if dropped == 1 { "" } else { "s" },
        ));
        self.loss = Some(error::duplicate(&err));
        self.phase = Phase::Closing {
            exc: Some(err),
            linger: 0,
        };
        self.request_wake();
    }

    /// The socket an [`Output::Close`] named is closed.
    pub fn handle_closed(&mut self, sock: Sock) {
        match sock {
            Sock::Monitor(id) => self.monitor.retired.retain(|r| *r != id),
            Sock::Main => {
                self.main_open = false;
                if let Phase::Closing { exc, .. } = &mut self.phase {
                    let exc = exc.take();
                    self.phase = Phase::Lost { exc };
                }
            }
        }
    }

    /// The driver is gone (its task was dropped with its runtime, its thread
    /// ended): nothing will be delivered any more. Closes everything at once:
    /// [`poll_output`](Self::poll_output) now yields only the steps that close
    /// the sockets, in their safe order, then [`Output::Done`].
    pub fn handle_driver_gone(&mut self) {
        self.abandoned = true;
        self.write.clear();
        if let Phase::Open | Phase::Flushing { .. } = self.phase {
            self.phase = Phase::Closing {
                exc: None,
                linger: 0,
            };
            self.stop_receiving();
        }
        if let Mode::Protocol(d) = &mut self.mode {
            d.flows.clear();
            d.claim = None;
        }
    }

    /// The flush's progress: a message left the buffer in the turn that
    /// began at `turn_started`.
    pub(super) fn flush_progressed(&mut self) {
        if let (Phase::Flushing { last_progress, .. }, Some(now)) =
            (&mut self.phase, self.turn_started)
        {
            *last_progress = (*last_progress).max(now);
        }
    }

    /// When a parked flush gives up, if it can.
    pub(super) fn flush_deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Flushing {
                last_progress,
                linger: Some(linger),
            } if !self.write.is_empty() => Some(last_progress + linger),
            _ => None,
        }
    }

    /// The steps of closing, in order, and the retirement of monitor pipes.
    pub(super) fn poll_lifecycle(&mut self) -> Option<Output<'static>> {
        if let Phase::Flushing { .. } = self.phase {
            if self.write.is_empty() {
                self.phase = Phase::Closing {
                    exc: None,
                    linger: self.user_linger.unwrap_or(CLOSE_LINGER_MS),
                };
            }
        }
        let closing = matches!(self.phase, Phase::Closing { .. });
        if closing && self.monitor.active.is_some() && self.main_open {
            return Some(Output::StopMonitor);
        }
        if let Some(&id) = self.monitor.retired.first() {
            return Some(Output::Close {
                sock: Sock::Monitor(id),
                linger: 0,
            });
        }
        if let Phase::Closing { linger, .. } = self.phase {
            if self.main_open && self.monitor.active.is_none() {
                return Some(Output::Close {
                    sock: Sock::Main,
                    linger,
                });
            }
            if !self.main_open {
                // Only a monitor that could not be stopped is left: it stays
                // open rather than risk hanging libzmq.
                let exc = match &mut self.phase {
                    Phase::Closing { exc, .. } => exc.take(),
                    _ => None,
                };
                self.phase = Phase::Lost { exc };
            }
        }
        None
    }

    /// After the sockets closed: `connection_lost` for a protocol, the end of
    /// the stream for a reader, then `Done`.
    pub(super) fn poll_end(&mut self) -> Output<'static> {
        match &mut self.mode {
            Mode::Stream(_) => {
                self.phase = Phase::Done;
                Output::Done
            }
            Mode::Protocol(d) => match d.claim {
                None if !matches!(self.phase, Phase::Done) => {
                    d.claim = Some(Claim::Driver);
                    d.flow_offered = false;
                    Output::Deliver
                }
                None => Output::Done,
                Some(_) => self.park(),
            },
        }
    }

    /// Closing or failing: nothing more is received or delivered but flow
    /// callbacks already owed; a stream keeps what it queued, and every
    /// stream waiter learns the news.
    fn stop_receiving(&mut self) {
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.inbox.clear();
                d.events.clear();
            }
            Mode::Stream(q) => {
                q.clear_events();
                q.reader_waits = false;
                q.events_wait = false;
                q.drain_waits = false;
                self.wakes.set(Wakes::READER | Wakes::EVENTS | Wakes::DRAIN);
            }
        }
        self.interrupt_deliverer();
    }
}

fn flush_linger(user_linger: Option<i32>) -> Option<Duration> {
    match user_linger {
        None => Some(Duration::from_millis(CLOSE_LINGER_MS as u64)),
        Some(ms) if ms < 0 => None,
        Some(ms) => Some(Duration::from_millis(ms as u64)),
    }
}

//! Writing: aiozmq's fast path (send at once while nothing is buffered), the
//! write buffer behind it, and the water-mark crossings that pause and
//! resume the writer — each reported exactly once.
//!
//! **Who flushes the buffer.** A writer that finds messages buffered and the
//! socket writable sends them itself, in order, before its own (the libzmq
//! calls stay on the writer's thread). So while a writer keeps writing, the
//! driver leaves the buffer to it: when the socket becomes writable again
//! the driver only notes it, and flushes itself once [`WRITER_GRACE`] passed
//! without a write — or at once when writing is paused (the writer waits
//! for `resume_writing`) or the transport is closing.

use std::io;
use std::time::{Duration, Instant};

use super::{Mode, Phase, TransportState, Wakes};
use crate::error;
use crate::limits::WaterMarks;
use crate::output::{SendResult, WriteAction};
use crate::write_buffer::Crossing;
use crate::Multipart;

/// How long the driver leaves a buffer it could send to the writer that
/// keeps writing, before it sends it itself: a writer that stops mid-burst
/// delays the rest of its buffer by this much at most (timers of a runtime
/// may round it up to their tick).
pub const WRITER_GRACE: Duration = Duration::from_millis(1);

/// A caller's door to writing: [`TransportState::writer`].
#[derive(Debug)]
pub struct Writer<'a> {
    pub(super) state: &'a mut TransportState,
}

impl Writer<'_> {
    /// `write(msg)`: checks the message and says what to do with it. While
    /// nothing is buffered the caller sends it at once (aiozmq's fast path,
    /// whatever the last EVENTS said, so a REQ writing out of turn gets EFSM
    /// every time); otherwise it joins the buffer behind the others.
    ///
    /// Refused (and counted) once closing: `NotConnected`.
    pub fn write(&mut self, msg: &Multipart) -> io::Result<WriteAction> {
        let s = &mut *self.state;
        if s.is_closing() {
            s.refused_writes += 1;
            return Err(error::not_connected(
                "write after the transport was closed or lost",
            ));
        }
        if !s.socket_type.can_send() {
            return Err(error::unsupported(format!(
                "a {} socket cannot send",
                s.socket_type
            )));
        }
        if msg.is_empty() {
            return Err(error::invalid_input(
                "a multipart message needs at least one frame",
            ));
        }
        if s.write.is_empty() {
            return Ok(WriteAction::SendNow);
        }
        s.writer_recent = true;
        Ok(if s.main.writable {
            WriteAction::Flush
        } else {
            WriteAction::Enqueue
        })
    }

    /// During [`WriteAction::Flush`]: the buffered message to send next, while
    /// the socket may take it.
    pub fn flush_front(&self) -> Option<&Multipart> {
        let s = &*self.state;
        if s.main.writable && matches!(s.phase, Phase::Open) {
            s.write.front()
        } else {
            None
        }
    }

    /// The result of sending [`flush_front`](Self::flush_front)'s message:
    /// as a driver send (a failure is fatal: that message's caller is gone).
    pub fn handle_flushed(&mut self, result: SendResult) {
        self.state.sent_from_buffer(result);
    }

    /// After the flush: what to do with the writer's own message —
    /// [`WriteAction::SendNow`] when the buffer is empty, else
    /// [`WriteAction::Enqueue`]; the transport's loss if the flush failed it.
    pub fn after_flush(&mut self) -> io::Result<WriteAction> {
        let s = &mut *self.state;
        if let Some(e) = &s.loss {
            return Err(error::duplicate(e));
        }
        s.maybe_wake();
        Ok(if s.write.is_empty() {
            WriteAction::SendNow
        } else {
            WriteAction::Enqueue
        })
    }

    /// Buffers a message [`write`](Self::write) or
    /// [`handle_direct_send`](Self::handle_direct_send) said to enqueue.
    #[inline]
    pub fn enqueue(&mut self, msg: Multipart) {
        self.state.write.push(msg);
        self.state.settle_flow();
        self.state.maybe_wake();
    }

    /// The result of the fast-path send that [`WriteAction::SendNow`] asked for.
    ///
    /// `Ok(Done)`: sent. `Ok(Enqueue)`: the socket is full, buffer it. A message
    /// the socket rejects on its own (`EFSM`, `EHOSTUNREACH`) is an error for
    /// this message only, and the transport stays usable (the caller is there
    /// to be told). Any other failure is fatal: the error is returned and
    /// `connection_lost(exc)` follows.
    pub fn handle_direct_send(&mut self, result: SendResult) -> io::Result<WriteAction> {
        let s = &mut *self.state;
        s.main.stale = true;
        let outcome = match result {
            SendResult::Sent => Ok(WriteAction::Done),
            SendResult::Refused(errno) if error::is_would_block(errno) => {
                s.main.writable = false;
                s.writer_recent = true;
                s.defer_until = None;
                Ok(WriteAction::Enqueue)
            }
            // Buffered with the socket still writable: the driver retries.
            SendResult::Refused(errno) if error::is_interrupted(errno) => Ok(WriteAction::Enqueue),
            SendResult::Refused(errno) if error::rejects_only_the_message(errno) => {
                Err(error::from_errno(errno))
            }
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                let err = error::from_errno(errno);
                let copy = error::duplicate(&err);
                s.fail(err);
                Err(copy)
            }
        };
        s.maybe_wake();
        outcome
    }

    /// `set_write_buffer_limits(high, low)`; may pause or resume at once.
    pub fn set_limits(&mut self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        let s = &mut *self.state;
        s.require_open()?;
        s.write.set_limits(WaterMarks::new(high, low)?);
        s.settle_flow();
        s.maybe_wake();
        Ok(())
    }
}

impl TransportState {
    /// Bytes buffered, all frames of all messages not yet accepted by libzmq.
    pub fn write_buffer_size(&self) -> usize {
        self.write.bytes()
    }

    /// Messages buffered.
    pub fn write_buffer_len(&self) -> usize {
        self.write.len()
    }

    /// `(low, high)` write water marks.
    pub fn write_limits(&self) -> (usize, usize) {
        self.write.limits().get()
    }

    /// Whether writing is paused: the buffer went over high and has not come
    /// back to low. The protocol hears of it through `pause_writing`, a
    /// stream's `drain()` waits on it.
    pub fn is_writing_paused(&self) -> bool {
        self.write.is_paused()
    }

    /// Writes refused because the transport was closing or lost.
    pub fn refused_writes(&self) -> u64 {
        self.refused_writes
    }

    /// A message of the buffer went to libzmq (or not): the driver's sends
    /// and a writer's flush alike. Any failure but EAGAIN and EINTR is fatal,
    /// as in aiozmq: a buffered message has no caller left to be told, so
    /// even `EFSM` ends the transport.
    pub(super) fn sent_from_buffer(&mut self, result: SendResult) {
        self.main.stale = true;
        match result {
            SendResult::Sent => {
                self.write.pop();
                self.flush_progressed();
            }
            SendResult::Refused(errno) if error::is_would_block(errno) => {
                // The room is used up: a grace given for it is over.
                self.main.writable = false;
                self.defer_until = None;
            }
            SendResult::Refused(errno) if error::is_interrupted(errno) => {}
            SendResult::Refused(errno) | SendResult::Broken(errno) => {
                self.fail(error::from_errno(errno))
            }
        }
        self.settle_flow();
    }

    /// Whether the driver leaves a sendable buffer to the writer now: a
    /// write came since it last looked (it then waits [`WRITER_GRACE`] for
    /// the next one), unless writing is paused or the transport closing.
    pub(super) fn defers_to_writer(&mut self) -> bool {
        if !matches!(self.phase, Phase::Open) || self.write.is_paused() {
            self.defer_until = None;
            return false;
        }
        if self.defer_until.is_some() {
            return true;
        }
        if std::mem::take(&mut self.writer_recent) {
            self.defer_until = self.turn_started.map(|t| t + WRITER_GRACE);
            return self.defer_until.is_some();
        }
        false
    }

    /// Whether the driver is leaving a sendable buffer to the writer now.
    pub(super) fn deferring(&self) -> bool {
        self.defer_until.is_some() && matches!(self.phase, Phase::Open) && !self.write.is_paused()
    }

    /// When a parked driver that left the buffer to the writer looks again.
    pub(super) fn writer_deadline(&self) -> Option<Instant> {
        if self.main.writable && !self.write.is_empty() {
            self.defer_until
        } else {
            None
        }
    }

    /// The clock passed `now`: a grace given to the writer may be over.
    pub(super) fn writer_timeout(&mut self, now: Instant) {
        if self.defer_until.is_some_and(|at| now >= at) {
            // The grace is spent: writes before this moment give no new one.
            self.defer_until = None;
            self.writer_recent = false;
        }
    }

    /// Reports a water-mark crossing once: over high pauses, at or below low
    /// resumes. None once closing: the protocol only awaits `connection_lost`.
    pub(super) fn settle_flow(&mut self) {
        if self.is_closing() {
            return;
        }
        let Some(crossing) = self.write.settle() else {
            return;
        };
        if crossing == Crossing::Resume {
            // The writer waited for this: until it writes again, the rest
            // of the buffer is the driver's to send.
            self.writer_recent = false;
            self.defer_until = None;
        }
        match &mut self.mode {
            Mode::Protocol(d) => {
                d.flows.push_back(crossing);
                d.flow_offered = false;
                if d.claim.is_some() {
                    self.wakes.set(Wakes::DELIVERER);
                }
            }
            Mode::Stream(q) => {
                if crossing == Crossing::Resume && std::mem::take(&mut q.drain_waits) {
                    self.wakes.set(Wakes::DRAIN);
                }
            }
        }
    }
}

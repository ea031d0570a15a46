//! Writing: aiozmq's fast path (send at once while nothing is buffered), the
//! write buffer behind it, and the water-mark crossings that pause and
//! resume the writer — each reported exactly once.

use std::io;

use super::{Mode, TransportState, Wakes};
use crate::error;
use crate::limits::WaterMarks;
use crate::output::{SendResult, WriteAction};
use crate::write_buffer::Crossing;
use crate::Multipart;

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
        Ok(if s.write.is_empty() {
            WriteAction::SendNow
        } else {
            WriteAction::Enqueue
        })
    }

    /// Buffers a message [`write`](Self::write) or
    /// [`handle_direct_send`](Self::handle_direct_send) said to enqueue.
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

    /// Reports a water-mark crossing once: over high pauses, at or below low
    /// resumes. None once closing: the protocol only awaits `connection_lost`.
    pub(super) fn settle_flow(&mut self) {
        if self.is_closing() {
            return;
        }
        let Some(crossing) = self.write.settle() else {
            return;
        };
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

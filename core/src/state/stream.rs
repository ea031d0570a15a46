//! A stream's reader: what `ZmqStream` pulls instead of callbacks — its
//! read queue with read water marks, the events backlog, and `drain()`.

use std::io;

use super::{Mode, TransportState};
use crate::error;
use crate::limits::WaterMarks;
use crate::output::Read;
use crate::{Multipart, SocketEvent};

/// A stream reader's door: [`TransportState::stream`].
#[derive(Debug)]
pub struct StreamSide<'a> {
    pub(super) state: &'a mut TransportState,
}

impl StreamSide<'_> {
    /// `read()`: the oldest message; after close or loss, what is queued,
    /// then `ConnectionAborted`. `Pending` arms [`Waiter::Reader`](crate::Waiter::Reader).
    pub fn read(&mut self) -> Read<Multipart> {
        let s = &mut *self.state;
        let closing = s.is_closing();
        let Mode::Stream(q) = &mut s.mode else {
            return Read::Closed(error::unsupported("read() is for streams"));
        };
        match q.pop() {
            Some((msg, room_again)) => {
                if room_again {
                    s.maybe_wake();
                }
                Read::Ready(msg)
            }
            None if closing => Read::Closed(stream_closed()),
            None => {
                q.reader_waits = true;
                Read::Pending
            }
        }
    }

    /// `read_event()`: the oldest kept event; after close or loss,
    /// `ConnectionAborted` once none is left. `Pending` arms
    /// [`Waiter::Events`](crate::Waiter::Events).
    pub fn read_event(&mut self) -> Read<SocketEvent> {
        let s = &mut *self.state;
        let closing = s.is_closing();
        let Mode::Stream(q) = &mut s.mode else {
            return Read::Closed(error::unsupported("read_event() is for streams"));
        };
        match q.pop_event() {
            Some(ev) => Read::Ready(ev),
            None if closing => Read::Closed(stream_closed()),
            None => {
                q.events_wait = true;
                Read::Pending
            }
        }
    }

    /// `drain()`: ready while writing is not paused; after close or loss, the
    /// error the transport was lost with, else `ConnectionReset`. `Pending`
    /// arms [`Waiter::Drain`](crate::Waiter::Drain).
    pub fn drain(&mut self) -> Read<()> {
        let s = &mut *self.state;
        if s.is_closing() {
            return Read::Closed(match &s.loss {
                Some(e) => error::duplicate(e),
                None => io::Error::new(io::ErrorKind::ConnectionReset, "connection closed"),
            });
        }
        if !s.write.is_paused() {
            return Read::Ready(());
        }
        if let Mode::Stream(q) = &mut s.mode {
            q.drain_waits = true;
        }
        Read::Pending
    }

    /// `set_read_buffer_limits(high, low)`.
    pub fn set_read_limits(&mut self, high: Option<usize>, low: Option<usize>) -> io::Result<()> {
        let s = &mut *self.state;
        let limits = WaterMarks::new(high, low)?;
        match &mut s.mode {
            Mode::Stream(q) => q.set_limits(limits),
            Mode::Protocol(_) => {
                return Err(error::unsupported("read limits are for streams"));
            }
        }
        s.maybe_wake();
        Ok(())
    }
}

impl TransportState {
    /// `(low, high)` read water marks of a stream (`None` for a protocol).
    pub fn read_limits(&self) -> Option<(usize, usize)> {
        match &self.mode {
            Mode::Stream(q) => Some(q.limits().get()),
            Mode::Protocol(_) => None,
        }
    }

    /// Messages a stream holds unread, and their bytes (a protocol: messages
    /// received and not yet delivered, and 0).
    pub fn read_queue(&self) -> (usize, usize) {
        match &self.mode {
            Mode::Stream(q) => (q.len(), q.bytes()),
            Mode::Protocol(d) => (d.inbox.len(), 0),
        }
    }
}

fn stream_closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "stream closed")
}

//! `StreamState`: the sans-IO half of aiozmq's `ZmqStream` — the read queue
//! with its water marks, the events backlog, write pausing for `drain()`, and
//! the end of the stream. Drivers add only the waiting (wakers, condvars).

use std::collections::VecDeque;
use std::io;

use crate::error;
use crate::limits::WaterMarks;
use crate::{Multipart, SocketEvent};

/// Default number of monitor events a stream keeps; older ones are dropped.
pub const DEFAULT_EVENTS_BACKLOG: usize = 100;

/// What the stream asks of its transport after an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadFlow {
    /// Nothing to do.
    Keep,
    /// The queue went over its high-water mark: pause the transport's reading.
    Pause,
    /// The queue came back to its low-water mark: resume the transport's reading.
    Resume,
}

/// The outcome of a read attempt.
#[derive(Debug)]
pub enum Read<T> {
    /// An item, and what to tell the transport.
    Ready(T, ReadFlow),
    /// Nothing yet: wait for the next input.
    Pending,
    /// The stream ended and everything queued was read.
    Closed(io::Error),
}

/// The state of one stream.
#[derive(Debug)]
pub struct StreamState {
    queue: VecDeque<Multipart>,
    queue_size: usize,
    limits: WaterMarks,
    transport_paused: bool,
    events: VecDeque<SocketEvent>,
    events_backlog: usize,
    writing_paused: bool,
    lost: Option<Option<io::Error>>,
}

fn frames_len(msg: &Multipart) -> usize {
    msg.iter().map(|f| f.len()).sum()
}

fn stream_closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "stream closed")
}

impl StreamState {
    /// A stream with these read water marks and events backlog.
    pub fn new(limits: WaterMarks, events_backlog: usize) -> StreamState {
        StreamState {
            queue: VecDeque::new(),
            queue_size: 0,
            limits,
            transport_paused: false,
            events: VecDeque::new(),
            events_backlog,
            writing_paused: false,
            lost: None,
        }
    }

    /// `(low, high)` read water marks.
    pub fn read_limits(&self) -> (usize, usize) {
        self.limits.get()
    }

    /// Sets the read water marks; may ask to pause or resume at once.
    pub fn set_read_limits(
        &mut self,
        high: Option<usize>,
        low: Option<usize>,
    ) -> io::Result<ReadFlow> {
        self.limits = WaterMarks::new(high, low)?;
        Ok(self.settle())
    }

    /// Bytes queued for `read()`.
    pub fn queue_size(&self) -> usize {
        self.queue_size
    }

    /// Messages queued for `read()`.
    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    /// The transport's `msg_received`.
    pub fn on_msg(&mut self, msg: Multipart) -> ReadFlow {
        self.queue_size += frames_len(&msg);
        self.queue.push_back(msg);
        self.settle()
    }

    /// The transport's `event_received`; keeps the newest `events_backlog`.
    pub fn on_event(&mut self, event: SocketEvent) {
        if self.events_backlog == 0 {
            return;
        }
        if self.events.len() == self.events_backlog {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    /// The transport's `pause_writing`.
    pub fn on_pause_writing(&mut self) {
        self.writing_paused = true;
    }

    /// The transport's `resume_writing`.
    pub fn on_resume_writing(&mut self) {
        self.writing_paused = false;
    }

    /// The transport's `connection_lost`.
    pub fn on_connection_lost(&mut self, exc: Option<io::Error>) {
        if self.lost.is_none() {
            self.lost = Some(exc);
        }
    }

    /// `read()`: the oldest message, then after loss `ConnectionAborted`.
    pub fn read(&mut self) -> Read<Multipart> {
        match self.queue.pop_front() {
            Some(msg) => {
                self.queue_size -= frames_len(&msg);
                let flow = self.settle();
                Read::Ready(msg, flow)
            }
            None if self.lost.is_some() => Read::Closed(stream_closed()),
            None => Read::Pending,
        }
    }

    /// `read_event()`: the oldest kept event, then after loss `ConnectionAborted`.
    pub fn read_event(&mut self) -> Read<SocketEvent> {
        match self.events.pop_front() {
            Some(ev) => Read::Ready(ev, ReadFlow::Keep),
            None if self.lost.is_some() => Read::Closed(stream_closed()),
            None => Read::Pending,
        }
    }

    /// `drain()`: `Ok(true)` when writing may go on, `Ok(false)` to wait for
    /// `resume_writing`; after loss, the loss's error or `ConnectionReset`.
    pub fn drain(&self) -> io::Result<bool> {
        match &self.lost {
            Some(Some(exc)) => Err(error::duplicate(exc)),
            Some(None) => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "connection closed",
            )),
            None => Ok(!self.writing_paused),
        }
    }

    /// After applying `applied` to the transport: what to apply next so the
    /// transport ends as this state wants it, or `Keep` when it already does.
    ///
    /// Decisions are made under the stream's lock but applied after it is
    /// released, from the driver's thread (pause) and the reader's (resume):
    /// a resume can reach the transport before the pause decided earlier.
    /// Each applier re-checks with this after its call, so whoever applies
    /// last also puts the transport right.
    pub fn reconcile(&self, applied: ReadFlow) -> ReadFlow {
        let applied_paused = match applied {
            ReadFlow::Keep => return ReadFlow::Keep,
            ReadFlow::Pause => true,
            ReadFlow::Resume => false,
        };
        match (self.transport_paused, applied_paused) {
            (want, got) if want == got => ReadFlow::Keep,
            (true, _) => ReadFlow::Pause,
            (false, _) => ReadFlow::Resume,
        }
    }

    /// The connection was lost or closed.
    pub fn is_lost(&self) -> bool {
        self.lost.is_some()
    }

    /// aiozmq's `at_closing()`: lost, and every queued message was read.
    pub fn at_closing(&self) -> bool {
        self.lost.is_some() && self.queue.is_empty()
    }

    fn settle(&mut self) -> ReadFlow {
        if self.lost.is_some() {
            return ReadFlow::Keep;
        }
        if !self.transport_paused && self.limits.over_high(self.queue_size) {
            self.transport_paused = true;
            ReadFlow::Pause
        } else if self.transport_paused && self.limits.at_or_below_low(self.queue_size) {
            self.transport_paused = false;
            ReadFlow::Resume
        } else {
            ReadFlow::Keep
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(n: usize) -> Multipart {
        Multipart::from_iter([Bytes::from(vec![0u8; n])])
    }

    #[test]
    fn pauses_over_high_and_resumes_at_low() {
        let mut s = StreamState::new(WaterMarks::new(Some(10), Some(4)).unwrap(), 2);
        assert_eq!(s.on_msg(msg(6)), ReadFlow::Keep);
        assert_eq!(s.on_msg(msg(5)), ReadFlow::Pause);
        assert_eq!(s.on_msg(msg(1)), ReadFlow::Keep);
        assert!(matches!(s.read(), Read::Ready(_, ReadFlow::Keep)));
        assert!(matches!(s.read(), Read::Ready(_, ReadFlow::Resume)));
        assert!(matches!(s.read(), Read::Ready(_, ReadFlow::Keep)));
        assert!(matches!(s.read(), Read::Pending));
    }

    #[test]
    fn reconcile_repairs_a_resume_that_overtook_its_pause() {
        let mut s = StreamState::new(WaterMarks::new(Some(10), Some(4)).unwrap(), 1);
        // The driver decides Pause; before it applies it, the reader decides Resume.
        assert_eq!(s.on_msg(msg(11)), ReadFlow::Pause);
        assert!(matches!(s.read(), Read::Ready(_, ReadFlow::Resume)));
        // The reader's resume lands first and agrees with the state: done.
        assert_eq!(s.reconcile(ReadFlow::Resume), ReadFlow::Keep);
        // The driver's late pause disagrees: it must resume again.
        assert_eq!(s.reconcile(ReadFlow::Pause), ReadFlow::Resume);
        assert_eq!(s.reconcile(ReadFlow::Resume), ReadFlow::Keep);
        assert_eq!(s.reconcile(ReadFlow::Keep), ReadFlow::Keep);
    }

    #[test]
    fn empty_frames_message_is_readable() {
        let mut s = StreamState::new(WaterMarks::default(), 1);
        s.on_msg(Multipart::from_iter([Bytes::new(), Bytes::new()]));
        match s.read() {
            Read::Ready(m, _) => assert_eq!(m.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn queued_messages_outlive_loss_then_aborted() {
        let mut s = StreamState::new(WaterMarks::default(), 1);
        s.on_msg(msg(1));
        s.on_connection_lost(None);
        assert!(!s.at_closing());
        assert!(matches!(s.read(), Read::Ready(..)));
        assert!(s.at_closing());
        match s.read() {
            Read::Closed(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            s.drain().unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
    }

    #[test]
    fn events_backlog_keeps_newest() {
        let mut s = StreamState::new(WaterMarks::default(), 2);
        for v in 0..3 {
            s.on_event(SocketEvent {
                event: 1,
                value: v,
                endpoint: String::new(),
            });
        }
        let Read::Ready(ev, _) = s.read_event() else {
            panic!()
        };
        assert_eq!(ev.value, 1);
    }

    #[test]
    fn drain_follows_pause_and_reports_loss_error() {
        let mut s = StreamState::new(WaterMarks::default(), 1);
        assert!(s.drain().unwrap());
        s.on_pause_writing();
        assert!(!s.drain().unwrap());
        s.on_resume_writing();
        assert!(s.drain().unwrap());
        s.on_connection_lost(Some(error::from_errno(error::ETERM)));
        assert_eq!(
            error::zmq_errno(&s.drain().unwrap_err()),
            Some(error::ETERM)
        );
    }
}

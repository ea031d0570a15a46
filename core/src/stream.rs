//! The stream API's read side: received messages wait in a queue bounded by
//! read water marks until `read()` takes them, and monitor events in a
//! backlog that keeps the newest. No protocol, no callbacks: the reader
//! pulls from the state and the state says when to wake it.

use std::collections::VecDeque;

use crate::limits::WaterMarks;
use crate::write_buffer::message_cost;
use crate::{Multipart, SocketEvent};

/// Default number of monitor events a stream keeps; older ones are dropped.
pub const DEFAULT_EVENTS_BACKLOG: usize = 100;

/// How a stream is set up: read water marks and events backlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Receiving stops when the unread queue goes over high, and starts again
    /// at low (aiozmq's defaults: 64 KiB / 16 KiB).
    pub read_limits: WaterMarks,
    /// How many monitor events to keep unread.
    pub events_backlog: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            read_limits: WaterMarks::default(),
            events_backlog: DEFAULT_EVENTS_BACKLOG,
        }
    }
}

#[derive(Debug)]
pub(crate) struct StreamQueue {
    queue: VecDeque<Multipart>,
    bytes: usize,
    limits: WaterMarks,
    /// Over high: no receiving until the reader brings it to low.
    full: bool,
    events: VecDeque<SocketEvent>,
    events_backlog: usize,
    pub(crate) reader_waits: bool,
    pub(crate) events_wait: bool,
    pub(crate) drain_waits: bool,
}

impl StreamQueue {
    pub(crate) fn new(config: StreamConfig) -> StreamQueue {
        StreamQueue {
            queue: VecDeque::new(),
            bytes: 0,
            limits: config.read_limits,
            full: false,
            events: VecDeque::new(),
            events_backlog: config.events_backlog,
            reader_waits: false,
            events_wait: false,
            drain_waits: false,
        }
    }

    pub(crate) fn limits(&self) -> WaterMarks {
        self.limits
    }

    /// New water marks; the gate follows at once.
    pub(crate) fn set_limits(&mut self, limits: WaterMarks) {
        self.limits = limits;
        self.settle();
    }

    /// Whether the queue has room for more (receiving may go on).
    pub(crate) fn has_room(&self) -> bool {
        !self.full
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// An empty message at the back for libzmq to fill in place (no move of
    /// the message afterwards); [`commit`](Self::commit) or
    /// [`unslot`](Self::unslot) follows.
    pub(crate) fn slot(&mut self) -> &mut Multipart {
        self.queue.push_back(Multipart::new());
        self.queue.back_mut().expect("just pushed")
    }

    /// The slot was filled: it counts now.
    pub(crate) fn commit(&mut self) {
        if let Some(msg) = self.queue.back() {
            self.bytes += message_cost(msg);
            self.settle();
        }
    }

    /// The slot stays empty: take it back.
    pub(crate) fn unslot(&mut self) {
        self.queue.pop_back();
    }

    #[cfg(test)]
    pub(crate) fn push(&mut self, msg: Multipart) {
        *self.slot() = msg;
        self.commit();
    }

    /// The oldest message; `true` with it when taking it made room again.
    pub(crate) fn pop(&mut self) -> Option<(Multipart, bool)> {
        let msg = self.queue.pop_front()?;
        self.bytes -= message_cost(&msg);
        let was_full = self.full;
        self.settle();
        Some((msg, was_full && !self.full))
    }

    /// Keeps the newest `events_backlog` events.
    pub(crate) fn push_event(&mut self, event: SocketEvent) {
        if self.events_backlog == 0 {
            return;
        }
        if self.events.len() == self.events_backlog {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    pub(crate) fn pop_event(&mut self) -> Option<SocketEvent> {
        self.events.pop_front()
    }

    pub(crate) fn clear_events(&mut self) {
        self.events.clear();
    }

    fn settle(&mut self) {
        if !self.full && self.limits.over_high(self.bytes) {
            self.full = true;
        } else if self.full && self.limits.at_or_below_low(self.bytes) {
            self.full = false;
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
    fn full_over_high_room_again_at_low() {
        let mut q = StreamQueue::new(StreamConfig {
            read_limits: WaterMarks::new(Some(100), Some(40)).unwrap(),
            events_backlog: 2,
        });
        q.push(msg(60));
        assert!(q.has_room());
        q.push(msg(50));
        assert!(!q.has_room(), "110 > 100");
        q.push(msg(1));
        assert!(!q.pop().unwrap().1, "50 + 16 left: still over low");
        assert!(q.pop().unwrap().1, "16 left: room again");
        assert!(q.has_room());
    }

    #[test]
    fn empty_messages_fill_the_queue() {
        let mut q = StreamQueue::new(StreamConfig {
            read_limits: WaterMarks::new(Some(100), Some(40)).unwrap(),
            events_backlog: 2,
        });
        let empty = Multipart::from_iter([Bytes::new()]);
        for _ in 0..100 / crate::MIN_MESSAGE_COST {
            q.push(empty.clone());
        }
        assert!(q.has_room(), "6 × 16 = 96: not over 100");
        q.push(empty.clone());
        assert!(!q.has_room(), "7 empty messages weigh 112 > 100");
    }

    #[test]
    fn events_backlog_keeps_newest() {
        let mut q = StreamQueue::new(StreamConfig {
            events_backlog: 2,
            ..StreamConfig::default()
        });
        for value in 0..3 {
            q.push_event(SocketEvent {
                event: 1,
                value,
                endpoint: String::new(),
            });
        }
        assert_eq!(q.pop_event().unwrap().value, 1);
    }
}

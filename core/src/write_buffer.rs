//! The write buffer: messages libzmq has not taken yet, their size in bytes,
//! and the water-mark crossings that pause and resume the writer.

use std::collections::VecDeque;

use crate::limits::{WaterMarks, MIN_MESSAGE_COST};
use crate::Multipart;

/// A water-mark crossing, reported once each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// Strictly over high: `pause_writing`.
    Pause,
    /// Back at low or below: `resume_writing`.
    Resume,
}

pub(crate) fn frames_len(msg: &Multipart) -> usize {
    msg.iter().map(|f| f.len()).sum()
}

/// What a message weighs against the water marks: its payload, but at least
/// [`MIN_MESSAGE_COST`], so messages of empty frames still fill a buffer.
pub(crate) fn message_cost(msg: &Multipart) -> usize {
    frames_len(msg).max(MIN_MESSAGE_COST)
}

#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    msgs: VecDeque<Multipart>,
    /// Payload bytes: what `get_write_buffer_size` reports.
    bytes: usize,
    /// What the water marks compare: see [`message_cost`].
    cost: usize,
    limits: WaterMarks,
    paused: bool,
}

impl WriteBuffer {
    pub(crate) fn is_empty(&self) -> bool {
        self.msgs.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.msgs.len()
    }

    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn limits(&self) -> WaterMarks {
        self.limits
    }

    pub(crate) fn set_limits(&mut self, limits: WaterMarks) {
        self.limits = limits;
    }

    pub(crate) fn is_paused(&self) -> bool {
        self.paused
    }

    pub(crate) fn front(&self) -> Option<&Multipart> {
        self.msgs.front()
    }

    #[inline]
    pub(crate) fn push(&mut self, msg: Multipart) {
        let bytes = frames_len(&msg);
        self.bytes += bytes;
        self.cost += bytes.max(MIN_MESSAGE_COST);
        self.msgs.push_back(msg);
    }

    /// Drops the oldest message (it went to libzmq).
    pub(crate) fn pop(&mut self) {
        if let Some(msg) = self.msgs.pop_front() {
            let bytes = frames_len(&msg);
            self.bytes -= bytes;
            self.cost -= bytes.max(MIN_MESSAGE_COST);
        }
    }

    /// Drops every message; returns how many.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.msgs.len();
        self.msgs.clear();
        self.bytes = 0;
        self.cost = 0;
        n
    }

    /// The crossing the buffer's size makes now, if any; each is reported once.
    pub(crate) fn settle(&mut self) -> Option<Crossing> {
        if !self.paused && self.limits.over_high(self.cost) {
            self.paused = true;
            Some(Crossing::Pause)
        } else if self.paused && self.limits.at_or_below_low(self.cost) {
            self.paused = false;
            Some(Crossing::Resume)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn empty_messages_pause_the_writer_and_report_zero_bytes() {
        let mut buf = WriteBuffer::default();
        buf.set_limits(WaterMarks::new(Some(100), Some(20)).unwrap());
        let empty = Multipart::from_iter([Bytes::new(), Bytes::new()]);
        let mut crossing = None;
        let mut pushed = 0;
        while crossing.is_none() {
            assert!(pushed < 100, "empty messages never paused the writer");
            buf.push(empty.clone());
            pushed += 1;
            crossing = buf.settle();
        }
        assert_eq!(crossing, Some(Crossing::Pause));
        assert_eq!(pushed, 100 / MIN_MESSAGE_COST + 1);
        assert_eq!(buf.bytes(), 0, "the reported size is payload bytes");
        while buf.len() > 2 {
            buf.pop();
            assert_eq!(buf.settle(), None, "{} × 16 > 20", buf.len());
        }
        buf.pop();
        assert_eq!(buf.settle(), Some(Crossing::Resume), "one left: 16 <= 20");
    }
}

//! The write buffer: messages libzmq has not taken yet, their size in bytes,
//! and the water-mark crossings that pause and resume the writer.

use std::collections::VecDeque;

use crate::limits::WaterMarks;
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

#[derive(Debug, Default)]
pub(crate) struct WriteBuffer {
    msgs: VecDeque<Multipart>,
    bytes: usize,
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

    pub(crate) fn push(&mut self, msg: Multipart) {
        self.bytes += frames_len(&msg);
        self.msgs.push_back(msg);
    }

    pub(crate) fn pop(&mut self) {
        if let Some(msg) = self.msgs.pop_front() {
            self.bytes -= frames_len(&msg);
        }
    }

    /// Drops every message; returns how many.
    pub(crate) fn clear(&mut self) -> usize {
        let n = self.msgs.len();
        self.msgs.clear();
        self.bytes = 0;
        n
    }

    /// The crossing the buffer's size makes now, if any; each is reported once.
    pub(crate) fn settle(&mut self) -> Option<Crossing> {
        if !self.paused && self.limits.over_high(self.bytes) {
            self.paused = true;
            Some(Crossing::Pause)
        } else if self.paused && self.limits.at_or_below_low(self.bytes) {
            self.paused = false;
            Some(Crossing::Resume)
        } else {
            None
        }
    }
}

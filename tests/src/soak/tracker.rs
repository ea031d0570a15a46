//! Accounting for every message of one path: what was received, in order
//! or not, and which gaps a fault explains.
//!
//! libzmq may lose messages that are in flight when a connection dies, and
//! only then. Each message carries its *stamp* — how many connections of
//! its path the fault proxy had ended (reset, dropped, half-closed) when it
//! was written — and the time it was written. The proxy counts a
//! disruption (and notes its time) just before it takes effect; libzmq
//! learns of it a moment later, when its I/O thread next touches the
//! connection, so a message written in that moment may be lost to it too.
//!
//! So when a gap shows (message `b` arrives after `a`, with `a + 1 < b`),
//! the messages in between were written after `a`, and the gap is
//! *explained* when a disruption can have lost them: one counted after `a`
//! was written (the count now exceeds `a`'s stamp), or the one counted
//! last before it, if `a` was written within [`GRACE_MS`] of it. Any other
//! gap is a lost message.
//!
//! A message of an explained gap may still come, late: libzmq orders
//! messages per connection, not across them. When a connection dies on
//! the writer's side only (it got a FIN, say), what it had written is
//! still on its way on the old connection while it reconnects and writes
//! on the new one, and the receiver takes from both. Such a message is
//! *late*: it leaves the lost count, once. Any other message that comes
//! after a higher one came twice or out of order.

use std::collections::BTreeMap;

use super::payload::Header;

/// How long after a disruption was counted a message written may still be
/// lost to it: libzmq notices a reset connection when its I/O thread next
/// reads or writes it, within milliseconds on loopback; a second is
/// generous, and short against the seconds between faults on one path.
pub const GRACE_MS: u64 = 1000;

/// A path's disruptions as a receiver sees them now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Disruptions {
    /// How many so far.
    pub count: u64,
    /// When the last one was counted (payload milliseconds), if any.
    pub last_ms: Option<u64>,
}

/// Whether the disruptions `now` can have lost messages written after one
/// stamped `stamp` and written at `written_ms`.
pub fn explains(now: Disruptions, stamp: u64, written_ms: u64) -> bool {
    now.count > stamp
        || (now.count == stamp
            && stamp > 0
            && now
                .last_ms
                .is_some_and(|t| written_ms <= t.saturating_add(GRACE_MS)))
}

/// What one receiver saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tracker {
    /// The next sequence number expected.
    pub expected: u64,
    /// The stamp of the last message received (0 before any).
    pub last_stamp: u64,
    /// When the last message received was written (0 before any).
    pub last_written_ms: u64,
    /// Messages received (each counted once).
    pub received: u64,
    /// Messages missing in gaps a disruption explains.
    pub lost_explained: u64,
    /// Messages missing in gaps no disruption explains.
    pub lost_unexplained: u64,
    /// Messages of an explained gap that came after all (see the module
    /// docs): counted in `received`, no longer in `lost_explained`.
    pub late: u64,
    /// Messages that came again, or out of order but not late.
    pub disordered: u64,
    /// Messages that were not whole or not ours.
    pub corrupt: u64,
    /// The first few problems, in words.
    pub problems: Vec<String>,
    /// The explained gaps whose messages may still come: start → end
    /// (exclusive), the newest 1,024.
    pub gaps: BTreeMap<u64, u64>,
}

/// How many problems a tracker keeps in words.
const PROBLEMS_KEPT: usize = 10;
/// How many explained gaps a tracker remembers, for late messages (a few
/// a minute happen on one path: this is hours of them).
const GAPS_KEPT: usize = 1024;

impl Tracker {
    /// Records message `h`, received when the path's disruptions were `now`.
    pub fn receive(&mut self, h: Header, now: Disruptions) {
        let seq = h.seq;
        if seq < self.expected {
            if self.take_from_gap(seq) {
                self.late += 1;
                self.lost_explained -= 1;
                self.received += 1;
            } else {
                self.disordered += 1;
                self.problem(format!(
                    "message {seq} after {} (twice or out of order)",
                    self.expected - 1
                ));
            }
            return;
        }
        if seq > self.expected {
            let gap = seq - self.expected;
            if explains(now, self.last_stamp, self.last_written_ms) {
                self.lost_explained += gap;
                self.gaps.insert(self.expected, seq);
                while self.gaps.len() > GAPS_KEPT {
                    self.gaps.pop_first();
                }
            } else {
                self.lost_unexplained += gap;
                self.problem(format!(
                    "messages {}..{seq} lost with no disruption to explain it (the one before \
                     was stamped {} and written at {} ms; disruptions now {now:?})",
                    self.expected, self.last_stamp, self.last_written_ms
                ));
            }
        }
        self.expected = seq + 1;
        self.last_stamp = h.stamp;
        self.last_written_ms = h.written_ms;
        self.received += 1;
    }

    /// Takes `seq` out of the explained gap holding it; false if none does.
    fn take_from_gap(&mut self, seq: u64) -> bool {
        let Some((&start, &end)) = self.gaps.range(..=seq).next_back() else {
            return false;
        };
        if seq >= end {
            return false;
        }
        self.gaps.remove(&start);
        if start < seq {
            self.gaps.insert(start, seq);
        }
        if seq + 1 < end {
            self.gaps.insert(seq + 1, end);
        }
        true
    }

    /// Gives up on message `seq` (a request whose reply never came): it,
    /// and any before it not yet seen, count as lost — explained if
    /// `explained` (a disruption can have lost it).
    pub fn abandon(&mut self, seq: u64, explained: bool) {
        if seq < self.expected {
            return;
        }
        let gap = seq + 1 - self.expected;
        if explained {
            self.lost_explained += gap;
        } else {
            self.lost_unexplained += gap;
            self.problem(format!(
                "request {seq}: no reply, and no disruption to explain it"
            ));
        }
        self.expected = seq + 1;
    }

    /// Records a message that did not decode.
    pub fn corrupt(&mut self, what: String) {
        self.corrupt += 1;
        self.problem(what);
    }

    /// Records a problem found elsewhere (a request with no reply, a
    /// connection lost).
    pub fn problem(&mut self, what: String) {
        if self.problems.len() < PROBLEMS_KEPT {
            self.problems.push(what);
        }
    }

    /// Whether nothing went wrong.
    pub fn clean(&self) -> bool {
        self.lost_unexplained == 0
            && self.disordered == 0
            && self.corrupt == 0
            && self.problems.is_empty()
    }

    /// Whether `sent` messages are all accounted for: received, or lost in
    /// a gap (and nothing still outstanding).
    pub fn reconciles(&self, sent: u64) -> bool {
        self.expected == sent && self.received + self.lost_explained + self.lost_unexplained == sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(seq: u64, stamp: u64, written_ms: u64) -> Header {
        Header {
            seq,
            stamp,
            written_ms,
        }
    }

    fn d(count: u64, last_ms: Option<u64>) -> Disruptions {
        Disruptions { count, last_ms }
    }

    #[test]
    fn in_order_is_clean_and_reconciles() {
        let mut t = Tracker::default();
        for i in 0..10 {
            t.receive(h(i, 0, i), d(0, None));
        }
        assert!(t.clean());
        assert!(t.reconciles(10));
        assert!(!t.reconciles(11));
    }

    #[test]
    fn a_gap_across_a_disruption_is_explained() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 10), d(0, None));
        t.receive(h(1, 0, 20), d(0, None));
        // Messages 2..5 were in flight at disruption 1 (at 25 ms).
        t.receive(h(5, 1, 40), d(1, Some(25)));
        assert_eq!(t.lost_explained, 3);
        assert!(t.clean());
        assert!(t.reconciles(6));
    }

    #[test]
    fn written_just_after_a_disruption_may_be_lost_to_it() {
        let mut t = Tracker::default();
        // Message 0 written 5 ms after disruption 1 was counted, before
        // libzmq noticed the connection was gone: 1..3 lost with it.
        t.receive(h(0, 1, 105), d(1, Some(100)));
        t.receive(h(3, 1, 300), d(1, Some(100)));
        assert_eq!(t.lost_explained, 2);
        assert!(t.clean());
    }

    #[test]
    fn a_gap_without_a_disruption_is_a_loss() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 10), d(0, None));
        t.receive(h(2, 0, 20), d(0, None));
        assert_eq!(t.lost_unexplained, 1);
        assert!(!t.clean());
        assert!(t.reconciles(3));
        assert_eq!(t.problems.len(), 1);
    }

    #[test]
    fn an_old_disruption_explains_nothing_new() {
        // Disruption 1 happened at 100 ms; message 4 was written at 5,000
        // ms: 5 and 6, written later still, cannot have been lost to it.
        let mut t = Tracker::default();
        t.receive(h(3, 0, 50), d(1, Some(100)));
        t.receive(h(4, 1, 5000), d(1, Some(100)));
        t.receive(h(7, 1, 5100), d(1, Some(100)));
        assert_eq!(t.lost_explained, 3, "0..3, before the first message");
        assert_eq!(t.lost_unexplained, 2);
    }

    #[test]
    fn abandoned_requests_are_counted_once() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 0), d(0, None));
        t.abandon(1, true);
        t.receive(h(2, 1, 0), d(1, Some(0)));
        t.abandon(3, false);
        assert_eq!((t.lost_explained, t.lost_unexplained), (1, 1));
        assert!(t.reconciles(4));
    }

    #[test]
    fn late_messages_of_an_explained_gap_are_counted_once() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 10), d(0, None));
        // 1..5 still on the old connection; 5 came on the new one.
        t.receive(h(5, 1, 40), d(1, Some(25)));
        assert_eq!(t.lost_explained, 4);
        t.receive(h(2, 0, 20), d(1, Some(25)));
        t.receive(h(3, 0, 21), d(1, Some(25)));
        assert_eq!((t.late, t.lost_explained, t.received), (2, 2, 4));
        assert!(t.clean());
        assert!(t.reconciles(6));
        // Twice is not late.
        t.receive(h(3, 0, 21), d(1, Some(25)));
        t.receive(h(5, 1, 40), d(1, Some(25)));
        assert_eq!(t.disordered, 2);
        assert!(!t.clean());
        // The rest of the gap can still come.
        t.receive(h(1, 0, 15), d(1, Some(25)));
        t.receive(h(4, 0, 22), d(1, Some(25)));
        assert_eq!((t.late, t.lost_explained), (4, 0));
        assert!(t.gaps.is_empty());
    }

    #[test]
    fn an_unexplained_gap_takes_no_late_message() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 10), d(0, None));
        t.receive(h(3, 0, 20), d(0, None));
        t.receive(h(1, 0, 11), d(0, None));
        assert_eq!((t.late, t.disordered, t.lost_unexplained), (0, 1, 2));
    }

    #[test]
    fn twice_or_backwards_is_disorder() {
        let mut t = Tracker::default();
        t.receive(h(0, 0, 0), d(0, None));
        t.receive(h(1, 0, 0), d(0, None));
        t.receive(h(1, 0, 0), d(0, None));
        t.receive(h(0, 0, 0), d(0, None));
        assert_eq!(t.disordered, 2);
        assert!(!t.clean());
        assert_eq!(t.received, 2);
    }
}

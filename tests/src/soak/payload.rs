//! What a soak message carries: its sequence number on its path, the
//! path's disruption count and the time when it was written (see
//! [`Tracker`](super::Tracker)), and padding derived from the number, so a
//! torn or mixed-up message shows.

use std::sync::OnceLock;
use std::time::Instant;

use aiozmq_core::Bytes;

/// The smallest message: sequence number, stamp, time written.
pub const HEADER: usize = 24;

/// What a message says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Its number on its path.
    pub seq: u64,
    /// The path's disruption count when it was written.
    pub stamp: u64,
    /// When it was written: [`ms`] then.
    pub written_ms: u64,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// `t` as milliseconds since a process-wide epoch (0 before it).
pub fn ms(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_millis() as u64
}

/// Now, as [`ms`].
pub fn now_ms() -> u64 {
    ms(Instant::now())
}

/// Message `h.seq` of `size` bytes (at least [`HEADER`]).
pub fn encode(h: Header, size: usize) -> Bytes {
    let size = size.max(HEADER);
    let seq = h.seq;
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(&h.seq.to_le_bytes());
    body.extend_from_slice(&h.stamp.to_le_bytes());
    body.extend_from_slice(&h.written_ms.to_le_bytes());
    body.extend((HEADER..size).map(|k| pad(seq, k)));
    Bytes::from(body)
}

fn pad(seq: u64, k: usize) -> u8 {
    (seq.wrapping_mul(0x9e37_79b9) as usize ^ k) as u8
}

/// The header of a message made by [`encode`], or `None` if it is not one
/// (too short, or its padding is wrong).
pub fn decode(frame: &[u8]) -> Option<Header> {
    if frame.len() < HEADER {
        return None;
    }
    let word = |i: usize| {
        frame[i * 8..i * 8 + 8]
            .try_into()
            .ok()
            .map(u64::from_le_bytes)
    };
    let h = Header {
        seq: word(0)?,
        stamp: word(1)?,
        written_ms: word(2)?,
    };
    frame
        .iter()
        .enumerate()
        .skip(HEADER)
        .all(|(k, b)| *b == pad(h.seq, k))
        .then_some(h)
}

/// A size between `min` and `max` for message `seq`, spread evenly.
pub fn size_for(seq: u64, min: usize, max: usize) -> usize {
    let span = (max.max(min) - min + 1) as u64;
    min + (seq.wrapping_mul(7919) % span) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_corruption() {
        let h = Header {
            seq: 42,
            stamp: 7,
            written_ms: 1234,
        };
        let m = encode(h, 100);
        assert_eq!(m.len(), 100);
        assert_eq!(decode(&m), Some(h));
        let mut torn = m.to_vec();
        torn[60] ^= 1;
        assert_eq!(decode(&torn), None);
        assert_eq!(decode(&m[..10]), None);
        assert_eq!(encode(h, 0).len(), HEADER);
        assert!((16..=64).contains(&size_for(12345, 16, 64)));
    }
}

//! High/low water marks, with asyncio's and aiozmq's defaults and rules.

use std::io;

use crate::error;

/// Default high-water mark: 64 KiB.
pub(crate) const DEFAULT_HIGH: usize = 64 * 1024;

/// The least a message weighs against the water marks, in bytes: a message
/// of empty frames still costs memory (its frame list, libzmq's message), so
/// counting payload alone would let a flood of them grow a buffer without
/// ever pausing. A message counts as `max(payload bytes, MIN_MESSAGE_COST)`
/// in the write buffer's marks and a stream's read marks;
/// `get_write_buffer_size` still reports payload bytes.
pub const MIN_MESSAGE_COST: usize = 16;

/// A validated pair of water marks, `low <= high`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaterMarks {
    low: usize,
    high: usize,
}

impl Default for WaterMarks {
    fn default() -> Self {
        WaterMarks {
            low: DEFAULT_HIGH / 4,
            high: DEFAULT_HIGH,
        }
    }
}

impl WaterMarks {
    /// aiozmq's `set_write_buffer_limits(high, low)` rules: neither given means
    /// 64 KiB / 16 KiB; only high means low = high/4; only low means high = 4·low;
    /// high < low is `InvalidInput`.
    pub fn new(high: Option<usize>, low: Option<usize>) -> io::Result<WaterMarks> {
        let (high, low) = match (high, low) {
            (None, None) => (DEFAULT_HIGH, DEFAULT_HIGH / 4),
            (Some(h), None) => (h, h / 4),
            (None, Some(l)) => (l.saturating_mul(4), l),
            (Some(h), Some(l)) => (h, l),
        };
        if high < low {
            return Err(error::invalid_input(format!(
                "high-water mark ({high}) must be >= low-water mark ({low})"
            )));
        }
        Ok(WaterMarks { low, high })
    }

    /// The low-water mark.
    pub fn low(&self) -> usize {
        self.low
    }

    /// The high-water mark.
    pub fn high(&self) -> usize {
        self.high
    }

    /// `(low, high)`, the order of aiozmq's `get_write_buffer_limits()`.
    pub fn get(&self) -> (usize, usize) {
        (self.low, self.high)
    }

    /// Strictly over high: time to pause.
    pub fn over_high(&self, size: usize) -> bool {
        size > self.high
    }

    /// At or below low: time to resume.
    pub fn at_or_below_low(&self, size: usize) -> bool {
        size <= self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_derivations() {
        assert_eq!(WaterMarks::default().get(), (16384, 65536));
        assert_eq!(WaterMarks::new(None, None).unwrap().get(), (16384, 65536));
        assert_eq!(WaterMarks::new(Some(100), None).unwrap().get(), (25, 100));
        assert_eq!(WaterMarks::new(None, Some(10)).unwrap().get(), (10, 40));
        assert_eq!(WaterMarks::new(Some(0), None).unwrap().get(), (0, 0));
        assert_eq!(WaterMarks::new(Some(7), Some(7)).unwrap().get(), (7, 7));
        assert_eq!(
            WaterMarks::new(None, Some(usize::MAX)).unwrap().get(),
            (usize::MAX, usize::MAX)
        );
    }

    #[test]
    fn high_below_low_is_invalid() {
        let e = WaterMarks::new(Some(1), Some(2)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("high-water"), "{e}");
    }

    #[test]
    fn crossings_are_strict_over_and_at_or_below() {
        let w = WaterMarks::new(Some(10), Some(5)).unwrap();
        assert!(!w.over_high(10) && w.over_high(11));
        assert!(w.at_or_below_low(5) && !w.at_or_below_low(6));
    }
}

//! Track layer: TCP sequence numbers, which compare and subtract modulo 2³² (RFC 9293 §3.4).
//!
//! Imports nothing from the project: every other track module builds on it.

use std::cmp::Ordering;
use std::ops::{Add, Sub};

/// A sequence or acknowledgement number. Ordered by the sign of the wrapping difference, as
/// smoltcp's `TcpSeqNumber`: `a < b` when `b` lies less than 2³¹ ahead of `a`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// Bytes from `base` up to `self`, going forward (wrapping).
    pub fn bytes_since(self, base: SeqNumber) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// The later of two sequence numbers.
    pub fn max(self, other: SeqNumber) -> SeqNumber {
        if self < other { other } else { self }
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some((*self - *other).cmp(&0))
    }
}

impl Add<u32> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNumber {
    type Output = SeqNumber;
    fn add(self, rhs: usize) -> SeqNumber {
        // Modulo 2³²: the truncation is the arithmetic.
        SeqNumber(self.0.wrapping_add(rhs as u32))
    }
}

impl Sub<u32> for SeqNumber {
    type Output = SeqNumber;
    fn sub(self, rhs: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(rhs))
    }
}

impl Sub for SeqNumber {
    /// The signed distance from `rhs` to `self`.
    type Output = i32;
    fn sub(self, rhs: SeqNumber) -> i32 {
        // The wrapping difference read as two's complement is the shorter way round.
        self.0.wrapping_sub(rhs.0) as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_the_shorter_way_round_the_circle() {
        assert!(SeqNumber(u32::MAX - 5) < SeqNumber(3));
        assert!(SeqNumber(3) > SeqNumber(u32::MAX - 5));
        assert!(SeqNumber(7) <= SeqNumber(7));
        assert!(SeqNumber(1) < SeqNumber(2));
        assert_eq!(SeqNumber(u32::MAX).max(SeqNumber(1)), SeqNumber(1));
    }

    #[test]
    fn arithmetic_wraps() {
        assert_eq!(SeqNumber(u32::MAX) + 2u32, SeqNumber(1));
        assert_eq!(SeqNumber(u32::MAX) + 2usize, SeqNumber(1));
        assert_eq!(SeqNumber(1) - 2u32, SeqNumber(u32::MAX));
        assert_eq!(SeqNumber(1) - SeqNumber(u32::MAX), 2);
        assert_eq!(SeqNumber(u32::MAX) - SeqNumber(1), -2);
        assert_eq!(SeqNumber(1).bytes_since(SeqNumber(u32::MAX)), 2);
    }
}

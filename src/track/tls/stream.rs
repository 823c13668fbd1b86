//! Track layer: one direction of a TCP connection put back in byte order for the TLS reader.
//!
//! Works on sequence numbers and captured payload bytes alone; must not import capture, analysis
//! or report code.

use crate::timeline::Ts;
use crate::track::seq::SeqNumber;

/// Out-of-order bytes kept waiting for a hole to fill before the direction is given up.
const MAX_PENDING_BYTES: usize = 256 * 1024;

/// Out-of-order segments kept waiting, at most.
const MAX_PENDING_SEGMENTS: usize = 64;

/// A segment that arrived ahead of the bytes before it.
#[derive(Debug, Clone)]
struct Pending {
    seq: SeqNumber,
    ts: Ts,
    bytes: Vec<u8>,
}

impl Pending {
    fn end(&self) -> SeqNumber {
        self.seq + self.bytes.len()
    }
}

/// One direction's byte stream, in order: resent bytes are dropped, early ones wait (bounded) for
/// the hole before them; a hole that cannot be filled stops the stream for good.
#[derive(Debug, Clone, Default)]
pub(super) struct ByteStream {
    /// The sequence number of the next byte to hand out, once known.
    next: Option<SeqNumber>,
    pending: Vec<Pending>,
    pending_bytes: usize,
    /// Bytes are missing for good (not captured, cut by the snap length, or too much waited).
    gap: bool,
}

impl ByteStream {
    /// The stream's first byte is `seq` (the ISN + 1), when the SYN was seen.
    pub(super) fn start_at(&mut self, seq: SeqNumber) {
        if self.next.is_none() {
            self.next = Some(seq);
        }
    }

    /// True when bytes are missing for good.
    pub(super) fn has_gap(&self) -> bool {
        self.gap
    }

    /// True while some bytes wait for a hole before them to fill.
    #[cfg(test)]
    fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Adds a segment whose payload starts at `seq`, `payload_len` bytes long of which `bytes`
    /// were captured; hands every run of bytes that became in order to `deliver`, with the time
    /// of the segment that carried it.
    pub(super) fn push(
        &mut self,
        seq: SeqNumber,
        ts: Ts,
        bytes: &[u8],
        payload_len: u32,
        deliver: &mut impl FnMut(Ts, &[u8]),
    ) {
        if self.gap || payload_len == 0 {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let end = seq + bytes.len();
        if seq > next {
            self.wait(seq, ts, bytes);
            if (bytes.len() as u64) < u64::from(payload_len) {
                // The snap length cut this segment: only a resent copy could fill the rest.
                self.give_up();
            }
            return;
        }
        let mut next = next;
        if end > next {
            let skip = next.bytes_since(seq) as usize;
            deliver(ts, &bytes[skip..]);
            next = end;
            self.next = Some(end);
        }
        if seq + payload_len > next {
            // The snap length cut bytes nobody else carried.
            self.give_up();
            return;
        }
        self.drain(deliver);
    }

    fn wait(&mut self, seq: SeqNumber, ts: Ts, bytes: &[u8]) {
        if self.pending.len() >= MAX_PENDING_SEGMENTS
            || self.pending_bytes + bytes.len() > MAX_PENDING_BYTES
        {
            self.give_up();
            return;
        }
        self.pending_bytes += bytes.len();
        self.pending.push(Pending {
            seq,
            ts,
            bytes: bytes.to_vec(),
        });
    }

    /// Hands out waiting segments the stream has reached, in order.
    fn drain(&mut self, deliver: &mut impl FnMut(Ts, &[u8])) {
        // Bounded: each pass removes one waiting segment.
        while let Some(next) = self.next {
            let Some(i) = self.pending.iter().position(|p| p.seq <= next) else {
                break;
            };
            let p = self.pending.swap_remove(i);
            self.pending_bytes -= p.bytes.len();
            if p.end() > next {
                let skip = next.bytes_since(p.seq) as usize;
                deliver(p.ts, &p.bytes[skip..]);
                self.next = Some(p.end());
            }
        }
    }

    /// Stops the stream: bytes are missing for good.
    pub(super) fn give_up(&mut self) {
        self.gap = true;
        self.release();
    }

    /// Frees what waits: nothing more will be read.
    pub(super) fn release(&mut self) {
        self.pending = Vec::new();
        self.pending_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(stream: &mut ByteStream, seq: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        stream.push(
            SeqNumber(seq),
            Ts(seq.into()),
            bytes,
            bytes.len() as u32,
            &mut |_, b| out.extend_from_slice(b),
        );
        out
    }

    #[test]
    fn in_order_bytes_pass_through_and_resent_ones_are_dropped() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(100));
        assert_eq!(collect(&mut s, 100, b"abc"), b"abc");
        assert_eq!(collect(&mut s, 100, b"abc"), b"");
        // A resend that overlaps and extends: only the new tail.
        assert_eq!(collect(&mut s, 101, b"bcde"), b"de");
        assert!(!s.has_gap());
    }

    #[test]
    fn early_bytes_wait_for_the_hole() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(u32::MAX - 1));
        assert_eq!(collect(&mut s, 1, b"de"), b"");
        assert!(s.is_waiting());
        assert_eq!(collect(&mut s, u32::MAX - 1, b"abc"), b"abcde");
        assert!(!s.is_waiting() && !s.has_gap());
    }

    #[test]
    fn a_cut_segment_stops_the_stream() {
        let mut s = ByteStream::default();
        let mut out = Vec::new();
        s.push(SeqNumber(1), Ts(0), b"ab", 10, &mut |_, b| {
            out.extend_from_slice(b)
        });
        assert_eq!(out, b"ab");
        assert!(s.has_gap());
        assert_eq!(collect(&mut s, 11, b"xyz"), b"");
    }

    #[test]
    fn too_much_waiting_is_a_gap() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(0));
        for i in 0..=MAX_PENDING_SEGMENTS as u32 {
            collect(&mut s, 10 + i * 10, b"x");
        }
        assert!(s.has_gap() && !s.is_waiting());
    }
}

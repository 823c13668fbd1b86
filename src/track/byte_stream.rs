//! Track layer: one direction of a TCP connection put back in byte order, for the readers of
//! what rides on TCP (TLS records, HTTP/2 frames).
//!
//! Works on sequence numbers and captured payload bytes alone; must not import capture, analysis
//! or report code.

use crate::timeline::Ts;
use crate::track::seq::SeqNumber;

/// How much a stream keeps waiting for a hole to fill before it gives the direction up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WaitLimit {
    /// Out-of-order bytes kept, at most.
    pub bytes: usize,
    /// Out-of-order segments kept, at most.
    pub segments: usize,
}

impl Default for WaitLimit {
    /// Enough for the few segments of a handshake.
    fn default() -> WaitLimit {
        WaitLimit {
            bytes: 256 * 1024,
            segments: 64,
        }
    }
}

/// The next stretch of a direction's bytes, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Piece<'a> {
    /// Captured bytes; `starts_segment` when they are the first of a segment's payload.
    Bytes {
        /// The bytes.
        bytes: &'a [u8],
        /// The first byte is the first of a segment.
        starts_segment: bool,
    },
    /// Bytes the segment carried but the capture cut off (the snap length): only their number.
    Missing(u32),
}

/// The segment that carried a piece: when it arrived, and whether it waited for a hole before it
/// (its bytes became in order only when a later segment filled the hole).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Carrier {
    /// When the segment arrived.
    pub ts: Ts,
    /// It arrived ahead of bytes before it and waited for them.
    pub waited: bool,
}

/// A segment that arrived ahead of the bytes before it.
#[derive(Debug, Clone)]
struct Pending {
    seq: SeqNumber,
    ts: Ts,
    bytes: Vec<u8>,
    /// The payload length, captured or not.
    len: u32,
}

/// One direction's byte stream, in order: resent bytes are dropped, early ones wait (bounded) for
/// the hole before them; a hole that does not fill in time stops the stream for good.
#[derive(Debug, Default, Clone)]
pub(super) struct ByteStream {
    /// The sequence number of the next byte to hand out, once known.
    next: Option<SeqNumber>,
    pending: Vec<Pending>,
    pending_bytes: usize,
    /// Bytes are missing for good (not captured, or too much waited).
    gap: bool,
    limit: WaitLimit,
}

impl ByteStream {
    /// From now on keeps at most `limit` waiting for a hole.
    pub(super) fn set_limit(&mut self, limit: WaitLimit) {
        self.limit = limit;
    }

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
    /// were captured; hands every piece that became in order to `deliver`, with the time of the
    /// segment that carried it.
    pub(super) fn push(
        &mut self,
        seq: SeqNumber,
        ts: Ts,
        bytes: &[u8],
        payload_len: u32,
        deliver: &mut impl FnMut(Ts, Piece<'_>),
    ) {
        self.push_carried(seq, ts, bytes, payload_len, &mut |c: Carrier, piece| {
            deliver(c.ts, piece)
        });
    }

    /// [`ByteStream::push`], telling for each piece whether its segment waited for a hole: the
    /// pushed segment's own new bytes come first, then those it released.
    pub(super) fn push_carried(
        &mut self,
        seq: SeqNumber,
        ts: Ts,
        bytes: &[u8],
        payload_len: u32,
        deliver: &mut impl FnMut(Carrier, Piece<'_>),
    ) {
        if self.gap || payload_len == 0 {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        if seq > next {
            self.wait(seq, ts, bytes, payload_len);
            return;
        }
        let own = Carrier { ts, waited: false };
        let end = seq + payload_len;
        // Bytes that also wait in an earlier segment go out with that one's time, the time they
        // first came: the segment's own bytes up to it, then what waited, then the rest.
        // Bounded: each pass hands out at least one waiting segment, or stops.
        while let Some(next) = self.next.filter(|&n| seq <= n) {
            let Some(cut) = self
                .pending
                .iter()
                .map(|p| p.seq)
                .filter(|&p| next < p && p < end)
                .reduce(|a, b| if b < a { b } else { a })
            else {
                break;
            };
            let len = cut.bytes_since(seq);
            let captured = &bytes[..bytes.len().min(len as usize)];
            self.hand_out(seq, own, captured, len, deliver);
            let waiting = self.pending.len();
            self.drain(deliver);
            if self.pending.len() == waiting {
                break;
            }
        }
        self.hand_out(seq, own, bytes, payload_len, deliver);
        self.drain(deliver);
    }

    /// Hands out what of a segment at or before `next` is new: captured bytes, then the cut tail.
    fn hand_out(
        &mut self,
        seq: SeqNumber,
        carrier: Carrier,
        bytes: &[u8],
        len: u32,
        deliver: &mut impl FnMut(Carrier, Piece<'_>),
    ) {
        let Some(mut next) = self.next.filter(|&n| seq <= n) else {
            return;
        };
        let captured = bytes.len().min(len as usize);
        if next < seq + captured {
            let skip = next.bytes_since(seq) as usize;
            deliver(
                carrier,
                Piece::Bytes {
                    bytes: &bytes[skip..captured],
                    starts_segment: skip == 0,
                },
            );
            next = seq + captured;
        }
        if next < seq + len {
            deliver(carrier, Piece::Missing((seq + len).bytes_since(next)));
            next = seq + len;
        }
        self.next = Some(next);
    }

    fn wait(&mut self, seq: SeqNumber, ts: Ts, bytes: &[u8], len: u32) {
        if self.pending.len() >= self.limit.segments
            || self.pending_bytes + bytes.len() > self.limit.bytes
        {
            self.give_up();
            return;
        }
        self.pending_bytes += bytes.len();
        self.pending.push(Pending {
            seq,
            ts,
            bytes: bytes.to_vec(),
            len,
        });
    }

    /// Hands out waiting segments the stream has reached, in order.
    fn drain(&mut self, deliver: &mut impl FnMut(Carrier, Piece<'_>)) {
        // Bounded: each pass removes one waiting segment.
        while let Some(next) = self.next {
            let Some(i) = self.pending.iter().position(|p| p.seq <= next) else {
                break;
            };
            let p = self.pending.swap_remove(i);
            self.pending_bytes -= p.bytes.len();
            let carrier = Carrier {
                ts: p.ts,
                waited: true,
            };
            self.hand_out(p.seq, carrier, &p.bytes, p.len, deliver);
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

    /// The pieces as text: bytes as they are ("|" before a segment's first), missing as "<n>".
    fn collect(stream: &mut ByteStream, seq: u32, bytes: &[u8], len: u32) -> String {
        let mut out = String::new();
        stream.push(
            SeqNumber(seq),
            Ts(0),
            bytes,
            len,
            &mut |_, piece| match piece {
                Piece::Bytes {
                    bytes,
                    starts_segment,
                } => {
                    if starts_segment {
                        out.push('|');
                    }
                    out.push_str(std::str::from_utf8(bytes).unwrap());
                }
                Piece::Missing(n) => out.push_str(&format!("<{n}>")),
            },
        );
        out
    }

    fn whole(stream: &mut ByteStream, seq: u32, bytes: &[u8]) -> String {
        collect(stream, seq, bytes, bytes.len() as u32)
    }

    #[test]
    fn in_order_bytes_pass_through_and_resent_ones_are_dropped() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(100));
        assert_eq!(whole(&mut s, 100, b"abc"), "|abc");
        assert_eq!(whole(&mut s, 100, b"abc"), "");
        // A resend that overlaps and extends: only the new tail.
        assert_eq!(whole(&mut s, 101, b"bcde"), "de");
        assert!(!s.has_gap());
    }

    #[test]
    fn early_bytes_wait_for_the_hole() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(u32::MAX - 1));
        assert_eq!(whole(&mut s, 1, b"de"), "");
        assert!(s.is_waiting());
        assert_eq!(whole(&mut s, u32::MAX - 1, b"abc"), "|abc|de");
        assert!(!s.is_waiting() && !s.has_gap());
    }

    #[test]
    fn bytes_that_waited_keep_the_time_they_first_came() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(0));
        let mut times = Vec::new();
        let mut push = |s: &mut ByteStream, seq: u32, ts: i64, bytes: &[u8]| {
            s.push_carried(
                SeqNumber(seq),
                Ts(ts),
                bytes,
                bytes.len() as u32,
                &mut |c: Carrier, piece| {
                    if let Piece::Bytes { bytes, .. } = piece {
                        times.push((String::from_utf8(bytes.to_vec()).unwrap(), c.ts.0, c.waited));
                    }
                },
            );
        };
        push(&mut s, 3, 1, b"de");
        push(&mut s, 7, 2, b"h");
        // A resend that covers the hole and what waited after it.
        push(&mut s, 0, 3, b"abcdefgh");
        assert_eq!(
            times,
            [
                ("abc".to_string(), 3, false),
                ("de".to_string(), 1, true),
                ("fg".to_string(), 3, false),
                ("h".to_string(), 2, true),
            ]
        );
        assert!(!s.is_waiting());
    }

    #[test]
    fn a_cut_segment_hands_out_its_missing_tail() {
        let mut s = ByteStream::default();
        assert_eq!(collect(&mut s, 1, b"ab", 10), "|ab<8>");
        assert_eq!(whole(&mut s, 11, b"xyz"), "|xyz");
        // Waiting cut segments too.
        assert_eq!(collect(&mut s, 20, b"q", 4), "");
        assert_eq!(collect(&mut s, 14, b"m", 6), "|m<5>|q<3>");
        assert!(!s.has_gap());
    }

    #[test]
    fn too_much_waiting_is_a_gap() {
        let mut s = ByteStream::default();
        s.start_at(SeqNumber(0));
        for i in 0..=WaitLimit::default().segments as u32 {
            whole(&mut s, 10 + i * 10, b"x");
        }
        assert!(s.has_gap() && !s.is_waiting());
    }
}

//! Track layer: one direction of a connection, what one side has sent as the capture saw it.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use super::seq::SeqNumber;
use crate::capture::segment::Segment;

/// What one side of a connection has sent: its sequence space, its SYN's options and its FIN.
#[derive(Debug, Clone, Default)]
pub struct HalfConnection {
    /// The initial sequence number, from this side's SYN.
    isn: Option<SeqNumber>,
    /// One past the highest sequence number sent (SYN and FIN count one each).
    next_seq: Option<SeqNumber>,
    /// One past this side's FIN, once it sent one.
    fin_end: Option<SeqNumber>,
    /// The other side acknowledged that FIN.
    fin_acked: bool,
    /// Where this side's payload starts.
    data_base: Option<SeqNumber>,
    /// One past the highest payload byte sent.
    data_end: Option<SeqNumber>,
    /// The MSS option of this side's SYN.
    mss: Option<u16>,
    /// The window scale option of this side's SYN.
    window_scale: Option<u8>,
    /// The window field of this side's last segment, and whether that segment was a SYN (whose
    /// window is never scaled).
    last_window: Option<(u16, bool)>,
}

/// Where a segment lies in its sender's sequence space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqSpan {
    /// The segment's sequence number.
    pub start: SeqNumber,
    /// One past the last sequence number it occupies.
    pub end: SeqNumber,
    /// Sequence numbers it occupies: payload, plus one each for SYN and FIN.
    pub len: u32,
}

impl SeqSpan {
    /// The span of `seg`.
    pub fn of(seg: &Segment) -> SeqSpan {
        let f = seg.flags;
        let len = seg
            .payload_len
            .wrapping_add(u32::from(f.syn) + u32::from(f.fin));
        let start = SeqNumber(seg.seq);
        SeqSpan {
            start,
            end: start + len,
            len,
        }
    }
}

impl HalfConnection {
    /// The initial sequence number, once this side's SYN was seen.
    pub fn isn(&self) -> Option<SeqNumber> {
        self.isn
    }

    /// One past this side's FIN, once it sent one.
    pub fn fin_end(&self) -> Option<SeqNumber> {
        self.fin_end
    }

    /// Whether the other side acknowledged this side's FIN.
    pub fn fin_acked(&self) -> bool {
        self.fin_acked
    }

    /// The MSS option of this side's SYN, if it had one.
    pub fn mss(&self) -> Option<u16> {
        self.mss
    }

    /// The window scale shift of this side's SYN, if it had the option.
    pub fn window_scale(&self) -> Option<u8> {
        self.window_scale
    }

    /// The window field of this side's last segment, and whether that segment was a SYN.
    pub fn last_window(&self) -> Option<(u16, bool)> {
        self.last_window
    }

    /// Whether `seg` (sent by this side) starts at or beyond everything sent before: new data, not
    /// a resend.
    pub fn is_new(&self, seg: &Segment) -> bool {
        self.next_seq.is_none_or(|next| SeqNumber(seg.seq) >= next)
    }

    /// Payload bytes sent: the span of sequence space the data covers, so that a resend filling a
    /// hole the capture never saw (lost before the capture point) counts once.
    pub fn sent_bytes(&self) -> u64 {
        match (self.data_base, self.data_end) {
            (Some(base), Some(end)) => u64::from(end.bytes_since(base)),
            _ => 0,
        }
    }

    /// Whether `seg` (sent by this side) resends sequence space it already sent: a SYN with the
    /// ISN again, or (Wireshark's rule) anything starting before the next expected byte,
    /// keep-alives (one byte or none, just below it) excepted.
    pub fn resends(&self, seg: &Segment) -> bool {
        let f = seg.flags;
        let span = SeqSpan::of(seg);
        if span.len == 0 || f.rst {
            return false;
        }
        match (f.syn, self.isn, self.next_seq) {
            (true, Some(isn), _) => isn == span.start,
            (false, _, Some(next)) => {
                let keep_alive = !f.fin && seg.payload_len <= 1 && span.start == next - 1;
                span.start < next && !keep_alive
            }
            _ => false,
        }
    }

    /// Records a segment this side sent: its ISN, options, window, payload span and sequence
    /// space.
    pub fn record_sent(&mut self, seg: &Segment) {
        let f = seg.flags;
        let span = SeqSpan::of(seg);
        if f.syn && self.isn.is_none() {
            self.isn = Some(span.start);
            self.mss = seg.mss;
            self.window_scale = seg.window_scale;
        }
        self.last_window = Some((seg.window, f.syn));
        let data_start = span.start + u32::from(f.syn);
        let data_end = data_start + seg.payload_len;
        let base = *self.data_base.get_or_insert(data_start);
        if seg.payload_len > 0 && self.data_end.is_none_or(|e| e < data_end) && data_end >= base {
            self.data_end = Some(data_end);
        }
        if span.len > 0 && self.next_seq.is_none_or(|next| next < span.end) {
            self.next_seq = Some(span.end);
        }
    }

    /// Records this side's FIN; true when it is the first.
    pub fn record_fin(&mut self, seg: &Segment) -> bool {
        if !seg.flags.fin || self.fin_end.is_some() {
            return false;
        }
        self.fin_end = Some(SeqSpan::of(seg).end);
        true
    }

    /// Whether an acknowledgement number `ack` from the other side covers this side's FIN.
    pub fn fin_covered_by(&self, ack: SeqNumber) -> bool {
        self.fin_end.is_some_and(|end| end <= ack)
    }

    /// Marks this side's FIN acknowledged.
    pub fn set_fin_acked(&mut self) {
        self.fin_acked = true;
    }
}

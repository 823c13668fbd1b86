//! Track layer: packet counts per connection and over many, with the definitions of Wireshark's
//! display filters.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use super::seq_analysis::SeqVerdict;
use crate::capture::segment::Segment;

/// Packet counts, with the definitions of Wireshark's display filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlagCounts {
    /// SYN set, ACK clear.
    pub syn: u64,
    /// SYN and ACK set.
    pub synack: u64,
    /// The client's first ACK of the server's ISN + 1.
    pub handshake_ack: u64,
    /// ACK set, no SYN/FIN/RST, no payload.
    pub pure_ack: u64,
    /// Payload length > 0.
    pub data: u64,
    /// FIN set.
    pub fin: u64,
    /// RST set.
    pub rst: u64,
    /// Every TCP packet.
    pub packets: u64,
    /// Frame bytes on the wire.
    pub bytes: u64,
    /// Segments Wireshark marks `tcp.analysis.retransmission`: plain, fast and spurious ones.
    pub retransmissions: u64,
    /// Of those, `tcp.analysis.fast_retransmission`: the segment two duplicate ACKs asked for,
    /// within 20 ms of the last.
    pub fast_retransmissions: u64,
    /// Of those, `tcp.analysis.spurious_retransmission`: data the receiver had acknowledged.
    pub spurious_retransmissions: u64,
    /// `tcp.analysis.out_of_order`: below the highest sequence number, within a handshake round
    /// trip of it (not retransmissions).
    pub out_of_order: u64,
    /// `tcp.analysis.lost_segment`: starting beyond the highest sequence number seen ("previous
    /// segment not captured").
    pub lost_segments: u64,
    /// SYNs repeating the ISN, whatever Wireshark calls them (not a second handshake).
    pub resent_syn: u64,
    /// SYN-ACKs repeating the ISN.
    pub resent_synack: u64,
    /// FINs sent again (a tail loss probe or a timeout; not a second teardown).
    pub resent_fin: u64,
    /// `tcp.analysis.duplicate_ack`: pure ACKs repeating the side's previous ACK number and
    /// non-zero window at its next sequence number.
    pub dup_acks: u64,
}

impl FlagCounts {
    /// Adds one segment's flags (the handshake ACK is counted by the connection, which knows the
    /// ISN).
    pub(super) fn count(&mut self, seg: &Segment) {
        let f = seg.flags;
        self.packets += 1;
        self.bytes += u64::from(seg.wire_len);
        self.syn += u64::from(f.syn && !f.ack);
        self.synack += u64::from(f.syn && f.ack);
        self.fin += u64::from(f.fin);
        self.rst += u64::from(f.rst);
        self.data += u64::from(seg.payload_len > 0);
        self.pure_ack += u64::from(seg.is_pure_ack());
    }

    /// Adds what Wireshark's sequence analysis marked on one segment.
    pub(super) fn count_verdict(&mut self, verdict: &SeqVerdict) {
        self.retransmissions += u64::from(verdict.retransmission);
        self.fast_retransmissions += u64::from(verdict.fast_retransmission);
        self.spurious_retransmissions += u64::from(verdict.spurious_retransmission);
        self.out_of_order += u64::from(verdict.out_of_order);
        self.lost_segments += u64::from(verdict.lost_segment);
        self.dup_acks += u64::from(verdict.duplicate_ack);
    }

    /// Segments sent again as Wireshark marks them: retransmissions (fast and spurious ones,
    /// and resent SYNs and FINs, among them) and out-of-order segments.
    pub fn resent(&self) -> u64 {
        self.retransmissions + self.out_of_order
    }

    /// Adds another set of counts.
    pub fn add(&mut self, other: &FlagCounts) {
        self.syn += other.syn;
        self.synack += other.synack;
        self.handshake_ack += other.handshake_ack;
        self.pure_ack += other.pure_ack;
        self.data += other.data;
        self.fin += other.fin;
        self.rst += other.rst;
        self.packets += other.packets;
        self.bytes += other.bytes;
        self.retransmissions += other.retransmissions;
        self.fast_retransmissions += other.fast_retransmissions;
        self.spurious_retransmissions += other.spurious_retransmissions;
        self.out_of_order += other.out_of_order;
        self.lost_segments += other.lost_segments;
        self.resent_syn += other.resent_syn;
        self.resent_synack += other.resent_synack;
        self.resent_fin += other.resent_fin;
        self.dup_acks += other.dup_acks;
    }
}

/// Counts over a set of connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Distinct TCP streams.
    pub connections: u64,
    /// Their packet counts, summed.
    pub counts: FlagCounts,
}

impl Totals {
    /// Sums the flag counts of connections, one each.
    pub fn of<'a>(connections: impl IntoIterator<Item = &'a FlagCounts>) -> Totals {
        let mut totals = Totals::default();
        for counts in connections {
            totals.connections += 1;
            totals.counts.add(counts);
        }
        totals
    }

    /// Adds another set of totals.
    pub fn add(&mut self, other: &Totals) {
        self.connections += other.connections;
        self.counts.add(&other.counts);
    }
}

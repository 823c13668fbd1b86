//! Track layer: packet counts per connection and over many, with the definitions of Wireshark's
//! display filters.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, analysis or report code.

use super::connection::Connection;
use crate::capture::segment::Segment;

/// Packet counts, with the definitions of Wireshark's display filters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
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
    /// Segments that resend sequence space already sent (SYN, FIN or data).
    pub retransmissions: u64,
    /// Of those, SYNs sent again.
    pub resent_syn: u64,
    /// Of those, SYN-ACKs sent again.
    pub resent_synack: u64,
    /// Of those, FINs sent again (a tail loss probe or a timeout).
    pub resent_fin: u64,
    /// Pure ACKs repeating the previous ACK number and window of the same side.
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
        self.resent_syn += other.resent_syn;
        self.resent_synack += other.resent_synack;
        self.resent_fin += other.resent_fin;
        self.dup_acks += other.dup_acks;
    }
}

/// Counts over a set of connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Totals {
    /// Distinct TCP streams.
    pub connections: u64,
    /// Their packet counts, summed.
    #[serde(flatten)]
    pub counts: FlagCounts,
}

impl Totals {
    /// Sums the counts of `connections`.
    pub fn of<'a>(connections: impl IntoIterator<Item = &'a Connection>) -> Totals {
        let mut totals = Totals::default();
        for conn in connections {
            totals.connections += 1;
            totals.counts.add(&conn.counts);
        }
        totals
    }

    /// Adds another set of totals.
    pub fn add(&mut self, other: &Totals) {
        self.connections += other.connections;
        self.counts.add(&other.counts);
    }
}

//! Track layer: every packet of a few chosen connections, read again from a saved capture for the
//! pictures that need each one (ladder diagrams, time–sequence graphs): a TCP connection's
//! segments, a QUIC connection's datagrams with the packets coalesced in each. The trackers keep
//! counts, exchanges and rounds, not packets; this keeps packets, so it is asked only for what is
//! drawn.
//!
//! Opens captures through the capture layer's `Source` and `Decoder` alone; must not import
//! `pcap`, `etherparse`, analysis or report code.

use std::net::SocketAddr;
use std::path::Path;

use super::frames::each_frame;
use super::quic::{Coalesced, PacketType};
use super::seq_analysis::{SeqAnalysis, SeqVerdict};
use super::side::Side;
use crate::capture::CaptureError;
use crate::capture::decode::{Decoded, Decoder};
use crate::capture::segment::{Datagram, FlowKey, Segment, TcpFlags};
use crate::capture::source::Source;
use crate::timeline::Ts;

/// A connection to trace: its endpoints and the span of time it lived in (a 4-tuple may be used
/// again by a later connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRequest {
    /// The side that sent the first SYN (QUIC: the first Initial).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// Its first packet.
    pub from: Ts,
    /// Its last packet.
    pub to: Ts,
}

/// One packet of a traced connection, with sequence numbers relative to each side's first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracedPacket {
    /// Capture timestamp.
    pub ts: Ts,
    /// Who sent it.
    pub from: Side,
    /// Its flags.
    pub flags: TcpFlags,
    /// Sequence number relative to the sender's first (its SYN is 0, its first byte 1).
    pub seq: u32,
    /// Acknowledgement number relative to the receiver's first (0 without ACK).
    pub ack: u32,
    /// TCP payload bytes.
    pub len: u32,
    /// Sequence space the sender had already sent before (a retransmission or a segment out of
    /// order).
    pub resent: bool,
    /// What Wireshark's sequence analysis marks on it (`tcp.analysis.*`), which names a resend.
    pub analysis: SeqVerdict,
}

impl TracedPacket {
    /// One past its last byte of sequence space (SYN and FIN take one each).
    pub fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.len)
            .wrapping_add(u32::from(self.flags.syn) + u32::from(self.flags.fin))
    }
}

/// The packets of one traced connection, in capture order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionTrace {
    /// What was asked for.
    pub request: TraceRequest,
    /// Its packets.
    pub packets: Vec<TracedPacket>,
}

/// What one side has sent so far.
#[derive(Debug, Clone, Copy, Default)]
struct Sent {
    first_seq: Option<u32>,
    highest_end: u32,
}

/// One UDP datagram of a traced QUIC connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedDatagram {
    /// Capture timestamp.
    pub ts: Ts,
    /// Who sent it.
    pub from: Side,
    /// UDP payload bytes on the wire.
    pub len: u32,
    /// The QUIC packets coalesced in it, in order, each counted on its own as tshark counts
    /// them (empty when the snap length left none of it).
    pub packets: Vec<PacketType>,
    /// Bytes after its last packet read did not hold together as a QUIC packet.
    pub malformed: bool,
}

impl TracedDatagram {
    /// It holds a long-header packet (Initial, 0-RTT, Handshake, Retry, Version Negotiation).
    pub fn has_long_header(&self) -> bool {
        self.packets.iter().any(|&p| p != PacketType::OneRtt)
    }
}

/// The datagrams of one traced QUIC connection, in capture order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuicTrace {
    /// What was asked for.
    pub request: TraceRequest,
    /// Its datagrams.
    pub datagrams: Vec<TracedDatagram>,
}

/// What one reading of a capture traced.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Traces {
    /// The TCP connections, in request order.
    pub tcp: Vec<ConnectionTrace>,
    /// The QUIC connections, in request order.
    pub quic: Vec<QuicTrace>,
}

/// Reads `path` once and returns the packets of each requested connection, in request order.
pub fn trace_connections(
    path: &Path,
    requests: &[TraceRequest],
) -> Result<Vec<ConnectionTrace>, CaptureError> {
    Ok(trace_capture(path, requests, &[])?.tcp)
}

/// The request among `requests` (with their flow keys) that a packet of `key` at `ts` belongs to.
fn requested(keys: &[FlowKey], requests: &[TraceRequest], key: FlowKey, ts: Ts) -> Option<usize> {
    keys.iter()
        .zip(requests)
        .position(|(k, r)| *k == key && r.from <= ts && ts <= r.to)
}

/// Which side of `request` sent a packet from `source`.
fn sender(request: &TraceRequest, source: SocketAddr) -> Side {
    if source == request.client {
        Side::Client
    } else {
        Side::Server
    }
}

/// Reads `path` once and returns the segments of each requested TCP connection and the
/// datagrams of each requested QUIC connection, each in request order.
pub fn trace_capture(
    path: &Path,
    tcp: &[TraceRequest],
    quic: &[TraceRequest],
) -> Result<Traces, CaptureError> {
    let mut source = Source::open_file(path, None)?;
    let mut decoder = Decoder::new(source.link_type()?);
    let mut segments: Vec<(ConnectionTrace, [Sent; 2], SeqAnalysis)> = tcp
        .iter()
        .map(|&request| {
            let trace = ConnectionTrace {
                request,
                packets: Vec::new(),
            };
            (trace, [Sent::default(); 2], SeqAnalysis::default())
        })
        .collect();
    let mut datagrams: Vec<QuicTrace> = quic
        .iter()
        .map(|&request| QuicTrace {
            request,
            datagrams: Vec::new(),
        })
        .collect();
    let flow_keys = |requests: &[TraceRequest]| -> Vec<FlowKey> {
        requests
            .iter()
            .map(|r| FlowKey::of(r.client, r.server).0)
            .collect()
    };
    let (tcp_keys, quic_keys) = (flow_keys(tcp), flow_keys(quic));
    // A capture cut off mid-record is drawn up to the cut, as analyze reads it.
    let cut_mid_record = |e: &CaptureError, _: u64| matches!(e, CaptureError::Truncated { .. });
    each_frame(
        &mut source,
        &mut decoder,
        cut_mid_record,
        |_, decoded| match decoded.decoded {
            Decoded::Tcp(seg) => {
                if let Some(i) = requested(&tcp_keys, tcp, seg.key, seg.ts) {
                    let (trace, sent, analysis) = &mut segments[i];
                    trace_segment(trace, sent, analysis, &seg);
                }
            }
            Decoded::Udp(datagram) => {
                if let Some(i) = requested(&quic_keys, quic, datagram.key, datagram.ts) {
                    let trace = &mut datagrams[i];
                    trace.datagrams.extend(traced_datagram(
                        &trace.request,
                        &datagram,
                        decoded.payload,
                    ));
                }
            }
            _ => {}
        },
    )?;
    Ok(Traces {
        tcp: segments.into_iter().map(|(trace, ..)| trace).collect(),
        quic: datagrams,
    })
}

/// Adds one segment to its connection's trace.
fn trace_segment(
    trace: &mut ConnectionTrace,
    sent: &mut [Sent; 2],
    analysis: &mut SeqAnalysis,
    seg: &Segment,
) {
    let from = sender(&trace.request, seg.key.source(seg.dir));
    let (mine, theirs) = match from {
        Side::Client => (0, 1),
        Side::Server => (1, 0),
    };
    let first = *sent[mine].first_seq.get_or_insert(seg.seq);
    let seq = seg.seq.wrapping_sub(first);
    let ack = match sent[theirs].first_seq {
        Some(peer) if seg.flags.ack => seg.ack.wrapping_sub(peer),
        _ => 0,
    };
    let mut packet = TracedPacket {
        ts: seg.ts,
        from,
        flags: seg.flags,
        seq,
        ack,
        len: seg.payload_len,
        resent: false,
        analysis: analysis.analyze(from, seg),
    };
    let end = packet.end();
    // A keep-alive's byte one before the next is a probe, not a resend (as the tracker counts
    // it).
    packet.resent = end != seq && seq < sent[mine].highest_end && !packet.analysis.keep_alive;
    sent[mine].highest_end = sent[mine].highest_end.max(end);
    trace.packets.push(packet);
}

/// A datagram of a traced QUIC connection with its packets one by one, as the QUIC tracker cuts
/// them; `None` when its first bytes are not QUIC as synack reads it.
fn traced_datagram(
    request: &TraceRequest,
    datagram: &Datagram,
    payload: &[u8],
) -> Option<TracedDatagram> {
    let mut traced = TracedDatagram {
        ts: datagram.ts,
        from: sender(request, datagram.key.source(datagram.dir)),
        len: datagram.payload_len,
        packets: Vec::new(),
        malformed: false,
    };
    if payload.is_empty() {
        return Some(traced);
    }
    for (i, packet) in Coalesced::new(payload, datagram.payload_len as usize).enumerate() {
        match packet {
            Ok(Some(packet)) => traced.packets.push(packet.kind),
            Ok(None) if i == 0 => return None,
            Ok(None) | Err(_) => traced.malformed = true,
        }
    }
    Some(traced)
}

//! Track layer: every packet of a few chosen connections, read again from a saved capture for the
//! pictures that need each one (ladder diagrams, time–sequence graphs). The tracker keeps counts,
//! exchanges and rounds, not packets; this keeps packets, so it is asked only for what is drawn.
//!
//! Opens captures through the capture layer's `Source` and `Decoder` alone; must not import
//! `pcap`, `etherparse`, analysis or report code.

use std::net::SocketAddr;
use std::path::Path;

use super::frames::each_frame;
use super::seq_analysis::{SeqAnalysis, SeqVerdict};
use super::side::Side;
use crate::capture::CaptureError;
use crate::capture::decode::{Decoded, Decoder};
use crate::capture::segment::{FlowKey, TcpFlags};
use crate::capture::source::Source;
use crate::timeline::Ts;

/// A connection to trace: its endpoints and the span of time it lived in (a 4-tuple may be used
/// again by a later connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceRequest {
    /// The side that sent the first SYN.
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

/// Reads `path` once and returns the packets of each requested connection, in request order.
pub fn trace_connections(
    path: &Path,
    requests: &[TraceRequest],
) -> Result<Vec<ConnectionTrace>, CaptureError> {
    let mut source = Source::open_file(path, None)?;
    let mut decoder = Decoder::new(source.link_type()?);
    let mut traces: Vec<(ConnectionTrace, [Sent; 2], SeqAnalysis)> = requests
        .iter()
        .map(|&request| {
            let trace = ConnectionTrace {
                request,
                packets: Vec::new(),
            };
            (trace, [Sent::default(); 2], SeqAnalysis::default())
        })
        .collect();
    let keys: Vec<FlowKey> = requests
        .iter()
        .map(|r| FlowKey::of(r.client, r.server).0)
        .collect();
    // A capture cut off mid-record is drawn up to the cut, as analyze reads it.
    let cut_mid_record = |e: &CaptureError, _: u64| matches!(e, CaptureError::Truncated { .. });
    each_frame(&mut source, &mut decoder, cut_mid_record, |_, decoded| {
        let Decoded::Tcp(seg) = decoded.decoded else {
            return;
        };
        let Some(index) = keys
            .iter()
            .zip(requests)
            .position(|(key, r)| *key == seg.key && r.from <= seg.ts && seg.ts <= r.to)
        else {
            return;
        };
        let (trace, sent, analysis) = &mut traces[index];
        let from = if seg.key.source(seg.dir) == trace.request.client {
            Side::Client
        } else {
            Side::Server
        };
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
            analysis: analysis.analyze(from, &seg),
        };
        let end = packet.end();
        // A keep-alive's byte one before the next is a probe, not a resend (as the tracker
        // counts it).
        packet.resent = end != seq && seq < sent[mine].highest_end && !packet.analysis.keep_alive;
        sent[mine].highest_end = sent[mine].highest_end.max(end);
        trace.packets.push(packet);
    })?;
    Ok(traces.into_iter().map(|(trace, ..)| trace).collect())
}

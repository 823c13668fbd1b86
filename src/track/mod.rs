//! Track layer: segments → connections (Wireshark's TCP streams) with flag counts, RFC 9293 states,
//! handshake and teardown times, and request/response exchanges.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, transfer, analysis or report code
//! (`reader` alone opens captures, through the capture layer's `Source` and `Decoder`).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;
use std::net::SocketAddr;

use crate::capture::segment::{Direction, FlowKey, HttpStart, Segment, TcpFlags, seq_le, seq_lt};
use crate::timeline::Ts;

pub mod reader;

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
    /// Adds one segment's flags (the handshake ACK is counted by the tracker, which knows the ISN).
    fn count(&mut self, seg: &Segment) {
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

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The side that sent the first SYN (or the guessed one, mid-stream).
    Client,
    /// The other side.
    Server,
}

/// Connection states of RFC 9293 §3.3.2, as an observer on the path infers them for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "SCREAMING-KEBAB-CASE")]
pub enum TcpState {
    /// No connection.
    Closed,
    /// Waiting for a SYN.
    Listen,
    /// SYN sent, waiting for SYN-ACK.
    SynSent,
    /// SYN received, SYN-ACK sent, waiting for the ACK.
    SynReceived,
    /// Data may flow both ways.
    Established,
    /// Own FIN sent, not yet acknowledged.
    FinWait1,
    /// Own FIN acknowledged, waiting for the peer's.
    FinWait2,
    /// Peer's FIN received, own not yet sent.
    CloseWait,
    /// Both FINs sent, own not yet acknowledged.
    Closing,
    /// Own FIN sent after the peer's, waiting for its acknowledgement.
    LastAck,
    /// Both FINs acknowledged; the active closer waits 2·MSL.
    TimeWait,
}

/// What an endpoint did or saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointEvent {
    /// It sent a segment with these flags.
    Sent(TcpFlags),
    /// It received a segment with these flags; `acks_own_fin` when it acknowledges the endpoint's FIN.
    Received {
        /// The segment's flags.
        flags: TcpFlags,
        /// The segment acknowledges the FIN this endpoint sent.
        acks_own_fin: bool,
    },
}

/// One RFC 9293 transition for one endpoint. Pure: the tracker calls it for both ends of each segment.
pub fn transition(state: TcpState, event: EndpointEvent) -> TcpState {
    use EndpointEvent::{Received, Sent};
    use TcpState::*;
    match (state, event) {
        (_, Sent(f)) if f.rst => Closed,
        (_, Received { flags, .. }) if flags.rst => Closed,
        (Closed, Sent(f)) if f.syn && !f.ack => SynSent,
        (Listen, Received { flags, .. }) if flags.syn && !flags.ack => SynReceived,
        (SynSent, Received { flags, .. }) if flags.syn && flags.ack => Established,
        (SynSent, Received { flags, .. }) if flags.syn => SynReceived,
        (SynReceived, Received { flags, .. }) if flags.ack && !flags.syn => Established,
        (SynReceived, Sent(f)) if f.fin => FinWait1,
        (Established, Sent(f)) if f.fin => FinWait1,
        (Established, Received { flags, .. }) if flags.fin => CloseWait,
        (
            FinWait1,
            Received {
                flags,
                acks_own_fin,
            },
        ) if flags.fin && acks_own_fin => TimeWait,
        (FinWait1, Received { flags, .. }) if flags.fin => Closing,
        (FinWait1, Received { acks_own_fin, .. }) if acks_own_fin => FinWait2,
        (FinWait2, Received { flags, .. }) if flags.fin => TimeWait,
        (Closing, Received { acks_own_fin, .. }) if acks_own_fin => TimeWait,
        (CloseWait, Sent(f)) if f.fin => LastAck,
        (LastAck, Received { acks_own_fin, .. }) if acks_own_fin => Closed,
        (state, _) => state,
    }
}

/// How a connection ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalState {
    /// Both FINs sent and acknowledged.
    Closed,
    /// A RST ended it.
    Reset,
    /// One side sent FIN, the other did not.
    HalfClosed,
    /// Still open when the capture ended.
    Open,
}

/// How a connection's two FINs were exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloseKind {
    /// FIN, ACK, FIN, ACK: the second side acknowledged the first FIN before sending its own.
    FourWay,
    /// FIN, FIN+ACK, ACK: the second FIN carried the acknowledgement of the first.
    ThreeWay,
    /// Both FINs crossed on the wire.
    Simultaneous,
}

/// One request and its response on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exchange {
    /// First segment of the request (client data).
    pub request: Ts,
    /// First segment of the response (server data), if any.
    pub first_response: Option<Ts>,
    /// Last segment of the response seen so far.
    pub last_response: Option<Ts>,
    /// Flights the response took: bursts of server data separated by more than half the
    /// handshake round trip (one when the RTT is unknown).
    pub flights: u32,
}

/// One TCP connection (one Wireshark TCP stream).
#[derive(Debug, Clone)]
pub struct Connection {
    /// Order of first appearance in the capture, from 0 (Wireshark's `tcp.stream`).
    pub stream: usize,
    /// The side that sent the first SYN.
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// False when the capture began mid-connection and the client was guessed.
    pub syn_seen: bool,
    /// Packet counts.
    pub counts: FlagCounts,
    /// First packet.
    pub first_ts: Ts,
    /// Last packet.
    pub last_ts: Ts,
    /// The client's first SYN.
    pub syn_ts: Option<Ts>,
    /// The server's first SYN-ACK.
    pub synack_ts: Option<Ts>,
    /// The handshake ACK.
    pub handshake_ack_ts: Option<Ts>,
    /// The first segment carrying payload.
    pub first_data: Option<Ts>,
    /// The first FIN and who sent it (the active closer, which holds TIME_WAIT).
    pub first_fin: Option<(Ts, Side)>,
    /// The client's first FIN.
    pub client_fin: Option<Ts>,
    /// How the two FINs were exchanged, once both were seen.
    pub close: Option<CloseKind>,
    /// FIN segments that also carried data (the FIN rode on the last data segment).
    pub fin_with_data: u64,
    /// When the last FIN was acknowledged.
    pub teardown_end: Option<Ts>,
    /// The first RST.
    pub rst_ts: Option<Ts>,
    /// Payload bytes sent by the client.
    pub client_bytes: u64,
    /// Payload bytes sent by the server.
    pub server_bytes: u64,
    /// HTTP/1.x request lines seen at the start of client segments.
    pub http_requests: u64,
    /// Requests and their responses, in order.
    pub exchanges: Vec<Exchange>,
    /// The client's inferred state.
    pub client_state: TcpState,
    /// The server's inferred state.
    pub server_state: TcpState,
    isn: [Option<u32>; 2],
    next_seq: [Option<u32>; 2],
    fin_end: [Option<u32>; 2],
    fin_acked: [bool; 2],
    last_ack: [Option<(u32, u16)>; 2],
    data_base: [Option<u32>; 2],
    data_end: [Option<u32>; 2],
}

impl FinalState {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            FinalState::Closed => "closed",
            FinalState::Reset => "reset",
            FinalState::HalfClosed => "half-closed",
            FinalState::Open => "open",
        }
    }
}

impl Side {
    /// The name used in every output.
    pub fn name(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

impl Connection {
    fn new(stream: usize, seg: &Segment) -> Connection {
        let sender = seg.key.source(seg.dir);
        let receiver = seg.key.source(other(seg.dir));
        let f = seg.flags;
        let (client, server, syn_seen) = if f.syn && !f.ack {
            (sender, receiver, true)
        } else if f.syn && f.ack {
            // The SYN was before the capture; the SYN-ACK still says who the client is.
            (receiver, sender, false)
        } else if sender.port() >= receiver.port() {
            // Mid-stream: the ephemeral (higher) port is most likely the client's.
            (sender, receiver, false)
        } else {
            (receiver, sender, false)
        };
        let (client_state, server_state) = match (f.syn, f.ack) {
            (true, false) => (TcpState::Closed, TcpState::Listen),
            (true, true) => (TcpState::SynSent, TcpState::SynReceived),
            _ => (TcpState::Established, TcpState::Established),
        };
        Connection {
            stream,
            client,
            server,
            syn_seen,
            counts: FlagCounts::default(),
            first_ts: seg.ts,
            last_ts: seg.ts,
            syn_ts: None,
            synack_ts: None,
            handshake_ack_ts: None,
            first_data: None,
            first_fin: None,
            client_fin: None,
            close: None,
            fin_with_data: 0,
            teardown_end: None,
            rst_ts: None,
            client_bytes: 0,
            server_bytes: 0,
            http_requests: 0,
            exchanges: Vec::new(),
            client_state,
            server_state,
            isn: [None; 2],
            next_seq: [None; 2],
            fin_end: [None; 2],
            fin_acked: [false; 2],
            last_ack: [None; 2],
            data_base: [None; 2],
            data_end: [None; 2],
        }
    }

    /// Client SYN → server SYN-ACK, in seconds.
    pub fn handshake_s(&self) -> Option<f64> {
        Some(self.synack_ts?.secs_since(self.syn_ts?))
    }

    /// First packet → first payload byte either way, in seconds.
    pub fn time_to_first_data_s(&self) -> Option<f64> {
        Some(self.first_data?.secs_since(self.first_ts))
    }

    /// First FIN → acknowledgement of the last FIN, in seconds.
    pub fn teardown_s(&self) -> Option<f64> {
        Some(self.teardown_end?.secs_since(self.first_fin?.0))
    }

    /// How the connection ended.
    pub fn final_state(&self) -> FinalState {
        if self.rst_ts.is_some() {
            FinalState::Reset
        } else if self.teardown_end.is_some() {
            FinalState::Closed
        } else if self.first_fin.is_some() {
            FinalState::HalfClosed
        } else {
            FinalState::Open
        }
    }

    fn is_finished(&self) -> bool {
        matches!(self.final_state(), FinalState::Closed | FinalState::Reset)
    }

    fn side_of(&self, seg: &Segment) -> Side {
        if seg.key.source(seg.dir) == self.client {
            Side::Client
        } else {
            Side::Server
        }
    }

    fn update(&mut self, seg: &Segment) {
        let side = self.side_of(seg);
        let (me, peer) = match side {
            Side::Client => (0, 1),
            Side::Server => (1, 0),
        };
        let f = seg.flags;
        self.counts.count(seg);
        self.last_ts = seg.ts;

        // Sequence space this segment occupies: SYN and FIN count one each.
        let len = seg
            .payload_len
            .wrapping_add(u32::from(f.syn) + u32::from(f.fin));
        let end = seg.seq.wrapping_add(len);
        let resent = len > 0
            && !f.rst
            && match (f.syn, self.isn[me], self.next_seq[me]) {
                (true, Some(isn), _) => isn == seg.seq,
                // Wireshark's rule: data starting before the next expected byte, keep-alives
                // (one byte or none, just below it) excepted.
                (false, _, Some(next)) => {
                    let keep_alive =
                        !f.fin && seg.payload_len <= 1 && seg.seq == next.wrapping_sub(1);
                    seq_lt(seg.seq, next) && !keep_alive
                }
                _ => false,
            };
        if resent {
            self.counts.retransmissions += 1;
            self.counts.resent_syn += u64::from(f.syn && !f.ack);
            self.counts.resent_synack += u64::from(f.syn && f.ack);
            self.counts.resent_fin += u64::from(f.fin);
        }
        let pure_ack = seg.is_pure_ack();
        // Wireshark's rule: no payload, no SYN/FIN/RST, same non-zero window, same ACK, and the
        // sequence number at the side's next expected byte.
        if pure_ack
            && seg.window != 0
            && self.last_ack[me] == Some((seg.ack, seg.window))
            && self.next_seq[me].is_none_or(|n| n == seg.seq)
        {
            self.counts.dup_acks += 1;
        }
        if f.ack {
            self.last_ack[me] = Some((seg.ack, seg.window));
        }
        if f.syn && self.isn[me].is_none() {
            self.isn[me] = Some(seg.seq);
        }
        // Payload bytes each way: the span of sequence space the side's data covers, so a resend
        // that fills a hole the capture never saw (lost before the capture point) counts once.
        let data_start = seg.seq.wrapping_add(u32::from(f.syn));
        let data_end = data_start.wrapping_add(seg.payload_len);
        let base = *self.data_base[me].get_or_insert(data_start);
        if seg.payload_len > 0
            && self.data_end[me].is_none_or(|e| seq_lt(e, data_end))
            && !seq_lt(data_end, base)
        {
            self.data_end[me] = Some(data_end);
        }
        let sent_bytes = u64::from(self.data_end[me].map_or(0, |e| e.wrapping_sub(base)));
        if len > 0 && self.next_seq[me].is_none_or(|next| seq_lt(next, end)) {
            self.next_seq[me] = Some(end);
        }

        if f.syn && !f.ack && side == Side::Client && self.syn_ts.is_none() {
            self.syn_ts = Some(seg.ts);
        }
        if f.syn && f.ack && side == Side::Server && self.synack_ts.is_none() {
            self.synack_ts = Some(seg.ts);
        }
        if side == Side::Client
            && f.ack
            && !f.syn
            && self.handshake_ack_ts.is_none()
            && self.isn[1].is_some_and(|isn| seg.ack == isn.wrapping_add(1))
        {
            self.handshake_ack_ts = Some(seg.ts);
            self.counts.handshake_ack += 1;
        }
        if f.rst && self.rst_ts.is_none() {
            self.rst_ts = Some(seg.ts);
        }
        let second_fin = f.fin && self.fin_end[me].is_none() && self.fin_end[peer].is_some();
        if f.fin && seg.payload_len > 0 {
            self.fin_with_data += 1;
        }
        if f.fin && self.fin_end[me].is_none() {
            self.fin_end[me] = Some(end);
            if self.first_fin.is_none() {
                self.first_fin = Some((seg.ts, side));
            }
            if side == Side::Client {
                self.client_fin = Some(seg.ts);
            }
        }
        let acks_peer_fin = f.ack && self.fin_end[peer].is_some_and(|e| seq_le(e, seg.ack));

        let sent = EndpointEvent::Sent(f);
        let received = EndpointEvent::Received {
            flags: f,
            acks_own_fin: acks_peer_fin,
        };
        if second_fin {
            self.close = Some(if !acks_peer_fin {
                CloseKind::Simultaneous
            } else if self.fin_acked[peer] {
                CloseKind::FourWay
            } else {
                CloseKind::ThreeWay
            });
        }
        if acks_peer_fin {
            self.fin_acked[peer] = true;
        }
        let (sender_state, receiver_state) = match side {
            Side::Client => (&mut self.client_state, &mut self.server_state),
            Side::Server => (&mut self.server_state, &mut self.client_state),
        };
        if f.fin && *sender_state == TcpState::CloseWait && !acks_peer_fin {
            // Its own ACK field shows it sent this FIN before the peer's arrived: a simultaneous
            // close, so it goes FIN-WAIT-1 → CLOSING rather than CLOSE-WAIT → LAST-ACK.
            let fin = EndpointEvent::Received {
                flags: TcpFlags {
                    fin: true,
                    ..TcpFlags::default()
                },
                acks_own_fin: false,
            };
            *sender_state = transition(transition(TcpState::Established, sent), fin);
        } else {
            *sender_state = transition(*sender_state, sent);
        }
        *receiver_state = transition(*receiver_state, received);
        if self.teardown_end.is_none() && self.fin_acked == [true, true] {
            self.teardown_end = Some(seg.ts);
        }

        if seg.payload_len > 0 && self.first_data.is_none() {
            self.first_data = Some(seg.ts);
        }
        if seg.payload_len > 0 {
            match side {
                Side::Client => {
                    self.client_bytes = sent_bytes;
                    let answered = self
                        .exchanges
                        .last()
                        .is_none_or(|x| x.first_response.is_some());
                    if answered && !resent {
                        self.exchanges.push(Exchange {
                            request: seg.ts,
                            first_response: None,
                            last_response: None,
                            flights: 0,
                        });
                    }
                }
                Side::Server => {
                    // Resent data counts too: on a lossy path the response ends with it.
                    self.server_bytes = sent_bytes;
                    let half_rtt = self
                        .syn_ts
                        .zip(self.synack_ts)
                        .map(|(s, a)| a.0.saturating_sub(s.0) / 2);
                    if let Some(x) = self.exchanges.last_mut() {
                        let new_flight = match (x.last_response, half_rtt) {
                            (None, _) => true,
                            (Some(last), Some(half)) => seg.ts.0.saturating_sub(last.0) > half,
                            (Some(_), None) => false,
                        };
                        x.flights += u32::from(new_flight);
                        x.first_response.get_or_insert(seg.ts);
                        x.last_response = Some(x.last_response.map_or(seg.ts, |l| l.max(seg.ts)));
                    }
                }
            }
        }
        if side == Side::Client && seg.http == Some(HttpStart::Request) && !resent {
            self.http_requests += 1;
        }
    }
}

fn other(dir: Direction) -> Direction {
    match dir {
        Direction::AToB => Direction::BToA,
        Direction::BToA => Direction::AToB,
    }
}

/// How long a closed connection is kept for late packets (a retransmitted FIN, the ACK from
/// TIME-WAIT) before it is handed out, in capture time.
pub const LINGER: Ts = Ts(5_000_000_000);

/// Groups segments into connections, as Wireshark groups them into TCP streams. Memory follows the
/// connections open at once: closed ones are handed out by `drain_closed` after `LINGER`.
#[derive(Debug, Default)]
pub struct Tracker {
    open: FxHashMap<FlowKey, Connection>,
    closing: VecDeque<(Ts, FlowKey, usize)>,
    ready: Vec<Connection>,
    streams: usize,
    now: Ts,
}

impl Tracker {
    /// A tracker with no connections.
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Adds one segment.
    pub fn push(&mut self, seg: &Segment) {
        use std::collections::hash_map::Entry;
        let f = seg.flags;
        self.now = self.now.max(seg.ts);
        let conn = match self.open.entry(seg.key) {
            Entry::Occupied(entry) => {
                let entry = entry.into_mut();
                // A new SYN on a 4-tuple whose connection has ended, or with another ISN, is a
                // new connection (ports cycle through short connections).
                let sender = usize::from(entry.side_of(seg) == Side::Server);
                let new_syn = f.syn
                    && !f.ack
                    && (entry.is_finished()
                        || !entry.syn_seen
                        || entry.isn[sender].is_some_and(|isn| isn != seg.seq));
                if new_syn {
                    self.streams += 1;
                    let old = std::mem::replace(entry, Connection::new(self.streams - 1, seg));
                    self.ready.push(old);
                }
                entry
            }
            Entry::Vacant(entry) => {
                self.streams += 1;
                entry.insert(Connection::new(self.streams - 1, seg))
            }
        };
        let was_finished = conn.is_finished();
        conn.update(seg);
        if !was_finished && conn.is_finished() {
            self.closing.push_back((seg.ts, seg.key, conn.stream));
        }
    }

    /// Hands out the connections that closed more than `LINGER` ago (in capture time) or were
    /// replaced by a new connection on the same 4-tuple.
    pub fn drain_closed(&mut self) -> impl Iterator<Item = Connection> + '_ {
        while let Some(&(closed, key, stream)) = self.closing.front() {
            if self.now.0.saturating_sub(closed.0) < LINGER.0 {
                break;
            }
            self.closing.pop_front();
            let lingering = self
                .open
                .get(&key)
                .is_some_and(|c| c.stream == stream && c.is_finished());
            if lingering && let Some(conn) = self.open.remove(&key) {
                self.ready.push(conn);
            }
        }
        self.ready.drain(..)
    }

    /// Connections open (or lingering) now.
    pub fn open_connections(&self) -> usize {
        self.open.len()
    }

    /// Ends tracking; returns every connection not yet handed out, in stream order.
    pub fn finish(mut self) -> Vec<Connection> {
        let mut all = std::mem::take(&mut self.ready);
        all.extend(self.open.into_values());
        all.sort_by_key(|c| c.stream);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "127.0.0.1:40000";
    const SERVER: &str = "127.0.0.1:8080";

    struct Wire {
        t: i64,
        segs: Vec<Segment>,
        client: SocketAddr,
        server: SocketAddr,
    }

    fn flags(s: &str) -> TcpFlags {
        TcpFlags {
            syn: s.contains('S'),
            ack: s.contains('A'),
            fin: s.contains('F'),
            rst: s.contains('R'),
            psh: s.contains('P'),
        }
    }

    impl Wire {
        fn new() -> Wire {
            Wire::with(CLIENT)
        }
        fn with(client: &str) -> Wire {
            Wire {
                t: 1_000_000,
                segs: Vec::new(),
                client: client.parse().unwrap(),
                server: SERVER.parse().unwrap(),
            }
        }
        fn send(&mut self, from_client: bool, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
            let (src, dst) = if from_client {
                (self.client, self.server)
            } else {
                (self.server, self.client)
            };
            let (key, dir) = FlowKey::of(src, dst);
            self.t += 1_000;
            self.segs.push(Segment {
                ts: Ts(self.t),
                key,
                dir,
                seq,
                ack,
                flags: flags(f),
                payload_len: len,
                window: 1000,
                wire_len: 66 + len,
                http: None,
            });
            self
        }
        fn pause(&mut self, us: i64) -> &mut Wire {
            self.t += us * 1_000;
            self
        }
        fn c(&mut self, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
            self.send(true, f, seq, ack, len)
        }
        fn s(&mut self, f: &str, seq: u32, ack: u32, len: u32) -> &mut Wire {
            self.send(false, f, seq, ack, len)
        }
        /// SYN, SYN-ACK, ACK; client ISN 100, server ISN 500.
        fn handshake(&mut self) -> &mut Wire {
            self.c("S", 100, 0, 0)
                .s("SA", 500, 101, 0)
                .c("A", 101, 501, 0)
        }
        fn track(&self) -> Vec<Connection> {
            let mut tracker = Tracker::new();
            for seg in &self.segs {
                tracker.push(seg);
            }
            tracker.finish()
        }
    }

    // Tests for the handshake (CLOSED/LISTEN → SYN-SENT/SYN-RECEIVED → ESTABLISHED).

    #[test]
    fn three_way_handshake_establishes_and_is_timed() {
        let conns = Wire::new().handshake().track();
        assert_eq!(conns.len(), 1);
        let c = &conns[0];
        assert_eq!(c.client, CLIENT.parse().unwrap());
        assert!(c.syn_seen);
        assert_eq!(
            (c.counts.syn, c.counts.synack, c.counts.handshake_ack),
            (1, 1, 1)
        );
        assert_eq!(c.counts.pure_ack, 1);
        assert_eq!(c.client_state, TcpState::Established);
        assert_eq!(c.server_state, TcpState::Established);
        assert_eq!(c.handshake_s(), Some(1e-6));
        assert_eq!(c.final_state(), FinalState::Open);
    }

    #[test]
    fn retransmitted_syn_is_counted_but_not_a_second_connection() {
        let conns = Wire::new().c("S", 100, 0, 0).handshake().track();
        assert_eq!(conns.len(), 1);
        assert_eq!(conns[0].counts.syn, 2);
        assert_eq!(conns[0].counts.retransmissions, 1);
        assert_eq!(conns[0].counts.resent_syn, 1);
    }

    #[test]
    fn capture_starting_mid_stream_guesses_the_ephemeral_port_as_client() {
        let conns = Wire::new().s("A", 900, 300, 1000).track();
        assert_eq!(conns.len(), 1);
        assert!(!conns[0].syn_seen);
        assert_eq!(conns[0].client.port(), 40000);
        assert_eq!(conns[0].server_bytes, 1000);
    }

    // Tests for data transfer (ESTABLISHED).

    #[test]
    fn requests_and_responses_pair_up_into_exchanges() {
        let conns = Wire::new()
            .handshake()
            .c("PA", 101, 501, 50)
            .s("A", 501, 151, 1000)
            .s("PA", 1501, 151, 1000)
            .c("A", 151, 2501, 0)
            .c("PA", 151, 2501, 50)
            .s("PA", 2501, 201, 10)
            .track();
        let c = &conns[0];
        assert_eq!(c.exchanges.len(), 2);
        assert_eq!(c.exchanges[0].first_response, Some(Ts(1_005_000)));
        assert_eq!(c.exchanges[0].last_response, Some(Ts(1_006_000)));
        assert_eq!(c.counts.data, 5);
        assert_eq!(c.counts.pure_ack, 2);
        assert_eq!((c.client_bytes, c.server_bytes), (100, 2010));
    }

    #[test]
    fn response_flights_are_bursts_a_round_trip_apart() {
        // Handshake RTT 1 µs; two segments back to back, then one after 10 µs.
        let mut wire = Wire::new();
        wire.handshake().c("PA", 101, 501, 50).pause(50);
        let burst_start = wire.t;
        wire.s("A", 501, 151, 1000);
        wire.t = burst_start + 100; // 0.1 µs later: same flight
        wire.s("A", 1501, 151, 1000)
            .pause(10)
            .s("PA", 2501, 151, 1000);
        let conns = wire.track();
        assert_eq!(conns[0].exchanges[0].flights, 2);
    }

    #[test]
    fn retransmitted_data_does_not_start_a_new_exchange() {
        let conns = Wire::new()
            .handshake()
            .c("PA", 101, 501, 50)
            .s("PA", 501, 151, 100)
            .c("PA", 101, 501, 50)
            .track();
        assert_eq!(conns[0].exchanges.len(), 1);
        assert_eq!(conns[0].counts.retransmissions, 1);
        assert_eq!(conns[0].client_bytes, 50);
    }

    #[test]
    fn data_resent_into_a_hole_still_ends_the_response_and_counts_its_bytes() {
        // The segment at 1501 was lost before the capture point; its resend arrives last.
        let conns = Wire::new()
            .handshake()
            .c("PA", 101, 501, 50)
            .s("A", 501, 151, 1000)
            .s("A", 2501, 151, 1000)
            .s("PA", 1501, 151, 1000)
            .track();
        let c = &conns[0];
        assert_eq!(c.server_bytes, 3000);
        assert_eq!(c.counts.retransmissions, 1);
        assert_eq!(c.exchanges[0].last_response, Some(Ts(1_007_000)));
    }

    #[test]
    fn capture_starting_at_the_syn_ack_has_no_syn_seen() {
        let conns = Wire::new().s("SA", 500, 101, 0).c("A", 101, 501, 0).track();
        let c = &conns[0];
        assert_eq!(c.client.port(), 40000);
        assert!(!c.syn_seen);
        assert_eq!(c.counts.handshake_ack, 1);
        assert_eq!(c.client_state, TcpState::Established);
        assert_eq!(c.server_state, TcpState::Established);
    }

    // Tests for the close (FIN-WAIT, CLOSE-WAIT, LAST-ACK, TIME-WAIT).

    #[test]
    fn four_way_close_from_the_server_leaves_it_in_time_wait() {
        let conns = Wire::new()
            .handshake()
            .s("FA", 501, 101, 0)
            .c("A", 101, 502, 0)
            .c("FA", 101, 502, 0)
            .s("A", 502, 102, 0)
            .track();
        let c = &conns[0];
        assert_eq!(c.counts.fin, 2);
        assert_eq!(c.first_fin.map(|f| f.1), Some(Side::Server));
        assert_eq!(c.server_state, TcpState::TimeWait);
        assert_eq!(c.client_state, TcpState::Closed);
        assert_eq!(c.final_state(), FinalState::Closed);
        assert_eq!(c.teardown_s(), Some(3e-6));
        assert_eq!(c.close, Some(CloseKind::FourWay));
    }

    #[test]
    fn three_packet_close_ends_at_the_last_ack() {
        let conns = Wire::new()
            .handshake()
            .c("FA", 101, 501, 0)
            .s("FA", 501, 102, 0)
            .c("A", 102, 502, 0)
            .track();
        let c = &conns[0];
        assert_eq!(c.client_state, TcpState::TimeWait);
        assert_eq!(c.server_state, TcpState::Closed);
        assert_eq!(c.teardown_s(), Some(2e-6));
        assert_eq!(c.counts.pure_ack, 2);
        assert_eq!(c.close, Some(CloseKind::ThreeWay));
    }

    #[test]
    fn simultaneous_close_passes_through_closing() {
        let conns = Wire::new()
            .handshake()
            .c("FA", 101, 501, 0)
            .s("FA", 501, 101, 0)
            .c("A", 102, 502, 0)
            .s("A", 502, 102, 0)
            .track();
        let c = &conns[0];
        assert_eq!(c.client_state, TcpState::TimeWait);
        assert_eq!(c.server_state, TcpState::TimeWait);
        assert_eq!(c.teardown_s(), Some(3e-6));
        assert_eq!(c.close, Some(CloseKind::Simultaneous));
    }

    #[test]
    fn retransmitted_fin_is_counted_once_as_teardown() {
        let conns = Wire::new()
            .handshake()
            .s("FA", 501, 101, 0)
            .s("FA", 501, 101, 0)
            .c("A", 101, 502, 0)
            .c("FA", 101, 502, 0)
            .s("A", 502, 102, 0)
            .track();
        let c = &conns[0];
        assert_eq!(c.counts.fin, 3);
        assert_eq!(c.counts.retransmissions, 1);
        assert_eq!(c.counts.resent_fin, 1);
        assert_eq!(c.first_fin.map(|f| f.0), Some(Ts(1_004_000)));
        assert_eq!(c.final_state(), FinalState::Closed);
    }

    #[test]
    fn reset_ends_the_connection() {
        let conns = Wire::new().handshake().s("RA", 501, 101, 0).track();
        let c = &conns[0];
        assert_eq!(c.counts.rst, 1);
        assert_eq!(c.final_state(), FinalState::Reset);
        assert_eq!(c.client_state, TcpState::Closed);
    }

    #[test]
    fn repeated_pure_acks_are_duplicate_acks() {
        let conns = Wire::new()
            .handshake()
            .s("A", 501, 101, 100)
            .c("A", 101, 601, 0)
            .c("A", 101, 601, 0)
            .c("A", 101, 601, 0)
            .track();
        assert_eq!(conns[0].counts.dup_acks, 2);
        assert_eq!(conns[0].counts.retransmissions, 0);
    }

    #[test]
    fn keep_alive_is_not_a_retransmission() {
        let conns = Wire::new()
            .handshake()
            .c("PA", 101, 501, 10)
            .c("A", 110, 501, 1)
            .track();
        assert_eq!(conns[0].counts.retransmissions, 0);
    }

    // Tests for stream boundaries.

    #[test]
    fn reused_four_tuple_after_close_is_a_new_connection() {
        let mut wire = Wire::new();
        wire.handshake()
            .s("FA", 501, 101, 0)
            .c("FA", 101, 502, 0)
            .s("A", 502, 102, 0)
            .c("S", 7000, 0, 0)
            .s("SA", 9000, 7001, 0);
        let conns = wire.track();
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[1].stream, 1);
        assert_eq!(conns[1].counts.syn, 1);
        assert_eq!(conns[0].counts.syn, 1);
    }

    #[test]
    fn closed_connections_are_handed_out_after_lingering() {
        let mut wire = Wire::new();
        wire.handshake()
            .s("FA", 501, 101, 0)
            .c("FA", 101, 502, 0)
            .s("A", 502, 102, 0);
        let mut tracker = Tracker::new();
        for seg in &wire.segs {
            tracker.push(seg);
        }
        assert_eq!(tracker.drain_closed().count(), 0, "still lingering");
        let mut other = Wire::with("127.0.0.1:40009");
        other.t = wire.t + LINGER.0 + 1;
        other.c("S", 1, 0, 0);
        tracker.push(&other.segs[0]);
        let drained: Vec<Connection> = tracker.drain_closed().collect();
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].client.port(), 40000);
        assert_eq!(tracker.open_connections(), 1);
        assert_eq!(tracker.finish().len(), 1);
    }

    #[test]
    fn distinct_ports_are_distinct_connections_in_order() {
        let mut a = Wire::with("127.0.0.1:40001");
        a.handshake();
        let mut b = Wire::with("127.0.0.1:40002");
        b.t = 2_000_000;
        b.handshake();
        let mut tracker = Tracker::new();
        for seg in a.segs.iter().chain(&b.segs) {
            tracker.push(seg);
        }
        let conns = tracker.finish();
        assert_eq!(conns.len(), 2);
        assert_eq!(conns[0].client.port(), 40001);
        assert_eq!(conns[1].client.port(), 40002);
    }
}

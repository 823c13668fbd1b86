//! Track layer: one TCP connection (one Wireshark TCP stream), built segment by segment.
//!
//! Works on `Segment` alone; must not import `pcap`, `etherparse`, transfer, analysis or report
//! code.

use std::net::SocketAddr;
use std::sync::Arc;

use smallvec::SmallVec;

use super::counts::FlagCounts;
use super::decrypted::DecryptedTls;
use super::exchange::Exchange;
use super::half::HalfConnection;
use super::http2::{Http2Seen, Http2State, TlsAlpn};
use super::keylog::KeyLog;
use super::requests::RequestCounter;
use super::rounds::RoundClock;
use super::seq::SeqNumber;
use super::seq_analysis::SeqAnalysis;
use super::side::Side;
use super::state::{EndpointEvent, TcpState, simultaneous_close, transition};
use super::tls::{Decryption, TlsHandshake, TlsState};
use crate::capture::segment::{Direction, Segment};
use crate::timeline::Ts;

/// How a connection ended, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// How a connection's two FINs were exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseKind {
    /// FIN, ACK, FIN, ACK: the second side acknowledged the first FIN before sending its own.
    FourWay,
    /// FIN, FIN+ACK, ACK: the second FIN carried the acknowledgement of the first.
    ThreeWay,
    /// Both FINs crossed on the wire.
    Simultaneous,
}

/// How many requests a connection carried, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestCount {
    /// Counted: HTTP/1.x request heads, cleartext HTTP/2 requests, or request/response turns.
    Counted(u64),
    /// Not countable: HTTP/2 (or possibly HTTP/2) inside TLS, whose frames are encrypted.
    Encrypted(TlsAlpn),
}

impl RequestCount {
    /// The count, when there is one.
    pub fn known(self) -> Option<u64> {
        match self {
            RequestCount::Counted(n) => Some(n),
            RequestCount::Encrypted(_) => None,
        }
    }
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
    /// Payload bytes the client's first SYN carried (a request sent with TCP Fast Open).
    pub syn_data: u64,
    /// When the last FIN was acknowledged.
    pub teardown_end: Option<Ts>,
    /// The first RST.
    pub rst_ts: Option<Ts>,
    /// Who sent the first RST.
    pub rst_by: Option<Side>,
    /// Payload bytes sent by the client.
    pub client_bytes: u64,
    /// Payload bytes sent by the server.
    pub server_bytes: u64,
    /// HTTP/1.x request heads in the client's stream, as tshark's `http.request` counts them
    /// (pipelined ones in one segment each count).
    pub http_requests: u64,
    /// Requests and their responses, in order (most connections carry one: it is kept inline).
    pub exchanges: SmallVec<[Exchange; 1]>,
    /// The client's inferred state.
    pub client_state: TcpState,
    /// The server's inferred state.
    pub server_state: TcpState,
    client_half: HalfConnection,
    server_half: HalfConnection,
    /// The client's latest SYN, until the first SYN-ACK.
    latest_syn: Option<Ts>,
    /// The capture point's round trip to the server: latest client SYN → first SYN-ACK.
    vantage_rtt: Option<i64>,
    /// The current response's rounds.
    round_clock: RoundClock,
    /// Wireshark's sequence analysis of both directions.
    seq_analysis: SeqAnalysis,
    /// What the payload shows of TLS.
    tls: TlsState,
    /// What the payload shows of cleartext HTTP/2.
    http2: Http2State,
    /// On a TLS connection, the client has sent its closing alert: what the server sends now
    /// is its own close_notify, not a response.
    tls_closing: bool,
    /// Counts `http_requests` in the client's stream.
    request_heads: RequestCounter,
    /// With a key log: the TLS records opened, and what their application data carries.
    decrypted: Option<Box<DecryptedTls>>,
}

/// The largest segment payload that holds one TLS alert record and nothing else: a 5-byte
/// header, a TLS 1.2 explicit nonce (8), the alert (2) and an AEAD tag (16).
const MAX_ALERT_SEGMENT: u32 = 5 + 8 + 2 + 16;

impl Connection {
    /// A connection whose first captured segment is `seg`.
    pub(super) fn new(stream: usize, seg: &Segment) -> Connection {
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
            syn_data: 0,
            teardown_end: None,
            rst_ts: None,
            rst_by: None,
            client_bytes: 0,
            server_bytes: 0,
            http_requests: 0,
            request_heads: RequestCounter::default(),
            exchanges: SmallVec::new(),
            client_state,
            server_state,
            client_half: HalfConnection::default(),
            server_half: HalfConnection::default(),
            latest_syn: None,
            vantage_rtt: None,
            round_clock: RoundClock::default(),
            seq_analysis: SeqAnalysis::default(),
            tls: TlsState::default(),
            http2: Http2State::default(),
            tls_closing: false,
            decrypted: None,
        }
    }

    /// Decrypts the connection's TLS records with the secrets of `keylog` (from its first
    /// segment on, so before any is added).
    pub(super) fn decrypt_with(&mut self, keylog: Arc<KeyLog>) {
        self.decrypted = Some(Box::new(DecryptedTls::new(keylog)));
    }

    /// What a key log did for this TLS connection; `None` without a key log or TLS.
    pub fn decryption(&self) -> Option<Decryption> {
        self.tls()?;
        Some(self.decrypted.as_ref()?.outcome())
    }

    /// The decrypted connection's requests: its HTTP/2 requests, or else its HTTP/1.x request
    /// heads, when it was decrypted and carried either.
    fn decrypted_requests(&self) -> Option<u64> {
        let decrypted = self.decrypted.as_ref()?;
        if !matches!(decrypted.outcome(), Decryption::Decrypted { .. }) {
            return None;
        }
        match decrypted.http2() {
            Some(frames) => Some(frames.requests),
            None => Some(decrypted.http1_requests()).filter(|&n| n > 0),
        }
    }

    /// Requests on this connection: cleartext HTTP/2's requests (client streams opened by
    /// HEADERS); unknown on HTTP/2 over TLS; the HTTP/1.x request heads where the capture shows
    /// them (tshark's count); else the request/response exchanges (TLS, or no HTTP).
    pub fn requests(&self) -> RequestCount {
        if let Some(n) = self.decrypted_requests() {
            return RequestCount::Counted(n);
        }
        match self.http2() {
            Some(Http2Seen::Frames(f)) => RequestCount::Counted(f.requests),
            Some(Http2Seen::Encrypted(alpn)) => RequestCount::Encrypted(alpn),
            None if self.http_requests > 0 => RequestCount::Counted(self.http_requests),
            None => RequestCount::Counted(self.exchanges.len() as u64),
        }
    }

    /// How the connection shows HTTP/2, if it does: its frames in cleartext, or over TLS what
    /// the ALPN says.
    pub fn http2(&self) -> Option<Http2Seen<'_>> {
        if let Some(frames) = self.http2.frames() {
            return Some(Http2Seen::Frames(frames));
        }
        if let Some(frames) = self.decrypted.as_ref().and_then(|d| d.http2()) {
            return Some(Http2Seen::Frames(frames));
        }
        self.tls().and_then(TlsAlpn::of).map(Http2Seen::Encrypted)
    }

    /// The TLS handshake counted on the wire, when the connection's first payload bytes were a
    /// TLS handshake record (read from the captured payload: none without it).
    pub fn tls(&self) -> Option<&TlsHandshake> {
        self.tls.handshake()
    }

    /// Client SYN → server SYN-ACK, in seconds.
    pub fn handshake_s(&self) -> Option<f64> {
        Some(self.synack_ts?.secs_since(self.syn_ts?))
    }

    /// The capture point's round trip to the server, in seconds: the latest SYN before the
    /// SYN-ACK → the SYN-ACK. Unlike [`Connection::handshake_s`], a SYN resent after a loss does
    /// not count its timeout as path delay.
    pub fn round_trip_s(&self) -> Option<f64> {
        self.vantage_rtt.map(|ns| ns as f64 / 1e9)
    }

    /// First packet → first payload byte either way, in seconds.
    pub fn time_to_first_data_s(&self) -> Option<f64> {
        Some(self.first_data?.secs_since(self.first_ts))
    }

    /// First FIN → acknowledgement of the last FIN, in seconds.
    pub fn teardown_s(&self) -> Option<f64> {
        Some(self.teardown_end?.secs_since(self.first_fin?.0))
    }

    /// The MSS both sides agreed on: the smaller of the two SYNs' MSS options (the one seen, when
    /// only one was captured or carried it).
    pub fn mss(&self) -> Option<u16> {
        match (self.client_half.mss(), self.server_half.mss()) {
            (Some(c), Some(s)) => Some(c.min(s)),
            (c, s) => c.or(s),
        }
    }

    /// The window scale shift the client's SYN announced, if it carried the option.
    pub fn client_window_scale(&self) -> Option<u8> {
        self.client_half.window_scale()
    }

    /// The window scale shift the server's SYN-ACK announced, if it carried the option.
    pub fn server_window_scale(&self) -> Option<u8> {
        self.server_half.window_scale()
    }

    /// The client's receive window in bytes as its last segment advertised it: the window field
    /// shifted by the client's scale, unless the segment is a SYN or the server's SYN-ACK was seen
    /// without the option (then neither side scales, RFC 7323 §2.2).
    fn client_window_bytes(&self) -> Option<u64> {
        let (window, from_syn) = self.client_half.last_window()?;
        let server_refused =
            self.server_half.isn().is_some() && self.server_window_scale().is_none();
        let shift = match self.client_window_scale() {
            Some(shift) if !from_syn && !server_refused => u32::from(shift.min(MAX_WINDOW_SHIFT)),
            _ => 0,
        };
        Some(u64::from(window) << shift)
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

    /// Reads a word from each part of the connection that its readers read, and sums them: the
    /// tracker calls this for a batch of connections before it hands them out, so that their
    /// cache misses overlap rather than come one after another inside the readers.
    pub(super) fn fetch(&self) -> u64 {
        let ts = |t: Option<Ts>| t.map_or(0, |t| t.0 as u64);
        let exchange = self.exchanges.first().map_or(0, |x| {
            x.request.0 as u64 ^ x.rounds.len() as u64 ^ x.client_window.unwrap_or(0)
        });
        let halves = u64::from(self.client_half.mss().unwrap_or(0))
            ^ u64::from(self.server_half.mss().unwrap_or(0));
        let payload =
            u64::from(self.tls.handshake().is_some()) ^ u64::from(self.http2.frames().is_some());
        [
            self.stream as u64,
            u64::from(self.client.port()) ^ u64::from(self.server.port()),
            self.counts.syn,
            self.counts.packets,
            self.counts.dup_acks,
            self.first_ts.0 as u64,
            self.last_ts.0 as u64,
            ts(self.syn_ts),
            ts(self.synack_ts),
            ts(self.handshake_ack_ts),
            ts(self.first_data),
            ts(self.client_fin),
            ts(self.teardown_end),
            ts(self.rst_ts),
            self.fin_with_data ^ self.syn_data,
            self.client_bytes ^ self.server_bytes ^ self.http_requests,
            exchange,
            halves,
            payload,
        ]
        .iter()
        .fold(0, |sum, &word| sum.wrapping_add(word))
    }

    /// Closed or reset: a new SYN on the same 4-tuple starts another connection.
    pub(super) fn is_finished(&self) -> bool {
        matches!(self.final_state(), FinalState::Closed | FinalState::Reset)
    }

    /// Which side sent `seg`.
    pub(super) fn side_of(&self, seg: &Segment) -> Side {
        if seg.key.source(seg.dir) == self.client {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// What `side` has sent.
    pub(super) fn half(&self, side: Side) -> &HalfConnection {
        match side {
            Side::Client => &self.client_half,
            Side::Server => &self.server_half,
        }
    }

    fn half_mut(&mut self, side: Side) -> &mut HalfConnection {
        match side {
            Side::Client => &mut self.client_half,
            Side::Server => &mut self.server_half,
        }
    }

    /// Adds the next segment of this connection, with the payload bytes the capture holds.
    pub(super) fn update(&mut self, seg: &Segment, payload: &[u8]) {
        let side = self.side_of(seg);
        self.counts.count(seg);
        self.last_ts = seg.ts;
        let resent = self.count_resends(side, seg);
        let new_data = self.half(side).is_new(seg);
        self.half_mut(side).record_sent(seg);
        self.time_handshake(side, seg);
        self.follow_close(side, seg);
        let start = |half: &HalfConnection| half.isn().map(|isn| isn + 1u32);
        let (mine, peer) = (start(self.half(side)), start(self.half(side.peer())));
        // Before the exchanges: whether this segment ends a TLS handshake decides whether it
        // starts a request.
        self.tls.push(side, seg, payload, mine, peer);
        if self.tls.ruled_out() {
            self.decrypted = None;
        } else if let Some(decrypted) = &mut self.decrypted {
            decrypted.push(side, seg, payload);
        }
        let h2_requests = self.http2.push(side, seg, payload, mine, peer);
        self.follow_exchanges(side, seg, payload, resent, new_data, h2_requests);
    }

    /// Counts what Wireshark's sequence analysis marks on `seg`, and resent SYNs and FINs (before
    /// `seg` is recorded); true when `seg` resends sequence space already sent.
    fn count_resends(&mut self, side: Side, seg: &Segment) -> bool {
        let f = seg.flags;
        let resent = self.half(side).resends(seg);
        if resent {
            self.counts.resent_syn += u64::from(f.syn && !f.ack);
            self.counts.resent_synack += u64::from(f.syn && f.ack);
            self.counts.resent_fin += u64::from(f.fin);
        }
        let verdict = self.seq_analysis.analyze(side, seg);
        self.counts.count_verdict(&verdict);
        resent
    }

    /// The SYN, the SYN-ACK, the handshake ACK and the first RST.
    fn time_handshake(&mut self, side: Side, seg: &Segment) {
        let f = seg.flags;
        if f.syn && !f.ack && side == Side::Client {
            if self.syn_ts.is_none() {
                self.syn_data = u64::from(seg.payload_len);
            }
            self.syn_ts.get_or_insert(seg.ts);
            if self.synack_ts.is_none() {
                self.latest_syn = Some(seg.ts);
            }
        }
        if f.syn && f.ack && side == Side::Server && self.synack_ts.is_none() {
            self.synack_ts = Some(seg.ts);
            self.vantage_rtt = self.latest_syn.map(|syn| seg.ts.0.saturating_sub(syn.0));
        }
        let acks_server_isn = self
            .server_half
            .isn()
            .is_some_and(|isn| SeqNumber(seg.ack) == isn + 1u32);
        if side == Side::Client
            && f.ack
            && !f.syn
            && self.handshake_ack_ts.is_none()
            && acks_server_isn
        {
            self.handshake_ack_ts = Some(seg.ts);
            self.counts.handshake_ack += 1;
        }
        if f.rst && self.rst_ts.is_none() {
            self.rst_ts = Some(seg.ts);
            self.rst_by = Some(side);
        }
    }

    /// FINs, how they were exchanged, both ends' RFC 9293 states and the end of the teardown.
    fn follow_close(&mut self, side: Side, seg: &Segment) {
        let f = seg.flags;
        let peer = side.peer();
        let second_fin =
            f.fin && self.half(side).fin_end().is_none() && self.half(peer).fin_end().is_some();
        if f.fin && seg.payload_len > 0 {
            self.fin_with_data += 1;
        }
        if self.half_mut(side).record_fin(seg) {
            self.first_fin.get_or_insert((seg.ts, side));
            if side == Side::Client {
                self.client_fin = Some(seg.ts);
            }
        }
        let acks_peer_fin = f.ack && self.half(peer).fin_covered_by(SeqNumber(seg.ack));
        if second_fin {
            self.close = Some(if !acks_peer_fin {
                CloseKind::Simultaneous
            } else if self.half(peer).fin_acked() {
                CloseKind::FourWay
            } else {
                CloseKind::ThreeWay
            });
        }
        if acks_peer_fin {
            self.half_mut(peer).set_fin_acked();
        }

        let sent = EndpointEvent::Sent(f);
        let received = EndpointEvent::Received {
            flags: f,
            acks_own_fin: acks_peer_fin,
        };
        let (sender_state, receiver_state) = match side {
            Side::Client => (&mut self.client_state, &mut self.server_state),
            Side::Server => (&mut self.server_state, &mut self.client_state),
        };
        *sender_state = if f.fin && *sender_state == TcpState::CloseWait && !acks_peer_fin {
            simultaneous_close(f)
        } else {
            transition(*sender_state, sent)
        };
        *receiver_state = transition(*receiver_state, received);
        if self.teardown_end.is_none()
            && self.client_half.fin_acked()
            && self.server_half.fin_acked()
        {
            self.teardown_end = Some(seg.ts);
        }
    }

    /// Payload bytes each way, requests paired with their responses, and the responses' rounds.
    fn follow_exchanges(
        &mut self,
        side: Side,
        seg: &Segment,
        payload: &[u8],
        resent: bool,
        new_data: bool,
        h2_requests: u64,
    ) {
        if side == Side::Client && seg.flags.ack {
            self.round_clock.client_ack(SeqNumber(seg.ack), seg.ts);
        }
        if seg.payload_len > 0 {
            self.first_data.get_or_insert(seg.ts);
            let sent_bytes = self.half(side).sent_bytes();
            let tls = self.tls.handshake();
            match side {
                Side::Client => {
                    self.client_bytes = sent_bytes;
                    // On TLS, requests are application data after the handshake; a segment of
                    // at most one alert record carries no request (an HTTP request is longer
                    // than the two bytes an alert holds).
                    let alert = tls.is_some() && seg.payload_len <= MAX_ALERT_SEGMENT;
                    // A segment that ends the client's handshake (its Finished, after early
                    // data its EndOfEarlyData) carries no request unless it also carries the
                    // client's first data.
                    // In cleartext HTTP/2 a request is a HEADERS frame opening a stream: the
                    // client's SETTINGS, WINDOW_UPDATE and PING frames are none.
                    let h2c = self.http2.frames().is_some();
                    let request = match tls {
                        None if h2c => h2_requests > 0,
                        None => true,
                        Some(h) => {
                            let first_data = h.client_first_data == Some(seg.ts);
                            let after_finished = h.client_finished.is_none_or(|f| f < seg.ts);
                            h.client_first_data.is_some()
                                && !alert
                                && (first_data || after_finished)
                        }
                    };
                    // Only after the client's Finished: before it, a short record ends the
                    // client's early data (EndOfEarlyData).
                    let finished_before =
                        tls.is_some_and(|h| h.client_finished.is_some_and(|f| f < seg.ts));
                    if alert && finished_before {
                        self.tls_closing = true;
                    }
                    let answered = self.exchanges.last().is_none_or(Exchange::answered);
                    if request && answered && !resent {
                        // A TLS record's bytes are no request line: the target stays unknown.
                        let plain = if tls.is_none() { payload } else { &[] };
                        self.exchanges.push(Exchange::new(seg.ts, plain));
                        self.round_clock.reset();
                    }
                }
                // On TLS, responses are the server's application data after the handshake,
                // up to the client's closing alert.
                Side::Server => {
                    let response =
                        tls.is_none_or(|h| h.server_first_data.is_some()) && !self.tls_closing;
                    if response {
                        self.add_response(seg, new_data, sent_bytes);
                    } else {
                        self.server_bytes = sent_bytes;
                    }
                }
            }
        }
        if side == Side::Client {
            // A SYN's sequence number is its own; data on it (Fast Open) starts one later.
            let start = SeqNumber(seg.seq) + u32::from(seg.flags.syn);
            self.request_heads.feed(start, seg.payload_len, payload);
            self.http_requests = self.request_heads.count;
        }
    }

    /// Server data: the response's bytes, its rounds, and the client's window it started with.
    fn add_response(&mut self, seg: &Segment, new_data: bool, sent_bytes: u64) {
        // Resent data counts too: on a lossy path the response ends with it.
        self.server_bytes = sent_bytes;
        let client_window = self.client_window_bytes();
        let vantage_rtt = self.vantage_rtt.unwrap_or(0);
        let Some(x) = self.exchanges.last_mut() else {
            return;
        };
        if !x.answered() {
            x.client_window = client_window;
        }
        let end = SeqNumber(seg.seq) + seg.payload_len;
        let opens_round =
            self.round_clock
                .opens_round(seg.ts, x.rounds.len(), new_data, end, vantage_rtt);
        x.add_response(seg.ts, seg.payload_len, opens_round);
    }
}

/// RFC 7323 §2.3: a larger shift is used as 14.
const MAX_WINDOW_SHIFT: u8 = 14;

fn other(dir: Direction) -> Direction {
    match dir {
        Direction::AToB => Direction::BToA,
        Direction::BToA => Direction::AToB,
    }
}

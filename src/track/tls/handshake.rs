//! Track layer: a connection's TLS handshake as counted on the wire, built from both directions'
//! records and plaintext handshake messages in capture order, without keys.
//!
//! What can be told apart without keys: the hellos, every plaintext handshake message (all of TLS
//! 1.2's first flights; TLS 1.3's ClientHello, ServerHello and HelloRetryRequest), record content
//! types, and ChangeCipherSpec. What cannot: inside TLS 1.3's encrypted records (all of content
//! type 23) the server's EncryptedExtensions, Certificate and Finished, the client's Finished,
//! EndOfEarlyData, NewSessionTicket, KeyUpdate and every alert (close_notify too) look like
//! application data, so TLS 1.3's boundaries below are inferred from order: the client's Finished
//! is its first type-23 record after the ServerHello and the first of the server's type-23 records
//! (with accepted early data that is EndOfEarlyData, sent in the same flight); the server's first
//! application data is its first type-23 record after that — often a NewSessionTicket rather than
//! the response — and the client's, when it sends no request, may be its close_notify. After the
//! client sent early data, a server that accepts it may answer right behind its own first flight,
//! before the client's Finished (0.5-RTT data), so there the server's first application data is its
//! first type-23 record: its encrypted flight, which leaves with the answer (unless a
//! HelloRetryRequest turned the early data down). Whether the server
//! accepted early data is in EncryptedExtensions and is not known.
//!
//! Works on typed events alone; must not import capture, analysis or report code.

use super::hello::{ClientHello, ServerHello, SessionId};
use super::record::{
    ALERT, APPLICATION_DATA, Body, CERTIFICATE, CHANGE_CIPHER_SPEC, CLIENT_HELLO, Event, HANDSHAKE,
    SERVER_HELLO,
};
use crate::timeline::Ts;
use crate::track::side::Side;

/// The shortest encrypted record a TLS 1.3 Finished makes: the message's 4-byte header, a
/// SHA-256 verify_data (32), the inner content type (1) and a 16-byte AEAD tag. EndOfEarlyData
/// (no body: 4 + 1 + 16) and an alert (2 + 1 + 16) are shorter.
const SHORTEST_TLS13_FINISHED_RECORD: usize = 4 + 32 + 1 + 16;

/// A TLS version as the wire spells it, RFC 8446's `ProtocolVersion` (0x0303 is TLS 1.2, 0x0304
/// TLS 1.3): any value a capture may hold, unlike the versions synack itself speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion(pub u16);

impl ProtocolVersion {
    /// TLS 1.2.
    pub const TLS_1_2: ProtocolVersion = ProtocolVersion(0x0303);
    /// TLS 1.3.
    pub const TLS_1_3: ProtocolVersion = ProtocolVersion(0x0304);
}

/// How the capture shows that a handshake resumed a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumption {
    /// TLS 1.3: the ServerHello carries pre_shared_key.
    PreSharedKey,
    /// TLS 1.2: the ServerHello echoes the ClientHello's non-empty session id.
    SessionId,
    /// TLS 1.2: the ClientHello carried a session ticket and the ServerHello echoes its session
    /// id, as a server accepting the ticket does (RFC 5077 §3.4).
    Ticket,
    /// TLS 1.2: the server went from its ServerHello to ChangeCipherSpec without a Certificate.
    NoCertificate,
}

/// Counts of plaintext handshake messages by type (RFC 8446 §4's `HandshakeType`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeCounts(Vec<(u8, u32)>);

impl HandshakeCounts {
    fn add(&mut self, msg_type: u8, n: u32) {
        match self.0.binary_search_by_key(&msg_type, |&(t, _)| t) {
            Ok(i) => self.0[i].1 += n,
            Err(i) => self.0.insert(i, (msg_type, n)),
        }
    }

    /// Messages of `msg_type` seen.
    pub fn get(&self, msg_type: u8) -> u32 {
        self.0
            .binary_search_by_key(&msg_type, |&(t, _)| t)
            .map_or(0, |i| self.0[i].1)
    }

    /// (type, count) pairs in type order, types seen only.
    pub fn iter(&self) -> impl Iterator<Item = (u8, u32)> + '_ {
        self.0.iter().copied()
    }

    /// Adds another connection's counts.
    pub fn merge(&mut self, other: &HandshakeCounts) {
        for (t, n) in other.iter() {
            self.add(t, n);
        }
    }
}

/// Records seen by content type, up to where each direction stopped being read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordCounts {
    /// ChangeCipherSpec (20).
    pub change_cipher_spec: u32,
    /// Alert (21).
    pub alert: u32,
    /// Handshake (22), plaintext or encrypted.
    pub handshake: u32,
    /// Application data (23), which in TLS 1.3 includes the encrypted handshake.
    pub application_data: u32,
    /// Heartbeat (24).
    pub heartbeat: u32,
}

impl RecordCounts {
    fn add(&mut self, content_type: u8) {
        match content_type {
            CHANGE_CIPHER_SPEC => self.change_cipher_spec += 1,
            ALERT => self.alert += 1,
            HANDSHAKE => self.handshake += 1,
            APPLICATION_DATA => self.application_data += 1,
            _ => self.heartbeat += 1,
        }
    }
}

/// Why a direction's bytes stopped being read before the capture ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadStop {
    /// Its handshake part was read to the first application data record.
    Done,
    /// Bytes were missing from the capture and never came.
    Gap,
    /// The bytes stopped looking like TLS records.
    NotTls,
}

/// One connection's TLS handshake as counted on the wire. Times are those of the segment that
/// completed a handshake message (the ClientHello: that carried its header), or that carried a
/// record's header.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsHandshake {
    /// The version the server chose (from its ServerHello or HelloRetryRequest), once seen.
    pub version: Option<ProtocolVersion>,
    /// The first ClientHello (the segment that carried its header).
    pub client_hello: Option<Ts>,
    /// The first ServerHello that is not a HelloRetryRequest.
    pub server_hello: Option<Ts>,
    /// ServerHellos that were HelloRetryRequests.
    pub hello_retry_requests: u32,
    /// How resumption shows, when it does.
    pub resumption: Option<Resumption>,
    /// The first ClientHello carries the early_data extension.
    pub early_data_offered: bool,
    /// The first ClientHello's ALPN extension offers HTTP/2 (`h2`).
    pub alpn_offers_h2: bool,
    /// The application protocol the ServerHello's ALPN extension selects, `Some(true)` for
    /// `h2`; `None` without one, as in every TLS 1.3 ServerHello (the choice is encrypted there).
    pub alpn_selects_h2: Option<bool>,
    /// The client's application data records before the server's answer to its hello (0-RTT
    /// data; whether the server accepted it is encrypted).
    pub early_data_records: u32,
    /// The client's Finished: TLS 1.2, its first handshake record after its ChangeCipherSpec;
    /// TLS 1.3, as in the module's notes.
    pub client_finished: Option<Ts>,
    /// The client's first application data record (0-RTT data when it sent some).
    pub client_first_data: Option<Ts>,
    /// The server's first application data record (TLS 1.3: the first after the client's
    /// Finished; after early data, its first encrypted record).
    pub server_first_data: Option<Ts>,
    /// Plaintext handshake messages by type, both directions.
    pub messages: HandshakeCounts,
    /// Records by content type, both directions.
    pub records: RecordCounts,
    /// The capture cut off client bytes that had to be read (the snap length); reading went on
    /// from the next segment that starts with a record header, counting records but no longer
    /// handshake messages.
    pub client_cut: bool,
    /// The same for the server's bytes.
    pub server_cut: bool,
    /// Why the client's bytes stopped being read, if they did.
    pub client_stop: Option<ReadStop>,
    /// Why the server's bytes stopped being read, if they did.
    pub server_stop: Option<ReadStop>,
}

impl TlsHandshake {
    /// Resumed a session (see `resumption` for the evidence).
    pub fn resumed(&self) -> bool {
        self.resumption.is_some()
    }

    /// The capture cut the reading short: bytes cut off by the snap length, or missing.
    pub fn is_incomplete(&self) -> bool {
        self.client_cut
            || self.server_cut
            || self.client_stop == Some(ReadStop::Gap)
            || self.server_stop == Some(ReadStop::Gap)
    }

    /// ServerHello messages that were not HelloRetryRequests.
    pub fn server_hellos(&self) -> u32 {
        self.messages
            .get(SERVER_HELLO)
            .saturating_sub(self.hello_retry_requests)
    }

    /// ClientHello messages (two after a HelloRetryRequest).
    pub fn client_hellos(&self) -> u32 {
        self.messages.get(CLIENT_HELLO)
    }

    /// The handshake as the client pays it: its first ClientHello → its first application data
    /// record (the request, right after its Finished; near 0 with early data), in seconds.
    pub fn handshake_s(&self) -> Option<f64> {
        Some(self.client_first_data?.secs_since(self.client_hello?))
    }

    /// The first ClientHello → the server's first application data record, in seconds.
    pub fn server_data_s(&self) -> Option<f64> {
        Some(self.server_first_data?.secs_since(self.client_hello?))
    }
}

/// Builds a `TlsHandshake` from both directions' events, in capture order.
#[derive(Debug, Clone, Default)]
pub(super) struct HandshakeWatch {
    summary: TlsHandshake,
    client_session_id: Option<SessionId>,
    /// The first ClientHello carried a session ticket.
    client_offered_ticket: bool,
    /// The first ClientHello was complete (read, or found malformed).
    client_hello_read: bool,
    /// Each side has sent ChangeCipherSpec: client, server.
    sent_ccs: [bool; 2],
    server_certificate: bool,
    /// The server has sent a type-23 record (in TLS 1.3: its encrypted first flight began).
    server_encrypted: bool,
    /// The header of the server's first ServerHello, also when the snap length cut its body.
    server_hello_header: Option<Ts>,
    /// The server sent a handshake record after its ChangeCipherSpec: TLS 1.2's Finished.
    server_finished_tls12: bool,
}

fn index(side: Side) -> usize {
    match side {
        Side::Client => 0,
        Side::Server => 1,
    }
}

impl HandshakeWatch {
    /// What has been read so far.
    pub(super) fn summary(&self) -> &TlsHandshake {
        &self.summary
    }

    /// What was read, once reading is over.
    pub(super) fn take_summary(&mut self) -> TlsHandshake {
        std::mem::take(&mut self.summary)
    }

    /// Records that the capture cut off bytes of `side` that had to be read.
    pub(super) fn cut(&mut self, side: Side) {
        match side {
            Side::Client => self.summary.client_cut = true,
            Side::Server => self.summary.server_cut = true,
        }
    }

    /// Records why `side` stopped being read.
    pub(super) fn stop(&mut self, side: Side, why: ReadStop) {
        let stop = match side {
            Side::Client => &mut self.summary.client_stop,
            Side::Server => &mut self.summary.server_stop,
        };
        stop.get_or_insert(why);
    }

    /// True when `side` needs no more reading: its first application data is known (and, for
    /// the client, its Finished).
    pub(super) fn is_done(&self, side: Side) -> bool {
        let s = &self.summary;
        match side {
            Side::Client => s.client_first_data.is_some() && s.client_finished.is_some(),
            Side::Server => s.server_first_data.is_some(),
        }
    }

    fn is_tls13(&self) -> bool {
        self.summary.version == Some(ProtocolVersion::TLS_1_3)
    }

    /// Takes one event `side` sent at `ts`; answers a record header with whether to read its body.
    pub(super) fn event(&mut self, side: Side, ts: Ts, event: Event<'_>) -> Body {
        match event {
            Event::Record {
                content_type,
                length,
                ..
            } => self.record(side, ts, content_type, length),
            Event::HandshakeStart { msg_type } => {
                if msg_type == CLIENT_HELLO && side == Side::Client {
                    // Timed from its header: the snap length may cut off the rest.
                    self.summary.client_hello.get_or_insert(ts);
                }
                if msg_type == SERVER_HELLO && side == Side::Server {
                    self.server_hello_header.get_or_insert(ts);
                }
                Body::Messages
            }
            Event::Handshake { msg_type, body } => {
                self.message(side, ts, msg_type, body);
                Body::Messages
            }
        }
    }

    fn record(&mut self, side: Side, ts: Ts, content_type: u8, length: usize) -> Body {
        self.summary.records.add(content_type);
        let tls13 = self.is_tls13();
        let s = &mut self.summary;
        match (content_type, side) {
            (CHANGE_CIPHER_SPEC, _) => {
                self.sent_ccs[index(side)] = true;
                let abbreviated = side == Side::Server
                    && !tls13
                    && s.server_hello.is_some()
                    && !self.server_certificate;
                if abbreviated && s.resumption.is_none() {
                    s.resumption = Some(Resumption::NoCertificate);
                }
            }
            (HANDSHAKE, _) if self.sent_ccs[index(side)] && !tls13 => {
                // Encrypted: TLS 1.2's Finished (or a renegotiation).
                if side == Side::Client && s.client_finished.is_none() {
                    s.client_finished = Some(ts);
                }
                if side == Side::Server {
                    self.server_finished_tls12 = true;
                }
                return Body::Skip;
            }
            (APPLICATION_DATA, Side::Client) => {
                let answered = s.server_hello.is_some() && (!tls13 || self.server_encrypted);
                // Early data only where the ClientHello offered it: a ClientHello or ServerHello
                // the snap length cut makes an answer look missing, not early data sent.
                if s.client_hello.is_some() && !answered && s.early_data_offered {
                    s.early_data_records += 1;
                    s.client_first_data.get_or_insert(ts);
                } else if tls13 && s.client_finished.is_none() {
                    // After early data the server accepted, EndOfEarlyData comes first: a record
                    // shorter than any Finished.
                    let end_of_early_data =
                        s.early_data_records > 0 && length < SHORTEST_TLS13_FINISHED_RECORD;
                    if !end_of_early_data {
                        s.client_finished = Some(ts);
                    }
                } else {
                    s.client_first_data.get_or_insert(ts);
                }
            }
            (APPLICATION_DATA, Side::Server) => {
                self.server_encrypted = true;
                let after_handshake = if tls13 {
                    // A HelloRetryRequest turns early data down (RFC 8446 §4.1.4).
                    s.client_finished.is_some()
                        || (s.early_data_records > 0 && s.hello_retry_requests == 0)
                } else {
                    // A ServerHello the snap length cut still answered; what follows it is the
                    // server's data once its TLS 1.2 Finished (a handshake record after its
                    // ChangeCipherSpec) shows the version: TLS 1.3 sends type 23 there.
                    s.server_hello.is_some()
                        || (self.server_hello_header.is_some() && self.server_finished_tls12)
                };
                if after_handshake {
                    s.server_first_data.get_or_insert(ts);
                }
            }
            _ => {}
        }
        Body::Messages
    }

    fn message(&mut self, side: Side, ts: Ts, msg_type: u8, body: Option<&[u8]>) {
        let s = &mut self.summary;
        s.messages.add(msg_type, 1);
        match (msg_type, side) {
            (CLIENT_HELLO, Side::Client) if !self.client_hello_read => {
                self.client_hello_read = true;
                let hello = body.and_then(ClientHello::parse);
                self.client_session_id = hello.map(|h| h.session_id);
                self.client_offered_ticket = hello.is_some_and(|h| h.offers_ticket);
                s.early_data_offered = hello.is_some_and(|h| h.offers_early_data);
                s.alpn_offers_h2 = hello.is_some_and(|h| h.offers_h2);
            }
            (SERVER_HELLO, Side::Server) => {
                let Some(hello) = body.and_then(ServerHello::parse) else {
                    return;
                };
                if hello.retry_request {
                    s.hello_retry_requests += 1;
                    s.version = Some(ProtocolVersion(hello.version));
                    return;
                }
                if s.server_hello.is_some() {
                    return;
                }
                s.server_hello = Some(ts);
                s.version = Some(ProtocolVersion(hello.version));
                s.alpn_selects_h2 = hello.selects_h2;
                let echoed = self
                    .client_session_id
                    .is_some_and(|id| !id.is_empty() && id == hello.session_id);
                s.resumption = if ProtocolVersion(hello.version) == ProtocolVersion::TLS_1_3 {
                    hello.pre_shared_key.then_some(Resumption::PreSharedKey)
                } else {
                    echoed.then_some(if self.client_offered_ticket {
                        Resumption::Ticket
                    } else {
                        Resumption::SessionId
                    })
                };
            }
            (CERTIFICATE, Side::Server) => self.server_certificate = true,
            _ => {}
        }
    }
}

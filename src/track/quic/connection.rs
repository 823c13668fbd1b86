//! Track layer: one QUIC connection (one of Wireshark's `quic.connection.number`) as the capture
//! shows it without keys: its packets by type and direction, its datagrams and bytes, the times
//! of its handshake, and what its Initial packets' ClientHello and ServerHello say.
//!
//! What can be told without keys: every packet's type; the TLS hellos (Initial packets are
//! protected with keys anyone can derive); whether the client offered a session (pre_shared_key)
//! and early data, whether the server resumed it (pre_shared_key in its ServerHello), and whether
//! 0-RTT packets were sent. What cannot: whether the server accepted the early data (that is in
//! its EncryptedExtensions, in a Handshake packet), and CONNECTION_CLOSE, which travels in 1-RTT
//! packets: a connection's end is its last packet in the capture. A server that did not resume
//! the session refused the early data (RFC 8446 §4.2.10), so that much is known.
//!
//! Works on typed values alone; must not import capture, analysis or report code.

use std::net::SocketAddr;

use super::one_rtt::OneRttDecryption;
use super::packet::{ConnectionId, PacketType};
use crate::timeline::Ts;
use crate::track::side::Side;
use crate::track::tls::ProtocolVersion;

/// Packets by type, as tshark counts them (each of a datagram's coalesced packets on its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct PacketCounts {
    /// Initial packets.
    pub initial: u64,
    /// 0-RTT packets.
    pub zero_rtt: u64,
    /// Handshake packets.
    pub handshake: u64,
    /// Retry packets.
    pub retry: u64,
    /// Short-header (1-RTT) packets.
    pub one_rtt: u64,
    /// Version Negotiation packets.
    pub version_negotiation: u64,
}

impl PacketCounts {
    /// Counts one packet of `kind`.
    pub(super) fn add(&mut self, kind: PacketType) {
        *match kind {
            PacketType::Initial => &mut self.initial,
            PacketType::ZeroRtt => &mut self.zero_rtt,
            PacketType::Handshake => &mut self.handshake,
            PacketType::Retry => &mut self.retry,
            PacketType::OneRtt => &mut self.one_rtt,
            PacketType::VersionNegotiation => &mut self.version_negotiation,
        } += 1;
    }

    /// Packets of `kind`.
    pub fn get(&self, kind: PacketType) -> u64 {
        match kind {
            PacketType::Initial => self.initial,
            PacketType::ZeroRtt => self.zero_rtt,
            PacketType::Handshake => self.handshake,
            PacketType::Retry => self.retry,
            PacketType::OneRtt => self.one_rtt,
            PacketType::VersionNegotiation => self.version_negotiation,
        }
    }

    /// Every packet.
    pub fn total(&self) -> u64 {
        self.initial
            + self.zero_rtt
            + self.handshake
            + self.retry
            + self.one_rtt
            + self.version_negotiation
    }

    /// Adds another set of counts.
    pub fn add_all(&mut self, other: &PacketCounts) {
        self.initial += other.initial;
        self.zero_rtt += other.zero_rtt;
        self.handshake += other.handshake;
        self.retry += other.retry;
        self.one_rtt += other.one_rtt;
        self.version_negotiation += other.version_negotiation;
    }
}

/// What one side of a QUIC connection sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct QuicFlow {
    /// UDP datagrams.
    pub datagrams: u64,
    /// The packets in them, by type.
    pub packets: PacketCounts,
    /// Frame bytes on the wire.
    pub bytes: u64,
}

impl QuicFlow {
    /// Adds another flow's counts.
    pub fn add(&mut self, other: &QuicFlow) {
        self.datagrams += other.datagrams;
        self.packets.add_all(&other.packets);
        self.bytes += other.bytes;
    }
}

/// What a QUIC connection's Initial packets show of its TLS handshake.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuicTls {
    /// The first packet whose CRYPTO frames completed the ClientHello.
    pub client_hello: Option<Ts>,
    /// The same for the ServerHello (not a HelloRetryRequest).
    pub server_hello: Option<Ts>,
    /// The version the server chose (supported_versions in its ServerHello).
    pub version: Option<ProtocolVersion>,
    /// The ClientHello offered a session to resume (pre_shared_key).
    pub psk_offered: bool,
    /// The ClientHello offered early data (the early_data extension).
    pub early_data_offered: bool,
    /// The ServerHello selected the offered session (pre_shared_key): the handshake resumed.
    pub resumed: bool,
    /// The server's first handshake message was a HelloRetryRequest (the rest of the handshake
    /// is not read then, and a HelloRetryRequest turns early data down).
    pub hello_retry_request: bool,
}

/// What the capture shows of a connection's early data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EarlyData {
    /// The ClientHello did not offer it.
    NotOffered,
    /// Offered, but no 0-RTT packet was sent.
    OfferedNotSent,
    /// 0-RTT packets sent, and the server resumed the session: it may have accepted them (its
    /// answer is encrypted).
    SentResumed,
    /// 0-RTT packets sent, and the server did not resume the session (or asked to retry its
    /// hello): the early data was refused.
    SentRefused,
    /// 0-RTT packets sent, and the ServerHello was not read.
    SentUnanswered,
}

/// One QUIC connection, as Wireshark's `quic.connection.number` groups packets: by the
/// connection IDs each side chose and the client's first Destination Connection ID, and by its
/// UDP 4-tuple for short-header packets whose connection ID was never seen in a long header.
#[derive(Debug, Clone, PartialEq)]
pub struct QuicConnection {
    /// Its number, counted from 0 in the order connections first appear (tshark's
    /// `quic.connection.number`).
    pub number: usize,
    /// The client: the sender of the first Initial, unless that Initial does not open with the
    /// keys of its own Destination Connection ID, as a server's does (the capture began after the
    /// client's first Initial).
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// The QUIC version of the first Initial.
    pub version: u32,
    /// The client's first Destination Connection ID, from which Initial keys derive, when the
    /// capture holds the client's first Initial.
    pub original_dcid: Option<ConnectionId>,
    /// The connection's first packet.
    pub first_packet: Ts,
    /// The client's first Initial, when the capture holds it.
    pub first_initial: Option<Ts>,
    /// The client's first 1-RTT packet: the handshake is over for it.
    pub first_client_one_rtt: Option<Ts>,
    /// The last packet either side sent (its end as far as the capture shows:
    /// CONNECTION_CLOSE itself is encrypted).
    pub last_packet: Ts,
    /// What the client sent.
    pub client_sent: QuicFlow,
    /// What the server sent.
    pub server_sent: QuicFlow,
    /// What its Initial packets show of TLS.
    pub tls: QuicTls,
    /// Packets that could not be read (a header that does not hold together, or an opened
    /// Initial whose frames do not): counted here rather than by type.
    pub malformed: u64,
    /// Initial packets that did not open with the keys of the client's Destination Connection
    /// ID (cut by the snap length, damaged, or after a Retry the capture missed).
    pub unopened_initials: u64,
    /// What a key log did for its 1-RTT packets; `None` without one.
    pub one_rtt: Option<OneRttDecryption>,
}

impl QuicConnection {
    /// A connection whose first packet, at `ts`, is an Initial: the client's first, with
    /// `original_dcid`, or (`None`) the server's.
    pub(super) fn new(
        number: usize,
        client: SocketAddr,
        server: SocketAddr,
        version: u32,
        original_dcid: Option<ConnectionId>,
        ts: Ts,
    ) -> QuicConnection {
        QuicConnection {
            number,
            client,
            server,
            version,
            original_dcid,
            first_packet: ts,
            first_initial: original_dcid.map(|_| ts),
            first_client_one_rtt: None,
            last_packet: ts,
            client_sent: QuicFlow::default(),
            server_sent: QuicFlow::default(),
            tls: QuicTls::default(),
            malformed: 0,
            unopened_initials: 0,
            one_rtt: None,
        }
    }

    /// What `side` sent.
    pub fn sent(&self, side: Side) -> &QuicFlow {
        match side {
            Side::Client => &self.client_sent,
            Side::Server => &self.server_sent,
        }
    }

    pub(super) fn sent_mut(&mut self, side: Side) -> &mut QuicFlow {
        match side {
            Side::Client => &mut self.client_sent,
            Side::Server => &mut self.server_sent,
        }
    }

    /// Both sides' packets by type.
    pub fn packets(&self) -> PacketCounts {
        let mut all = self.client_sent.packets;
        all.add_all(&self.server_sent.packets);
        all
    }

    /// Both sides' datagrams.
    pub fn datagrams(&self) -> u64 {
        self.client_sent.datagrams + self.server_sent.datagrams
    }

    /// Both sides' frame bytes.
    pub fn bytes(&self) -> u64 {
        self.client_sent.bytes + self.server_sent.bytes
    }

    /// The handshake as the client pays it: its first Initial → its first 1-RTT packet, in
    /// seconds.
    pub fn handshake_s(&self) -> Option<f64> {
        Some(self.first_client_one_rtt?.secs_since(self.first_initial?))
    }

    /// The first packet → the last, in seconds.
    pub fn duration_s(&self) -> f64 {
        self.last_packet.secs_since(self.first_packet)
    }

    /// What the capture shows of early data.
    pub fn early_data(&self) -> EarlyData {
        let tls = &self.tls;
        if self.client_sent.packets.zero_rtt == 0 {
            return if tls.early_data_offered {
                EarlyData::OfferedNotSent
            } else {
                EarlyData::NotOffered
            };
        }
        if tls.hello_retry_request {
            EarlyData::SentRefused
        } else if tls.server_hello.is_none() {
            EarlyData::SentUnanswered
        } else if tls.resumed {
            EarlyData::SentResumed
        } else {
            EarlyData::SentRefused
        }
    }
}

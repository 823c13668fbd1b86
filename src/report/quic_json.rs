//! Report layer: the QUIC part of `analyze --json`'s summary, one view per concept, so renaming a
//! tracker field never changes the JSON; the schema is generated from these types.

use std::net::SocketAddr;

use crate::report::json::protocol_version_json;
use crate::report::labels;
use crate::timeline::Ts;
use crate::track::quic::{
    EarlyData, OneRttDecryption, PacketCounts, QuicCapture, QuicConnection, QuicFlow, QuicTls,
};

/// QUIC over UDP in a capture.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicJson {
    /// UDP datagrams read as QUIC.
    datagrams: u64,
    /// Of those, datagrams with a long header of no connection whose first Initial was seen.
    unattributed_datagrams: u64,
    /// Of those, datagrams that start like a QUIC v1/v2 long header but do not hold together, on
    /// no known connection.
    malformed_datagrams: u64,
    /// The connections, by number (tshark's `quic.connection.number`).
    connections: Vec<QuicConnectionJson>,
}

impl QuicJson {
    /// The JSON view of `q`; `None` when the capture has no QUIC, so that captures without it
    /// keep the summary they always had.
    pub fn of(q: &QuicCapture) -> Option<QuicJson> {
        (q.datagrams > 0).then(|| QuicJson {
            datagrams: q.datagrams,
            unattributed_datagrams: q.unattributed,
            malformed_datagrams: q.malformed,
            connections: q.connections.iter().map(QuicConnectionJson::of).collect(),
        })
    }
}

/// One QUIC connection.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicConnectionJson {
    /// Its number (tshark's `quic.connection.number`).
    number: usize,
    /// The sender of its first Initial.
    client: SocketAddr,
    /// The other side.
    server: SocketAddr,
    /// "v1", "v2", or the version in hex.
    version: String,
    /// The client's first Destination Connection ID, in hex, when the capture holds the client's
    /// first Initial.
    original_dcid: Option<String>,
    /// The connection's first packet.
    first_packet_unix_s: f64,
    /// The client's first Initial, when the capture holds it.
    first_initial_unix_s: Option<f64>,
    /// The client's first 1-RTT packet.
    first_client_one_rtt_unix_s: Option<f64>,
    /// The last packet of either side (CONNECTION_CLOSE is encrypted).
    last_packet_unix_s: f64,
    /// The client's first Initial → its first 1-RTT packet.
    handshake_s: Option<f64>,
    /// The first packet → the last.
    duration_s: f64,
    /// What the client sent.
    client_sent: QuicFlowJson,
    /// What the server sent.
    server_sent: QuicFlowJson,
    /// What the Initial packets show of TLS.
    tls: QuicTlsJson,
    /// Packets that could not be read.
    malformed_packets: u64,
    /// Initial packets that did not open with the keys of the client's Destination Connection ID.
    unopened_initials: u64,
    /// With `--keylog`: what its 1-RTT packets showed once opened (absent without a key log).
    #[serde(skip_serializing_if = "Option::is_none")]
    decrypted: Option<QuicDecryptedJson>,
}

/// A QUIC connection's 1-RTT packets opened with a key log.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicDecryptedJson {
    /// The key log held the connection's 1-RTT secrets.
    decrypted: bool,
    /// Client-initiated bidirectional streams that carried a STREAM frame: HTTP/3's requests.
    http3_requests: Option<u64>,
    /// Streams that carried a STREAM frame.
    streams: Option<u64>,
    /// 1-RTT packets opened.
    opened_packets: u64,
    /// 1-RTT packets that did not open (e.g. several packets sent in one UDP GSO buffer, as
    /// tshark does not open them either) or whose frames did not read.
    failed_packets: u64,
}

impl QuicDecryptedJson {
    fn of(d: &OneRttDecryption) -> QuicDecryptedJson {
        match d {
            OneRttDecryption::Decrypted(s) => QuicDecryptedJson {
                decrypted: true,
                http3_requests: Some(s.client_bidirectional()),
                streams: Some(s.streams()),
                opened_packets: s.opened,
                failed_packets: s.failed,
            },
            OneRttDecryption::NoSecrets => QuicDecryptedJson {
                decrypted: false,
                http3_requests: None,
                streams: None,
                opened_packets: 0,
                failed_packets: 0,
            },
        }
    }
}

impl QuicConnectionJson {
    fn of(c: &QuicConnection) -> QuicConnectionJson {
        let unix = |ts: Option<Ts>| ts.map(Ts::as_secs_f64);
        QuicConnectionJson {
            number: c.number,
            client: c.client,
            server: c.server,
            version: labels::quic_version(c.version),
            original_dcid: c
                .original_dcid
                .map(|id| id.as_bytes().iter().map(|b| format!("{b:02x}")).collect()),
            first_packet_unix_s: c.first_packet.as_secs_f64(),
            first_initial_unix_s: unix(c.first_initial),
            first_client_one_rtt_unix_s: unix(c.first_client_one_rtt),
            last_packet_unix_s: c.last_packet.as_secs_f64(),
            handshake_s: c.handshake_s(),
            duration_s: c.duration_s(),
            client_sent: QuicFlowJson::of(&c.client_sent),
            server_sent: QuicFlowJson::of(&c.server_sent),
            tls: QuicTlsJson::of(&c.tls, c.early_data()),
            malformed_packets: c.malformed,
            unopened_initials: c.unopened_initials,
            decrypted: c.one_rtt.as_ref().map(QuicDecryptedJson::of),
        }
    }
}

/// What one side of a QUIC connection sent.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicFlowJson {
    /// UDP datagrams.
    datagrams: u64,
    /// Frame bytes on the wire.
    bytes: u64,
    /// The packets in them, by type (coalesced packets counted one by one).
    packets: QuicPacketsJson,
}

impl QuicFlowJson {
    fn of(f: &QuicFlow) -> QuicFlowJson {
        QuicFlowJson {
            datagrams: f.datagrams,
            bytes: f.bytes,
            packets: QuicPacketsJson::of(&f.packets),
        }
    }
}

/// Packets by type.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicPacketsJson {
    initial: u64,
    zero_rtt: u64,
    handshake: u64,
    retry: u64,
    one_rtt: u64,
    version_negotiation: u64,
    /// Every packet.
    total: u64,
}

impl QuicPacketsJson {
    fn of(p: &PacketCounts) -> QuicPacketsJson {
        QuicPacketsJson {
            initial: p.initial,
            zero_rtt: p.zero_rtt,
            handshake: p.handshake,
            retry: p.retry,
            one_rtt: p.one_rtt,
            version_negotiation: p.version_negotiation,
            total: p.total(),
        }
    }
}

/// What a QUIC connection's Initial packets show of TLS, without keys.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct QuicTlsJson {
    /// The version the server chose ("TLS 1.3").
    version: Option<String>,
    /// The ClientHello was read.
    client_hello: bool,
    /// The ServerHello was read.
    server_hello: bool,
    /// The ClientHello offered a session (pre_shared_key).
    psk_offered: bool,
    /// The ClientHello offered early data.
    early_data_offered: bool,
    /// The ServerHello selected the session.
    resumed: bool,
    /// The server asked the client to retry its hello.
    hello_retry_request: bool,
    /// What the capture shows of early data: "not_offered", "offered_not_sent", "sent_resumed"
    /// (0-RTT sent and the session resumed: acceptance is encrypted), "sent_refused",
    /// "sent_unanswered".
    early_data: &'static str,
}

impl QuicTlsJson {
    fn of(t: &QuicTls, early: EarlyData) -> QuicTlsJson {
        QuicTlsJson {
            version: t.version.map(protocol_version_json),
            client_hello: t.client_hello.is_some(),
            server_hello: t.server_hello.is_some(),
            psk_offered: t.psk_offered,
            early_data_offered: t.early_data_offered,
            resumed: t.resumed,
            hello_retry_request: t.hello_retry_request,
            early_data: match early {
                EarlyData::NotOffered => "not_offered",
                EarlyData::OfferedNotSent => "offered_not_sent",
                EarlyData::SentResumed => "sent_resumed",
                EarlyData::SentRefused => "sent_refused",
                EarlyData::SentUnanswered => "sent_unanswered",
            },
        }
    }
}

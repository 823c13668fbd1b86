//! Report layer, words: the labels tables and sentences share — attribution rows, TLS versions,
//! handshake message types, resumption, request counts, HTTP/2 frame types. The lowest layer of `report/`: imports nothing of
//! `report/` but `units`.

use crate::analysis::attribution::{Attribution, Openings, Row};
use crate::analysis::phases::PhaseSource;
use crate::report::units;
use crate::track::RequestCount;
use crate::track::http2::{FrameType, Http2Stop};
use crate::track::quic::{EarlyData, PacketType, VERSION_1, VERSION_2};
use crate::track::tls::{ProtocolVersion, Resumption};

/// A connection's requests in a table cell: the count, or "?" where they are encrypted.
pub fn requests(r: RequestCount) -> String {
    r.known().map_or_else(|| "?".to_string(), |n| n.to_string())
}

/// A QUIC packet type as RFC 9000 names it ("Initial", "0-RTT", "1-RTT").
pub fn packet_type(t: PacketType) -> &'static str {
    match t {
        PacketType::Initial => "Initial",
        PacketType::ZeroRtt => "0-RTT",
        PacketType::Handshake => "Handshake",
        PacketType::Retry => "Retry",
        PacketType::OneRtt => "1-RTT",
        PacketType::VersionNegotiation => "Version Negotiation",
    }
}

/// An HTTP/2 frame type as RFC 9113 names it ("WINDOW_UPDATE").
pub fn frame_type(t: FrameType) -> &'static str {
    match t {
        FrameType::Data => "DATA",
        FrameType::Headers => "HEADERS",
        FrameType::Priority => "PRIORITY",
        FrameType::RstStream => "RST_STREAM",
        FrameType::Settings => "SETTINGS",
        FrameType::PushPromise => "PUSH_PROMISE",
        FrameType::Ping => "PING",
        FrameType::Goaway => "GOAWAY",
        FrameType::WindowUpdate => "WINDOW_UPDATE",
        FrameType::Continuation => "CONTINUATION",
        FrameType::Unknown => "unknown type",
    }
}

/// How far a direction's HTTP/2 frames were read, in a table cell.
pub fn http2_read(stop: Option<Http2Stop>) -> &'static str {
    match stop {
        None => "ok",
        Some(Http2Stop::Gap) => "gap",
        Some(Http2Stop::Cut) => "cut",
        Some(Http2Stop::Malformed) => "malformed",
    }
}

/// The label of an attribution row, its instants as `source` timed them (packets, or the
/// client's calls without a capture).
pub fn row_label(row: Row, source: PhaseSource) -> &'static str {
    let captured = source == PhaseSource::Capture;
    match row {
        Row::Handshakes if captured => "extra handshakes (SYN → SYN-ACK)",
        Row::Handshakes => "extra handshakes (connect() → connected)",
        Row::TlsHandshakes if captured => "extra TLS handshakes (SYN-ACK → handshake done)",
        Row::TlsHandshakes => "extra TLS handshakes (connected → handshake done)",
        Row::QuicHandshakes => "TCP and TLS handshakes → QUIC's (opening → handshake done)",
        Row::ClosingAndReconnecting if captured => {
            "closing and reconnecting (last byte → next SYN)"
        }
        Row::ClosingAndReconnecting => "closing and reconnecting (last byte → next connect())",
        Row::SlowStartRounds => "slow-start round trips (extra rounds × RTT)",
        Row::TransferRest => "transfer beyond the round trips",
        Row::RequestWait => "request wait (request → first byte)",
        Row::ClientWork => "client work before requests",
        Row::Remainder if captured => "remainder (connect() → first SYN, and reading)",
        Row::Remainder => "remainder",
    }
}

/// The label of an attribution row of `a`: where one side opens with QUIC and the other with
/// TCP, the handshakes' round trips per run on each (by the handshakes counted, at their
/// protocols' round trips); else as [`row_label`].
pub fn attribution_row_label(row: Row, a: &Attribution, source: PhaseSource) -> String {
    match row {
        Row::QuicHandshakes => {
            let (tcp, quic) = tcp_and_quic(a);
            let what = if tcp.tls > 0.0 {
                "TCP and TLS handshakes"
            } else {
                "TCP handshakes"
            };
            format!(
                "{what}: {} → QUIC's {} per run",
                round_trips(tcp.round_trips()),
                units::count(quic.round_trips())
            )
        }
        _ => row_label(row, source).to_string(),
    }
}

/// The openings of the side that spoke TCP and of the side that spoke QUIC.
pub fn tcp_and_quic(a: &Attribution) -> (Openings, Openings) {
    if a.openings.quic > 0.0 {
        (a.baseline_openings, a.openings)
    } else {
        (a.openings, a.baseline_openings)
    }
}

/// "1 round trip", "2 round trips", "1.5 round trips".
pub fn round_trips(n: f64) -> String {
    let text = units::count(n);
    let s = if text == "1" { "" } else { "s" };
    format!("{text} round trip{s}")
}

/// A TLS version as people write it ("TLS 1.3"); unknown values in hex.
pub fn protocol_version(v: ProtocolVersion) -> String {
    match v.0 {
        0x0300 => "SSL 3.0".into(),
        0x0301 => "TLS 1.0".into(),
        0x0302 => "TLS 1.1".into(),
        0x0303 => "TLS 1.2".into(),
        0x0304 => "TLS 1.3".into(),
        other => format!("0x{other:04x}"),
    }
}

/// The name of a TLS handshake message type (RFC 8446 §4, RFC 5246 §7.4).
pub fn handshake_type(msg_type: u8) -> String {
    let name = match msg_type {
        0 => "HelloRequest",
        1 => "ClientHello",
        2 => "ServerHello",
        3 => "HelloVerifyRequest",
        4 => "NewSessionTicket",
        5 => "EndOfEarlyData",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        12 => "ServerKeyExchange",
        13 => "CertificateRequest",
        14 => "ServerHelloDone",
        15 => "CertificateVerify",
        16 => "ClientKeyExchange",
        20 => "Finished",
        22 => "CertificateStatus",
        24 => "KeyUpdate",
        other => return format!("type {other}"),
    };
    name.into()
}

/// How a resumption showed, in a table cell.
pub fn resumption(r: Option<Resumption>) -> &'static str {
    match r {
        None => "no",
        Some(Resumption::PreSharedKey) => "yes (PSK)",
        Some(Resumption::SessionId) => "yes (id)",
        Some(Resumption::Ticket) => "yes (ticket)",
        Some(Resumption::NoCertificate) => "yes (no cert)",
    }
}

/// A QUIC version as people write it ("v1", "v2"); others in hex.
pub fn quic_version(version: u32) -> String {
    match version {
        VERSION_1 => "v1".into(),
        VERSION_2 => "v2".into(),
        other => format!("0x{other:08x}"),
    }
}

/// What a QUIC connection's capture shows of its early data, in a table cell.
pub fn quic_early_data(early: EarlyData) -> &'static str {
    match early {
        EarlyData::NotOffered => "no",
        EarlyData::OfferedNotSent => "offered, not sent",
        EarlyData::SentResumed => "0-RTT sent, resumed",
        EarlyData::SentRefused => "0-RTT sent, refused",
        EarlyData::SentUnanswered => "0-RTT sent, no answer read",
    }
}

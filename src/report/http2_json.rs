//! Report layer: HTTP/2 as `analyze --json` writes it — a connection's frames (cleartext) or the
//! ALPN evidence (over TLS), and the capture's totals. The schema is generated from these types.

use crate::analysis::head_of_line::HeadOfLine;
use crate::track::RequestCount;
use crate::track::http2::{
    FrameCounts, FrameType, Http2Frames, Http2Seen, Http2Stop, Http2Totals, StreamFrames, TlsAlpn,
};

/// HTTP/2 frames by type, named as RFC 9113 names them (lower case).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct FrameCountsJson {
    data: u64,
    headers: u64,
    priority: u64,
    rst_stream: u64,
    settings: u64,
    push_promise: u64,
    ping: u64,
    goaway: u64,
    window_update: u64,
    continuation: u64,
    /// Frames of types RFC 9113 does not define.
    unknown: u64,
}

impl FrameCountsJson {
    fn of(c: &FrameCounts) -> FrameCountsJson {
        FrameCountsJson {
            data: c.get(FrameType::Data),
            headers: c.get(FrameType::Headers),
            priority: c.get(FrameType::Priority),
            rst_stream: c.get(FrameType::RstStream),
            settings: c.get(FrameType::Settings),
            push_promise: c.get(FrameType::PushPromise),
            ping: c.get(FrameType::Ping),
            goaway: c.get(FrameType::Goaway),
            window_update: c.get(FrameType::WindowUpdate),
            continuation: c.get(FrameType::Continuation),
            unknown: c.get(FrameType::Unknown),
        }
    }
}

/// One stream's frames.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct StreamJson {
    /// The stream id (0: the connection's own frames).
    stream: u32,
    client_frames: FrameCountsJson,
    server_frames: FrameCountsJson,
    client_data_bytes: u64,
    server_data_bytes: u64,
}

impl StreamJson {
    fn of(id: u32, s: &StreamFrames) -> StreamJson {
        StreamJson {
            stream: id,
            client_frames: FrameCountsJson::of(&s.client),
            server_frames: FrameCountsJson::of(&s.server),
            client_data_bytes: s.client_data_bytes,
            server_data_bytes: s.server_data_bytes,
        }
    }
}

fn read_name(stop: Option<Http2Stop>) -> &'static str {
    match stop {
        None => "ok",
        Some(Http2Stop::Gap) => "gap",
        Some(Http2Stop::Cut) => "cut",
        Some(Http2Stop::Malformed) => "malformed",
    }
}

/// The words for what TLS shows of HTTP/2.
fn alpn_name(alpn: TlsAlpn) -> &'static str {
    match alpn {
        TlsAlpn::ServerSelected => "server_selected_h2",
        TlsAlpn::ClientOffered => "client_offered_h2",
    }
}

/// Why a connection's `requests` is null.
pub(super) fn requests_unknown(r: RequestCount) -> Option<&'static str> {
    match r {
        RequestCount::Counted(_) => None,
        RequestCount::Encrypted(TlsAlpn::ServerSelected) => {
            Some("http2_over_tls: the server selected h2; frames encrypted, no keys")
        }
        RequestCount::Encrypted(TlsAlpn::ClientOffered) => Some(
            "http2_over_tls: the client offered h2 and the server's choice is encrypted; \
             frames encrypted, no keys",
        ),
    }
}

/// One connection's HTTP/2. Cleartext (prior knowledge): every frame counted, `alpn` null.
/// Over TLS: `alpn` says what shows HTTP/2, and the counts are null (the frames are encrypted).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Http2Json {
    /// "cleartext", or "tls" (its frames counted when `--keylog` decrypted it).
    transport: &'static str,
    /// Over TLS: "server_selected_h2" (TLS 1.2's ServerHello) or "client_offered_h2" (the
    /// ClientHello's offer; TLS 1.3 encrypts the server's choice).
    alpn: Option<&'static str>,
    /// Client streams a HEADERS frame from the client opened.
    requests: Option<u64>,
    /// Streams other than stream 0 that carried a frame.
    streams: Option<u64>,
    client_frames: Option<FrameCountsJson>,
    server_frames: Option<FrameCountsJson>,
    /// Frames breaking RFC 9113's framing rules (also counted under their type).
    malformed_frames: Option<u64>,
    /// How far each direction was read: "ok", "gap", "cut" or "malformed".
    client_read: Option<&'static str>,
    server_read: Option<&'static str>,
    /// Every stream's frames, stream 0 first.
    per_stream: Vec<StreamJson>,
    /// Cleartext: how long the server's DATA frames waited behind lost bytes.
    head_of_line: Option<HeadOfLineJson>,
}

/// A cleartext connection's head-of-line blocking, read at the capture's point: a DATA frame
/// from the server that arrived after a hole in the server's bytes waited until every byte
/// before it was in; the part of that wait beyond any wait for its own stream's lost bytes is
/// the wait behind other streams' losses.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct HeadOfLineJson {
    /// Segments that filled a hole in the server's bytes.
    holes: u64,
    /// Each stream that carried DATA from the server.
    streams: Vec<StreamHoldJson>,
}

/// One stream's DATA from the server and how long it waited.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct StreamHoldJson {
    stream: u32,
    data_frames: u64,
    data_bytes: u64,
    /// DATA frames that waited behind another stream's lost bytes.
    held_frames: u64,
    /// Their payload bytes.
    held_bytes: u64,
    /// One frame's longest wait behind other streams' losses.
    longest_wait_s: f64,
    /// Its frames' waits behind other streams' losses, summed.
    total_wait_s: f64,
    /// Its frames' waits for its own stream's lost bytes, summed.
    own_stream_wait_s: f64,
    /// Its last DATA frame's wait behind other streams' losses: how much later its bytes were
    /// all in order than its own bytes alone allowed.
    last_frame_wait_s: f64,
}

impl HeadOfLineJson {
    fn of(h: &HeadOfLine) -> HeadOfLineJson {
        HeadOfLineJson {
            holes: h.holes,
            streams: h
                .streams
                .iter()
                .map(|s| StreamHoldJson {
                    stream: s.stream,
                    data_frames: s.frames,
                    data_bytes: s.bytes,
                    held_frames: s.held_frames,
                    held_bytes: s.held_bytes,
                    longest_wait_s: s.longest,
                    total_wait_s: s.total,
                    own_stream_wait_s: s.own_total,
                    last_frame_wait_s: s.last_wait,
                })
                .collect(),
        }
    }
}

impl Http2Json {
    /// The JSON view of what a connection shows of HTTP/2.
    pub fn of(seen: Http2Seen<'_>) -> Http2Json {
        match seen {
            Http2Seen::Frames(f) => Http2Json::cleartext(f),
            Http2Seen::Encrypted(alpn) => Http2Json {
                transport: "tls",
                alpn: Some(alpn_name(alpn)),
                requests: None,
                streams: None,
                client_frames: None,
                server_frames: None,
                malformed_frames: None,
                client_read: None,
                server_read: None,
                per_stream: Vec::new(),
                head_of_line: None,
            },
        }
    }

    /// The JSON view of a connection whose TLS records a key log decrypted.
    pub fn decrypted(seen: Http2Seen<'_>) -> Http2Json {
        Http2Json {
            transport: "tls",
            ..Http2Json::of(seen)
        }
    }

    fn cleartext(f: &Http2Frames) -> Http2Json {
        Http2Json {
            transport: "cleartext",
            alpn: None,
            requests: Some(f.requests),
            streams: Some(f.stream_count()),
            client_frames: Some(FrameCountsJson::of(&f.client)),
            server_frames: Some(FrameCountsJson::of(&f.server)),
            malformed_frames: Some(f.malformed_frames()),
            client_read: Some(read_name(f.client_stop)),
            server_read: Some(read_name(f.server_stop)),
            per_stream: f
                .streams()
                .iter()
                .map(|(&id, s)| StreamJson::of(id, s))
                .collect(),
            head_of_line: Some(HeadOfLineJson::of(&HeadOfLine::of(f))),
        }
    }
}

/// HTTP/2 over a capture's connections.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub struct Http2TotalsJson {
    /// Cleartext connections, their frames read.
    cleartext_connections: u64,
    /// Connections over TLS whose ALPN shows HTTP/2: their requests are unknown.
    encrypted_connections: u64,
    /// Requests on the cleartext connections.
    requests: u64,
    streams: u64,
    client_frames: FrameCountsJson,
    server_frames: FrameCountsJson,
    malformed_frames: u64,
    /// Cleartext connections whose reading stopped early.
    incomplete: u64,
}

impl Http2TotalsJson {
    /// The JSON view of `t`.
    pub fn of(t: &Http2Totals) -> Http2TotalsJson {
        Http2TotalsJson {
            cleartext_connections: t.cleartext,
            encrypted_connections: t.encrypted,
            requests: t.requests,
            streams: t.streams,
            client_frames: FrameCountsJson::of(&t.client),
            server_frames: FrameCountsJson::of(&t.server),
            malformed_frames: t.malformed,
            incomplete: t.incomplete,
        }
    }
}
